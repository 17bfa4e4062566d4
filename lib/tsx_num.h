/* tsx_num.h - numbers of the JSON timestamp scanner (tsx_json.c, the only
 * includer): parsed by hand, eight digits at a time, integers without
 * floating point.  Private to lib/; static inline so the scanner's hot
 * path inlines them as when they lived in tsx_json.c. */
#ifndef CHP_TSX_NUM_H
#define CHP_TSX_NUM_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Numbers: parsed by hand because the input is not NUL-terminated.
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t mant; /* up to 19 significant digits */
    int64_t exp10; /* value = mant * 10^exp10 */
    bool neg;
} decnum_t;

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define TSX_SWAR 1
/* Eight digits at once (the fast_float / simdjson trick): timestamps are 10
 * or 13 digits, and digit-at-a-time was a third of the scan of a small
 * message with its timestamp first. */
static inline uint64_t load8(const char *p)
{
    uint64_t w;

    memcpy(&w, p, 8);
    return w;
}

static inline bool all_digits8(uint64_t w)
{
    return ((w & 0xF0F0F0F0F0F0F0F0ULL) |
            (((w + 0x0606060606060606ULL) & 0xF0F0F0F0F0F0F0F0ULL) >> 4)) ==
           0x3333333333333333ULL;
}

/* The value of eight ASCII digits, first byte most significant. */
static inline uint64_t digits8(uint64_t w)
{
    const uint64_t mask = 0x000000FF000000FFULL;
    const uint64_t mul1 = 0x000F424000000064ULL; /* 100 + (1000000 << 32) */
    const uint64_t mul2 = 0x0000271000000001ULL; /* 1 + (10000 << 32) */

    w -= 0x3030303030303030ULL;
    w = (w * 10) + (w >> 8);
    return (uint32_t)((((w & mask) * mul1) + (((w >> 16) & mask) * mul2)) >>
                      32);
}
#endif

/* Scans one JSON number (RFC 8259 grammar) at p.  Returns the first byte
 * after it, or NULL if p does not start a valid number. */
static const char *num_scan(const char *p, const char *end, decnum_t *d)
{
    uint64_t m = 0;
    int64_t e = 0;
    int nd = 0; /* significant digits kept in m */

    d->neg = false;
    if (p < end && *p == '-') {
        d->neg = true;
        p++;
    }
    if (p == end)
        return NULL;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
#if defined(TSX_SWAR)
        /* At most 16 digits this way: nd stays within the 19 kept. */
        while (nd <= 8 && (size_t)(end - p) >= 8 && all_digits8(load8(p))) {
            m = m * 100000000u + digits8(load8(p));
            nd += 8;
            p += 8;
        }
        if (p == end || !is_digit(*p))
            goto int_done;
#endif
        do {
            /* Past 19 digits m would overflow; keep the magnitude only. */
            if (nd < 19) {
                m = m * 10 + (uint64_t)(*p - '0');
                nd++;
            } else {
                e++;
            }
            p++;
        } while (p < end && is_digit(*p));
    } else {
        return NULL;
    }
#if defined(TSX_SWAR)
int_done:
#endif
    if (p < end && *p == '.') {
        p++;
        if (p == end || !is_digit(*p))
            return NULL;
        do {
            if (nd < 19) {
                /* Leading zeros of a fraction only move the exponent. */
                if (m != 0 || *p != '0') {
                    m = m * 10 + (uint64_t)(*p - '0');
                    nd++;
                }
                e--;
            }
            p++;
        } while (p < end && is_digit(*p));
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        int64_t x = 0;
        bool eneg = false;

        p++;
        if (p < end && (*p == '+' || *p == '-')) {
            eneg = *p == '-';
            p++;
        }
        if (p == end || !is_digit(*p))
            return NULL;
        do {
            if (x < 100000) /* far beyond any double; avoids overflow */
                x = x * 10 + (*p - '0');
            p++;
        } while (p < end && is_digit(*p));
        e += eneg ? -x : x;
    }
    d->mant = m;
    d->exp10 = e;
    return p;
}

static const double pow10_tab[23] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* Exact when mant < 2^53 and |exp10| <= 22 (every realistic timestamp);
 * otherwise within a few ulps, which is far below a millisecond. */
static double dec_to_double(const decnum_t *d)
{
    double v = (double)d->mant;
    int64_t e = d->exp10;

    if (d->mant == 0) {
        v = 0.0;
    } else if (e > 400) {
        v = HUGE_VAL; /* chp_ts_to_ms rejects it */
    } else if (e < -400) {
        v = 0.0;
    } else if (e >= 0) {
        while (e > 22) {
            v *= 1e22;
            e -= 22;
        }
        v *= pow10_tab[e];
    } else {
        while (e < -22) {
            v /= 1e22;
            e += 22;
        }
        v /= pow10_tab[-e];
    }
    return d->neg ? -v : v;
}

/* chp_ts_to_ms(dec_to_double(d)), with plain integers (the common
 * timestamp) done in integer arithmetic: below 2^53 the double path is
 * exact too, and it rejects 9e15 and above the same way. */
static inline bool dec_to_ms(const decnum_t *d, int64_t *ms)
{
    if (d->exp10 == 0 && !d->neg && d->mant < ((uint64_t)1 << 53)) {
        uint64_t v =
            d->mant > (uint64_t)CHP_TS_MS_THRESHOLD ? d->mant : d->mant * 1000;

        if (v >= 9000000000000000ULL)
            return false;
        *ms = (int64_t)v;
        return true;
    }
    return chp_ts_to_ms(dec_to_double(d), ms);
}

#endif
