/* benchutil.h - timing and the SPEC §12 output line shared by benchmarks. */
#ifndef CHP_BENCHUTIL_H
#define CHP_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
int64_t bench_ns(void);

/* Median of n doubles (sorts a copy). */
double bench_median(const double *v, size_t n);

/* Prints "bench: NAME ratio=R goal=G  (DETAIL)" on stdout and flushes.
 * goal is e.g. ">= 10"; detail carries the absolute figures. */
void bench_report(const char *name, double ratio, const char *goal,
                  const char *detail);

/* Keeps the optimiser from deleting a computed value. */
static inline void bench_sink(uint64_t v)
{
    __asm__ volatile("" : : "r"(v) : "memory");
}

#endif
