/* controller.c - `chaperone controller` (design.md §7): loads the registry
 * topic (creating it if missing), serves the REST API and, when
 * controller.auto.detect is on, runs auto-detection every
 * controller.detect.interval.s.  SIGTERM/SIGINT: stop serving, exit 0,
 * within daemon.shutdown.timeout.ms.  While Kafka cannot be reached the
 * registry load is retried with back-off, /health answers 503 with the
 * cause and the REST API 503.
 *
 * The controller holds no state of its own: the registry topic is the
 * truth, so a restarted controller recovers the audited set and the
 * blacklist, and workers keep auditing while it is down. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "controller/controller.h"
#include "controller/kafka.h"
#include "daemon.h"
#include "http.h"
#include "health.h"
#include "log.h"
#include "conf_daemon_keys.h"

static void count_topic(const char *topic, void *opaque)
{
    (void)topic;
    (*(size_t *)opaque)++;
}

/*
 * Creates the registry topic if needed and reads it whole.  Retries with
 * back-off until it works or a stop is requested: serving with an empty
 * set because Kafka was slow would let auto-detection re-audit blacklisted
 * topics, and exiting would only make an orchestrator restart us into the
 * same wait.  The cause is logged and shown on /health meanwhile.
 */
static registry_t *load_registry(const chp_conf_t *conf, ctl_kafka_t *k,
                                 health_t *health, char *errstr,
                                 size_t errstr_size)
{
    registry_t *reg = registry_new();
    bool created = false;
    int backoff = 500;

    if (!reg) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    while (!daemon_stopping()) {
        chp_err_t rc = CHP_OK;

        if (!created) {
            rc = ctl_kafka_ensure_registry(k, CTL_KAFKA_TIMEOUT_MS, errstr,
                                           errstr_size);
            created = rc == CHP_OK;
        }
        if (rc == CHP_OK) {
            rc = registry_load(conf, k->registry_topic, reg,
                               CTL_KAFKA_TIMEOUT_MS, errstr, errstr_size);
            if (rc == CHP_OK) {
                health_ok(health);
                return reg;
            }
            if (rc == CHP_ERR_NOT_FOUND) /* created, not in the metadata yet */
                snprintf(errstr, errstr_size, "%s not visible yet",
                         k->registry_topic);
        }
        chp_log_warn("controller: registry %s: %s (retrying in %d ms)",
                     k->registry_topic, errstr, backoff);
        health_fail(health, "registry %s: %s", k->registry_topic, errstr);
        /* Serves librdkafka's events (the error callback tells the cause)
         * while waiting, in short steps so SIGTERM is honoured. */
        for (int64_t until = chp_now_ms() + backoff;
             chp_now_ms() < until && !daemon_stopping();)
            rd_kafka_poll(k->rk, 100);
        backoff = backoff < 5000 ? backoff * 2 : 10000;
    }
    snprintf(errstr, errstr_size, "stopped while loading the registry");
    registry_destroy(reg);
    return NULL;
}

/* Until the registry is loaded, only /health and /metrics are answered
 * (by the server): the REST API would show or change an empty set. */
typedef struct gate {
    ctl_t *c;
    _Atomic bool open;
} gate_t;

static void gated_handle(const http_req_t *req, http_resp_t *resp, void *opaque)
{
    gate_t *g = opaque;

    if (atomic_load(&g->open)) {
        ctl_rest_handle(req, resp, g->c);
        return;
    }
    if (!strcmp(req->path, "/health") || !strcmp(req->path, "/metrics"))
        return;
    http_reply_error(resp, 503, "the registry is not loaded yet");
}

int cmd_controller(chp_conf_t *conf, int argc, char **argv)
{
    metrics_t *metrics = NULL;
    health_t *health = NULL;
    ctl_kafka_t *k = NULL;
    ctl_t *c = NULL;
    registry_t *reg;
    http_server_t *http = NULL;
    ctl_cluster_t cluster;
    gate_t gate = {0};
    char err[512];
    size_t audited = 0, blacklisted = 0;
    bool auto_detect = chp_conf_get_bool(conf, CHP_KEY_CONTROLLER_AUTO_DETECT);
    int64_t interval_ms =
        chp_conf_get_int(conf, CHP_KEY_CONTROLLER_DETECT_INTERVAL_S) * 1000;
    int64_t next_detect = 0, next_probe = 0;
    int rc = 1;

    if (argc > 1)
        return daemon_usage("controller", argv[1],
                            "REST API and keys: docs/controller.md, "
                            "docs/configuration.md (controller, common)");
    daemon_signals_install();
    daemon_shutdown_bound(
        "controller",
        chp_conf_get_int(conf, CHP_KEY_DAEMON_SHUTDOWN_TIMEOUT_MS));
    if (!(metrics = metrics_new()) ||
        !(health = health_new(metrics, "daemon=\"controller\""))) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    if (!(k = ctl_kafka_new(conf, health, err, sizeof(err))))
        goto fail;
    ctl_kafka_cluster(k, &cluster);
    if (!(c = ctl_new(conf, &cluster, metrics, err, sizeof(err))))
        goto fail;
    gate.c = c;
    if (!(http = http_server_start_conf(
              conf, "controller", 9000,
              (size_t)chp_conf_get_int(conf, CHP_KEY_CONTROLLER_MAX_BODY_BYTES),
              gated_handle, &gate, metrics, err, sizeof(err))))
        goto fail;
    http_server_set_health(http, health);
    /* Not ready (503) until the registry is loaded. */
    health_fail(health, "loading the registry %s", k->registry_topic);
    if (!(reg = load_registry(conf, k, health, err, sizeof(err)))) {
        if (daemon_stopping()) {
            rc = 0;
            chp_log_info("controller: stopped before the registry was loaded");
            goto out;
        }
        goto fail;
    }
    registry_foreach(reg, REG_AUDITED, count_topic, &audited);
    registry_foreach(reg, REG_BLACKLISTED, count_topic, &blacklisted);
    ctl_set_registry(c, reg);
    atomic_store(&gate.open, true);
    chp_log_info("controller: registry %s: %zu audited, %zu blacklisted",
                 k->registry_topic, audited, blacklisted);
    chp_log_info("controller: REST API at /topics (auto-detection %s)",
                 auto_detect ? "on" : "off");

    while (!daemon_stopping()) {
        if (auto_detect && chp_now_ms() >= next_detect) {
            size_t n = 0;
            if (ctl_detect_run(c, &n, err, sizeof(err)) != CHP_OK) {
                chp_log_warn("controller: auto-detection: %s", err);
                health_fail(health, "auto-detection: %s", err);
            } else {
                health_ok(health);
                if (n > 0)
                    chp_log_info("controller: auto-detection added %zu "
                                 "topic(s)",
                                 n);
            }
            next_detect = chp_now_ms() + interval_ms;
        }
        if (!health_check(health, NULL, 0) && chp_now_ms() >= next_probe) {
            /* Unhealthy (Kafka unreachable, a failed detection): a
             * metadata round trip says when Kafka answers again. */
            topic_set_t ts = {0};
            if (cluster.list_topics(cluster.opaque, &ts, err, sizeof(err)) ==
                CHP_OK)
                health_ok(health);
            topic_set_clear(&ts);
            next_probe = chp_now_ms() + 5000;
        }
        if (ctl_kafka_fatal(k, err, sizeof(err))) {
            chp_log_error(
                "controller: %s; exiting so a restart can write again", err);
            goto out;
        }
        /* Serves librdkafka's events; doubles as the loop's sleep. */
        rd_kafka_poll(k->rk, 200);
    }
    rc = 0;
    chp_log_info("controller: stopped");
out:
    http_server_stop(http);
    ctl_destroy(c);
    ctl_kafka_destroy(k);
    health_destroy(health);
    metrics_destroy(metrics);
    return rc;

fail:
    fprintf(stderr, "chaperone controller: %s\n", err);
    rc = 2;
    goto out;
}
