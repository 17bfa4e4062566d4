/* clientrun.c - see clientrun.h. */
#include "clientrun.h"
void cr_prove(const char *client, const char *label)
{
    const char *brokers = tu_brokers(), *bin = getenv("CHP_BINARY_DIR");
    char topic[128], audit[128], group[128], plugin[1024], err[512];
    char cmd[4096], out[8192], ptier[160], ctier[160];
    uint64_t count[CR_BUCKETS] = {0}, bytes[CR_BUCKETS] = {0};
    ar_result_t *r = calloc(1, sizeof(*r));
    int rc;

    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             bin ? bin : ".");
    tu_unique_name(topic, sizeof(topic), label);
    tu_unique_name(audit, sizeof(audit), "audit");
    tu_unique_name(group, sizeof(group), "grp");
    snprintf(ptier, sizeof(ptier), "%s-producer", label);
    snprintf(ctier, sizeof(ctier), "%s-consumer", label);
    assert_int_equal(tu_create_topic(brokers, topic, 3, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(brokers, audit, 1, err, sizeof(err)), 0);
    for (int i = 0; i < CR_N; i++) {
        char k[32], v[128];
        int64_t ts = CR_T0 + (i % 3) * 600 + i % 600;
        int kl = snprintf(k, sizeof(k), "%d", i);
        int vl =
            snprintf(v, sizeof(v), "{\"ts\":%lld,\"id\":%d,\"client\":\"%s\"}",
                     (long long)ts, i, label);
        count[i % 3]++;
        bytes[i % 3] += (uint64_t)(kl + vl);
    }

    snprintf(cmd, sizeof(cmd), "%s produce %s %s %s %s %s %d %lld 2>&1", client,
             brokers, topic, plugin, audit, ptier, CR_N, (long long)CR_T0);
    rc = tu_run(cmd, out, sizeof(out));
    fprintf(stderr, "%s produce: exit %d, output: %s", label, rc, out);
    assert_int_equal(rc, 0);
    snprintf(cmd, sizeof(cmd), "%s consume %s %s %s %s %s %d %s 2>&1", client,
             brokers, topic, plugin, audit, ctier, CR_N, group);
    rc = tu_run(cmd, out, sizeof(out));
    fprintf(stderr, "%s consume: exit %d, output: %s", label, rc, out);
    assert_int_equal(rc, 0);

    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    const char *tiers[] = {ptier, ctier};
    for (int t = 0; t < 2; t++) {
        for (int b = 0; b < CR_BUCKETS; b++) {
            ar_sum_t *s = ar_get(r, tiers[t], topic, CR_T0 + b * 600);
            if (!s)
                fail_msg("no audit for %s bucket %d", tiers[t], b);
            fprintf(stderr,
                    "%s bucket %lld: count %llu bytes %llu failed %llu\n",
                    tiers[t], (long long)s->begin, (unsigned long long)s->count,
                    (unsigned long long)s->bytes,
                    (unsigned long long)s->delivery_failed);
            assert_int_equal(s->count, count[b]);
            assert_int_equal(s->bytes, bytes[b]);
            assert_int_equal(s->no_time + s->malformed, 0);
            assert_int_equal(s->delivery_failed, 0);
        }
        assert_int_equal(ar_total(r, tiers[t], topic), CR_N);
    }
    assert_int_equal(ar_total(r, NULL, NULL), 2 * CR_N);
    free(r);
}
