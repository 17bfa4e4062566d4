/* Unit tests: the registry record format (src/registry_format.c), which the
 * controller writes and the workers read, and the in-memory registry the
 * records build (worker/registry.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "registry_format.h"
#include "worker/registry.h"

static chp_err_t decode(const char *key, const char *value, reg_state_t *st)
{
    char err[256];

    return registry_format_decode(key, key ? strlen(key) : 0, value,
                                  value ? strlen(value) : 0, st, err,
                                  sizeof(err));
}

/* What the writer encodes, the reader decodes to the same state. */
static void test_round_trip(void **state)
{
    reg_state_t st;
    (void)state;

    assert_string_equal(registry_format_encode(REG_AUDITED),
                        "{\"state\":\"audited\"}");
    assert_string_equal(registry_format_encode(REG_BLACKLISTED),
                        "{\"state\":\"blacklisted\"}");
    assert_null(registry_format_encode(REG_ABSENT));
    assert_int_equal(decode("t", registry_format_encode(REG_AUDITED), &st),
                     CHP_OK);
    assert_int_equal(st, REG_AUDITED);
    assert_int_equal(decode("t", registry_format_encode(REG_BLACKLISTED), &st),
                     CHP_OK);
    assert_int_equal(st, REG_BLACKLISTED);
    /* Tombstone. */
    assert_int_equal(decode("t", NULL, &st), CHP_OK);
    assert_int_equal(st, REG_ABSENT);
    /* Fields a later writer may add are ignored. */
    assert_int_equal(decode("t", "{\"by\":\"ops\",\"state\":\"audited\"}", &st),
                     CHP_OK);
    assert_int_equal(st, REG_AUDITED);
    assert_string_equal(registry_state_name(REG_AUDITED), "audited");
    assert_string_equal(registry_state_name(REG_BLACKLISTED), "blacklisted");
    assert_string_equal(registry_state_name(REG_ABSENT), "unknown");
}

static void test_bad_records(void **state)
{
    char key[CHP_NAME_MAX + 1], err[256];
    reg_state_t st = REG_AUDITED;
    (void)state;

    static const char *const bad[] = {"",
                                      "{}",
                                      "{\"state\":\"Audited\"}",
                                      "{\"state\":1}",
                                      "[\"audited\"]",
                                      "{",
                                      "{\"state\":\"audited\"",
                                      "null",
                                      "\"audited\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(registry_format_decode("orders", 6, bad[i],
                                                strlen(bad[i]), &st, err,
                                                sizeof(err)),
                         CHP_ERR_PARSE);
        assert_int_equal(st, REG_ABSENT);
        assert_non_null(strstr(err, "registry value of orders"));
    }
    assert_int_equal(decode(NULL, "{\"state\":\"audited\"}", &st),
                     CHP_ERR_INVALID_ARG);
    assert_int_equal(decode("", "{\"state\":\"audited\"}", &st),
                     CHP_ERR_INVALID_ARG);
    memset(key, 'k', CHP_NAME_MAX - 1);
    key[CHP_NAME_MAX - 1] = '\0'; /* the longest name that fits */
    assert_int_equal(decode(key, "{\"state\":\"audited\"}", &st), CHP_OK);
    key[CHP_NAME_MAX - 1] = 'k';
    key[CHP_NAME_MAX] = '\0';
    assert_int_equal(decode(key, "{\"state\":\"audited\"}", &st),
                     CHP_ERR_INVALID_ARG);
    /* errstr is optional. */
    assert_int_equal(registry_format_decode("t", 1, "x", 1, &st, NULL, 0),
                     CHP_ERR_PARSE);
}

/* The registry a sequence of records builds: later records win, a
 * tombstone forgets, an unreadable record changes nothing. */
static void test_registry_apply(void **state)
{
    registry_t *r = registry_new();
    const char *a = registry_format_encode(REG_AUDITED),
               *b = registry_format_encode(REG_BLACKLISTED);
    (void)state;

    assert_int_equal(registry_apply(r, "orders", 6, a, strlen(a)), CHP_OK);
    assert_int_equal(registry_apply(r, "clicks", 6, b, strlen(b)), CHP_OK);
    assert_int_equal(registry_state(r, "orders"), REG_AUDITED);
    assert_int_equal(registry_state(r, "clicks"), REG_BLACKLISTED);
    assert_true(registry_has(r, "orders"));
    assert_false(registry_has(r, "clicks"));
    assert_int_equal(registry_apply(r, "orders", 6, "{}", 2), CHP_ERR_PARSE);
    assert_int_equal(registry_state(r, "orders"), REG_AUDITED);
    assert_int_equal(registry_apply(r, "orders", 6, b, strlen(b)), CHP_OK);
    assert_int_equal(registry_state(r, "orders"), REG_BLACKLISTED);
    assert_int_equal(registry_apply(r, "orders", 6, NULL, 0), CHP_OK);
    assert_int_equal(registry_state(r, "orders"), REG_ABSENT);
    /* A key is compared whole, not as a prefix. */
    assert_int_equal(registry_state(r, "click"), REG_ABSENT);
    registry_destroy(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_registry_apply),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
