/* Unit test: the report shows latencies as stored.  The original Java
 * client sends p95/p99/max without a sketch, negative when its clock is
 * ahead; a cell summed from such rows must keep them (it used to start
 * from 0 and show 0). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "report/report.h"

#define T0 1478311200

static store_row_t row(const char *dc, double p95, double p99, double max)
{
    store_row_t r;

    memset(&r, 0, sizeof(r));
    r.time_begin = T0;
    r.time_end = T0 + 600;
    snprintf(r.topic, sizeof(r.topic), "trips");
    snprintf(r.tier, sizeof(r.tier), "producer");
    snprintf(r.datacenter, sizeof(r.datacenter), "%s", dc);
    snprintf(r.host, sizeof(r.host), "combined");
    r.count = 10;
    r.negative_latency_count = 10;
    r.latency95 = p95;
    r.latency99 = p99;
    r.max_latency = max;
    return r;
}

static void test_negative_latencies_kept(void **state)
{
    rep_grid_t g;
    char err[128];
    store_row_t a = row("dc1", -40.0, -25.0, -3.0);
    store_row_t b = row("dc2", -55.0, -30.0, -7.0);
    const rep_cell_t *c;
    (void)state;

    rep_grid_init(&g, "trips", T0, T0 + 600);
    rep_grid_add(&g, &a);
    assert_int_equal(rep_grid_finish(&g, NULL, err, sizeof(err)), CHP_OK);
    c = rep_cell(&g, 0, 0);
    assert_true(c->st.p95 == -40.0);
    assert_true(c->st.p99 == -25.0);
    assert_true(c->st.max == -3.0);
    rep_grid_free(&g);

    /* Two datacenters of one tier: the max of each, as the original. */
    rep_grid_init(&g, "trips", T0, T0 + 600);
    rep_grid_add(&g, &a);
    rep_grid_add(&g, &b);
    assert_int_equal(rep_grid_finish(&g, NULL, err, sizeof(err)), CHP_OK);
    c = rep_cell(&g, 0, 0);
    assert_int_equal(c->row.count, 20);
    assert_true(c->st.p95 == -40.0);
    assert_true(c->st.p99 == -25.0);
    assert_true(c->st.max == -3.0);
    rep_grid_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_negative_latencies_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
