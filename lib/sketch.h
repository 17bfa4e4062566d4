/* sketch.h - latency sketch internals (private).  The API is in chaperone.h;
 * the layout and the encoding are described in docs/sketch.md.
 *
 * Bins are logarithmic with ratio gamma = (1+a)/(1-a) = 101/99, but cut at
 * integers: latencies are whole milliseconds, so bin i holds the integers
 * [chp_sketch_bin_lo[i], chp_sketch_bin_lo[i+1]) and the table is exact
 * integer arithmetic, identical on every host (so sketches merge bin for
 * bin).  Bins 0..48 hold exactly 1..49 ms; the last bin also takes every
 * latency above its range (quantiles there are off, max stays exact). */
#ifndef CHP_SKETCH_H
#define CHP_SKETCH_H

#include "chaperone.h"

/* Bins for latencies >= 1 ms.  Bin 1159 covers [332742995796, 339465076519]
 * ms, so everything up to 10.7 years keeps the 1% bound. */
#define CHP_SKETCH_NBINS 1160

/* Upper bound of chp_sketch_encode()'s return value: 4 separators, a
 * 1-character version, then zero, negative, max and one count per bin of at
 * most 14 characters each (a gap is never longer than the count it saves). */
#define CHP_SKETCH_ENCODE_MAX (4 + 1 + 3 * 14 + 14 * CHP_SKETCH_NBINS)

/* The tracker keeps atomic twins of these counters and fills a sketch field
 * by field on emission; the non-negative count is zero + sum(bins), computed
 * on demand, so there is no total to keep consistent. */
struct chp_sketch {
    uint64_t zero;     /* latencies == 0 */
    uint64_t negative; /* latencies < 0; never in the quantiles */
    int64_t max;       /* exact largest latency >= 0; 0 when none */
    uint64_t bins[CHP_SKETCH_NBINS];
};

/* Smallest latency (ms) of each bin, strictly increasing from 1; generated
 * into sketch_bins.c from the recurrence lo' = (101 lo - 1) / 99 + 1. */
extern const int64_t chp_sketch_bin_lo[CHP_SKETCH_NBINS];

/* Quantiles q[0..nq) (ascending) in one pass over the bins, each equal to
 * chp_sketch_quantile(sk, q[k]); returns chp_sketch_count(sk). */
uint64_t chp_sketch_quantiles(const chp_sketch_t *sk, const double *q,
                              size_t nq, double *out);

/* Bin index by binary search of the bound table: exact, 11 dependent
 * steps.  The reference for chp_sketch_bin and for its lookup table. */
static inline int chp_sketch_bin_search(int64_t latency_ms)
{
    const int64_t *base = chp_sketch_bin_lo;
    size_t n = CHP_SKETCH_NBINS;

    while (n > 1) {
        size_t half = n / 2;

        base = base[half] <= latency_ms ? base + half : base;
        n -= half;
    }
    return (int)(base - chp_sketch_bin_lo);
}

/* First bin of each 1/64th of each power of two (filled when the library
 * is loaded, from chp_sketch_bin_search). */
#define CHP_SKETCH_SUB_BITS 6
extern uint16_t chp_sketch_sub_bin[64 << CHP_SKETCH_SUB_BITS];

/* Bin index in [0, CHP_SKETCH_NBINS) of a latency >= 1 ms (values < 1
 * give 0; callers route 0 and negatives to their own counters first).
 * It runs once per audited message: the power of two and the next six bits
 * pick a starting bin from a 8 KiB table; a 1/64 step is narrower than a
 * bin (2%), so at most two comparisons finish it — exact, like the search. */
static inline int chp_sketch_bin(int64_t latency_ms)
{
    uint64_t v = (uint64_t)latency_ms;
    unsigned e, sub;
    int i;

    if (latency_ms < 1)
        return 0;
    if (latency_ms >= chp_sketch_bin_lo[CHP_SKETCH_NBINS - 1])
        return CHP_SKETCH_NBINS - 1;
    e = 63u - (unsigned)__builtin_clzll(v);
    sub = e >= CHP_SKETCH_SUB_BITS ? (unsigned)(v >> (e - CHP_SKETCH_SUB_BITS))
                                   : (unsigned)(v << (CHP_SKETCH_SUB_BITS - e));
    i = chp_sketch_sub_bin[(e << CHP_SKETCH_SUB_BITS) | (sub & 63u)];
    while (chp_sketch_bin_lo[i + 1] <= latency_ms)
        i++;
    return i;
}

#endif
