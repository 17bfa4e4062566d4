/* Integration: scripts/services.sh gives working servers for the collector's
 * backends (design.md §8): MariaDB and PostgreSQL accept the chaperone account
 * over TCP with a password and honour commit and rollback; Redis gives
 * SET NX EX semantics for uuid de-duplication.
 * Needs CHP_TEST_MYSQL_URL, CHP_TEST_PG_URL, CHP_TEST_REDIS_URL (printed by
 * `scripts/services.sh env`); skipped (77) when none is set, and each test
 * skipped when its own is unset. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>
#include <libpq-fe.h>
#include <mysql.h>

#include "testutil.h"

/* ---------------------------------------------------------------- URLs */

/* scheme://[user[:password]@]host[:port][/database] -- enough for the URLs
 * services.sh prints; no percent-decoding, no IPv6 literals. */
struct url {
    char scheme[16];
    char user[64];
    char password[64];
    char host[128];
    unsigned port;
    char database[64];
};

/* Copies [s, e) into dst of size n; -1 if it does not fit. */
static int copy_span(char *dst, size_t n, const char *s, const char *e)
{
    size_t len = (size_t)(e - s);

    if (len >= n)
        return -1;
    memcpy(dst, s, len);
    dst[len] = '\0';
    return 0;
}

static int url_parse(const char *text, unsigned default_port, struct url *u)
{
    const char *p = text, *sep, *at, *end, *colon;

    memset(u, 0, sizeof(*u));
    u->port = default_port;
    sep = strstr(p, "://");
    if (!sep || copy_span(u->scheme, sizeof(u->scheme), p, sep))
        return -1;
    p = sep + 3;
    end = p + strcspn(p, "/");
    at = memchr(p, '@', (size_t)(end - p));
    if (at) {
        colon = memchr(p, ':', (size_t)(at - p));
        if (copy_span(u->user, sizeof(u->user), p, colon ? colon : at) ||
            (colon &&
             copy_span(u->password, sizeof(u->password), colon + 1, at)))
            return -1;
        p = at + 1;
    }
    colon = memchr(p, ':', (size_t)(end - p));
    if (copy_span(u->host, sizeof(u->host), p, colon ? colon : end) ||
        !u->host[0])
        return -1;
    if (colon) {
        char *stop;
        unsigned long port = strtoul(colon + 1, &stop, 10);

        if (stop != end || port == 0 || port > 65535)
            return -1;
        u->port = (unsigned)port;
    }
    if (*end == '/' &&
        copy_span(u->database, sizeof(u->database), end + 1, end + strlen(end)))
        return -1;
    return 0;
}

static void test_url_parse(void **state)
{
    struct url u;
    (void)state;

    assert_int_equal(
        url_parse("mysql://chaperone:pw@127.0.0.1:13306/chaperone", 3306, &u),
        0);
    assert_string_equal(u.scheme, "mysql");
    assert_string_equal(u.user, "chaperone");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 13306);
    assert_string_equal(u.database, "chaperone");
    assert_int_equal(url_parse("redis://localhost", 6379, &u), 0);
    assert_string_equal(u.host, "localhost");
    assert_int_equal(u.port, 6379);
    assert_string_equal(u.user, "");
    assert_string_equal(u.database, "");
    assert_int_equal(url_parse("redis://h:0", 1, &u), -1);
    assert_int_equal(url_parse("redis://h:99999", 1, &u), -1);
    assert_int_equal(url_parse("redis://h:12x", 1, &u), -1);
    assert_int_equal(url_parse("no-scheme", 1, &u), -1);
    assert_int_equal(url_parse("pg://u@:5/db", 1, &u), -1);
}

/* The URL in env var name, parsed, or the test is skipped when unset. */
static int url_from_env(const char *name, unsigned default_port, struct url *u)
{
    const char *v = getenv(name);

    if (!v || !*v)
        return -1;
    if (url_parse(v, default_port, u))
        fail_msg("%s=%s is not scheme://user:password@host:port/db", name, v);
    return 0;
}

/* A table name unique to this run, usable unquoted in both SQL dialects. */
static void table_name(char *buf, size_t n)
{
    static unsigned counter;

    snprintf(buf, n, "chp_it_%ld_%lld_%u", (long)getpid(),
             (long long)time(NULL), counter++);
}

/* ------------------------------------------------------------- MariaDB */

static void my_exec(MYSQL *db, const char *sql)
{
    if (mysql_query(db, sql))
        fail_msg("mysql: %s: %s", sql, mysql_error(db));
}

static long long my_count(MYSQL *db, const char *table)
{
    char sql[256];
    MYSQL_RES *res;
    MYSQL_ROW row;
    long long n;

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    my_exec(db, sql);
    res = mysql_store_result(db);
    assert_non_null(res);
    row = mysql_fetch_row(res);
    assert_non_null(row);
    n = strtoll(row[0], NULL, 10);
    mysql_free_result(res);
    return n;
}

static void my_insert(MYSQL *db, const char *table, int first, int n)
{
    char sql[256];
    int i;

    for (i = first; i < first + n; i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO %s (id, v) VALUES (%d, 'v%d')",
                 table, i, i);
        my_exec(db, sql);
    }
}

static void test_mariadb(void **state)
{
    unsigned timeout = 10;
    char table[64], sql[256];
    struct url u;
    MYSQL *db;
    MYSQL_RES *res;
    MYSQL_ROW row;
    (void)state;

    if (url_from_env("CHP_TEST_MYSQL_URL", 3306, &u))
        TU_SKIP_CASE("CHP_TEST_MYSQL_URL is not set");
    db = mysql_init(NULL);
    assert_non_null(db);
    mysql_options(db, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    if (!mysql_real_connect(db, u.host, u.user, u.password, u.database, u.port,
                            NULL, 0))
        fail_msg("mysql: connect to %s:%u as %s: %s", u.host, u.port, u.user,
                 mysql_error(db));

    /* A password account over TCP, not a socket or a grant-less server. */
    my_exec(db, "SELECT CURRENT_USER(), @@skip_grant_tables");
    res = mysql_store_result(db);
    assert_non_null(res);
    row = mysql_fetch_row(res);
    assert_non_null(row);
    assert_int_equal(strncmp(row[0], "chaperone@", 10), 0);
    assert_string_equal(row[1], "0");
    mysql_free_result(res);

    table_name(table, sizeof(table));
    snprintf(sql, sizeof(sql),
             "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(32)) "
             "ENGINE=InnoDB",
             table);
    my_exec(db, sql);

    assert_int_equal(mysql_autocommit(db, 0), 0);
    my_insert(db, table, 0, 3);
    assert_int_equal(mysql_commit(db), 0);
    my_insert(db, table, 100, 2);
    assert_int_equal(my_count(db, table), 5); /* own uncommitted rows */
    assert_int_equal(mysql_rollback(db), 0);
    assert_int_equal(my_count(db, table), 3);
    my_exec(db, "START TRANSACTION");
    my_insert(db, table, 3, 4);
    my_exec(db, "COMMIT");
    assert_int_equal(my_count(db, table), 7);
    assert_int_equal(mysql_autocommit(db, 1), 0);

    snprintf(sql, sizeof(sql), "DROP TABLE %s", table);
    my_exec(db, sql);
    mysql_close(db);
}

/* ----------------------------------------------------------- PostgreSQL */

static void pg_exec(PGconn *db, const char *sql)
{
    PGresult *res = PQexec(db, sql);
    ExecStatusType st = PQresultStatus(res);

    if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        PQclear(res);
        fail_msg("pg: %s: %s", sql, msg);
    }
    PQclear(res);
}

/* First column of the first row of a one-row query. */
static void pg_value(PGconn *db, const char *sql, char *out, size_t n)
{
    PGresult *res = PQexec(db, sql);

    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQresultErrorMessage(res));
        PQclear(res);
        fail_msg("pg: %s: %s", sql, msg);
    }
    snprintf(out, n, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
}

static long long pg_count(PGconn *db, const char *table)
{
    char sql[256], v[32];

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    pg_value(db, sql, v, sizeof(v));
    return strtoll(v, NULL, 10);
}

static void pg_insert(PGconn *db, const char *table, int first, int n)
{
    char sql[256];
    int i;

    for (i = first; i < first + n; i++) {
        snprintf(sql, sizeof(sql), "INSERT INTO %s (id, v) VALUES (%d, 'v%d')",
                 table, i, i);
        pg_exec(db, sql);
    }
}

static void test_postgres(void **state)
{
    char port[16], table[64], sql[256], v[128];
    const char *keys[] = {
        "host", "port", "user", "password", "dbname", "connect_timeout", NULL};
    const char *vals[7];
    struct url u;
    PGconn *db;
    (void)state;

    if (url_from_env("CHP_TEST_PG_URL", 5432, &u))
        TU_SKIP_CASE("CHP_TEST_PG_URL is not set");
    snprintf(port, sizeof(port), "%u", u.port);
    vals[0] = u.host;
    vals[1] = port;
    vals[2] = u.user;
    vals[3] = u.password;
    vals[4] = u.database;
    vals[5] = "10";
    vals[6] = NULL;
    db = PQconnectdbParams(keys, vals, 0);
    assert_non_null(db);
    if (PQstatus(db) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s", PQerrorMessage(db));
        PQfinish(db);
        fail_msg("pg: connect to %s:%u as %s: %s", u.host, u.port, u.user, msg);
    }
    /* Over TCP (a socket has no server address) and with a password. */
    assert_true(PQconnectionUsedPassword(db));
    pg_value(db, "SELECT current_user || '@' || host(inet_server_addr())", v,
             sizeof(v));
    assert_string_equal(v, "chaperone@127.0.0.1");

    table_name(table, sizeof(table));
    snprintf(sql, sizeof(sql),
             "CREATE TABLE %s (id INT PRIMARY KEY, v VARCHAR(32))", table);
    pg_exec(db, sql);

    pg_exec(db, "BEGIN");
    pg_insert(db, table, 0, 3);
    pg_exec(db, "COMMIT");
    pg_exec(db, "BEGIN");
    pg_insert(db, table, 100, 2);
    assert_int_equal(pg_count(db, table), 5);
    pg_exec(db, "ROLLBACK");
    assert_int_equal(pg_count(db, table), 3);
    pg_exec(db, "BEGIN");
    pg_insert(db, table, 3, 4);
    pg_exec(db, "COMMIT");
    assert_int_equal(pg_count(db, table), 7);

    snprintf(sql, sizeof(sql), "DROP TABLE %s", table);
    pg_exec(db, sql);
    PQfinish(db);
}

/* ---------------------------------------------------------------- Redis */

static redisReply *rcmd(redisContext *c, const char *fmt, ...)
{
    redisReply *r;
    va_list ap;

    va_start(ap, fmt);
    r = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (!r)
        fail_msg("redis: %s: %s", fmt, c->errstr);
    if (r->type == REDIS_REPLY_ERROR) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", r->str);
        freeReplyObject(r);
        fail_msg("redis: %s: %s", fmt, msg);
    }
    return r;
}

static void test_redis(void **state)
{
    struct timeval tv = {10, 0};
    char key[128];
    struct url u;
    redisContext *c;
    redisReply *r;
    (void)state;

    if (url_from_env("CHP_TEST_REDIS_URL", 6379, &u))
        TU_SKIP_CASE("CHP_TEST_REDIS_URL is not set");
    c = redisConnectWithTimeout(u.host, (int)u.port, tv);
    assert_non_null(c);
    if (c->err) {
        char msg[256];
        snprintf(msg, sizeof(msg), "%s", c->errstr);
        redisFree(c);
        fail_msg("redis: connect to %s:%u: %s", u.host, u.port, msg);
    }

    /* The collector's de-duplication: the first SET NX wins, the second
     * gets nil and leaves the value and its expiry alone. */
    tu_unique_name(key, sizeof(key), "chp-it-uuid");
    r = rcmd(c, "SET %s %s NX EX %d", key, "first", 60);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    assert_string_equal(r->str, "OK");
    freeReplyObject(r);

    r = rcmd(c, "SET %s %s NX EX %d", key, "second", 60);
    assert_int_equal(r->type, REDIS_REPLY_NIL);
    freeReplyObject(r);

    r = rcmd(c, "GET %s", key);
    assert_int_equal(r->type, REDIS_REPLY_STRING);
    assert_string_equal(r->str, "first");
    freeReplyObject(r);

    r = rcmd(c, "TTL %s", key);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_in_range(r->integer, 1, 60);
    freeReplyObject(r);

    /* Without NX the key is overwritten: NX is what makes it a dedup. */
    r = rcmd(c, "SET %s %s EX %d", key, "third", 60);
    assert_int_equal(r->type, REDIS_REPLY_STATUS);
    freeReplyObject(r);

    r = rcmd(c, "DEL %s", key);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_int_equal(r->integer, 1);
    freeReplyObject(r);
    redisFree(c);
}

/* ------------------------------------------------------------------ main */

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_mariadb),
        cmocka_unit_test(test_postgres),
        cmocka_unit_test(test_redis),
    };

    if (!getenv("CHP_TEST_MYSQL_URL") && !getenv("CHP_TEST_PG_URL") &&
        !getenv("CHP_TEST_REDIS_URL"))
        tu_skip("none of CHP_TEST_MYSQL_URL, CHP_TEST_PG_URL, "
                "CHP_TEST_REDIS_URL is set; run scripts/services.sh start "
                "and eval \"$(scripts/services.sh env)\"");
    return tu_status(cmocka_run_group_tests(tests, NULL, NULL));
}
