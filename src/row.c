/*
 * row.c - the audit row model and its merge rule (row.h).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "row.h"
#include "sketch.h"

bool store_row_same_key(const store_row_t *a, const store_row_t *b)
{
    return a->time_begin == b->time_begin && strcmp(a->topic, b->topic) == 0 &&
           strcmp(a->tier, b->tier) == 0 &&
           strcmp(a->datacenter, b->datacenter) == 0 &&
           strcmp(a->host, b->host) == 0;
}

chp_err_t store_row_from_msg(store_row_t *row, const chp_auditmsg_t *m,
                             bool combine_hosts)
{
    memset(row, 0, sizeof(*row));
    if (m->sketch && !(row->sketch = chp_sketch_dup(m->sketch)))
        return CHP_ERR_NOMEM;
    row->time_begin = m->time_begin;
    row->time_end = m->time_end;
    memcpy(row->topic, m->topic, sizeof(row->topic));
    memcpy(row->tier, m->tier, sizeof(row->tier));
    memcpy(row->datacenter, m->datacenter, sizeof(row->datacenter));
    if (combine_hosts)
        snprintf(row->host, sizeof(row->host), "combined");
    else
        memcpy(row->host, m->hostname, sizeof(row->host));
    row->count = m->count;
    row->total_bytes = m->total_bytes;
    row->no_time_count = m->no_time_count;
    row->malformed_count = m->malformed_count;
    row->negative_latency_count = m->negative_latency_count;
    row->delivery_failed_count = m->delivery_failed_count;
    row->audit_dropped_count = m->audit_dropped_count;
    row->aborted_count = m->aborted_count;
    row->latency_sum_ms = m->latency_sum_ms;
    /* The original sends only the mean; the sum keeps means of merged rows
     * weighted by their counts. */
    if (row->latency_sum_ms == 0 && m->mean_latency != 0 &&
        m->count > m->negative_latency_count)
        row->latency_sum_ms =
            m->mean_latency * (double)(m->count - m->negative_latency_count);
    row->latency95 = m->latency95;
    row->latency99 = m->latency99;
    row->max_latency = m->max_latency;
    return CHP_OK;
}

chp_err_t store_row_add(store_row_t *dst, const store_row_t *src)
{
    if (src->sketch && !dst->sketch && !(dst->sketch = chp_sketch_new()))
        return CHP_ERR_NOMEM;
    if (src->sketch)
        chp_sketch_merge(dst->sketch, src->sketch);
    if (src->time_end > dst->time_end)
        dst->time_end = src->time_end;
    dst->count += src->count;
    dst->total_bytes += src->total_bytes;
    dst->no_time_count += src->no_time_count;
    dst->malformed_count += src->malformed_count;
    dst->negative_latency_count += src->negative_latency_count;
    dst->delivery_failed_count += src->delivery_failed_count;
    dst->audit_dropped_count += src->audit_dropped_count;
    dst->aborted_count += src->aborted_count;
    dst->latency_sum_ms += src->latency_sum_ms;
    dst->latency95 = fmax(dst->latency95, src->latency95);
    dst->latency99 = fmax(dst->latency99, src->latency99);
    dst->max_latency = fmax(dst->max_latency, src->max_latency);
    return CHP_OK;
}

void store_row_clear(store_row_t *row)
{
    chp_sketch_destroy(row->sketch);
    memset(row, 0, sizeof(*row));
}

/* Databases reject NaN and infinities; a latency that is not a number is
 * no latency. */
static double finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

void store_row_stats(const store_row_t *row, store_stats_t *st)
{
    uint64_t n = row->count > row->negative_latency_count
                     ? row->count - row->negative_latency_count
                     : 0;

    st->mean = n ? row->latency_sum_ms / (double)n : 0.0;
    st->p95 = row->latency95;
    st->p99 = row->latency99;
    st->max = row->max_latency;
    if (row->sketch) {
        const chp_sketch_t *sk = row->sketch;
        static const double qs[2] = {0.95, 0.99};
        double qv[2];
        /* One pass for both: the bins are ~9 KiB a row. */
        uint64_t covered =
            chp_sketch_quantiles(sk, qs, 2, qv) + chp_sketch_negative_count(sk);
        double q95 = qv[0], q99 = qv[1];

        if (covered >= row->count) {
            st->p95 = q95;
            st->p99 = q99;
        } else {
            st->p95 = fmax(q95, row->latency95);
            st->p99 = fmax(q99, row->latency99);
        }
        st->max = fmax(st->max, (double)chp_sketch_max(sk));
    }
    st->mean = finite_or_zero(st->mean);
    st->p95 = finite_or_zero(st->p95);
    st->p99 = finite_or_zero(st->p99);
    st->max = finite_or_zero(st->max);
}
