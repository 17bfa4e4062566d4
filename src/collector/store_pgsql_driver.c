/*
 * store_pgsql_driver.c - the PostgreSQL primitives store.c composes into
 * one flush, retention or migration (store_impl.h): transactions, a chunk of
 * rows read and written as arrays in one round trip each, compare-and-set
 * offsets.
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_pgsql.h"
#include "errstr.h"

/* ------------------------------------------------------------ driver */

chp_err_t store_pg_begin(store_t *s, char *errstr, size_t errstr_size)
{
    return store_pg_run_sql(pg(s), "BEGIN", PGRES_COMMAND_OK, "BEGIN", NULL,
                            errstr, errstr_size);
}

chp_err_t store_pg_commit(store_t *s, char *errstr, size_t errstr_size)
{
    PGresult *res;
    chp_err_t err;
    bool ok;

    if (!pg(s)->db) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "postgresql: connection lost");
        return CHP_ERR_DB;
    }
    if ((err = store_pg_run_sql(pg(s), "COMMIT", PGRES_COMMAND_OK, "COMMIT",
                                &res, errstr, errstr_size)))
        return err;
    /* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
    ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
    PQclear(res);
    if (!ok) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "postgresql: transaction rolled back");
        return CHP_ERR_DB;
    }
    return CHP_OK;
}

void store_pg_rollback(store_t *s)
{
    PGresult *res;

    if (!pg(s)->db || PQtransactionStatus(pg(s)->db) == PQTRANS_IDLE)
        return;
    res = PQexec(pg(s)->db, "ROLLBACK");
    PQclear(res);
    if (PQstatus(pg(s)->db) != CONNECTION_OK)
        store_pg_disconnect(pg(s));
}

chp_err_t store_pg_put_uuids(store_t *s, const char *const *uuids, size_t n,
                             int64_t now_s, char *errstr, size_t errstr_size)
{
    abuf_t *a = &pg(s)->arr[0];
    const char *v[2];
    char now[32];

    store_pg_ab_reset(a);
    for (size_t i = 0; i < n; i++)
        store_pg_ab_str(a, uuids[i], strlen(uuids[i]));
    if (!store_pg_ab_end(a))
        return store_pg_oom(errstr, errstr_size);
    snprintf(now, sizeof(now), "%" PRId64, now_s);
    v[0] = a->p;
    v[1] = now;
    return store_pg_run(pg(s), Q_INS_UUIDS, 2, v, PGRES_COMMAND_OK, WHAT_UUIDS,
                        NULL, errstr, errstr_size);
}

chp_err_t store_pg_get_rows(store_t *s, const store_row_t *keys, size_t n,
                            store_row_t *out, bool *found, char *errstr,
                            size_t errstr_size)
{
    abuf_t *a = pg(s)->arr;
    const char *v[5];
    PGresult *res;
    chp_err_t err = CHP_OK;
    int r;

    for (int c = 0; c < 5; c++)
        store_pg_ab_reset(&a[c]);
    for (size_t i = 0; i < n; i++) {
        store_pg_ab_i64(&a[0], keys[i].time_begin);
        store_pg_ab_str(&a[1], keys[i].topic, strlen(keys[i].topic));
        store_pg_ab_str(&a[2], keys[i].tier, strlen(keys[i].tier));
        store_pg_ab_str(&a[3], keys[i].datacenter, strlen(keys[i].datacenter));
        store_pg_ab_str(&a[4], keys[i].host, strlen(keys[i].host));
    }
    for (int c = 0; c < 5; c++) {
        if (!store_pg_ab_end(&a[c]))
            return store_pg_oom(errstr, errstr_size);
        v[c] = a[c].p;
    }
    if ((err = store_pg_run(pg(s), Q_GET_ROWS, 5, v, PGRES_TUPLES_OK,
                            "read rows", &res, errstr, errstr_size)))
        return err;
    for (r = 0; r < PQntuples(res) && !err; r++) {
        int64_t i = store_pg_get_i64(res, r, 0) - 1;

        if (i < 0 || (size_t)i >= n || found[i]) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB,
                     "postgresql: unexpected row");
            err = CHP_ERR_DB;
            break;
        }
        found[i] = true;
        err = store_pg_read_row(res, r, 1, &out[i], errstr, errstr_size);
    }
    PQclear(res);
    return err;
}

/* Writes the puts with exists == upd as one statement. */
static chp_err_t put_some(pg_store_t *s, const store_put_t *puts, size_t n,
                          bool upd, int64_t now_s, char *errstr,
                          size_t errstr_size)
{
    abuf_t *a = s->arr;
    const char *v[SP__COUNT];
    size_t want = 0;
    PGresult *res;
    chp_err_t err;
    bool ok;

    for (int c = 0; c < SP__COUNT; c++)
        store_pg_ab_reset(&a[c]);
    for (size_t i = 0; i < n; i++) {
        const store_put_t *p = &puts[i];
        const store_row_t *r = p->row;

        if (p->exists != upd)
            continue;
        want++;
        store_pg_ab_i64(&a[SP_TIME_BEGIN], r->time_begin);
        store_pg_ab_i64(&a[SP_TIME_END], r->time_end);
        store_pg_ab_str(&a[SP_TOPIC], r->topic, strlen(r->topic));
        store_pg_ab_str(&a[SP_TIER], r->tier, strlen(r->tier));
        store_pg_ab_str(&a[SP_DATACENTER], r->datacenter,
                        strlen(r->datacenter));
        store_pg_ab_str(&a[SP_HOST], r->host, strlen(r->host));
        store_pg_ab_i64(&a[SP_COUNT], (int64_t)r->count);
        store_pg_ab_i64(&a[SP_TOTAL_BYTES], (int64_t)r->total_bytes);
        store_pg_ab_i64(&a[SP_NO_TIME], (int64_t)r->no_time_count);
        store_pg_ab_i64(&a[SP_MALFORMED], (int64_t)r->malformed_count);
        store_pg_ab_i64(&a[SP_NEGATIVE], (int64_t)r->negative_latency_count);
        store_pg_ab_dbl(&a[SP_LATENCY_SUM], r->latency_sum_ms);
        store_pg_ab_dbl(&a[SP_MEAN], p->mean);
        store_pg_ab_dbl(&a[SP_P95], p->p95);
        store_pg_ab_dbl(&a[SP_P99], p->p99);
        store_pg_ab_dbl(&a[SP_MAX], p->max);
        if (p->sketch_text)
            store_pg_ab_str(&a[SP_SKETCH], p->sketch_text, p->sketch_len);
        else
            store_pg_ab_null(&a[SP_SKETCH]);
        store_pg_ab_i64(&a[SP_UPDATED_AT], now_s);
        store_pg_ab_i64(&a[SP_DELIVERY_FAILED],
                        (int64_t)r->delivery_failed_count);
        store_pg_ab_i64(&a[SP_AUDIT_DROPPED], (int64_t)r->audit_dropped_count);
        store_pg_ab_i64(&a[SP_ABORTED], (int64_t)r->aborted_count);
    }
    if (!want)
        return CHP_OK;
    for (int c = 0; c < SP__COUNT; c++) {
        if (!store_pg_ab_end(&a[c]))
            return store_pg_oom(errstr, errstr_size);
        v[c] = a[c].p;
    }
    if ((err = store_pg_run(
             s, upd ? Q_UPD_ROWS : Q_INS_ROWS, SP__COUNT, v, PGRES_COMMAND_OK,
             upd ? "update rows" : "insert rows", &res, errstr, errstr_size)))
        return err;
    /* The rows were locked when read: every one must still be there. */
    ok = strtoull(PQcmdTuples(res), NULL, 10) == want;
    PQclear(res);
    if (!ok) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "postgresql: %s wrote fewer rows than asked",
                 upd ? "update" : "insert");
        return CHP_ERR_DB;
    }
    return CHP_OK;
}

chp_err_t store_pg_put_rows(store_t *s, const store_put_t *puts, size_t n,
                            int64_t now_s, char *errstr, size_t errstr_size)
{
    chp_err_t err = put_some(pg(s), puts, n, false, now_s, errstr, errstr_size);

    return err ? err
               : put_some(pg(s), puts, n, true, now_s, errstr, errstr_size);
}

chp_err_t store_pg_put_offsets(store_t *s, const char *cluster,
                               const store_offset_t *o, size_t n, char *errstr,
                               size_t errstr_size)
{
    char part[16], off[32], prev[32];
    const char *v[5] = {cluster, NULL, part, off, prev};
    PGresult *res;
    chp_err_t err;
    bool ok;

    for (size_t i = 0; i < n; i++) {
        bool ins = o[i].prev_offset < 0;

        v[1] = o[i].topic;
        snprintf(part, sizeof(part), "%" PRId32, o[i].partition);
        snprintf(off, sizeof(off), "%" PRId64, o[i].next_offset);
        snprintf(prev, sizeof(prev), "%" PRId64, o[i].prev_offset);
        if ((err = store_pg_run(pg(s), ins ? Q_INS_OFFSET : Q_UPD_OFFSET,
                                ins ? 4 : 5, v, PGRES_COMMAND_OK,
                                "store offset", &res, errstr, errstr_size)))
            return err;
        ok = strtoull(PQcmdTuples(res), NULL, 10) == 1;
        PQclear(res);
        if (!ok)
            return store_stale(cluster, &o[i], errstr, errstr_size);
    }
    return CHP_OK;
}

chp_err_t store_pg_delete_before(store_t *s, store_old_t what, int64_t before_s,
                                 char *errstr, size_t errstr_size)
{
    char t[32];
    const char *v[1] = {t};

    snprintf(t, sizeof(t), "%" PRId64, before_s);
    return store_pg_run(
        pg(s), what == STORE_OLD_ROWS ? Q_DEL_ROWS : Q_DEL_UUIDS, 1, v,
        PGRES_COMMAND_OK,
        what == STORE_OLD_ROWS ? "delete old rows" : "delete old uuids", NULL,
        errstr, errstr_size);
}

chp_err_t store_pg_exec(store_t *s, const char *sql, char *errstr,
                        size_t errstr_size)
{
    chp_err_t err = store_pg_ensure(pg(s), errstr, errstr_size);
    PGresult *res;

    if (err)
        return err;
    res = PQexec(pg(s)->db, sql);
    /* A SELECT (the advisory lock) answers with a row: also success. */
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        PQclear(res);
        return CHP_OK;
    }
    if ((err = store_pg_check(pg(s), res, PGRES_COMMAND_OK, "migrate", errstr,
                              errstr_size)))
        return err;
    PQclear(res);
    return CHP_OK;
}

chp_err_t store_pg_scalar(store_t *s, const char *sql, int64_t *v,
                          bool *is_null, char *errstr, size_t errstr_size)
{
    PGresult *res;
    chp_err_t err = store_pg_run_sql(pg(s), sql, PGRES_TUPLES_OK, "migrate",
                                     &res, errstr, errstr_size);

    *is_null = true;
    if (err)
        return err;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        *v = store_pg_get_i64(res, 0, 0);
        *is_null = false;
    }
    PQclear(res);
    return CHP_OK;
}
