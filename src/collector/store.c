/*
 * store.c - the store API (store.h) over the three backends' driver tables
 * (store_impl.h): choosing one by URL, and every loop written once on top of
 * a backend's primitives: the flush algorithm (read the stored rows, merge,
 * write, so the exactly-once logic exists once), retention, migration, and
 * reading rows and topics through a cursor.
 */
#include <math.h>
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

static const store_driver_t *driver_by_scheme(const char *scheme, size_t len)
{
    static const struct {
        const char *scheme;
        const store_driver_t *drv;
    } map[] = {
        {"sqlite", &store_sqlite_driver},
        {"mysql", &store_mysql_driver},
        {"postgresql", &store_pgsql_driver},
        {"postgres", &store_pgsql_driver},
    };

    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
        if (strlen(map[i].scheme) == len &&
            strncasecmp(map[i].scheme, scheme, len) == 0)
            return map[i].drv;
    return NULL;
}

static const store_driver_t *driver_for_url(const char *url, char *errstr,
                                            size_t errstr_size)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    const store_driver_t *drv;

    if (!sep || sep == url) {
        /* The URL itself is not echoed: it may hold a password. */
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: not a URL; expected sqlite://PATH, "
                 "mysql://user:password@host:port/db or "
                 "postgresql://user:password@host:port/db");
        return NULL;
    }
    drv = driver_by_scheme(url, (size_t)(sep - url));
    if (!drv)
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: unknown scheme \"%.*s\"; expected sqlite://, "
                 "mysql://, postgresql:// or postgres://",
                 (int)(sep - url > 32 ? 32 : sep - url), url);
    return drv;
}

chp_err_t store_kind_for_url(const char *url, store_kind_t *kind, char *errstr,
                             size_t errstr_size)
{
    const store_driver_t *drv = driver_for_url(url, errstr, errstr_size);

    if (!drv)
        return CHP_ERR_INVALID_ARG;
    *kind = drv->kind;
    return CHP_OK;
}

chp_err_t store_open(const char *url, store_t **out, char *errstr,
                     size_t errstr_size)
{
    const store_driver_t *drv = driver_for_url(url, errstr, errstr_size);
    store_t *s = NULL;
    chp_err_t err;

    *out = NULL;
    if (!drv)
        return CHP_ERR_INVALID_ARG;
    if ((err = drv->open(url, &s, errstr, errstr_size)))
        return err;
    if ((err = store_migrate(s, errstr, errstr_size))) {
        store_close(s);
        return err;
    }
    *out = s;
    return CHP_OK;
}

void store_close(store_t *s)
{
    if (s)
        s->drv->close(s);
}

store_kind_t store_kind(const store_t *s)
{
    return s->drv->kind;
}

const char *store_scheme(const store_t *s)
{
    return s->drv->scheme;
}

chp_err_t store_seen(store_t *s, const char *const *uuids, size_t n, bool *seen,
                     char *errstr, size_t errstr_size)
{
    return s->drv->seen(s, uuids, n, seen, errstr, errstr_size);
}

chp_err_t store_offset(store_t *s, const char *cluster, const char *topic,
                       int32_t partition, int64_t *next_offset, char *errstr,
                       size_t errstr_size)
{
    return s->drv->offset(s, cluster, topic, partition, next_offset, errstr,
                          errstr_size);
}

/* ------------------------------------------------------------ reading */

chp_err_t store_query(store_t *s, const char *topic, int64_t from_s,
                      int64_t to_s,
                      void (*cb)(const store_row_t *row, void *opaque),
                      void *opaque, char *errstr, size_t errstr_size)
{
    chp_err_t err;

    if (!s->query_sk && !(s->query_sk = chp_sketch_new())) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "%s: out of memory",
                 s->drv->scheme);
        return CHP_ERR_NOMEM;
    }
    err = s->drv->read_open(s, STORE_READ_ROWS, topic, from_s, to_s, errstr,
                            errstr_size);
    while (!err) {
        store_row_t row;
        bool got;

        memset(&row, 0, sizeof(row));
        row.sketch = s->query_sk;
        if ((err = s->drv->read_next(s, &row, &got, errstr, errstr_size)) ||
            !got)
            break;
        cb(&row, opaque);
    }
    s->drv->read_close(s);
    return err;
}

chp_err_t store_topics(store_t *s, void (*cb)(const char *topic, void *opaque),
                       void *opaque, char *errstr, size_t errstr_size)
{
    chp_err_t err = s->drv->read_open(s, STORE_READ_TOPICS, NULL, 0, 0, errstr,
                                      errstr_size);

    while (!err) {
        store_row_t row;
        bool got;

        memset(&row, 0, sizeof(row));
        if ((err = s->drv->read_next(s, &row, &got, errstr, errstr_size)) ||
            !got)
            break;
        cb(row.topic, opaque);
    }
    s->drv->read_close(s);
    return err;
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

void store_base_init(store_t *s, const store_driver_t *drv)
{
    memset(s, 0, sizeof(*s));
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
        const store_row_t *w = m; /* the row written */
        store_put_t *p = &s->ws_puts[i];
        store_stats_t st;

        if (s->ws_found[i]) {
            /* The stored row gives the counters, the delta the key. */
            memcpy(m->topic, rows[i].topic, sizeof(m->topic));
            memcpy(m->tier, rows[i].tier, sizeof(m->tier));
            memcpy(m->datacenter, rows[i].datacenter, sizeof(m->datacenter));
            memcpy(m->host, rows[i].host, sizeof(m->host));
            m->time_begin = rows[i].time_begin;
            /* A stored row without a sketch takes the spare: no
             * allocation per row. */
            if (!m->sketch && rows[i].sketch) {
                chp_sketch_reset(s->ws_sk[i]);
                m->sketch = s->ws_sk[i];
            }
            if ((err = store_row_add(m, &rows[i])))
                return err;
        } else {
            /* A new row is written as the caller gave it: no copy of the
             * row (~1 KiB of names) nor of its sketch. */
            w = &rows[i];
        }
        store_row_stats(w, &st);
        p->row = w;
        p->mean = st.mean;
        p->p95 = st.p95;
        p->p99 = st.p99;
        p->max = st.max;
        p->exists = s->ws_found[i];
        p->sketch_text = NULL;
        p->sketch_len = 0;
        if (w->sketch) {
            char *t = s->ws_text + i * TEXT_SLOT;

            p->sketch_len = chp_sketch_encode(w->sketch, t, TEXT_SLOT);
            p->sketch_text = t;
        }
    }
    return d->put_rows(s, s->ws_puts, n, now_s, errstr, errstr_size);
}

chp_err_t store_stale(const char *cluster, const store_offset_t *o,
                      char *errstr, size_t errstr_size)
{
    chp_errf(errstr, errstr_size, CHP_ERR_DB,
             "stale batch: the stored offset of %s [%d] (cluster %s) is no "
             "longer %lld",
             o->topic, (int)o->partition, cluster, (long long)o->prev_offset);
    return STORE_ERR_STALE;
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

chp_err_t store_flush(store_t *s, const store_batch_t *b, char *errstr,
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

chp_err_t store_retention(store_t *s, int64_t before_s, int64_t uuid_before_s,
                          char *errstr, size_t errstr_size)
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

/* One transaction (as far as the database allows): creates schema_version,
 * reads it, refuses a newer one, runs the missing steps. */
chp_err_t store_migrate(store_t *s, char *errstr, size_t errstr_size)
{
    const store_driver_t *d = s->drv;
    const store_schema_t *schema = d->schema;
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
