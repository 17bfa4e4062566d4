/*
 * store_pgsql.h - what the files of the PostgreSQL backend share (private
 * to store_pgsql*.c): the handle's struct, the statements, array literals and
 * the connection helpers (store_pgsql.c), the transaction primitives and the
 * driver table (store_pgsql_driver.c), the handle, seen, offset and the
 * read cursor (store_pgsql_ops.c).
 */
#ifndef CHP_COLLECTOR_STORE_PGSQL_H
#define CHP_COLLECTOR_STORE_PGSQL_H

#include <libpq-fe.h>

#include "collector/store_impl.h"

#define CONNECT_TIMEOUT           "5"
#define DEFAULT_PORT              5432
#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define WHAT_UUIDS                "insert uuids"

enum {
    Q_GET_ROWS,
    Q_INS_ROWS,
    Q_UPD_ROWS,
    Q_INS_UUIDS,
    Q_SEEN,
    Q_UPD_OFFSET,
    Q_INS_OFFSET,
    Q_CLAIM_OFFSET,
    Q_GET_OFFSET,
    Q_DEL_ROWS,
    Q_DEL_UUIDS,
    Q_QUERY_TOPIC,
    Q_QUERY_ALL,
    Q_TOPICS,
    Q__COUNT
};

/* A growable text buffer for array literals ({"a","b",NULL}). */
typedef struct abuf {
    char *p;
    size_t len, cap;
    bool oom;
} abuf_t;

typedef struct pg_store {
    store_t base;
    PGconn *db; /* NULL while disconnected */
    bool prepared[Q__COUNT];
    store_url_t url; /* db.url parsed, for checks and messages */
    char *uri;       /* db.url as it is, for libpq */
    abuf_t arr[SP__COUNT];
    /* The read cursor (store_pg_read_*): the whole result, and the next
     * row of it. */
    PGresult *cur;
    int cur_row;
    store_read_t cur_what;
} pg_store_t;

static inline pg_store_t *pg(store_t *s)
{
    return (pg_store_t *)s;
}

void store_pg_ab_reset(abuf_t *b);
void store_pg_ab_str(abuf_t *b, const char *s, size_t n);
void store_pg_ab_i64(abuf_t *b, int64_t v);
void store_pg_ab_dbl(abuf_t *b, double v);
void store_pg_ab_null(abuf_t *b);
bool store_pg_ab_end(abuf_t *b);
void store_pg_disconnect(pg_store_t *s);
chp_err_t store_pg_check(pg_store_t *s, PGresult *res, ExecStatusType want,
                         const char *what, char *errstr, size_t errstr_size);
chp_err_t store_pg_ensure(pg_store_t *s, char *errstr, size_t errstr_size);
chp_err_t store_pg_run(pg_store_t *s, int which, int n, const char *const *v,
                       ExecStatusType want, const char *what, PGresult **out,
                       char *errstr, size_t errstr_size);
chp_err_t store_pg_run_sql(pg_store_t *s, const char *sql, ExecStatusType want,
                           const char *what, PGresult **out, char *errstr,
                           size_t errstr_size);
int64_t store_pg_get_i64(const PGresult *res, int r, int c);
void store_pg_get_name(const PGresult *res, int r, int c,
                       char dst[CHP_NAME_MAX]);
chp_err_t store_pg_read_row(const PGresult *res, int r, int c0,
                            store_row_t *row, char *errstr, size_t errstr_size);
chp_err_t store_pg_oom(char *errstr, size_t errstr_size);

/* The transaction primitives of store_pgsql_driver.c (store_impl.h),
 * for the driver table in store_pgsql_ops.c. */
chp_err_t store_pg_begin(store_t *s, char *errstr, size_t errstr_size);
chp_err_t store_pg_commit(store_t *s, char *errstr, size_t errstr_size);
void store_pg_rollback(store_t *s);
chp_err_t store_pg_put_uuids(store_t *s, const char *const *uuids, size_t n,
                             int64_t now_s, char *errstr, size_t errstr_size);
chp_err_t store_pg_get_rows(store_t *s, const store_row_t *keys, size_t n,
                            store_row_t *out, bool *found, char *errstr,
                            size_t errstr_size);
chp_err_t store_pg_put_rows(store_t *s, const store_put_t *puts, size_t n,
                            int64_t now_s, char *errstr, size_t errstr_size);
chp_err_t store_pg_put_offsets(store_t *s, const char *cluster,
                               const store_offset_t *o, size_t n, char *errstr,
                               size_t errstr_size);
chp_err_t store_pg_delete_before(store_t *s, store_old_t what, int64_t before_s,
                                 char *errstr, size_t errstr_size);
chp_err_t store_pg_exec(store_t *s, const char *sql, char *errstr,
                        size_t errstr_size);
chp_err_t store_pg_scalar(store_t *s, const char *sql, int64_t *v,
                          bool *is_null, char *errstr, size_t errstr_size);

#endif
