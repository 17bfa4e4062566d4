/* Unit tests: the audit message JSON codec (design.md §5, docs/wire-format.md).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "auditmsg.h"
#include "testutil.h"

#define ERRSZ 512

/* A message with every field set to something distinct. */
static void fill_full(chp_auditmsg_t *m)
{
    chp_auditmsg_init(m);
    snprintf(m->topic, sizeof(m->topic), "%s", "rt-trips.v2");
    m->time_begin = 1478311200;
    m->time_end = 1478311800;
    m->count = 1000003;
    m->total_bytes = 987654321012ULL;
    m->no_time_count = 17;
    m->malformed_count = 4;
    m->mean_latency = 1234.5678901234567;
    m->latency95 = 2000.25;
    m->latency99 = 0.1;
    m->max_latency = 98765.0;
    snprintf(m->tier, sizeof(m->tier), "%s", "producer");
    snprintf(m->datacenter, sizeof(m->datacenter), "%s", "dc1");
    snprintf(m->hostname, sizeof(m->hostname), "%s", "api-host-7.example");
    chp_uuid_generate(m->uuid);
    m->version = CHP_AUDITMSG_VERSION;
    m->negative_latency_count = 3;
    m->latency_sum_ms = 1234567890.5;
    m->delivery_failed_count = 2;
    m->audit_dropped_count = 5;
    m->aborted_count = 6;
    m->sketch = chp_sketch_new();
    assert_non_null(m->sketch);
    for (int64_t l = 0; l < 5000; l += 7)
        chp_sketch_add(m->sketch, l, (uint64_t)(l % 13) + 1);
    chp_sketch_add(m->sketch, 3600000, 1);
    chp_sketch_add(m->sketch, -40, 3);
}

static chp_err_t decode_str(chp_auditmsg_t *m, const char *s, char *errstr)
{
    return chp_auditmsg_decode(m, s, strlen(s), errstr, ERRSZ);
}

static void test_roundtrip_full(void **state)
{
    chp_auditmsg_t a, b;
    char *j1 = NULL, *j2 = NULL;
    size_t n1, n2;
    char errstr[ERRSZ] = "";
    static const char prefix[] =
        "{\"topicName\":\"rt-trips.v2\",\"timeBeginInSec\":1478311200,"
        "\"timeEndInSec\":1478311800,\"count\":1000003,";
    (void)state;

    fill_full(&a);
    assert_int_equal(strlen(a.uuid), 36);
    assert_int_equal(chp_auditmsg_encode(&a, &j1, &n1), CHP_OK);
    assert_int_equal(strlen(j1), n1);
    /* Compact, fixed order: the original's fields, then ours, sketch last. */
    assert_int_equal(strncmp(j1, prefix, strlen(prefix)), 0);
    assert_null(strchr(j1, ' '));
    assert_non_null(strstr(j1, ",\"version\":2,"));
    assert_non_null(strstr(j1, "\"maxLatency\":98765.0,"));
    assert_non_null(strstr(j1, "\"uuid\":\""));
    assert_non_null(strstr(j1, a.uuid));
    assert_non_null(strstr(j1, ",\"latencySketch\":\""));
    assert_int_equal(j1[n1 - 1], '}');

    chp_auditmsg_init(&b);
    assert_int_equal(chp_auditmsg_decode(&b, j1, n1, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_null(chp_auditmsg_diff(&a, &b));
    assert_string_equal(b.uuid, a.uuid);
    assert_true(b.mean_latency == 1234.5678901234567);
    assert_true(b.latency99 == 0.1);
    assert_int_equal(b.total_bytes, 987654321012ULL);
    assert_non_null(b.sketch);
    assert_true(b.sketch != a.sketch);
    assert_int_equal(chp_sketch_count(b.sketch), chp_sketch_count(a.sketch));
    assert_int_equal(chp_sketch_negative_count(b.sketch), 3);
    assert_int_equal(chp_sketch_max(b.sketch), 3600000);
    for (double q = 0; q <= 1.0; q += 0.01)
        assert_true(chp_sketch_quantile(b.sketch, q) ==
                    chp_sketch_quantile(a.sketch, q));

    /* Encoding is a function of the message: same bytes again. */
    assert_int_equal(chp_auditmsg_encode(&b, &j2, &n2), CHP_OK);
    assert_int_equal(n2, n1);
    assert_memory_equal(j1, j2, n1);

    free(j1);
    free(j2);
    chp_auditmsg_clear(&a);
    chp_auditmsg_clear(&b);
    assert_null(a.sketch);
    assert_int_equal(a.count, 0);
}

static void test_encode_without_sketch(void **state)
{
    chp_auditmsg_t a, b;
    char *j = NULL;
    size_t n;
    char errstr[ERRSZ];
    (void)state;

    fill_full(&a);
    chp_sketch_destroy(a.sketch);
    a.sketch = NULL;
    a.version = 0; /* encode writes version 2 whatever the struct says */
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_OK);
    assert_null(strstr(j, "latencySketch"));
    assert_non_null(strstr(j, "\"version\":2"));
    assert_non_null(strstr(j, "\"deliveryFailedCount\":2,\"auditDroppedCount\":"
                              "5,\"abortedCount\":6}"));
    chp_auditmsg_init(&b);
    assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(b.version, 2);
    a.version = 2;
    assert_null(chp_auditmsg_diff(&a, &b));
    assert_null(b.sketch);
    free(j);
    chp_auditmsg_clear(&a);
    chp_auditmsg_clear(&b);
}

/* What the original ChaperoneService worker publishes (fastjson: HashMap
 * key order, bucket bounds are Java doubles so they may come out as
 * 1.4783112E9, counts are longs). */
static const char original_worker_msg[] =
    "{\"totalBytes\":5839201,\"malformedCount\":0,\"count\":55,"
    "\"timeEndInSec\":1.4783118E9,\"hostname\":\"ureplicator-worker-03\","
    "\"latency95\":2176.0,\"meanLatency\":812.6545454545454,"
    "\"datacenter\":\"sjc1\",\"tier\":\"chaperone-region\","
    "\"noTimeCount\":2,\"latency99\":3950.0,\"maxLatency\":4012.0,"
    "\"uuid\":\"4b0a3f1e-9c2d-4e8a-b8f7-2d6c1e0a9b35\","
    "\"topicName\":\"rt-trips\",\"timeBeginInSec\":1.4783112E9}";

/* What the original Java client (ChaperoneClient) publishes: no totalBytes,
 * noTimeCount or malformedCount; doubles everywhere.  Plus fields nobody
 * knows, which must be ignored. */
static const char original_client_msg[] =
    "{\"count\":55.0,\"datacenter\":\"dc1\",\"hostname\":\"api-host-7\","
    "\"latency95\":210.5,\"latency99\":-12.0,\"maxLatency\":300,"
    "\"meanLatency\":null,\"tier\":\"producer\","
    "\"timeBeginInSec\":1478311200.0,\"timeEndInSec\":1478311800.0,"
    "\"topicName\":\"rt-trips\","
    "\"uuid\":\"d3b07384-d9a0-4c9b-8f3e-0123456789ab\","
    "\"hostName\":\"ignored\",\"futureField\":{\"a\":[1,2,{\"b\":null}]},"
    "\"flag\":true}";

/* Every field a decoded original message must have. */
typedef struct want {
    const char *topic, *tier, *datacenter, *hostname, *uuid;
    int64_t begin, end;
    uint64_t count, total_bytes, no_time, malformed, negative, failed;
    double mean, l95, l99, max, latency_sum;
    int version;
} want_t;

static void check_decoded(const char *json, const want_t *w)
{
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";

    chp_auditmsg_init(&m);
    assert_int_equal(decode_str(&m, json, errstr), CHP_OK);
    assert_string_equal(m.topic, w->topic);
    assert_int_equal(m.time_begin, w->begin);
    assert_int_equal(m.time_end, w->end);
    assert_int_equal(m.count, w->count);
    assert_int_equal(m.total_bytes, w->total_bytes);
    assert_int_equal(m.no_time_count, w->no_time);
    assert_int_equal(m.malformed_count, w->malformed);
    assert_true(m.mean_latency == w->mean);
    assert_true(m.latency95 == w->l95);
    assert_true(m.latency99 == w->l99);
    assert_true(m.max_latency == w->max);
    assert_string_equal(m.tier, w->tier);
    assert_string_equal(m.datacenter, w->datacenter);
    assert_string_equal(m.hostname, w->hostname);
    assert_string_equal(m.uuid, w->uuid);
    assert_int_equal(m.version, w->version);
    assert_int_equal(m.negative_latency_count, w->negative);
    assert_true(m.latency_sum_ms == w->latency_sum);
    assert_int_equal(m.delivery_failed_count, w->failed);
    assert_null(m.sketch);
    chp_auditmsg_clear(&m);
}

static void test_decode_original_worker(void **state)
{
    (void)state;
    check_decoded(original_worker_msg,
                  &(want_t){.topic = "rt-trips",
                            .begin = 1478311200,
                            .end = 1478311800,
                            .count = 55,
                            .total_bytes = 5839201,
                            .no_time = 2,
                            .malformed = 0,
                            .mean = 812.6545454545454,
                            .l95 = 2176.0,
                            .l99 = 3950.0,
                            .max = 4012.0,
                            .tier = "chaperone-region",
                            .datacenter = "sjc1",
                            .hostname = "ureplicator-worker-03",
                            .uuid = "4b0a3f1e-9c2d-4e8a-b8f7-2d6c1e0a9b35",
                            .version = 0});
}

static void test_decode_original_client(void **state)
{
    (void)state;
    check_decoded(original_client_msg,
                  &(want_t){.topic = "rt-trips",
                            .begin = 1478311200,
                            .end = 1478311800,
                            .count = 55,
                            /* Absent in the original client's messages:
                             * default 0. */
                            .total_bytes = 0,
                            .no_time = 0,
                            .malformed = 0,
                            /* null (fastjson's NaN) is absent; negative
                             * latencies are kept. */
                            .mean = 0.0,
                            .l95 = 210.5,
                            .l99 = -12.0,
                            .max = 300.0,
                            .hostname = "api-host-7",
                            .tier = "producer",
                            .datacenter = "dc1",
                            .uuid = "d3b07384-d9a0-4c9b-8f3e-0123456789ab",
                            .version = 0,
                            .negative = 0,
                            .latency_sum = 0.0,
                            .failed = 0});
}

static void test_integers_as_doubles(void **state)
{
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    (void)state;

    chp_auditmsg_init(&m);
    assert_int_equal(
        decode_str(&m,
                   "{\"topicName\":\"t\",\"timeBeginInSec\":1.4783112e9,"
                   "\"count\":5.5e1,\"totalBytes\":1E3,\"noTimeCount\":-0.0,"
                   "\"malformedCount\":0.0,\"version\":2.0,"
                   "\"negativeLatencyCount\":7.0,"
                   "\"deliveryFailedCount\":9007199254740992.0,"
                   "\"meanLatency\":12,\"latency95\":-3,\"latencySumMs\":5}",
                   errstr),
        CHP_OK);
    assert_int_equal(m.time_begin, 1478311200);
    assert_int_equal(m.count, 55);
    assert_int_equal(m.total_bytes, 1000);
    assert_int_equal(m.no_time_count, 0);
    assert_int_equal(m.version, 2);
    assert_int_equal(m.negative_latency_count, 7);
    assert_int_equal(m.delivery_failed_count, 9007199254740992ULL);
    assert_true(m.mean_latency == 12.0);
    assert_true(m.latency95 == -3.0);
    assert_true(m.latency_sum_ms == 5.0);

    /* Largest count a JSON integer can carry. */
    assert_int_equal(decode_str(&m,
                                "{\"topicName\":\"t\",\"timeBeginInSec\":0,"
                                "\"count\":9223372036854775807}",
                                errstr),
                     CHP_OK);
    assert_int_equal(m.count, 9223372036854775807ULL);
    chp_auditmsg_clear(&m);
}

static void test_defaults(void **state)
{
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    (void)state;

    chp_auditmsg_init(&m);
    assert_int_equal(
        decode_str(&m,
                   "{\"topicName\":\"t\",\"timeBeginInSec\":1478311200,"
                   "\"count\":0,\"tier\":null,\"uuid\":null,"
                   "\"latencySketch\":null,\"timeEndInSec\":null}",
                   errstr),
        CHP_OK);
    /* timeEndInSec absent: the default bucket width. */
    assert_int_equal(m.time_end, 1478311200 + CHP_BUCKET_SECONDS_DEFAULT);
    assert_string_equal(m.tier, "");
    assert_string_equal(m.uuid, "");
    assert_null(m.sketch);

    /* A hand-written sketch: encoding version 1, three latencies of 0 ms. */
    assert_int_equal(decode_str(&m,
                                "{\"topicName\":\"t\",\"timeBeginInSec\":0,"
                                "\"count\":3,\"latencySketch\":\"1.3.0.0.\"}",
                                errstr),
                     CHP_OK);
    assert_non_null(m.sketch);
    assert_int_equal(chp_sketch_count(m.sketch), 3);

    /* Inconsistent subsets are accepted as sent (documented). */
    assert_int_equal(decode_str(&m,
                                "{\"topicName\":\"t\",\"timeBeginInSec\":0,"
                                "\"timeEndInSec\":0,\"count\":1,"
                                "\"noTimeCount\":5,\"malformedCount\":6}",
                                errstr),
                     CHP_OK);
    assert_int_equal(m.time_end, 0);
    assert_int_equal(m.no_time_count, 5);

    /* Times before the epoch are fine. */
    assert_int_equal(decode_str(&m,
                                "{\"topicName\":\"t\",\"timeBeginInSec\":-600,"
                                "\"count\":1}",
                                errstr),
                     CHP_OK);
    assert_int_equal(m.time_end, 0);
    chp_auditmsg_clear(&m);
}

/* ------------------------------------------------------------ rejections */

/* A valid base document; a case replaces (or drops, value NULL) one key's
 * raw JSON value, or appends the key if the base lacks it. */
static const struct {
    const char *key, *raw;
} base_doc[] = {
    {"topicName", "\"rt-trips\""},  {"timeBeginInSec", "1478311200"},
    {"timeEndInSec", "1478311800"}, {"count", "55"},
    {"tier", "\"producer\""},
};
#define N_BASE (sizeof(base_doc) / sizeof(base_doc[0]))

static char *doc_with(const char *key, const char *raw)
{
    size_t cap = 4096 + (raw ? strlen(raw) : 0), n = 0;
    char *doc = malloc(cap);
    bool found = false;

    assert_non_null(doc);
    n += (size_t)snprintf(doc + n, cap - n, "{");
    for (size_t i = 0; i < N_BASE; i++) {
        const char *v = base_doc[i].raw;

        if (strcmp(base_doc[i].key, key) == 0) {
            found = true;
            v = raw;
        }
        if (v)
            n += (size_t)snprintf(doc + n, cap - n, "%s\"%s\":%s",
                                  n > 1 ? "," : "", base_doc[i].key, v);
    }
    if (!found && raw)
        n += (size_t)snprintf(doc + n, cap - n, ",\"%s\":%s", key, raw);
    snprintf(doc + n, cap - n, "}");
    return doc;
}

typedef struct reject_case {
    const char *field;
    const char *raw; /* NULL: field removed */
    chp_err_t err;
} reject_case_t;

static const reject_case_t rejects[] = {
    {"topicName", NULL, CHP_ERR_PARSE},
    {"topicName", "null", CHP_ERR_PARSE},
    {"topicName", "\"\"", CHP_ERR_RANGE},
    {"topicName", "42", CHP_ERR_TYPE},
    {"topicName", "[\"rt-trips\"]", CHP_ERR_TYPE},
    {"topicName", "{}", CHP_ERR_TYPE},
    {"timeBeginInSec", NULL, CHP_ERR_PARSE},
    {"timeBeginInSec", "\"1478311200\"", CHP_ERR_TYPE},
    {"timeBeginInSec", "1478311200.5", CHP_ERR_TYPE},
    {"timeBeginInSec", "1e300", CHP_ERR_RANGE},
    {"timeBeginInSec", "9223372036854776", CHP_ERR_RANGE},
    {"timeEndInSec", "1478311199", CHP_ERR_RANGE},
    {"timeEndInSec", "false", CHP_ERR_TYPE},
    {"timeEndInSec", "-1e19", CHP_ERR_RANGE},
    {"count", NULL, CHP_ERR_PARSE},
    {"count", "null", CHP_ERR_PARSE},
    {"count", "\"55\"", CHP_ERR_TYPE},
    {"count", "1.5", CHP_ERR_TYPE},
    {"count", "-1", CHP_ERR_RANGE},
    {"count", "-1.0", CHP_ERR_RANGE},
    {"count", "true", CHP_ERR_TYPE},
    {"count", "1e19", CHP_ERR_RANGE},
    {"count", "9223372036854775808.0", CHP_ERR_RANGE},
    {"count", "[55]", CHP_ERR_TYPE},
    {"count", "1e-300", CHP_ERR_TYPE},
    {"totalBytes", "\"1024\"", CHP_ERR_TYPE},
    {"totalBytes", "-9223372036854775808", CHP_ERR_RANGE},
    {"noTimeCount", "-3", CHP_ERR_RANGE},
    {"malformedCount", "0.5", CHP_ERR_TYPE},
    {"meanLatency", "\"12.5\"", CHP_ERR_TYPE},
    {"latency95", "[]", CHP_ERR_TYPE},
    {"latency99", "true", CHP_ERR_TYPE},
    {"maxLatency", "{\"ms\":1}", CHP_ERR_TYPE},
    {"tier", "1", CHP_ERR_TYPE},
    {"datacenter", "[\"dc1\"]", CHP_ERR_TYPE},
    {"hostname", "false", CHP_ERR_TYPE},
    {"uuid", "123", CHP_ERR_TYPE},
    {"uuid",
     "\"0123456789012345678901234567890123456789012345678901234567"
     "890123\"",
     CHP_ERR_RANGE},
    {"version", "\"2\"", CHP_ERR_TYPE},
    {"version", "-1", CHP_ERR_RANGE},
    {"version", "2.5", CHP_ERR_TYPE},
    {"version", "4294967296", CHP_ERR_RANGE},
    {"negativeLatencyCount", "-1", CHP_ERR_RANGE},
    {"latencySumMs", "\"x\"", CHP_ERR_TYPE},
    {"deliveryFailedCount", "1.25", CHP_ERR_TYPE},
    {"latencySketch", "5", CHP_ERR_TYPE},
    {"latencySketch", "{}", CHP_ERR_TYPE},
    {"latencySketch", "\"%%% not a sketch %%%\"", CHP_ERR_PARSE},
};

static void test_rejections(void **state)
{
    chp_auditmsg_t m;
    (void)state;

    _Static_assert(sizeof(rejects) / sizeof(rejects[0]) >= 25,
                   "every field and type is rejected at least once");
    for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++) {
        const reject_case_t *c = &rejects[i];
        char *doc = doc_with(c->field, c->raw);
        char errstr[ERRSZ] = "";
        char quoted[128];
        chp_err_t err;

        chp_auditmsg_init(&m);
        err = decode_str(&m, doc, errstr);
        if (err != c->err || !strstr(errstr, c->field))
            print_error("case %zu: %s -> %s (%d), \"%s\"\n", i, doc,
                        chp_err_str(err), (int)err, errstr);
        assert_int_equal(err, c->err);
        snprintf(quoted, sizeof(quoted), "\"%s\"", c->field);
        assert_non_null(strstr(errstr, quoted));
        /* On error the message is left cleared. */
        assert_string_equal(m.topic, "");
        assert_int_equal(m.count, 0);
        assert_null(m.sketch);
        free(doc);
    }
}

/* The wording asked for in the brief, checked once verbatim. */
static void test_error_wording(void **state)
{
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    char *doc = doc_with("count", "\"55\"");
    (void)state;

    chp_auditmsg_init(&m);
    assert_int_equal(decode_str(&m, doc, errstr), CHP_ERR_TYPE);
    assert_string_equal(errstr,
                        "field \"count\": expected an integer, got a string");
    free(doc);
    doc = doc_with("count", "1.5");
    assert_int_equal(decode_str(&m, doc, errstr), CHP_ERR_TYPE);
    assert_string_equal(errstr,
                        "field \"count\": expected an integer, got 1.5");
    free(doc);
    doc = doc_with("topicName", NULL);
    assert_int_equal(decode_str(&m, doc, errstr), CHP_ERR_PARSE);
    assert_string_equal(errstr, "field \"topicName\": required field missing");
    free(doc);
}

static const struct {
    const char *doc;
    size_t len; /* 0: strlen */
    chp_err_t err;
    const char *needle; /* must appear in errstr */
} doc_rejects[] = {
    {"", 0, CHP_ERR_PARSE, "expected near end of file"},
    {"   \n", 0, CHP_ERR_PARSE, "line"},
    {"not json", 0, CHP_ERR_PARSE, "invalid JSON"},
    {"[1,2]", 0, CHP_ERR_TYPE, "got an array"},
    {"\"rt-trips\"", 0, CHP_ERR_PARSE, "invalid JSON"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,\"count\":1", 0, CHP_ERR_PARSE,
     "end of file"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,\"count\":1} x", 0,
     CHP_ERR_PARSE, "end of file expected"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,\"count\":1}{}", 0,
     CHP_ERR_PARSE, "invalid JSON"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,\"count\":1,\"count\":2}", 0,
     CHP_ERR_PARSE, "duplicate object key"},
    {"{\"topicName\":\"a\\u0000b\",\"timeBeginInSec\":0,\"count\":1}", 0,
     CHP_ERR_PARSE, "\\u0000"},
    {"{\"topicName\":\"\\ud800\",\"timeBeginInSec\":0,\"count\":1}", 0,
     CHP_ERR_PARSE, "invalid Unicode"},
    {"{\"topicName\":\"\xff\xfe\",\"timeBeginInSec\":0,\"count\":1}", 0,
     CHP_ERR_PARSE, "unable to decode byte 0xff"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,\"count\":NaN}", 0,
     CHP_ERR_PARSE, "invalid JSON"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,\"count\":1e999}", 0,
     CHP_ERR_PARSE, "overflow"},
    {"{\"topicName\":\"t\",\"timeBeginInSec\":0,"
     "\"count\":99999999999999999999}",
     0, CHP_ERR_PARSE, "too big integer"},
    /* An embedded NUL inside the given length is not the end. */
    {"{\"topicName\":\"t\",\0\"timeBeginInSec\":0,\"count\":1}", 20,
     CHP_ERR_PARSE, "invalid JSON"},
};

static void test_document_rejections(void **state)
{
    chp_auditmsg_t m;
    (void)state;

    for (size_t i = 0; i < sizeof(doc_rejects) / sizeof(doc_rejects[0]); i++) {
        char errstr[ERRSZ] = "";
        size_t len = doc_rejects[i].len ? doc_rejects[i].len
                                        : strlen(doc_rejects[i].doc);
        chp_err_t err;

        chp_auditmsg_init(&m);
        err = chp_auditmsg_decode(&m, doc_rejects[i].doc, len, errstr,
                                  sizeof(errstr));
        if (err != doc_rejects[i].err || !strstr(errstr, doc_rejects[i].needle))
            print_error("case %zu: %s (%d), \"%s\"\n", i, chp_err_str(err),
                        (int)err, errstr);
        assert_int_equal(err, doc_rejects[i].err);
        assert_non_null(strstr(errstr, doc_rejects[i].needle));
        assert_string_equal(m.topic, "");
    }
}

static void test_bad_args(void **state)
{
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    char *j = (char *)"x";
    size_t n = 5;
    (void)state;

    chp_auditmsg_init(&m);
    assert_int_equal(chp_auditmsg_decode(NULL, "{}", 2, errstr, ERRSZ),
                     CHP_ERR_INVALID_ARG);
    assert_int_equal(chp_auditmsg_decode(&m, NULL, 3, errstr, ERRSZ),
                     CHP_ERR_INVALID_ARG);
    assert_int_equal(chp_auditmsg_decode(&m, NULL, 0, errstr, ERRSZ),
                     CHP_ERR_PARSE);
    /* No room for a message, or none at all: still just the code. */
    assert_int_equal(chp_auditmsg_decode(&m, "{}", 2, NULL, 0), CHP_ERR_PARSE);
    errstr[0] = 'Z';
    assert_int_equal(chp_auditmsg_decode(&m, "{}", 2, errstr, 0),
                     CHP_ERR_PARSE);
    assert_int_equal(errstr[0], 'Z');
    assert_int_equal(chp_auditmsg_decode(&m, "{}", 2, errstr, 8),
                     CHP_ERR_PARSE);
    assert_string_equal(errstr, "field \"");

    assert_int_equal(chp_auditmsg_encode(NULL, &j, &n), CHP_ERR_INVALID_ARG);
    assert_null(j);
    assert_int_equal(n, 0);
    assert_int_equal(chp_auditmsg_encode(&m, NULL, &n), CHP_ERR_INVALID_ARG);
    assert_int_equal(chp_auditmsg_encode(&m, &j, NULL), CHP_ERR_INVALID_ARG);
    chp_auditmsg_clear(NULL);
}

static void test_encode_rejects(void **state)
{
    chp_auditmsg_t m;
    char *j = NULL;
    size_t n;
    (void)state;

    fill_full(&m);
#define EXPECT_ENCODE_FAILS(stmt, restore)                                     \
    do {                                                                       \
        stmt;                                                                  \
        assert_int_equal(chp_auditmsg_encode(&m, &j, &n),                      \
                         CHP_ERR_INVALID_ARG);                                 \
        assert_null(j);                                                        \
        restore;                                                               \
        assert_int_equal(chp_auditmsg_encode(&m, &j, &n), CHP_OK);             \
        free(j);                                                               \
        j = NULL;                                                              \
    } while (0)
    EXPECT_ENCODE_FAILS(m.mean_latency = NAN, m.mean_latency = 1);
    EXPECT_ENCODE_FAILS(m.latency95 = INFINITY, m.latency95 = 1);
    EXPECT_ENCODE_FAILS(m.latency99 = -INFINITY, m.latency99 = 1);
    EXPECT_ENCODE_FAILS(m.max_latency = NAN, m.max_latency = 1);
    EXPECT_ENCODE_FAILS(m.latency_sum_ms = INFINITY, m.latency_sum_ms = 1);
    EXPECT_ENCODE_FAILS(m.count = (uint64_t)INT64_MAX + 1, m.count = 1);
    EXPECT_ENCODE_FAILS(m.total_bytes = UINT64_MAX, m.total_bytes = 1);
    EXPECT_ENCODE_FAILS(m.topic[0] = '\0', m.topic[0] = 'r');
    EXPECT_ENCODE_FAILS(m.time_end = m.time_begin - 1,
                        m.time_end = m.time_begin + 600);
    EXPECT_ENCODE_FAILS(m.time_begin = INT64_MIN, m.time_begin = 1478311200);
    EXPECT_ENCODE_FAILS(m.tier[0] = '\xc3', m.tier[0] = 'p'); /* bad UTF-8 */
    EXPECT_ENCODE_FAILS(memset(m.hostname, 'h', sizeof(m.hostname)),
                        m.hostname[10] = '\0'); /* not NUL-terminated */
    EXPECT_ENCODE_FAILS(memset(m.uuid, 'u', sizeof(m.uuid)), m.uuid[36] = '\0');
#undef EXPECT_ENCODE_FAILS
    chp_auditmsg_clear(&m);
}

/* The input is a Kafka record value: never NUL-terminated.  Decoding must
 * stop at len whatever follows. */
static void test_not_nul_terminated(void **state)
{
    static const char doc[] = "{\"topicName\":\"rt-trips\","
                              "\"timeBeginInSec\":1478311200,\"count\":3}";
    static const char junk[] = ",\"count\":99}garbage\xff";
    size_t n = strlen(doc);
    char *buf = malloc(n + sizeof(junk));
    char *exact = malloc(n);
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    (void)state;

    assert_non_null(buf);
    assert_non_null(exact);
    memcpy(buf, doc, n);
    memcpy(buf + n, junk, sizeof(junk));
    chp_auditmsg_init(&m);
    assert_int_equal(chp_auditmsg_decode(&m, buf, n, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(m.count, 3);

    /* Exactly n bytes, no terminator: ASan catches any read past the end. */
    memcpy(exact, doc, n);
    assert_int_equal(chp_auditmsg_decode(&m, exact, n, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(m.topic, "rt-trips");

    /* A length that cuts the document short is an error, not a read on. */
    assert_int_equal(
        chp_auditmsg_decode(&m, exact, n - 1, errstr, sizeof(errstr)),
        CHP_ERR_PARSE);
    free(buf);
    free(exact);
    chp_auditmsg_clear(&m);
}

static void test_long_strings(void **state)
{
    static const char *const names[] = {"topicName", "tier", "datacenter",
                                        "hostname"};
    size_t big = 100000;
    char *s = malloc(big + 3);
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    char *doc, *j;
    size_t n;
    (void)state;

    assert_non_null(s);
    chp_auditmsg_init(&m);
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char quoted[64];

        snprintf(quoted, sizeof(quoted), "\"%s\"", names[i]);
        /* CHP_NAME_MAX - 1 bytes fit exactly... */
        s[0] = '"';
        memset(s + 1, 'x', CHP_NAME_MAX - 1);
        snprintf(s + CHP_NAME_MAX, 2, "\"");
        doc = doc_with(names[i], s);
        assert_int_equal(decode_str(&m, doc, errstr), CHP_OK);
        free(doc);
        /* ...one more does not... */
        memset(s + 1, 'x', CHP_NAME_MAX);
        snprintf(s + CHP_NAME_MAX + 1, 2, "\"");
        doc = doc_with(names[i], s);
        assert_int_equal(decode_str(&m, doc, errstr), CHP_ERR_RANGE);
        assert_non_null(strstr(errstr, quoted));
        free(doc);
        /* ...nor does 100 kB. */
        memset(s + 1, 'y', big);
        snprintf(s + big + 1, 2, "\"");
        doc = doc_with(names[i], s);
        assert_int_equal(decode_str(&m, doc, errstr), CHP_ERR_RANGE);
        assert_non_null(strstr(errstr, quoted));
        assert_non_null(strstr(errstr, "100000 bytes"));
        free(doc);
    }

    /* The limit is in bytes: 127 two-byte characters fit, 128 do not. */
    n = 0;
    s[n++] = '"';
    for (int i = 0; i < 127; i++)
        n += (size_t)snprintf(s + n, 3, "\xc3\xa9");
    snprintf(s + n, 2, "\"");
    doc = doc_with("tier", s);
    assert_int_equal(decode_str(&m, doc, errstr), CHP_OK);
    assert_int_equal(strlen(m.tier), 254);
    free(doc);
    n = 0;
    s[n++] = '"';
    for (int i = 0; i < 128; i++)
        n += (size_t)snprintf(s + n, 3, "\xc3\xa9");
    snprintf(s + n, 2, "\"");
    doc = doc_with("tier", s);
    assert_int_equal(decode_str(&m, doc, errstr), CHP_ERR_RANGE);
    free(doc);

    /* A maximal message round-trips. */
    fill_full(&m);
    memset(m.topic, 't', CHP_NAME_MAX - 1);
    m.topic[CHP_NAME_MAX - 1] = '\0';
    memset(m.uuid, 'u', CHP_UUID_MAX - 1);
    m.uuid[CHP_UUID_MAX - 1] = '\0';
    assert_int_equal(chp_auditmsg_encode(&m, &j, &n), CHP_OK);
    {
        chp_auditmsg_t b;

        chp_auditmsg_init(&b);
        assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, ERRSZ), CHP_OK);
        assert_null(chp_auditmsg_diff(&m, &b));
        chp_auditmsg_clear(&b);
    }
    free(j);
    free(s);
    chp_auditmsg_clear(&m);
}

static void test_unicode(void **state)
{
    chp_auditmsg_t a, b;
    char errstr[ERRSZ] = "";
    char *j;
    size_t n;
    (void)state;

    fill_full(&a);
    snprintf(a.topic, sizeof(a.topic), "%s",
             "trips-\xe6\x97\xa5\xe6\x9c\xac-\xc3\xb1-\xf0\x9f\x9a\x95");
    snprintf(a.tier, sizeof(a.tier), "%s", "\xce\xb1\xce\xb2\xce\xb3");
    snprintf(a.hostname, sizeof(a.hostname), "%s", "h\"\\/\t\n\x01");
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_OK);
    /* Written as UTF-8, not \u escapes; control characters escaped. */
    assert_non_null(strstr(j, "\xf0\x9f\x9a\x95"));
    assert_non_null(strstr(j, "\\u0001"));
    chp_auditmsg_init(&b);
    assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, ERRSZ), CHP_OK);
    assert_null(chp_auditmsg_diff(&a, &b));
    assert_string_equal(b.topic, a.topic);
    assert_string_equal(b.hostname, a.hostname);
    free(j);

    /* \u escapes, surrogate pair included, decode to UTF-8. */
    assert_int_equal(decode_str(&b,
                                "{\"topicName\":\"caf\\u00e9-\\ud83d\\ude95\","
                                "\"timeBeginInSec\":0,\"count\":1}",
                                errstr),
                     CHP_OK);
    assert_string_equal(b.topic, "caf\xc3\xa9-\xf0\x9f\x9a\x95");

    /* Overlong and surrogate encodings are not UTF-8: refused on encode. */
    snprintf(a.tier, sizeof(a.tier), "%s", "\xc0\xaf");
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_ERR_INVALID_ARG);
    snprintf(a.tier, sizeof(a.tier), "%s", "\xed\xa0\x80");
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_ERR_INVALID_ARG);
    snprintf(a.tier, sizeof(a.tier), "%s", "\xf4\x90\x80\x80");
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_ERR_INVALID_ARG);
    snprintf(a.tier, sizeof(a.tier), "%s", "\xe6\x97");
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_ERR_INVALID_ARG);
    chp_auditmsg_clear(&a);
    chp_auditmsg_clear(&b);
}

/* Decoding replaces what the message held, sketch included, and a failed
 * decode leaves it cleared (no leak: the ASan build checks). */
static void test_decode_replaces(void **state)
{
    chp_auditmsg_t a, b;
    char errstr[ERRSZ] = "";
    char *j, *p;
    size_t n;
    (void)state;

    fill_full(&a);
    assert_int_equal(chp_auditmsg_encode(&a, &j, &n), CHP_OK);
    chp_auditmsg_init(&b);
    assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, ERRSZ), CHP_OK);
    assert_non_null(b.sketch);
    assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, ERRSZ), CHP_OK);
    assert_non_null(b.sketch);
    assert_int_equal(decode_str(&b, original_worker_msg, errstr), CHP_OK);
    assert_null(b.sketch);
    assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, ERRSZ), CHP_OK);
    /* An error found after the sketch was decoded (the end-before-begin
     * check comes last): the sketch must be freed. */
    p = strstr(j, "\"timeEndInSec\":1478311800");
    assert_non_null(p);
    memcpy(p + strlen("\"timeEndInSec\":"), "1478311100", 10);
    assert_int_equal(chp_auditmsg_decode(&b, j, n, errstr, ERRSZ),
                     CHP_ERR_RANGE);
    assert_non_null(strstr(errstr, "\"timeEndInSec\""));
    assert_null(b.sketch);
    assert_string_equal(b.topic, "");
    free(j);
    chp_auditmsg_clear(&a);
    chp_auditmsg_clear(&b);
}

/* Fractions are read with '.' whatever LC_NUMERIC says: by the fast
 * decoder (a plain strtod would read "12.5" as 12 under a decimal comma)
 * and by the jansson path it falls back to. */
static void test_decode_locale(void **state)
{
    static const char doc[] =
        "{\"topicName\":\"t\",\"timeBeginInSec\":1478311200,\"count\":3,"
        "\"meanLatency\":12.5,\"latency95\":-0.25,\"latency99\":1e-3,"
        "\"latencySumMs\":37.5}";
    static const char slow[] = /* an escape: only jansson takes it */
        "{\"topicName\":\"\\u0074\",\"timeBeginInSec\":0,\"count\":1,"
        "\"maxLatency\":2.75}";
    chp_auditmsg_t m;
    char errstr[ERRSZ] = "";
    (void)state;

    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") &&
        !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        TU_SKIP_CASE("no de_DE.UTF-8 or fr_FR.UTF-8 locale (scripts/deps.sh "
                     "generates de_DE.UTF-8)");
        return;
    }
    chp_auditmsg_init(&m);
    assert_true(chp_auditmsg_decode_fast(&m, doc, strlen(doc)));
    assert_true(m.mean_latency == 12.5);
    assert_true(m.latency95 == -0.25);
    assert_true(m.latency99 == 1e-3);
    assert_true(m.latency_sum_ms == 37.5);
    chp_auditmsg_clear(&m);
    chp_auditmsg_init(&m);
    assert_int_equal(decode_str(&m, doc, errstr), CHP_OK);
    assert_true(m.mean_latency == 12.5);
    chp_auditmsg_clear(&m);
    chp_auditmsg_init(&m);
    assert_false(chp_auditmsg_decode_fast(&m, slow, strlen(slow)));
    chp_auditmsg_clear(&m);
    chp_auditmsg_init(&m);
    assert_int_equal(decode_str(&m, slow, errstr), CHP_OK);
    assert_string_equal(m.topic, "t");
    assert_true(m.max_latency == 2.75);
    chp_auditmsg_clear(&m);
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_full),
        cmocka_unit_test(test_encode_without_sketch),
        cmocka_unit_test(test_decode_original_worker),
        cmocka_unit_test(test_decode_original_client),
        cmocka_unit_test(test_integers_as_doubles),
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_rejections),
        cmocka_unit_test(test_error_wording),
        cmocka_unit_test(test_document_rejections),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_encode_rejects),
        cmocka_unit_test(test_not_nul_terminated),
        cmocka_unit_test(test_long_strings),
        cmocka_unit_test(test_unicode),
        cmocka_unit_test(test_decode_replaces),
        cmocka_unit_test(test_decode_locale),
    };
    return tu_status(cmocka_run_group_tests(tests, NULL, NULL));
}
