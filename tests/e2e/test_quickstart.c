/* E2E: the README's quick start, run as written.  The commands between
 * <!-- quickstart:begin --> and <!-- quickstart:end --> are extracted from
 * README.md and run by bash in the source tree.  Like a new user, they
 * start a Kafka of their own (scripts/kafka.sh, here on port 19092 with its
 * own data directory, so the suite's broker and its thousands of test
 * topics stay out of it: 127.0.0.1:9092 in the commands becomes
 * 127.0.0.1:19092); the daemons and that Kafka are stopped at the end.
 * The report it prints must show the 100 dummy messages at both tiers,
 * and the dashboard must list the topic. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char *read_file(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf;
    long n;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    buf = malloc((size_t)n + 1);
    if (buf && fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf)
        buf[n] = '\0';
    fclose(fp);
    return buf;
}

/* The shell lines of the quick-start block (between the ```sh fence lines
 * inside the markers), with the broker address replaced. */
static char *extract(const char *readme, const char *brokers)

{
    const char *b = strstr(readme, "<!-- quickstart:begin -->");
    const char *e = b ? strstr(b, "<!-- quickstart:end -->") : NULL;
    const char *s, *end, *p;
    size_t cap, o = 0;
    char *out;

    if (!b || !e || !(s = strstr(b, "```sh\n")) || s > e)
        return NULL;
    s += 6;
    if (!(end = strstr(s, "```")) || end > e)
        return NULL;
    cap = (size_t)(end - s) * 2 + 1024;
    if (!(out = malloc(cap)))
        return NULL;
    for (p = s; p < end;) {
        if (!strncmp(p, "127.0.0.1:9092", 14)) {
            o += (size_t)snprintf(out + o, cap - o, "%s", brokers);
            p += 14;
        } else {
            out[o++] = *p++;
        }
    }
    out[o] = '\0';
    return out;
}

static void test_readme_quickstart(void **state)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    const char *brokers = "127.0.0.1:19092";
    char path[1024], script[1024], cmd[2048], rundir[256];
    static char out[1 << 22];
    char *readme, *block;
    FILE *fp;
    (void)state;

    assert_non_null(src);
    snprintf(path, sizeof(path), "%s/README.md", src);
    assert_non_null(readme = read_file(path));
    block = extract(readme, brokers);
    if (!block)
        fail_msg("README.md has no quickstart block");

    unlink("/tmp/chaperone-quickstart.db");
    snprintf(rundir, sizeof(rundir), "/tmp/chp-quickstart-run-%d",
             (int)getpid());

    snprintf(script, sizeof(script), "/tmp/chp-quickstart-%d.sh",
             (int)getpid());
    assert_non_null(fp = fopen(script, "w"));
    /* Background daemons are stopped (SIGTERM) when the script ends, then
     * the script's own Kafka. */
    fprintf(fp,
            "set -e\ncd '%s'\n"
            "export KAFKA_PORT=19092 KAFKA_CONTROLLER_PORT=19093 "
            "CHP_RUN_DIR='%s'\n"
            "trap 'kill $(jobs -p) 2>/dev/null; wait; "
            "scripts/kafka.sh stop >/dev/null; rm -rf \"$CHP_RUN_DIR\"' EXIT\n"
            "%s",
            src, rundir, block);
    fclose(fp);
    free(block);
    free(readme);

    snprintf(cmd, sizeof(cmd), "timeout 600 bash '%s' 2>/dev/null", script);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t got = fread(out, 1, sizeof(out) - 1, p);
    out[got] = '\0';
    int st = pclose(p);
    unlink(script);
    /* The last part of the output: the report and the dashboard check. */
    fprintf(stderr, "%s\n", got > 3000 ? out + got - 3000 : out);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
        fail_msg("the quick start failed (status %d)", st);

    /* The report: 100 at the producer and 100 in Kafka, summed over the
     * rows (both tiers count in the bucket of the time they saw the
     * messages, which may straddle a bucket boundary). */
    assert_non_null(strstr(out, "topic dummyTopic"));
    unsigned long a = 0, b = 0;
    int rows = 0;
    for (char *row = out; (row = strstr(row, "\n20")); row++) {
        unsigned long x, y;
        char when[64];
        if (sscanf(row + 1, "%63s %lu %lu", when, &x, &y) == 3) {
            a += x, b += y;
            rows++;
        }
    }
    if (rows == 0)
        fail_msg("no report row in:\n%s", out);
    assert_int_equal(a, 100);
    assert_int_equal(b, 100);
    /* The dashboard lists the topic. */
    assert_non_null(strstr(out, "\ndummyTopic\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_readme_quickstart),
    };
    if (system("command -v kcat >/dev/null && command -v curl >/dev/null"))
        tu_skip("kcat or curl missing (scripts/deps.sh installs them)");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
