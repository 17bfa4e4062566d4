/* End to end: `chaperone controller` and `chaperone worker` as real
 * processes on the real broker (design.md §7).
 *
 *   quick_start   the original's quick start, automated: 100 lines in a
 *                 dummy topic, POST {"topic":...,"numPartitions":"1"}, the
 *                 worker's audit messages sum to exactly 100 (all
 *                 malformed: the lines are not JSON)
 *   registry      GET /topics, 409 on a second POST, DELETE blacklists, the
 *                 blacklist survives a restart and auto-detection, and the
 *                 worker stops auditing the topic
 *   auto_detect   a topic created while the controller runs is audited
 *                 within a detection interval, with exact counts
 *   controller_down  the worker keeps auditing while the controller is dead
 *
 * The steps run in order on one controller/worker pair; every name
 * (topics, group, ports) is unique to the run.  Children get SIGKILL if
 * this process dies, and SIGTERM then SIGKILL at the end. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <jansson.h>

#include "auditread.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

#define TIER              "kafka-local"
#define DETECT_INTERVAL_S 1

static struct {
    const char *brokers;
    char prefix[96];
    char registry[160], audit[160], dummy[160], autot[160];
    char group[160], instance[160], txprefix[160];
    char logdir[256];
    int ctl_port, worker_port;
    proc_t ctl, worker;
    ar_result_t ar; /* large: not on the stack, not leaked by a failure */
} g;

/* ------------------------------------------------------------ children */

/* Starts `chaperone args...` with stdout and stderr appended to
 * logdir/name.log; the child dies with this process. */
static void child_start(proc_t *c, const char *name, const char *const *args)
{
    char log[600];

    snprintf(log, sizeof(log), "%s/%s.log", g.logdir, name);
    assert_int_equal(proc_start_tied(c, log, args), 0);
}

/* fail_msg with the children's last log lines first. */
#define FAIL(...)                                                              \
    do {                                                                       \
        proc_dump_log(&g.ctl);                                                 \
        proc_dump_log(&g.worker);                                              \
        fail_msg(__VA_ARGS__);                                                 \
    } while (0)

#define KV(buf, ...) (snprintf(buf, sizeof(buf), __VA_ARGS__), buf)

static void start_controller(bool auto_detect)
{
    char b[160], port[64], reg[200], audit[200], group[200], ad[64], inc[200];
    const char *args[] = {
        "controller", "-X", KV(b, "kafka.bootstrap.servers=%s", g.brokers),
        "-X", KV(port, "http.port=%d", g.ctl_port), "-X",
        KV(reg, "worker.registry=%s", g.registry), "-X",
        KV(audit, "audit.topic=%s", g.audit), "-X",
        KV(group, "worker.group.id=%s", g.group), "-X",
        KV(ad, "controller.auto.detect=%s", auto_detect ? "true" : "false"),
        "-X",
        "controller.detect.interval.s="
        "1",
        /* The broker is shared: only this run's topics are detected. */
        "-X", KV(inc, "controller.include.regex=^%s", g.prefix), NULL};
    int64_t deadline = tu_now_ms() + TU_TIMEOUT_MS;
    httpc_resp_t r;

    child_start(&g.ctl, "controller", args);
    for (;;) {
        if (proc_exited(&g.ctl))
            FAIL("controller exited with %d during start-up", g.ctl.status);
        if (httpc_request(g.ctl_port, "GET", "/health", NULL, 0, 2000, &r) ==
            0) {
            int st = r.status;
            httpc_free(&r);
            if (st == 200)
                return;
        }
        if (tu_now_ms() > deadline)
            FAIL("controller not serving /health on port %d", g.ctl_port);
        tu_sleep_ms(200);
    }
}

static void start_worker(void)
{
    char b[160], port[64], reg[200], audit[200], group[200], inst[200], tx[200];
    const char *args[] = {
        "worker",
        "-X",
        KV(b, "kafka.bootstrap.servers=%s", g.brokers),
        "-X",
        KV(port, "http.port=%d", g.worker_port),
        "-X",
        KV(reg, "worker.registry=%s", g.registry),
        "-X",
        KV(audit, "audit.topic=%s", g.audit),
        "-X",
        KV(group, "worker.group.id=%s", g.group),
        "-X",
        KV(inst, "worker.instance=%s", g.instance),
        "-X",
        KV(tx, "worker.transactional.id.prefix=%s", g.txprefix),
        "-X",
        "worker.use.registry=true",
        "-X",
        "worker.topics.refresh.ms=1000",
        "-X",
        "report.interval.ms=1000",
        NULL};

    child_start(&g.worker, "worker", args);
}

/* ------------------------------------------------------------ helpers */

/* One request to the controller; the body parsed as JSON (NULL if not). */
static json_t *ctl_call(const char *method, const char *path, const char *body,
                        int *status)
{
    httpc_resp_t r;
    json_t *doc;

    if (httpc_request(g.ctl_port, method, path, body, body ? strlen(body) : 0,
                      30000, &r) != 0)
        FAIL("%s %s: no answer from the controller", method, path);
    *status = r.status;
    doc = json_loadb(r.body, r.body_len, 0, NULL);
    httpc_free(&r);
    return doc;
}

static void ctl_expect(const char *method, const char *path, const char *body,
                       int want)
{
    int status;
    json_t *doc = ctl_call(method, path, body, &status);
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;

    if (status != want)
        FAIL("%s %s %s: status %d, want %d: %s", method, path, body ? body : "",
             status, want, s ? s : "(not JSON)");
    if (want >= 400 && !json_is_string(json_object_get(doc, "error")))
        FAIL("%s %s: no JSON error body", method, path);
    free(s);
    json_decref(doc);
}

/* Whether topic is in the "topics" (or "blacklisted") list of GET /topics. */
static bool listed(const char *list, const char *topic)
{
    int status;
    json_t *doc = ctl_call("GET", "/topics", NULL, &status), *v;
    size_t i;
    bool found = false;

    if (status != 200 || !json_is_array(json_object_get(doc, list)))
        FAIL("GET /topics: status %d", status);
    json_array_foreach(json_object_get(doc, list), i,
                       v) if (json_is_string(v) && !strcmp(json_string_value(v),
                                                           topic)) found = true;
    json_decref(doc);
    return found;
}

/* The value of an unlabelled metric from the /metrics of port; -1 if
 * absent or unreachable. */
static double metric_value(int port, const char *name)
{
    httpc_resp_t r;
    double v = -1;
    size_t len = strlen(name);

    if (httpc_request(port, "GET", "/metrics", NULL, 0, 5000, &r) != 0)
        return -1;
    for (const char *p = r.body; p && *p;) {
        const char *nl = strchr(p, '\n');
        if (!strncmp(p, name, len) && p[len] == ' ') {
            v = strtod(p + len + 1, NULL);
            break;
        }
        p = nl ? nl + 1 : NULL;
    }
    httpc_free(&r);
    return v;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque)
{
    (void)rk;
    if (m->err)
        (*(int *)opaque)++;
}

/* Produces lines first..first+n-1 of the original's quick start data. */
static void produce_lines(const char *topic, int first, int n)
{
    char errstr[512], line[128];
    int failed = 0;
    rd_kafka_conf_t *conf = tu_conf(g.brokers, NULL, errstr, sizeof(errstr));
    rd_kafka_t *rk;

    assert_non_null(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_opaque(conf, &failed);
    rk = tu_handle(RD_KAFKA_PRODUCER, conf);
    assert_non_null(rk);
    for (int i = first; i < first + n; i++) {
        int len =
            snprintf(line, sizeof(line), "Kafka topic dummy topic data %d", i);
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(line, (size_t)len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err)
            FAIL("produce to %s: %s", topic, rd_kafka_err2str(err));
    }
    rd_kafka_flush(rk, TU_TIMEOUT_MS);
    assert_int_equal(rd_kafka_outq_len(rk), 0);
    assert_int_equal(failed, 0);
    rd_kafka_destroy(rk);
}

static void sums(const ar_result_t *r, const char *topic, uint64_t *count,
                 uint64_t *malformed)
{
    *count = *malformed = 0;
    for (size_t i = 0; i < r->n; i++)
        if (!strcmp(r->sums[i].tier, TIER) &&
            !strcmp(r->sums[i].topic, topic)) {
            *count += r->sums[i].count;
            *malformed += r->sums[i].malformed;
        }
}

/* Reads the audit topic until topic's count at tier kafka-local is want;
 * fails on more (double counting), on malformed != want (every line is
 * malformed), on duplicate uuids, or at the deadline. */
static void wait_counts(const char *topic, uint64_t want, int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    ar_result_t *r = &g.ar;
    uint64_t count = 0, malformed = 0;

    for (;;) {
        if (ar_read(g.brokers, g.audit, r, 30000) == 0) {
            sums(r, topic, &count, &malformed);
            if (r->dup_uuids)
                FAIL("%llu duplicate audit uuids",
                     (unsigned long long)r->dup_uuids);
            if (count > want)
                FAIL("%s: counted %llu, only %llu produced", topic,
                     (unsigned long long)count, (unsigned long long)want);
            if (count == want)
                break;
        }
        if (proc_exited(&g.worker))
            FAIL("the worker exited with %d", g.worker.status);
        if (tu_now_ms() > deadline)
            FAIL("%s: counted %llu of %llu within %d ms (%s)", topic,
                 (unsigned long long)count, (unsigned long long)want,
                 timeout_ms, r->first_error);
        tu_sleep_ms(500);
    }
    if (malformed != want)
        FAIL("%s: malformedCount %llu, want %llu", topic,
             (unsigned long long)malformed, (unsigned long long)want);
}

/* Counts of topic now (no waiting). */
static uint64_t count_now(const char *topic)
{
    ar_result_t *r = &g.ar;
    uint64_t count, malformed;

    if (ar_read(g.brokers, g.audit, r, 30000) != 0)
        FAIL("cannot read %s: %s", g.audit, r->first_error);
    sums(r, topic, &count, &malformed);
    return count;
}

/* ------------------------------------------------------------ set-up */

static int group_setup(void **state)
{
    char errstr[512];
    (void)state;

    g.brokers = tu_brokers();
    if (tu_brokers_answer(g.brokers, 10000, errstr, sizeof(errstr)) != 0)
        tu_skip("%s", errstr);
    tu_unique_name(g.prefix, sizeof(g.prefix), "ctle2e");
    snprintf(g.registry, sizeof(g.registry), "%s-registry", g.prefix);
    snprintf(g.audit, sizeof(g.audit), "%s-audit", g.prefix);
    snprintf(g.dummy, sizeof(g.dummy), "%s-dummyTopic", g.prefix);
    snprintf(g.autot, sizeof(g.autot), "%s-auto", g.prefix);
    snprintf(g.group, sizeof(g.group), "%s-workers", g.prefix);
    snprintf(g.instance, sizeof(g.instance), "%s-w1", g.prefix);
    snprintf(g.txprefix, sizeof(g.txprefix), "%s-tx", g.prefix);
    snprintf(g.logdir, sizeof(g.logdir), "/tmp/chp-ctl-e2e-XXXXXX");
    if (!mkdtemp(g.logdir)) {
        fprintf(stderr, "mkdtemp failed\n");
        return -1;
    }
    g.ctl_port = httpc_free_port();
    do
        g.worker_port = httpc_free_port();
    while (g.worker_port == g.ctl_port);
    if (!g.ctl_port || !g.worker_port)
        return -1;
    if (tu_create_topic(g.brokers, g.audit, 1, errstr, sizeof(errstr)) ||
        tu_create_topic(g.brokers, g.dummy, 1, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s\n", errstr);
        return -1;
    }
    fprintf(stderr, "controller e2e: prefix %s, logs in %s\n", g.prefix,
            g.logdir);
    start_worker();
    return 0;
}

static int group_teardown(void **state)
{
    const char *topics[] = {g.dummy, g.autot, g.audit, g.registry};
    char errstr[512], cmd[400];
    (void)state;

    proc_stop(&g.ctl, SIGTERM, 15000);
    proc_stop(&g.worker, SIGTERM, 30000);
    for (size_t i = 0; i < sizeof(topics) / sizeof(topics[0]); i++)
        tu_delete_topic(g.brokers, topics[i], errstr, sizeof(errstr));
    if (!getenv("CHP_KEEP_LOGS")) {
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", g.logdir);
        if (system(cmd) != 0)
            fprintf(stderr, "cannot remove %s\n", g.logdir);
    }
    return 0;
}

/* ------------------------------------------------------------ the steps */

/* (a) The original's quick start. */
static void test_quick_start(void **state)
{
    char body[300], path[300];
    int64_t deadline;
    (void)state;

    produce_lines(g.dummy, 1, 100);
    start_controller(false);
    snprintf(body, sizeof(body), "{\"topic\":\"%s\", \"numPartitions\":\"1\"}",
             g.dummy);
    ctl_expect("POST", "/topics", body, 201);
    wait_counts(g.dummy, 100, 120000);

    /* GET /topics/{topic}: the group's own view of who holds partition 0. */
    snprintf(path, sizeof(path), "/topics/%s", g.dummy);
    deadline = tu_now_ms() + TU_TIMEOUT_MS;
    for (;;) {
        int status;
        json_t *doc = ctl_call("GET", path, NULL, &status);
        json_t *p0 = json_array_get(json_object_get(doc, "partitions"), 0);
        json_t *w = json_object_get(p0, "worker");
        bool held = json_is_object(w) &&
                    json_string_length(json_object_get(w, "memberId")) > 0;

        if (status != 200)
            FAIL("GET %s: %d", path, status);
        assert_int_equal(
            json_integer_value(json_object_get(doc, "numPartitions")), 1);
        if (held) {
            /* Who the worker is, as librdkafka decoded the description. */
            assert_true(json_string_length(json_object_get(w, "clientId")) > 0);
            assert_true(json_string_length(json_object_get(w, "host")) > 0);
            assert_string_equal(
                json_string_value(json_object_get(doc, "group")), g.group);
        }
        json_decref(doc);
        if (held)
            break;
        if (tu_now_ms() > deadline)
            FAIL("GET %s: no worker holds partition 0", path);
        tu_sleep_ms(500);
    }
    /* Exactly once: still 100 after more emissions. */
    tu_sleep_ms(3000);
    assert_int_equal(count_now(g.dummy), 100);
}

/* (b) The registry: 409, blacklist, restart, detection leaves it alone. */
static void test_registry(void **state)
{
    char body[300], path[300];
    int64_t deadline;
    (void)state;

    assert_true(listed("topics", g.dummy));
    snprintf(body, sizeof(body), "{\"topic\":\"%s\",\"numPartitions\":1}",
             g.dummy);
    ctl_expect("POST", "/topics", body, 409);
    snprintf(path, sizeof(path), "/topics/%s", g.dummy);
    ctl_expect("POST", path, NULL, 409);
    ctl_expect("DELETE", path, NULL, 200);
    assert_false(listed("topics", g.dummy));
    assert_true(listed("blacklisted", g.dummy));
    ctl_expect("GET", path, NULL, 404);

    /* A restarted controller recovers the blacklist from Kafka, and
     * auto-detection (now on) does not bring the topic back. */
    assert_int_equal(proc_stop(&g.ctl, SIGTERM, 20000), 0);
    start_controller(true);
    assert_true(listed("blacklisted", g.dummy));
    deadline = tu_now_ms() + TU_TIMEOUT_MS;
    while (metric_value(g.ctl_port,
                        "chaperone_controller_detection_runs_total") < 3) {
        if (tu_now_ms() > deadline)
            FAIL("auto-detection did not run three times");
        tu_sleep_ms(200);
    }
    assert_false(listed("topics", g.dummy));
    assert_true(listed("blacklisted", g.dummy));

    /* The worker stops auditing it: once it follows the registry, new
     * messages are not counted. */
    deadline = tu_now_ms() + TU_TIMEOUT_MS;
    while (metric_value(g.worker_port, "chaperone_worker_topics") != 0) {
        if (tu_now_ms() > deadline)
            FAIL("the worker still audits a blacklisted topic");
        tu_sleep_ms(200);
    }
    produce_lines(g.dummy, 101, 10);
    tu_sleep_ms(4000);
    assert_int_equal(count_now(g.dummy), 100);
}

/* (c) Auto-detection of a topic created while the controller runs. */
static void test_auto_detect(void **state)
{
    char errstr[512];
    int64_t t0, deadline;
    (void)state;

    if (tu_create_topic(g.brokers, g.autot, 2, errstr, sizeof(errstr)))
        FAIL("%s", errstr);
    t0 = tu_now_ms();
    produce_lines(g.autot, 1, 50);
    /* One interval, plus slack for metadata and a loaded machine. */
    deadline = t0 + DETECT_INTERVAL_S * 1000 + 10000;
    while (!listed("topics", g.autot)) {
        if (tu_now_ms() > deadline)
            FAIL("%s not detected within %d s", g.autot,
                 DETECT_INTERVAL_S + 10);
        tu_sleep_ms(100);
    }
    fprintf(stderr, "controller e2e: %s detected after %lld ms\n", g.autot,
            (long long)(tu_now_ms() - t0));
    wait_counts(g.autot, 50, 120000);
    assert_true(metric_value(g.ctl_port,
                             "chaperone_controller_topics_auto_added_total") >=
                1);
}

/* (d) The worker does not need the controller. */
static void test_controller_down(void **state)
{
    httpc_resp_t r;
    (void)state;

    proc_stop(&g.ctl, SIGKILL, 5000);
    assert_int_not_equal(
        httpc_request(g.ctl_port, "GET", "/health", NULL, 0, 2000, &r), 0);
    produce_lines(g.autot, 51, 30);
    wait_counts(g.autot, 80, 120000);
    assert_int_equal(count_now(g.dummy), 100);
    if (proc_exited(&g.worker))
        FAIL("the worker exited with %d", g.worker.status);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_quick_start),
        cmocka_unit_test(test_registry),
        cmocka_unit_test(test_auto_detect),
        cmocka_unit_test(test_controller_down),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
