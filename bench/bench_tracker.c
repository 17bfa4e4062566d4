/* bench_tracker.c - tracker_vs_atomic (design.md §12): ns per tracked message
 * with 2 threads ÷ ns per relaxed atomic add on one shared counter with 2
 * threads.  The atomic add on a shared line is the cost floor of any
 * shared-counter design; the tracker counts into per-thread shards.
 *
 * The question is work per message, so it is measured in thread CPU time.
 * The cost of the shared counter depends on both threads running at the
 * same moment (a lone thread owns the cache line and adds in a few ns), and
 * on a shared 2-core machine that is true only part of the time.  So each
 * thread is pinned to its own CPU, times its loop in chunks of CHUNK
 * operations (wall and thread CPU clock at each boundary), and a run's
 * figure counts only the chunks during which both threads were on a CPU
 * (the chunk and every chunk of the other thread overlapping it ran at
 * least 90% of their wall time): CPU ns per operation over those chunks.
 * A run where fewer than MIN_SHARE of the chunks qualify is redone (after
 * MAX_TRIES, the run with the most is kept, and runs go on until one has
 * any; how many were redone goes to stderr). */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "chaperone.h"

#define THREADS   2
#define OPS       524288
#define CHUNK     4096
#define NCHUNK    (OPS / CHUNK)
#define PAIRS     41
#define MAX_TRIES 40
#define MIN_SHARE 0.25
/* Pairs spread over ~10 s: the VM runs for seconds at a time at one of
 * several speeds (track() took 60, ~150 or ~180 ns, the atomic add 15 or
 * ~34), and pairs taken back to back all fell in one spell; the per-pair
 * ratio moves less than either side. */
#define PAIR_GAP_MS 200

static _Atomic uint64_t shared_counter;
static chp_tracker_t *tracker;
static pthread_barrier_t barrier;
static const char *const topics[] = {"orders", "clicks", "payments",
                                     "sessions"};

typedef struct {
    uintptr_t id;
    /* boundaries of the chunks: chunk k is [wall[k], wall[k + 1]) */
    int64_t wall[NCHUNK + 1], cpu[NCHUNK + 1];
} thr_t;

static int redone, ncpu;
static double share_sum;
static int share_runs;

/* Each thread on its own CPU: two threads of ours never share one. */
static void pin(uintptr_t id)
{
    cpu_set_t set;

    if (ncpu < THREADS)
        return;
    CPU_ZERO(&set);
    CPU_SET((int)(id % (uintptr_t)ncpu), &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static void *atomic_thread(void *arg)
{
    thr_t *t = arg;

    pin(t->id);
    pthread_barrier_wait(&barrier);
    for (int k = 0; k < NCHUNK; k++) {
        t->wall[k] = bench_ns();
        t->cpu[k] = bench_thread_cpu_ns();
        for (int i = 0; i < CHUNK; i++)
            atomic_fetch_add_explicit(&shared_counter, 1, memory_order_relaxed);
    }
    t->wall[NCHUNK] = bench_ns();
    t->cpu[NCHUNK] = bench_thread_cpu_ns();
    return NULL;
}

static void *tracker_thread(void *arg)
{
    thr_t *t = arg;
    int64_t base = chp_now_ms() - 5000;

    pin(t->id);
    pthread_barrier_wait(&barrier);
    for (int k = 0; k < NCHUNK; k++) {
        t->wall[k] = bench_ns();
        t->cpu[k] = bench_thread_cpu_ns();
        for (int j = 0; j < CHUNK; j++) {
            int i = k * CHUNK + j;

            chp_tracker_track(tracker, topics[(i + t->id) & 3], CHP_TS_FOUND,
                              base - (i & 1023), 300);
        }
    }
    t->wall[NCHUNK] = bench_ns();
    t->cpu[NCHUNK] = bench_thread_cpu_ns();
    return NULL;
}

static bool on_cpu(const thr_t *t, int k)
{
    return (double)(t->cpu[k + 1] - t->cpu[k]) >=
           0.9 * (double)(t->wall[k + 1] - t->wall[k]);
}

/* Whether o ran, on a CPU, over all of [w0, w1). */
static bool ran_over(const thr_t *o, int64_t w0, int64_t w1)
{
    if (w0 < o->wall[0] || w1 > o->wall[NCHUNK])
        return false;
    for (int k = 0; k < NCHUNK; k++)
        if (o->wall[k + 1] > w0 && o->wall[k] < w1 && !on_cpu(o, k))
            return false;
    return true;
}

/* CPU ns per operation over the chunks both threads ran at once; after
 * MAX_TRIES runs without enough such chunks, the figure of the run that
 * had the most. */
static double run(void *(*fn)(void *))
{
    static thr_t t[THREADS];
    pthread_t th[THREADS];
    double best_ns = 0;
    int best_used = 0;

    for (int tries = 0;; tries++) {
        double cpu = 0;
        int used = 0;

        pthread_barrier_init(&barrier, NULL, THREADS + 1);
        for (uintptr_t i = 0; i < THREADS; i++) {
            t[i].id = i;
            pthread_create(&th[i], NULL, fn, &t[i]);
        }
        pthread_barrier_wait(&barrier);
        for (int i = 0; i < THREADS; i++)
            pthread_join(th[i], NULL);
        pthread_barrier_destroy(&barrier);
        for (int i = 0; i < THREADS; i++) {
            const thr_t *o = &t[(i + 1) % THREADS];

            for (int k = 0; k < NCHUNK; k++) {
                if (!on_cpu(&t[i], k) ||
                    !ran_over(o, t[i].wall[k], t[i].wall[k + 1]))
                    continue;
                cpu += (double)(t[i].cpu[k + 1] - t[i].cpu[k]);
                used++;
            }
        }
        if (fn == tracker_thread)
            chp_tracker_flush(tracker);
        if (used > best_used) {
            best_used = used;
            best_ns = cpu / used / CHUNK;
        }
        if (used >= MIN_SHARE * THREADS * NCHUNK ||
            (tries + 1 >= MAX_TRIES && best_used > 0)) {
            share_sum += (double)best_used / (THREADS * NCHUNK);
            share_runs++;
            return best_ns;
        }
        redone++;
    }
}

static double run_tracker(void *ctx)
{
    (void)ctx;
    return run(tracker_thread);
}

static double run_atomic(void *ctx)
{
    (void)ctx;
    return run(atomic_thread);
}

static chp_err_t discard(const chp_auditmsg_t *m, size_t n, void *o)
{
    (void)m, (void)o;
    bench_sink(n);
    return CHP_OK;
}

int main(void)
{
    double a[PAIRS], b[PAIRS], ratio[PAIRS];
    char err[256], detail[512];
    chp_conf_t *conf = chp_conf_new();
    bench_cmp_t cmp;

    ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (chp_tracker_new(conf, "bench", 0, discard, NULL, &tracker, err,
                        sizeof(err)) != CHP_OK) {
        fprintf(stderr, "bench_tracker: %s\n", err);
        return 1;
    }
    run_tracker(NULL); /* warm-up: buckets exist from here on */
    run_atomic(NULL);
    bench_alternate_spread(PAIRS, run_tracker, run_atomic, NULL, a, b,
                           PAIR_GAP_MS);
    for (int i = 0; i < PAIRS; i++)
        ratio[i] = a[i] / b[i];
    bench_summarise(a, b, ratio, PAIRS, BENCH_THREAD_CPU, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.1f B=%.1f CPU ns/op; tracker track() vs relaxed atomic add "
             "on a shared counter, %d pinned threads, chunks of %d ops "
             "while both ran (%.0f%% of chunks), pairs spread over %.0f s",
             cmp.a, cmp.b, THREADS, CHUNK, 100.0 * share_sum / share_runs,
             PAIRS * PAIR_GAP_MS / 1000.0);
    bench_report_cmp("tracker_vs_atomic", &cmp, "<= 10", detail);
    fprintf(stderr,
            "bench_tracker: %d runs redone (fewer than %.0f%% of the chunks "
            "ran with both threads on a CPU)\n",
            redone, 100 * MIN_SHARE);
    chp_tracker_destroy(tracker);
    chp_conf_destroy(conf);
    bench_sink(atomic_load(&shared_counter));
    return 0;
}
