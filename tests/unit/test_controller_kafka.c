/* Unit tests: the controller's Kafka-facing side (controller/cluster.c,
 * controller/registry_writer.c) and the workers' registry reader
 * (worker/registry.c) against librdkafka's mock cluster: metadata that
 * never creates a topic, registry writes acknowledged exactly once and read
 * back by the other side, a broker down, and the group description.
 *
 * librdkafka 2.0.2's mock cluster answers no CreateTopics and no
 * DescribeGroups, so creating the registry topic and describing a live
 * group are tested against Kafka 3.9 (tests/e2e/test_controller.c); here
 * only the description's failure when the coordinator is down.  (Against a
 * broker without the DescribeGroups API at all, which no real Kafka since
 * 0.9 is, librdkafka 2.0.2 then asserts in rd_kafka_destroy: so the mock's
 * "unsupported" answer is not exercised.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "controller/kafka.h"
#include "testutil.h"
#include "worker/registry.h"
#include "conf_daemon.h"

#define REG    "__reg"
#define GROUP  "ctl-workers"
#define LEADER 1 /* broker leading the registry topic */
#define COORD  2 /* the group coordinator */

enum { API_PRODUCE = 0 }; /* rdkafka_protocol.h is not installed */

typedef struct fx {
    rd_kafka_t *mrk;
    rd_kafka_mock_cluster_t *mc;
    chp_conf_t *conf;
    ctl_kafka_t *k;
    ctl_cluster_t cl;
} fx_t;

static void set(fx_t *f, const char *k, const char *v)
{
    char err[256];

    if (chp_conf_set(f->conf, k, v, err, sizeof(err)) != CHP_OK)
        fail_msg("%s: %s", k, err);
}

static int setup(void **state)
{
    fx_t *f = calloc(1, sizeof(*f));
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];

    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, 3);
    assert_non_null(f->mc);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, REG, 1, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "orders", 3, 1), 0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "clicks", 1, 1), 0);
    rd_kafka_mock_partition_set_leader(f->mc, REG, 0, LEADER);
    f->conf = conf_daemon_new();
    set(f, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(f->mc));
    set(f, "worker.registry", REG);
    set(f, "worker.group.id", GROUP);
    set(f, "kafka.message.timeout.ms", "3000");
    set(f, "kafka.log_level", "2");
    f->k = ctl_kafka_new(f->conf, NULL, err, sizeof(err));
    if (!f->k)
        fail_msg("ctl_kafka_new: %s", err);
    ctl_kafka_cluster(f->k, &f->cl);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fx_t *f = *state;

    ctl_kafka_destroy(f->k);
    chp_conf_destroy(f->conf);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
    free(f);
    return 0;
}

static void put(fx_t *f, const char *topic, reg_state_t st)
{
    char err[512];

    if (ctl_kafka_registry_put(f->k, topic, st, err, sizeof(err)) != CHP_OK)
        fail_msg("registry_put %s: %s", topic, err);
}

/* Records in the registry topic (its high watermark, asked of Kafka). */
static int64_t records(fx_t *f)
{
    int64_t lo = -1, hi = -1;

    assert_int_equal(rd_kafka_query_watermark_offsets(f->k->rk, REG, 0, &lo,
                                                      &hi, TU_TIMEOUT_MS),
                     0);
    return hi;
}

/* The registry as the workers read it. */
static registry_t *load(fx_t *f)
{
    registry_t *r = registry_new();
    char err[512];
    chp_err_t rc =
        registry_load(f->conf, REG, r, TU_TIMEOUT_MS, err, sizeof(err));

    if (rc != CHP_OK)
        fail_msg("registry_load: %d %s", rc, err);
    return r;
}

static void test_metadata(void **state)
{
    fx_t *f = *state;
    topic_set_t ts;
    char err[512];

    assert_int_equal(f->cl.list_topics(f->cl.opaque, &ts, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(ts.n, 3);
    assert_string_equal(ts.names[0], REG); /* sorted: '_' < 'c' */
    assert_string_equal(ts.names[1], "clicks");
    assert_string_equal(ts.names[2], "orders");
    topic_set_clear(&ts);
    assert_int_equal(
        f->cl.topic_partitions(f->cl.opaque, "orders", err, sizeof(err)), 3);
    assert_int_equal(
        f->cl.topic_partitions(f->cl.opaque, "clicks", err, sizeof(err)), 1);
    /* Asking about a topic never creates it. */
    assert_int_equal(
        f->cl.topic_partitions(f->cl.opaque, "nosuch", err, sizeof(err)), 0);
    assert_int_equal(f->cl.list_topics(f->cl.opaque, &ts, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(ts.n, 3);
    topic_set_clear(&ts);
}

/* What the controller writes, the workers read: last record wins, a
 * tombstone forgets, one record per write. */
static void test_registry_round_trip(void **state)
{
    fx_t *f = *state;
    registry_t *r;

    put(f, "orders", REG_AUDITED);
    put(f, "clicks", REG_BLACKLISTED);
    put(f, "orders", REG_BLACKLISTED);
    put(f, "clicks", REG_ABSENT);
    put(f, "views", REG_AUDITED);
    assert_int_equal(records(f), 5);
    r = load(f);
    assert_int_equal(registry_state(r, "orders"), REG_BLACKLISTED);
    assert_int_equal(registry_state(r, "clicks"), REG_ABSENT);
    assert_int_equal(registry_state(r, "views"), REG_AUDITED);
    assert_true(registry_has(r, "views"));
    registry_destroy(r);
}

/* Retriable produce errors: the idempotent producer retries, the write
 * returns once acknowledged, and the topic holds it once. */
static void test_registry_put_retried(void **state)
{
    fx_t *f = *state;
    registry_t *r;

    put(f, "orders", REG_AUDITED); /* producer id acquired */
    rd_kafka_mock_push_request_errors(
        f->mc, API_PRODUCE, 3, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS);
    put(f, "clicks", REG_AUDITED);
    assert_int_equal(records(f), 2);
    r = load(f);
    assert_int_equal(registry_state(r, "orders"), REG_AUDITED);
    assert_int_equal(registry_state(r, "clicks"), REG_AUDITED);
    registry_destroy(r);
}

/* The registry's leader down: the write fails with a message, not an
 * acknowledgement; once it is back, a retried write goes through. */
static void test_registry_put_broker_down(void **state)
{
    fx_t *f = *state;
    char err[512] = "";
    registry_t *r;
    chp_err_t rc = CHP_ERR_KAFKA;

    put(f, "orders", REG_AUDITED);
    rd_kafka_mock_broker_set_down(f->mc, LEADER);
    assert_int_equal(
        ctl_kafka_registry_put(f->k, "clicks", REG_AUDITED, err, sizeof(err)),
        CHP_ERR_KAFKA);
    assert_non_null(strstr(err, REG));
    rd_kafka_mock_broker_set_up(f->mc, LEADER);
    /* "Outcome unknown: retry the same write" (kafka.h). */
    for (int i = 0; i < 5 && rc != CHP_OK; i++)
        rc = ctl_kafka_registry_put(f->k, "clicks", REG_AUDITED, err,
                                    sizeof(err));
    if (rc != CHP_OK)
        fail_msg("registry_put after the broker came back: %s", err);
    assert_false(ctl_kafka_fatal(f->k, err, sizeof(err)));
    r = load(f);
    assert_int_equal(registry_state(r, "orders"), REG_AUDITED);
    assert_int_equal(registry_state(r, "clicks"), REG_AUDITED);
    registry_destroy(r);
}

/* The group's coordinator down: an error naming the group and the cause,
 * an empty group, within the request timeout. */
static void test_describe_group_coordinator_down(void **state)
{
    fx_t *f = *state;
    ctl_group_t g;
    char err[512] = "";

    rd_kafka_mock_coordinator_set(f->mc, "group", GROUP, COORD);
    rd_kafka_mock_broker_set_down(f->mc, COORD);
    assert_int_equal(
        f->cl.describe_group(f->cl.opaque, "orders", &g, err, sizeof(err)),
        CHP_ERR_KAFKA);
    assert_non_null(strstr(err, GROUP));
    assert_non_null(strstr(err, "Timed out"));
    assert_null(g.state);
    assert_null(g.members);
    assert_int_equal(g.n_members, 0);
    rd_kafka_mock_broker_set_up(f->mc, COORD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
        cmocka_unit_test_setup_teardown(test_registry_round_trip, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_registry_put_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_registry_put_broker_down, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_describe_group_coordinator_down,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
