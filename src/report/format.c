/* format.c - see format.h. */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "report/format.h"

chp_err_t rep_format_parse(const char *s, rep_format_t *out, char *errstr,
                           size_t errstr_size)
{
    if (!strcmp(s, "table"))
        *out = REP_FMT_TABLE;
    else if (!strcmp(s, "json"))
        *out = REP_FMT_JSON;
    else if (!strcmp(s, "csv"))
        *out = REP_FMT_CSV;
    else {
        snprintf(errstr, errstr_size,
                 "unknown format \"%.64s\" (expected table, json or csv)", s);
        return CHP_ERR_PARSE;
    }
    return CHP_OK;
}

/* ------------------------------------------------------------ table */

/* The cells of a table as strings, to size the columns before writing. */
typedef struct table {
    size_t rows, cols;
    char (*cell)[48]; /* [row * cols + col]; tier names are cut to 47 */
    bool *left;       /* per column: left-aligned */
} table_t;

static char *tcell(table_t *t, size_t r, size_t c)
{
    return t->cell[r * t->cols + c];
}

static void ratio_text(const rep_cmp_t *c, char *buf, size_t size)
{
    if (c->unexpected)
        snprintf(buf, size, "unexpected");
    else
        snprintf(buf, size, "%.6f", c->ratio);
}

/* True when tier k has a deliveryFailed, auditDropped or aborted count in
 * some bucket: only then do the table and CSV show those columns. */
static bool has_side(const rep_grid_t *g, size_t k)
{
    for (size_t b = 0; b < g->n_buckets; b++) {
        const store_row_t *r = &rep_cell(g, b, k)->row;
        if (r->delivery_failed_count || r->audit_dropped_count ||
            r->aborted_count)
            return true;
    }
    return false;
}

static size_t n_side(const rep_grid_t *g)
{
    size_t n = 0;

    for (size_t k = 0; k < g->n_tiers; k++)
        n += has_side(g, k);
    return n;
}

static void fill_table(const rep_grid_t *g, bool latency, table_t *t)
{
    size_t c = 0;

    snprintf(tcell(t, 0, c), 48, "bucket");
    t->left[c++] = true;
    for (size_t k = 0; k < g->n_tiers; k++)
        snprintf(tcell(t, 0, c++), 48, "%s", g->tiers[k]);
    for (size_t k = 0; k < g->n_tiers; k++) {
        if (k == g->ref)
            continue;
        snprintf(tcell(t, 0, c++), 48, "loss:%s", g->tiers[k]);
        snprintf(tcell(t, 0, c++), 48, "compl:%s", g->tiers[k]);
    }
    for (size_t k = 0; latency && k < g->n_tiers; k++) {
        snprintf(tcell(t, 0, c++), 48, "p95:%s", g->tiers[k]);
        snprintf(tcell(t, 0, c++), 48, "p99:%s", g->tiers[k]);
    }
    for (size_t k = 0; k < g->n_tiers; k++) {
        if (!has_side(g, k))
            continue;
        snprintf(tcell(t, 0, c++), 48, "failed:%s", g->tiers[k]);
        snprintf(tcell(t, 0, c++), 48, "dropped:%s", g->tiers[k]);
        snprintf(tcell(t, 0, c++), 48, "aborted:%s", g->tiers[k]);
    }
    for (size_t b = 0; b < g->n_buckets; b++) {
        size_t r = b + 1;
        c = 0;
        rep_format_time(g->begin[b], tcell(t, r, c++));
        for (size_t k = 0; k < g->n_tiers; k++)
            snprintf(tcell(t, r, c++), 48, "%" PRIu64,
                     rep_cell(g, b, k)->row.count);
        for (size_t k = 0; k < g->n_tiers; k++) {
            rep_cmp_t cmp;
            if (k == g->ref)
                continue;
            cmp = rep_grid_compare(g, b, k);
            snprintf(tcell(t, r, c++), 48, "%" PRId64, cmp.loss);
            ratio_text(&cmp, tcell(t, r, c++), 48);
        }
        for (size_t k = 0; latency && k < g->n_tiers; k++) {
            const rep_cell_t *x = rep_cell(g, b, k);
            if (x->present) {
                snprintf(tcell(t, r, c++), 48, "%.1f", x->st.p95);
                snprintf(tcell(t, r, c++), 48, "%.1f", x->st.p99);
            } else {
                snprintf(tcell(t, r, c++), 48, "-");
                snprintf(tcell(t, r, c++), 48, "-");
            }
        }
        for (size_t k = 0; k < g->n_tiers; k++) {
            const store_row_t *x = &rep_cell(g, b, k)->row;
            if (!has_side(g, k))
                continue;
            snprintf(tcell(t, r, c++), 48, "%" PRIu64,
                     x->delivery_failed_count);
            snprintf(tcell(t, r, c++), 48, "%" PRIu64, x->audit_dropped_count);
            snprintf(tcell(t, r, c++), 48, "%" PRIu64, x->aborted_count);
        }
    }
}

static void title_line(const rep_grid_t *g, chp_buf_t *out)
{
    char a[REP_TIME_MAX], b[REP_TIME_MAX];

    rep_format_time(g->from, a);
    rep_format_time(g->to, b);
    chp_buf_printf(out, "topic %s, %s to %s, %zu bucket(s)", g->topic, a, b,
                   g->n_buckets);
    if (g->n_tiers)
        chp_buf_printf(out, ", reference tier %s (%s)", g->tiers[g->ref],
                       g->ref_missing ? "given, no rows in range"
                       : g->ref_rule == REP_REF_GIVEN ? "given"
                                                      : "largest total");
    chp_buf_puts(out, "\n");
}

char *rep_format_table(const rep_grid_t *g, bool latency)
{
    chp_buf_t out = {0};
    table_t t = {0};
    size_t *width = NULL;

    title_line(g, &out);
    if (g->n_buckets == 0) {
        chp_buf_puts(&out, "no rows\n");
        return chp_buf_take(&out);
    }
    t.rows = g->n_buckets + 1;
    t.cols = 1 + g->n_tiers + 2 * (g->n_tiers - 1) +
             (latency ? 2 * g->n_tiers : 0) + 3 * n_side(g);
    t.cell = calloc(t.rows * t.cols, sizeof(*t.cell));
    t.left = calloc(t.cols, sizeof(*t.left));
    width = calloc(t.cols, sizeof(*width));
    if (!t.cell || !t.left || !width) {
        out.failed = true;
        goto out;
    }
    fill_table(g, latency, &t);
    for (size_t r = 0; r < t.rows; r++)
        for (size_t c = 0; c < t.cols; c++)
            if (strlen(tcell(&t, r, c)) > width[c])
                width[c] = strlen(tcell(&t, r, c));
    for (size_t r = 0; r < t.rows; r++) {
        for (size_t c = 0; c < t.cols; c++) {
            const char *s = tcell(&t, r, c);
            size_t pad = width[c] - strlen(s);
            if (c > 0)
                chp_buf_puts(&out, "  ");
            if (!t.left[c])
                chp_buf_pad(&out, ' ', pad);
            chp_buf_puts(&out, s);
            if (t.left[c] && c + 1 < t.cols)
                chp_buf_pad(&out, ' ', pad);
        }
        chp_buf_puts(&out, "\n");
    }
out:
    free(t.cell);
    free(t.left);
    free(width);
    return chp_buf_take(&out);
}

/* ------------------------------------------------------------ CSV */

static void csv_header(chp_buf_t *out, const char *tier, const char *what)
{
    char name[CHP_NAME_MAX + 32];

    snprintf(name, sizeof(name), "%s.%s", tier, what);
    chp_buf_puts(out, ",");
    chp_buf_csv(out, name);
}

char *rep_format_csv(const rep_grid_t *g)
{
    static const char *const cols[] = {"count",      "loss",   "completeness",
                                       "unexpected", "p95_ms", "p99_ms"};
    chp_buf_t out = {0};

    chp_buf_puts(&out, "bucket,begin,end");
    for (size_t k = 0; k < g->n_tiers; k++)
        for (size_t i = 0; i < sizeof(cols) / sizeof(cols[0]); i++)
            csv_header(&out, g->tiers[k], cols[i]);
    for (size_t k = 0; k < g->n_tiers; k++)
        if (has_side(g, k)) {
            csv_header(&out, g->tiers[k], "delivery_failed");
            csv_header(&out, g->tiers[k], "audit_dropped");
            csv_header(&out, g->tiers[k], "aborted");
        }
    chp_buf_puts(&out, "\n");
    for (size_t b = 0; b < g->n_buckets; b++) {
        char when[REP_TIME_MAX];
        rep_format_time(g->begin[b], when);
        chp_buf_printf(&out, "%s,%" PRId64 ",%" PRId64, when, g->begin[b],
                       g->end[b]);
        for (size_t k = 0; k < g->n_tiers; k++) {
            const rep_cell_t *x = rep_cell(g, b, k);
            rep_cmp_t c = rep_grid_compare(g, b, k);
            chp_buf_printf(&out, ",%" PRIu64 ",%" PRId64 ",", c.count, c.loss);
            if (!c.unexpected)
                chp_buf_printf(&out, "%.6f", c.ratio);
            chp_buf_printf(&out, ",%d,", c.unexpected ? 1 : 0);
            if (x->present)
                chp_buf_printf(&out, "%.3f,%.3f", x->st.p95, x->st.p99);
            else
                chp_buf_puts(&out, ",");
        }
        for (size_t k = 0; k < g->n_tiers; k++)
            if (has_side(g, k)) {
                const store_row_t *x = &rep_cell(g, b, k)->row;
                chp_buf_printf(&out, ",%" PRIu64 ",%" PRIu64 ",%" PRIu64,
                               x->delivery_failed_count, x->audit_dropped_count,
                               x->aborted_count);
            }
        chp_buf_puts(&out, "\n");
    }
    return chp_buf_take(&out);
}

/* ------------------------------------------------------------ JSON */

json_t *rep_json_ms(double v)
{
    return isfinite(v) ? json_real(round(v * 1000) / 1000) : json_null();
}

bool rep_json_put(json_t *obj, const char *key, json_t *v)
{
    return v && json_object_set_new(obj, key, v) == 0;
}

static bool put_range(json_t *doc, const rep_grid_t *g)
{
    char a[REP_TIME_MAX], b[REP_TIME_MAX];
    json_t *tiers = json_array();

    rep_format_time(g->from, a);
    rep_format_time(g->to, b);
    if (!rep_json_put(doc, "topic", json_string(g->topic)) ||
        !rep_json_put(doc, "from", json_integer(g->from)) ||
        !rep_json_put(doc, "to", json_integer(g->to)) ||
        !rep_json_put(doc, "fromTime", json_string(a)) ||
        !rep_json_put(doc, "toTime", json_string(b)) ||
        !rep_json_put(doc, "tiers", tiers))
        return false;
    for (size_t k = 0; k < g->n_tiers; k++)
        if (json_array_append_new(tiers, json_string(g->tiers[k])) != 0)
            return false;
    return true;
}

/* {"begin", "end", "time"} of bucket b; the caller adds the rest. */
static json_t *bucket_json(const rep_grid_t *g, size_t b)
{
    char when[REP_TIME_MAX];
    json_t *o = json_object();

    rep_format_time(g->begin[b], when);
    if (!o || !rep_json_put(o, "begin", json_integer(g->begin[b])) ||
        !rep_json_put(o, "end", json_integer(g->end[b])) ||
        !rep_json_put(o, "time", json_string(when))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* deliveryFailed, auditDropped and aborted, each only when not 0. */
static bool put_side(json_t *o, const store_row_t *r)
{
    return (!r->delivery_failed_count ||
            rep_json_put(o, "deliveryFailed",
                         json_integer((json_int_t)r->delivery_failed_count))) &&
           (!r->audit_dropped_count ||
            rep_json_put(o, "auditDropped",
                         json_integer((json_int_t)r->audit_dropped_count))) &&
           (!r->aborted_count ||
            rep_json_put(o, "aborted",
                         json_integer((json_int_t)r->aborted_count)));
}

static json_t *cmp_json(const rep_grid_t *g, size_t b, size_t k)
{
    const rep_cell_t *x = rep_cell(g, b, k);
    rep_cmp_t c = rep_grid_compare(g, b, k);
    json_t *o = json_object();

    if (!o || !rep_json_put(o, "count", json_integer((json_int_t)c.count)) ||
        !rep_json_put(o, "loss", json_integer(c.loss)) ||
        !rep_json_put(o, "completeness",
                      c.unexpected ? json_null() : json_real(c.ratio)) ||
        !rep_json_put(o, "unexpected", json_boolean(c.unexpected)) ||
        !rep_json_put(o, "p95Ms",
                      x->present ? rep_json_ms(x->st.p95) : json_null()) ||
        !rep_json_put(o, "p99Ms",
                      x->present ? rep_json_ms(x->st.p99) : json_null()) ||
        !put_side(o, &x->row)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *rep_grid_json(const rep_grid_t *g)
{
    json_t *doc = json_object(), *buckets = json_array();

    if (!doc || !put_range(doc, g))
        goto fail;
    if (g->n_tiers &&
        (!rep_json_put(doc, "reference", json_string(g->tiers[g->ref])) ||
         !rep_json_put(doc, "referenceRule",
                       json_string(g->ref_rule == REP_REF_GIVEN
                                       ? "given"
                                       : "largest-total"))))
        goto fail;
    if (g->ref_missing &&
        !rep_json_put(
            doc, "warning",
            json_sprintf("reference tier %s has no rows in this range",
                         g->tiers[g->ref])))
        goto fail;
    if (!rep_json_put(doc, "buckets", buckets))
        goto fail;
    for (size_t b = 0; b < g->n_buckets; b++) {
        json_t *tiers = json_object(), *bj = bucket_json(g, b);
        rep_cmp_t worst;
        long w;
        if (!bj || json_array_append_new(buckets, bj) != 0) {
            json_decref(tiers);
            goto fail;
        }
        w = rep_bucket_worst(g, b, &worst);
        if (!rep_json_put(
                bj, "referenceCount",
                json_integer((json_int_t)rep_cell(g, b, g->ref)->row.count)) ||
            !rep_json_put(bj, "worstCompleteness",
                          w < 0              ? json_real(1.0)
                          : worst.unexpected ? json_null()
                                             : json_real(worst.ratio)) ||
            !rep_json_put(bj, "unexpected",
                          json_boolean(w >= 0 && worst.unexpected)) ||
            !rep_json_put(bj, "tiers", tiers))
            goto fail;
        for (size_t k = 0; k < g->n_tiers; k++)
            if (!rep_json_put(tiers, g->tiers[k], cmp_json(g, b, k)))
                goto fail;
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

static json_t *counters_json(const rep_cell_t *x)
{
    const store_row_t *r = &x->row;
    json_t *o = json_object(), *lat = json_object();

    if (!o || !lat ||
        !rep_json_put(o, "count", json_integer((json_int_t)r->count)) ||
        !rep_json_put(o, "bytes", json_integer((json_int_t)r->total_bytes)) ||
        !rep_json_put(o, "noTime",
                      json_integer((json_int_t)r->no_time_count)) ||
        !rep_json_put(o, "malformed",
                      json_integer((json_int_t)r->malformed_count)) ||
        !rep_json_put(o, "negativeLatency",
                      json_integer((json_int_t)r->negative_latency_count)) ||
        !put_side(o, r) ||
        !rep_json_put(lat, "mean", rep_json_ms(x->st.mean)) ||
        !rep_json_put(lat, "p50", rep_json_ms(x->p50)) ||
        !rep_json_put(lat, "p95", rep_json_ms(x->st.p95)) ||
        !rep_json_put(lat, "p99", rep_json_ms(x->st.p99)) ||
        !rep_json_put(lat, "max", rep_json_ms(x->st.max))) {
        json_decref(lat);
        json_decref(o);
        return NULL;
    }
    if (!rep_json_put(o, "latencyMs", lat)) { /* rep_json_put() released lat */
        json_decref(o);
        return NULL;
    }
    return o;
}

json_t *rep_buckets_json(const rep_grid_t *g)
{
    json_t *doc = json_object(), *buckets = json_array();

    if (!doc || !put_range(doc, g) || !rep_json_put(doc, "buckets", buckets))
        goto fail;
    for (size_t b = 0; b < g->n_buckets; b++) {
        json_t *tiers, *bj = bucket_json(g, b);
        if (!bj || json_array_append_new(buckets, bj) != 0 ||
            !rep_json_put(bj, "tiers", tiers = json_object()))
            goto fail;
        for (size_t k = 0; k < g->n_tiers; k++)
            if (rep_cell(g, b, k)->present &&
                !rep_json_put(tiers, g->tiers[k],
                              counters_json(rep_cell(g, b, k))))
                goto fail;
    }
    return doc;
fail:
    json_decref(doc);
    return NULL;
}

char *rep_json_text(const json_t *json, bool pretty)
{
    size_t flags =
        JSON_REAL_PRECISION(10) | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
    char *s = json ? json_dumps(json, flags) : NULL;
    char *out;
    size_t len;

    if (!s)
        return NULL;
    len = strlen(s);
    if ((out = realloc(s, len + 2))) {
        out[len] = '\n';
        out[len + 1] = '\0';
    } else {
        free(s);
    }
    return out;
}

char *rep_json_text_take(json_t *doc, bool pretty)
{
    char *s = rep_json_text(doc, pretty);

    json_decref(doc);
    return s;
}

char *rep_format_json(const rep_grid_t *g, bool pretty)
{
    return rep_json_text_take(rep_grid_json(g), pretty);
}
