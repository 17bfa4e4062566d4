/* promcomplete.h - completeness as Prometheus metrics, for the collector's
 * /metrics (docs/operations.md, "Alerting"), computed from a grid of the
 * recent window:
 *
 *   chaperone_completeness_ratio{topic,tier,reference}
 *       the worst completeness of the tier over the closed buckets
 *   chaperone_lossy_buckets{topic,tier}
 *       closed buckets where the tier lost more than report.max.loss.percent
 *       (or saw data the reference did not)
 *   chaperone_complete_until_seconds{topic}
 *       the completeness watermark across every tier (Unix time; the age
 *       of the newest complete bucket is time() minus it); absent while no
 *       closed bucket is complete
 *
 * Pure: the caller loads the grids and bounds how many topics it renders. */
#ifndef CHP_REPORT_PROMCOMPLETE_H
#define CHP_REPORT_PROMCOMPLETE_H

#include "buf.h"
#include "report/report.h"

/* The # HELP and # TYPE lines, once before the topics. */
void rep_prom_header(chp_buf_t *b);
/* The samples of one topic's grid. */
void rep_prom_topic(chp_buf_t *b, const rep_grid_t *g, double max_loss,
                    int64_t lateness_s, int64_t now_s);
/* s as a Prometheus label value (backslash, quote and newline escaped). */
void rep_prom_label(chp_buf_t *b, const char *s);

#endif
