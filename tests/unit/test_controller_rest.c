/* Unit tests: the controller's REST API and auto-detection rules
 * (design.md §7), without a broker.  The REST handler
 * is driven directly, over an in-memory cluster behind ctl_cluster_t (the
 * controller's seam to Kafka); a few requests also go through the real
 * HTTP server to check what only it does (413, routing to the handler). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>

#include "controller/controller.h"
#include "httpc.h"
#include "log.h"
#include "conf_daemon.h"

/* ------------------------------------------------------------ the fake */

typedef struct fake_topic {
    const char *name;
    int partitions;
} fake_topic_t;

typedef struct fake {
    fake_topic_t topics[16];
    size_t n_topics;
    bool down;        /* metadata and group calls fail */
    bool write_fails; /* registry writes are not acknowledged */
    int writes;
    char last_key[CHP_NAME_MAX];
    reg_state_t last_state;
} fake_t;

static chp_err_t fake_list(void *opaque, topic_set_t *out, char *errstr,
                           size_t n)
{
    fake_t *f = opaque;

    memset(out, 0, sizeof(*out));
    if (f->down) {
        snprintf(errstr, n, "fake cluster is down");
        return CHP_ERR_KAFKA;
    }
    out->names = calloc(f->n_topics + 1, sizeof(*out->names));
    for (size_t i = 0; i < f->n_topics; i++)
        out->names[out->n++] = strdup(f->topics[i].name);
    return CHP_OK;
}

static int fake_partitions(void *opaque, const char *topic, char *errstr,
                           size_t n)
{
    fake_t *f = opaque;

    if (f->down) {
        snprintf(errstr, n, "fake cluster is down");
        return -1;
    }
    for (size_t i = 0; i < f->n_topics; i++)
        if (!strcmp(f->topics[i].name, topic))
            return f->topics[i].partitions;
    return 0;
}

static chp_err_t fake_write(void *opaque, const char *topic, reg_state_t st,
                            char *errstr, size_t n)
{
    fake_t *f = opaque;

    if (f->write_fails) {
        snprintf(errstr, n, "fake write not acknowledged");
        return CHP_ERR_KAFKA;
    }
    f->writes++;
    snprintf(f->last_key, sizeof(f->last_key), "%s", topic);
    f->last_state = st;
    return CHP_OK;
}

/* Two workers: w1 holds partition 0 of every topic, w2 partition 2. */
static chp_err_t fake_group(void *opaque, const char *topic, ctl_group_t *out,
                            char *errstr, size_t n)
{
    fake_t *f = opaque;
    (void)topic;

    memset(out, 0, sizeof(*out));
    if (f->down) {
        snprintf(errstr, n, "fake cluster is down");
        return CHP_ERR_KAFKA;
    }
    out->state = strdup("Stable");
    out->members = calloc(2, sizeof(*out->members));
    out->n_members = 2;
    for (int i = 0; i < 2; i++) {
        char id[32];
        ctl_member_t *m = &out->members[i];
        snprintf(id, sizeof(id), "w%d-member", i + 1);
        m->member_id = strdup(id);
        snprintf(id, sizeof(id), "w%d", i + 1);
        m->client_id = strdup(id);
        m->host = strdup("/127.0.0.1");
        m->partitions = malloc(sizeof(int32_t));
        m->partitions[0] = i == 0 ? 0 : 2;
        m->n_partitions = 1;
    }
    return CHP_OK;
}

typedef struct fixture {
    fake_t fake;
    chp_conf_t *conf;
    metrics_t *metrics;
    ctl_t *ctl;
} fixture_t;

static void apply(registry_t *r, const char *topic, reg_state_t st)
{
    const char *v = registry_format_encode(st);

    assert_int_equal(registry_apply(r, topic, strlen(topic), v, strlen(v)),
                     CHP_OK);
}

/* The cluster: the original's dummyTopic, an audited topic, a blacklisted
 * one, and the topics that are never audited. */
static fixture_t *fixture_new(const char *const *kv)
{
    static const fake_topic_t topics[] = {
        {"dummyTopic", 1},          {"orders", 3},
        {"audited-one", 3},         {"black", 1},
        {"__consumer_offsets", 50}, {"chaperone-audit", 1},
        {"__chaperone_topics", 1},  {"_confluent-metrics", 1},
    };
    fixture_t *fx = calloc(1, sizeof(*fx));
    ctl_cluster_t cl = {&fx->fake, fake_list, fake_partitions, fake_write,
                        fake_group};
    registry_t *reg = registry_new();
    char err[256];

    memcpy(fx->fake.topics, topics, sizeof(topics));
    fx->fake.n_topics = sizeof(topics) / sizeof(topics[0]);
    fx->conf = conf_daemon_new();
    for (; kv && kv[0]; kv += 2)
        assert_int_equal(chp_conf_set(fx->conf, kv[0], kv[1], err, sizeof(err)),
                         CHP_OK);
    fx->metrics = metrics_new();
    fx->ctl = ctl_new(fx->conf, &cl, fx->metrics, err, sizeof(err));
    assert_non_null(fx->ctl);
    apply(reg, "audited-one", REG_AUDITED);
    apply(reg, "black", REG_BLACKLISTED);
    ctl_set_registry(fx->ctl, reg);
    return fx;
}

static void fixture_free(fixture_t *fx)
{
    ctl_destroy(fx->ctl);
    metrics_destroy(fx->metrics);
    chp_conf_destroy(fx->conf);
    free(fx);
}

static int setup(void **state)
{
    *state = fixture_new(NULL);
    return 0;
}

static int teardown(void **state)
{
    fixture_free(*state);
    return 0;
}

/* Runs one request through the handler; *resp must be freed. */
static void call(fixture_t *fx, const char *method, const char *path,
                 const char *body, size_t body_len, http_resp_t *resp)
{
    http_req_t req = {.method = method,
                      .path = path,
                      .body = body,
                      .body_len =
                          body ? (body_len ? body_len : strlen(body)) : 0};

    memset(resp, 0, sizeof(*resp));
    ctl_rest_handle(&req, resp, fx->ctl);
}

/* The response body as a JSON object (decref it). */
static json_t *body_json(const http_resp_t *resp)
{
    json_error_t jerr;
    json_t *doc = json_loadb(resp->body, resp->body_len, 0, &jerr);

    if (!doc)
        fail_msg("response is not JSON (%s): %s", jerr.text, resp->body);
    assert_true(json_is_object(doc));
    return doc;
}

/* Status and JSON body of one request, for the good paths. */
static json_t *expect(fixture_t *fx, const char *method, const char *path,
                      const char *body, int status)
{
    http_resp_t resp;
    json_t *doc;

    call(fx, method, path, body, 0, &resp);
    if (resp.status != status)
        fail_msg("%s %s: status %d, want %d: %s", method, path, resp.status,
                 status, resp.body);
    assert_string_equal(resp.content_type, "application/json");
    doc = body_json(&resp);
    free(resp.body);
    return doc;
}

static reg_state_t state_of(fixture_t *fx, const char *topic)
{
    return registry_state(fx->ctl->reg, topic);
}

/* ------------------------------------------------------------ bad requests */

enum { DOWN = 1, WRITE_FAILS = 2 };

typedef struct bad_case {
    const char *method, *path, *body;
    size_t body_len; /* 0: strlen(body) */
    int status;
    unsigned flags;
} bad_case_t;

#define LONG_NAME                                                              \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"   \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"   \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"   \
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 263 */

static const bad_case_t bad_cases[] = {
    /* POST /topics: not JSON, or not the original's body */
    {"POST", "/topics", NULL, 0, 400, 0},
    {"POST", "/topics", "", 0, 400, 0},
    {"POST", "/topics", "  \r\n\t ", 0, 400, 0},
    {"POST", "/topics", "{", 0, 400, 0},
    {"POST", "/topics", "}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\"", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",}", 0, 400, 0},
    {"POST", "/topics", "{'topic':'dummyTopic'}", 0, 400, 0},
    {"POST", "/topics", "{topic:\"dummyTopic\"}", 0, 400, 0},
    {"POST", "/topics", "topic=dummyTopic&numPartitions=1", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\"} trailing", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\"}{}", 0, 400, 0},
    {"POST", "/topics", "[]", 0, 400, 0},
    {"POST", "/topics", "[\"dummyTopic\"]", 0, 400, 0},
    {"POST", "/topics", "\"dummyTopic\"", 0, 400, 0},
    {"POST", "/topics", "42", 0, 400, 0},
    {"POST", "/topics", "null", 0, 400, 0},
    {"POST", "/topics", "true", 0, 400, 0},
    {"POST", "/topics", "{}", 0, 400, 0},
    {"POST", "/topics", "{\"numPartitions\":\"1\"}", 0, 400, 0},
    {"POST", "/topics", "{\"Topic\":\"dummyTopic\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"a\",\"topic\":\"dummyTopic\"}", 0, 400,
     0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\"}\0{\"x\":1}", 30, 400, 0},
    {"POST", "/topics", "{\"topic\":\"\xff\xfe\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummy\xc3\"}", 0, 400, 0},
    /* wrong types */
    {"POST", "/topics", "{\"topic\":5}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":null}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":true}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":1.5}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":[\"dummyTopic\"]}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":{\"name\":\"dummyTopic\"}}", 0, 400, 0},
    /* illegal topic names */
    {"POST", "/topics", "{\"topic\":\"\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\".\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"..\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"has space\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"slash/inside\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"semi;colon\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"tab\\there\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"nul\\u0000byte\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"caf\\u00e9\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"" LONG_NAME "\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"new\\nline\"}", 0, 400, 0},
    /* numPartitions */
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":true}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":false}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":null}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":{}}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":[1]}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":-1}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":0}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":1.5}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":1e3}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":2000000}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"0\"}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"-1\"}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"\"}", 0,
     400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"abc\"}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"1.5\"}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\" 1\"}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"1 \"}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"+1\"}",
     0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"0x10\"}",
     0, 400, 0},
    {"POST", "/topics",
     "{\"topic\":\"dummyTopic\",\"numPartitions\":\"99999999999999999999\"}", 0,
     400, 0},
    /* topics that are never audited, or that Kafka does not have */
    {"POST", "/topics", "{\"topic\":\"__consumer_offsets\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"chaperone-audit\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"__chaperone_topics\"}", 0, 400, 0},
    {"POST", "/topics", "{\"topic\":\"no-such-topic\"}", 0, 404, 0},
    {"POST", "/topics", "{\"topic\":\"audited-one\"}", 0, 409, 0},
    /* POST /topics/{topic} */
    {"POST", "/topics/audited-one", NULL, 0, 409, 0},
    {"POST", "/topics/no-such-topic", NULL, 0, 404, 0},
    {"POST", "/topics/dummyTopic", "{\"topic\":\"orders\"}", 0, 400, 0},
    {"POST", "/topics/dummyTopic", "{bad", 0, 400, 0},
    {"POST", "/topics/dummyTopic", "[1]", 0, 400, 0},
    {"POST", "/topics/dummyTopic", "{\"numPartitions\":\"x\"}", 0, 400, 0},
    {"POST", "/topics/bad name", NULL, 0, 400, 0},
    {"POST", "/topics/..", NULL, 0, 400, 0},
    {"POST", "/topics/__consumer_offsets", NULL, 0, 400, 0},
    /* GET */
    {"GET", "/topics/ab$c", NULL, 0, 400, 0},
    {"GET", "/topics/" LONG_NAME, NULL, 0, 400, 0},
    {"GET", "/topics/dummyTopic", NULL, 0, 404, 0},
    {"GET", "/topics/black", NULL, 0, 404, 0},
    {"GET", "/topics/no-such-topic", NULL, 0, 404, 0},
    {"GET", "/topics/a/b", NULL, 0, 404, 0},
    {"GET", "/topics//", NULL, 0, 404, 0},
    {"GET", "/", NULL, 0, 404, 0},
    {"GET", "", NULL, 0, 404, 0},
    {"GET", "/topic", NULL, 0, 404, 0},
    {"GET", "/topicsx", NULL, 0, 404, 0},
    {"GET", "/TOPICS", NULL, 0, 404, 0},
    {"GET", "/api/v1/topics", NULL, 0, 404, 0},
    {"GET", "/health/x", NULL, 0, 404, 0},
    /* methods */
    {"DELETE", "/topics", NULL, 0, 405, 0},
    {"PATCH", "/topics", "{\"topic\":\"dummyTopic\"}", 0, 405, 0},
    {"OPTIONS", "/topics", NULL, 0, 405, 0},
    {"PUT", "/topics/dummyTopic", NULL, 0, 405, 0},
    {"PATCH", "/topics/dummyTopic", NULL, 0, 405, 0},
    {"POST", "/health", NULL, 0, 405, 0},
    {"DELETE", "/metrics", NULL, 0, 405, 0},
    {"get", "/topics", NULL, 0, 405, 0},
    /* DELETE */
    {"DELETE", "/topics/no-such-topic", NULL, 0, 404, 0},
    {"DELETE", "/topics/__consumer_offsets", NULL, 0, 400, 0},
    {"DELETE", "/topics/chaperone-audit", NULL, 0, 400, 0},
    {"DELETE", "/topics/bad!name", NULL, 0, 400, 0},
    /* PUT /topics */
    {"PUT", "/topics", NULL, 0, 400, 0},
    {"PUT", "/topics", "{\"topic\":5}", 0, 400, 0},
    {"PUT", "/topics", "[", 0, 400, 0},
    {"PUT", "/topics", "{\"topic\":\"dummyTopic\",\"numPartitions\":\"x\"}", 0,
     400, 0},
    {"PUT", "/topics", "{\"topic\":\"a b\"}", 0, 400, 0},
    /* Kafka unreachable, or the registry write not acknowledged */
    {"POST", "/topics", "{\"topic\":\"dummyTopic\"}", 0, 503, DOWN},
    {"POST", "/topics/dummyTopic", NULL, 0, 503, WRITE_FAILS},
    {"POST", "/topics/black", NULL, 0, 503, WRITE_FAILS},
    {"DELETE", "/topics/dummyTopic", NULL, 0, 503, DOWN},
    {"DELETE", "/topics/audited-one", NULL, 0, 503, WRITE_FAILS},
    {"GET", "/topics/audited-one", NULL, 0, 503, DOWN},
};

#define N_BAD (sizeof(bad_cases) / sizeof(bad_cases[0]))

/* Every bad request gets its 4xx/5xx with a JSON {"error":...} body and
 * leaves the registry as it was. */
static void test_bad_requests(void **state)
{
    (void)state;

    _Static_assert(N_BAD >= 50, "the bad-request table covers every route");
    for (size_t i = 0; i < N_BAD; i++) {
        const bad_case_t *c = &bad_cases[i];
        fixture_t *fx = fixture_new(NULL);
        http_resp_t resp;
        json_t *doc, *err;

        fx->fake.down = c->flags & DOWN;
        fx->fake.write_fails = c->flags & WRITE_FAILS;
        call(fx, c->method, c->path, c->body, c->body_len, &resp);
        if (resp.status != c->status)
            fail_msg("case %zu: %s %s %s: status %d, want %d: %s", i, c->method,
                     c->path, c->body ? c->body : "(no body)", resp.status,
                     c->status, resp.body);
        assert_string_equal(resp.content_type, "application/json");
        doc = body_json(&resp);
        err = json_object_get(doc, "error");
        if (!json_is_string(err) || !json_string_length(err))
            fail_msg("case %zu: no \"error\" in %s", i, resp.body);
        assert_int_equal(json_integer_value(json_object_get(doc, "status")),
                         c->status);
        json_decref(doc);
        free(resp.body);
        assert_int_equal(fx->fake.writes, 0);
        assert_int_equal(state_of(fx, "audited-one"), REG_AUDITED);
        assert_int_equal(state_of(fx, "black"), REG_BLACKLISTED);
        assert_int_equal(state_of(fx, "dummyTopic"), REG_ABSENT);
        fixture_free(fx);
    }
}

/* ------------------------------------------------------------ good paths */

static void test_health_and_metrics(void **state)
{
    fixture_t *fx = *state;
    http_resp_t resp;

    call(fx, "GET", "/health", NULL, 0, &resp);
    assert_int_equal(resp.status, 200);
    assert_string_equal(resp.body, "OK");
    free(resp.body);
    call(fx, "POST", "/topics", "{", 0, &resp);
    free(resp.body);
    call(fx, "GET", "/metrics", NULL, 0, &resp);
    assert_int_equal(resp.status, 200);
    assert_non_null(strstr(
        resp.body, "chaperone_controller_topics{state=\"audited\"} 1\n"));
    assert_non_null(strstr(
        resp.body, "chaperone_controller_topics{state=\"blacklisted\"} 1\n"));
    assert_non_null(
        strstr(resp.body,
               "chaperone_controller_http_requests_total{status=\"200\"} 1\n"));
    assert_non_null(
        strstr(resp.body,
               "chaperone_controller_http_requests_total{status=\"400\"} 1\n"));
    assert_non_null(strstr(resp.body,
                           "# TYPE chaperone_controller_detection_runs_total "
                           "counter\n"));
    free(resp.body);
}

static void test_get_topics(void **state)
{
    fixture_t *fx = *state;
    json_t *doc = expect(fx, "GET", "/topics", NULL, 200);
    char *s = json_dumps(doc, JSON_COMPACT);

    assert_string_equal(s, "{\"topics\":[\"audited-one\"],\"blacklisted\":"
                           "[\"black\"]}");
    free(s);
    json_decref(doc);
    /* A trailing slash is the same collection. */
    json_decref(expect(fx, "GET", "/topics/", NULL, 200));
}

/* The original's quick start body, then the same topic again: 409. */
static void test_post_original_body(void **state)
{
    fixture_t *fx = *state;
    json_t *doc =
        expect(fx, "POST", "/topics",
               "{\"topic\":\"dummyTopic\",\"numPartitions\":\"1\"}", 201);

    assert_string_equal(json_string_value(json_object_get(doc, "topic")),
                        "dummyTopic");
    assert_string_equal(json_string_value(json_object_get(doc, "state")),
                        "audited");
    assert_int_equal(json_integer_value(json_object_get(doc, "numPartitions")),
                     1);
    assert_true(json_is_false(json_object_get(doc, "wasBlacklisted")));
    json_decref(doc);
    assert_int_equal(fx->fake.writes, 1);
    assert_string_equal(fx->fake.last_key, "dummyTopic");
    assert_int_equal(fx->fake.last_state, REG_AUDITED);
    assert_int_equal(state_of(fx, "dummyTopic"), REG_AUDITED);
    json_decref(expect(fx, "POST", "/topics",
                       "{\"topic\":\"dummyTopic\",\"numPartitions\":\"1\"}",
                       409));
    assert_int_equal(fx->fake.writes, 1);
}

static void test_post_variants(void **state)
{
    fixture_t *fx = *state;
    json_t *doc;

    /* numPartitions as a number; it is informative: Kafka's count wins. */
    doc = expect(fx, "POST", "/topics",
                 "{\"topic\":\"orders\",\"numPartitions\":1}", 201);
    assert_int_equal(json_integer_value(json_object_get(doc, "numPartitions")),
                     3);
    json_decref(doc);
    /* Unknown fields are ignored; no numPartitions at all is fine. */
    json_decref(expect(fx, "POST", "/topics/",
                       "{\"topic\":\"dummyTopic\",\"extra\":{\"x\":[1]}}",
                       201));
    /* A name with every legal character class. */
    fx->fake.topics[fx->fake.n_topics++] = (fake_topic_t){"A.b_c-9", 2};
    json_decref(expect(fx, "POST", "/topics/A.b_c-9", "{}", 201));
    json_decref(expect(fx, "POST", "/topics/A.b_c-9", NULL, 409));
    assert_int_equal(fx->fake.writes, 3);
}

/* POST on a blacklisted topic takes it off the blacklist. */
static void test_post_unblacklists(void **state)
{
    fixture_t *fx = *state;
    json_t *doc = expect(fx, "POST", "/topics/black", NULL, 201);

    assert_true(json_is_true(json_object_get(doc, "wasBlacklisted")));
    json_decref(doc);
    assert_int_equal(state_of(fx, "black"), REG_AUDITED);
    assert_int_equal(fx->fake.last_state, REG_AUDITED);
}

static void test_put_accepted(void **state)
{
    fixture_t *fx = *state;
    json_t *doc =
        expect(fx, "PUT", "/topics",
               "{\"topic\":\"audited-one\",\"numPartitions\":\"4\"}", 200);

    assert_string_equal(json_string_value(json_object_get(doc, "state")),
                        "audited");
    json_decref(doc);
    doc = expect(fx, "PUT", "/topics", "{\"topic\":\"elsewhere\"}", 200);
    assert_string_equal(json_string_value(json_object_get(doc, "state")),
                        "unknown");
    json_decref(doc);
    assert_int_equal(fx->fake.writes, 0);
}

static void test_delete(void **state)
{
    fixture_t *fx = *state;
    json_t *doc = expect(fx, "DELETE", "/topics/audited-one", NULL, 200);

    assert_string_equal(json_string_value(json_object_get(doc, "state")),
                        "blacklisted");
    assert_string_equal(
        json_string_value(json_object_get(doc, "previousState")), "audited");
    json_decref(doc);
    assert_int_equal(state_of(fx, "audited-one"), REG_BLACKLISTED);
    assert_int_equal(fx->fake.last_state, REG_BLACKLISTED);
    /* Again: idempotent, nothing written. */
    doc = expect(fx, "DELETE", "/topics/audited-one", NULL, 200);
    assert_string_equal(
        json_string_value(json_object_get(doc, "previousState")),
        "blacklisted");
    json_decref(doc);
    assert_int_equal(fx->fake.writes, 1);
    /* A topic the registry does not know but Kafka has: blacklisted, so
     * auto-detection leaves it alone. */
    doc = expect(fx, "DELETE", "/topics/orders", NULL, 200);
    assert_string_equal(
        json_string_value(json_object_get(doc, "previousState")), "unknown");
    json_decref(doc);
    assert_int_equal(state_of(fx, "orders"), REG_BLACKLISTED);
    json_decref(expect(fx, "GET", "/topics/audited-one", NULL, 404));
}

/* GET /topics/{topic}: every partition, and the worker holding it. */
static void test_get_topic_assignment(void **state)
{
    fixture_t *fx = *state;
    json_t *doc = expect(fx, "GET", "/topics/audited-one", NULL, 200);
    json_t *parts = json_object_get(doc, "partitions"), *w;

    assert_int_equal(json_integer_value(json_object_get(doc, "numPartitions")),
                     3);
    assert_string_equal(json_string_value(json_object_get(doc, "group")),
                        "chaperone-worker");
    assert_string_equal(json_string_value(json_object_get(doc, "groupState")),
                        "Stable");
    assert_int_equal(json_array_size(parts), 3);
    w = json_object_get(json_array_get(parts, 0), "worker");
    assert_string_equal(json_string_value(json_object_get(w, "clientId")),
                        "w1");
    assert_string_equal(json_string_value(json_object_get(w, "memberId")),
                        "w1-member");
    assert_string_equal(json_string_value(json_object_get(w, "host")),
                        "/127.0.0.1");
    assert_true(
        json_is_null(json_object_get(json_array_get(parts, 1), "worker")));
    w = json_object_get(json_array_get(parts, 2), "worker");
    assert_string_equal(json_string_value(json_object_get(w, "clientId")),
                        "w2");
    assert_int_equal(json_integer_value(json_object_get(
                         json_array_get(parts, 2), "partition")),
                     2);
    json_decref(doc);
}

/* ------------------------------------------------------------ detection */

static void test_detect_defaults(void **state)
{
    fixture_t *fx = *state;
    char err[256];
    size_t added = 0;

    /* dummyTopic, orders, _confluent-metrics: new and not excluded; black
     * stays blacklisted; `__` topics and the audit topic never. */
    assert_int_equal(ctl_detect_run(fx->ctl, &added, err, sizeof(err)), CHP_OK);
    assert_int_equal(added, 3);
    assert_int_equal(state_of(fx, "dummyTopic"), REG_AUDITED);
    assert_int_equal(state_of(fx, "orders"), REG_AUDITED);
    assert_int_equal(state_of(fx, "_confluent-metrics"), REG_AUDITED);
    assert_int_equal(state_of(fx, "black"), REG_BLACKLISTED);
    assert_int_equal(state_of(fx, "__consumer_offsets"), REG_ABSENT);
    assert_int_equal(state_of(fx, "chaperone-audit"), REG_ABSENT);
    assert_int_equal(state_of(fx, "__chaperone_topics"), REG_ABSENT);
    assert_int_equal(fx->fake.writes, 3);
    /* Nothing new the second time. */
    assert_int_equal(ctl_detect_run(fx->ctl, &added, err, sizeof(err)), CHP_OK);
    assert_int_equal(added, 0);
    assert_int_equal(fx->fake.writes, 3);
    /* A DELETE sticks: detection does not bring the topic back. */
    json_decref(expect(fx, "DELETE", "/topics/orders", NULL, 200));
    assert_int_equal(ctl_detect_run(fx->ctl, &added, err, sizeof(err)), CHP_OK);
    assert_int_equal(added, 0);
    assert_int_equal(state_of(fx, "orders"), REG_BLACKLISTED);
    assert_int_equal(metric_get(fx->ctl->m_auto_added), 3);
    assert_int_equal(metric_get(fx->ctl->m_detect_runs), 3);
}

static void test_detect_include_exclude(void **state)
{
    static const char *const kv[] = {"controller.exclude.regex", "^_|^dum",
                                     "controller.include.regex", "^(d|o|_)",
                                     NULL};
    fixture_t *fx = fixture_new(kv);
    char err[256];
    size_t added = 0;
    (void)state;

    assert_int_equal(ctl_detect_run(fx->ctl, &added, err, sizeof(err)), CHP_OK);
    assert_int_equal(added, 1);
    assert_int_equal(state_of(fx, "orders"), REG_AUDITED);
    assert_int_equal(state_of(fx, "dummyTopic"), REG_ABSENT);
    assert_int_equal(state_of(fx, "_confluent-metrics"), REG_ABSENT);
    /* Explicit requests are not subject to the detection filters. */
    json_decref(expect(fx, "POST", "/topics/dummyTopic", NULL, 201));
    fixture_free(fx);
}

static void test_detect_failures(void **state)
{
    fixture_t *fx = *state;
    char err[256];
    size_t added = 0;

    fx->fake.down = true;
    assert_int_equal(ctl_detect_run(fx->ctl, &added, err, sizeof(err)),
                     CHP_ERR_KAFKA);
    assert_non_null(strstr(err, "down"));
    fx->fake.down = false;
    fx->fake.write_fails = true;
    assert_int_equal(ctl_detect_run(fx->ctl, &added, err, sizeof(err)),
                     CHP_ERR_KAFKA);
    assert_int_equal(state_of(fx, "dummyTopic"), REG_ABSENT);
    assert_int_equal(metric_get(fx->ctl->m_detect_errors), 2);
    assert_int_equal(metric_get(fx->ctl->m_write_errors), 1);
}

static void test_bad_regex(void **state)
{
    chp_conf_t *conf = conf_daemon_new();
    metrics_t *m = metrics_new();
    ctl_cluster_t cl = {NULL, fake_list, fake_partitions, fake_write,
                        fake_group};
    char err[256];
    (void)state;

    assert_int_equal(
        chp_conf_set(conf, "controller.exclude.regex", "(", err, sizeof(err)),
        CHP_OK);
    assert_null(ctl_new(conf, &cl, m, err, sizeof(err)));
    assert_non_null(strstr(err, "controller.exclude.regex"));
    metrics_destroy(m);
    chp_conf_destroy(conf);
}

/* ------------------------------------------------------------ over HTTP */

/* What only the HTTP layer does: the body limit (413, JSON), and that the
 * handler answers routes the defaults would otherwise take. */
static void test_over_http(void **state)
{
    fixture_t *fx = *state;
    char err[256];
    http_server_t *s =
        http_server_start("127.0.0.1", 0, 1024, ctl_rest_handle, fx->ctl,
                          fx->metrics, err, sizeof(err));
    char big[4096];
    httpc_resp_t r;
    int port;

    assert_non_null(s);
    port = http_server_port(s);
    memset(big, ' ', sizeof(big));
    memcpy(big, "{\"topic\":\"dummyTopic\"}", 22);
    assert_int_equal(
        httpc_request(port, "POST", "/topics", big, sizeof(big), 10000, &r), 0);
    assert_int_equal(r.status, 413);
    assert_non_null(strstr(r.body, "\"error\""));
    httpc_free(&r);
    assert_int_equal(state_of(fx, "dummyTopic"), REG_ABSENT);

    assert_int_equal(httpc_request(port, "POST", "/topics",
                                   "{\"topic\":\"dummyTopic\"}", 22, 10000, &r),
                     0);
    assert_int_equal(r.status, 201);
    httpc_free(&r);
    assert_int_equal(httpc_request(port, "GET", "/nope", NULL, 0, 10000, &r),
                     0);
    assert_int_equal(r.status, 404);
    assert_non_null(strstr(r.body, "\"error\""));
    httpc_free(&r);
    /* Percent-decoded before routing: an illegal name, not a new path. */
    assert_int_equal(
        httpc_request(port, "GET", "/topics/a%20b", NULL, 0, 10000, &r), 0);
    assert_int_equal(r.status, 400);
    httpc_free(&r);
    assert_int_equal(httpc_request(port, "GET", "/health", NULL, 0, 10000, &r),
                     0);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "OK");
    httpc_free(&r);
    http_server_stop(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_requests),
        cmocka_unit_test_setup_teardown(test_health_and_metrics, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_get_topics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_original_body, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_post_variants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_post_unblacklists, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_put_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delete, setup, teardown),
        cmocka_unit_test_setup_teardown(test_get_topic_assignment, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_detect_defaults, setup, teardown),
        cmocka_unit_test(test_detect_include_exclude),
        cmocka_unit_test_setup_teardown(test_detect_failures, setup, teardown),
        cmocka_unit_test(test_bad_regex),
        cmocka_unit_test_setup_teardown(test_over_http, setup, teardown),
    };

    chp_log_set_level(CHP_LOG_WARN); /* the handler logs every change */
    return cmocka_run_group_tests(tests, NULL, NULL);
}
