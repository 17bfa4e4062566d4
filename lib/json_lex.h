/* json_lex.h - the JSON lexing both hand-written JSON readers share: the
 * timestamp scanner (tsx_json.c, via tsx_num.h) and the audit message's
 * fast decoder (auditmsg_fast.c).  Whitespace and numbers (RFC 8259),
 * read from a [p, end) span that needs no NUL.  Private to lib/; static
 * inline so each reader's hot loop inlines them. */
#ifndef CHP_JSON_LEX_H
#define CHP_JSON_LEX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* ------------------------------------------------------------------------
 * Whitespace
 * ------------------------------------------------------------------------ */

/* JSON whitespace (space, tab, LF, CR) by a shift and a mask rather than a
 * table load: the scanner is a chain of dependent loads, each one counts. */
#define JSON_WS_BITS                                                           \
    (((uint64_t)1 << ' ') | ((uint64_t)1 << '\t') | ((uint64_t)1 << '\n') |    \
     ((uint64_t)1 << '\r'))

static inline bool json_is_ws(char c)
{
    unsigned u = (unsigned char)c;

    return u <= ' ' && ((JSON_WS_BITS >> u) & 1);
}

static inline const char *json_skip_ws(const char *p, const char *end)
{
    while (p < end && json_is_ws(*p))
        p++;
    return p;
}

/* ------------------------------------------------------------------------
 * Numbers: parsed by hand because the input is not NUL-terminated.
 * ------------------------------------------------------------------------ */

typedef struct {
    uint64_t mant; /* up to 19 significant digits */
    int64_t exp10; /* value = mant * 10^exp10 */
    bool neg;
    bool integer; /* written without fraction and exponent */
} decnum_t;

static inline bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define JSON_SWAR 1
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
 * after it, or NULL if p does not start a valid number.  An integer of at
 * most 19 digits is exact in d->mant with d->exp10 == 0. */
static inline const char *num_scan(const char *p, const char *end, decnum_t *d)
{
    uint64_t m = 0;
    int64_t e = 0;
    int nd = 0; /* significant digits kept in m */
    bool integer = true;

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
#if defined(JSON_SWAR)
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
#if defined(JSON_SWAR)
int_done:
#endif
    if (p < end && *p == '.') {
        integer = false;
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

        integer = false;
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
    d->integer = integer;
    return p;
}

#endif
