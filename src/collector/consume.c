/* consume.c - the collector's Kafka side: a consumer in group
 * collector.group.id reading the audit topic read_committed (so aborted
 * worker transactions are never counted), positioned by the offsets stored
 * in the database with the data, never by the group's committed offsets.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/collector.h"
#include "consumer_lag.h"
#include "errstr.h"
#include "kafkaconf.h"
#include "log.h"
#include "conf_daemon_keys.h"

/* Undecodable records: one log line, then at most one per interval. */
#define UNDECODABLE_LOG_EVERY_MS 10000

void coll_sleep_ms(int64_t ms, bool wake_on_stop)
{
    for (; ms > 0 && !(wake_on_stop && daemon_stopping()); ms -= 100) {
        int64_t step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};

        nanosleep(&ts, NULL);
    }
}

/* ---------------------------------------------------------- rebalance */

/*
 * Sets every partition's offset to its next offset in the store (-1:
 * none -> the beginning).  The store is the only truth: what it holds is
 * exactly what was counted, in the same transaction.  While the database
 * is down this waits (with back-off) rather than guessing: a guessed offset
 * would count messages twice or never.  Returns -1 only when shutting down.
 */
/* CHP_ERR_STATE: the daemon is stopping; CHP_ERR_NOMEM: fatal. */
static chp_err_t offsets_from_store(collector_t *c,
                                    rd_kafka_topic_partition_list_t *parts)
{
    char err[512];
    int64_t backoff = COLL_BACKOFF_MIN_MS;

    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t next = -1;

        while (store_offset(c->store, c->cluster, p->topic, p->partition, &next,
                            err, sizeof(err)) != CHP_OK) {
            if (daemon_stopping())
                return CHP_ERR_STATE;
            health_fail(c->health, "database: %s", coll_one_line(err));
            chp_log_warn("collector: cannot read the stored offset of %s [%d] "
                         "(retrying in %lld ms): %s",
                         p->topic, (int)p->partition, (long long)backoff,
                         coll_one_line(err));
            coll_sleep_ms(backoff, true);
            backoff =
                backoff * 2 > c->retry_max_ms ? c->retry_max_ms : backoff * 2;
        }
        p->offset = next < 0 ? RD_KAFKA_OFFSET_BEGINNING : next;
        /* The position every flush of this partition starts from. */
        if (coll_batch_set_position(c->batch, p->topic, p->partition, next) !=
            CHP_OK) {
            chp_log_error("collector: out of memory recording offsets");
            c->fatal = true;
            return CHP_ERR_NOMEM;
        }
        if (next < 0)
            chp_log_info("collector: %s [%d] starts at the beginning (no "
                         "stored offset)",
                         p->topic, (int)p->partition);
        else
            chp_log_info("collector: %s [%d] resumes at stored offset %lld",
                         p->topic, (int)p->partition, (long long)next);
    }
    return CHP_OK;
}

chp_err_t coll_consumer_resync(collector_t *c)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_error_t *error;
    chp_err_t rc = CHP_OK;

    /* No consumer (tests drive the flush alone): nothing assigned. */
    if (!c->consumer || rd_kafka_assignment(c->consumer, &parts) || !parts)
        return CHP_OK;
    if (parts->cnt > 0 && (rc = offsets_from_store(c, parts)) == CHP_OK) {
        /* Asynchronous: records fetched before the seek are discarded by
         * librdkafka (the partition's version moves on). */
        if ((error = rd_kafka_seek_partitions(c->consumer, parts, 0))) {
            chp_log_warn("collector: seek: %s", rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return rc;
}

static void assign(collector_t *c, rd_kafka_topic_partition_list_t *parts,
                   bool add)
{
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;

    if (c->cooperative)
        error = add ? rd_kafka_incremental_assign(c->consumer, parts)
                    : rd_kafka_incremental_unassign(c->consumer, parts);
    else
        err = rd_kafka_assign(c->consumer, add ? parts : NULL);
    if (error) {
        chp_log_error("collector: %s: %s", add ? "assign" : "unassign",
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (err) {
        chp_log_error("collector: %s: %s", add ? "assign" : "unassign",
                      rd_kafka_err2str(err));
    }
}

static bool in_list(const char *topic, int32_t partition, void *opaque)
{
    return rd_kafka_topic_partition_list_find(opaque, topic, partition) != NULL;
}

static void on_revoke(collector_t *c, rd_kafka_topic_partition_list_t *parts)
{
    char err[256];

    if (parts->cnt > 0)
        chp_log_info("collector: %d partition(s) revoked: flushing first",
                     parts->cnt);
    /*
     * What was consumed from these partitions must be stored before
     * another collector takes them, or dropped: the new owner resumes from
     * the offsets in the database, which cover exactly what is stored, so
     * dropping the unstored part loses nothing and counts nothing twice.
     * A failed flush is therefore not retried here (the database may be
     * down for long, and the group is waiting for us).
     */
    if (coll_batch_records(c->batch) > 0 &&
        (c->stopping || coll_flush(c) != CHP_OK)) {
        chp_log_warn("collector: dropping what was consumed from the revoked "
                     "partition(s) and not stored; their next owner reads it "
                     "again from the stored offsets");
        if (coll_batch_drop_partitions(c->batch, in_list, parts, err,
                                       sizeof(err)) != CHP_OK) {
            /* Cannot split the batch: drop all of it and stop; the next
             * start resumes every partition from the store. */
            chp_log_warn("collector: %s; dropping the whole batch", err);
            coll_batch_reset(c->batch);
            c->fatal = true;
        }
    }
    if (coll_batch_records(c->batch) == 0) {
        /* Nothing left to retry: partitions kept (incremental rebalance)
         * must not stay paused. */
        if (c->retrying)
            coll_consumer_pause(c, false);
        c->first_pending_ms = 0;
        c->retrying = false;
        c->failures_in_row = 0;
        metric_set(c->m.retrying, 0);
        metric_set(c->m.backoff_ms, 0);
    }
    metric_set(c->m.pending, (double)coll_batch_records(c->batch));
    assign(c, parts, false);
}

static void on_assign(collector_t *c, rd_kafka_topic_partition_list_t *parts)
{
    if (parts->cnt > 0)
        chp_log_info("collector: assigned %d partition(s)", parts->cnt);
    c->kafka_down = false;
    if (offsets_from_store(c, parts) != 0) {
        /* Shutting down: take nothing rather than guess a position. */
        if (!c->cooperative)
            rd_kafka_assign(c->consumer, NULL);
        return;
    }
    assign(c, parts, true);
    /* Still holding a batch the database refused: stay paused. */
    if (c->retrying)
        rd_kafka_pause_partitions(c->consumer, parts);
}

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    collector_t *c = opaque;
    rd_kafka_topic_partition_list_t *now = NULL;

    /* Known once the group is joined, so asked here, not at creation. */
    c->cooperative = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        on_assign(c, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        on_revoke(c, parts);
        break;
    default:
        /* Whatever went wrong, hold nothing we might no longer own. */
        chp_log_error("collector: rebalance error: %s", rd_kafka_err2str(err));
        if (parts)
            on_revoke(c, parts);
        else
            rd_kafka_assign(rk, NULL);
        break;
    }
    if (rd_kafka_assignment(rk, &now) == RD_KAFKA_RESP_ERR_NO_ERROR && now) {
        metric_set(c->m.partitions, now->cnt);
        rd_kafka_topic_partition_list_destroy(now);
    }
}

/* ------------------------------------------------------------- set-up */

/* librdkafka's errors, in the collector's own log line; losing every
 * broker also makes /health say so until Kafka answers again. */
static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    collector_t *c = opaque;

    (void)rk;
    chp_log_warn("collector: kafka: %s: %s", rd_kafka_err2name(err), reason);
    if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ||
        err == RD_KAFKA_RESP_ERR__FATAL ||
        err == RD_KAFKA_RESP_ERR__AUTHENTICATION) {
        c->kafka_down = true;
        health_fail(c->health, "kafka: %s: %s", rd_kafka_err2name(err), reason);
    }
}

chp_err_t coll_consumer_cluster(collector_t *c)
{
    const char *conf = chp_conf_get_str(c->conf, CHP_KEY_COLLECTOR_CLUSTER);
    int64_t backoff = COLL_BACKOFF_MIN_MS;
    char *id;

    if (conf && *conf) {
        snprintf(c->cluster, sizeof(c->cluster), "%s", conf);
        return CHP_OK;
    }
    /* Known from the first metadata answer: waits for a broker. */
    while (!(id = rd_kafka_clusterid(c->consumer, 2000))) {
        rd_kafka_message_t *ev;
        /* Serves the error events, so the cause (authentication,
         * certificate) reaches the log and /health now, not after the
         * first assignment. */
        while ((ev = rd_kafka_consumer_poll(c->consumer, 0)))
            rd_kafka_message_destroy(ev);
        if (daemon_stopping())
            return CHP_ERR_STATE;
        chp_log_warn("collector: waiting for the audit cluster's id (set "
                     "collector.cluster to name it instead)");
        health_fail(c->health, "kafka: no broker answered (cluster id)");
        coll_sleep_ms(backoff, true);
        backoff = backoff * 2 > c->retry_max_ms ? c->retry_max_ms : backoff * 2;
    }
    snprintf(c->cluster, sizeof(c->cluster), "%s", id);
    rd_kafka_mem_free(c->consumer, id);
    return CHP_OK;
}

/* Commits to Kafka are for lag tools only; one refused during a rebalance
 * (stale generation) changes nothing, the next flush commits again. */
static void commit_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *offsets, void *opaque)
{
    (void)rk, (void)offsets, (void)opaque;
    if (err && err != RD_KAFKA_RESP_ERR__NO_OFFSET)
        chp_log_debug("collector: group offset commit: %s",
                      rd_kafka_err2str(err));
}

chp_err_t coll_consumer_new(collector_t *c, char *errstr, size_t errstr_size)
{
    const char *const defaults[] = {
        "group.id",
        chp_conf_get_str(c->conf, CHP_KEY_COLLECTOR_GROUP_ID),
        "enable.auto.commit",
        "false",
        "enable.auto.offset.store",
        "false",
        "auto.offset.reset",
        "earliest",
        "isolation.level",
        "read_committed",
        "enable.partition.eof",
        "false",
        "topic.metadata.refresh.interval.ms",
        "10000",
        NULL};
    rd_kafka_topic_partition_list_t *sub;
    rd_kafka_resp_err_t err;
    rd_kafka_conf_t *kc;

    if (!(kc = chp_kafka_conf_new(c->conf, defaults, errstr, errstr_size)))
        return CHP_ERR_KAFKA;
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_offset_commit_cb(kc, commit_cb);
    rd_kafka_conf_set_error_cb(kc, error_cb);
    rd_kafka_conf_set_opaque(kc, c);
    if (!(c->consumer =
              rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CHP_ERR_KAFKA;
    }
    rd_kafka_poll_set_consumer(c->consumer);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, c->audit_topic,
                                      RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(c->consumer, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        return chp_errf(errstr, errstr_size, CHP_ERR_KAFKA,
                        "subscribe to %s: %s", c->audit_topic,
                        rd_kafka_err2str(err));
    }
    return CHP_OK;
}

void coll_consumer_close(collector_t *c)
{
    if (!c->consumer)
        return;
    if (c->kafka_down) {
        /* Leaving the group needs a broker: skip it (the group notices
         * our absence after session.timeout.ms; nothing is lost, the
         * next owner resumes from the stored offsets). */
        chp_log_info("collector: Kafka unreachable: closing without leaving "
                     "the group");
        rd_kafka_destroy_flags(c->consumer,
                               RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
        c->consumer = NULL;
        return;
    }
    /* Revokes the assignment through rebalance_cb, which needs the store
     * and the batch: both outlive the consumer. */
    rd_kafka_consumer_close(c->consumer);
    rd_kafka_destroy(c->consumer);
    c->consumer = NULL;
}

/* ------------------------------------------------------ pause, commit */

void coll_consumer_pause(collector_t *c, bool pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;

    if (!c->consumer || rd_kafka_assignment(c->consumer, &parts) || !parts)
        return;
    /* A paused partition's prefetched messages are discarded; resume()
     * fetches again from the last message handed to us + 1, which is
     * exactly where the held batch ends. */
    if (parts->cnt > 0)
        (pause ? rd_kafka_pause_partitions
               : rd_kafka_resume_partitions)(c->consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
}

void coll_consumer_commit(collector_t *c, const store_offset_t *offsets,
                          size_t n)
{
    rd_kafka_topic_partition_list_t *parts;

    if (n == 0 || !c->consumer)
        return;
    parts = rd_kafka_topic_partition_list_new((int)n);
    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(parts, offsets[i].topic,
                                          offsets[i].partition)
            ->offset = offsets[i].next_offset;
    /* Best effort: failures only make the group's lag look stale. */
    rd_kafka_commit(c->consumer, parts, 1);
    rd_kafka_topic_partition_list_destroy(parts);
}

void coll_update_lag(collector_t *c)
{
    double lag;
    int n;

    if (chp_consumer_lag(c->consumer, &lag, &n) != CHP_OK)
        return;
    metric_set(c->m.lag, lag);
    metric_set(c->m.partitions, n);
}

void coll_kafka_probe(collector_t *c)
{
    const struct rd_kafka_metadata *md = NULL;

    if (!c->kafka_down ||
        rd_kafka_metadata(c->consumer, 0, NULL, &md, daemon_timeout_ms(1000)) !=
            RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    rd_kafka_metadata_destroy(md);
    c->kafka_down = false;
    chp_log_info("collector: Kafka answers again");
    if (!c->retrying)
        health_ok(c->health);
}

/* ------------------------------------------------------------- flush */

chp_err_t coll_flush(collector_t *c)
{
    bool was_retrying = c->retrying;

    switch (coll_flush_store(c)) {
    case COLL_FLUSH_EMPTY:
        return CHP_OK;
    case COLL_FLUSH_STORED:
        if (was_retrying)
            coll_consumer_pause(c, false);
        coll_consumer_commit(c, c->stored, c->n_stored);
        return CHP_OK;
    case COLL_FLUSH_STALE:
        if (was_retrying)
            coll_consumer_pause(c, false);
        if (coll_consumer_resync(c) != CHP_OK)
            chp_log_info("collector: stopping before the stored offsets were "
                         "read again");
        return CHP_OK; /* nothing left to store */
    case COLL_FLUSH_FAILED:
    default:
        if (!was_retrying && c->retrying)
            coll_consumer_pause(c, true);
        return CHP_ERR_DB;
    }
}

/* ------------------------------------------------------------ records */

static void log_undecodable(collector_t *c, rd_kafka_message_t *m,
                            const char *why)
{
    int64_t now = chp_now_ms();

    if (now - c->undecodable_logged_ms < UNDECODABLE_LOG_EVERY_MS) {
        c->undecodable_quiet++;
        return;
    }
    chp_log_warn(
        "collector: skipping undecodable record %s [%d] @%lld: %s%s",
        rd_kafka_topic_name(m->rkt), (int)m->partition, (long long)m->offset,
        why, c->undecodable_quiet ? " (and more since the last report)" : "");
    c->undecodable_logged_ms = now;
    c->undecodable_quiet = 0;
}

void coll_consume(collector_t *c, rd_kafka_message_t *m)
{
    char why[256] = "";
    coll_add_t res;
    chp_err_t err;

    if (m->err) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            chp_log_warn("collector: consumer: %s", rd_kafka_message_errstr(m));
        return;
    }
    c->kafka_down = false;
    err = coll_batch_add(c->batch, rd_kafka_topic_name(m->rkt), m->partition,
                         m->offset, m->payload, m->len, &res, why, sizeof(why));
    if (err == CHP_ERR_NOMEM && coll_flush(c) == CHP_OK)
        err = coll_batch_add(c->batch, rd_kafka_topic_name(m->rkt),
                             m->partition, m->offset, m->payload, m->len, &res,
                             why, sizeof(why));
    if (err != CHP_OK) {
        /* Nothing is lost by stopping: the record is read again from the
         * stored offsets at the next start. */
        chp_log_error("collector: out of memory holding a batch");
        c->fatal = true;
        return;
    }
    metric_inc(c->m.consumed, 1);
    if (res == COLL_UNDECODABLE) {
        metric_inc(c->m.undecodable, 1);
        log_undecodable(c, m, why);
    } else if (res == COLL_DUPLICATE) {
        metric_inc(c->m.dup_batch, 1);
    }
    if (c->first_pending_ms == 0)
        c->first_pending_ms = chp_now_ms();
    metric_set(c->m.pending, (double)coll_batch_records(c->batch));
}
