/* The reporter against librdkafka's mock cluster (no server needed):
 *  - messages taken from the retry queue stay visible to pending() until
 *    they are produced again (else a flush ends early and shutdown drops
 *    them);
 *  - audit messages dropped at reporter.max.pending are counted and reach
 *    the audit topic in auditDroppedCount of the next messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "chaperone.h"
#include "reporter.h"
#include "testutil.h"

typedef struct fixture {
    rd_kafka_t *helper;
    rd_kafka_mock_cluster_t *mc;
    char bootstraps[256];
} fixture_t;

static int setup(void **state)
{
    fixture_t *f = calloc(1, sizeof(*f));

    f->helper = tu_producer("127.0.0.1:1",
                            (const char *const[]){"log_level", "0", NULL});
    f->mc = rd_kafka_mock_cluster_new(f->helper, 1);
    snprintf(f->bootstraps, sizeof(f->bootstraps), "%s",
             rd_kafka_mock_cluster_bootstraps(f->mc));
    rd_kafka_mock_topic_create(f->mc, "audit", 1, 1);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture_t *f = *state;

    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->helper);
    free(f);
    return 0;
}

static chp_reporter_t *reporter(fixture_t *f, const char *max_pending)
{
    char err[512], kv[128];
    chp_conf_t *conf = chp_conf_new();
    chp_reporter_t *r = NULL;

    assert_int_equal(
        chp_conf_set(conf, "audit.topic", "audit", err, sizeof(err)), CHP_OK);
    assert_int_equal(
        chp_conf_set(conf, "kafka.message.timeout.ms", "500", err, sizeof(err)),
        CHP_OK);
    snprintf(kv, sizeof(kv), "reporter.max.pending=%s", max_pending);
    assert_int_equal(chp_conf_set_kv(conf, kv, err, sizeof(err)), CHP_OK);
    assert_int_equal(
        chp_reporter_new(conf, f->bootstraps, &r, err, sizeof(err)), CHP_OK);
    chp_conf_destroy(conf);
    return r;
}

static void emit_one(chp_reporter_t *r, int i)
{
    chp_auditmsg_t m;

    chp_auditmsg_init(&m);
    snprintf(m.topic, sizeof(m.topic), "orders");
    snprintf(m.tier, sizeof(m.tier), "producer");
    snprintf(m.datacenter, sizeof(m.datacenter), "dc");
    snprintf(m.hostname, sizeof(m.hostname), "h");
    chp_uuid_generate(m.uuid);
    m.time_begin = 1478311200 + 600 * i;
    m.time_end = m.time_begin + 600;
    m.count = 1;
    chp_reporter_emit(&m, 1, r);
}

typedef struct seen {
    atomic_int calls;
    size_t taken;
    uint64_t pending;
} seen_t;

static void on_retry(chp_reporter_t *r, size_t taken, void *opaque)
{
    seen_t *s = opaque;
    chp_reporter_stats_t st;

    chp_reporter_stats(r, &st);
    if (atomic_load(&s->calls) == 0) {
        s->taken = taken;
        s->pending = st.pending;
    }
    atomic_fetch_add(&s->calls, 1);
}

static void test_retry_stays_pending(void **state)
{
    fixture_t *f = *state;
    chp_reporter_t *r;
    chp_reporter_stats_t st;
    seen_t seen = {0};
    int64_t deadline;

    rd_kafka_mock_broker_set_down(f->mc, 1);
    r = reporter(f, "100");
    for (int i = 0; i < 3; i++)
        emit_one(r, i);
    deadline = tu_now_ms() + 30000;
    do { /* each times out and waits in the retry queue */
        tu_sleep_ms(50);
        chp_reporter_stats(r, &st);
    } while (st.failed < 3 && tu_now_ms() < deadline);
    assert_true(st.failed >= 3);
    assert_int_equal(st.pending, 3);

    chp_reporter_set_retry_hook(r, on_retry, &seen);
    rd_kafka_mock_broker_set_up(f->mc, 1);
    while (atomic_load(&seen.calls) == 0 && tu_now_ms() < deadline)
        tu_sleep_ms(20);
    assert_true(atomic_load(&seen.calls) > 0);
    fprintf(stderr, "retry took %zu, pending() said %llu meanwhile\n",
            seen.taken, (unsigned long long)seen.pending);
    assert_true(seen.taken > 0);
    assert_true(seen.pending >= seen.taken);

    assert_int_equal(chp_reporter_flush(r, 30000), CHP_OK);
    chp_reporter_stats(r, &st);
    assert_int_equal(st.delivered, 3);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.pending, 0);
    chp_reporter_destroy(r, 10000);
}

/* Sums auditDroppedCount and counts the records of the audit topic. */
static void read_audit(fixture_t *f, uint64_t *records, uint64_t *dropped)
{
    rd_kafka_t *c = tu_consumer(
        f->bootstraps, "reader",
        (const char *const[]){"enable.partition.eof", "true", NULL});
    rd_kafka_topic_partition_list_t *tp = rd_kafka_topic_partition_list_new(1);
    int64_t deadline = tu_now_ms() + 30000;
    bool eof = false;

    *records = *dropped = 0;
    rd_kafka_topic_partition_list_add(tp, "audit", 0)->offset =
        RD_KAFKA_OFFSET_BEGINNING;
    assert_int_equal(rd_kafka_assign(c, tp), 0);
    rd_kafka_topic_partition_list_destroy(tp);
    while (!eof && tu_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 200);
        chp_auditmsg_t am;
        char err[256];

        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof = true;
        } else if (!m->err) {
            chp_auditmsg_init(&am);
            assert_int_equal(
                chp_auditmsg_decode(&am, m->payload, m->len, err, sizeof(err)),
                CHP_OK);
            (*records)++;
            *dropped += am.audit_dropped_count;
            chp_auditmsg_clear(&am);
        }
        rd_kafka_message_destroy(m);
    }
    assert_true(eof);
    rd_kafka_consumer_close(c);
    rd_kafka_destroy(c);
}

static void test_drops_reach_the_audit_topic(void **state)
{
    fixture_t *f = *state;
    chp_reporter_t *r;
    chp_reporter_stats_t st;
    uint64_t records, dropped;

    rd_kafka_mock_broker_set_down(f->mc, 1);
    r = reporter(f, "2");
    for (int i = 0; i < 5; i++) /* room for 2: 3 dropped */
        emit_one(r, i);
    chp_reporter_stats(r, &st);
    assert_int_equal(st.dropped, 3);
    rd_kafka_mock_broker_set_up(f->mc, 1);
    assert_int_equal(chp_reporter_flush(r, 30000), CHP_OK);
    emit_one(r, 5); /* carries what is not yet reported */
    assert_int_equal(chp_reporter_flush(r, 30000), CHP_OK);
    chp_reporter_stats(r, &st);
    assert_int_equal(st.dropped, 3);
    assert_int_equal(st.delivered, 3);
    chp_reporter_destroy(r, 10000);

    read_audit(f, &records, &dropped);
    fprintf(stderr, "audit topic: %llu records, auditDroppedCount sum %llu\n",
            (unsigned long long)records, (unsigned long long)dropped);
    assert_int_equal(records, 3);
    assert_int_equal(dropped, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retry_stays_pending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_drops_reach_the_audit_topic, setup,
                                        teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
