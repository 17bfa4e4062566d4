/* controller.c - `chaperone controller` (SPEC §7): loads the registry
 * topic (creating it if missing), serves the REST API and, when
 * controller.auto.detect is on, runs auto-detection every
 * controller.detect.interval.s.  SIGTERM/SIGINT: stop serving, exit 0.
 *
 * The controller holds no state of its own: the registry topic is the
 * truth, so a restarted controller recovers the audited set and the
 * blacklist, and workers keep auditing while it is down. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "controller/controller.h"
#include "controller/kafka.h"
#include "daemon.h"
#include "http.h"
#include "log.h"

#define STARTUP_TIMEOUT_MS 60000

static void count_topic(const char *topic, void *opaque)
{
    (void)topic;
    (*(size_t *)opaque)++;
}

/*
 * Creates the registry topic if needed and reads it whole.  Retries until
 * STARTUP_TIMEOUT_MS: serving with an empty set because Kafka was slow
 * would let auto-detection re-audit blacklisted topics.
 */
static registry_t *load_registry(const chp_conf_t *conf, ctl_kafka_t *k,
                                 char *errstr, size_t errstr_size)
{
    int64_t deadline = chp_now_ms() + STARTUP_TIMEOUT_MS;
    registry_t *reg = registry_new();
    bool created = false;

    if (!reg) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    while (!daemon_stopping()) {
        int rc = 0;

        if (!created) {
            rc = ctl_kafka_ensure_registry(k, CTL_KAFKA_TIMEOUT_MS, errstr,
                                           errstr_size);
            created = rc == 0;
        }
        if (rc == 0) {
            rc = registry_load(conf, k->registry_topic, reg,
                               CTL_KAFKA_TIMEOUT_MS, errstr, errstr_size);
            if (rc == 0)
                return reg;
            if (rc == 1) /* created, not in the metadata yet */
                snprintf(errstr, errstr_size, "%s not visible yet",
                         k->registry_topic);
        }
        if (chp_now_ms() > deadline)
            break;
        chp_warn("controller: registry %s: %s (retrying)", k->registry_topic,
                 errstr);
        rd_kafka_poll(k->rk, 500);
    }
    if (daemon_stopping())
        snprintf(errstr, errstr_size, "stopped while loading the registry");
    registry_destroy(reg);
    return NULL;
}

static int usage(int argc, char **argv)
{
    bool help = !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help");
    (void)argc;

    fprintf(help ? stdout : stderr,
            "usage: chaperone controller [-c FILE] [-X key=value ...]\n%s",
            help ? "REST API and keys: docs/controller.md, "
                   "docs/configuration.md (controller, common)\n"
                 : "");
    return help ? 0 : 2;
}

int cmd_controller(chp_conf_t *conf, int argc, char **argv)
{
    metrics_t *metrics = NULL;
    ctl_kafka_t *k = NULL;
    ctl_t *c = NULL;
    registry_t *reg;
    http_server_t *http = NULL;
    ctl_cluster_t cluster;
    char err[512];
    size_t audited = 0, blacklisted = 0;
    bool auto_detect = chp_conf_get_bool(conf, "controller.auto.detect");
    int64_t interval_ms =
        chp_conf_get_int(conf, "controller.detect.interval.s") * 1000;
    int64_t next_detect = 0;
    int rc = 1;

    if (argc > 1)
        return usage(argc, argv);
    daemon_signals_install();
    if (!(metrics = metrics_new())) {
        snprintf(err, sizeof(err), "out of memory");
        goto fail;
    }
    if (!(k = ctl_kafka_new(conf, err, sizeof(err))))
        goto fail;
    ctl_kafka_cluster(k, &cluster);
    if (!(c = ctl_new(conf, &cluster, metrics, err, sizeof(err))))
        goto fail;
    if (!(reg = load_registry(conf, k, err, sizeof(err))))
        goto fail;
    registry_foreach(reg, REG_AUDITED, count_topic, &audited);
    registry_foreach(reg, REG_BLACKLISTED, count_topic, &blacklisted);
    ctl_set_registry(c, reg);
    chp_info("controller: registry %s: %zu audited, %zu blacklisted",
             k->registry_topic, audited, blacklisted);

    if (!(http = http_server_start_conf(
              conf, "controller", 9000,
              (size_t)chp_conf_get_int(conf, "controller.max.body.bytes"),
              ctl_rest_handle, c, metrics, err, sizeof(err))))
        goto fail;
    chp_info("controller: REST API at /topics (auto-detection %s)",
             auto_detect ? "on" : "off");

    while (!daemon_stopping()) {
        if (auto_detect && chp_now_ms() >= next_detect) {
            int n = ctl_detect_run(c, err, sizeof(err));
            if (n < 0)
                chp_warn("controller: auto-detection: %s", err);
            else if (n > 0)
                chp_info("controller: auto-detection added %d topic(s)", n);
            next_detect = chp_now_ms() + interval_ms;
        }
        if (ctl_kafka_fatal(k, err, sizeof(err))) {
            chp_err("controller: %s; exiting so a restart can write again",
                    err);
            goto out;
        }
        /* Serves librdkafka's events; doubles as the loop's sleep. */
        rd_kafka_poll(k->rk, 200);
    }
    rc = 0;
    chp_info("controller: stopped");
out:
    http_server_stop(http);
    ctl_destroy(c);
    ctl_kafka_destroy(k);
    metrics_destroy(metrics);
    return rc;

fail:
    fprintf(stderr, "chaperone controller: %s\n", err);
    rc = 2;
    goto out;
}
