/* bench_tsx.c - timestamp extraction vs a full jansson parse and vs one
 * memchr pass over the same bytes (design.md §12: tsx_vs_jansson,
 * tsx_vs_memchr), over the deterministic mix of tsx_corpus.c.  The
 * question is work per message, so each pass is timed in thread CPU time;
 * the three passes rotate their order each round and every round gives one
 * ratio per comparison. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "chaperone.h"
#include "tsx_corpus.h"

#define TOTAL_BYTES (32u << 20)
#define ROUNDS      21

static const char *const names[] = {"ts", "timestamp"};

static double run_tsx(const corpus_t *c, uint64_t counts[3])
{
    int64_t t0 = bench_thread_cpu_ns();
    uint64_t sum = 0;

    for (size_t i = 0; i < c->n; i++) {
        int64_t ms = 0;
        chp_ts_result_t r = chp_tsx_scan_json(
            c->data + c->off[i], c->off[i + 1] - c->off[i], names, 2, &ms);

        counts[r]++;
        sum += (uint64_t)ms;
    }
    bench_sink(sum);
    return (double)(bench_thread_cpu_ns() - t0);
}

static double run_jansson(const corpus_t *c, uint64_t *errors)
{
    int64_t t0 = bench_thread_cpu_ns();

    for (size_t i = 0; i < c->n; i++) {
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

static double run_memchr(const corpus_t *c)
{
    int64_t t0 = bench_thread_cpu_ns();
    uint64_t hits = 0;

    for (size_t i = 0; i < c->n; i++) {
        /* '\x01' never occurs: memchr reads every byte of the message. */
        const void *p =
            memchr(c->data + c->off[i], '\x01', c->off[i + 1] - c->off[i]);

        hits += (uintptr_t)p;
    }
    bench_sink(hits);
    return (double)(bench_thread_cpu_ns() - t0);
}

int main(void)
{
    corpus_t c = {0};
    double t_tsx[ROUNDS], t_jan[ROUNDS], t_mem[ROUNDS];
    double r_jan[ROUNDS], r_mem[ROUNDS];
    double mb;
    uint64_t counts[3] = {0}, jerr = 0;
    bench_cmp_t cmp;
    char detail[256];

    tsx_corpus_make(&c, TOTAL_BYTES);
    mb = (double)c.len / 1e6;
    /* Warm-up pass, and a sanity check that the mix is what we claim. */
    run_memchr(&c);
    run_tsx(&c, counts);
    run_jansson(&c, &jerr);
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

    /* Rotate the order each round so no side always runs on a warm or
     * cold cache. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < 3; k++) {
            switch ((r + k) % 3) {
            case 0:
                t_tsx[r] = run_tsx(&c, counts);
                break;
            case 1:
                t_jan[r] = run_jansson(&c, &jerr);
                break;
            default:
                t_mem[r] = run_memchr(&c);
                break;
            }
        }
        r_jan[r] = t_jan[r] / t_tsx[r];
        r_mem[r] = t_tsx[r] / t_mem[r];
    }
    /* A and B as throughput (MB/s of CPU time) for the jansson line. */
    for (int r = 0; r < ROUNDS; r++) {
        t_jan[r] = mb / (t_jan[r] / 1e9);
        t_tsx[r] = mb / (t_tsx[r] / 1e9);
    }
    bench_summarise(t_tsx, t_jan, r_jan, ROUNDS, BENCH_THREAD_CPU, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f MB per CPU-second; tsx scan vs jansson "
             "json_loadb+json_decref, %zu msgs %.1f MB",
             cmp.a, cmp.b, c.n, mb);
    bench_report_cmp("tsx_vs_jansson", &cmp, ">= 10", detail);
    for (int r = 0; r < ROUNDS; r++) {
        t_tsx[r] = 1e9 * (mb / t_tsx[r]) / (double)c.n; /* ns per msg */
        t_mem[r] = t_mem[r] / (double)c.n;
    }
    bench_summarise(t_tsx, t_mem, r_mem, ROUNDS, BENCH_THREAD_CPU, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f ns per message; tsx scan vs memchr of an absent "
             "byte over each message (%.0f vs %.0f MB per CPU-second)",
             cmp.a, cmp.b, mb * 1e9 / (cmp.a * (double)c.n),
             mb * 1e9 / (cmp.b * (double)c.n));
    bench_report_cmp("tsx_vs_memchr", &cmp, "<= 4", detail);

    tsx_corpus_free(&c);
    return 0;
}
