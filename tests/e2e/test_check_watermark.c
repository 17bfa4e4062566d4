/* e2e: `chaperone check --watermark` on a SQLite database seeded through
 * the collector's store: the watermark line, the BLOCKED line and the exit
 * status with and without --until, for a loss, a duplicate and a tier that
 * never reported.  No server needed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "proc.h"
#include "report/report.h"
#include "report_seed.h"

#define W 600

static char dir[256], url[400], dbkv[420], log_path[400];
static int64_t t0; /* first bucket: 5 buckets before the current one */

/* Runs chaperone check --watermark ARGS...; returns the exit status and
 * the output in out. */
static int wm(char *out, size_t n, ...)
{
    const char *args[PROC_MAX_ARGS];
    proc_t p;
    va_list ap;
    int k = 0;
    FILE *f;
    size_t got;

    args[k++] = "check";
    args[k++] = "--watermark";
    args[k++] = "-X";
    args[k++] = dbkv;
    args[k++] = "-X";
    args[k++] = "report.lateness.s=60";
    va_start(ap, n);
    for (const char *a;
         (a = va_arg(ap, const char *)) && k < PROC_MAX_ARGS - 1;)
        args[k++] = a;
    va_end(ap);
    args[k] = NULL;
    remove(log_path);
    assert_int_equal(proc_start(&p, log_path, args), 0);
    proc_stop(&p, 0, 60000);
    assert_non_null(f = fopen(log_path, "r"));
    got = fread(out, 1, n - 1, f);
    out[got] = '\0';
    fclose(f);
    return p.status;
}

static int setup(void **state)
{
    store_row_t rows[16];
    size_t n = 0;
    char err[512];
    (void)state;

    snprintf(dir, sizeof(dir), "/tmp/chp-wm-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(url, sizeof(url), "sqlite://%s/audit.db", dir);
    snprintf(dbkv, sizeof(dbkv), "db.url=%s", url);
    snprintf(log_path, sizeof(log_path), "%s/out.log", dir);
    t0 = ((int64_t)time(NULL) / W - 5) * W;
    /* producer 100 per bucket in buckets 0..3; kafka-aggregate equal but
     * 2 short in bucket 2 and 3 over (MirrorMaker re-sent) in bucket 1. */
    for (int b = 0; b < 4; b++) {
        seed_row(&rows[n++], "orders", t0 + b * W, "producer", "dc1", 100, 0);
        seed_row(&rows[n++], "orders", t0 + b * W, "kafka-aggregate", "agg",
                 b == 2   ? 98
                 : b == 1 ? 103
                          : 100,
                 0);
    }
    if (seed_flush(url, rows, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "seed: %s\n", err);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    char cmd[300];
    (void)state;

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void test_blocked_by_loss(void **state)
{
    char out[4096], want[512], when[REP_TIME_MAX];
    (void)state;

    assert_int_equal(wm(out, sizeof(out), "--topic", "orders", "--tiers",
                        "producer,kafka-aggregate", NULL),
                     0);
    rep_format_time(t0 + 2 * W, when);
    snprintf(want, sizeof(want),
             "WATERMARK topic=orders until=%s until_s=%lld "
             "complete_buckets=2 tiers=producer,kafka-aggregate\n",
             when, (long long)(t0 + 2 * W));
    assert_non_null(strstr(out, want));
    snprintf(want, sizeof(want),
             "BLOCKED topic=orders bucket=%s tier=kafka-aggregate count=98 "
             "reference_count=100\n",
             when);
    assert_non_null(strstr(out, want));

    /* --until: reached for the end of bucket 1, not for bucket 3's. */
    snprintf(want, sizeof(want), "%lld", (long long)(t0 + 2 * W));
    assert_int_equal(wm(out, sizeof(out), "--topic", "orders", "--tiers",
                        "producer,kafka-aggregate", "--until", want, NULL),
                     0);
    snprintf(want, sizeof(want), "%lld", (long long)(t0 + 4 * W));
    assert_int_equal(wm(out, sizeof(out), "--topic", "orders", "--tiers",
                        "producer,kafka-aggregate", "--until", want, NULL),
                     2);
    /* Allowing 2% loss: complete through bucket 3. */
    assert_int_equal(wm(out, sizeof(out), "--topic", "orders", "--tiers",
                        "producer,kafka-aggregate", "--until", want,
                        "--max-loss", "2%", NULL),
                     0);
    assert_non_null(strstr(out, "complete_buckets=4"));
    assert_null(strstr(out, "BLOCKED"));
}

static void test_tier_never_reported(void **state)
{
    char out[4096], when[REP_TIME_MAX], want[256];
    (void)state;

    assert_int_equal(wm(out, sizeof(out), "--topic", "orders", "--tiers",
                        "producer,consumer-etl", NULL),
                     2);
    assert_non_null(strstr(out, "WATERMARK topic=orders until=none "
                                "complete_buckets=0 "
                                "tiers=producer,consumer-etl\n"));
    rep_format_time(t0, when);
    snprintf(want, sizeof(want),
             "BLOCKED topic=orders bucket=%s tier=consumer-etl count=0 "
             "reference_count=100\n",
             when);
    assert_non_null(strstr(out, want));
}

static void test_errors(void **state)
{
    char out[4096];
    (void)state;

    assert_int_equal(wm(out, sizeof(out), NULL), 1);
    assert_non_null(strstr(out, "--topic is required"));
    assert_int_equal(wm(out, sizeof(out), "--topic", "nosuch", NULL), 1);
    assert_non_null(strstr(out, "no audit data is stored for topic nosuch"));
    assert_int_equal(
        wm(out, sizeof(out), "--topic", "orders", "--tiers", "a,,b", NULL), 1);
    assert_non_null(strstr(out, "--tiers: item 2"));
    assert_int_equal(
        wm(out, sizeof(out), "--topic", "orders", "--until", "yesterday", NULL),
        1);
    assert_non_null(strstr(out, "--until:"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocked_by_loss),
        cmocka_unit_test(test_tier_never_reported),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
