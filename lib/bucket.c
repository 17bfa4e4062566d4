/* bucket.c - event-time normalisation, bucket arithmetic, counters. */
#include <math.h>
#include <time.h>

#include "bucket.h"

CHP_EXPORT bool chp_ts_to_ms(double raw, int64_t *ms)
{
    double v;

    if (!isfinite(raw))
        return false;
    /* design.md §3: values above 999999999999 are milliseconds. */
    v = raw > CHP_TS_MS_THRESHOLD ? raw : raw * 1000.0;
    /* Stay far inside int64 so later arithmetic cannot overflow. */
    if (v >= 9.0e15 || v <= -9.0e15)
        return false;
    *ms = (int64_t)floor(v);
    return true;
}

CHP_EXPORT int64_t chp_bucket_begin(int64_t ts_ms, int32_t width_s)
{
    int64_t w = (int64_t)(width_s > 0 ? width_s : 1) * 1000;
    int64_t q = ts_ms / w;

    if (ts_ms % w != 0 && ts_ms < 0)
        q--; /* floor, not truncation */
    return q * (w / 1000);
}

CHP_EXPORT int64_t chp_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t chp_now_ms_coarse(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME_COARSE, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void chp_counts_merge(chp_counts_t *dst, const chp_counts_t *src)
{
    dst->count += src->count;
    dst->total_bytes += src->total_bytes;
    dst->no_time += src->no_time;
    dst->malformed += src->malformed;
    dst->negative += src->negative;
    dst->latency_sum_ms += src->latency_sum_ms;
    dst->delivery_failed += src->delivery_failed;
    if (src->max_latency_ms > dst->max_latency_ms)
        dst->max_latency_ms = src->max_latency_ms;
}

double chp_counts_mean_latency(const chp_counts_t *c)
{
    uint64_t n = c->count - c->negative;

    return n ? (double)c->latency_sum_ms / (double)n : 0.0;
}
