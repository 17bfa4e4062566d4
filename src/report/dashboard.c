/* dashboard.c - see dashboard.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report/chart.h"
#include "report/dashboard.h"

static const char style[] =
    "<style>\n"
    "body{font:14px/1.4 system-ui,sans-serif;margin:16px 24px;color:#222}\n"
    "header{font-size:18px;margin-bottom:12px}header a{color:#222;"
    "text-decoration:none;font-weight:600}\n"
    "table{border-collapse:collapse;margin:8px 0}th,td{padding:3px 10px;"
    "border-bottom:1px solid #ddd;text-align:right}\n"
    "th:first-child,td:first-child{text-align:left}\n"
    "tr.bad td,td.bad{background:#fde2e2;color:#a00}\n"
    "td.unexpected{background:#fff0c2}\n"
    ".ok{color:#2a7a2a}.note{color:#666}\n"
    "svg.chart{display:block;margin:6px 0 18px;max-width:100%;height:auto}\n"
    "svg .grid{stroke:#eee}svg .axis{stroke:#999}\n"
    "svg .line{fill:none;stroke-width:2}\n"
    "svg .band{fill:#d62728;fill-opacity:.15}"
    "svg .open{fill:#999;fill-opacity:.12}\n"
    "svg text{font:12px system-ui,sans-serif;fill:#444}"
    "svg .title{font-weight:600;font-size:14px;fill:#222}\n"
    "form input{width:190px;margin-right:8px}\n"
    "</style>\n";

static void head(chp_buf_t *b, const char *title)
{
    chp_buf_puts(b, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
                    "<meta charset=\"utf-8\"><title>");
    chp_buf_html(b, title);
    chp_buf_puts(b, " - Chaperone</title>\n");
    chp_buf_puts(b, style);
    chp_buf_puts(b, "</head><body>\n<header><a href=\"/\">Chaperone</a>");
}

void dash_page_head(chp_buf_t *b, const char *title)
{
    head(b, title);
}

/* A path segment or query value, percent-encoded but for RFC 3986's
 * unreserved characters and ',' ':' (legal in both, and in tier lists): a
 * stored topic name may hold anything ('/', '?', quotes), and a link must
 * neither break out of its attribute nor point elsewhere. */
void dash_url_segment(chp_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-' ||
            c == '~' || c == ',' || c == ':')
            chp_buf_putn(b, s, 1);
        else
            chp_buf_printf(b, "%%%02X", c);
    }
}

static void ratio_text(const rep_cmp_t *c, char *buf, size_t size)
{
    if (c->unexpected)
        snprintf(buf, size, "unexpected data");
    else
        snprintf(buf, size, "%.4f%%", c->ratio * 100);
}

void dash_row_fill(dash_row_t *row, const rep_grid_t *g, double max_loss,
                   int64_t lateness_s, int64_t now_s)
{
    size_t o = 0;

    memset(row, 0, sizeof(*row));
    snprintf(row->topic, sizeof(row->topic), "%s", g->topic);
    if (g->n_tiers)
        snprintf(row->reference, sizeof(row->reference), "%s",
                 g->tiers[g->ref]);
    for (size_t t = 0; t < g->n_tiers && o < sizeof(row->tiers); t++)
        o += (size_t)snprintf(row->tiers + o, sizeof(row->tiers) - o, "%s%s",
                              t ? ", " : "", g->tiers[t]);
    rep_grid_summary(g, max_loss, lateness_s, now_s, &row->sum);
}

static void range_line(chp_buf_t *b, const dash_view_t *v)
{
    char a[REP_TIME_MAX], z[REP_TIME_MAX], late[32];

    rep_format_time(v->from, a);
    rep_format_time(v->to, z);
    rep_format_duration(v->lateness_s, late, sizeof(late));
    chp_buf_printf(b,
                   "<p class=\"note\">Buckets starting from %s to %s (UTC). "
                   "A bucket is final once it ended %s ago; open buckets "
                   "are shaded and not judged. Loss threshold %g%%.</p>\n",
                   a, z, late, v->max_loss * 100);
}

void dash_page_range(chp_buf_t *b, const dash_view_t *v)
{
    range_line(b, v);
}

/* ------------------------------------------------------------ index */

char *dash_index_html(const dash_row_t *rows, size_t n, const dash_view_t *v)
{
    chp_buf_t b = {0};

    head(&b, "Topics");
    chp_buf_puts(&b, " &rsaquo; topics</header>\n");
    range_line(&b, v);
    if (n == 0) {
        chp_buf_puts(&b, "<p id=\"no-topics\">No audit data stored yet.</p>"
                         "\n</body></html>\n");
        return chp_buf_take(&b);
    }
    chp_buf_puts(&b, "<table id=\"topics\"><thead><tr><th>topic</th>"
                     "<th>tiers</th><th>reference</th><th>buckets</th>"
                     "<th>final</th><th>lossy</th><th>worst completeness</th>"
                     "<th>worst tier</th><th>worst bucket</th>");
    chp_buf_puts(&b, v->pipeline_arg ? "<th>pipeline</th></tr></thead><tbody>\n"
                                     : "</tr></thead><tbody>\n");
    for (size_t i = 0; i < n; i++) {
        const dash_row_t *r = &rows[i];
        const rep_check_stats_t *c = &r->sum.check;
        bool bad = c->violations > 0;
        char worst[64] = "-", when[REP_TIME_MAX] = "-";

        if (c->have_worst) {
            ratio_text(&c->worst, worst, sizeof(worst));
            rep_format_time(c->worst_begin, when);
        }
        chp_buf_printf(&b, "<tr class=\"topic%s\" data-topic=\"",
                       bad ? " bad" : "");
        chp_buf_html(&b, r->topic);
        chp_buf_puts(&b, "\"><td><a href=\"/topic/");
        dash_url_segment(&b, r->topic);
        chp_buf_puts(&b, "\">");
        chp_buf_html(&b, r->topic);
        chp_buf_puts(&b, "</a></td><td>");
        chp_buf_html(&b, r->tiers);
        chp_buf_puts(&b, "</td><td>");
        chp_buf_html(&b, r->reference);
        chp_buf_printf(&b,
                       "</td><td>%zu</td><td>%zu</td><td>%zu</td>"
                       "<td class=\"worst%s\">%s</td><td>",
                       r->sum.buckets, c->final_buckets, c->bad_buckets,
                       bad ? " bad" : "", worst);
        chp_buf_html(&b, c->have_worst ? c->worst_tier : "-");
        chp_buf_printf(&b, "</td><td>%s</td>", when);
        if (v->pipeline_arg) {
            chp_buf_puts(&b, "<td><a class=\"pipeline\" href=\"/pipeline/");
            dash_url_segment(&b, r->topic);
            chp_buf_puts(&b, "\">hops</a></td>");
        }
        chp_buf_puts(&b, "</tr>\n");
    }
    chp_buf_puts(&b, "</tbody></table>\n</body></html>\n");
    return chp_buf_take(&b);
}

/* ------------------------------------------------------------ topic */

void dash_range_form(chp_buf_t *b, const char *const names[3],
                     const char *const vals[3], const char *const hints[3])
{
    chp_buf_puts(b, "<form method=\"get\">");
    for (size_t i = 0; i < 3; i++) {
        chp_buf_printf(b, "<label>%s <input name=\"%s\" value=\"", names[i],
                       names[i]);
        chp_buf_html(b, vals[i] ? vals[i] : "");
        chp_buf_puts(b, "\" placeholder=\"");
        chp_buf_html(b, hints[i]);
        chp_buf_puts(b, "\"></label>");
    }
    /* Empty fields would be sent as "from=" and refused: drop them. */
    chp_buf_puts(b, "<button type=\"submit\">show</button></form>\n"
                    "<script>document.querySelector('form').addEventListener("
                    "'submit',function(){this.querySelectorAll('input')."
                    "forEach(function(i){if(!i.value)i.disabled=true;});});"
                    "</script>\n");
}

/* The range form; values echo what was asked. */
static void form(chp_buf_t *b, const rep_grid_t *g, const dash_view_t *v)
{
    static const char *const names[] = {"from", "to", "reference"};
    const char *const vals[] = {v->from_arg, v->to_arg, v->reference_arg};
    const char *const hints[] = {"-24h", "now",
                                 g->n_tiers ? g->tiers[g->ref] : ""};

    dash_range_form(b, names, vals, hints);
}

typedef struct topic_data {
    double *counts;    /* [tier * n + bucket] */
    double *lat[3];    /* p50, p95, p99 */
    double *loss;      /* [tier * n + bucket]: reference - tier */
    bool *mark;        /* [tier * n + bucket]: violation in a final bucket */
    bool *band, *open; /* [bucket] */
} topic_data_t;

static void data_free(topic_data_t *d)
{
    free(d->counts);
    free(d->loss);
    for (int q = 0; q < 3; q++)
        free(d->lat[q]);
    free(d->mark);
    free(d->band);
    free(d->open);
}

static bool data_fill(topic_data_t *d, const rep_grid_t *g,
                      const dash_view_t *v)
{
    size_t n = g->n_buckets, cells = g->n_tiers * n + 1;

    memset(d, 0, sizeof(*d));
    d->counts = calloc(cells, sizeof(double));
    d->loss = calloc(cells, sizeof(double));
    d->mark = calloc(cells, sizeof(bool));
    d->band = calloc(n + 1, sizeof(bool));
    d->open = calloc(n + 1, sizeof(bool));
    for (int q = 0; q < 3; q++)
        d->lat[q] = calloc(cells, sizeof(double));
    if (!d->counts || !d->loss || !d->mark || !d->band || !d->open ||
        !d->lat[0] || !d->lat[1] || !d->lat[2])
        return false;
    for (size_t b = 0; b < n; b++) {
        bool final = rep_bucket_final(g->end[b], v->now, v->lateness_s);
        d->open[b] = !final;
        for (size_t t = 0; t < g->n_tiers; t++) {
            const rep_cell_t *x = rep_cell(g, b, t);
            rep_cmp_t c = rep_grid_compare(g, b, t);
            size_t i = t * n + b;
            d->counts[i] = (double)x->row.count;
            d->loss[i] = (double)c.loss;
            d->lat[0][i] = x->present ? x->p50 : NAN;
            d->lat[1][i] = x->present ? x->st.p95 : NAN;
            d->lat[2][i] = x->present ? x->st.p99 : NAN;
            if (final && t != g->ref && rep_violates(&c, v->max_loss))
                d->mark[i] = d->band[b] = true;
        }
    }
    return true;
}

static size_t charts(chp_buf_t *b, const rep_grid_t *g, const topic_data_t *d)
{
    static const char *const ids[] = {"latency-p50", "latency-p95",
                                      "latency-p99"};
    static const char *const titles[] = {
        "Latency p50 per tier", "Latency p95 per tier", "Latency p99 per tier"};
    chart_series_t *se = calloc(g->n_tiers + 1, sizeof(*se));
    int64_t width = g->n_buckets ? g->end[0] - g->begin[0] : 0;
    size_t n = g->n_buckets, points;
    chart_t c = {.id = "counts",
                 .title = "Messages per tier",
                 .unit = "",
                 .point_class = "pt",
                 .x = g->begin,
                 .n = n,
                 .width_s = width,
                 .series = se,
                 .n_series = g->n_tiers,
                 .band = d->band,
                 .open = d->open};

    if (!se) {
        b->failed = true;
        return 0;
    }
    for (size_t t = 0; t < g->n_tiers; t++) {
        se[t].name = g->tiers[t];
        se[t].y = d->counts + t * n;
        se[t].mark = d->mark + t * n;
    }
    points = chart_svg(b, &c);
    if (g->n_tiers > 1) {
        /* The loss on its own scale: a few lost messages are invisible
         * next to millions. */
        size_t k = 0;
        chart_t l = c;
        l.id = "loss";
        l.title = "Lost messages per tier (reference minus tier; below "
                  "zero: more than the reference)";
        l.point_class = "loss-pt";
        for (size_t t = 0; t < g->n_tiers; t++) {
            if (t == g->ref)
                continue;
            se[k].name = g->tiers[t];
            se[k].y = d->loss + t * n;
            se[k].color = chart_color(t); /* as in the other charts */
            se[k++].mark = d->mark + t * n;
        }
        l.n_series = k;
        chart_svg(b, &l);
        for (size_t t = 0; t < g->n_tiers; t++) {
            se[t].name = g->tiers[t];
            se[t].mark = NULL;
            se[t].color = NULL;
        }
    }
    chp_buf_puts(b, "<h2>Latency</h2>\n<p class=\"note\">Time from the event "
                    "time to when each tier saw the message, per bucket. p50 "
                    "needs the latency sketch (audit messages of version 2); "
                    "missing points had none.</p>\n");
    for (int q = 0; q < 3; q++) {
        chart_t l = {.id = ids[q],
                     .title = titles[q],
                     .unit = " ms",
                     .point_class = "lat",
                     .x = g->begin,
                     .n = n,
                     .width_s = width,
                     .series = se,
                     .n_series = g->n_tiers,
                     .open = d->open};
        for (size_t t = 0; t < g->n_tiers; t++) {
            se[t].y = d->lat[q] + t * n;
            se[t].mark = NULL;
        }
        chart_svg(b, &l);
    }
    free(se);
    return points;
}

/* The numbers under the charts; lossy cells marked. */
static void numbers(chp_buf_t *b, const rep_grid_t *g, const topic_data_t *d)
{
    size_t n = g->n_buckets;

    chp_buf_puts(b, "<h2>Buckets</h2>\n<table id=\"buckets\"><thead><tr>"
                    "<th>bucket (UTC)</th>");
    for (size_t t = 0; t < g->n_tiers; t++) {
        chp_buf_puts(b, "<th>");
        chp_buf_html(b, g->tiers[t]);
        chp_buf_puts(b, t == g->ref ? " (reference)</th>" : "</th>");
    }
    for (size_t t = 0; t < g->n_tiers; t++) {
        if (t == g->ref)
            continue;
        chp_buf_puts(b, "<th>completeness ");
        chp_buf_html(b, g->tiers[t]);
        chp_buf_puts(b, "</th>");
    }
    chp_buf_puts(b, "</tr></thead><tbody>\n");
    for (size_t i = n; i-- > 0;) { /* newest first */
        char when[REP_TIME_MAX];
        rep_format_time(g->begin[i], when);
        chp_buf_printf(b,
                       "<tr class=\"bucket%s%s\" data-time=\"%s\"><td>%s"
                       "%s</td>",
                       d->band[i] ? " bad" : "", d->open[i] ? " open" : "",
                       when, when, d->open[i] ? " (open)" : "");
        for (size_t t = 0; t < g->n_tiers; t++)
            chp_buf_printf(b, "<td>%" PRIu64 "</td>",
                           rep_cell(g, i, t)->row.count);
        for (size_t t = 0; t < g->n_tiers; t++) {
            rep_cmp_t c = rep_grid_compare(g, i, t);
            char text[64];
            if (t == g->ref)
                continue;
            ratio_text(&c, text, sizeof(text));
            chp_buf_printf(b, "<td class=\"%s\">%s",
                           d->mark[t * n + i] ? "bad"
                           : c.unexpected     ? "unexpected"
                                              : "",
                           text);
            if (c.loss != 0 && !c.unexpected)
                chp_buf_printf(b, " (%+" PRId64 ")", -c.loss);
            chp_buf_puts(b, "</td>");
        }
        chp_buf_puts(b, "</tr>\n");
    }
    chp_buf_puts(b, "</tbody></table>\n");
}

char *dash_topic_html(const rep_grid_t *g, const dash_view_t *v)
{
    chp_buf_t b = {0};
    topic_data_t d;
    size_t lossy = 0;

    head(&b, g->topic);
    chp_buf_puts(&b, " &rsaquo; <span id=\"topic\">");
    chp_buf_html(&b, g->topic);
    chp_buf_puts(&b, "</span></header>\n");
    form(&b, g, v);
    range_line(&b, v);
    if (v->pipeline_arg) {
        chp_buf_puts(&b, "<p><a id=\"pipeline-link\" href=\"/pipeline/");
        dash_url_segment(&b, g->topic);
        chp_buf_puts(&b, "\">Pipeline view: loss and duplication per "
                         "hop</a></p>\n");
    }
    if (!data_fill(&d, g, v)) {
        data_free(&d);
        chp_buf_free(&b);
        return NULL;
    }
    for (size_t i = 0; i < g->n_buckets; i++)
        lossy += d.band[i];
    if (g->n_tiers) {
        chp_buf_puts(&b, "<p id=\"summary\">Reference tier <b>");
        chp_buf_html(&b, g->tiers[g->ref]);
        chp_buf_printf(&b, "</b> (%s). %zu bucket(s), ",
                       g->ref_missing ? "given; it has no rows in this range"
                       : g->ref_rule == REP_REF_GIVEN ? "given"
                                                      : "largest total",
                       g->n_buckets);
        chp_buf_printf(&b,
                       "<span class=\"%s\" id=\"lossy\">%zu final "
                       "bucket(s) with loss</span>.</p>\n",
                       lossy ? "bad" : "ok", lossy);
    }
    charts(&b, g, &d);
    if (g->n_buckets)
        numbers(&b, g, &d);
    chp_buf_puts(&b, "</body></html>\n");
    data_free(&d);
    return chp_buf_take(&b);
}

char *dash_error_html(int status, const char *msg)
{
    chp_buf_t b = {0};
    char title[32];

    snprintf(title, sizeof(title), "Error %d", status);
    head(&b, title);
    chp_buf_printf(&b, " &rsaquo; error %d</header>\n<p id=\"error\">", status);
    chp_buf_html(&b, msg);
    chp_buf_puts(&b, "</p>\n</body></html>\n");
    return chp_buf_take(&b);
}
