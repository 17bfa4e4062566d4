/* Integration (real broker): Python's confluent-kafka from PyPI (the
 * current wheel, which bundles and privately loads its own librdkafka),
 * audited by the plugin by configuration alone: exact counts and bytes per
 * bucket on the producer and the consumer tier.  The virtualenv is made by
 * scripts/clients.sh (make test) in .cache/venv. */
#include "clientrun.h"

static char client[2048];

static void test_wheel(void **state)
{
    (void)state;
    cr_prove(client, "python");
}

int main(void)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    char py[1024];
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_wheel)};

    tu_brokers();
    snprintf(py, sizeof(py), "%s/.cache/venv/bin/python", src ? src : ".");
    if (access(py, X_OK) != 0)
        tu_skip("no virtualenv at %s (scripts/clients.sh python makes it)", py);
    snprintf(client, sizeof(client), "%s %s/tests/clients/pyclient.py", py,
             src ? src : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
