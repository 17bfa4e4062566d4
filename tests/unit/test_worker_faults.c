/* Fault injection into the worker's transactions, in-process: the real
 * worker loop (worker_run) against librdkafka's mock cluster, with request
 * errors, slow responses and a broker down pushed at the moment the next
 * emission runs.  After each fault the worker must commit again with exact
 * totals per topic and bucket, and /metrics and /health must tell what
 * happened.
 *
 * librdkafka 2.0.2's mock cluster writes no transaction markers and does
 * not store TxnOffsetCommit offsets (rdkafka_mock_handlers.c), so aborted
 * audit messages stay readable there.  The totals are therefore taken from
 * the worker's transaction observer (worker_hooks_t): an audit message
 * counts once its transaction committed, and never if it aborted.  The
 * read_committed truth on a real broker is in tests/e2e/test_faults_worker.c.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "httpc.h"
#include "log.h"
#include "testutil.h"
#include "worker/worker.h"
#include "conf_daemon.h"

#define TOPICS  2
#define PARTS   4
#define BUCKETS 4
#define T0      1478311200LL
#define TXID    "faults-w1"
#define GROUP   "faults-group"
#define COORD   1 /* broker of the transaction and group coordinators */

/* Kafka protocol ApiKeys (rdkafka_protocol.h is not installed). */
enum {
    API_PRODUCE = 0,
    API_INIT_PRODUCER_ID = 22,
    API_ADD_PARTITIONS_TO_TXN = 24,
    API_ADD_OFFSETS_TO_TXN = 25,
    API_END_TXN = 26,
    API_TXN_OFFSET_COMMIT = 28,
};

static const char *const topics[TOPICS] = {"src-a", "src-b"};

/* What the worker committed, from its observer. */
typedef struct ledger {
    pthread_mutex_t lock;
    uint64_t pending[TOPICS][BUCKETS], committed[TOPICS][BUCKETS];
    uint64_t commits, aborts, strays;
} ledger_t;

typedef struct fx {
    rd_kafka_t *mrk;
    rd_kafka_mock_cluster_t *mc;
    const char *bootstraps;
    chp_conf_t *conf;
    ledger_t led;
    worker_hooks_t hooks;
    uint64_t produced[TOPICS][BUCKETS];
    uint64_t sent; /* per topic */
    volatile int stop;
    int port, rc;
    char err[512];
    pthread_t thr;
} fx_t;

static int topic_index(const char *t)
{
    for (int i = 0; i < TOPICS; i++)
        if (!strcmp(t, topics[i]))
            return i;
    return -1;
}

static void on_emitted(void *opaque, const chp_auditmsg_t *m)
{
    ledger_t *l = opaque;
    int t = topic_index(m->topic);
    int64_t b = (m->time_begin - T0) / 600;

    pthread_mutex_lock(&l->lock);
    if (t < 0 || b < 0 || b >= BUCKETS || m->no_time_count ||
        m->malformed_count)
        l->strays++;
    else
        l->pending[t][b] += m->count;
    pthread_mutex_unlock(&l->lock);
}

static void on_ended(void *opaque, bool committed)
{
    ledger_t *l = opaque;

    pthread_mutex_lock(&l->lock);
    for (int t = 0; t < TOPICS; t++)
        for (int b = 0; b < BUCKETS; b++) {
            if (committed)
                l->committed[t][b] += l->pending[t][b];
            l->pending[t][b] = 0;
        }
    if (committed)
        l->commits++;
    else
        l->aborts++;
    pthread_mutex_unlock(&l->lock);
}

static void set(fx_t *f, const char *k, const char *v)
{
    char err[256];

    if (chp_conf_set(f->conf, k, v, err, sizeof(err)) != CHP_OK)
        fail_msg("%s: %s", k, err);
}

static void fx_init(fx_t *f, const char *const *extra)
{
    char port[16], errstr[256];
    rd_kafka_conf_t *c = rd_kafka_conf_new();

    memset(f, 0, sizeof(*f));
    pthread_mutex_init(&f->led.lock, NULL);
    f->hooks = (worker_hooks_t){on_emitted, on_ended, &f->led};
    /* A handle only to own the mock cluster. */
    rd_kafka_conf_set(c, "log_level", "3", errstr, sizeof(errstr));
    f->mrk = rd_kafka_new(RD_KAFKA_PRODUCER, c, errstr, sizeof(errstr));
    assert_non_null(f->mrk);
    f->mc = rd_kafka_mock_cluster_new(f->mrk, 3);
    assert_non_null(f->mc);
    f->bootstraps = rd_kafka_mock_cluster_bootstraps(f->mc);
    for (int t = 0; t < TOPICS; t++)
        assert_int_equal(rd_kafka_mock_topic_create(f->mc, topics[t], PARTS, 1),
                         0);
    assert_int_equal(rd_kafka_mock_topic_create(f->mc, "audit", 2, 1), 0);
    /* One broker coordinates and leads the audit topic: taking it down
     * hits every step of a transaction. */
    rd_kafka_mock_coordinator_set(f->mc, "transaction", TXID, COORD);
    rd_kafka_mock_coordinator_set(f->mc, "group", GROUP, COORD);
    rd_kafka_mock_partition_set_leader(f->mc, "audit", 0, COORD);
    rd_kafka_mock_partition_set_leader(f->mc, "audit", 1, COORD);

    f->conf = conf_daemon_new();
    f->port = httpc_free_port();
    snprintf(port, sizeof(port), "%d", f->port);
    set(f, "kafka.bootstrap.servers", f->bootstraps);
    set(f, "audit.topic", "audit");
    set(f, "worker.topics", "src-a,src-b");
    set(f, "worker.use.registry", "false");
    set(f, "worker.group.id", GROUP);
    set(f, "worker.instance", "w1");
    set(f, "worker.transactional.id.prefix", "faults");
    set(f, "worker.topics.refresh.ms", "500");
    set(f, "report.interval.ms", "200");
    set(f, "cluster.name", "mock");
    set(f, "http.port", port);
    set(f, "kafka.transaction.timeout.ms", "4000");
    set(f, "kafka.log_level", "2"); /* the worker's own lines tell enough */
    for (size_t i = 0; extra && extra[i]; i += 2)
        set(f, extra[i], extra[i + 1]);
}

static void *worker_thread(void *arg)
{
    fx_t *f = arg;

    f->rc = worker_run(f->conf, &f->hooks, &f->stop, f->err, sizeof(f->err));
    return NULL;
}

static void fx_start(fx_t *f)
{
    assert_int_equal(pthread_create(&f->thr, NULL, worker_thread, f), 0);
}

static void fx_stop(fx_t *f)
{
    f->stop = 1;
    pthread_join(f->thr, NULL);
    if (f->rc != 0)
        fail_msg("worker_run returned %d: %s", f->rc, f->err);
    chp_conf_destroy(f->conf);
    rd_kafka_mock_cluster_destroy(f->mc);
    rd_kafka_destroy(f->mrk);
    pthread_mutex_destroy(&f->led.lock);
}

/* n more messages per topic, each with a timestamp in one of the buckets. */
static void produce(fx_t *f, uint64_t n)
{
    rd_kafka_t *rk = tu_producer(f->bootstraps,
                                 (const char *const[]){"linger.ms", "5", NULL});
    char buf[128];

    assert_non_null(rk);
    for (uint64_t i = f->sent; i < f->sent + n; i++)
        for (int t = 0; t < TOPICS; t++) {
            int b = (int)((i / 3 + (uint64_t)t) % BUCKETS);
            int len =
                snprintf(buf, sizeof(buf), "{\"ts\":%lld,\"i\":%llu}",
                         (long long)(T0 + b * 600 + (int64_t)(i % 600)) * 1000,
                         (unsigned long long)i);
            assert_int_equal(
                rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topics[t]),
                                  RD_KAFKA_V_PARTITION((int32_t)(i % PARTS)),
                                  RD_KAFKA_V_VALUE(buf, (size_t)len),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                  RD_KAFKA_V_END),
                0);
            f->produced[t][b]++;
        }
    f->sent += n;
    assert_int_equal(rd_kafka_flush(rk, 30000), 0);
    rd_kafka_destroy(rk);
}

static uint64_t sum(const uint64_t a[TOPICS][BUCKETS])
{
    uint64_t n = 0;

    for (int t = 0; t < TOPICS; t++)
        for (int b = 0; b < BUCKETS; b++)
            n += a[t][b];
    return n;
}

/* Waits until the committed total reaches the produced one, then compares
 * per topic and bucket, exactly.  Returns the committed total. */
static uint64_t expect_exact(fx_t *f, const char *when)
{
    int64_t deadline = tu_now_ms() + 120000;
    uint64_t want = sum(f->produced), got = 0;

    while (tu_now_ms() < deadline) {
        pthread_mutex_lock(&f->led.lock);
        got = sum(f->led.committed);
        pthread_mutex_unlock(&f->led.lock);
        if (got >= want)
            break;
        tu_sleep_ms(50);
    }
    /* Anything committed twice would show now or in the next emissions. */
    tu_sleep_ms(600);
    pthread_mutex_lock(&f->led.lock);
    got = sum(f->led.committed);
    printf("  %s: produced %llu, committed %llu (%llu commits, %llu aborted "
           "or unknown)\n",
           when, (unsigned long long)want, (unsigned long long)got,
           (unsigned long long)f->led.commits,
           (unsigned long long)f->led.aborts);
    assert_int_equal(f->led.strays, 0);
    for (int t = 0; t < TOPICS; t++)
        for (int b = 0; b < BUCKETS; b++)
            if (f->led.committed[t][b] != f->produced[t][b])
                fail_msg("%s: %s bucket %d: committed %llu, produced %llu",
                         when, topics[t], b,
                         (unsigned long long)f->led.committed[t][b],
                         (unsigned long long)f->produced[t][b]);
    pthread_mutex_unlock(&f->led.lock);
    return got;
}

/* The value of one line of /metrics (name with its labels), or -1. */
static double metric(fx_t *f, const char *name)
{
    httpc_resp_t r;
    double v = -1;
    char *p;

    if (httpc_request(f->port, "GET", "/metrics", NULL, 0, 10000, &r) != 0)
        return -1;
    for (p = r.body; p && (p = strstr(p, name)); p++)
        if ((p == r.body || p[-1] == '\n') && p[strlen(name)] == ' ') {
            v = strtod(p + strlen(name) + 1, NULL);
            break;
        }
    httpc_free(&r);
    return v;
}

static int health_status(fx_t *f)
{
    return httpc_status(f->port, "/health", 10000);
}

#define ERR_RETRIABLE "chaperone_worker_txn_errors_total{class=\"retriable\"}"
#define ERR_ABORTABLE "chaperone_worker_txn_errors_total{class=\"abortable\"}"
#define ERR_FATAL     "chaperone_worker_txn_errors_total{class=\"fatal\"}"
#define RECREATED     "chaperone_worker_producer_recreated_total"
#define ABORTS        "chaperone_worker_transaction_aborts_total"
#define EMISSIONS     "chaperone_worker_emissions_total"

typedef struct seen {
    double retriable, abortable, fatal, recreated, aborts, emissions;
} seen_t;

static void read_seen(fx_t *f, seen_t *s)
{
    s->retriable = metric(f, ERR_RETRIABLE);
    s->abortable = metric(f, ERR_ABORTABLE);
    s->fatal = metric(f, ERR_FATAL);
    s->recreated = metric(f, RECREATED);
    s->aborts = metric(f, ABORTS);
    s->emissions = metric(f, EMISSIONS);
}

typedef void(fault_fn)(fx_t *f);

/*
 * The shape of every case: a first batch committed exactly, the fault
 * armed, a second batch that meets it, exact totals again; then the
 * metrics seen before and after are handed back for the case's checks.
 */
static void run_case(const char *name, fault_fn *fault,
                     const char *const *extra, seen_t *before, seen_t *after)
{
    fx_t *f = calloc(1, sizeof(*f));

    printf("[ fault ] %s\n", name);
    fx_init(f, extra);
    fx_start(f);
    produce(f, 1000);
    expect_exact(f, "before the fault");
    read_seen(f, before);
    assert_int_equal(health_status(f), 200);
    fault(f);
    produce(f, 1000);
    expect_exact(f, "after the fault");
    /* One more emission after recovery: the worker commits again. */
    produce(f, 200);
    expect_exact(f, "after recovery");
    read_seen(f, after);
    assert_true(after->emissions > before->emissions);
    assert_int_equal(health_status(f), 200);
    assert_int_equal((int)metric(f, "chaperone_consecutive_failures"
                                    "{daemon=\"worker\"}"),
                     0);
    printf("  metrics: retriable %+.0f, abortable %+.0f, fatal %+.0f, "
           "producers recreated %+.0f, aborts %+.0f\n",
           after->retriable - before->retriable,
           after->abortable - before->abortable, after->fatal - before->fatal,
           after->recreated - before->recreated,
           after->aborts - before->aborts);
    fx_stop(f);
    free(f);
}

static void push(fx_t *f, int api, rd_kafka_resp_err_t e, int times)
{
    for (int i = 0; i < times; i++)
        rd_kafka_mock_push_request_errors(f->mc, api, 1, e);
}

/* ---------------------------------------------------------------- cases */

/* EndTxn answered after 2.5 s, the commit call times out after 1 s
 * (transaction.timeout.ms 4000): the same commit_transaction must be
 * called again, not aborted. */
static void fault_endtxn_slow(fx_t *f)
{
    rd_kafka_mock_broker_push_request_error_rtts(
        f->mc, COORD, API_END_TXN, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 2500);
}

static void test_endtxn_timeout_retried(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("EndTxn slower than the commit call", fault_endtxn_slow, NULL, &b,
             &a);
    assert_true(a.retriable > b.retriable);
    assert_true(a.aborts == b.aborts);
    assert_true(a.recreated == b.recreated);
}

/* EndTxn answered after longer than the transaction timeout: retries are
 * exhausted, a new producer settles the outcome. */
static void fault_endtxn_stuck(fx_t *f)
{
    rd_kafka_mock_broker_push_request_error_rtts(
        f->mc, COORD, API_END_TXN, 1, RD_KAFKA_RESP_ERR_NO_ERROR, 6000);
}

static void test_endtxn_beyond_txn_timeout(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("EndTxn slower than the transaction timeout", fault_endtxn_stuck,
             NULL, &b, &a);
    assert_true(a.retriable > b.retriable);
    assert_true(a.recreated > b.recreated);
}

static void fault_concurrent(fx_t *f)
{
    push(f, API_END_TXN, RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS, 3);
    push(f, API_ADD_PARTITIONS_TO_TXN,
         RD_KAFKA_RESP_ERR_CONCURRENT_TRANSACTIONS, 3);
}

static void test_concurrent_transactions(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("CONCURRENT_TRANSACTIONS on AddPartitionsToTxn and EndTxn",
             fault_concurrent, NULL, &b, &a);
}

static void fault_not_coordinator(fx_t *f)
{
    push(f, API_END_TXN, RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 2);
    push(f, API_ADD_OFFSETS_TO_TXN, RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 2);
    push(f, API_TXN_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_NOT_COORDINATOR, 2);
}

static void test_not_coordinator(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("NOT_COORDINATOR on AddOffsetsToTxn, TxnOffsetCommit, EndTxn",
             fault_not_coordinator, NULL, &b, &a);
}

static void fault_load_in_progress(fx_t *f)
{
    push(f, API_END_TXN, RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, 3);
    push(f, API_TXN_OFFSET_COMMIT,
         RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, 3);
}

static void test_coordinator_loading(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("COORDINATOR_LOAD_IN_PROGRESS on TxnOffsetCommit and EndTxn",
             fault_load_in_progress, NULL, &b, &a);
}

static void fault_fenced(fx_t *f)
{
    push(f, API_END_TXN, RD_KAFKA_RESP_ERR_PRODUCER_FENCED, 1);
}

static void test_producer_fenced(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("PRODUCER_FENCED on EndTxn", fault_fenced, NULL, &b, &a);
    assert_true(a.fatal > b.fatal);
    assert_true(a.recreated > b.recreated);
}

static void fault_bad_epoch(fx_t *f)
{
    push(f, API_ADD_PARTITIONS_TO_TXN, RD_KAFKA_RESP_ERR_INVALID_PRODUCER_EPOCH,
         1);
}

static void test_invalid_producer_epoch(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("INVALID_PRODUCER_EPOCH on AddPartitionsToTxn", fault_bad_epoch,
             NULL, &b, &a);
    assert_true(a.fatal + a.abortable > b.fatal + b.abortable);
}

static void fault_txn_offset_commit(fx_t *f)
{
    push(f, API_TXN_OFFSET_COMMIT, RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION, 1);
}

static void test_txn_offset_commit_fails(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("ILLEGAL_GENERATION on TxnOffsetCommit", fault_txn_offset_commit,
             NULL, &b, &a);
    assert_true(a.abortable + a.fatal > b.abortable + b.fatal);
}

static void fault_topic_auth(fx_t *f)
{
    push(f, API_ADD_PARTITIONS_TO_TXN,
         RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, 1);
}

static void test_abortable(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("TOPIC_AUTHORIZATION_FAILED on AddPartitionsToTxn (abortable)",
             fault_topic_auth, NULL, &b, &a);
    assert_true(a.abortable > b.abortable);
    assert_true(a.aborts > b.aborts);
    assert_true(a.recreated == b.recreated);
}

/* The coordinators' and audit leader's broker down for 3 s while the next
 * emission runs, then back. */
static void *broker_back(void *arg)
{
    fx_t *f = arg;

    tu_sleep_ms(3000);
    rd_kafka_mock_broker_set_up(f->mc, COORD);
    return NULL;
}

static pthread_t back_thr;

static void fault_broker_down(fx_t *f)
{
    rd_kafka_mock_broker_set_down(f->mc, COORD);
    assert_int_equal(pthread_create(&back_thr, NULL, broker_back, f), 0);
}

static void test_broker_down(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("coordinator and audit leader down 3 s mid-stream",
             fault_broker_down, NULL, &b, &a);
    pthread_join(back_thr, NULL);
}

/* The cooperative assignor: incremental assign, same exactness. */
static void fault_none(fx_t *f)
{
    (void)f;
}

static void test_cooperative_assignor(void **state)
{
    seen_t b, a;
    (void)state;
    run_case("cooperative-sticky assignor", fault_none,
             (const char *const[]){"kafka.partition.assignment.strategy",
                                   "cooperative-sticky", NULL},
             &b, &a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_endtxn_timeout_retried),
        cmocka_unit_test(test_endtxn_beyond_txn_timeout),
        cmocka_unit_test(test_concurrent_transactions),
        cmocka_unit_test(test_not_coordinator),
        cmocka_unit_test(test_coordinator_loading),
        cmocka_unit_test(test_producer_fenced),
        cmocka_unit_test(test_invalid_producer_epoch),
        cmocka_unit_test(test_txn_offset_commit_fails),
        cmocka_unit_test(test_abortable),
        cmocka_unit_test(test_broker_down),
        cmocka_unit_test(test_cooperative_assignor),
    };

    setvbuf(stdout, NULL, _IOLBF, 0);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
