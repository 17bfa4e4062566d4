/* dashboard.h - the web dashboard's pages (design.md §9), rendered on the
 * server as HTML with inline SVG charts: no JavaScript framework, nothing
 * fetched from the network.  Pure: api.c reads the store and calls these. */
#ifndef CHP_REPORT_DASHBOARD_H
#define CHP_REPORT_DASHBOARD_H

#include "buf.h"
#include "report/pipeline.h"
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
    /* The pipeline page's ?pipeline=; on a topic page, non-NULL when a
     * pipeline is configured (the page links to the pipeline view). */
    const char *pipeline_arg;
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
/* "/pipeline/NAME[?hop=N]": the chain of tiers with each hop's
 * completeness, every hop over the range, and hop's buckets (hop < 0:
 * none). */
char *dash_pipeline_html(const rep_pipe_t *p, const dash_view_t *v, long hop);
/* The page head (title, style, start of the header line) and the range
 * note, shared by the pages of dashboard.c and dashboard_pipeline.c. */
void dash_page_head(chp_buf_t *b, const char *title);
/* s percent-encoded but for RFC 3986's unreserved characters and ',' ':':
 * safe as a path segment or query value inside a quoted attribute. */
void dash_url_segment(chp_buf_t *b, const char *s);
void dash_page_range(chp_buf_t *b, const dash_view_t *v);
/* The three-field range form of a page (names, the values asked, the
 * placeholders shown when empty); empty fields are not submitted. */
void dash_range_form(chp_buf_t *b, const char *const names[3],
                     const char *const vals[3], const char *const hints[3]);
/* An error page (the message is escaped). */
char *dash_error_html(int status, const char *msg);

#endif
