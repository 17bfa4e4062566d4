/* bench_tracker.c - tracker_vs_atomic (SPEC §12): ns per tracked message
 * with 2 threads ÷ ns per relaxed atomic add on one shared counter with 2
 * threads.  The atomic add on a shared line is the cost floor of any
 * shared-counter design; the tracker counts into per-thread shards. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "chaperone.h"

#define THREADS 2
#define OPS 4000000
#define ROUNDS 5

static _Atomic uint64_t shared_counter;
static chp_tracker_t *tracker;
static pthread_barrier_t barrier;
static const char *const topics[] = {"orders", "clicks", "payments",
                                     "sessions"};

static void *atomic_thread(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < OPS; i++)
        atomic_fetch_add_explicit(&shared_counter, 1, memory_order_relaxed);
    return NULL;
}

static void *tracker_thread(void *arg)
{
    int64_t base = chp_now_ms() - 5000;
    uintptr_t id = (uintptr_t)arg;

    pthread_barrier_wait(&barrier);
    for (int i = 0; i < OPS; i++)
        chp_tracker_track(tracker, topics[(i + id) & 3], CHP_TS_FOUND,
                          base - (i & 1023), 300);
    return NULL;
}

static double run(void *(*fn)(void *))
{
    pthread_t th[THREADS];
    int64_t t0;

    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    for (uintptr_t i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, fn, (void *)i);
    t0 = bench_ns();
    pthread_barrier_wait(&barrier);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&barrier);
    /* ns per operation, per thread (both threads run at once). */
    return (double)(bench_ns() - t0) / OPS;
}

static chp_err_t discard(const chp_auditmsg_t *m, size_t n, void *o)
{
    (void)m, (void)o;
    bench_sink(n);
    return CHP_OK;
}

int main(void)
{
    double a[ROUNDS], b[ROUNDS];
    char err[256], detail[256];
    chp_conf_t *conf = chp_conf_new();

    if (chp_tracker_new(conf, "bench", 0, discard, NULL, &tracker, err,
                        sizeof(err)) != CHP_OK) {
        fprintf(stderr, "bench_tracker: %s\n", err);
        return 1;
    }
    run(tracker_thread); /* warm-up: buckets exist from here on */
    chp_tracker_flush(tracker);
    for (int r = 0; r < ROUNDS; r++) {
        a[r] = run(tracker_thread);
        chp_tracker_flush(tracker);
        b[r] = run(atomic_thread);
    }
    double ma = bench_median(a, ROUNDS), mb = bench_median(b, ROUNDS);
    snprintf(detail, sizeof(detail),
             "A=%.1f B=%.1f ns/op; tracker track() vs relaxed atomic add on a "
             "shared counter, %d threads",
             ma, mb, THREADS);
    bench_report("tracker_vs_atomic", ma / mb, "<= 10", detail);
    chp_tracker_destroy(tracker);
    chp_conf_destroy(conf);
    bench_sink(atomic_load(&shared_counter));
    return 0;
}
