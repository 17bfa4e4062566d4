/*
 * worker.c - `chaperone worker`: audits every message stored in a Kafka
 * cluster, exactly once (design.md §6).
 *
 * One consumer in group worker.group.id, one transactional producer.  Each
 * emission is one Kafka transaction holding the audit messages of
 * everything counted since the previous emission and the consumer offsets
 * of exactly those messages (txn.c):
 *
 *   begin_transaction
 *   tracker flush  -> produce audit messages (inside the transaction)
 *   send_offsets_to_transaction(next offset of every partition counted)
 *   commit_transaction
 *
 * The tracker is only ever touched from this thread, so "counted" and
 * "consumed" are the same set of messages at the moment of the flush.  If
 * the transaction aborts, every partition is rewound to the first offset
 * counted since the last commit (rebalance.c): the counts that went into
 * the aborted transaction are counted again, once.  While the producer
 * cannot commit, consumption is paused.  A crashed worker's open
 * transaction is aborted by its successor: both use the transactional.id
 * <worker.transactional.id.prefix>-<worker.instance>.
 *
 * Shutdown is bounded by daemon.shutdown.timeout.ms (daemon.h): the last
 * emission, the consumer's close and the destruction of both clients use
 * what is left of it, and the watchdog ends the process if anything still
 * blocks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "bucket.h"
#include "commands.h"
#include "consumer_lag.h"
#include "http.h"
#include "kafkaconf.h"
#include "kafkawatch.h"
#include "log.h"
#include "tracker.h"
#include "worker/worker.h"
#include "conf_daemon_keys.h"

/* A refresh blocks the loop: short, so SIGTERM is noticed soon while the
 * cluster does not answer (the next refresh tries again). */
#define REFRESH_TIMEOUT_MS 3000

bool worker_stopping(const worker_t *w)
{
    return daemon_stopping() || (w->stop && *w->stop);
}

/* ------------------------------------------------------------ topics */

static void refresh_topics(worker_t *w)
{
    topic_set_t now;
    char err[256];

    if (w->use_registry) {
        chp_err_t rc = registry_load(w->conf, w->registry_topic, w->registry,
                                     daemon_timeout_ms(REFRESH_TIMEOUT_MS), err,
                                     sizeof(err));
        if (rc != CHP_OK && rc != CHP_ERR_NOT_FOUND)
            chp_log_warn("worker: registry %s: %s (keeping the last set)",
                         w->registry_topic, err);
    }
    if (topic_set_from_metadata(
            w->consumer, w->filter, w->use_registry ? w->registry : NULL, &now,
            daemon_timeout_ms(REFRESH_TIMEOUT_MS)) != CHP_OK)
        return;
    /* Kafka answers and nothing waits for a commit: an outage that ended
     * while the worker was idle no longer shows on /health. */
    if (w->txn_ready && w->uncommitted == 0)
        health_ok(w->health);
    if (topic_set_equal(&now, &w->subscribed)) {
        topic_set_clear(&now);
        return;
    }
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new((int)now.n);
    for (size_t i = 0; i < now.n; i++)
        rd_kafka_topic_partition_list_add(sub, now.names[i],
                                          RD_KAFKA_PARTITION_UA);
    chp_log_info("worker: auditing %zu topic(s)", now.n);
    if (now.n == 0) {
        wtxn_emit_commit(w);
        rd_kafka_unsubscribe(w->consumer);
    } else {
        rd_kafka_resp_err_t e = rd_kafka_subscribe(w->consumer, sub);
        if (e)
            chp_log_error("worker: subscribe: %s", rd_kafka_err2str(e));
    }
    rd_kafka_topic_partition_list_destroy(sub);
    topic_set_clear(&w->subscribed);
    w->subscribed = now;
    metric_set(w->m_topics, (double)now.n);
}

static void update_lag(worker_t *w)
{
    double lag;

    if (chp_consumer_lag(w->consumer, &lag, NULL) == CHP_OK)
        metric_set(w->m_lag, lag);
}

/* ------------------------------------------------------------ set-up */

static int setup_consumer(worker_t *w, char *errstr, size_t n)
{
    const char *const defaults[] = {
        "group.id", chp_conf_get_str(w->conf, CHP_KEY_WORKER_GROUP_ID),
        "enable.auto.commit", "false", "enable.auto.offset.store", "false",
        "auto.offset.reset", "earliest", "isolation.level", "read_committed",
        "topic.metadata.refresh.interval.ms", "10000",
        /* Keep fetching while the queue drains: with the default (100000)
         * the fetcher stalls until its next wake-up once the worker falls
         * behind, and throughput drops by half.  Memory stays bounded by
         * queued.max.messages.kbytes. */
        "queued.min.messages", "1000000", NULL};
    rd_kafka_conf_t *kc;

    if (!(kc = chp_kafka_conf_new(w->conf, defaults, errstr, n)))
        return -1;
    rd_kafka_conf_set_rebalance_cb(kc, wreb_rebalance_cb);
    rd_kafka_conf_set_opaque(kc, w);
    kafkawatch_attach(kc, "worker", w->health);
    if (!(w->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, n))) {
        rd_kafka_conf_destroy(kc);
        return -1;
    }
    rd_kafka_poll_set_consumer(w->consumer);
    w->cq = rd_kafka_queue_get_consumer(w->consumer);
    return 0;
}

static void set_txid(worker_t *w)
{
    char hostname[CHP_NAME_MAX];
    const char *instance = chp_conf_get_str(w->conf, CHP_KEY_WORKER_INSTANCE);

    if (!instance || !*instance) {
        if (gethostname(hostname, sizeof(hostname) - 1) != 0)
            snprintf(hostname, sizeof(hostname), "worker");
        instance = hostname;
    }
    snprintf(w->txid, sizeof(w->txid), "%s-%s",
             chp_conf_get_str(w->conf, CHP_KEY_WORKER_TRANSACTIONAL_ID_PREFIX),
             instance);
}

static void setup_metrics(worker_t *w)
{
    metrics_t *m = w->metrics = metrics_new();
    static const char *const classes[TXN_NCLASSES] = {
        "class=\"retriable\"", "class=\"abortable\"", "class=\"fatal\""};

    w->m_audited = metrics_add(m, "chaperone_worker_messages_audited_total",
                               "Messages counted and committed or pending.",
                               METRIC_COUNTER, NULL);
    w->m_noTime = metrics_add(m, "chaperone_worker_messages_no_time_total",
                              "Messages without a usable timestamp.",
                              METRIC_COUNTER, NULL);
    w->m_malformed = metrics_add(m, "chaperone_worker_messages_malformed_total",
                                 "Messages whose payload could not be parsed.",
                                 METRIC_COUNTER, NULL);
    w->m_emissions =
        metrics_add(m, "chaperone_worker_emissions_total",
                    "Committed emission transactions.", METRIC_COUNTER, NULL);
    w->m_audit_msgs =
        metrics_add(m, "chaperone_worker_audit_messages_total",
                    "Audit messages produced.", METRIC_COUNTER, NULL);
    w->m_aborts = metrics_add(m, "chaperone_worker_transaction_aborts_total",
                              "Emission transactions aborted (and rewound).",
                              METRIC_COUNTER, NULL);
    for (int c = 0; c < TXN_NCLASSES; c++)
        w->m_txn_err[c] = metrics_add(
            m, "chaperone_worker_txn_errors_total",
            "Transactional errors by class: retriable (the call is "
            "repeated), abortable (abort and rewind), fatal (new producer).",
            METRIC_COUNTER, classes[c]);
    w->m_recreated = metrics_add(m, "chaperone_worker_producer_recreated_total",
                                 "Transactional producers recreated after a "
                                 "fatal error.",
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
    w->health = health_new(m, "daemon=\"worker\"");
}

/* Leaves the group within what is left of the shutdown bound: a consumer
 * whose brokers are gone would otherwise block in close (or in destroy,
 * which closes) for minutes.  Offsets not committed are replayed. */
static void close_consumer(worker_t *w)
{
    rd_kafka_queue_t *q;
    rd_kafka_error_t *error;
    bool closed = false;

    if (w->cq)
        rd_kafka_queue_destroy(w->cq);
    w->cq = NULL;
    q = rd_kafka_queue_new(w->consumer);
    error = rd_kafka_consumer_close_queue(w->consumer, q);

    if (error) {
        chp_log_warn("worker: consumer close: %s",
                     rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else {
        int64_t deadline = chp_now_ms() + daemon_shutdown_left_ms();
        while (!(closed = rd_kafka_consumer_closed(w->consumer)) &&
               daemon_timeout_ms(100) > 0 && chp_now_ms() < deadline)
            rd_kafka_queue_poll_callback(q, 100);
    }
    rd_kafka_queue_destroy(q);
    if (closed) {
        rd_kafka_destroy(w->consumer);
    } else {
        chp_log_warn("worker: the consumer did not close in time; leaving the "
                     "group to the session timeout");
        rd_kafka_destroy_flags(w->consumer,
                               RD_KAFKA_DESTROY_F_NO_CONSUMER_CLOSE);
    }
    w->consumer = NULL;
}

static void worker_free(worker_t *w)
{
    http_server_stop(w->http);
    /* Closing the consumer revokes its partitions, which emits through the
     * tracker and the producer: both must outlive it. */
    if (w->consumer)
        close_consumer(w);
    chp_tracker_destroy(w->tracker);
    wtxn_producer_destroy(w);
    topic_filter_destroy(w->filter);
    registry_destroy(w->registry);
    topic_set_clear(&w->subscribed);
    health_destroy(w->health);
    metrics_destroy(w->metrics);
    for (size_t i = 0; i < w->npending; i++)
        rd_kafka_topic_partition_list_destroy(w->pending[i].parts);
    free(w->pending);
    free(w->parts);
    free(w->audit_topic);
    free(w->registry_topic);
}

/* Messages read from the consumer's queue per call: enough that the call's
 * own cost (a lock, the clock, the poll bookkeeping) vanishes per message,
 * few enough that their memory stays small next to the fetch queue. */
#define BATCH_MAX 512

static void count_message(worker_t *w, rd_kafka_message_t *m, int64_t now)
{
    chp_msg_view_t v;
    chp_ts_result_t r;

    if (w->paused) {
        /* Fetched before the pause: noted so the rewind covers it. */
        wreb_note(w, m, false);
        return;
    }
    chp_kafka_msg_view(m, &v);
    /* Within a batch, the same topic handle is the same topic: the
     * tracker's entry is looked up by name once per topic and batch. */
    if (m->rkt != w->tt_rkt || w->tt_gen != w->batch_gen) {
        w->tt = chp_tracker_topic(w->tracker, rd_kafka_topic_name(m->rkt));
        w->tt_rkt = m->rkt;
        w->tt_gen = w->batch_gen;
    }
    if (w->tt)
        r = chp_tracker_track_msg_topic(w->tracker, w->tt, &v,
                                        (uint64_t)m->key_len + m->len, now);
    else /* out of memory: the lookup by name tries again */
        r = chp_tracker_track_msg_at(w->tracker, rd_kafka_topic_name(m->rkt),
                                     &v, (uint64_t)m->key_len + m->len, now);
    wreb_note(w, m, true);
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

/* Reads what the queue holds (up to BATCH_MAX) without waiting; when it
 * holds nothing, waits up to 100 ms for one message.  Rebalances that come
 * in the middle wait until the batch is counted (wreb_rebalance_cb). */
static void consume_batch(worker_t *w, rd_kafka_message_t **msgs)
{
    ssize_t n;
    int64_t now;

    w->in_batch = true;
    n = rd_kafka_consume_batch_queue(w->cq, 0, msgs, BATCH_MAX);
    if (n == 0)
        n = rd_kafka_consume_batch_queue(w->cq, 100, msgs, 1);
    w->in_batch = false;
    /* One clock reading for the batch: it was in the queue by then. */
    now = chp_now_ms_coarse();
    w->batch_gen++;
    for (ssize_t i = 0; i < n; i++) {
        rd_kafka_message_t *m = msgs[i];
        /* librdkafka filled these long ago (queued.min.messages ahead):
         * ask for the message a few ahead, and its payload, which the
         * timestamp scan reads first, while this one is counted. */
        if (i + 4 < n)
            __builtin_prefetch(msgs[i + 4]);
        if (i + 2 < n)
            __builtin_prefetch(msgs[i + 2]->payload);
        if (!m->err)
            count_message(w, m, now);
        else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            chp_log_warn("worker: consumer: %s", rd_kafka_message_errstr(m));
    }
    /* Only now: wreb_note compares topic handles within the batch. */
    for (ssize_t i = 0; i < n; i++)
        rd_kafka_message_destroy(msgs[i]);
    if (n < 0)
        chp_log_warn("worker: consumer: %s",
                     rd_kafka_err2str(rd_kafka_last_error()));
    wreb_run_pending(w);
}

static void run_loop(worker_t *w)
{
    int64_t next_publish = 0;
    rd_kafka_message_t *msgs[BATCH_MAX];

    while (!worker_stopping(w)) {
        int64_t now = chp_now_ms_coarse();

        if (!w->txn_ready)
            wtxn_recover(w);
        /* Subscribing waits for the transactions: counting what cannot be
         * committed only means counting it again. */
        if (w->txn_ready && now >= w->next_refresh) {
            refresh_topics(w);
            w->next_refresh = now + w->refresh_ms;
        }
        if (now >= next_publish) {
            publish_counts(w);
            next_publish = now + 10;
        }
        consume_batch(w, msgs);
        if (w->txn_ready && chp_tracker_due(w->tracker, now)) {
            wtxn_emit_commit(w);
            update_lag(w);
        }
    }
    publish_counts(w);
}

int worker_run(const chp_conf_t *conf, const worker_hooks_t *hooks,
               volatile int *stop, char *err, size_t errsz)
{
    worker_t w = {.conf = conf, .hooks = hooks, .stop = stop, .paused = true};
    char tier[CHP_NAME_MAX];
    int rc = 1;

    setup_metrics(&w);
    w.audit_topic = strdup(chp_conf_get_str(conf, CHP_KEY_AUDIT_TOPIC));
    w.registry_topic = strdup(chp_conf_get_str(conf, CHP_KEY_WORKER_REGISTRY));
    w.use_registry = chp_conf_get_bool(conf, CHP_KEY_WORKER_USE_REGISTRY);
    w.refresh_ms = chp_conf_get_int(conf, CHP_KEY_WORKER_TOPICS_REFRESH_MS);
    w.registry = registry_new();
    set_txid(&w);
    if (!(w.filter = topic_filter_new(conf, err, errsz)))
        goto fail;
    snprintf(tier, sizeof(tier), "kafka-%s",
             chp_conf_get_str(conf, CHP_KEY_CLUSTER_NAME));
    if (chp_tracker_new(conf, tier, CHP_TRACKER_F_SINGLE, wtxn_emit_cb, &w,
                        &w.tracker, err, errsz) != CHP_OK)
        goto fail;
    if (setup_consumer(&w, err, errsz) != 0 ||
        wtxn_producer_new(&w, err, errsz) != CHP_OK)
        goto fail;
    if (!(w.http = http_server_start_conf(conf, "worker", 9001, 4096, NULL,
                                          NULL, w.metrics, err, errsz)))
        goto fail;
    http_server_set_health(w.http, w.health);
    chp_log_info("worker: initialising transactions as %s", w.txid);

    run_loop(&w);
    /* SIGTERM/SIGINT: finish the emission and commit, within the bound. */
    if (w.txn_ready && wtxn_emit_commit(&w) == CHP_OK)
        rc = 0;
    else if (!w.txn_ready && w.uncommitted == 0 && !w.uncertain)
        rc = 0; /* never got going: nothing counted, nothing to lose */
    else
        chp_log_warn("worker: stopping without the last commit; the next start "
                     "recounts from the committed offsets");
    chp_log_info("worker: stopped");
    worker_free(&w);
    return rc;

fail:
    worker_free(&w);
    return 2;
}

int cmd_worker(chp_conf_t *conf, int argc, char **argv)
{
    char err[512];
    int rc;

    if (argc > 1)
        return daemon_usage("worker", argv[1],
                            "Keys: docs/configuration.md (worker, common)");
    daemon_signals_install();
    daemon_shutdown_bound(
        "worker", chp_conf_get_int(conf, CHP_KEY_DAEMON_SHUTDOWN_TIMEOUT_MS));
    rc = worker_run(conf, NULL, NULL, err, sizeof(err));
    if (rc == 2)
        fprintf(stderr, "chaperone worker: %s\n", err);
    return rc;
}
