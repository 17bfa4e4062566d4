/* tracker_impl.h - the tracker's state, shared by its two halves (private
 * to tracker*.c): tracker.c counts on the per-message path and owns the
 * tracker's life; tracker_emit.c snapshots the shards and emits. */
#ifndef CHP_TRACKER_IMPL_H
#define CHP_TRACKER_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bucket.h"
#include "sketch.h"
#include "topicmap.h"
#include "tracker.h"

#define CHP_TRACKER_SHARDS            16
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
    chp_tracker_stats_t st;  /* emission stats, under emit_lock */
    snapvec_t scratch;

    bool single; /* CHP_TRACKER_F_SINGLE */
    bool has_thread;
    pthread_t thread;
    pthread_mutex_t thr_lock;
    pthread_cond_t thr_cond;
    bool stop;
};

/* The CHP_TRACKER_F_THREAD emitter: flushes whenever chp_tracker_due(). */
void *chp_tracker_thread(void *arg);

/* Frees the emission scratch (t->scratch); for chp_tracker_destroy(). */
void chp_tracker_emit_fini(chp_tracker_t *t);

#endif
