/* parse.c - the report's arguments: points in time, durations and loss
 * thresholds (see report.h).  Hand-written rather than strptime/strtol
 * chains so every malformed input is rejected with a reason, and time
 * zones do not depend on the machine's TZ. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report/report.h"

/* Longest duration or relative time accepted: 100 years. */
#define MAX_DURATION_S (100LL * 366 * 86400)

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil): exact for every year, no timegm/TZ involved. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* n decimal digits at *p into *v, advancing *p; false if not digits. */
static bool digits(const char **p, int n, int *v)
{
    *v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return false;
        *v = *v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    return true;
}

/* ISO-8601 as documented in report.h. */
static bool parse_iso(const char *s, int64_t *out)
{
    const char *p = s;
    int y, mo, d, h = 0, mi = 0, sec = 0, zh = 0, zm = 0, sign = 0;

    if (!digits(&p, 4, &y) || *p++ != '-' || !digits(&p, 2, &mo) ||
        *p++ != '-' || !digits(&p, 2, &d))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo))
        return false;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (!digits(&p, 2, &h) || *p++ != ':' || !digits(&p, 2, &mi))
            return false;
        if (*p == ':') {
            p++;
            if (!digits(&p, 2, &sec))
                return false;
            if (*p == '.' || *p == ',') { /* fractions: floored */
                p++;
                if (!isdigit((unsigned char)*p))
                    return false;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (h > 23 || mi > 59 || sec > 59)
            return false;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            sign = *p++ == '+' ? 1 : -1;
            if (!digits(&p, 2, &zh))
                return false;
            if (*p == ':')
                p++;
            if (!digits(&p, 2, &zm) || zh > 23 || zm > 59)
                return false;
        }
    }
    if (*p)
        return false;
    *out = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
           sign * (zh * 3600 + zm * 60);
    return true;
}

chp_err_t rep_parse_duration(const char *s, int64_t *out, char *errstr,
                             size_t errstr_size)
{
    const char *p = s;
    int64_t total = 0;

    if (!*s)
        goto bad;
    while (*p) {
        int64_t v = 0, unit;
        if (!isdigit((unsigned char)*p))
            goto bad;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (*p++ - '0');
            if (v > MAX_DURATION_S)
                goto range;
        }
        switch (*p) {
        case 's':
            unit = 1;
            break;
        case 'm':
            unit = 60;
            break;
        case 'h':
            unit = 3600;
            break;
        case 'd':
            unit = 86400;
            break;
        case 'w':
            unit = 7 * 86400;
            break;
        case '\0':
            /* A bare number is seconds, but only on its own: "1h30" is
             * more likely a typo than 1 h 30 s. */
            if (p != s + strspn(s, "0123456789"))
                goto bad;
            unit = 1;
            p--;
            break;
        default:
            goto bad;
        }
        p++;
        if (v > MAX_DURATION_S / unit || (total += v * unit) > MAX_DURATION_S)
            goto range;
    }
    *out = total;
    return CHP_OK;
bad:
    snprintf(errstr, errstr_size,
             "not a duration: \"%.64s\" (expected e.g. 90s, 30m, 1h, 1h30m, "
             "2d or seconds)",
             s);
    return CHP_ERR_PARSE;
range:
    snprintf(errstr, errstr_size,
             "duration too long: \"%.64s\" (at most 100 "
             "years)",
             s);
    return CHP_ERR_RANGE;
}

chp_err_t rep_parse_time(const char *s, int64_t now_s, int64_t *out,
                         char *errstr, size_t errstr_size)
{
    int64_t v;

    if (!strcmp(s, "now")) {
        *out = now_s;
        return CHP_OK;
    }
    if (s[0] == '-') {
        if (rep_parse_duration(s + 1, &v, errstr, errstr_size) != CHP_OK ||
            s[1 + strspn(s + 1, "0123456789")] == '\0') {
            /* "-3600" is more likely a negative epoch than "an hour ago":
             * ask for the unit. */
            snprintf(errstr, errstr_size,
                     "not a relative time: \"%.64s\" (expected e.g. -6h, "
                     "-30m, -1h30m, -2d)",
                     s);
            return CHP_ERR_PARSE;
        }
        *out = now_s - v;
        return CHP_OK;
    }
    if (s[0] && strspn(s, "0123456789") == strlen(s)) {
        char *end;
        unsigned long long u;
        errno = 0;
        u = strtoull(s, &end, 10);
        if (errno || *end || u > (unsigned long long)INT64_MAX)
            goto bad;
        v = (int64_t)u;
        if ((double)v > CHP_TS_MS_THRESHOLD)
            v /= 1000; /* milliseconds, as in audit messages (design.md §3) */
        if (v > 253402300799LL) /* 9999-12-31T23:59:59Z */
            goto bad;
        *out = v;
        return CHP_OK;
    }
    if (parse_iso(s, out))
        return CHP_OK;
bad:
    snprintf(errstr, errstr_size,
             "not a time: \"%.64s\" (expected epoch seconds, "
             "2016-11-05T02:00:00Z, -6h or now)",
             s);
    return CHP_ERR_PARSE;
}

chp_err_t rep_parse_loss(const char *s, double *out, char *errstr,
                         size_t errstr_size)
{
    size_t len = strlen(s);
    bool percent = len > 0 && s[len - 1] == '%';
    char num[64], *end;
    double v;

    /* strtod also takes "inf", "nan", hex and leading blanks: only plain
     * decimals are accepted. */
    if (len == 0 || len - percent >= sizeof(num) ||
        !(isdigit((unsigned char)s[0]) || s[0] == '.'))
        goto bad;
    memcpy(num, s, len - percent);
    num[len - percent] = '\0';
    if (strspn(num, "0123456789.") != strlen(num))
        goto bad;
    errno = 0;
    v = strtod(num, &end);
    if (errno || *end || end == num || !isfinite(v))
        goto bad;
    if (percent ? v > 100 : v > 1) {
        snprintf(errstr, errstr_size,
                 "loss out of range: \"%.64s\" (at most 100%% or 1)", s);
        return CHP_ERR_RANGE;
    }
    *out = percent ? v / 100 : v;
    return CHP_OK;
bad:
    snprintf(errstr, errstr_size,
             "not a loss threshold: \"%.64s\" (expected a percentage like "
             "0.01%% or a fraction like 0.0001)",
             s);
    return CHP_ERR_PARSE;
}

chp_err_t rep_parse_range(const char *from_s, const char *to_s,
                          const char *from_name, const char *to_name,
                          int64_t now_s, int64_t *from, int64_t *to,
                          char *errstr, size_t errstr_size)
{
    char why[256], a[REP_TIME_MAX], b[REP_TIME_MAX];

    *from = now_s - REP_DEFAULT_RANGE_S;
    *to = now_s;
    if (from_s && rep_parse_time(from_s, now_s, from, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "%s: %s", from_name, why);
        return CHP_ERR_PARSE;
    }
    if (to_s && rep_parse_time(to_s, now_s, to, why, sizeof(why))) {
        snprintf(errstr, errstr_size, "%s: %s", to_name, why);
        return CHP_ERR_PARSE;
    }
    rep_format_time(*from, a);
    rep_format_time(*to, b);
    if (*from > *to) {
        snprintf(errstr, errstr_size, "%s (%s) is after %s (%s)", from_name, a,
                 to_name, b);
        return CHP_ERR_RANGE;
    }
    if (*to - *from > REP_MAX_RANGE_S) {
        snprintf(errstr, errstr_size,
                 "%s..%s: %s to %s is longer than %lld days", from_name,
                 to_name, a, b, (long long)(REP_MAX_RANGE_S / 86400));
        return CHP_ERR_RANGE;
    }
    return CHP_OK;
}

bool rep_tier_name_ok(const char *s)
{
    size_t len = strlen(s);

    if (len == 0 || len >= CHP_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
            return false;
    return true;
}

void rep_format_time(int64_t t, char buf[REP_TIME_MAX])
{
    time_t tt = (time_t)t;
    struct tm tm;

    if (!gmtime_r(&tt, &tm) ||
        strftime(buf, REP_TIME_MAX, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        snprintf(buf, REP_TIME_MAX, "%lld", (long long)t);
}

void rep_format_duration(int64_t s, char *buf, size_t size)
{
    size_t o = 0;

    if (s > 0 && s % 86400 == 0) {
        snprintf(buf, size, "%lldd", (long long)(s / 86400));
        return;
    }
    buf[0] = '\0';
    if (s >= 3600)
        o +=
            (size_t)snprintf(buf + o, size - o, "%lldh", (long long)(s / 3600));
    if (o < size && s % 3600 >= 60)
        o += (size_t)snprintf(buf + o, size - o, "%lldm",
                              (long long)(s % 3600 / 60));
    if (o < size && (s % 60 || s == 0))
        snprintf(buf + o, size - o, "%llds", (long long)(s % 60));
}
