/* conf_value.c - the syntax of configuration values.
 *
 * Integers are plain decimal with an optional sign (no 0x, no suffix, no
 * blanks), doubles plain decimal whatever the locale, booleans
 * true/false/yes/no/1/0, enums case-insensitive.  Every error names the
 * key, so a message read in a log says what to fix. */
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

#define F_NONEMPTY CHP_CONF_F_NONEMPTY
#define F_LIST     CHP_CONF_F_LIST
#define F_TOPIC    CHP_CONF_F_TOPIC

char *chp_conf_strndup(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* Values are quoted in messages; a runaway value would bury the key. */
#define QV(v)                                                                  \
    (strlen(v) > 64 ? 64 : (int)strlen(v)), (v), (strlen(v) > 64 ? "..." : "")

/* ASCII case-insensitive equality: strcasecmp() follows the locale, and
 * in a Turkish one "INFO" would not match "info". */
static bool eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a >= 'A' && *a <= 'Z' ? (char)(*a + 32) : *a;
        char y = *b >= 'A' && *b <= 'Z' ? (char)(*b + 32) : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

/* Optional sign then decimal digits only.  0 ok, -1 not an integer,
 * 1 an integer that does not fit in int64_t. */
static int parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false, overflow = false;
    uint64_t acc = 0, limit;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p; p++) {
        unsigned d;
        if (*p < '0' || *p > '9')
            return -1;
        d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            overflow = true; /* keep scanning: junk still wins */
        else
            acc = acc * 10 + d;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (overflow || acc > limit)
        return 1;
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return 0;
}

/* Plain decimal notation ([sign] digits [. digits] [e [sign] digits]);
 * strtod alone would also take hex, "inf", "nan" and leading blanks, and
 * would follow the process locale's decimal point. */
static bool parse_double(const char *s, double *out)
{
    const char *p = s;
    size_t digits = 0;
    locale_t c_locale;
    char *end;
    double v;

    if (*p == '+' || *p == '-')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return false;
    v = strtod_l(s, &end, c_locale);
    freelocale(c_locale);
    if (*end)
        return false;
    *out = v;
    return true;
}

const char *chp_conf_format_double(double v, char *buf, size_t size)
{
    double back;
    char *comma;

    /* Whole numbers read better as "100" than as "1e+02". */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        /* printf follows the locale; the output must not. */
        if ((comma = strchr(buf, ',')))
            *comma = '.';
        if (parse_double(buf, &back) && back == v)
            break;
    }
    return buf;
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "1", "yes"};
    static const char *const no[] = {"false", "0", "no"};

    for (size_t i = 0; i < 3; i++) {
        if (eq_nocase(s, yes[i]))
            return 1;
        if (eq_nocase(s, no[i]))
            return 0;
    }
    return -1;
}

/* Kafka's own rule: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
bool chp_conf_topic_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 249)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '.' || s[i] == '_' ||
              s[i] == '-'))
            return false; /* ASCII only: isalnum() follows the locale */
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Checks a string value against flags and returns it, normalised, in *out
 * (owned by the caller). */
chp_err_t chp_conf_check_string(const char *key, unsigned flags,
                                int64_t max_items, const char *value,
                                char **out, char *errstr, size_t errstr_size)
{
    size_t len = strlen(value), n_items = 0, o = 0;
    const char *p = value;
    char *norm;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
            value[i] == 0x7f)
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": control characters are not "
                            "allowed",
                            key);
    if (!(flags & F_LIST)) {
        if ((flags & F_TOPIC) && !chp_conf_topic_name_ok(value, len))
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": expected a Kafka topic name (1 to "
                            "249 of a-z A-Z 0-9 . _ -), got \"%.*s%s\"",
                            key, QV(value));
        if ((flags & F_NONEMPTY) && len == 0)
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": must not be empty", key);
        if (!(*out = chp_conf_strndup(value, len)))
            return CHP_ERR_NOMEM;
        return CHP_OK;
    }

    /* A list: trim each item and drop empty ones, so consumers split on
     * ',' and nothing else. */
    if (!(norm = malloc(len + 1)))
        return CHP_ERR_NOMEM;
    while (*p) {
        const char *b = p, *e;
        size_t ilen;
        while (*p && *p != ',')
            p++;
        e = p;
        if (*p)
            p++;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        ilen = (size_t)(e - b);
        if (!ilen)
            continue;
        if ((flags & F_TOPIC) && !chp_conf_topic_name_ok(b, ilen)) {
            free(norm);
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": expected Kafka topic names (1 to "
                            "249 of a-z A-Z 0-9 . _ -), got \"%.*s\"",
                            key, ilen > 64 ? 64 : (int)ilen, b);
        }
        if (o)
            norm[o++] = ',';
        memcpy(norm + o, b, ilen);
        o += ilen;
        n_items++;
    }
    norm[o] = '\0';
    if ((flags & F_NONEMPTY) && n_items == 0) {
        free(norm);
        return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": must not be empty", key);
    }
    if (max_items > 0 && n_items > (size_t)max_items) {
        free(norm);
        return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                        "\"%s\": %zu items, at most %" PRId64 " allowed", key,
                        n_items, max_items);
    }
    *out = norm;
    return CHP_OK;
}

/* Parses value for table entry p into *v (v->str owned for strings). */
chp_err_t chp_conf_value_parse(const chp_conf_prop_t *p, const char *value,
                               chp_conf_val_t *v, char *errstr,
                               size_t errstr_size)
{
    int r;

    memset(v, 0, sizeof(*v));
    switch (p->type) {
    case CHP_CONF_STR:
        return chp_conf_check_string(p->name, p->flags, p->imax, value, &v->str,
                                     errstr, errstr_size);
    case CHP_CONF_INT:
        r = parse_int(value, &v->i);
        if (r < 0)
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": expected an integer, got \"%.*s%s\"",
                            p->name, QV(value));
        if (r > 0 || v->i < p->imin || v->i > p->imax)
            return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                            "\"%s\": %.*s%s is out of range [%" PRId64
                            "..%" PRId64 "]",
                            p->name, QV(value), p->imin, p->imax);
        return CHP_OK;
    case CHP_CONF_DOUBLE: {
        char lo[32], hi[32];
        if (!parse_double(value, &v->d))
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": expected a number, got \"%.*s%s\"",
                            p->name, QV(value));
        if (!isfinite(v->d) || v->d < p->dmin || v->d > p->dmax)
            return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                            "\"%s\": %.*s%s is out of range [%s..%s]", p->name,
                            QV(value), chp_conf_format_double(p->dmin, lo, 32),
                            chp_conf_format_double(p->dmax, hi, 32));
        return CHP_OK;
    }
    case CHP_CONF_BOOL:
        r = parse_bool(value);
        if (r < 0)
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "\"%s\": expected true or false (or yes/no, "
                            "1/0), got \"%.*s%s\"",
                            p->name, QV(value));
        v->i = r;
        return CHP_OK;
    case CHP_CONF_ENUM: {
        char allowed[128];
        size_t o = 0;
        for (size_t i = 0; i < CHP_CONF_MAX_ENUM && p->enums[i]; i++) {
            if (eq_nocase(value, p->enums[i])) {
                v->str = (char *)p->enums[i];
                return CHP_OK;
            }
        }
        allowed[0] = '\0';
        for (size_t i = 0; i < CHP_CONF_MAX_ENUM && p->enums[i]; i++) {
            int w = snprintf(allowed + o, sizeof(allowed) - o, "%s%s",
                             i ? ", " : "", p->enums[i]);
            if (w < 0 || (size_t)w >= sizeof(allowed) - o)
                break;
            o += (size_t)w;
        }
        return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                        "\"%s\": expected one of %s; got \"%.*s%s\"", p->name,
                        allowed, QV(value));
    }
    }
    return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                    "\"%s\": unsupported type", p->name);
}

void chp_conf_value_free(const chp_conf_prop_t *p, chp_conf_val_t *v)
{
    if (p->type == CHP_CONF_STR)
        free(v->str);
    v->str = NULL;
}
