/*
 * report.h - completeness of a topic across tiers (design.md §9): the model
 * behind `chaperone report`, `chaperone check`, the query API and the
 * dashboard (docs/report.md).
 *
 *   report.h / grid.c     the grid: one row per bucket, one column per tier,
 *                         the reference tier, loss and completeness (pure)
 *   report.h / parse.c    TIME, DURATION and loss-threshold arguments (pure)
 *   format.h / format.c   table, CSV and JSON renderings of a grid (pure)
 *   load.c                filling a grid from the store
 *   cmd_report.c, cmd_check.c   the two subcommands
 *   api.c, dashboard.c, chart.c the HTTP API and the dashboard
 *
 * Rules (documented in docs/report.md):
 *  - a cell (bucket, tier) sums the rows of every datacenter and host;
 *  - loss = count(reference) - count(tier), negative when the tier saw more;
 *  - completeness = count(tier) / count(reference); 1 when both are 0;
 *    when the reference saw nothing and the tier did, the cell is
 *    "unexpected data" and has no completeness;
 *  - the reference tier is the one given (--reference, ?reference=,
 *    report.reference.tier), else the tier with the largest total count
 *    over the whole range (ties: the first name in byte order).  A given
 *    reference without rows in the range is shown with zero counts.
 */
#ifndef CHP_REPORT_REPORT_H
#define CHP_REPORT_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"
#include "row.h"

/* The store the loaders read (collector/store.h). */
typedef struct store store_t;

/* Widest range a report, check or API request may cover: bounds the
 * memory of one request (the store keeps 14 days by default). */
#define REP_MAX_RANGE_S (400LL * 86400)
/* Default range: the last 24 hours. */
#define REP_DEFAULT_RANGE_S (24LL * 3600)
/* "2016-11-05T02:00:00Z" and its NUL. */
#define REP_TIME_MAX 32

/* ------------------------------------------------------------ the model */

/* One (bucket, tier): the sum over datacenters and hosts. */
typedef struct rep_cell {
    bool present;     /* at least one stored row */
    store_row_t row;  /* the sum; owns its sketch */
    store_stats_t st; /* mean, p95, p99, max (store_row_stats) */
    double p50;       /* from the sketch when it covers every message, else
                         NAN (unknown) */
} rep_cell_t;

/* One tier compared with the reference in one bucket. */
typedef struct rep_cmp {
    uint64_t count, ref_count;
    int64_t loss;    /* ref_count - count; negative: more than the reference */
    double ratio;    /* count / ref_count; 1 when both are 0; NAN when
                        unexpected */
    bool unexpected; /* ref_count == 0 and count > 0 */
} rep_cmp_t;

typedef enum rep_ref_rule {
    REP_REF_LARGEST, /* chosen: the largest total over the range */
    REP_REF_GIVEN,   /* named by the caller */
} rep_ref_rule_t;

typedef struct rep_grid {
    char topic[CHP_NAME_MAX];
    int64_t from, to; /* the range asked for: from <= begin < to */

    /* Columns: the reference first, then the others in byte order of
     * their names.  tiers[ref] is the reference (ref == 0 whenever
     * n_tiers > 0). */
    char (*tiers)[CHP_NAME_MAX];
    size_t n_tiers, ref;
    rep_ref_rule_t ref_rule;
    bool ref_missing; /* the given reference had no rows: zero column */

    /* Rows: buckets with at least one stored row, by begin. */
    int64_t *begin, *end;
    size_t n_buckets;
    rep_cell_t *cells; /* [bucket * n_tiers + tier] */

    /* Building (rep_grid_add): rows summed per (bucket, tier). */
    store_row_t *pend;
    size_t n_pend, cap_pend;
    bool nomem;
} rep_grid_t;

/* An empty grid of topic for [from, to). */
void rep_grid_init(rep_grid_t *g, const char *topic, int64_t from, int64_t to);
/* Adds one stored row (any datacenter and host; the row is copied, its
 * sketch too).  An allocation failure is reported by rep_grid_finish. */
void rep_grid_add(rep_grid_t *g, const store_row_t *row);
/*
 * Lays out the added rows and picks the reference: reference names it
 * (NULL or "": the largest total).  CHP_ERR_NOMEM if memory ran out
 * (here or in rep_grid_add); the grid must be freed either way.
 */
chp_err_t rep_grid_finish(rep_grid_t *g, const char *reference, char *errstr,
                          size_t errstr_size);
void rep_grid_free(rep_grid_t *g);

static inline const rep_cell_t *rep_cell(const rep_grid_t *g, size_t b,
                                         size_t t)
{
    return &g->cells[b * g->n_tiers + t];
}

/* Index of tier in g, or -1. */
long rep_grid_tier(const rep_grid_t *g, const char *tier);
/* Total count of tier t over all buckets. */
uint64_t rep_grid_total(const rep_grid_t *g, size_t t);

/* Compares count with ref_count (see rep_cmp_t). */
rep_cmp_t rep_compare(uint64_t count, uint64_t ref_count);
/* Tier t of bucket b against the reference. */
rep_cmp_t rep_grid_compare(const rep_grid_t *g, size_t b, size_t t);

/*
 * True when c breaks a threshold of max_loss (a fraction, 0.0001 =
 * 0.01%): the tier lost more than max_loss of the reference's messages,
 * i.e. its completeness is below 1 - max_loss, or it is unexpected data.
 * A tier that saw more than the reference (duplicates) never does.
 */
bool rep_violates(const rep_cmp_t *c, double max_loss);

/* The worst non-reference tier of bucket b: an unexpected one first, else
 * the lowest completeness (ties: the first column).  -1 when the bucket
 * has no other tier than the reference. */
long rep_bucket_worst(const rep_grid_t *g, size_t b, rep_cmp_t *out);

/* ------------------------------------------------------------ check */

/* A bucket is final (closed) when it ended more than lateness_s ago. */
bool rep_bucket_final(int64_t end, int64_t now_s, int64_t lateness_s);

typedef struct rep_check_stats {
    size_t final_buckets; /* final buckets looked at */
    size_t violations;    /* (bucket, tier) pairs that broke max_loss */
    size_t bad_buckets;   /* final buckets with at least one violation */
    /* The worst comparison of a non-reference tier in a final bucket:
     * unexpected data first, else the lowest completeness. */
    bool have_worst;
    rep_cmp_t worst;
    char worst_topic[CHP_NAME_MAX], worst_tier[CHP_NAME_MAX];
    int64_t worst_begin;
} rep_check_stats_t;

typedef void(rep_violation_cb_t)(const rep_grid_t *g, size_t b, size_t t,
                                 const rep_cmp_t *c, void *opaque);

/* Checks every final bucket of g: cb (may be NULL) per violating
 * (bucket, tier) in bucket then column order; st accumulates (zero it
 * first; one st may span several grids).  Returns the violations found
 * in g. */
size_t rep_check_grid(const rep_grid_t *g, double max_loss, int64_t lateness_s,
                      int64_t now_s, rep_violation_cb_t *cb, void *opaque,
                      rep_check_stats_t *st);

/* What the topic list of the API and the dashboard shows of one grid. */
typedef struct rep_summary {
    size_t buckets;            /* buckets with rows */
    size_t unexpected_buckets; /* final buckets with unexpected data */
    rep_check_stats_t check;   /* the final buckets, as `check` sees them */
} rep_summary_t;

/* Summarises g as rep_check_grid would check it (final buckets only: the
 * open ones are still filling up, and would look lossy). */
void rep_grid_summary(const rep_grid_t *g, double max_loss, int64_t lateness_s,
                      int64_t now_s, rep_summary_t *out);

/* The exit status of `chaperone check`: 2 with violations, else 0 (1, the
 * error status, is decided before). */
int rep_check_exit_status(const rep_check_stats_t *st);

/* ------------------------------------------------------------ arguments */

/*
 * A point in time, epoch seconds:
 *   1478311200            epoch seconds (above 999999999999: milliseconds)
 *   2016-11-05T02:00:00Z  ISO-8601: date, optional time (HH:MM[:SS[.f]],
 *                         'T' or ' '), optional zone (Z, +HH:MM, -HHMM);
 *                         no zone means UTC
 *   -6h  -30m  -1h30m     relative to now_s (units s m h d w)
 *   now
 * CHP_ERR_PARSE with errstr saying what is wrong (without naming the
 * argument: the caller does).
 */
chp_err_t rep_parse_time(const char *s, int64_t now_s, int64_t *out,
                         char *errstr, size_t errstr_size);

/* A duration in seconds: 90s, 30m, 1h, 1h30m, 2d, 1w, or plain seconds
 * (1800).  Not negative. */
chp_err_t rep_parse_duration(const char *s, int64_t *out, char *errstr,
                             size_t errstr_size);

/* A loss threshold as a fraction: "0.01%" (percent, 0..100) or "0.0001"
 * (a fraction, 0..1). */
chp_err_t rep_parse_loss(const char *s, double *out, char *errstr,
                         size_t errstr_size);

/* Parses from_s/to_s (NULL: now - 24 h and now) and checks
 * from <= to and to - from <= REP_MAX_RANGE_S.  errstr names the argument
 * as from_name/to_name ("--from", "from"). */
chp_err_t rep_parse_range(const char *from_s, const char *to_s,
                          const char *from_name, const char *to_name,
                          int64_t now_s, int64_t *from, int64_t *to,
                          char *errstr, size_t errstr_size);

/* True if s is usable as a tier name: 1..CHP_NAME_MAX-1 bytes, no control
 * characters. */
bool rep_tier_name_ok(const char *s);

/* t as "2016-11-05T02:00:00Z" (UTC). */
void rep_format_time(int64_t t, char buf[REP_TIME_MAX]);
/* s seconds as the shortest of "90s", "30m", "1h30m", "2d". */
void rep_format_duration(int64_t s, char *buf, size_t size);

/* ------------------------------------------------------------ loading */

/*
 * Fills g (rep_grid_init'ed by this call) with topic's rows of [from, to)
 * and finishes it with reference.  CHP_ERR_DB with the store's message
 * when the database fails.  Free g with rep_grid_free in every case.
 */
chp_err_t rep_load(store_t *s, const char *topic, int64_t from, int64_t to,
                   const char *reference, rep_grid_t *g, char *errstr,
                   size_t errstr_size);

/* Whether topic has ever been stored (store_topics).  CHP_ERR_DB on
 * failure. */
chp_err_t rep_topic_exists(store_t *s, const char *topic, bool *exists,
                           char *errstr, size_t errstr_size);

/* Every stored topic, in order: a NULL-terminated array of strings
 * (free with rep_topics_free). */
chp_err_t rep_topics(store_t *s, char ***out, size_t *n, char *errstr,
                     size_t errstr_size);
void rep_topics_free(char **topics);

#endif
