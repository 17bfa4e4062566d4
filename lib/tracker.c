/*
 * tracker.c - thread-safe per (topic, bucket) aggregation (SPEC §3).
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

#define CHP_TRACKER_SHARDS 16
#define IDLE_EMISSIONS_BEFORE_RECYCLE 2

typedef struct tbucket {
    int64_t begin; /* epoch seconds */
    chp_counts_t c;
    chp_sketch_t *sk;
    int idle; /* emissions in a row that found it empty */
    struct tbucket *next;
} tbucket_t;

typedef struct ttopic {
    struct ttopic *next; /* hash chain */
    uint64_t hash;
    const chp_tsx_t *tsx; /* the topic's timestamp rules (tracker owns) */
    tbucket_t *buckets;   /* most recently used first */
    size_t len;
    const char *audit; /* the name audited under (topicmap.h): name, or
                          the mapped copy after it */
    char name[];       /* NUL-terminated */
} ttopic_t;

/* Cache-line aligned: writers on different shards share no line. */
typedef struct shard {
    _Alignas(64) pthread_mutex_t lock;
    uint64_t tracked; /* messages counted in this shard, under lock */
    ttopic_t **tab;
    size_t tab_size; /* power of two */
    size_t n_topics;
    size_t open_buckets;
    tbucket_t *free_buckets;
    ttopic_t *last; /* last topic used: consecutive messages often share it */
} shard_t;

typedef struct topic_rule {
    char *topic;
    chp_tsx_t *tsx;
} topic_rule_t;

typedef struct snap {
    const char *topic; /* points into a ttopic_t: stable until destroy */
    int64_t begin;
    chp_counts_t c;
    chp_sketch_t *sk;
} snap_t;

/* Emission scratch, kept across emissions (under emit_lock) so that a
 * steady state allocates nothing there either. */
typedef struct snapvec {
    snap_t *v;
    size_t n, cap;
    chp_sketch_t **pool; /* empty sketches to swap into buckets */
    size_t npool, cappool;
} snapvec_t;

struct chp_tracker {
    shard_t shards[CHP_TRACKER_SHARDS];
    int32_t width_s;
    int64_t interval_ms;
    size_t max_open;
    chp_tsx_t *default_tsx;
    topic_rule_t *rules;
    size_t n_rules;
    chp_topicmap_t *map; /* topic.map.strip.regex; NULL: names as they are */
    char tier[CHP_NAME_MAX];
    char datacenter[CHP_NAME_MAX];
    char hostname[CHP_NAME_MAX];
    chp_emit_cb_t *cb;
    void *opaque;

    pthread_mutex_t emit_lock; /* one emission at a time */
    _Atomic int64_t last_emit_ms;
    atomic_bool emit_wanted; /* set by track() when a shard is full */
    chp_tracker_stats_t st; /* emission stats, under emit_lock */
    snapvec_t scratch;

    bool single; /* CHP_TRACKER_F_SINGLE */
    bool has_thread;
    pthread_t thread;
    pthread_mutex_t thr_lock;
    pthread_cond_t thr_cond;
    bool stop;
};

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
static _Thread_local int tls_shard __attribute__((tls_model("initial-exec"))) = -1;

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
            if (tp->hash == h && tp->len == len && !memcmp(tp->name, topic, len))
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
        ts_ms = now; /* SPEC §3: current-time bucket, latency 0 */
    if ((b = topic_bucket(t, s, tp, chp_bucket_begin(ts_ms, t->width_s)))) {
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
CHP_EXPORT chp_ts_result_t chp_tracker_track_msg(chp_tracker_t *t,
                                                 const char *topic,
                                                 const chp_msg_view_t *msg,
                                                 uint64_t bytes)
{
    shard_t *s = my_shard(t);
    int64_t now = chp_now_ms_coarse(), ts = 0;
    chp_ts_result_t r = CHP_TS_MISSING;
    ttopic_t *tp;

    shard_lock(t, s);
    if ((tp = shard_topic(t, s, topic))) {
        r = chp_tsx_extract(tp->tsx, msg, now, &ts);
        count_locked(t, s, tp, r, ts, now, bytes);
    }
    shard_unlock(t, s);
    return r;
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

/* ----------------------------------------------------------- emission */

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

/* ----------------------------------------------------- thread, life */

static void *tracker_thread(void *arg)
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
    const char *fields = chp_conf_get_str(conf, "timestamp.fields");
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
    t->width_s = (int32_t)chp_conf_get_int(conf, "bucket.seconds");
    t->interval_ms = chp_conf_get_int(conf, "report.interval.ms");
    t->max_open = (size_t)chp_conf_get_int(conf, "max.open.buckets");
    atomic_store(&t->last_emit_ms, chp_now_ms());

    s = chp_conf_get_str(conf, "tier");
    copy_name(t->tier, s && *s ? s : default_tier);
    copy_name(t->datacenter, chp_conf_get_str(conf, "datacenter"));
    s = chp_conf_get_str(conf, "hostname");
    if (s && *s) {
        copy_name(t->hostname, s);
    } else if (gethostname(t->hostname, sizeof(t->hostname) - 1) != 0) {
        copy_name(t->hostname, "unknown");
    }

    if ((err = chp_tsx_new(chp_conf_get_str(conf, "timestamp"), fields,
                           &t->default_tsx, sub, sizeof(sub))) != CHP_OK) {
        snprintf(errstr, errstr_size, "\"timestamp\": %s", sub);
        goto fail;
    }
    if ((err = chp_topicmap_new(chp_conf_get_str(conf, "topic.map.strip.regex"),
                                &t->map, errstr, errstr_size)) != CHP_OK)
        goto fail;
    ctx[0] = t;
    ctx[3] = &subsize;
    if ((err = chp_conf_prefix_foreach(conf, "timestamp.topic.",
                                       add_topic_rule, ctx)) != CHP_OK) {
        snprintf(errstr, errstr_size, "\"timestamp.topic.*\": %s", sub);
        goto fail;
    }
    if (flags & CHP_TRACKER_F_THREAD) {
        if (pthread_create(&t->thread, NULL, tracker_thread, t) != 0) {
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
    for (size_t i = 0; i < t->scratch.npool; i++)
        chp_sketch_destroy(t->scratch.pool[i]);
    free(t->scratch.pool);
    free(t->scratch.v);
    chp_tsx_destroy(t->default_tsx);
    chp_topicmap_destroy(t->map);
    pthread_mutex_destroy(&t->emit_lock);
    pthread_mutex_destroy(&t->thr_lock);
    pthread_cond_destroy(&t->thr_cond);
    free(t);
}
