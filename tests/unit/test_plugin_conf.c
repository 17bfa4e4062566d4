/* The plugin's configuration rules (librdkafka's mock cluster, no server):
 *  - its producer inherits the client's security settings when the audit
 *    goes to the client's own cluster; chaperone.kafka.* overrides; with
 *    chaperone.bootstrap.servers nothing is inherited; secrets never
 *    appear in its log;
 *  - a transactional producer is refused at configuration time, whichever
 *    order the keys come in, with a message that says why. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "testutil.h"

#define SECRET "S3cret-Value-xyz"

static char plugin[1024];
static char bootstraps[256];

/* Creates and destroys a producer with stderr captured into log
 * (NUL-terminated): the client's settings of every case (SASL on the mock
 * cluster, the plugin with its debug log), then the key, value pairs of
 * extra. */
static void run_captured(const char *const *extra, char *log, size_t n)
{
    const char *const base[] = {"bootstrap.servers",
                                bootstraps,
                                "log_level",
                                "0",
                                "security.protocol",
                                "SASL_PLAINTEXT",
                                "sasl.mechanisms",
                                "PLAIN",
                                "sasl.username",
                                "alice",
                                "sasl.password",
                                SECRET,
                                "plugin.library.paths",
                                plugin,
                                "chaperone.log.level",
                                "debug",
                                NULL};
    const char *const *lists[] = {base, extra};
    char path[] = "/tmp/chp-plugconf-XXXXXX", err[512];
    int fd = mkstemp(path), saved = dup(2);
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    rd_kafka_t *rk;
    ssize_t got;

    assert_true(fd >= 0 && saved >= 0);
    fflush(stderr);
    dup2(fd, 2);
    for (int l = 0; l < 2; l++)
        for (int i = 0; lists[l][i]; i += 2)
            assert_int_equal(rd_kafka_conf_set(c, lists[l][i], lists[l][i + 1],
                                               err, sizeof(err)),
                             RD_KAFKA_CONF_OK);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_destroy(rk);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    got = pread(fd, log, n - 1, 0);
    log[got > 0 ? got : 0] = '\0';
    close(fd);
    unlink(path);
}

static int count_of(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_inherits_security(void **state)
{
    static char log[65536];
    (void)state;

    const char *const own[] = {NULL};
    run_captured(own, log, sizeof(log));
    fprintf(stderr, "--- own cluster:\n%s", log);
    assert_int_equal(count_of(log, "inherits security.protocol"), 1);
    assert_int_equal(count_of(log, "inherits sasl.mechanisms"), 1);
    assert_int_equal(count_of(log, "inherits sasl.username"), 1);
    assert_int_equal(count_of(log, "inherits sasl.password"), 1);
    assert_int_equal(count_of(log, "client's 4 security setting(s)"), 1);
    assert_int_equal(count_of(log, SECRET), 0);

    const char *const override[] = {"chaperone.kafka.sasl.username", "auditor",
                                    "chaperone.kafka.sasl.password",
                                    "other-" SECRET, NULL};
    run_captured(override, log, sizeof(log));
    fprintf(stderr, "--- overridden:\n%s", log);
    assert_int_equal(count_of(log, "inherits sasl.username"), 0);
    assert_int_equal(count_of(log, "inherits sasl.password"), 0);
    assert_int_equal(count_of(log, "client's 2 security setting(s)"), 1);
    assert_int_equal(count_of(log, SECRET), 0);

    const char *const other[] = {"chaperone.bootstrap.servers", bootstraps,
                                 NULL};
    run_captured(other, log, sizeof(log));
    fprintf(stderr, "--- other cluster:\n%s", log);
    assert_int_equal(count_of(log, "inherits"), 0);
    assert_int_equal(count_of(log, SECRET), 0);
}

static void test_refuses_transactional(void **state)
{
    char err[1024];
    rd_kafka_conf_t *c;
    (void)state;

    /* transactional.id after the plugin: its own set fails. */
    c = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(c, "plugin.library.paths", plugin, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    err[0] = '\0';
    assert_int_equal(
        rd_kafka_conf_set(c, "transactional.id", "t1", err, sizeof(err)),
        RD_KAFKA_CONF_INVALID);
    fprintf(stderr, "after: %s\n", err);
    assert_non_null(strstr(err, "transactional.id"));
    assert_non_null(strstr(err, "committed or aborted"));
    rd_kafka_conf_destroy(c);

    /* transactional.id before the plugin: loading the plugin fails. */
    c = rd_kafka_conf_new();
    assert_int_equal(
        rd_kafka_conf_set(c, "transactional.id", "t1", err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    err[0] = '\0';
    assert_int_not_equal(
        rd_kafka_conf_set(c, "plugin.library.paths", plugin, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    fprintf(stderr, "before: %s\n", err);
    assert_non_null(strstr(err, "transactional.id"));
    rd_kafka_conf_destroy(c);
}

int main(void)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_inherits_security),
        cmocka_unit_test(test_refuses_transactional),
    };
    rd_kafka_t *helper;
    rd_kafka_mock_cluster_t *mc;
    int rc;

    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             bin ? bin : ".");
    helper = tu_producer("127.0.0.1:1",
                         (const char *const[]){"log_level", "0", NULL});
    mc = rd_kafka_mock_cluster_new(helper, 1);
    snprintf(bootstraps, sizeof(bootstraps), "%s",
             rd_kafka_mock_cluster_bootstraps(mc));
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(helper);
    return rc;
}
