/* Integration (real broker, SASL_PLAINTEXT listener with PLAIN): a client
 * that needs credentials, audited by the plugin with nothing but
 * plugin.library.paths and the audit topic.  The plugin's own producer
 * must take over the client's security.protocol and sasl.* settings (the
 * broker refuses it otherwise, and the audit would be lost while the
 * client runs on): exact counts and bytes on the producer and the consumer
 * tier.  CHP_TEST_SASL_BROKERS (set by scripts/test.sh) names the
 * listener; scripts/kafka.sh creates user "chaperone". */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditread.h"
#include "testutil.h"

#define T0         1478311200LL
#define BUCKETS    3
#define PER_BUCKET 2000

static const char *brokers, *sasl_brokers;
static char plugin[1024];

/* A SASL/PLAIN client of the test broker with the plugin loaded, auditing
 * into audit as tier: the first key, value pairs of its settings. */
#define SASL_CLIENT(audit, tier)                                               \
    "security.protocol", "SASL_PLAINTEXT", "sasl.mechanisms", "PLAIN",         \
        "sasl.username", "chaperone", "sasl.password", "chaperone-secret",     \
        "plugin.library.paths", plugin, "chaperone.audit.topic", (audit),      \
        "chaperone.tier", (tier)

static void test_sasl_client_audited(void **state)
{
    char topic[128], audit[128], group[128], err[512];
    uint64_t count[BUCKETS] = {0}, bytes[BUCKETS] = {0};
    ar_result_t *r = calloc(1, sizeof(*r));
    rd_kafka_t *rk;
    (void)state;

    tu_unique_name(topic, sizeof(topic), "sasl");
    tu_unique_name(audit, sizeof(audit), "saslaudit");
    tu_unique_name(group, sizeof(group), "saslgrp");
    assert_int_equal(tu_create_topic(brokers, topic, 2, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(brokers, audit, 1, err, sizeof(err)), 0);
    const char *sec[] = {SASL_CLIENT(audit, "sasl-producer"), "linger.ms", "5",
                         NULL};
    rk = tu_producer(sasl_brokers, sec);
    assert_non_null(rk);
    for (int i = 0; i < BUCKETS * PER_BUCKET; i++) {
        char v[96];
        int b = i % BUCKETS;
        int len = snprintf(v, sizeof(v), "{\"ts\":%lld,\"i\":%d}",
                           (long long)(T0 + b * 600 + i % 600), i);
        assert_int_equal(
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(v, (size_t)len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
        count[b]++;
        bytes[b] += (uint64_t)len;
        if (i % 1000 == 0)
            rd_kafka_poll(rk, 0);
    }
    assert_int_equal(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_destroy(rk);

    const char *csec[] = {SASL_CLIENT(audit, "sasl-consumer"), NULL};
    rk = tu_consumer(sasl_brokers, group, csec);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    int got = 0;
    int64_t deadline = tu_now_ms() + 120000;
    while (got < BUCKETS * PER_BUCKET && tu_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (m && !m->err)
            got++;
        if (m)
            rd_kafka_message_destroy(m);
    }
    assert_int_equal(got, BUCKETS * PER_BUCKET);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    const char *tiers[] = {"sasl-producer", "sasl-consumer"};
    for (int t = 0; t < 2; t++)
        for (int b = 0; b < BUCKETS; b++) {
            ar_sum_t *s = ar_get(r, tiers[t], topic, T0 + b * 600);
            if (!s)
                fail_msg("no audit for %s bucket %d", tiers[t], b);
            fprintf(stderr, "%s bucket %lld: count %llu bytes %llu\n", tiers[t],
                    (long long)s->begin, (unsigned long long)s->count,
                    (unsigned long long)s->bytes);
            assert_int_equal(s->count, count[b]);
            assert_int_equal(s->bytes, bytes[b]);
        }
    assert_int_equal(ar_total(r, NULL, NULL), 2 * BUCKETS * PER_BUCKET);
    free(r);
}

int main(void)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sasl_client_audited),
    };

    brokers = tu_brokers();
    sasl_brokers =
        tu_env_or_skip("CHP_TEST_SASL_BROKERS",
                       "start Kafka with KAFKA_SASL_PORT=PORT (scripts/test.sh "
                       "does) and set it to 127.0.0.1:PORT");
    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             bin ? bin : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
