/* Integration (real broker): auditing from the client.
 *  - a C program produces N messages over 4 buckets and 3 topics, counting
 *    them with libchaperone's tracker + reporter: the audit topic, read
 *    back with read_committed, sums exactly to N per topic and bucket, with
 *    the right bytes;
 *  - the same through the interceptor plugin loaded into a librdkafka
 *    producer and consumer by configuration alone;
 *  - a misconfigured plugin makes client creation fail, naming the key;
 *  - a transactional producer counted as docs/client.md says (with the
 *    library, after commit_transaction() succeeded): an aborted
 *    transaction does not show up as loss at the next tier (a
 *    read_committed consumer audited by the plugin). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditread.h"
#include "chaperone.h"
#include "testutil.h"

#define TOPICS   3
#define BUCKETS  4
#define PER_CELL 2500 /* messages per (topic, bucket) */
#define T0       1478311200LL

static const char *brokers;

static void plugin_path(char *buf, size_t n)
{
    const char *bin = getenv("CHP_BINARY_DIR");

    snprintf(buf, n, "%s/libchaperone_interceptor.so", bin ? bin : ".");
}

/* The value of message i: JSON with the event time early, a padding field
 * whose length varies, so bytes differ per message. */
static int make_value(char *buf, size_t n, int64_t ts_s, int i)
{
    return snprintf(buf, n, "{\"ts\":%lld,\"id\":%d,\"pad\":\"%.*s\"}",
                    (long long)ts_s, i, i % 40,
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
}

typedef struct expect {
    char topic[TOPICS][128];
    uint64_t count[TOPICS][BUCKETS], bytes[TOPICS][BUCKETS];
} expect_t;

/* Produces the whole data set with rk; fills e. */
static void produce_all(rd_kafka_t *rk, expect_t *e, chp_tracker_t *trk)
{
    char val[256], key[32];

    for (int i = 0; i < TOPICS * BUCKETS * PER_CELL; i++) {
        int tp = i % TOPICS, b = (i / TOPICS) % BUCKETS;
        int64_t ts = T0 + b * 600 + (i % 600);
        int vlen = make_value(val, sizeof(val), ts, i);
        int klen = snprintf(key, sizeof(key), "k%d", i);
        rd_kafka_resp_err_t err;

        do {
            err = rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(e->topic[tp]),
                                    RD_KAFKA_V_KEY(key, (size_t)klen),
                                    RD_KAFKA_V_VALUE(val, (size_t)vlen),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 50);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        assert_int_equal(err, RD_KAFKA_RESP_ERR_NO_ERROR);
        if (trk) {
            chp_msg_view_t v = {
                .value = val, .value_len = (size_t)vlen, .kafka_ts_ms = -1};
            assert_int_equal(chp_tracker_track_msg(trk, e->topic[tp], &v,
                                                   (uint64_t)(klen + vlen)),
                             CHP_TS_FOUND);
        }
        e->count[tp][b]++;
        e->bytes[tp][b] += (uint64_t)(klen + vlen);
    }
    assert_int_equal(rd_kafka_flush(rk, 60000), RD_KAFKA_RESP_ERR_NO_ERROR);
}

static void make_topics(expect_t *e, const char *prefix, char *audit,
                        size_t auditn)
{
    char err[512];

    memset(e, 0, sizeof(*e));
    for (int t = 0; t < TOPICS; t++) {
        tu_unique_name(e->topic[t], sizeof(e->topic[t]), prefix);
        assert_int_equal(
            tu_create_topic(brokers, e->topic[t], 2, err, sizeof(err)), 0);
    }
    tu_unique_name(audit, auditn, "audit");
    assert_int_equal(tu_create_topic(brokers, audit, 3, err, sizeof(err)), 0);
}

static void check_tier(ar_result_t *r, const expect_t *e, const char *tier)
{
    for (int t = 0; t < TOPICS; t++)
        for (int b = 0; b < BUCKETS; b++) {
            ar_sum_t *s = ar_get(r, tier, e->topic[t], T0 + b * 600);
            if (!s)
                fail_msg("no audit for tier %s topic %s bucket %lld", tier,
                         e->topic[t], (long long)(T0 + b * 600));
            assert_int_equal(s->count, e->count[t][b]);
            assert_int_equal(s->bytes, e->bytes[t][b]);
            assert_int_equal(s->no_time, 0);
            assert_int_equal(s->malformed, 0);
        }
    for (int t = 0; t < TOPICS; t++) {
        uint64_t want = 0;
        for (int b = 0; b < BUCKETS; b++)
            want += e->count[t][b];
        assert_int_equal(ar_total(r, tier, e->topic[t]), want);
    }
}

static void test_library_producer(void **state)
{
    expect_t *e = calloc(1, sizeof(*e));
    ar_result_t *r = calloc(1, sizeof(*r));
    char audit[128], kv[256], err[512];
    chp_conf_t *conf = chp_conf_new();
    chp_reporter_t *rep;
    chp_tracker_t *trk;
    rd_kafka_t *rk;
    (void)state;

    make_topics(e, "libprod", audit, sizeof(audit));
    snprintf(kv, sizeof(kv), "audit.topic=%s", audit);
    assert_int_equal(chp_conf_set_kv(conf, kv, err, sizeof(err)), CHP_OK);
    /* A short interval so several emissions (deltas) add up. */
    assert_int_equal(
        chp_conf_set_kv(conf, "report.interval.ms=200", err, sizeof(err)),
        CHP_OK);
    assert_int_equal(chp_reporter_new(conf, brokers, &rep, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(chp_tracker_new(conf, "producer", CHP_TRACKER_F_THREAD,
                                     chp_reporter_emit, rep, &trk, err,
                                     sizeof(err)),
                     CHP_OK);
    rk = tu_producer(brokers, (const char *const[]){"linger.ms", "5", NULL});
    assert_non_null(rk);
    produce_all(rk, e, trk);
    rd_kafka_destroy(rk);
    chp_tracker_destroy(trk);
    assert_int_equal(chp_reporter_flush(rep, 30000), CHP_OK);
    chp_reporter_stats_t st;
    chp_reporter_stats(rep, &st);
    assert_int_equal(st.dropped, 0);
    assert_int_equal(st.pending, 0);
    chp_reporter_destroy(rep, 10000);
    chp_conf_destroy(conf);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    check_tier(r, e, "producer");
    assert_int_equal(ar_total(r, NULL, NULL),
                     (uint64_t)TOPICS * BUCKETS * PER_CELL);
    free(r);
    free(e);
}

/* Producer and consumer audited by the plugin, configured with -X style
 * properties only. */
static void test_plugin_producer_consumer(void **state)
{
    expect_t *e = calloc(1, sizeof(*e));
    ar_result_t *r = calloc(1, sizeof(*r));
    char audit[128], plugin[1024], group[128];
    rd_kafka_t *rk;
    (void)state;

    make_topics(e, "plugprod", audit, sizeof(audit));
    plugin_path(plugin, sizeof(plugin));
    const char *pconf[] = {"plugin.library.paths",
                           plugin,
                           "chaperone.audit.topic",
                           audit,
                           "chaperone.report.interval.ms",
                           "300",
                           "chaperone.datacenter",
                           "dc-test",
                           "linger.ms",
                           "5",
                           NULL};
    rk = tu_producer(brokers, pconf);
    assert_non_null(rk);
    produce_all(rk, e, NULL);
    rd_kafka_destroy(rk); /* plugin's on_destroy: final emission, delivery */

    /* Consume every topic with the plugin: tier consumer-<group.id>. */
    tu_unique_name(group, sizeof(group), "plugcons");
    const char *cconf[] = {"plugin.library.paths",
                           plugin,
                           "chaperone.audit.topic",
                           audit,
                           "enable.partition.eof",
                           "true",
                           NULL};
    rk = tu_consumer(brokers, group, cconf);
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new(TOPICS);
    for (int t = 0; t < TOPICS; t++)
        rd_kafka_topic_partition_list_add(sub, e->topic[t],
                                          RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    uint64_t got = 0, want = (uint64_t)TOPICS * BUCKETS * PER_CELL;
    int eofs = 0;
    int64_t deadline = tu_now_ms() + 120000;
    while ((got < want || eofs < TOPICS * 2) && tu_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eofs++;
        else if (!m->err)
            got++;
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(got, want);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    check_tier(r, e, "producer");
    char ctier[256];
    snprintf(ctier, sizeof(ctier), "consumer-%s", group);
    check_tier(r, e, ctier);
    assert_int_equal(ar_total(r, NULL, NULL), 2 * want);
    free(r);
    free(e);
}

/* Messages the broker never acknowledges (here: sent to a partition the
 * topic does not have, with a short message timeout) are counted when sent
 * and again in deliveryFailedCount when their delivery fails. */
static void test_plugin_delivery_failures(void **state)
{
    ar_result_t *r = calloc(1, sizeof(*r));
    char topic[128], audit[128], plugin[1024], err[512];
    const int good = 50, bad = 20;
    int failed = 0;
    (void)state;

    tu_unique_name(topic, sizeof(topic), "dfail");
    tu_unique_name(audit, sizeof(audit), "dfailaudit");
    assert_int_equal(tu_create_topic(brokers, topic, 1, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(brokers, audit, 1, err, sizeof(err)), 0);
    plugin_path(plugin, sizeof(plugin));
    rd_kafka_t *rk = tu_producer(
        brokers, (const char *const[]){"plugin.library.paths", plugin,
                                       "chaperone.audit.topic", audit,
                                       "message.timeout.ms", "1500", NULL});
    assert_non_null(rk);
    for (int i = 0; i < good + bad; i++) {
        char v[64];
        int len =
            snprintf(v, sizeof(v), "{\"ts\":%lld,\"i\":%d}", (long long)T0, i);
        rd_kafka_resp_err_t e = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(i < good ? 0 : 7), /* 7 does not exist */
            RD_KAFKA_V_VALUE(v, (size_t)len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (e)
            failed++; /* refused at once: acknowledged as failed too */
    }
    rd_kafka_flush(rk, 30000);
    rd_kafka_destroy(rk);
    fprintf(stderr, "refused at produce time: %d of %d\n", failed, bad);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    ar_sum_t *s = ar_get(r, "producer", topic, T0);
    assert_non_null(s);
    /* Every message the application handed over is counted once (on_send
     * runs before the partitioner, so even one refused at once)... */
    assert_int_equal(s->count, (uint64_t)(good + bad));
    /* ...and those the cluster never took are reported as failed. */
    assert_int_equal(s->delivery_failed, (uint64_t)bad);
    free(r);
}

/* One transaction of n messages in topic, event time T0; the library counts
 * them only once the commit succeeded. */
static void txn_round(rd_kafka_t *rk, chp_tracker_t *trk, const char *topic,
                      int n, int base, bool commit)
{
    char err[512];
    int lens[256];

    assert_true(n <= 256);
    assert_int_equal(tu_take_error(rd_kafka_begin_transaction(rk), "begin", err,
                                   sizeof(err)),
                     0);
    for (int i = 0; i < n; i++) {
        char v[64];
        lens[i] = snprintf(v, sizeof(v), "{\"ts\":%lld,\"i\":%d}",
                           (long long)T0, base + i);
        assert_int_equal(
            rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                              RD_KAFKA_V_VALUE(v, (size_t)lens[i]),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                              RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
    }
    if (!commit) {
        assert_int_equal(tu_take_error(rd_kafka_abort_transaction(rk, 30000),
                                       "abort", err, sizeof(err)),
                         0);
        return; /* nothing counted: these never happened */
    }
    assert_int_equal(tu_take_error(rd_kafka_commit_transaction(rk, 30000),
                                   "commit", err, sizeof(err)),
                     0);
    for (int i = 0; i < n; i++)
        chp_tracker_track(trk, topic, CHP_TS_FOUND, T0 * 1000,
                          (uint64_t)lens[i]);
}

static void test_transactional_counted_when_committed(void **state)
{
    ar_result_t *r = calloc(1, sizeof(*r));
    char topic[128], audit[128], txid[128], group[128], plugin[1024];
    char err[512], kv[256];
    chp_conf_t *conf = chp_conf_new();
    chp_reporter_t *rep;
    chp_tracker_t *trk;
    rd_kafka_t *rk;
    (void)state;

    tu_unique_name(topic, sizeof(topic), "txn");
    tu_unique_name(audit, sizeof(audit), "txnaudit");
    tu_unique_name(txid, sizeof(txid), "txnid");
    assert_int_equal(tu_create_topic(brokers, topic, 1, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(brokers, audit, 1, err, sizeof(err)), 0);
    snprintf(kv, sizeof(kv), "audit.topic=%s", audit);
    assert_int_equal(chp_conf_set_kv(conf, kv, err, sizeof(err)), CHP_OK);
    assert_int_equal(chp_reporter_new(conf, brokers, &rep, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(chp_tracker_new(conf, "producer", 0, chp_reporter_emit,
                                     rep, &trk, err, sizeof(err)),
                     CHP_OK);
    rk = tu_producer(brokers,
                     (const char *const[]){"transactional.id", txid, NULL});
    assert_non_null(rk);
    assert_int_equal(tu_take_error(rd_kafka_init_transactions(rk, 30000),
                                   "init", err, sizeof(err)),
                     0);
    txn_round(rk, trk, topic, 200, 0, true);
    txn_round(rk, trk, topic, 150, 200, false); /* aborted */
    txn_round(rk, trk, topic, 100, 350, true);
    rd_kafka_destroy(rk);
    chp_tracker_destroy(trk);
    chp_reporter_destroy(rep, 10000);
    chp_conf_destroy(conf);

    /* The next tier: a read_committed consumer audited by the plugin. */
    plugin_path(plugin, sizeof(plugin));
    tu_unique_name(group, sizeof(group), "txncons");
    rk = tu_consumer(brokers, group,
                     (const char *const[]){"isolation.level", "read_committed",
                                           "plugin.library.paths", plugin,
                                           "chaperone.audit.topic", audit,
                                           "enable.partition.eof", "true",
                                           NULL});
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);
    int got = 0, eof = 0;
    int64_t deadline = tu_now_ms() + 60000;
    while (!eof && tu_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF)
            eof = 1;
        else if (!m->err)
            got++;
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(got, 300);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    char ctier[256];
    snprintf(ctier, sizeof(ctier), "consumer-%s", group);
    ar_sum_t *p = ar_get(r, "producer", topic, T0);
    ar_sum_t *c = ar_get(r, ctier, topic, T0);
    assert_non_null(p);
    assert_non_null(c);
    fprintf(stderr,
            "transactions 200 committed, 150 aborted, 100 committed: "
            "producer %llu, consumer %llu\n",
            (unsigned long long)p->count, (unsigned long long)c->count);
    assert_int_equal(p->count, 300);
    assert_int_equal(c->count, 300);
    assert_int_equal(p->bytes, c->bytes);
    free(r);
}

/* Bad chaperone.* settings fail at configuration time, naming the key. */
static void test_plugin_misconfiguration(void **state)
{
    char plugin[1024], err[512];
    static const char *const bad[][2] = {
        {"chaperone.no.such.key", "1"},
        {"chaperone.bucket.seconds", "0"},
        {"chaperone.bucket.seconds", "ten"},
        {"chaperone.timestamp", "json,bogus"},
        {"chaperone.report.interval.ms", "-5"},
        {"chaperone.kafka.no.such.property", "x"},
    };
    (void)state;

    plugin_path(plugin, sizeof(plugin));
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        assert_int_equal(rd_kafka_conf_set(c, "plugin.library.paths", plugin,
                                           err, sizeof(err)),
                         RD_KAFKA_CONF_OK);
        err[0] = '\0';
        assert_int_not_equal(
            rd_kafka_conf_set(c, bad[i][0], bad[i][1], err, sizeof(err)),
            RD_KAFKA_CONF_OK);
        if (!strstr(err, bad[i][0]))
            fail_msg("error for %s does not name it: %s", bad[i][0], err);
        rd_kafka_conf_destroy(c);
    }
    /* A good key is accepted and does not reach librdkafka as unknown. */
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(c, "plugin.library.paths", plugin, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    assert_int_equal(
        rd_kafka_conf_set(c, "chaperone.tier", "edge", err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plugin_misconfiguration),
        cmocka_unit_test(test_plugin_delivery_failures),
        cmocka_unit_test(test_library_producer),
        cmocka_unit_test(test_plugin_producer_consumer),
        cmocka_unit_test(test_transactional_counted_when_committed),
    };
    brokers = tu_brokers();
    return cmocka_run_group_tests(tests, NULL, NULL);
}
