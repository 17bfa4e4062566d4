/*
 * store_pgsql_ops.c - the PostgreSQL store's calls (store_ops_t): open,
 * seen, offset, retention, query, topics, close.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_pgsql.h"
#include "errstr.h"
#include "conf_daemon_keys.h"

/* ------------------------------------------------------------ ops */

static void pg_close(store_t *s)
{
    if (!s)
        return;
    store_pg_disconnect(pg(s));
    for (int c = 0; c < SP__COUNT; c++)
        free(pg(s)->arr[c].p);
    free(pg(s)->uri);
    store_base_fini(s);
    free(s);
}

static chp_err_t pg_open(const char *url, store_t **out, char *errstr,
                         size_t errstr_size)
{
    pg_store_t *s = calloc(1, sizeof(*s));
    chp_err_t err;

    *out = NULL;
    if (!s)
        return store_pg_oom(errstr, errstr_size);
    store_base_init(&s->base, &store_pgsql_ops, &store_pgsql_driver);
    if ((err = store_url_parse(url, CHP_KEY_DB_URL, &s->url, errstr,
                               errstr_size)))
        goto fail;
    if (!s->url.path[0]) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: postgresql:// URL names no database (.../DB)");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    /* Options are libpq's to read, but a malformed one is reported here,
     * naming db.url. */
    for (size_t pos = 0;;) {
        char name[64], value[256];
        bool more;

        if ((err = store_url_param(&s->url, CHP_KEY_DB_URL, &pos, name,
                                   sizeof(name), value, sizeof(value), &more,
                                   errstr, errstr_size)))
            goto fail;
        if (!more)
            break;
    }
    if (!(s->uri = strdup(url))) {
        err = store_pg_oom(errstr, errstr_size);
        goto fail;
    }
    /* libpq knows the scheme in lower case only. */
    for (char *p = s->uri; *p && *p != ':'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    /* Connecting now reports a wrong password at start-up, not later. */
    if ((err = store_pg_ensure(s, errstr, errstr_size)))
        goto fail;
    *out = &s->base;
    return CHP_OK;
fail:
    pg_close(&s->base);
    return err;
}

static chp_err_t pg_migrate(store_t *s, char *errstr, size_t errstr_size)
{
    return store_migrate_run(s, &store_pgsql_schema, errstr, errstr_size);
}

static chp_err_t pg_seen(store_t *s, const char *const *uuids, size_t n,
                         bool *seen, char *errstr, size_t errstr_size)
{
    abuf_t *a = &pg(s)->arr[0];
    const char *v[1];
    PGresult *res;
    chp_err_t err;

    for (size_t i = 0; i < n; i++)
        seen[i] = false;
    if (n == 0)
        return CHP_OK;
    store_pg_ab_reset(a);
    for (size_t i = 0; i < n; i++)
        store_pg_ab_str(a, uuids[i], strlen(uuids[i]));
    if (!store_pg_ab_end(a))
        return store_pg_oom(errstr, errstr_size);
    v[0] = a->p;
    if ((err = store_pg_run(pg(s), Q_SEEN, 1, v, PGRES_TUPLES_OK, "seen", &res,
                            errstr, errstr_size)))
        return err;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t i = store_pg_get_i64(res, r, 0) - 1;

        if (i >= 0 && (size_t)i < n)
            seen[i] = true;
    }
    PQclear(res);
    return CHP_OK;
}

static chp_err_t pg_offset(store_t *s, const char *cluster, const char *topic,
                           int32_t partition, int64_t *next_offset,
                           char *errstr, size_t errstr_size)
{
    char part[16];
    const char *v[3] = {cluster, topic, part};
    PGresult *res;
    chp_err_t err;

    *next_offset = -1;
    snprintf(part, sizeof(part), "%" PRId32, partition);
    if ((err = store_pg_run(pg(s), Q_CLAIM_OFFSET, 3, v, PGRES_COMMAND_OK,
                            "adopt offset", NULL, errstr, errstr_size)) ||
        (err = store_pg_run(pg(s), Q_GET_OFFSET, 3, v, PGRES_TUPLES_OK,
                            "read offset", &res, errstr, errstr_size)))
        return err;
    if (PQntuples(res) > 0)
        *next_offset = store_pg_get_i64(res, 0, 0);
    PQclear(res);
    return CHP_OK;
}

static chp_err_t pg_query(store_t *s, const char *topic, int64_t from_s,
                          int64_t to_s,
                          void (*cb)(const store_row_t *row, void *opaque),
                          void *opaque, char *errstr, size_t errstr_size)
{
    chp_sketch_t *sk = store_query_sketch(s);
    char from[32], to[32];
    const char *v[3];
    PGresult *res;
    chp_err_t err = CHP_OK;
    int n = 0;

    if (!sk)
        return store_pg_oom(errstr, errstr_size);
    snprintf(from, sizeof(from), "%" PRId64, from_s);
    snprintf(to, sizeof(to), "%" PRId64, to_s);
    if (topic)
        v[n++] = topic;
    v[n++] = from;
    v[n++] = to;
    if ((err =
             store_pg_run(pg(s), topic ? Q_QUERY_TOPIC : Q_QUERY_ALL, n, v,
                          PGRES_TUPLES_OK, "query", &res, errstr, errstr_size)))
        return err;
    for (int r = 0; r < PQntuples(res); r++) {
        store_row_t row;

        memset(&row, 0, sizeof(row));
        row.sketch = sk;
        if ((err = store_pg_read_row(res, r, 0, &row, errstr, errstr_size)))
            break;
        cb(&row, opaque);
    }
    PQclear(res);
    return err;
}

static chp_err_t pg_topics(store_t *s,
                           void (*cb)(const char *topic, void *opaque),
                           void *opaque, char *errstr, size_t errstr_size)
{
    PGresult *res;
    chp_err_t err = store_pg_run(pg(s), Q_TOPICS, 0, NULL, PGRES_TUPLES_OK,
                                 "topics", &res, errstr, errstr_size);

    if (err)
        return err;
    for (int r = 0; r < PQntuples(res); r++) {
        char name[CHP_NAME_MAX];

        store_pg_get_name(res, r, 0, name);
        cb(name, opaque);
    }
    PQclear(res);
    return CHP_OK;
}

const store_ops_t store_pgsql_ops = {
    .scheme = "postgresql",
    .open = pg_open,
    .migrate = pg_migrate,
    .seen = pg_seen,
    .flush = store_flush_run,
    .offset = pg_offset,
    .retention = store_retention_run,
    .query = pg_query,
    .topics = pg_topics,
    .close = pg_close,
};
