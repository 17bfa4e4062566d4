/*
 * store_mysql_ops.c - the MySQL/MariaDB handle (open, with the multi-row
 * statements built once; close) and the driver entries outside a flush:
 * seen, offset and the read cursor (store_impl.h).
 */
#include <mysql.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store_mysql.h"
#include "errstr.h"
#include "conf_daemon_keys.h"

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

/* get_rows reads a chunk's keys as one row-value IN list on the primary
 * key.  FORCE INDEX: otherwise the optimizer weighs the topic index too
 * (and an empty table may get a full scan), which made the former WHERE
 * of STORE_CHUNK OR-ed key terms cost ~30 us of server CPU a key, and
 * this one ~5 (docs/benchmarks.md). */
#define KEY_TUPLE "(?,?,?,?,?)"

/* ------------------------------------------------------------ handle */

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
        build("SELECT " STORE_ROW_COLUMNS " FROM audit_rows FORCE INDEX "
              "(PRIMARY) WHERE (time_begin, topic, tier, datacenter, host) "
              "IN (",
              STORE_CHUNK, KEY_TUPLE, ",", ") FOR UPDATE");
    for (size_t i = 0; i < N_ROW_SHAPES; i++) {
        s->sql[Q_INS_ROWS + i] =
            build(ins_head, store_mysql_row_shapes[i], put_group, ",", "");
        s->sql[Q_UPS_ROWS + i] = build(ins_head, store_mysql_row_shapes[i],
                                       put_group, ",", UPSERT_TAIL);
    }
    for (size_t i = 0; i < N_UUID_SHAPES; i++)
        s->sql[Q_INS_UUIDS + i] =
            build("INSERT INTO seen_uuids (uuid, seen_at) VALUES ",
                  store_mysql_uuid_shapes[i], "(?,?)", ",", "");
    /* The statements before Q_SEEN are the built ones (fixed_sql, in
     * store_mysql.c, has the others). */
    for (size_t i = 0; i < Q_SEEN; i++)
        if (!s->sql[i])
            return false;
    return true;
}

void store_my_close(store_t *s)
{
    if (!s)
        return;
    store_my_disconnect(my(s));
    for (int i = 0; i < Q__COUNT; i++)
        free(my(s)->sql[i]);
    free(my(s)->rb.sketch);
    store_base_fini(s);
    free(s);
}

chp_err_t store_my_open(const char *url, store_t **out, char *errstr,
                        size_t errstr_size)
{
    my_store_t *s = calloc(1, sizeof(*s));
    chp_err_t err;

    *out = NULL;
    if (!s || !(s->rb.sketch = malloc(TEXT_SLOT)) || !build_sql(s)) {
        if (s)
            store_my_close(&s->base);
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "mysql: out of memory");
        return CHP_ERR_NOMEM;
    }
    store_base_init(&s->base, &store_mysql_driver);
    if ((err = store_url_parse(url, CHP_KEY_DB_URL, &s->url, errstr,
                               errstr_size)))
        goto fail;
    if (s->url.query[0]) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: mysql:// URLs take no ?options");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    if (!s->url.path[0]) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "db.url: mysql:// URL names no database (.../DB)");
        err = CHP_ERR_INVALID_ARG;
        goto fail;
    }
    /* Connecting now reports a wrong password at start-up, not later. */
    if ((err = store_my_ensure(s, errstr, errstr_size)))
        goto fail;
    *out = &s->base;
    return CHP_OK;
fail:
    store_my_close(&s->base);
    return err;
}

chp_err_t store_my_seen(store_t *s, const char *const *uuids, size_t n,
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
        if ((err = store_my_execute(my(s), Q_SEEN, b, "seen", &st, errstr,
                                    errstr_size)))
            return err;
        if (mysql_stmt_bind_result(st, &res) || mysql_stmt_store_result(st))
            return store_my_fail_stmt(my(s), st, "seen", errstr, errstr_size);
        while ((rc = mysql_stmt_fetch(st)) == 0) {
            for (size_t j = 0; j < k; j++)
                if (strlen(uuids[i + j]) == rlen &&
                    memcmp(uuids[i + j], got, rlen) == 0)
                    seen[i + j] = true;
        }
        if (rc == 1)
            return store_my_fail_stmt(my(s), st, "seen", errstr, errstr_size);
        mysql_stmt_free_result(st);
    }
    return CHP_OK;
}

chp_err_t store_my_offset(store_t *s, const char *cluster, const char *topic,
                          int32_t partition, int64_t *next_offset, char *errstr,
                          size_t errstr_size)
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
    if ((err = store_my_execute(my(s), Q_CLAIM_OFFSET, b, "adopt offset", NULL,
                                errstr, errstr_size)))
        return err;
    if ((err = store_my_execute(my(s), Q_GET_OFFSET, b, "read offset", &st,
                                errstr, errstr_size)))
        return err;
    if (mysql_stmt_bind_result(st, &res) || mysql_stmt_store_result(st))
        return store_my_fail_stmt(my(s), st, "read offset", errstr,
                                  errstr_size);
    rc = mysql_stmt_fetch(st);
    if (rc == 1)
        return store_my_fail_stmt(my(s), st, "read offset", errstr,
                                  errstr_size);
    if (rc == 0)
        *next_offset = v;
    mysql_stmt_free_result(st);
    return CHP_OK;
}

/* ------------------------------------------------------------ reading */

chp_err_t store_my_read_open(store_t *s, store_read_t what, const char *topic,
                             int64_t from_s, int64_t to_s, char *errstr,
                             size_t errstr_size)
{
    my_store_t *m = my(s);
    MYSQL_BIND b[3];
    unsigned long len;
    chp_err_t err;
    int n = 0;

    m->cur_what = what;
    if (what == STORE_READ_TOPICS) {
        memset(&m->cur_bind, 0, sizeof(m->cur_bind));
        m->cur_bind.buffer_type = MYSQL_TYPE_STRING;
        m->cur_bind.buffer = m->cur_name;
        m->cur_bind.buffer_length = sizeof(m->cur_name);
        m->cur_bind.length = &m->cur_len;
        m->cur_which = Q_TOPICS;
        if ((err = store_my_execute(m, Q_TOPICS, NULL, "topics", &m->cur,
                                    errstr, errstr_size)))
            return err;
        if (mysql_stmt_bind_result(m->cur, &m->cur_bind) ||
            mysql_stmt_store_result(m->cur))
            return store_my_fail_stmt(m, m->cur, "topics", errstr, errstr_size);
        return CHP_OK;
    }
    if (topic)
        b_str(&b[n++], topic, strlen(topic), &len);
    b_i64(&b[n++], &from_s);
    b_i64(&b[n++], &to_s);
    m->cur_which = topic ? Q_QUERY_TOPIC : Q_QUERY_ALL;
    if ((err = store_my_execute(m, m->cur_which, b, "query", &m->cur, errstr,
                                errstr_size)))
        return err;
    return store_my_buffer_rows(m, m->cur, errstr, errstr_size);
}

chp_err_t store_my_read_next(store_t *s, store_row_t *row, bool *got,
                             char *errstr, size_t errstr_size)
{
    my_store_t *m = my(s);
    int rc;

    if (m->cur_what == STORE_READ_ROWS) {
        chp_err_t err = store_my_fetch(m, m->cur, got, errstr, errstr_size);

        if (err || !*got)
            return err;
        return store_my_rb_row(&m->rb, row, errstr, errstr_size);
    }
    /* A topic longer than a name is cut, as everywhere. */
    rc = mysql_stmt_fetch(m->cur);
    *got = rc == 0 || rc == MYSQL_DATA_TRUNCATED;
    if (*got)
        store_name_copy(row->topic, m->cur_name, m->cur_len);
    else if (rc == 1)
        return store_my_fail_stmt(m, m->cur, "topics", errstr, errstr_size);
    return CHP_OK;
}

void store_my_read_close(store_t *s)
{
    my_store_t *m = my(s);

    /* An error may have disconnected, freeing the statement. */
    if (m->cur && m->q[m->cur_which] == m->cur)
        mysql_stmt_free_result(m->cur);
    m->cur = NULL;
}
