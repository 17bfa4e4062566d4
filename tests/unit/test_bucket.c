/* Unit tests: event-time normalisation and bucket arithmetic (design.md §3). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "bucket.h"

static void test_seconds_and_millis(void **state)
{
    int64_t ms;
    (void)state;

    assert_true(chp_ts_to_ms(1478311200.0, &ms));
    assert_int_equal(ms, 1478311200000LL);
    assert_true(chp_ts_to_ms(1478311200123.0, &ms));
    assert_int_equal(ms, 1478311200123LL);
    /* The threshold itself is still seconds; one more is milliseconds. */
    assert_true(chp_ts_to_ms(999999999999.0, &ms));
    assert_int_equal(ms, 999999999999000LL);
    assert_true(chp_ts_to_ms(1000000000000.0, &ms));
    assert_int_equal(ms, 1000000000000LL);
    assert_true(chp_ts_to_ms(1478311200.5, &ms));
    assert_int_equal(ms, 1478311200500LL);
    assert_true(chp_ts_to_ms(0.0, &ms));
    assert_int_equal(ms, 0);
}

static void test_rejects_non_finite(void **state)
{
    int64_t ms = 42;
    (void)state;

    assert_false(chp_ts_to_ms(1.0 / 0.0, &ms));
    assert_false(chp_ts_to_ms(-1.0 / 0.0, &ms));
    assert_false(chp_ts_to_ms(0.0 / 0.0, &ms));
    assert_false(chp_ts_to_ms(1e300, &ms));
    assert_int_equal(ms, 42);
}

static void test_bucket_begin(void **state)
{
    (void)state;

    assert_int_equal(chp_bucket_begin(1478311200000LL, 600), 1478311200LL);
    assert_int_equal(chp_bucket_begin(1478311799999LL, 600), 1478311200LL);
    assert_int_equal(chp_bucket_begin(1478311800000LL, 600), 1478311800LL);
    assert_int_equal(chp_bucket_begin(59999, 60), 0);
    assert_int_equal(chp_bucket_begin(0, 600), 0);
    /* Floor, not truncation, before the epoch. */
    assert_int_equal(chp_bucket_begin(-1, 600), -600);
    assert_int_equal(chp_bucket_begin(-600000, 600), -600);
    assert_int_equal(chp_bucket_begin(-600001, 600), -1200);
    /* A nonsensical width is treated as 1 s rather than dividing by 0. */
    assert_int_equal(chp_bucket_begin(1500, 0), 1);
}

static void test_counts(void **state)
{
    chp_counts_t a = {0}, b = {0};
    (void)state;

    chp_counts_add(&a, 10, 100, CHP_TS_FOUND);
    chp_counts_add(&a, 20, 300, CHP_TS_FOUND);
    chp_counts_add(&a, 5, 0, CHP_TS_MISSING);
    chp_counts_add(&a, 7, 0, CHP_TS_MALFORMED);
    chp_counts_add(&a, 1, -50, CHP_TS_FOUND);
    assert_int_equal(a.count, 5);
    assert_int_equal(a.total_bytes, 43);
    assert_int_equal(a.no_time, 1);
    assert_int_equal(a.malformed, 1);
    assert_int_equal(a.negative, 1);
    assert_int_equal(a.latency_sum_ms, 400);
    assert_int_equal(a.max_latency_ms, 300);
    assert_true(chp_counts_mean_latency(&a) == 100.0);

    chp_counts_add(&b, 1, 1000, CHP_TS_FOUND);
    chp_counts_merge(&b, &a);
    assert_int_equal(b.count, 6);
    assert_int_equal(b.total_bytes, 44);
    assert_int_equal(b.max_latency_ms, 1000);
    assert_int_equal(b.latency_sum_ms, 1400);

    chp_counts_t empty = {0};
    assert_true(chp_counts_mean_latency(&empty) == 0.0);
}

static void test_uuid(void **state)
{
    char a[CHP_UUID_MAX], b[CHP_UUID_MAX];
    (void)state;

    chp_uuid_generate(a);
    chp_uuid_generate(b);
    assert_int_equal(strlen(a), 36);
    assert_int_equal(a[14], '4');
    assert_string_not_equal(a, b);
}

static void test_err_str(void **state)
{
    (void)state;
    assert_string_equal(chp_err_str(CHP_OK), "success");
    assert_string_equal(chp_err_str((chp_err_t)9999), "unknown error");
    for (int e = 0; e < CHP_ERR__COUNT; e++)
        assert_non_null(chp_err_str((chp_err_t)e));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_seconds_and_millis),
        cmocka_unit_test(test_rejects_non_finite),
        cmocka_unit_test(test_bucket_begin),
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_uuid),
        cmocka_unit_test(test_err_str),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
