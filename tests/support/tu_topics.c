/* tu_topics.c - creating, awaiting and deleting topics with the admin API. */
#include "tu_topics.h"

#include <stdio.h>

#include "tu_clock.h"
#include "tu_kafka.h"

int tu_wait_topic(rd_kafka_t *rk, const char *topic, int partitions,
                  int timeout_ms, char *errstr, size_t n)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    snprintf(errstr, n, "no metadata for %s", topic);
    if (!rkt)
        return -1;
    do {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int ok = 0, i;

        err = rd_kafka_metadata(rk, 0, rkt, &md, tu_left_ms(deadline) + 1);
        if (err) {
            snprintf(errstr, n, "metadata for %s: %s", topic,
                     rd_kafka_err2str(err));
        } else if (md->topic_cnt != 1 || md->topics[0].err) {
            snprintf(errstr, n, "topic %s: %s", topic,
                     md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                        : "not in metadata");
        } else if (md->topics[0].partition_cnt != partitions) {
            snprintf(errstr, n, "topic %s has %d partitions, want %d", topic,
                     md->topics[0].partition_cnt, partitions);
        } else {
            ok = 1;
            for (i = 0; i < partitions; i++) {
                const rd_kafka_metadata_partition_t *p =
                    &md->topics[0].partitions[i];
                if (p->err || p->leader < 0) {
                    snprintf(errstr, n, "topic %s partition %d: no leader (%s)",
                             topic, (int)p->id, rd_kafka_err2str(p->err));
                    ok = 0;
                    break;
                }
            }
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok) {
            rd_kafka_topic_destroy(rkt);
            return 0;
        }
        tu_sleep_ms(100);
    } while (tu_left_ms(deadline) > 0);
    rd_kafka_topic_destroy(rkt);
    return -1;
}

rd_kafka_event_t *tu_admin_result(rd_kafka_queue_t *q,
                                  rd_kafka_event_type_t type, int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    do {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, tu_left_ms(deadline));
        if (ev && rd_kafka_event_type(ev) == type)
            return ev;
        if (ev)
            rd_kafka_event_destroy(ev);
    } while (tu_left_ms(deadline) > 0);
    return NULL;
}

int tu_create_topic(const char *brokers, const char *topic, int partitions,
                    char *errstr, size_t n)
{
    rd_kafka_t *rk = tu_producer(brokers, NULL);
    rd_kafka_queue_t *q = NULL;
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    size_t cnt = 0;
    int rc = -1;

    if (!rk) {
        snprintf(errstr, n, "cannot create an admin client");
        return -1;
    }
    nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, n);
    if (!nt)
        goto out;
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_request_timeout(opts, TU_TIMEOUT_MS, errstr,
                                                  n) ||
        rd_kafka_AdminOptions_set_operation_timeout(opts, TU_TIMEOUT_MS / 2,
                                                    errstr, n))
        goto out;
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    ev = tu_admin_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
                         TU_TIMEOUT_MS + 5000);
    if (!ev) {
        snprintf(errstr, n, "CreateTopics %s: no result in time", topic);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, n, "CreateTopics %s: %s", topic,
                 rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &cnt);
    if (cnt != 1) {
        snprintf(errstr, n, "CreateTopics %s: %zu results", topic, cnt);
        goto out;
    }
    if (rd_kafka_topic_result_error(res[0]) &&
        rd_kafka_topic_result_error(res[0]) !=
            RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(errstr, n, "CreateTopics %s: %s", topic,
                 rd_kafka_topic_result_error_string(res[0]));
        goto out;
    }
    rc = tu_wait_topic(rk, topic, partitions, TU_TIMEOUT_MS, errstr, n);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

int tu_delete_topic(const char *brokers, const char *topic, char *errstr,
                    size_t n)
{
    rd_kafka_t *rk = tu_producer(brokers, NULL);
    rd_kafka_DeleteTopic_t *dt;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    int rc = -1;

    if (!rk) {
        snprintf(errstr, n, "cannot create an admin client");
        return -1;
    }
    dt = rd_kafka_DeleteTopic_new(topic);
    q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    ev = tu_admin_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, TU_TIMEOUT_MS);
    if (!ev) {
        snprintf(errstr, n, "DeleteTopics %s: no result in time", topic);
    } else {
        const rd_kafka_topic_result_t **res;
        size_t cnt = 0;

        res = rd_kafka_DeleteTopics_result_topics(
            rd_kafka_event_DeleteTopics_result(ev), &cnt);
        if (rd_kafka_event_error(ev))
            snprintf(errstr, n, "DeleteTopics %s: %s", topic,
                     rd_kafka_event_error_string(ev));
        else if (cnt == 1 && rd_kafka_topic_result_error(res[0]))
            snprintf(errstr, n, "DeleteTopics %s: %s", topic,
                     rd_kafka_topic_result_error_string(res[0]));
        else
            rc = 0;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_destroy(rk);
    return rc;
}

int tu_make_topic(const char *brokers, char *name, size_t n, const char *prefix,
                  int partitions, char *errstr, size_t errstr_size)
{
    tu_unique_name(name, n, prefix);
    return tu_create_topic(brokers, name, partitions, errstr, errstr_size);
}
