/* registry_writer.c - writes the registry topic (registry_format.h)
 * with an idempotent producer, one record at a time, and returns only once
 * Kafka acknowledged it: a REST 200 means the change is durable, and a
 * retried write cannot be duplicated or reordered by the producer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/kafka.h"
#include "daemon.h"
#include "kafkawatch.h"
#include "kafkaconf.h"
#include "log.h"
#include "conf_daemon_keys.h"

/* Delivery reports carry the write's sequence number as msg_opaque, so a
 * late report of a timed-out write cannot be taken for the current one. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    ctl_kafka_t *k = opaque;
    (void)rk;

    atomic_store(&k->dr_err, (int)m->err);
    atomic_store(&k->dr_seq, (uint64_t)(uintptr_t)m->_private);
}

ctl_kafka_t *ctl_kafka_new(const chp_conf_t *conf, health_t *health,
                           char *errstr, size_t errstr_size)
{
    static const char *const defaults[] = {"enable.idempotence",
                                           "true",
                                           "acks",
                                           "all",
                                           "linger.ms",
                                           "0",
                                           "message.timeout.ms",
                                           "10000",
                                           "client.id",
                                           "chaperone-controller",
                                           NULL};
    ctl_kafka_t *k = calloc(1, sizeof(*k));
    rd_kafka_conf_t *kc = NULL;
    char val[64];
    size_t vlen = sizeof(val);

    if (!k) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    k->registry_topic = strdup(chp_conf_get_str(conf, CHP_KEY_WORKER_REGISTRY));
    k->group_id = strdup(chp_conf_get_str(conf, CHP_KEY_WORKER_GROUP_ID));
    if (!k->registry_topic || !k->group_id) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (!(kc = chp_kafka_conf_new(conf, defaults, errstr, errstr_size)))
        goto fail;
    /* Wait for the delivery report a little longer than the producer may
     * take to give up, so a write ends with a definite report. */
    k->write_wait_ms = 15000;
    if (rd_kafka_conf_get(kc, "message.timeout.ms", val, &vlen) ==
        RD_KAFKA_CONF_OK) {
        long ms = strtol(val, NULL, 10);
        if (ms > 0 && ms < 3600000)
            k->write_wait_ms = (int)ms + 5000;
    }
    rd_kafka_conf_set_dr_msg_cb(kc, on_delivery);
    rd_kafka_conf_set_opaque(kc, k);
    kafkawatch_attach(kc, "controller", health);
    if (!(k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size)))
        goto fail;
    return k;

fail:
    if (kc)
        rd_kafka_conf_destroy(kc);
    ctl_kafka_destroy(k);
    return NULL;
}

void ctl_kafka_destroy(ctl_kafka_t *k)
{
    if (!k)
        return;
    if (k->rk) {
        /* Within the shutdown bound: a registry write still queued when
         * Kafka is gone is the client's to retry (it got no answer). */
        rd_kafka_flush(k->rk, daemon_timeout_ms(5000));
        rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE |
                                  RD_KAFKA_PURGE_F_INFLIGHT |
                                  RD_KAFKA_PURGE_F_NON_BLOCKING);
        rd_kafka_destroy(k->rk);
    }
    free(k->registry_topic);
    free(k->group_id);
    free(k);
}

/* The result event of type on q, or NULL after timeout_ms. */
static rd_kafka_event_t *
admin_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type, int timeout_ms)
{
    int64_t deadline = chp_now_ms() + timeout_ms;

    while (chp_now_ms() < deadline) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 100);
        if (ev && rd_kafka_event_type(ev) == type)
            return ev;
        if (ev)
            rd_kafka_event_destroy(ev);
    }
    return NULL;
}

/* Sends the CreateTopics request for the registry topic: its result event,
 * or NULL with errstr filled. */
static rd_kafka_event_t *create_registry(ctl_kafka_t *k, int timeout_ms,
                                         char *errstr, size_t errstr_size)
{
    rd_kafka_NewTopic_t *nt;
    rd_kafka_AdminOptions_t *opts;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev = NULL;

    /* Replication -1: the broker's default.replication.factor, so the same
     * code suits a one-node test broker and a production cluster. */
    if (!(nt = rd_kafka_NewTopic_new(k->registry_topic, 1, -1, errstr,
                                     errstr_size)))
        return NULL;
    if (rd_kafka_NewTopic_set_config(nt, "cleanup.policy", "compact")) {
        snprintf(errstr, errstr_size, "cannot set cleanup.policy");
        rd_kafka_NewTopic_destroy(nt);
        return NULL;
    }
    opts = rd_kafka_AdminOptions_new(k->rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_request_timeout(opts, timeout_ms, errstr,
                                                  errstr_size) == 0) {
        q = rd_kafka_queue_new(k->rk);
        rd_kafka_CreateTopics(k->rk, &nt, 1, opts, q);
        ev = admin_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
                          timeout_ms + 1000);
        rd_kafka_queue_destroy(q);
        if (!ev)
            snprintf(errstr, errstr_size, "creating %s: no answer in %d ms",
                     k->registry_topic, timeout_ms);
    }
    rd_kafka_AdminOptions_destroy(opts);
    rd_kafka_NewTopic_destroy(nt);
    return ev;
}

chp_err_t ctl_kafka_ensure_registry(ctl_kafka_t *k, int timeout_ms,
                                    char *errstr, size_t errstr_size)
{
    rd_kafka_event_t *ev = create_registry(k, timeout_ms, errstr, errstr_size);
    const rd_kafka_topic_result_t **res;
    rd_kafka_resp_err_t err;
    size_t cnt = 0;
    chp_err_t rc = CHP_ERR_KAFKA;

    if (!ev)
        return CHP_ERR_KAFKA;
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "creating %s: %s", k->registry_topic,
                 rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &cnt);
    err = cnt == 1 ? rd_kafka_topic_result_error(res[0])
                   : RD_KAFKA_RESP_ERR__BAD_MSG;
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        chp_log_info("controller: created the registry topic %s (compacted)",
                     k->registry_topic);
    } else if (err != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(errstr, errstr_size, "creating %s: %s", k->registry_topic,
                 cnt == 1 ? rd_kafka_topic_result_error_string(res[0])
                          : "no result");
        goto out;
    }
    rc = CHP_OK;
out:
    rd_kafka_event_destroy(ev);
    return rc;
}

chp_err_t ctl_kafka_registry_put(ctl_kafka_t *k, const char *topic,
                                 reg_state_t state, char *errstr,
                                 size_t errstr_size)
{
    const char *value = registry_format_encode(state);
    uint64_t seq = ++k->seq;
    int64_t deadline = chp_now_ms() + k->write_wait_ms;
    rd_kafka_resp_err_t err;

    if (ctl_kafka_fatal(k, errstr, errstr_size))
        return CHP_ERR_KAFKA;
    err = rd_kafka_producev(
        k->rk, RD_KAFKA_V_TOPIC(k->registry_topic),
        RD_KAFKA_V_KEY(topic, strlen(topic)),
        RD_KAFKA_V_VALUE((void *)value, value ? strlen(value) : 0),
        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        RD_KAFKA_V_OPAQUE((void *)(uintptr_t)seq), RD_KAFKA_V_END);
    if (err) {
        snprintf(errstr, errstr_size, "producing to %s: %s", k->registry_topic,
                 rd_kafka_err2str(err));
        return CHP_ERR_KAFKA;
    }
    while (atomic_load(&k->dr_seq) != seq) {
        if (chp_now_ms() > deadline) {
            snprintf(errstr, errstr_size, "%s: no acknowledgement in %d ms",
                     k->registry_topic, k->write_wait_ms);
            return CHP_ERR_KAFKA;
        }
        rd_kafka_flush(k->rk, 100);
        rd_kafka_poll(k->rk, 10);
    }
    if ((err = (rd_kafka_resp_err_t)atomic_load(&k->dr_err))) {
        snprintf(errstr, errstr_size, "writing %s: %s", k->registry_topic,
                 rd_kafka_err2str(err));
        return CHP_ERR_KAFKA;
    }
    return CHP_OK;
}

bool ctl_kafka_fatal(ctl_kafka_t *k, char *errstr, size_t errstr_size)
{
    char why[256];

    if (!rd_kafka_fatal_error(k->rk, why, sizeof(why)))
        return false;
    snprintf(errstr, errstr_size, "registry producer: fatal error: %s", why);
    return true;
}
