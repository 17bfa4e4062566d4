/* End to end: the real `chaperone report` and `chaperone check` binaries
 * against databases seeded through the store interface -- SQLite always,
 * MariaDB and PostgreSQL when CHP_TEST_MYSQL_URL / CHP_TEST_PG_URL are set
 * (scripts/services.sh).  Exact output rows and exit codes: check exits 0
 * without loss, 0 while the lossy bucket is still open, 2 once a final
 * bucket lost messages, 1 on errors. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "report/report.h"
#include "report_seed.h"

extern char **environ;

static char dir[64];

typedef struct backend {
    const char *name;
    char url[512];
    bool private_db; /* only this test writes there */
} backend_t;

typedef struct run {
    int status; /* exit status, -1 if it did not exit */
    char out[16384], err[4096];
} run_t;

/* ------------------------------------------------------------ helpers */

static void slurp(const char *path, char *buf, size_t size)
{
    FILE *fp = fopen(path, "r");
    size_t n = 0;

    if (fp) {
        n = fread(buf, 1, size - 1, fp);
        fclose(fp);
    }
    buf[n] = '\0';
}

/* Runs $CHP_BINARY_DIR/chaperone cmd args... -X db.url=url (url NULL:
 * none); stdout and stderr apart. */
static void run(run_t *r, const char *url, const char *cmd, ...)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char exe[512], out[128], err[128], xurl[600];
    const char *argv[32];
    posix_spawn_file_actions_t fa;
    int n = 0, st;
    pid_t pid;
    va_list ap;

    snprintf(exe, sizeof(exe), "%s/chaperone", bin ? bin : ".");
    snprintf(out, sizeof(out), "%s/out", dir);
    snprintf(err, sizeof(err), "%s/err", dir);
    argv[n++] = exe;
    argv[n++] = cmd;
    va_start(ap, cmd);
    for (const char *a; (a = va_arg(ap, const char *)) && n < 28;)
        argv[n++] = a;
    va_end(ap);
    if (url) {
        snprintf(xurl, sizeof(xurl), "db.url=%s", url);
        argv[n++] = "-X";
        argv[n++] = xurl;
    }
    argv[n] = NULL;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    posix_spawn_file_actions_addopen(&fa, 2, err, O_WRONLY | O_CREAT | O_TRUNC,
                                     0644);
    assert_int_equal(
        posix_spawn(&pid, exe, &fa, NULL, (char *const *)argv, environ), 0);
    posix_spawn_file_actions_destroy(&fa);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    r->status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    slurp(out, r->out, sizeof(r->out));
    slurp(err, r->err, sizeof(r->err));
}

static void expect_status(const run_t *r, int status)
{
    if (r->status != status)
        fail_msg("exit %d, expected %d\nstdout:\n%s\nstderr:\n%s", r->status,
                 status, r->out, r->err);
}

static void seed(const backend_t *b, store_row_t *rows, size_t n)
{
    char err[1024];

    if (seed_flush(b->url, rows, n, err, sizeof(err)) != 0)
        fail_msg("%s: seeding: %s", b->name, err);
    seed_clear(rows, n);
}

/* ------------------------------------------------------------ cases */

/*
 * Topic "<prefix>-old": producer and regional, three buckets from base (two
 * days ago: inside every collector's retention, since the server databases
 * are shared with the collector's tests); regional lost 10 of 1000 in the
 * second.  Exact report rows, every format, and check's verdict at two
 * thresholds.
 */
static void case_report_and_check_old(const backend_t *b, const char *topic,
                                      int64_t base)
{
    store_row_t rows[6];
    char expect[4096], t[4][REP_TIME_MAX], from_s[32], to_s[32], end_s[32];
    run_t r;
    json_t *doc;

    for (int i = 0; i < 4; i++)
        rep_format_time(base + 600 * i, t[i]);
    snprintf(from_s, sizeof(from_s), "%lld", (long long)base);
    snprintf(to_s, sizeof(to_s), "%lld", (long long)base + 1800);
    rep_format_time(base + 3600, end_s);
    for (int i = 0; i < 3; i++) {
        assert_true(seed_row(&rows[2 * i], topic, base + 600 * i, "producer",
                             "dc1", 1000, 0));
        assert_true(seed_row(&rows[2 * i + 1], topic, base + 600 * i,
                             "regional", i == 1 ? "dc1" : "dc2",
                             i == 1 ? 990 : 1000, 0));
    }
    seed(b, rows, 6);

    run(&r, b->url, "report", "--topic", topic, "--from", t[0], "--to", t[3],
        NULL);
    expect_status(&r, 0);
    snprintf(expect, sizeof(expect),
             "topic %s, %s to %s, 3 bucket(s), reference tier producer "
             "(largest total)\n"
             "bucket                producer  regional  loss:regional  "
             "compl:regional\n"
             "%s      1000      1000              0        1.000000\n"
             "%s      1000       990             10        0.990000\n"
             "%s      1000      1000              0        1.000000\n",
             topic, t[0], t[3], t[0], t[1], t[2]);
    assert_string_equal(r.out, expect);

    run(&r, b->url, "report", "--topic", topic, "--from", from_s, "--to", to_s,
        "--format", "csv", "--reference", "regional", NULL);
    expect_status(&r, 0);
    snprintf(expect, sizeof(expect),
             "bucket,begin,end,regional.count,regional.loss,"
             "regional.completeness,regional.unexpected,regional.p95_ms,"
             "regional.p99_ms,producer.count,producer.loss,"
             "producer.completeness,producer.unexpected,producer.p95_ms,"
             "producer.p99_ms\n"
             "%s,%lld,%lld,1000,0,1.000000,0,0.000,0.000,1000,0,1.000000,0,"
             "0.000,0.000\n"
             "%s,%lld,%lld,990,0,1.000000,0,0.000,0.000,1000,-10,1.010101,0,"
             "0.000,0.000\n"
             "%s,%lld,%lld,1000,0,1.000000,0,0.000,0.000,1000,0,1.000000,0,"
             "0.000,0.000\n",
             t[0], (long long)base, (long long)base + 600, t[1],
             (long long)base + 600, (long long)base + 1200, t[2],
             (long long)base + 1200, (long long)base + 1800);
    assert_string_equal(r.out, expect);

    run(&r, b->url, "report", "--topic", topic, "--from", t[0], "--to", t[3],
        "--format", "json", NULL);
    expect_status(&r, 0);
    assert_non_null(doc = json_loads(r.out, 0, NULL));
    assert_int_equal(json_array_size(json_object_get(doc, "buckets")), 3);
    assert_int_equal(
        json_integer_value(json_object_get(
            json_object_get(
                json_object_get(
                    json_array_get(json_object_get(doc, "buckets"), 1),
                    "tiers"),
                "regional"),
            "loss")),
        10);
    json_decref(doc);

    /* 1% of 1000 lost: over 0.01%, exactly at 1%. */
    run(&r, b->url, "check", "--topic", topic, "--max-loss", "0.01%", "--from",
        t[0], "--to", end_s, NULL);
    expect_status(&r, 2);
    snprintf(expect, sizeof(expect),
             "LOSS topic=%s bucket=%s tier=regional count=990 "
             "reference=producer reference_count=1000 loss=10 "
             "loss_percent=1.0000\n"
             "FAIL: 1 violation(s) in 1 of 3 final bucket(s) (max loss "
             "0.01%%, lateness 30m)\n",
             topic, t[1]);
    assert_string_equal(r.out, expect);

    run(&r, b->url, "check", "--topic", topic, "--max-loss", "0.01",
        "--lateness", "1h", "--from", t[0], "--to", end_s, NULL);
    expect_status(&r, 0);
    snprintf(expect, sizeof(expect),
             "OK: 3 final bucket(s) of 1 topic(s) checked, no tier lost more "
             "than 1%% (lateness 1h); lowest completeness 0.990000: topic=%s "
             "bucket=%s tier=regional\n",
             topic, t[1]);
    assert_string_equal(r.out, expect);
}

/*
 * Topic "<prefix>-now": complete buckets that ended over an hour ago, and
 * the current bucket (not final) with a loss: check passes.  Then a loss
 * in a final bucket (more producer messages stored into it): check fails.
 */
static void case_check_lateness(const backend_t *b, const char *topic)
{
    int64_t now = (int64_t)time(NULL);
    int64_t cur = now / 600 * 600, old = cur - 3 * 3600;
    store_row_t rows[8];
    char bucket[REP_TIME_MAX], expect[1024], to[32];
    size_t n = 0;
    run_t r;

    for (int i = 0; i < 3; i++) {
        assert_true(seed_row(&rows[n++], topic, old + 600 * i, "producer",
                             "dc1", 500, 0));
        assert_true(seed_row(&rows[n++], topic, old + 600 * i, "consumer",
                             "dc1", 500, 0));
    }
    assert_true(seed_row(&rows[n++], topic, cur, "producer", "dc1", 500, 0));
    assert_true(seed_row(&rows[n++], topic, cur, "consumer", "dc1", 400, 0));
    seed(b, rows, n);

    run(&r, b->url, "check", "--topic", topic, "--max-loss", "0%", NULL);
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "OK: 3 final bucket(s) of 1 topic(s)"));
    /* Even without lateness: the current bucket has not ended. */
    run(&r, b->url, "check", "--topic", topic, "--lateness", "0", NULL);
    expect_status(&r, 0);

    /* 7 more producer messages in the second old bucket: a loss of 7 at
     * the consumer in a final bucket. */
    assert_true(seed_row(&rows[0], topic, old + 600, "producer", "dc2", 7, 0));
    seed(b, rows, 1);
    run(&r, b->url, "check", "--topic", topic, NULL);
    expect_status(&r, 2);
    rep_format_time(old + 600, bucket);
    snprintf(expect, sizeof(expect),
             "LOSS topic=%s bucket=%s tier=consumer count=500 "
             "reference=producer reference_count=507 loss=7 "
             "loss_percent=1.3807\n",
             topic, bucket);
    assert_non_null(strstr(r.out, expect));
    assert_non_null(strstr(r.out, "FAIL: 1 violation(s) in 1 of 3 final "
                                  "bucket(s) (max loss 0.01%, lateness "
                                  "30m)\n"));
    /* The open bucket is shown by report, flagged by nothing. */
    snprintf(to, sizeof(to), "%lld", (long long)(cur + 600));
    run(&r, b->url, "report", "--topic", topic, "--from", "-4h", "--to", to,
        NULL);
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "4 bucket(s)"));
}

static void case_errors(const backend_t *b, const char *topic)
{
    run_t r;

    run(&r, b->url, "report", "--topic", "nosuch-topic-xyz", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--topic: no audit data"));
    run(&r, b->url, "check", "--topic", "nosuch-topic-xyz", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--topic"));
    run(&r, b->url, "report", "--topic", topic, "--from", "-1h", "--to", "-2h",
        NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--from"));
    assert_string_equal(r.out, "");
}

static void run_backend(const backend_t *b)
{
    char prefix[96], old[128], now[128];
    int64_t base = ((int64_t)time(NULL) - 2 * 86400) / 3600 * 3600;

    tu_unique_name(prefix, sizeof(prefix), "rep");
    snprintf(old, sizeof(old), "%s-old", prefix);
    snprintf(now, sizeof(now), "%s-now", prefix);
    fprintf(stderr, "backend %s: topics %s, %s\n", b->name, old, now);
    case_report_and_check_old(b, old, base);
    case_check_lateness(b, now);
    case_errors(b, old);
    if (b->private_db) {
        /* Every topic: the old one's loss fails the whole check. */
        run_t r;
        run(&r, b->url, "check", "--from", "-3d", NULL);
        expect_status(&r, 2);
    }
}

/* ------------------------------------------------------------ tests */

static void test_sqlite(void **state)
{
    backend_t b = {.name = "sqlite", .private_db = true};

    (void)state;
    snprintf(b.url, sizeof(b.url), "sqlite://%s/audit.db", dir);
    run_backend(&b);
}

static void server_backend(const char *name, const char *env)
{
    const char *url = getenv(env);
    backend_t b = {.name = name};

    if (!url || !*url)
        TU_SKIP_CASE("%s not set: %s skipped (scripts/services.sh)", env, name);
    snprintf(b.url, sizeof(b.url), "%s", url);
    run_backend(&b);
}

static void test_mysql(void **state)
{
    (void)state;
    server_backend("mysql", "CHP_TEST_MYSQL_URL");
}

static void test_pgsql(void **state)
{
    (void)state;
    server_backend("postgresql", "CHP_TEST_PG_URL");
}

static void test_arguments(void **state)
{
    run_t r;

    (void)state;
    run(&r, NULL, "report", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--topic is required"));
    run(&r, NULL, "check", "--max-loss", "abc", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--max-loss"));
    run(&r, NULL, "check", "--lateness", "5x", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--lateness"));
    run(&r, NULL, "report", "--topic", "t", "--format", "xml", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--format"));
    run(&r, NULL, "check", "--bogus", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "unknown option --bogus"));
    run(&r, NULL, "check", "--help", NULL);
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "usage: chaperone check"));
}

/* The pipeline view of both commands on SQLite: check's OK line, its
 * DUPLICATION line and exit 2, a bad pipeline named, JSON from report. */
static void test_pipeline_commands(void **state)
{
    const char *tiers = "producer,kafka-regional,kafka-aggregate";
    store_row_t rows[5];
    char url[128], when[REP_TIME_MAX], want[1024];
    int64_t base = ((int64_t)time(NULL) - 2 * 86400) / 600 * 600;
    json_t *doc;
    run_t r;

    (void)state;
    snprintf(url, sizeof(url), "sqlite://%s/pipeline.db", dir);
    rep_format_time(base, when);
    assert_true(seed_row(&rows[0], "pipe", base, "producer", "dc1", 100, 0));
    assert_true(seed_row(&rows[1], "pipe", base, "producer", "dc2", 50, 0));
    assert_true(
        seed_row(&rows[2], "pipe", base, "kafka-regional", "dc1", 100, 0));
    assert_true(
        seed_row(&rows[3], "pipe", base, "kafka-regional", "dc2", 50, 0));
    assert_true(
        seed_row(&rows[4], "pipe", base, "kafka-aggregate", "agg", 150, 0));
    if (seed_flush(url, rows, 5, want, sizeof(want)) != 0)
        fail_msg("seeding: %s", want);
    seed_clear(rows, 5);

    run(&r, url, "check", "--from", "-3d", "--pipeline", tiers, NULL);
    expect_status(&r, 0);
    assert_string_equal(r.out, "OK: 1 final bucket(s) of 1 topic(s) checked "
                               "along 2 hop(s), no hop lost or duplicated "
                               "more than 0.01% (lateness 30m)\n");
    run(&r, url, "check", "--from", "-3d", "-X", "report.pipeline=producer",
        NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "report.pipeline: a pipeline needs at "
                                  "least two tiers (got producer)"));
    run(&r, url, "report", "--topic", "pipe", "--from", "-3d", "--pipeline",
        "producer,producer", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "--pipeline: tier producer appears twice"));
    run(&r, url, "report", "--topic", "pipe", "--from", "-3d", "--format",
        "json", "-X", "report.pipeline=producer, kafka-regional", NULL);
    expect_status(&r, 0);
    assert_non_null(doc = json_loads(r.out, 0, NULL));
    assert_int_equal(json_array_size(json_object_get(doc, "hops")), 1);
    assert_string_equal(
        json_string_value(json_object_get(
            json_array_get(json_object_get(doc, "pipeline"), 1), "tier")),
        "kafka-regional");
    json_decref(doc);

    /* Three more in the aggregate (another host): duplicated. */
    assert_true(
        seed_row(&rows[0], "pipe", base, "kafka-aggregate", "agg", 3, 0));
    snprintf(rows[0].host, sizeof(rows[0].host), "h2");
    if (seed_flush(url, rows, 1, want, sizeof(want)) != 0)
        fail_msg("seeding: %s", want);
    seed_clear(rows, 1);
    run(&r, url, "check", "--from", "-3d", "--pipeline", tiers, NULL);
    expect_status(&r, 2);
    snprintf(want, sizeof(want),
             "DUPLICATION topic=pipe bucket=%s "
             "hop=kafka-regional->kafka-aggregate datacenter=dc1+dc2 "
             "upstream=150 downstream=153 loss=0 duplicated=3 "
             "duplicated_percent=2.0000\n"
             "FAIL: 1 violation(s) in 1 of 1 final bucket(s): 0 message(s) "
             "lost in 0 hop cell(s), 3 duplicated in 1 (max loss 0.01%%, "
             "lateness 30m)\n",
             when);
    assert_string_equal(r.out, want);
}

static void test_database_unreachable(void **state)
{
    run_t r;

    (void)state;
    run(&r, "sqlite:///nonexistent-dir/x/audit.db", "check", NULL);
    expect_status(&r, 1);
    assert_non_null(strstr(r.err, "db.url"));
    run(&r, "mysql://u:secret@127.0.0.1:1/db", "report", "--topic", "t", NULL);
    expect_status(&r, 1);
    assert_null(strstr(r.err, "secret")); /* the password stays private */
    run(&r, "postgresql://u:secret@127.0.0.1:1/db", "check", NULL);
    expect_status(&r, 1);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/chp-report-XXXXXX");
    assert_non_null(mkdtemp(dir));
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arguments),
        cmocka_unit_test(test_database_unreachable),
        cmocka_unit_test(test_pipeline_commands),
        cmocka_unit_test(test_sqlite),
        cmocka_unit_test(test_mysql),
        cmocka_unit_test(test_pgsql),
    };
    return tu_status(cmocka_run_group_tests(tests, setup, teardown));
}
