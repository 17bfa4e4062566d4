/*
 * store.h - the collector's one storage interface (design.md §8), implemented
 * by store_sqlite.c, store_mysql.c and store_pgsql.c over the same typed schema
 * (docs/collector.md):
 *
 *   audit_rows(time_begin, time_end, topic, tier, datacenter, host,
 *              count, total_bytes, no_time_count, malformed_count,
 *              negative_latency_count, delivery_failed_count,
 *              audit_dropped_count, aborted_count, latency_sum_ms,
 *              mean_latency, latency_p95, latency_p99, max_latency,
 *              sketch, updated_at)
 *       PRIMARY KEY (time_begin, topic, tier, datacenter, host)
 *       INDEX (topic, time_begin)
 *   seen_uuids(uuid PRIMARY KEY, seen_at)          -- dedup=db
 *   source_offsets(cluster, topic, part, next_offset,
 *                  PRIMARY KEY (cluster, topic, part))
 *   schema_version(version)
 *
 * Exactly once: one flush (store_ops_t.flush) is one database transaction
 * holding the row upserts (counts added, sketches merged), the seen uuids
 * and the audit-topic offsets.  Either all of it is committed or none of it.
 * The offsets are written compare-and-set: each moves from the offset the batch
 * started from (prev_offset) to its end, and the whole transaction is rolled
 * back (STORE_ERR_STALE) when the stored offset is anything else, so a batch
 * replayed after an uncertain COMMIT, or flushed by a collector that lost its
 * partitions, never applies twice and an offset never moves backwards.  Offsets
 * are keyed by the audit cluster too, so collectors of several clusters share
 * one database.
 */
#ifndef CHP_COLLECTOR_STORE_H
#define CHP_COLLECTOR_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"

#define STORE_SCHEMA_VERSION 2

/* store_ops_t.flush: an offset of the batch is not where the batch started
 * (already applied, or another collector moved on); nothing was written.
 * The caller drops the batch and resumes from the stored offsets. */
#define STORE_ERR_STALE CHP_ERR_RANGE

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

/* An audit-topic position: everything before next_offset is stored.  In a
 * flush, prev_offset is the stored next offset the batch started from (-1:
 * none stored yet); the write applies only if the store still holds it. */
typedef struct store_offset {
    char topic[CHP_NAME_MAX];
    int32_t partition;
    int64_t next_offset;
    int64_t prev_offset;
} store_offset_t;

/* What one flush writes, in one transaction. */
typedef struct store_batch {
    const store_row_t *rows;
    size_t n_rows;
    /* uuids of the messages in rows; with dedup=db each is inserted into
     * seen_uuids, and a uuid already there (or twice in uuids) makes the
     * whole flush fail with CHP_ERR_STATE and write nothing: its counts are
     * in rows already.  The caller pre-filters with seen() so this is rare
     * (another collector stored it meanwhile): it re-filters and rebuilds
     * the batch instead of retrying it as it is. */
    const char *const *uuids;
    size_t n_uuids;
    const store_offset_t *offsets;
    size_t n_offsets;
    const char *cluster; /* the audit cluster the offsets belong to */
    bool dedup_in_db;
} store_batch_t;

typedef struct store store_t;

/* A backend's functions; every call fills errstr on failure. */
typedef struct store_ops {
    const char *scheme; /* "sqlite", "mysql", "postgresql" */
    chp_err_t (*open)(const char *url, store_t **out, char *errstr,
                      size_t errstr_size);
    /* Creates or migrates the schema to STORE_SCHEMA_VERSION. */
    chp_err_t (*migrate)(store_t *s, char *errstr, size_t errstr_size);
    /* Which of uuids[0..n) are already in seen_uuids: seen[i] set true. */
    chp_err_t (*seen)(store_t *s, const char *const *uuids, size_t n,
                      bool *seen, char *errstr, size_t errstr_size);
    /* One transaction: move the offsets (compare-and-set, first), upsert
     * rows (adding counts, merging sketches, recomputing mean/p95/p99/max
     * from the merged sketch), insert uuids (dedup_in_db).  On any error,
     * rolled back: CHP_ERR_DB with the server's message (retry later, e.g.
     * the server is down), CHP_ERR_STATE for a uuid already stored (see
     * store_batch_t), STORE_ERR_STALE when an offset is not prev_offset
     * (drop the batch).  Two rows with the same key in one batch are added
     * together. */
    chp_err_t (*flush)(store_t *s, const store_batch_t *b, char *errstr,
                       size_t errstr_size);
    /* The stored next offset of (cluster, topic, partition), -1 if none.
     * An offset stored by schema 1 (no cluster) is adopted by the first
     * cluster that asks for its (topic, partition). */
    chp_err_t (*offset)(store_t *s, const char *cluster, const char *topic,
                        int32_t partition, int64_t *next_offset, char *errstr,
                        size_t errstr_size);
    /* Deletes rows with time_begin < before_s and uuids seen before
     * uuid_before_s. */
    chp_err_t (*retention)(store_t *s, int64_t before_s, int64_t uuid_before_s,
                           char *errstr, size_t errstr_size);
    /* Reads rows of topic with from_s <= time_begin < to_s (topic NULL:
     * all topics), ordered by (topic, time_begin, tier); cb per row (the
     * row's sketch is owned by the store and valid during the call). */
    chp_err_t (*query)(store_t *s, const char *topic, int64_t from_s,
                       int64_t to_s,
                       void (*cb)(const store_row_t *row, void *opaque),
                       void *opaque, char *errstr, size_t errstr_size);
    /* Distinct topics, ordered; cb per topic. */
    chp_err_t (*topics)(store_t *s, void (*cb)(const char *topic, void *opaque),
                        void *opaque, char *errstr, size_t errstr_size);
    /* Closes and frees.  Backends reconnect inside their calls after a
     * connection failure, so a store survives a database restart. */
    void (*close)(store_t *s);
} store_ops_t;

/* The backend for a db.url ("sqlite://path", "mysql://user:pass@host:port/db",
 * "postgresql://..."); NULL with errstr naming db.url if unknown. */
const store_ops_t *store_ops_for_url(const char *url, char *errstr,
                                     size_t errstr_size);

/* Convenience wrappers: open + migrate. */
chp_err_t store_open(const char *url, const store_ops_t **ops, store_t **out,
                     char *errstr, size_t errstr_size);

/* ------------------------------------------------------------------------
 * Rows: the one merge rule, used by the stores' read-merge-write and
 * available to the collector's in-memory aggregation, so both agree.
 * ------------------------------------------------------------------------ */

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

extern const store_ops_t store_sqlite_ops;
extern const store_ops_t store_mysql_ops;
extern const store_ops_t store_pgsql_ops;

#endif
