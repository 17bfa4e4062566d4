/* flush.c - the collector's database side: one flush is one store
 * transaction (rows + uuids + offsets); a failed one keeps its batch and
 * is retried with exponential back-off (consumption paused meanwhile, by
 * the caller), so a database outage costs latency, never counts.  Nothing
 * here calls the consumer: coll_flush_store says what happened and the
 * loop (consume.c, coll_flush) pauses, resumes, re-seeks or commits. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/collector.h"
#include "collector/dedup_redis.h"
#include "log.h"
#include "conf_daemon_keys.h"

/* ----------------------------------------------------- de-duplication */

/* dedup=db: the uuids live in the same database, written by the same
 * transaction as the counts, so a crash can never separate the two. */
static chp_err_t seen_in_store(void *opaque, const char *const *uuids, size_t n,
                               bool *seen, char *errstr, size_t errstr_size)
{
    collector_t *c = opaque;

    return store_seen(c->store, uuids, n, seen, errstr, errstr_size);
}

static chp_err_t seen_in_redis(void *opaque, const char *const *uuids, size_t n,
                               bool *seen, char *errstr, size_t errstr_size)
{
    collector_t *c = opaque;

    return dedup_redis_seen(c->redis, uuids, n, seen, errstr, errstr_size);
}

chp_err_t coll_dedup_open(collector_t *c, char *errstr, size_t errstr_size)
{
    if (strcmp(chp_conf_get_str(c->conf, CHP_KEY_DEDUP), "redis"))
        return CHP_OK;
    return dedup_redis_new(chp_conf_get_str(c->conf, CHP_KEY_REDIS_URL),
                           chp_conf_get_int(c->conf, CHP_KEY_DEDUP_TTL_HOURS) *
                               3600,
                           &c->redis, errstr, errstr_size);
}

void coll_dedup_close(collector_t *c)
{
    if (c->redis)
        dedup_redis_destroy(c->redis);
    c->redis = NULL;
}

/* -------------------------------------------------------------- flush */

char *coll_one_line(char *s)
{
    for (char *p = s; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return s;
}

bool coll_flush_due(const collector_t *c, int64_t now_ms)
{
    size_t n = coll_batch_records(c->batch);

    return n > 0 && ((int64_t)n >= c->flush_max ||
                     now_ms - c->first_pending_ms >= c->flush_interval_ms);
}

static void flush_failed(collector_t *c, char *why)
{
    int64_t now = chp_now_ms();

    metric_inc(c->m.flush_failures, 1);
    c->failures_in_row++;
    if (!c->retrying) {
        /* Back-pressure: the caller stops fetching while the batch cannot
         * be stored, so memory stays bounded however long the outage
         * lasts. */
        c->retrying = true;
        c->backoff_ms = COLL_BACKOFF_MIN_MS;
    } else {
        c->backoff_ms = c->backoff_ms * 2 > c->retry_max_ms ? c->retry_max_ms
                                                            : c->backoff_ms * 2;
    }
    c->next_retry_ms = now + c->backoff_ms;
    health_fail(c->health, "flush: %s", coll_one_line(why));
    metric_set(c->m.retrying, 1);
    metric_set(c->m.backoff_ms, (double)c->backoff_ms);
    chp_log_warn("collector: flush of %zu record(s) failed (%llu in a row; "
                 "consumption paused, retrying in %lld ms): %s",
                 coll_batch_records(c->batch),
                 (unsigned long long)c->failures_in_row,
                 (long long)c->backoff_ms, coll_one_line(why));
}

/* After the commit: with dedup=redis the uuids are marked only once their
 * counts are stored (marked first, a failed COMMIT would make the retry
 * drop them as duplicates: lost).  A crash in between, or Redis down now,
 * cannot double-count these records (their offsets are stored, and a
 * replay of this batch is refused by the offset compare-and-set); only a
 * later duplicate of one of them would slip through, the original's own
 * window. */
static void mark_in_redis(collector_t *c)
{
    char err[512];
    size_t n;
    const char *const *uuids = coll_batch_uuids(c->batch, &n);

    if (n && dedup_redis_mark(c->redis, uuids, n, err, sizeof(err)) != CHP_OK) {
        metric_inc(c->m.redis_mark_failures, 1);
        chp_log_warn("collector: cannot mark %zu uuid(s) in Redis (their "
                     "counts are stored): %s",
                     n, coll_one_line(err));
    }
}

/* Leaves the retry state (the batch was stored or dropped); the caller
 * resumes consumption. */
static void retry_done(collector_t *c)
{
    if (c->retrying) {
        c->retrying = false;
        metric_set(c->m.retrying, 0);
        metric_set(c->m.backoff_ms, 0);
    }
    c->failures_in_row = 0;
}

/* The store holds other offsets than the batch started from: this batch
 * (or a replay of it) is already stored, or another collector owns the
 * partitions now.  Either way the store is right: drop the batch (the
 * caller resumes from the stored offsets). */
static void stale(collector_t *c, char *why)
{
    metric_inc(c->m.stale_batches, 1);
    chp_log_warn("collector: dropping a batch of %zu record(s): %s; resuming "
                 "from the stored offsets",
                 coll_batch_records(c->batch), coll_one_line(why));
    coll_batch_reset(c->batch);
    c->first_pending_ms = 0;
    metric_set(c->m.pending, 0);
    retry_done(c);
    /* The database answered and the collector follows it again. */
    health_ok(c->health);
}

/* Copies the batch's offsets, now stored, for the caller's group commit
 * (best effort: without memory the group's lag just looks stale). */
static void keep_stored(collector_t *c)
{
    size_t n;
    const store_offset_t *o = coll_batch_offsets(c->batch, &n);

    c->n_stored = 0;
    if (n > c->cap_stored) {
        store_offset_t *p = realloc(c->stored, n * sizeof(*p));

        if (!p)
            return;
        c->stored = p;
        c->cap_stored = n;
    }
    if (n)
        memcpy(c->stored, o, n * sizeof(*o));
    c->n_stored = n;
}

coll_flushed_t coll_flush_store(collector_t *c)
{
    coll_flush_stats_t st;
    char err[1024];
    int64_t t0 = chp_now_ms(), ms;
    chp_err_t e = CHP_OK;

    c->n_stored = 0;
    if (coll_batch_records(c->batch) == 0)
        return COLL_FLUSH_EMPTY;
    /* CHP_ERR_STATE: one of the uuids was stored by another collector
     * (a copy of a message on another partition) between our lookup and
     * our transaction, which rolled back.  Looking up again filters it
     * out; no reason to wait or pause for that. */
    for (int attempt = 0; attempt < 3; attempt++) {
        e = coll_batch_flush(c->batch, c->store, c->cluster,
                             c->redis ? seen_in_redis : seen_in_store, c,
                             c->redis == NULL, &st, err, sizeof(err));
        if (st.duplicates)
            metric_inc(c->m.dup_store, (double)st.duplicates);
        if (e != CHP_ERR_STATE)
            break;
        chp_log_info("collector: %s; filtering again", coll_one_line(err));
    }
    if (e == STORE_ERR_STALE) {
        stale(c, err);
        return COLL_FLUSH_STALE;
    }
    if (e != CHP_OK) {
        flush_failed(c, err);
        return COLL_FLUSH_FAILED;
    }
    ms = chp_now_ms() - t0;
    if (c->redis)
        mark_in_redis(c);
    keep_stored(c);

    metric_inc(c->m.flushes, 1);
    metric_inc(c->m.rows, (double)st.rows);
    metric_inc(c->m.stored, (double)st.messages);
    metric_set(c->m.flush_ms, (double)ms);
    metric_inc(c->m.flush_ms_total, (double)ms);
    chp_log_debug("collector: stored %zu message(s) of %zu record(s) as %zu "
                  "row(s) in %lld ms",
                  st.messages, coll_batch_records(c->batch), st.rows,
                  (long long)ms);
    if (coll_batch_committed(c->batch) != CHP_OK)
        chp_log_warn("collector: out of memory recording the stored offsets; "
                     "the next batch will be found stale and read again");
    c->first_pending_ms = 0;
    metric_set(c->m.pending, 0);
    if (c->retrying)
        chp_log_info("collector: flushing again after %llu failed "
                     "flush(es); consumption resumed",
                     (unsigned long long)c->failures_in_row);
    retry_done(c);
    health_ok(c->health);
    return COLL_FLUSH_STORED;
}

/* ---------------------------------------------------------- retention */

chp_err_t coll_retention(collector_t *c)
{
    int64_t now_s = chp_now_ms() / 1000;
    int64_t rows_before =
        now_s - chp_conf_get_int(c->conf, CHP_KEY_RETENTION_HOURS) * 3600;
    int64_t uuids_before =
        now_s - chp_conf_get_int(c->conf, CHP_KEY_DEDUP_TTL_HOURS) * 3600;
    char err[512];
    chp_err_t rc;

    metric_inc(c->m.retention_runs, 1);
    if ((rc = store_retention(c->store, rows_before, uuids_before, err,
                              sizeof(err))) != CHP_OK) {
        metric_inc(c->m.retention_failures, 1);
        chp_log_warn("collector: retention failed (tried again later): %s",
                     coll_one_line(err));
        return rc;
    }
    return CHP_OK;
}
