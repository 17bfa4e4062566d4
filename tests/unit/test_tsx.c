/* Unit tests: timestamp extraction (design.md §4, docs/timestamps.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tsx.h"

/* The portable copy of the scanner (tests/support/tsx_portable.c): its
 * answers must be identical to the library's AVX-512, AVX2 and SSE2 ones. */
#include "tsx_portable.h"

static chp_ts_result_t (*scan_impl)(const char *, size_t, const char *const *,
                                    size_t, int64_t *) = chp_tsx_scan_json;

/* Sets the library's test switches (all off is its default path). */
static int use_variant(int no_avx2, int no_avx512)
{
    scan_impl = chp_tsx_scan_json;
    chp_tsx_no_avx2 = no_avx2;
    chp_tsx_no_avx512 = no_avx512;
    return 0;
}

static int use_library(void **state)
{
    (void)state;
    return use_variant(0, 0);
}

static int use_library_avx2(void **state)
{
    (void)state;
    return use_variant(0, 1);
}

static int use_library_sse2(void **state)
{
    (void)state;
    return use_variant(1, 0);
}

static int use_portable(void **state)
{
    (void)state;
    scan_impl = portable_scan_json;
    return 0;
}

static const char *const default_names[] = {"ts", "timestamp"};

#define S  1478311200LL /* a plausible event time, seconds */
#define MS (S * 1000)

/* Every scan works on an exact-size heap copy so that ASan would catch a
 * read past len. */
static chp_ts_result_t scan_n(const char *doc, size_t len,
                              const char *const *names, size_t n_names,
                              int64_t *ms)
{
    char *copy = malloc(len ? len : 1);
    chp_ts_result_t r;

    assert_non_null(copy);
    memcpy(copy, doc, len);
    r = scan_impl(copy, len, names, n_names, ms);
    free(copy);
    return r;
}

static chp_ts_result_t scan(const char *doc, size_t len, int64_t *ms)
{
    return scan_n(doc, len, default_names, 2, ms);
}

typedef struct {
    const char *doc;
    size_t len; /* 0: strlen(doc) (for documents holding NUL bytes) */
    chp_ts_result_t want;
    int64_t ms; /* checked when want == CHP_TS_FOUND */
} scan_case_t;

#define F(d, m)                                                                \
    {                                                                          \
        d, 0, CHP_TS_FOUND, m                                                  \
    }
#define M(d)                                                                   \
    {                                                                          \
        d, 0, CHP_TS_MISSING, 0                                                \
    }
#define X(d)                                                                   \
    {                                                                          \
        d, 0, CHP_TS_MALFORMED, 0                                              \
    }
/* Explicit length, for documents holding NUL bytes. */
#define B(d, w, m)                                                             \
    {                                                                          \
        d, sizeof(d) - 1, w, m                                                 \
    }

static const scan_case_t scan_cases[] = {
    /* Field names: top level only, ASCII case-insensitive, exact. */
    F("{\"ts\":1478311200}", MS),
    F("{\"timestamp\":1478311200123}", MS + 123),
    F("{\"TS\":1478311200}", MS),
    F("{\"tS\":1478311200}", MS),
    F("{\"TimeStamp\":1478311200}", MS),
    F("{\"TIMESTAMP\":\"1478311200\"}", MS),
    M("{\"tsx\":1,\"my_ts\":2,\"ts_\":3,\"t\":4,\"ts \":5,\"times\":6}"),
    M("{\"t\\u0073\":1478311200}"),
    M("{\"\\u0074s\":1478311200}"),
    M("{\"a\":{\"ts\":1478311200}}"),
    M("{\"a\":[{\"ts\":1478311200}],\"b\":{\"c\":{\"timestamp\":1}}}"),
    F("{\"a\":{\"ts\":5},\"ts\":1478311200}", MS),
    F("{\"a\":[1,2,{\"b\":[3]}],\"c\":{\"d\":{\"e\":{}}},\"ts\":"
      "\"1478311200\"}",
      MS),
    F("{\"a\":[[[[]]]],\"ts\":5}", 5000),
    /* Number forms. */
    F("{\"ts\":1478311200.5}", MS + 500),
    F("{\"ts\":1478311200.123}", MS + 123),
    F("{\"ts\":1.4783112E9}", MS),
    F("{\"ts\":1.4783112e+9}", MS),
    F("{\"ts\":14783112000e-1}", MS),
    F("{\"ts\":0.0001478311200e13}", MS),
    F("{\"ts\":1478311200123456789012e-12}", MS + 123),
    F("{\"ts\":1.478311200123E12}", MS + 123),
    F("{\"ts\":-1}", -1000),
    F("{\"ts\":-0.5}", -500),
    F("{\"ts\":0}", 0),
    F("{\"ts\":-0}", 0),
    F("{\"ts\":999999999999}", 999999999999000LL),
    F("{\"ts\":1000000000000}", 1000000000000LL),
    F("{\"ts\":1478311200123.9}", MS + 123),
    /* Out of range or not finite: not usable, scanning goes on. */
    M("{\"ts\":1e400}"),
    M("{\"ts\":123456789012345678901234567890}"),
    F("{\"ts\":1e400,\"timestamp\":1478311200}", MS),
    F("{\"ts\":1e-400}", 0),
    /* Numeric strings (JSON number grammar, whitespace around allowed). */
    F("{\"ts\":\"1478311200\"}", MS),
    F("{\"ts\":\" 1478311200  \"}", MS),
    M("{\"ts\":\"1478311200\\t\"}"),
    F("{\"ts\":\"1.4783112E9\"}", MS),
    F("{\"ts\":\"1478311200123\"}", MS + 123),
    M("{\"ts\":\"abc\"}"),
    M("{\"ts\":\"\"}"),
    M("{\"ts\":\"  \"}"),
    M("{\"ts\":\"1478311200x\"}"),
    M("{\"ts\":\"+1478311200\"}"),
    M("{\"ts\":\"0x58\"}"),
    M("{\"ts\":\"1 2\"}"),
    M("{\"ts\":\"14783\\u0031200\"}"),
    /* Non-numeric values do not count; a later match still can. */
    M("{\"ts\":null}"),
    M("{\"ts\":true}"),
    M("{\"ts\":false}"),
    M("{\"ts\":{\"ts\":5}}"),
    M("{\"ts\":[1478311200]}"),
    F("{\"ts\":null,\"timestamp\":1478311200}", MS),
    F("{\"ts\":\"abc\",\"ts\":1478311200}", MS),
    F("{\"ts\":1478311200,\"ts\":5}", MS),
    F("{\"timestamp\":{},\"TS\":\"1478311200\"}", MS),
    /* Tricky strings. */
    F("{\"note\":\"ts\",\"ts\":1478311200}", MS),
    F("{\"note\":\"\\\"ts\\\":5, {\\\"ts\\\":6}\",\"ts\":1478311200}", MS),
    M("{\"a\":\"x\\\"ts\\\":1\",\"b\":2}"),
    F("{\"msg\":\"braces } ] { [ inside\",\"ts\":1478311200}", MS),
    F("{\"a\":{\"s\":\"} ] \\\" \\\\\"},\"ts\":1478311200}", MS),
    F("{\"a\":\"back\\\\\\\\\",\"ts\":1478311200}", MS),
    F("{\"a\":\"\\\\\",\"ts\":1}", 1000),
    F("{\"\xc3\xbcn\xc3\xaf\":\"\xc3\xa7\xe2\x82\xac\",\"ts\":1478311200}", MS),
    F("{\"\":\"\",\"ts\":1478311200}", MS),
    /* Whitespace. */
    F(" \n\t{ \"ts\" : 1478311200 } \n", MS),
    F("{\"ts\"\t:\r\n1478311200\n}", MS),
    F("{\"ts\":1478311200 ,\"x\":1}", MS),
    F("{ \"a\" : \"b\" , \"ts\" : 1478311200 }", MS),
    M("{}"),
    M("{ }"),
    M(" {\"a\":1} \r\n"),
    /* Inside skipped values only strings and brackets are checked. */
    M("{\"a\":[1,2)]}"),
    M("{\"a\":{\"b\" 1 2 ::}}"),
    /* Not an object. */
    X(""),
    X("   "),
    X("hello"),
    X("[{\"ts\":1478311200}]"),
    X("\"ts\""),
    X("1478311200"),
    X("\xef\xbb\xbf{\"ts\":1}"),
    /* Broken structure, found by the full scan. */
    X("{\"ts\":1478311200"),
    X("{\"a\":1,"),
    X("{\"a\":\"unterminated}"),
    X("{\"a\":{\"b\":1}"),
    X("{\"a\":{\"b\":[1,2}}"),
    X("{\"a\":[1,2)}"),
    X("{\"a\" 1}"),
    X("{\"a\":1 \"b\":2}"),
    X("{\"a\":1,}"),
    X("{,\"a\":1}"),
    X("{\"a\":}"),
    X("{a:1}"),
    X("{\"a\":1}{\"b\":2}"),
    X("{\"a\":1} x"),
    X("{\"a\":{\"b\":\"c\\\"}}"),
    X("{\"a\":[\\\"x\"]}"),
    X("{\"a\":tru}"),
    X("{\"a\":nul,\"ts\":1}"),
    X("{\"a\":True}"),
    X("{\"ts\":01}"),
    X("{\"ts\":1.}"),
    X("{\"ts\":-}"),
    X("{\"ts\":.5}"),
    X("{\"ts\":1e}"),
    X("{\"ts\":+1}"),
    X("{\"ts\":1478311200abc}"),
    X("{\"a\":\x01}"),
    /* After an early match only the last byte is checked (documented). */
    F("{\"ts\":1478311200,\"a\":[}", MS),
    X("{\"ts\":1478311200,\"a\":1"),
    X("{\"ts\":1478311200,\"a\":1}garbage"),
    X("{\"ts\":\"1478311200\",\"x\":"),
    /* NUL bytes: not special inside strings, fatal outside. */
    B("{\"a\":\"x\0y\",\"ts\":1478311200}", CHP_TS_FOUND, MS),
    B("{\"ts\":1478311200}\0", CHP_TS_MALFORMED, 0),
    B("{\"a\":1}\0", CHP_TS_MALFORMED, 0),
};

static void test_scan_table(void **state)
{
    (void)state;

    for (size_t i = 0; i < sizeof(scan_cases) / sizeof(scan_cases[0]); i++) {
        const scan_case_t *c = &scan_cases[i];
        size_t len = c->len ? c->len : strlen(c->doc);
        int64_t ms = -42;
        chp_ts_result_t r = scan(c->doc, len, &ms);

        if (r != c->want || (r == CHP_TS_FOUND && ms != c->ms))
            fail_msg("case %zu %s: got %d ms=%lld, want %d ms=%lld", i, c->doc,
                     r, (long long)ms, c->want, (long long)c->ms);
    }
}

static void test_scan_names(void **state)
{
    static const char *const custom[] = {"event_time", NULL, "Created"};
    static const char *const empty[] = {""};
    int64_t ms = 0;
    (void)state;

    assert_int_equal(scan_n("{\"EVENT_TIME\":5}", 16, custom, 3, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, 5000);
    assert_int_equal(scan_n("{\"created\":6}", 13, custom, 3, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, 6000);
    assert_int_equal(scan_n("{\"ts\":5}", 8, custom, 3, &ms), CHP_TS_MISSING);
    /* No names: nothing can match, the document is still classified. */
    assert_int_equal(scan_n("{\"ts\":5}", 8, NULL, 2, &ms), CHP_TS_MISSING);
    assert_int_equal(scan_n("{\"ts\":5}", 8, default_names, 0, &ms),
                     CHP_TS_MISSING);
    assert_int_equal(scan_n("{\"ts\":5", 7, NULL, 0, &ms), CHP_TS_MALFORMED);
    assert_int_equal(scan_n("{\"\":7}", 6, empty, 1, &ms), CHP_TS_FOUND);
    assert_int_equal(ms, 7000);
    /* NULL buffer and NULL result pointer are tolerated. */
    assert_int_equal(scan_impl(NULL, 0, default_names, 2, &ms),
                     CHP_TS_MALFORMED);
    assert_int_equal(scan_n("{\"ts\":5}", 8, default_names, 2, NULL),
                     CHP_TS_FOUND);
}

/* Every prefix of a document: FOUND only if the timestamp value is
 * complete and the prefix happens to end with '}', else MALFORMED (the
 * complete document of a no-timestamp case is MISSING). */
static void test_truncation(void **state)
{
    static const struct {
        const char *doc;
        const char *ts; /* key and value as written in doc; NULL: absent */
        int64_t ms;
    } docs[] = {
        {"{\"ts\":1478311200,\"a\":{\"b\":[1,2,\"x\"]},\"c\":\"d\"}",
         "\"ts\":1478311200", MS},
        {"{\"id\":\"abc\",\"payload\":{\"items\":[{\"k\":\"v\\\"}\"},{\"k\":2}]"
         ","
         "\"s\":\"]\"},\"timestamp\":\"1478311200.5\",\"tail\":[1,2]}",
         "\"timestamp\":\"1478311200.5\"", MS + 500},
        {"{\"a\":1,\"b\":{\"c\":\"\\\\\"},\"d\":[true,false,null],\"e\":-1."
         "5e3}",
         NULL, 0},
        {" { \"user\" : { \"name\" : \"J\\u00f6rg \\\"JJ\\\" [x]\", \"roles\" "
         ": "
         "[ \"a\", \"b\" , {\"c\":{}} ] , \"bio\" : \"line1\\nline2 {\\\\}\" } "
         ","
         " \"events\":[[1,2],[3,{\"ts\":4}]], \"TS\" : 1.4783112E9 , \"z\":"
         "\"end\" } ",
         "\"TS\" : 1.4783112E9", MS},
    };
    (void)state;

    for (size_t d = 0; d < sizeof(docs) / sizeof(docs[0]); d++) {
        const char *doc = docs[d].doc;
        size_t len = strlen(doc), ts_end = (size_t)-1, close = 0;

        if (docs[d].ts)
            ts_end =
                (size_t)(strstr(doc, docs[d].ts) - doc) + strlen(docs[d].ts);
        for (size_t i = 0; i < len; i++)
            if (doc[i] == '}')
                close = i + 1; /* the top-level close is the last '}' */
        for (size_t k = 0; k <= len; k++) {
            int64_t ms = -42;
            chp_ts_result_t r = scan(doc, k, &ms), want;
            size_t t = k;

            while (t > 0 && strchr(" \t\r\n", doc[t - 1]))
                t--;
            if (ts_end <= k && t > 0 && doc[t - 1] == '}')
                want = CHP_TS_FOUND;
            else if (!docs[d].ts && k >= close)
                want = CHP_TS_MISSING;
            else
                want = CHP_TS_MALFORMED;
            if (r != want || (r == CHP_TS_FOUND && ms != docs[d].ms))
                fail_msg("doc %zu prefix %zu/%zu: got %d ms=%lld, want %d", d,
                         k, len, r, (long long)ms, want);
        }
    }
}

/* Escapes, quotes and brackets at every offset around the 64-byte block
 * boundaries of the nested-value skipper. */
static void test_block_boundaries(void **state)
{
    char doc[512];
    (void)state;

    for (int off = 0; off < 200; off++) {
        int64_t ms = 0;
        int n;
        char pad[256];

        memset(pad, 'x', (size_t)off);
        pad[off] = '\0';
        /* Escaped quote followed by fake structure, then an escaped
         * backslash right before the real closing quote. */
        n = snprintf(doc, sizeof(doc),
                     "{\"a\":{\"s\":\"%s\\\"}]{[\\\\\",\"t\":[\"%s]\"]},"
                     "\"ts\":1478311200}",
                     pad, pad);
        assert_true(n > 0 && (size_t)n < sizeof(doc));
        assert_int_equal(scan(doc, (size_t)n, &ms), CHP_TS_FOUND);
        assert_int_equal(ms, MS);
        /* The same value whose only closing quote is escaped: the string
         * never ends. */
        n = snprintf(doc, sizeof(doc), "{\"a\":[\"%s\\\"]},\"ts\":1}", pad);
        assert_int_equal(scan(doc, (size_t)n, &ms), CHP_TS_MALFORMED);
        /* A bracket just past the nested value must not be taken for its
         * own close, whatever the alignment. */
        n = snprintf(doc, sizeof(doc), "{\"a\":[\"%s\"],\"b\":]}", pad);
        assert_int_equal(scan(doc, (size_t)n, &ms), CHP_TS_MALFORMED);
        n = snprintf(doc, sizeof(doc), "{\"a\":[\"%s\"]}", pad);
        assert_int_equal(scan(doc, (size_t)n, &ms), CHP_TS_MISSING);
    }
}

static void test_depth(void **state)
{
    size_t cap = 2 * (CHP_TSX_MAX_DEPTH + 1) + 64;
    char *doc = malloc(cap);
    int64_t ms = 0;
    (void)state;

    assert_non_null(doc);
    for (size_t depth = CHP_TSX_MAX_DEPTH; depth <= CHP_TSX_MAX_DEPTH + 1;
         depth++) {
        size_t n = 0;

        memcpy(doc + n, "{\"a\":", 5);
        n += 5;
        for (size_t i = 0; i < depth; i++)
            doc[n++] = '[';
        for (size_t i = 0; i < depth; i++)
            doc[n++] = ']';
        memcpy(doc + n, ",\"ts\":1}", 8);
        n += 8;
        assert_int_equal(scan(doc, n, &ms), depth <= CHP_TSX_MAX_DEPTH
                                                ? CHP_TS_FOUND
                                                : CHP_TS_MALFORMED);
    }
    free(doc);
}

/* Mixed bracket kinds at several depths, across 64-byte blocks: the
 * matching and a wrong kind at the innermost, a middle and the outermost
 * nested level. */
static void test_depth_kinds(void **state)
{
    static const size_t depths[] = {1, 2, 62, 63, 64, 65, 127, 200};
    char *doc = malloc(2 * 200 + 64);
    int64_t ms = 0;
    (void)state;

    assert_non_null(doc);
    for (size_t k = 0; k < sizeof(depths) / sizeof(depths[0]); k++) {
        size_t depth = depths[k];

        /* wrong: 0 none, else the level (1 = outermost) closed wrongly */
        for (size_t wrong = 0; wrong <= depth; wrong++) {
            size_t n = 0;

            if (wrong > 1 && wrong < depth && wrong != depth / 2)
                continue;
            memcpy(doc + n, "{\"a\":", 5);
            n += 5;
            for (size_t i = 0; i < depth; i++)
                doc[n++] = (i * 7 + depth) % 3 ? '[' : '{';
            for (size_t i = depth; i-- > 0;) {
                char open = (i * 7 + depth) % 3 ? '[' : '{';
                char close = (char)(open + 2);

                if (i + 1 == wrong)
                    close = open == '[' ? '}' : ']';
                doc[n++] = close;
            }
            memcpy(doc + n, ",\"ts\":1}", 8);
            n += 8;
            assert_int_equal(scan(doc, n, &ms),
                             wrong ? CHP_TS_MALFORMED : CHP_TS_FOUND);
        }
    }
    free(doc);
}

static void test_parse_number(void **state)
{
    double v = 0;
    (void)state;

    assert_true(chp_tsx_parse_number("1478311200", 10, &v));
    assert_true(v == 1478311200.0);
    assert_true(chp_tsx_parse_number(" -2.5e1 ", 8, &v));
    assert_true(v == -25.0);
    /* Stops at len: the digits after it are not part of the number. */
    assert_true(chp_tsx_parse_number("12345", 2, &v));
    assert_true(v == 12.0);
    assert_false(chp_tsx_parse_number("", 0, &v));
    assert_false(chp_tsx_parse_number(NULL, 3, &v));
    assert_false(chp_tsx_parse_number("1e", 2, &v));
    assert_false(chp_tsx_parse_number("1.5.", 4, &v));
    assert_false(chp_tsx_parse_number("0x10", 4, &v));
    assert_false(chp_tsx_parse_number("NaN", 3, &v));
    assert_false(chp_tsx_parse_number("inf", 3, &v));
}

/* ------------------------------------------------------------------------
 * Rule sets
 * ------------------------------------------------------------------------ */

static void test_rules_errors(void **state)
{
    static const struct {
        const char *rules, *fields, *needle; /* needle: in errstr */
    } bad[] = {
        {"", NULL, "empty timestamp rule list"},
        {"  \t", NULL, "empty timestamp rule list"},
        {"json,,kafka", NULL, "position 2"},
        {"json,", NULL, "position 2"},
        {",json", NULL, "position 1"},
        {"json,bogus,now", NULL, "\"bogus\""},
        {"jsonx", NULL, "\"jsonx\""},
        {"header", NULL, "\"header\""},
        {"header:", NULL, "empty header name"},
        {"json, header:  ", NULL, "\"header:\""},
        {"json,kafka,now,json,kafka,now,json,kafka,header:nine", NULL,
         "\"header:nine\""},
        {"json", "", "empty timestamp field list"},
        {"json", "ts,,x", "position 2"},
        {"json", "a,b,c,d,e,f,g,h,i9", "\"i9\""},
        {"json", "ts,a\"b", "\"a\"b\""},
        {"json", "ts,a\\b", "a\\b"},
    };
    char errstr[256];
    chp_tsx_t *tsx;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        tsx = (chp_tsx_t *)1;
        errstr[0] = '\0';
        assert_int_equal(chp_tsx_new(bad[i].rules, bad[i].fields, &tsx, errstr,
                                     sizeof(errstr)),
                         CHP_ERR_INVALID_ARG);
        assert_null(tsx);
        if (!strstr(errstr, bad[i].needle))
            fail_msg("case %zu: errstr \"%s\" lacks \"%s\"", i, errstr,
                     bad[i].needle);
    }

    /* Over-long names, and a NULL out pointer. */
    {
        char rules[CHP_TSX_NAME_MAX + 16] = "header:";
        char fields[CHP_TSX_NAME_MAX + 1];

        memset(rules + 7, 'h', CHP_TSX_NAME_MAX);
        rules[7 + CHP_TSX_NAME_MAX] = '\0';
        assert_int_equal(chp_tsx_new(rules, NULL, &tsx, errstr, 256),
                         CHP_ERR_INVALID_ARG);
        assert_non_null(strstr(errstr, "longer than"));
        memset(fields, 'f', CHP_TSX_NAME_MAX);
        fields[CHP_TSX_NAME_MAX] = '\0';
        assert_int_equal(chp_tsx_new("json", fields, &tsx, errstr, 256),
                         CHP_ERR_INVALID_ARG);
        assert_non_null(strstr(errstr, "longer than"));
        assert_int_equal(chp_tsx_new("json", NULL, NULL, NULL, 0),
                         CHP_ERR_INVALID_ARG);
    }
}

static void test_rules_ok(void **state)
{
    static const char *const good[] = {
        "json,kafka,header:event-time,now",
        " json , kafka ,\theader: event-time ,now ",
        "JSON,Kafka,HEADER:x,NOW",
        "json,kafka,now,json,kafka,now,json,header:eight",
    };
    chp_tsx_t *tsx = NULL;
    char errstr[256];
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(chp_tsx_new(good[i], NULL, &tsx, errstr, 256), CHP_OK);
        assert_non_null(tsx);
        chp_tsx_destroy(tsx);
    }
    assert_int_equal(
        chp_tsx_new(NULL, " a , b,c,d,e,f,g,h ", &tsx, errstr, 256), CHP_OK);
    chp_tsx_destroy(tsx);
    chp_tsx_destroy(NULL);
}

/* A message with at most one header, for the header rule. */
typedef struct {
    const char *name, *value;
    size_t len;
} hdr_t;

static bool hdr_lookup(void *opaque, const char *name, const void **val,
                       size_t *len)
{
    const hdr_t *h = opaque;

    if (!h || strcmp(h->name, name) != 0)
        return false;
    *val = h->value;
    *len = h->len;
    return true;
}

static chp_ts_result_t extract(const char *rules, const char *fields,
                               const char *value, int64_t kafka_ts,
                               const hdr_t *hdr, int64_t *ms)
{
    chp_tsx_t *tsx = NULL;
    char errstr[256];
    chp_msg_view_t msg = {0};
    chp_ts_result_t r;

    assert_int_equal(chp_tsx_new(rules, fields, &tsx, errstr, sizeof(errstr)),
                     CHP_OK);
    msg.value = value;
    msg.value_len = value ? strlen(value) : 0;
    msg.kafka_ts_ms = kafka_ts;
    msg.header = hdr ? hdr_lookup : NULL;
    msg.header_opaque = (void *)hdr;
    *ms = -42;
    r = chp_tsx_extract(tsx, &msg, 777, ms);
    chp_tsx_destroy(tsx);
    return r;
}

/* The rule set's own keys (stored lower-case, lengths precomputed): the
 * same answers as chp_tsx_scan_json with the same names. */
static void test_extract_rule_keys(void **state)
{
    static const struct {
        const char *fields, *doc;
        chp_ts_result_t want;
        int64_t ms;
    } cases[] = {
        {"EventTime", "{\"eventtime\":1478311200}", CHP_TS_FOUND, MS},
        {"eventtime", "{\"EVENTTIME\":1478311200}", CHP_TS_FOUND, MS},
        {"ts", "{\"tss\":1,\"t\":2,\"TS\":1478311200}", CHP_TS_FOUND, MS},
        {"a,b,c,d,e,f,g,Time", "{\"x\":1,\"TIME\":1478311200}", CHP_TS_FOUND,
         MS},
        {"timestamp,ts", "{\"ts\":1478311200,\"timestamp\":5}", CHP_TS_FOUND,
         MS},
        /* A key spelled with an escape is never decoded: no match. */
        {"ts", "{\"t\\u0073\":1478311200}", CHP_TS_MISSING, -42},
        {"ts", "{\"t\":1478311200}", CHP_TS_MISSING, -42},
    };
    int64_t ms;
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *names[CHP_TSX_MAX_FIELDS];
        char buf[128], *save = NULL;
        size_t n = 0;
        int64_t scan_ms = -42;

        assert_int_equal(
            extract("json", cases[i].fields, cases[i].doc, -1, NULL, &ms),
            cases[i].want);
        assert_int_equal(ms, cases[i].ms);
        snprintf(buf, sizeof(buf), "%s", cases[i].fields);
        for (char *t = strtok_r(buf, ",", &save); t;
             t = strtok_r(NULL, ",", &save))
            names[n++] = t;
        assert_int_equal(chp_tsx_scan_json(cases[i].doc, strlen(cases[i].doc),
                                           names, n, &scan_ms),
                         cases[i].want);
        assert_int_equal(scan_ms, cases[i].ms);
    }
}

static void test_extract_fallback(void **state)
{
    static const char good[] = "{\"ts\":1478311200}";
    static const char broken[] = "{\"ts\":14783";
    static const char none[] = "{\"a\":1}";
    const hdr_t h_ms = {"event-time", "1478311200123", 13};
    const hdr_t h_s = {"event-time", " 1478311200 ", 12};
    const hdr_t h_bad = {"event-time", "soon", 4};
    const hdr_t h_cut = {"event-time", "1478311200999", 10};
    const hdr_t h_other = {"other", "1", 1};
    int64_t ms;
    (void)state;

    /* json first, then kafka. */
    assert_int_equal(extract("json,kafka", NULL, good, 5, NULL, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, MS);
    assert_int_equal(extract("json,kafka", NULL, broken, 5, NULL, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, 5);
    assert_int_equal(extract("json,kafka", NULL, none, -1, NULL, &ms),
                     CHP_TS_MISSING);
    assert_int_equal(extract("json,kafka", NULL, broken, -1, NULL, &ms),
                     CHP_TS_MALFORMED);
    assert_int_equal(extract("json", NULL, NULL, -1, NULL, &ms),
                     CHP_TS_MALFORMED);
    assert_int_equal(extract("json", NULL, "", -1, NULL, &ms),
                     CHP_TS_MALFORMED);
    assert_int_equal(extract(NULL, NULL, good, -1, NULL, &ms), CHP_TS_FOUND);
    /* kafka: any timestamp >= 0, taken as milliseconds. */
    assert_int_equal(extract("kafka", NULL, good, 0, NULL, &ms), CHP_TS_FOUND);
    assert_int_equal(ms, 0);
    assert_int_equal(extract("kafka", NULL, good, -1, NULL, &ms),
                     CHP_TS_MISSING);
    assert_int_equal(extract("kafka,json", NULL, good, 9, NULL, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, 9);
    /* header:NAME, ms/s by magnitude, whitespace trimmed. */
    assert_int_equal(extract("header:event-time", NULL, NULL, -1, &h_ms, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, MS + 123);
    assert_int_equal(extract("header:event-time", NULL, NULL, -1, &h_s, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, MS);
    assert_int_equal(extract("header:event-time", NULL, NULL, -1, &h_cut, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, MS);
    assert_int_equal(
        extract("header:event-time,kafka", NULL, NULL, 3, &h_bad, &ms),
        CHP_TS_FOUND);
    assert_int_equal(ms, 3);
    assert_int_equal(
        extract("header:event-time", NULL, NULL, -1, &h_other, &ms),
        CHP_TS_MISSING);
    assert_int_equal(extract("header:event-time", NULL, NULL, -1, NULL, &ms),
                     CHP_TS_MISSING);
    assert_int_equal(
        extract("json,header:event-time", NULL, broken, -1, &h_ms, &ms),
        CHP_TS_FOUND);
    assert_int_equal(ms, MS + 123);
    /* A broken payload stays malformed if the header does not help. */
    assert_int_equal(
        extract("json,header:event-time", NULL, broken, -1, &h_bad, &ms),
        CHP_TS_MALFORMED);
    /* now: chosen explicitly, it yields. */
    assert_int_equal(extract("now", NULL, NULL, -1, NULL, &ms), CHP_TS_FOUND);
    assert_int_equal(ms, 777);
    assert_int_equal(extract("json,now", NULL, none, -1, NULL, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, 777);
    assert_int_equal(extract("json,now", NULL, broken, -1, NULL, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, 777);
    assert_int_equal(
        extract("json,kafka,header:event-time,now", NULL, good, 5, &h_ms, &ms),
        CHP_TS_FOUND);
    assert_int_equal(ms, MS);
    /* Custom field names replace the default ones. */
    assert_int_equal(
        extract("json", "event_time, Created", "{\"ts\":1}", -1, NULL, &ms),
        CHP_TS_MISSING);
    assert_int_equal(extract("json", "event_time, Created",
                             "{\"created\":1478311200}", -1, NULL, &ms),
                     CHP_TS_FOUND);
    assert_int_equal(ms, MS);
}

int main(void)
{
    const struct CMUnitTest scanner[] = {
        cmocka_unit_test(test_scan_table),
        cmocka_unit_test(test_scan_names),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_block_boundaries),
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_depth_kinds),
    };
    const struct CMUnitTest rules[] = {
        cmocka_unit_test(test_parse_number),
        cmocka_unit_test(test_rules_errors),
        cmocka_unit_test(test_rules_ok),
        cmocka_unit_test(test_extract_fallback),
        cmocka_unit_test(test_extract_rule_keys),
    };
    int failed = 0;

    failed += cmocka_run_group_tests_name("scanner (library)", scanner,
                                          use_library, NULL);
    failed += cmocka_run_group_tests_name("scanner (library, no AVX-512)",
                                          scanner, use_library_avx2, NULL);
    failed += cmocka_run_group_tests_name("scanner (library, no AVX2)", scanner,
                                          use_library_sse2, NULL);
    use_variant(0, 0);
    failed += cmocka_run_group_tests_name("scanner (portable)", scanner,
                                          use_portable, NULL);
    failed += cmocka_run_group_tests_name("rules", rules, NULL, NULL);
    return failed;
}
