/* report_seed.c - audit rows written through the collector's store
 * interface (collector/store.h) for the tests of `chaperone report`,
 * `check`, the query API and the dashboard: the same path the collector
 * writes by, on any backend (declared in report_seed.h).  No cmocka:
 * errors come back with errstr filled. */
#include "report_seed.h"

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
              const char *tier, const char *dc, uint64_t count, int64_t lat_ms)
{
    uint64_t half = count / 2, most = count * 45 / 100;

    memset(r, 0, sizeof(*r));
    r->time_begin = begin;
    r->time_end = begin + 600;
    snprintf(r->topic, sizeof(r->topic), "%s", topic);
    snprintf(r->tier, sizeof(r->tier), "%s", tier);
    snprintf(r->datacenter, sizeof(r->datacenter), "%s", dc);
    snprintf(r->host, sizeof(r->host), "combined");
    r->count = count;
    r->total_bytes = count * 100;
    if (lat_ms <= 0)
        return true;
    if (!(r->sketch = chp_sketch_new()))
        return false;
    chp_sketch_add(r->sketch, lat_ms, half);
    chp_sketch_add(r->sketch, 2 * lat_ms, most);
    chp_sketch_add(r->sketch, 4 * lat_ms, count - half - most);
    r->latency_sum_ms = (double)lat_ms * (double)half +
                        2.0 * (double)lat_ms * (double)most +
                        4.0 * (double)lat_ms * (double)(count - half - most);
    r->max_latency = (double)(4 * lat_ms);
    return true;
}

/* Writes rows[0..n) to the database at url in one flush (no uuids, no
 * offsets).  0, or -1 with errstr filled. */
int seed_flush(const char *url, const store_row_t *rows, size_t n, char *errstr,
               size_t errstr_size)
{
    store_t *s;
    store_batch_t b = {.rows = rows, .n_rows = n};
    int rc = -1;

    if (store_open(url, &s, errstr, errstr_size) != CHP_OK)
        return -1;
    if (store_flush(s, &b, errstr, errstr_size) == CHP_OK)
        rc = 0;
    store_close(s);
    return rc;
}

void seed_clear(store_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_row_clear(&rows[i]);
}
