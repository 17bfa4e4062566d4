/*
 * store_mysql.c - the MySQL/MariaDB backend (the original Chaperone's
 * database), over MariaDB Connector/C prepared statements.
 *
 * Names are VARBINARY(255): four utf8mb4 VARCHAR(255) columns (1020 bytes
 * each) would not fit InnoDB's 3072-byte key, and the default collations
 * are case-insensitive, which would merge topics "Orders" and "orders".
 * Bytes compare exactly, as in SQLite and PostgreSQL.
 *
 * Transactions run at READ COMMITTED with SELECT ... FOR UPDATE on the rows
 * a flush merges into; a row not yet stored is INSERTed (never upserted),
 * so two writers racing on one key make one of them fail and retry rather
 * than lose the other's counts.
 *
 * The connection is dropped on any client-side error (server gone, lost,
 * timeout) and made again by the next call; auto-reconnect stays off, as it
 * would silently continue a transaction that no longer exists.
 */
#include <mysql.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_mysql.h"
#include "sketch.h"
#include "errstr.h"

/* The statements of one fixed text; the others are built by build_sql(). */
static const char *const fixed_sql[Q__COUNT] = {
    [Q_SEEN] = "SELECT uuid FROM seen_uuids WHERE uuid IN (" P256 ")",
    /* Compare-and-set (store_impl.h): no row changed = stale batch.  The
     * new offset always differs from the old one (store.c checks), so
     * "affected rows" (changed, not matched) is exact. */
    [Q_UPD_OFFSET] = "UPDATE source_offsets SET next_offset = ? WHERE "
                     "cluster = ? AND topic = ? AND part = ? AND "
                     "next_offset = ?",
    [Q_INS_OFFSET] = "INSERT INTO source_offsets (cluster, topic, part, "
                     "next_offset) VALUES (?,?,?,?)",
    /* A schema-1 offset (cluster '') goes to the first cluster asking;
     * IGNORE: not when that cluster has one already. */
    [Q_CLAIM_OFFSET] = "UPDATE IGNORE source_offsets SET cluster = ? "
                       "WHERE cluster = '' AND topic = ? AND part = ?",
    [Q_GET_OFFSET] = "SELECT next_offset FROM source_offsets "
                     "WHERE cluster = ? AND topic = ? AND part = ?",
    [Q_DEL_ROWS] = "DELETE FROM audit_rows WHERE time_begin < ?",
    [Q_DEL_UUIDS] = "DELETE FROM seen_uuids WHERE seen_at < ?",
    [Q_QUERY_TOPIC] = "SELECT " STORE_ROW_COLUMNS " FROM audit_rows "
                      "WHERE topic = ? AND time_begin >= ? AND "
                      "time_begin < ? ORDER BY topic, time_begin, tier, "
                      "datacenter, host",
    [Q_QUERY_ALL] = "SELECT " STORE_ROW_COLUMNS " FROM audit_rows "
                    "WHERE time_begin >= ? AND time_begin < ? "
                    "ORDER BY topic, time_begin, tier, datacenter, host",
    [Q_TOPICS] = "SELECT DISTINCT topic FROM audit_rows ORDER BY topic",
};

void store_my_disconnect(my_store_t *s)
{
    for (int i = 0; i < Q__COUNT; i++) {
        if (s->q[i])
            mysql_stmt_close(s->q[i]);
        s->q[i] = NULL;
    }
    if (s->db)
        mysql_close(s->db);
    s->db = NULL;
}

/* Errors after which the session cannot be trusted: every client-side
 * error (2000+: gone, lost, timeouts) and the server killing or ending
 * it. */
bool store_my_connection_error(unsigned int e)
{
    return e >= CR_MIN_ERROR || e == ER_CONNECTION_KILLED ||
           e == ER_SERVER_SHUTDOWN;
}

static chp_err_t fail_msg(my_store_t *s, const char *what, unsigned int e,
                          const char *msg, char *errstr, size_t errstr_size)
{
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "mysql %s:%d: %s: %s (%u)",
             s->url.host, s->url.port ? s->url.port : DEFAULT_PORT, what, msg,
             e);
    if (store_my_connection_error(e))
        store_my_disconnect(s);
    return CHP_ERR_DB;
}

chp_err_t store_my_fail_db(my_store_t *s, const char *what, char *errstr,
                           size_t errstr_size)
{
    return fail_msg(s, what, mysql_errno(s->db), mysql_error(s->db), errstr,
                    errstr_size);
}

/* The statement may be freed by a disconnect: copy its error first. */
chp_err_t store_my_fail_stmt(my_store_t *s, MYSQL_STMT *st, const char *what,
                             char *errstr, size_t errstr_size)
{
    char msg[512];
    unsigned int e = mysql_stmt_errno(st);

    snprintf(msg, sizeof(msg), "%s", mysql_stmt_error(st));
    return fail_msg(s, what, e, msg, errstr, errstr_size);
}

static chp_err_t session(my_store_t *s, char *errstr, size_t errstr_size)
{
    static const char *const setup[] = {
        /* Overflow and truncation are errors, not silent changes. */
        "SET SESSION sql_mode = 'STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
        /* Fewer gap locks: collectors on other topics never wait. */
        "SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED",
    };

    for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
        if (mysql_query(s->db, setup[i]))
            return store_my_fail_db(s, "session setup", errstr, errstr_size);
    return CHP_OK;
}

/* Connects if not connected; every call starts here. */
chp_err_t store_my_ensure(my_store_t *s, char *errstr, size_t errstr_size)
{
    unsigned int connect_timeout = CONNECT_TIMEOUT_S, io = IO_TIMEOUT_S;
    my_bool off = 0;

    if (s->db)
        return CHP_OK;
    if (!(s->db = mysql_init(NULL))) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "mysql: out of memory");
        return CHP_ERR_NOMEM;
    }
    mysql_options(s->db, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(s->db, MYSQL_OPT_READ_TIMEOUT, &io);
    mysql_options(s->db, MYSQL_OPT_WRITE_TIMEOUT, &io);
    mysql_options(s->db, MYSQL_OPT_RECONNECT, &off);
    mysql_options(s->db, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (!mysql_real_connect(
            s->db, s->url.host, s->url.user,
            s->url.password[0] ? s->url.password : NULL,
            s->url.path[0] ? s->url.path : NULL,
            (unsigned)(s->url.port ? s->url.port : DEFAULT_PORT), NULL, 0)) {
        chp_err_t err = store_my_fail_db(s, "connect", errstr, errstr_size);

        store_my_disconnect(s);
        return err;
    }
    return session(s, errstr, errstr_size);
}

/* The prepared statement `which`, prepared on first use after a connect
 * (the tables must exist). */
chp_err_t store_my_stmt(my_store_t *s, int which, MYSQL_STMT **out,
                        char *errstr, size_t errstr_size)
{
    chp_err_t err;

    if ((err = store_my_ensure(s, errstr, errstr_size)))
        return err;
    if (!s->q[which]) {
        MYSQL_STMT *st = mysql_stmt_init(s->db);

        if (!st)
            return store_my_fail_db(s, "prepare", errstr, errstr_size);
        const char *sql = s->sql[which] ? s->sql[which] : fixed_sql[which];

        if (mysql_stmt_prepare(st, sql, strlen(sql))) {
            err = store_my_fail_stmt(s, st, "prepare", errstr, errstr_size);
            mysql_stmt_close(st);
            return err;
        }
        s->q[which] = st;
    }
    *out = s->q[which];
    return CHP_OK;
}

/* Prepares if needed, binds params (may be NULL) and executes. */
chp_err_t store_my_execute(my_store_t *s, int which, MYSQL_BIND *params,
                           const char *what, MYSQL_STMT **out, char *errstr,
                           size_t errstr_size)
{
    MYSQL_STMT *st;
    chp_err_t err;

    if ((err = store_my_stmt(s, which, &st, errstr, errstr_size)))
        return err;
    if ((params && mysql_stmt_bind_param(st, params)) || mysql_stmt_execute(st))
        return store_my_fail_stmt(s, st, what, errstr, errstr_size);
    if (out)
        *out = st;
    return CHP_OK;
}

/* Result bindings for STORE_ROW_COLUMNS. */
static void bind_row_result(row_buf_t *rb)
{
    for (int c = 0; c < SC__COUNT; c++) {
        MYSQL_BIND *b = &rb->bind[c];

        memset(b, 0, sizeof(*b));
        b->length = &rb->len[c];
        b->is_null = &rb->is_null[c];
        b->error = &rb->error[c];
        switch (c) {
        case SC_TOPIC:
        case SC_TIER:
        case SC_DATACENTER:
        case SC_HOST:
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = rb->name[c];
            b->buffer_length = CHP_NAME_MAX;
            break;
        case SC_SKETCH:
            b->buffer_type = MYSQL_TYPE_STRING;
            b->buffer = rb->sketch;
            b->buffer_length = TEXT_SLOT;
            break;
        case SC_LATENCY_SUM:
        case SC_P95:
        case SC_P99:
        case SC_MAX:
            b->buffer_type = MYSQL_TYPE_DOUBLE;
            b->buffer = &rb->d[c];
            break;
        default:
            b->buffer_type = MYSQL_TYPE_LONGLONG;
            b->buffer = &rb->i[c];
            break;
        }
    }
}

/* Fetches the next result row of st into s->rb; *got false at the end. */
chp_err_t store_my_fetch(my_store_t *s, MYSQL_STMT *st, bool *got, char *errstr,
                         size_t errstr_size)
{
    int rc = mysql_stmt_fetch(st);

    *got = false;
    if (rc == MYSQL_NO_DATA)
        return CHP_OK;
    if (rc == 1)
        return store_my_fail_stmt(s, st, "fetch", errstr, errstr_size);
    if (rc == MYSQL_DATA_TRUNCATED) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "mysql: a stored row has a value "
                 "longer than this chaperone reads");
        return CHP_ERR_DB;
    }
    *got = true;
    return CHP_OK;
}

/* True if the fetched row has the key of k. */
bool store_my_rb_has_key(const row_buf_t *rb, const store_row_t *k)
{
    return rb->i[SC_TIME_BEGIN] == k->time_begin &&
           rb->len[SC_TOPIC] == strlen(k->topic) &&
           memcmp(rb->name[SC_TOPIC], k->topic, rb->len[SC_TOPIC]) == 0 &&
           rb->len[SC_TIER] == strlen(k->tier) &&
           memcmp(rb->name[SC_TIER], k->tier, rb->len[SC_TIER]) == 0 &&
           rb->len[SC_DATACENTER] == strlen(k->datacenter) &&
           memcmp(rb->name[SC_DATACENTER], k->datacenter,
                  rb->len[SC_DATACENTER]) == 0 &&
           rb->len[SC_HOST] == strlen(k->host) &&
           memcmp(rb->name[SC_HOST], k->host, rb->len[SC_HOST]) == 0;
}

/* The fetched row into r; its sketch goes into r->sketch (preset) or
 * r->sketch becomes NULL. */
chp_err_t store_my_rb_row(const row_buf_t *rb, store_row_t *r, char *errstr,
                          size_t errstr_size)
{
    chp_sketch_t *sk = r->sketch;

    r->time_begin = rb->i[SC_TIME_BEGIN];
    r->time_end = rb->i[SC_TIME_END];
    store_name_copy(r->topic, rb->name[SC_TOPIC], rb->len[SC_TOPIC]);
    store_name_copy(r->tier, rb->name[SC_TIER], rb->len[SC_TIER]);
    store_name_copy(r->datacenter, rb->name[SC_DATACENTER],
                    rb->len[SC_DATACENTER]);
    store_name_copy(r->host, rb->name[SC_HOST], rb->len[SC_HOST]);
    r->count = (uint64_t)rb->i[SC_COUNT];
    r->total_bytes = (uint64_t)rb->i[SC_TOTAL_BYTES];
    r->no_time_count = (uint64_t)rb->i[SC_NO_TIME];
    r->malformed_count = (uint64_t)rb->i[SC_MALFORMED];
    r->negative_latency_count = (uint64_t)rb->i[SC_NEGATIVE];
    r->delivery_failed_count = (uint64_t)rb->i[SC_DELIVERY_FAILED];
    r->audit_dropped_count = (uint64_t)rb->i[SC_AUDIT_DROPPED];
    r->aborted_count = (uint64_t)rb->i[SC_ABORTED];
    r->latency_sum_ms = rb->d[SC_LATENCY_SUM];
    r->latency95 = rb->d[SC_P95];
    r->latency99 = rb->d[SC_P99];
    r->max_latency = rb->d[SC_MAX];
    if (rb->is_null[SC_SKETCH] || !sk) {
        r->sketch = NULL;
        return CHP_OK;
    }
    return store_sketch_decode(sk, rb->sketch, rb->len[SC_SKETCH], r, errstr,
                               errstr_size);
}

/* Binds the result of a row query and buffers it client-side, so the
 * caller may run other statements (or call back into us) while reading. */
chp_err_t store_my_buffer_rows(my_store_t *s, MYSQL_STMT *st, char *errstr,
                               size_t errstr_size)
{
    bind_row_result(&s->rb);
    if (mysql_stmt_bind_result(st, s->rb.bind) || mysql_stmt_store_result(st))
        return store_my_fail_stmt(s, st, "read rows", errstr, errstr_size);
    return CHP_OK;
}
