/* api_priv.h - what the query API's files share (api.c: routing and the
 * grid endpoints; api_call.c: answers, parameters, the store connection;
 * api_watermark.c: the watermark and the completeness metrics).  Private
 * to src/report/. */
#ifndef CHP_REPORT_API_PRIV_H
#define CHP_REPORT_API_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "report/api.h"
#include "report/report.h"

struct api {
    pthread_mutex_t lock; /* the store and everything below */
    char *url;
    char reference[CHP_NAME_MAX];
    char *pipeline; /* report.pipeline, "" when none */
    double max_loss;
    int64_t lateness_s;
    store_t *s; /* NULL until the first request that reaches the database */
    int64_t open_failed_logged_s;
    /* GET /metrics (api_set_metrics): the registry, then the completeness
     * samples, cached for API_METRICS_TTL_S. */
    metrics_t *metrics;
    size_t metrics_topics;    /* collector.metrics.topics */
    int64_t metrics_window_s; /* collector.metrics.window.s */
    char *metrics_text;       /* NULL: none yet */
    int64_t metrics_at;
};

/* A request being answered. */
typedef struct call {
    api_t *api;
    const api_param_t *params;
    size_t n_params;
    http_resp_t *resp;
    bool html; /* errors as an HTML page, not JSON */
} call_t;

/* Answers: an error as JSON (or an HTML page when c->html), 200 with a
 * text (taken; NULL: out of memory) or a JSON document (taken). */
void api_fail(call_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void api_answer(call_t *c, char *text, const char *content_type);
void api_answer_json(call_t *c, json_t *doc);

/* Checks the query parameters against allowed (NULL-terminated) and
 * stores their values in vals (same order; NULL when absent); false after
 * answering 400. */
bool api_take_params(call_t *c, const char *const *allowed, const char **vals);
/* ?from= and ?to= (defaults: the last 24 hours); false after a 400. */
bool api_take_range(call_t *c, const char *from_s, const char *to_s,
                    int64_t now, int64_t *from, int64_t *to);
/* ?reference= or report.reference.tier; false after a 400. */
bool api_take_reference(call_t *c, const char *arg, const char **out);

/* The API's store connection, opened on first use; false after answering
 * 503.  Called with api->lock held. */
bool api_store_ready(call_t *c);
/* Answers a failed store call: 500 when out of memory, else 503. */
void api_db_failed(call_t *c, chp_err_t err, const char *msg);
/* Checks the topic of a path (legal, stored); false after a 400 or 404.
 * Called with the lock held. */
bool api_topic_known(call_t *c, const char *topic);

/* GET /api/v1/topics/{topic}/watermark (api_watermark.c). */
void api_topic_watermark(call_t *c, const char *topic);
/* GET /metrics when api->metrics is set (api_watermark.c). */
void api_metrics(call_t *c);

#endif
