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

#include "collector/store_impl.h"
#include "sketch.h"

#define CONNECT_TIMEOUT_S 5
/* Longer than innodb_lock_wait_timeout (50 s): a lock wait is the server's
 * to time out, with its own error. */
#define IO_TIMEOUT_S 120
#define DEFAULT_PORT 3306
#define TEXT_SLOT    (CHP_SKETCH_ENCODE_MAX + 1)

/* uuids per round trip for seen(). */
#define UUID_CHUNK 64

#define P8  "?,?,?,?,?,?,?,?"
#define P64 P8 "," P8 "," P8 "," P8 "," P8 "," P8 "," P8 "," P8

/* Multi-row statements come in a few sizes (rows per statement), so n
 * rows take a few round trips whatever n is, with a handful of prepared
 * statements.  (MariaDB's array binding would not run on MySQL.) */
static const size_t row_shapes[] = {32, 8, 2, 1};
static const size_t uuid_shapes[] = {256, 32, 4, 1};
#define N_ROW_SHAPES   4
#define N_UUID_SHAPES  4
#define ROW_SHAPE_MAX  32
#define UUID_SHAPE_MAX 256

enum {
    Q_GET_ROWS, /* STORE_CHUNK keys; a short chunk repeats its last key */
    Q_INS_ROWS, /* + shape index: plain INSERT of new rows */
    Q_UPS_ROWS = Q_INS_ROWS + N_ROW_SHAPES,  /* + shape: rewrite stored rows */
    Q_INS_UUIDS = Q_UPS_ROWS + N_ROW_SHAPES, /* + uuid shape index */
    Q_SEEN = Q_INS_UUIDS + N_UUID_SHAPES,
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

/* The statements of one fixed text; the others are built by build_sql(). */
static const char *const fixed_sql[Q__COUNT] = {
    [Q_SEEN] = "SELECT uuid FROM seen_uuids WHERE uuid IN (" P64 ")",
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

/* The rows a flush found are locked (FOR UPDATE), so this upsert only ever
 * updates; unlike UPDATE it rewrites many rows in one statement. */
#define UPSERT_TAIL                                                            \
    " ON DUPLICATE KEY UPDATE time_end = VALUES(time_end), "                   \
    "count = VALUES(count), total_bytes = VALUES(total_bytes), "               \
    "no_time_count = VALUES(no_time_count), "                                  \
    "malformed_count = VALUES(malformed_count), "                              \
    "negative_latency_count = VALUES(negative_latency_count), "                \
    "latency_sum_ms = VALUES(latency_sum_ms), "                                \
    "mean_latency = VALUES(mean_latency), "                                    \
    "latency_p95 = VALUES(latency_p95), latency_p99 = VALUES(latency_p99), "   \
    "max_latency = VALUES(max_latency), sketch = VALUES(sketch), "             \
    "updated_at = VALUES(updated_at), "                                        \
    "delivery_failed_count = VALUES(delivery_failed_count), "                  \
    "audit_dropped_count = VALUES(audit_dropped_count), "                      \
    "aborted_count = VALUES(aborted_count)"

#define KEY_TERM                                                               \
    "(time_begin = ? AND topic = ? AND tier = ? AND datacenter = ? AND "       \
    "host = ?)"

static const char *const schema_v1[] = {
    "CREATE TABLE IF NOT EXISTS audit_rows ("
    " time_begin BIGINT NOT NULL,"
    " time_end BIGINT NOT NULL,"
    " topic VARBINARY(255) NOT NULL,"
    " tier VARBINARY(255) NOT NULL,"
    " datacenter VARBINARY(255) NOT NULL,"
    " host VARBINARY(255) NOT NULL,"
    " count BIGINT NOT NULL,"
    " total_bytes BIGINT NOT NULL,"
    " no_time_count BIGINT NOT NULL,"
    " malformed_count BIGINT NOT NULL,"
    " negative_latency_count BIGINT NOT NULL,"
    " latency_sum_ms DOUBLE NOT NULL,"
    " mean_latency DOUBLE NOT NULL,"
    " latency_p95 DOUBLE NOT NULL,"
    " latency_p99 DOUBLE NOT NULL,"
    " max_latency DOUBLE NOT NULL,"
    " sketch TEXT CHARACTER SET ascii COLLATE ascii_bin NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (time_begin, topic, tier, datacenter, host),"
    " INDEX audit_rows_topic_time (topic, time_begin)"
    ") ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS seen_uuids ("
    " uuid VARBINARY(64) NOT NULL PRIMARY KEY,"
    " seen_at BIGINT NOT NULL,"
    " INDEX seen_uuids_seen_at (seen_at)"
    ") ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS source_offsets ("
    " topic VARBINARY(255) NOT NULL,"
    " part INT NOT NULL,"
    " next_offset BIGINT NOT NULL,"
    " PRIMARY KEY (topic, part)"
    ") ENGINE=InnoDB",
    "INSERT IGNORE INTO schema_version (version) VALUES (1)",
    NULL,
};

/* Offsets keyed by the audit cluster (existing ones get cluster '', see
 * Q_CLAIM_OFFSET); the counts that are not part of count.  MySQL commits
 * each ALTER on its own: IF NOT EXISTS (MariaDB) and re-setting the same
 * primary key make every statement safe to run again. */
static const char *const schema_v2[] = {
    "ALTER TABLE source_offsets"
    " ADD COLUMN IF NOT EXISTS cluster VARBINARY(255) NOT NULL DEFAULT ''"
    " FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY (cluster, topic, part)",
    "ALTER TABLE audit_rows"
    " ADD COLUMN IF NOT EXISTS delivery_failed_count BIGINT NOT NULL"
    " DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS audit_dropped_count BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS aborted_count BIGINT NOT NULL DEFAULT 0",
    "INSERT IGNORE INTO schema_version (version) VALUES (2)",
    NULL,
};

static const store_schema_t schema = {
    .lock = NULL, /* CREATE TABLE IF NOT EXISTS is safe to race in InnoDB */
    .version_table = "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INT NOT NULL PRIMARY KEY) ENGINE=InnoDB",
    .steps = {schema_v1, schema_v2},
};

/* Where a result row of STORE_ROW_COLUMNS lands. */
typedef struct row_buf {
    int64_t i[SC__COUNT];
    double d[SC__COUNT];
    char name[SC__COUNT][CHP_NAME_MAX];
    unsigned long len[SC__COUNT];
    my_bool is_null[SC__COUNT];
    my_bool error[SC__COUNT];
    char *sketch; /* TEXT_SLOT bytes */
    MYSQL_BIND bind[SC__COUNT];
} row_buf_t;

/* Parameters of the largest multi-row statement. */
#define MAX3(a, b, c)                                                          \
    ((a) > (b) ? ((a) > (c) ? (a) : (c)) : ((b) > (c) ? (b) : (c)))
#define PARAMS_MAX                                                             \
    MAX3(STORE_CHUNK * 5, ROW_SHAPE_MAX * SP__COUNT, UUID_SHAPE_MAX * 2)

typedef struct my_store {
    store_t base;
    MYSQL *db; /* NULL while disconnected */
    MYSQL_STMT *q[Q__COUNT];
    char *sql[Q__COUNT]; /* built statements (NULL: fixed_sql) */
    store_url_t url;
    row_buf_t rb;
    MYSQL_BIND pb[PARAMS_MAX]; /* parameters of one execution */
    unsigned long plen[PARAMS_MAX];
    int64_t piv[PARAMS_MAX];
} my_store_t;

static my_store_t *my(store_t *s)
{
    return (my_store_t *)s;
}

static void disconnect(my_store_t *s)
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
static bool connection_error(unsigned int e)
{
    return e >= CR_MIN_ERROR || e == ER_CONNECTION_KILLED ||
           e == ER_SERVER_SHUTDOWN;
}

static chp_err_t fail_msg(my_store_t *s, const char *what, unsigned int e,
                          const char *msg, char *errstr, size_t errstr_size)
{
    store_errf(errstr, errstr_size, "mysql %s:%d: %s: %s (%u)", s->url.host,
               s->url.port ? s->url.port : DEFAULT_PORT, what, msg, e);
    if (connection_error(e))
        disconnect(s);
    return CHP_ERR_DB;
}

static chp_err_t fail_db(my_store_t *s, const char *what, char *errstr,
                         size_t errstr_size)
{
    return fail_msg(s, what, mysql_errno(s->db), mysql_error(s->db), errstr,
                    errstr_size);
}

/* The statement may be freed by a disconnect: copy its error first. */
static chp_err_t fail_stmt(my_store_t *s, MYSQL_STMT *st, const char *what,
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
            return fail_db(s, "session setup", errstr, errstr_size);
    return CHP_OK;
}

/* Connects if not connected; every call starts here. */
static chp_err_t ensure(my_store_t *s, char *errstr, size_t errstr_size)
{
    unsigned int connect_timeout = CONNECT_TIMEOUT_S, io = IO_TIMEOUT_S;
    my_bool off = 0;

    if (s->db)
        return CHP_OK;
    if (!(s->db = mysql_init(NULL))) {
        store_errf(errstr, errstr_size, "mysql: out of memory");
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
        chp_err_t err = fail_db(s, "connect", errstr, errstr_size);

        disconnect(s);
        return err;
    }
    return session(s, errstr, errstr_size);
}

/* The prepared statement `which`, prepared on first use after a connect
 * (the tables must exist). */
static chp_err_t stmt(my_store_t *s, int which, MYSQL_STMT **out, char *errstr,
                      size_t errstr_size)
{
    chp_err_t err;

    if ((err = ensure(s, errstr, errstr_size)))
        return err;
    if (!s->q[which]) {
        MYSQL_STMT *st = mysql_stmt_init(s->db);

        if (!st)
            return fail_db(s, "prepare", errstr, errstr_size);
        const char *sql = s->sql[which] ? s->sql[which] : fixed_sql[which];

        if (mysql_stmt_prepare(st, sql, strlen(sql))) {
            err = fail_stmt(s, st, "prepare", errstr, errstr_size);
            mysql_stmt_close(st);
            return err;
        }
        s->q[which] = st;
    }
    *out = s->q[which];
    return CHP_OK;
}

/* Prepares if needed, binds params (may be NULL) and executes. */
static chp_err_t execute(my_store_t *s, int which, MYSQL_BIND *params,
                         const char *what, MYSQL_STMT **out, char *errstr,
                         size_t errstr_size)
{
    MYSQL_STMT *st;
    chp_err_t err;

    if ((err = stmt(s, which, &st, errstr, errstr_size)))
        return err;
    if ((params && mysql_stmt_bind_param(st, params)) || mysql_stmt_execute(st))
        return fail_stmt(s, st, what, errstr, errstr_size);
    if (out)
        *out = st;
    return CHP_OK;
}

static void b_i64(MYSQL_BIND *b, const int64_t *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = (void *)v;
}

static void b_i32(MYSQL_BIND *b, const int32_t *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = (void *)v;
}

static void b_dbl(MYSQL_BIND *b, const double *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_DOUBLE;
    b->buffer = (void *)v;
}

static void b_str(MYSQL_BIND *b, const char *v, size_t n, unsigned long *len)
{
    memset(b, 0, sizeof(*b));
    *len = (unsigned long)n;
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)v;
    b->buffer_length = *len;
    b->length = len;
}

static void b_null(MYSQL_BIND *b)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_NULL;
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
static chp_err_t fetch(my_store_t *s, MYSQL_STMT *st, bool *got, char *errstr,
                       size_t errstr_size)
{
    int rc = mysql_stmt_fetch(st);

    *got = false;
    if (rc == MYSQL_NO_DATA)
        return CHP_OK;
    if (rc == 1)
        return fail_stmt(s, st, "fetch", errstr, errstr_size);
    if (rc == MYSQL_DATA_TRUNCATED) {
        store_errf(errstr, errstr_size,
                   "mysql: a stored row has a value "
                   "longer than this chaperone reads");
        return CHP_ERR_DB;
    }
    *got = true;
    return CHP_OK;
}

/* True if the fetched row has the key of k. */
static bool rb_has_key(const row_buf_t *rb, const store_row_t *k)
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
static chp_err_t rb_row(const row_buf_t *rb, store_row_t *r, char *errstr,
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
static chp_err_t buffer_rows(my_store_t *s, MYSQL_STMT *st, char *errstr,
                             size_t errstr_size)
{
    bind_row_result(&s->rb);
    if (mysql_stmt_bind_result(st, s->rb.bind) || mysql_stmt_store_result(st))
        return fail_stmt(s, st, "read rows", errstr, errstr_size);
    return CHP_OK;
}

/* ------------------------------------------------------------ driver */

static chp_err_t my_begin(store_t *s, char *errstr, size_t errstr_size)
{
    chp_err_t err = ensure(my(s), errstr, errstr_size);

    if (err)
        return err;
    if (mysql_query(my(s)->db, "START TRANSACTION"))
        return fail_db(my(s), "START TRANSACTION", errstr, errstr_size);
    return CHP_OK;
}

static chp_err_t my_commit(store_t *s, char *errstr, size_t errstr_size)
{
    if (!my(s)->db) {
        store_errf(errstr, errstr_size, "mysql: connection lost");
        return CHP_ERR_DB;
    }
    if (mysql_commit(my(s)->db))
        return fail_db(my(s), "COMMIT", errstr, errstr_size);
    return CHP_OK;
}

static void my_rollback(store_t *s)
{
    if (my(s)->db && mysql_rollback(my(s)->db) &&
        connection_error(mysql_errno(my(s)->db)))
        disconnect(my(s));
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

        k = shape_for(n - i, uuid_shapes, N_UUID_SHAPES, &shape);
        for (size_t j = 0; j < k; j++) {
            b_str(&m->pb[2 * j], uuids[i + j], strlen(uuids[i + j]),
                  &m->plen[j]);
            b_i64(&m->pb[2 * j + 1], &now_s);
        }
        if ((err = stmt(m, Q_INS_UUIDS + (int)shape, &st, errstr, errstr_size)))
            return err;
        if (mysql_stmt_bind_param(st, m->pb) || mysql_stmt_execute(st)) {
            if (mysql_stmt_errno(st) == ER_DUP_ENTRY) {
                /* The server's message names the uuid. */
                store_errf(errstr, errstr_size,
                           "dedup: audit message uuid already stored: %s",
                           mysql_stmt_error(st));
                return CHP_ERR_STATE;
            }
            return fail_stmt(m, st, "insert uuids", errstr, errstr_size);
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
    if ((err = execute(m, Q_GET_ROWS, m->pb, "read rows", &st, errstr,
                       errstr_size)) ||
        (err = buffer_rows(m, st, errstr, errstr_size)))
        return err;
    while (!(err = fetch(m, st, &got, errstr, errstr_size)) && got) {
        size_t i = 0;

        while (i < n && (found[i] || !rb_has_key(&m->rb, &keys[i])))
            i++;
        if (i == n) {
            store_errf(errstr, errstr_size, "mysql: unexpected row");
            err = CHP_ERR_DB;
            break;
        }
        found[i] = true;
        if ((err = rb_row(&m->rb, &out[i], errstr, errstr_size)))
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
        k = shape_for(n_sel - i, row_shapes, N_ROW_SHAPES, &shape);
        for (size_t j = 0; j < k; j++)
            bind_put(m, j, sel[i + j], now_s);
        if ((err = execute(m, (upd ? Q_UPS_ROWS : Q_INS_ROWS) + (int)shape,
                           m->pb, upd ? "update rows" : "insert rows", NULL,
                           errstr, errstr_size)))
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
    store_errf(errstr, errstr_size,
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
        err =
            execute(my(s), which, b, "store offset", &st, errstr, errstr_size);
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

static chp_err_t my_exec(store_t *s, const char *sql, char *errstr,
                         size_t errstr_size)
{
    chp_err_t err = ensure(my(s), errstr, errstr_size);
    MYSQL_RES *res;

    if (err)
        return err;
    if (mysql_query(my(s)->db, sql))
        return fail_db(my(s), "migrate", errstr, errstr_size);
    if ((res = mysql_store_result(my(s)->db)))
        mysql_free_result(res);
    return CHP_OK;
}

static chp_err_t my_scalar(store_t *s, const char *sql, int64_t *v,
                           bool *is_null, char *errstr, size_t errstr_size)
{
    chp_err_t err = ensure(my(s), errstr, errstr_size);
    MYSQL_RES *res;
    MYSQL_ROW row;

    *is_null = true;
    if (err)
        return err;
    if (mysql_query(my(s)->db, sql) || !(res = mysql_store_result(my(s)->db)))
        return fail_db(my(s), "migrate", errstr, errstr_size);
    if ((row = mysql_fetch_row(res)) && row[0]) {
        *v = strtoll(row[0], NULL, 10);
        *is_null = false;
    }
    mysql_free_result(res);
    return CHP_OK;
}

static const store_driver_t my_driver = {
    .begin = my_begin,
    .commit = my_commit,
    .rollback = my_rollback,
    .put_uuids = my_put_uuids,
    .get_rows = my_get_rows,
    .put_rows = my_put_rows,
    .put_offsets = my_put_offsets,
    .exec = my_exec,
    .scalar = my_scalar,
};

/* ------------------------------------------------------------ ops */

/* head, then `rows` groups of `group` joined by `sep`, then tail. */
static char *build(const char *head, size_t rows, const char *group,
                   const char *sep, const char *tail)
{
    size_t n =
        strlen(head) + rows * (strlen(group) + strlen(sep)) + strlen(tail) + 1;
    char *sql = malloc(n), *p = sql;

    if (!sql)
        return NULL;
    p += snprintf(p, n, "%s", head);
    for (size_t i = 0; i < rows; i++)
        p += snprintf(p, n - (size_t)(p - sql), "%s%s", i ? sep : "", group);
    snprintf(p, n - (size_t)(p - sql), "%s", tail);
    return sql;
}

/* Builds the multi-row statements (placeholders only: no values). */
static bool build_sql(my_store_t *s)
{
    static const char put_group[] =
        "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
    static const char ins_head[] =
        "INSERT INTO audit_rows (" STORE_PUT_COLUMNS ") VALUES ";

    s->sql[Q_GET_ROWS] =
        build("SELECT " STORE_ROW_COLUMNS " FROM audit_rows WHERE ",
              STORE_CHUNK, KEY_TERM, " OR ", " FOR UPDATE");
    for (size_t i = 0; i < N_ROW_SHAPES; i++) {
        s->sql[Q_INS_ROWS + i] =
            build(ins_head, row_shapes[i], put_group, ",", "");
        s->sql[Q_UPS_ROWS + i] =
            build(ins_head, row_shapes[i], put_group, ",", UPSERT_TAIL);
    }
    for (size_t i = 0; i < N_UUID_SHAPES; i++)
        s->sql[Q_INS_UUIDS + i] =
            build("INSERT INTO seen_uuids (uuid, seen_at) VALUES ",
                  uuid_shapes[i], "(?,?)", ",", "");
    for (size_t i = 0; i < Q__COUNT; i++)
        if (!fixed_sql[i] && !s->sql[i])
            return false;
    return true;
}

static void my_close(store_t *s)
{
    if (!s)
        return;
    disconnect(my(s));
    for (int i = 0; i < Q__COUNT; i++)
        free(my(s)->sql[i]);
    free(my(s)->rb.sketch);
    store_base_fini(s);
    free(s);
}

static chp_err_t my_open(const char *url, store_t **out, char *errstr,
                         size_t errstr_size)
{
    my_store_t *s = calloc(1, sizeof(*s));
    chp_err_t err;

    *out = NULL;
    if (!s || !(s->rb.sketch = malloc(TEXT_SLOT)) || !build_sql(s)) {
        if (s)
            my_close(&s->base);
        store_errf(errstr, errstr_size, "mysql: out of memory");
        return CHP_ERR_NOMEM;
    }
    store_base_init(&s->base, &store_mysql_ops, &my_driver);
    if ((err = store_url_parse(url, "db.url", &s->url, errstr, errstr_size)))
        goto fail;
    if (s->url.query[0]) {
        store_errf(errstr, errstr_size,
                   "db.url: mysql:// URLs take no ?options");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    if (!s->url.path[0]) {
        store_errf(errstr, errstr_size,
                   "db.url: mysql:// URL names no database (.../DB)");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    /* Connecting now reports a wrong password at start-up, not later. */
    if ((err = ensure(s, errstr, errstr_size)))
        goto fail;
    *out = &s->base;
    return CHP_OK;
fail:
    my_close(&s->base);
    return err;
}

static chp_err_t my_migrate(store_t *s, char *errstr, size_t errstr_size)
{
    return store_migrate_run(s, &schema, errstr, errstr_size);
}

static chp_err_t my_seen(store_t *s, const char *const *uuids, size_t n,
                         bool *seen, char *errstr, size_t errstr_size)
{
    MYSQL_BIND b[UUID_CHUNK], res;
    unsigned long len[UUID_CHUNK], rlen = 0;
    char got[CHP_UUID_MAX + 1];
    chp_err_t err;

    for (size_t i = 0; i < n; i++)
        seen[i] = false;
    memset(&res, 0, sizeof(res));
    res.buffer_type = MYSQL_TYPE_STRING;
    res.buffer = got;
    res.buffer_length = sizeof(got);
    res.length = &rlen;
    for (size_t i = 0; i < n; i += UUID_CHUNK) {
        size_t k = n - i < UUID_CHUNK ? n - i : UUID_CHUNK;
        MYSQL_STMT *st;
        int rc;

        /* A short chunk repeats its last uuid: one statement shape. */
        for (size_t j = 0; j < UUID_CHUNK; j++) {
            const char *u = uuids[i + (j < k ? j : k - 1)];

            b_str(&b[j], u, strlen(u), &len[j]);
        }
        if ((err = execute(my(s), Q_SEEN, b, "seen", &st, errstr, errstr_size)))
            return err;
        if (mysql_stmt_bind_result(st, &res) || mysql_stmt_store_result(st))
            return fail_stmt(my(s), st, "seen", errstr, errstr_size);
        while ((rc = mysql_stmt_fetch(st)) == 0) {
            for (size_t j = 0; j < k; j++)
                if (strlen(uuids[i + j]) == rlen &&
                    memcmp(uuids[i + j], got, rlen) == 0)
                    seen[i + j] = true;
        }
        if (rc == 1)
            return fail_stmt(my(s), st, "seen", errstr, errstr_size);
        mysql_stmt_free_result(st);
    }
    return CHP_OK;
}

static chp_err_t my_flush(store_t *s, const store_batch_t *b, char *errstr,
                          size_t errstr_size)
{
    return store_flush_run(s, b, errstr, errstr_size);
}

static chp_err_t my_offset(store_t *s, const char *cluster, const char *topic,
                           int32_t partition, int64_t *next_offset,
                           char *errstr, size_t errstr_size)
{
    MYSQL_BIND b[3], res;
    unsigned long len[2];
    int64_t v = -1;
    MYSQL_STMT *st;
    chp_err_t err;
    int rc;

    *next_offset = -1;
    b_str(&b[0], cluster, strlen(cluster), &len[0]);
    b_str(&b[1], topic, strlen(topic), &len[1]);
    b_i32(&b[2], &partition);
    b_i64(&res, &v);
    /* Autocommit: the adoption stands alone. */
    if ((err = execute(my(s), Q_CLAIM_OFFSET, b, "adopt offset", NULL, errstr,
                       errstr_size)))
        return err;
    if ((err = execute(my(s), Q_GET_OFFSET, b, "read offset", &st, errstr,
                       errstr_size)))
        return err;
    if (mysql_stmt_bind_result(st, &res) || mysql_stmt_store_result(st))
        return fail_stmt(my(s), st, "read offset", errstr, errstr_size);
    rc = mysql_stmt_fetch(st);
    if (rc == 1)
        return fail_stmt(my(s), st, "read offset", errstr, errstr_size);
    if (rc == 0)
        *next_offset = v;
    mysql_stmt_free_result(st);
    return CHP_OK;
}

static chp_err_t my_retention(store_t *s, int64_t before_s,
                              int64_t uuid_before_s, char *errstr,
                              size_t errstr_size)
{
    MYSQL_BIND b;
    chp_err_t err;

    if ((err = my_begin(s, errstr, errstr_size)))
        return err;
    b_i64(&b, &before_s);
    if ((err = execute(my(s), Q_DEL_ROWS, &b, "delete old rows", NULL, errstr,
                       errstr_size)))
        goto fail;
    b_i64(&b, &uuid_before_s);
    if ((err = execute(my(s), Q_DEL_UUIDS, &b, "delete old uuids", NULL, errstr,
                       errstr_size)) ||
        (err = my_commit(s, errstr, errstr_size)))
        goto fail;
    return CHP_OK;
fail:
    my_rollback(s);
    return err;
}

static chp_err_t my_query(store_t *s, const char *topic, int64_t from_s,
                          int64_t to_s,
                          void (*cb)(const store_row_t *row, void *opaque),
                          void *opaque, char *errstr, size_t errstr_size)
{
    chp_sketch_t *sk = store_query_sketch(s);
    MYSQL_BIND b[3];
    unsigned long len;
    MYSQL_STMT *st;
    chp_err_t err;
    int n = 0;

    if (!sk) {
        store_errf(errstr, errstr_size, "mysql: out of memory");
        return CHP_ERR_NOMEM;
    }
    if (topic)
        b_str(&b[n++], topic, strlen(topic), &len);
    b_i64(&b[n++], &from_s);
    b_i64(&b[n++], &to_s);
    if ((err = execute(my(s), topic ? Q_QUERY_TOPIC : Q_QUERY_ALL, b, "query",
                       &st, errstr, errstr_size)) ||
        (err = buffer_rows(my(s), st, errstr, errstr_size)))
        return err;
    for (;;) {
        store_row_t row;
        bool got;

        memset(&row, 0, sizeof(row));
        row.sketch = sk;
        if ((err = fetch(my(s), st, &got, errstr, errstr_size)) || !got ||
            (err = rb_row(&my(s)->rb, &row, errstr, errstr_size)))
            break;
        cb(&row, opaque);
    }
    if (my(s)->q[topic ? Q_QUERY_TOPIC : Q_QUERY_ALL])
        mysql_stmt_free_result(st);
    return err;
}

static chp_err_t my_topics(store_t *s,
                           void (*cb)(const char *topic, void *opaque),
                           void *opaque, char *errstr, size_t errstr_size)
{
    char name[CHP_NAME_MAX];
    unsigned long len = 0;
    MYSQL_BIND res;
    MYSQL_STMT *st;
    chp_err_t err;
    int rc;

    memset(&res, 0, sizeof(res));
    res.buffer_type = MYSQL_TYPE_STRING;
    res.buffer = name;
    res.buffer_length = sizeof(name);
    res.length = &len;
    if ((err = execute(my(s), Q_TOPICS, NULL, "topics", &st, errstr,
                       errstr_size)))
        return err;
    if (mysql_stmt_bind_result(st, &res) || mysql_stmt_store_result(st))
        return fail_stmt(my(s), st, "topics", errstr, errstr_size);
    while ((rc = mysql_stmt_fetch(st)) == 0 || rc == MYSQL_DATA_TRUNCATED) {
        char topic[CHP_NAME_MAX];

        store_name_copy(topic, name, len);
        cb(topic, opaque);
    }
    if (rc == 1)
        return fail_stmt(my(s), st, "topics", errstr, errstr_size);
    mysql_stmt_free_result(st);
    return CHP_OK;
}

const store_ops_t store_mysql_ops = {
    .scheme = "mysql",
    .open = my_open,
    .migrate = my_migrate,
    .seen = my_seen,
    .flush = my_flush,
    .offset = my_offset,
    .retention = my_retention,
    .query = my_query,
    .topics = my_topics,
    .close = my_close,
};
