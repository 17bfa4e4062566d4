/* Unit: the collector's batch (src/collector/batch.c, aggregate.c) — what
 * one database flush holds: rows summed per key, in-batch duplicates and
 * undecodable records skipped with their offsets still advanced, partitions
 * dropped on revocation, uuids already stored filtered out before the
 * flush.  The store is a fake that records what a flush would write. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaperone.h"
#include "collector/batch.h"
#include "collector/store_impl.h"

#define T0 1700000400

/* Encodes one audit message; the caller frees the JSON. */
static char *msg(const char *uuid, const char *host, int64_t begin,
                 uint64_t count, int64_t latency, size_t *len)
{
    chp_auditmsg_t m;
    char *json = NULL;

    chp_auditmsg_init(&m);
    snprintf(m.topic, sizeof(m.topic), "orders");
    m.time_begin = begin;
    m.time_end = begin + 600;
    m.count = count;
    m.total_bytes = count * 10;
    m.no_time_count = 1;
    snprintf(m.tier, sizeof(m.tier), "kafka-eu");
    snprintf(m.datacenter, sizeof(m.datacenter), "dc1");
    snprintf(m.hostname, sizeof(m.hostname), "%s", host);
    snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
    m.version = CHP_AUDITMSG_VERSION;
    m.latency_sum_ms = (double)(latency * (int64_t)count);
    if (latency >= 0) {
        m.sketch = chp_sketch_new();
        chp_sketch_add(m.sketch, latency, count);
    }
    assert_int_equal(chp_auditmsg_encode(&m, &json, len), CHP_OK);
    chp_auditmsg_clear(&m);
    return json;
}

static coll_add_t add(coll_batch_t *b, int32_t part, int64_t off,
                      const char *uuid, const char *host, uint64_t count,
                      int64_t latency)
{
    size_t len;
    char *json = msg(uuid, host, T0, count, latency, &len), err[256];
    coll_add_t res;

    assert_int_equal(coll_batch_add(b, "audit", part, off, json, len, &res, err,
                                    sizeof(err)),
                     CHP_OK);
    free(json);
    return res;
}

/* ------------------------------------------------------- fake store */

static struct {
    size_t n_rows, n_uuids, n_offsets, calls;
    uint64_t count[8], sketch_count[8];
    char host[8][CHP_NAME_MAX];
    store_offset_t offsets[8];
    bool dedup_in_db;
} written;

/* The fake's primitives record what store_flush hands them: one flush
 * begins, moves the offsets, inserts the uuids (dedup_in_db only) and puts
 * the rows (none stored before), in one transaction. */
static chp_err_t fake_begin(store_t *s, char *errstr, size_t errstr_size)
{
    (void)s, (void)errstr, (void)errstr_size;
    memset(&written, 0, sizeof(written));
    written.calls = 1;
    return CHP_OK;
}

static chp_err_t fake_commit(store_t *s, char *errstr, size_t errstr_size)
{
    (void)s, (void)errstr, (void)errstr_size;
    return CHP_OK;
}

static void fake_rollback(store_t *s)
{
    (void)s;
}

static chp_err_t fake_put_offsets(store_t *s, const char *cluster,
                                  const store_offset_t *o, size_t n,
                                  char *errstr, size_t errstr_size)
{
    (void)s, (void)cluster, (void)errstr, (void)errstr_size;
    written.n_offsets = n;
    for (size_t i = 0; i < n && i < 8; i++)
        written.offsets[i] = o[i];
    return CHP_OK;
}

static chp_err_t fake_put_uuids(store_t *s, const char *const *uuids, size_t n,
                                int64_t now_s, char *errstr, size_t errstr_size)
{
    (void)s, (void)uuids, (void)now_s, (void)errstr, (void)errstr_size;
    written.n_uuids = n;
    written.dedup_in_db = true;
    return CHP_OK;
}

static chp_err_t fake_get_rows(store_t *s, const store_row_t *keys, size_t n,
                               store_row_t *out, bool *found, char *errstr,
                               size_t errstr_size)
{
    (void)s, (void)keys, (void)out, (void)errstr, (void)errstr_size;
    for (size_t i = 0; i < n; i++)
        found[i] = false;
    return CHP_OK;
}

static chp_err_t fake_put_rows(store_t *s, const store_put_t *puts, size_t n,
                               int64_t now_s, char *errstr, size_t errstr_size)
{
    (void)s, (void)now_s, (void)errstr, (void)errstr_size;
    for (size_t i = 0; i < n; i++, written.n_rows++) {
        const store_row_t *r = puts[i].row;
        size_t k = written.n_rows;

        if (k >= 8)
            continue;
        written.count[k] = r->count;
        written.sketch_count[k] = r->sketch ? chp_sketch_count(r->sketch) : 0;
        snprintf(written.host[k], CHP_NAME_MAX, "%s", r->host);
    }
    return CHP_OK;
}

static const store_driver_t fake_driver = {
    .scheme = "fake",
    .begin = fake_begin,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .put_uuids = fake_put_uuids,
    .get_rows = fake_get_rows,
    .put_rows = fake_put_rows,
    .put_offsets = fake_put_offsets,
};

static store_t fake_store;

static int fake_setup(void **state)
{
    (void)state;
    store_base_init(&fake_store, &fake_driver);
    return 0;
}

static int fake_teardown(void **state)
{
    (void)state;
    store_base_fini(&fake_store);
    return 0;
}

/* Reports "u2" as already stored. */
static chp_err_t seen_u2(void *opaque, const char *const *uuids, size_t n,
                         bool *seen, char *errstr, size_t errstr_size)
{
    (void)opaque, (void)errstr, (void)errstr_size;
    for (size_t i = 0; i < n; i++)
        seen[i] = !strcmp(uuids[i], "u2");
    return CHP_OK;
}

static int64_t prev_of(int32_t part)
{
    for (size_t i = 0; i < written.n_offsets; i++)
        if (written.offsets[i].partition == part)
            return written.offsets[i].prev_offset;
    return -2;
}

static int64_t offset_of(int32_t part)
{
    for (size_t i = 0; i < written.n_offsets; i++)
        if (written.offsets[i].partition == part)
            return written.offsets[i].next_offset;
    return -1;
}

/* ------------------------------------------------------------ tests */

static void test_hosts_combined_and_summed(void **state)
{
    coll_batch_t *b = coll_batch_new(true);
    coll_flush_stats_t st;
    char err[256];

    (void)state;
    assert_int_equal(add(b, 0, 10, "u1", "h1", 5, 100), COLL_ADDED);
    assert_int_equal(add(b, 0, 11, "u2", "h2", 7, 200), COLL_ADDED);
    assert_int_equal(add(b, 1, 4, "u3", "h3", 1, -1), COLL_ADDED);
    assert_int_equal(coll_batch_messages(b), 3);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(written.n_rows, 1);
    assert_string_equal(written.host[0], "combined");
    assert_int_equal(written.count[0], 13);
    assert_int_equal(written.sketch_count[0], 12); /* sketches merged */
    assert_int_equal(written.n_uuids, 3);
    assert_true(written.dedup_in_db);
    assert_int_equal(offset_of(0), 12);
    assert_int_equal(offset_of(1), 5);
    assert_int_equal(st.rows, 1);
    assert_int_equal(st.messages, 3);
    coll_batch_destroy(b);
}

static void test_hosts_apart(void **state)
{
    coll_batch_t *b = coll_batch_new(false);
    coll_flush_stats_t st;
    char err[256];

    (void)state;
    add(b, 0, 0, "u1", "h1", 5, 100);
    add(b, 0, 1, "u2", "h2", 7, 200);
    add(b, 0, 2, "u3", "h1", 1, 100);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, false,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(written.n_rows, 2);
    for (size_t i = 0; i < 2; i++)
        assert_int_equal(written.count[i],
                         strcmp(written.host[i], "h1") ? 7 : 6);
    coll_batch_destroy(b);
}

static void test_duplicates_and_garbage_skipped(void **state)
{
    coll_batch_t *b = coll_batch_new(true);
    coll_flush_stats_t st;
    coll_add_t res;
    char err[256] = "";

    (void)state;
    assert_int_equal(add(b, 0, 0, "u1", "h1", 5, 100), COLL_ADDED);
    assert_int_equal(add(b, 0, 1, "u1", "h1", 5, 100), COLL_DUPLICATE);
    assert_int_equal(
        coll_batch_add(b, "audit", 0, 2, "{nope", 5, &res, err, sizeof(err)),
        CHP_OK);
    assert_int_equal(res, COLL_UNDECODABLE);
    assert_true(err[0] != '\0');
    assert_int_equal(
        coll_batch_add(b, "audit", 0, 3, NULL, 0, &res, err, sizeof(err)),
        CHP_OK);
    assert_int_equal(res, COLL_UNDECODABLE);
    assert_int_equal(coll_batch_records(b), 4);
    assert_int_equal(coll_batch_messages(b), 1);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(written.count[0], 5);
    assert_int_equal(offset_of(0), 4); /* skipped records are consumed */
    coll_batch_destroy(b);
}

static void test_only_garbage_still_moves_offsets(void **state)
{
    coll_batch_t *b = coll_batch_new(true);
    coll_flush_stats_t st;
    coll_add_t res;
    char err[256];

    (void)state;
    coll_batch_add(b, "audit", 2, 41, "x", 1, &res, err, sizeof(err));
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(written.calls, 1);
    assert_int_equal(written.n_rows, 0);
    assert_int_equal(offset_of(2), 42);
    coll_batch_destroy(b);
}

static bool is_part1(const char *topic, int32_t partition, void *opaque)
{
    (void)topic, (void)opaque;
    return partition == 1;
}

static void test_drop_revoked_partition(void **state)
{
    coll_batch_t *b = coll_batch_new(true);
    coll_flush_stats_t st;
    char err[256];

    (void)state;
    add(b, 0, 0, "u1", "h1", 5, 100);
    add(b, 1, 0, "u2", "h2", 7, 200);
    add(b, 0, 1, "u3", "h1", 1, 100);
    add(b, 1, 1, "u4", "h2", 3, 200);
    assert_int_equal(
        coll_batch_drop_partitions(b, is_part1, NULL, err, sizeof(err)),
        CHP_OK);
    assert_int_equal(coll_batch_messages(b), 2);
    assert_int_equal(coll_batch_records(b), 2);
    /* The dropped uuids may come again (from the new owner, or later). */
    assert_int_equal(add(b, 0, 2, "u2", "h2", 7, 200), COLL_ADDED);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(written.count[0], 13);
    assert_int_equal(written.n_offsets, 1);
    assert_int_equal(offset_of(0), 3);
    assert_int_equal(offset_of(1), -1);
    coll_batch_destroy(b);
}

static void test_stored_uuids_filtered(void **state)
{
    coll_batch_t *b = coll_batch_new(true);
    coll_flush_stats_t st;
    char err[256];

    (void)state;
    add(b, 0, 0, "u1", "h1", 5, 100);
    add(b, 0, 1, "u2", "h2", 7, 200);
    add(b, 0, 2, "u3", "h3", 1, 300);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", seen_u2, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(st.duplicates, 1);
    assert_int_equal(st.messages, 2);
    assert_int_equal(written.count[0], 6);
    assert_int_equal(written.sketch_count[0], 6);
    assert_int_equal(written.n_uuids, 2);
    assert_int_equal(offset_of(0), 3); /* the duplicate is consumed too */
    coll_batch_reset(b);
    assert_int_equal(coll_batch_records(b), 0);
    /* A reset batch forgets its uuids. */
    assert_int_equal(add(b, 0, 3, "u1", "h1", 5, 100), COLL_ADDED);
    coll_batch_destroy(b);
}

/* Each partition's batch starts from its known stored offset (set on
 * assignment, then moved by each committed flush), also across a rebuild;
 * a partition never set is "none stored" (-1). */
static void test_start_offsets(void **state)
{
    coll_batch_t *b = coll_batch_new(true);
    coll_flush_stats_t st;
    char err[256];

    (void)state;
    assert_int_equal(coll_batch_set_position(b, "audit", 0, 40), CHP_OK);
    assert_int_equal(coll_batch_set_position(b, "audit", 1, -1), CHP_OK);
    add(b, 0, 41, "u1", "h1", 5, 100); /* 40 was a transaction marker */
    add(b, 1, 0, "u2", "h1", 5, 100);
    add(b, 2, 9, "u3", "h1", 5, 100);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", seen_u2, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK); /* rebuilt: u2 taken out */
    assert_int_equal(written.n_offsets, 3);
    assert_int_equal(prev_of(0), 40);
    assert_int_equal(offset_of(0), 42);
    assert_int_equal(prev_of(1), -1);
    assert_int_equal(offset_of(1), 1);
    assert_int_equal(prev_of(2), -1);
    assert_int_equal(coll_batch_committed(b), CHP_OK);
    assert_int_equal(coll_batch_records(b), 0);
    add(b, 0, 42, "u4", "h1", 5, 100);
    add(b, 1, 1, "u5", "h1", 5, 100);
    assert_int_equal(
        coll_batch_drop_partitions(b, is_part1, NULL, err, sizeof(err)),
        CHP_OK);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(written.n_offsets, 1);
    assert_int_equal(prev_of(0), 42);
    assert_int_equal(offset_of(0), 43);
    /* A dropped batch does not move the known offsets. */
    coll_batch_reset(b);
    add(b, 0, 43, "u6", "h1", 5, 100);
    assert_int_equal(coll_batch_flush(b, &fake_store, "c1", NULL, NULL, true,
                                      &st, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(prev_of(0), 42);
    coll_batch_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hosts_combined_and_summed),
        cmocka_unit_test(test_hosts_apart),
        cmocka_unit_test(test_duplicates_and_garbage_skipped),
        cmocka_unit_test(test_only_garbage_still_moves_offsets),
        cmocka_unit_test(test_drop_revoked_partition),
        cmocka_unit_test(test_stored_uuids_filtered),
        cmocka_unit_test(test_start_offsets),
    };

    return cmocka_run_group_tests(tests, fake_setup, fake_teardown);
}
