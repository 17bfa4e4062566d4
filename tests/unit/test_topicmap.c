/* Unit tests: the audit name of a topic (lib/topicmap.c) and the tracker
 * auditing replicas under their source topic (topic.map.strip.regex):
 * MirrorMaker 2's dc1.orders and dc2.orders both count as orders. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaperone.h"
#include "topicmap.h"

static const char *map(const chp_topicmap_t *m, const char *topic)
{
    static char buf[CHP_NAME_MAX];

    return chp_topicmap_apply(m, topic, buf, sizeof(buf));
}

static void test_strip_prefix(void **state)
{
    chp_topicmap_t *m;
    char err[256];

    (void)state;
    assert_int_equal(chp_topicmap_new("^(dc1|dc2)\\.", &m, err, sizeof(err)),
                     CHP_OK);
    assert_non_null(m);
    assert_string_equal(map(m, "dc1.orders"), "orders");
    assert_string_equal(map(m, "dc2.orders"), "orders");
    assert_string_equal(map(m, "orders"), "orders");
    assert_string_equal(map(m, "dc3.orders"), "dc3.orders");
    /* Only the first match: a chain of replication keeps one hop. */
    assert_string_equal(map(m, "dc1.dc2.orders"), "dc2.orders");
    /* Nothing left, or an illegal name: kept as it is. */
    assert_string_equal(map(m, "dc1."), "dc1.");
    chp_topicmap_destroy(m);
}

static void test_any_alias_and_middle_match(void **state)
{
    chp_topicmap_t *m;
    char err[256];

    (void)state;
    assert_int_equal(chp_topicmap_new("^[^.]+\\.", &m, err, sizeof(err)),
                     CHP_OK);
    assert_string_equal(map(m, "us-east.clicks.v2"), "clicks.v2");
    assert_string_equal(map(m, "clicks"), "clicks");
    chp_topicmap_destroy(m);
    assert_int_equal(chp_topicmap_new("-replica", &m, err, sizeof(err)),
                     CHP_OK);
    assert_string_equal(map(m, "orders-replica"), "orders");
    assert_string_equal(map(m, "orders-replica-2"), "orders-2");
    chp_topicmap_destroy(m);
}

static void test_identity_and_errors(void **state)
{
    chp_topicmap_t *m = (void *)1;
    char err[256];

    (void)state;
    assert_int_equal(chp_topicmap_new("", &m, err, sizeof(err)), CHP_OK);
    assert_null(m);
    assert_string_equal(map(NULL, "dc1.orders"), "dc1.orders");
    chp_topicmap_destroy(NULL);
    /* An empty match changes nothing. */
    assert_int_equal(chp_topicmap_new("x*", &m, err, sizeof(err)), CHP_OK);
    assert_string_equal(map(m, "orders"), "orders");
    chp_topicmap_destroy(m);
    assert_int_equal(chp_topicmap_new("^(dc1", &m, err, sizeof(err)),
                     CHP_ERR_INVALID_ARG);
    assert_null(m);
    assert_non_null(strstr(err, "\"topic.map.strip.regex\": \"^(dc1\" is "
                                "not a POSIX extended regular expression"));
}

/* ------------------------------------------------------------ tracker */

typedef struct sink {
    char topic[8][CHP_NAME_MAX];
    uint64_t count[8];
    size_t n;
} sink_t;

static chp_err_t sink_cb(const chp_auditmsg_t *msgs, size_t n, void *opaque)
{
    sink_t *s = opaque;

    for (size_t i = 0; i < n; i++) {
        size_t k = 0;
        while (k < s->n && strcmp(s->topic[k], msgs[i].topic))
            k++;
        if (k == s->n)
            snprintf(s->topic[s->n++], CHP_NAME_MAX, "%s", msgs[i].topic);
        s->count[k] += msgs[i].count;
    }
    return CHP_OK;
}

static uint64_t sink_count(const sink_t *s, const char *topic)
{
    for (size_t k = 0; k < s->n; k++)
        if (!strcmp(s->topic[k], topic))
            return s->count[k];
    return (uint64_t)-1;
}

static void test_tracker_audits_replicas_as_source(void **state)
{
    chp_conf_t *conf = chp_conf_new();
    chp_tracker_t *t;
    sink_t s = {.n = 0};
    char err[256];
    int64_t ts = 1478311200000;
    chp_msg_view_t v = {
        .value = "{\"ts\":1478311200}", .value_len = 17, .kafka_ts_ms = -1};

    (void)state;
    assert_int_equal(chp_conf_set(conf, "topic.map.strip.regex",
                                  "^(dc1|dc2)\\.", err, sizeof(err)),
                     CHP_OK);
    /* The rule of the source topic applies to its replicas (the default
     * would find no time in these messages). */
    assert_int_equal(chp_conf_set(conf, "timestamp", "kafka", err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(
        chp_conf_set(conf, "timestamp.topic.orders", "json", err, sizeof(err)),
        CHP_OK);
    assert_int_equal(chp_tracker_new(conf, "kafka-aggregate", 0, sink_cb, &s,
                                     &t, err, sizeof(err)),
                     CHP_OK);
    for (int i = 0; i < 7; i++)
        chp_tracker_track(t, "dc1.orders", CHP_TS_FOUND, ts, 10);
    for (int i = 0; i < 5; i++)
        assert_int_equal(chp_tracker_track_msg(t, "dc2.orders", &v, 10),
                         CHP_TS_FOUND);
    chp_tracker_track(t, "heartbeats", CHP_TS_FOUND, ts, 10);
    assert_int_equal(chp_tracker_flush(t), CHP_OK);
    chp_tracker_destroy(t);
    assert_int_equal(s.n, 2);
    assert_int_equal(sink_count(&s, "orders"), 12);
    assert_int_equal(sink_count(&s, "heartbeats"), 1);

    /* A bad expression: the tracker refuses, naming the key. */
    assert_int_equal(
        chp_conf_set(conf, "topic.map.strip.regex", "[", err, sizeof(err)),
        CHP_OK);
    assert_int_equal(
        chp_tracker_new(conf, "x", 0, sink_cb, &s, &t, err, sizeof(err)),
        CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "topic.map.strip.regex"));
    chp_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strip_prefix),
        cmocka_unit_test(test_any_alias_and_middle_match),
        cmocka_unit_test(test_identity_and_errors),
        cmocka_unit_test(test_tracker_audits_replicas_as_source),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
