/* The tracker reads the kernel's coarse clock (one tick, 1-4 ms, behind the
 * precise one).  An event the application stamps with the precise clock
 * and hands over within the same tick is on time: latency 0, never a
 * negative latency.  A timestamp genuinely in the future still counts as
 * negative. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "chaperone.h"

typedef struct sums {
    uint64_t count, negative;
} sums_t;

static chp_err_t collect(const chp_auditmsg_t *msgs, size_t n, void *opaque)
{
    sums_t *s = opaque;

    for (size_t i = 0; i < n; i++) {
        s->count += msgs[i].count;
        s->negative += msgs[i].negative_latency_count;
    }
    return CHP_OK;
}

static void test_same_tick_is_not_negative(void **state)
{
    char err[256];
    chp_conf_t *conf = chp_conf_new();
    chp_tracker_t *t;
    sums_t s = {0};
    (void)state;

    assert_int_equal(
        chp_tracker_new(conf, "producer", 0, collect, &s, &t, err, sizeof(err)),
        CHP_OK);
    for (int i = 0; i < 5000; i++)
        chp_tracker_track(t, "orders", CHP_TS_FOUND, chp_now_ms(), 10);
    chp_tracker_track(t, "orders", CHP_TS_FOUND, chp_now_ms() + 60000, 10);
    assert_int_equal(chp_tracker_flush(t), CHP_OK);
    assert_int_equal(s.count, 5001);
    assert_int_equal(s.negative, 1); /* only the one a minute ahead */
    chp_tracker_destroy(t);
    chp_conf_destroy(conf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_tick_is_not_negative),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
