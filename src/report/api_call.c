/* api_call.c - the query API's answers, parameter checks and store
 * connection (api_priv.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/store.h"
#include "conf.h"
#include "log.h"
#include "report/api_priv.h"
#include "report/dashboard.h"
#include "report/format.h"

/* ------------------------------------------------------------ answers */

void api_fail(call_t *c, int status, const char *fmt, ...)
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
void api_answer(call_t *c, char *text, const char *content_type)
{
    if (!text) {
        api_fail(c, 500, "out of memory");
        return;
    }
    free(c->resp->body);
    c->resp->status = 200;
    c->resp->content_type = content_type;
    c->resp->body = text;
    c->resp->body_len = strlen(text);
}

void api_answer_json(call_t *c, json_t *doc)
{
    api_answer(c, rep_json_text(doc, false), "application/json");
    json_decref(doc);
}

/* ------------------------------------------------------------ params */

/* Checks the parameters against the allowed names (NULL-terminated) and
 * stores their values in vals (same order; NULL when absent).  false after
 * answering 400. */
bool api_take_params(call_t *c, const char *const *allowed, const char **vals)
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
        api_fail(c, 400, "too many query parameters (at most %d)",
                 API_MAX_PARAMS);
        return false;
    }
    for (size_t i = 0; i < c->n_params; i++) {
        const api_param_t *p = &c->params[i];
        size_t k = 0;
        while (k < n_allowed && strcmp(allowed[k], p->name))
            k++;
        if (k == n_allowed) {
            api_fail(c, 400, "unknown query parameter \"%.64s\" (expected %s)",
                     p->name, n_allowed ? list : "none");
            return false;
        }
        if (vals[k]) {
            api_fail(c, 400, "query parameter \"%s\" given twice", p->name);
            return false;
        }
        if (!p->value || !*p->value) {
            api_fail(c, 400, "query parameter \"%s\" is empty", p->name);
            return false;
        }
        vals[k] = p->value;
    }
    return true;
}

bool api_take_range(call_t *c, const char *from_s, const char *to_s,
                    int64_t now, int64_t *from, int64_t *to)
{
    char err[512];

    if (rep_parse_range(from_s, to_s, "from", "to", now, from, to, err,
                        sizeof(err)) != CHP_OK) {
        api_fail(c, 400, "%s", err);
        return false;
    }
    return true;
}

/* The reference of a request: ?reference= or report.reference.tier. */
bool api_take_reference(call_t *c, const char *arg, const char **out)
{
    json_t *utf8 = arg ? json_string(arg) : NULL; /* NULL: not UTF-8 */
    bool ok = !arg || (utf8 && rep_tier_name_ok(arg));

    json_decref(utf8);
    if (!ok) {
        api_fail(c, 400,
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
bool api_store_ready(call_t *c)
{
    api_t *api = c->api;
    char err[1024];

    if (api->s)
        return true;
    if (store_open(api->url, &api->s, err, sizeof(err)) == CHP_OK)
        return true;
    api->s = NULL;
    /* Once a minute at most: a dashboard left open polls. */
    if ((int64_t)time(NULL) - api->open_failed_logged_s >= 60) {
        chp_log_warn("api: database unavailable: %s", err);
        api->open_failed_logged_s = (int64_t)time(NULL);
    }
    api_fail(c, 503, "database unavailable: %s", err);
    return false;
}

void api_db_failed(call_t *c, chp_err_t err, const char *msg)
{
    api_fail(c, err == CHP_ERR_NOMEM ? 500 : 503, "database error: %s", msg);
}

/* Checks the topic of a path; false after answering 400 or 404.  Called
 * with the lock held and the store ready. */
bool api_topic_known(call_t *c, const char *topic)
{
    char err[1024];
    bool exists;
    chp_err_t e;

    if (!chp_conf_topic_name_ok(topic, strlen(topic))) {
        api_fail(c, 400,
                 "\"%.64s\" is not a legal topic name (1 to 249 of "
                 "a-z A-Z 0-9 . _ -)",
                 topic);
        return false;
    }
    if (!api_store_ready(c))
        return false;
    if ((e = rep_topic_exists(c->api->s, topic, &exists, err, sizeof(err))) !=
        CHP_OK) {
        api_db_failed(c, e, err);
        return false;
    }
    if (!exists) {
        api_fail(c, 404, "unknown topic \"%s\": no audit data is stored for it",
                 topic);
        return false;
    }
    return true;
}
