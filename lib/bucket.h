/* bucket.h - per-bucket counters (private). Bucket arithmetic itself is
 * public (chp_bucket_begin, chp_ts_to_ms in chaperone.h). */
#ifndef CHP_BUCKET_H
#define CHP_BUCKET_H

#include "chaperone.h"

/* Plain (single-writer) counters of one (topic, bucket).  The tracker keeps
 * an atomic twin of this and snapshots into it on emission. */
typedef struct chp_counts {
    uint64_t count;           /* every message, see design.md §3 */
    uint64_t total_bytes;     /* key + value bytes */
    uint64_t no_time;         /* subset of count: no timestamp found */
    uint64_t malformed;       /* subset of count: payload unparsable */
    uint64_t negative;        /* latencies < 0 (producer clock ahead) */
    int64_t latency_sum_ms;   /* over non-negative latencies */
    int64_t max_latency_ms;   /* exact, over non-negative latencies */
    uint64_t delivery_failed; /* not part of count: producer acks that failed */
} chp_counts_t;

/* Adds one message.  latency_ms < 0 is counted in negative only. */
static inline void chp_counts_add(chp_counts_t *c, uint64_t bytes,
                                  int64_t latency_ms, chp_ts_result_t r)
{
    c->count++;
    c->total_bytes += bytes;
    if (r == CHP_TS_MISSING)
        c->no_time++;
    else if (r == CHP_TS_MALFORMED)
        c->malformed++;
    if (latency_ms < 0) {
        c->negative++;
    } else {
        c->latency_sum_ms += latency_ms;
        if (latency_ms > c->max_latency_ms)
            c->max_latency_ms = latency_ms;
    }
}

/* Wall clock at the kernel tick's resolution (1-4 ms), for the per-message
 * path: the precise clock costs ~50 ns per read on some virtual machines,
 * the coarse one ~9 ns.  A latency is thus exact to within one tick; the
 * tracker re-reads the precise clock when the coarse one is behind the
 * event's own timestamp. */
int64_t chp_now_ms_coarse(void);

/* dst += src */
void chp_counts_merge(chp_counts_t *dst, const chp_counts_t *src);

/* Mean of the non-negative latencies, 0 when there are none. */
double chp_counts_mean_latency(const chp_counts_t *c);

#endif
