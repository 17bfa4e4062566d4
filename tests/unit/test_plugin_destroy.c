/* The plugin in a producer destroyed with messages in flight (librdkafka's
 * mock cluster, no server needed; run under ASan by make test).
 *
 * librdkafka calls on_destroy, then fails the in-flight messages with
 * __DESTROY and calls on_acknowledgement for each: the plugin must still be
 * there to count them (no use after free), and the audit must say that they
 * were sent (count) and not delivered (deliveryFailedCount).  Messages
 * still queued for a partition not yet known (the broker was down from the
 * start) are freed by librdkafka without any acknowledgement; the plugin
 * purges them first, in on_destroy, so that they are counted as failed. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "auditread.h"
#include "testutil.h"

#define T0        1478311200LL
#define DELIVERED 10
#define IN_FLIGHT 200

static char plugin[1024];

static void produce(rd_kafka_t *rk, int n, int base)
{
    for (int i = 0; i < n; i++) {
        char v[64];
        int len = snprintf(v, sizeof(v), "{\"ts\":%lld,\"i\":%d}",
                           (long long)T0, base + i);
        assert_int_equal(
            rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC("data"), RD_KAFKA_V_VALUE(v, (size_t)len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
}

/* Two mock clusters: one for the data, one for the audit topic. */
typedef struct mocks {
    rd_kafka_t *helper; /* only hosts them; never connects anywhere */
    rd_kafka_mock_cluster_t *data, *audit;
    char data_bs[256], audit_bs[256];
} mocks_t;

static void mocks_up(mocks_t *m)
{
    m->helper = tu_producer("127.0.0.1:1",
                            (const char *const[]){"log_level", "0", NULL});
    assert_non_null(m->helper);
    assert_non_null(m->data = rd_kafka_mock_cluster_new(m->helper, 1));
    assert_non_null(m->audit = rd_kafka_mock_cluster_new(m->helper, 1));
    snprintf(m->data_bs, sizeof(m->data_bs), "%s",
             rd_kafka_mock_cluster_bootstraps(m->data));
    snprintf(m->audit_bs, sizeof(m->audit_bs), "%s",
             rd_kafka_mock_cluster_bootstraps(m->audit));
    assert_int_equal(rd_kafka_mock_topic_create(m->data, "data", 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(m->audit, "audit", 1, 1), 0);
}

static void mocks_down(mocks_t *m)
{
    rd_kafka_mock_cluster_destroy(m->data);
    rd_kafka_mock_cluster_destroy(m->audit);
    rd_kafka_destroy(m->helper);
}

static void test_destroy_in_flight(void **state)
{
    rd_kafka_t *rk;
    mocks_t m;
    ar_result_t *r = calloc(1, sizeof(*r));
    (void)state;

    mocks_up(&m);

    rk = tu_producer(m.data_bs, (const char *const[]){
                                    "plugin.library.paths", plugin,
                                    "chaperone.bootstrap.servers", m.audit_bs,
                                    "chaperone.audit.topic", "audit",
                                    "chaperone.report.interval.ms", "100000",
                                    "linger.ms", "0", NULL});
    assert_non_null(rk);
    produce(rk, DELIVERED, 0);
    assert_int_equal(rd_kafka_flush(rk, 30000), RD_KAFKA_RESP_ERR_NO_ERROR);

    /* Now every response takes 30 s: what is sent stays in flight. */
    assert_int_equal(rd_kafka_mock_broker_set_rtt(m.data, 1, 30000), 0);
    produce(rk, IN_FLIGHT, DELIVERED);
    rd_kafka_flush(rk, 1500); /* sent, never answered */
    assert_true(rd_kafka_outq_len(rk) >= IN_FLIGHT);
    rd_kafka_destroy(rk); /* no crash: on_acknowledgement after on_destroy */

    assert_int_equal(ar_read(m.audit_bs, "audit", r, 30000), 0);
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    ar_sum_t *s = ar_get(r, "producer", "data", T0);
    assert_non_null(s);
    fprintf(stderr, "audit: count %llu, deliveryFailedCount %llu\n",
            (unsigned long long)s->count,
            (unsigned long long)s->delivery_failed);
    assert_int_equal(s->count, DELIVERED + IN_FLIGHT);
    assert_int_equal(s->delivery_failed, IN_FLIGHT);
    free(r);
    mocks_down(&m);
}

static void test_destroy_queued(void **state)
{
    rd_kafka_t *rk;
    mocks_t m;
    ar_result_t *r = calloc(1, sizeof(*r));
    (void)state;

    mocks_up(&m);
    assert_int_equal(rd_kafka_mock_broker_set_down(m.data, 1), 0);

    rk = tu_producer(m.data_bs, (const char *const[]){
                                    "plugin.library.paths", plugin,
                                    "chaperone.bootstrap.servers", m.audit_bs,
                                    "chaperone.audit.topic", "audit",
                                    "chaperone.report.interval.ms", "100000",
                                    "log_level", "0", NULL});
    assert_non_null(rk);
    produce(rk, IN_FLIGHT, 0); /* no metadata: queued, partition unknown */
    rd_kafka_poll(rk, 500);
    assert_true(rd_kafka_outq_len(rk) >= IN_FLIGHT);
    rd_kafka_destroy(rk);

    assert_int_equal(ar_read(m.audit_bs, "audit", r, 30000), 0);
    ar_sum_t *s = ar_get(r, "producer", "data", T0);
    assert_non_null(s);
    fprintf(stderr, "queued: count %llu, deliveryFailedCount %llu\n",
            (unsigned long long)s->count,
            (unsigned long long)s->delivery_failed);
    assert_int_equal(s->count, IN_FLIGHT);
    assert_int_equal(s->delivery_failed, IN_FLIGHT);
    free(r);
    mocks_down(&m);
}

int main(void)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_destroy_in_flight),
        cmocka_unit_test(test_destroy_queued),
    };

    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             bin ? bin : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
