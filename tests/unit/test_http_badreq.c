/* Unit tests: bad requests to the dashboard's parameters and the query API
 * (src/report/api.c) answer 4xx - an HTML error page for the dashboard, a
 * JSON error for the API - and change nothing; every topic, tier and
 * datacenter name the dashboard prints is escaped (a topic named
 * <script>...); error bodies stay valid JSON whatever bytes the request
 * held. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "http.h"
#include "report/api.h"
#include "seed_api.h"

#define T0  1478311200 /* 2016-11-05T02:00:00Z */
#define XSS "<script>alert(1)</script>"

static char dir[64], url[160], db[160];
static api_t *api;

static int setup(void **state)
{
    store_row_t rows[6];
    size_t n = 0;
    char err[512];

    (void)state;
    assert_int_equal(
        seed_tmpdb("chp-badreq", dir, sizeof(dir), url, sizeof(url)), 0);
    snprintf(db, sizeof(db), "%s/audit.db", dir);
    /* Names arrive in audit messages from any producer: hostile ones are
     * stored as they came. */
    assert_true(seed_row(&rows[n++], "clicks", T0, "producer", "dc1", 1000, 0));
    assert_true(seed_row(&rows[n++], "clicks", T0, "<img src=x onerror=a()>",
                         "dc1", 990, 0));
    assert_true(seed_row(&rows[n++], "clicks", T0 + 600, "producer",
                         "\"><svg onload=b()>", 7, 0));
    assert_true(seed_row(&rows[n++], XSS, T0, "producer", "dc1", 5, 0));
    assert_true(seed_row(&rows[n++], XSS, T0, "'tier'&", "<dc>", 4, 0));
    if (!(api = seed_api(url, rows, n, err, sizeof(err))))
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    api_destroy(api);
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* The database's bytes, to show a request changed nothing. */
static char *db_bytes(size_t *len)
{
    FILE *fp = fopen(db, "rb");
    char *buf;

    assert_non_null(fp);
    fseek(fp, 0, SEEK_END);
    *len = (size_t)ftell(fp);
    fseek(fp, 0, SEEK_SET);
    assert_non_null(buf = malloc(*len + 1));
    assert_int_equal(fread(buf, 1, *len, fp), *len);
    fclose(fp);
    return buf;
}

typedef struct bad {
    const char *method, *path;
    api_param_t p[API_MAX_PARAMS + 2];
    size_t n;
    int status;
    const char *needle;
} bad_t;

#define LONG256                                                                \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"     \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"     \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"     \
    "rrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrrr"

/* Every dashboard parameter, and the paths around them. */
static const bad_t dash_cases[] = {
    {"GET", "/topic/clicks", {{"from", "abc"}}, 1, 400, "from: not a time"},
    {"GET", "/topic/clicks", {{"from", XSS}}, 1, 400, "from"},
    {"GET",
     "/topic/clicks",
     {{"to", "2016-13-01T00:00:00Z"}},
     1,
     400,
     "to: not a time"},
    {"GET", "/topic/clicks", {{"to", "-"}}, 1, 400, "to"},
    {"GET",
     "/topic/clicks",
     {{"from", "1478314800"}, {"to", "1478311200"}},
     2,
     400,
     "is after to"},
    {"GET",
     "/topic/clicks",
     {{"from", "0"}, {"to", "now"}},
     2,
     400,
     "longer than"},
    {"GET", "/topic/clicks", {{"from", ""}}, 1, 400, "is empty"},
    {"GET", "/topic/clicks", {{"to", NULL}}, 1, 400, "is empty"},
    {"GET",
     "/topic/clicks",
     {{"from", "-1h"}, {"from", "-2h"}},
     2,
     400,
     "given twice"},
    {"GET", "/topic/clicks", {{"reference", "a\nb"}}, 1, 400, "reference"},
    {"GET", "/topic/clicks", {{"reference", "\xff\xfe"}}, 1, 400, "UTF-8"},
    {"GET", "/topic/clicks", {{"reference", LONG256}}, 1, 400, "reference"},
    {"GET", "/topic/clicks", {{"reference", ""}}, 1, 400, "empty"},
    {"GET", "/topic/clicks", {{XSS, "1"}}, 1, 400, "unknown query parameter"},
    {"GET",
     "/topic/clicks",
     {{"a", "1"},
      {"b", "1"},
      {"c", "1"},
      {"d", "1"},
      {"e", "1"},
      {"f", "1"},
      {"g", "1"},
      {"h", "1"},
      {"i", "1"}},
     9,
     400,
     "too many"},
    {"GET",
     "/",
     {{"reference", "producer"}},
     1,
     400,
     "unknown query parameter"},
    {"GET", "/", {{"from", "yesterday"}}, 1, 400, "from"},
    {"GET", "/index.html", {{"to", "x"}}, 1, 400, "to"},
    {"POST", "/", {{0}}, 0, 405, "only GET"},
    {"DELETE", "/topic/clicks", {{0}}, 0, 405, "only GET"},
    {"PUT", "/index.html", {{0}}, 0, 405, "only GET"},
    {"GET", "/topic/nosuch", {{0}}, 0, 404, "unknown topic"},
    {"GET", "/topic/" XSS, {{0}}, 0, 404, "no such"},
    {"GET", "/topic/<script>x", {{0}}, 0, 400, "topic"},
    {"GET", "/topic/clicks/x", {{0}}, 0, 404, "no such"},
    {"GET", "/topic/..", {{0}}, 0, 400, "topic"},
    {"GET", "/topic/a%2Fb", {{0}}, 0, 400, "topic"},
};

/* JSON endpoints, beyond tests/unit/test_api.c's table: hostile bytes. */
static const bad_t api_cases[] = {
    {"GET",
     "/api/v1/topics/clicks/completeness",
     {{"reference", "\xc3"}},
     1,
     400,
     "UTF-8"},
    {"GET",
     "/api/v1/topics/clicks/completeness",
     {{"reference", "\xed\xa0\x80"}},
     1,
     400,
     "UTF-8"},
    {"GET", "/api/v1/topics/<script>x/buckets", {{0}}, 0, 400, "topic"},
    {"GET", "/api/v1/topics/\xff/buckets", {{0}}, 0, 400, "topic"},
    {"GET", "/api/v1/\xff\xfe", {{0}}, 0, 404, "no such endpoint"},
    {"GET", "/api/v1/topics", {{"\xff", "1"}}, 1, 400, "unknown"},
    {"GET", "/api/v1/topics", {{"from", "\xff"}}, 1, 400, "from"},
    {"GET", "/api/v1/topics/clicks/buckets", {{"to", "1e400"}}, 1, 400, "to"},
    {"GET",
     "/api/v1/topics/clicks/buckets",
     {{"from", "-99999999999999d"}},
     1,
     400,
     "from"},
    {"TRACE", "/api/v1/topics", {{0}}, 0, 405, "only GET"},
    {"OPTIONS", "/api/v1/topics", {{0}}, 0, 405, "only GET"},
};

static void run_cases(const bad_t *cases, size_t n, bool html)
{
    size_t before_len, after_len;
    char *before = db_bytes(&before_len), *after;

    for (size_t i = 0; i < n; i++) {
        http_resp_t r = {0};
        api_dispatch(api, cases[i].method, cases[i].path, cases[i].p,
                     cases[i].n, &r);
        if (r.status != cases[i].status)
            fail_msg("case %zu (%s %s): status %d, expected %d: %s", i,
                     cases[i].method, cases[i].path, r.status, cases[i].status,
                     r.body ? r.body : "");
        if (html) {
            assert_string_equal(r.content_type, "text/html; charset=utf-8");
            assert_non_null(strstr(r.body, "<p id=\"error\">"));
            if (strstr(r.body, "<script") || strstr(r.body, "<svg") ||
                strstr(r.body, "<img"))
                fail_msg("case %zu: unescaped markup: %s", i, r.body);
            if (!strstr(r.body, cases[i].needle))
                fail_msg("case %zu: page lacks \"%s\": %s", i, cases[i].needle,
                         r.body);
        } else {
            json_error_t e;
            json_t *doc = json_loadb(r.body, r.body_len, 0, &e);
            assert_string_equal(r.content_type, "application/json");
            if (!doc)
                fail_msg("case %zu: not JSON (%s): %s", i, e.text, r.body);
            if (!strstr(json_string_value(json_object_get(doc, "error")),
                        cases[i].needle))
                fail_msg("case %zu: error lacks \"%s\": %s", i, cases[i].needle,
                         r.body);
            assert_int_equal(json_integer_value(json_object_get(doc, "status")),
                             cases[i].status);
            json_decref(doc);
        }
        free(r.body);
    }
    after = db_bytes(&after_len);
    assert_int_equal(before_len, after_len);
    assert_memory_equal(before, after, before_len);
    free(before);
    free(after);
}

static void test_dashboard_params(void **state)
{
    (void)state;
    assert_int_equal(sizeof(dash_cases) / sizeof(dash_cases[0]), 27);
    run_cases(dash_cases, sizeof(dash_cases) / sizeof(dash_cases[0]), true);
}

static void test_api_hostile_bytes(void **state)
{
    (void)state;
    assert_int_equal(sizeof(api_cases) / sizeof(api_cases[0]), 11);
    run_cases(api_cases, sizeof(api_cases) / sizeof(api_cases[0]), false);
}

static char *page(const char *path, const api_param_t *p, size_t n)
{
    http_resp_t r = {0};

    api_dispatch(api, "GET", path, p, n, &r);
    if (r.status != 200)
        fail_msg("%s: %d %s", path, r.status, r.body);
    return r.body;
}

static void test_dashboard_escapes_names(void **state)
{
    api_param_t range[] = {{"from", "1478311200"}, {"to", "1478314800"}};
    char *html;

    (void)state;
    html = page("/", range, 2);
    assert_null(strstr(html, "<script"));
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<svg"));
    assert_non_null(strstr(html, "&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert_non_null(strstr(html, "&lt;img src=x onerror=a()&gt;"));
    assert_non_null(strstr(html, "&#39;tier&#39;&amp;"));
    /* Its link is percent-encoded: no '/' or quote gets through. */
    assert_non_null(strstr(html, "href=\"/topic/"
                                 "%3Cscript%3Ealert%281%29%3C%2Fscript%3E\""));
    assert_non_null(strstr(html, "href=\"/topic/clicks\""));
    free(html);
    /* The topic page of a legal topic with a hostile tier and datacenter. */
    html = page("/topic/clicks", range, 2);
    assert_null(strstr(html, "<img"));
    assert_null(strstr(html, "<svg onload"));
    assert_non_null(strstr(html, "&lt;img src=x onerror=a()&gt;"));
    free(html);
    /* A reference tier given in the URL is echoed escaped in the form. */
    {
        api_param_t p[] = {{"from", "1478311200"},
                           {"to", "1478314800"},
                           {"reference", "\"><b>x"}};
        html = page("/topic/clicks", p, 3);
        assert_null(strstr(html, "\"><b>x"));
        assert_non_null(strstr(html, "&quot;&gt;&lt;b&gt;x"));
        free(html);
    }
}

/* The server's own JSON errors (404 of an unknown path) stay JSON whatever
 * bytes the path held. */
static void test_json_errors_are_json(void **state)
{
    const char *paths[] = {"/\xff\xfe", "/a\"b\\c",          "/\x01\x1f",
                           "/\xe2\x82", "/\xf4\x90\x80\x80", "/ok\xc3\xa9"};
    http_server_t *s = http_server_new(1024, NULL, NULL, NULL);

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        http_req_t req = {.method = "GET", .path = paths[i]};
        http_resp_t r = {0};
        json_error_t e;
        json_t *doc;
        http_server_serve(s, &req, NULL, &r);
        assert_int_equal(r.status, 404);
        if (!(doc = json_loadb(r.body, r.body_len, 0, &e)))
            fail_msg("path %zu: not JSON (%s): %s", i, e.text, r.body);
        json_decref(doc);
        free(r.body);
    }
    http_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dashboard_params),
        cmocka_unit_test(test_api_hostile_bytes),
        cmocka_unit_test(test_dashboard_escapes_names),
        cmocka_unit_test(test_json_errors_are_json),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
