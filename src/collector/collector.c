/*
 * collector.c - `chaperone collector` (design.md §8): consumes the audit topic,
 * de-duplicates by uuid, aggregates per (bucket, topic, tier, datacenter,
 * host) and stores the result exactly once:
 *
 *   poll audit records -> batch (decode, drop in-batch duplicates,
 *   aggregate) -> every collector.flush.interval.ms or
 *   collector.flush.max.messages: drop uuids already stored, then ONE
 *   database transaction with the rows, the uuids and the next offset of
 *   every partition the batch came from.
 *
 * Positions come from that transaction only: on every assignment each
 * partition starts at its stored next offset, so after a crash anything
 * stored is never read again and anything not stored is read again.  The
 * group's Kafka offsets are committed after each flush for lag tools but
 * never read.  A failing database pauses consumption and is retried with
 * back-off (flush.c); the collector never exits for it.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "collector/collector.h"
#include "commands.h"
#include "http.h"
#include "log.h"
#include "report/api.h"
#include "conf_daemon_keys.h"

#define DEFAULT_HTTP_PORT  9002
#define LAG_EVERY_MS       5000
#define RETENTION_RETRY_MS (5 * 60 * 1000)

static void setup_metrics(collector_t *c)
{
    metrics_t *m = c->metrics = metrics_new();
    coll_metrics_t *x = &c->m;

#define ADD(field, name, help, type, labels)                                   \
    x->field = metrics_add(m, "chaperone_collector_" name, help, type, labels)
    ADD(consumed, "records_consumed_total",
        "Audit-topic records consumed (stored or not yet).", METRIC_COUNTER,
        NULL);
    ADD(undecodable, "records_undecodable_total",
        "Records that are not audit messages (skipped, offset advanced).",
        METRIC_COUNTER, NULL);
    ADD(dup_batch, "messages_duplicate_total",
        "Audit messages dropped because their uuid was already counted.",
        METRIC_COUNTER, "found=\"batch\"");
    ADD(dup_store, "messages_duplicate_total",
        "Audit messages dropped because their uuid was already counted.",
        METRIC_COUNTER, "found=\"store\"");
    ADD(stored, "messages_stored_total",
        "Audit messages committed to the database.", METRIC_COUNTER, NULL);
    ADD(rows, "rows_flushed_total",
        "Aggregated rows written (upserted) by committed flushes.",
        METRIC_COUNTER, NULL);
    ADD(flushes, "flushes_total", "Committed database flushes.", METRIC_COUNTER,
        NULL);
    ADD(flush_failures, "flush_failures_total",
        "Database flushes that failed (and were kept for retry).",
        METRIC_COUNTER, NULL);
    ADD(retrying, "retrying",
        "1 while a failed flush is being retried and consumption is paused.",
        METRIC_GAUGE, NULL);
    ADD(backoff_ms, "retry_backoff_ms",
        "Current wait between flush retries (0 when not retrying).",
        METRIC_GAUGE, NULL);
    ADD(flush_ms, "flush_latency_ms", "Duration of the last committed flush.",
        METRIC_GAUGE, NULL);
    ADD(flush_ms_total, "flush_latency_ms_total",
        "Summed duration of committed flushes (÷ flushes_total = mean).",
        METRIC_COUNTER, NULL);
    ADD(pending, "pending_records", "Records consumed and not yet stored.",
        METRIC_GAUGE, NULL);
    ADD(lag, "consumer_lag_messages",
        "Audit records in the assigned partitions not consumed yet.",
        METRIC_GAUGE, NULL);
    ADD(partitions, "assigned_partitions",
        "Audit-topic partitions assigned to this collector.", METRIC_GAUGE,
        NULL);
    ADD(retention_runs, "retention_runs_total",
        "Retention passes (old rows and uuids deleted).", METRIC_COUNTER, NULL);
    ADD(retention_failures, "retention_failures_total",
        "Retention passes that failed.", METRIC_COUNTER, NULL);
    ADD(redis_mark_failures, "redis_mark_failures_total",
        "Flushes whose uuids could not be marked in Redis afterwards.",
        METRIC_COUNTER, NULL);
    ADD(stale_batches, "stale_batches_total",
        "Batches dropped because the stored offsets had moved on (a replay "
        "after an uncertain COMMIT, or partitions another collector owns).",
        METRIC_COUNTER, NULL);
#undef ADD
    c->health = health_new(m, NULL);
}

/* Opens the database, waiting (with back-off) while a server is
 * unreachable: a collector started before its database should wait for
 * it.  -1 on a configuration error, an SQLite file that cannot be opened,
 * or when asked to stop while waiting. */
static int open_store(collector_t *c, char *errstr, size_t errstr_size)
{
    const char *url = chp_conf_get_str(c->conf, CHP_KEY_DB_URL);
    int64_t backoff = COLL_BACKOFF_MIN_MS;
    store_kind_t kind;
    chp_err_t err;

    if (store_kind_for_url(url, &kind, errstr, errstr_size))
        return -1;
    while ((err = store_open(url, &c->store, errstr, errstr_size)) != CHP_OK) {
        /* A file that cannot be opened is a mistake, not an outage. */
        if ((err != CHP_ERR_DB && err != CHP_ERR_IO) || kind == STORE_SQLITE)
            return -1;
        health_fail(c->health, "database: %s", coll_one_line(errstr));
        chp_log_warn("collector: database not available (retrying in %lld ms): "
                     "%s",
                     (long long)backoff, coll_one_line(errstr));
        coll_sleep_ms(backoff, true);
        if (daemon_stopping())
            return -1;
        backoff = backoff * 2 > c->retry_max_ms ? c->retry_max_ms : backoff * 2;
    }
    return 0;
}

static void collector_free(collector_t *c)
{
    http_server_stop(c->http);
    api_destroy(c->api);
    coll_consumer_close(c);
    coll_batch_destroy(c->batch);
    coll_dedup_close(c);
    store_close(c->store);
    health_destroy(c->health);
    metrics_destroy(c->metrics);
    free(c->audit_topic);
    free(c->stored);
}

/* ------------------------------------------------------------ shutdown */

static int64_t watchdog_ms;
static int watchdog_code;

/* The shutdown's bound: librdkafka's close and destroy wait for brokers
 * that may never answer (minutes, not seconds).  What matters is stored
 * by then (final_flush), and whatever is not is read again from the
 * stored offsets, so exiting here loses and doubles nothing. */
static void *watchdog(void *arg)
{
    struct timespec ts = {(time_t)(watchdog_ms / 1000),
                          (long)(watchdog_ms % 1000) * 1000000L};

    (void)arg;
    while (nanosleep(&ts, &ts) != 0)
        ;
    chp_log_warn("collector: shutdown did not finish within "
                 "daemon.shutdown.timeout.ms=%lld (Kafka or the database "
                 "unreachable); exiting now, the next start resumes from the "
                 "stored offsets",
                 (long long)watchdog_ms);
    _exit(watchdog_code);
    return NULL;
}

static void watchdog_start(int64_t timeout_ms, int code)
{
    pthread_t t;

    watchdog_ms = timeout_ms;
    watchdog_code = code;
    if (pthread_create(&t, NULL, watchdog, NULL) == 0)
        pthread_detach(t);
    else
        chp_log_warn("collector: cannot start the shutdown watchdog; the "
                     "shutdown is not bounded");
}

/* SIGTERM/SIGINT: store what was consumed, retrying for a bounded time.
 * Whatever cannot be stored in time is simply not stored: its offsets are
 * not either, so the next start reads it again. */
static void final_flush(collector_t *c)
{
    /* Half the bound at most: closing the consumer needs time too. */
    int64_t budget = c->shutdown_timeout_ms / 2 < COLL_SHUTDOWN_FLUSH_MS
                         ? c->shutdown_timeout_ms / 2
                         : COLL_SHUTDOWN_FLUSH_MS;
    int64_t deadline = chp_now_ms() + budget;

    while (coll_batch_records(c->batch) > 0 && coll_flush(c) != CHP_OK &&
           chp_now_ms() < deadline) {
        int64_t wait = c->next_retry_ms - chp_now_ms();
        if (wait > deadline - chp_now_ms())
            wait = deadline - chp_now_ms();
        if (wait > 0)
            coll_sleep_ms(wait, false);
    }
    if (coll_batch_records(c->batch) > 0) {
        chp_log_warn(
            "collector: %zu record(s) not stored at shutdown; they are "
            "read again from the stored offsets at the next start",
            coll_batch_records(c->batch));
        coll_batch_reset(c->batch);
    }
    c->stopping = true;
}

static void run(collector_t *c)
{
    while (!daemon_stopping() && !c->fatal) {
        int64_t now = chp_now_ms();
        int timeout = 100;
        rd_kafka_message_t *m;

        if (c->retrying) {
            if (now >= c->next_retry_ms)
                coll_flush(c);
        } else if (coll_flush_due(c, now)) {
            coll_flush(c);
        }
        if (!c->retrying && now >= c->next_retention_ms)
            c->next_retention_ms =
                now + (coll_retention(c) == CHP_OK ? COLL_RETENTION_EVERY_MS
                                                   : RETENTION_RETRY_MS);
        if (now >= c->next_lag_ms) {
            coll_update_lag(c);
            coll_kafka_probe(c);
            c->next_lag_ms = now + LAG_EVERY_MS;
        }
        /* Wake up for the next deadline; a paused consumer still has to
         * be polled for rebalances. */
        if (c->retrying && c->next_retry_ms - now < timeout)
            timeout =
                (int)(c->next_retry_ms > now ? c->next_retry_ms - now : 0);
        if ((m = rd_kafka_consumer_poll(c->consumer, timeout))) {
            /* Records flow: Kafka is back (the database may not be). */
            if (!m->err && c->kafka_down && !c->retrying)
                health_ok(c->health);
            coll_consume(c, m);
            rd_kafka_message_destroy(m);
        }
    }
}

int cmd_collector(chp_conf_t *conf, int argc, char **argv)
{
    collector_t c = {.conf = conf};
    char err[1024];

    if (argc > 1)
        return daemon_usage("collector", argv[1],
                            "Keys: docs/configuration.md (collector, common); "
                            "operations: docs/collector.md");
    daemon_signals_install();
    setup_metrics(&c);
    c.audit_topic = strdup(chp_conf_get_str(conf, CHP_KEY_AUDIT_TOPIC));
    c.combine_hosts = chp_conf_get_bool(conf, CHP_KEY_COMBINE_HOSTS);
    c.flush_interval_ms =
        chp_conf_get_int(conf, CHP_KEY_COLLECTOR_FLUSH_INTERVAL_MS);
    c.flush_max = chp_conf_get_int(conf, CHP_KEY_COLLECTOR_FLUSH_MAX_MESSAGES);
    c.retry_max_ms = chp_conf_get_int(conf, CHP_KEY_COLLECTOR_RETRY_MAX_MS);
    c.shutdown_timeout_ms =
        chp_conf_get_int(conf, CHP_KEY_DAEMON_SHUTDOWN_TIMEOUT_MS);
    if (!c.audit_topic || !(c.batch = coll_batch_new(c.combine_hosts))) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    /* The query API and dashboard (src/report/api.c) share the port with
     * /metrics; they read through their own database connection. */
    if (!(c.api = api_new(conf, err, sizeof(err))))
        goto fail;
    api_set_metrics(c.api, c.metrics); /* + completeness per topic */
    if (!(c.http = http_server_start_conf(conf, "collector", DEFAULT_HTTP_PORT,
                                          4096, api_handle, c.api, c.metrics,
                                          err, sizeof(err))))
        goto fail;
    http_server_set_health(c.http, c.health);
    if (open_store(&c, err, sizeof(err)) != 0) {
        if (daemon_stopping()) { /* asked to stop while waiting: fine */
            collector_free(&c);
            return 0;
        }
        goto fail;
    }
    if (coll_dedup_open(&c, err, sizeof(err)) != CHP_OK ||
        coll_consumer_new(&c, err, sizeof(err)) != CHP_OK)
        goto fail;
    if (coll_consumer_cluster(&c) != CHP_OK) {
        watchdog_start(c.shutdown_timeout_ms, 3);
        collector_free(&c);
        return 0;
    }
    chp_log_info("collector: storing %s of cluster %s into %s (%s, dedup=%s)",
                 c.audit_topic, c.cluster, store_scheme(c.store),
                 chp_conf_get_str(conf, CHP_KEY_COLLECTOR_GROUP_ID),
                 chp_conf_get_str(conf, CHP_KEY_DEDUP));

    run(&c);
    /* From here on the process exits within the bound, whatever is
     * unreachable. */
    watchdog_start(c.shutdown_timeout_ms, c.fatal ? 1 : 3);
    if (!c.fatal)
        final_flush(&c);
    collector_free(&c);
    if (c.fatal) {
        chp_log_error("collector: fatal error, exiting");
        return 1;
    }
    chp_log_info("collector: stopped");
    return 0;

fail:
    fprintf(stderr, "chaperone collector: %s\n", err);
    collector_free(&c);
    return 2;
}
