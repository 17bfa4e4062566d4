/* health.h - is this daemon making progress?  One per daemon: its loop
 * records every successful commit (worker), flush (collector) or registry
 * write/read (controller) and every failed attempt with its cause.  /health
 * answers 503 with the cause while unhealthy, and /metrics carries the
 * figures an operator alerts on before a report shows loss:
 *
 *   chaperone_healthy                          1 or 0
 *   chaperone_last_success_timestamp_seconds   wall clock of the last success
 *   chaperone_consecutive_failures             failed attempts since then
 *   chaperone_failures_total                   every failed attempt
 *
 * All calls are thread-safe (the HTTP thread reads what the loop writes). */
#ifndef CHP_HEALTH_H
#define CHP_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "metrics.h"

typedef struct health health_t;

/* Registers the metrics above in m (labels may be NULL, e.g.
 * "daemon=\"worker\"").  Starts healthy with no success recorded. */
health_t *health_new(metrics_t *m, const char *labels);
void health_destroy(health_t *h);

/* A commit/flush went through: healthy again, failures reset. */
void health_ok(health_t *h);
/* One failed attempt; the cause (printf-style) is kept for /health and
 * returned by health_check.  The daemon is unhealthy until health_ok. */
void health_fail(health_t *h, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* True when healthy; otherwise copies the last cause into why. */
bool health_check(health_t *h, char *why, size_t why_size);
/* Consecutive failures since the last success. */
uint64_t health_failures(health_t *h);

/* /health of srv answers from h: 200 "OK", or 503 with
 * {"error": cause, "status": 503, "consecutiveFailures": n}. */
void http_server_set_health(http_server_t *srv, health_t *h);

#endif
