/* Unit tests: the collector's consumer path against librdkafka's mock
 * cluster, through the real `chaperone collector` binary (SQLite): every
 * audit message stored once, the stored offsets and the group's committed
 * offsets exact, across a second collector joining the group (partitions
 * revoked and assigned) and leaving it again.  The same on Kafka 3.9, with
 * every backend and both rebalance protocols: tests/e2e/test_collector.c.
 * Only the command line and the database are touched, so the test holds
 * whatever the collector's inside looks like. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "chaperone.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

#define AUDIT "audit"
#define GROUP "coll-mock"

typedef struct coll {
    proc_t p;
    int port;
} coll_t;

static struct {
    rd_kafka_t *mrk, *producer;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
    char dir[256], db[512];
    uint64_t sent;   /* sum of count over every message produced */
    int64_t next[2]; /* messages produced per partition */
    pid_t live[8];   /* collectors started; killed by teardown if a
                        failed assertion left them running */
    int n_live;
} g;

static void produce(int part, int n)
{
    for (int i = 0; i < n; i++) {
        chp_auditmsg_t m;
        char *json;
        size_t len;

        chp_auditmsg_init(&m);
        snprintf(m.topic, sizeof(m.topic), "orders");
        snprintf(m.tier, sizeof(m.tier), "producer");
        snprintf(m.datacenter, sizeof(m.datacenter), "dc1");
        snprintf(m.hostname, sizeof(m.hostname), "h%d", part);
        /* Recent buckets: retention (run at every start) keeps them. */
        m.time_begin = (int64_t)time(NULL) / 600 * 600 - 600 * (i % 3);
        m.time_end = m.time_begin + 600;
        m.count = (uint64_t)(g.next[part] + 1); /* distinct per message */
        m.version = CHP_AUDITMSG_VERSION;
        chp_uuid_generate(m.uuid);
        assert_int_equal(chp_auditmsg_encode(&m, &json, &len), CHP_OK);
        assert_int_equal(
            rd_kafka_producev(
                g.producer, RD_KAFKA_V_TOPIC(AUDIT), RD_KAFKA_V_PARTITION(part),
                RD_KAFKA_V_VALUE(json, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END),
            0);
        g.sent += m.count;
        g.next[part]++;
        chp_auditmsg_clear(&m);
    }
    assert_int_equal(rd_kafka_flush(g.producer, TU_TIMEOUT_MS), 0);
}

static void coll_start(coll_t *c, const char *name)
{
    char kv[8][600], log[700];
    const char *args[32];
    int n = 0, k = 0;

    c->port = httpc_free_port();
    assert_true(c->port > 0);
    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s",
             g.bootstraps);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", AUDIT);
    snprintf(kv[k++], sizeof(kv[0]), "collector.group.id=%s", GROUP);
    snprintf(kv[k++], sizeof(kv[0]), "db.url=sqlite://%s", g.db);
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", c->port);
    snprintf(kv[k++], sizeof(kv[0]), "collector.flush.interval.ms=200");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.session.timeout.ms=6000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.heartbeat.interval.ms=500");
    args[n++] = "collector";
    for (int i = 0; i < k; i++) {
        args[n++] = "-X";
        args[n++] = kv[i];
    }
    args[n] = NULL;
    snprintf(log, sizeof(log), "%s/%s.log", g.dir, name);
    assert_int_equal(proc_start(&c->p, log, args), 0);
    assert_true(g.n_live < (int)(sizeof(g.live) / sizeof(g.live[0])));
    g.live[g.n_live++] = c->p.pid;
}

static void coll_stop(coll_t *c)
{
    int st = proc_stop(&c->p, SIGTERM, 30000);

    for (int i = 0; i < g.n_live; i++)
        if (g.live[i] == c->p.pid)
            g.live[i] = 0;

    if (st != 0)
        proc_dump_log(&c->p);
    assert_int_equal(st, 0);
}

/* The collector's gauge name (one series), -1 if unreachable. */
static double metric(const coll_t *c, const char *name)
{
    httpc_resp_t r;
    double v = -1;
    size_t nl = strlen(name);

    if (httpc_request(c->port, "GET", "/metrics", NULL, 0, 2000, &r) != 0)
        return -1;
    for (char *line = r.body; line && *line;) {
        char *next = strchr(line, '\n');
        if (!strncmp(line, name, nl) && line[nl] == ' ')
            v = strtod(line + nl + 1, NULL);
        line = next ? next + 1 : NULL;
    }
    httpc_free(&r);
    return v;
}

static void wait_partitions(const coll_t *c, int want)
{
    int64_t deadline = tu_now_ms() + TU_TIMEOUT_MS;

    while (metric(c, "chaperone_collector_assigned_partitions") != want) {
        if (tu_now_ms() > deadline)
            fail_msg("collector on port %d never held %d partition(s)", c->port,
                     want);
        tu_sleep_ms(100);
    }
}

static int64_t query_i64(const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    int64_t v = -1;

    if (sqlite3_open_v2(g.db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_busy_timeout(db, 5000) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* The group's committed offsets, as a lag tool reads them. */
static void committed(int64_t out[2])
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(2);
    char err[256];
    rd_kafka_t *rk;

    rd_kafka_conf_set(c, "bootstrap.servers", g.bootstraps, err, sizeof(err));
    rd_kafka_conf_set(c, "group.id", GROUP, err, sizeof(err));
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_add(l, AUDIT, 0);
    rd_kafka_topic_partition_list_add(l, AUDIT, 1);
    assert_int_equal(rd_kafka_committed(rk, l, TU_TIMEOUT_MS), 0);
    out[0] = l->elems[0].offset;
    out[1] = l->elems[1].offset;
    rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_destroy(rk);
}

/* Waits until the database holds exactly what was sent, with the stored
 * offsets at the ends of both partitions, and the group committed them. */
static void wait_exact(void)
{
    int64_t deadline = tu_now_ms() + TU_TIMEOUT_MS, sum = -1, o0 = -1, o1 = -1,
            c[2] = {-1, -1};

    for (;;) {
        sum = query_i64("SELECT SUM(count) FROM audit_rows");
        o0 = query_i64("SELECT next_offset FROM source_offsets WHERE "
                       "topic='" AUDIT "' AND part=0");
        o1 = query_i64("SELECT next_offset FROM source_offsets WHERE "
                       "topic='" AUDIT "' AND part=1");
        if (sum == (int64_t)g.sent && o0 == g.next[0] && o1 == g.next[1]) {
            committed(c);
            if (c[0] == g.next[0] && c[1] == g.next[1])
                break;
        }
        if (sum > (int64_t)g.sent)
            fail_msg("stored %lld, sent %llu: counted twice", (long long)sum,
                     (unsigned long long)g.sent);
        if (tu_now_ms() > deadline)
            fail_msg("stored %lld of %llu; offsets %lld,%lld of %lld,%lld; "
                     "committed %lld,%lld",
                     (long long)sum, (unsigned long long)g.sent, (long long)o0,
                     (long long)o1, (long long)g.next[0], (long long)g.next[1],
                     (long long)c[0], (long long)c[1]);
        tu_sleep_ms(200);
    }
}

static rd_kafka_t *new_producer(void)
{
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    char err[256];
    rd_kafka_t *rk;

    rd_kafka_conf_set(c, "bootstrap.servers", g.bootstraps, err, sizeof(err));
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(rk);
    return rk;
}

static int setup(void **state)
{
    rd_kafka_conf_t *c;
    char err[256];
    const char *bin = getenv("CHP_BINARY_DIR");
    char exe[1024];

    /* Built with the tests: missing is a broken build, not a skip. */
    snprintf(exe, sizeof(exe), "%s/chaperone", bin ? bin : ".");
    if (access(exe, X_OK) != 0)
        fail_msg("%s: not built", exe);
    (void)state;
    c = rd_kafka_conf_new();
    rd_kafka_conf_set(c, "log_level", "3", err, sizeof(err));
    g.mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(g.mrk);
    g.mc = rd_kafka_mock_cluster_new(g.mrk, 1);
    assert_non_null(g.mc);
    g.bootstraps = rd_kafka_mock_cluster_bootstraps(g.mc);
    assert_int_equal(rd_kafka_mock_topic_create(g.mc, AUDIT, 2, 1), 0);
    g.producer = new_producer();
    snprintf(g.dir, sizeof(g.dir), "/tmp/chp-coll-mock-XXXXXX");
    assert_non_null(mkdtemp(g.dir));
    snprintf(g.db, sizeof(g.db), "%s/audit.db", g.dir);
    return 0;
}

static int teardown(void **state)
{
    char cmd[400];
    (void)state;

    for (int i = 0; i < g.n_live; i++)
        if (g.live[i] > 0) {
            kill(g.live[i], SIGKILL);
            waitpid(g.live[i], NULL, 0);
        }
    rd_kafka_destroy(g.producer);
    rd_kafka_mock_cluster_destroy(g.mc);
    rd_kafka_destroy(g.mrk);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g.dir);
    return 0;
}

static void test_assign_revoke_commit(void **state)
{
    coll_t a, b;
    (void)state;

    produce(0, 20);
    produce(1, 20);
    coll_start(&a, "a");
    wait_partitions(&a, 2);
    wait_exact();

    /* A second member: one partition each, revoked from a first. */
    coll_start(&b, "b");
    wait_partitions(&b, 1);
    wait_partitions(&a, 1);
    produce(0, 15);
    produce(1, 15);
    wait_exact();

    /* It leaves: a takes both again and resumes at the stored offsets. */
    coll_stop(&b);
    wait_partitions(&a, 2);
    produce(0, 5);
    produce(1, 7);
    wait_exact();
    coll_stop(&a);
    /* 82 messages, each counted once. */
    assert_int_equal(g.next[0] + g.next[1], 82);
    assert_int_equal(query_i64("SELECT SUM(count) FROM audit_rows"),
                     (int64_t)g.sent);
}

static void wait_health(const coll_t *c, int want)
{
    int64_t deadline = tu_now_ms() + TU_TIMEOUT_MS;

    while (httpc_status(c->port, "/health", 5000) != want) {
        if (tu_now_ms() > deadline)
            fail_msg("collector /health never answered %d", want);
        tu_sleep_ms(200);
    }
}

/* The broker goes away and comes back while the audit topic is idle: no
 * record arrives to say so, yet /health must turn OK again (it stayed at
 * 503), and what is produced afterwards is stored exactly once. */
static void test_health_after_outage_idle(void **state)
{
    coll_t c;
    (void)state;

    produce(0, 3);
    produce(1, 3);
    coll_start(&c, "outage");
    wait_partitions(&c, 2);
    wait_exact();
    wait_health(&c, 200);

    assert_int_equal(rd_kafka_mock_broker_set_down(g.mc, 1), 0);
    wait_health(&c, 503);
    assert_int_equal(rd_kafka_mock_broker_set_up(g.mc, 1), 0);
    wait_health(&c, 200); /* nothing produced meanwhile */

    /* The test's own producer does not come back from the mock broker's
     * outage (librdkafka 2.0.2: its flush times out); a new one does. */
    rd_kafka_destroy(g.producer);
    g.producer = new_producer();

    produce(0, 4);
    produce(1, 2);
    wait_exact();
    coll_stop(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_assign_revoke_commit),
        cmocka_unit_test(test_health_after_outage_idle),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
