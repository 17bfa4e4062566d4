/* E2E faults from outside, on the real broker the suite shares (started by
 * scripts/test.sh; its pid in $CHP_RUN_DIR/kafka/kafka.pid), with real
 * `chaperone worker` / `controller` processes:
 *  - the broker paused (SIGSTOP) longer than the worker's transaction
 *    timeout in the middle of a live stream, then resumed;
 *  - the broker restarted over its data (kafka.sh bounce) mid-stream;
 *  - SIGTERM to a worker while the broker is paused: it exits within
 *    daemon.shutdown.timeout.ms, and a restart counts exactly;
 *  - a worker paused longer than its session timeout while another takes
 *    its partitions (cooperative-sticky): its assignment is lost, it must
 *    abort, not commit;
 *  - worker and controller pointed at a closed port: the cause in their own
 *    log line and on /health within seconds, SIGTERM honoured at once.
 * Every case compares the audit totals read back with read_committed to
 * what was produced, per topic and bucket, exactly.  Whatever happens, the
 * broker is resumed (and restarted if it does not answer) at the end of
 * each case: the other tests share it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auditread.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

#define TOPICS         3
#define PARTS          4
#define BUCKETS        4
#define T0             1478311200LL
#define TIER           "kafka-faults"
#define TXN_TIMEOUT_MS 10000
#define SHUTDOWN_MS    10000

static const char *brokers;
static char logdir[256], kafka_sh[512];
static pid_t broker_pid;

typedef struct dataset {
    char topic[TOPICS][128];
    uint64_t count[TOPICS][BUCKETS], total[TOPICS];
    uint64_t sent; /* per topic */
} dataset_t;

/* ------------------------------------------------------------ broker */

static void broker_ensure_up(void)
{
    broker_pid = tu_broker_ensure_up(brokers, kafka_sh);
}

static int teardown(void **state)
{
    (void)state;
    broker_ensure_up();
    return 0;
}

static void broker_bounce(void)
{
    printf("  fault: broker restart (kafka.sh bounce)\n");
    assert_int_equal(system(kafka_sh), 0);
    broker_pid = tu_broker_pid();
    assert_true(broker_pid > 0);
}

/* ------------------------------------------------------------ data */

static void make_topics(dataset_t *d, const char *prefix)
{
    char err[512];

    memset(d, 0, sizeof(*d));
    for (int t = 0; t < TOPICS; t++)
        assert_int_equal(tu_make_topic(brokers, d->topic[t],
                                       sizeof(d->topic[t]), prefix, PARTS, err,
                                       sizeof(err)),
                         0);
}

static void make_audit_topic(char *audit, size_t n)
{
    char err[512];

    assert_int_equal(
        tu_make_topic(brokers, audit, n, "faultaudit", 2, err, sizeof(err)), 0);
}

/* n more messages per topic at rate_per_s in all (0: as fast as can be). */
static void produce(dataset_t *d, uint64_t n, int rate_per_s)
{
    rd_kafka_t *rk = tu_producer(
        brokers, (const char *const[]){"linger.ms", "20", "enable.idempotence",
                                       "true", NULL});
    char buf[160];
    int64_t t0 = tu_now_ms();
    uint64_t sent = 0;

    assert_non_null(rk);
    for (uint64_t i = d->sent; i < d->sent + n; i++) {
        for (int t = 0; t < TOPICS; t++) {
            int b = (int)((i / 5 + (uint64_t)t) % BUCKETS);
            int len =
                snprintf(buf, sizeof(buf), "{\"ts\":%lld,\"i\":%llu}",
                         (long long)(T0 + b * 600 + (int64_t)(i % 600)) * 1000,
                         (unsigned long long)i);
            assert_int_equal(tu_produce(rk, d->topic[t], (int32_t)(i % PARTS),
                                        NULL, 0, buf, (size_t)len),
                             0);
            d->count[t][b]++;
            d->total[t]++;
            sent++;
        }
        if (rate_per_s > 0 && sent % 300 == 0)
            tu_pace(rk, t0, sent, rate_per_s);
    }
    d->sent += n;
    /* Idempotent and patient: a paused or restarting broker delays the
     * stream, it does not change it. */
    assert_int_equal(rd_kafka_flush(rk, 300000), 0);
    rd_kafka_destroy(rk);
}

typedef struct stream {
    dataset_t *d;
    uint64_t n;
    int rate;
    pthread_t th;
} stream_t;

static void *stream_main(void *arg)
{
    stream_t *s = arg;

    produce(s->d, s->n, s->rate);
    return NULL;
}

static void stream_start(stream_t *s, dataset_t *d, uint64_t n, int rate)
{
    *s = (stream_t){d, n, rate, 0};
    assert_int_equal(pthread_create(&s->th, NULL, stream_main, s), 0);
}

static uint64_t grand_total(const dataset_t *d)
{
    uint64_t n = 0;

    for (int t = 0; t < TOPICS; t++)
        n += d->total[t];
    return n;
}

/* ------------------------------------------------------------ processes */

typedef struct wopts {
    const dataset_t *d;
    const char *audit, *group, *instance, *bootstrap, *extra;
    int port;
} wopts_t;

static void start_worker(proc_t *p, const wopts_t *o)
{
    char topics[TOPICS * 130] = "", kv[20][700], log[512];
    int k = 0;

    for (int t = 0; o->d && t < TOPICS; t++) {
        if (t)
            strcat(topics, ",");
        strcat(topics, o->d->topic[t]);
    }
    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s",
             o->bootstrap ? o->bootstrap : brokers);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", o->audit);
    snprintf(kv[k++], sizeof(kv[0]), "worker.topics=%s",
             o->d ? topics : "none");
    snprintf(kv[k++], sizeof(kv[0]), "worker.group.id=%s", o->group);
    snprintf(kv[k++], sizeof(kv[0]), "worker.instance=%s", o->instance);
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", o->port);
    snprintf(kv[k++], sizeof(kv[0]), "worker.use.registry=false");
    snprintf(kv[k++], sizeof(kv[0]), "worker.topics.refresh.ms=1000");
    snprintf(kv[k++], sizeof(kv[0]), "report.interval.ms=500");
    snprintf(kv[k++], sizeof(kv[0]), "cluster.name=faults");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.session.timeout.ms=6000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.heartbeat.interval.ms=1000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.transaction.timeout.ms=%d",
             TXN_TIMEOUT_MS);
    snprintf(kv[k++], sizeof(kv[0]), "daemon.shutdown.timeout.ms=%d",
             SHUTDOWN_MS);
    if (o->extra)
        snprintf(kv[k++], sizeof(kv[0]), "%s", o->extra);
    snprintf(log, sizeof(log), "%s/%s.log", logdir, o->instance);
    assert_int_equal(proc_start_x(p, log, "worker", kv[0], sizeof(kv[0]), k),
                     0);
}

/* ------------------------------------------------------------ audit */

static uint64_t audited(const char *audit, const dataset_t *d, ar_result_t *r)
{
    uint64_t got = 0;

    if (ar_read(brokers, audit, r, 60000) != 0)
        return 0;
    for (int t = 0; t < TOPICS; t++)
        got += ar_total(r, TIER, d->topic[t]);
    return got;
}

static uint64_t wait_audited(const char *audit, const dataset_t *d,
                             uint64_t want, int timeout_ms, ar_result_t *r)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    uint64_t got = 0;

    while (tu_now_ms() < deadline) {
        if ((got = audited(audit, d, r)) >= want)
            break;
        tu_sleep_ms(1000);
    }
    return got;
}

static void check_exact(const char *what, ar_result_t *r, const dataset_t *d)
{
    uint64_t all = 0;

    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    for (int t = 0; t < TOPICS; t++) {
        for (int b = 0; b < BUCKETS; b++) {
            ar_sum_t *s = ar_get(r, TIER, d->topic[t], T0 + b * 600);
            uint64_t got = s ? s->count : 0;
            if (got != d->count[t][b])
                fail_msg("%s: %s bucket %d: audited %llu, produced %llu", what,
                         d->topic[t], b, (unsigned long long)got,
                         (unsigned long long)d->count[t][b]);
        }
        assert_int_equal(ar_total(r, TIER, d->topic[t]), d->total[t]);
        all += d->total[t];
    }
    printf("  %s: produced %llu, audited %llu (read_committed), exact per "
           "topic and bucket\n",
           what, (unsigned long long)grand_total(d), (unsigned long long)all);
}

/* Waits for the full total, stops the workers with SIGTERM (exit 0), reads
 * once more (nothing may appear after) and compares exactly. */
static void finish(const char *what, const char *audit, const dataset_t *d,
                   proc_t *ws, int nw)
{
    ar_result_t *r = calloc(1, sizeof(*r));
    uint64_t want = grand_total(d);
    uint64_t got = wait_audited(audit, d, want, 300000, r);

    for (int i = 0; i < nw; i++) {
        if (ws[i].pid <= 0 || ws[i].exited)
            continue;
        int st = proc_stop(&ws[i], SIGTERM, 60000);
        if (st != 0) {
            proc_dump_log(&ws[i]);
            fail_msg("worker exited with %d on SIGTERM", st);
        }
    }
    if (got != want) {
        for (int i = 0; i < nw; i++)
            proc_dump_log(&ws[i]);
        fail_msg("%s: audited %llu of %llu before the deadline", what,
                 (unsigned long long)got, (unsigned long long)want);
    }
    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    check_exact(what, r, d);
    free(r);
}

/* ------------------------------------------------------------ cases */

static void test_broker_paused(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128];
    stream_t s;
    proc_t w;
    (void)state;

    make_topics(d, "paused");
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    wopts_t o = {d, audit, group, "paused-w1", NULL, NULL, httpc_free_port()};
    start_worker(&w, &o);
    proc_wait_log(&w, "transactions ready", 60000);
    /* ~30 s of live stream; the pause falls in its middle. */
    stream_start(&s, d, 20000, 2000);
    proc_wait_log(&w, "assigned [1-9]", 60000);
    tu_sleep_ms(6000);
    printf("  fault: broker SIGSTOP for %d ms (transaction timeout %d ms)\n",
           TXN_TIMEOUT_MS + 8000, TXN_TIMEOUT_MS);
    kill(broker_pid, SIGSTOP);
    tu_sleep_ms(TXN_TIMEOUT_MS + 8000);
    kill(broker_pid, SIGCONT);
    pthread_join(s.th, NULL);
    finish("broker paused", audit, d, &w, 1);
    free(d);
}

static void test_broker_restart(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128];
    stream_t s;
    proc_t w;
    (void)state;

    make_topics(d, "bounce");
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    wopts_t o = {d, audit, group, "bounce-w1", NULL, NULL, httpc_free_port()};
    start_worker(&w, &o);
    proc_wait_log(&w, "transactions ready", 60000);
    stream_start(&s, d, 20000, 2000);
    proc_wait_log(&w, "assigned [1-9]", 60000);
    tu_sleep_ms(5000);
    broker_bounce();
    pthread_join(s.th, NULL);
    finish("broker restarted", audit, d, &w, 1);
    free(d);
}

static void test_sigterm_unreachable(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    ar_result_t *r = calloc(1, sizeof(*r));
    char audit[128], group[128];
    stream_t s;
    proc_t w;
    int64_t t0, took;
    int st;
    (void)state;

    make_topics(d, "term");
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    wopts_t o = {d, audit, group, "term-w1", NULL, NULL, httpc_free_port()};
    produce(d, 5000, 0);
    start_worker(&w, &o);
    assert_int_equal(wait_audited(audit, d, grand_total(d), 120000, r),
                     grand_total(d));
    /* More arrives while the worker counts; then Kafka goes away. */
    stream_start(&s, d, 10000, 3000);
    tu_sleep_ms(2000);
    printf("  fault: broker SIGSTOP, then SIGTERM to the worker\n");
    kill(broker_pid, SIGSTOP);
    tu_sleep_ms(1000);
    t0 = tu_now_ms();
    st = proc_stop(&w, SIGTERM, SHUTDOWN_MS + 60000);
    took = tu_now_ms() - t0;
    printf("  worker exited with %d, %lld ms after SIGTERM (bound %d ms)\n", st,
           (long long)took, SHUTDOWN_MS);
    if (took > SHUTDOWN_MS + 5000) {
        proc_dump_log(&w);
        fail_msg("SIGTERM took %lld ms, bound %d ms", (long long)took,
                 SHUTDOWN_MS);
    }
    /* 0 only if the last emission happened to commit before the pause. */
    assert_true(st == 0 || st == 1 || st == 3);
    kill(broker_pid, SIGCONT);
    pthread_join(s.th, NULL);
    /* The next start replays what was not committed, once. */
    start_worker(&w, &o);
    finish("SIGTERM while unreachable, restarted", audit, d, &w, 1);
    free(r);
    free(d);
}

/* Worker 1 paused longer than its session timeout: worker 2 takes its
 * partitions (cooperative-sticky); when worker 1 resumes its assignment is
 * lost and its open transaction must not commit. */
static void test_lost_assignment(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128];
    const char *coop = "kafka.partition.assignment.strategy="
                       "cooperative-sticky";
    stream_t s;
    proc_t w[2];
    (void)state;

    make_topics(d, "lost");
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    wopts_t o1 = {d, audit, group, "lost-w1", NULL, coop, httpc_free_port()};
    wopts_t o2 = {d, audit, group, "lost-w2", NULL, coop, httpc_free_port()};
    start_worker(&w[0], &o1);
    start_worker(&w[1], &o2);
    stream_start(&s, d, 20000, 2000);
    proc_wait_log(&w[0], "assigned [1-9]", 60000);
    proc_wait_log(&w[1], "assigned [1-9]", 60000);
    tu_sleep_ms(4000);
    printf("  fault: worker 1 SIGSTOP for 15 s (session timeout 6 s)\n");
    kill(w[0].pid, SIGSTOP);
    tu_sleep_ms(15000);
    kill(w[0].pid, SIGCONT);
    pthread_join(s.th, NULL);
    finish("worker paused past its session timeout", audit, d, w, 2);
    printf("  worker 1 log: %d line(s) \"lost\"\n",
           proc_log_count(w[0].log, "lost"));
    free(d);
}

static int health(int port, char *body, size_t n)
{
    httpc_resp_t r;
    int st;

    if (httpc_request(port, "GET", "/health", NULL, 0, 5000, &r) != 0)
        return -1;
    st = r.status;
    snprintf(body, n, "%s", r.body ? r.body : "");
    httpc_free(&r);
    return st;
}

static void expect_unhealthy_then_term(proc_t *p, int port, const char *who)
{
    char body[1024] = "", needle[64];
    int64_t deadline = tu_now_ms() + 30000, t0;
    int st;

    snprintf(needle, sizeof(needle), "%s: cannot reach Kafka", who);
    proc_wait_log(p, needle, 30000);
    while (tu_now_ms() < deadline &&
           !(health(port, body, sizeof(body)) == 503 &&
             strstr(body, "cannot reach Kafka")))
        tu_sleep_ms(200);
    if (!strstr(body, "cannot reach Kafka")) {
        proc_dump_log(p);
        fail_msg("%s /health: %s", who, body);
    }
    printf("  %s /health: 503 %s\n", who, body);
    t0 = tu_now_ms();
    st = proc_stop(p, SIGTERM, 60000);
    printf("  %s exited with %d, %lld ms after SIGTERM\n", who, st,
           (long long)(tu_now_ms() - t0));
    assert_int_equal(st, 0);
    assert_true(tu_now_ms() - t0 < SHUTDOWN_MS);
}

static void test_unreachable_cause(void **state)
{
    int port = httpc_free_port(), cport = httpc_free_port();
    char closed[64], log[512], kv[4][200];
    proc_t w, c;
    (void)state;

    /* A port nobody listens on. */
    snprintf(closed, sizeof(closed), "127.0.0.1:%d", httpc_free_port());
    wopts_t o = {
        NULL, "faultaudit-none", "grp-none", "unreach-w1", closed, NULL, port};
    start_worker(&w, &o);
    expect_unhealthy_then_term(&w, port, "worker");

    snprintf(kv[0], sizeof(kv[0]), "kafka.bootstrap.servers=%s", closed);
    snprintf(kv[1], sizeof(kv[1]), "http.port=%d", cport);
    snprintf(kv[2], sizeof(kv[2]), "daemon.shutdown.timeout.ms=%d",
             SHUTDOWN_MS);
    snprintf(log, sizeof(log), "%s/unreach-controller.log", logdir);
    assert_int_equal(
        proc_start_x(&c, log, "controller", kv[0], sizeof(kv[0]), 3), 0);
    expect_unhealthy_then_term(&c, cport, "controller");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_unreachable_cause, teardown),
        cmocka_unit_test_teardown(test_broker_paused, teardown),
        cmocka_unit_test_teardown(test_broker_restart, teardown),
        cmocka_unit_test_teardown(test_sigterm_unreachable, teardown),
        cmocka_unit_test_teardown(test_lost_assignment, teardown),
    };
    int rc;

    brokers = tu_brokers();
    broker_pid = tu_broker_for_faults(brokers, kafka_sh, sizeof(kafka_sh));
    proc_log_dir(logdir, sizeof(logdir), "e2e-logs/faults", "*.log");
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    broker_ensure_up();
    return rc;
}
