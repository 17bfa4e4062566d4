/* batch.h - what the collector consumed since its last database flush:
 * the audit-topic records (kept raw, so part of a batch can be taken out
 * again), the rows they aggregate to, their uuids and the next offset of
 * every partition they came from.  One batch is one store flush, so the
 * rows, the uuids and the offsets always commit together (design.md §8).
 * Not thread-safe. */
#ifndef CHP_COLLECTOR_BATCH_H
#define CHP_COLLECTOR_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"
#include "collector/store.h"

typedef enum coll_add {
    COLL_ADDED,       /* decoded and aggregated */
    COLL_DUPLICATE,   /* its uuid is already in this batch: not counted */
    COLL_UNDECODABLE, /* not an audit message: not counted */
} coll_add_t;

typedef struct coll_batch coll_batch_t;

/* An empty batch; NULL on ENOMEM. */
coll_batch_t *coll_batch_new(bool combine_hosts);
void coll_batch_destroy(coll_batch_t *b);
/* Empties the batch (what it held is dropped); the known positions
 * stay. */
void coll_batch_reset(coll_batch_t *b);

/*
 * Sets the stored next offset of (topic, partition) (-1: none stored), as
 * read from the store on assignment: the offset the next batch of that
 * partition starts from (store_offset_t.prev_offset), which its flush
 * requires the store to still hold.  CHP_ERR_NOMEM.
 */
chp_err_t coll_batch_set_position(coll_batch_t *b, const char *topic,
                                  int32_t partition, int64_t stored);

/* After a committed flush: every partition's next offset becomes its
 * known position, and the batch is emptied.  CHP_ERR_NOMEM (the batch is
 * emptied anyway; a position not recorded makes the next flush of that
 * partition stale, never wrong). */
chp_err_t coll_batch_committed(coll_batch_t *b);

/*
 * Adds the record at offset of (topic, partition): decodes it, drops it if
 * its uuid is already in the batch, else aggregates it.  Whatever *res
 * says, the partition's next offset becomes offset + 1: a skipped record is
 * consumed too.  For COLL_UNDECODABLE, errstr says why.  Returns
 * CHP_ERR_NOMEM (batch unchanged) or CHP_OK.
 */
chp_err_t coll_batch_add(coll_batch_t *b, const char *topic, int32_t partition,
                         int64_t offset, const void *payload, size_t len,
                         coll_add_t *res, char *errstr, size_t errstr_size);

/* Records added since the last reset, skipped ones included. */
size_t coll_batch_records(const coll_batch_t *b);
/* Messages aggregated (not skipped). */
size_t coll_batch_messages(const coll_batch_t *b);

/* Decides whether the records of (topic, partition) leave the batch. */
typedef bool(coll_part_pred_t)(const char *topic, int32_t partition,
                               void *opaque);

/* Removes every record and the offset of each partition for which drop()
 * is true, and re-aggregates the rest.  CHP_ERR_NOMEM leaves b unchanged. */
chp_err_t coll_batch_drop_partitions(coll_batch_t *b, coll_part_pred_t *drop,
                                     void *opaque, char *errstr,
                                     size_t errstr_size);

/* Which of uuids[0..n) were stored before: seen[i] = true.  Implemented
 * by store_seen (dedup=db) or the Redis module (dedup=redis). */
typedef chp_err_t(coll_seen_fn_t)(void *opaque, const char *const *uuids,
                                  size_t n, bool *seen, char *errstr,
                                  size_t errstr_size);

/* The uuids of the aggregated messages (empty uuids are not listed),
 * valid until the batch changes. */
const char *const *coll_batch_uuids(coll_batch_t *b, size_t *n);

/* The partitions' next offsets, valid until the batch changes. */
const store_offset_t *coll_batch_offsets(const coll_batch_t *b, size_t *n);

typedef struct coll_flush_stats {
    size_t rows;       /* rows written */
    size_t messages;   /* messages in them */
    size_t duplicates; /* messages dropped because the seen function knew their
                          uuid */
} coll_flush_stats_t;

/*
 * One flush: asks seen (if not NULL) which uuids are already stored and
 * takes their messages out, then writes rows, uuids (dedup_in_db) and
 * offsets of cluster (compare-and-set from the known positions) in one
 * store transaction; STORE_ERR_STALE when the store holds other offsets.  The
 * batch is not reset: on success the caller still reads its uuids and offsets,
 * then resets it; on failure it holds everything for the retry (minus the
 * messages found seen, which are already stored for good).
 */
chp_err_t coll_batch_flush(coll_batch_t *b, store_t *s, const char *cluster,
                           coll_seen_fn_t *seen, void *seen_opaque,
                           bool dedup_in_db, coll_flush_stats_t *st,
                           char *errstr, size_t errstr_size);

#endif
