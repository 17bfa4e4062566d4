/* report_seed.h - audit rows written through the collector's store
 * interface (collector/store.h) for the tests of `chaperone report`,
 * `check`, the query API and the dashboard: the same path the collector
 * writes by, on any backend.  No cmocka: errors come back with errstr
 * filled. */
#ifndef CHP_TESTS_REPORT_SEED_H
#define CHP_TESTS_REPORT_SEED_H

#include <stdio.h>
#include <string.h>

#include "collector/store.h"
#include "testutil.h"

/*
 * A row of topic/tier/datacenter for the 600 s bucket starting at begin,
 * count messages of 100 bytes.  With lat_ms > 0 it carries a sketch: half
 * the messages at lat_ms, 45% at 2 * lat_ms, 5% at 4 * lat_ms (so p50 ~
 * lat_ms, p95 ~ 2 * lat_ms, p99 ~ 4 * lat_ms); free it with
 * store_row_clear.  Returns false when the sketch cannot be allocated.
 */
bool seed_row(store_row_t *r, const char *topic, int64_t begin,
              const char *tier, const char *dc, uint64_t count, int64_t lat_ms);

/* Writes rows[0..n) to the database at url in one flush (no uuids, no
 * offsets).  0, or -1 with errstr filled. */
int seed_flush(const char *url, const store_row_t *rows, size_t n, char *errstr,
               size_t errstr_size);

/* store_row_clear on rows[0..n). */
void seed_clear(store_row_t *rows, size_t n);

#endif
