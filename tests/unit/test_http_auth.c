/* Unit tests: HTTP authentication (src/http_auth.c), protected mode, the
 * server's request seam (http_server_serve) and, through a real server,
 * HTTPS with a certificate made here by openssl, checked with curl. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"
#include "http.h"
#include "http_auth.h"
#include "testutil.h"
#include "conf_daemon.h"

#define TOKEN  "s3cret-token-0123456789"
#define TOKEN2 "second-token-abcdefghij"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/chp-http-auth-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    daemon_signals_install(); /* SIGHUP counts instead of killing */
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_file(const char *name, const char *content)
{
    char path[128];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    assert_non_null(fp = fopen(path, "w"));
    fputs(content, fp);
    fclose(fp);
}

static chp_conf_t *conf_of(const char *kv, ...)
{
    chp_conf_t *c = conf_daemon_new();
    char err[512];
    va_list ap;

    va_start(ap, kv);
    for (; kv; kv = va_arg(ap, const char *))
        if (chp_conf_set_kv(c, kv, err, sizeof(err)) != CHP_OK)
            fail_msg("%s: %s", kv, err);
    va_end(ap);
    return c;
}

/* http_auth_new's verdict on conf: NULL on success, else the message. */
static const char *auth_error(chp_conf_t *c, char *err, size_t n)
{
    http_auth_t *a = http_auth_new(c, err, n);

    chp_conf_destroy(c);
    if (a) {
        http_auth_destroy(a);
        return NULL;
    }
    return err;
}

static void test_equal(void **state)
{
    (void)state;
    assert_true(http_auth_equal("abc", 3, "abc", 3));
    assert_false(http_auth_equal("abc", 3, "abd", 3));
    assert_false(http_auth_equal("abc", 3, "abcd", 4));
    assert_false(http_auth_equal("abcd", 4, "abc", 3));
    assert_false(http_auth_equal("", 0, "a", 1));
    assert_true(http_auth_equal("", 0, "", 0));
    /* Lengths that differ by a multiple of 256 still differ. */
    {
        static char a[257], b[1];
        memset(a, 'x', 256);
        assert_false(http_auth_equal(a, 256, b, 0));
        assert_false(http_auth_equal(a, 257, a, 257)); /* over the limit */
    }
}

static void test_protected_mode(void **state)
{
    char err[512];
    const char *e;

    (void)state;
    e = auth_error(conf_of("http.address=0.0.0.0", NULL), err, sizeof(err));
    assert_non_null(e);
    assert_non_null(strstr(e, "http.auth.token\""));
    assert_non_null(strstr(e, "http.auth.token.file"));
    assert_non_null(strstr(e, "http.auth.disable=true"));
    e = auth_error(conf_of("http.address=10.1.2.3", NULL), err, sizeof(err));
    assert_non_null(e);
    /* Loopback, an explicit opt-out, or a token: allowed. */
    assert_null(
        auth_error(conf_of("http.address=127.0.0.1", NULL), err, sizeof(err)));
    assert_null(
        auth_error(conf_of("http.address=127.3.4.5", NULL), err, sizeof(err)));
    assert_null(auth_error(
        conf_of("http.address=0.0.0.0", "http.auth.disable=true", NULL), err,
        sizeof(err)));
    assert_null(auth_error(
        conf_of("http.address=0.0.0.0", "http.auth.token=" TOKEN, NULL), err,
        sizeof(err)));
    /* Contradictions and bad tokens name the key, never the token. */
    e = auth_error(
        conf_of("http.auth.disable=true", "http.auth.token=" TOKEN, NULL), err,
        sizeof(err));
    assert_non_null(e);
    assert_non_null(strstr(e, "http.auth.disable"));
    e = auth_error(conf_of("http.auth.token=shorty", NULL), err, sizeof(err));
    assert_non_null(e);
    assert_non_null(strstr(e, "\"http.auth.token\""));
    assert_null(strstr(e, "shorty"));
    e = auth_error(conf_of("http.auth.token.file=/nonexistent/tokens", NULL),
                   err, sizeof(err));
    assert_non_null(e);
    assert_non_null(strstr(e, "/nonexistent/tokens"));
    write_file("empty", "# nothing\n\n");
    {
        char kv[160];
        snprintf(kv, sizeof(kv), "http.auth.token.file=%s/empty", dir);
        e = auth_error(conf_of(kv, NULL), err, sizeof(err));
        assert_non_null(e);
        assert_non_null(strstr(e, "holds no token"));
        write_file("bad", TOKEN "\nshort\n");
        snprintf(kv, sizeof(kv), "http.auth.token.file=%s/bad", dir);
        e = auth_error(conf_of(kv, NULL), err, sizeof(err));
        assert_non_null(e);
        assert_non_null(strstr(e, ":2: the token is shorter"));
    }
}

static void test_allows(void **state)
{
    char err[512];
    chp_conf_t *c = conf_of("http.auth.token=" TOKEN, NULL);
    http_auth_t *a = http_auth_new(c, err, sizeof(err));
    const struct {
        const char *method, *path, *authz;
        bool ok;
    } cases[] = {
        {"GET", "/health", NULL, true},
        {"HEAD", "/health", NULL, false},
        {"POST", "/health", NULL, false},
        {"GET", "/health/", NULL, false},
        {"GET", "/metrics", NULL, false},
        {"GET", "/metrics", "", false},
        {"GET", "/metrics", "Bearer", false},
        {"GET", "/metrics", "Bearer ", false},
        {"GET", "/metrics", "Bearer " TOKEN, true},
        {"GET", "/metrics", "bearer   " TOKEN "  ", true},
        {"GET", "/metrics", "BEARER " TOKEN, true},
        {"GET", "/metrics", "Bearer " TOKEN "x", false},
        {"GET", "/metrics", "Bearer " TOKEN2, false},
        {"GET", "/metrics", "Token " TOKEN, false},
        {"GET", "/metrics", TOKEN, false},
        {"DELETE", "/topics/t", "Bearer s3cret-token-012345678", false},
        /* Basic with the token as password ("x:" TOKEN in base64). */
        {"GET", "/", "Basic eDpzM2NyZXQtdG9rZW4tMDEyMzQ1Njc4OQ==", true},
        {"GET", "/", "Basic eDpzM2NyZXQtdG9rZW4tMDEyMzQ1Njc4", false},
        {"HEAD", "/", "Basic eDpzM2NyZXQtdG9rZW4tMDEyMzQ1Njc4OQ==", true},
        /* Basic only reads: a browser would send it for a hostile page. */
        {"DELETE", "/topics/t",
         "Basic eDpzM2NyZXQtdG9rZW4tMDEyMzQ1Njc4OQ==", false},
        {"POST", "/topics",
         "Basic eDpzM2NyZXQtdG9rZW4tMDEyMzQ1Njc4OQ==", false},
        {"POST", "/topics", "Bearer " TOKEN, true},
        {"GET", "/", "Basic !!!!", false},
        {"GET", "/", "Basic czNjcmV0LXRva2VuLTAxMjM0NTY3ODk=", false},
    };

    (void)state;
    assert_non_null(a);
    assert_true(http_auth_required(a));
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        if (http_auth_allows(a, cases[i].method, cases[i].path,
                             cases[i].authz) != cases[i].ok)
            fail_msg("case %zu: %s %s [%s]: expected %s", i, cases[i].method,
                     cases[i].path, cases[i].authz ? cases[i].authz : "none",
                     cases[i].ok ? "allowed" : "denied");
    http_auth_destroy(a);
    chp_conf_destroy(c);
    /* No token, loopback: open; NULL auth: open. */
    c = conf_of("http.address=127.0.0.1", NULL);
    assert_non_null(a = http_auth_new(c, err, sizeof(err)));
    assert_false(http_auth_required(a));
    assert_true(http_auth_allows(a, "DELETE", "/topics/x", NULL));
    http_auth_destroy(a);
    chp_conf_destroy(c);
    assert_true(http_auth_allows(NULL, "GET", "/", NULL));
}

static void test_token_file_sighup(void **state)
{
    char err[512], kv[160];
    chp_conf_t *c;
    http_auth_t *a;

    (void)state;
    write_file("tokens", "# rotated weekly\n" TOKEN "\n\n  " TOKEN2 "  \n");
    snprintf(kv, sizeof(kv), "http.auth.token.file=%s/tokens", dir);
    c = conf_of(kv, NULL);
    assert_non_null(a = http_auth_new(c, err, sizeof(err)));
    assert_int_equal(http_auth_count(a), 2);
    assert_true(http_auth_allows(a, "GET", "/", "Bearer " TOKEN));
    assert_true(http_auth_allows(a, "GET", "/", "Bearer " TOKEN2));
    /* Rotation: the file changes, nothing happens until SIGHUP. */
    write_file("tokens", "brand-new-token-000000\n");
    assert_true(http_auth_allows(a, "GET", "/", "Bearer " TOKEN));
    assert_int_equal(raise(SIGHUP), 0);
    assert_false(daemon_stopping());
    assert_false(http_auth_allows(a, "GET", "/", "Bearer " TOKEN));
    assert_true(
        http_auth_allows(a, "GET", "/", "Bearer brand-new-token-000000"));
    assert_int_equal(http_auth_count(a), 1);
    /* A broken file on reload keeps the tokens loaded before. */
    write_file("tokens", "tiny\n");
    assert_int_equal(raise(SIGHUP), 0);
    assert_true(
        http_auth_allows(a, "GET", "/", "Bearer brand-new-token-000000"));
    assert_int_not_equal(http_auth_reload(a, err, sizeof(err)), CHP_OK);
    assert_non_null(strstr(err, "http.auth.token.file"));
    assert_int_equal(http_auth_count(a), 1);
    http_auth_destroy(a);
    chp_conf_destroy(c);
}

/* ------------------------------------------------------ the server seam */

static int handled;

static void counting_handler(const http_req_t *req, http_resp_t *resp,
                             void *opaque)
{
    (void)opaque;
    handled++;
    if (!strcmp(req->path, "/state"))
        http_reply(resp, 200, "text/plain", "changed");
}

static void test_serve_seam(void **state)
{
    char err[512];
    chp_conf_t *c = conf_of("http.auth.token=" TOKEN, NULL);
    http_server_t *s = http_server_new(1024, counting_handler, NULL, NULL);
    http_resp_t r = {0};
    http_req_t req = {.method = "DELETE", .path = "/state"};

    (void)state;
    http_server_set_auth(s, http_auth_new(c, err, sizeof(err)));
    handled = 0;
    http_server_serve(s, &req, NULL, &r);
    assert_int_equal(r.status, 401);
    assert_string_equal(r.content_type, "application/json");
    assert_non_null(strstr(r.body, "\"status\":401"));
    assert_non_null(strstr(r.body, "authentication required"));
    assert_int_equal(handled, 0); /* the handler never saw it */
    free(r.body);
    memset(&r, 0, sizeof(r));
    http_server_serve(s, &req, "Bearer " TOKEN, &r);
    assert_int_equal(r.status, 200);
    assert_int_equal(handled, 1);
    free(r.body);
    memset(&r, 0, sizeof(r));
    req.method = "GET";
    req.path = "/health";
    http_server_serve(s, &req, NULL, &r);
    assert_int_equal(r.status, 200);
    free(r.body);
    http_server_stop(s);
    chp_conf_destroy(c);
}

/* ---------------------------------------------------- a real server */

static bool have(const char *tool)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", tool);
    return system(cmd) == 0;
}

/* curl's status code for a request (0: no answer); extra is inserted
 * verbatim in the command line. */
static int curl_status(const char *extra, const char *url)
{
    char cmd[1024], out[16] = "";
    FILE *fp;

    snprintf(cmd, sizeof(cmd),
             "curl -s -o /dev/null -w '%%{http_code}' --max-time 30 %s '%s'",
             extra, url);
    if (!(fp = popen(cmd, "r")))
        return -1;
    if (!fgets(out, sizeof(out), fp))
        out[0] = '\0';
    pclose(fp);
    return atoi(out);
}

static void test_https_with_curl(void **state)
{
    char err[512], cmd[1024], url[128], cert[128], key[128], kv[3][200];
    chp_conf_t *c;
    metrics_t *m;
    http_server_t *s;
    int port;

    (void)state;
    /* Both come with scripts/deps.sh (curl, and openssl with
     * ca-certificates): missing is a broken machine, not a skip. */
    if (!have("curl") || !have("openssl"))
        fail_msg("curl and openssl are needed (scripts/deps.sh)");
    snprintf(cert, sizeof(cert), "%s/cert.pem", dir);
    snprintf(key, sizeof(key), "%s/key.pem", dir);
    snprintf(cmd, sizeof(cmd),
             "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj "
             "/CN=localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
             "-keyout %s -out %s >/dev/null 2>&1",
             key, cert);
    assert_int_equal(system(cmd), 0);
    snprintf(kv[0], sizeof(kv[0]), "http.tls.cert.file=%s", cert);
    snprintf(kv[1], sizeof(kv[1]), "http.tls.key.file=%s", key);
    write_file("tok", TOKEN "\n");
    snprintf(kv[2], sizeof(kv[2]), "http.auth.token=@file:%s/tok", dir);
    c = conf_of(kv[0], kv[1], kv[2], NULL);
    m = metrics_new();
    metrics_add(m, "chp_test_up", "test", METRIC_GAUGE, NULL);
    assert_non_null(s = http_server_start_conf(c, "test", 0, 1024,
                                               counting_handler, NULL, m, err,
                                               sizeof(err)));
    port = http_server_port(s);
    snprintf(url, sizeof(url), "https://127.0.0.1:%d/metrics", port);
    snprintf(cmd, sizeof(cmd), "--cacert %s", cert);
    assert_int_equal(curl_status(cmd, url), 401);
    snprintf(cmd, sizeof(cmd), "--cacert %s -H 'Authorization: Bearer %s'",
             cert, TOKEN);
    assert_int_equal(curl_status(cmd, url), 200);
    snprintf(cmd, sizeof(cmd), "--cacert %s -u admin:%s", cert, TOKEN);
    assert_int_equal(curl_status(cmd, url), 200);
    /* The host name is checked against the certificate too. */
    snprintf(url, sizeof(url), "https://localhost:%d/health", port);
    snprintf(cmd, sizeof(cmd), "--cacert %s", cert);
    assert_int_equal(curl_status(cmd, url), 200);
    /* Untrusted: curl refuses (0); plain HTTP to the TLS port: no answer. */
    assert_int_equal(curl_status("", url), 0);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/health", port);
    assert_true(curl_status("", url) != 200);
    /* Headers beyond the bound: 431, not a crash or a read forever. */
    {
        static char big[HTTP_MAX_HEADER_BYTES + 64];
        memset(big, 'a', sizeof(big) - 1);
        /* Too long for a command line: curl reads it from a file. */
        snprintf(cmd, sizeof(cmd), "%s/hdr", dir);
        {
            FILE *fp = fopen(cmd, "w");
            assert_non_null(fp);
            fprintf(fp, "X-Big: %s\n", big);
            fclose(fp);
        }
        snprintf(cmd, sizeof(cmd), "--cacert %s -H @%s/hdr", cert, dir);
        snprintf(url, sizeof(url), "https://127.0.0.1:%d/health", port);
        assert_int_equal(curl_status(cmd, url), 431);
    }
    http_server_stop(s);
    metrics_destroy(m);
    chp_conf_destroy(c);
    /* Unpaired or unreadable TLS files name the keys. */
    c = conf_of(kv[0], NULL);
    assert_null(http_server_start_conf(c, "test", 0, 1024, NULL, NULL, NULL,
                                       err, sizeof(err)));
    assert_non_null(strstr(err, "http.tls.key.file"));
    assert_int_not_equal(http_conf_check(c, err, sizeof(err)), CHP_OK);
    chp_conf_destroy(c);
    c = conf_of("http.tls.cert.file=/nonexistent.pem",
                "http.tls.key.file=/nonexistent.key", NULL);
    assert_int_not_equal(http_conf_check(c, err, sizeof(err)), CHP_OK);
    assert_non_null(strstr(err, "http.tls.cert.file"));
    chp_conf_destroy(c);
}

/* The binary refuses an open server on a non-loopback address at once,
 * before it connects to anything, naming the keys. */
static void test_binary_protected_mode(void **state)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    const char *daemons[] = {"worker", "controller", "collector"};
    char cmd[512], out[1024];

    (void)state;
    if (!bin)
        skip();
    for (size_t i = 0; i < 3; i++) {
        FILE *fp;
        size_t n;
        int st;
        snprintf(cmd, sizeof(cmd),
                 "%s/chaperone %s -X http.address=0.0.0.0 "
                 "-X kafka.bootstrap.servers=127.0.0.1:1 2>&1",
                 bin, daemons[i]);
        assert_non_null(fp = popen(cmd, "r"));
        n = fread(out, 1, sizeof(out) - 1, fp);
        out[n] = '\0';
        st = pclose(fp);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 2);
        if (!strstr(out, "http.auth.token\"") ||
            !strstr(out, "http.auth.token.file") ||
            !strstr(out, "http.auth.disable=true"))
            fail_msg("%s: %s", daemons[i], out);
    }
}

/* `chaperone config` redacts, and warns about a secret on the command
 * line (not about one read from a file). */
static void test_binary_config(void **state)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char cmd[512], out[16384];
    FILE *fp;
    size_t n;

    (void)state;
    if (!bin)
        skip();
    write_file("pw", "from-the-file-pw\n");
    snprintf(cmd, sizeof(cmd),
             "%s/chaperone config -X kafka.sasl.password=on-the-line-pw "
             "-X http.auth.token=@file:%s/pw "
             "-X kafka.ssl.key.password=@file:%s/pw 2>&1",
             bin, dir, dir);
    assert_non_null(fp = popen(cmd, "r"));
    n = fread(out, 1, sizeof(out) - 1, fp);
    out[n] = '\0';
    assert_int_equal(pclose(fp), 0);
    assert_null(strstr(out, "on-the-line-pw"));
    assert_null(strstr(out, "from-the-file-pw"));
    assert_non_null(strstr(out, "kafka.sasl.password=[redacted]\n"));
    assert_non_null(strstr(out, "http.auth.token=[redacted]\n"));
    assert_non_null(strstr(out, "kafka.ssl.key.password=[redacted]\n"));
    assert_non_null(strstr(out, "warning: \"kafka.sasl.password\" given on "
                                "the command line"));
    assert_null(strstr(out, "warning: \"http.auth.token\""));
    assert_null(strstr(out, "warning: \"kafka.ssl.key.password\""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal),
        cmocka_unit_test(test_protected_mode),
        cmocka_unit_test(test_allows),
        cmocka_unit_test(test_token_file_sighup),
        cmocka_unit_test(test_serve_seam),
        cmocka_unit_test(test_https_with_curl),
        cmocka_unit_test(test_binary_protected_mode),
        cmocka_unit_test(test_binary_config),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
