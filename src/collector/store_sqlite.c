/*
 * store_sqlite.c - the embedded default backend: one SQLite file in WAL
 * mode (readers such as `chaperone report` never block the collector),
 * written with BEGIN IMMEDIATE so a flush takes the write lock up front
 * instead of failing half-way with SQLITE_BUSY; a busy timeout rides out
 * other writers (retention, a second collector).
 *
 * synchronous=NORMAL: in WAL mode a power loss may drop the last commits,
 * but rows and offsets are dropped together, so the collector re-reads
 * those audit messages from Kafka and counts them once.
 */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_impl.h"
#include "errstr.h"
#include "conf_daemon_keys.h"

#define BUSY_TIMEOUT_MS 10000

enum {
    Q_BEGIN,
    Q_COMMIT,
    Q_GET_ROW,
    Q_INS_ROW,
    Q_UPD_ROW,
    Q_INS_UUID,
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

#define KEY_WHERE                                                              \
    "time_begin = ?1 AND topic = ?3 AND tier = ?4 AND datacenter = ?5 AND "    \
    "host = ?6"

/* Parameters are numbered as enum store_param (+1), so one bind serves the
 * INSERT and the UPDATE. */
static const char *const sql_text[Q__COUNT] = {
    [Q_BEGIN] = "BEGIN IMMEDIATE",
    [Q_COMMIT] = "COMMIT",
    [Q_GET_ROW] =
        "SELECT " STORE_ROW_COLUMNS " FROM audit_rows WHERE " KEY_WHERE,
    [Q_INS_ROW] = "INSERT INTO audit_rows (" STORE_PUT_COLUMNS ") VALUES "
                  "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
                  "?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21)",
    [Q_UPD_ROW] =
        "UPDATE audit_rows SET time_end = ?2, count = ?7, "
        "total_bytes = ?8, no_time_count = ?9, malformed_count = ?10, "
        "negative_latency_count = ?11, latency_sum_ms = ?12, "
        "mean_latency = ?13, latency_p95 = ?14, latency_p99 = ?15, "
        "max_latency = ?16, sketch = ?17, updated_at = ?18, "
        "delivery_failed_count = ?19, audit_dropped_count = ?20, "
        "aborted_count = ?21 WHERE " KEY_WHERE,
    [Q_INS_UUID] = "INSERT INTO seen_uuids (uuid, seen_at) VALUES (?1, ?2)",
    [Q_SEEN] = "SELECT 1 FROM seen_uuids WHERE uuid = ?1",
    /* Compare-and-set (store_impl.h): no row changed = stale batch. */
    [Q_UPD_OFFSET] = "UPDATE source_offsets SET next_offset = ?4 WHERE "
                     "cluster = ?1 AND topic = ?2 AND part = ?3 AND "
                     "next_offset = ?5",
    [Q_INS_OFFSET] = "INSERT OR IGNORE INTO source_offsets (cluster, topic, "
                     "part, next_offset) VALUES (?1, ?2, ?3, ?4)",
    /* A schema-1 offset (cluster '') goes to the first cluster asking. */
    [Q_CLAIM_OFFSET] = "UPDATE OR IGNORE source_offsets SET cluster = ?1 "
                       "WHERE cluster = '' AND topic = ?2 AND part = ?3",
    [Q_GET_OFFSET] = "SELECT next_offset FROM source_offsets "
                     "WHERE cluster = ?1 AND topic = ?2 AND part = ?3",
    [Q_DEL_ROWS] = "DELETE FROM audit_rows WHERE time_begin < ?1",
    [Q_DEL_UUIDS] = "DELETE FROM seen_uuids WHERE seen_at < ?1",
    [Q_QUERY_TOPIC] = "SELECT " STORE_ROW_COLUMNS " FROM audit_rows "
                      "WHERE topic = ?1 AND time_begin >= ?2 AND "
                      "time_begin < ?3 ORDER BY topic, time_begin, tier, "
                      "datacenter, host",
    [Q_QUERY_ALL] = "SELECT " STORE_ROW_COLUMNS " FROM audit_rows "
                    "WHERE time_begin >= ?2 AND time_begin < ?3 "
                    "ORDER BY topic, time_begin, tier, datacenter, host",
    [Q_TOPICS] = "SELECT DISTINCT topic FROM audit_rows ORDER BY topic",
};

typedef struct sq_store {
    store_t base;
    sqlite3 *db;
    sqlite3_stmt *q[Q__COUNT];
    sqlite3_stmt *cur; /* the read cursor (one of q), NULL if none */
    store_read_t cur_what;
    char path[4096];
} sq_store_t;

/* The backend's handle of a store_t (struct store is its first member). */
#define sq(s) ((sq_store_t *)(s))

static chp_err_t sq_fail(sq_store_t *s, const char *what, char *errstr,
                         size_t errstr_size)
{
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "sqlite %s: %s: %s", s->path,
             what, s->db ? sqlite3_errmsg(s->db) : "not open");
    return CHP_ERR_DB;
}

/* Statements are prepared on first use: before store_migrate() the tables they
 * name may not exist yet. */
static chp_err_t stmt(sq_store_t *s, int which, sqlite3_stmt **out,
                      char *errstr, size_t errstr_size)
{
    if (!s->q[which] && sqlite3_prepare_v2(s->db, sql_text[which], -1,
                                           &s->q[which], NULL) != SQLITE_OK)
        return sq_fail(s, "prepare", errstr, errstr_size);
    sqlite3_reset(s->q[which]);
    sqlite3_clear_bindings(s->q[which]);
    *out = s->q[which];
    return CHP_OK;
}

/* Steps a statement that returns no row and resets it. */
static chp_err_t run(sq_store_t *s, sqlite3_stmt *st, const char *what,
                     char *errstr, size_t errstr_size)
{
    int rc = sqlite3_step(st);

    sqlite3_reset(st);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return sq_fail(s, what, errstr, errstr_size);
    return CHP_OK;
}

static chp_err_t run_q(sq_store_t *s, int which, const char *what, char *errstr,
                       size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err = stmt(s, which, &st, errstr, errstr_size);

    return err ? err : run(s, st, what, errstr, errstr_size);
}

static void bind_text(sqlite3_stmt *st, int i, const char *v)
{
    sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
}

static void bind_key(sqlite3_stmt *st, const store_row_t *r)
{
    sqlite3_bind_int64(st, SP_TIME_BEGIN + 1, r->time_begin);
    bind_text(st, SP_TOPIC + 1, r->topic);
    bind_text(st, SP_TIER + 1, r->tier);
    bind_text(st, SP_DATACENTER + 1, r->datacenter);
    bind_text(st, SP_HOST + 1, r->host);
}

static void col_name(sqlite3_stmt *st, int col, char dst[CHP_NAME_MAX])
{
    const unsigned char *t = sqlite3_column_text(st, col);

    store_name_copy(dst, t ? (const char *)t : "",
                    t ? (size_t)sqlite3_column_bytes(st, col) : 0);
}

/* Reads the STORE_ROW_COLUMNS of the current result row into r; the sketch
 * goes into r->sketch (preset) or r->sketch becomes NULL. */
static chp_err_t read_row(sqlite3_stmt *st, store_row_t *r, char *errstr,
                          size_t errstr_size)
{
    chp_sketch_t *sk = r->sketch;

    r->time_begin = sqlite3_column_int64(st, SC_TIME_BEGIN);
    r->time_end = sqlite3_column_int64(st, SC_TIME_END);
    col_name(st, SC_TOPIC, r->topic);
    col_name(st, SC_TIER, r->tier);
    col_name(st, SC_DATACENTER, r->datacenter);
    col_name(st, SC_HOST, r->host);
    r->count = (uint64_t)sqlite3_column_int64(st, SC_COUNT);
    r->total_bytes = (uint64_t)sqlite3_column_int64(st, SC_TOTAL_BYTES);
    r->no_time_count = (uint64_t)sqlite3_column_int64(st, SC_NO_TIME);
    r->malformed_count = (uint64_t)sqlite3_column_int64(st, SC_MALFORMED);
    r->negative_latency_count = (uint64_t)sqlite3_column_int64(st, SC_NEGATIVE);
    r->delivery_failed_count =
        (uint64_t)sqlite3_column_int64(st, SC_DELIVERY_FAILED);
    r->audit_dropped_count =
        (uint64_t)sqlite3_column_int64(st, SC_AUDIT_DROPPED);
    r->aborted_count = (uint64_t)sqlite3_column_int64(st, SC_ABORTED);
    r->latency_sum_ms = sqlite3_column_double(st, SC_LATENCY_SUM);
    r->latency95 = sqlite3_column_double(st, SC_P95);
    r->latency99 = sqlite3_column_double(st, SC_P99);
    r->max_latency = sqlite3_column_double(st, SC_MAX);
    if (sqlite3_column_type(st, SC_SKETCH) == SQLITE_NULL || !sk) {
        r->sketch = NULL;
        return CHP_OK;
    }
    return store_sketch_decode(
        sk, (const char *)sqlite3_column_text(st, SC_SKETCH),
        (size_t)sqlite3_column_bytes(st, SC_SKETCH), r, errstr, errstr_size);
}

/* ------------------------------------------------------------ driver */

static chp_err_t sq_begin(store_t *s, char *errstr, size_t errstr_size)
{
    return run_q(sq(s), Q_BEGIN, "BEGIN", errstr, errstr_size);
}

static chp_err_t sq_commit(store_t *s, char *errstr, size_t errstr_size)
{
    return run_q(sq(s), Q_COMMIT, "COMMIT", errstr, errstr_size);
}

static void sq_rollback(store_t *s)
{
    /* Some errors (SQLITE_FULL, SQLITE_IOERR) end the transaction already. */
    if (!sqlite3_get_autocommit(sq(s)->db))
        sqlite3_exec(sq(s)->db, "ROLLBACK", NULL, NULL, NULL);
}

static chp_err_t sq_put_uuids(store_t *s, const char *const *uuids, size_t n,
                              int64_t now_s, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err;

    for (size_t i = 0; i < n; i++) {
        int rc;

        if ((err = stmt(sq(s), Q_INS_UUID, &st, errstr, errstr_size)))
            return err;
        bind_text(st, 1, uuids[i]);
        sqlite3_bind_int64(st, 2, now_s);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if ((rc & 0xff) == SQLITE_CONSTRAINT) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB,
                     "dedup: audit message uuid %s is already stored",
                     uuids[i]);
            return CHP_ERR_STATE;
        }
        if (rc != SQLITE_DONE)
            return sq_fail(sq(s), "insert uuid", errstr, errstr_size);
    }
    return CHP_OK;
}

static chp_err_t sq_get_rows(store_t *s, const store_row_t *keys, size_t n,
                             store_row_t *out, bool *found, char *errstr,
                             size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err;

    for (size_t i = 0; i < n; i++) {
        int rc;

        if ((err = stmt(sq(s), Q_GET_ROW, &st, errstr, errstr_size)))
            return err;
        bind_key(st, &keys[i]);
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            found[i] = true;
            err = read_row(st, &out[i], errstr, errstr_size);
        } else if (rc != SQLITE_DONE) {
            err = sq_fail(sq(s), "read row", errstr, errstr_size);
        }
        sqlite3_reset(st);
        if (err)
            return err;
    }
    return CHP_OK;
}

static chp_err_t sq_put_rows(store_t *s, const store_put_t *puts, size_t n,
                             int64_t now_s, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err;

    for (size_t i = 0; i < n; i++) {
        const store_put_t *p = &puts[i];
        const store_row_t *r = p->row;

        if ((err = stmt(sq(s), p->exists ? Q_UPD_ROW : Q_INS_ROW, &st, errstr,
                        errstr_size)))
            return err;
        bind_key(st, r);
        sqlite3_bind_int64(st, SP_TIME_END + 1, r->time_end);
        sqlite3_bind_int64(st, SP_COUNT + 1, (sqlite3_int64)r->count);
        sqlite3_bind_int64(st, SP_TOTAL_BYTES + 1,
                           (sqlite3_int64)r->total_bytes);
        sqlite3_bind_int64(st, SP_NO_TIME + 1, (sqlite3_int64)r->no_time_count);
        sqlite3_bind_int64(st, SP_MALFORMED + 1,
                           (sqlite3_int64)r->malformed_count);
        sqlite3_bind_int64(st, SP_NEGATIVE + 1,
                           (sqlite3_int64)r->negative_latency_count);
        sqlite3_bind_double(st, SP_LATENCY_SUM + 1, r->latency_sum_ms);
        sqlite3_bind_double(st, SP_MEAN + 1, p->mean);
        sqlite3_bind_double(st, SP_P95 + 1, p->p95);
        sqlite3_bind_double(st, SP_P99 + 1, p->p99);
        sqlite3_bind_double(st, SP_MAX + 1, p->max);
        if (p->sketch_text)
            sqlite3_bind_text(st, SP_SKETCH + 1, p->sketch_text,
                              (int)p->sketch_len, SQLITE_STATIC);
        else
            sqlite3_bind_null(st, SP_SKETCH + 1);
        sqlite3_bind_int64(st, SP_UPDATED_AT + 1, now_s);
        sqlite3_bind_int64(st, SP_DELIVERY_FAILED + 1,
                           (sqlite3_int64)r->delivery_failed_count);
        sqlite3_bind_int64(st, SP_AUDIT_DROPPED + 1,
                           (sqlite3_int64)r->audit_dropped_count);
        sqlite3_bind_int64(st, SP_ABORTED + 1, (sqlite3_int64)r->aborted_count);
        if ((err = run(sq(s), st, p->exists ? "update row" : "insert row",
                       errstr, errstr_size)))
            return err;
    }
    return CHP_OK;
}

static chp_err_t sq_put_offsets(store_t *s, const char *cluster,
                                const store_offset_t *o, size_t n, char *errstr,
                                size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err;

    for (size_t i = 0; i < n; i++) {
        bool ins = o[i].prev_offset < 0;

        if ((err = stmt(sq(s), ins ? Q_INS_OFFSET : Q_UPD_OFFSET, &st, errstr,
                        errstr_size)))
            return err;
        bind_text(st, 1, cluster);
        bind_text(st, 2, o[i].topic);
        sqlite3_bind_int(st, 3, o[i].partition);
        sqlite3_bind_int64(st, 4, o[i].next_offset);
        if (!ins)
            sqlite3_bind_int64(st, 5, o[i].prev_offset);
        if ((err = run(sq(s), st, "store offset", errstr, errstr_size)))
            return err;
        if (sqlite3_changes(sq(s)->db) != 1)
            return store_stale(cluster, &o[i], errstr, errstr_size);
    }
    return CHP_OK;
}

static chp_err_t sq_delete_before(store_t *s, store_old_t what,
                                  int64_t before_s, char *errstr,
                                  size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err;

    if ((err = stmt(sq(s), what == STORE_OLD_ROWS ? Q_DEL_ROWS : Q_DEL_UUIDS,
                    &st, errstr, errstr_size)))
        return err;
    sqlite3_bind_int64(st, 1, before_s);
    return run(sq(s), st,
               what == STORE_OLD_ROWS ? "delete old rows" : "delete old uuids",
               errstr, errstr_size);
}

static chp_err_t sq_exec(store_t *s, const char *sql, char *errstr,
                         size_t errstr_size)
{
    if (sqlite3_exec(sq(s)->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return sq_fail(sq(s), "migrate", errstr, errstr_size);
    return CHP_OK;
}

static chp_err_t sq_scalar(store_t *s, const char *sql, int64_t *v,
                           bool *is_null, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st = NULL;
    chp_err_t err = CHP_OK;
    int rc;

    *is_null = true;
    if (sqlite3_prepare_v2(sq(s)->db, sql, -1, &st, NULL) != SQLITE_OK)
        return sq_fail(sq(s), "migrate", errstr, errstr_size);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
        *v = sqlite3_column_int64(st, 0);
        *is_null = false;
    } else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = sq_fail(sq(s), "migrate", errstr, errstr_size);
    }
    sqlite3_finalize(st);
    return err;
}

/* ------------------------------------------------------------ handle */

static void sq_close(store_t *s)
{
    if (!s)
        return;
    for (int i = 0; i < Q__COUNT; i++)
        sqlite3_finalize(sq(s)->q[i]);
    sqlite3_close(sq(s)->db);
    store_base_fini(s);
    free(s);
}

static chp_err_t sq_open(const char *url, store_t **out, char *errstr,
                         size_t errstr_size)
{
    store_url_t *u = malloc(sizeof(*u));
    sq_store_t *s = calloc(1, sizeof(*s));
    chp_err_t err = CHP_ERR_NOMEM;

    *out = NULL;
    if (!u || !s) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "sqlite: out of memory");
        goto fail;
    }
    store_base_init(&s->base, &store_sqlite_driver);
    if ((err = store_url_parse(url, CHP_KEY_DB_URL, u, errstr, errstr_size)))
        goto fail;
    memcpy(s->path, u->path, sizeof(s->path));
    err = CHP_ERR_DB;
    if (sqlite3_open_v2(s->path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        NULL) != SQLITE_OK) {
        sq_fail(s, "open", errstr, errstr_size);
        goto fail;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
    /* journal_mode answers with a row; ":memory:" stays "memory". */
    if (sqlite3_exec(s->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL) !=
            SQLITE_OK ||
        sqlite3_exec(s->db, "PRAGMA synchronous = NORMAL", NULL, NULL, NULL) !=
            SQLITE_OK) {
        sq_fail(s, "configure", errstr, errstr_size);
        goto fail;
    }
    free(u);
    *out = &s->base;
    return CHP_OK;
fail:
    free(u);
    if (s)
        sq_close(&s->base);
    return err;
}

static chp_err_t sq_seen(store_t *s, const char *const *uuids, size_t n,
                         bool *seen, char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err;

    for (size_t i = 0; i < n; i++) {
        int rc;

        if ((err = stmt(sq(s), Q_SEEN, &st, errstr, errstr_size)))
            return err;
        bind_text(st, 1, uuids[i]);
        rc = sqlite3_step(st);
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return sq_fail(sq(s), "seen", errstr, errstr_size);
        seen[i] = rc == SQLITE_ROW;
    }
    return CHP_OK;
}

static chp_err_t sq_offset(store_t *s, const char *cluster, const char *topic,
                           int32_t partition, int64_t *next_offset,
                           char *errstr, size_t errstr_size)
{
    sqlite3_stmt *st;
    chp_err_t err = stmt(sq(s), Q_CLAIM_OFFSET, &st, errstr, errstr_size);
    int rc;

    if (err)
        return err;
    bind_text(st, 1, cluster);
    bind_text(st, 2, topic);
    sqlite3_bind_int(st, 3, partition);
    if ((err = run(sq(s), st, "adopt offset", errstr, errstr_size)) ||
        (err = stmt(sq(s), Q_GET_OFFSET, &st, errstr, errstr_size)))
        return err;
    bind_text(st, 1, cluster);
    bind_text(st, 2, topic);
    sqlite3_bind_int(st, 3, partition);
    rc = sqlite3_step(st);
    *next_offset = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_reset(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return sq_fail(sq(s), "read offset", errstr, errstr_size);
    return CHP_OK;
}

/* ------------------------------------------------------------ reading */

static chp_err_t sq_read_open(store_t *s, store_read_t what, const char *topic,
                              int64_t from_s, int64_t to_s, char *errstr,
                              size_t errstr_size)
{
    int which = what == STORE_READ_TOPICS ? Q_TOPICS
                : topic                   ? Q_QUERY_TOPIC
                                          : Q_QUERY_ALL;
    chp_err_t err;

    sq(s)->cur_what = what;
    if ((err = stmt(sq(s), which, &sq(s)->cur, errstr, errstr_size)))
        return err;
    if (what == STORE_READ_ROWS) {
        if (topic)
            bind_text(sq(s)->cur, 1, topic);
        sqlite3_bind_int64(sq(s)->cur, 2, from_s);
        sqlite3_bind_int64(sq(s)->cur, 3, to_s);
    }
    return CHP_OK;
}

static chp_err_t sq_read_next(store_t *s, store_row_t *row, bool *got,
                              char *errstr, size_t errstr_size)
{
    int rc = sqlite3_step(sq(s)->cur);

    *got = rc == SQLITE_ROW;
    if (rc == SQLITE_DONE)
        return CHP_OK;
    if (rc != SQLITE_ROW)
        return sq_fail(sq(s), "read", errstr, errstr_size);
    if (sq(s)->cur_what == STORE_READ_TOPICS) {
        col_name(sq(s)->cur, 0, row->topic);
        return CHP_OK;
    }
    return read_row(sq(s)->cur, row, errstr, errstr_size);
}

static void sq_read_close(store_t *s)
{
    if (sq(s)->cur)
        sqlite3_reset(sq(s)->cur);
    sq(s)->cur = NULL;
}

const store_driver_t store_sqlite_driver = {
    .scheme = "sqlite",
    .kind = STORE_SQLITE,
    .schema = &store_sqlite_schema,
    .open = sq_open,
    .close = sq_close,
    .seen = sq_seen,
    .offset = sq_offset,
    .read_open = sq_read_open,
    .read_next = sq_read_next,
    .read_close = sq_read_close,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .put_uuids = sq_put_uuids,
    .get_rows = sq_get_rows,
    .put_rows = sq_put_rows,
    .put_offsets = sq_put_offsets,
    .delete_before = sq_delete_before,
    .exec = sq_exec,
    .scalar = sq_scalar,
};
