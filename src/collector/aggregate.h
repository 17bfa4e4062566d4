/* aggregate.h - the rows of one collector flush: audit messages summed per
 * (bucket, topic, tier, datacenter, host), host replaced by "combined" when
 * hosts are combined (design.md §8), by the stores' own merge rule
 * (store_row_from_msg, store_row_add): counts added, latency sketches
 * merged, the original's p95/p99/max (no sketch) kept at their maximum.
 * Not thread-safe: one flush belongs to one thread. */
#ifndef CHP_COLLECTOR_AGGREGATE_H
#define CHP_COLLECTOR_AGGREGATE_H

#include <stdbool.h>
#include <stddef.h>

#include "chaperone.h"
#include "collector/store.h"

typedef struct agg agg_t;

/* An empty aggregation; NULL on ENOMEM. */
agg_t *agg_new(bool combine_hosts);
/* Frees the aggregation and every row's sketch. */
void agg_destroy(agg_t *a);
/* Forgets every row (memory is kept for the next flush). */
void agg_reset(agg_t *a);

/*
 * Adds one decoded message to the row of its key.  A new row may take m's
 * sketch, leaving m another allocation (or NULL) that holds nothing
 * meaningful: the caller's next step is chp_auditmsg_clear(m).
 * CHP_ERR_NOMEM leaves the row and m unchanged.
 */
chp_err_t agg_add(agg_t *a, chp_auditmsg_t *m);

/* The rows, contiguous, valid until the next agg_add/agg_reset; the rows
 * (and their sketches) stay owned by the aggregation. */
const store_row_t *agg_rows(const agg_t *a, size_t *n);

#endif
