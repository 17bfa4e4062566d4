/* Integration (real broker): Python's confluent-kafka from PyPI (the
 * current wheel, which bundles and privately loads its own librdkafka),
 * audited by the plugin by configuration alone: exact counts and bytes per
 * bucket on the producer and the consumer tier.  The virtualenv is made by
 * scripts/clients.sh (make test) in .cache/venv. */
#include "clientrun.h"

static char client[2048], py[1024];

static void test_wheel(void **state)
{
    char cmd[1200], out[256];
    (void)state;

    /* The point of this test: the wheel's own librdkafka, not Debian's. */
    snprintf(cmd, sizeof(cmd),
             "%s -c 'import confluent_kafka as c; print(c.libversion()[0])'",
             py);
    assert_int_equal(tu_run(cmd, out, sizeof(out)), 0);
    out[strcspn(out, "\n")] = '\0';
    fprintf(stderr, "wheel's librdkafka %s, system's %s\n", out,
            rd_kafka_version_str());
    assert_string_not_equal(out, rd_kafka_version_str());
    cr_prove(client, "python");
}

/* A producer dropped without flush() while its cluster does not answer
 * (the wheel's librdkafka fails the queued messages during destroy): no
 * crash, every message counted as sent and as failed. */
static void test_wheel_abandoned_producer(void **state)
{
    const char *brokers = tu_brokers(), *bin = getenv("CHP_BINARY_DIR");
    char audit[128], topic[128], cmd[4096], out[1024], err[512];
    ar_result_t *r = calloc(1, sizeof(*r));
    int rc;
    (void)state;

    tu_unique_name(topic, sizeof(topic), "abandon");
    tu_unique_name(audit, sizeof(audit), "abandonaudit");
    assert_int_equal(tu_create_topic(brokers, audit, 1, err, sizeof(err)), 0);
    snprintf(cmd, sizeof(cmd),
             "%s abandon 127.0.0.1:1 %s %s/libchaperone_interceptor.so %s "
             "abandoned 500 %s 2>&1",
             client, topic, bin ? bin : ".", audit, brokers);
    rc = tu_run(cmd, out, sizeof(out));
    fprintf(stderr, "abandon: exit %d, output: %s", rc, out);
    assert_int_equal(rc, 0);
    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    ar_sum_t *s = ar_get(r, "abandoned", topic, CR_T0);
    assert_non_null(s);
    fprintf(stderr, "abandoned: count %llu, deliveryFailedCount %llu\n",
            (unsigned long long)s->count,
            (unsigned long long)s->delivery_failed);
    assert_int_equal(s->count, 500);
    assert_int_equal(s->delivery_failed, 500);
    free(r);
}

int main(void)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wheel),
        cmocka_unit_test(test_wheel_abandoned_producer),
    };

    tu_brokers();
    snprintf(py, sizeof(py), "%s/.cache/venv/bin/python", src ? src : ".");
    if (access(py, X_OK) != 0)
        tu_skip("no virtualenv at %s (scripts/clients.sh python makes it)", py);
    snprintf(client, sizeof(client), "%s %s/tests/clients/pyclient.py", py,
             src ? src : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
