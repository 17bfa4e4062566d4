/*
 * store_pgsql.c - the PostgreSQL backend, over libpq.
 *
 * Every value travels as a statement parameter.  A chunk of rows costs one
 * round trip to read (the keys as arrays, unnest()ed and joined, FOR
 * UPDATE) and at most two to write (INSERT ... SELECT FROM unnest(...) for
 * new rows, UPDATE ... FROM unnest(...) for stored ones), so a flush of
 * thousands of rows takes tens of round trips, not thousands.  New rows are
 * INSERTed, never upserted: two writers racing on one key make one fail
 * and retry instead of losing the other's counts.
 *
 * Names are TEXT COLLATE "C": byte order and byte equality, as in SQLite
 * and MySQL (VARBINARY), whatever the database's locale.
 *
 * A connection found bad after an error is closed and made again by the
 * next call (connect_timeout bounds how long that call waits).
 */
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_pgsql.h"
#include "errstr.h"

/* The 21 put columns as arrays, in enum store_param order. */
#define PUT_ARRAYS                                                             \
    "unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::text[], "  \
    "$6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[], "    \
    "$11::bigint[], $12::float8[], $13::float8[], $14::float8[], "             \
    "$15::float8[], $16::float8[], $17::text[], $18::bigint[], "               \
    "$19::bigint[], $20::bigint[], $21::bigint[])"

static const char *const sql_text[Q__COUNT] = {
    /* k.i is the 1-based position of the key in the chunk. */
    [Q_GET_ROWS] =
        "SELECT k.i, " STORE_ROW_COLUMNS " FROM unnest($1::bigint[], "
        "$2::text[], $3::text[], $4::text[], $5::text[]) WITH ORDINALITY "
        "AS k(kb, kt, kr, kd, kh, i) JOIN audit_rows ON time_begin = k.kb "
        "AND topic = k.kt AND tier = k.kr AND datacenter = k.kd AND "
        "host = k.kh FOR UPDATE OF audit_rows",
    [Q_INS_ROWS] = "INSERT INTO audit_rows (" STORE_PUT_COLUMNS ") SELECT * "
                   "FROM " PUT_ARRAYS,
    [Q_UPD_ROWS] =
        "UPDATE audit_rows SET time_end = u.time_end, count = u.count, "
        "total_bytes = u.total_bytes, no_time_count = u.no_time_count, "
        "malformed_count = u.malformed_count, "
        "negative_latency_count = u.negative_latency_count, "
        "latency_sum_ms = u.latency_sum_ms, mean_latency = u.mean_latency, "
        "latency_p95 = u.latency_p95, latency_p99 = u.latency_p99, "
        "max_latency = u.max_latency, sketch = u.sketch, "
        "updated_at = u.updated_at, "
        "delivery_failed_count = u.delivery_failed_count, "
        "audit_dropped_count = u.audit_dropped_count, "
        "aborted_count = u.aborted_count FROM " PUT_ARRAYS
        " AS u(" STORE_PUT_COLUMNS
        ") WHERE audit_rows.time_begin = u.time_begin AND "
        "audit_rows.topic = u.topic AND audit_rows.tier = u.tier AND "
        "audit_rows.datacenter = u.datacenter AND audit_rows.host = u.host",
    [Q_INS_UUIDS] = "INSERT INTO seen_uuids (uuid, seen_at) "
                    "SELECT unnest($1::text[]), $2::bigint",
    [Q_SEEN] = "SELECT u.i FROM unnest($1::text[]) WITH ORDINALITY AS u(id, i) "
               "WHERE EXISTS (SELECT 1 FROM seen_uuids WHERE uuid = u.id)",
    /* Compare-and-set (store_impl.h): no row changed = stale batch. */
    [Q_UPD_OFFSET] = "UPDATE source_offsets SET next_offset = $4 WHERE "
                     "cluster = $1 AND topic = $2 AND part = $3 AND "
                     "next_offset = $5",
    [Q_INS_OFFSET] = "INSERT INTO source_offsets (cluster, topic, part, "
                     "next_offset) VALUES ($1, $2, $3, $4) "
                     "ON CONFLICT DO NOTHING",
    /* A schema-1 offset (cluster '') goes to the first cluster asking. */
    [Q_CLAIM_OFFSET] = "UPDATE source_offsets SET cluster = $1 WHERE "
                       "cluster = '' AND topic = $2 AND part = $3 AND "
                       "NOT EXISTS (SELECT 1 FROM source_offsets o WHERE "
                       "o.cluster = $1 AND o.topic = $2 AND o.part = $3)",
    [Q_GET_OFFSET] = "SELECT next_offset FROM source_offsets "
                     "WHERE cluster = $1 AND topic = $2 AND part = $3",
    [Q_DEL_ROWS] = "DELETE FROM audit_rows WHERE time_begin < $1",
    [Q_DEL_UUIDS] = "DELETE FROM seen_uuids WHERE seen_at < $1",
    [Q_QUERY_TOPIC] = "SELECT " STORE_ROW_COLUMNS " FROM audit_rows "
                      "WHERE topic = $1 AND time_begin >= $2 AND "
                      "time_begin < $3 ORDER BY topic, time_begin, tier, "
                      "datacenter, host",
    [Q_QUERY_ALL] = "SELECT " STORE_ROW_COLUMNS " FROM audit_rows "
                    "WHERE time_begin >= $1 AND time_begin < $2 "
                    "ORDER BY topic, time_begin, tier, datacenter, host",
    [Q_TOPICS] = "SELECT DISTINCT topic FROM audit_rows ORDER BY topic",
};

/* ------------------------------------------------------------ arrays */

static void ab_put(abuf_t *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (b->len + n + 1 > cap)
            cap *= 2;
        if (!(p = realloc(b->p, cap))) {
            b->oom = true;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void store_pg_ab_reset(abuf_t *b)
{
    b->len = 0;
    b->oom = false;
    ab_put(b, "{", 1);
}

static void ab_sep(abuf_t *b)
{
    if (b->len > 1)
        ab_put(b, ",", 1);
}

/* A quoted element: only '"' and '\' need a backslash inside quotes. */
void store_pg_ab_str(abuf_t *b, const char *s, size_t n)
{
    size_t i, run = 0;

    ab_sep(b);
    ab_put(b, "\"", 1);
    for (i = 0; i < n; i++) {
        if (s[i] == '"' || s[i] == '\\') {
            ab_put(b, s + run, i - run);
            ab_put(b, "\\", 1);
            run = i;
        }
    }
    ab_put(b, s + run, n - run);
    ab_put(b, "\"", 1);
}

void store_pg_ab_i64(abuf_t *b, int64_t v)
{
    char t[32];

    ab_sep(b);
    ab_put(b, t, (size_t)snprintf(t, sizeof(t), "%" PRId64, v));
}

void store_pg_ab_dbl(abuf_t *b, double v)
{
    char t[40];

    ab_sep(b);
    /* 17 digits: the value reads back bit-identical. */
    ab_put(b, t, (size_t)snprintf(t, sizeof(t), "%.17g", v));
}

void store_pg_ab_null(abuf_t *b)
{
    ab_sep(b);
    ab_put(b, "NULL", 4);
}

bool store_pg_ab_end(abuf_t *b)
{
    ab_put(b, "}", 1);
    return !b->oom;
}

/* ------------------------------------------------------------ connection */

void store_pg_disconnect(pg_store_t *s)
{
    if (s->db)
        PQfinish(s->db);
    s->db = NULL;
    memset(s->prepared, 0, sizeof(s->prepared));
}

/* "relation already exists, skipping" and friends are expected. */
static void quiet(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static chp_err_t fail_msg(pg_store_t *s, const char *what, const char *msg,
                          char *errstr, size_t errstr_size)
{
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "postgresql %s:%d: %s: %.*s",
             s->url.host, s->url.port ? s->url.port : DEFAULT_PORT, what,
             (int)n, msg);
    if (s->db && PQstatus(s->db) != CONNECTION_OK)
        store_pg_disconnect(s);
    return CHP_ERR_DB;
}

/* Checks a result; frees it on failure.  The server's message, with its
 * DETAIL when there is one (it names the offending key). */
chp_err_t store_pg_check(pg_store_t *s, PGresult *res, ExecStatusType want,
                         const char *what, char *errstr, size_t errstr_size)
{
    char msg[1024];
    const char *detail, *state;
    chp_err_t err = CHP_ERR_DB;

    if (res && PQresultStatus(res) == want)
        return CHP_OK;
    if (!res)
        return fail_msg(s, what, PQerrorMessage(s->db), errstr, errstr_size);
    detail = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    snprintf(msg, sizeof(msg), "%s%s%s",
             PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                 ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                 : PQresultErrorMessage(res),
             detail ? " - " : "", detail ? detail : "");
    /* Only a uuid conflict means "already counted"; a row conflict is a
     * concurrent writer, to retry. */
    if (state && strcmp(state, SQLSTATE_UNIQUE_VIOLATION) == 0 &&
        strcmp(what, WHAT_UUIDS) == 0) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "dedup: audit message uuid already stored: %s", msg);
        err = CHP_ERR_STATE;
    } else {
        fail_msg(s, what, msg, errstr, errstr_size);
    }
    PQclear(res);
    return err;
}

chp_err_t store_pg_ensure(pg_store_t *s, char *errstr, size_t errstr_size)
{
    char port[16];
    /* libpq parses db.url itself (host, port, user, password, database and
     * ?options such as sslmode=require).  The entries before "dbname" are
     * defaults the URL overrides (libpq: later entries win). */
    const char *kw[] = {"port",
                        "connect_timeout",
                        "application_name",
                        "client_encoding",
                        "options",
                        "dbname",
                        NULL};
    /* Custom plans: a prepared statement's generic plan, fixed while the
     * tables were small, kept reading audit_rows and seen_uuids by full
     * scans as they grew until autovacuum's next ANALYZE (a new database
     * ingested 5 times slower for minutes).  Planning the chunk's
     * statements each time costs microseconds. */
    const char *val[] = {port,
                         CONNECT_TIMEOUT,
                         "chaperone",
                         "UTF8",
                         "-c plan_cache_mode=force_custom_plan",
                         s->uri,
                         NULL};
    chp_err_t err;

    if (s->db && PQstatus(s->db) == CONNECTION_OK)
        return CHP_OK;
    store_pg_disconnect(s);
    snprintf(port, sizeof(port), "%d", DEFAULT_PORT);
    s->db = PQconnectdbParams(kw, val, 1);
    if (!s->db) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "postgresql: out of memory");
        return CHP_ERR_NOMEM;
    }
    if (PQstatus(s->db) != CONNECTION_OK) {
        err =
            fail_msg(s, "connect", PQerrorMessage(s->db), errstr, errstr_size);
        store_pg_disconnect(s);
        return err;
    }
    PQsetNoticeProcessor(s->db, quiet, NULL);
    return CHP_OK;
}

/* A statement's result: checked, then handed out (out) or freed. */
static chp_err_t result(pg_store_t *s, PGresult *res, ExecStatusType want,
                        const char *what, PGresult **out, char *errstr,
                        size_t errstr_size)
{
    chp_err_t err = store_pg_check(s, res, want, what, errstr, errstr_size);

    if (err)
        return err;
    if (out)
        *out = res;
    else
        PQclear(res);
    return CHP_OK;
}

/* Runs prepared statement `which` (prepared on first use per connection,
 * when the tables exist).  *out is the result, or NULL on failure. */
chp_err_t store_pg_run(pg_store_t *s, int which, int n, const char *const *v,
                       ExecStatusType want, const char *what, PGresult **out,
                       char *errstr, size_t errstr_size)
{
    char name[16];
    PGresult *res;
    chp_err_t err;

    if (out)
        *out = NULL;
    if ((err = store_pg_ensure(s, errstr, errstr_size)))
        return err;
    snprintf(name, sizeof(name), "chp%d", which);
    if (!s->prepared[which]) {
        res = PQprepare(s->db, name, sql_text[which], 0, NULL);
        if ((err = store_pg_check(s, res, PGRES_COMMAND_OK, "prepare", errstr,
                                  errstr_size)))
            return err;
        PQclear(res);
        s->prepared[which] = true;
    }
    res = PQexecPrepared(s->db, name, n, v, NULL, NULL, 0);
    return result(s, res, want, what, out, errstr, errstr_size);
}

chp_err_t store_pg_run_sql(pg_store_t *s, const char *sql, ExecStatusType want,
                           const char *what, PGresult **out, char *errstr,
                           size_t errstr_size)
{
    chp_err_t err = store_pg_ensure(s, errstr, errstr_size);
    PGresult *res;

    if (err)
        return err;
    res = PQexec(s->db, sql);
    return result(s, res, want, what, out, errstr, errstr_size);
}

int64_t store_pg_get_i64(const PGresult *res, int r, int c)
{
    return strtoll(PQgetvalue(res, r, c), NULL, 10);
}

static double get_dbl(const PGresult *res, int r, int c)
{
    return strtod(PQgetvalue(res, r, c), NULL);
}

void store_pg_get_name(const PGresult *res, int r, int c,
                       char dst[CHP_NAME_MAX])
{
    store_name_copy(dst, PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
}

/* Reads STORE_ROW_COLUMNS starting at column c0 of result row r. */
chp_err_t store_pg_read_row(const PGresult *res, int r, int c0,
                            store_row_t *row, char *errstr, size_t errstr_size)
{
    chp_sketch_t *sk = row->sketch;

    row->time_begin = store_pg_get_i64(res, r, c0 + SC_TIME_BEGIN);
    row->time_end = store_pg_get_i64(res, r, c0 + SC_TIME_END);
    store_pg_get_name(res, r, c0 + SC_TOPIC, row->topic);
    store_pg_get_name(res, r, c0 + SC_TIER, row->tier);
    store_pg_get_name(res, r, c0 + SC_DATACENTER, row->datacenter);
    store_pg_get_name(res, r, c0 + SC_HOST, row->host);
    row->count = (uint64_t)store_pg_get_i64(res, r, c0 + SC_COUNT);
    row->total_bytes = (uint64_t)store_pg_get_i64(res, r, c0 + SC_TOTAL_BYTES);
    row->no_time_count = (uint64_t)store_pg_get_i64(res, r, c0 + SC_NO_TIME);
    row->malformed_count =
        (uint64_t)store_pg_get_i64(res, r, c0 + SC_MALFORMED);
    row->negative_latency_count =
        (uint64_t)store_pg_get_i64(res, r, c0 + SC_NEGATIVE);
    row->delivery_failed_count =
        (uint64_t)store_pg_get_i64(res, r, c0 + SC_DELIVERY_FAILED);
    row->audit_dropped_count =
        (uint64_t)store_pg_get_i64(res, r, c0 + SC_AUDIT_DROPPED);
    row->aborted_count = (uint64_t)store_pg_get_i64(res, r, c0 + SC_ABORTED);
    row->latency_sum_ms = get_dbl(res, r, c0 + SC_LATENCY_SUM);
    row->latency95 = get_dbl(res, r, c0 + SC_P95);
    row->latency99 = get_dbl(res, r, c0 + SC_P99);
    row->max_latency = get_dbl(res, r, c0 + SC_MAX);
    if (PQgetisnull(res, r, c0 + SC_SKETCH) || !sk) {
        row->sketch = NULL;
        return CHP_OK;
    }
    return store_sketch_decode(sk, PQgetvalue(res, r, c0 + SC_SKETCH),
                               (size_t)PQgetlength(res, r, c0 + SC_SKETCH), row,
                               errstr, errstr_size);
}

chp_err_t store_pg_oom(char *errstr, size_t errstr_size)
{
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "postgresql: out of memory");
    return CHP_ERR_NOMEM;
}
