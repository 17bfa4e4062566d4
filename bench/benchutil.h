/* benchutil.h - clocks, alternating comparisons and the design.md §12 output
 * line shared by the benchmarks.
 *
 * Every comparison runs A and B as alternating pairs (AB, BA, AB, ...: the
 * order flips so that neither side always runs on a warm cache or right
 * after the other's garbage), takes the ratio of each pair, and reports the
 * median of those ratios with their min-max as the spread.  A pair is
 * measured close together in time, so load that comes and goes on a shared
 * machine moves both of its halves; the median discards the pairs it hit
 * unevenly. */
#ifndef CHP_BENCHUTIL_H
#define CHP_BENCHUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Least number of alternating pairs a comparison may report (issue #15). */
#define BENCH_MIN_PAIRS 5
/* Most pairs (and medians) the helpers handle. */
#define BENCH_MAX_PAIRS 64

/* A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read it
 * back, close); 0 on failure.  A port picked from a fixed range may be
 * held by an outgoing connection. */
int bench_free_port(void);

/* Monotonic wall clock in nanoseconds: for throughput questions only. */
int64_t bench_ns(void);

/* CPU time of the calling thread, in nanoseconds: the work one thread did,
 * without the time it was preempted by other programs. */
int64_t bench_thread_cpu_ns(void);

/* CPU time of the whole calling process (all threads), nanoseconds. */
int64_t bench_process_cpu_ns(void);

/* CPU time of all threads of another process (same user), nanoseconds, or
 * -1 if it cannot be read (e.g. the process is gone). */
int64_t bench_pid_cpu_ns(pid_t pid);

/* Median of n doubles (sorts a copy; n <= BENCH_MAX_PAIRS). */
double bench_median(const double *v, size_t n);

/* What a pair of measurements means: which clock, and whether the figures
 * are a cost (time or CPU per unit: smaller is better) or a rate. */
typedef enum {
    BENCH_THREAD_CPU,  /* CLOCK_THREAD_CPUTIME_ID */
    BENCH_PROCESS_CPU, /* CLOCK_PROCESS_CPUTIME_ID or a pid's CPU clock */
    BENCH_WALL,        /* CLOCK_MONOTONIC */
} bench_clock_t;

/* The outcome of one alternating comparison. */
typedef struct {
    size_t pairs;
    double a, b;   /* medians of the A and B figures */
    double ratio;  /* median of the per-pair ratios */
    double lo, hi; /* min and max of the per-pair ratios */
    bench_clock_t clock;
} bench_cmp_t;

/* Summarises n pairs whose per-pair ratio is ratio[i] (the caller decides
 * the direction, as design.md §12 defines it for the line). */
void bench_summarise(const double *a, const double *b, const double *ratio,
                     size_t n, bench_clock_t clock, bench_cmp_t *out);

/* Runs n >= BENCH_MIN_PAIRS pairs of run_a / run_b, flipping the order each
 * pair; a[i] and b[i] receive what the runs return. */
void bench_alternate(size_t n, double (*run_a)(void *), double (*run_b)(void *),
                     void *ctx, double *a, double *b);

/* The same with gap_ms of sleep after each pair: pairs spread over time
 * sample the machine's slow and fast spells alike (docs/benchmarks.md). */
void bench_alternate_spread(size_t n, double (*run_a)(void *),
                            double (*run_b)(void *), void *ctx, double *a,
                            double *b, int gap_ms);

/* Prints "bench: NAME ratio=R goal=G  (DETAIL; CLOCK, N alternating pairs,
 * per-pair ratio LO-HI)" on stdout and flushes.  goal is e.g. ">= 10";
 * detail carries the absolute figures and says what A and B are. */
void bench_report_cmp(const char *name, const bench_cmp_t *c, const char *goal,
                      const char *detail);

/* The bare line, for a figure that is not a comparison. */
void bench_report(const char *name, double ratio, const char *goal,
                  const char *detail);

/* Keeps the optimiser from deleting a computed value. */
static inline void bench_sink(uint64_t v)
{
    __asm__ volatile("" : : "r"(v) : "memory");
}

#ifdef __cplusplus
}
#endif

#endif
