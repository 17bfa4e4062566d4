/* Unit tests: the growing string (src/buf.c) behind the report's outputs,
 * /metrics and HTTP request bodies. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

static void test_append(void **state)
{
    chp_buf_t b = {0};
    char *s;
    (void)state;

    chp_buf_puts(&b, "a");
    chp_buf_putn(&b, "bcd", 2);
    chp_buf_printf(&b, "|%d|%s|", 42, "x");
    chp_buf_pad(&b, '-', 3);
    assert_int_equal(b.len, 12);
    assert_false(b.failed);
    s = chp_buf_take(&b);
    assert_string_equal(s, "abc|42|x|---");
    free(s);
    /* take leaves it empty and reusable. */
    assert_null(b.s);
    assert_int_equal(b.len, 0);
    s = chp_buf_take(&b);
    assert_string_equal(s, "");
    free(s);
}

/* Growth across many doublings keeps every byte. */
static void test_grow(void **state)
{
    chp_buf_t b = {0};
    char *s;
    (void)state;

    for (int i = 0; i < 10000; i++)
        chp_buf_printf(&b, "%04d,", i % 10000);
    assert_int_equal(b.len, 50000);
    assert_int_equal(strlen(b.s), 50000);
    assert_memory_equal(b.s + 5 * 9999, "9999,", 5);
    assert_memory_equal(b.s + 5 * 1234, "1234,", 5);
    s = chp_buf_take(&b);
    free(s);
    chp_buf_pad(&b, 'z', 70000);
    assert_int_equal(strspn(b.s, "z"), 70000);
    chp_buf_free(&b);
    assert_null(b.s);
}

static void test_escapes(void **state)
{
    chp_buf_t b = {0};
    char *s;
    (void)state;

    chp_buf_html(&b, "<a href=\"x\">Tom & Jerry's</a>");
    s = chp_buf_take(&b);
    assert_string_equal(
        s, "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
    free(s);
    chp_buf_csv(&b, "plain");
    chp_buf_puts(&b, ";");
    chp_buf_csv(&b, "a,b");
    chp_buf_puts(&b, ";");
    chp_buf_csv(&b, "say \"hi\"");
    chp_buf_puts(&b, ";");
    chp_buf_csv(&b, "two\nlines");
    s = chp_buf_take(&b);
    assert_string_equal(s, "plain;\"a,b\";\"say \"\"hi\"\"\";\"two\nlines\"");
    free(s);
    /* Bytes above 127 are text, not entities. */
    chp_buf_html(&b, "\xc3\xa9");
    s = chp_buf_take(&b);
    assert_string_equal(s, "\xc3\xa9");
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_append),
        cmocka_unit_test(test_grow),
        cmocka_unit_test(test_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
