/* Unit tests: a consumer's lag (src/consumer_lag.c), the figure behind the
 * worker's and the collector's *_consumer_lag_messages gauges, against
 * librdkafka's mock cluster: exact counts from known watermarks and the
 * positions the test itself consumed up to. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "consumer_lag.h"
#include "testutil.h"

#define TOPIC "lag-t"
static const int64_t HIGH[2] = {10, 4}; /* messages per partition */

typedef struct fx {
    rd_kafka_t *mrk, *consumer;
    rd_kafka_mock_cluster_t *mc;
} fx_t;

static rd_kafka_t *client(rd_kafka_type_t type, const char *bootstraps)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    rd_kafka_t *rk;

    assert_int_equal(
        rd_kafka_conf_set(c, "bootstrap.servers", bootstraps, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    if (type == RD_KAFKA_CONSUMER) {
        rd_kafka_conf_set(c, "group.id", "lag-group", err, sizeof(err));
        rd_kafka_conf_set(c, "enable.auto.commit", "false", err, sizeof(err));
    }
    rk = rd_kafka_new(type, c, err, sizeof(err));
    assert_non_null(rk);
    return rk;
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *bootstraps;
    rd_kafka_t *p;
    char err[256];

    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, 1);
    assert_non_null(f->mc);
    bootstraps = rd_kafka_mock_cluster_bootstraps(f->mc);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, TOPIC, 2, 1), 0);
    p = client(RD_KAFKA_PRODUCER, bootstraps);
    for (int part = 0; part < 2; part++)
        for (int64_t i = 0; i < HIGH[part]; i++)
            assert_int_equal(rd_kafka_producev(p, RD_KAFKA_V_TOPIC(TOPIC),
                                               RD_KAFKA_V_PARTITION(part),
                                               RD_KAFKA_V_VALUE("m", 1),
                                               RD_KAFKA_V_END),
                             0);
    assert_int_equal(rd_kafka_flush(p, TU_TIMEOUT_MS), 0);
    rd_kafka_destroy(p);
    f->consumer = client(RD_KAFKA_CONSUMER, bootstraps);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    rd_kafka_consumer_close(f->consumer);
    rd_kafka_destroy(f->consumer);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
    free(f);
    return 0;
}

static void assign(fx_t *f, int64_t off0, int64_t off1)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);

    rd_kafka_topic_partition_list_add(l, TOPIC, 0)->offset = off0;
    rd_kafka_topic_partition_list_add(l, TOPIC, 1)->offset = off1;
    assert_int_equal(rd_kafka_assign(f->consumer, l), 0);
    rd_kafka_topic_partition_list_destroy(l);
}

/* Consumes until a message of each partition came; next[p] is then the
 * offset after the last one the application received. */
static void consume_one_each(fx_t *f, int64_t next[2])
{
    int64_t deadline = tu_now_ms() + TU_TIMEOUT_MS;
    bool got[2] = {false, false};

    while (!got[0] || !got[1]) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(f->consumer, 100);
        if (tu_now_ms() > deadline)
            fail_msg("no message of partition %d", got[0] ? 1 : 0);
        if (!m)
            continue;
        if (!m->err) {
            got[m->partition] = true;
            next[m->partition] = m->offset + 1;
        }
        rd_kafka_message_destroy(m);
    }
}

/* The watermarks arrive with fetch responses; wait for both. */
static void wait_watermarks(fx_t *f)
{
    int64_t deadline = tu_now_ms() + TU_TIMEOUT_MS;

    for (int p = 0; p < 2; p++) {
        int64_t lo = -1, hi = -1;
        while (rd_kafka_get_watermark_offsets(f->consumer, TOPIC, p, &lo,
                                              &hi) != 0 ||
               hi != HIGH[p]) {
            if (tu_now_ms() > deadline)
                fail_msg("partition %d: high watermark %lld", p, (long long)hi);
            rd_kafka_poll(f->consumer, 50);
        }
    }
}

static void test_lag_exact(void **state)
{
    fx_t *f = *state;
    int64_t next[2] = {0, 0}, deadline;
    double lag = -1;
    int n = -1;

    /* Assigned, nothing consumed: no position, no lag counted. */
    assign(f, 3, 1);
    assert_int_equal(chp_consumer_lag(f->consumer, &lag, &n), CHP_OK);
    assert_int_equal(n, 2);
    assert_true(lag == 0);

    consume_one_each(f, next);
    wait_watermarks(f);
    assert_true(next[0] >= 4 && next[1] >= 2); /* from offsets 3 and 1 */
    assert_int_equal(chp_consumer_lag(f->consumer, &lag, &n), CHP_OK);
    assert_int_equal(n, 2);
    assert_int_equal((int64_t)lag, (HIGH[0] - next[0]) + (HIGH[1] - next[1]));

    /* Consumed to the end: no lag. */
    deadline = tu_now_ms() + TU_TIMEOUT_MS;
    while (next[0] < HIGH[0] || next[1] < HIGH[1]) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(f->consumer, 100);
        if (tu_now_ms() > deadline)
            fail_msg("not consumed to the end: %lld, %lld", (long long)next[0],
                     (long long)next[1]);
        if (m && !m->err)
            next[m->partition] = m->offset + 1;
        if (m)
            rd_kafka_message_destroy(m);
    }
    assert_int_equal(chp_consumer_lag(f->consumer, &lag, &n), CHP_OK);
    assert_true(lag == 0);

    /* Nothing assigned: nothing to count. */
    assert_int_equal(rd_kafka_assign(f->consumer, NULL), 0);
    assert_int_equal(chp_consumer_lag(f->consumer, &lag, &n), CHP_OK);
    assert_int_equal(n, 0);
    assert_true(lag == 0);
}

/* A handle without an assignment to read (a producer): -1, nothing set. */
static void test_no_assignment(void **state)
{
    fx_t *f = *state;
    double lag = 42;
    int n = 42;

    assert_int_equal(chp_consumer_lag(f->mrk, &lag, &n), CHP_ERR_KAFKA);
    assert_true(lag == 42);
    assert_int_equal(n, 42);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_lag_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_assignment, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
