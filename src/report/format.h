/* format.h - renderings of a completeness grid (report.h): the table a
 * person reads, CSV for spreadsheets, JSON for programs (the same document
 * the query API serves).  Pure functions of the grid; docs/report.md shows
 * each. */
#ifndef CHP_REPORT_FORMAT_H
#define CHP_REPORT_FORMAT_H

#include <stdbool.h>

#include <jansson.h>

#include "report/report.h"

typedef enum rep_format {
    REP_FMT_TABLE,
    REP_FMT_JSON,
    REP_FMT_CSV
} rep_format_t;

/* "table", "json" or "csv". */
chp_err_t rep_format_parse(const char *s, rep_format_t *out, char *errstr,
                           size_t errstr_size);

/* Each returns a malloc()ed NUL-terminated text ending in a newline (the
 * caller frees it), or NULL when out of memory. */

/* A title line, then one line per bucket: the count of every tier (the
 * reference first), then loss and completeness of every other tier, and
 * with latency p95/p99 (ms) of every tier. */
char *rep_format_table(const rep_grid_t *g, bool latency);
/* A header, then one line per bucket; per tier: count, loss, completeness
 * (empty when unexpected), unexpected (0/1), p95 and p99 (ms, empty
 * without rows). */
char *rep_format_csv(const rep_grid_t *g);
/* rep_grid_json, indented (pretty) or on one line. */
char *rep_format_json(const rep_grid_t *g, bool pretty);

/* The completeness document: topic, range, reference, tiers and per
 * bucket per tier count, loss, completeness, unexpected, p95Ms, p99Ms.
 * NULL when out of memory; the caller decrefs. */
json_t *rep_grid_json(const rep_grid_t *g);
/* The buckets document: per bucket the stored counters and latencies of
 * every tier that has rows (no reference, no loss). */
json_t *rep_buckets_json(const rep_grid_t *g);

/* json as text with a trailing newline (malloc()ed), NULL on ENOMEM. */
char *rep_json_text(const json_t *json, bool pretty);
/* rep_json_text of doc, which it takes (doc NULL: NULL). */
char *rep_json_text_take(json_t *doc, bool pretty);
/* A latency in ms rounded to the microsecond (the sketch is 1% accurate,
 * more digits are noise); null when not finite. */
json_t *rep_json_ms(double v);
/* Sets key of obj to v; false (v released) when v or the set failed. */
bool rep_json_put(json_t *obj, const char *key, json_t *v);

#endif
