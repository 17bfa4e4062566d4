/*
 * row.h - one row of the audit table (the sum of the audit messages of one
 * (time_begin, topic, tier, datacenter, host) key) and the one merge rule:
 * used by the collector's in-memory aggregation, the stores'
 * read-merge-write and the report's grids, so all three agree
 * (docs/design.md).  No I/O.
 */
#ifndef CHP_ROW_H
#define CHP_ROW_H

#include <stdbool.h>
#include <stdint.h>

#include "chaperone.h"

/* One aggregated row delta: the sum of the audit messages of one key. */
typedef struct store_row {
    int64_t time_begin, time_end;
    char topic[CHP_NAME_MAX];
    char tier[CHP_NAME_MAX];
    char datacenter[CHP_NAME_MAX];
    char host[CHP_NAME_MAX]; /* "combined" when combine.hosts=true */
    uint64_t count, total_bytes, no_time_count, malformed_count;
    uint64_t negative_latency_count;
    /* Not part of count (docs/client.md): producer deliveries that failed,
     * audit messages a reporter had to drop, messages of aborted
     * transactions.  Summed like count. */
    uint64_t delivery_failed_count, audit_dropped_count, aborted_count;
    double latency_sum_ms;
    /* Used when no sketch is known (original Chaperone's messages): the
     * stored p95/p99/max become the max of the old and the new values, as
     * the original did. */
    double latency95, latency99, max_latency;
    chp_sketch_t *sketch; /* NULL if none of the merged messages had one */
} store_row_t;

/* Fills row (all of it) from one audit message: the key (host "combined"
 * when combine_hosts), the counters, p95/p99/max, and a copy of m's sketch
 * owned by row (store_row_clear frees it).  A message without
 * latencySumMs (the original's) gets meanLatency * (count - negative).
 * CHP_ERR_NOMEM if the sketch cannot be copied. */
chp_err_t store_row_from_msg(store_row_t *row, const chp_auditmsg_t *m,
                             bool combine_hosts);

/* dst += src (callers pair rows of the same key): counts and sums added;
 * sketches merged (dst gets a copy of src's if it had none, and then owns
 * it); latency95/latency99/max_latency become the max of both, which is
 * what is left when no sketch is known.  CHP_ERR_NOMEM leaves dst as it
 * was. */
chp_err_t store_row_add(store_row_t *dst, const store_row_t *src);

/* Frees the row's sketch (if the row owns one) and zeroes the row. */
void store_row_clear(store_row_t *row);

/* True if a and b have the same (time_begin, topic, tier, datacenter,
 * host). */
bool store_row_same_key(const store_row_t *a, const store_row_t *b);

/* The derived columns of a row, as stored and as the readers show them. */
typedef struct store_stats {
    double mean; /* latency_sum_ms / (count - negative_latency_count) */
    /* From the sketch when it covers every message of the row; when some
     * messages had no sketch, the max of the sketch's value and the row's
     * latency95/99 (conservative, as the original); without a sketch, the
     * row's own values. */
    double p95, p99;
    double max; /* max of max_latency and the sketch's exact max */
} store_stats_t;

void store_row_stats(const store_row_t *row, store_stats_t *st);

#endif
