/*
 * store_pgsql_ops.c - the PostgreSQL handle (open, close), the driver
 * entries outside a transaction (seen, offset, the read cursor) and the
 * driver table (store_impl.h).
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_pgsql.h"
#include "errstr.h"
#include "conf_daemon_keys.h"

/* ------------------------------------------------------------ handle */

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

/* libpq parses db.url itself; what it refuses (an option it does not
 * know, say) is a configuration error naming db.url, found before any
 * connection attempt.  A message quoting the URL is not echoed: it may
 * hold the password. */
static chp_err_t check_uri(const char *uri, char *errstr, size_t errstr_size)
{
    char *why = NULL;
    PQconninfoOption *opts = PQconninfoParse(uri, &why);
    size_t n;

    if (opts) {
        PQconninfoFree(opts);
        return CHP_OK;
    }
    if (!why)
        return store_pg_oom(errstr, errstr_size);
    n = strlen(why);
    while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' '))
        n--;
    if (strchr(why, '@'))
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: libpq cannot parse this postgresql:// URL");
    else
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "db.url: %.*s", (int)n, why);
    PQfreemem(why);
    return CHP_ERR_INVALID_ARG;
}

static chp_err_t pg_open(const char *url, store_t **out, char *errstr,
                         size_t errstr_size)
{
    pg_store_t *s = calloc(1, sizeof(*s));
    chp_err_t err;

    *out = NULL;
    if (!s)
        return store_pg_oom(errstr, errstr_size);
    store_base_init(&s->base, &store_pgsql_driver);
    if ((err = store_url_parse(url, CHP_KEY_DB_URL, &s->url, errstr,
                               errstr_size)))
        goto fail;
    if (!s->url.path[0]) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: postgresql:// URL names no database (.../DB)");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    if (!(s->uri = strdup(url))) {
        err = store_pg_oom(errstr, errstr_size);
        goto fail;
    }
    /* libpq knows the scheme in lower case only. */
    for (char *p = s->uri; *p && *p != ':'; p++)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if ((err = check_uri(s->uri, errstr, errstr_size)))
        goto fail;
    /* Connecting now reports a wrong password at start-up, not later. */
    if ((err = store_pg_ensure(s, errstr, errstr_size)))
        goto fail;
    *out = &s->base;
    return CHP_OK;
fail:
    pg_close(&s->base);
    return err;
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

/* ------------------------------------------------------------ reading */

static chp_err_t pg_read_open(store_t *s, store_read_t what, const char *topic,
                              int64_t from_s, int64_t to_s, char *errstr,
                              size_t errstr_size)
{
    char from[32], to[32];
    const char *v[3];
    int n = 0;

    pg(s)->cur_what = what;
    pg(s)->cur_row = 0;
    if (what == STORE_READ_TOPICS)
        return store_pg_run(pg(s), Q_TOPICS, 0, NULL, PGRES_TUPLES_OK, "topics",
                            &pg(s)->cur, errstr, errstr_size);
    snprintf(from, sizeof(from), "%" PRId64, from_s);
    snprintf(to, sizeof(to), "%" PRId64, to_s);
    if (topic)
        v[n++] = topic;
    v[n++] = from;
    v[n++] = to;
    return store_pg_run(pg(s), topic ? Q_QUERY_TOPIC : Q_QUERY_ALL, n, v,
                        PGRES_TUPLES_OK, "query", &pg(s)->cur, errstr,
                        errstr_size);
}

static chp_err_t pg_read_next(store_t *s, store_row_t *row, bool *got,
                              char *errstr, size_t errstr_size)
{
    pg_store_t *p = pg(s);
    int r = p->cur_row;

    *got = r < PQntuples(p->cur);
    if (!*got)
        return CHP_OK;
    p->cur_row++;
    if (p->cur_what == STORE_READ_TOPICS) {
        store_pg_get_name(p->cur, r, 0, row->topic);
        return CHP_OK;
    }
    return store_pg_read_row(p->cur, r, 0, row, errstr, errstr_size);
}

static void pg_read_close(store_t *s)
{
    PQclear(pg(s)->cur);
    pg(s)->cur = NULL;
}

const store_driver_t store_pgsql_driver = {
    .scheme = "postgresql",
    .kind = STORE_PGSQL,
    .schema = &store_pgsql_schema,
    .open = pg_open,
    .close = pg_close,
    .seen = pg_seen,
    .offset = pg_offset,
    .read_open = pg_read_open,
    .read_next = pg_read_next,
    .read_close = pg_read_close,
    .begin = store_pg_begin,
    .commit = store_pg_commit,
    .rollback = store_pg_rollback,
    .put_uuids = store_pg_put_uuids,
    .get_rows = store_pg_get_rows,
    .put_rows = store_pg_put_rows,
    .put_offsets = store_pg_put_offsets,
    .delete_before = store_pg_delete_before,
    .exec = store_pg_exec,
    .scalar = store_pg_scalar,
};
