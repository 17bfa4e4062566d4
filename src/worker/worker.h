/* worker.h - the worker's state, shared by its files (private to worker/):
 *   worker.c     set-up, the run loop, bounded shutdown
 *   txn.c        the emission transaction and its error classes
 *   rebalance.c  assignments (eager and cooperative), lost partitions,
 *                the offsets counted since the last commit, rewinds */
#ifndef CHP_WORKER_WORKER_H
#define CHP_WORKER_WORKER_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "chaperone.h"
#include "daemon.h"
#include "health.h"
#include "worker/registry.h"
#include "worker/topics.h"

/* Observers of the emission transactions, for tests: which audit messages
 * went into a transaction and whether it committed.  Called on the
 * worker's thread; all optional. */
typedef struct worker_hooks {
    void (*emitted)(void *opaque, const chp_auditmsg_t *msg);
    void (*ended)(void *opaque, bool committed);
    void *opaque;
} worker_hooks_t;

/* One partition consumed since the last commit: the offset to rewind to
 * (first) and the offset to commit (next). */
typedef struct wpart {
    char topic[CHP_NAME_MAX];
    int32_t partition;
    int64_t first, next;
    /* The topic handle of the last message noted, valid in batch gen only:
     * its messages, so their handles, live until the batch is done. */
    const rd_kafka_topic_t *rkt;
    uint64_t gen;
} wpart_t;

/* A rebalance that arrived while a batch was being read (rebalance.c). */
typedef struct wreb_event {
    rd_kafka_resp_err_t err;
    rd_kafka_topic_partition_list_t *parts;
} wreb_event_t;

typedef enum {
    TXN_RETRIABLE,
    TXN_ABORTABLE,
    TXN_FATAL,
    TXN_NCLASSES
} txn_class_t;

typedef struct worker {
    const chp_conf_t *conf;
    const worker_hooks_t *hooks;
    volatile int *stop; /* besides daemon_stopping(); may be NULL */
    rd_kafka_t *consumer;
    rd_kafka_queue_t *cq; /* the consumer's queue, read in batches */
    rd_kafka_t *producer;
    char txid[2 * CHP_NAME_MAX + 2];
    chp_tracker_t *tracker;
    topic_filter_t *filter;
    registry_t *registry;
    topic_set_t subscribed;
    char *audit_topic;
    char *registry_topic;
    bool use_registry;
    int64_t refresh_ms, next_refresh;
    uint64_t uncommitted; /* messages counted since the last commit */
    /* Per-message counts, published to the metrics every 10 ms: an
     * atomic per message would cost more than the counting itself. */
    uint64_t n_audited, n_no_time, n_malformed;
    bool emit_failed;             /* the emit callback could not produce */
    rd_kafka_resp_err_t emit_err; /* the first produce() error, if any */
    bool discarding; /* tracker flushes drop their counts (after a loss) */

    /* Partitions consumed since the last commit (rebalance.c). */
    wpart_t *parts;
    size_t nparts, capparts, last;
    /* Revocations wait while a batch is read: librdkafka runs the callback
     * in the middle of rd_kafka_consume_batch_queue, when messages before
     * it are in the batch but not counted yet. */
    bool in_batch;
    uint64_t batch_gen; /* counts batches (wpart_t.rkt) */
    /* The tracker's entry for the topic of the last message counted, and
     * that message's topic handle, valid in batch tt_gen (as wpart_t). */
    struct ttopic *tt;
    const rd_kafka_topic_t *tt_rkt;
    uint64_t tt_gen;
    wreb_event_t *pending;
    size_t npending, cappending;

    /* Transaction machinery (txn.c). */
    bool txn_ready; /* init_transactions done, nothing to resolve */
    bool inited;    /* init_transactions done on this producer */
    bool need_new;  /* the producer must be destroyed and recreated */
    bool uncertain; /* a transaction's outcome is unknown: ask Kafka */
    bool paused;    /* the assignment is paused while !txn_ready */
    int txn_timeout_ms;
    int64_t next_recover, backoff_ms;

    health_t *health;
    metrics_t *metrics;
    metric_t *m_audited, *m_emissions, *m_aborts, *m_lag, *m_emit_ms,
        *m_audit_msgs, *m_topics, *m_noTime, *m_malformed, *m_recreated,
        *m_txn_err[TXN_NCLASSES];
    http_server_t *http;
} worker_t;

/*
 * Runs a worker over conf until *stop (or daemon_stopping()), then commits
 * what it counted and closes.  hooks and stop may be NULL.  0 after a clean
 * stop, 1 when the last commit failed (replayed at the next start), 2 for
 * a configuration error (errstr filled).  An exit code, not a chp_err_t:
 * `chaperone worker` returns it as it is.
 */
int worker_run(const chp_conf_t *conf, const worker_hooks_t *hooks,
               volatile int *stop, char *errstr, size_t errstr_size);

bool worker_stopping(const worker_t *w);

/* txn.c */
/* Creates the transactional producer; CHP_ERR_KAFKA (errstr) on a
 * configuration error.  Transactions are initialised by wtxn_recover. */
chp_err_t wtxn_producer_new(worker_t *w, char *errstr, size_t errstr_size);
void wtxn_producer_destroy(worker_t *w);
/* While !txn_ready: one bounded attempt to (re)create the producer,
 * initialise transactions and resolve the last transaction's outcome. */
void wtxn_recover(worker_t *w);
/* One emission: the counts since the last commit and their offsets in one
 * transaction.  CHP_OK committed (or nothing to do), CHP_ERR_STATE when no
 * transaction can be started yet, CHP_ERR_KAFKA otherwise (aborted and
 * rewound, or the machinery is broken and recovery has started; logged). */
chp_err_t wtxn_emit_commit(worker_t *w);
/* The tracker's emit callback. */
chp_err_t wtxn_emit_cb(const chp_auditmsg_t *msgs, size_t n, void *opaque);

/* rebalance.c */
void wreb_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque);
/* Runs the rebalances that arrived during the last batch, in order, after
 * its messages were counted. */
void wreb_run_pending(worker_t *w);
/* Notes a consumed message's offset (counted or not). */
void wreb_note(worker_t *w, const rd_kafka_message_t *m, bool counted);
/* The partitions and offsets to commit (NULL when none); caller frees. */
rd_kafka_topic_partition_list_t *wreb_offsets(const worker_t *w);
/* Seeks every noted partition back to the first offset consumed since the
 * last commit (or to committed[] where given, >= 0); forgets them.
 * CHP_ERR_KAFKA (logged) when a seek failed. */
chp_err_t wreb_rewind(worker_t *w,
                      const rd_kafka_topic_partition_list_t *committed);
/* Forgets the noted partitions (after a commit). */
void wreb_clear(worker_t *w);
/* Drops the tracker's counts, as after an abort. */
void wreb_discard_counts(worker_t *w);
void wreb_pause(worker_t *w, bool pause);

#endif
