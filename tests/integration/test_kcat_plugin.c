/* Integration (real broker): kcat, an unmodified librdkafka client, audited
 * by the interceptor plugin through -X properties alone.  Exact counts on
 * the producing and the consuming side, including messages without a
 * timestamp and messages that are not JSON (21,200 in all, 3 buckets of
 * 7,000); a bad chaperone.* key makes
 * kcat fail with an error naming it. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "auditread.h"
#include "testutil.h"

#define T0              1478311200LL
#define BUCKETS         3
#define GOOD_PER_BUCKET 7000
#define NO_TS           120
#define NOT_JSON        80

static const char *brokers;
static char plugin[1024];

static void test_kcat_both_sides(void **state)
{
    char topic[128], audit[128], err[512], path[256], cmd[4096];
    ar_result_t *r = calloc(1, sizeof(*r));
    FILE *fp;
    (void)state;

    tu_unique_name(topic, sizeof(topic), "kcat");
    tu_unique_name(audit, sizeof(audit), "kcataudit");
    assert_int_equal(tu_create_topic(brokers, topic, 2, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(brokers, audit, 1, err, sizeof(err)), 0);

    snprintf(path, sizeof(path), "/tmp/chp-kcat-%d.txt", (int)getpid());
    assert_non_null(fp = fopen(path, "w"));
    for (int b = 0; b < BUCKETS; b++)
        for (int i = 0; i < GOOD_PER_BUCKET; i++)
            fprintf(fp,
                    "{\"event\":\"click\",\"timestamp\":%lld%03d,\"n\":%d}\n",
                    (long long)(T0 + b * 600 + i % 600), i % 1000, i);
    for (int i = 0; i < NO_TS; i++)
        fprintf(fp, "{\"event\":\"view\",\"n\":%d}\n", i);
    for (int i = 0; i < NOT_JSON; i++)
        fprintf(fp, "Kafka topic dummy topic data %d\n", i);
    fclose(fp);

    snprintf(cmd, sizeof(cmd),
             "kcat -b %s -P -t %s -X plugin.library.paths=%s "
             "-X chaperone.audit.topic=%s -X chaperone.tier=kcat-producer "
             "-X chaperone.report.interval.ms=500 -l %s 2>&1",
             brokers, topic, plugin, audit, path);
    char out[8192];
    int rc = tu_run(cmd, out, sizeof(out));
    if (rc != 0)
        fail_msg("kcat -P failed (%d): %s", rc, out);

    snprintf(cmd, sizeof(cmd),
             "kcat -b %s -C -t %s -o beginning -e -q "
             "-X plugin.library.paths=%s -X chaperone.audit.topic=%s "
             "-X chaperone.tier=kcat-consumer | wc -l",
             brokers, topic, plugin, audit);
    rc = tu_run(cmd, out, sizeof(out));
    assert_int_equal(rc, 0);
    int total = BUCKETS * GOOD_PER_BUCKET + NO_TS + NOT_JSON;
    assert_int_equal(strtol(out, NULL, 10), total);
    unlink(path);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    const char *tiers[] = {"kcat-producer", "kcat-consumer"};
    for (int t = 0; t < 2; t++) {
        uint64_t nt = 0, mf = 0;
        assert_int_equal(ar_total(r, tiers[t], topic), (uint64_t)total);
        for (int b = 0; b < BUCKETS; b++) {
            ar_sum_t *s = ar_get(r, tiers[t], topic, T0 + b * 600);
            assert_non_null(s);
            assert_int_equal(s->count, GOOD_PER_BUCKET);
            assert_int_equal(s->no_time + s->malformed, 0);
        }
        for (size_t i = 0; i < r->n; i++)
            if (!strcmp(r->sums[i].tier, tiers[t])) {
                nt += r->sums[i].no_time;
                mf += r->sums[i].malformed;
            }
        assert_int_equal(nt, NO_TS);
        assert_int_equal(mf, NOT_JSON);
    }
    free(r);
}

static void test_kcat_bad_key(void **state)
{
    char cmd[2048], out[4096];
    (void)state;

    snprintf(cmd, sizeof(cmd),
             "echo x | kcat -b %s -P -t chp-never-created "
             "-X plugin.library.paths=%s -X chaperone.no.such.key=1 2>&1",
             brokers, plugin);
    assert_int_not_equal(tu_run(cmd, out, sizeof(out)), 0);
    if (!strstr(out, "chaperone.no.such.key"))
        fail_msg("kcat error does not name the key: %s", out);

    snprintf(cmd, sizeof(cmd),
             "echo x | kcat -b %s -P -t chp-never-created "
             "-X plugin.library.paths=%s -X chaperone.bucket.seconds=0 2>&1",
             brokers, plugin);
    assert_int_not_equal(tu_run(cmd, out, sizeof(out)), 0);
    if (!strstr(out, "chaperone.bucket.seconds"))
        fail_msg("kcat error does not name the key: %s", out);
}

int main(void)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kcat_bad_key),
        cmocka_unit_test(test_kcat_both_sides),
    };

    brokers = tu_brokers();
    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             bin ? bin : ".");
    if (system("command -v kcat >/dev/null 2>&1") != 0)
        tu_skip("kcat is not installed (scripts/deps.sh installs it)");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
