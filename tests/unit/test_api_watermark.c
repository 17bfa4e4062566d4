/* Unit tests: the query API's watermark endpoint and the completeness
 * metrics it adds to /metrics (src/report/api_watermark.c), on a private
 * SQLite database seeded through the store interface; requests go straight
 * to api_dispatch.  Exact JSON fields and exposition lines. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <jansson.h>

#include "http.h"
#include "metrics.h"
#include "report/api.h"
#include "seed_api.h"

static char dir[64], url[160];
static api_t *api;
static int64_t t0; /* first bucket: closed (ended over 30 min ago) */

/*
 * orders: producer 100 per bucket in 4 buckets; kafka-aggregate equal but
 *         2 short in bucket 2.  All four closed under the default 30 min
 *         lateness.
 */
static int setup(void **state)
{
    store_row_t rows[8];
    size_t n = 0;
    char err[512];
    (void)state;

    assert_int_equal(
        seed_tmpdb("chp-apiwm", dir, sizeof(dir), url, sizeof(url)), 0);
    t0 = ((int64_t)time(NULL) - 3600) / 600 * 600 - 4 * 600;
    for (int b = 0; b < 4; b++) {
        assert_true(seed_row(&rows[n++], "orders", t0 + 600 * b, "producer",
                             "dc1", 100, 0));
        assert_true(seed_row(&rows[n++], "orders", t0 + 600 * b,
                             "kafka-aggregate", "agg", b == 2 ? 98 : 100, 0));
    }
    if (!(api = seed_api(url, rows, n, err, sizeof(err))))
        fail_msg("%s", err);
    return 0;
}

static int teardown(void **state)
{
    char cmd[128];
    (void)state;

    api_destroy(api);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static http_resp_t get(const char *path, const api_param_t *p, size_t n)
{
    http_resp_t r = {0};

    api_dispatch(api, "GET", path, p, n, &r);
    return r;
}

static json_t *get_json(const char *path, const api_param_t *p, size_t n,
                        int status)
{
    http_resp_t r = get(path, p, n);
    json_t *doc;
    json_error_t e;

    if (r.status != status)
        fail_msg("%s: status %d, want %d: %s", path, r.status, status,
                 r.body ? r.body : "");
    doc = json_loadb(r.body, r.body_len, 0, &e);
    free(r.body);
    assert_non_null(doc);
    return doc;
}

static void test_watermark(void **state)
{
    api_param_t tiers = {"tiers", "producer,kafka-aggregate"};
    json_t *d, *b;
    (void)state;

    d = get_json("/api/v1/topics/orders/watermark", &tiers, 1, 200);
    assert_string_equal(json_string_value(json_object_get(d, "reference")),
                        "producer");
    assert_int_equal(json_integer_value(json_object_get(d, "watermark")),
                     t0 + 2 * 600);
    assert_int_equal(json_integer_value(json_object_get(d, "completeBuckets")),
                     2);
    assert_non_null(b = json_object_get(d, "blocked"));
    assert_int_equal(json_integer_value(json_object_get(b, "bucket")),
                     t0 + 2 * 600);
    assert_string_equal(json_string_value(json_object_get(b, "tier")),
                        "kafka-aggregate");
    assert_int_equal(json_integer_value(json_object_get(b, "count")), 98);
    assert_int_equal(json_integer_value(json_object_get(b, "referenceCount")),
                     100);
    json_decref(d);

    /* No tiers: every tier against the reference (the largest). */
    d = get_json("/api/v1/topics/orders/watermark", NULL, 0, 200);
    assert_int_equal(json_integer_value(json_object_get(d, "watermark")),
                     t0 + 2 * 600);
    json_decref(d);
}

static void test_watermark_bad_requests(void **state)
{
    api_param_t bad_tiers = {"tiers", "producer,,x"};
    api_param_t unknown = {"reference", "producer"};
    json_t *d;
    (void)state;

    d = get_json("/api/v1/topics/orders/watermark", &bad_tiers, 1, 400);
    assert_non_null(strstr(json_string_value(json_object_get(d, "error")),
                           "tiers: item 2"));
    json_decref(d);
    d = get_json("/api/v1/topics/orders/watermark", &unknown, 1, 400);
    json_decref(d);
    d = get_json("/api/v1/topics/nosuch/watermark", NULL, 0, 404);
    json_decref(d);
    d = get_json("/api/v1/topics/bad%20name/watermark", NULL, 0, 400);
    json_decref(d);
}

static void test_metrics(void **state)
{
    metrics_t *m = metrics_new();
    metric_t *x;
    http_resp_t r;
    char want[256];
    (void)state;

    /* Without a registry, /metrics is left to the server's default. */
    r = get("/metrics", NULL, 0);
    assert_int_equal(r.status, 0);
    assert_non_null(m);
    x = metrics_add(m, "chaperone_collector_flushes_total", "Flushes.",
                    METRIC_COUNTER, NULL);
    metric_inc(x, 3);
    api_set_metrics(api, m);
    r = get("/metrics", NULL, 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "chaperone_collector_flushes_total 3\n"));
    assert_non_null(strstr(r.body,
                           "chaperone_completeness_ratio{topic=\"orders\","
                           "tier=\"kafka-aggregate\",reference=\"producer\"} "
                           "0.98\n"));
    assert_non_null(strstr(r.body, "chaperone_lossy_buckets{topic=\"orders\","
                                   "tier=\"kafka-aggregate\"} 1\n"));
    snprintf(want, sizeof(want),
             "chaperone_complete_until_seconds{topic=\"orders\"} %lld\n",
             (long long)(t0 + 2 * 600));
    assert_non_null(strstr(r.body, want));
    free(r.body);
    api_set_metrics(api, NULL);
    metrics_destroy(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watermark),
        cmocka_unit_test(test_watermark_bad_requests),
        cmocka_unit_test(test_metrics),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
