/* dashboard.h - the web dashboard's pages (SPEC §9), rendered on the
 * server as HTML with inline SVG charts: no JavaScript framework, nothing
 * fetched from the network.  Pure: api.c reads the store and calls these. */
#ifndef CHP_REPORT_DASHBOARD_H
#define CHP_REPORT_DASHBOARD_H

#include "report/report.h"

/* One line of the topic list. */
typedef struct dash_row {
    char topic[CHP_NAME_MAX];
    char reference[CHP_NAME_MAX]; /* "" without rows */
    char tiers[512];              /* "a, b, c", cut when long */
    rep_summary_t sum;
} dash_row_t;

/* What a page shows besides its data. */
typedef struct dash_view {
    int64_t from, to, now;
    double max_loss; /* fraction */
    int64_t lateness_s;
    /* The query parameters as given (NULL: not given), echoed in the form
     * and in links. */
    const char *from_arg, *to_arg, *reference_arg;
} dash_view_t;

/* Fills a row from a finished grid. */
void dash_row_fill(dash_row_t *row, const rep_grid_t *g, double max_loss,
                   int64_t lateness_s, int64_t now_s);

/* Each returns a malloc()ed HTML document, NULL when out of memory. */

/* "/": every topic with its worst completeness over the final buckets. */
char *dash_index_html(const dash_row_t *rows, size_t n, const dash_view_t *v);
/* "/topic/NAME": counts per tier over time with the loss highlighted,
 * p50/p95/p99 latency per tier over time, and the numbers. */
char *dash_topic_html(const rep_grid_t *g, const dash_view_t *v);
/* An error page (the message is escaped). */
char *dash_error_html(int status, const char *msg);

#endif
