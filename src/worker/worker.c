/*
 * worker.c - `chaperone worker`: audits every message stored in a Kafka
 * cluster, exactly once (SPEC §6).
 *
 * One consumer in group worker.group.id, one transactional producer.  Each
 * emission is one Kafka transaction holding the audit messages of
 * everything counted since the previous emission and the consumer offsets
 * of exactly those messages:
 *
 *   begin_transaction
 *   tracker flush  -> produce audit messages (inside the transaction)
 *   send_offsets_to_transaction(position of every assigned partition)
 *   commit_transaction
 *
 * The tracker is only ever touched from this thread, so "counted" and
 * "consumed" are the same set of messages at the moment of the flush.  If
 * the transaction fails, it is aborted and every assigned partition is
 * rewound to its last committed offset: the counts that went into the
 * aborted transaction are counted again, once.  On revocation the worker
 * emits and commits first, so a partition's counts always leave with its
 * offsets.  A crashed worker's open transaction is aborted by its
 * successor: both use the transactional.id
 * <worker.transactional.id.prefix>-<worker.instance>.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "commands.h"
#include "bucket.h"
#include "daemon.h"
#include "http.h"
#include "kafkaconf.h"
#include "log.h"
#include "worker/registry.h"
#include "worker/topics.h"

#define TXN_TIMEOUT_MS 30000

typedef struct worker {
    const chp_conf_t *conf;
    rd_kafka_t *consumer;
    rd_kafka_t *producer;
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
    bool emit_failed;     /* the emit callback could not produce */
    bool fatal;

    metrics_t *metrics;
    metric_t *m_audited, *m_emissions, *m_aborts, *m_lag, *m_emit_ms,
        *m_audit_msgs, *m_topics, *m_noTime, *m_malformed;
    http_server_t *http;
} worker_t;

/* ------------------------------------------------------- transactions */

/* Produces one emission's audit messages inside the open transaction. */
static chp_err_t emit_to_txn(const chp_auditmsg_t *msgs, size_t n,
                             void *opaque)
{
    worker_t *w = opaque;

    for (size_t i = 0; i < n; i++) {
        char *json;
        size_t len;
        rd_kafka_resp_err_t err;

        if (chp_auditmsg_encode(&msgs[i], &json, &len) != CHP_OK) {
            chp_err("worker: cannot encode the audit message of %s",
                    msgs[i].topic);
            w->emit_failed = true;
            continue;
        }
        do {
            err = rd_kafka_producev(
                w->producer, RD_KAFKA_V_TOPIC(w->audit_topic),
                RD_KAFKA_V_KEY(msgs[i].topic, strlen(msgs[i].topic)),
                RD_KAFKA_V_VALUE(json, len), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE),
                RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(w->producer, 50);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (err) {
            free(json);
            chp_err("worker: cannot produce an audit message: %s",
                    rd_kafka_err2str(err));
            w->emit_failed = true;
        }
        metric_inc(w->m_audit_msgs, 1);
    }
    return w->emit_failed ? CHP_ERR_KAFKA : CHP_OK;
}

/* Rewinds every assigned partition to its committed offset, so what an
 * aborted transaction counted is consumed and counted again. */
static void rewind_to_committed(worker_t *w)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_error_t *error;

    if (rd_kafka_assignment(w->consumer, &parts) || !parts)
        return;
    if (parts->cnt > 0 &&
        rd_kafka_committed(w->consumer, parts, 30000) == 0) {
        for (int i = 0; i < parts->cnt; i++)
            if (parts->elems[i].offset < 0)
                parts->elems[i].offset = RD_KAFKA_OFFSET_BEGINNING;
        if ((error = rd_kafka_seek_partitions(w->consumer, parts, 30000))) {
            chp_err("worker: cannot rewind after an abort: %s",
                    rd_kafka_error_string(error));
            rd_kafka_error_destroy(error);
            w->fatal = true;
        }
    } else if (parts->cnt > 0) {
        chp_err("worker: cannot read committed offsets to rewind");
        w->fatal = true;
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

static bool txn_error(worker_t *w, rd_kafka_error_t *error, const char *what)
{
    if (!error)
        return false;
    chp_err("worker: %s: %s", what, rd_kafka_error_string(error));
    if (rd_kafka_error_is_fatal(error) ||
        !rd_kafka_error_txn_requires_abort(error)) {
        if (rd_kafka_error_is_fatal(error))
            w->fatal = true;
    }
    rd_kafka_error_destroy(error);
    return true;
}

static void abort_and_rewind(worker_t *w)
{
    rd_kafka_error_t *error;

    metric_inc(w->m_aborts, 1);
    if ((error = rd_kafka_abort_transaction(w->producer, TXN_TIMEOUT_MS))) {
        chp_err("worker: abort_transaction: %s", rd_kafka_error_string(error));
        if (rd_kafka_error_is_fatal(error))
            w->fatal = true;
        rd_kafka_error_destroy(error);
    }
    rewind_to_committed(w);
}

/*
 * One emission: everything counted since the last commit leaves in one
 * transaction with the offsets that produced it.  Returns 0 when committed
 * (or nothing to do), -1 after an abort (and rewind).
 */
static int emit_and_commit(worker_t *w)
{
    rd_kafka_topic_partition_list_t *offsets = NULL;
    rd_kafka_consumer_group_metadata_t *cgmd;
    rd_kafka_error_t *error;
    int64_t t0 = chp_now_ms();

    if (w->uncommitted == 0) {
        chp_tracker_flush(w->tracker); /* restarts the interval; emits none */
        return 0;
    }
    if (txn_error(w, rd_kafka_begin_transaction(w->producer),
                  "begin_transaction"))
        return -1;
    w->emit_failed = false;
    chp_tracker_flush(w->tracker);
    if (w->emit_failed)
        goto abort;

    if (rd_kafka_assignment(w->consumer, &offsets) || !offsets)
        goto abort;
    if (offsets->cnt > 0) {
        rd_kafka_position(w->consumer, offsets);
        cgmd = rd_kafka_consumer_group_metadata(w->consumer);
        error = rd_kafka_send_offsets_to_transaction(w->producer, offsets,
                                                     cgmd, TXN_TIMEOUT_MS);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        if (txn_error(w, error, "send_offsets_to_transaction"))
            goto abort;
    }
    if (txn_error(w, rd_kafka_commit_transaction(w->producer, TXN_TIMEOUT_MS),
                  "commit_transaction"))
        goto abort;

    metric_inc(w->m_emissions, 1);
    metric_set(w->m_emit_ms, (double)(chp_now_ms() - t0));
    chp_debug("worker: committed %llu message(s) in %lld ms",
              (unsigned long long)w->uncommitted,
              (long long)(chp_now_ms() - t0));
    w->uncommitted = 0;
    rd_kafka_topic_partition_list_destroy(offsets);
    return 0;

abort:
    if (offsets)
        rd_kafka_topic_partition_list_destroy(offsets);
    abort_and_rewind(w);
    w->uncommitted = 0;
    return -1;
}

/* ---------------------------------------------------------- rebalance */

static void rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker_t *w = opaque;

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        chp_info("worker: assigned %d partition(s)", parts->cnt);
        /* Offsets come from the group's committed (transactional) ones. */
        rd_kafka_assign(rk, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        chp_info("worker: %d partition(s) revoked: emitting first",
                 parts->cnt);
        /* Counts leave with their offsets before anyone else can take the
         * partitions; if that fails, the aborted counts are redone by the
         * new owner from the committed offsets. */
        if (emit_and_commit(w) != 0)
            chp_warn("worker: emission on revocation aborted; the new "
                     "owner recounts from the committed offsets");
        rd_kafka_assign(rk, NULL);
        break;
    default:
        chp_err("worker: rebalance error: %s", rd_kafka_err2str(err));
        rd_kafka_assign(rk, NULL);
        break;
    }
}

/* ------------------------------------------------------------ topics */

static void refresh_topics(worker_t *w)
{
    topic_set_t now;
    char err[256];

    if (w->use_registry) {
        int rc = registry_load(w->conf, w->registry_topic, w->registry, 10000,
                               err, sizeof(err));
        if (rc < 0)
            chp_warn("worker: registry %s: %s (keeping the last set)",
                     w->registry_topic, err);
    }
    if (topic_set_from_metadata(w->consumer, w->filter,
                                w->use_registry ? w->registry : NULL, &now,
                                10000) != 0)
        return;
    if (topic_set_equal(&now, &w->subscribed)) {
        topic_set_clear(&now);
        return;
    }
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new((int)now.n);
    for (size_t i = 0; i < now.n; i++)
        rd_kafka_topic_partition_list_add(sub, now.names[i],
                                          RD_KAFKA_PARTITION_UA);
    chp_info("worker: auditing %zu topic(s)", now.n);
    if (now.n == 0) {
        emit_and_commit(w);
        rd_kafka_unsubscribe(w->consumer);
    } else {
        rd_kafka_resp_err_t e = rd_kafka_subscribe(w->consumer, sub);
        if (e)
            chp_err("worker: subscribe: %s", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(sub);
    topic_set_clear(&w->subscribed);
    w->subscribed = now;
    metric_set(w->m_topics, (double)now.n);
}

/* Consumer lag from the watermarks the fetcher already has (no request). */
static void update_lag(worker_t *w)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    double lag = 0;

    if (rd_kafka_assignment(w->consumer, &parts) || !parts)
        return;
    rd_kafka_position(w->consumer, parts);
    for (int i = 0; i < parts->cnt; i++) {
        int64_t lo, hi;
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        if (p->offset >= 0 &&
            rd_kafka_get_watermark_offsets(w->consumer, p->topic, p->partition,
                                           &lo, &hi) == 0 &&
            hi > p->offset)
            lag += (double)(hi - p->offset);
    }
    metric_set(w->m_lag, lag);
    rd_kafka_topic_partition_list_destroy(parts);
}

/* ------------------------------------------------------------ set-up */

static int setup_clients(worker_t *w, char *errstr, size_t n)
{
    const char *const cdefaults[] = {
        "group.id", chp_conf_get_str(w->conf, "worker.group.id"),
        "enable.auto.commit", "false",
        "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest",
        "isolation.level", "read_committed",
        "topic.metadata.refresh.interval.ms", "10000",
        /* Keep fetching while the queue drains: with the default (100000)
         * the fetcher stalls until its next wake-up once the worker falls
         * behind, and throughput drops by half.  Memory stays bounded by
         * queued.max.messages.kbytes. */
        "queued.min.messages", "1000000",
        NULL};
    char hostname[CHP_NAME_MAX], txid[2 * CHP_NAME_MAX + 2];
    const char *instance = chp_conf_get_str(w->conf, "worker.instance");
    rd_kafka_conf_t *kc;

    if (!instance || !*instance) {
        if (gethostname(hostname, sizeof(hostname) - 1) != 0)
            snprintf(hostname, sizeof(hostname), "worker");
        instance = hostname;
    }
    snprintf(txid, sizeof(txid), "%s-%s",
             chp_conf_get_str(w->conf, "worker.transactional.id.prefix"),
             instance);
    const char *const pdefaults[] = {"transactional.id", txid,
                                     "transaction.timeout.ms", "60000",
                                     "linger.ms", "5", NULL};

    if (!(kc = chp_kafka_conf_new(w->conf, cdefaults, errstr, n)))
        return -1;
    rd_kafka_conf_set_rebalance_cb(kc, rebalance_cb);
    rd_kafka_conf_set_opaque(kc, w);
    if (!(w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, n))) {
        rd_kafka_conf_destroy(kc);
        return -1;
    }
    rd_kafka_poll_set_consumer(w->consumer);

    /* The consumer-only defaults must not reach the producer. */
    if (!(kc = chp_kafka_conf_new(w->conf, pdefaults, errstr, n)))
        return -1;
    if (!(w->producer = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, n))) {
        rd_kafka_conf_destroy(kc);
        return -1;
    }
    chp_info("worker: initialising transactions as %s", txid);
    rd_kafka_error_t *error = rd_kafka_init_transactions(w->producer, 60000);
    if (error) {
        snprintf(errstr, n, "init_transactions (%.200s): %.250s", txid,
                 rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        return -1;
    }
    return 0;
}

static void setup_metrics(worker_t *w)
{
    metrics_t *m = w->metrics = metrics_new();

    w->m_audited = metrics_add(m, "chaperone_worker_messages_audited_total",
                               "Messages counted and committed or pending.",
                               METRIC_COUNTER, NULL);
    w->m_noTime = metrics_add(m, "chaperone_worker_messages_no_time_total",
                              "Messages without a usable timestamp.",
                              METRIC_COUNTER, NULL);
    w->m_malformed = metrics_add(m, "chaperone_worker_messages_malformed_total",
                                 "Messages whose payload could not be parsed.",
                                 METRIC_COUNTER, NULL);
    w->m_emissions = metrics_add(m, "chaperone_worker_emissions_total",
                                 "Committed emission transactions.",
                                 METRIC_COUNTER, NULL);
    w->m_audit_msgs = metrics_add(m, "chaperone_worker_audit_messages_total",
                                  "Audit messages produced.", METRIC_COUNTER,
                                  NULL);
    w->m_aborts = metrics_add(m, "chaperone_worker_transaction_aborts_total",
                              "Emission transactions aborted (and rewound).",
                              METRIC_COUNTER, NULL);
    w->m_lag = metrics_add(m, "chaperone_worker_consumer_lag_messages",
                           "Messages stored but not yet consumed, over the "
                           "assigned partitions.",
                           METRIC_GAUGE, NULL);
    w->m_emit_ms = metrics_add(m, "chaperone_worker_emission_latency_ms",
                               "Duration of the last emission transaction.",
                               METRIC_GAUGE, NULL);
    w->m_topics = metrics_add(m, "chaperone_worker_topics",
                              "Topics being audited.", METRIC_GAUGE, NULL);
}

static void worker_free(worker_t *w)
{
    http_server_stop(w->http);
    /* Closing the consumer revokes its partitions, which emits through the
     * tracker and the producer: both must outlive it. */
    if (w->consumer) {
        rd_kafka_consumer_close(w->consumer);
        rd_kafka_destroy(w->consumer);
    }
    chp_tracker_destroy(w->tracker);
    if (w->producer)
        rd_kafka_destroy(w->producer);
    topic_filter_destroy(w->filter);
    registry_destroy(w->registry);
    topic_set_clear(&w->subscribed);
    metrics_destroy(w->metrics);
    free(w->audit_topic);
    free(w->registry_topic);
}

static void count_message(worker_t *w, rd_kafka_message_t *m)
{
    chp_msg_view_t v;
    chp_ts_result_t r;

    chp_kafka_msg_view(m, &v);
    r = chp_tracker_track_msg(w->tracker, rd_kafka_topic_name(m->rkt), &v,
                              (uint64_t)m->key_len + m->len);
    w->uncommitted++;
    w->n_audited++;
    if (r == CHP_TS_MISSING)
        w->n_no_time++;
    else if (r == CHP_TS_MALFORMED)
        w->n_malformed++;
}

static void publish_counts(worker_t *w)
{
    metric_set(w->m_audited, (double)w->n_audited);
    metric_set(w->m_noTime, (double)w->n_no_time);
    metric_set(w->m_malformed, (double)w->n_malformed);
}

int cmd_worker(chp_conf_t *conf, int argc, char **argv)
{
    worker_t w = {.conf = conf};
    char err[512], tier[CHP_NAME_MAX];
    int rc = 1;

    if (argc > 1) {
        fprintf(stderr,
                "usage: chaperone worker [-c FILE] [-X key=value ...]\n%s",
                strcmp(argv[1], "-h") && strcmp(argv[1], "--help")
                    ? "" : "Keys: docs/configuration.md (worker, common)\n");
        return strcmp(argv[1], "-h") && strcmp(argv[1], "--help") ? 2 : 0;
    }
    daemon_signals_install();
    setup_metrics(&w);
    w.audit_topic = strdup(chp_conf_get_str(conf, "audit.topic"));
    w.registry_topic = strdup(chp_conf_get_str(conf, "worker.registry"));
    w.use_registry = chp_conf_get_bool(conf, "worker.use.registry");
    w.refresh_ms = chp_conf_get_int(conf, "worker.topics.refresh.ms");
    w.registry = registry_new();
    if (!(w.filter = topic_filter_new(conf, err, sizeof(err))))
        goto fail;
    snprintf(tier, sizeof(tier), "kafka-%s",
             chp_conf_get_str(conf, "cluster.name"));
    if (chp_tracker_new(conf, tier, CHP_TRACKER_F_SINGLE, emit_to_txn, &w,
                        &w.tracker, err,
                        sizeof(err)) != CHP_OK)
        goto fail;
    if (setup_clients(&w, err, sizeof(err)) != 0)
        goto fail;
    if (!(w.http = http_server_start_conf(conf, "worker", 9001, 4096, NULL,
                                          NULL, w.metrics, err, sizeof(err))))
        goto fail;

    int64_t next_publish = 0;
    while (!daemon_stopping() && !w.fatal) {
        int64_t now = chp_now_ms_coarse();
        rd_kafka_message_t *m;

        if (now >= w.next_refresh) {
            refresh_topics(&w);
            w.next_refresh = now + w.refresh_ms;
        }
        if (now >= next_publish) {
            publish_counts(&w);
            next_publish = now + 10;
        }
        if ((m = rd_kafka_consumer_poll(w.consumer, 100))) {
            if (!m->err)
                count_message(&w, m);
            else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                chp_warn("worker: consumer: %s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
        }
        if (chp_tracker_due(w.tracker, now)) {
            emit_and_commit(&w);
            update_lag(&w);
        }
    }
    publish_counts(&w);
    /* SIGTERM/SIGINT: finish the emission, commit, exit 0. */
    if (!w.fatal && emit_and_commit(&w) == 0)
        rc = 0;
    if (w.fatal)
        chp_err("worker: fatal error, exiting");
    else
        chp_info("worker: stopped");
    worker_free(&w);
    return rc;

fail:
    fprintf(stderr, "chaperone worker: %s\n", err);
    worker_free(&w);
    return 2;
}
