/* bench_tsx.c - timestamp extraction vs a full jansson parse and vs one
 * memchr pass over the same bytes (design.md §12: tsx_vs_jansson,
 * tsx_vs_memchr), over the deterministic mix of tsx_corpus.c.  The
 * question is work per message, so each pass is timed in thread CPU time,
 * on one CPU (the thread is pinned where it starts).
 *
 * A round walks the corpus in slices of SLICE messages (~256 KB) and runs
 * the two passes of a comparison on each slice back to back, their order
 * flipping from slice to slice: they are microseconds to milliseconds
 * apart, so a neighbour's burst or a frequency change hits both alike, and
 * both find the slice in the same cache state.  tsx vs jansson: the slice
 * is read once untimed first (both from cache; jansson is compute-bound).
 * tsx vs memchr, the distance to the memory-scan limit: the slice is
 * flushed from the caches (clflush) before each of the two passes, so both
 * read it from memory.  Whole-corpus passes one after the other (before)
 * let the memchr side alone move by 20% between runs, and slices where
 * whichever ran second found the data in cache moved the ratio by 10%.  A round
 * adds up each pass's slices and gives one ratio per comparison; the line is
 * the median of ROUNDS such ratios.  (Whole-corpus passes one after the other,
 * as before, let the memchr side alone move by 20% between runs.) */
#include <jansson.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) || defined(__i386__)
#include <emmintrin.h>
#endif

#include "benchutil.h"
#include "chaperone.h"
#include "tsx_corpus.h"

#define TOTAL_BYTES (32u << 20)
#define ROUNDS      21
#define SLICE       256 /* messages per slice: ~256 KB */

static const char *const names[] = {"ts", "timestamp"};

static double run_tsx(const corpus_t *c, size_t from, size_t to,
                      uint64_t counts[3])
{
    int64_t t0 = bench_thread_cpu_ns();
    uint64_t sum = 0;

    for (size_t i = from; i < to; i++) {
        int64_t ms = 0;
        chp_ts_result_t r = chp_tsx_scan_json(
            c->data + c->off[i], c->off[i + 1] - c->off[i], names, 2, &ms);

        counts[r]++;
        sum += (uint64_t)ms;
    }
    bench_sink(sum);
    return (double)(bench_thread_cpu_ns() - t0);
}

static double run_jansson(const corpus_t *c, size_t from, size_t to,
                          uint64_t *errors)
{
    int64_t t0 = bench_thread_cpu_ns();

    for (size_t i = from; i < to; i++) {
        json_error_t err;
        json_t *j =
            json_loadb(c->data + c->off[i], c->off[i + 1] - c->off[i], 0, &err);

        if (!j)
            (*errors)++;
        bench_sink((uint64_t)(uintptr_t)j);
        json_decref(j);
    }
    return (double)(bench_thread_cpu_ns() - t0);
}

static double run_memchr(const corpus_t *c, size_t from, size_t to)
{
    int64_t t0 = bench_thread_cpu_ns();
    uint64_t hits = 0;

    for (size_t i = from; i < to; i++) {
        /* '\x01' never occurs: memchr reads every byte of the message. */
        const void *p =
            memchr(c->data + c->off[i], '\x01', c->off[i + 1] - c->off[i]);

        hits += (uintptr_t)p;
    }
    bench_sink(hits);
    return (double)(bench_thread_cpu_ns() - t0);
}

/* Flushes the slice's bytes from every cache level: the memchr line is
 * the distance to the memory-scan limit, so both sides read from memory. */
static void evict(const corpus_t *c, size_t from, size_t to)
{
#if defined(__x86_64__) || defined(__i386__)
    const char *p = c->data + c->off[from], *end = c->data + c->off[to];

    for (p = (const char *)((uintptr_t)p & ~(uintptr_t)63); p < end; p += 64)
        _mm_clflush(p);
    _mm_mfence();
#else
    (void)c, (void)from, (void)to;
#endif
}

/* The whole run on the CPU it started on: no migration between the
 * passes of a slice. */
static void pin_here(void)
{
    cpu_set_t set;
    int cpu = sched_getcpu();

    if (cpu < 0)
        return;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
}

int main(void)
{
    corpus_t c = {0};
    double t_tsx[ROUNDS], t_tsx2[ROUNDS], t_jan[ROUNDS], t_mem[ROUNDS];
    double r_jan[ROUNDS], r_mem[ROUNDS];
    double mb;
    uint64_t counts[3] = {0}, jerr = 0;
    bench_cmp_t cmp;
    char detail[384];

    tsx_corpus_make(&c, TOTAL_BYTES);
    mb = (double)c.len / 1e6;
    /* Warm-up pass, and a sanity check that the mix is what we claim. */
    pin_here();
    run_memchr(&c, 0, c.n);
    run_tsx(&c, 0, c.n, counts);
    run_jansson(&c, 0, c.n, &jerr);
    if (jerr || counts[CHP_TS_MALFORMED]) {
        fprintf(stderr,
                "bench_tsx: bad corpus (%llu jansson errors, %llu "
                "malformed)\n",
                (unsigned long long)jerr,
                (unsigned long long)counts[CHP_TS_MALFORMED]);
        return 1;
    }
    fprintf(stderr,
            "bench_tsx: %zu messages, %.1f MB, %.1f%% with a timestamp\n", c.n,
            mb, 100.0 * (double)counts[CHP_TS_FOUND] / (double)c.n);

    for (int r = 0; r < ROUNDS; r++) {
        t_tsx[r] = t_tsx2[r] = t_jan[r] = t_mem[r] = 0;
        /* jansson: allocates, so it runs with tsx alone */
        for (size_t from = 0, k = (size_t)r; from < c.n; from += SLICE, k++) {
            size_t to = from + SLICE < c.n ? from + SLICE : c.n;

            run_memchr(&c, from, to); /* the slice in cache for both */
            if (k % 2 == 0) {
                t_tsx[r] += run_tsx(&c, from, to, counts);
                t_jan[r] += run_jansson(&c, from, to, &jerr);
            } else {
                t_jan[r] += run_jansson(&c, from, to, &jerr);
                t_tsx[r] += run_tsx(&c, from, to, counts);
            }
        }
        for (size_t from = 0, k = (size_t)r; from < c.n; from += SLICE, k++) {
            size_t to = from + SLICE < c.n ? from + SLICE : c.n;

            for (int p = 0; p < 2; p++) {
                evict(&c, from, to);
                if ((k + (size_t)p) % 2 == 0)
                    t_tsx2[r] += run_tsx(&c, from, to, counts);
                else
                    t_mem[r] += run_memchr(&c, from, to);
            }
        }
        r_jan[r] = t_jan[r] / t_tsx[r];
        r_mem[r] = t_tsx2[r] / t_mem[r];
    }
    /* A and B as throughput (MB/s of CPU time) for the jansson line. */
    for (int r = 0; r < ROUNDS; r++) {
        t_jan[r] = mb / (t_jan[r] / 1e9);
        t_tsx[r] = mb / (t_tsx[r] / 1e9);
    }
    bench_summarise(t_tsx, t_jan, r_jan, ROUNDS, BENCH_THREAD_CPU, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f MB per CPU-second; tsx scan vs jansson "
             "json_loadb+json_decref, %zu msgs %.1f MB, A and B "
             "interleaved on cached %d-message slices, one CPU",
             cmp.a, cmp.b, c.n, mb, SLICE);
    bench_report_cmp("tsx_vs_jansson", &cmp, ">= 10", detail);
    for (int r = 0; r < ROUNDS; r++) {
        t_tsx[r] = t_tsx2[r] / (double)c.n; /* ns per msg */
        t_mem[r] = t_mem[r] / (double)c.n;
    }
    bench_summarise(t_tsx, t_mem, r_mem, ROUNDS, BENCH_THREAD_CPU, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f ns per message; tsx scan vs memchr of an absent "
             "byte over each message (%.0f vs %.0f MB per CPU-second), "
             "A and B interleaved on %d-message slices flushed from the "
             "caches before each pass (from memory), one CPU",
             cmp.a, cmp.b, mb * 1e9 / (cmp.a * (double)c.n),
             mb * 1e9 / (cmp.b * (double)c.n), SLICE);
    bench_report_cmp("tsx_vs_memchr", &cmp, "<= 4", detail);

    tsx_corpus_free(&c);
    return 0;
}
