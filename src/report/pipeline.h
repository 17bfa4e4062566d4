/*
 * pipeline.h - hop-by-hop results of a topic along an ordered pipeline of
 * tiers (report.pipeline=producer,kafka-regional,kafka-aggregate,consumer-x):
 * each tier compared with the one before it, so a loss or a duplication is
 * found at the hop where it happened (docs/pipeline.md).
 *
 * Rules:
 *  - a hop compares tier i (upstream) with tier i+1 (downstream) per
 *    bucket;
 *  - per datacenter when both tiers report the same, non-empty set of
 *    datacenters over the range (producer@dc1 -> kafka-regional@dc1);
 *    otherwise summed over datacenters (regional dc1 + dc2 -> aggregate:
 *    the topology fans in);
 *  - loss = upstream - downstream when positive, duplicated = downstream -
 *    upstream when positive (a hop sees only the net difference: a loss
 *    and a duplication in the same cell cancel out);
 *    completeness = min(up, down) / up, 1 when both are 0; up = 0 and
 *    down > 0 is unexpected data (no completeness, all of it duplicated);
 *  - latency added: p50 and p99 of the downstream cell minus those of the
 *    upstream cell (NAN when either has no sketch covering its messages);
 *  - a violation (check) in a final bucket: a loss above max_loss of the
 *    upstream count, a duplication above max_loss of it, or unexpected
 *    data.
 * Pure: rows in, numbers out; pipeline_load.c fills it from the store.
 */
#ifndef CHP_REPORT_PIPELINE_H
#define CHP_REPORT_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"
#include "row.h"

/* The store the loaders read (collector/store.h). */
typedef struct store store_t;
#include "report/report.h"

/* Most tiers in a pipeline. */
#define REP_PIPE_MAX_TIERS 16

/* The ordered tiers of a pipeline. */
typedef struct rep_pipe_spec {
    char tiers[REP_PIPE_MAX_TIERS][CHP_NAME_MAX];
    size_t n;
} rep_pipe_spec_t;

/*
 * Parses "producer, kafka-regional ,kafka-aggregate" (comma-separated,
 * blanks around names ignored): 2 to REP_PIPE_MAX_TIERS distinct tier
 * names.  "" gives n = 0 (no pipeline).  errstr says what is wrong without
 * naming the key (the caller does).
 */
chp_err_t rep_pipe_spec_parse(const char *s, rep_pipe_spec_t *out, char *errstr,
                              size_t errstr_size);

/* The pipeline of a command or request: arg when given (errors name
 * arg_name), else conf's report.pipeline (errors name the key).  n = 0: no
 * pipeline. */
chp_err_t rep_pipe_spec_arg(const chp_conf_t *conf, const char *arg,
                            const char *arg_name, rep_pipe_spec_t *spec,
                            char *errstr, size_t errstr_size);

/* One (bucket, hop, datacenter) comparison. */
typedef struct rep_hop_cell {
    uint64_t up, down;
    uint64_t loss;       /* up - down when up > down, else 0 */
    uint64_t duplicated; /* down - up when down > up, else 0 */
    double completeness; /* min(up, down) / up; 1 when both 0; NAN when
                            unexpected */
    bool unexpected;     /* up == 0 and down > 0 */
    double up_p50, up_p99, down_p50, down_p99; /* ms, NAN: unknown */
    double p50_added, p99_added;               /* down - up, NAN: unknown */
} rep_hop_cell_t;

typedef struct rep_hop {
    size_t up, down; /* tier indexes */
    bool per_dc;     /* compared per datacenter, else summed */
    size_t n_dc;     /* per_dc: the datacenters; summed: 1 */
    char (*dc)[CHP_NAME_MAX];
    /* summed: "dc1+dc2" (the upstream datacenters, "-" for none) */
    char label[CHP_NAME_MAX];
    rep_hop_cell_t *cells; /* [bucket * n_dc + d] */
    rep_hop_cell_t *total; /* [d]: counts and loss summed over buckets */
} rep_hop_t;

/* One tier's datacenters and its counts per bucket (summed over them). */
typedef struct rep_pipe_tier {
    char name[CHP_NAME_MAX];
    char (*dc)[CHP_NAME_MAX]; /* datacenters with rows, byte order */
    size_t n_dc;
    uint64_t *count; /* [bucket] */
    uint64_t total;
} rep_pipe_tier_t;

typedef struct rep_pipe {
    char topic[CHP_NAME_MAX];
    int64_t from, to;
    rep_pipe_spec_t spec;
    rep_pipe_tier_t tiers[REP_PIPE_MAX_TIERS]; /* spec.n of them */
    rep_hop_t hops[REP_PIPE_MAX_TIERS - 1];    /* spec.n - 1 of them */
    size_t n_hops;

    /* Buckets with at least one row of a pipeline tier, by begin. */
    int64_t *begin, *end;
    size_t n_buckets;

    /* Tiers with rows that are not in the pipeline (ignored), "a, b". */
    char others[512];

    /* Building: rows of pipeline tiers summed per (bucket, tier, dc). */
    store_row_t *pend;
    size_t n_pend, cap_pend;
    bool nomem;
} rep_pipe_t;

/* An empty pipeline result of topic for [from, to) along spec. */
void rep_pipe_init(rep_pipe_t *p, const char *topic, int64_t from, int64_t to,
                   const rep_pipe_spec_t *spec);
/* Adds one stored row (copied; rows of other tiers only named in
 * others). */
void rep_pipe_add(rep_pipe_t *p, const store_row_t *row);
/* Computes every hop.  CHP_ERR_NOMEM (errstr filled); free either way. */
chp_err_t rep_pipe_finish(rep_pipe_t *p, char *errstr, size_t errstr_size);
void rep_pipe_free(rep_pipe_t *p);

static inline const rep_hop_cell_t *rep_hop_cell(const rep_hop_t *h, size_t b,
                                                 size_t d)
{
    return &h->cells[b * h->n_dc + d];
}

/* The datacenter text of a hop's column d: "dc1" or "dc1+dc2". */
const char *rep_hop_dc(const rep_hop_t *h, size_t d);

/* ------------------------------------------------------------ check */

typedef enum rep_pipe_fault {
    REP_PIPE_OK,
    REP_PIPE_LOSS,
    REP_PIPE_DUPLICATION,
    REP_PIPE_UNEXPECTED,
} rep_pipe_fault_t;

/* What is wrong with c at threshold max_loss (a fraction). */
rep_pipe_fault_t rep_hop_fault(const rep_hop_cell_t *c, double max_loss);
const char *rep_pipe_fault_name(rep_pipe_fault_t f); /* "LOSS", ... */

typedef void(rep_hop_violation_cb_t)(const rep_pipe_t *p, size_t b,
                                     const rep_hop_t *h, size_t d,
                                     rep_pipe_fault_t f, void *opaque);

typedef struct rep_pipe_stats {
    size_t final_buckets, violations, bad_buckets;
    size_t lost_cells, duplicated_cells;
    uint64_t lost, duplicated; /* messages, over violating cells */
} rep_pipe_stats_t;

/* Checks every final bucket: cb (may be NULL) per violating (bucket, hop,
 * datacenter) in that order; st accumulates (zero it first).  Returns the
 * violations found in p. */
size_t rep_pipe_check(const rep_pipe_t *p, double max_loss, int64_t lateness_s,
                      int64_t now_s, rep_hop_violation_cb_t *cb, void *opaque,
                      rep_pipe_stats_t *st);

/* ------------------------------------------------------------ loading */

/* Fills p (rep_pipe_init'ed here) with topic's rows of [from, to) and
 * finishes it.  Free p with rep_pipe_free in every case. */
chp_err_t rep_pipe_load(store_t *s, const char *topic, int64_t from, int64_t to,
                        const rep_pipe_spec_t *spec, rep_pipe_t *p,
                        char *errstr, size_t errstr_size);

#endif
