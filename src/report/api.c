/* api.c - see api.h: routing, parameter checks, and the store reads
 * behind the JSON endpoints and the dashboard pages. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "conf.h"
#include "log.h"
#include "report/api.h"
#include "report/dashboard.h"
#include "report/format.h"

struct api {
    pthread_mutex_t lock; /* the store and everything below */
    char *url;
    char reference[CHP_NAME_MAX];
    double max_loss;
    int64_t lateness_s;
    const store_ops_t *ops;
    store_t *s; /* NULL until the first request that reaches the database */
    int64_t open_failed_logged_s;
};

/* A request being answered. */
typedef struct call {
    api_t *api;
    const api_param_t *params;
    size_t n_params;
    http_resp_t *resp;
    bool html; /* errors as an HTML page, not JSON */
} call_t;

api_t *api_new(const chp_conf_t *conf, char *errstr, size_t errstr_size)
{
    const char *url = chp_conf_get_str(conf, "db.url");
    api_t *api;

    if (!store_ops_for_url(url, errstr, errstr_size))
        return NULL;
    if (!(api = calloc(1, sizeof(*api))) || !(api->url = strdup(url))) {
        free(api);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&api->lock, NULL);
    snprintf(api->reference, sizeof(api->reference), "%s",
             chp_conf_get_str(conf, "report.reference.tier"));
    api->max_loss = chp_conf_get_double(conf, "report.max.loss.percent") / 100;
    api->lateness_s = chp_conf_get_int(conf, "report.lateness.s");
    return api;
}

void api_destroy(api_t *api)
{
    if (!api)
        return;
    if (api->s)
        api->ops->close(api->s);
    pthread_mutex_destroy(&api->lock);
    free(api->url);
    free(api);
}

/* ------------------------------------------------------------ answers */

static void fail(call_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void fail(call_t *c, int status, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (!c->html) {
        http_reply_error(c->resp, status, "%s", msg);
        return;
    }
    free(c->resp->body);
    c->resp->body = dash_error_html(status, msg);
    c->resp->body_len = c->resp->body ? strlen(c->resp->body) : 0;
    c->resp->status = c->resp->body ? status : 500;
    c->resp->content_type = "text/html; charset=utf-8";
}

/* Answers 200 with text (taken, malloc()ed; NULL: out of memory). */
static void answer(call_t *c, char *text, const char *content_type)
{
    if (!text) {
        fail(c, 500, "out of memory");
        return;
    }
    free(c->resp->body);
    c->resp->status = 200;
    c->resp->content_type = content_type;
    c->resp->body = text;
    c->resp->body_len = strlen(text);
}

static void answer_json(call_t *c, json_t *doc)
{
    answer(c, rep_json_text(doc, false), "application/json");
    json_decref(doc);
}

/* ------------------------------------------------------------ params */

/* Checks the parameters against the allowed names (NULL-terminated) and
 * stores their values in vals (same order; NULL when absent).  false after
 * answering 400. */
static bool take_params(call_t *c, const char *const *allowed,
                        const char **vals)
{
    size_t n_allowed = 0;
    char list[128] = "";

    while (allowed[n_allowed]) {
        size_t o = strlen(list);
        snprintf(list + o, sizeof(list) - o, "%s%s", n_allowed ? ", " : "",
                 allowed[n_allowed]);
        vals[n_allowed++] = NULL;
    }
    if (c->n_params > API_MAX_PARAMS) {
        fail(c, 400, "too many query parameters (at most %d)", API_MAX_PARAMS);
        return false;
    }
    for (size_t i = 0; i < c->n_params; i++) {
        const api_param_t *p = &c->params[i];
        size_t k = 0;
        while (k < n_allowed && strcmp(allowed[k], p->name))
            k++;
        if (k == n_allowed) {
            fail(c, 400, "unknown query parameter \"%.64s\" (expected %s)",
                 p->name, n_allowed ? list : "none");
            return false;
        }
        if (vals[k]) {
            fail(c, 400, "query parameter \"%s\" given twice", p->name);
            return false;
        }
        if (!p->value || !*p->value) {
            fail(c, 400, "query parameter \"%s\" is empty", p->name);
            return false;
        }
        vals[k] = p->value;
    }
    return true;
}

static bool take_range(call_t *c, const char *from_s, const char *to_s,
                       int64_t now, int64_t *from, int64_t *to)
{
    char err[512];

    if (rep_parse_range(from_s, to_s, "from", "to", now, from, to, err,
                        sizeof(err)) != CHP_OK) {
        fail(c, 400, "%s", err);
        return false;
    }
    return true;
}

/* The reference of a request: ?reference= or report.reference.tier. */
static bool take_reference(call_t *c, const char *arg, const char **out)
{
    json_t *utf8 = arg ? json_string(arg) : NULL; /* NULL: not UTF-8 */
    bool ok = !arg || (utf8 && rep_tier_name_ok(arg));

    json_decref(utf8);
    if (!ok) {
        fail(c, 400,
             "reference: not a tier name (too long, control characters "
             "or not UTF-8)");
        return false;
    }
    *out = arg ? arg : c->api->reference;
    return true;
}

/* ------------------------------------------------------------ the store */

/* The API's connection, opened on first use; false after answering 503.
 * Called with the lock held. */
static bool store_ready(call_t *c)
{
    api_t *api = c->api;
    char err[1024];

    if (api->s)
        return true;
    if (store_open(api->url, &api->ops, &api->s, err, sizeof(err)) == CHP_OK)
        return true;
    api->s = NULL;
    /* Once a minute at most: a dashboard left open polls. */
    if ((int64_t)time(NULL) - api->open_failed_logged_s >= 60) {
        chp_warn("api: database unavailable: %s", err);
        api->open_failed_logged_s = (int64_t)time(NULL);
    }
    fail(c, 503, "database unavailable: %s", err);
    return false;
}

static void db_failed(call_t *c, chp_err_t err, const char *msg)
{
    fail(c, err == CHP_ERR_NOMEM ? 500 : 503, "database error: %s", msg);
}

/* Checks the topic of a path; false after answering 400 or 404.  Called
 * with the lock held and the store ready. */
static bool topic_known(call_t *c, const char *topic)
{
    char err[1024];
    bool exists;
    chp_err_t e;

    if (!chp_conf_topic_name_ok(topic, strlen(topic))) {
        fail(c, 400,
             "\"%.64s\" is not a legal topic name (1 to 249 of "
             "a-z A-Z 0-9 . _ -)",
             topic);
        return false;
    }
    if (!store_ready(c))
        return false;
    if ((e = rep_topic_exists(c->api->ops, c->api->s, topic, &exists, err,
                              sizeof(err))) != CHP_OK) {
        db_failed(c, e, err);
        return false;
    }
    if (!exists) {
        fail(c, 404, "unknown topic \"%s\": no audit data is stored for it",
             topic);
        return false;
    }
    return true;
}

/* ------------------------------------------------------------ endpoints */

static json_t *summary_json(const rep_grid_t *g, const rep_summary_t *s)
{
    const rep_check_stats_t *k = &s->check;
    json_t *o = json_object(), *tiers = json_array();
    char when[REP_TIME_MAX];

    json_object_set_new(o, "topic", json_string(g->topic));
    json_object_set_new(o, "reference",
                        g->n_tiers ? json_string(g->tiers[g->ref])
                                   : json_null());
    for (size_t t = 0; t < g->n_tiers; t++)
        json_array_append_new(tiers, json_string(g->tiers[t]));
    json_object_set_new(o, "tiers", tiers);
    json_object_set_new(o, "buckets", json_integer((json_int_t)s->buckets));
    json_object_set_new(o, "finalBuckets",
                        json_integer((json_int_t)k->final_buckets));
    json_object_set_new(o, "lossyBuckets",
                        json_integer((json_int_t)k->bad_buckets));
    json_object_set_new(o, "unexpectedBuckets",
                        json_integer((json_int_t)s->unexpected_buckets));
    json_object_set_new(o, "worstCompleteness",
                        k->have_worst && !k->worst.unexpected
                            ? json_real(k->worst.ratio)
                            : json_null());
    json_object_set_new(o, "worstUnexpected",
                        json_boolean(k->have_worst && k->worst.unexpected));
    json_object_set_new(o, "worstTier",
                        k->have_worst ? json_string(k->worst_tier)
                                      : json_null());
    rep_format_time(k->worst_begin, when);
    json_object_set_new(o, "worstBucket",
                        k->have_worst ? json_integer(k->worst_begin)
                                      : json_null());
    json_object_set_new(o, "worstTime",
                        k->have_worst ? json_string(when) : json_null());
    return o;
}

/* /api/v1/topics and the dashboard's index: every topic summarised. */
static void topics(call_t *c)
{
    static const char *const allowed[] = {"from", "to", NULL};
    const char *v[2];
    api_t *api = c->api;
    int64_t now = (int64_t)time(NULL), from, to;
    char **names = NULL, err[1024];
    size_t n = 0;
    json_t *doc = NULL, *list = NULL;
    dash_row_t *rows = NULL;
    dash_view_t view = {
        .now = now, .max_loss = api->max_loss, .lateness_s = api->lateness_s};
    chp_err_t e;

    if (!take_params(c, allowed, v) ||
        !take_range(c, v[0], v[1], now, &from, &to) || !store_ready(c))
        return;
    if ((e = rep_topics(api->ops, api->s, &names, &n, err, sizeof(err)))) {
        db_failed(c, e, err);
        return;
    }
    if (c->html) {
        rows = calloc(n + 1, sizeof(*rows));
    } else {
        doc = json_pack("{s:I, s:I, s:f, s:I}", "from", (json_int_t)from, "to",
                        (json_int_t)to, "maxLossPercent", api->max_loss * 100,
                        "latenessS", (json_int_t)api->lateness_s);
        list = json_array();
        json_object_set_new(doc, "topics", list);
    }
    if (c->html ? !rows : !doc || !list) {
        fail(c, 500, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rep_grid_t g;
        rep_summary_t s;
        if ((e = rep_load(api->ops, api->s, names[i], from, to, api->reference,
                          &g, err, sizeof(err)))) {
            rep_grid_free(&g);
            db_failed(c, e, err);
            goto out;
        }
        rep_grid_summary(&g, api->max_loss, api->lateness_s, now, &s);
        if (c->html)
            dash_row_fill(&rows[i], &g, api->max_loss, api->lateness_s, now);
        else
            json_array_append_new(list, summary_json(&g, &s));
        rep_grid_free(&g);
    }
    view.from = from;
    view.to = to;
    if (c->html)
        answer(c, dash_index_html(rows, n, &view), "text/html; charset=utf-8");
    else
        answer(c, rep_json_text(doc, false), "application/json");
out:
    json_decref(doc);
    free(rows);
    rep_topics_free(names);
}

typedef enum view_kind {
    VIEW_BUCKETS,
    VIEW_COMPLETENESS,
    VIEW_PAGE
} view_kind_t;

/* One topic's grid as the buckets or completeness document, or its
 * dashboard page. */
static void topic_view(call_t *c, const char *topic, view_kind_t kind)
{
    static const char *const with_ref[] = {"from", "to", "reference", NULL};
    static const char *const without_ref[] = {"from", "to", NULL};
    const char *v[3] = {NULL, NULL, NULL}, *reference;
    api_t *api = c->api;
    int64_t now = (int64_t)time(NULL), from, to;
    rep_grid_t g = {0};
    char err[1024];
    chp_err_t e;

    if (!take_params(c, kind == VIEW_BUCKETS ? without_ref : with_ref, v) ||
        !take_range(c, v[0], v[1], now, &from, &to) ||
        !take_reference(c, v[2], &reference) || !topic_known(c, topic))
        return;
    if ((e = rep_load(api->ops, api->s, topic, from, to, reference, &g, err,
                      sizeof(err)))) {
        db_failed(c, e, err);
        goto out;
    }
    if (kind == VIEW_PAGE) {
        dash_view_t view = {.from = from,
                            .to = to,
                            .now = now,
                            .max_loss = api->max_loss,
                            .lateness_s = api->lateness_s,
                            .from_arg = v[0],
                            .to_arg = v[1],
                            .reference_arg = v[2]};
        answer(c, dash_topic_html(&g, &view), "text/html; charset=utf-8");
    } else {
        answer_json(c, kind == VIEW_BUCKETS ? rep_buckets_json(&g)
                                            : rep_grid_json(&g));
    }
out:
    rep_grid_free(&g);
}

/* /api/v1/topics/{topic}/{what}: splits path after the prefix. */
static void api_topic_route(call_t *c, const char *rest)
{
    const char *slash = strchr(rest, '/');
    char topic[CHP_NAME_MAX];
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);

    if (!slash || strchr(slash + 1, '/')) {
        fail(c, 404,
             "no such endpoint (expected /api/v1/topics/{topic}/"
             "buckets or /api/v1/topics/{topic}/completeness)");
        return;
    }
    if (len == 0 || len >= sizeof(topic)) {
        fail(c, 400, "topic name: must be 1 to 249 characters");
        return;
    }
    memcpy(topic, rest, len);
    topic[len] = '\0';
    if (!strcmp(slash + 1, "buckets"))
        topic_view(c, topic, VIEW_BUCKETS);
    else if (!strcmp(slash + 1, "completeness"))
        topic_view(c, topic, VIEW_COMPLETENESS);
    else
        fail(c, 404,
             "no such endpoint: /api/v1/topics/{topic}/%.64s "
             "(expected buckets or completeness)",
             slash + 1);
}

/* ------------------------------------------------------------ routing */

static bool is_get(const char *method)
{
    /* libmicrohttpd answers HEAD with the headers of the GET. */
    return !strcmp(method, "GET") || !strcmp(method, "HEAD");
}

void api_dispatch(api_t *api, const char *method, const char *path,
                  const api_param_t *params, size_t n_params, http_resp_t *resp)
{
    static const char topics_path[] = "/api/v1/topics";
    call_t c = {
        .api = api, .params = params, .n_params = n_params, .resp = resp};
    bool is_api = !strcmp(path, "/api") || !strncmp(path, "/api/", 5);
    bool is_page = !strcmp(path, "/") || !strcmp(path, "/index.html") ||
                   !strncmp(path, "/topic/", 7);

    if (!is_api && !is_page)
        return; /* not ours: the server's defaults apply */
    c.html = is_page;
    if (!is_get(method)) {
        fail(&c, 405, "method %s not allowed on %s (only GET)", method, path);
        return;
    }
    pthread_mutex_lock(&api->lock);
    if (!strcmp(path, topics_path) || !strcmp(path, "/") ||
        !strcmp(path, "/index.html"))
        topics(&c);
    else if (!strncmp(path, topics_path, sizeof(topics_path) - 1) &&
             path[sizeof(topics_path) - 1] == '/')
        api_topic_route(&c, path + sizeof(topics_path));
    else if (is_page && path[7] && !strchr(path + 7, '/'))
        topic_view(&c, path + 7, VIEW_PAGE);
    else
        fail(&c, 404, "no such endpoint: %.128s", path);
    pthread_mutex_unlock(&api->lock);
}

typedef struct collect {
    api_param_t v[API_MAX_PARAMS + 1];
    size_t n;
} collect_t;

static enum MHD_Result on_arg(void *cls, enum MHD_ValueKind kind,
                              const char *key, const char *value)
{
    collect_t *p = cls;
    (void)kind;

    /* One more than allowed is kept so the limit can be reported. */
    if (p->n < API_MAX_PARAMS + 1)
        p->v[p->n++] = (api_param_t){.name = key, .value = value};
    return MHD_YES;
}

void api_handle(const http_req_t *req, http_resp_t *resp, void *opaque)
{
    collect_t p = {.n = 0};

    if (req->conn)
        MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, on_arg, &p);
    api_dispatch(opaque, req->method, req->path, p.v, p.n, resp);
}
