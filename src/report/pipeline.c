/* pipeline.c - hop-by-hop loss, duplication, completeness and added
 * latency along an ordered pipeline of tiers (see pipeline.h).  Pure: no
 * I/O, every rule unit-tested on fixtures (tests/unit/test_pipeline.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store.h"
#include "report/pipeline.h"
#include "conf_daemon_keys.h"

/* ------------------------------------------------------------ the spec */

chp_err_t rep_pipe_spec_parse(const char *s, rep_pipe_spec_t *out, char *errstr,
                              size_t errstr_size)
{
    const char *p = s;

    memset(out, 0, sizeof(*out));
    while (*p == ' ' || *p == '\t')
        p++;
    if (!*p)
        return CHP_OK;
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        char name[CHP_NAME_MAX];

        while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
            len--;
        while (len && (*p == ' ' || *p == '\t'))
            p++, len--;
        if (len == 0 || len >= CHP_NAME_MAX) {
            snprintf(errstr, errstr_size,
                     "tier %zu of the pipeline is %s (expected "
                     "comma-separated tier names)",
                     out->n + 1, len ? "too long" : "empty");
            return CHP_ERR_INVALID_ARG;
        }
        memcpy(name, p, len);
        name[len] = '\0';
        if (!rep_tier_name_ok(name)) {
            snprintf(errstr, errstr_size, "\"%.64s\" is not a tier name", name);
            return CHP_ERR_INVALID_ARG;
        }
        for (size_t i = 0; i < out->n; i++)
            if (!strcmp(out->tiers[i], name)) {
                snprintf(errstr, errstr_size,
                         "tier %s appears twice in the pipeline", name);
                return CHP_ERR_INVALID_ARG;
            }
        if (out->n == REP_PIPE_MAX_TIERS) {
            snprintf(errstr, errstr_size, "a pipeline has at most %d tiers",
                     REP_PIPE_MAX_TIERS);
            return CHP_ERR_INVALID_ARG;
        }
        memcpy(out->tiers[out->n++], name, len + 1);
        if (!end)
            break;
        p = end + 1;
    }
    if (out->n < 2) {
        snprintf(errstr, errstr_size,
                 "a pipeline needs at least two tiers (got %s)", out->tiers[0]);
        return CHP_ERR_INVALID_ARG;
    }
    return CHP_OK;
}

/* ------------------------------------------------------------ building */

void rep_pipe_init(rep_pipe_t *p, const char *topic, int64_t from, int64_t to,
                   const rep_pipe_spec_t *spec)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->from = from;
    p->to = to;
    p->spec = *spec;
    for (size_t t = 0; t < spec->n; t++)
        memcpy(p->tiers[t].name, spec->tiers[t], CHP_NAME_MAX);
}

static long spec_index(const rep_pipe_spec_t *spec, const char *tier)
{
    for (size_t t = 0; t < spec->n; t++)
        if (!strcmp(spec->tiers[t], tier))
            return (long)t;
    return -1;
}

/* Remembers a tier outside the pipeline, once, in p->others. */
static void note_other(rep_pipe_t *p, const char *tier)
{
    size_t len = strlen(p->others), tl = strlen(tier);
    const char *at = p->others;

    while ((at = strstr(at, tier))) {
        bool start = at == p->others || at[-1] == ' ';
        if (start && (at[tl] == ',' || at[tl] == '\0'))
            return;
        at += tl;
    }
    snprintf(p->others + len, sizeof(p->others) - len, "%s%s", len ? ", " : "",
             tier);
}

void rep_pipe_add(rep_pipe_t *p, const store_row_t *row)
{
    store_row_t *r;

    if (p->nomem)
        return;
    if (spec_index(&p->spec, row->tier) < 0) {
        note_other(p, row->tier);
        return;
    }
    if (p->n_pend == p->cap_pend) {
        size_t cap = p->cap_pend ? p->cap_pend * 2 : 64;
        store_row_t *np = realloc(p->pend, cap * sizeof(*np));
        if (!np) {
            p->nomem = true;
            return;
        }
        p->pend = np;
        p->cap_pend = cap;
    }
    r = &p->pend[p->n_pend];
    memset(r, 0, sizeof(*r));
    r->time_begin = row->time_begin;
    r->time_end = row->time_end;
    memcpy(r->topic, row->topic, sizeof(r->topic));
    memcpy(r->tier, row->tier, sizeof(r->tier));
    memcpy(r->datacenter, row->datacenter, sizeof(r->datacenter));
    if (store_row_add(r, row) != CHP_OK) {
        p->nomem = true;
        return;
    }
    p->n_pend++;
}

static int pend_cmp(const void *a, const void *b)
{
    const store_row_t *x = a, *y = b;
    int c;

    if (x->time_begin != y->time_begin)
        return x->time_begin < y->time_begin ? -1 : 1;
    if ((c = strcmp(x->tier, y->tier)))
        return c;
    return strcmp(x->datacenter, y->datacenter);
}

/* Sorts the pending rows and sums those of one (bucket, tier, dc). */
static chp_err_t pend_merge(rep_pipe_t *p)
{
    size_t out = 0;

    if (p->n_pend == 0)
        return CHP_OK;
    qsort(p->pend, p->n_pend, sizeof(*p->pend), pend_cmp);
    for (size_t i = 1; i < p->n_pend; i++) {
        if (pend_cmp(&p->pend[out], &p->pend[i]) == 0) {
            if (store_row_add(&p->pend[out], &p->pend[i]) != CHP_OK)
                return CHP_ERR_NOMEM;
            store_row_clear(&p->pend[i]);
        } else {
            p->pend[++out] = p->pend[i];
        }
    }
    p->n_pend = out + 1;
    return CHP_OK;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* The buckets, and per tier its datacenters and counts. */
static chp_err_t lay_out(rep_pipe_t *p)
{
    size_t b = 0;

    for (size_t i = 0; i < p->n_pend; i++)
        if (i == 0 || p->pend[i].time_begin != p->pend[i - 1].time_begin)
            p->n_buckets++;
    p->begin = calloc(p->n_buckets + 1, sizeof(*p->begin));
    p->end = calloc(p->n_buckets + 1, sizeof(*p->end));
    if (!p->begin || !p->end)
        return CHP_ERR_NOMEM;
    for (size_t t = 0; t < p->spec.n; t++) {
        rep_pipe_tier_t *tr = &p->tiers[t];
        if (!(tr->count = calloc(p->n_buckets + 1, sizeof(*tr->count))) ||
            !(tr->dc = calloc(p->n_pend + 1, sizeof(*tr->dc))))
            return CHP_ERR_NOMEM;
    }
    for (size_t i = 0; i < p->n_pend; i++) {
        const store_row_t *r = &p->pend[i];
        rep_pipe_tier_t *tr = &p->tiers[spec_index(&p->spec, r->tier)];
        if (i > 0 && r->time_begin != p->begin[b])
            b++;
        p->begin[b] = r->time_begin;
        if (r->time_end > p->end[b])
            p->end[b] = r->time_end;
        tr->count[b] += r->count;
        tr->total += r->count;
        memcpy(tr->dc[tr->n_dc++], r->datacenter, CHP_NAME_MAX);
    }
    for (size_t t = 0; t < p->spec.n; t++) {
        rep_pipe_tier_t *tr = &p->tiers[t];
        size_t n = 0;
        qsort(tr->dc, tr->n_dc, sizeof(*tr->dc), name_cmp);
        for (size_t i = 0; i < tr->n_dc; i++)
            if (n == 0 || strcmp(tr->dc[n - 1], tr->dc[i]))
                memmove(tr->dc[n++], tr->dc[i], CHP_NAME_MAX);
        tr->n_dc = n;
    }
    return CHP_OK;
}

static bool same_dcs(const rep_pipe_tier_t *a, const rep_pipe_tier_t *b)
{
    if (a->n_dc == 0 || a->n_dc != b->n_dc)
        return false;
    for (size_t i = 0; i < a->n_dc; i++)
        if (strcmp(a->dc[i], b->dc[i]))
            return false;
    return true;
}

/* Sums into out the rows of pend[lo..hi) of tier (and dc, NULL: any). */
static chp_err_t sum_rows(const rep_pipe_t *p, size_t lo, size_t hi,
                          const char *tier, const char *dc, store_row_t *out)
{
    for (size_t i = lo; i < hi; i++) {
        const store_row_t *r = &p->pend[i];
        if (strcmp(r->tier, tier) || (dc && strcmp(r->datacenter, dc)))
            continue;
        if (store_row_add(out, r) != CHP_OK)
            return CHP_ERR_NOMEM;
    }
    return CHP_OK;
}

/* p50 and p99 (ms) of a summed row, NAN when unknown: no messages, or
 * p50 without a sketch covering every message. */
static void row_quantiles(const store_row_t *r, double *p50, double *p99)
{
    store_stats_t st;
    const chp_sketch_t *sk = r->sketch;

    *p50 = *p99 = NAN;
    if (r->count == 0)
        return;
    store_row_stats(r, &st);
    *p99 = st.p99;
    if (sk && chp_sketch_count(sk) + chp_sketch_negative_count(sk) >= r->count)
        *p50 = chp_sketch_quantile(sk, 0.5);
}

static void cell_counts(rep_hop_cell_t *c, uint64_t up, uint64_t down)
{
    c->up = up;
    c->down = down;
    c->loss = up > down ? up - down : 0;
    c->duplicated = down > up ? down - up : 0;
    c->unexpected = up == 0 && down > 0;
    c->completeness =
        up == 0 ? (down ? NAN : 1.0) : (double)(up - c->loss) / (double)up;
}

static void cell_latency(rep_hop_cell_t *c, const store_row_t *up,
                         const store_row_t *down)
{
    row_quantiles(up, &c->up_p50, &c->up_p99);
    row_quantiles(down, &c->down_p50, &c->down_p99);
    c->p50_added = c->down_p50 - c->up_p50; /* NAN propagates */
    c->p99_added = c->down_p99 - c->up_p99;
}

/* Fills c from the rows of pend[lo..hi) (one bucket, or all of them). */
static chp_err_t fill_cell(const rep_pipe_t *p, const rep_hop_t *h, size_t d,
                           size_t lo, size_t hi, rep_hop_cell_t *c)
{
    store_row_t up = {0}, down = {0};
    const char *dc = h->per_dc ? h->dc[d] : NULL;
    chp_err_t err;

    if ((err = sum_rows(p, lo, hi, p->spec.tiers[h->up], dc, &up)) == CHP_OK &&
        (err = sum_rows(p, lo, hi, p->spec.tiers[h->down], dc, &down)) ==
            CHP_OK) {
        cell_counts(c, up.count, down.count);
        cell_latency(c, &up, &down);
    }
    store_row_clear(&up);
    store_row_clear(&down);
    return err;
}

static void hop_label(rep_hop_t *h, const rep_pipe_tier_t *up,
                      const rep_pipe_tier_t *down)
{
    const rep_pipe_tier_t *from = up->n_dc ? up : down;
    size_t o = 0;

    snprintf(h->label, sizeof(h->label), "-");
    for (size_t i = 0; i < from->n_dc && o < sizeof(h->label); i++)
        o += (size_t)snprintf(h->label + o, sizeof(h->label) - o, "%s%s",
                              i ? "+" : "", from->dc[i]);
}

static chp_err_t compute_hop(rep_pipe_t *p, rep_hop_t *h, size_t i)
{
    const rep_pipe_tier_t *up = &p->tiers[i], *down = &p->tiers[i + 1];
    size_t lo = 0;

    h->up = i;
    h->down = i + 1;
    h->per_dc = same_dcs(up, down);
    h->n_dc = h->per_dc ? up->n_dc : 1;
    hop_label(h, up, down);
    if (!(h->dc = calloc(h->n_dc, sizeof(*h->dc))) ||
        !(h->cells = calloc(p->n_buckets * h->n_dc + 1, sizeof(*h->cells))) ||
        !(h->total = calloc(h->n_dc, sizeof(*h->total))))
        return CHP_ERR_NOMEM;
    if (h->per_dc)
        memcpy(h->dc, up->dc, h->n_dc * sizeof(*h->dc));
    else
        memcpy(h->dc[0], h->label, CHP_NAME_MAX);
    for (size_t b = 0; b < p->n_buckets; b++) {
        size_t hi = lo;
        while (hi < p->n_pend && p->pend[hi].time_begin == p->begin[b])
            hi++;
        for (size_t d = 0; d < h->n_dc; d++)
            if (fill_cell(p, h, d, lo, hi, &h->cells[b * h->n_dc + d]) !=
                CHP_OK)
                return CHP_ERR_NOMEM;
        lo = hi;
    }
    for (size_t d = 0; d < h->n_dc; d++) {
        rep_hop_cell_t *t = &h->total[d];
        uint64_t loss = 0, dup = 0;
        /* Latencies over the whole range; the counts and the loss are
         * the buckets' sums, so a loss in one bucket is not hidden by a
         * duplication in another. */
        if (fill_cell(p, h, d, 0, p->n_pend, t) != CHP_OK)
            return CHP_ERR_NOMEM;
        for (size_t b = 0; b < p->n_buckets; b++) {
            loss += rep_hop_cell(h, b, d)->loss;
            dup += rep_hop_cell(h, b, d)->duplicated;
        }
        t->loss = loss;
        t->duplicated = dup;
        if (t->up)
            t->completeness = (double)(t->up - loss) / (double)t->up;
    }
    return CHP_OK;
}

chp_err_t rep_pipe_finish(rep_pipe_t *p, char *errstr, size_t errstr_size)
{
    chp_err_t err = CHP_ERR_NOMEM;

    if (p->nomem || pend_merge(p) != CHP_OK || lay_out(p) != CHP_OK)
        goto out;
    p->n_hops = p->spec.n ? p->spec.n - 1 : 0;
    for (size_t i = 0; i < p->n_hops; i++)
        if (compute_hop(p, &p->hops[i], i) != CHP_OK)
            goto out;
    err = CHP_OK;
out:
    if (err != CHP_OK)
        snprintf(errstr, errstr_size, "out of memory reading topic %s",
                 p->topic);
    for (size_t i = 0; i < p->n_pend; i++)
        store_row_clear(&p->pend[i]);
    free(p->pend);
    p->pend = NULL;
    p->n_pend = p->cap_pend = 0;
    return err;
}

void rep_pipe_free(rep_pipe_t *p)
{
    for (size_t i = 0; i < p->n_pend; i++)
        store_row_clear(&p->pend[i]);
    free(p->pend);
    for (size_t t = 0; t < REP_PIPE_MAX_TIERS; t++) {
        free(p->tiers[t].dc);
        free(p->tiers[t].count);
    }
    for (size_t h = 0; h < REP_PIPE_MAX_TIERS - 1; h++) {
        free(p->hops[h].dc);
        free(p->hops[h].cells);
        free(p->hops[h].total);
    }
    free(p->begin);
    free(p->end);
    memset(p, 0, sizeof(*p));
}

const char *rep_hop_dc(const rep_hop_t *h, size_t d)
{
    return h->per_dc ? h->dc[d] : h->label;
}

/* ------------------------------------------------------------ check */

rep_pipe_fault_t rep_hop_fault(const rep_hop_cell_t *c, double max_loss)
{
    /* With a margin of rounding: exactly max_loss is allowed, as in
     * rep_violates. */
    double allowed = max_loss * (double)c->up * (1 + 1e-12);

    if (c->unexpected)
        return REP_PIPE_UNEXPECTED;
    if ((double)c->loss > allowed)
        return REP_PIPE_LOSS;
    if ((double)c->duplicated > allowed)
        return REP_PIPE_DUPLICATION;
    return REP_PIPE_OK;
}

const char *rep_pipe_fault_name(rep_pipe_fault_t f)
{
    switch (f) {
    case REP_PIPE_LOSS:
        return "LOSS";
    case REP_PIPE_DUPLICATION:
        return "DUPLICATION";
    case REP_PIPE_UNEXPECTED:
        return "UNEXPECTED";
    default:
        return "OK";
    }
}

size_t rep_pipe_check(const rep_pipe_t *p, double max_loss, int64_t lateness_s,
                      int64_t now_s, rep_hop_violation_cb_t *cb, void *opaque,
                      rep_pipe_stats_t *st)
{
    size_t found = 0;

    for (size_t b = 0; b < p->n_buckets; b++) {
        bool bad = false;
        if (!rep_bucket_final(p->end[b], now_s, lateness_s))
            continue;
        st->final_buckets++;
        for (size_t i = 0; i < p->n_hops; i++) {
            const rep_hop_t *h = &p->hops[i];
            for (size_t d = 0; d < h->n_dc; d++) {
                const rep_hop_cell_t *c = rep_hop_cell(h, b, d);
                rep_pipe_fault_t f = rep_hop_fault(c, max_loss);
                if (f == REP_PIPE_OK)
                    continue;
                found++;
                bad = true;
                if (f == REP_PIPE_LOSS) {
                    st->lost_cells++;
                    st->lost += c->loss;
                } else {
                    st->duplicated_cells++;
                    st->duplicated += c->duplicated;
                }
                if (cb)
                    cb(p, b, h, d, f, opaque);
            }
        }
        st->bad_buckets += bad;
    }
    st->violations += found;
    return found;
}

/* ------------------------------------------------------------ loading */

static void on_row(const store_row_t *row, void *opaque)
{
    rep_pipe_add(opaque, row);
}

chp_err_t rep_pipe_load(store_t *s, const char *topic, int64_t from, int64_t to,
                        const rep_pipe_spec_t *spec, rep_pipe_t *p,
                        char *errstr, size_t errstr_size)
{
    chp_err_t err;

    rep_pipe_init(p, topic, from, to, spec);
    if ((err = store_query(s, topic, from, to, on_row, p, errstr,
                           errstr_size)) != CHP_OK)
        return err;
    return rep_pipe_finish(p, errstr, errstr_size);
}

chp_err_t rep_pipe_spec_arg(const chp_conf_t *conf, const char *arg,
                            const char *arg_name, rep_pipe_spec_t *spec,
                            char *errstr, size_t errstr_size)
{
    const char *s = arg ? arg : chp_conf_get_str(conf, CHP_KEY_REPORT_PIPELINE);
    char why[512];

    if (rep_pipe_spec_parse(s, spec, why, sizeof(why)) != CHP_OK) {
        snprintf(errstr, errstr_size, "%s: %s",
                 arg ? arg_name : CHP_KEY_REPORT_PIPELINE, why);
        return CHP_ERR_INVALID_ARG;
    }
    return CHP_OK;
}
