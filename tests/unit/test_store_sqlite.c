/* Unit tests: the collector's store (src/collector/store*.c) on a private
 * SQLite file -- the shared cases of tests/store_cases.h plus URL parsing,
 * the row merge rule, the raw schema and SQLite specifics. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <sqlite3.h>
#include <sys/stat.h>

#include "collector/store_impl.h"
#include "store_cases.h"

static char dir[64];
static char url[128];

/* ------------------------------------------------------------ URLs */

static void test_kind_for_url(void **state)
{
    store_kind_t k = STORE_PGSQL;
    store_t *s = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(
        store_kind_for_url("sqlite://a.db", &k, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(k, STORE_SQLITE);
    assert_int_equal(
        store_kind_for_url("mysql://u:p@h:1/d", &k, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(k, STORE_MYSQL);
    assert_int_equal(
        store_kind_for_url("postgresql://h/d", &k, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(k, STORE_PGSQL);
    k = STORE_SQLITE;
    assert_int_equal(
        store_kind_for_url("postgres://h/d", &k, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(k, STORE_PGSQL);
    assert_int_equal(
        store_kind_for_url("SQLite://a.db", &k, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(k, STORE_SQLITE);
    assert_int_equal(
        store_kind_for_url("oracle://u:secret@h/d", &k, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(errstr, "db.url"));
    assert_non_null(strstr(errstr, "oracle"));
    assert_null(strstr(errstr, "secret"));
    assert_int_equal(
        store_kind_for_url("u:secret@h/d", &k, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(errstr, "db.url"));
    assert_null(strstr(errstr, "secret"));
    /* store_open refuses the same URLs, and names the key the same way. */
    assert_int_equal(
        store_open("oracle://u:secret@h/d", &s, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_null(s);
    assert_non_null(strstr(errstr, "db.url"));
    assert_null(strstr(errstr, "secret"));
}

static void test_url_parse(void **state)
{
    store_url_t u;
    char errstr[256];

    (void)state;
    assert_int_equal(store_url_parse("mysql://us%40er:p%3Aa%2Fs@s@db.example:"
                                     "3307/my%20db?sslmode=require&x=%41",
                                     "db.url", &u, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(u.scheme, "mysql");
    assert_string_equal(u.user, "us@er");
    assert_string_equal(u.password, "p:a/s@s");
    assert_string_equal(u.host, "db.example");
    assert_int_equal(u.port, 3307);
    assert_string_equal(u.path, "my db");
    assert_string_equal(u.query, "sslmode=require&x=%41");

    assert_int_equal(store_url_parse("postgresql://[::1]:5433/db", "db.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 5433);
    assert_string_equal(u.user, "");
    assert_int_equal(
        store_url_parse("redis://h", "redis.url", &u, errstr, sizeof(errstr)),
        CHP_OK);
    assert_string_equal(u.host, "h");
    assert_int_equal(u.port, 0);
    assert_string_equal(u.path, "");
    assert_int_equal(store_url_parse("redis://:pw@h:1/3", "redis.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(u.user, "");
    assert_string_equal(u.password, "pw");
    assert_string_equal(u.path, "3");

    /* SQLite: the rest is the path, as written. */
    assert_int_equal(store_url_parse("sqlite://chaperone.db", "db.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(u.path, "chaperone.db");
    assert_int_equal(store_url_parse("sqlite:///var/lib/c%20d.db", "db.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(u.path, "/var/lib/c%20d.db");

    /* Errors name the key and never show the password. */
    assert_int_equal(
        store_url_parse("sqlite://", "db.url", &u, errstr, sizeof(errstr)),
        CHP_ERR_PARSE);
    assert_non_null(strstr(errstr, "db.url"));
    assert_int_equal(store_url_parse("mysql://u:secret@h:99999/d", "db.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_ERR_PARSE);
    assert_non_null(strstr(errstr, "port"));
    assert_null(strstr(errstr, "secret"));
    assert_int_equal(store_url_parse("mysql://u:se%zzcret@h/d", "db.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_ERR_PARSE);
    assert_non_null(strstr(errstr, "password"));
    assert_null(strstr(errstr, "se%zzcret"));
    assert_int_equal(store_url_parse("mysql://u:x@:3306/d", "db.url", &u,
                                     errstr, sizeof(errstr)),
                     CHP_ERR_PARSE);
    assert_non_null(strstr(errstr, "host"));
    assert_int_equal(store_url_parse("mysql://h:12a/d", "db.url", &u, errstr,
                                     sizeof(errstr)),
                     CHP_ERR_PARSE);
    assert_int_equal(store_url_parse("mysql://h/d%00x", "db.url", &u, errstr,
                                     sizeof(errstr)),
                     CHP_ERR_PARSE);
    assert_int_equal(
        store_url_parse("mysql://h/d%4", "db.url", &u, errstr, sizeof(errstr)),
        CHP_ERR_PARSE);
    assert_int_equal(
        store_url_parse("nothing", "redis.url", &u, errstr, sizeof(errstr)),
        CHP_ERR_PARSE);
    assert_non_null(strstr(errstr, "redis.url"));
}

/* A server URL that names no database, or has options MySQL does not
 * take, is refused before any connection attempt. */
static void test_bad_server_urls(void **state)
{
    store_t *s = NULL;
    char errstr[256];

    (void)state;
    assert_int_equal(
        store_open("mysql://u:p@127.0.0.1:1", &s, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(errstr, "db.url"));
    assert_int_equal(
        store_open("mysql://u:p@127.0.0.1:1/d?x=1", &s, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_int_equal(
        store_open("postgresql://u:p@127.0.0.1:1", &s, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_null(s);
    /* libpq reads the options; one it does not know is refused up front,
     * naming db.url (and never the password). */
    assert_int_equal(store_open("postgresql://u:secret@127.0.0.1:1/d?"
                                "nosuchoption=1",
                                &s, errstr, sizeof(errstr)),
                     CHP_ERR_INVALID_ARG);
    assert_null(s);
    assert_non_null(strstr(errstr, "db.url"));
    assert_non_null(strstr(errstr, "nosuchoption"));
    assert_null(strstr(errstr, "secret"));
    /* Nothing listens on port 1: a prompt CHP_ERR_DB, not a hang. */
    assert_int_equal(
        store_open("mysql://u:p@127.0.0.1:1/d", &s, errstr, sizeof(errstr)),
        CHP_ERR_DB);
    assert_non_null(strstr(errstr, "127.0.0.1:1"));
    assert_int_equal(store_open("postgresql://u:p@127.0.0.1:1/d", &s, errstr,
                                sizeof(errstr)),
                     CHP_ERR_DB);
    assert_null(s);
}

/* ------------------------------------------------------------ rows */

static void test_row_from_msg(void **state)
{
    chp_auditmsg_t m;
    store_row_t r, r2;
    store_stats_t st;

    (void)state;
    chp_auditmsg_init(&m);
    snprintf(m.topic, sizeof(m.topic), "orders");
    snprintf(m.tier, sizeof(m.tier), "producer");
    snprintf(m.datacenter, sizeof(m.datacenter), "dc1");
    snprintf(m.hostname, sizeof(m.hostname), "web-1");
    m.time_begin = 600;
    m.time_end = 1200;
    m.count = 10;
    m.negative_latency_count = 2;
    m.mean_latency = 4.5; /* the original's: no latencySumMs */
    m.latency95 = 9;
    m.latency99 = 10;
    m.max_latency = 11;
    assert_int_equal(store_row_from_msg(&r, &m, true), CHP_OK);
    assert_string_equal(r.host, "combined");
    assert_true(r.latency_sum_ms == 36);
    assert_null(r.sketch);
    assert_int_equal(store_row_from_msg(&r2, &m, false), CHP_OK);
    assert_string_equal(r2.host, "web-1");
    assert_false(store_row_same_key(&r, &r2));
    store_row_stats(&r, &st);
    assert_true(st.mean == 4.5);
    assert_true(st.p99 == 10);

    /* With a sketch: the row gets its own copy. */
    m.sketch = sc_sketch_range(1, 100, 2);
    m.count = 102;
    m.latency_sum_ms = 5050 - 10;
    assert_int_equal(store_row_from_msg(&r2, &m, true), CHP_OK);
    assert_non_null(r2.sketch);
    assert_ptr_not_equal(r2.sketch, m.sketch);
    assert_true(store_row_same_key(&r, &r2));
    assert_int_equal(store_row_add(&r, &r2), CHP_OK);
    assert_int_equal(r.count, 112);
    assert_non_null(r.sketch);
    assert_ptr_not_equal(r.sketch, r2.sketch);
    /* 100 of 112 messages in the sketch: percentiles stay conservative. */
    store_row_stats(&r, &st);
    assert_true(st.p99 == fmax(chp_sketch_quantile(r.sketch, 0.99), 10));
    assert_true(st.p99 > 97);
    assert_true(st.max == 100);
    assert_true(fabs(st.mean - (36.0 + 5040) / (112 - 4)) < 1e-9);
    store_row_clear(&r);
    store_row_clear(&r2);
    assert_null(r.sketch);
    chp_auditmsg_clear(&m);
}

/* ------------------------------------------------------------ SQLite */

static sqlite3 *raw_open(void)
{
    sqlite3 *db = NULL;

    assert_int_equal(sqlite3_open(url + strlen("sqlite://"), &db), SQLITE_OK);
    return db;
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int64_t v;

    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

/* WAL mode, schema version 1, the index, and the derived columns a SQL
 * user reads (mean_latency, updated_at). */
static void test_raw_schema(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r = sc_row(c, "raw", 600, "t", 12);
    sqlite3 *db;
    sqlite3_stmt *st = NULL;
    int64_t now = (int64_t)time(NULL);

    r.negative_latency_count = 2;
    r.latency_sum_ms = 25;
    SC_FLUSH_OK(c, &r, 1, NULL, 0, NULL, 0);
    db = raw_open();
    assert_int_equal(raw_int(db, "SELECT journal_mode = 'wal' FROM "
                                 "pragma_journal_mode"),
                     1);
    assert_int_equal(raw_int(db, "SELECT MAX(version) FROM schema_version"),
                     STORE_SCHEMA_VERSION);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE "
                                 "name = 'audit_rows_topic_time'"),
                     1);
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT mean_latency, updated_at FROM "
                                        "audit_rows WHERE topic = ?1",
                                        -1, &st, NULL),
                     SQLITE_OK);
    sqlite3_bind_text(st, 1, r.topic, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_true(sqlite3_column_double(st, 0) == 2.5);
    assert_true(sqlite3_column_int64(st, 1) >= now - 5 &&
                sqlite3_column_int64(st, 1) <= now + 5);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* A database migrated by a newer chaperone is refused, not written. */
static void test_newer_schema(void **state)
{
    char dburl[160], errstr[256];
    store_t *s = NULL;
    sqlite3 *db = NULL;

    (void)state;
    snprintf(dburl, sizeof(dburl), "sqlite://%s/newer.db", dir);
    assert_int_equal(store_open(dburl, &s, errstr, sizeof(errstr)), CHP_OK);
    store_close(s);
    assert_int_equal(sqlite3_open(dburl + strlen("sqlite://"), &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO schema_version VALUES (99)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    assert_int_equal(store_open(dburl, &s, errstr, sizeof(errstr)), CHP_ERR_DB);
    assert_null(s);
    assert_non_null(strstr(errstr, "99"));
}

/* A schema-1 database (as the previous release wrote it) migrates to 2:
 * rows keep their counts and get zero side counts, and the offset stored
 * without a cluster is adopted by the first cluster that asks for it,
 * after which another cluster has none. */
static void test_migrate_from_v1(void **state)
{
    static const char *const v1[] = {
        "CREATE TABLE schema_version (version INTEGER NOT NULL PRIMARY KEY)",
        "CREATE TABLE audit_rows (time_begin INTEGER NOT NULL, time_end "
        "INTEGER NOT NULL, topic TEXT NOT NULL, tier TEXT NOT NULL, "
        "datacenter TEXT NOT NULL, host TEXT NOT NULL, count INTEGER NOT "
        "NULL, total_bytes INTEGER NOT NULL, no_time_count INTEGER NOT NULL, "
        "malformed_count INTEGER NOT NULL, negative_latency_count INTEGER NOT "
        "NULL, latency_sum_ms REAL NOT NULL, mean_latency REAL NOT NULL, "
        "latency_p95 REAL NOT NULL, latency_p99 REAL NOT NULL, max_latency "
        "REAL NOT NULL, sketch TEXT, updated_at INTEGER NOT NULL, PRIMARY KEY "
        "(time_begin, topic, tier, datacenter, host))",
        "CREATE TABLE seen_uuids (uuid TEXT NOT NULL PRIMARY KEY, seen_at "
        "INTEGER NOT NULL)",
        "CREATE TABLE source_offsets (topic TEXT NOT NULL, part INTEGER NOT "
        "NULL, next_offset INTEGER NOT NULL, PRIMARY KEY (topic, part))",
        "INSERT INTO schema_version VALUES (1)",
        "INSERT INTO audit_rows VALUES (600, 1200, 'old', 'producer', 'dc1', "
        "'combined', 41, 4100, 0, 0, 0, 0, 0, 0, 0, 0, NULL, 1)",
        "INSERT INTO source_offsets VALUES ('audit', 0, 1234)",
        NULL,
    };
    char dburl[160], errstr[256];
    store_t *s = NULL;
    sqlite3 *db = NULL;
    sc_ctx_t c = {.name = "sqlite"};
    sc_rows_t *got = calloc(1, sizeof(*got));
    store_offset_t o = {
        .topic = "audit", .next_offset = 1300, .prev_offset = 1234};
    store_row_t r;

    (void)state;
    assert_non_null(got);
    snprintf(dburl, sizeof(dburl), "sqlite://%s/v1.db", dir);
    assert_int_equal(sqlite3_open(dburl + strlen("sqlite://"), &db), SQLITE_OK);
    for (int i = 0; v1[i]; i++)
        assert_int_equal(sqlite3_exec(db, v1[i], NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    assert_int_equal(store_open(dburl, &s, errstr, sizeof(errstr)), CHP_OK);
    c.s = s;
    got->prefix = "old";
    sc_query(&c, "old", 0, 5000, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 41);
    assert_int_equal(got->v[0].delivery_failed_count, 0);
    sc_rows_clear(got);
    assert_int_equal(sc_offset_of(&c, "cluster-a", "audit", 0), 1234);
    assert_int_equal(sc_offset_of(&c, "cluster-b", "audit", 0), -1);
    assert_int_equal(sc_offset_of(&c, "cluster-a", "audit", 0), 1234);
    /* The adopted offset is cluster-a's to move on. */
    memset(&r, 0, sizeof(r));
    r = sc_row(&c, "old", 600, "producer", 1);
    snprintf(r.topic, sizeof(r.topic), "old");
    assert_int_equal(sc_flush_as(&c, "cluster-a", true, &r, 1, NULL, 0, &o, 1,
                                 errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(sc_offset_of(&c, "cluster-a", "audit", 0), 1300);
    sc_query(&c, "old", 0, 5000, got);
    assert_int_equal(got->v[0].count, 42);
    sc_rows_clear(got);
    store_close(s);
    free(got);
}

/* sqlite://name.db is relative to the working directory. */
static void test_relative_path(void **state)
{
    char cwd[4096], path[160], errstr[256];
    store_t *s = NULL;
    struct stat sb;

    (void)state;
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    assert_int_equal(
        store_open("sqlite://relative.db", &s, errstr, sizeof(errstr)), CHP_OK);
    assert_int_equal(chdir(cwd), 0);
    store_close(s);
    snprintf(path, sizeof(path), "%s/relative.db", dir);
    assert_int_equal(stat(path, &sb), 0);
}

/* Two handles on one file (a collector and `chaperone report`, or two
 * collectors) take turns; counts from both add up. */
static void test_two_writers(void **state)
{
    sc_ctx_t *c = *state;
    sc_ctx_t c2 = *c;
    store_row_t r = sc_row(c, "two", 600, "t", 1);
    char errstr[256];
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    assert_int_equal(store_open(c->url, &c2.s, errstr, sizeof(errstr)), CHP_OK);
    for (int i = 0; i < 20; i++) {
        SC_FLUSH_OK(c, &r, 1, NULL, 0, NULL, 0);
        SC_FLUSH_OK(&c2, &r, 1, NULL, 0, NULL, 0);
    }
    sc_query(&c2, r.topic, 0, 1200, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 40);
    store_close(c2.s);
    sc_rows_clear(got);
    free(got);
}

static void remove_dir(void)
{
    static const char *const files[] = {
        "store.db",    "store.db-wal",    "store.db-shm",
        "newer.db",    "newer.db-wal",    "newer.db-shm",
        "relative.db", "relative.db-wal", "relative.db-shm",
    };
    char path[160];

    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    static sc_ctx_t ctx = {.name = "sqlite", .private_db = true};
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_for_url),
        cmocka_unit_test(test_url_parse),
        cmocka_unit_test(test_bad_server_urls),
        cmocka_unit_test(test_row_from_msg),
        SC_TESTS(&ctx),
        cmocka_unit_test_prestate_setup_teardown(test_raw_schema, sc_setup,
                                                 sc_teardown, &ctx),
        cmocka_unit_test_prestate_setup_teardown(test_two_writers, sc_setup,
                                                 sc_teardown, &ctx),
        cmocka_unit_test(test_newer_schema),
        cmocka_unit_test(test_migrate_from_v1),
        cmocka_unit_test(test_relative_path),
    };
    int rc;

    snprintf(dir, sizeof(dir), "/tmp/chp-store-XXXXXX");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(url, sizeof(url), "sqlite://%s/store.db", dir);
    ctx.url = url;
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    remove_dir();
    return rc;
}
