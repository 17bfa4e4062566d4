/* report_seed.c - see report_seed.h. */
#include "report_seed.h"

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

int seed_flush(const char *url, const store_row_t *rows, size_t n, char *errstr,
               size_t errstr_size)
{
    const store_ops_t *ops;
    store_t *s;
    store_batch_t b = {.rows = rows, .n_rows = n};
    int rc = -1;

    if (store_open(url, &ops, &s, errstr, errstr_size) != CHP_OK)
        return -1;
    if (ops->flush(s, &b, errstr, errstr_size) == CHP_OK)
        rc = 0;
    ops->close(s);
    return rc;
}

void seed_clear(store_row_t *rows, size_t n)
{
    for (size_t i = 0; i < n; i++)
        store_row_clear(&rows[i]);
}
