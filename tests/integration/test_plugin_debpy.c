/* Integration (real broker): Debian's python3-confluent-kafka, which uses
 * the system librdkafka, audited by the plugin by configuration alone:
 * exact counts and bytes per bucket on the producer and consumer tier. */
#include "clientrun.h"

static char client[2048];

static void test_debian_python(void **state)
{
    (void)state;
    cr_prove(client, "python");
}

int main(void)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_debian_python)};

    tu_brokers();
    if (system("/usr/bin/python3 -c 'import confluent_kafka' 2>/dev/null") != 0)
        tu_skip("Debian's python3-confluent-kafka is not installed "
                "(scripts/deps.sh installs it)");
    snprintf(client, sizeof(client),
             "/usr/bin/python3 %s/tests/clients/pyclient.py", src ? src : ".");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
