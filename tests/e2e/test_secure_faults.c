/* e2e (real broker, secured listeners of scripts/kafka.sh with
 * KAFKA_SECURE=1): what each daemon does when the secured cluster refuses
 * it - a wrong SCRAM password, a client certificate from an untrusted CA
 * (mTLS), a broker certificate the client does not trust.  Every daemon
 * must say the cause (authentication, certificate) in a log line of its
 * own, keep running and retrying, answer 503 on /health, and stop
 * promptly and cleanly on SIGTERM meanwhile.
 *
 * The bounds are generous (30 s to say why, 20 s to stop): they catch a
 * daemon that never says why or sits in a 60 s librdkafka timeout, not a
 * slow machine. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "httpc.h"
#include "proc.h"
#include "secure.h"

#define SAY_WHY_MS 30000
#define STOP_MS    20000

static char logdir[512];

typedef struct fault {
    const char *name;
    const char *listener, *env; /* the listener it is tried on */
    const char *key, *value;    /* the setting that breaks it; value may
                                   hold %s for the TLS directory */
    const char *causes[3];      /* any one, in the daemon's own line */
} fault_t;

static const fault_t faults[] = {
    {"wrong-password",
     "sasl_ssl",
     "CHP_TEST_SASL_SSL_CONFIG",
     "sasl.password",
     "not-the-password-000",
     {"authentication error", "authentication failed", "credentials"}},
    {"untrusted-client-cert",
     "mtls",
     "CHP_TEST_MTLS_CONFIG",
     "ssl.certificate.location",
     "%s/rogue-client.pem",
     {"certificate", "handshake", NULL}},
    {"untrusted-broker-ca",
     "sasl_ssl",
     "CHP_TEST_SASL_SSL_CONFIG",
     "ssl.ca.location",
     "%s/rogue-ca.pem",
     {"certificate", "handshake", NULL}},
};

static int health_status(int port)
{
    httpc_resp_t r;
    int st = 0;

    if (httpc_request(port, "GET", "/health", NULL, 0, 3000, &r) == 0)
        st = r.status;
    httpc_free(&r);
    return st;
}

static bool said_why(const char *log, const fault_t *f)
{
    for (int i = 0; i < 3 && f->causes[i]; i++)
        if (sec_own_lines(log, f->causes[i]) > 0)
            return true;
    return false;
}

/* True when the daemon behaved; says what it did either way. */
static bool try_fault(const char *daemon, const fault_t *f)
{
    static char kafka[SEC_MAX_KV][600];
    sec_listener_t l;
    const char *args[PROC_MAX_ARGS];
    char value[700], log[800], kv[6][300], audit[128], db[700];
    int n = 0, k = 0, port = httpc_free_port(), st, health = 0;
    bool why = false;
    int64_t t0, deadline;
    proc_t p = {0};

    sec_load(&l, f->listener, f->env);
    snprintf(value, sizeof(value), f->value, l.tls_dir);
    if (!strcmp(f->key, "ssl.certificate.location")) {
        char key[700];
        snprintf(key, sizeof(key), "%s/rogue-client.key", l.tls_dir);
        sec_set(&l, "ssl.key.location", key);
    }
    sec_set(&l, f->key, value);
    tu_unique_name(audit, sizeof(audit), "secfault");
    args[n++] = daemon;
    sec_args(&l, "kafka.", args, &n, kafka);
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", port);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", audit);
    if (!strcmp(daemon, "worker")) {
        snprintf(kv[k++], sizeof(kv[0]), "worker.topics=%s", audit);
        snprintf(kv[k++], sizeof(kv[0]), "worker.use.registry=false");
    } else if (!strcmp(daemon, "collector")) {
        snprintf(db, sizeof(db), "%s/fault-%s-%s.db", logdir, daemon, f->name);
        unlink(db);
        snprintf(kv[k++], sizeof(kv[0]), "db.url=sqlite://%.250s", db);
    }
    for (int i = 0; i < k; i++) {
        args[n++] = "-X";
        args[n++] = kv[i];
    }
    args[n] = NULL;
    snprintf(log, sizeof(log), "%s/fault-%s-%s.log", logdir, daemon, f->name);
    unlink(log);
    assert_int_equal(proc_start(&p, log, args), 0);

    t0 = tu_now_ms();
    deadline = t0 + SAY_WHY_MS;
    while (tu_now_ms() < deadline && !proc_exited(&p) &&
           !(why && health == 503)) {
        why = why || said_why(log, f);
        health = health_status(port);
        tu_sleep_ms(250);
    }
    printf("%s/%s: cause in own line %s, /health %d, after %lld ms%s\n", daemon,
           f->name, why ? "yes" : "no", health, (long long)(tu_now_ms() - t0),
           proc_exited(&p) ? " (exited)" : "");
    if (proc_exited(&p)) {
        proc_dump_log(&p);
        printf("FAIL %s/%s: exited %d instead of retrying\n", daemon, f->name,
               p.status);
        return false;
    }
    t0 = tu_now_ms();
    st = proc_stop(&p, SIGTERM, STOP_MS);
    printf("%s/%s: SIGTERM -> exit %d in %lld ms\n", daemon, f->name, st,
           (long long)(tu_now_ms() - t0));
    if (!why || health != 503 || st != 0) {
        proc_dump_log(&p);
        printf("FAIL %s/%s: cause said %s, /health %d (want 503), exit %d "
               "on SIGTERM (want 0 within %d ms)\n",
               daemon, f->name, why ? "yes" : "no", health, st, STOP_MS);
        return false;
    }
    return true;
}

/* Every fault is tried even after one failed, so a run shows them all. */
static void run_daemon(const char *daemon)
{
    size_t bad = 0, n = sizeof(faults) / sizeof(faults[0]);

    for (size_t i = 0; i < n; i++)
        bad += !try_fault(daemon, &faults[i]);
    if (bad)
        fail_msg("%s: %zu of %zu faults handled badly (see above)", daemon, bad,
                 n);
}

static void test_worker(void **state)
{
    (void)state;
    run_daemon("worker");
}

static void test_controller(void **state)
{
    (void)state;
    run_daemon("controller");
}

static void test_collector(void **state)
{
    (void)state;
    run_daemon("collector");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worker),
        cmocka_unit_test(test_controller),
        cmocka_unit_test(test_collector),
    };
    const char *bin = getenv("CHP_BINARY_DIR");

    tu_brokers();
    if (!getenv("CHP_TEST_SASL_SSL_CONFIG") || !getenv("CHP_TEST_MTLS_CONFIG"))
        tu_skip("no secured listeners: scripts/kafka.sh start with "
                "KAFKA_SECURE=1, then eval \"$(scripts/kafka.sh env)\"");
    snprintf(logdir, sizeof(logdir), "%s/Testing/e2e-logs", bin ? bin : ".");
    mkdir(logdir, 0755);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
