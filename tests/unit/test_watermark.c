/* Unit tests: the completeness watermark (src/report/watermark.c) on
 * grids fed rows directly, with exact expectations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/watermark.h"

#define T0 1478311200 /* 2016-11-05T02:00:00Z, a bucket start */
#define W  600

static void add(rep_grid_t *g, int64_t begin, const char *tier, const char *dc,
                uint64_t count)
{
    store_row_t r;

    memset(&r, 0, sizeof(r));
    r.time_begin = begin;
    r.time_end = begin + W;
    snprintf(r.topic, sizeof(r.topic), "orders");
    snprintf(r.tier, sizeof(r.tier), "%s", tier);
    snprintf(r.datacenter, sizeof(r.datacenter), "%s", dc);
    snprintf(r.host, sizeof(r.host), "combined");
    r.count = count;
    rep_grid_add(g, &r);
}

/* Six buckets: producer and kafka-aggregate equal except where noted. */
static void fixture(rep_grid_t *g, int lossy_bucket, uint64_t lost)
{
    rep_grid_init(g, "orders", T0, T0 + 6 * W);
    for (int b = 0; b < 6; b++) {
        uint64_t n = 1000 + (uint64_t)b;
        add(g, T0 + b * W, "producer", "dc1", n / 2);
        add(g, T0 + b * W, "producer", "dc2", n - n / 2);
        add(g, T0 + b * W, "kafka-aggregate", "agg",
            b == lossy_bucket ? n - lost : n);
    }
}

static void finish(rep_grid_t *g, const char *ref)
{
    char err[256];

    assert_int_equal(rep_grid_finish(g, ref, err, sizeof(err)), CHP_OK);
}

static void test_all_complete(void **state)
{
    rep_grid_t g;
    rep_watermark_t w;
    const char *tiers[] = {"producer", "kafka-aggregate"};
    (void)state;

    fixture(&g, -1, 0);
    finish(&g, "producer");
    /* now: every bucket ended more than the lateness ago */
    rep_watermark(&g, tiers, 2, 0.0, 60, T0 + 6 * W + 61, &w);
    assert_true(w.have_until);
    assert_int_equal(w.until, T0 + 6 * W);
    assert_int_equal(w.complete_buckets, 6);
    assert_false(w.blocked);
    assert_false(w.open_bucket);
    rep_grid_free(&g);
}

static void test_loss_holds_it_back(void **state)
{
    rep_grid_t g;
    rep_watermark_t w;
    const char *tiers[] = {"producer", "kafka-aggregate"};
    (void)state;

    fixture(&g, 3, 1);
    finish(&g, "producer");
    rep_watermark(&g, tiers, 2, 0.0, 60, T0 + 7 * W, &w);
    assert_true(w.have_until);
    assert_int_equal(w.until, T0 + 3 * W); /* end of bucket 2 */
    assert_int_equal(w.complete_buckets, 3);
    assert_true(w.blocked);
    assert_int_equal(w.blocked_begin, T0 + 3 * W);
    assert_string_equal(w.blocked_tier, "kafka-aggregate");
    assert_int_equal(w.blocked_cmp.ref_count, 1003);
    assert_int_equal(w.blocked_cmp.count, 1002);
    assert_int_equal(w.blocked_cmp.loss, 1);

    /* The same loss within an allowed 0.1%: complete. */
    rep_watermark(&g, tiers, 2, 0.001, 60, T0 + 7 * W, &w);
    assert_int_equal(w.until, T0 + 6 * W);
    assert_false(w.blocked);
    rep_grid_free(&g);
}

static void test_open_bucket_stops_it(void **state)
{
    rep_grid_t g;
    rep_watermark_t w;
    (void)state;

    fixture(&g, -1, 0);
    finish(&g, "producer");
    /* Bucket 4 ended at T0+5W; with 30 min lateness only 0..1 are final
     * at T0+5W+1: 0 ends T0+W ... final iff now - end > 1800. */
    rep_watermark(&g, NULL, 0, 0.0, 1800, T0 + 5 * W + 1, &w);
    assert_true(w.open_bucket);
    assert_false(w.blocked);
    assert_int_equal(w.until, T0 + 2 * W); /* buckets 0 and 1 */
    assert_int_equal(w.complete_buckets, 2);
    rep_grid_free(&g);
}

static void test_missing_tier_and_first_bucket(void **state)
{
    rep_grid_t g;
    rep_watermark_t w;
    const char *tiers[] = {"producer", "consumer-etl"};
    (void)state;

    fixture(&g, 0, 5);
    finish(&g, "producer");
    /* A required tier that never reported: the very first bucket blocks,
     * so there is no watermark at all. */
    rep_watermark(&g, tiers, 2, 0.0, 0, T0 + 10 * W, &w);
    assert_false(w.have_until);
    assert_true(w.blocked);
    assert_int_equal(w.blocked_begin, T0);
    assert_string_equal(w.blocked_tier, "consumer-etl");
    assert_int_equal(w.blocked_cmp.count, 0);
    assert_int_equal(w.blocked_cmp.ref_count, 1000);

    /* Every tier of the grid (NULL): bucket 0 lost 5 at the aggregate. */
    rep_watermark(&g, NULL, 0, 0.0, 0, T0 + 10 * W, &w);
    assert_false(w.have_until);
    assert_int_equal(w.blocked_cmp.loss, 5);
    rep_grid_free(&g);
}

static void test_duplicates_are_complete(void **state)
{
    rep_grid_t g;
    rep_watermark_t w;
    const char *tiers[] = {"producer", "kafka-aggregate"};
    (void)state;

    rep_grid_init(&g, "orders", T0, T0 + 2 * W);
    add(&g, T0, "producer", "dc1", 10);
    add(&g, T0, "kafka-aggregate", "agg", 12); /* MirrorMaker re-sent 2 */
    add(&g, T0 + W, "producer", "dc1", 10);
    add(&g, T0 + W, "kafka-aggregate", "agg", 10);
    finish(&g, "producer");
    rep_watermark(&g, tiers, 2, 0.0, 0, T0 + 3 * W, &w);
    assert_int_equal(w.until, T0 + 2 * W);
    assert_int_equal(w.complete_buckets, 2);
    rep_grid_free(&g);
}

static void test_split_tiers(void **state)
{
    char **v, err[128];
    size_t n;
    (void)state;

    assert_int_equal(rep_split_tiers(" producer, kafka-aggregate ,consumer-etl",
                                     &v, &n, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(n, 3);
    assert_string_equal(v[0], "producer");
    assert_string_equal(v[1], "kafka-aggregate");
    assert_string_equal(v[2], "consumer-etl");
    assert_null(v[3]);
    free(v);
    assert_int_equal(rep_split_tiers("producer,,x", &v, &n, err, sizeof(err)),
                     CHP_ERR_PARSE);
    assert_non_null(strstr(err, "item 2"));
    assert_null(v);
    assert_int_equal(rep_split_tiers("", &v, &n, err, sizeof(err)),
                     CHP_ERR_PARSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_complete),
        cmocka_unit_test(test_loss_holds_it_back),
        cmocka_unit_test(test_open_bucket_stops_it),
        cmocka_unit_test(test_missing_tier_and_first_bucket),
        cmocka_unit_test(test_duplicates_are_complete),
        cmocka_unit_test(test_split_tiers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
