/* Unit tests: the pipeline model of `chaperone report`/`check`
 * (src/report/pipeline.c): the spec, per-datacenter versus summed hops,
 * loss, duplication, unexpected data, added latency, totals, check's
 * decision, and the exact CSV/table/JSON renderings.  No database: results
 * are fed rows directly, as any backend hands them out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/pipeline.h"
#include "report/pipeline_format.h"
#include "conf_daemon.h"

#define T0  1478311200 /* 2016-11-05T02:00:00Z */
#define NOW 1478400000

static const char *const tiers4 =
    "producer,kafka-regional,kafka-aggregate,consumer-etl";

/* A row of "orders"; lat_ms > 0 gives it a sketch with every message at
 * lat_ms (so p50 = p99 = lat_ms within the sketch's 1%). */
static void add(rep_pipe_t *p, int64_t begin, const char *tier, const char *dc,
                uint64_t count, int64_t lat_ms)
{
    store_row_t r;

    memset(&r, 0, sizeof(r));
    r.time_begin = begin;
    r.time_end = begin + 600;
    snprintf(r.topic, sizeof(r.topic), "orders");
    snprintf(r.tier, sizeof(r.tier), "%s", tier);
    snprintf(r.datacenter, sizeof(r.datacenter), "%s", dc);
    snprintf(r.host, sizeof(r.host), "h1");
    r.count = count;
    r.total_bytes = count * 100;
    if (lat_ms > 0) {
        r.sketch = chp_sketch_new();
        assert_non_null(r.sketch);
        chp_sketch_add(r.sketch, lat_ms, count);
        r.latency_sum_ms = (double)(lat_ms * (int64_t)count);
    }
    rep_pipe_add(p, &r);
    store_row_clear(&r);
}

static void spec_of(const char *s, rep_pipe_spec_t *spec)
{
    char err[256];

    assert_int_equal(rep_pipe_spec_parse(s, spec, err, sizeof(err)), CHP_OK);
}

/*
 * producer and kafka-regional in dc1 and dc2, kafka-aggregate and
 * consumer-etl in "agg":
 *   02:00 complete: 1000 + 500 everywhere, 1500 downstream
 *   02:10 producer@dc2 500 -> regional@dc2 463 (37 lost);
 *         regional 1000 + 463 -> aggregate 1263 (200 lost); consumer 1263
 *   02:20 aggregate 1700 of 1500 (200 duplicated); consumer 1600 (100 lost)
 *   02:30 consumer 5 alone: unexpected data
 * plus a tier outside the pipeline (ignored) and a second host of
 * regional@dc1 in 02:00 (summed).
 */
static void fixture(rep_pipe_t *p)
{
    rep_pipe_spec_t spec;
    char err[256];

    spec_of(tiers4, &spec);
    rep_pipe_init(p, "orders", T0, T0 + 3600, &spec);
    for (int b = 0; b < 3; b++) {
        int64_t t = T0 + 600 * b;
        add(p, t, "producer", "dc1", 1000, 10);
        add(p, t, "producer", "dc2", 500, 10);
    }
    add(p, T0, "kafka-regional", "dc1", 600, 100);
    add(p, T0, "kafka-regional", "dc1", 400, 100); /* another host */
    add(p, T0, "kafka-regional", "dc2", 500, 100);
    add(p, T0, "kafka-aggregate", "agg", 1500, 1000);
    add(p, T0, "consumer-etl", "agg", 1500, 2000);
    add(p, T0, "other", "x", 7, 0);

    add(p, T0 + 600, "kafka-regional", "dc1", 1000, 100);
    add(p, T0 + 600, "kafka-regional", "dc2", 463, 100);
    add(p, T0 + 600, "kafka-aggregate", "agg", 1263, 1000);
    add(p, T0 + 600, "consumer-etl", "agg", 1263, 2000);

    add(p, T0 + 1200, "kafka-regional", "dc1", 1000, 100);
    add(p, T0 + 1200, "kafka-regional", "dc2", 500, 100);
    add(p, T0 + 1200, "kafka-aggregate", "agg", 1700, 1000);
    add(p, T0 + 1200, "consumer-etl", "agg", 1600, 2000);

    add(p, T0 + 1800, "consumer-etl", "agg", 5, 2000);
    assert_int_equal(rep_pipe_finish(p, err, sizeof(err)), CHP_OK);
}

/* ------------------------------------------------------------ spec */

static void test_spec_parse(void **state)
{
    rep_pipe_spec_t s;
    char err[256];

    (void)state;
    spec_of(" producer , kafka-regional,consumer-x ", &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.tiers[0], "producer");
    assert_string_equal(s.tiers[1], "kafka-regional");
    assert_string_equal(s.tiers[2], "consumer-x");
    spec_of("", &s);
    assert_int_equal(s.n, 0);
    spec_of("   ", &s);
    assert_int_equal(s.n, 0);

    assert_int_equal(rep_pipe_spec_parse("producer", &s, err, sizeof(err)),
                     CHP_ERR_INVALID_ARG);
    assert_string_equal(err,
                        "a pipeline needs at least two tiers (got producer)");
    assert_int_equal(rep_pipe_spec_parse("a,,b", &s, err, sizeof(err)),
                     CHP_ERR_INVALID_ARG);
    assert_string_equal(err, "tier 2 of the pipeline is empty (expected "
                             "comma-separated tier names)");
    assert_int_equal(rep_pipe_spec_parse("a,b,a", &s, err, sizeof(err)),
                     CHP_ERR_INVALID_ARG);
    assert_string_equal(err, "tier a appears twice in the pipeline");
    assert_int_equal(rep_pipe_spec_parse("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q",
                                         &s, err, sizeof(err)),
                     CHP_ERR_INVALID_ARG);
    assert_string_equal(err, "a pipeline has at most 16 tiers");
}

static void test_spec_arg_names_the_key(void **state)
{
    chp_conf_t *conf = conf_daemon_new();
    rep_pipe_spec_t s;
    char err[512];

    (void)state;
    assert_int_equal(
        rep_pipe_spec_arg(conf, NULL, "--pipeline", &s, err, sizeof(err)),
        CHP_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(chp_conf_set(conf, "report.pipeline", "producer,producer",
                                  err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(
        rep_pipe_spec_arg(conf, NULL, "--pipeline", &s, err, sizeof(err)),
        CHP_ERR_INVALID_ARG);
    assert_string_equal(err, "report.pipeline: tier producer appears twice "
                             "in the pipeline");
    assert_int_equal(
        rep_pipe_spec_arg(conf, "x", "--pipeline", &s, err, sizeof(err)),
        CHP_ERR_INVALID_ARG);
    assert_string_equal(err, "--pipeline: a pipeline needs at least two tiers "
                             "(got x)");
    assert_int_equal(
        rep_pipe_spec_arg(conf, "a,b", "--pipeline", &s, err, sizeof(err)),
        CHP_OK);
    assert_int_equal(s.n, 2);
    chp_conf_destroy(conf);
}

/* ------------------------------------------------------------ hops */

static void test_layout(void **state)
{
    rep_pipe_t p;
    char *js;

    (void)state;
    fixture(&p);
    assert_int_equal(p.n_buckets, 4);
    assert_int_equal(p.n_hops, 3);
    assert_string_equal(p.others, "other");
    /* Same datacenters on both sides: per datacenter. */
    assert_true(p.hops[0].per_dc);
    assert_int_equal(p.hops[0].n_dc, 2);
    assert_string_equal(rep_hop_dc(&p.hops[0], 0), "dc1");
    assert_string_equal(rep_hop_dc(&p.hops[0], 1), "dc2");
    /* Fan-in: summed, named by the upstream datacenters. */
    assert_false(p.hops[1].per_dc);
    assert_int_equal(p.hops[1].n_dc, 1);
    assert_string_equal(rep_hop_dc(&p.hops[1], 0), "dc1+dc2");
    /* agg -> agg is per datacenter again. */
    assert_true(p.hops[2].per_dc);
    assert_string_equal(rep_hop_dc(&p.hops[2], 0), "agg");
    assert_int_equal(p.tiers[0].total, 4500);
    assert_int_equal(p.tiers[1].total, 4463);
    assert_int_equal(p.tiers[2].total, 4463);
    assert_int_equal(p.tiers[3].total, 4368);
    assert_int_equal(p.tiers[1].count[0], 1500); /* two hosts summed */
    js = rep_pipe_format_json(&p, false);
    assert_non_null(strstr(js, "\"otherTiers\":[\"other\"]"));
    free(js);
    rep_pipe_free(&p);
}

static void expect(const rep_hop_cell_t *c, uint64_t up, uint64_t down,
                   uint64_t loss, uint64_t dup)
{
    assert_int_equal(c->up, up);
    assert_int_equal(c->down, down);
    assert_int_equal(c->loss, loss);
    assert_int_equal(c->duplicated, dup);
}

static void test_each_fault_at_its_hop(void **state)
{
    rep_pipe_t p;
    const rep_hop_t *pr = &p.hops[0], *ra = &p.hops[1], *ac = &p.hops[2];

    (void)state;
    fixture(&p);
    /* 02:00: every hop complete. */
    expect(rep_hop_cell(pr, 0, 0), 1000, 1000, 0, 0);
    expect(rep_hop_cell(pr, 0, 1), 500, 500, 0, 0);
    expect(rep_hop_cell(ra, 0, 0), 1500, 1500, 0, 0);
    expect(rep_hop_cell(ac, 0, 0), 1500, 1500, 0, 0);
    assert_true(rep_hop_cell(ra, 0, 0)->completeness == 1.0);
    /* 02:10: 37 lost at producer@dc2 -> regional, 200 at regional ->
     * aggregate, nothing after. */
    expect(rep_hop_cell(pr, 1, 0), 1000, 1000, 0, 0);
    expect(rep_hop_cell(pr, 1, 1), 500, 463, 37, 0);
    assert_true(fabs(rep_hop_cell(pr, 1, 1)->completeness - 0.926) < 1e-12);
    expect(rep_hop_cell(ra, 1, 0), 1463, 1263, 200, 0);
    expect(rep_hop_cell(ac, 1, 0), 1263, 1263, 0, 0);
    /* 02:20: 200 duplicated into the aggregate, 100 lost by the consumer. */
    expect(rep_hop_cell(ra, 2, 0), 1500, 1700, 0, 200);
    assert_true(rep_hop_cell(ra, 2, 0)->completeness == 1.0);
    assert_false(rep_hop_cell(ra, 2, 0)->unexpected);
    expect(rep_hop_cell(ac, 2, 0), 1700, 1600, 100, 0);
    /* 02:30: the consumer alone: unexpected, all of it duplicated. */
    expect(rep_hop_cell(ac, 3, 0), 0, 5, 0, 5);
    assert_true(rep_hop_cell(ac, 3, 0)->unexpected);
    assert_true(isnan(rep_hop_cell(ac, 3, 0)->completeness));
    expect(rep_hop_cell(pr, 3, 0), 0, 0, 0, 0);
    assert_true(rep_hop_cell(pr, 3, 0)->completeness == 1.0);
    rep_pipe_free(&p);
}

static void test_totals_do_not_net_out(void **state)
{
    rep_pipe_t p;
    const rep_hop_cell_t *t;

    (void)state;
    fixture(&p);
    expect(&p.hops[0].total[0], 3000, 3000, 0, 0);
    expect(&p.hops[0].total[1], 1500, 1463, 37, 0);
    /* 200 lost in 02:10 and 200 duplicated in 02:20: both shown. */
    t = &p.hops[1].total[0];
    expect(t, 4463, 4463, 200, 200);
    assert_true(fabs(t->completeness - 4263.0 / 4463.0) < 1e-12);
    expect(&p.hops[2].total[0], 4463, 4368, 100, 5);
    rep_pipe_free(&p);
}

static void test_latency_added(void **state)
{
    rep_pipe_t p;
    const rep_hop_cell_t *c;

    (void)state;
    fixture(&p);
    /* Every message at 10, 100, 1000, 2000 ms per tier: the sketch is
     * within 1% of each, so the difference within 1% of the sum. */
    c = rep_hop_cell(&p.hops[0], 0, 0);
    assert_true(fabs(c->p50_added - 90) <= 0.01 * 110);
    assert_true(fabs(c->p99_added - 90) <= 0.01 * 110);
    c = rep_hop_cell(&p.hops[1], 1, 0);
    assert_true(fabs(c->p50_added - 900) <= 0.01 * 1100);
    c = rep_hop_cell(&p.hops[2], 2, 0);
    assert_true(fabs(c->p99_added - 1000) <= 0.01 * 3000);
    assert_true(fabs(p.hops[2].total[0].p50_added - 1000) <= 0.01 * 3000);
    /* No upstream messages: unknown. */
    assert_true(isnan(rep_hop_cell(&p.hops[2], 3, 0)->p50_added));
    rep_pipe_free(&p);
}

static void test_missing_datacenter_sums(void **state)
{
    rep_pipe_spec_t spec;
    rep_pipe_t p;
    char err[256];

    (void)state;
    /* regional@dc2 never reported (its worker is down): the hop cannot be
     * compared per datacenter, and the sum shows dc2's messages lost. */
    spec_of("producer,kafka-regional", &spec);
    rep_pipe_init(&p, "orders", T0, T0 + 600, &spec);
    add(&p, T0, "producer", "dc1", 10, 0);
    add(&p, T0, "producer", "dc2", 4, 0);
    add(&p, T0, "kafka-regional", "dc1", 10, 0);
    assert_int_equal(rep_pipe_finish(&p, err, sizeof(err)), CHP_OK);
    assert_false(p.hops[0].per_dc);
    assert_string_equal(rep_hop_dc(&p.hops[0], 0), "dc1+dc2");
    expect(rep_hop_cell(&p.hops[0], 0, 0), 14, 10, 4, 0);
    assert_true(isnan(rep_hop_cell(&p.hops[0], 0, 0)->p50_added));
    rep_pipe_free(&p);
}

static void test_no_rows(void **state)
{
    rep_pipe_spec_t spec;
    rep_pipe_t p;
    char err[256], *s;

    (void)state;
    spec_of("a,b", &spec);
    rep_pipe_init(&p, "orders", T0, T0 + 600, &spec);
    add(&p, T0, "c", "dc1", 3, 0);
    assert_int_equal(rep_pipe_finish(&p, err, sizeof(err)), CHP_OK);
    assert_int_equal(p.n_buckets, 0);
    assert_string_equal(rep_hop_dc(&p.hops[0], 0), "-");
    s = rep_pipe_format_table(&p);
    assert_string_equal(s, "topic orders, 2016-11-05T02:00:00Z to "
                           "2016-11-05T02:10:00Z, 0 bucket(s), pipeline "
                           "a -> b\ntiers not in the pipeline (ignored): "
                           "c\nno rows\n");
    free(s);
    rep_pipe_free(&p);
}

/* ------------------------------------------------------------ check */

static void test_fault_threshold(void **state)
{
    rep_hop_cell_t c = {.up = 10000, .down = 9999, .loss = 1};

    (void)state;
    assert_int_equal(rep_hop_fault(&c, 0.0001), REP_PIPE_OK);
    assert_int_equal(rep_hop_fault(&c, 0), REP_PIPE_LOSS);
    c = (rep_hop_cell_t){.up = 10000, .down = 10002, .duplicated = 2};
    assert_int_equal(rep_hop_fault(&c, 0.0001), REP_PIPE_DUPLICATION);
    assert_int_equal(rep_hop_fault(&c, 0.0002), REP_PIPE_OK);
    c = (rep_hop_cell_t){.down = 1, .duplicated = 1, .unexpected = true};
    assert_int_equal(rep_hop_fault(&c, 1.0), REP_PIPE_UNEXPECTED);
    assert_string_equal(rep_pipe_fault_name(REP_PIPE_DUPLICATION),
                        "DUPLICATION");
}

typedef struct seen {
    char lines[16][160];
    size_t n;
} seen_t;

static void on_violation(const rep_pipe_t *p, size_t b, const rep_hop_t *h,
                         size_t d, rep_pipe_fault_t f, void *opaque)
{
    seen_t *s = opaque;
    char hop[128];

    rep_hop_name(p, h, hop, sizeof(hop));
    snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %zu %s %s", hop, b,
             rep_hop_dc(h, d), rep_pipe_fault_name(f));
}

static void test_check(void **state)
{
    rep_pipe_t p;
    rep_pipe_stats_t st = {0};
    seen_t s = {.n = 0};

    (void)state;
    fixture(&p);
    assert_int_equal(
        rep_pipe_check(&p, 0.0001, 1800, NOW, on_violation, &s, &st), 5);
    assert_int_equal(s.n, 5);
    assert_string_equal(s.lines[0], "producer->kafka-regional 1 dc2 LOSS");
    assert_string_equal(s.lines[1],
                        "kafka-regional->kafka-aggregate 1 dc1+dc2 LOSS");
    assert_string_equal(
        s.lines[2], "kafka-regional->kafka-aggregate 2 dc1+dc2 DUPLICATION");
    assert_string_equal(s.lines[3], "kafka-aggregate->consumer-etl 2 agg LOSS");
    assert_string_equal(s.lines[4],
                        "kafka-aggregate->consumer-etl 3 agg UNEXPECTED");
    assert_int_equal(st.final_buckets, 4);
    assert_int_equal(st.bad_buckets, 3);
    assert_int_equal(st.lost_cells, 3);
    assert_int_equal(st.lost, 337);
    assert_int_equal(st.duplicated_cells, 2);
    assert_int_equal(st.duplicated, 205);
    /* Open buckets are not judged: the last one ends at T0 + 2400. */
    memset(&st, 0, sizeof(st));
    assert_int_equal(
        rep_pipe_check(&p, 0.0001, 1800, T0 + 2400 + 1800, NULL, NULL, &st), 4);
    assert_int_equal(st.final_buckets, 3);
    rep_pipe_free(&p);
}

/* ------------------------------------------------------------ formats */

static void small(rep_pipe_t *p)
{
    rep_pipe_spec_t spec;
    char err[256];

    spec_of("producer,kafka-regional,kafka-aggregate", &spec);
    rep_pipe_init(p, "orders", T0, T0 + 1200, &spec);
    add(p, T0, "producer", "dc1", 100, 0);
    add(p, T0, "kafka-regional", "dc1", 98, 0);
    add(p, T0, "kafka-aggregate", "agg", 99, 0);
    assert_int_equal(rep_pipe_finish(p, err, sizeof(err)), CHP_OK);
}

static void test_csv(void **state)
{
    rep_pipe_t p;
    char *s;

    (void)state;
    small(&p);
    s = rep_pipe_format_csv(&p);
    assert_string_equal(
        s, "bucket,begin,end,upstream_tier,downstream_tier,datacenter,"
           "per_datacenter,upstream,downstream,loss,duplicated,completeness,"
           "unexpected,p50_added_ms,p99_added_ms\n"
           "2016-11-05T02:00:00Z,1478311200,1478311800,producer,kafka-regional,"
           "dc1,1,100,98,2,0,0.980000,0,,0.000\n"
           "2016-11-05T02:00:00Z,1478311200,1478311800,kafka-regional,"
           "kafka-aggregate,dc1,0,98,99,0,1,1.000000,0,,0.000\n"
           "total,1478311200,1478312400,producer,kafka-regional,dc1,1,100,98,2,"
           "0,0.980000,0,,0.000\n"
           "total,1478311200,1478312400,kafka-regional,kafka-aggregate,dc1,0,"
           "98,99,0,1,1.000000,0,,0.000\n");
    free(s);
    rep_pipe_free(&p);
}

static void test_table(void **state)
{
    rep_pipe_t p;
    char *s;

    (void)state;
    small(&p);
    s = rep_pipe_format_table(&p);
    assert_string_equal(
        s,
        "topic orders, 2016-11-05T02:00:00Z to 2016-11-05T02:20:00Z, 1 "
        "bucket(s), pipeline producer -> kafka-regional -> kafka-aggregate\n"
        "bucket                hop                              datacenter  "
        "upstream  downstream  loss  duplicated  completeness  p50_added_ms  "
        "p99_added_ms\n"
        "2016-11-05T02:00:00Z  producer->kafka-regional         dc1         "
        "     100          98     2           0      0.980000             -  "
        "         0.0\n"
        "2016-11-05T02:00:00Z  kafka-regional->kafka-aggregate  dc1         "
        "      98          99     0           1      1.000000             -  "
        "         0.0\n"
        "total                 producer->kafka-regional         dc1         "
        "     100          98     2           0      0.980000             -  "
        "         0.0\n"
        "total                 kafka-regional->kafka-aggregate  dc1         "
        "      98          99     0           1      1.000000             -  "
        "         0.0\n");
    free(s);
    rep_pipe_free(&p);
}

static void test_json(void **state)
{
    rep_pipe_t p;
    char *s;

    (void)state;
    small(&p);
    s = rep_pipe_format_json(&p, false);
    assert_string_equal(
        s,
        "{\"topic\":\"orders\",\"from\":1478311200,\"to\":1478312400,"
        "\"fromTime\":\"2016-11-05T02:00:00Z\",\"toTime\":"
        "\"2016-11-05T02:20:00Z\",\"pipeline\":[{\"tier\":\"producer\","
        "\"total\":100,\"datacenters\":[\"dc1\"]},{\"tier\":"
        "\"kafka-regional\",\"total\":98,\"datacenters\":[\"dc1\"]},"
        "{\"tier\":\"kafka-aggregate\",\"total\":99,\"datacenters\":"
        "[\"agg\"]}],\"otherTiers\":[],\"hops\":[{\"from\":\"producer\","
        "\"to\":\"kafka-regional\",\"perDatacenter\":true,\"cells\":"
        "[{\"datacenter\":\"dc1\",\"upstream\":100,\"downstream\":98,"
        "\"loss\":2,\"duplicated\":0,\"completeness\":0.98,\"unexpected\":"
        "false,\"p50AddedMs\":null,\"p99AddedMs\":0.0}]},{\"from\":"
        "\"kafka-regional\",\"to\":\"kafka-aggregate\",\"perDatacenter\":"
        "false,\"cells\":[{\"datacenter\":\"dc1\",\"upstream\":98,"
        "\"downstream\":99,\"loss\":0,\"duplicated\":1,\"completeness\":1.0,"
        "\"unexpected\":false,\"p50AddedMs\":null,\"p99AddedMs\":0.0}]}],"
        "\"buckets\":[{\"begin\":1478311200,\"end\":1478311800,\"time\":"
        "\"2016-11-05T02:00:00Z\",\"counts\":{\"producer\":100,"
        "\"kafka-regional\":98,\"kafka-aggregate\":99},\"hops\":[{\"from\":"
        "\"producer\",\"to\":\"kafka-regional\",\"perDatacenter\":true,"
        "\"cells\":[{\"datacenter\":\"dc1\",\"upstream\":100,\"downstream\":"
        "98,\"loss\":2,\"duplicated\":0,\"completeness\":0.98,\"unexpected\":"
        "false,\"p50AddedMs\":null,\"p99AddedMs\":0.0}]},{\"from\":"
        "\"kafka-regional\",\"to\":\"kafka-aggregate\",\"perDatacenter\":"
        "false,\"cells\":[{\"datacenter\":\"dc1\",\"upstream\":98,"
        "\"downstream\":99,\"loss\":0,\"duplicated\":1,\"completeness\":1.0,"
        "\"unexpected\":false,\"p50AddedMs\":null,\"p99AddedMs\":0.0}]}]}]}"
        "\n");
    free(s);
    rep_pipe_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_parse),
        cmocka_unit_test(test_spec_arg_names_the_key),
        cmocka_unit_test(test_layout),
        cmocka_unit_test(test_each_fault_at_its_hop),
        cmocka_unit_test(test_totals_do_not_net_out),
        cmocka_unit_test(test_latency_added),
        cmocka_unit_test(test_missing_datacenter_sums),
        cmocka_unit_test(test_no_rows),
        cmocka_unit_test(test_fault_threshold),
        cmocka_unit_test(test_check),
        cmocka_unit_test(test_csv),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_json),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
