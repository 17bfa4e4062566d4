/* api.c - see api.h: routing, parameter checks, and the store reads
 * behind the JSON endpoints and the dashboard pages. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>

#include "collector/store.h"
#include "conf.h"
#include "log.h"
#include "report/api.h"
#include "report/api_priv.h"
#include "report/dashboard.h"
#include "report/format.h"
#include "report/pipeline_format.h"
#include "conf_daemon_keys.h"

api_t *api_new(const chp_conf_t *conf, char *errstr, size_t errstr_size)
{
    const char *url = chp_conf_get_str(conf, CHP_KEY_DB_URL);
    store_kind_t kind;
    api_t *api;

    if (store_kind_for_url(url, &kind, errstr, errstr_size))
        return NULL;
    if (!(api = calloc(1, sizeof(*api))) || !(api->url = strdup(url)) ||
        !(api->pipeline =
              strdup(chp_conf_get_str(conf, CHP_KEY_REPORT_PIPELINE)))) {
        if (api)
            free(api->url);
        free(api);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&api->lock, NULL);
    snprintf(api->reference, sizeof(api->reference), "%s",
             chp_conf_get_str(conf, CHP_KEY_REPORT_REFERENCE_TIER));
    api->max_loss =
        chp_conf_get_double(conf, CHP_KEY_REPORT_MAX_LOSS_PERCENT) / 100;
    api->lateness_s = chp_conf_get_int(conf, CHP_KEY_REPORT_LATENESS_S);
    api->metrics_topics =
        (size_t)chp_conf_get_int(conf, CHP_KEY_COLLECTOR_METRICS_TOPICS);
    api->metrics_window_s =
        chp_conf_get_int(conf, CHP_KEY_COLLECTOR_METRICS_WINDOW_S);
    return api;
}

void api_destroy(api_t *api)
{
    if (!api)
        return;
    if (api->s)
        store_close(api->s);
    pthread_mutex_destroy(&api->lock);
    free(api->url);
    free(api->pipeline);
    free(api->metrics_text);
    free(api);
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

    if (!api_take_params(c, allowed, v) ||
        !api_take_range(c, v[0], v[1], now, &from, &to) || !api_store_ready(c))
        return;
    if ((e = rep_topics(api->s, &names, &n, err, sizeof(err)))) {
        api_db_failed(c, e, err);
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
        api_fail(c, 500, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        rep_grid_t g;
        rep_summary_t s;
        if ((e = rep_load(api->s, names[i], from, to, api->reference, &g, err,
                          sizeof(err)))) {
            rep_grid_free(&g);
            api_db_failed(c, e, err);
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
    view.pipeline_arg = *api->pipeline ? api->pipeline : NULL;
    view.to = to;
    if (c->html)
        api_answer(c, dash_index_html(rows, n, &view),
                   "text/html; charset=utf-8");
    else
        api_answer(c, rep_json_text(doc, false), "application/json");
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

    if (!api_take_params(c, kind == VIEW_BUCKETS ? without_ref : with_ref, v) ||
        !api_take_range(c, v[0], v[1], now, &from, &to) ||
        !api_take_reference(c, v[2], &reference) || !api_topic_known(c, topic))
        return;
    if ((e = rep_load(api->s, topic, from, to, reference, &g, err,
                      sizeof(err)))) {
        api_db_failed(c, e, err);
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
                            .reference_arg = v[2],
                            .pipeline_arg =
                                *api->pipeline ? api->pipeline : NULL};
        api_answer(c, dash_topic_html(&g, &view), "text/html; charset=utf-8");
    } else {
        api_answer_json(c, kind == VIEW_BUCKETS ? rep_buckets_json(&g)
                                                : rep_grid_json(&g));
    }
out:
    rep_grid_free(&g);
}

/* The pipeline of a request: ?pipeline= or report.pipeline; false after
 * answering 400 (bad or none). */
static bool take_pipeline(call_t *c, const char *arg, rep_pipe_spec_t *spec)
{
    char err[512];

    if (rep_pipe_spec_parse(arg ? arg : c->api->pipeline, spec, err,
                            sizeof(err)) != CHP_OK) {
        api_fail(c, 400, "%s: %s", arg ? "pipeline" : CHP_KEY_REPORT_PIPELINE,
                 err);
        return false;
    }
    if (spec->n == 0) {
        api_fail(c, 400,
                 "no pipeline: give ?pipeline=TIER,TIER,... or "
                 "set " CHP_KEY_REPORT_PIPELINE);
        return false;
    }
    return true;
}

/* /api/v1/topics/{topic}/pipeline and the dashboard's /pipeline/{topic}
 * (with ?hop=N: that hop's buckets). */
static void topic_pipeline(call_t *c, const char *topic)
{
    static const char *const page[] = {"from", "to", "pipeline", "hop", NULL};
    static const char *const api_params[] = {"from", "to", "pipeline", NULL};
    const char *v[4] = {NULL, NULL, NULL, NULL};
    api_t *api = c->api;
    int64_t now = (int64_t)time(NULL), from, to;
    rep_pipe_spec_t spec;
    rep_pipe_t p = {0};
    long hop = -1;
    char err[1024], *end;
    chp_err_t e;

    if (!api_take_params(c, c->html ? page : api_params, v) ||
        !api_take_range(c, v[0], v[1], now, &from, &to) ||
        !take_pipeline(c, v[2], &spec))
        return;
    if (v[3]) {
        hop = strtol(v[3], &end, 10);
        if (*end || hop < 0 || (size_t)hop + 1 >= spec.n) {
            api_fail(c, 400, "hop: expected 0 to %zu (the hop's index)",
                     spec.n - 2);
            return;
        }
    }
    if (!api_topic_known(c, topic))
        return;
    if ((e = rep_pipe_load(api->s, topic, from, to, &spec, &p, err,
                           sizeof(err)))) {
        api_db_failed(c, e, err);
        goto out;
    }
    if (c->html) {
        dash_view_t view = {.from = from,
                            .to = to,
                            .now = now,
                            .max_loss = api->max_loss,
                            .lateness_s = api->lateness_s,
                            .from_arg = v[0],
                            .to_arg = v[1],
                            .pipeline_arg = v[2]};
        api_answer(c, dash_pipeline_html(&p, &view, hop),
                   "text/html; charset=utf-8");
    } else {
        json_t *doc = rep_pipe_json(&p);
        if (doc && (json_object_set_new(doc, "maxLossPercent",
                                        json_real(api->max_loss * 100)) ||
                    json_object_set_new(doc, "latenessS",
                                        json_integer(api->lateness_s)) ||
                    json_object_set_new(
                        doc, "violations",
                        rep_pipe_violations_json(&p, api->max_loss,
                                                 api->lateness_s, now)))) {
            json_decref(doc);
            doc = NULL;
        }
        api_answer_json(c, doc);
    }
out:
    rep_pipe_free(&p);
}

/* /api/v1/topics/{topic}/{what}: splits path after the prefix. */
static void api_topic_route(call_t *c, const char *rest)
{
    const char *slash = strchr(rest, '/');
    char topic[CHP_NAME_MAX];
    size_t len = slash ? (size_t)(slash - rest) : strlen(rest);

    if (!slash || strchr(slash + 1, '/')) {
        api_fail(c, 404,
                 "no such endpoint (expected /api/v1/topics/{topic}/"
                 "buckets or /api/v1/topics/{topic}/completeness)");
        return;
    }
    if (len == 0 || len >= sizeof(topic)) {
        api_fail(c, 400, "topic name: must be 1 to 249 characters");
        return;
    }
    memcpy(topic, rest, len);
    topic[len] = '\0';
    if (!strcmp(slash + 1, "buckets"))
        topic_view(c, topic, VIEW_BUCKETS);
    else if (!strcmp(slash + 1, "completeness"))
        topic_view(c, topic, VIEW_COMPLETENESS);
    else if (!strcmp(slash + 1, "pipeline"))
        topic_pipeline(c, topic);
    else if (!strcmp(slash + 1, "watermark"))
        api_topic_watermark(c, topic);
    else
        api_fail(c, 404,
                 "no such endpoint: /api/v1/topics/{topic}/%.64s "
                 "(expected buckets, completeness, pipeline or watermark)",
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
    bool is_pipe_page = !strncmp(path, "/pipeline/", 10);
    bool is_page = !strcmp(path, "/") || !strcmp(path, "/index.html") ||
                   !strncmp(path, "/topic/", 7) || is_pipe_page;

    if (!strcmp(path, "/metrics") && api->metrics && is_get(method)) {
        pthread_mutex_lock(&api->lock);
        api_metrics(&c);
        pthread_mutex_unlock(&api->lock);
        return;
    }
    if (!is_api && !is_page)
        return; /* not ours: the server's defaults apply */
    c.html = is_page;
    if (!is_get(method)) {
        api_fail(&c, 405, "method %s not allowed on %s (only GET)", method,
                 path);
        return;
    }
    pthread_mutex_lock(&api->lock);
    if (!strcmp(path, topics_path) || !strcmp(path, "/") ||
        !strcmp(path, "/index.html"))
        topics(&c);
    else if (!strncmp(path, topics_path, sizeof(topics_path) - 1) &&
             path[sizeof(topics_path) - 1] == '/')
        api_topic_route(&c, path + sizeof(topics_path));
    else if (is_pipe_page && path[10] && !strchr(path + 10, '/') &&
             strlen(path + 10) < CHP_NAME_MAX)
        topic_pipeline(&c, path + 10);
    else if (is_page && !is_pipe_page && path[7] && !strchr(path + 7, '/'))
        topic_view(&c, path + 7, VIEW_PAGE);
    else
        api_fail(&c, 404, "no such endpoint: %.128s", path);
    pthread_mutex_unlock(&api->lock);
}

void api_set_metrics(api_t *api, metrics_t *m)
{
    api->metrics = m;
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
