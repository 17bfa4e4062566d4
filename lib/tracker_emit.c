/*
 * tracker_emit.c - the tracker's emission (design.md §3): each shard is
 * snapshotted under its lock without allocating, the parts of one
 * (topic, bucket) from different shards are merged, and the result goes to
 * the emit callback as audit messages.  Also the optional emitter thread.
 * The per-message counting is in tracker.c.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tracker_impl.h"

static int pool_put(snapvec_t *sv, chp_sketch_t *sk)
{
    if (sv->npool == sv->cappool) {
        size_t ncap = sv->cappool ? sv->cappool * 2 : 64;
        chp_sketch_t **np = realloc(sv->pool, ncap * sizeof(*np));
        if (!np)
            return -1;
        sv->pool = np;
        sv->cappool = ncap;
    }
    sv->pool[sv->npool++] = sk;
    return 0;
}

/* Returns a snapshot's sketch to the pool, emptied. */
static void pool_recycle(snapvec_t *sv, chp_sketch_t *sk)
{
    chp_sketch_reset(sk);
    if (pool_put(sv, sk) == -1)
        chp_sketch_destroy(sk);
}

/* Makes sure the pool and vector can take `need` more buckets, so the
 * snapshot under the shard lock never allocates. */
static int snap_reserve(snapvec_t *sv, size_t need)
{
    if (sv->n + need > sv->cap) {
        size_t ncap = sv->cap ? sv->cap : 64;
        while (ncap < sv->n + need)
            ncap *= 2;
        snap_t *nv = realloc(sv->v, ncap * sizeof(*nv));
        if (!nv)
            return -1;
        sv->v = nv;
        sv->cap = ncap;
    }
    while (sv->npool < need) {
        chp_sketch_t *sk = chp_sketch_new();
        if (!sk || pool_put(sv, sk) == -1) {
            chp_sketch_destroy(sk);
            return -1;
        }
    }
    return 0;
}

/* Moves the shard's non-empty buckets into sv and recycles idle ones.
 * On allocation failure the shard is left untouched (nothing is lost; its
 * counts go out with a later emission). */
static int shard_snapshot(shard_t *s, snapvec_t *sv)
{
    size_t open;

    pthread_mutex_lock(&s->lock);
    while ((open = s->open_buckets) > sv->npool || sv->n + open > sv->cap) {
        /* Allocate outside the lock: writers must never wait on malloc. */
        pthread_mutex_unlock(&s->lock);
        if (snap_reserve(sv, open + 16) == -1)
            return -1;
        pthread_mutex_lock(&s->lock);
    }
    for (size_t i = 0; i < s->tab_size; i++) {
        for (ttopic_t *tp = s->tab[i]; tp; tp = tp->next) {
            tbucket_t **pp = &tp->buckets, *b;
            while ((b = *pp)) {
                if (b->c.count == 0 && b->c.delivery_failed == 0) {
                    if (++b->idle >= IDLE_EMISSIONS_BEFORE_RECYCLE) {
                        *pp = b->next;
                        b->next = s->free_buckets;
                        s->free_buckets = b;
                        s->open_buckets--;
                        continue;
                    }
                } else {
                    snap_t *sn = &sv->v[sv->n++];
                    sn->topic = tp->audit;
                    sn->begin = b->begin;
                    sn->c = b->c;
                    sn->sk = b->sk;
                    b->sk = sv->pool[--sv->npool];
                    memset(&b->c, 0, sizeof(b->c));
                    b->idle = 0;
                }
                pp = &b->next;
            }
        }
    }
    pthread_mutex_unlock(&s->lock);
    return 0;
}

static int snap_cmp(const void *a, const void *b)
{
    const snap_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);

    if (c)
        return c;
    return (x->begin > y->begin) - (x->begin < y->begin);
}

static void fill_msg(const chp_tracker_t *t, const snap_t *sn,
                     chp_auditmsg_t *m)
{
    chp_auditmsg_init(m);
    snprintf(m->topic, sizeof(m->topic), "%s", sn->topic);
    m->time_begin = sn->begin;
    m->time_end = sn->begin + t->width_s;
    m->count = sn->c.count;
    m->total_bytes = sn->c.total_bytes;
    m->no_time_count = sn->c.no_time;
    m->malformed_count = sn->c.malformed;
    m->mean_latency = chp_counts_mean_latency(&sn->c);
    m->latency95 = chp_sketch_quantile(sn->sk, 0.95);
    m->latency99 = chp_sketch_quantile(sn->sk, 0.99);
    m->max_latency = (double)sn->c.max_latency_ms;
    memcpy(m->tier, t->tier, sizeof(m->tier));
    memcpy(m->datacenter, t->datacenter, sizeof(m->datacenter));
    memcpy(m->hostname, t->hostname, sizeof(m->hostname));
    chp_uuid_generate(m->uuid);
    m->version = CHP_AUDITMSG_VERSION;
    m->negative_latency_count = sn->c.negative;
    m->latency_sum_ms = (double)sn->c.latency_sum_ms;
    m->delivery_failed_count = sn->c.delivery_failed;
    m->sketch = sn->sk; /* borrowed: detached again before anyone frees */
}

/* Merges the shards' parts of one (topic, bucket); returns the count of
 * distinct (topic, bucket) snapshots left at the front of sv->v. */
static size_t snap_merge(snapvec_t *sv)
{
    size_t n = 0;

    if (sv->n == 0)
        return 0;
    qsort(sv->v, sv->n, sizeof(*sv->v), snap_cmp);
    for (size_t i = 0; i < sv->n; i++) {
        if (n && !snap_cmp(&sv->v[n - 1], &sv->v[i])) {
            chp_counts_merge(&sv->v[n - 1].c, &sv->v[i].c);
            chp_sketch_merge(sv->v[n - 1].sk, sv->v[i].sk);
            pool_recycle(sv, sv->v[i].sk);
        } else {
            sv->v[n++] = sv->v[i];
        }
    }
    sv->n = n;
    return n;
}

static chp_err_t emit_locked(chp_tracker_t *t)
{
    snapvec_t *sv = &t->scratch;
    chp_auditmsg_t *msgs = NULL;
    chp_err_t err = CHP_OK;
    size_t n;

    atomic_store(&t->emit_wanted, false);
    atomic_store(&t->last_emit_ms, chp_now_ms());
    sv->n = 0;
    for (int i = 0; i < CHP_TRACKER_SHARDS; i++)
        if (shard_snapshot(&t->shards[i], sv) == -1)
            err = CHP_ERR_NOMEM;
    if ((n = snap_merge(sv)) == 0)
        return err;

    if (!(msgs = calloc(n, sizeof(*msgs)))) {
        err = CHP_ERR_NOMEM;
        t->st.emit_errors++;
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        fill_msg(t, &sv->v[i], &msgs[i]);
    if (t->cb(msgs, n, t->opaque) != CHP_OK) {
        err = CHP_ERR_STATE;
        t->st.emit_errors++;
    }
    t->st.emissions++;
    t->st.emitted_msgs += n;
    for (size_t i = 0; i < n; i++)
        msgs[i].sketch = NULL;
    free(msgs);
done:
    for (size_t i = 0; i < n; i++)
        pool_recycle(sv, sv->v[i].sk);
    sv->n = 0;
    return err;
}

CHP_EXPORT chp_err_t chp_tracker_flush(chp_tracker_t *t)
{
    chp_err_t err;

    pthread_mutex_lock(&t->emit_lock);
    err = emit_locked(t);
    pthread_mutex_unlock(&t->emit_lock);
    return err;
}

CHP_EXPORT bool chp_tracker_due(chp_tracker_t *t, int64_t now_ms)
{
    return atomic_load_explicit(&t->emit_wanted, memory_order_relaxed) ||
           now_ms - atomic_load(&t->last_emit_ms) >= t->interval_ms;
}

CHP_EXPORT void chp_tracker_stats(chp_tracker_t *t, chp_tracker_stats_t *st)
{
    pthread_mutex_lock(&t->emit_lock);
    *st = t->st;
    pthread_mutex_unlock(&t->emit_lock);
    st->tracked = 0;
    st->open_buckets = 0;
    for (int i = 0; i < CHP_TRACKER_SHARDS; i++) {
        pthread_mutex_lock(&t->shards[i].lock);
        st->tracked += t->shards[i].tracked;
        st->open_buckets += t->shards[i].open_buckets;
        pthread_mutex_unlock(&t->shards[i].lock);
    }
}

/* ------------------------------------------------------- emitter thread */

void *chp_tracker_thread(void *arg)
{
    chp_tracker_t *t = arg;
    struct timespec ts;

    pthread_mutex_lock(&t->thr_lock);
    while (!t->stop) {
        clock_gettime(CLOCK_REALTIME, &ts);
        /* Poll at 50 ms so a full bucket table is noticed quickly without
         * track() ever having to signal (a syscall on the hot path). */
        ts.tv_nsec += 50 * 1000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&t->thr_cond, &t->thr_lock, &ts);
        if (t->stop || !chp_tracker_due(t, chp_now_ms()))
            continue;
        pthread_mutex_unlock(&t->thr_lock);
        chp_tracker_flush(t);
        pthread_mutex_lock(&t->thr_lock);
    }
    pthread_mutex_unlock(&t->thr_lock);
    return NULL;
}

void chp_tracker_emit_fini(chp_tracker_t *t)
{
    for (size_t i = 0; i < t->scratch.npool; i++)
        chp_sketch_destroy(t->scratch.pool[i]);
    free(t->scratch.pool);
    free(t->scratch.v);
}
