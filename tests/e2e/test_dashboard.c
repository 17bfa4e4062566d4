/* End to end: the dashboard in a real browser.  Seeds a SQLite database
 * through the store interface (1 topic, 2 tiers, 6 final buckets, one of
 * them with a loss), serves it in-process with http_server_start +
 * api_handle, and has headless Chromium load the pages: the DOM it built
 * must show the topic and exactly the seeded points, and a screenshot is
 * kept as <build>/Testing/dashboard.png.  Skipped (77) without Chromium
 * (scripts/deps.sh installs it). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "report/api.h"
#include "report/report.h"
#include "seed_api.h"

#define NB    6
#define LOSSY 3

static char dir[64], url[160], browser[64];
static api_t *api;
static http_server_t *srv;
static int64_t base; /* first bucket */

static bool find_browser(void)
{
    static const char *const names[] = {"chromium", "chromium-browser"};
    const char *path = getenv("PATH");

    for (size_t i = 0; path && i < sizeof(names) / sizeof(names[0]); i++) {
        for (const char *d = path; *d;) {
            size_t len = strcspn(d, ":");
            char full[512];
            snprintf(full, sizeof(full), "%.*s/%s", (int)len, d, names[i]);
            if (len && access(full, X_OK) == 0) {
                snprintf(browser, sizeof(browser), "%s", names[i]);
                return true;
            }
            d += len + (d[len] == ':');
        }
    }
    return false;
}

static int setup(void **state)
{
    store_row_t rows[2 * NB];
    char err[512];
    int64_t now = (int64_t)time(NULL);

    (void)state;
    if (!find_browser())
        tu_skip("chromium is not installed (scripts/deps.sh installs it)");
    assert_int_equal(seed_tmpdb("chp-dash", dir, sizeof(dir), url, sizeof(url)),
                     0);
    /* Six buckets that all ended more than report.lateness.s (30 min) ago,
     * so the loss counts; bucket LOSSY lost 25 of 1000 at regional. */
    base = (now - 7200) / 600 * 600 - NB * 600;
    for (int b = 0; b < NB; b++) {
        assert_true(seed_row(&rows[2 * b], "clicks", base + 600 * b, "producer",
                             "dc1", 1000, 80 + 10 * b));
        assert_true(seed_row(&rows[2 * b + 1], "clicks", base + 600 * b,
                             "regional", "dc1", b == LOSSY ? 975 : 1000,
                             400 + 50 * b));
    }
    if (!(api = seed_api(url, rows, 2 * NB, err, sizeof(err))))
        fail_msg("%s", err);
    if (!(srv = http_server_start("127.0.0.1", 0, 4096, api_handle, api, NULL,
                                  err, sizeof(err))))
        fail_msg("http_server_start: %s", err);
    return 0;
}

static int teardown(void **state)
{
    char cmd[256];

    (void)state;
    http_server_stop(srv);
    api_destroy(api);
    /* Chromium's profile is a tree; the directory is ours alone. */
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

/* Runs the browser on path with the extra arguments; its stdout into
 * *out (malloc()ed).  Fails the test on a non-zero exit. */
static void browse(const char *extra, const char *path, char **out)
{
    char cmd[2048], log[128], page[128];
    FILE *fp;
    size_t len = 0, cap = 1 << 16;
    int rc;

    snprintf(log, sizeof(log), "%s/chromium.log", dir);
    snprintf(page, sizeof(page), "http://127.0.0.1:%d%s", http_server_port(srv),
             path);
    /* Everything that could reach the network or a desktop is off; the
     * page itself loads nothing but itself. */
    snprintf(cmd, sizeof(cmd),
             "timeout 120 %s --headless --no-sandbox --disable-gpu "
             "--disable-quic --no-first-run --disable-background-networking "
             "--disable-component-update --disable-sync "
             "--user-data-dir='%s/profile' %s '%s' 2>>'%s'",
             browser, dir, extra, page, log);
    assert_non_null(fp = popen(cmd, "r"));
    assert_non_null(*out = malloc(cap));
    while (!feof(fp) && !ferror(fp)) {
        if (len + 4096 + 1 > cap)
            assert_non_null(*out = realloc(*out, cap *= 2));
        len += fread(*out + len, 1, cap - len - 1, fp);
    }
    (*out)[len] = '\0';
    rc = pclose(fp);
    if (rc != 0) {
        char tail[512];
        snprintf(tail, sizeof(tail), "tail -20 '%s' >&2", log);
        if (system(tail) != 0)
            fprintf(stderr, "(no browser log)\n");
        fail_msg("browser exited with %d on %s", rc, page);
    }
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

static void test_index(void **state)
{
    char *dom;

    (void)state;
    browse("--dump-dom", "/", &dom);
    assert_non_null(strstr(dom, "data-topic=\"clicks\""));
    assert_non_null(
        strstr(dom, "<tr class=\"topic bad\" data-topic=\"clicks\">"));
    assert_non_null(strstr(dom, "<a href=\"/topic/clicks\">clicks</a>"));
    assert_non_null(strstr(dom, "97.5000%"));
    free(dom);
}

static void test_topic_page(void **state)
{
    char *dom, when[REP_TIME_MAX], needle[128];

    (void)state;
    browse("--dump-dom", "/topic/clicks", &dom);
    assert_non_null(strstr(dom, "<span id=\"topic\">clicks</span>"));
    /* Counts: 2 tiers x 6 buckets, exactly one of them the loss. */
    assert_non_null(strstr(dom, "id=\"counts\" data-points=\"12\" "
                                "data-loss-buckets=\"1\""));
    assert_int_equal(count(dom, "<circle class=\"pt"), 2 * NB);
    assert_int_equal(count(dom, "<circle class=\"pt loss\""), 1);
    rep_format_time(base + LOSSY * 600, when);
    snprintf(needle, sizeof(needle), "<rect class=\"band\" data-time=\"%s\"",
             when);
    assert_non_null(strstr(dom, needle));
    /* The band behind the counts and behind the loss chart. */
    assert_int_equal(count(dom, "<rect class=\"band\""), 2);
    assert_non_null(strstr(dom, "id=\"loss\" data-points=\"6\""));
    assert_int_equal(count(dom, "<circle class=\"loss-pt loss\""), 1);
    /* Latency: p50, p95 and p99 charts, 12 points each. */
    assert_int_equal(count(dom, "<circle class=\"lat\""), 3 * 2 * NB);
    assert_non_null(strstr(dom, "id=\"latency-p50\" data-points=\"12\""));
    assert_non_null(strstr(dom, "id=\"latency-p95\" data-points=\"12\""));
    assert_non_null(strstr(dom, "id=\"latency-p99\" data-points=\"12\""));
    assert_int_equal(count(dom, "<tr class=\"bucket"), NB);
    assert_non_null(strstr(dom, "97.5000% (-25)"));
    free(dom);
}

static void test_screenshot(void **state)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char shot[512], extra[700], *out;
    struct stat st;

    (void)state;
    snprintf(shot, sizeof(shot), "%s/Testing", bin ? bin : ".");
    mkdir(shot, 0755);
    snprintf(shot, sizeof(shot), "%s/Testing/dashboard.png", bin ? bin : ".");
    unlink(shot);
    snprintf(extra, sizeof(extra), "--screenshot='%s' --window-size=1200,900",
             shot);
    browse(extra, "/topic/clicks", &out);
    free(out);
    assert_int_equal(stat(shot, &st), 0);
    /* A blank 1200x900 PNG is a few kB; charts and text make it larger. */
    if (st.st_size < 20000)
        fail_msg("%s is only %lld bytes", shot, (long long)st.st_size);
    printf("screenshot: %s (%lld bytes)\n", shot, (long long)st.st_size);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_topic_page),
        cmocka_unit_test(test_screenshot),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
