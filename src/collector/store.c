/*
 * store.c - what the three backends share: choosing one by URL, parsing
 * URLs, the row merge rule, and the flush algorithm itself (read the stored
 * rows, merge, write) run through each backend's driver primitives, so the
 * exactly-once logic exists once (see store.h, store_impl.h).
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "collector/store_impl.h"
#include "sketch.h"
#include "errstr.h"

/* One sketch encoding plus its NUL. */
#define TEXT_SLOT (CHP_SKETCH_ENCODE_MAX + 1)

int64_t store_now_s(void)
{
    return (int64_t)time(NULL);
}

void store_name_copy(char dst[CHP_NAME_MAX], const char *src, size_t len)
{
    if (len > CHP_NAME_MAX - 1)
        len = CHP_NAME_MAX - 1;
    memcpy(dst, src, len);
    dst[len] = '\0';
}

/* ------------------------------------------------------------ backends */

static const store_ops_t *ops_by_scheme(const char *scheme, size_t len)
{
    static const struct {
        const char *scheme;
        const store_ops_t *ops;
    } map[] = {
        {"sqlite", &store_sqlite_ops},
        {"mysql", &store_mysql_ops},
        {"postgresql", &store_pgsql_ops},
        {"postgres", &store_pgsql_ops},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].scheme) == len &&
            strncasecmp(map[i].scheme, scheme, len) == 0)
            return map[i].ops;
    return NULL;
}

const store_ops_t *store_ops_for_url(const char *url, char *errstr,
                                     size_t errstr_size)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    const store_ops_t *ops;

    if (!sep || sep == url) {
        /* The URL itself is not echoed: it may hold a password. */
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: not a URL; expected sqlite://PATH, "
                 "mysql://user:password@host:port/db or "
                 "postgresql://user:password@host:port/db");
        return NULL;
    }
    ops = ops_by_scheme(url, (size_t)(sep - url));
    if (!ops)
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: unknown scheme \"%.*s\"; expected sqlite://, "
                 "mysql://, postgresql:// or postgres://",
                 (int)(sep - url > 32 ? 32 : sep - url), url);
    return ops;
}

chp_err_t store_open(const char *url, const store_ops_t **ops, store_t **out,
                     char *errstr, size_t errstr_size)
{
    const store_ops_t *o = store_ops_for_url(url, errstr, errstr_size);
    store_t *s = NULL;
    chp_err_t err;

    *out = NULL;
    if (!o)
        return CHP_ERR_INVALID_ARG;
    if ((err = o->open(url, &s, errstr, errstr_size)))
        return err;
    if ((err = o->migrate(s, errstr, errstr_size))) {
        o->close(s);
        return err;
    }
    if (ops)
        *ops = o;
    *out = s;
    return CHP_OK;
}

/* ------------------------------------------------------------ rows */

bool store_row_same_key(const store_row_t *a, const store_row_t *b)
{
    return a->time_begin == b->time_begin && strcmp(a->topic, b->topic) == 0 &&
           strcmp(a->tier, b->tier) == 0 &&
           strcmp(a->datacenter, b->datacenter) == 0 &&
           strcmp(a->host, b->host) == 0;
}

chp_err_t store_row_from_msg(store_row_t *row, const chp_auditmsg_t *m,
                             bool combine_hosts)
{
    memset(row, 0, sizeof(*row));
    if (m->sketch && !(row->sketch = chp_sketch_dup(m->sketch)))
        return CHP_ERR_NOMEM;
    row->time_begin = m->time_begin;
    row->time_end = m->time_end;
    memcpy(row->topic, m->topic, sizeof(row->topic));
    memcpy(row->tier, m->tier, sizeof(row->tier));
    memcpy(row->datacenter, m->datacenter, sizeof(row->datacenter));
    if (combine_hosts)
        snprintf(row->host, sizeof(row->host), "combined");
    else
        memcpy(row->host, m->hostname, sizeof(row->host));
    row->count = m->count;
    row->total_bytes = m->total_bytes;
    row->no_time_count = m->no_time_count;
    row->malformed_count = m->malformed_count;
    row->negative_latency_count = m->negative_latency_count;
    row->delivery_failed_count = m->delivery_failed_count;
    row->audit_dropped_count = m->audit_dropped_count;
    row->aborted_count = m->aborted_count;
    row->latency_sum_ms = m->latency_sum_ms;
    /* The original sends only the mean; the sum keeps means of merged rows
     * weighted by their counts. */
    if (row->latency_sum_ms == 0 && m->mean_latency != 0 &&
        m->count > m->negative_latency_count)
        row->latency_sum_ms =
            m->mean_latency * (double)(m->count - m->negative_latency_count);
    row->latency95 = m->latency95;
    row->latency99 = m->latency99;
    row->max_latency = m->max_latency;
    return CHP_OK;
}

/* dst += src; spare (may be NULL: allocate) becomes dst's sketch when dst
 * has none and src has one. */
static chp_err_t row_add(store_row_t *dst, const store_row_t *src,
                         chp_sketch_t *spare)
{
    if (src->sketch && !dst->sketch) {
        chp_sketch_t *sk = spare ? spare : chp_sketch_new();

        if (!sk)
            return CHP_ERR_NOMEM;
        chp_sketch_reset(sk);
        dst->sketch = sk;
    }
    if (src->sketch)
        chp_sketch_merge(dst->sketch, src->sketch);
    if (src->time_end > dst->time_end)
        dst->time_end = src->time_end;
    dst->count += src->count;
    dst->total_bytes += src->total_bytes;
    dst->no_time_count += src->no_time_count;
    dst->malformed_count += src->malformed_count;
    dst->negative_latency_count += src->negative_latency_count;
    dst->delivery_failed_count += src->delivery_failed_count;
    dst->audit_dropped_count += src->audit_dropped_count;
    dst->aborted_count += src->aborted_count;
    dst->latency_sum_ms += src->latency_sum_ms;
    dst->latency95 = fmax(dst->latency95, src->latency95);
    dst->latency99 = fmax(dst->latency99, src->latency99);
    dst->max_latency = fmax(dst->max_latency, src->max_latency);
    return CHP_OK;
}

chp_err_t store_row_add(store_row_t *dst, const store_row_t *src)
{
    return row_add(dst, src, NULL);
}

void store_row_clear(store_row_t *row)
{
    chp_sketch_destroy(row->sketch);
    memset(row, 0, sizeof(*row));
}

/* Databases reject NaN and infinities; a latency that is not a number is
 * no latency. */
static double finite_or_zero(double v)
{
    return isfinite(v) ? v : 0.0;
}

void store_row_stats(const store_row_t *row, store_stats_t *st)
{
    uint64_t n = row->count > row->negative_latency_count
                     ? row->count - row->negative_latency_count
                     : 0;

    st->mean = n ? row->latency_sum_ms / (double)n : 0.0;
    st->p95 = row->latency95;
    st->p99 = row->latency99;
    st->max = row->max_latency;
    if (row->sketch) {
        const chp_sketch_t *sk = row->sketch;
        uint64_t covered = chp_sketch_count(sk) + chp_sketch_negative_count(sk);
        double q95 = chp_sketch_quantile(sk, 0.95);
        double q99 = chp_sketch_quantile(sk, 0.99);

        if (covered >= row->count) {
            st->p95 = q95;
            st->p99 = q99;
        } else {
            st->p95 = fmax(q95, row->latency95);
            st->p99 = fmax(q99, row->latency99);
        }
        st->max = fmax(st->max, (double)chp_sketch_max(sk));
    }
    st->mean = finite_or_zero(st->mean);
    st->p95 = finite_or_zero(st->p95);
    st->p99 = finite_or_zero(st->p99);
    st->max = finite_or_zero(st->max);
}

chp_err_t store_sketch_decode(chp_sketch_t *sk, const char *text, size_t len,
                              const store_row_t *key, char *errstr,
                              size_t errstr_size)
{
    char why[256];

    if (chp_sketch_decode(sk, text, len, why, sizeof(why)) == CHP_OK)
        return CHP_OK;
    chp_errf(errstr, errstr_size, CHP_ERR_DB,
             "stored row (%lld, %s, %s, %s, %s): bad sketch column: %s",
             (long long)key->time_begin, key->topic, key->tier, key->datacenter,
             key->host, why);
    return CHP_ERR_DB;
}

/* ------------------------------------------------------------ handles */

void store_base_init(store_t *s, const store_ops_t *ops,
                     const store_driver_t *drv)
{
    memset(s, 0, sizeof(*s));
    s->ops = ops;
    s->drv = drv;
}

void store_base_fini(store_t *s)
{
    if (s->ws_sk)
        for (size_t i = 0; i < STORE_CHUNK; i++)
            chp_sketch_destroy(s->ws_sk[i]);
    free(s->ws_sk);
    free(s->ws_rows);
    free(s->ws_puts);
    free(s->ws_found);
    free(s->ws_text);
    chp_sketch_destroy(s->query_sk);
    s->ws_sk = NULL;
    s->ws_rows = NULL;
    s->ws_puts = NULL;
    s->ws_found = NULL;
    s->ws_text = NULL;
    s->query_sk = NULL;
}

chp_sketch_t *store_query_sketch(store_t *s)
{
    if (!s->query_sk)
        s->query_sk = chp_sketch_new();
    return s->query_sk;
}

static chp_err_t workspace(store_t *s, char *errstr, size_t errstr_size)
{
    if (s->ws_text)
        return CHP_OK;
    s->ws_rows = calloc(STORE_CHUNK, sizeof(*s->ws_rows));
    s->ws_sk = calloc(STORE_CHUNK, sizeof(*s->ws_sk));
    s->ws_puts = calloc(STORE_CHUNK, sizeof(*s->ws_puts));
    s->ws_found = calloc(STORE_CHUNK, sizeof(*s->ws_found));
    if (!s->ws_rows || !s->ws_sk || !s->ws_puts || !s->ws_found)
        goto nomem;
    for (size_t i = 0; i < STORE_CHUNK; i++)
        if (!(s->ws_sk[i] = chp_sketch_new()))
            goto nomem;
    /* Last, as it marks the workspace complete. */
    if (!(s->ws_text = malloc((size_t)STORE_CHUNK * TEXT_SLOT)))
        goto nomem;
    return CHP_OK;
nomem:
    store_base_fini(s);
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "store: out of memory");
    return CHP_ERR_NOMEM;
}

/* ------------------------------------------------------------ flush */

/* Rows at the front of rows[0..n) that can share one chunk: at most
 * STORE_CHUNK and no key twice, since a chunk is read before any of it is
 * written. */
static size_t chunk_len(const store_row_t *rows, size_t n)
{
    size_t len;

    if (n > STORE_CHUNK)
        n = STORE_CHUNK;
    for (len = 1; len < n; len++)
        for (size_t j = 0; j < len; j++)
            if (store_row_same_key(&rows[j], &rows[len]))
                return len;
    return n;
}

static chp_err_t flush_chunk(store_t *s, const store_row_t *rows, size_t n,
                             int64_t now_s, char *errstr, size_t errstr_size)
{
    const store_driver_t *d = s->drv;
    chp_err_t err;
    size_t i;

    for (i = 0; i < n; i++) {
        memset(&s->ws_rows[i], 0, sizeof(s->ws_rows[i]));
        s->ws_rows[i].sketch = s->ws_sk[i];
        s->ws_found[i] = false;
    }
    if ((err = d->get_rows(s, rows, n, s->ws_rows, s->ws_found, errstr,
                           errstr_size)))
        return err;
    for (i = 0; i < n; i++) {
        store_row_t *m = &s->ws_rows[i];
        store_put_t *p = &s->ws_puts[i];
        store_stats_t st;

        if (s->ws_found[i]) {
            chp_sketch_t *stored_sk = m->sketch;

            /* The stored row gives the counters, the delta the key. */
            memcpy(m->topic, rows[i].topic, sizeof(m->topic));
            memcpy(m->tier, rows[i].tier, sizeof(m->tier));
            memcpy(m->datacenter, rows[i].datacenter, sizeof(m->datacenter));
            memcpy(m->host, rows[i].host, sizeof(m->host));
            m->time_begin = rows[i].time_begin;
            if ((err = row_add(m, &rows[i], stored_sk ? NULL : s->ws_sk[i])))
                return err;
        } else {
            /* Read-only use of the caller's sketch: no copy. */
            *m = rows[i];
        }
        store_row_stats(m, &st);
        p->row = m;
        p->mean = st.mean;
        p->p95 = st.p95;
        p->p99 = st.p99;
        p->max = st.max;
        p->exists = s->ws_found[i];
        p->sketch_text = NULL;
        p->sketch_len = 0;
        if (m->sketch) {
            char *t = s->ws_text + i * TEXT_SLOT;

            p->sketch_len = chp_sketch_encode(m->sketch, t, TEXT_SLOT);
            p->sketch_text = t;
        }
    }
    return d->put_rows(s, s->ws_puts, n, now_s, errstr, errstr_size);
}

/* An offset that would not move forward is a stale batch, whatever the
 * store holds: offsets never move backwards. */
static chp_err_t check_offsets(const store_batch_t *b, char *errstr,
                               size_t errstr_size)
{
    if (b->n_offsets && !b->cluster) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "store: offsets without a cluster");
        return CHP_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < b->n_offsets; i++) {
        const store_offset_t *o = &b->offsets[i];

        if (o->next_offset <= o->prev_offset || o->next_offset < 0) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB,
                     "stale batch: %s [%d] would move from offset %lld to "
                     "%lld",
                     o->topic, (int)o->partition, (long long)o->prev_offset,
                     (long long)o->next_offset);
            return STORE_ERR_STALE;
        }
    }
    return CHP_OK;
}

chp_err_t store_flush_run(store_t *s, const store_batch_t *b, char *errstr,
                          size_t errstr_size)
{
    const store_driver_t *d = s->drv;
    int64_t now = store_now_s();
    chp_err_t err;
    size_t i, len;

    if ((err = check_offsets(b, errstr, errstr_size)))
        return err;
    if (b->n_rows && (err = workspace(s, errstr, errstr_size)))
        return err;
    if ((err = d->begin(s, errstr, errstr_size)))
        goto fail;
    /* Offsets first: a stale batch is found before any work, and the
     * offset rows it locks serialise two collectors on one partition. */
    if (b->n_offsets &&
        (err = d->put_offsets(s, b->cluster, b->offsets, b->n_offsets, errstr,
                              errstr_size)))
        goto fail;
    if (b->dedup_in_db && b->n_uuids &&
        (err = d->put_uuids(s, b->uuids, b->n_uuids, now, errstr, errstr_size)))
        goto fail;
    for (i = 0; i < b->n_rows; i += len) {
        len = chunk_len(b->rows + i, b->n_rows - i);
        if ((err = flush_chunk(s, b->rows + i, len, now, errstr, errstr_size)))
            goto fail;
    }
    if ((err = d->commit(s, errstr, errstr_size)))
        goto fail;
    return CHP_OK;
fail:
    d->rollback(s);
    return err;
}

/* ------------------------------------------------------------ retention */

chp_err_t store_retention_run(store_t *s, int64_t before_s,
                              int64_t uuid_before_s, char *errstr,
                              size_t errstr_size)
{
    chp_err_t err;

    if ((err = s->drv->begin(s, errstr, errstr_size)))
        return err;
    if ((err = s->drv->delete_before(s, STORE_OLD_ROWS, before_s, errstr,
                                     errstr_size)) ||
        (err = s->drv->delete_before(s, STORE_OLD_UUIDS, uuid_before_s, errstr,
                                     errstr_size)) ||
        (err = s->drv->commit(s, errstr, errstr_size)))
        goto fail;
    return CHP_OK;
fail:
    s->drv->rollback(s);
    return err;
}

/* ------------------------------------------------------------ migrate */

chp_err_t store_migrate_run(store_t *s, const store_schema_t *schema,
                            char *errstr, size_t errstr_size)
{
    const store_driver_t *d = s->drv;
    int64_t v = 0;
    bool is_null = true;
    chp_err_t err;

    if ((err = d->begin(s, errstr, errstr_size)))
        goto fail;
    if (schema->lock && (err = d->exec(s, schema->lock, errstr, errstr_size)))
        goto fail;
    if ((err = d->exec(s, schema->version_table, errstr, errstr_size)) ||
        (err = d->scalar(s, "SELECT MAX(version) FROM schema_version", &v,
                         &is_null, errstr, errstr_size)))
        goto fail;
    if (is_null)
        v = 0;
    if (v > STORE_SCHEMA_VERSION || v < 0) {
        /* An older binary must not write into a schema it does not know. */
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "database schema version %lld is newer than this "
                 "chaperone's (%d); upgrade chaperone",
                 (long long)v, STORE_SCHEMA_VERSION);
        err = CHP_ERR_DB;
        goto fail;
    }
    for (; v < STORE_SCHEMA_VERSION; v++)
        for (const char *const *q = schema->steps[v]; *q; q++)
            if ((err = d->exec(s, *q, errstr, errstr_size)))
                goto fail;
    if ((err = d->commit(s, errstr, errstr_size)))
        goto fail;
    return CHP_OK;
fail:
    d->rollback(s);
    return err;
}
