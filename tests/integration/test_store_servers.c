/* Integration tests: the collector's store on the real servers of
 * scripts/services.sh -- the same cases (tests/store_cases.h) on MariaDB
 * (CHP_TEST_MYSQL_URL), PostgreSQL (CHP_TEST_PG_URL) and SQLite, each
 * server skipped alone when its URL is unset; connection loss and outages
 * through a TCP proxy in this process; and dedup=redis (CHP_TEST_REDIS_URL).
 * Exits 77 (skipped) when no server URL is set at all. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <hiredis/hiredis.h>

#include "collector/dedup_redis.h"
#include "collector/store_pgsql.h"
#include "proxy.h"
#include "store_cases.h"

/* ------------------------------------------------------------ reconnect */

/* A store survives losing its connection (the next call reconnects), and
 * while the server is unreachable every call fails fast with CHP_ERR_DB;
 * nothing that failed is counted. */
static void sc_reconnect(void **state)
{
    sc_ctx_t *c = *state;
    sc_ctx_t pc = *c;
    proxy_t px;
    char host[256], purl[512], errstr[512] = "";
    char id[8][CHP_UUID_MAX];
    const char *up[8];
    store_row_t r = sc_row(c, "rc", 600, "t", 1);
    int port, fails = 0, k = 0;
    int64_t t0, v;
    chp_err_t err;
    bool seen;
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    for (int i = 0; i < 8; i++) {
        sc_uuid(c, i, id[i]);
        up[i] = id[i];
    }
    url_hostport(c->url, host, &port, 0);
    px_start(&px, host, port);
    px_url(c->url, px.port, purl, sizeof(purl));
    assert_int_equal(store_open(purl, &pc.s, errstr, sizeof(errstr)), CHP_OK);
    SC_FLUSH_OK(&pc, &r, 1, up + k++, 1, NULL, 0);

    /* Connection cut between calls: at most one call fails. */
    px_command(&px, PX_DROP);
    while ((err = sc_flush(&pc, &r, 1, up + k, 1, NULL, 0, errstr,
                           sizeof(errstr))) != CHP_OK) {
        assert_int_equal(err, CHP_ERR_DB);
        assert_true(++fails <= 1);
    }
    /* The call that found the connection dead failed; this one made a
     * new connection. */
    assert_int_equal(fails, 1);
    k++;

    /* Server unreachable: prompt errors from every call. */
    px_command(&px, PX_DOWN);
    t0 = tu_now_ms();
    assert_int_equal(
        sc_flush(&pc, &r, 1, up + k, 1, NULL, 0, errstr, sizeof(errstr)),
        CHP_ERR_DB);
    assert_true(errstr[0] != '\0');
    assert_int_equal(
        sc_flush(&pc, &r, 1, up + k, 1, NULL, 0, errstr, sizeof(errstr)),
        CHP_ERR_DB);
    assert_int_equal(store_seen(pc.s, up, 1, &seen, errstr, sizeof(errstr)),
                     CHP_ERR_DB);
    assert_int_equal(
        store_offset(pc.s, SC_CLUSTER, "x", 0, &v, errstr, sizeof(errstr)),
        CHP_ERR_DB);
    assert_true(tu_now_ms() - t0 < 10000);

    /* Back: the next call reconnects. */
    px_command(&px, PX_UP);
    SC_FLUSH_OK(&pc, &r, 1, up + k++, 1, NULL, 0);
    store_close(pc.s);
    px_stop(&px);

    sc_query(c, r.topic, 0, 1200, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 3);
    sc_rows_clear(got);
    free(got);
}

/* PostgreSQL: libpq gets db.url as it is, so its own options work (and
 * win over our defaults: application_name is seen by the server), and the
 * scheme may be written in capitals. */
static void pg_url_as_is(void **state)
{
    sc_ctx_t *c = *state;
    char url[1024], errstr[512] = "";
    store_t *s = NULL;
    bool seen;
    const char *u = "x";
    const char *sep = strchr(c->url, '?') ? "&" : "?";

    snprintf(url, sizeof(url),
             "PostgreSQL%s%sapplication_name=chp-url-test"
             "&connect_timeout=7",
             strstr(c->url, "://"), sep);
    assert_int_equal(store_open(url, &s, errstr, sizeof(errstr)), CHP_OK);
    assert_int_equal(store_seen(s, &u, 1, &seen, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_false(seen);
    assert_int_equal(store_kind(s), STORE_PGSQL);
    assert_string_equal(store_scheme(s), "postgresql");
    assert_string_equal(
        PQparameterStatus(((pg_store_t *)s)->db, "application_name"),
        "chp-url-test");
    store_close(s);
}

static int run_backend(sc_ctx_t *ctx, bool server)
{
    const struct CMUnitTest tests[] = {
        SC_TESTS(ctx),
        cmocka_unit_test_prestate_setup_teardown(sc_reconnect, sc_setup,
                                                 sc_teardown, ctx),
    };
    size_t n = sizeof(tests) / sizeof(tests[0]) - (server ? 0 : 1);

    return _cmocka_run_group_tests(ctx->name, tests, n, NULL, NULL);
}

/* ------------------------------------------------------------ redis */

static const char *redis_url;

static dedup_redis_t *redis_new(const char *url, int64_t ttl)
{
    dedup_redis_t *d = NULL;
    char errstr[256] = "";

    if (dedup_redis_new(url, ttl, &d, errstr, sizeof(errstr)))
        fail_msg("dedup_redis_new: %s", errstr);
    return d;
}

static void redis_ids(char (*ids)[CHP_UUID_MAX], const char **up, int n)
{
    for (int i = 0; i < n; i++) {
        char u[CHP_UUID_MAX];

        chp_uuid_generate(u);
        snprintf(ids[i], CHP_UUID_MAX, "rt-%s", u);
        up[i] = ids[i];
    }
}

/* seen reports exactly what was marked, across MGET chunks. */
static void test_redis_seen_mark(void **state)
{
    enum { N = 1200 };
    dedup_redis_t *d = redis_new(redis_url, 3600);
    char(*ids)[CHP_UUID_MAX] = calloc(N, CHP_UUID_MAX);
    const char **up = calloc(N, sizeof(*up));
    const char **odd = calloc(N / 2, sizeof(*odd));
    bool *seen = calloc(N, sizeof(*seen));
    char errstr[256];

    (void)state;
    assert_non_null(ids);
    assert_non_null(up);
    assert_non_null(odd);
    assert_non_null(seen);
    redis_ids(ids, up, N);
    assert_int_equal(dedup_redis_seen(d, up, N, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    for (int i = 0; i < N; i++)
        assert_false(seen[i]);
    for (int i = 0; i < N / 2; i++)
        odd[i] = up[2 * i + 1];
    assert_int_equal(dedup_redis_mark(d, odd, N / 2, errstr, sizeof(errstr)),
                     CHP_OK);
    /* Marking again is harmless (NX). */
    assert_int_equal(dedup_redis_mark(d, odd, 3, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(dedup_redis_seen(d, up, N, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 2 == 1);
    assert_int_equal(dedup_redis_seen(d, up, 0, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(dedup_redis_mark(d, up, 0, errstr, sizeof(errstr)),
                     CHP_OK);
    dedup_redis_destroy(d);
    free(seen);
    free(odd);
    free(up);
    free(ids);
}

/* Marks carry the TTL and expire with it. */
static void test_redis_ttl(void **state)
{
    char ids[2][CHP_UUID_MAX], key[128], host[256];
    const char *up[2];
    dedup_redis_t *d = redis_new(redis_url, 3600),
                  *d1 = redis_new(redis_url, 1);
    redisContext *rc;
    redisReply *r;
    char errstr[256];
    bool seen[2];
    int port;

    (void)state;
    redis_ids(ids, up, 2);
    assert_int_equal(dedup_redis_mark(d, up, 1, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(dedup_redis_mark(d1, up + 1, 1, errstr, sizeof(errstr)),
                     CHP_OK);

    url_hostport(redis_url, host, &port, 6379);
    rc = redisConnect(host, port);
    assert_non_null(rc);
    assert_int_equal(rc->err, 0);
    snprintf(key, sizeof(key), DEDUP_REDIS_PREFIX "%s", up[0]);
    r = redisCommand(rc, "TTL %s", key);
    assert_non_null(r);
    assert_int_equal(r->type, REDIS_REPLY_INTEGER);
    assert_true(r->integer > 3500 && r->integer <= 3600);
    freeReplyObject(r);
    redisFree(rc);

    tu_sleep_ms(2100);
    assert_int_equal(dedup_redis_seen(d, up, 2, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_true(seen[0]);
    assert_false(seen[1]);
    dedup_redis_destroy(d1);
    dedup_redis_destroy(d);
}

static void test_redis_errors(void **state)
{
    dedup_redis_t *d = NULL;
    char errstr[256];
    int64_t t0 = tu_now_ms();

    (void)state;
    assert_int_equal(
        dedup_redis_new("http://h", 60, &d, errstr, sizeof(errstr)),
        CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(errstr, "redis.url"));
    assert_int_equal(dedup_redis_new("redis://127.0.0.1:6379/x", 60, &d, errstr,
                                     sizeof(errstr)),
                     CHP_ERR_INVALID_ARG);
    assert_int_equal(
        dedup_redis_new("redis://127.0.0.1:1", 60, &d, errstr, sizeof(errstr)),
        CHP_ERR_DB);
    assert_non_null(strstr(errstr, "127.0.0.1:1"));
    assert_true(tu_now_ms() - t0 < 5000);
    assert_null(d);
}

/* Redis restarts and outages: one failed call at most, then it
 * reconnects; while down, calls fail fast. */
static void test_redis_reconnect(void **state)
{
    char ids[4][CHP_UUID_MAX], host[256], purl[512], errstr[256];
    const char *up[4];
    dedup_redis_t *d;
    proxy_t px;
    bool seen[4];
    int port, fails = 0;
    int64_t t0;

    (void)state;
    redis_ids(ids, up, 4);
    url_hostport(redis_url, host, &port, 6379);
    px_start(&px, host, port);
    px_url(redis_url, px.port, purl, sizeof(purl));
    d = redis_new(purl, 3600);
    assert_int_equal(dedup_redis_mark(d, up, 1, errstr, sizeof(errstr)),
                     CHP_OK);
    px_command(&px, PX_DROP);
    while (dedup_redis_seen(d, up, 2, seen, errstr, sizeof(errstr)))
        assert_true(++fails <= 1);
    assert_int_equal(fails, 1);
    assert_true(seen[0]);
    assert_false(seen[1]);
    px_command(&px, PX_DOWN);
    t0 = tu_now_ms();
    assert_int_equal(dedup_redis_mark(d, up + 1, 1, errstr, sizeof(errstr)),
                     CHP_ERR_DB);
    assert_int_equal(dedup_redis_seen(d, up, 1, seen, errstr, sizeof(errstr)),
                     CHP_ERR_DB);
    assert_true(tu_now_ms() - t0 < 5000);
    px_command(&px, PX_UP);
    assert_int_equal(dedup_redis_mark(d, up + 1, 1, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(dedup_redis_seen(d, up, 3, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_true(seen[0] && seen[1] && !seen[2]);
    dedup_redis_destroy(d);
    px_stop(&px);
}

/* ------------------------------------------------------------ main */

int main(void)
{
    static sc_ctx_t my = {.name = "mysql"}, pg = {.name = "postgresql"},
                    sq = {.name = "sqlite", .private_db = true};
    const struct CMUnitTest redis_tests[] = {
        cmocka_unit_test(test_redis_seen_mark),
        cmocka_unit_test(test_redis_ttl),
        cmocka_unit_test(test_redis_errors),
        cmocka_unit_test(test_redis_reconnect),
    };
    char dir[64] = "/tmp/chp-store-it-XXXXXX", squrl[128], path[128];
    const char *env;
    int rc = 0, ran = 0;

    if ((env = getenv("CHP_TEST_MYSQL_URL")) && *env) {
        my.url = env;
        rc += run_backend(&my, true);
        ran++;
    } else {
        fprintf(stderr, "SKIP mysql: CHP_TEST_MYSQL_URL is not set\n");
    }
    if ((env = getenv("CHP_TEST_PG_URL")) && *env) {
        const struct CMUnitTest url_tests[] = {
            cmocka_unit_test_prestate(pg_url_as_is, &pg),
        };

        pg.url = env;
        rc += run_backend(&pg, true);
        rc += cmocka_run_group_tests_name("postgresql url", url_tests, NULL,
                                          NULL);
        ran++;
    } else {
        fprintf(stderr, "SKIP postgresql: CHP_TEST_PG_URL is not set\n");
    }
    if ((redis_url = getenv("CHP_TEST_REDIS_URL")) && *redis_url) {
        rc += cmocka_run_group_tests_name("redis", redis_tests, NULL, NULL);
        ran++;
    } else {
        fprintf(stderr, "SKIP redis: CHP_TEST_REDIS_URL is not set\n");
    }
    if (!ran)
        tu_skip("no CHP_TEST_MYSQL_URL, CHP_TEST_PG_URL or CHP_TEST_REDIS_URL; "
                "eval \"$(scripts/services.sh env)\"");
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    snprintf(squrl, sizeof(squrl), "sqlite://%s/store.db", dir);
    sq.url = squrl;
    rc += run_backend(&sq, false);
    for (const char *const *f =
             (const char *const[]){"store.db", "store.db-wal", "store.db-shm",
                                   NULL};
         *f; f++) {
        snprintf(path, sizeof(path), "%s/%s", dir, *f);
        unlink(path);
    }
    rmdir(dir);
    return rc ? 1 : 0;
}
