/* tsx_num.h - numbers of the JSON timestamp scanner (tsx_json.c, the only
 * includer): what json_lex.h's num_scan read, turned into a double or
 * into milliseconds, integers without floating point.  Private to lib/;
 * static inline so the scanner's hot path inlines them. */
#ifndef CHP_TSX_NUM_H
#define CHP_TSX_NUM_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "json_lex.h"

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
