/* E2E: `chaperone demo` — the whole pipeline in one command — on the mock
 * cluster (always) and on the real broker (--brokers, when
 * CHP_TEST_BROKERS is set): exit 0, and the report shows exactly the
 * injected loss in exactly one bucket. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "testutil.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static int run_demo(const char *extra, char *out, size_t n)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char cmd[1024];
    size_t got;
    FILE *p;
    int st;

    snprintf(cmd, sizeof(cmd), "'%s/chaperone' demo %s 2>&1", bin ? bin : ".",
             extra);
    if (!(p = popen(cmd, "r")))
        return -1;
    got = fread(out, 1, n - 1, p);
    out[got] = '\0';
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void check_output(const char *out)
{
    /* One lossy bucket of 500 events with 463 arrived: loss 37; the
     * eleven other buckets complete. */
    assert_int_equal(count(out, "0.926000"), 1);
    assert_non_null(strstr(out, "500         463               37"));
    assert_int_equal(count(out, "1.000000"), 11);
    assert_non_null(strstr(out, "6000 producer-tier and 5963 kafka-tier"));
}

static void test_demo_mock_cluster(void **state)
{
    static char out[65536];
    (void)state;

    int rc = run_demo("", out, sizeof(out));
    if (rc != 0)
        fail_msg("chaperone demo exited %d:\n%s", rc, out);
    assert_non_null(strstr(out, "librdkafka mock cluster"));
    check_output(out);
}

static void test_demo_real_broker(void **state)
{
    static char out[65536];
    char arg[300];
    const char *b = getenv("CHP_TEST_BROKERS");
    (void)state;

    if (!b)
        TU_SKIP_CASE("CHP_TEST_BROKERS is not set");
    snprintf(arg, sizeof(arg), "--brokers %s", b);
    int rc = run_demo(arg, out, sizeof(out));
    if (rc != 0)
        fail_msg("chaperone demo --brokers exited %d:\n%s", rc, out);
    check_output(out);
}

static void test_demo_bad_argument(void **state)
{
    static char out[4096];
    (void)state;

    assert_int_equal(run_demo("--frobnicate", out, sizeof(out)), 2);
    assert_non_null(strstr(out, "--frobnicate"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_demo_bad_argument),
        cmocka_unit_test(test_demo_mock_cluster),
        cmocka_unit_test(test_demo_real_broker),
    };
    return tu_status(cmocka_run_group_tests(tests, NULL, NULL));
}
