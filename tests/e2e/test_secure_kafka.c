/* e2e (real broker, secured listeners of scripts/kafka.sh with
 * KAFKA_SECURE=1): the whole pipeline over SASL_SSL (SCRAM-SHA-512) and
 * over mTLS, by configuration alone - kcat audited by the plugin
 * (producer and consumer, chaperone.kafka.* settings), the controller
 * (topic registered through its token-protected REST API), the worker
 * following the registry, the collector storing into SQLite - with exact
 * counts per tier read back through the collector's token-protected API.
 * The SCRAM password is given as @file: and must appear in no log line and
 * on no command line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>

#include "auditread.h"
#include "httpc.h"
#include "proc.h"
#include "secure.h"

#define T0         1478311200LL
#define BUCKETS    2
#define PER_BUCKET 1500
#define N          (BUCKETS * PER_BUCKET)
#define TOKEN      "e2e-secure-token-0123456789"

static const char *plain; /* the plaintext listener, for set-up only */
static char plugin[1024], logdir[512], tokfile[600];
static char curl_ca[700]; /* --cacert of the collector's HTTPS */
/* controller, worker, collector: global so that a failed test's teardown
 * still stops them */
static proc_t procs[3];

static int stop_all(void **state)
{
    (void)state;
    for (int i = 0; i < 3; i++)
        if (procs[i].pid > 0 && !proc_exited(&procs[i]))
            proc_stop(&procs[i], SIGKILL, 10000);
    memset(procs, 0, sizeof(procs));
    return 0;
}

/* The counts of topic per tier from the collector's query API; -1 if it
 * did not answer. */
static int api_counts(int port, const char *topic, const char *const *tiers,
                      size_t n_tiers, uint64_t *counts)
{
    char url[512], *out = malloc(1 << 20);
    json_t *doc, *b;
    json_error_t e;
    size_t i;
    int st;

    snprintf(url, sizeof(url),
             "https://127.0.0.1:%d/api/v1/topics/%s/buckets?from=%lld&to=%lld",
             port, topic, T0, T0 + 600 * BUCKETS);
    st = sec_curl("GET", url, TOKEN, NULL, curl_ca, out, 1 << 20);
    memset(counts, 0, n_tiers * sizeof(*counts));
    if (st != 200 || !(doc = json_loads(out, 0, &e))) {
        free(out);
        return -1;
    }
    json_array_foreach(json_object_get(doc, "buckets"), i, b)
    {
        for (size_t t = 0; t < n_tiers; t++)
            counts[t] += (uint64_t)json_integer_value(json_object_get(
                json_object_get(json_object_get(b, "tiers"), tiers[t]),
                "count"));
    }
    json_decref(doc);
    free(out);
    return 0;
}

/* Starts `chaperone <cmd>` over the listener with extra -X pairs. */
static void start(proc_t *p, const sec_listener_t *l, const char *cmd,
                  const char *const *extra)
{
    static char kafka[SEC_MAX_KV][600];
    const char *args[PROC_MAX_ARGS];
    char log[700];
    int n = 0;

    args[n++] = cmd;
    sec_args(l, "kafka.", args, &n, kafka);
    for (; *extra; extra++) {
        args[n++] = "-X";
        args[n++] = *extra;
    }
    args[n] = NULL;
    snprintf(log, sizeof(log), "%s/secure-%s-%s.log", logdir, l->name, cmd);
    unlink(log);
    assert_int_equal(proc_start(p, log, args), 0);
}

static bool health_ok(int port)
{
    httpc_resp_t r;
    bool ok = httpc_request(port, "GET", "/health", NULL, 0, 5000, &r) == 0 &&
              r.status == 200;

    httpc_free(&r);
    return ok;
}

/* No log of the run and no command line holds the password. */
static void check_no_password(const sec_listener_t *l, proc_t *ps, size_t n)
{
    char path[700], pw[128] = "", cmd[1500], out[256];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/sasl.password", l->tls_dir);
    if (!(fp = fopen(path, "r")))
        return;
    if (!fgets(pw, sizeof(pw), fp))
        pw[0] = '\0';
    fclose(fp);
    pw[strcspn(pw, "\n")] = '\0';
    assert_true(strlen(pw) >= 16);
    for (size_t i = 0; i < n; i++) {
        snprintf(cmd, sizeof(cmd),
                 "grep -c '%s' '%s' /proc/%d/cmdline 2>/dev/null | "
                 "awk -F: '{s+=$NF} END {print s+0}'",
                 pw, ps[i].log, (int)ps[i].pid);
        assert_int_equal(tu_run(cmd, out, sizeof(out)), 0);
        if (atoi(out) != 0)
            fail_msg("the SCRAM password shows in %s or its command line",
                     ps[i].log);
    }
}

static void run_pipeline(const char *name, const char *env)
{
    sec_listener_t l;
    char topic[128], audit[128], registry[128], group[160], data[600];
    char kv[13][700], opts[8192], cmd[16384], out[8192], url[256];
    const char *tiers[3];
    char tier_p[64], tier_w[64], tier_c[64], cluster[64];
    uint64_t counts[3] = {0};
    int ctl_port = httpc_free_port(), coll_port = httpc_free_port();
    int64_t deadline;
    FILE *fp;
    char err[512];

    sec_load(&l, name, env);
    tu_unique_name(topic, sizeof(topic), "sec");
    tu_unique_name(audit, sizeof(audit), "secaudit");
    tu_unique_name(registry, sizeof(registry), "secreg");
    tu_unique_name(group, sizeof(group), "secworkers");
    snprintf(tier_p, sizeof(tier_p), "producer-%s", name);
    snprintf(tier_c, sizeof(tier_c), "consumer-%s", name);
    snprintf(cluster, sizeof(cluster), "sec%s", name);
    snprintf(tier_w, sizeof(tier_w), "kafka-%s", cluster);
    tiers[0] = tier_p, tiers[1] = tier_w, tiers[2] = tier_c;
    assert_int_equal(tu_create_topic(plain, topic, 2, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(plain, audit, 1, err, sizeof(err)), 0);

    /* The controller registers the topic when asked with the token. */
    snprintf(kv[0], sizeof(kv[0]), "worker.registry=%s", registry);
    snprintf(kv[1], sizeof(kv[1]), "audit.topic=%s", audit);
    snprintf(kv[2], sizeof(kv[2]), "http.port=%d", ctl_port);
    snprintf(kv[3], sizeof(kv[3]), "http.auth.token=@file:%s", tokfile);
    snprintf(kv[4], sizeof(kv[4]), "cluster.name=%s", cluster);
    start(&procs[0], &l, "controller",
          (const char *[]){kv[0], kv[1], kv[2], kv[3], kv[4],
                           "controller.auto.detect=false", NULL});
    deadline = tu_now_ms() + 90000;
    while (!health_ok(ctl_port) && tu_now_ms() < deadline &&
           !proc_exited(&procs[0]))
        tu_sleep_ms(200);
    if (!health_ok(ctl_port)) {
        proc_dump_log(&procs[0]);
        fail_msg("%s: the controller did not come up", name);
    }
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/topics", ctl_port);
    snprintf(data, sizeof(data), "{\"topic\":\"%s\",\"numPartitions\":\"2\"}",
             topic);
    assert_int_equal(sec_curl("POST", url, NULL, data, NULL, out, sizeof(out)),
                     401);
    deadline = tu_now_ms() + 60000;
    for (int st; (st = sec_curl("POST", url, TOKEN, data, NULL, out,
                                sizeof(out))) != 200 &&
                 st != 201;) {
        if (tu_now_ms() > deadline) {
            proc_dump_log(&procs[0]);
            fail_msg("%s: POST /topics: %d %s", name, st, out);
        }
        tu_sleep_ms(500);
    }

    /* The worker follows the registry. */
    snprintf(kv[5], sizeof(kv[5]), "worker.group.id=%s", group);
    snprintf(kv[6], sizeof(kv[6]), "worker.instance=%s-w", name);
    snprintf(kv[7], sizeof(kv[7]), "http.port=%d", httpc_free_port());
    start(&procs[1], &l, "worker",
          (const char *[]){kv[0], kv[1], kv[4], kv[5], kv[6], kv[7],
                           "worker.topics.refresh.ms=1000",
                           "report.interval.ms=500", NULL});

    /* kcat produces and consumes, audited by the plugin over the same
     * listener (chaperone.kafka.* repeats the client's settings). */
    snprintf(data, sizeof(data), "%s/secure-%s-data.txt", logdir, name);
    assert_non_null(fp = fopen(data, "w"));
    for (int b = 0; b < BUCKETS; b++)
        for (int i = 0; i < PER_BUCKET; i++)
            fprintf(fp, "{\"ts\":%lld%03d,\"n\":%d}\n",
                    (long long)(T0 + b * 600 + i % 600), i % 1000, i);
    fclose(fp);
    sec_shell_opts(&l, "chaperone.kafka.", opts, sizeof(opts));
    snprintf(cmd, sizeof(cmd),
             "kcat -F %s -P -t %s -X plugin.library.paths=%s "
             "-X chaperone.audit.topic=%s -X chaperone.tier=%s "
             "-X chaperone.report.interval.ms=500 %s -l %s 2>&1",
             l.props, topic, plugin, audit, tier_p, opts, data);
    if (tu_run(cmd, out, sizeof(out)) != 0)
        fail_msg("%s: kcat -P: %s", name, out);
    snprintf(cmd, sizeof(cmd),
             "kcat -F %s -C -t %s -o beginning -e -q "
             "-X plugin.library.paths=%s -X chaperone.audit.topic=%s "
             "-X chaperone.tier=%s -X chaperone.report.interval.ms=500 %s "
             "2>/dev/null | wc -l",
             l.props, topic, plugin, audit, tier_c, opts);
    assert_int_equal(tu_run(cmd, out, sizeof(out)), 0);
    assert_int_equal(strtol(out, NULL, 10), N);

    /* The collector stores it all; its API answers with the token. */
    snprintf(kv[8], sizeof(kv[8]), "db.url=sqlite://%s/secure-%s.db", logdir,
             name);
    snprintf(cmd, sizeof(cmd), "rm -f %s/secure-%s.db*", logdir, name);
    assert_int_equal(tu_run(cmd, NULL, 0), 0);
    snprintf(kv[9], sizeof(kv[9]), "http.port=%d", coll_port);
    snprintf(kv[10], sizeof(kv[10]), "collector.group.id=%s-coll", group);
    /* HTTPS with the broker's test certificate (it names 127.0.0.1). */
    snprintf(kv[11], sizeof(kv[11]), "http.tls.cert.file=%s/broker.pem",
             l.tls_dir);
    snprintf(kv[12], sizeof(kv[12]), "http.tls.key.file=%s/broker.key",
             l.tls_dir);
    snprintf(curl_ca, sizeof(curl_ca), "--cacert %s/ca.pem", l.tls_dir);
    start(&procs[2], &l, "collector",
          (const char *[]){kv[1], kv[3], kv[8], kv[9], kv[10], kv[11], kv[12],
                           "collector.flush.interval.ms=200", NULL});
    deadline = tu_now_ms() + 180000;
    while (tu_now_ms() < deadline) {
        if (api_counts(coll_port, topic, tiers, 3, counts) == 0 &&
            counts[0] == N && counts[1] == N && counts[2] == N)
            break;
        tu_sleep_ms(1000);
    }
    printf("%s: producer %llu, worker %llu, consumer %llu (want %d each)\n",
           name, (unsigned long long)counts[0], (unsigned long long)counts[1],
           (unsigned long long)counts[2], N);
    if (counts[0] != N || counts[1] != N || counts[2] != N) {
        for (int i = 0; i < 3; i++)
            proc_dump_log(&procs[i]);
        fail_msg("%s: counts %llu/%llu/%llu, want %d each", name,
                 (unsigned long long)counts[0], (unsigned long long)counts[1],
                 (unsigned long long)counts[2], N);
    }
    /* The API is closed without the token; /health is not; plain HTTP
     * gets nothing from the HTTPS port. */
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/api/v1/topics", coll_port);
    assert_int_equal(
        sec_curl("GET", url, NULL, NULL, curl_ca, out, sizeof(out)), 401);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/health", coll_port);
    assert_int_equal(
        sec_curl("GET", url, NULL, NULL, curl_ca, out, sizeof(out)), 200);
    assert_false(health_ok(coll_port));
    check_no_password(&l, procs, 3);

    /* Every daemon stops promptly and cleanly. */
    for (int i = 2; i >= 0; i--) {
        int64_t t = tu_now_ms();
        int st = proc_stop(&procs[i], SIGTERM, 30000);
        if (st != 0) {
            proc_dump_log(&procs[i]);
            fail_msg("%s: daemon %d exited %d", name, i, st);
        }
        printf("%s: daemon %d stopped in %lld ms\n", name, i,
               (long long)(tu_now_ms() - t));
    }
    /* Stopped: the stored counts stay exact (nothing counted twice). */
    {
        ar_result_t *r = calloc(1, sizeof(*r));
        assert_int_equal(ar_read(plain, audit, r, 60000), 0);
        assert_int_equal(r->undecodable, 0);
        assert_int_equal(r->dup_uuids, 0);
        for (int t = 0; t < 3; t++)
            assert_int_equal(ar_total(r, tiers[t], topic), N);
        free(r);
    }
}

static void test_sasl_ssl(void **state)
{
    (void)state;
    run_pipeline("sasl_ssl", "CHP_TEST_SASL_SSL_CONFIG");
}

static void test_mtls(void **state)
{
    (void)state;
    run_pipeline("mtls", "CHP_TEST_MTLS_CONFIG");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_sasl_ssl, stop_all),
        cmocka_unit_test_teardown(test_mtls, stop_all),
    };
    const char *bin = getenv("CHP_BINARY_DIR");
    FILE *fp;

    plain = tu_brokers();
    if (system("command -v kcat >/dev/null 2>&1 && "
               "command -v curl >/dev/null 2>&1") != 0)
        tu_skip("kcat or curl missing (scripts/deps.sh installs them)");
    if (!getenv("CHP_TEST_SASL_SSL_CONFIG"))
        tu_skip("no secured listeners: scripts/kafka.sh start with "
                "KAFKA_SECURE=1, then eval \"$(scripts/kafka.sh env)\"");
    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             bin ? bin : ".");
    snprintf(logdir, sizeof(logdir), "%s/Testing/e2e-logs", bin ? bin : ".");
    mkdir(logdir, 0755);
    snprintf(tokfile, sizeof(tokfile), "%s/secure-token", logdir);
    if (!(fp = fopen(tokfile, "w")))
        return 1;
    fputs(TOKEN "\n", fp);
    fclose(fp);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
