/* E2E (real brokers, real `chaperone collector` processes): the faults
 * production brings to a collector from outside.
 *  - SIGTERM while Kafka is unreachable (the broker SIGSTOPped: pid in
 *    $CHP_RUN_DIR/kafka/kafka.pid, always SIGCONTed again): the collector
 *    exits within daemon.shutdown.timeout.ms, and a restart stores
 *    exactly what was produced (counts and the deliveryFailed, auditDropped
 *    and aborted counts);
 *  - two Kafka clusters (the shared broker and a second one started here
 *    with scripts/kafka.sh) whose audit topics have the same name, one
 *    collector each (cluster = the cluster's own id), one database: exact
 *    totals per cluster, offsets kept apart, also across a restart of both.
 * Exits 77 when CHP_TEST_BROKERS does not answer. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaperone.h"
#include "collector/store.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

#define W 600

static const char *brokers;
static char workdir[256];
static pid_t stopped_broker; /* SIGSTOPped: SIGCONT in teardown */
/* Pids, not proc_t pointers: a failed test's stack is gone by teardown. */
static pid_t live[16];
static int n_live;
static char kafka2_run[300]; /* second cluster's CHP_RUN_DIR, if started */
static int last_http_port;   /* of the collector started last */

typedef struct totals {
    uint64_t count, failed, dropped, aborted, records;
} totals_t;

/* ------------------------------------------------------------ Kafka */

static rd_kafka_t *producer(const char *bs)
{
    rd_kafka_t *rk =
        tu_producer(bs, (const char *const[]){"enable.idempotence", "true",
                                              "linger.ms", "5", NULL});

    assert_non_null(rk);
    return rk;
}

/* n audit messages of source topic src, tier, datacenter dc into audit;
 * their sums added to t. */
static void produce(rd_kafka_t *rk, const char *audit, const char *src,
                    const char *dc, int n, totals_t *t)
{
    int64_t base = (time(NULL) / W) * W - 3 * W;

    for (int i = 0; i < n; i++) {
        chp_auditmsg_t m;
        char *json = NULL;
        size_t len = 0;

        chp_auditmsg_init(&m);
        snprintf(m.topic, sizeof(m.topic), "%s", src);
        m.time_begin = base + W * (i % 3);
        m.time_end = m.time_begin + W;
        m.count = 1 + (uint64_t)(i * 7919 % 500);
        m.total_bytes = m.count * 20;
        m.delivery_failed_count = (uint64_t)(i % 3);
        m.audit_dropped_count = i % 5 == 0;
        m.aborted_count = i % 7 == 0 ? 4 : 0;
        snprintf(m.tier, sizeof(m.tier), "kafka-regional");
        snprintf(m.datacenter, sizeof(m.datacenter), "%s", dc);
        snprintf(m.hostname, sizeof(m.hostname), "host-%d", i % 4);
        chp_uuid_generate(m.uuid);
        m.version = CHP_AUDITMSG_VERSION;
        assert_int_equal(chp_auditmsg_encode(&m, &json, &len), CHP_OK);
        t->count += m.count;
        t->failed += m.delivery_failed_count;
        t->dropped += m.audit_dropped_count;
        t->aborted += m.aborted_count;
        t->records++;
        assert_int_equal(
            tu_produce(rk, audit, RD_KAFKA_PARTITION_UA, m.uuid, 8, json, len),
            0);
        free(json);
        chp_auditmsg_clear(&m);
    }
    assert_int_equal(rd_kafka_flush(rk, 120000), 0);
}

static void cluster_id(const char *bs, char *out, size_t n)
{
    rd_kafka_t *rk = producer(bs);
    char *id = rd_kafka_clusterid(rk, 30000);

    assert_non_null(id);
    snprintf(out, n, "%s", id);
    rd_kafka_mem_free(rk, id);
    rd_kafka_destroy(rk);
}

/* ------------------------------------------------------------ collector */

static void coll_start(proc_t *p, const char *name, const char *bs,
                       const char *audit, const char *url,
                       const char *const *extra)
{
    char kv[16][600], log[600];
    int k = 0;

    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s", bs);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", audit);
    snprintf(kv[k++], sizeof(kv[0]), "db.url=%s", url);
    last_http_port = httpc_free_port();
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", last_http_port);
    snprintf(kv[k++], sizeof(kv[0]), "collector.flush.interval.ms=200");
    snprintf(kv[k++], sizeof(kv[0]), "collector.retry.max.ms=2000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.session.timeout.ms=6000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.heartbeat.interval.ms=1000");
    for (; extra && *extra && k < 16; extra++)
        snprintf(kv[k++], sizeof(kv[0]), "%s", *extra);
    snprintf(log, sizeof(log), "%s/%s.log", workdir, name);
    unlink(log); /* wait_started() reads this run's lines only */
    assert_int_equal(proc_start_x(p, log, "collector", kv[0], sizeof(kv[0]), k),
                     0);
    if (n_live < 16)
        live[n_live++] = p->pid;
}

/* Waits until the collector says it is storing (its signal handlers are
 * in place from then on). */
static void wait_started(proc_t *p)
{
    int64_t deadline = tu_now_ms() + 60000;

    while (tu_now_ms() < deadline && !proc_exited(p)) {
        FILE *f = fopen(p->log, "r");
        char line[1024];
        bool up = false;

        while (f && fgets(line, sizeof(line), f))
            up |= strstr(line, "collector: storing ") != NULL;
        if (f)
            fclose(f);
        if (up)
            return;
        tu_sleep_ms(100);
    }
    proc_dump_log(p);
    fail_msg("collector did not start");
}

static void coll_stop_ok(proc_t *p)
{
    int st;

    wait_started(p);
    st = proc_stop(p, SIGTERM, 60000);

    if (st != 0)
        proc_dump_log(p);
    assert_int_equal(st, 0);
}

typedef struct q {
    const char *dc;
    totals_t t;
} q_t;

static void on_row(const store_row_t *row, void *opaque)
{
    q_t *q = opaque;

    if (q->dc && strcmp(row->datacenter, q->dc))
        return;
    q->t.count += row->count;
    q->t.failed += row->delivery_failed_count;
    q->t.dropped += row->audit_dropped_count;
    q->t.aborted += row->aborted_count;
}

static totals_t stored(const char *url, const char *src, const char *dc)
{
    store_t *s;
    char err[512];
    q_t q = {.dc = dc};

    if (store_open(url, &s, err, sizeof(err)))
        fail_msg("store_open: %s", err);
    if (store_query(s, src, 0, INT64_MAX / 2, on_row, &q, err, sizeof(err)))
        fail_msg("query: %s", err);
    store_close(s);
    return q.t;
}

static bool same(const totals_t *a, const totals_t *b)
{
    return a->count == b->count && a->failed == b->failed &&
           a->dropped == b->dropped && a->aborted == b->aborted;
}

/* Waits until the stored sums of (src, dc) equal want. */
static void wait_exact(const char *url, const char *src, const char *dc,
                       const totals_t *want, proc_t *p, const char *what)
{
    int64_t deadline = tu_now_ms() + 180000;
    totals_t got;

    for (;;) {
        got = stored(url, src, dc);
        if (same(&got, want))
            break;
        if ((p && proc_exited(p)) || tu_now_ms() > deadline) {
            if (p)
                proc_dump_log(p);
            fail_msg("%s: stored count %" PRIu64 " failed %" PRIu64
                     " dropped %" PRIu64 " aborted %" PRIu64
                     ", produced %" PRIu64 "/%" PRIu64 "/%" PRIu64 "/%" PRIu64,
                     what, got.count, got.failed, got.dropped, got.aborted,
                     want->count, want->failed, want->dropped, want->aborted);
        }
        tu_sleep_ms(300);
    }
    fprintf(stderr,
            "%s: produced %" PRIu64 " record(s), count %" PRIu64
            " (deliveryFailed %" PRIu64 ", auditDropped %" PRIu64
            ", aborted %" PRIu64 "); stored the same\n",
            what, want->records, want->count, want->failed, want->dropped,
            want->aborted);
}

/* A metric of the collector on port (summed over labels), -1 if none. */
static double metric(int port, const char *name)
{
    httpc_resp_t r;
    double sum = -1;
    size_t nl = strlen(name);

    if (httpc_request(port, "GET", "/metrics", NULL, 0, 2000, &r) != 0)
        return -1;
    for (char *line = r.body; line && *line;) {
        char *next = strchr(line, '\n');
        if (!strncmp(line, name, nl) && (line[nl] == ' ' || line[nl] == '{'))
            sum = (sum < 0 ? 0 : sum) + strtod(strchr(line, ' ') + 1, NULL);
        line = next ? next + 1 : NULL;
    }
    httpc_free(&r);
    return sum;
}

/* `chaperone report --format csv` of src: the sums of the side-count
 * columns of tier (shown because they are not 0). */
static totals_t reported(const char *url, const char *src, const char *tier)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char cmd[1500], line[4096], want[3][160];
    int col[3] = {-1, -1, -1};
    totals_t t = {0};
    FILE *f;

    snprintf(cmd, sizeof(cmd),
             "'%s/chaperone' report --topic '%s' "
             "--format csv -X 'db.url=%s'",
             bin ? bin : ".", src, url);
    snprintf(want[0], sizeof(want[0]), "%s.delivery_failed", tier);
    snprintf(want[1], sizeof(want[1]), "%s.audit_dropped", tier);
    snprintf(want[2], sizeof(want[2]), "%s.aborted", tier);
    assert_non_null(f = popen(cmd, "r"));
    for (int row = 0; fgets(line, sizeof(line), f); row++) {
        int c = 0;

        for (char *tok = strtok(line, ",\n"); tok;
             tok = strtok(NULL, ",\n"), c++)
            for (int k = 0; k < 3; k++) {
                if (row == 0 && !strcmp(tok, want[k]))
                    col[k] = c;
                else if (row > 0 && c == col[k])
                    *(k == 0   ? &t.failed
                      : k == 1 ? &t.dropped
                               : &t.aborted) += strtoull(tok, NULL, 10);
            }
    }
    assert_int_equal(pclose(f), 0);
    assert_true(col[0] >= 0 && col[1] >= 0 && col[2] >= 0);
    return t;
}

/* ------------------------------------------------- SIGTERM, Kafka away */

static void test_sigterm_kafka_unreachable(void **state)
{
    pid_t bp = tu_broker_pid();
    char id[96], audit[128], src[128], url[400], err[512];
    totals_t want = {0};
    proc_t c;
    rd_kafka_t *rk;
    int64_t t0, took;
    int st, port;

    (void)state;
    if (!bp) {
        fprintf(stderr, "SKIP: no broker pid (CHP_RUN_DIR/kafka/kafka.pid)\n");
        skip();
    }
    tu_unique_name(id, sizeof(id), "fsig");
    snprintf(audit, sizeof(audit), "%s-audit", id);
    snprintf(src, sizeof(src), "%s-src", id);
    snprintf(url, sizeof(url), "sqlite://%s/%s.db", workdir, id);
    assert_int_equal(tu_create_topic(brokers, audit, 3, err, sizeof(err)), 0);
    rk = producer(brokers);
    produce(rk, audit, src, "dc1", 3000, &want);
    coll_start(&c, id, brokers, audit, url,
               (const char *const[]){"daemon.shutdown.timeout.ms=10000",
                                     "collector.flush.interval.ms=4000", NULL});
    port = last_http_port;
    wait_exact(url, src, NULL, &want, &c, "before the broker stops");

    /* More arrives and is consumed; the broker stops answering before
     * the flush, so the flush's group commit waits for a broker (what
     * used to hang the close for minutes); then SIGTERM. */
    produce(rk, audit, src, "dc1", 2000, &want);
    rd_kafka_destroy(rk);
    while (metric(port, "chaperone_collector_records_consumed_total") <
           (double)want.records) {
        assert_false(proc_exited(&c));
        tu_sleep_ms(20);
    }
    assert_int_equal(kill(bp, SIGSTOP), 0);
    stopped_broker = bp;
    /* The flush (database only) goes through while the broker is away. */
    while (metric(port, "chaperone_collector_pending_records") != 0) {
        assert_false(proc_exited(&c));
        tu_sleep_ms(100);
    }
    tu_sleep_ms(1000);
    wait_started(&c);
    t0 = tu_now_ms();
    st = proc_stop(&c, SIGTERM, 120000);
    took = tu_now_ms() - t0;
    fprintf(stderr, "SIGTERM with the broker stopped: exit %d after %lld ms\n",
            st, (long long)took);
    kill(bp, SIGCONT);
    stopped_broker = 0;
    if ((st != 0 && st != 3) || took > 10000 + 20000)
        proc_dump_log(&c);
    /* 0: closed in time; 3: the watchdog ended it at the bound (as every
     * daemon does, daemon.shutdown.timeout.ms). */
    assert_true(st == 0 || st == 3);
    /* The bound is the watchdog's (10 s); 20 s more for a slow machine. */
    assert_true(took <= 10000 + 20000);

    /* Restart: exactly what was produced, nothing lost or doubled. */
    assert_int_equal(tu_brokers_answer(brokers, 60000, err, sizeof(err)), 0);
    coll_start(&c, id, brokers, audit, url, NULL);
    wait_exact(url, src, NULL, &want, &c, "SIGTERM with Kafka stopped");
    coll_stop_ok(&c);

    /* The report shows the side counts, summed like count. */
    {
        totals_t r = reported(url, src, "kafka-regional");

        assert_int_equal(r.failed, want.failed);
        assert_int_equal(r.dropped, want.dropped);
        assert_int_equal(r.aborted, want.aborted);
    }
}

/* ------------------------------------------------- two clusters */

static int kafka_sh(const char *cmd, int port, int cport)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    char sh[1500];

    snprintf(sh, sizeof(sh),
             "CHP_RUN_DIR='%s' KAFKA_PORT=%d KAFKA_CONTROLLER_PORT=%d "
             "'%s/scripts/kafka.sh' %s >>'%s/kafka2.log' 2>&1",
             kafka2_run, port, cport, src ? src : ".", cmd, workdir);
    return system(sh);
}

static void test_two_clusters(void **state)
{
    const char *my = getenv("CHP_TEST_MYSQL_URL");
    char id[96], audit[128], src[128], url[400], err[512], bs2[64];
    char id1[128], id2[128];
    totals_t w1 = {0}, w2 = {0};
    proc_t c1, c2;
    rd_kafka_t *rk1, *rk2;
    int port = httpc_free_port(), cport = httpc_free_port();
    store_t *s;

    (void)state;
    snprintf(kafka2_run, sizeof(kafka2_run), "%s/kafka2", workdir);
    if (kafka_sh("start", port, cport) != 0) {
        fprintf(stderr, "SKIP: cannot start a second Kafka (%s/kafka2.log)\n",
                workdir);
        kafka2_run[0] = '\0';
        skip();
    }
    snprintf(bs2, sizeof(bs2), "127.0.0.1:%d", port);
    cluster_id(brokers, id1, sizeof(id1));
    cluster_id(bs2, id2, sizeof(id2));
    assert_true(strcmp(id1, id2) != 0);

    /* One audit topic name on both, partitioned differently, so each
     * cluster's offsets differ; both collectors write one database. */
    tu_unique_name(id, sizeof(id), "f2c");
    snprintf(audit, sizeof(audit), "%s-audit", id);
    snprintf(src, sizeof(src), "%s-orders", id);
    if (my && *my)
        snprintf(url, sizeof(url), "%s", my);
    else
        snprintf(url, sizeof(url), "sqlite://%s/%s.db", workdir, id);
    assert_int_equal(tu_create_topic(brokers, audit, 2, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(bs2, audit, 2, err, sizeof(err)), 0);
    rk1 = producer(brokers);
    rk2 = producer(bs2);
    produce(rk1, audit, src, "dc1", 1000, &w1);
    produce(rk2, audit, src, "dc2", 3000, &w2);
    coll_start(&c1, "f2c-1", brokers, audit, url, NULL);
    coll_start(&c2, "f2c-2", bs2, audit, url, NULL);
    wait_exact(url, src, "dc1", &w1, &c1, "cluster 1 (dc1)");
    wait_exact(url, src, "dc2", &w2, &c2, "cluster 2 (dc2)");

    /* Both stop; more arrives on both; both start again. */
    coll_stop_ok(&c1);
    coll_stop_ok(&c2);
    produce(rk1, audit, src, "dc1", 1500, &w1);
    produce(rk2, audit, src, "dc2", 500, &w2);
    coll_start(&c1, "f2c-1", brokers, audit, url, NULL);
    coll_start(&c2, "f2c-2", bs2, audit, url, NULL);
    wait_exact(url, src, "dc1", &w1, &c1, "cluster 1 (dc1) after restart");
    wait_exact(url, src, "dc2", &w2, &c2, "cluster 2 (dc2) after restart");
    coll_stop_ok(&c1);
    coll_stop_ok(&c2);
    rd_kafka_destroy(rk1);
    rd_kafka_destroy(rk2);

    /* Each cluster's offsets: exactly its own records (no transactions
     * here, so the offsets of a partition are its record count). */
    assert_int_equal(store_open(url, &s, err, sizeof(err)), CHP_OK);
    for (int k = 0; k < 2; k++) {
        int64_t sum = 0, v;

        for (int p = 0; p < 2; p++) {
            assert_int_equal(
                store_offset(s, k ? id2 : id1, audit, p, &v, err, sizeof(err)),
                CHP_OK);
            sum += v > 0 ? v : 0;
        }
        fprintf(stderr, "cluster %s: stored offsets sum %lld, records %llu\n",
                k ? id2 : id1, (long long)sum,
                (unsigned long long)(k ? w2.records : w1.records));
        assert_int_equal(sum, k ? w2.records : w1.records);
    }
    store_close(s);
    kafka_sh("stop", port, cport);
    kafka2_run[0] = '\0';
}

/* ------------------------------------------------------------ main */

static int teardown(void **state)
{
    (void)state;
    if (stopped_broker)
        kill(stopped_broker, SIGCONT);
    stopped_broker = 0;
    for (int i = 0; i < n_live; i++)
        if (live[i] > 0 && kill(live[i], SIGKILL) == 0)
            waitpid(live[i], NULL, 0);
    n_live = 0;
    if (kafka2_run[0]) {
        kafka_sh("stop", 0, 0);
        kafka2_run[0] = '\0';
    }
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sigterm_kafka_unreachable, teardown),
        cmocka_unit_test_teardown(test_two_clusters, teardown),
    };
    char err[512];

    brokers = tu_brokers();
    if (tu_brokers_answer(brokers, 10000, err, sizeof(err)) != 0)
        tu_skip("%s", err);
    tu_fresh_workdir("e2e-faults-collector", workdir, sizeof(workdir));
    if (getenv("CHP_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CHP_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
