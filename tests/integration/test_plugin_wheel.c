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
    assert_int_equal(cr_run(cmd, out, sizeof(out)), 0);
    out[strcspn(out, "\n")] = '\0';
    fprintf(stderr, "wheel's librdkafka %s, system's %s\n", out,
            rd_kafka_version_str());
    assert_string_not_equal(out, rd_kafka_version_str());
    cr_prove(client, "python");
}

int main(void)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_wheel)};

    tu_brokers();
    snprintf(py, sizeof(py), "%s/.cache/venv/bin/python", src ? src : ".");
    if (access(py, X_OK) != 0)
        tu_skip("no virtualenv at %s (scripts/clients.sh python makes it)", py);
    snprintf(client, sizeof(client), "%s %s/tests/clients/pyclient.py", py,
             src ? src : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
