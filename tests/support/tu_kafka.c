/* tu_kafka.c - librdkafka clients for tests that talk to a real broker.
 *
 * None of them depends on cmocka: they return an error and fill errstr,
 * and the test decides how to fail. */
#include "tu_kafka.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tu_clock.h"

void tu_unique_name(char *buf, size_t n, const char *prefix)
{
    static unsigned counter;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, n, "%s-%ld-%lld-%u", prefix, (long)getpid(),
             (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, counter++);
}

rd_kafka_conf_t *tu_conf(const char *brokers, const char *const extra[],
                         char *errstr, size_t n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    size_t i;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, n) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (i = 0; extra && extra[i]; i += 2) {
        if (!extra[i + 1]) {
            snprintf(errstr, n, "property %s has no value", extra[i]);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], errstr, n) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

rd_kafka_t *tu_handle(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk;

    if (!conf)
        return NULL;
    rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "testutil: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

rd_kafka_t *tu_producer(const char *brokers, const char *const extra_kv_pairs[])
{
    char errstr[512];
    rd_kafka_conf_t *conf =
        tu_conf(brokers, extra_kv_pairs, errstr, sizeof(errstr));

    if (!conf) {
        fprintf(stderr, "testutil: producer config: %s\n", errstr);
        return NULL;
    }
    return tu_handle(RD_KAFKA_PRODUCER, conf);
}

rd_kafka_t *tu_consumer(const char *brokers, const char *group,
                        const char *const extra_kv_pairs[])
{
    char errstr[512];
    rd_kafka_conf_t *conf = tu_conf(brokers, NULL, errstr, sizeof(errstr));
    rd_kafka_t *rk;
    size_t i;

    if (!conf)
        goto fail;
    if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                          sizeof(errstr)))
        goto fail;
    for (i = 0; extra_kv_pairs && extra_kv_pairs[i]; i += 2) {
        if (!extra_kv_pairs[i + 1]) {
            snprintf(errstr, sizeof(errstr), "property %s has no value",
                     extra_kv_pairs[i]);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, extra_kv_pairs[i], extra_kv_pairs[i + 1],
                              errstr, sizeof(errstr)))
            goto fail;
    }
    rk = tu_handle(RD_KAFKA_CONSUMER, conf);
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
fail:
    fprintf(stderr, "testutil: consumer config: %s\n", errstr);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return NULL;
}

int tu_brokers_answer(const char *brokers, int timeout_ms, char *errstr,
                      size_t n)
{
    rd_kafka_t *rk = tu_producer(brokers, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;

    if (!rk) {
        snprintf(errstr, n, "cannot create a client for %s", brokers);
        return -1;
    }
    err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (err)
        snprintf(errstr, n, "brokers %s do not answer: %s", brokers,
                 rd_kafka_err2str(err));
    else
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return err ? -1 : 0;
}

int tu_end_offsets(rd_kafka_t *rk, const char *topic, int partitions,
                   int64_t *hi, char *errstr, size_t n)
{
    int p;

    for (p = 0; p < partitions; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, topic, p, &lo, &hi[p], TU_TIMEOUT_MS);
        if (err) {
            snprintf(errstr, n, "watermarks of %s [%d]: %s", topic, p,
                     rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

int tu_take_error(rd_kafka_error_t *error, const char *what, char *errstr,
                  size_t n)
{
    if (!error)
        return 0;
    snprintf(errstr, n, "%s: %s%s%s", what, rd_kafka_error_string(error),
             rd_kafka_error_is_fatal(error) ? " (fatal)" : "",
             rd_kafka_error_txn_requires_abort(error) ? " (abortable)" : "");
    rd_kafka_error_destroy(error);
    return -1;
}

rd_kafka_resp_err_t tu_produce(rd_kafka_t *rk, const char *topic,
                               int32_t partition, const void *key,
                               size_t key_len, const void *value, size_t len)
{
    rd_kafka_resp_err_t err;

    do {
        err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(partition),
            RD_KAFKA_V_KEY(key, key_len), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 20);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    return err;
}

void tu_pace(rd_kafka_t *rk, int64_t t0, uint64_t sent, int rate_per_s)
{
    int64_t due = t0 + (int64_t)(sent * 1000 / (uint64_t)rate_per_s);

    rd_kafka_poll(rk, 0);
    while (tu_now_ms() < due)
        tu_sleep_ms(5);
}
