/* Integration: the collector's flush (src/collector/flush.c, the code the
 * daemon runs) against the real servers of scripts/services.sh, with faults
 * injected through a TCP proxy in this process (tests/support/proxy.h):
 *  - the connection cut after the COMMIT reached the server, before the
 *    client heard the answer ("uncertain COMMIT"), on MariaDB and
 *    PostgreSQL, with dedup=db and dedup=redis: the retry must not count
 *    the batch again;
 *  - Redis down during a flush (dedup=redis): the flush fails, is retried
 *    once Redis is back, nothing lost nor doubled; Redis cut off while the
 *    committed batch's uuids are marked: the flush stands;
 *  - a stale collector (its partition taken over) flushing late: refused.
 * The audit topic is simulated: the test hands the collector records from
 * a position, and after a dropped (stale) batch resumes from the stored
 * offset, as a rebalance would.  Totals are exact.  Exits 77 when neither
 * CHP_TEST_MYSQL_URL nor CHP_TEST_PG_URL is set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "collector/collector.h"
#include "collector/dedup_redis.h"
#include "proxy.h"
#include "store_cases.h"

#define N_RECORDS 80
#define PART      0

static const char *redis_url;

typedef struct fault_ctx {
    sc_ctx_t sc; /* a direct connection, to check what the server holds */
    bool redis;  /* dedup=redis, else dedup=db */
} fault_ctx_t;

/* The simulated audit topic: record i has count i + 1 and its own uuid. */
typedef struct topic {
    char name[CHP_NAME_MAX];
    char *payload[N_RECORDS];
    size_t len[N_RECORDS];
    uint64_t produced;
} topic_t;

static void topic_init(topic_t *t, const sc_ctx_t *c)
{
    memset(t, 0, sizeof(*t));
    sc_topic(c, "audit", t->name);
    for (int i = 0; i < N_RECORDS; i++) {
        chp_auditmsg_t m;

        chp_auditmsg_init(&m);
        sc_topic(c, "src", m.topic);
        m.time_begin = 600 * (1 + i % 3);
        m.time_end = m.time_begin + 600;
        m.count = (uint64_t)i + 1;
        m.total_bytes = m.count * 10;
        m.delivery_failed_count = i % 2;
        m.audit_dropped_count = i % 3 == 0;
        m.aborted_count = 2;
        snprintf(m.tier, sizeof(m.tier), "producer");
        snprintf(m.datacenter, sizeof(m.datacenter), "dc1");
        snprintf(m.hostname, sizeof(m.hostname), "h%d", i % 2);
        chp_uuid_generate(m.uuid);
        m.version = CHP_AUDITMSG_VERSION;
        assert_int_equal(chp_auditmsg_encode(&m, &t->payload[i], &t->len[i]),
                         CHP_OK);
        t->produced += m.count;
        chp_auditmsg_clear(&m);
    }
}

static void topic_free(topic_t *t)
{
    for (int i = 0; i < N_RECORDS; i++)
        free(t->payload[i]);
}

/* A collector without Kafka: the real batch, flush, store and Redis. */
static void coll_init(collector_t *c, const char *db_url, const char *rurl,
                      const char *cluster)
{
    char errstr[512] = "";

    memset(c, 0, sizeof(*c));
    snprintf(c->cluster, sizeof(c->cluster), "%s", cluster);
    c->retry_max_ms = 1000;
    assert_non_null(c->metrics = metrics_new());
    assert_non_null(c->health = health_new(c->metrics, NULL));
    assert_non_null(c->batch = coll_batch_new(true));
    if (store_open(db_url, &c->store, errstr, sizeof(errstr)))
        fail_msg("store_open: %s", errstr);
    if (rurl && dedup_redis_new(rurl, 3600, &c->redis, errstr, sizeof(errstr)))
        fail_msg("dedup_redis_new: %s", errstr);
}

static void coll_fini(collector_t *c)
{
    coll_batch_destroy(c->batch);
    health_destroy(c->health);
    metrics_destroy(c->metrics);
    if (c->redis)
        dedup_redis_destroy(c->redis);
    store_close(c->store);
    free(c->stored);
}

/* What an assignment does: the position from the store. */
static int64_t assign(collector_t *c, const topic_t *t)
{
    char errstr[512] = "";
    int64_t next = -2;

    if (store_offset(c->store, c->cluster, t->name, PART, &next, errstr,
                     sizeof(errstr)))
        fail_msg("offset: %s", errstr);
    assert_int_equal(coll_batch_set_position(c->batch, t->name, PART, next),
                     CHP_OK);
    return next < 0 ? 0 : next;
}

static void feed(collector_t *c, const topic_t *t, int64_t from, int64_t to)
{
    char why[256];
    coll_add_t res;

    for (int64_t i = from; i < to; i++) {
        assert_int_equal(coll_batch_add(c->batch, t->name, PART, i,
                                        t->payload[i], t->len[i], &res, why,
                                        sizeof(why)),
                         CHP_OK);
        assert_int_equal(res, COLL_ADDED);
    }
}

/* Flushes until the batch is stored or dropped as stale (a bounded number
 * of tries: the faults here clear at once). */
static void flush_until_done(collector_t *c)
{
    for (int i = 0; coll_batch_records(c->batch) > 0; i++) {
        assert_true(i < 20);
        if (coll_flush(c) != CHP_OK)
            tu_sleep_ms(50);
    }
}

/* Sums of every stored row of the topic's source. */
static void totals(sc_ctx_t *c, uint64_t *count, uint64_t *failed,
                   uint64_t *dropped, uint64_t *aborted)
{
    sc_rows_t *got = calloc(1, sizeof(*got));
    char src[CHP_NAME_MAX];

    assert_non_null(got);
    sc_topic(c, "src", src);
    got->prefix = src;
    sc_query(c, src, 0, 10000, got);
    *count = *failed = *dropped = *aborted = 0;
    for (size_t i = 0; i < got->n; i++) {
        *count += got->v[i].count;
        *failed += got->v[i].delivery_failed_count;
        *dropped += got->v[i].audit_dropped_count;
        *aborted += got->v[i].aborted_count;
    }
    sc_rows_clear(got);
    free(got);
}

static void test_uncertain_commit(void **state)
{
    fault_ctx_t *f = *state;
    sc_ctx_t *c = &f->sc;
    proxy_t px, rpx;
    char host[256], purl[512], rurl[512] = "", cluster[64], why[512];
    collector_t a, b;
    topic_t t;
    int64_t pos;
    uint64_t count, failed, dropped, aborted;
    int port;

    if (f->redis && !redis_url)
        skip();
    topic_init(&t, c);
    snprintf(cluster, sizeof(cluster), "%.40s-cluster", c->prefix);
    url_hostport(c->url, host, &port, 0);
    px_start(&px, host, port);
    px_url(c->url, px.port, purl, sizeof(purl));
    if (f->redis) {
        url_hostport(redis_url, host, &port, 6379);
        px_start(&rpx, host, port);
        px_url(redis_url, rpx.port, rurl, sizeof(rurl));
    }
    coll_init(&a, purl, f->redis ? rurl : NULL, cluster);

    /* 0..20: a plain flush. */
    pos = assign(&a, &t);
    assert_int_equal(pos, 0);
    feed(&a, &t, 0, 20);
    assert_int_equal(coll_flush(&a), CHP_OK);

    /* 20..40: the COMMIT reaches the server, its answer never comes
     * back.  The retry finds the offset moved on: the batch is dropped,
     * and the collector resumes from the stored offset. */
    feed(&a, &t, 20, 40);
    px_cut_after(&px, "COMMIT");
    assert_int_equal(coll_flush(&a), CHP_ERR_DB);
    assert_int_equal(atomic_load(&px.cuts), 1);
    assert_int_equal(sc_offset_of(c, cluster, t.name, PART), 40);
    assert_int_equal(coll_flush(&a), CHP_OK);
    assert_int_equal(coll_batch_records(a.batch), 0);
    pos = assign(&a, &t);
    assert_int_equal(pos, 40);

    /* 40..50 with Redis unreachable during the flush (dedup=redis): it
     * fails, and succeeds once Redis is back. */
    feed(&a, &t, pos, 50);
    if (f->redis) {
        px_command(&rpx, PX_DOWN);
        assert_int_equal(coll_flush(&a), CHP_ERR_DB);
        assert_int_equal(coll_flush(&a), CHP_ERR_DB);
        assert_int_equal(sc_offset_of(c, cluster, t.name, PART), 40);
        /* /health says why. */
        assert_false(health_check(a.health, why, sizeof(why)));
        assert_non_null(strstr(why, "redis"));
        assert_int_equal(health_failures(a.health), 2);
        px_command(&rpx, PX_UP);
    }
    flush_until_done(&a);
    assert_true(health_check(a.health, why, sizeof(why)));
    assert_int_equal(sc_offset_of(c, cluster, t.name, PART), 50);

    /* 50..60: collector a holds a batch when b takes the partition over,
     * reads 50 and stores 50..70 first; a's late flush is refused. */
    feed(&a, &t, 50, 60);
    coll_init(&b, c->url, f->redis ? redis_url : NULL, cluster);
    pos = assign(&b, &t);
    assert_int_equal(pos, 50);
    feed(&b, &t, pos, 70);
    flush_until_done(&b);
    assert_int_equal(coll_flush(&a), CHP_OK); /* stale: dropped */
    assert_int_equal(coll_batch_records(a.batch), 0);
    assert_int_equal(sc_offset_of(c, cluster, t.name, PART), 70);
    coll_fini(&b);

    /* a gets it back and finishes the topic.  With dedup=redis the marking
     * after the commit is cut off: the counts and offsets are stored, the
     * flush succeeds (the marks only guard against later copies). */
    pos = assign(&a, &t);
    assert_int_equal(pos, 70);
    feed(&a, &t, pos, N_RECORDS);
    if (f->redis)
        px_cut_after(&rpx, "SET");
    assert_int_equal(coll_flush(&a), CHP_OK);
    assert_int_equal(coll_batch_records(a.batch), 0);
    if (f->redis)
        assert_int_equal(atomic_load(&rpx.cuts), 1);
    coll_fini(&a);
    px_stop(&px);
    if (f->redis)
        px_stop(&rpx);

    totals(c, &count, &failed, &dropped, &aborted);
    fprintf(stderr,
            "%s dedup=%s: produced count %" PRIu64 ", stored %" PRIu64
            "; deliveryFailed %" PRIu64 ", auditDropped %" PRIu64
            ", aborted %" PRIu64 "\n",
            c->name, f->redis ? "redis" : "db", t.produced, count, failed,
            dropped, aborted);
    assert_int_equal(count, t.produced);
    assert_int_equal(failed, N_RECORDS / 2);
    assert_int_equal(dropped, (N_RECORDS + 2) / 3);
    assert_int_equal(aborted, 2 * N_RECORDS);
    assert_int_equal(sc_offset_of(c, cluster, t.name, PART), N_RECORDS);
    topic_free(&t);
}

static int setup(void **state)
{
    return sc_setup(state);
}

static int teardown(void **state)
{
    return sc_teardown(state);
}

static int run(const char *name, const char *url)
{
    static fault_ctx_t db[2], rd[2];
    static int k;
    fault_ctx_t *a = &db[k], *b = &rd[k];
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_prestate_setup_teardown(test_uncertain_commit, setup,
                                                 teardown, a),
        cmocka_unit_test_prestate_setup_teardown(test_uncertain_commit, setup,
                                                 teardown, b),
    };

    k++;
    a->sc = (sc_ctx_t){.name = name, .url = url};
    b->sc = a->sc;
    b->redis = true;
    return _cmocka_run_group_tests(name, tests, 2, NULL, NULL);
}

int main(void)
{
    const char *my = getenv("CHP_TEST_MYSQL_URL");
    const char *pg = getenv("CHP_TEST_PG_URL");
    int rc = 0;

    redis_url = getenv("CHP_TEST_REDIS_URL");
    if (redis_url && !*redis_url)
        redis_url = NULL;
    if ((!my || !*my) && (!pg || !*pg))
        tu_skip("no CHP_TEST_MYSQL_URL or CHP_TEST_PG_URL; "
                "eval \"$(scripts/services.sh env)\"");
    if (my && *my)
        rc += run("mysql", my);
    if (pg && *pg)
        rc += run("postgresql", pg);
    return rc ? 1 : 0;
}
