/* Unit tests: completeness as Prometheus metrics (src/report/
 * promcomplete.c), exact exposition text for a small grid. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "report/promcomplete.h"

#define T0 1478311200
#define W  600

static void add(rep_grid_t *g, const char *topic, int64_t begin,
                const char *tier, uint64_t count)
{
    store_row_t r;

    memset(&r, 0, sizeof(r));
    r.time_begin = begin;
    r.time_end = begin + W;
    snprintf(r.topic, sizeof(r.topic), "%s", topic);
    snprintf(r.tier, sizeof(r.tier), "%s", tier);
    snprintf(r.datacenter, sizeof(r.datacenter), "dc1");
    snprintf(r.host, sizeof(r.host), "combined");
    r.count = count;
    rep_grid_add(g, &r);
}

static void test_samples(void **state)
{
    rep_grid_t g;
    chp_buf_t b = {0};
    char err[128], *s;
    (void)state;

    rep_grid_init(&g, "orders", T0, T0 + 4 * W);
    /* bucket 0 complete, 1 loses 3 at the consumer, 2 complete, 3 open */
    for (int k = 0; k < 4; k++) {
        add(&g, "orders", T0 + k * W, "producer", 100);
        add(&g, "orders", T0 + k * W, "kafka-regional", 100);
        add(&g, "orders", T0 + k * W, "consumer-etl", k == 1 ? 97 : 100);
    }
    assert_int_equal(rep_grid_finish(&g, "producer", err, sizeof(err)), CHP_OK);
    rep_prom_topic(&b, &g, 0.0, 60, T0 + 3 * W + 61);
    assert_non_null(s = chp_buf_take(&b));
    assert_string_equal(
        s,
        "chaperone_completeness_ratio{topic=\"orders\",tier=\"consumer-etl\","
        "reference=\"producer\"} 0.97\n"
        "chaperone_lossy_buckets{topic=\"orders\",tier=\"consumer-etl\"} 1\n"
        "chaperone_completeness_ratio{topic=\"orders\",tier=\"kafka-"
        "regional\",reference=\"producer\"} 1\n"
        "chaperone_lossy_buckets{topic=\"orders\",tier=\"kafka-regional\"} "
        "0\n"
        "chaperone_complete_until_seconds{topic=\"orders\"} 1478311800\n");
    free(s);
    rep_grid_free(&g);
}

static void test_escaping_and_nothing_closed(void **state)
{
    rep_grid_t g;
    chp_buf_t b = {0};
    char err[128], *s;
    (void)state;

    rep_grid_init(&g, "a\"b\\c", T0, T0 + W);
    add(&g, "a\"b\\c", T0, "producer", 5);
    add(&g, "a\"b\\c", T0, "kafka-x", 5);
    assert_int_equal(rep_grid_finish(&g, "producer", err, sizeof(err)), CHP_OK);
    rep_prom_topic(&b, &g, 0.0, 60, T0 + W + 61);
    assert_non_null(s = chp_buf_take(&b));
    assert_non_null(strstr(s, "{topic=\"a\\\"b\\\\c\",tier=\"kafka-x\""));
    free(s);
    /* Nothing closed yet: no sample at all rather than a guess. */
    rep_prom_topic(&b, &g, 0.0, 60, T0 + W);
    s = chp_buf_take(&b);
    assert_non_null(s);
    assert_string_equal(s, "");
    free(s);
    rep_grid_free(&g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_escaping_and_nothing_closed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
