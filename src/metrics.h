/* metrics.h - a small Prometheus metrics registry: every daemon registers
 * its counters and gauges once, updates them from any thread, and /metrics
 * (http.h) renders them in the text exposition format. */
#ifndef CHP_METRICS_H
#define CHP_METRICS_H

#include <stddef.h>

#include "chaperone.h"

typedef enum { METRIC_COUNTER, METRIC_GAUGE } metric_type_t;

typedef struct metrics metrics_t;
typedef struct metric metric_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t *m);

/* Registers a metric (labels may be NULL, e.g. "topic=\"a\"");
 * returns a handle valid until metrics_destroy. */
metric_t *metrics_add(metrics_t *m, const char *name, const char *help,
                      metric_type_t type, const char *labels);
void metric_inc(metric_t *x, double by);
void metric_set(metric_t *x, double v);
double metric_get(const metric_t *x);

/* Prometheus text exposition format; caller frees *out.  CHP_OK, or
 * CHP_ERR_NOMEM. */
chp_err_t metrics_render(metrics_t *m, char **out, size_t *len);

#endif
