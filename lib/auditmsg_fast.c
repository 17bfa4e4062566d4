/* auditmsg_fast.c - the audit message's zero-copy fast decoder, tried
 * before the jansson one (auditmsg.c) on every message the collector reads. */
#include <limits.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "auditmsg.h"
#include "auditmsg_field.h"
#include "json_lex.h"

/* The collector decodes every audit message; jansson spends ~15 us on a
 * 640-byte one building a DOM we read once.  decode_fast() handles the
 * common case directly: one flat object of known fields, ASCII strings
 * without escapes, integers of at most 18 digits for integer fields, and
 * no null, no duplicate, nothing invalid.  For anything else — including
 * every input that is an error — it answers false and the jansson path
 * decides, so the two can only differ on what the fast path accepts, and
 * fuzz_auditmsg checks that both give the same message there. */

typedef struct cursor {
    const char *p, *end;
} cursor_t;

static void skip_ws(cursor_t *c)
{
    c->p = json_skip_ws(c->p, c->end);
}

/* A string of printable ASCII without escapes; [*s, *s + *n). */
static bool plain_string(cursor_t *c, const char **s, size_t *n)
{
    const char *q;

    if (c->p >= c->end || *c->p != '"')
        return false;
    q = ++c->p;
    while (q < c->end && *q != '"') {
        unsigned char u = (unsigned char)*q;
        if (u < 0x20 || u >= 0x7f || u == '\\')
            return false;
        q++;
    }
    if (q >= c->end)
        return false;
    *s = c->p;
    *n = (size_t)(q - c->p);
    c->p = q + 1;
    return true;
}

/* An integer literal of at most 18 digits within [lo, hi]: exact in
 * num_scan's mantissa (beyond 18 digits the jansson path judges). */
static bool fast_int(const decnum_t *d, size_t n, int64_t lo, int64_t hi,
                     int64_t *out)
{
    int64_t x;

    if (!d->integer || n - d->neg > 18)
        return false;
    x = d->neg ? -(int64_t)d->mant : (int64_t)d->mant;
    if (x < lo || x > hi)
        return false;
    *out = x;
    return true;
}

/* The C locale, made once: strtod follows LC_NUMERIC, and a program that
 * sets a locale with a decimal comma would read "12.5" as 12. */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
}

/* The n bytes at s, a JSON number, as strtod reads it in the C locale (as
 * jansson, which swaps in the locale's decimal point, does). */
static bool c_strtod(const char *s, size_t n, double *out)
{
    char buf[64];

    if (n >= sizeof(buf))
        return false;
    pthread_once(&c_locale_once, c_locale_init);
    if (c_locale == (locale_t)0)
        return false;  /* the jansson path decides */
    memcpy(buf, s, n); /* strtod needs a terminator */
    buf[n] = '\0';
    *out = strtod_l(buf, NULL, c_locale);
    return true;
}

static bool fast_value(cursor_t *c, const field_t *f, chp_auditmsg_t *m)
{
    const char *s;
    size_t n;
    decnum_t d;
    int64_t x;

    if (f->kind == F_NAME || f->kind == F_UUID || f->kind == F_SKETCH) {
        if (!plain_string(c, &s, &n))
            return false;
        if (f->kind == F_SKETCH) {
            char why[8];
            if (!(m->sketch = chp_sketch_new()))
                return false;
            return chp_sketch_decode(m->sketch, s, n, why, sizeof(why)) ==
                   CHP_OK;
        }
        if (n >= str_cap(f) || (n == 0 && f->required))
            return false;
        memcpy(AT(m, f, char), s, n);
        AT(m, f, char)[n] = '\0';
        return true;
    }
    {
        const char *q = num_scan(c->p, c->end, &d);

        if (!q)
            return false;
        s = c->p;
        n = (size_t)(q - s);
        c->p = q;
    }
    switch (f->kind) {
    case F_TIME:
        if (!fast_int(&d, n, -TIME_LIMIT_S, TIME_LIMIT_S, &x))
            return false;
        *AT(m, f, int64_t) = x;
        return true;
    case F_COUNT:
        if (!fast_int(&d, n, 0, INT64_MAX, &x))
            return false;
        *AT(m, f, uint64_t) = (uint64_t)x;
        return true;
    case F_VERSION:
        if (!fast_int(&d, n, 0, INT_MAX, &x))
            return false;
        *AT(m, f, int) = (int)x;
        return true;
    case F_LATENCY:
        if (d.integer) {
            if (!fast_int(&d, n, INT64_MIN + 1, INT64_MAX, &x))
                return false;
            *AT(m, f, double) = (double)x; /* as json_number_value() */
        } else {
            double v;

            if (!c_strtod(s, n, &v) || !isfinite(v))
                return false; /* jansson: "real number overflow" */
            *AT(m, f, double) = v;
        }
        return true;
    default:
        return false;
    }
}

bool chp_auditmsg_decode_fast(chp_auditmsg_t *m, const char *json, size_t len)
{
    cursor_t c;
    bool seen[N_FIELDS] = {false};

    if (!json) /* before json + len: no arithmetic on a null pointer */
        return false;
    c.p = json;
    c.end = json + len;
    skip_ws(&c);
    if (c.p >= c.end || *c.p++ != '{')
        return false;
    skip_ws(&c);
    for (;;) {
        const char *k;
        size_t kn, i;

        if (!plain_string(&c, &k, &kn))
            return false;
        for (i = 0; i < N_FIELDS; i++)
            if (strlen(fields[i].name) == kn && !memcmp(fields[i].name, k, kn))
                break;
        if (i == N_FIELDS || seen[i]) /* unknown or duplicate */
            return false;
        seen[i] = true;
        skip_ws(&c);
        if (c.p >= c.end || *c.p++ != ':')
            return false;
        skip_ws(&c);
        if (!fast_value(&c, &fields[i], m))
            return false;
        skip_ws(&c);
        if (c.p >= c.end)
            return false;
        if (*c.p == '}')
            break;
        if (*c.p++ != ',')
            return false;
        skip_ws(&c);
    }
    c.p++;
    skip_ws(&c);
    if (c.p != c.end)
        return false;
    for (size_t i = 0; i < N_FIELDS; i++)
        if (fields[i].required && !seen[i])
            return false;
    bool have_end = false;
    for (size_t i = 0; i < N_FIELDS; i++)
        if (fields[i].off == offsetof(chp_auditmsg_t, time_end))
            have_end = seen[i];
    if (!have_end) { /* timeEndInSec: as check_time_end() */
        if (m->time_begin > TIME_LIMIT_S - CHP_BUCKET_SECONDS_DEFAULT)
            return false;
        m->time_end = m->time_begin + CHP_BUCKET_SECONDS_DEFAULT;
    } else if (m->time_end < m->time_begin) {
        return false;
    }
    return true;
}
