/*
 * store_mysql_driver.c - the MySQL/MariaDB primitives store_flush()
 * composes into one flush (store_impl.h): transactions, multi-row reads
 * and writes in a few statement shapes, compare-and-set offsets.
 */
#include <mysql.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_mysql.h"
#include "sketch.h"
#include "errstr.h"

/* Multi-row statements come in a few sizes (rows per statement), so n
 * rows take a few round trips whatever n is, with a handful of prepared
 * statements.  (MariaDB's array binding would not run on MySQL.)  Round
 * trips, not rows, are what a flush pays most for on a busy server: a
 * chunk is written in at most 8 statements (one when full), and a batch of
 * 2000 uuids in 8. */
const size_t store_mysql_row_shapes[N_ROW_SHAPES] = {128, 64, 32, 16,
                                                     8,   4,  2,  1};
const size_t store_mysql_uuid_shapes[N_UUID_SHAPES] = {1024, 256, 64, 16, 4, 1};

/* ------------------------------------------------------------ driver */

static chp_err_t my_begin(store_t *s, char *errstr, size_t errstr_size)
{
    chp_err_t err = store_my_ensure(my(s), errstr, errstr_size);

    if (err)
        return err;
    if (mysql_query(my(s)->db, "START TRANSACTION"))
        return store_my_fail_db(my(s), "START TRANSACTION", errstr,
                                errstr_size);
    return CHP_OK;
}

static chp_err_t my_commit(store_t *s, char *errstr, size_t errstr_size)
{
    if (!my(s)->db) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "mysql: connection lost");
        return CHP_ERR_DB;
    }
    if (mysql_commit(my(s)->db))
        return store_my_fail_db(my(s), "COMMIT", errstr, errstr_size);
    return CHP_OK;
}

static void my_rollback(store_t *s)
{
    if (my(s)->db && mysql_rollback(my(s)->db) &&
        store_my_connection_error(mysql_errno(my(s)->db)))
        store_my_disconnect(my(s));
}

/* The largest shape <= n. */
static size_t shape_for(size_t n, const size_t *shapes, size_t n_shapes,
                        size_t *index)
{
    size_t i = 0;

    while (i + 1 < n_shapes && shapes[i] > n)
        i++;
    *index = i;
    return shapes[i];
}

static chp_err_t my_put_uuids(store_t *s, const char *const *uuids, size_t n,
                              int64_t now_s, char *errstr, size_t errstr_size)
{
    my_store_t *m = my(s);
    chp_err_t err;

    for (size_t i = 0, k, shape; i < n; i += k) {
        MYSQL_STMT *st;

        k = shape_for(n - i, store_mysql_uuid_shapes, N_UUID_SHAPES, &shape);
        for (size_t j = 0; j < k; j++) {
            b_str(&m->pb[2 * j], uuids[i + j], strlen(uuids[i + j]),
                  &m->plen[j]);
            b_i64(&m->pb[2 * j + 1], &now_s);
        }
        if ((err = store_my_stmt(m, Q_INS_UUIDS + (int)shape, &st, errstr,
                                 errstr_size)))
            return err;
        if (mysql_stmt_bind_param(st, m->pb) || mysql_stmt_execute(st)) {
            if (mysql_stmt_errno(st) == ER_DUP_ENTRY) {
                /* The server's message names the uuid. */
                chp_errf(errstr, errstr_size, CHP_ERR_DB,
                         "dedup: audit message uuid already stored: %s",
                         mysql_stmt_error(st));
                return CHP_ERR_STATE;
            }
            return store_my_fail_stmt(m, st, "insert uuids", errstr,
                                      errstr_size);
        }
    }
    return CHP_OK;
}

static chp_err_t my_get_rows(store_t *s, const store_row_t *keys, size_t n,
                             store_row_t *out, bool *found, char *errstr,
                             size_t errstr_size)
{
    my_store_t *m = my(s);
    MYSQL_STMT *st;
    chp_err_t err;
    bool got;

    for (size_t j = 0; j < STORE_CHUNK; j++) {
        const store_row_t *k = &keys[j < n ? j : n - 1];
        MYSQL_BIND *b = &m->pb[5 * j];
        unsigned long *len = &m->plen[5 * j];

        b_i64(&b[0], &k->time_begin);
        b_str(&b[1], k->topic, strlen(k->topic), &len[1]);
        b_str(&b[2], k->tier, strlen(k->tier), &len[2]);
        b_str(&b[3], k->datacenter, strlen(k->datacenter), &len[3]);
        b_str(&b[4], k->host, strlen(k->host), &len[4]);
    }
    if ((err = store_my_execute(m, Q_GET_ROWS, m->pb, "read rows", &st, errstr,
                                errstr_size)) ||
        (err = store_my_buffer_rows(m, st, errstr, errstr_size)))
        return err;
    while (!(err = store_my_fetch(m, st, &got, errstr, errstr_size)) && got) {
        size_t i = 0;

        while (i < n && (found[i] || !store_my_rb_has_key(&m->rb, &keys[i])))
            i++;
        if (i == n) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB, "mysql: unexpected row");
            err = CHP_ERR_DB;
            break;
        }
        found[i] = true;
        if ((err = store_my_rb_row(&m->rb, &out[i], errstr, errstr_size)))
            break;
    }
    if (m->q[Q_GET_ROWS])
        mysql_stmt_free_result(st);
    return err;
}

/* Binds row p as row j of a multi-row statement. */
static void bind_put(my_store_t *m, size_t j, const store_put_t *p,
                     int64_t now_s)
{
    const store_row_t *r = p->row;
    MYSQL_BIND *b = &m->pb[SP__COUNT * j];
    unsigned long *len = &m->plen[SP__COUNT * j];
    int64_t *iv = &m->piv[SP__COUNT * j];

    iv[SP_TIME_BEGIN] = r->time_begin;
    iv[SP_TIME_END] = r->time_end;
    iv[SP_COUNT] = (int64_t)r->count;
    iv[SP_TOTAL_BYTES] = (int64_t)r->total_bytes;
    iv[SP_NO_TIME] = (int64_t)r->no_time_count;
    iv[SP_MALFORMED] = (int64_t)r->malformed_count;
    iv[SP_NEGATIVE] = (int64_t)r->negative_latency_count;
    iv[SP_UPDATED_AT] = now_s;
    iv[SP_DELIVERY_FAILED] = (int64_t)r->delivery_failed_count;
    iv[SP_AUDIT_DROPPED] = (int64_t)r->audit_dropped_count;
    iv[SP_ABORTED] = (int64_t)r->aborted_count;
    for (int c = 0; c < SP__COUNT; c++)
        b_i64(&b[c], &iv[c]);
    b_str(&b[SP_TOPIC], r->topic, strlen(r->topic), &len[SP_TOPIC]);
    b_str(&b[SP_TIER], r->tier, strlen(r->tier), &len[SP_TIER]);
    b_str(&b[SP_DATACENTER], r->datacenter, strlen(r->datacenter),
          &len[SP_DATACENTER]);
    b_str(&b[SP_HOST], r->host, strlen(r->host), &len[SP_HOST]);
    b_dbl(&b[SP_LATENCY_SUM], &r->latency_sum_ms);
    b_dbl(&b[SP_MEAN], &p->mean);
    b_dbl(&b[SP_P95], &p->p95);
    b_dbl(&b[SP_P99], &p->p99);
    b_dbl(&b[SP_MAX], &p->max);
    if (p->sketch_text)
        b_str(&b[SP_SKETCH], p->sketch_text, p->sketch_len, &len[SP_SKETCH]);
    else
        b_null(&b[SP_SKETCH]);
}

/* Writes the puts with exists == upd, as few statements as the shapes
 * allow. */
static chp_err_t put_some(my_store_t *m, const store_put_t *puts, size_t n,
                          bool upd, int64_t now_s, char *errstr,
                          size_t errstr_size)
{
    const store_put_t *sel[STORE_CHUNK];
    size_t n_sel = 0;
    chp_err_t err;

    for (size_t i = 0; i < n; i++)
        if (puts[i].exists == upd)
            sel[n_sel++] = &puts[i];
    for (size_t i = 0, k, shape; i < n_sel; i += k) {
        k = shape_for(n_sel - i, store_mysql_row_shapes, N_ROW_SHAPES, &shape);
        for (size_t j = 0; j < k; j++)
            bind_put(m, j, sel[i + j], now_s);
        if ((err = store_my_execute(
                 m, (upd ? Q_UPS_ROWS : Q_INS_ROWS) + (int)shape, m->pb,
                 upd ? "update rows" : "insert rows", NULL, errstr,
                 errstr_size)))
            return err;
    }
    return CHP_OK;
}

static chp_err_t my_put_rows(store_t *s, const store_put_t *puts, size_t n,
                             int64_t now_s, char *errstr, size_t errstr_size)
{
    chp_err_t err = put_some(my(s), puts, n, false, now_s, errstr, errstr_size);

    return err ? err
               : put_some(my(s), puts, n, true, now_s, errstr, errstr_size);
}

static chp_err_t stale(const char *cluster, const store_offset_t *o,
                       char *errstr, size_t errstr_size)
{
    chp_errf(errstr, errstr_size, CHP_ERR_DB,
             "stale batch: the stored offset of %s [%d] (cluster %s) is no "
             "longer %lld",
             o->topic, (int)o->partition, cluster, (long long)o->prev_offset);
    return STORE_ERR_STALE;
}

static chp_err_t my_put_offsets(store_t *s, const char *cluster,
                                const store_offset_t *o, size_t n, char *errstr,
                                size_t errstr_size)
{
    MYSQL_BIND b[5];
    unsigned long len[2];
    MYSQL_STMT *st;
    chp_err_t err;

    for (size_t i = 0; i < n; i++) {
        bool ins = o[i].prev_offset < 0;
        int which = ins ? Q_INS_OFFSET : Q_UPD_OFFSET;
        MYSQL_BIND *k = ins ? b : b + 1; /* the key after next_offset */

        b_i64(ins ? &b[3] : &b[0], &o[i].next_offset);
        b_str(&k[0], cluster, strlen(cluster), &len[0]);
        b_str(&k[1], o[i].topic, strlen(o[i].topic), &len[1]);
        b_i32(&k[2], &o[i].partition);
        if (!ins)
            b_i64(&b[4], &o[i].prev_offset);
        err = store_my_execute(my(s), which, b, "store offset", &st, errstr,
                               errstr_size);
        /* A row already there for an INSERT is the same news as no row
         * matched for an UPDATE. */
        if (err && ins && my(s)->q[which] &&
            mysql_stmt_errno(my(s)->q[which]) == ER_DUP_ENTRY)
            return stale(cluster, &o[i], errstr, errstr_size);
        if (err)
            return err;
        if (mysql_stmt_affected_rows(st) != 1)
            return stale(cluster, &o[i], errstr, errstr_size);
    }
    return CHP_OK;
}

static chp_err_t my_delete_before(store_t *s, store_old_t what,
                                  int64_t before_s, char *errstr,
                                  size_t errstr_size)
{
    MYSQL_BIND b;

    b_i64(&b, &before_s);
    return store_my_execute(
        my(s), what == STORE_OLD_ROWS ? Q_DEL_ROWS : Q_DEL_UUIDS, &b,
        what == STORE_OLD_ROWS ? "delete old rows" : "delete old uuids", NULL,
        errstr, errstr_size);
}

static chp_err_t my_exec(store_t *s, const char *sql, char *errstr,
                         size_t errstr_size)
{
    chp_err_t err = store_my_ensure(my(s), errstr, errstr_size);
    MYSQL_RES *res;

    if (err)
        return err;
    if (mysql_query(my(s)->db, sql))
        return store_my_fail_db(my(s), "migrate", errstr, errstr_size);
    if ((res = mysql_store_result(my(s)->db)))
        mysql_free_result(res);
    return CHP_OK;
}

static chp_err_t my_scalar(store_t *s, const char *sql, int64_t *v,
                           bool *is_null, char *errstr, size_t errstr_size)
{
    chp_err_t err = store_my_ensure(my(s), errstr, errstr_size);
    MYSQL_RES *res;
    MYSQL_ROW row;

    *is_null = true;
    if (err)
        return err;
    if (mysql_query(my(s)->db, sql) || !(res = mysql_store_result(my(s)->db)))
        return store_my_fail_db(my(s), "migrate", errstr, errstr_size);
    if ((row = mysql_fetch_row(res)) && row[0]) {
        *v = strtoll(row[0], NULL, 10);
        *is_null = false;
    }
    mysql_free_result(res);
    return CHP_OK;
}

const store_driver_t store_mysql_driver = {
    .scheme = "mysql",
    .kind = STORE_MYSQL,
    .schema = &store_mysql_schema,
    .open = store_my_open,
    .close = store_my_close,
    .seen = store_my_seen,
    .offset = store_my_offset,
    .read_open = store_my_read_open,
    .read_next = store_my_read_next,
    .read_close = store_my_read_close,
    .begin = my_begin,
    .commit = my_commit,
    .rollback = my_rollback,
    .put_uuids = my_put_uuids,
    .get_rows = my_get_rows,
    .put_rows = my_put_rows,
    .put_offsets = my_put_offsets,
    .delete_before = my_delete_before,
    .exec = my_exec,
    .scalar = my_scalar,
};
