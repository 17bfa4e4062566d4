/* Unit tests: the collector's query API and dashboard (src/report/api.c)
 * on a private SQLite database seeded through the store interface.  Most
 * requests go straight to api_dispatch; a few go through the real HTTP
 * server to check what only api_handle does (query decoding, leaving
 * /health and /metrics to the server). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include <jansson.h>

#include "httpc.h"
#include "report/api.h"
#include "seed_api.h"
#include "conf_daemon.h"

#define T0 1478311200 /* 2016-11-05T02:00:00Z */
#define NB 6

static char dir[64], url[160];
static api_t *api;
static int64_t recent; /* first bucket of topic "recent" */

/* ------------------------------------------------------------ set-up */

/*
 * clicks: producer and regional, 6 buckets from T0; bucket 3 lost 10 of
 *         1000 at regional.  Sketches on every row (latencies 100/300 ms).
 * recent: producer and consumer, complete, 3 buckets ending an hour ago,
 *         so the default range (last 24 h) sees them as final.
 */
static int setup(void **state)
{
    store_row_t rows[2 * NB + 6];
    size_t n = 0;
    char err[512];
    int64_t now = (int64_t)time(NULL);

    (void)state;
    assert_int_equal(seed_tmpdb("chp-api", dir, sizeof(dir), url, sizeof(url)),
                     0);
    for (int b = 0; b < NB; b++) {
        assert_true(seed_row(&rows[n++], "clicks", T0 + 600 * b, "producer",
                             "dc1", 1000, 100));
        assert_true(seed_row(&rows[n++], "clicks", T0 + 600 * b, "regional",
                             "dc1", b == 3 ? 990 : 1000, 300));
    }
    recent = (now - 3600) / 600 * 600 - 3 * 600;
    for (int b = 0; b < 3; b++) {
        assert_true(seed_row(&rows[n++], "recent", recent + 600 * b, "producer",
                             "dc1", 50, 0));
        assert_true(seed_row(&rows[n++], "recent", recent + 600 * b, "consumer",
                             "dc1", 50, 0));
    }
    if (!(api = seed_api(url, rows, n, err, sizeof(err))))
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    char path[128];

    (void)state;
    api_destroy(api);
    /* SQLite may leave -wal/-shm beside the file. */
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "%s/audit.db%s", dir,
                 i == 0   ? ""
                 : i == 1 ? "-wal"
                          : "-shm");
        unlink(path);
    }
    rmdir(dir);
    return 0;
}

/* ------------------------------------------------------------ helpers */

typedef struct req {
    const char *method, *path;
    api_param_t params[API_MAX_PARAMS + 2];
    size_t n;
} req_t;

static http_resp_t call(const req_t *r)
{
    http_resp_t resp = {0};

    api_dispatch(api, r->method ? r->method : "GET", r->path, r->params, r->n,
                 &resp);
    return resp;
}

/* GET path with the NULL-terminated name, value pairs. */
static http_resp_t get(const char *path, ...)
{
    req_t r = {.method = "GET", .path = path};
    va_list ap;
    const char *name;

    va_start(ap, path);
    while ((name = va_arg(ap, const char *)) && r.n < API_MAX_PARAMS + 2) {
        r.params[r.n].name = name;
        r.params[r.n++].value = va_arg(ap, const char *);
    }
    va_end(ap);
    return call(&r);
}

static json_t *json_ok(http_resp_t *resp)
{
    json_error_t e;
    json_t *doc;

    if (resp->status != 200)
        fail_msg("status %d: %s", resp->status, resp->body ? resp->body : "");
    assert_string_equal(resp->content_type, "application/json");
    doc = json_loads(resp->body, 0, &e);
    if (!doc)
        fail_msg("not JSON (%s): %s", e.text, resp->body);
    free(resp->body);
    return doc;
}

static const json_t *topic_entry(const json_t *doc, const char *topic)
{
    const json_t *list = json_object_get(doc, "topics"), *t;
    size_t i;

    json_array_foreach(
        list, i, t) if (!strcmp(json_string_value(json_object_get(t, "topic")),
                                topic)) return t;
    fail_msg("topic %s not listed", topic);
    return NULL;
}

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;

    for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* ------------------------------------------------------------ good */

static void test_topics(void **state)
{
    http_resp_t r = get("/api/v1/topics", "from", "1478311200", "to",
                        "2016-11-05T03:00:00Z", NULL);
    json_t *doc = json_ok(&r);
    const json_t *c = topic_entry(doc, "clicks"), *rec;

    (void)state;
    assert_int_equal(json_integer_value(json_object_get(doc, "from")), T0);
    assert_string_equal(json_string_value(json_object_get(c, "reference")),
                        "producer");
    assert_int_equal(json_integer_value(json_object_get(c, "buckets")), NB);
    assert_int_equal(json_integer_value(json_object_get(c, "finalBuckets")),
                     NB);
    assert_int_equal(json_integer_value(json_object_get(c, "lossyBuckets")), 1);
    assert_true(json_real_value(json_object_get(c, "worstCompleteness")) ==
                0.99);
    assert_string_equal(json_string_value(json_object_get(c, "worstTier")),
                        "regional");
    assert_string_equal(json_string_value(json_object_get(c, "worstTime")),
                        "2016-11-05T02:30:00Z");
    /* Listed even without rows in the range. */
    rec = topic_entry(doc, "recent");
    assert_int_equal(json_integer_value(json_object_get(rec, "buckets")), 0);
    assert_true(json_is_null(json_object_get(rec, "worstCompleteness")));
    json_decref(doc);
}

static void test_topics_default_range(void **state)
{
    http_resp_t r = get("/api/v1/topics", NULL);
    json_t *doc = json_ok(&r);
    const json_t *rec = topic_entry(doc, "recent");

    (void)state;
    assert_int_equal(json_integer_value(json_object_get(rec, "buckets")), 3);
    assert_int_equal(json_integer_value(json_object_get(rec, "finalBuckets")),
                     3);
    assert_true(json_real_value(json_object_get(rec, "worstCompleteness")) ==
                1.0);
    assert_int_equal(json_integer_value(json_object_get(
                         topic_entry(doc, "clicks"), "buckets")),
                     0);
    json_decref(doc);
}

static void test_buckets(void **state)
{
    http_resp_t r =
        get("/api/v1/topics/clicks/buckets", "from", "2016-11-05T02:00:00Z",
            "to", "2016-11-05T03:00:00Z", NULL);
    json_t *doc = json_ok(&r);
    json_t *buckets = json_object_get(doc, "buckets");
    json_t *b3 = json_array_get(buckets, 3);
    json_t *reg = json_object_get(json_object_get(b3, "tiers"), "regional");
    json_t *lat = json_object_get(reg, "latencyMs");

    (void)state;
    assert_int_equal(json_array_size(buckets), NB);
    assert_string_equal(json_string_value(json_object_get(b3, "time")),
                        "2016-11-05T02:30:00Z");
    assert_int_equal(json_integer_value(json_object_get(reg, "count")), 990);
    assert_int_equal(json_integer_value(json_object_get(reg, "bytes")), 99000);
    assert_int_equal(json_integer_value(json_object_get(reg, "noTime")), 0);
    assert_int_equal(json_integer_value(json_object_get(reg, "malformed")), 0);
    /* Sketch: half at 300 ms, 45% at 600, 5% at 1200 (1% accuracy). */
    assert_true(fabs(json_real_value(json_object_get(lat, "p50")) - 300) < 6);
    assert_true(fabs(json_real_value(json_object_get(lat, "p95")) - 600) < 12);
    assert_true(fabs(json_real_value(json_object_get(lat, "p99")) - 1200) < 24);
    assert_true(json_real_value(json_object_get(lat, "max")) == 1200);
    json_decref(doc);
}

static void test_completeness(void **state)
{
    http_resp_t r = get("/api/v1/topics/clicks/completeness", "from",
                        "1478311200", "to", "1478314800", NULL);
    json_t *doc = json_ok(&r);
    json_t *b3 = json_array_get(json_object_get(doc, "buckets"), 3);
    json_t *reg = json_object_get(json_object_get(b3, "tiers"), "regional");

    (void)state;
    assert_string_equal(json_string_value(json_object_get(doc, "reference")),
                        "producer");
    assert_string_equal(
        json_string_value(json_object_get(doc, "referenceRule")),
        "largest-total");
    assert_int_equal(json_integer_value(json_object_get(reg, "loss")), 10);
    assert_true(json_real_value(json_object_get(reg, "completeness")) == 0.99);
    assert_true(json_real_value(json_object_get(b3, "worstCompleteness")) ==
                0.99);
    json_decref(doc);
}

static void test_completeness_given_reference(void **state)
{
    http_resp_t r =
        get("/api/v1/topics/clicks/completeness", "reference", "regional",
            "from", "1478311200", "to", "1478314800", NULL);
    json_t *doc = json_ok(&r);
    json_t *b3 = json_array_get(json_object_get(doc, "buckets"), 3);
    json_t *prod = json_object_get(json_object_get(b3, "tiers"), "producer");

    (void)state;
    assert_string_equal(json_string_value(json_object_get(doc, "reference")),
                        "regional");
    assert_int_equal(json_integer_value(json_object_get(prod, "loss")), -10);
    json_decref(doc);
}

static void test_completeness_empty_range(void **state)
{
    http_resp_t r = get("/api/v1/topics/clicks/completeness", "from", "-1h",
                        "to", "now", NULL);
    json_t *doc = json_ok(&r);

    (void)state;
    assert_int_equal(json_array_size(json_object_get(doc, "buckets")), 0);
    json_decref(doc);
}

static void test_not_ours(void **state)
{
    static const char *const paths[] = {"/metrics", "/health", "/favicon.ico",
                                        "/apis", "/topics"};

    (void)state;
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
        http_resp_t r = get(paths[i], NULL);
        assert_int_equal(r.status, 0);
        assert_null(r.body);
    }
}

static void test_dashboard_index(void **state)
{
    http_resp_t r = get("/", "from", "1478311200", "to", "1478314800", NULL);

    (void)state;
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body, "<tr class=\"topic bad\" "
                                   "data-topic=\"clicks\">"));
    assert_non_null(strstr(r.body, "<a href=\"/topic/clicks\">clicks</a>"));
    assert_non_null(strstr(r.body, "99.0000%"));
    assert_non_null(strstr(r.body, "data-topic=\"recent\""));
    free(r.body);
}

static void test_dashboard_topic(void **state)
{
    http_resp_t r =
        get("/topic/clicks", "from", "1478311200", "to", "1478314800", NULL);

    (void)state;
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<span id=\"topic\">clicks</span>"));
    /* 2 tiers x 6 buckets of counts, one of them the loss. */
    assert_non_null(strstr(r.body, "id=\"counts\" data-points=\"12\" "
                                   "data-loss-buckets=\"1\""));
    assert_int_equal(count(r.body, "<circle class=\"pt"), 12);
    assert_int_equal(count(r.body, "<circle class=\"pt loss\""), 1);
    assert_non_null(strstr(r.body, "<rect class=\"band\" "
                                   "data-time=\"2016-11-05T02:30:00Z\""));
    /* The loss chart: regional only, the loss marked. */
    assert_non_null(strstr(r.body, "id=\"loss\" data-points=\"6\" "
                                   "data-loss-buckets=\"1\""));
    assert_int_equal(count(r.body, "<circle class=\"loss-pt loss\""), 1);
    /* p50/p95/p99 charts: every cell has a sketch. */
    assert_int_equal(count(r.body, "<circle class=\"lat\""), 3 * 12);
    assert_non_null(strstr(r.body, "id=\"latency-p99\" data-points=\"12\""));
    assert_int_equal(count(r.body, "<tr class=\"bucket"), NB);
    assert_non_null(strstr(r.body, "<td class=\"bad\">99.0000% (-10)</td>"));
    /* Self-contained: nothing fetched from elsewhere. */
    assert_null(strstr(r.body, "src=\"http"));
    assert_null(strstr(r.body, "href=\"http"));
    free(r.body);
}

static void test_head_is_get(void **state)
{
    req_t q = {.method = "HEAD", .path = "/api/v1/topics"};
    http_resp_t r = call(&q);

    (void)state;
    assert_int_equal(r.status, 200);
    free(r.body);
}

/* ------------------------------------------------------------ bad */

static void test_bad_requests(void **state)
{
    char long_topic[300], long_ref[300];
    const struct {
        req_t r;
        int status;
        const char *needle;
    } cases[] = {
        {{"POST", "/api/v1/topics"}, 405, "only GET"},
        {{"DELETE", "/api/v1/topics/clicks/buckets"}, 405, "DELETE"},
        {{"PUT", "/api/v1/nope"}, 405, "only GET"},
        {{"GET", "/api/v1/nope"}, 404, "no such endpoint"},
        {{"GET", "/api"}, 404, "no such endpoint"},
        {{"GET", "/api/v2/topics"}, 404, "no such endpoint"},
        {{"GET", "/api/v1/topics/clicks"}, 404, "no such endpoint"},
        {{"GET", "/api/v1/topics/clicks/unknown"}, 404, "unknown"},
        {{"GET", "/api/v1/topics/clicks/buckets/x"}, 404, "no such endpoint"},
        {{"GET", "/api/v1/topics/bad$name/buckets"}, 400, "legal topic"},
        {{"GET", "/api/v1/topics/../completeness"}, 400, "legal topic"},
        {{"GET", "/api/v1/topics//buckets"}, 400, "topic name"},
        {{"GET", long_topic}, 400, "topic"},
        {{"GET", "/api/v1/topics/nosuch/buckets"}, 404, "unknown topic"},
        {{"GET", "/api/v1/topics/clicks/buckets", {{"from", "abc"}}, 1},
         400,
         "from: not a time"},
        {{"GET",
          "/api/v1/topics/clicks/buckets",
          {{"to", "2016-13-01T00:00:00Z"}},
          1},
         400,
         "to: not a time"},
        {{"GET",
          "/api/v1/topics/clicks/completeness",
          {{"from", "1478314800"}, {"to", "1478311200"}},
          2},
         400,
         "is after to"},
        {{"GET", "/api/v1/topics/clicks/buckets", {{"foo", "1"}}, 1},
         400,
         "unknown query parameter \"foo\""},
        {{"GET", "/api/v1/topics/clicks/buckets", {{"from", ""}}, 1},
         400,
         "is empty"},
        {{"GET", "/api/v1/topics/clicks/buckets", {{"from", NULL}}, 1},
         400,
         "is empty"},
        {{"GET",
          "/api/v1/topics/clicks/buckets",
          {{"from", "-2h"}, {"from", "-1h"}},
          2},
         400,
         "given twice"},
        {{"GET", "/api/v1/topics/clicks/buckets", {{"reference", "x"}}, 1},
         400,
         "unknown query parameter \"reference\""},
        {{"GET",
          "/api/v1/topics/clicks/completeness",
          {{"reference", "a\nb"}},
          1},
         400,
         "reference"},
        {{"GET",
          "/api/v1/topics/clicks/completeness",
          {{"reference", long_ref}},
          1},
         400,
         "reference"},
        {{"GET",
          "/api/v1/topics/clicks/completeness",
          {{"from", "0"}, {"to", "now"}},
          2},
         400,
         "longer than"},
        {{"GET", "/api/v1/topics/clicks/buckets", {{"from", "-6"}}, 1},
         400,
         "relative time"},
        {{"GET", "/api/v1/topics", {{"reference", "producer"}}, 1},
         400,
         "unknown query parameter"},
        {{"GET",
          "/api/v1/topics",
          {{"a", "1"},
           {"b", "1"},
           {"c", "1"},
           {"d", "1"},
           {"e", "1"},
           {"f", "1"},
           {"g", "1"},
           {"h", "1"},
           {"i", "1"}},
          9},
         400,
         "too many"},
    };

    (void)state;
    snprintf(long_topic, sizeof(long_topic), "/api/v1/topics/%0250d/buckets",
             0);
    memset(long_ref, 'r', sizeof(long_ref) - 1);
    long_ref[sizeof(long_ref) - 1] = '\0';
    _Static_assert(sizeof(cases) / sizeof(cases[0]) >= 20,
                   "the bad-request table covers every parameter");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        http_resp_t r = call(&cases[i].r);
        json_error_t e;
        json_t *doc;
        const char *msg;

        if (r.status != cases[i].status)
            fail_msg("case %zu (%s %s): status %d, expected %d: %s", i,
                     cases[i].r.method, cases[i].r.path, r.status,
                     cases[i].status, r.body ? r.body : "");
        assert_string_equal(r.content_type, "application/json");
        doc = json_loads(r.body, 0, &e);
        assert_non_null(doc);
        msg = json_string_value(json_object_get(doc, "error"));
        assert_non_null(msg);
        if (!strstr(msg, cases[i].needle))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, msg, cases[i].needle);
        assert_int_equal(json_integer_value(json_object_get(doc, "status")),
                         cases[i].status);
        json_decref(doc);
        free(r.body);
    }
}

/* ------------------------------------------------------------ pipeline */

static void test_pipeline_json(void **state)
{
    http_resp_t r =
        get("/api/v1/topics/clicks/pipeline", "pipeline", "producer,regional",
            "from", "1478311200", "to", "2016-11-05T03:00:00Z", NULL);
    json_t *doc = json_ok(&r);
    const json_t *hop = json_array_get(json_object_get(doc, "hops"), 0);
    const json_t *cell = json_array_get(json_object_get(hop, "cells"), 0);
    const json_t *v = json_object_get(doc, "violations"), *v0;

    (void)state;
    assert_string_equal(json_string_value(json_object_get(hop, "from")),
                        "producer");
    assert_true(json_is_true(json_object_get(hop, "perDatacenter")));
    assert_string_equal(json_string_value(json_object_get(cell, "datacenter")),
                        "dc1");
    assert_int_equal(json_integer_value(json_object_get(cell, "upstream")),
                     6000);
    assert_int_equal(json_integer_value(json_object_get(cell, "downstream")),
                     5990);
    assert_int_equal(json_integer_value(json_object_get(cell, "loss")), 10);
    assert_int_equal(json_integer_value(json_object_get(cell, "duplicated")),
                     0);
    assert_int_equal(json_array_size(json_object_get(doc, "buckets")), NB);
    assert_int_equal(json_array_size(v), 1);
    v0 = json_array_get(v, 0);
    assert_string_equal(json_string_value(json_object_get(v0, "fault")),
                        "LOSS");
    assert_string_equal(json_string_value(json_object_get(v0, "time")),
                        "2016-11-05T02:30:00Z");
    assert_int_equal(json_integer_value(json_object_get(v0, "loss")), 10);
    json_decref(doc);
}

static void test_pipeline_errors(void **state)
{
    http_resp_t r;

    (void)state;
    r = get("/api/v1/topics/clicks/pipeline", NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "no pipeline: give ?pipeline=TIER,TIER,"));
    free(r.body);
    r = get("/api/v1/topics/clicks/pipeline", "pipeline", "producer", NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "pipeline: a pipeline needs at least two "
                                   "tiers (got producer)"));
    free(r.body);
    r = get("/api/v1/topics/clicks/pipeline", "pipeline", "a,b", "hop", "0",
            NULL);
    assert_int_equal(r.status, 400);
    free(r.body);
    r = get("/api/v1/topics/nope/pipeline", "pipeline", "a,b", NULL);
    assert_int_equal(r.status, 404);
    free(r.body);
    r = get("/pipeline/clicks", "pipeline", "producer,regional", "from",
            "2016-11-05T02:00:00+00:00", "to", "2016-11-05T03:00:00Z", NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "from=2016-11-05T02:00:00%2B00:00&amp;"));
    free(r.body);
    r = get("/pipeline/clicks", "pipeline", "producer,regional", "hop", "1",
            NULL);
    assert_int_equal(r.status, 400);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    free(r.body);
}

static void test_pipeline_page(void **state)
{
    http_resp_t r =
        get("/pipeline/clicks", "pipeline", "producer,regional", "from",
            "1478311200", "to", "2016-11-05T03:00:00Z", "hop", "0", NULL);

    (void)state;
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body, "<div id=\"chain\">"));
    assert_int_equal(count(r.body, "<span class=\"tier\""), 2);
    assert_non_null(strstr(r.body, "<a class=\"hop bad sel\" data-hop=\"0\" "
                                   "data-violations=\"1\" data-loss=\"10\" "
                                   "data-duplicated=\"0\""));
    assert_non_null(strstr(r.body, "<table id=\"hop-buckets\" "
                                   "data-hop=\"0\">"));
    /* One lossy bucket in the drill-down, the hop's line in the summary. */
    assert_int_equal(count(r.body, "<tr class=\"bad\">"), 2);
    /* Links keep the page's parameters, encoded. */
    assert_non_null(strstr(r.body, "href=\"/pipeline/clicks?from=1478311200"
                                   "&amp;to=2016-11-05T03:00:00Z&amp;"
                                   "pipeline=producer,regional&amp;hop=0\""));
    assert_non_null(strstr(r.body, "<td>2016-11-05T02:30:00Z</td><td>dc1</td>"
                                   "<td>1000</td><td>990</td><td>10</td>"
                                   "<td>0</td><td>99.0000%</td>"));
    free(r.body);
}

/* With report.pipeline set: the index and the topic page link to the
 * pipeline page, which uses it without ?pipeline=. */
static void test_pipeline_configured(void **state)
{
    chp_conf_t *conf = conf_daemon_new();
    char err[512], kv[256];
    api_t *a;
    http_resp_t r = {0};
    api_param_t range[] = {{"from", "1478311200"},
                           {"to", "2016-11-05T03:00:00Z"}};

    (void)state;
    snprintf(kv, sizeof(kv), "db.url=%s", url);
    assert_int_equal(chp_conf_set_kv(conf, kv, err, sizeof(err)), CHP_OK);
    assert_int_equal(chp_conf_set_kv(conf, "report.pipeline=producer,regional",
                                     err, sizeof(err)),
                     CHP_OK);
    assert_non_null(a = api_new(conf, err, sizeof(err)));
    chp_conf_destroy(conf);
    api_dispatch(a, "GET", "/", range, 2, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "<th>pipeline</th>"));
    assert_non_null(
        strstr(r.body, "<a class=\"pipeline\" href=\"/pipeline/clicks\">"));
    free(r.body);
    memset(&r, 0, sizeof(r));
    api_dispatch(a, "GET", "/topic/clicks", range, 2, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "id=\"pipeline-link\" "
                                   "href=\"/pipeline/clicks\""));
    free(r.body);
    memset(&r, 0, sizeof(r));
    api_dispatch(a, "GET", "/api/v1/topics/clicks/pipeline", range, 2, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"loss\":10,"));
    free(r.body);
    api_destroy(a);
    /* Without it, no link. */
    r = get("/", NULL);
    assert_int_equal(r.status, 200);
    assert_null(strstr(r.body, "<th>pipeline</th>"));
    free(r.body);
}

static void test_dashboard_errors_are_pages(void **state)
{
    http_resp_t r = get("/topic/nosuch", NULL);

    (void)state;
    assert_int_equal(r.status, 404);
    assert_string_equal(r.content_type, "text/html; charset=utf-8");
    assert_non_null(strstr(r.body, "unknown topic"));
    free(r.body);
    r = get("/topic/bad<name", NULL);
    assert_int_equal(r.status, 400);
    assert_null(strstr(r.body, "<name")); /* escaped */
    free(r.body);
    r = get("/topic/clicks", "from", "<script>", NULL);
    assert_int_equal(r.status, 400);
    assert_null(strstr(r.body, "<script>"));
    assert_non_null(strstr(r.body, "&lt;script&gt;"));
    free(r.body);
    r = get("/topic/clicks/more", NULL);
    assert_int_equal(r.status, 404);
    free(r.body);
}

static void test_database_unavailable(void **state)
{
    chp_conf_t *conf = conf_daemon_new();
    char err[256];
    api_t *down;
    http_resp_t r = {0};

    (void)state;
    assert_int_equal(chp_conf_set_kv(conf,
                                     "db.url=sqlite:///nonexistent-dir/x/a.db",
                                     err, sizeof(err)),
                     CHP_OK);
    assert_non_null(down = api_new(conf, err, sizeof(err)));
    api_dispatch(down, "GET", "/api/v1/topics", NULL, 0, &r);
    assert_int_equal(r.status, 503);
    assert_non_null(strstr(r.body, "database unavailable"));
    free(r.body);
    api_destroy(down);
    assert_int_equal(
        chp_conf_set_kv(conf, "db.url=oracle://x", err, sizeof(err)), CHP_OK);
    assert_null(api_new(conf, err, sizeof(err)));
    assert_non_null(strstr(err, "db.url"));
    chp_conf_destroy(conf);
}

/* ------------------------------------------------------------ server */

static void test_through_the_server(void **state)
{
    char err[256];
    http_server_t *srv;
    httpc_resp_t r;
    int port;

    (void)state;
    srv = http_server_start("127.0.0.1", 0, 4096, api_handle, api, NULL, err,
                            sizeof(err));
    if (!srv)
        fail_msg("http_server_start: %s", err);
    port = http_server_port(srv);
    /* Percent-encoded parameters are decoded before the API sees them. */
    assert_int_equal(httpc_request(port, "GET",
                                   "/api/v1/topics/clicks/completeness?"
                                   "from=2016-11-05T02%3A00%3A00Z&"
                                   "to=2016-11-05T03%3A00%3A00Z",
                                   NULL, 0, 10000, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "\"completeness\":0.99"));
    httpc_free(&r);
    assert_int_equal(
        httpc_request(port, "GET", "/api/v1/topics?from=x", NULL, 0, 10000, &r),
        0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"error\""));
    httpc_free(&r);
    assert_int_equal(httpc_request(port, "GET",
                                   "/api/v1/topics?a=1&b=2&c=3&d=4&e=5&f=6&"
                                   "g=7&h=8&i=9&j=10",
                                   NULL, 0, 10000, &r),
                     0);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "too many"));
    httpc_free(&r);
    /* Paths the API does not own keep the server's defaults. */
    assert_int_equal(httpc_request(port, "GET", "/health", NULL, 0, 10000, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK");
    httpc_free(&r);
    assert_int_equal(httpc_request(port, "GET",
                                   "/topic/clicks?from=1478311200"
                                   "&to=1478314800",
                                   NULL, 0, 10000, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.head, "text/html"));
    httpc_free(&r);
    http_server_stop(srv);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topics),
        cmocka_unit_test(test_topics_default_range),
        cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_completeness),
        cmocka_unit_test(test_completeness_given_reference),
        cmocka_unit_test(test_completeness_empty_range),
        cmocka_unit_test(test_not_ours),
        cmocka_unit_test(test_dashboard_index),
        cmocka_unit_test(test_dashboard_topic),
        cmocka_unit_test(test_head_is_get),
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test(test_dashboard_errors_are_pages),
        cmocka_unit_test(test_pipeline_json),
        cmocka_unit_test(test_pipeline_errors),
        cmocka_unit_test(test_pipeline_page),
        cmocka_unit_test(test_pipeline_configured),
        cmocka_unit_test(test_database_unavailable),
        cmocka_unit_test(test_through_the_server),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
