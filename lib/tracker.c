/*
 * tracker.c - thread-safe per (topic, bucket) aggregation (design.md §3).
 *
 * Layout: the tracker has CHP_TRACKER_SHARDS shards; a thread always counts
 * into the same shard (assigned round-robin on its first call).  A shard is
 * a mutex and a private map topic -> list of open buckets.  Two threads
 * share a shard only when there are more threads than shards, so the mutex
 * is normally uncontended and no cache line is shared between writers.  The
 * emitter takes each shard's mutex for a short, allocation-free snapshot:
 * counters are copied and zeroed and the bucket's sketch is swapped for an
 * empty one, so a message is never split between two emissions.
 *
 * Buckets that stay empty for two emissions are recycled on the shard's
 * free list; steady-state tracking allocates nothing.
 *
 * This file is the per-message path (shards, topics, buckets, counting)
 * and the tracker's life; the snapshot and emission are in tracker_emit.c,
 * the shared state in tracker_impl.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bucket.h"
#include "sketch.h"
#include "topicmap.h"
#include "tracker.h"
#include "tracker_impl.h"
#include "conf_keys.h"

static atomic_uint next_shard_id;

/* With CHP_TRACKER_F_SINGLE every call comes from one thread: the shard
 * lock would only cost time. */
static inline void shard_lock(const chp_tracker_t *t, shard_t *s)
{
    if (!t->single)
        pthread_mutex_lock(&s->lock);
}

static inline void shard_unlock(const chp_tracker_t *t, shard_t *s)
{
    if (!t->single)
        pthread_mutex_unlock(&s->lock);
}
/* initial-exec: one instruction instead of a __tls_get_addr call per
 * message in position-independent code; a 4-byte variable fits the static
 * TLS reserve even when the plugin is loaded with dlopen. */
static _Thread_local int tls_shard __attribute__((tls_model("initial-exec"))) =
    -1;

static inline shard_t *my_shard(chp_tracker_t *t)
{
    if (tls_shard < 0)
        tls_shard = (int)(atomic_fetch_add_explicit(&next_shard_id, 1,
                                                    memory_order_relaxed) %
                          CHP_TRACKER_SHARDS);
    return &t->shards[tls_shard];
}

/* FNV-1a: short keys, no allocation, good enough spread for topic names. */
static inline uint64_t topic_hash(const char *s, size_t *lenp)
{
    uint64_t h = 1469598103934665603ULL;
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        h ^= *p++;
        h *= 1099511628211ULL;
    }
    *lenp = (size_t)(p - (const unsigned char *)s);
    return h;
}

/* The rules of the topic's own name, else of its audit name (so that
 * timestamp.topic.orders covers dc1.orders too), else the default. */
static const chp_tsx_t *rules_for(const chp_tracker_t *t, const char *topic,
                                  const char *audit)
{
    for (size_t i = 0; i < t->n_rules; i++)
        if (!strcmp(t->rules[i].topic, topic))
            return t->rules[i].tsx;
    for (size_t i = 0; i < t->n_rules; i++)
        if (!strcmp(t->rules[i].topic, audit))
            return t->rules[i].tsx;
    return t->default_tsx;
}

static int shard_grow(shard_t *s)
{
    size_t nsize = s->tab_size ? s->tab_size * 2 : 64;
    ttopic_t **ntab = calloc(nsize, sizeof(*ntab));

    if (!ntab)
        return -1;
    for (size_t i = 0; i < s->tab_size; i++) {
        ttopic_t *tp = s->tab[i], *next;
        for (; tp; tp = next) {
            next = tp->next;
            tp->next = ntab[tp->hash & (nsize - 1)];
            ntab[tp->hash & (nsize - 1)] = tp;
        }
    }
    free(s->tab);
    s->tab = ntab;
    s->tab_size = nsize;
    return 0;
}

/* Finds or creates the shard's entry for topic.  Called with s->lock. */
static ttopic_t *shard_topic(chp_tracker_t *t, shard_t *s, const char *topic)
{
    size_t len, alen = 0;
    uint64_t h;
    ttopic_t *tp;
    char mapped[CHP_NAME_MAX];
    const char *audit;

    if (s->last && !strcmp(s->last->name, topic))
        return s->last;
    h = topic_hash(topic, &len);
    if (s->tab_size) {
        for (tp = s->tab[h & (s->tab_size - 1)]; tp; tp = tp->next)
            if (tp->hash == h && tp->len == len &&
                !memcmp(tp->name, topic, len))
                return s->last = tp;
    }
    if (s->n_topics >= s->tab_size && shard_grow(s) == -1)
        return NULL;
    /* Mapped once per topic and shard: the per-message path only ever
     * sees the cached entry. */
    audit = chp_topicmap_apply(t->map, topic, mapped, sizeof(mapped));
    if (audit != topic)
        alen = strlen(audit) + 1;
    tp = calloc(1, sizeof(*tp) + len + 1 + alen);
    if (!tp)
        return NULL;
    memcpy(tp->name, topic, len + 1);
    tp->audit = tp->name;
    if (alen)
        tp->audit = memcpy(tp->name + len + 1, audit, alen);
    tp->len = len;
    tp->hash = h;
    tp->tsx = rules_for(t, topic, tp->audit);
    tp->next = s->tab[h & (s->tab_size - 1)];
    s->tab[h & (s->tab_size - 1)] = tp;
    s->n_topics++;
    return s->last = tp;
}

/* Finds or opens the bucket; moves it to the front.  Called with s->lock. */
static tbucket_t *topic_bucket(chp_tracker_t *t, shard_t *s, ttopic_t *tp,
                               int64_t begin)
{
    tbucket_t **pp, *b;

    for (pp = &tp->buckets; (b = *pp); pp = &b->next) {
        if (b->begin != begin)
            continue;
        if (pp != &tp->buckets) { /* move to front */
            *pp = b->next;
            b->next = tp->buckets;
            tp->buckets = b;
        }
        return b;
    }
    if ((b = s->free_buckets)) {
        s->free_buckets = b->next;
    } else {
        b = calloc(1, sizeof(*b));
        if (!b)
            return NULL;
        if (!(b->sk = chp_sketch_new())) {
            free(b);
            return NULL;
        }
    }
    b->begin = begin;
    memset(&b->c, 0, sizeof(b->c));
    b->idle = 0;
    b->next = tp->buckets;
    tp->buckets = b;
    if (++s->open_buckets >= t->max_open)
        atomic_store_explicit(&t->emit_wanted, true, memory_order_relaxed);
    return b;
}

/* Counts one message in its bucket.  Called with s->lock held. */
static void count_locked(chp_tracker_t *t, shard_t *s, ttopic_t *tp,
                         chp_ts_result_t r, int64_t ts_ms, int64_t now,
                         uint64_t bytes)
{
    int64_t latency = 0;
    tbucket_t *b;

    if (r == CHP_TS_FOUND) {
        latency = now - ts_ms;
        /* The coarse clock lags the precise one by a tick or more (much
         * more on a VM whose timekeeping CPU is descheduled); an event the
         * application stamped just now looks as if from the future.  Ask
         * the precise clock, which cannot be behind a timestamp taken
         * from it: only a clock that is really ahead stays negative. */
        if (latency < 0)
            latency = chp_now_ms() - ts_ms;
    } else
        ts_ms = now; /* design.md §3: current-time bucket, latency 0 */
    /* Consecutive messages mostly fall in the topic's latest bucket (the
     * list's head): checked by range, without chp_bucket_begin's
     * division or the list walk. */
    b = tp->buckets;
    if (!b || ts_ms < b->begin * 1000 ||
        ts_ms - b->begin * 1000 >= (int64_t)t->width_s * 1000)
        b = topic_bucket(t, s, tp, chp_bucket_begin(ts_ms, t->width_s));
    if (b) {
        chp_counts_add(&b->c, bytes, latency, r);
        chp_sketch_add(b->sk, latency, 1);
    }
    s->tracked++;
}

CHP_EXPORT void chp_tracker_track(chp_tracker_t *t, const char *topic,
                                  chp_ts_result_t r, int64_t ts_ms,
                                  uint64_t bytes)
{
    shard_t *s = my_shard(t);
    int64_t now = chp_now_ms_coarse();
    ttopic_t *tp;

    shard_lock(t, s);
    if ((tp = shard_topic(t, s, topic)))
        count_locked(t, s, tp, r, ts_ms, now, bytes);
    shard_unlock(t, s);
}

/* The extraction runs under the shard's lock: the lock is the calling
 * thread's own in all but crowded cases, and holding it lets the topic's
 * rules come from the shard's topic entry instead of a second lookup. */
static inline chp_ts_result_t track_msg(chp_tracker_t *t, shard_t *s,
                                        ttopic_t *tp, const chp_msg_view_t *msg,
                                        uint64_t bytes, int64_t now)
{
    int64_t ts = 0;
    chp_ts_result_t r = chp_tsx_extract(tp->tsx, msg, now, &ts);

    count_locked(t, s, tp, r, ts, now, bytes);
    return r;
}

chp_ts_result_t chp_tracker_track_msg_at(chp_tracker_t *t, const char *topic,
                                         const chp_msg_view_t *msg,
                                         uint64_t bytes, int64_t now)
{
    shard_t *s = my_shard(t);
    chp_ts_result_t r = CHP_TS_MISSING;
    ttopic_t *tp;

    shard_lock(t, s);
    if ((tp = shard_topic(t, s, topic)))
        r = track_msg(t, s, tp, msg, bytes, now);
    shard_unlock(t, s);
    return r;
}

chp_tracker_topic_t *chp_tracker_topic(chp_tracker_t *t, const char *topic)
{
    shard_t *s = my_shard(t);
    ttopic_t *tp;

    shard_lock(t, s);
    tp = shard_topic(t, s, topic);
    shard_unlock(t, s);
    return tp;
}

chp_ts_result_t chp_tracker_track_msg_topic(chp_tracker_t *t,
                                            chp_tracker_topic_t *tp,
                                            const chp_msg_view_t *msg,
                                            uint64_t bytes, int64_t now)
{
    shard_t *s = my_shard(t);
    chp_ts_result_t r;

    shard_lock(t, s);
    r = track_msg(t, s, tp, msg, bytes, now);
    shard_unlock(t, s);
    return r;
}

CHP_EXPORT chp_ts_result_t chp_tracker_track_msg(chp_tracker_t *t,
                                                 const char *topic,
                                                 const chp_msg_view_t *msg,
                                                 uint64_t bytes)
{
    return chp_tracker_track_msg_at(t, topic, msg, bytes, chp_now_ms_coarse());
}

void chp_tracker_track_failed(chp_tracker_t *t, const char *topic,
                              const chp_msg_view_t *msg)
{
    shard_t *s = my_shard(t);
    int64_t now = chp_now_ms_coarse(), ts = now;
    ttopic_t *tp;
    tbucket_t *b;

    shard_lock(t, s);
    if ((tp = shard_topic(t, s, topic))) {
        /* The same rules as when it was sent: the same bucket. */
        if (chp_tsx_extract(tp->tsx, msg, now, &ts) != CHP_TS_FOUND)
            ts = now;
        if ((b = topic_bucket(t, s, tp, chp_bucket_begin(ts, t->width_s))))
            b->c.delivery_failed++;
    }
    shard_unlock(t, s);
}

/* ------------------------------------------------------------------ life */

static chp_err_t add_topic_rule(const char *topic, const char *value,
                                void *opaque)
{
    void **ctx = opaque;
    chp_tracker_t *t = ctx[0];
    const char *fields = ctx[1];
    topic_rule_t *nr = realloc(t->rules, (t->n_rules + 1) * sizeof(*nr));

    if (!nr)
        return CHP_ERR_NOMEM;
    t->rules = nr;
    nr[t->n_rules].topic = strdup(topic);
    if (!nr[t->n_rules].topic)
        return CHP_ERR_NOMEM;
    if (chp_tsx_new(value, fields, &nr[t->n_rules].tsx, ctx[2],
                    *(size_t *)ctx[3]) != CHP_OK) {
        free(nr[t->n_rules].topic);
        return CHP_ERR_INVALID_ARG;
    }
    t->n_rules++;
    return CHP_OK;
}

static void copy_name(char *dst, const char *src)
{
    snprintf(dst, CHP_NAME_MAX, "%s", src ? src : "");
}

CHP_EXPORT chp_err_t chp_tracker_new(const chp_conf_t *conf,
                                     const char *default_tier, int flags,
                                     chp_emit_cb_t *cb, void *opaque,
                                     chp_tracker_t **out, char *errstr,
                                     size_t errstr_size)
{
    chp_tracker_t *t;
    const char *fields = chp_conf_get_str(conf, CHP_KEY_TIMESTAMP_FIELDS);
    const char *s;
    chp_err_t err;
    char sub[256];
    void *ctx[4] = {NULL, (void *)fields, sub, NULL};
    size_t subsize = sizeof(sub);

    *out = NULL;
    if (!cb) {
        snprintf(errstr, errstr_size, "tracker needs an emit callback");
        return CHP_ERR_INVALID_ARG;
    }
    if ((flags & CHP_TRACKER_F_THREAD) && (flags & CHP_TRACKER_F_SINGLE)) {
        snprintf(errstr, errstr_size,
                 "CHP_TRACKER_F_SINGLE excludes CHP_TRACKER_F_THREAD");
        return CHP_ERR_INVALID_ARG;
    }
    if (!(t = calloc(1, sizeof(*t))))
        return CHP_ERR_NOMEM;
    for (int i = 0; i < CHP_TRACKER_SHARDS; i++)
        pthread_mutex_init(&t->shards[i].lock, NULL);
    pthread_mutex_init(&t->emit_lock, NULL);
    pthread_mutex_init(&t->thr_lock, NULL);
    pthread_cond_init(&t->thr_cond, NULL);
    t->cb = cb;
    t->opaque = opaque;
    t->single = (flags & CHP_TRACKER_F_SINGLE) != 0;
    t->width_s = (int32_t)chp_conf_get_int(conf, CHP_KEY_BUCKET_SECONDS);
    t->interval_ms = chp_conf_get_int(conf, CHP_KEY_REPORT_INTERVAL_MS);
    t->max_open = (size_t)chp_conf_get_int(conf, CHP_KEY_MAX_OPEN_BUCKETS);
    atomic_store(&t->last_emit_ms, chp_now_ms());

    s = chp_conf_get_str(conf, CHP_KEY_TIER);
    copy_name(t->tier, s && *s ? s : default_tier);
    copy_name(t->datacenter, chp_conf_get_str(conf, CHP_KEY_DATACENTER));
    s = chp_conf_get_str(conf, CHP_KEY_HOSTNAME);
    if (s && *s) {
        copy_name(t->hostname, s);
    } else if (gethostname(t->hostname, sizeof(t->hostname) - 1) != 0) {
        copy_name(t->hostname, "unknown");
    }

    if ((err = chp_tsx_new(chp_conf_get_str(conf, CHP_KEY_TIMESTAMP), fields,
                           &t->default_tsx, sub, sizeof(sub))) != CHP_OK) {
        snprintf(errstr, errstr_size, "\"timestamp\": %s", sub);
        goto fail;
    }
    if ((err = chp_topicmap_new(
             chp_conf_get_str(conf, CHP_KEY_TOPIC_MAP_STRIP_REGEX), &t->map,
             errstr, errstr_size)) != CHP_OK)
        goto fail;
    ctx[0] = t;
    ctx[3] = &subsize;
    if ((err = chp_conf_prefix_foreach(conf, "timestamp.topic.", add_topic_rule,
                                       ctx)) != CHP_OK) {
        snprintf(errstr, errstr_size, "\"timestamp.topic.*\": %s", sub);
        goto fail;
    }
    if (flags & CHP_TRACKER_F_THREAD) {
        if (pthread_create(&t->thread, NULL, chp_tracker_thread, t) != 0) {
            snprintf(errstr, errstr_size, "cannot start tracker thread");
            err = CHP_ERR_STATE;
            goto fail;
        }
        t->has_thread = true;
    }
    *out = t;
    return CHP_OK;

fail:
    chp_tracker_destroy(t);
    return err;
}

static void shard_free(shard_t *s)
{
    tbucket_t *b, *nb;

    for (size_t i = 0; i < s->tab_size; i++) {
        ttopic_t *tp = s->tab[i], *next;
        for (; tp; tp = next) {
            next = tp->next;
            for (b = tp->buckets; b; b = nb) {
                nb = b->next;
                chp_sketch_destroy(b->sk);
                free(b);
            }
            free(tp);
        }
    }
    for (b = s->free_buckets; b; b = nb) {
        nb = b->next;
        chp_sketch_destroy(b->sk);
        free(b);
    }
    free(s->tab);
    pthread_mutex_destroy(&s->lock);
}

CHP_EXPORT void chp_tracker_destroy(chp_tracker_t *t)
{
    if (!t)
        return;
    if (t->has_thread) {
        pthread_mutex_lock(&t->thr_lock);
        t->stop = true;
        pthread_cond_signal(&t->thr_cond);
        pthread_mutex_unlock(&t->thr_lock);
        pthread_join(t->thread, NULL);
    }
    if (t->default_tsx) /* fully constructed: emit what is left */
        chp_tracker_flush(t);
    for (int i = 0; i < CHP_TRACKER_SHARDS; i++)
        shard_free(&t->shards[i]);
    for (size_t i = 0; i < t->n_rules; i++) {
        free(t->rules[i].topic);
        chp_tsx_destroy(t->rules[i].tsx);
    }
    free(t->rules);
    chp_tracker_emit_fini(t);
    chp_tsx_destroy(t->default_tsx);
    chp_topicmap_destroy(t->map);
    pthread_mutex_destroy(&t->emit_lock);
    pthread_mutex_destroy(&t->thr_lock);
    pthread_cond_destroy(&t->thr_cond);
    free(t);
}
