/* dashboard_pipeline.c - the dashboard's pipeline page (dashboard.h):
 * the chain of tiers with each hop's completeness over the range at a
 * glance, a table of every hop, and, for the hop asked for, its buckets
 * per datacenter.  Pure, like the rest of the dashboard. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report/dashboard.h"
#include "report/pipeline_format.h"

static const char style[] =
    "<style>\n"
    "#chain{display:flex;align-items:center;flex-wrap:wrap;margin:14px 0}\n"
    ".tier{border:1px solid #999;border-radius:6px;padding:6px 12px;"
    "background:#f7f7f7;text-align:center}\n"
    ".tier small,.hop small{display:block;color:#666}\n"
    ".hop{padding:4px 14px;text-align:center;text-decoration:none;"
    "font-weight:600}\n"
    ".hop.ok{color:#2a7a2a}.hop.bad{color:#a00}.hop.sel{"
    "outline:2px solid #888;border-radius:6px}\n"
    "</style>\n";

/* The query string of a link: the page's own parameters, hop replaced. */
static void link(chp_buf_t *b, const char *topic, const dash_view_t *v,
                 long hop)
{
    const char *names[] = {"from", "to", "pipeline"};
    const char *vals[] = {v->from_arg, v->to_arg, v->pipeline_arg};
    const char *sep = "?";

    chp_buf_puts(b, "/pipeline/");
    dash_url_segment(b, topic);
    for (size_t i = 0; i < 3; i++) {
        if (!vals[i])
            continue;
        chp_buf_printf(b, "%s%s=", sep, names[i]);
        dash_url_segment(b, vals[i]);
        sep = "&amp;";
    }
    if (hop >= 0)
        chp_buf_printf(b, "%shop=%ld", sep, hop);
}

/* Per hop: violations in final buckets and the lowest total completeness
 * over its datacenters. */
typedef struct hop_sum {
    size_t violations;
    double completeness; /* NAN: unexpected data only */
    uint64_t loss, dup;
} hop_sum_t;

static hop_sum_t hop_summary(const rep_pipe_t *p, size_t i,
                             const dash_view_t *v)
{
    const rep_hop_t *h = &p->hops[i];
    hop_sum_t s = {.completeness = 1.0};

    for (size_t d = 0; d < h->n_dc; d++) {
        const rep_hop_cell_t *t = &h->total[d];
        s.loss += t->loss;
        s.dup += t->duplicated;
        if (!(t->completeness >= s.completeness))
            s.completeness = t->completeness;
        for (size_t b = 0; b < p->n_buckets; b++)
            if (rep_bucket_final(p->end[b], v->now, v->lateness_s) &&
                rep_hop_fault(rep_hop_cell(h, b, d), v->max_loss) !=
                    REP_PIPE_OK)
                s.violations++;
    }
    return s;
}

static void pct(char *buf, size_t size, double v)
{
    if (isnan(v))
        snprintf(buf, size, "unexpected data");
    else
        snprintf(buf, size, "%.4f%%", v * 100);
}

static void chain(chp_buf_t *b, const rep_pipe_t *p, const dash_view_t *v,
                  long sel)
{
    chp_buf_puts(b, "<div id=\"chain\">");
    for (size_t t = 0; t < p->spec.n; t++) {
        const rep_pipe_tier_t *tr = &p->tiers[t];
        if (t > 0) {
            hop_sum_t s = hop_summary(p, t - 1, v);
            char c[64];
            pct(c, sizeof(c), s.completeness);
            chp_buf_printf(b,
                           "<a class=\"hop %s%s\" data-hop=\"%zu\" "
                           "data-violations=\"%zu\" data-loss=\"%" PRIu64
                           "\" data-duplicated=\"%" PRIu64 "\" href=\"",
                           s.violations ? "bad" : "ok",
                           sel == (long)t - 1 ? " sel" : "", t - 1,
                           s.violations, s.loss, s.dup);
            link(b, p->topic, v, (long)t - 1);
            chp_buf_printf(b,
                           "\">&rarr; %s &rarr;<small>lost %" PRIu64
                           ", duplicated %" PRIu64 "</small></a>",
                           c, s.loss, s.dup);
        }
        chp_buf_puts(b, "<span class=\"tier\" data-tier=\"");
        chp_buf_html(b, tr->name);
        chp_buf_puts(b, "\">");
        chp_buf_html(b, tr->name);
        chp_buf_printf(b, "<small>%" PRIu64 " msgs", tr->total);
        for (size_t d = 0; d < tr->n_dc; d++) {
            chp_buf_puts(b, d ? ", " : " &middot; ");
            chp_buf_html(b, tr->dc[d]);
        }
        chp_buf_puts(b, "</small></span>");
    }
    chp_buf_puts(b, "</div>\n");
}

static void num(chp_buf_t *b, double v)
{
    if (isfinite(v))
        chp_buf_printf(b, "<td>%.1f</td>", v);
    else
        chp_buf_puts(b, "<td>-</td>");
}

static void cell_row(chp_buf_t *b, const char *first, const char *hop,
                     const char *dc, const rep_hop_cell_t *c, bool bad,
                     bool open)
{
    char compl [64];

    pct(compl, sizeof(compl ), c->unexpected ? NAN : c->completeness);
    chp_buf_printf(b, "<tr class=\"%s%s\"><td>", bad ? "bad" : "",
                   open ? " open" : "");
    chp_buf_html(b, first);
    if (hop) {
        chp_buf_puts(b, "</td><td>");
        chp_buf_html(b, hop);
    }
    chp_buf_puts(b, "</td><td>");
    chp_buf_html(b, dc);
    chp_buf_printf(b,
                   "</td><td>%" PRIu64 "</td><td>%" PRIu64 "</td><td>%" PRIu64
                   "</td><td>%" PRIu64 "</td><td>%s</td>",
                   c->up, c->down, c->loss, c->duplicated, compl );
    num(b, c->p50_added);
    num(b, c->p99_added);
    chp_buf_puts(b, "</tr>\n");
}

static const char cols[] =
    "<th>datacenter</th><th>upstream</th><th>downstream</th><th>lost</th>"
    "<th>duplicated</th><th>completeness</th><th>p50 added (ms)</th>"
    "<th>p99 added (ms)</th></tr></thead><tbody>\n";

static void hops_table(chp_buf_t *b, const rep_pipe_t *p, const dash_view_t *v)
{
    chp_buf_puts(b, "<h2>Hops over the range</h2>\n<table id=\"hops\">"
                    "<thead><tr><th>hop</th><th>violations</th>");
    chp_buf_puts(b, cols);
    for (size_t i = 0; i < p->n_hops; i++) {
        const rep_hop_t *h = &p->hops[i];
        hop_sum_t s = hop_summary(p, i, v);
        char name[2 * CHP_NAME_MAX + 4], n[32];
        rep_hop_name(p, h, name, sizeof(name));
        snprintf(n, sizeof(n), "%zu", s.violations);
        for (size_t d = 0; d < h->n_dc; d++)
            cell_row(b, name, n, rep_hop_dc(h, d), &h->total[d],
                     s.violations > 0, false);
    }
    chp_buf_puts(b, "</tbody></table>\n");
}

static void hop_buckets(chp_buf_t *b, const rep_pipe_t *p, const dash_view_t *v,
                        size_t i)
{
    const rep_hop_t *h = &p->hops[i];
    char name[2 * CHP_NAME_MAX + 4];

    rep_hop_name(p, h, name, sizeof(name));
    chp_buf_puts(b, "<h2 id=\"hop-title\">Hop ");
    chp_buf_html(b, name);
    chp_buf_printf(b,
                   " per bucket</h2>\n<p class=\"note\">%s. Newest first; "
                   "open buckets are not judged.</p>\n<table "
                   "id=\"hop-buckets\" data-hop=\"%zu\"><thead><tr><th>"
                   "bucket (UTC)</th>",
                   h->per_dc ? "Compared per datacenter: both tiers report "
                               "the same datacenters"
                             : "Summed over datacenters: the tiers report "
                               "different datacenters (the topology fans in)",
                   i);
    chp_buf_puts(b, cols);
    for (size_t k = p->n_buckets; k-- > 0;) {
        bool final = rep_bucket_final(p->end[k], v->now, v->lateness_s);
        char when[REP_TIME_MAX];
        rep_format_time(p->begin[k], when);
        for (size_t d = 0; d < h->n_dc; d++) {
            const rep_hop_cell_t *c = rep_hop_cell(h, k, d);
            cell_row(b, when, NULL, rep_hop_dc(h, d), c,
                     final && rep_hop_fault(c, v->max_loss) != REP_PIPE_OK,
                     !final);
        }
    }
    chp_buf_puts(b, "</tbody></table>\n");
}

static void form(chp_buf_t *b, const rep_pipe_t *p, const dash_view_t *v)
{
    static const char *const names[] = {"from", "to", "pipeline"};
    const char *const vals[] = {v->from_arg, v->to_arg, v->pipeline_arg};
    char spec[REP_PIPE_MAX_TIERS * CHP_NAME_MAX] = "";
    const char *const hints[] = {"-24h", "now", spec};
    size_t o = 0;

    for (size_t t = 0; t < p->spec.n && o < sizeof(spec); t++)
        o += (size_t)snprintf(spec + o, sizeof(spec) - o, "%s%s", t ? "," : "",
                              p->spec.tiers[t]);
    dash_range_form(b, names, vals, hints);
}

char *dash_pipeline_html(const rep_pipe_t *p, const dash_view_t *v, long hop)
{
    chp_buf_t b = {0};
    char title[CHP_NAME_MAX + 16];

    snprintf(title, sizeof(title), "%s pipeline", p->topic);
    dash_page_head(&b, title);
    chp_buf_puts(&b, " &rsaquo; <a href=\"/topic/");
    dash_url_segment(&b, p->topic);
    chp_buf_puts(&b, "\"><span id=\"topic\">");
    chp_buf_html(&b, p->topic);
    chp_buf_puts(&b, "</span></a> &rsaquo; pipeline</header>\n");
    chp_buf_puts(&b, style);
    form(&b, p, v);
    dash_page_range(&b, v);
    if (p->others[0]) {
        chp_buf_puts(&b, "<p class=\"note\">Tiers not in the pipeline "
                         "(ignored): ");
        chp_buf_html(&b, p->others);
        chp_buf_puts(&b, "</p>\n");
    }
    chain(&b, p, v, hop);
    if (p->n_buckets == 0) {
        chp_buf_puts(&b, "<p id=\"no-rows\">No rows of the pipeline's tiers "
                         "in this range.</p>\n</body></html>\n");
        return chp_buf_take(&b);
    }
    hops_table(&b, p, v);
    if (hop >= 0 && (size_t)hop < p->n_hops)
        hop_buckets(&b, p, v, (size_t)hop);
    else
        chp_buf_puts(&b, "<p class=\"note\">Click a hop in the chain for its "
                         "buckets.</p>\n");
    chp_buf_puts(&b, "</body></html>\n");
    return chp_buf_take(&b);
}
