/* Unit tests: secrets in the configuration (lib/conf_secret.c) - values
 * read from files with @file:, redaction by chp_conf_dump and scrubbing of
 * log lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "log.h"
#include "conf_daemon.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/chp-conf-secret-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_file(const char *name, const char *content)
{
    static char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    fputs(content, fp);
    fclose(fp);
    return path;
}

/* chp_conf_dump into a malloc()ed string. */
static char *dump(const chp_conf_t *c)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);

    assert_non_null(fp);
    chp_conf_dump(c, fp);
    fclose(fp);
    return buf;
}

static void test_at_file(void **state)
{
    chp_conf_t *c = conf_daemon_new();
    char kv[256], err[512];
    const char *p;

    (void)state;
    p = write_file("pw", "hunter2-from-file\n");
    snprintf(kv, sizeof(kv), "kafka.sasl.password=@file:%s", p);
    assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "kafka.sasl.password"),
                        "hunter2-from-file");
    /* Any key, table entries too; CRLF dropped. */
    p = write_file("tier", "from-a-file\r\n");
    snprintf(kv, sizeof(kv), "tier=@file:%s", p);
    assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "from-a-file");
    /* The value is checked like any other. */
    p = write_file("port", "70000\n");
    snprintf(kv, sizeof(kv), "http.port=@file:%s", p);
    assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_ERR_RANGE);
    assert_non_null(strstr(err, "http.port"));
    /* "@@file:" is the literal "@file:". */
    assert_int_equal(
        chp_conf_set_kv(c, "tier=@@file:/etc/passwd", err, sizeof(err)),
        CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "@file:/etc/passwd");
    assert_int_equal(chp_conf_set_kv(c, "tier=@other", err, sizeof(err)),
                     CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "@other");
    /* In a .properties file as well. */
    p = write_file("tok", "token-from-a-file-0001\n");
    snprintf(kv, sizeof(kv), "http.auth.token = @file:%s\n", p);
    assert_int_equal(
        chp_conf_load_buf(c, kv, strlen(kv), "x.properties", err, sizeof(err)),
        CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "http.auth.token"),
                        "token-from-a-file-0001");
    chp_conf_destroy(c);
}

static void test_at_file_errors(void **state)
{
    chp_conf_t *c = conf_daemon_new();
    char kv[256], err[512], fifo[128];

    (void)state;
    assert_int_equal(
        chp_conf_set_kv(c, "kafka.sasl.password=@file:/nonexistent/pw", err,
                        sizeof(err)),
        CHP_ERR_IO);
    assert_non_null(strstr(err, "\"kafka.sasl.password\""));
    assert_non_null(strstr(err, "/nonexistent/pw"));
    assert_int_equal(
        chp_conf_set_kv(c, "kafka.sasl.password=@file:", err, sizeof(err)),
        CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(err, "needs a path"));
    /* A directory, a FIFO (would block a naive read) and a huge file. */
    snprintf(kv, sizeof(kv), "tier=@file:%s", dir);
    assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_ERR_IO);
    assert_non_null(strstr(err, "not a regular file"));
    snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    snprintf(kv, sizeof(kv), "tier=@file:%s", fifo);
    assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_ERR_IO);
    {
        char path[128];
        FILE *fp;
        snprintf(path, sizeof(path), "%s/big", dir);
        assert_non_null(fp = fopen(path, "w"));
        for (int i = 0; i < 70000; i++)
            fputc('x', fp);
        fclose(fp);
        snprintf(kv, sizeof(kv), "tier=@file:%s", path);
        assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_ERR_IO);
    }
    /* A control character inside is refused as for any value. */
    snprintf(kv, sizeof(kv), "tier=@file:%s", write_file("ctl", "a\tb\x01"));
    assert_int_equal(chp_conf_set_kv(c, kv, err, sizeof(err)), CHP_ERR_TYPE);
    /* Failed sets leave the old value. */
    assert_string_equal(chp_conf_get_str(c, "tier"), "");
    chp_conf_destroy(c);
}

static void test_is_secret(void **state)
{
    const char *secret[] = {
        "http.auth.token",
        "kafka.sasl.password",
        "kafka.ssl.key.password",
        "kafka.ssl.keystore.password",
        "kafka.ssl.key.pem",
        "kafka.sasl.oauthbearer.client.secret",
        "kafka.sasl.oauthbearer.config",
        "chaperone.kafka.sasl.password",
        "chaperone.kafka.ssl.key.password",
        "chaperone.http.auth.token",
        "kafka.SASL.PASSWORD",
    };
    const char *open_keys[] = {
        "http.auth.token.file",
        "kafka.sasl.username",
        "kafka.ssl.key.location",
        "kafka.sasl.mechanism",
        "tier",
        "chaperone.kafka.sasl.username",
        "db.url", /* its password is cut out by dump, see below */
    };

    (void)state;
    for (size_t i = 0; i < sizeof(secret) / sizeof(secret[0]); i++)
        if (!chp_conf_is_secret_in(&conf_daemon_table, secret[i]))
            fail_msg("%s should be secret", secret[i]);
    for (size_t i = 0; i < sizeof(open_keys) / sizeof(open_keys[0]); i++)
        if (chp_conf_is_secret_in(&conf_daemon_table, open_keys[i]))
            fail_msg("%s should not be secret", open_keys[i]);
}

static void test_dump_redacts(void **state)
{
    chp_conf_t *c = conf_daemon_new();
    char err[512];
    const char *kvs[] = {
        "http.auth.token=tok-AAAA-0000000000000",
        "kafka.sasl.password=pw-BBBB",
        "kafka.ssl.key.password=pw-CCCC",
        "kafka.ssl.keystore.password=pw-DDDD",
        "kafka.sasl.oauthbearer.client.secret=pw-EEEE",
        "db.url=postgresql://chp:pw-FFFF@127.0.0.1:5432/db",
        "kafka.sasl.username=alice",
    };
    char *out;

    (void)state;
    for (size_t i = 0; i < sizeof(kvs) / sizeof(kvs[0]); i++)
        assert_int_equal(chp_conf_set_kv(c, kvs[i], err, sizeof(err)), CHP_OK);
    out = dump(c);
    assert_null(strstr(out, "pw-"));
    assert_null(strstr(out, "tok-AAAA"));
    assert_non_null(strstr(out, "http.auth.token=[redacted]\n"));
    assert_non_null(strstr(out, "kafka.sasl.password=[redacted]\n"));
    assert_non_null(strstr(out, "kafka.ssl.keystore.password=[redacted]\n"));
    assert_non_null(strstr(out, "kafka.sasl.username=alice\n"));
    assert_non_null(strstr(out, "http.auth.token.file=\n"));
    free(out);
    /* An unset token dumps as empty, not as "[redacted]". */
    chp_conf_destroy(c);
    c = conf_daemon_new();
    out = dump(c);
    assert_non_null(strstr(out, "http.auth.token=\n"));
    free(out);
    chp_conf_destroy(c);
}

static void test_log_scrub(void **state)
{
    chp_conf_t *c = conf_daemon_new();
    char err[512], line[256], path[128], got[1024] = "";
    FILE *fp;
    size_t n;
    int saved;

    (void)state;
    assert_int_equal(chp_conf_set_kv(c, "kafka.sasl.password=Scrub-Me-1234",
                                     err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(chp_conf_set_kv(c,
                                     "db.url=mysql://u:Url-Pass-987@h:3306/d",
                                     err, sizeof(err)),
                     CHP_OK);
    snprintf(line, sizeof(line), "a Scrub-Me-1234 b Scrub-Me-1234");
    chp_log_redact(line, sizeof(line));
    assert_string_equal(line, "a [redacted] b [redacted]");
    /* A line near its end grows by the mark and is cut, not overrun. */
    memset(line, 'x', 20);
    strcpy(line + 20, "Scrub-Me-1234");
    chp_log_redact(line, 26);
    assert_int_equal(strlen(line), 20);
    /* Through chp_log itself: stderr into a file. */
    snprintf(path, sizeof(path), "%s/log", dir);
    fflush(stderr);
    saved = dup(2);
    assert_non_null(freopen(path, "w", stderr));
    chp_log_error(
        "connect with Scrub-Me-1234 to mysql://u:Url-Pass-987@h failed");
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    assert_non_null(fp = fopen(path, "r"));
    n = fread(got, 1, sizeof(got) - 1, fp);
    got[n] = '\0';
    fclose(fp);
    assert_null(strstr(got, "Scrub-Me"));
    assert_null(strstr(got, "Url-Pass"));
    assert_non_null(strstr(got, "connect with [redacted] to "
                                "mysql://u:[redacted]@h failed"));
    chp_conf_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_at_file),   cmocka_unit_test(test_at_file_errors),
        cmocka_unit_test(test_is_secret), cmocka_unit_test(test_dump_redacts),
        cmocka_unit_test(test_log_scrub),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
