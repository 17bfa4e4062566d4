/*
 * store_cases.h - the one body of store tests (src/collector/store.h), run
 * by tests/unit/test_store_sqlite.c on a private SQLite file and by
 * tests/integration/test_store_servers.c on MariaDB, PostgreSQL and SQLite.
 *
 * The servers are shared by every test of a run and keep their data, so
 * each case writes under topic names unique to it (sc_ctx_t.prefix) and
 * its retention case touches only rows from before 1970, which nobody else
 * writes.  Cases that would delete other tests' data (uuid retention) run
 * only where ctx->private_db says the database is ours alone.
 */
#ifndef CHP_TESTS_STORE_CASES_H
#define CHP_TESTS_STORE_CASES_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store.h"
#include "testutil.h"

typedef struct sc_ctx {
    const char *name; /* "sqlite", "mysql", "postgresql" */
    const char *url;
    bool private_db; /* nobody else uses this database */
    store_t *s;
    char prefix[96]; /* unique per case */
} sc_ctx_t;

/* ------------------------------------------------------------ helpers */

/* What store_query() handed out, copied (sketch included). */
typedef struct sc_rows {
    store_row_t v[1024];
    size_t n;
    const char *prefix; /* keep only topics starting with it (NULL: all) */
} sc_rows_t;

static TU_UNUSED void sc_rows_cb(const store_row_t *row, void *opaque)
{
    sc_rows_t *r = opaque;

    if (r->prefix && strncmp(row->topic, r->prefix, strlen(r->prefix)) != 0)
        return;
    assert_true(r->n < sizeof(r->v) / sizeof(r->v[0]));
    r->v[r->n] = *row;
    r->v[r->n].sketch = row->sketch ? chp_sketch_dup(row->sketch) : NULL;
    r->n++;
}

typedef struct sc_topics {
    char v[8][CHP_NAME_MAX];
    size_t n;
    const char *prefix;
} sc_topics_t;

static TU_UNUSED void sc_topics_cb(const char *topic, void *opaque)
{
    sc_topics_t *t = opaque;

    if (strncmp(topic, t->prefix, strlen(t->prefix)) != 0)
        return;
    assert_true(t->n < 8);
    snprintf(t->v[t->n++], CHP_NAME_MAX, "%s", topic);
}

static TU_UNUSED void sc_rows_clear(sc_rows_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        store_row_clear(&r->v[i]);
    r->n = 0;
}

static TU_UNUSED void sc_query(sc_ctx_t *c, const char *topic, int64_t from,
                               int64_t to, sc_rows_t *out)
{
    char errstr[512] = "";

    out->n = 0;
    if (!out->prefix)
        out->prefix = c->prefix;
    assert_int_equal(store_query(c->s, topic, from, to, sc_rows_cb, out, errstr,
                                 sizeof(errstr)),
                     CHP_OK);
}

/* topic = prefix + suffix. */
static TU_UNUSED void sc_topic(const sc_ctx_t *c, const char *suffix,
                               char out[CHP_NAME_MAX])
{
    snprintf(out, CHP_NAME_MAX, "%s%s", c->prefix, suffix);
}

static TU_UNUSED store_row_t sc_row(const sc_ctx_t *c, const char *suffix,
                                    int64_t tb, const char *tier,
                                    uint64_t count)
{
    store_row_t r;

    memset(&r, 0, sizeof(r));
    sc_topic(c, suffix, r.topic);
    r.time_begin = tb;
    r.time_end = tb + 600;
    snprintf(r.tier, sizeof(r.tier), "%s", tier);
    snprintf(r.datacenter, sizeof(r.datacenter), "dc1");
    snprintf(r.host, sizeof(r.host), "combined");
    r.count = count;
    r.total_bytes = count * 100;
    r.no_time_count = count / 10;
    r.malformed_count = count / 20;
    return r;
}

#define SC_CLUSTER "sc-cluster"

/* A flush of cluster with dedup_in_db as given. */
static TU_UNUSED chp_err_t sc_flush_as(sc_ctx_t *c, const char *cluster,
                                       bool dedup_in_db,
                                       const store_row_t *rows, size_t n_rows,
                                       const char *const *uuids, size_t n_uuids,
                                       const store_offset_t *offsets,
                                       size_t n_offsets, char *errstr,
                                       size_t errstr_size)
{
    store_batch_t b = {
        .rows = rows,
        .n_rows = n_rows,
        .uuids = uuids,
        .n_uuids = n_uuids,
        .offsets = offsets,
        .n_offsets = n_offsets,
        .cluster = cluster,
        .dedup_in_db = dedup_in_db,
    };

    return store_flush(c->s, &b, errstr, errstr_size);
}

static TU_UNUSED chp_err_t sc_flush(sc_ctx_t *c, const store_row_t *rows,
                                    size_t n_rows, const char *const *uuids,
                                    size_t n_uuids,
                                    const store_offset_t *offsets,
                                    size_t n_offsets, char *errstr,
                                    size_t errstr_size)
{
    return sc_flush_as(c, SC_CLUSTER, true, rows, n_rows, uuids, n_uuids,
                       offsets, n_offsets, errstr, errstr_size);
}

static TU_UNUSED int64_t sc_offset_of(sc_ctx_t *c, const char *cluster,
                                      const char *topic, int32_t partition)
{
    char errstr[512] = "";
    int64_t v = -2;

    if (store_offset(c->s, cluster, topic, partition, &v, errstr,
                     sizeof(errstr)) != CHP_OK)
        fail_msg("%s: offset: %s", c->name, errstr);
    return v;
}

#define SC_FLUSH_OK(c, rows, n_rows, uuids, n_uuids, offs, n_offs)             \
    do {                                                                       \
        char e_[512] = "";                                                     \
        chp_err_t r_ = sc_flush(c, rows, n_rows, uuids, n_uuids, offs, n_offs, \
                                e_, sizeof(e_));                               \
        if (r_)                                                                \
            fail_msg("%s: flush: %s", (c)->name, e_);                          \
    } while (0)

static TU_UNUSED void sc_uuid(const sc_ctx_t *c, int i, char out[CHP_UUID_MAX])
{
    char u[CHP_UUID_MAX];

    chp_uuid_generate(u);
    /* The case's prefix would be too long; a fresh v4 uuid is unique. */
    snprintf(out, CHP_UUID_MAX, "%.8s-%d-%s", c->name, i, u + 9);
}

static TU_UNUSED chp_sketch_t *sc_sketch_range(int64_t lo, int64_t hi,
                                               uint64_t negatives)
{
    chp_sketch_t *sk = chp_sketch_new();

    assert_non_null(sk);
    for (int64_t v = lo; v <= hi; v++)
        chp_sketch_add(sk, v, 1);
    if (negatives)
        chp_sketch_add(sk, -5, negatives);
    return sk;
}

static TU_UNUSED void sc_assert_sketch_equal(const chp_sketch_t *a,
                                             const chp_sketch_t *b)
{
    static char ea[32768], eb[32768];

    assert_non_null(a);
    assert_non_null(b);
    assert_true(chp_sketch_encode(a, ea, sizeof(ea)) < sizeof(ea));
    assert_true(chp_sketch_encode(b, eb, sizeof(eb)) < sizeof(eb));
    assert_string_equal(ea, eb);
}

/* ------------------------------------------------------------ setup */

static TU_UNUSED int sc_setup(void **state)
{
    sc_ctx_t *c = *state;
    char errstr[512] = "";
    char name[64];

    if (store_open(c->url, &c->s, errstr, sizeof(errstr))) {
        fprintf(stderr, "%s: store_open: %s\n", c->name, errstr);
        return -1;
    }
    tu_unique_name(name, sizeof(name), "st");
    snprintf(c->prefix, sizeof(c->prefix), "%s-%s-", name, c->name);
    return 0;
}

static TU_UNUSED int sc_teardown(void **state)
{
    sc_ctx_t *c = *state;

    if (c->s)
        store_close(c->s);
    c->s = NULL;
    return 0;
}

/* ------------------------------------------------------------ cases */

/* Migrating an up-to-date database changes nothing and keeps the data. */
static TU_UNUSED void sc_migrate_twice(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r = sc_row(c, "m", 600, "t1", 5);
    char errstr[512] = "";
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    SC_FLUSH_OK(c, &r, 1, NULL, 0, NULL, 0);
    assert_int_equal(store_migrate(c->s, errstr, sizeof(errstr)), CHP_OK);
    assert_int_equal(store_migrate(c->s, errstr, sizeof(errstr)), CHP_OK);
    sc_query(c, r.topic, 0, 1200, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 5);
    sc_rows_clear(got);
    free(got);
}

/* Counters add up exactly over flushes; every column reads back. */
static TU_UNUSED void sc_sums(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r[3] = {
        sc_row(c, "s", 600, "producer", 1000),
        sc_row(c, "s", 600, "consumer", 990),
        sc_row(c, "s", 1200, "producer", 7),
    };
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    r[0].negative_latency_count = 3;
    r[0].latency_sum_ms = 12345.5;
    r[0].latency95 = 40;
    r[0].latency99 = 50;
    r[0].max_latency = 60;
    SC_FLUSH_OK(c, r, 3, NULL, 0, NULL, 0);
    r[0].count = 24;
    r[0].total_bytes = 1;
    r[0].no_time_count = 2;
    r[0].malformed_count = 1;
    r[0].negative_latency_count = 1;
    r[0].latency_sum_ms = 0.25;
    SC_FLUSH_OK(c, r, 1, NULL, 0, NULL, 0);

    sc_query(c, r[0].topic, 600, 1800, got);
    assert_int_equal(got->n, 3);
    /* Ordered by (topic, time_begin, tier). */
    assert_int_equal(got->v[0].time_begin, 600);
    assert_string_equal(got->v[0].tier, "consumer");
    assert_int_equal(got->v[0].count, 990);
    assert_int_equal(got->v[0].total_bytes, 99000);
    assert_int_equal(got->v[1].time_begin, 600);
    assert_string_equal(got->v[1].tier, "producer");
    assert_int_equal(got->v[1].time_end, 1200);
    assert_string_equal(got->v[1].datacenter, "dc1");
    assert_string_equal(got->v[1].host, "combined");
    assert_int_equal(got->v[1].count, 1024);
    assert_int_equal(got->v[1].total_bytes, 100001);
    assert_int_equal(got->v[1].no_time_count, 102);
    assert_int_equal(got->v[1].malformed_count, 51);
    assert_int_equal(got->v[1].negative_latency_count, 4);
    assert_true(got->v[1].latency_sum_ms == 12345.75);
    assert_true(got->v[1].latency95 == 40);
    assert_true(got->v[1].latency99 == 50);
    assert_true(got->v[1].max_latency == 60);
    assert_null(got->v[1].sketch);
    assert_int_equal(got->v[2].time_begin, 1200);
    assert_int_equal(got->v[2].count, 7);
    sc_rows_clear(got);

    /* The range is half-open: [from, to). */
    sc_query(c, r[0].topic, 600, 1200, got);
    assert_int_equal(got->n, 2);
    sc_rows_clear(got);
    sc_query(c, r[0].topic, 1201, 5000, got);
    assert_int_equal(got->n, 0);
    free(got);
}

/* Sketches merge in the database: p95/p99 are those of the union of all
 * the latencies, max is exact, mean is sum / non-negative count. */
static TU_UNUSED void sc_merge_sketch(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t a = sc_row(c, "k", 600, "t", 1000);
    store_row_t b = sc_row(c, "k", 600, "t", 1003);
    chp_sketch_t *u;
    store_stats_t st;
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    a.sketch = sc_sketch_range(1, 1000, 0);
    a.latency_sum_ms = 500500;
    b.sketch = sc_sketch_range(5000, 5999, 3);
    b.negative_latency_count = 3;
    b.latency_sum_ms = 5499500 - 15;
    SC_FLUSH_OK(c, &a, 1, NULL, 0, NULL, 0);
    SC_FLUSH_OK(c, &b, 1, NULL, 0, NULL, 0);

    u = chp_sketch_dup(a.sketch);
    assert_non_null(u);
    chp_sketch_merge(u, b.sketch);
    sc_query(c, a.topic, 0, 1200, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 2003);
    assert_int_equal(got->v[0].negative_latency_count, 3);
    sc_assert_sketch_equal(got->v[0].sketch, u);
    assert_true(got->v[0].latency95 == chp_sketch_quantile(u, 0.95));
    assert_true(got->v[0].latency99 == chp_sketch_quantile(u, 0.99));
    /* The union's p99 is in the upper half, far above either max-of-p99
     * rule's answer for the lower half: the merge did not take a max. */
    assert_true(got->v[0].latency99 > 5900);
    assert_true(got->v[0].max_latency == 5999);
    store_row_stats(&got->v[0], &st);
    assert_true(fabs(st.mean - (500500.0 + 5499500 - 15) / 2000) < 1e-9);
    assert_true(st.p99 == chp_sketch_quantile(u, 0.99));

    chp_sketch_destroy(u);
    chp_sketch_destroy(a.sketch);
    chp_sketch_destroy(b.sketch);
    sc_rows_clear(got);
    free(got);
}

/* Without sketches (the original's messages) p95, p99 and max are the max
 * of the merged values; with some messages unsketched the percentiles
 * cannot be exact and stay conservative. */
static TU_UNUSED void sc_merge_fallback(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t a = sc_row(c, "f", 600, "t", 5);
    store_row_t b = sc_row(c, "f", 600, "t", 7);
    store_row_t m1 = sc_row(c, "f", 1200, "t", 100);
    store_row_t m2 = sc_row(c, "f", 1200, "t", 10);
    store_row_t m3 = sc_row(c, "f", 1200, "t", 100);
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    a.latency95 = 10;
    a.latency99 = 20;
    a.max_latency = 30;
    a.latency_sum_ms = 50;
    b.latency95 = 15;
    b.latency99 = 12;
    b.max_latency = 25;
    b.latency_sum_ms = 70;
    SC_FLUSH_OK(c, &a, 1, NULL, 0, NULL, 0);
    SC_FLUSH_OK(c, &b, 1, NULL, 0, NULL, 0);

    m1.sketch = sc_sketch_range(1, 100, 0);
    m2.latency95 = 90000;
    m2.latency99 = 100000;
    m2.max_latency = 123456;
    m3.sketch = sc_sketch_range(101, 200, 0);
    SC_FLUSH_OK(c, &m1, 1, NULL, 0, NULL, 0);
    SC_FLUSH_OK(c, &m2, 1, NULL, 0, NULL, 0);
    SC_FLUSH_OK(c, &m3, 1, NULL, 0, NULL, 0);

    sc_query(c, a.topic, 0, 1800, got);
    assert_int_equal(got->n, 2);
    assert_int_equal(got->v[0].count, 12);
    assert_null(got->v[0].sketch);
    assert_true(got->v[0].latency95 == 15);
    assert_true(got->v[0].latency99 == 20);
    assert_true(got->v[0].max_latency == 30);
    assert_true(got->v[0].latency_sum_ms == 120);

    assert_int_equal(got->v[1].count, 210);
    assert_non_null(got->v[1].sketch);
    assert_int_equal(chp_sketch_count(got->v[1].sketch), 200);
    assert_true(got->v[1].latency99 == 100000);
    assert_true(got->v[1].latency95 == 90000);
    assert_true(got->v[1].max_latency == 123456);

    chp_sketch_destroy(m1.sketch);
    chp_sketch_destroy(m3.sketch);
    sc_rows_clear(got);
    free(got);
}

/* Two rows with one key in a batch add up; a batch larger than a chunk,
 * inserted then updated, adds up too. */
static TU_UNUSED void sc_batches(void **state)
{
    enum { N = 300, U = 1000 };
    sc_ctx_t *c = *state;
    store_row_t *rows = calloc(N + 1, sizeof(*rows));
    char(*ids)[CHP_UUID_MAX] = calloc(2 * U, CHP_UUID_MAX);
    const char **up = calloc(2 * U, sizeof(*up));
    sc_rows_t *got = calloc(1, sizeof(*got));
    uint64_t total = 0;
    int i;

    assert_non_null(rows);
    assert_non_null(ids);
    assert_non_null(up);
    assert_non_null(got);
    for (i = 0; i < N; i++) {
        rows[i] = sc_row(c, "b", 600 * (i + 1), "t", (uint64_t)i + 1);
        if (i % 3 == 0)
            rows[i].sketch = sc_sketch_range(i + 1, i + 1 + i, 0);
    }
    rows[N] = rows[5]; /* the same key twice, far apart */
    for (i = 0; i < 2 * U; i++) {
        sc_uuid(c, i, ids[i]);
        up[i] = ids[i];
    }
    SC_FLUSH_OK(c, rows, N + 1, up, U, NULL, 0);
    SC_FLUSH_OK(c, rows, N, up + U, U, NULL, 0);

    sc_query(c, rows[0].topic, 0, 600 * (N + 2), got);
    assert_int_equal(got->n, N);
    for (i = 0; i < N; i++) {
        uint64_t want = 2 * ((uint64_t)i + 1) + (i == 5 ? 6 : 0);

        assert_int_equal(got->v[i].time_begin, 600 * (i + 1));
        assert_int_equal(got->v[i].count, want);
        assert_int_equal(got->v[i].total_bytes, want * 100);
        if (i % 3 == 0)
            assert_int_equal(chp_sketch_count(got->v[i].sketch),
                             2 * ((uint64_t)i + 1));
        else
            assert_null(got->v[i].sketch);
        total += got->v[i].count;
    }
    assert_int_equal(total, (uint64_t)N * (N + 1) + 6);
    for (i = 0; i < N; i++)
        chp_sketch_destroy(rows[i].sketch);
    sc_rows_clear(got);
    free(got);
    free(up);
    free(ids);
    free(rows);
}

/* store_seen() reports exactly the uuids a committed flush inserted. */
static TU_UNUSED void sc_seen(void **state)
{
    enum { N = 150 };
    sc_ctx_t *c = *state;
    char ids[N][CHP_UUID_MAX];
    const char *up[N];
    bool seen[N];
    char errstr[512] = "";
    store_row_t r = sc_row(c, "u", 600, "t", 1);

    for (int i = 0; i < N; i++) {
        sc_uuid(c, i, ids[i]);
        up[i] = ids[i];
    }
    assert_int_equal(store_seen(c->s, up, N, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    for (int i = 0; i < N; i++)
        assert_false(seen[i]);
    /* Every other uuid, so chunks of answers map back by position. */
    {
        const char *odd[N / 2];

        for (int i = 0; i < N / 2; i++)
            odd[i] = up[2 * i + 1];
        SC_FLUSH_OK(c, &r, 1, odd, N / 2, NULL, 0);
    }
    assert_int_equal(store_seen(c->s, up, N, seen, errstr, sizeof(errstr)),
                     CHP_OK);
    for (int i = 0; i < N; i++)
        assert_int_equal(seen[i], i % 2 == 1);
    assert_int_equal(store_seen(c->s, up, 0, seen, errstr, sizeof(errstr)),
                     CHP_OK);
}

/* Offsets: -1 when unknown, then what the last flush stored. */
static TU_UNUSED void sc_offsets(void **state)
{
    sc_ctx_t *c = *state;
    store_offset_t o[2];

    memset(o, 0, sizeof(o));
    sc_topic(c, "audit", o[0].topic);
    sc_topic(c, "audit", o[1].topic);
    o[0].partition = 0;
    o[0].next_offset = 100;
    o[0].prev_offset = -1;
    o[1].partition = 7;
    o[1].next_offset = 5;
    o[1].prev_offset = -1;
    assert_int_equal(sc_offset_of(c, SC_CLUSTER, o[0].topic, 0), -1);
    SC_FLUSH_OK(c, NULL, 0, NULL, 0, o, 2);
    assert_int_equal(sc_offset_of(c, SC_CLUSTER, o[0].topic, 0), 100);
    assert_int_equal(sc_offset_of(c, SC_CLUSTER, o[0].topic, 7), 5);
    assert_int_equal(sc_offset_of(c, SC_CLUSTER, o[0].topic, 1), -1);
    o[0].prev_offset = 100;
    o[0].next_offset = 1LL << 40;
    SC_FLUSH_OK(c, NULL, 0, NULL, 0, o, 1);
    assert_int_equal(sc_offset_of(c, SC_CLUSTER, o[0].topic, 0), 1LL << 40);
}

/* The offset compare-and-set, with dedup in the database and without it
 * (dedup=redis): a replayed batch (its COMMIT reached the server, the
 * client never heard) applies once; a stale collector's batch never
 * applies, and no offset moves backwards; clusters do not share offsets. */
static TU_UNUSED void sc_offsets_cas(void **state)
{
    sc_ctx_t *c = *state;
    char id[2][CHP_UUID_MAX];
    const char *up[2] = {id[0], id[1]};
    char errstr[512] = "";
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    sc_uuid(c, 0, id[0]);
    sc_uuid(c, 1, id[1]);
    for (int mode = 0; mode < 2; mode++) {
        bool in_db = mode == 0;
        store_row_t r = sc_row(c, in_db ? "cas-db" : "cas-redis", 600, "t", 5);
        store_offset_t o;

        memset(&o, 0, sizeof(o));
        sc_topic(c, in_db ? "cas-audit-db" : "cas-audit-redis", o.topic);
        o.partition = 3;
        o.prev_offset = -1;
        o.next_offset = 10;
        /* First batch: no offset stored yet. */
        assert_int_equal(sc_flush_as(c, SC_CLUSTER, in_db, &r, 1, up, 1, &o, 1,
                                     errstr, sizeof(errstr)),
                         CHP_OK);
        /* Its replay: refused, nothing added. */
        assert_int_equal(sc_flush_as(c, SC_CLUSTER, in_db, &r, 1, up, 1, &o, 1,
                                     errstr, sizeof(errstr)),
                         STORE_ERR_STALE);
        assert_non_null(strstr(errstr, "stale"));
        /* The next batch, then its replay. */
        o.prev_offset = 10;
        o.next_offset = 20;
        assert_int_equal(sc_flush_as(c, SC_CLUSTER, in_db, &r, 1, up + 1, 1, &o,
                                     1, errstr, sizeof(errstr)),
                         CHP_OK);
        assert_int_equal(sc_flush_as(c, SC_CLUSTER, in_db, &r, 1, up + 1, 1, &o,
                                     1, errstr, sizeof(errstr)),
                         STORE_ERR_STALE);
        /* A collector that started from 10 and lost the partition. */
        o.prev_offset = 10;
        o.next_offset = 15;
        assert_int_equal(sc_flush_as(c, SC_CLUSTER, in_db, &r, 1, NULL, 0, &o,
                                     1, errstr, sizeof(errstr)),
                         STORE_ERR_STALE);
        /* Backwards, even from the stored offset. */
        o.prev_offset = 20;
        o.next_offset = 15;
        assert_int_equal(sc_flush_as(c, SC_CLUSTER, in_db, &r, 1, NULL, 0, &o,
                                     1, errstr, sizeof(errstr)),
                         STORE_ERR_STALE);
        assert_int_equal(sc_offset_of(c, SC_CLUSTER, o.topic, 3), 20);
        sc_query(c, r.topic, 0, 5000, got);
        assert_int_equal(got->n, 1);
        assert_int_equal(got->v[0].count, 10); /* two batches of 5 */
        sc_rows_clear(got);
        if (in_db) {
            bool seen[2] = {false, false};

            assert_int_equal(
                store_seen(c->s, up, 2, seen, errstr, sizeof(errstr)), CHP_OK);
            assert_true(seen[0] && seen[1]);
        }
        /* Another cluster with the same topic name: its own offsets. */
        assert_int_equal(sc_offset_of(c, "sc-other", o.topic, 3), -1);
        o.prev_offset = -1;
        o.next_offset = 7;
        assert_int_equal(sc_flush_as(c, "sc-other", in_db, &r, 1, NULL, 0, &o,
                                     1, errstr, sizeof(errstr)),
                         CHP_OK);
        assert_int_equal(sc_offset_of(c, "sc-other", o.topic, 3), 7);
        assert_int_equal(sc_offset_of(c, SC_CLUSTER, o.topic, 3), 20);
        sc_uuid(c, 2 + 2 * mode, id[0]);
        sc_uuid(c, 3 + 2 * mode, id[1]);
    }
    free(got);
}

/* deliveryFailedCount, auditDroppedCount and abortedCount: own columns,
 * summed like count. */
static TU_UNUSED void sc_side_counts(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r = sc_row(c, "side", 600, "producer", 100);
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    r.delivery_failed_count = 3;
    r.audit_dropped_count = 5;
    r.aborted_count = 7;
    SC_FLUSH_OK(c, &r, 1, NULL, 0, NULL, 0);
    r.delivery_failed_count = 1LL << 33;
    r.audit_dropped_count = 2;
    r.aborted_count = 0;
    SC_FLUSH_OK(c, &r, 1, NULL, 0, NULL, 0);
    sc_query(c, r.topic, 0, 5000, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 200);
    assert_int_equal(got->v[0].delivery_failed_count, (1LL << 33) + 3);
    assert_int_equal(got->v[0].audit_dropped_count, 7);
    assert_int_equal(got->v[0].aborted_count, 7);
    sc_rows_clear(got);
    free(got);
}

/* A batch with a uuid already stored (or twice in it) fails as a whole:
 * no row, no uuid, no offset of it is written. */
static TU_UNUSED void sc_rollback(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r[2] = {sc_row(c, "r", 600, "t", 10),
                        sc_row(c, "r", 1200, "t", 20)};
    store_offset_t o;
    char id[3][CHP_UUID_MAX];
    const char *first[1], *dup_in_batch[3], *dup_stored[2];
    char errstr[512] = "";
    bool seen[3];
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    memset(&o, 0, sizeof(o));
    sc_topic(c, "raudit", o.topic);
    o.next_offset = 42;
    o.prev_offset = -1;
    for (int i = 0; i < 3; i++)
        sc_uuid(c, i, id[i]);
    first[0] = id[0];
    dup_in_batch[0] = id[1];
    dup_in_batch[1] = id[2];
    dup_in_batch[2] = id[1];
    dup_stored[0] = id[1];
    dup_stored[1] = id[0];

    assert_int_equal(
        sc_flush(c, r, 2, dup_in_batch, 3, &o, 1, errstr, sizeof(errstr)),
        CHP_ERR_STATE);
    assert_non_null(strstr(errstr, "uuid"));
    SC_FLUSH_OK(c, &r[0], 1, first, 1, NULL, 0);
    assert_int_equal(
        sc_flush(c, r, 2, dup_stored, 2, &o, 1, errstr, sizeof(errstr)),
        CHP_ERR_STATE);

    /* Only the good flush is there. */
    sc_query(c, r[0].topic, 0, 5000, got);
    assert_int_equal(got->n, 1);
    assert_int_equal(got->v[0].count, 10);
    assert_int_equal(sc_offset_of(c, SC_CLUSTER, o.topic, 0), -1);
    assert_int_equal(
        store_seen(c->s, dup_in_batch, 2, seen, errstr, sizeof(errstr)),
        CHP_OK);
    assert_false(seen[0]);
    assert_false(seen[1]);
    /* And the store is usable after the rollbacks. */
    SC_FLUSH_OK(c, r, 2, dup_in_batch, 2, &o, 1);
    sc_rows_clear(got);
    sc_query(c, r[0].topic, 0, 5000, got);
    assert_int_equal(got->n, 2);
    assert_int_equal(got->v[0].count, 20);
    sc_rows_clear(got);
    free(got);
}

/* Retention deletes rows of buckets that began before the limit (here all
 * before 1970, so no other test's data) and, on a private database, uuids
 * seen before theirs. */
static TU_UNUSED void sc_retention(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r[3] = {sc_row(c, "old", -6000, "t", 1),
                        sc_row(c, "old", -5400, "t", 2),
                        sc_row(c, "old", -600, "t", 3)};
    char id[CHP_UUID_MAX];
    const char *up[1] = {id};
    char errstr[512] = "";
    bool seen = false;
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    sc_uuid(c, 0, id);
    SC_FLUSH_OK(c, r, 3, up, 1, NULL, 0);
    assert_int_equal(store_retention(c->s, -5400, 0, errstr, sizeof(errstr)),
                     CHP_OK);
    sc_query(c, r[0].topic, -100000, 100000, got);
    assert_int_equal(got->n, 2);
    assert_int_equal(got->v[0].time_begin, -5400);
    assert_int_equal(got->v[1].time_begin, -600);
    assert_int_equal(store_seen(c->s, up, 1, &seen, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_true(seen);
    if (c->private_db) {
        assert_int_equal(store_retention(c->s, -100000,
                                         (int64_t)time(NULL) + 10, errstr,
                                         sizeof(errstr)),
                         CHP_OK);
        assert_int_equal(store_seen(c->s, up, 1, &seen, errstr, sizeof(errstr)),
                         CHP_OK);
        assert_false(seen);
    }
    sc_rows_clear(got);
    free(got);
}

/* Names are compared as bytes: case matters, quotes, backslashes, commas,
 * braces and UTF-8 survive; topics() lists ours in byte order. */
static TU_UNUSED void sc_names(void **state)
{
    sc_ctx_t *c = *state;
    store_row_t r[4] = {sc_row(c, "n-b", 600, "t", 1),
                        sc_row(c, "n-a", 600, "t", 2),
                        sc_row(c, "n-A", 600, "ti\"er\\,{x} NULL", 3),
                        sc_row(c, "n-A", 600, "ti\"er\\,{x} NULL", 4)};
    char errstr[512] = "";
    sc_rows_t *got = calloc(1, sizeof(*got));

    assert_non_null(got);
    snprintf(r[2].host, sizeof(r[2].host), "Host");
    snprintf(r[3].host, sizeof(r[3].host), "host");
    snprintf(r[3].datacenter, sizeof(r[3].datacenter), "dc-\xc3\xbc'; --");
    memset(r[0].host, 'h', CHP_NAME_MAX - 1);
    r[0].host[CHP_NAME_MAX - 1] = '\0';
    SC_FLUSH_OK(c, r, 4, NULL, 0, NULL, 0);
    SC_FLUSH_OK(c, r, 4, NULL, 0, NULL, 0);

    sc_query(c, r[2].topic, 0, 1200, got);
    assert_int_equal(got->n, 2);
    assert_string_equal(got->v[0].tier, r[2].tier);
    assert_int_equal(got->v[0].count + got->v[1].count, 14);
    assert_true(strcmp(got->v[0].host, got->v[1].host) != 0);
    sc_rows_clear(got);
    sc_query(c, r[0].topic, 0, 1200, got);
    assert_int_equal(got->n, 1);
    assert_string_equal(got->v[0].host, r[0].host);
    sc_rows_clear(got);

    /* All topics: ours in (topic, time_begin, tier) byte order. */
    sc_query(c, NULL, 0, 1200, got);
    assert_int_equal(got->n, 4);
    assert_string_equal(got->v[0].topic, r[2].topic);
    assert_string_equal(got->v[2].topic, r[1].topic);
    assert_string_equal(got->v[3].topic, r[0].topic);
    sc_rows_clear(got);
    free(got);

    {
        sc_topics_t t = {.prefix = c->prefix};

        assert_int_equal(
            store_topics(c->s, sc_topics_cb, &t, errstr, sizeof(errstr)),
            CHP_OK);
        assert_int_equal(t.n, 3);
        assert_string_equal(t.v[0], r[2].topic);
        assert_string_equal(t.v[1], r[1].topic);
        assert_string_equal(t.v[2], r[0].topic);
    }
}

/* Every case, each with a fresh store handle and its own topic prefix. */
#define SC_TESTS(ctx)                                                          \
    cmocka_unit_test_prestate_setup_teardown(sc_migrate_twice, sc_setup,       \
                                             sc_teardown, ctx),                \
        cmocka_unit_test_prestate_setup_teardown(sc_sums, sc_setup,            \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_merge_sketch, sc_setup,    \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_merge_fallback, sc_setup,  \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_batches, sc_setup,         \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_seen, sc_setup,            \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_offsets, sc_setup,         \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_offsets_cas, sc_setup,     \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_side_counts, sc_setup,     \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_rollback, sc_setup,        \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_retention, sc_setup,       \
                                                 sc_teardown, ctx),            \
        cmocka_unit_test_prestate_setup_teardown(sc_names, sc_setup,           \
                                                 sc_teardown, ctx)

#endif
