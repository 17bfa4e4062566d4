/* pipeline_format.c - table, CSV and JSON renderings of a pipeline result
 * (pipeline.h): one line per (bucket, hop, datacenter), then one "total"
 * line per (hop, datacenter) over the range.  Pure; docs/pipeline.md shows
 * each. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report/format.h"
#include "report/pipeline_format.h"

#define COLS 10
#define CELL 80

static const char *const heads[COLS] = {
    "bucket", "hop",        "datacenter",   "upstream",     "downstream",
    "loss",   "duplicated", "completeness", "p50_added_ms", "p99_added_ms"};

void rep_hop_name(const rep_pipe_t *p, const rep_hop_t *h, char *buf,
                  size_t size)
{
    snprintf(buf, size, "%s->%s", p->spec.tiers[h->up], p->spec.tiers[h->down]);
}

static void num_text(double v, char *buf, size_t size)
{
    if (isfinite(v))
        snprintf(buf, size, "%.1f", v);
    else
        snprintf(buf, size, "-");
}

static void row_cells(const rep_pipe_t *p, const rep_hop_t *h, size_t d,
                      const char *bucket, const rep_hop_cell_t *c,
                      char (*out)[CELL])
{
    snprintf(out[0], CELL, "%s", bucket);
    rep_hop_name(p, h, out[1], CELL);
    snprintf(out[2], CELL, "%s", rep_hop_dc(h, d));
    snprintf(out[3], CELL, "%" PRIu64, c->up);
    snprintf(out[4], CELL, "%" PRIu64, c->down);
    snprintf(out[5], CELL, "%" PRIu64, c->loss);
    snprintf(out[6], CELL, "%" PRIu64, c->duplicated);
    if (c->unexpected)
        snprintf(out[7], CELL, "unexpected");
    else
        snprintf(out[7], CELL, "%.6f", c->completeness);
    num_text(c->p50_added, out[8], CELL);
    num_text(c->p99_added, out[9], CELL);
}

/* Lines of the table/CSV: per bucket per hop per datacenter, then the
 * totals. */
static size_t n_lines(const rep_pipe_t *p)
{
    size_t n = 0;

    for (size_t i = 0; i < p->n_hops; i++)
        n += (p->n_buckets + 1) * p->hops[i].n_dc;
    return n;
}

static void for_each_line(const rep_pipe_t *p,
                          void (*cb)(const rep_pipe_t *p, const rep_hop_t *h,
                                     size_t d, long b, const rep_hop_cell_t *c,
                                     void *opaque),
                          void *opaque)
{
    for (size_t b = 0; b < p->n_buckets; b++)
        for (size_t i = 0; i < p->n_hops; i++)
            for (size_t d = 0; d < p->hops[i].n_dc; d++)
                cb(p, &p->hops[i], d, (long)b, rep_hop_cell(&p->hops[i], b, d),
                   opaque);
    for (size_t i = 0; i < p->n_hops; i++)
        for (size_t d = 0; d < p->hops[i].n_dc; d++)
            cb(p, &p->hops[i], d, -1, &p->hops[i].total[d], opaque);
}

static void title(const rep_pipe_t *p, chp_buf_t *out)
{
    char a[REP_TIME_MAX], z[REP_TIME_MAX];

    rep_format_time(p->from, a);
    rep_format_time(p->to, z);
    chp_buf_printf(out, "topic %s, %s to %s, %zu bucket(s), pipeline ",
                   p->topic, a, z, p->n_buckets);
    for (size_t t = 0; t < p->spec.n; t++)
        chp_buf_printf(out, "%s%s", t ? " -> " : "", p->spec.tiers[t]);
    chp_buf_puts(out, "\n");
    if (p->others[0])
        chp_buf_printf(out, "tiers not in the pipeline (ignored): %s\n",
                       p->others);
}

typedef struct table_ctx {
    char (*cells)[CELL];
    size_t line;
} table_ctx_t;

static void table_line(const rep_pipe_t *p, const rep_hop_t *h, size_t d,
                       long b, const rep_hop_cell_t *c, void *opaque)
{
    table_ctx_t *x = opaque;
    char when[REP_TIME_MAX] = "total";

    if (b >= 0)
        rep_format_time(p->begin[b], when);
    row_cells(p, h, d, when, c, &x->cells[x->line++ * COLS]);
}

char *rep_pipe_format_table(const rep_pipe_t *p)
{
    chp_buf_t out = {0};
    size_t rows = n_lines(p) + 1, width[COLS] = {0};
    table_ctx_t x = {.line = 1};

    title(p, &out);
    if (p->n_buckets == 0) {
        chp_buf_puts(&out, "no rows\n");
        return chp_buf_take(&out);
    }
    if (!(x.cells = calloc(rows * COLS, sizeof(*x.cells)))) {
        chp_buf_free(&out);
        return NULL;
    }
    for (size_t c = 0; c < COLS; c++)
        snprintf(x.cells[c], CELL, "%s", heads[c]);
    for_each_line(p, table_line, &x);
    for (size_t r = 0; r < rows; r++)
        for (size_t c = 0; c < COLS; c++)
            if (strlen(x.cells[r * COLS + c]) > width[c])
                width[c] = strlen(x.cells[r * COLS + c]);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < COLS; c++) {
            const char *s = x.cells[r * COLS + c];
            size_t pad = width[c] - strlen(s);
            bool left = c < 3;
            if (c > 0)
                chp_buf_puts(&out, "  ");
            if (!left)
                chp_buf_pad(&out, ' ', pad);
            chp_buf_puts(&out, s);
            if (left && c + 1 < COLS)
                chp_buf_pad(&out, ' ', pad);
        }
        chp_buf_puts(&out, "\n");
    }
    free(x.cells);
    return chp_buf_take(&out);
}

/* ------------------------------------------------------------ CSV */

static void csv_num(chp_buf_t *out, double v)
{
    if (isfinite(v))
        chp_buf_printf(out, ",%.3f", v);
    else
        chp_buf_puts(out, ",");
}

static void csv_line(const rep_pipe_t *p, const rep_hop_t *h, size_t d, long b,
                     const rep_hop_cell_t *c, void *opaque)
{
    chp_buf_t *out = opaque;
    char when[REP_TIME_MAX] = "total";

    if (b >= 0)
        rep_format_time(p->begin[b], when);
    chp_buf_printf(out, "%s,%" PRId64 ",%" PRId64 ",", when,
                   b >= 0 ? p->begin[b] : p->from, b >= 0 ? p->end[b] : p->to);
    chp_buf_csv(out, p->spec.tiers[h->up]);
    chp_buf_puts(out, ",");
    chp_buf_csv(out, p->spec.tiers[h->down]);
    chp_buf_puts(out, ",");
    chp_buf_csv(out, rep_hop_dc(h, d));
    chp_buf_printf(out, ",%d,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",",
                   h->per_dc ? 1 : 0, c->up, c->down, c->loss, c->duplicated);
    if (!c->unexpected)
        chp_buf_printf(out, "%.6f", c->completeness);
    chp_buf_printf(out, ",%d", c->unexpected ? 1 : 0);
    csv_num(out, c->p50_added);
    csv_num(out, c->p99_added);
    chp_buf_puts(out, "\n");
}

char *rep_pipe_format_csv(const rep_pipe_t *p)
{
    chp_buf_t out = {0};

    chp_buf_puts(&out, "bucket,begin,end,upstream_tier,downstream_tier,"
                       "datacenter,per_datacenter,upstream,downstream,loss,"
                       "duplicated,completeness,unexpected,p50_added_ms,"
                       "p99_added_ms\n");
    for_each_line(p, csv_line, &out);
    return chp_buf_take(&out);
}

/* ------------------------------------------------------------ JSON */

static json_t *cell_json(const rep_hop_t *h, size_t d, const rep_hop_cell_t *c)
{
    json_t *o = json_object();

    if (!o || !rep_json_put(o, "datacenter", json_string(rep_hop_dc(h, d))) ||
        !rep_json_put(o, "upstream", json_integer((json_int_t)c->up)) ||
        !rep_json_put(o, "downstream", json_integer((json_int_t)c->down)) ||
        !rep_json_put(o, "loss", json_integer((json_int_t)c->loss)) ||
        !rep_json_put(o, "duplicated",
                      json_integer((json_int_t)c->duplicated)) ||
        !rep_json_put(o, "completeness",
                      c->unexpected ? json_null()
                                    : json_real(c->completeness)) ||
        !rep_json_put(o, "unexpected", json_boolean(c->unexpected)) ||
        !rep_json_put(o, "p50AddedMs", rep_json_ms(c->p50_added)) ||
        !rep_json_put(o, "p99AddedMs", rep_json_ms(c->p99_added))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* {"from", "to", "perDatacenter", "cells": [...]} of hop h in bucket b
 * (b < 0: the totals). */
static json_t *hop_json(const rep_pipe_t *p, const rep_hop_t *h, long b)
{
    json_t *o = json_object(), *cells = json_array();

    if (!o || !rep_json_put(o, "from", json_string(p->spec.tiers[h->up])) ||
        !rep_json_put(o, "to", json_string(p->spec.tiers[h->down])) ||
        !rep_json_put(o, "perDatacenter", json_boolean(h->per_dc)) ||
        !rep_json_put(o, "cells", cells))
        goto fail;
    for (size_t d = 0; d < h->n_dc; d++) {
        const rep_hop_cell_t *c =
            b < 0 ? &h->total[d] : rep_hop_cell(h, (size_t)b, d);
        if (json_array_append_new(cells, cell_json(h, d, c)) != 0)
            goto fail;
    }
    return o;
fail:
    json_decref(o);
    return NULL;
}

static json_t *tiers_json(const rep_pipe_t *p)
{
    json_t *a = json_array();

    for (size_t t = 0; a && t < p->spec.n; t++) {
        const rep_pipe_tier_t *tr = &p->tiers[t];
        json_t *o = json_object(), *dcs = json_array();
        if (json_array_append_new(a, o) != 0 ||
            !rep_json_put(o, "tier", json_string(tr->name)) ||
            !rep_json_put(o, "total", json_integer((json_int_t)tr->total)) ||
            !rep_json_put(o, "datacenters", dcs)) {
            json_decref(a);
            return NULL;
        }
        for (size_t d = 0; d < tr->n_dc; d++)
            json_array_append_new(dcs, json_string(tr->dc[d]));
    }
    return a;
}

/* p->others ("a, b") as ["a", "b"]. */
static json_t *others_json(const rep_pipe_t *p)
{
    json_t *a = json_array();
    const char *s = p->others;

    while (a && *s) {
        const char *e = strstr(s, ", ");
        size_t len = e ? (size_t)(e - s) : strlen(s);
        if (json_array_append_new(a, json_stringn(s, len)) != 0) {
            json_decref(a);
            return NULL;
        }
        s += len + (e ? 2 : 0);
    }
    return a;
}

json_t *rep_pipe_json(const rep_pipe_t *p)
{
    char a[REP_TIME_MAX], z[REP_TIME_MAX];
    json_t *doc = json_object(), *hops = json_array(), *buckets = json_array();

    rep_format_time(p->from, a);
    rep_format_time(p->to, z);
    if (!doc || !rep_json_put(doc, "topic", json_string(p->topic)) ||
        !rep_json_put(doc, "from", json_integer(p->from)) ||
        !rep_json_put(doc, "to", json_integer(p->to)) ||
        !rep_json_put(doc, "fromTime", json_string(a)) ||
        !rep_json_put(doc, "toTime", json_string(z)) ||
        !rep_json_put(doc, "pipeline", tiers_json(p)) ||
        !rep_json_put(doc, "otherTiers", others_json(p)) ||
        !rep_json_put(doc, "hops", hops) ||
        !rep_json_put(doc, "buckets", buckets))
        goto fail;
    for (size_t i = 0; i < p->n_hops; i++)
        if (json_array_append_new(hops, hop_json(p, &p->hops[i], -1)) != 0)
            goto fail;
    for (size_t b = 0; b < p->n_buckets; b++) {
        json_t *o = json_object(), *counts = json_object(), *bh = json_array();
        char when[REP_TIME_MAX];
        rep_format_time(p->begin[b], when);
        if (json_array_append_new(buckets, o) != 0 ||
            !rep_json_put(o, "begin", json_integer(p->begin[b])) ||
            !rep_json_put(o, "end", json_integer(p->end[b])) ||
            !rep_json_put(o, "time", json_string(when)) ||
            !rep_json_put(o, "counts", counts) ||
            !rep_json_put(o, "hops", bh)) {
            json_decref(counts);
            json_decref(bh);
            goto fail;
        }
        for (size_t t = 0; t < p->spec.n; t++)
            if (!rep_json_put(counts, p->spec.tiers[t],
                              json_integer((json_int_t)p->tiers[t].count[b])))
                goto fail;
        for (size_t i = 0; i < p->n_hops; i++)
            if (json_array_append_new(bh, hop_json(p, &p->hops[i], (long)b)) !=
                0)
                goto fail;
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

char *rep_pipe_format_json(const rep_pipe_t *p, bool pretty)
{
    return rep_json_text_take(rep_pipe_json(p), pretty);
}

/* ------------------------------------------------------------ check */

typedef struct viol_ctx {
    json_t *list;
    bool failed;
} viol_ctx_t;

static void on_violation(const rep_pipe_t *p, size_t b, const rep_hop_t *h,
                         size_t d, rep_pipe_fault_t f, void *opaque)
{
    viol_ctx_t *x = opaque;
    const rep_hop_cell_t *c = rep_hop_cell(h, b, d);
    char when[REP_TIME_MAX];
    json_t *o = json_object();

    rep_format_time(p->begin[b], when);
    if (!o || json_array_append_new(x->list, o) != 0 ||
        !rep_json_put(o, "fault", json_string(rep_pipe_fault_name(f))) ||
        !rep_json_put(o, "begin", json_integer(p->begin[b])) ||
        !rep_json_put(o, "time", json_string(when)) ||
        !rep_json_put(o, "from", json_string(p->spec.tiers[h->up])) ||
        !rep_json_put(o, "to", json_string(p->spec.tiers[h->down])) ||
        !rep_json_put(o, "datacenter", json_string(rep_hop_dc(h, d))) ||
        !rep_json_put(o, "upstream", json_integer((json_int_t)c->up)) ||
        !rep_json_put(o, "downstream", json_integer((json_int_t)c->down)) ||
        !rep_json_put(o, "loss", json_integer((json_int_t)c->loss)) ||
        !rep_json_put(o, "duplicated", json_integer((json_int_t)c->duplicated)))
        x->failed = true;
}

json_t *rep_pipe_violations_json(const rep_pipe_t *p, double max_loss,
                                 int64_t lateness_s, int64_t now_s)
{
    rep_pipe_stats_t st = {0};
    viol_ctx_t x = {.list = json_array()};

    if (!x.list)
        return NULL;
    rep_pipe_check(p, max_loss, lateness_s, now_s, on_violation, &x, &st);
    if (x.failed) {
        json_decref(x.list);
        return NULL;
    }
    return x.list;
}
