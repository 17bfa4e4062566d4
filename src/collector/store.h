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
 * Exactly once: one flush (store_flush) is one database transaction
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
#include "row.h"

#define STORE_SCHEMA_VERSION 2

/* store_flush: an offset of the batch is not where the batch started
 * (already applied, or another collector moved on); nothing was written.
 * The caller drops the batch and resumes from the stored offsets. */
#define STORE_ERR_STALE CHP_ERR_RANGE

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
     * in rows already.  The caller pre-filters with store_seen() so this is
     * rare (another collector stored it meanwhile): it re-filters and rebuilds
     * the batch instead of retrying it as it is. */
    const char *const *uuids;
    size_t n_uuids;
    const store_offset_t *offsets;
    size_t n_offsets;
    const char *cluster; /* the audit cluster the offsets belong to */
    bool dedup_in_db;
} store_batch_t;

typedef struct store store_t;

/* The database behind a store. */
typedef enum store_kind {
    STORE_SQLITE,
    STORE_MYSQL,
    STORE_PGSQL,
} store_kind_t;

/* The backend of a db.url ("sqlite://path", "mysql://user:pass@host:port/db",
 * "postgresql://..."); CHP_ERR_INVALID_ARG with errstr naming db.url (and
 * never the password) if the scheme is unknown. */
chp_err_t store_kind_for_url(const char *url, store_kind_t *kind, char *errstr,
                             size_t errstr_size);

/* Opens the store of url and creates or migrates its schema to
 * STORE_SCHEMA_VERSION.  *out is NULL on failure: CHP_ERR_INVALID_ARG for a
 * bad URL, CHP_ERR_DB (or CHP_ERR_IO for SQLite) when the database cannot be
 * reached or migrated.  Every call below fills errstr on failure. */
chp_err_t store_open(const char *url, store_t **out, char *errstr,
                     size_t errstr_size);

/* Closes and frees (NULL is fine).  The calls below reconnect after a
 * connection failure, so a store survives a database restart. */
void store_close(store_t *s);

store_kind_t store_kind(const store_t *s);

/* "sqlite", "mysql" or "postgresql", for messages. */
const char *store_scheme(const store_t *s);

/* Creates or migrates the schema to STORE_SCHEMA_VERSION (store_open does;
 * again is harmless). */
chp_err_t store_migrate(store_t *s, char *errstr, size_t errstr_size);

/* Which of uuids[0..n) are already in seen_uuids: seen[i] set true. */
chp_err_t store_seen(store_t *s, const char *const *uuids, size_t n, bool *seen,
                     char *errstr, size_t errstr_size);

/* One transaction: move the offsets (compare-and-set, first), upsert rows
 * (adding counts, merging sketches, recomputing mean/p95/p99/max from the
 * merged sketch), insert uuids (dedup_in_db).  On any error, rolled back:
 * CHP_ERR_DB with the server's message (retry later, e.g. the server is
 * down), CHP_ERR_STATE for a uuid already stored (see store_batch_t),
 * STORE_ERR_STALE when an offset is not prev_offset (drop the batch).  Two
 * rows with the same key in one batch are added together. */
chp_err_t store_flush(store_t *s, const store_batch_t *b, char *errstr,
                      size_t errstr_size);

/* The stored next offset of (cluster, topic, partition), -1 if none.  An
 * offset stored by schema 1 (no cluster) is adopted by the first cluster
 * that asks for its (topic, partition). */
chp_err_t store_offset(store_t *s, const char *cluster, const char *topic,
                       int32_t partition, int64_t *next_offset, char *errstr,
                       size_t errstr_size);

/* One transaction deleting rows with time_begin < before_s and uuids seen
 * before uuid_before_s. */
chp_err_t store_retention(store_t *s, int64_t before_s, int64_t uuid_before_s,
                          char *errstr, size_t errstr_size);

/* Reads rows of topic with from_s <= time_begin < to_s (topic NULL: all
 * topics), ordered by (topic, time_begin, tier, datacenter, host); cb per
 * row (the row's sketch is owned by the store and valid during the call).
 * cb must not start another query or topics on s. */
chp_err_t store_query(store_t *s, const char *topic, int64_t from_s,
                      int64_t to_s,
                      void (*cb)(const store_row_t *row, void *opaque),
                      void *opaque, char *errstr, size_t errstr_size);

/* Distinct topics, ordered; cb per topic. */
chp_err_t store_topics(store_t *s, void (*cb)(const char *topic, void *opaque),
                       void *opaque, char *errstr, size_t errstr_size);

#endif
