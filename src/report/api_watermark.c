/* api_watermark.c - the completeness watermark and the completeness
 * metrics of the query API (docs/report.md, "Watermark";
 * docs/operations.md, "Alerting"):
 *
 *   GET /api/v1/topics/{topic}/watermark[?tiers=a,b,...&from=]
 *   GET /metrics   the collector's registry, then per topic (at most
 *                  collector.metrics.topics) the completeness gauges of
 *                  the last collector.metrics.window.s, recomputed at most
 *                  every API_METRICS_TTL_S */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/store.h"
#include "log.h"
#include "report/api_priv.h"
#include "buf.h"
#include "report/promcomplete.h"
#include "report/watermark.h"
#include "conf_daemon_keys.h"

#define API_METRICS_TTL_S 30

static json_t *blocked_json(const rep_watermark_t *w)
{
    char when[REP_TIME_MAX];
    json_t *o;

    if (!w->blocked)
        return json_null();
    rep_format_time(w->blocked_begin, when);
    o = json_object();
    json_object_set_new(o, "bucket", json_integer(w->blocked_begin));
    json_object_set_new(o, "time", json_string(when));
    json_object_set_new(o, "tier", json_string(w->blocked_tier));
    json_object_set_new(o, "count",
                        json_integer((json_int_t)w->blocked_cmp.count));
    json_object_set_new(o, "referenceCount",
                        json_integer((json_int_t)w->blocked_cmp.ref_count));
    return o;
}

static json_t *watermark_json(const rep_grid_t *g, char **tiers, size_t n_tiers,
                              const rep_watermark_t *w, const api_t *api)
{
    json_t *o = json_object(), *list = json_array();
    char when[REP_TIME_MAX];

    json_object_set_new(o, "topic", json_string(g->topic));
    if (n_tiers)
        for (size_t i = 0; i < n_tiers; i++)
            json_array_append_new(list, json_string(tiers[i]));
    else
        for (size_t t = 0; t < g->n_tiers; t++)
            json_array_append_new(list, json_string(g->tiers[t]));
    json_object_set_new(o, "tiers", list);
    json_object_set_new(o, "reference",
                        g->n_tiers ? json_string(g->tiers[g->ref])
                                   : json_null());
    rep_format_time(w->until, when);
    json_object_set_new(o, "watermark",
                        w->have_until ? json_integer(w->until) : json_null());
    json_object_set_new(o, "watermarkTime",
                        w->have_until ? json_string(when) : json_null());
    json_object_set_new(o, "completeBuckets",
                        json_integer((json_int_t)w->complete_buckets));
    json_object_set_new(o, "openBucket", json_boolean(w->open_bucket));
    json_object_set_new(o, "blocked", blocked_json(w));
    json_object_set_new(o, "maxLossPercent", json_real(api->max_loss * 100));
    json_object_set_new(o, "latenessS", json_integer(api->lateness_s));
    return o;
}

void api_topic_watermark(call_t *c, const char *topic)
{
    static const char *const allowed[] = {"tiers", "from", NULL};
    const char *v[2];
    char **tiers = NULL, err[1024];
    size_t n_tiers = 0;
    int64_t now = (int64_t)time(NULL), from, to;
    const char *list;
    rep_grid_t g;
    rep_watermark_t w;
    chp_err_t e;

    if (!api_take_params(c, allowed, v) ||
        !api_take_range(c, v[1], NULL, now, &from, &to) ||
        !api_topic_known(c, topic))
        return;
    list = v[0] ? v[0] : c->api->pipeline;
    if (*list &&
        rep_split_tiers(list, &tiers, &n_tiers, err, sizeof(err)) != CHP_OK) {
        api_fail(c, 400, "%s: %s", v[0] ? "tiers" : CHP_KEY_REPORT_PIPELINE,
                 err);
        return;
    }
    /* The first tier listed is the reference the others must match. */
    e = rep_load(c->api->s, topic, from, to,
                 n_tiers ? tiers[0] : c->api->reference, &g, err, sizeof(err));
    if (e != CHP_OK) {
        api_db_failed(c, e, err);
    } else {
        rep_watermark(&g, (const char *const *)tiers, n_tiers, c->api->max_loss,
                      c->api->lateness_s, now, &w);
        api_answer_json(c, watermark_json(&g, tiers, n_tiers, &w, c->api));
    }
    rep_grid_free(&g);
    free(tiers);
}

/* Recomputes the completeness samples (lock held, store ready). */
static char *completeness_text(api_t *api, int64_t now)
{
    chp_buf_t b = {0};
    char **names = NULL, err[1024];
    size_t n = 0;

    if (rep_topics(api->s, &names, &n, err, sizeof(err)) != CHP_OK) {
        chp_log_warn("api: completeness metrics: %s", err);
        return NULL;
    }
    rep_prom_header(&b);
    for (size_t i = 0; i < n && i < api->metrics_topics; i++) {
        rep_grid_t g;
        if (rep_load(api->s, names[i], now - api->metrics_window_s, now,
                     api->reference, &g, err, sizeof(err)) == CHP_OK)
            rep_prom_topic(&b, &g, api->max_loss, api->lateness_s, now);
        else
            chp_log_warn("api: completeness metrics of %s: %s", names[i], err);
        rep_grid_free(&g);
    }
    rep_topics_free(names);
    return chp_buf_take(&b);
}

void api_metrics(call_t *c)
{
    api_t *api = c->api;
    int64_t now = (int64_t)time(NULL);
    char *reg = NULL;
    size_t reg_len = 0;
    chp_buf_t b = {0};

    if (metrics_render(api->metrics, &reg, &reg_len) != CHP_OK) {
        api_fail(c, 500, "cannot render metrics");
        return;
    }
    chp_buf_putn(&b, reg, reg_len);
    free(reg);
    if (api->metrics_topics > 0 && now - api->metrics_at >= API_METRICS_TTL_S) {
        c->html = false;
        /* A database that is down costs the completeness samples, not the
         * daemon's own metrics: those are what says it is down. */
        char err[512];
        if (!api->s &&
            store_open(api->url, &api->s, err, sizeof(err)) != CHP_OK)
            api->s = NULL;
        if (api->s) {
            free(api->metrics_text);
            api->metrics_text = completeness_text(api, now);
            api->metrics_at = now;
        }
    }
    if (api->metrics_text)
        chp_buf_puts(&b, api->metrics_text);
    api_answer(c, chp_buf_take(&b), "text/plain; version=0.0.4");
}
