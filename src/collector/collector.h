/* collector.h - the state of `chaperone collector` shared by its files
 * (private to src/collector/):
 *
 *   collector.c   the command: set-up, the consume loop, shutdown
 *   consume.c     the Kafka side: consumer, rebalance (offsets from the
 *                 store), pause/resume, offset commits, lag
 *   flush.c       one database flush, back-off and retry, de-duplication,
 *                 retention
 *   batch.c       what one flush holds; aggregate.c its rows
 *
 * Everything runs on the one thread that polls the consumer (rebalance
 * callbacks included), so none of this needs a lock; only the metrics are
 * read by the HTTP thread, and they are atomic. */
#ifndef CHP_COLLECTOR_COLLECTOR_H
#define CHP_COLLECTOR_COLLECTOR_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "chaperone.h"
#include "collector/batch.h"
#include "collector/store.h"
#include "daemon.h"
#include "health.h"

/* First wait after a failed flush; doubled up to collector.retry.max.ms. */
#define COLL_BACKOFF_MIN_MS 250
/* How long SIGTERM/SIGINT keeps retrying the last flush, at most (and at
 * most half of daemon.shutdown.timeout.ms). */
#define COLL_SHUTDOWN_FLUSH_MS 15000
/* Retention runs at start and then this often. */
#define COLL_RETENTION_EVERY_MS (3600 * 1000)

typedef struct coll_metrics {
    metric_t *consumed, *undecodable, *dup_batch, *dup_store, *stored, *rows,
        *flushes, *flush_failures, *retrying, *backoff_ms, *flush_ms,
        *flush_ms_total, *pending, *lag, *partitions, *retention_runs,
        *retention_failures, *redis_mark_failures, *stale_batches;
} coll_metrics_t;

typedef struct collector {
    const chp_conf_t *conf;
    char *audit_topic;
    /* The audit cluster: collector.cluster, else its Kafka cluster id.
     * Stored offsets are keyed by it. */
    char cluster[CHP_NAME_MAX];
    rd_kafka_t *consumer;
    bool cooperative; /* incremental rebalance protocol (in rebalance_cb) */
    /* error_cb saw every broker down; cleared by the next record or
     * assignment, or by coll_kafka_probe on an idle topic.  Shutdown then
     * skips the group leave, which would wait for a broker. */
    bool kafka_down;

    store_t *store;
    struct dedup_redis *redis; /* dedup=redis, else NULL */
    coll_batch_t *batch;

    bool combine_hosts;
    int64_t flush_interval_ms, flush_max, retry_max_ms;
    int64_t first_pending_ms; /* when the oldest unflushed record came */

    /* Back-pressure: after a failed flush the assignment is paused and the
     * flush retried at next_retry_ms, with an exponential back-off. */
    bool retrying;
    int64_t backoff_ms, next_retry_ms;
    uint64_t failures_in_row;
    /* The offsets of the last stored batch, for the group commit. */
    store_offset_t *stored;
    size_t n_stored, cap_stored;

    bool stopping; /* shutdown: a failed flush on revocation is not retried */
    bool fatal;
    int64_t next_retention_ms, next_lag_ms;
    int64_t undecodable_logged_ms;
    uint64_t undecodable_quiet; /* not logged since the last line */

    int64_t shutdown_timeout_ms;

    metrics_t *metrics;
    coll_metrics_t m;
    health_t *health; /* ok after each flush; fails with the DB/Kafka cause */
    http_server_t *http;
    struct api *api; /* query API and dashboard (src/report/api.h) */
} collector_t;

/* consume.c */
/* Creates the consumer and subscribes; CHP_ERR_KAFKA with errstr. */
chp_err_t coll_consumer_new(collector_t *c, char *errstr, size_t errstr_size);
/* Sets c->cluster: collector.cluster, else the audit cluster's id, waiting
 * for a broker (with back-off).  CHP_ERR_STATE when asked to stop while
 * waiting. */
chp_err_t coll_consumer_cluster(collector_t *c);
/* After a stale batch: reads every assigned partition's stored offset
 * again and seeks there, so consumption resumes exactly after what is
 * stored.  CHP_ERR_STATE when shutting down, CHP_ERR_NOMEM (fatal). */
chp_err_t coll_consumer_resync(collector_t *c);
/* Pauses (true) or resumes (false) every assigned partition. */
void coll_consumer_pause(collector_t *c, bool pause);
/* Commits the offsets of the flushed batch to the group, asynchronously:
 * for lag tools only, the database stays the source of truth. */
void coll_consumer_commit(collector_t *c, const store_offset_t *offsets,
                          size_t n);
/* One flush, and the consumer follows its result: paused while the
 * flush is being retried, resumed after, sought back to the stored
 * offsets after a stale batch, the stored offsets committed to the group.
 * CHP_OK when stored (or nothing to store, or stale), CHP_ERR_DB when it
 * failed (logged and counted by the flush). */
chp_err_t coll_flush(collector_t *c);
/* Handles one consumed record (or consumer error). */
void coll_consume(collector_t *c, rd_kafka_message_t *m);
void coll_update_lag(collector_t *c);

/* While kafka_down: asks a broker for metadata (bounded by the shutdown);
 * an answer clears kafka_down and, unless the database is being retried,
 * makes /health report OK again.  Without it an idle audit topic kept
 * /health at 503 after Kafka came back, since no record arrived. */
void coll_kafka_probe(collector_t *c);
/* Leaves the group and destroys the consumer; when Kafka is down the group
 * leave (which waits for a broker) is skipped.  The caller bounds the
 * whole shutdown with a watchdog (collector.c). */
void coll_consumer_close(collector_t *c);
/* Sleeps ms milliseconds; with wake_on_stop, returns early once asked to
 * stop. */
void coll_sleep_ms(int64_t ms, bool wake_on_stop);

/* flush.c */
typedef enum coll_flushed {
    COLL_FLUSH_EMPTY,  /* nothing to store */
    COLL_FLUSH_STORED, /* stored; c->stored holds the offsets stored */
    COLL_FLUSH_STALE,  /* the store had other offsets: batch dropped */
    COLL_FLUSH_FAILED  /* kept; c->retrying set, retry at next_retry_ms */
} coll_flushed_t;
/* One flush of the batch into the store: the retry state, metrics and
 * health follow the result; the consumer is the caller's (coll_flush). */
coll_flushed_t coll_flush_store(collector_t *c);
/* True when the batch is due: interval elapsed or flush_max reached. */
bool coll_flush_due(const collector_t *c, int64_t now_ms);
/* Replaces line breaks and tabs in s (a database's error text) by spaces,
 * so every log event stays on one line; returns s. */
char *coll_one_line(char *s);
/* Deletes old rows and uuids; CHP_OK, or the store's error if the
 * database refused (logged here: nobody else acts on it). */
chp_err_t coll_retention(collector_t *c);
/* Opens the dedup=redis client if configured (NULL otherwise). */
chp_err_t coll_dedup_open(collector_t *c, char *errstr, size_t errstr_size);
void coll_dedup_close(collector_t *c);

#endif
