/*
 * api.h - the collector's HTTP query API and dashboard (design.md §9,
 * docs/report.md), one handler for http_server_start:
 *
 *   GET /api/v1/topics[?from=&to=]                    topics, worst
 *                                                     completeness
 *   GET /api/v1/topics/{topic}/buckets[?from=&to=]    counters per tier
 *   GET /api/v1/topics/{topic}/completeness[?reference=&from=&to=]
 *   GET /                                             dashboard: topics
 *   GET /api/v1/topics/{topic}/watermark[?tiers=&from=]  completeness
 *                                                     watermark
 *   GET /topic/{topic}[?from=&to=&reference=]         dashboard: one topic
 *   GET /metrics                                      with api_set_metrics
 *
 * Everything under /api/ answers JSON, errors as {"error": ...}: 400 for a
 * bad parameter (bad time, from > to, illegal topic, unknown or repeated
 * parameter), 404 for an unknown topic or endpoint, 405 for a method other
 * than GET, 503 while the database is unreachable.  Other paths are left
 * alone (status 0) so the server's defaults (/metrics, /health) apply.
 *
 * The API has its own store connection, opened at the first request and
 * used under a mutex: the collector's flushing thread keeps its own.
 */
#ifndef CHP_REPORT_API_H
#define CHP_REPORT_API_H

#include <stddef.h>

#include "chaperone.h"
#include "http.h"

typedef struct api api_t;

/*
 * Reads db.url, report.reference.tier, report.max.loss.percent and
 * report.lateness.s from conf (conf is not kept).  Does not connect: a
 * collector starts before its database is up.  NULL with errstr filled on
 * an unusable db.url or out of memory.
 */
api_t *api_new(const chp_conf_t *conf, char *errstr, size_t errstr_size);
/* Closes the store; stop the HTTP server first. */
void api_destroy(api_t *api);

/* From now on GET /metrics answers m's metrics followed by the
 * completeness metrics of the stored topics (docs/operations.md,
 * "Alerting"); m must outlive the API. */
void api_set_metrics(api_t *api, metrics_t *m);

/* The http_handler_t; opaque is the api_t. */
void api_handle(const http_req_t *req, http_resp_t *resp, void *opaque);

/* One decoded query parameter. */
typedef struct api_param {
    const char *name, *value;
} api_param_t;

/* Most query parameters a request may carry; more is a 400. */
#define API_MAX_PARAMS 8

/* What api_handle does once the query parameters are decoded: the seam
 * the unit tests drive without a socket. */
void api_dispatch(api_t *api, const char *method, const char *path,
                  const api_param_t *params, size_t n_params,
                  http_resp_t *resp);

#endif
