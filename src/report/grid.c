/* grid.c - the completeness grid of one topic: rows summed per (bucket,
 * tier), the reference tier, loss and completeness (see report.h).  Pure:
 * no I/O, so every rule is unit-tested on fixtures. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/report.h"

void rep_grid_init(rep_grid_t *g, const char *topic, int64_t from, int64_t to)
{
    memset(g, 0, sizeof(*g));
    snprintf(g->topic, sizeof(g->topic), "%s", topic);
    g->from = from;
    g->to = to;
}

/* A new pending row holding the key of row (datacenter and host dropped:
 * the cell sums them) plus row's counters. */
static void pend_new(rep_grid_t *g, const store_row_t *row)
{
    store_row_t *p;

    if (g->n_pend == g->cap_pend) {
        size_t cap = g->cap_pend ? g->cap_pend * 2 : 64;
        store_row_t *np = realloc(g->pend, cap * sizeof(*np));
        if (!np) {
            g->nomem = true;
            return;
        }
        g->pend = np;
        g->cap_pend = cap;
    }
    p = &g->pend[g->n_pend];
    memset(p, 0, sizeof(*p));
    p->time_begin = row->time_begin;
    p->time_end = row->time_end;
    memcpy(p->topic, row->topic, sizeof(p->topic));
    memcpy(p->tier, row->tier, sizeof(p->tier));
    /* The sum keeps the max of the p95/p99/max of the rows without a
     * sketch; starting it from 0 would show the original client's negative
     * latencies (stored as sent) as 0. */
    p->latency95 = row->latency95;
    p->latency99 = row->latency99;
    p->max_latency = row->max_latency;
    if (store_row_add(p, row) != CHP_OK) {
        g->nomem = true;
        return;
    }
    g->n_pend++;
}

void rep_grid_add(rep_grid_t *g, const store_row_t *row)
{
    store_row_t *last = g->n_pend ? &g->pend[g->n_pend - 1] : NULL;

    if (g->nomem)
        return;
    /* The store hands rows out by (topic, time_begin, tier), so the rows
     * of one cell (other datacenters and hosts) usually follow each other;
     * anything else is merged by rep_grid_finish. */
    if (last && last->time_begin == row->time_begin &&
        !strcmp(last->tier, row->tier)) {
        if (store_row_add(last, row) != CHP_OK)
            g->nomem = true;
        return;
    }
    pend_new(g, row);
}

static int pend_cmp(const void *a, const void *b)
{
    const store_row_t *x = a, *y = b;

    if (x->time_begin != y->time_begin)
        return x->time_begin < y->time_begin ? -1 : 1;
    return strcmp(x->tier, y->tier);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(a, b);
}

/* Sorts the pending rows and sums those of one cell. */
static chp_err_t pend_merge(rep_grid_t *g)
{
    size_t out = 0;

    if (g->n_pend == 0)
        return CHP_OK;
    qsort(g->pend, g->n_pend, sizeof(*g->pend), pend_cmp);
    for (size_t i = 1; i < g->n_pend; i++) {
        if (pend_cmp(&g->pend[out], &g->pend[i]) == 0) {
            if (store_row_add(&g->pend[out], &g->pend[i]) != CHP_OK)
                return CHP_ERR_NOMEM;
            store_row_clear(&g->pend[i]);
        } else {
            g->pend[++out] = g->pend[i];
        }
    }
    g->n_pend = out + 1;
    return CHP_OK;
}

/* The distinct tiers of the pending rows, in byte order, plus the given
 * reference if none of the rows has it. */
static chp_err_t collect_tiers(rep_grid_t *g, const char *reference)
{
    size_t n = 0, cap = g->n_pend + 1;

    if (!(g->tiers = calloc(cap, sizeof(*g->tiers))))
        return CHP_ERR_NOMEM;
    for (size_t i = 0; i < g->n_pend; i++)
        memcpy(g->tiers[n++], g->pend[i].tier, CHP_NAME_MAX);
    if (reference && *reference)
        snprintf(g->tiers[n++], CHP_NAME_MAX, "%s", reference);
    qsort(g->tiers, n, sizeof(*g->tiers), name_cmp);
    g->n_tiers = 0;
    for (size_t i = 0; i < n; i++)
        if (g->n_tiers == 0 || strcmp(g->tiers[g->n_tiers - 1], g->tiers[i]))
            memmove(g->tiers[g->n_tiers++], g->tiers[i], CHP_NAME_MAX);
    return CHP_OK;
}

/* Picks the reference and moves it to column 0, the others keeping their
 * byte order. */
static void choose_reference(rep_grid_t *g, const char *reference)
{
    size_t ref = 0;
    char keep[CHP_NAME_MAX];

    if (g->n_tiers == 0)
        return;
    if (reference && *reference) {
        g->ref_rule = REP_REF_GIVEN;
        ref = (size_t)rep_grid_tier(g, reference);
        g->ref_missing = true;
        for (size_t i = 0; i < g->n_pend; i++)
            if (!strcmp(g->pend[i].tier, reference))
                g->ref_missing = false;
    } else {
        uint64_t best = 0;
        g->ref_rule = REP_REF_LARGEST;
        for (size_t t = 0; t < g->n_tiers; t++) {
            uint64_t sum = 0;
            for (size_t i = 0; i < g->n_pend; i++)
                if (!strcmp(g->pend[i].tier, g->tiers[t]))
                    sum += g->pend[i].count;
            /* Strictly larger: a tie keeps the first name. */
            if (t == 0 || sum > best) {
                best = sum;
                ref = t;
            }
        }
    }
    memcpy(keep, g->tiers[ref], CHP_NAME_MAX);
    memmove(g->tiers[1], g->tiers[0], ref * CHP_NAME_MAX);
    memcpy(g->tiers[0], keep, CHP_NAME_MAX);
    g->ref = 0;
}

/* Fills one cell from a merged pending row, taking its sketch. */
static void cell_set(rep_cell_t *c, store_row_t *row)
{
    const chp_sketch_t *sk;

    c->present = true;
    c->row = *row;
    memset(row, 0, sizeof(*row));
    store_row_stats(&c->row, &c->st);
    c->p50 = NAN;
    sk = c->row.sketch;
    if (sk &&
        chp_sketch_count(sk) + chp_sketch_negative_count(sk) >= c->row.count)
        c->p50 = chp_sketch_quantile(sk, 0.5);
}

static chp_err_t lay_out(rep_grid_t *g)
{
    size_t b = 0;

    for (size_t i = 0; i < g->n_pend; i++)
        if (i == 0 || g->pend[i].time_begin != g->pend[i - 1].time_begin)
            g->n_buckets++;
    if (g->n_buckets == 0)
        return CHP_OK;
    g->begin = calloc(g->n_buckets, sizeof(*g->begin));
    g->end = calloc(g->n_buckets, sizeof(*g->end));
    g->cells = calloc(g->n_buckets * g->n_tiers, sizeof(*g->cells));
    if (!g->begin || !g->end || !g->cells)
        return CHP_ERR_NOMEM;
    for (size_t i = 0; i < g->n_pend; i++) {
        store_row_t *r = &g->pend[i];
        /* cell_set() empties the rows it takes: compare with begin[]. */
        if (i > 0 && r->time_begin != g->begin[b])
            b++;
        g->begin[b] = r->time_begin;
        if (r->time_end > g->end[b])
            g->end[b] = r->time_end;
        cell_set(&g->cells[b * g->n_tiers + (size_t)rep_grid_tier(g, r->tier)],
                 r);
    }
    return CHP_OK;
}

chp_err_t rep_grid_finish(rep_grid_t *g, const char *reference, char *errstr,
                          size_t errstr_size)
{
    chp_err_t err = CHP_ERR_NOMEM;

    if (g->nomem || pend_merge(g) != CHP_OK ||
        collect_tiers(g, reference) != CHP_OK)
        goto out;
    choose_reference(g, reference);
    if (lay_out(g) != CHP_OK)
        goto out;
    err = CHP_OK;
out:
    if (err != CHP_OK)
        snprintf(errstr, errstr_size, "out of memory reading topic %s",
                 g->topic);
    for (size_t i = 0; i < g->n_pend; i++)
        store_row_clear(&g->pend[i]);
    free(g->pend);
    g->pend = NULL;
    g->n_pend = g->cap_pend = 0;
    return err;
}

void rep_grid_free(rep_grid_t *g)
{
    for (size_t i = 0; i < g->n_pend; i++)
        store_row_clear(&g->pend[i]);
    free(g->pend);
    if (g->cells)
        for (size_t i = 0; i < g->n_buckets * g->n_tiers; i++)
            store_row_clear(&g->cells[i].row);
    free(g->cells);
    free(g->begin);
    free(g->end);
    free(g->tiers);
    memset(g, 0, sizeof(*g));
}

long rep_grid_tier(const rep_grid_t *g, const char *tier)
{
    for (size_t t = 0; t < g->n_tiers; t++)
        if (!strcmp(g->tiers[t], tier))
            return (long)t;
    return -1;
}

uint64_t rep_grid_total(const rep_grid_t *g, size_t t)
{
    uint64_t sum = 0;

    for (size_t b = 0; b < g->n_buckets; b++)
        sum += rep_cell(g, b, t)->row.count;
    return sum;
}

rep_cmp_t rep_compare(uint64_t count, uint64_t ref_count)
{
    rep_cmp_t c = {.count = count, .ref_count = ref_count};

    c.loss = (int64_t)(ref_count - count); /* two's complement: signed */
    if (ref_count == 0) {
        c.unexpected = count > 0;
        c.ratio = count > 0 ? NAN : 1.0;
    } else {
        c.ratio = (double)count / (double)ref_count;
    }
    return c;
}

rep_cmp_t rep_grid_compare(const rep_grid_t *g, size_t b, size_t t)
{
    return rep_compare(rep_cell(g, b, t)->row.count,
                       rep_cell(g, b, g->ref)->row.count);
}

bool rep_violates(const rep_cmp_t *c, double max_loss)
{
    if (c->unexpected)
        return true;
    if (c->count >= c->ref_count)
        return false;
    /* Compared as lost messages against the allowed number, with a margin
     * of rounding: 1 lost of 10000 at 0.01% is exactly at the threshold,
     * and that is allowed. */
    return (double)(c->ref_count - c->count) >
           max_loss * (double)c->ref_count * (1 + 1e-12);
}

/* True if a is worse than b: unexpected data first, then lower
 * completeness. */
static bool cmp_worse(const rep_cmp_t *a, const rep_cmp_t *b)
{
    if (a->unexpected != b->unexpected)
        return a->unexpected;
    return !a->unexpected && a->ratio < b->ratio;
}

long rep_bucket_worst(const rep_grid_t *g, size_t b, rep_cmp_t *out)
{
    long worst = -1;

    for (size_t t = 0; t < g->n_tiers; t++) {
        rep_cmp_t c;
        if (t == g->ref)
            continue;
        c = rep_grid_compare(g, b, t);
        if (worst < 0 || cmp_worse(&c, out)) {
            *out = c;
            worst = (long)t;
        }
    }
    return worst;
}

bool rep_bucket_final(int64_t end, int64_t now_s, int64_t lateness_s)
{
    return now_s - end > lateness_s;
}

size_t rep_check_grid(const rep_grid_t *g, double max_loss, int64_t lateness_s,
                      int64_t now_s, rep_violation_cb_t *cb, void *opaque,
                      rep_check_stats_t *st)
{
    size_t found = 0;

    for (size_t b = 0; b < g->n_buckets; b++) {
        bool bad = false;
        if (!rep_bucket_final(g->end[b], now_s, lateness_s))
            continue;
        st->final_buckets++;
        for (size_t t = 0; t < g->n_tiers; t++) {
            rep_cmp_t c;
            if (t == g->ref)
                continue;
            c = rep_grid_compare(g, b, t);
            if (!st->have_worst || cmp_worse(&c, &st->worst)) {
                st->have_worst = true;
                st->worst = c;
                snprintf(st->worst_topic, sizeof(st->worst_topic), "%s",
                         g->topic);
                snprintf(st->worst_tier, sizeof(st->worst_tier), "%s",
                         g->tiers[t]);
                st->worst_begin = g->begin[b];
            }
            if (rep_violates(&c, max_loss)) {
                found++;
                bad = true;
                if (cb)
                    cb(g, b, t, &c, opaque);
            }
        }
        st->bad_buckets += bad;
    }
    st->violations += found;
    return found;
}

int rep_check_exit_status(const rep_check_stats_t *st)
{
    return st->violations ? 2 : 0;
}

typedef struct summary_ctx {
    rep_summary_t *out;
    long last_bucket; /* counted as unexpected already */
} summary_ctx_t;

static void count_unexpected(const rep_grid_t *g, size_t b, size_t t,
                             const rep_cmp_t *c, void *opaque)
{
    summary_ctx_t *x = opaque;
    (void)g, (void)t;

    if (c->unexpected && x->last_bucket != (long)b) {
        x->out->unexpected_buckets++;
        x->last_bucket = (long)b;
    }
}

void rep_grid_summary(const rep_grid_t *g, double max_loss, int64_t lateness_s,
                      int64_t now_s, rep_summary_t *out)
{
    summary_ctx_t x = {.out = out, .last_bucket = -1};

    memset(out, 0, sizeof(*out));
    out->buckets = g->n_buckets;
    rep_check_grid(g, max_loss, lateness_s, now_s, count_unexpected, &x,
                   &out->check);
}
