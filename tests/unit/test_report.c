/* Unit tests: the completeness model of `chaperone report`/`check`
 * (src/report/): loss, completeness and the unexpected-data flag, the
 * reference rule, check's decision, argument parsing, and the exact table,
 * CSV and JSON renderings of a small fixture.  No database: grids are fed
 * rows directly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/cli.h"
#include "report/format.h"
#include "report/report.h"

#define T0  1478311200 /* 2016-11-05T02:00:00Z */
#define NOW 1478400000

/* ------------------------------------------------------------ fixture */

static store_row_t mkrow(int64_t begin, const char *tier, const char *dc,
                         uint64_t count, double p95, double p99)
{
    store_row_t r;

    memset(&r, 0, sizeof(r));
    r.time_begin = begin;
    r.time_end = begin + 600;
    snprintf(r.topic, sizeof(r.topic), "clicks");
    snprintf(r.tier, sizeof(r.tier), "%s", tier);
    snprintf(r.datacenter, sizeof(r.datacenter), "%s", dc);
    snprintf(r.host, sizeof(r.host), "combined");
    r.count = count;
    r.total_bytes = count * 100;
    r.latency95 = p95;
    r.latency99 = p99;
    r.max_latency = p99 * 2;
    r.latency_sum_ms = (double)count * p95 / 2;
    return r;
}

static void add(rep_grid_t *g, int64_t begin, const char *tier, const char *dc,
                uint64_t count, double p95, double p99)
{
    store_row_t r = mkrow(begin, tier, dc, count, p95, p99);

    rep_grid_add(g, &r);
}

static void finish(rep_grid_t *g, const char *reference)
{
    char err[256];

    assert_int_equal(rep_grid_finish(g, reference, err, sizeof(err)), CHP_OK);
}

/*
 * Three tiers, three buckets:
 *   02:00  producer 1000, regional 1000, aggregate 1000
 *   02:10  producer 1000, regional 990, aggregate 600 (dc1) + 399 (dc2)
 *   02:20  regional 5 only: unexpected data
 * Totals: producer 2000, aggregate 1999, regional 1995.
 */
static void fixture(rep_grid_t *g, const char *reference)
{
    rep_grid_init(g, "clicks", T0, T0 + 3600);
    add(g, T0, "producer", "dc1", 1000, 10, 20);
    add(g, T0, "regional", "dc1", 1000, 1500, 2500);
    add(g, T0, "aggregate", "dc1", 1000, 3000, 4000);
    add(g, T0 + 600, "producer", "dc1", 1000, 12, 22);
    add(g, T0 + 600, "regional", "dc1", 990, 1600, 2600);
    add(g, T0 + 600, "aggregate", "dc1", 600, 3100, 4100);
    add(g, T0 + 600, "aggregate", "dc2", 399, 3200, 4200);
    add(g, T0 + 1200, "regional", "dc1", 5, 1700, 2700);
    finish(g, reference);
}

/* ------------------------------------------------------------ compare */

static void test_compare_equal(void **state)
{
    rep_cmp_t c = rep_compare(1000, 1000);

    (void)state;
    assert_int_equal(c.loss, 0);
    assert_true(c.ratio == 1.0);
    assert_false(c.unexpected);
}

static void test_compare_loss(void **state)
{
    rep_cmp_t c = rep_compare(990, 1000);

    (void)state;
    assert_int_equal(c.loss, 10);
    assert_true(fabs(c.ratio - 0.99) < 1e-12);
    assert_false(c.unexpected);
}

static void test_compare_both_zero_is_complete(void **state)
{
    rep_cmp_t c = rep_compare(0, 0);

    (void)state;
    assert_true(c.ratio == 1.0);
    assert_int_equal(c.loss, 0);
    assert_false(c.unexpected);
}

static void test_compare_unexpected(void **state)
{
    rep_cmp_t c = rep_compare(5, 0);

    (void)state;
    assert_true(c.unexpected);
    assert_true(isnan(c.ratio));
    assert_int_equal(c.loss, -5);
}

static void test_compare_more_than_reference(void **state)
{
    rep_cmp_t c = rep_compare(1010, 1000);

    (void)state;
    assert_int_equal(c.loss, -10);
    assert_true(fabs(c.ratio - 1.01) < 1e-12);
    assert_false(rep_violates(&c, 0));
}

static void test_violates_threshold(void **state)
{
    rep_cmp_t at = rep_compare(9999, 10000), over = rep_compare(9998, 10000);
    rep_cmp_t none = rep_compare(10000, 10000), one = rep_compare(999, 1000);
    rep_cmp_t unexp = rep_compare(1, 0), empty = rep_compare(0, 0);

    (void)state;
    /* 0.01% of 10000 is 1 message: losing exactly that is allowed. */
    assert_false(rep_violates(&at, 0.0001));
    assert_true(rep_violates(&over, 0.0001));
    assert_false(rep_violates(&none, 0));
    assert_true(rep_violates(&one, 0));
    assert_false(rep_violates(&one, 0.001));
    assert_true(rep_violates(&one, 0.000999));
    assert_true(rep_violates(&unexp, 1.0)); /* whatever the threshold */
    assert_false(rep_violates(&empty, 0));
}

/* ------------------------------------------------------------ grid */

static void test_grid_sums_datacenters(void **state)
{
    rep_grid_t g;
    long t;

    (void)state;
    fixture(&g, NULL);
    t = rep_grid_tier(&g, "aggregate");
    assert_true(t > 0);
    assert_int_equal(rep_cell(&g, 1, (size_t)t)->row.count, 999);
    assert_int_equal(rep_cell(&g, 1, (size_t)t)->row.total_bytes, 99900);
    /* Without sketches the merged p95 is the larger one (conservative). */
    assert_true(rep_cell(&g, 1, (size_t)t)->st.p95 == 3200);
    assert_int_equal(rep_grid_total(&g, (size_t)t), 1999);
    rep_grid_free(&g);
}

static void test_grid_rows_in_any_order(void **state)
{
    rep_grid_t g;

    (void)state;
    rep_grid_init(&g, "clicks", T0, T0 + 3600);
    add(&g, T0 + 600, "b", "dc1", 7, 0, 0);
    add(&g, T0, "a", "dc1", 1, 0, 0);
    add(&g, T0 + 600, "a", "dc1", 2, 0, 0);
    add(&g, T0, "a", "dc2", 3, 0, 0);
    add(&g, T0 + 600, "b", "dc2", 8, 0, 0);
    finish(&g, "a");
    assert_int_equal(g.n_buckets, 2);
    assert_int_equal(g.begin[0], T0);
    assert_int_equal(g.begin[1], T0 + 600);
    assert_int_equal(g.end[1], T0 + 1200);
    assert_int_equal(rep_cell(&g, 0, 0)->row.count, 4);
    assert_int_equal(rep_cell(&g, 1, 0)->row.count, 2);
    assert_int_equal(rep_cell(&g, 1, 1)->row.count, 15);
    assert_false(rep_cell(&g, 0, 1)->present);
    rep_grid_free(&g);
}

static void test_reference_largest_total(void **state)
{
    rep_grid_t g;

    (void)state;
    fixture(&g, "");
    assert_int_equal(g.ref_rule, REP_REF_LARGEST);
    assert_int_equal(g.ref, 0);
    assert_string_equal(g.tiers[0], "producer");
    /* The others follow in byte order. */
    assert_string_equal(g.tiers[1], "aggregate");
    assert_string_equal(g.tiers[2], "regional");
    assert_false(g.ref_missing);
    rep_grid_free(&g);
}

static void test_reference_tie_takes_first_name(void **state)
{
    rep_grid_t g;

    (void)state;
    rep_grid_init(&g, "t", T0, T0 + 600);
    add(&g, T0, "zeta", "dc", 10, 0, 0);
    add(&g, T0, "alpha", "dc", 10, 0, 0);
    add(&g, T0, "mid", "dc", 9, 0, 0);
    finish(&g, NULL);
    assert_string_equal(g.tiers[g.ref], "alpha");
    rep_grid_free(&g);
}

static void test_reference_given(void **state)
{
    rep_grid_t g;
    rep_cmp_t c;

    (void)state;
    fixture(&g, "regional");
    assert_int_equal(g.ref_rule, REP_REF_GIVEN);
    assert_string_equal(g.tiers[0], "regional");
    assert_string_equal(g.tiers[1], "aggregate");
    assert_string_equal(g.tiers[2], "producer");
    c = rep_grid_compare(&g, 1, 2); /* producer 1000 vs regional 990 */
    assert_int_equal(c.loss, -10);
    rep_grid_free(&g);
}

static void test_reference_given_without_rows(void **state)
{
    rep_grid_t g;
    rep_cmp_t c;

    (void)state;
    fixture(&g, "nope");
    assert_true(g.ref_missing);
    assert_string_equal(g.tiers[0], "nope");
    assert_int_equal(g.n_tiers, 4);
    c = rep_grid_compare(&g, 0, 1);
    assert_true(c.unexpected);
    rep_grid_free(&g);
}

static void test_absent_cell_is_zero(void **state)
{
    rep_grid_t g;
    rep_cmp_t c;

    (void)state;
    rep_grid_init(&g, "t", T0, T0 + 1200);
    add(&g, T0, "producer", "dc", 10, 0, 0);
    add(&g, T0, "consumer", "dc", 10, 0, 0);
    add(&g, T0 + 600, "producer", "dc", 10, 0, 0);
    finish(&g, "producer");
    c = rep_grid_compare(&g, 1, 1);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.loss, 10);
    assert_true(c.ratio == 0.0);
    rep_grid_free(&g);
}

static void test_empty_grid(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    rep_grid_init(&g, "quiet", T0, T0 + 600);
    finish(&g, NULL);
    assert_int_equal(g.n_tiers, 0);
    assert_int_equal(g.n_buckets, 0);
    s = rep_format_table(&g, false);
    assert_string_equal(s, "topic quiet, 2016-11-05T02:00:00Z to "
                           "2016-11-05T02:10:00Z, 0 bucket(s)\nno rows\n");
    free(s);
    s = rep_format_csv(&g);
    assert_string_equal(s, "bucket,begin,end\n");
    free(s);
    rep_grid_free(&g);
}

static void test_bucket_worst(void **state)
{
    rep_grid_t g;
    rep_cmp_t c;

    (void)state;
    fixture(&g, NULL);
    assert_int_equal(rep_bucket_worst(&g, 0, &c), 1);
    assert_true(c.ratio == 1.0);
    assert_int_equal(rep_bucket_worst(&g, 1, &c), 2); /* regional 0.99 */
    assert_int_equal(c.loss, 10);
    assert_int_equal(rep_bucket_worst(&g, 2, &c), 2); /* unexpected */
    assert_true(c.unexpected);
    rep_grid_free(&g);
}

static void test_p50_needs_a_full_sketch(void **state)
{
    rep_grid_t g;
    store_row_t r = mkrow(T0, "producer", "dc", 100, 0, 0);
    store_row_t old = mkrow(T0, "consumer", "dc", 100, 50, 60);

    (void)state;
    r.sketch = chp_sketch_new();
    assert_non_null(r.sketch);
    chp_sketch_add(r.sketch, 100, 50);
    chp_sketch_add(r.sketch, 300, 50);
    rep_grid_init(&g, "t", T0, T0 + 600);
    rep_grid_add(&g, &r);
    rep_grid_add(&g, &old);
    chp_sketch_destroy(r.sketch);
    finish(&g, "producer");
    /* Half the messages at 100 ms: p50 within the sketch's 1%. */
    assert_true(fabs(rep_cell(&g, 0, 0)->p50 - 100) <= 2);
    assert_true(fabs(rep_cell(&g, 0, 0)->st.p99 - 300) <= 6);
    assert_true(isnan(rep_cell(&g, 0, 1)->p50));
    rep_grid_free(&g);
}

/* ------------------------------------------------------------ check */

static void test_bucket_final(void **state)
{
    (void)state;
    assert_false(rep_bucket_final(NOW - 1800, NOW, 1800));
    assert_true(rep_bucket_final(NOW - 1801, NOW, 1800));
    assert_false(rep_bucket_final(NOW + 600, NOW, 0));
    assert_true(rep_bucket_final(NOW - 1, NOW, 0));
}

typedef struct seen {
    char lines[8][128];
    size_t n;
} seen_t;

static void record(const rep_grid_t *g, size_t b, size_t t, const rep_cmp_t *c,
                   void *opaque)
{
    seen_t *s = opaque;

    assert_true(s->n < 8);
    snprintf(s->lines[s->n++], 128, "%lld %s %lld%s", (long long)g->begin[b],
             g->tiers[t], (long long)c->loss,
             c->unexpected ? " unexpected" : "");
}

static void test_check_final_buckets_only(void **state)
{
    rep_grid_t g;
    rep_check_stats_t st = {0};
    seen_t seen = {0};

    (void)state;
    fixture(&g, NULL);
    /* Buckets end at T0+600, +1200, +1800; at T0+3600 the first two
     * ended more than 30 min ago, the third exactly 30 min ago: open. */
    assert_int_equal(
        rep_check_grid(&g, 0.0001, 1800, T0 + 3600, record, &seen, &st), 2);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.lines[0], "1478311800 aggregate 1");
    assert_string_equal(seen.lines[1], "1478311800 regional 10");
    assert_int_equal(st.final_buckets, 2);
    assert_int_equal(st.bad_buckets, 1);
    assert_true(st.have_worst);
    assert_string_equal(st.worst_tier, "regional");
    assert_int_equal(st.worst_begin, T0 + 600);
    assert_int_equal(rep_check_exit_status(&st), 2);
    rep_grid_free(&g);
}

static void test_check_unexpected_is_a_violation(void **state)
{
    rep_grid_t g;
    rep_check_stats_t st = {0};
    seen_t seen = {0};

    (void)state;
    fixture(&g, NULL);
    /* Everything final, and a threshold of 1%: only the unexpected bucket
     * and nothing else (aggregate lost 0.1%, regional exactly 1%). */
    rep_check_grid(&g, 0.01, 1800, NOW, record, &seen, &st);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.lines[0], "1478312400 regional -5 unexpected");
    assert_int_equal(st.final_buckets, 3);
    assert_true(st.worst.unexpected);
    assert_int_equal(rep_check_exit_status(&st), 2);
    rep_grid_free(&g);
}

static void test_check_ok_and_not_final(void **state)
{
    rep_grid_t g;
    rep_check_stats_t st = {0};

    (void)state;
    fixture(&g, NULL);
    /* Only the first (complete) bucket is final. */
    assert_int_equal(
        rep_check_grid(&g, 0.0001, 1800, T0 + 2401, NULL, NULL, &st), 0);
    assert_int_equal(st.final_buckets, 1);
    assert_int_equal(rep_check_exit_status(&st), 0);
    rep_grid_free(&g);
}

static void test_summary(void **state)
{
    rep_grid_t g;
    rep_summary_t s;

    (void)state;
    fixture(&g, NULL);
    rep_grid_summary(&g, 0.0001, 1800, NOW, &s);
    assert_int_equal(s.buckets, 3);
    assert_int_equal(s.check.final_buckets, 3);
    assert_int_equal(s.check.bad_buckets, 2);
    assert_int_equal(s.check.violations, 3);
    assert_int_equal(s.unexpected_buckets, 1);
    rep_grid_free(&g);
}

/* ------------------------------------------------------------ parsing */

static int64_t time_ok(const char *s)
{
    char err[256];
    int64_t t = -1;

    if (rep_parse_time(s, NOW, &t, err, sizeof(err)) != CHP_OK)
        fail_msg("\"%s\" refused: %s", s, err);
    return t;
}

static void time_bad(const char *s)
{
    char err[256] = "";
    int64_t t;

    if (rep_parse_time(s, NOW, &t, err, sizeof(err)) == CHP_OK)
        fail_msg("\"%s\" accepted as %lld", s, (long long)t);
    assert_true(strlen(err) > 0);
}

static void test_time_epoch(void **state)
{
    (void)state;
    assert_int_equal(time_ok("1478311200"), T0);
    assert_int_equal(time_ok("1478311200123"), T0); /* milliseconds */
    assert_int_equal(time_ok("0"), 0);
    assert_int_equal(time_ok("now"), NOW);
}

static void test_time_iso(void **state)
{
    (void)state;
    assert_int_equal(time_ok("2016-11-05T02:00:00Z"), T0);
    assert_int_equal(time_ok("2016-11-05T02:00:00"), T0); /* UTC */
    assert_int_equal(time_ok("2016-11-05 02:00:00Z"), T0);
    assert_int_equal(time_ok("2016-11-05T02:00Z"), T0);
    assert_int_equal(time_ok("2016-11-05T02:00:00.999Z"), T0);
    assert_int_equal(time_ok("2016-11-05T03:00:00+01:00"), T0);
    assert_int_equal(time_ok("2016-11-05T00:30:00-0130"), T0);
    assert_int_equal(time_ok("2016-11-05"), T0 - 7200);
    assert_int_equal(time_ok("2016-02-29T00:00:00Z"), 1456704000);
    assert_int_equal(time_ok("1969-12-31T23:59:59Z"), -1);
    assert_int_equal(time_ok("2000-03-01T00:00:00Z"), 951868800);
}

static void test_time_relative(void **state)
{
    (void)state;
    assert_int_equal(time_ok("-6h"), NOW - 6 * 3600);
    assert_int_equal(time_ok("-30m"), NOW - 1800);
    assert_int_equal(time_ok("-1h30m"), NOW - 5400);
    assert_int_equal(time_ok("-2d"), NOW - 2 * 86400);
    assert_int_equal(time_ok("-90s"), NOW - 90);
}

static void test_time_bad(void **state)
{
    static const char *const bad[] = {
        "",
        "yesterday",
        "-",
        "-6",
        "-6x",
        "6h",
        "2016-13-01T00:00:00Z",
        "2016-02-30T00:00:00Z",
        "2015-02-29",
        "2016-11-05T24:00:00Z",
        "2016-11-05T02:60:00Z",
        "2016-11-05T02:00:60Z",
        "2016-11-05T02",
        "2016-11-05T02:00:00Q",
        "2016-11-05T02:00:00+25:00",
        "2016-1-05",
        "99999999999999999999",
        "2016-11-05T02:00:00.Z",
        " 1478311200",
        "1478311200 ",
        "0x10",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        time_bad(bad[i]);
}

static void test_duration(void **state)
{
    static const struct {
        const char *s;
        int64_t v;
    } ok[] = {{"90s", 90},    {"30m", 1800},   {"1h", 3600},
              {"1800", 1800}, {"1h30m", 5400}, {"2d", 172800},
              {"1w", 604800}, {"0", 0},        {"0s", 0}};
    static const char *const bad[] = {"",     "-5m", "5x",  "1h30",        "h",
                                      "1.5h", "m1",  "1 h", "99999999999h"};
    char err[256];
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(rep_parse_duration(ok[i].s, &v, err, sizeof(err)),
                         CHP_OK);
        assert_int_equal(v, ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rep_parse_duration(bad[i], &v, err, sizeof(err)) == CHP_OK)
            fail_msg("duration \"%s\" accepted", bad[i]);
}

static void test_loss(void **state)
{
    static const struct {
        const char *s;
        double v;
    } ok[] = {{"0.01%", 0.0001}, {"0.0001", 0.0001}, {"1%", 0.01},
              {"100%", 1.0},     {"0", 0.0},         {"1", 1.0},
              {".5%", 0.005},    {"0%", 0.0}};
    static const char *const bad[] = {"",    "%",    "abc",  "-1%",    "101%",
                                      "1.5", "nan",  "inf",  "0x1p-3", " 1%",
                                      "1%%", "1e-4", "1.2.3"};
    char err[256];
    double v;

    (void)state;
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(rep_parse_loss(ok[i].s, &v, err, sizeof(err)), CHP_OK);
        assert_true(fabs(v - ok[i].v) < 1e-15);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (rep_parse_loss(bad[i], &v, err, sizeof(err)) == CHP_OK)
            fail_msg("loss \"%s\" accepted", bad[i]);
}

static void test_range(void **state)
{
    char err[256];
    int64_t from, to;

    (void)state;
    assert_int_equal(rep_parse_range(NULL, NULL, "--from", "--to", NOW, &from,
                                     &to, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(from, NOW - 86400);
    assert_int_equal(to, NOW);
    assert_int_not_equal(rep_parse_range("-1h", "-2h", "--from", "--to", NOW,
                                         &from, &to, err, sizeof(err)),
                         CHP_OK);
    assert_non_null(strstr(err, "--from"));
    assert_non_null(strstr(err, "is after --to"));
    assert_int_not_equal(rep_parse_range("x", NULL, "from", "to", NOW, &from,
                                         &to, err, sizeof(err)),
                         CHP_OK);
    assert_true(!strncmp(err, "from: not a time", 16));
    assert_int_not_equal(rep_parse_range(NULL, "2016-02-30", "from", "to", NOW,
                                         &from, &to, err, sizeof(err)),
                         CHP_OK);
    assert_true(!strncmp(err, "to: ", 4));
    assert_int_not_equal(rep_parse_range("0", "now", "from", "to", NOW, &from,
                                         &to, err, sizeof(err)),
                         CHP_OK);
    assert_non_null(strstr(err, "longer than 400 days"));
    /* An empty range is fine: from == to. */
    assert_int_equal(rep_parse_range("now", "now", "from", "to", NOW, &from,
                                     &to, err, sizeof(err)),
                     CHP_OK);
}

static void test_format_time_and_duration(void **state)
{
    char buf[REP_TIME_MAX], d[32];

    (void)state;
    rep_format_time(T0, buf);
    assert_string_equal(buf, "2016-11-05T02:00:00Z");
    assert_int_equal(time_ok(buf), T0);
    rep_format_time(0, buf);
    assert_string_equal(buf, "1970-01-01T00:00:00Z");
    rep_format_duration(1800, d, sizeof(d));
    assert_string_equal(d, "30m");
    rep_format_duration(5400, d, sizeof(d));
    assert_string_equal(d, "1h30m");
    rep_format_duration(90, d, sizeof(d));
    assert_string_equal(d, "1m30s");
    rep_format_duration(86400 * 2, d, sizeof(d));
    assert_string_equal(d, "2d");
    rep_format_duration(0, d, sizeof(d));
    assert_string_equal(d, "0s");
}

static void test_tier_name(void **state)
{
    char long_name[CHP_NAME_MAX + 1];

    (void)state;
    memset(long_name, 'a', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    assert_true(rep_tier_name_ok("kafka-regional"));
    assert_true(rep_tier_name_ok("with space"));
    assert_false(rep_tier_name_ok(""));
    assert_false(rep_tier_name_ok("tab\there"));
    assert_false(rep_tier_name_ok(long_name));
}

static void test_format_parse(void **state)
{
    char err[256];
    rep_format_t f;

    (void)state;
    assert_int_equal(rep_format_parse("csv", &f, err, sizeof(err)), CHP_OK);
    assert_int_equal(f, REP_FMT_CSV);
    assert_int_equal(rep_format_parse("json", &f, err, sizeof(err)), CHP_OK);
    assert_int_equal(f, REP_FMT_JSON);
    assert_int_equal(rep_format_parse("table", &f, err, sizeof(err)), CHP_OK);
    assert_int_equal(f, REP_FMT_TABLE);
    assert_int_not_equal(rep_format_parse("xml", &f, err, sizeof(err)), CHP_OK);
    assert_non_null(strstr(err, "xml"));
}

static void test_cli_parse(void **state)
{
    const char *topic = NULL, *from = NULL;
    bool latency = false;
    const rep_opt_t opts[] = {{"--topic", &topic, NULL},
                              {"--from", &from, NULL},
                              {"--latency", NULL, &latency}};
    char err[256];
    char *ok[] = {"report", "--topic", "t", "--from=-6h", "--latency", NULL};
    char *unknown[] = {"report", "--topik", "t", NULL};
    char *missing[] = {"report", "--topic", NULL};
    char *twice[] = {"report", "--topic", "a", "--topic=b", NULL};
    char *stray[] = {"report", "t", NULL};
    char *flagval[] = {"report", "--latency=1", NULL};
    char *empty[] = {"report", "--from=", NULL};
    char *help[] = {"report", "--topic", "t", "-h", NULL};
    bool asked = false;

    (void)state;
    assert_int_equal(rep_cli_parse(5, ok, opts, 3, &asked, err, sizeof(err)),
                     CHP_OK);
    assert_false(asked);
    assert_string_equal(topic, "t");
    assert_string_equal(from, "-6h");
    assert_true(latency);
#define BAD(argv, needle)                                                      \
    do {                                                                       \
        topic = from = NULL;                                                   \
        assert_int_equal(                                                      \
            rep_cli_parse((int)(sizeof(argv) / sizeof(*argv)) - 1, argv, opts, \
                          3, &asked, err, sizeof(err)),                        \
            CHP_ERR_INVALID_ARG);                                              \
        assert_non_null(strstr(err, needle));                                  \
    } while (0)
    BAD(unknown, "unknown option --topik");
    BAD(missing, "--topic needs a value");
    BAD(twice, "--topic given twice");
    BAD(stray, "unexpected argument \"t\"");
    BAD(flagval, "--latency takes no value");
    BAD(empty, "--from: empty value");
#undef BAD
    topic = NULL;
    assert_int_equal(rep_cli_parse(4, help, opts, 3, &asked, err, sizeof(err)),
                     CHP_OK);
    assert_true(asked);
}

/* ------------------------------------------------------------ formats */

static void test_table(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    fixture(&g, NULL);
    s = rep_format_table(&g, false);
    assert_string_equal(
        s,
        "topic clicks, 2016-11-05T02:00:00Z to 2016-11-05T03:00:00Z, 3 "
        "bucket(s), reference tier producer (largest total)\n"
        "bucket                producer  aggregate  regional  loss:aggregate  "
        "compl:aggregate  loss:regional  compl:regional\n"
        "2016-11-05T02:00:00Z      1000       1000      1000               0  "
        "       1.000000              0        1.000000\n"
        "2016-11-05T02:10:00Z      1000        999       990               1  "
        "       0.999000             10        0.990000\n"
        "2016-11-05T02:20:00Z         0          0         5               0  "
        "       1.000000             -5      unexpected\n");
    free(s);
    rep_grid_free(&g);
}

static void test_table_latency(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    fixture(&g, "regional");
    s = rep_format_table(&g, true);
    assert_string_equal(
        s,
        "topic clicks, 2016-11-05T02:00:00Z to 2016-11-05T03:00:00Z, 3 "
        "bucket(s), reference tier regional (given)\n"
        "bucket                regional  aggregate  producer  loss:aggregate  "
        "compl:aggregate  loss:producer  compl:producer  p95:regional  "
        "p99:regional  p95:aggregate  p99:aggregate  p95:producer  "
        "p99:producer\n"
        "2016-11-05T02:00:00Z      1000       1000      1000               0  "
        "       1.000000              0        1.000000        1500.0        "
        "2500.0         3000.0         4000.0          10.0          20.0\n"
        "2016-11-05T02:10:00Z       990        999      1000              -9  "
        "       1.009091            -10        1.010101        1600.0        "
        "2600.0         3200.0         4200.0          12.0          22.0\n"
        "2016-11-05T02:20:00Z         5          0         0               5  "
        "       0.000000              5        0.000000        1700.0        "
        "2700.0              -              -             -             -\n");
    free(s);
    rep_grid_free(&g);
}

static void test_csv(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    fixture(&g, NULL);
    s = rep_format_csv(&g);
    assert_string_equal(
        s,
        "bucket,begin,end,producer.count,producer.loss,producer.completeness,"
        "producer.unexpected,producer.p95_ms,producer.p99_ms,aggregate.count,"
        "aggregate.loss,aggregate.completeness,aggregate.unexpected,"
        "aggregate.p95_ms,aggregate.p99_ms,regional.count,regional.loss,"
        "regional.completeness,regional.unexpected,regional.p95_ms,"
        "regional.p99_ms\n"
        "2016-11-05T02:00:00Z,1478311200,1478311800,1000,0,1.000000,0,10.000,"
        "20.000,1000,0,1.000000,0,3000.000,4000.000,1000,0,1.000000,0,"
        "1500.000,2500.000\n"
        "2016-11-05T02:10:00Z,1478311800,1478312400,1000,0,1.000000,0,12.000,"
        "22.000,999,1,0.999000,0,3200.000,4200.000,990,10,0.990000,0,"
        "1600.000,2600.000\n"
        "2016-11-05T02:20:00Z,1478312400,1478313000,0,0,1.000000,0,,,0,0,"
        "1.000000,0,,,5,-5,,1,1700.000,2700.000\n");
    free(s);
    rep_grid_free(&g);
}

static void test_csv_quotes_names(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    rep_grid_init(&g, "t", T0, T0 + 600);
    add(&g, T0, "a,\"b\"", "dc", 1, 0, 0);
    finish(&g, NULL);
    s = rep_format_csv(&g);
    assert_non_null(strstr(s, ",\"a,\"\"b\"\".count\","));
    free(s);
    rep_grid_free(&g);
}

static void test_json(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    rep_grid_init(&g, "clicks", T0, T0 + 1200);
    add(&g, T0, "producer", "dc1", 1000, 10, 20);
    add(&g, T0, "regional", "dc1", 990, 1500, 2500);
    add(&g, T0 + 600, "regional", "dc1", 5, 1700, 2700);
    finish(&g, NULL);
    s = rep_format_json(&g, false);
    assert_string_equal(
        s,
        "{\"topic\":\"clicks\",\"from\":1478311200,\"to\":1478312400,"
        "\"fromTime\":\"2016-11-05T02:00:00Z\",\"toTime\":"
        "\"2016-11-05T02:20:00Z\",\"tiers\":[\"producer\",\"regional\"],"
        "\"reference\":\"producer\",\"referenceRule\":\"largest-total\","
        "\"buckets\":[{\"begin\":1478311200,\"end\":1478311800,\"time\":"
        "\"2016-11-05T02:00:00Z\",\"referenceCount\":1000,"
        "\"worstCompleteness\":0.99,\"unexpected\":false,\"tiers\":{"
        "\"producer\":{\"count\":1000,\"loss\":0,\"completeness\":1.0,"
        "\"unexpected\":false,\"p95Ms\":10.0,\"p99Ms\":20.0},\"regional\":{"
        "\"count\":990,\"loss\":10,\"completeness\":0.99,\"unexpected\":false,"
        "\"p95Ms\":1500.0,\"p99Ms\":2500.0}}},{\"begin\":1478311800,\"end\":"
        "1478312400,\"time\":\"2016-11-05T02:10:00Z\",\"referenceCount\":0,"
        "\"worstCompleteness\":null,\"unexpected\":true,\"tiers\":{"
        "\"producer\":{\"count\":0,\"loss\":0,\"completeness\":1.0,"
        "\"unexpected\":false,\"p95Ms\":null,\"p99Ms\":null},\"regional\":{"
        "\"count\":5,\"loss\":-5,\"completeness\":null,\"unexpected\":true,"
        "\"p95Ms\":1700.0,\"p99Ms\":2700.0}}}]}\n");
    free(s);
    rep_grid_free(&g);
}

static void test_json_warns_missing_reference(void **state)
{
    rep_grid_t g;
    char *s;

    (void)state;
    fixture(&g, "nope");
    s = rep_format_json(&g, true);
    assert_non_null(
        strstr(s, "\"warning\": \"reference tier nope has no rows in this "
                  "range\""));
    assert_non_null(strstr(s, "\"referenceRule\": \"given\""));
    free(s);
    rep_grid_free(&g);
}

static void test_buckets_json(void **state)
{
    rep_grid_t g;
    json_t *doc;
    char *s;

    (void)state;
    fixture(&g, NULL);
    doc = rep_buckets_json(&g);
    s = rep_json_text(doc, false);
    /* The last bucket has rows of regional only; counters as stored. */
    assert_non_null(strstr(
        s, "{\"begin\":1478312400,\"end\":1478313000,\"time\":"
           "\"2016-11-05T02:20:00Z\",\"tiers\":{\"regional\":{\"count\":5,"
           "\"bytes\":500,\"noTime\":0,\"malformed\":0,\"negativeLatency\":0,"
           "\"latencyMs\":{\"mean\":850.0,\"p50\":null,\"p95\":1700.0,"
           "\"p99\":2700.0,\"max\":5400.0}}}}]}\n"));
    assert_int_equal(json_array_size(json_object_get(doc, "buckets")), 3);
    free(s);
    json_decref(doc);
    rep_grid_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_compare_equal),
        cmocka_unit_test(test_compare_loss),
        cmocka_unit_test(test_compare_both_zero_is_complete),
        cmocka_unit_test(test_compare_unexpected),
        cmocka_unit_test(test_compare_more_than_reference),
        cmocka_unit_test(test_violates_threshold),
        cmocka_unit_test(test_grid_sums_datacenters),
        cmocka_unit_test(test_grid_rows_in_any_order),
        cmocka_unit_test(test_reference_largest_total),
        cmocka_unit_test(test_reference_tie_takes_first_name),
        cmocka_unit_test(test_reference_given),
        cmocka_unit_test(test_reference_given_without_rows),
        cmocka_unit_test(test_absent_cell_is_zero),
        cmocka_unit_test(test_empty_grid),
        cmocka_unit_test(test_bucket_worst),
        cmocka_unit_test(test_p50_needs_a_full_sketch),
        cmocka_unit_test(test_bucket_final),
        cmocka_unit_test(test_check_final_buckets_only),
        cmocka_unit_test(test_check_unexpected_is_a_violation),
        cmocka_unit_test(test_check_ok_and_not_final),
        cmocka_unit_test(test_summary),
        cmocka_unit_test(test_time_epoch),
        cmocka_unit_test(test_time_iso),
        cmocka_unit_test(test_time_relative),
        cmocka_unit_test(test_time_bad),
        cmocka_unit_test(test_duration),
        cmocka_unit_test(test_loss),
        cmocka_unit_test(test_range),
        cmocka_unit_test(test_format_time_and_duration),
        cmocka_unit_test(test_tier_name),
        cmocka_unit_test(test_format_parse),
        cmocka_unit_test(test_cli_parse),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_table_latency),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_csv_quotes_names),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_json_warns_missing_reference),
        cmocka_unit_test(test_buckets_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
