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

#include "collector/store_impl.h"

#define CONNECT_TIMEOUT           "5"
#define DEFAULT_PORT              5432
#define SQLSTATE_UNIQUE_VIOLATION "23505"
#define MAX_CONN_PARAMS           24
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

static const char *const schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS audit_rows ("
    " time_begin BIGINT NOT NULL,"
    " time_end BIGINT NOT NULL,"
    " topic TEXT COLLATE \"C\" NOT NULL,"
    " tier TEXT COLLATE \"C\" NOT NULL,"
    " datacenter TEXT COLLATE \"C\" NOT NULL,"
    " host TEXT COLLATE \"C\" NOT NULL,"
    " count BIGINT NOT NULL,"
    " total_bytes BIGINT NOT NULL,"
    " no_time_count BIGINT NOT NULL,"
    " malformed_count BIGINT NOT NULL,"
    " negative_latency_count BIGINT NOT NULL,"
    " latency_sum_ms DOUBLE PRECISION NOT NULL,"
    " mean_latency DOUBLE PRECISION NOT NULL,"
    " latency_p95 DOUBLE PRECISION NOT NULL,"
    " latency_p99 DOUBLE PRECISION NOT NULL,"
    " max_latency DOUBLE PRECISION NOT NULL,"
    " sketch TEXT,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (time_begin, topic, tier, datacenter, host))",
    "CREATE INDEX IF NOT EXISTS audit_rows_topic_time"
    " ON audit_rows (topic, time_begin)",
    "CREATE TABLE IF NOT EXISTS seen_uuids ("
    " uuid TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    " seen_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS seen_uuids_seen_at ON seen_uuids (seen_at)",
    "CREATE TABLE IF NOT EXISTS source_offsets ("
    " topic TEXT COLLATE \"C\" NOT NULL,"
    " part INTEGER NOT NULL,"
    " next_offset BIGINT NOT NULL,"
    " PRIMARY KEY (topic, part))",
    "INSERT INTO schema_version (version) VALUES (1) ON CONFLICT DO NOTHING",
    NULL,
};

/* Offsets keyed by the audit cluster (existing ones get cluster '', see
 * Q_CLAIM_OFFSET); the counts that are not part of count. */
static const char *const schema_v2[] = {
    "ALTER TABLE source_offsets"
    " ADD COLUMN IF NOT EXISTS cluster TEXT COLLATE \"C\" NOT NULL"
    " DEFAULT ''",
    "ALTER TABLE source_offsets DROP CONSTRAINT IF EXISTS source_offsets_pkey,"
    " ADD PRIMARY KEY (cluster, topic, part)",
    "ALTER TABLE audit_rows"
    " ADD COLUMN IF NOT EXISTS delivery_failed_count BIGINT NOT NULL"
    " DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS audit_dropped_count BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS aborted_count BIGINT NOT NULL DEFAULT 0",
    "INSERT INTO schema_version (version) VALUES (2) ON CONFLICT DO NOTHING",
    NULL,
};

static const store_schema_t schema = {
    /* Concurrent CREATE TABLE IF NOT EXISTS can fail in PostgreSQL (a
     * unique violation in the catalog): collectors migrate one at a time. */
    .lock = "SELECT pg_advisory_xact_lock(hashtext('chaperone.schema'))",
    .version_table = "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER NOT NULL PRIMARY KEY)",
    .steps = {schema_v1, schema_v2},
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
    store_url_t url;
    abuf_t arr[SP__COUNT];
} pg_store_t;

static pg_store_t *pg(store_t *s)
{
    return (pg_store_t *)s;
}

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

static void ab_reset(abuf_t *b)
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
static void ab_str(abuf_t *b, const char *s, size_t n)
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

static void ab_i64(abuf_t *b, int64_t v)
{
    char t[32];

    ab_sep(b);
    ab_put(b, t, (size_t)snprintf(t, sizeof(t), "%" PRId64, v));
}

static void ab_dbl(abuf_t *b, double v)
{
    char t[40];

    ab_sep(b);
    /* 17 digits: the value reads back bit-identical. */
    ab_put(b, t, (size_t)snprintf(t, sizeof(t), "%.17g", v));
}

static void ab_null(abuf_t *b)
{
    ab_sep(b);
    ab_put(b, "NULL", 4);
}

static bool ab_end(abuf_t *b)
{
    ab_put(b, "}", 1);
    return !b->oom;
}

/* ------------------------------------------------------------ connection */

static void disconnect(pg_store_t *s)
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
    store_errf(errstr, errstr_size, "postgresql %s:%d: %s: %.*s", s->url.host,
               s->url.port ? s->url.port : DEFAULT_PORT, what, (int)n, msg);
    if (s->db && PQstatus(s->db) != CONNECTION_OK)
        disconnect(s);
    return CHP_ERR_DB;
}

/* Checks a result; frees it on failure.  The server's message, with its
 * DETAIL when there is one (it names the offending key). */
static chp_err_t check(pg_store_t *s, PGresult *res, ExecStatusType want,
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
        store_errf(errstr, errstr_size,
                   "dedup: audit message uuid already stored: %s", msg);
        err = CHP_ERR_STATE;
    } else {
        fail_msg(s, what, msg, errstr, errstr_size);
    }
    PQclear(res);
    return err;
}

static chp_err_t ensure(pg_store_t *s, char *errstr, size_t errstr_size)
{
    const char *kw[MAX_CONN_PARAMS + 1], *val[MAX_CONN_PARAMS + 1];
    char port[16], names[MAX_CONN_PARAMS][64], vals[MAX_CONN_PARAMS][256];
    size_t n = 0, pos = 0, n_user = 0;
    bool more = true;
    chp_err_t err;

    if (s->db && PQstatus(s->db) == CONNECTION_OK)
        return CHP_OK;
    disconnect(s);
    /* Options from the URL (?sslmode=require...) go to libpq as they are. */
    for (;;) {
        if ((err = store_url_param(
                 &s->url, "db.url", &pos, names[n_user], sizeof(names[0]),
                 vals[n_user], sizeof(vals[0]), &more, errstr, errstr_size)))
            return err;
        if (!more)
            break;
        if (n_user == MAX_CONN_PARAMS - 8) {
            store_errf(errstr, errstr_size, "db.url: too many options");
            return CHP_ERR_INVALID_ARG;
        }
        kw[n] = names[n_user];
        val[n++] = vals[n_user++];
    }
    snprintf(port, sizeof(port), "%d",
             s->url.port ? s->url.port : DEFAULT_PORT);
#define ADD(k, v)                                                              \
    do {                                                                       \
        bool set_ = false;                                                     \
        for (size_t j_ = 0; j_ < n_user; j_++)                                 \
            set_ |= strcmp(names[j_], k) == 0;                                 \
        if (!set_) {                                                           \
            kw[n] = k;                                                         \
            val[n++] = v;                                                      \
        }                                                                      \
    } while (0)
    ADD("host", s->url.host);
    ADD("port", port);
    if (s->url.user[0])
        ADD("user", s->url.user);
    if (s->url.password[0])
        ADD("password", s->url.password);
    ADD("dbname", s->url.path);
    ADD("connect_timeout", CONNECT_TIMEOUT);
    ADD("application_name", "chaperone");
    ADD("client_encoding", "UTF8");
#undef ADD
    kw[n] = NULL;
    val[n] = NULL;
    s->db = PQconnectdbParams(kw, val, 0);
    if (!s->db) {
        store_errf(errstr, errstr_size, "postgresql: out of memory");
        return CHP_ERR_NOMEM;
    }
    if (PQstatus(s->db) != CONNECTION_OK) {
        err =
            fail_msg(s, "connect", PQerrorMessage(s->db), errstr, errstr_size);
        disconnect(s);
        return err;
    }
    PQsetNoticeProcessor(s->db, quiet, NULL);
    return CHP_OK;
}

/* Runs prepared statement `which` (prepared on first use per connection,
 * when the tables exist).  *out is the result, or NULL on failure. */
static chp_err_t run(pg_store_t *s, int which, int n, const char *const *v,
                     ExecStatusType want, const char *what, PGresult **out,
                     char *errstr, size_t errstr_size)
{
    char name[16];
    PGresult *res;
    chp_err_t err;

    if (out)
        *out = NULL;
    if ((err = ensure(s, errstr, errstr_size)))
        return err;
    snprintf(name, sizeof(name), "chp%d", which);
    if (!s->prepared[which]) {
        res = PQprepare(s->db, name, sql_text[which], 0, NULL);
        if ((err = check(s, res, PGRES_COMMAND_OK, "prepare", errstr,
                         errstr_size)))
            return err;
        PQclear(res);
        s->prepared[which] = true;
    }
    res = PQexecPrepared(s->db, name, n, v, NULL, NULL, 0);
    if ((err = check(s, res, want, what, errstr, errstr_size)))
        return err;
    if (out)
        *out = res;
    else
        PQclear(res);
    return CHP_OK;
}

static chp_err_t run_sql(pg_store_t *s, const char *sql, ExecStatusType want,
                         const char *what, PGresult **out, char *errstr,
                         size_t errstr_size)
{
    chp_err_t err = ensure(s, errstr, errstr_size);
    PGresult *res;

    if (err)
        return err;
    res = PQexec(s->db, sql);
    if ((err = check(s, res, want, what, errstr, errstr_size)))
        return err;
    if (out)
        *out = res;
    else
        PQclear(res);
    return CHP_OK;
}

static int64_t get_i64(const PGresult *res, int r, int c)
{
    return strtoll(PQgetvalue(res, r, c), NULL, 10);
}

static double get_dbl(const PGresult *res, int r, int c)
{
    return strtod(PQgetvalue(res, r, c), NULL);
}

static void get_name(const PGresult *res, int r, int c, char dst[CHP_NAME_MAX])
{
    store_name_copy(dst, PQgetvalue(res, r, c), (size_t)PQgetlength(res, r, c));
}

/* Reads STORE_ROW_COLUMNS starting at column c0 of result row r. */
static chp_err_t read_row(const PGresult *res, int r, int c0, store_row_t *row,
                          char *errstr, size_t errstr_size)
{
    chp_sketch_t *sk = row->sketch;

    row->time_begin = get_i64(res, r, c0 + SC_TIME_BEGIN);
    row->time_end = get_i64(res, r, c0 + SC_TIME_END);
    get_name(res, r, c0 + SC_TOPIC, row->topic);
    get_name(res, r, c0 + SC_TIER, row->tier);
    get_name(res, r, c0 + SC_DATACENTER, row->datacenter);
    get_name(res, r, c0 + SC_HOST, row->host);
    row->count = (uint64_t)get_i64(res, r, c0 + SC_COUNT);
    row->total_bytes = (uint64_t)get_i64(res, r, c0 + SC_TOTAL_BYTES);
    row->no_time_count = (uint64_t)get_i64(res, r, c0 + SC_NO_TIME);
    row->malformed_count = (uint64_t)get_i64(res, r, c0 + SC_MALFORMED);
    row->negative_latency_count = (uint64_t)get_i64(res, r, c0 + SC_NEGATIVE);
    row->delivery_failed_count =
        (uint64_t)get_i64(res, r, c0 + SC_DELIVERY_FAILED);
    row->audit_dropped_count = (uint64_t)get_i64(res, r, c0 + SC_AUDIT_DROPPED);
    row->aborted_count = (uint64_t)get_i64(res, r, c0 + SC_ABORTED);
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

static chp_err_t oom(char *errstr, size_t errstr_size)
{
    store_errf(errstr, errstr_size, "postgresql: out of memory");
    return CHP_ERR_NOMEM;
}

/* ------------------------------------------------------------ driver */

static chp_err_t pg_begin(store_t *s, char *errstr, size_t errstr_size)
{
    return run_sql(pg(s), "BEGIN", PGRES_COMMAND_OK, "BEGIN", NULL, errstr,
                   errstr_size);
}

static chp_err_t pg_commit(store_t *s, char *errstr, size_t errstr_size)
{
    PGresult *res;
    chp_err_t err;
    bool ok;

    if (!pg(s)->db) {
        store_errf(errstr, errstr_size, "postgresql: connection lost");
        return CHP_ERR_DB;
    }
    if ((err = run_sql(pg(s), "COMMIT", PGRES_COMMAND_OK, "COMMIT", &res,
                       errstr, errstr_size)))
        return err;
    /* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
    ok = strcmp(PQcmdStatus(res), "COMMIT") == 0;
    PQclear(res);
    if (!ok) {
        store_errf(errstr, errstr_size, "postgresql: transaction rolled back");
        return CHP_ERR_DB;
    }
    return CHP_OK;
}

static void pg_rollback(store_t *s)
{
    PGresult *res;

    if (!pg(s)->db || PQtransactionStatus(pg(s)->db) == PQTRANS_IDLE)
        return;
    res = PQexec(pg(s)->db, "ROLLBACK");
    PQclear(res);
    if (PQstatus(pg(s)->db) != CONNECTION_OK)
        disconnect(pg(s));
}

static chp_err_t pg_put_uuids(store_t *s, const char *const *uuids, size_t n,
                              int64_t now_s, char *errstr, size_t errstr_size)
{
    abuf_t *a = &pg(s)->arr[0];
    const char *v[2];
    char now[32];

    ab_reset(a);
    for (size_t i = 0; i < n; i++)
        ab_str(a, uuids[i], strlen(uuids[i]));
    if (!ab_end(a))
        return oom(errstr, errstr_size);
    snprintf(now, sizeof(now), "%" PRId64, now_s);
    v[0] = a->p;
    v[1] = now;
    return run(pg(s), Q_INS_UUIDS, 2, v, PGRES_COMMAND_OK, WHAT_UUIDS, NULL,
               errstr, errstr_size);
}

static chp_err_t pg_get_rows(store_t *s, const store_row_t *keys, size_t n,
                             store_row_t *out, bool *found, char *errstr,
                             size_t errstr_size)
{
    abuf_t *a = pg(s)->arr;
    const char *v[5];
    PGresult *res;
    chp_err_t err = CHP_OK;
    int r;

    for (int c = 0; c < 5; c++)
        ab_reset(&a[c]);
    for (size_t i = 0; i < n; i++) {
        ab_i64(&a[0], keys[i].time_begin);
        ab_str(&a[1], keys[i].topic, strlen(keys[i].topic));
        ab_str(&a[2], keys[i].tier, strlen(keys[i].tier));
        ab_str(&a[3], keys[i].datacenter, strlen(keys[i].datacenter));
        ab_str(&a[4], keys[i].host, strlen(keys[i].host));
    }
    for (int c = 0; c < 5; c++) {
        if (!ab_end(&a[c]))
            return oom(errstr, errstr_size);
        v[c] = a[c].p;
    }
    if ((err = run(pg(s), Q_GET_ROWS, 5, v, PGRES_TUPLES_OK, "read rows", &res,
                   errstr, errstr_size)))
        return err;
    for (r = 0; r < PQntuples(res) && !err; r++) {
        int64_t i = get_i64(res, r, 0) - 1;

        if (i < 0 || (size_t)i >= n || found[i]) {
            store_errf(errstr, errstr_size, "postgresql: unexpected row");
            err = CHP_ERR_DB;
            break;
        }
        found[i] = true;
        err = read_row(res, r, 1, &out[i], errstr, errstr_size);
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
        ab_reset(&a[c]);
    for (size_t i = 0; i < n; i++) {
        const store_put_t *p = &puts[i];
        const store_row_t *r = p->row;

        if (p->exists != upd)
            continue;
        want++;
        ab_i64(&a[SP_TIME_BEGIN], r->time_begin);
        ab_i64(&a[SP_TIME_END], r->time_end);
        ab_str(&a[SP_TOPIC], r->topic, strlen(r->topic));
        ab_str(&a[SP_TIER], r->tier, strlen(r->tier));
        ab_str(&a[SP_DATACENTER], r->datacenter, strlen(r->datacenter));
        ab_str(&a[SP_HOST], r->host, strlen(r->host));
        ab_i64(&a[SP_COUNT], (int64_t)r->count);
        ab_i64(&a[SP_TOTAL_BYTES], (int64_t)r->total_bytes);
        ab_i64(&a[SP_NO_TIME], (int64_t)r->no_time_count);
        ab_i64(&a[SP_MALFORMED], (int64_t)r->malformed_count);
        ab_i64(&a[SP_NEGATIVE], (int64_t)r->negative_latency_count);
        ab_dbl(&a[SP_LATENCY_SUM], r->latency_sum_ms);
        ab_dbl(&a[SP_MEAN], p->mean);
        ab_dbl(&a[SP_P95], p->p95);
        ab_dbl(&a[SP_P99], p->p99);
        ab_dbl(&a[SP_MAX], p->max);
        if (p->sketch_text)
            ab_str(&a[SP_SKETCH], p->sketch_text, p->sketch_len);
        else
            ab_null(&a[SP_SKETCH]);
        ab_i64(&a[SP_UPDATED_AT], now_s);
        ab_i64(&a[SP_DELIVERY_FAILED], (int64_t)r->delivery_failed_count);
        ab_i64(&a[SP_AUDIT_DROPPED], (int64_t)r->audit_dropped_count);
        ab_i64(&a[SP_ABORTED], (int64_t)r->aborted_count);
    }
    if (!want)
        return CHP_OK;
    for (int c = 0; c < SP__COUNT; c++) {
        if (!ab_end(&a[c]))
            return oom(errstr, errstr_size);
        v[c] = a[c].p;
    }
    if ((err = run(s, upd ? Q_UPD_ROWS : Q_INS_ROWS, SP__COUNT, v,
                   PGRES_COMMAND_OK, upd ? "update rows" : "insert rows", &res,
                   errstr, errstr_size)))
        return err;
    /* The rows were locked when read: every one must still be there. */
    ok = strtoull(PQcmdTuples(res), NULL, 10) == want;
    PQclear(res);
    if (!ok) {
        store_errf(errstr, errstr_size,
                   "postgresql: %s wrote fewer rows than asked",
                   upd ? "update" : "insert");
        return CHP_ERR_DB;
    }
    return CHP_OK;
}

static chp_err_t pg_put_rows(store_t *s, const store_put_t *puts, size_t n,
                             int64_t now_s, char *errstr, size_t errstr_size)
{
    chp_err_t err = put_some(pg(s), puts, n, false, now_s, errstr, errstr_size);

    return err ? err
               : put_some(pg(s), puts, n, true, now_s, errstr, errstr_size);
}

static chp_err_t pg_put_offsets(store_t *s, const char *cluster,
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
        if ((err = run(pg(s), ins ? Q_INS_OFFSET : Q_UPD_OFFSET, ins ? 4 : 5, v,
                       PGRES_COMMAND_OK, "store offset", &res, errstr,
                       errstr_size)))
            return err;
        ok = strtoull(PQcmdTuples(res), NULL, 10) == 1;
        PQclear(res);
        if (!ok) {
            store_errf(errstr, errstr_size,
                       "stale batch: the stored offset of %s [%d] (cluster "
                       "%s) is no longer %lld",
                       o[i].topic, (int)o[i].partition, cluster,
                       (long long)o[i].prev_offset);
            return STORE_ERR_STALE;
        }
    }
    return CHP_OK;
}

static chp_err_t pg_exec(store_t *s, const char *sql, char *errstr,
                         size_t errstr_size)
{
    chp_err_t err = ensure(pg(s), errstr, errstr_size);
    PGresult *res;

    if (err)
        return err;
    res = PQexec(pg(s)->db, sql);
    /* A SELECT (the advisory lock) answers with a row: also success. */
    if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
        PQclear(res);
        return CHP_OK;
    }
    if ((err = check(pg(s), res, PGRES_COMMAND_OK, "migrate", errstr,
                     errstr_size)))
        return err;
    PQclear(res);
    return CHP_OK;
}

static chp_err_t pg_scalar(store_t *s, const char *sql, int64_t *v,
                           bool *is_null, char *errstr, size_t errstr_size)
{
    PGresult *res;
    chp_err_t err = run_sql(pg(s), sql, PGRES_TUPLES_OK, "migrate", &res,
                            errstr, errstr_size);

    *is_null = true;
    if (err)
        return err;
    if (PQntuples(res) > 0 && !PQgetisnull(res, 0, 0)) {
        *v = get_i64(res, 0, 0);
        *is_null = false;
    }
    PQclear(res);
    return CHP_OK;
}

static const store_driver_t pg_driver = {
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .put_uuids = pg_put_uuids,
    .get_rows = pg_get_rows,
    .put_rows = pg_put_rows,
    .put_offsets = pg_put_offsets,
    .exec = pg_exec,
    .scalar = pg_scalar,
};

/* ------------------------------------------------------------ ops */

static void pg_close(store_t *s)
{
    if (!s)
        return;
    disconnect(pg(s));
    for (int c = 0; c < SP__COUNT; c++)
        free(pg(s)->arr[c].p);
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
        return oom(errstr, errstr_size);
    store_base_init(&s->base, &store_pgsql_ops, &pg_driver);
    if ((err = store_url_parse(url, "db.url", &s->url, errstr, errstr_size)))
        goto fail;
    if (!s->url.path[0]) {
        store_errf(errstr, errstr_size,
                   "db.url: postgresql:// URL names no database (.../DB)");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    /* Connecting now reports a wrong password at start-up, not later. */
    if ((err = ensure(s, errstr, errstr_size)))
        goto fail;
    *out = &s->base;
    return CHP_OK;
fail:
    pg_close(&s->base);
    return err;
}

static chp_err_t pg_migrate(store_t *s, char *errstr, size_t errstr_size)
{
    return store_migrate_run(s, &schema, errstr, errstr_size);
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
    ab_reset(a);
    for (size_t i = 0; i < n; i++)
        ab_str(a, uuids[i], strlen(uuids[i]));
    if (!ab_end(a))
        return oom(errstr, errstr_size);
    v[0] = a->p;
    if ((err = run(pg(s), Q_SEEN, 1, v, PGRES_TUPLES_OK, "seen", &res, errstr,
                   errstr_size)))
        return err;
    for (int r = 0; r < PQntuples(res); r++) {
        int64_t i = get_i64(res, r, 0) - 1;

        if (i >= 0 && (size_t)i < n)
            seen[i] = true;
    }
    PQclear(res);
    return CHP_OK;
}

static chp_err_t pg_flush(store_t *s, const store_batch_t *b, char *errstr,
                          size_t errstr_size)
{
    return store_flush_run(s, b, errstr, errstr_size);
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
    if ((err = run(pg(s), Q_CLAIM_OFFSET, 3, v, PGRES_COMMAND_OK,
                   "adopt offset", NULL, errstr, errstr_size)) ||
        (err = run(pg(s), Q_GET_OFFSET, 3, v, PGRES_TUPLES_OK, "read offset",
                   &res, errstr, errstr_size)))
        return err;
    if (PQntuples(res) > 0)
        *next_offset = get_i64(res, 0, 0);
    PQclear(res);
    return CHP_OK;
}

static chp_err_t pg_retention(store_t *s, int64_t before_s,
                              int64_t uuid_before_s, char *errstr,
                              size_t errstr_size)
{
    char t[32];
    const char *v[1] = {t};
    chp_err_t err;

    if ((err = pg_begin(s, errstr, errstr_size)))
        return err;
    snprintf(t, sizeof(t), "%" PRId64, before_s);
    if ((err = run(pg(s), Q_DEL_ROWS, 1, v, PGRES_COMMAND_OK, "delete old rows",
                   NULL, errstr, errstr_size)))
        goto fail;
    snprintf(t, sizeof(t), "%" PRId64, uuid_before_s);
    if ((err = run(pg(s), Q_DEL_UUIDS, 1, v, PGRES_COMMAND_OK,
                   "delete old uuids", NULL, errstr, errstr_size)) ||
        (err = pg_commit(s, errstr, errstr_size)))
        goto fail;
    return CHP_OK;
fail:
    pg_rollback(s);
    return err;
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
        return oom(errstr, errstr_size);
    snprintf(from, sizeof(from), "%" PRId64, from_s);
    snprintf(to, sizeof(to), "%" PRId64, to_s);
    if (topic)
        v[n++] = topic;
    v[n++] = from;
    v[n++] = to;
    if ((err = run(pg(s), topic ? Q_QUERY_TOPIC : Q_QUERY_ALL, n, v,
                   PGRES_TUPLES_OK, "query", &res, errstr, errstr_size)))
        return err;
    for (int r = 0; r < PQntuples(res); r++) {
        store_row_t row;

        memset(&row, 0, sizeof(row));
        row.sketch = sk;
        if ((err = read_row(res, r, 0, &row, errstr, errstr_size)))
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
    chp_err_t err = run(pg(s), Q_TOPICS, 0, NULL, PGRES_TUPLES_OK, "topics",
                        &res, errstr, errstr_size);

    if (err)
        return err;
    for (int r = 0; r < PQntuples(res); r++) {
        char name[CHP_NAME_MAX];

        get_name(res, r, 0, name);
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
    .flush = pg_flush,
    .offset = pg_offset,
    .retention = pg_retention,
    .query = pg_query,
    .topics = pg_topics,
    .close = pg_close,
};
