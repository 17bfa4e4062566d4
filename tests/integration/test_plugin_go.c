/* Integration (real broker): Go's confluent-kafka-go v2 (v2.0.2 from the
 * module proxy, built with -tags dynamic against Debian's librdkafka, see
 * docs/client.md for why), producer and consumer audited by the plugin by
 * configuration alone: exact counts and bytes per bucket on both tiers.
 * scripts/clients.sh (make test) builds .cache/clients/goclient. */
#include "clientrun.h"

static char client[2048];

static void test_go(void **state)
{
    (void)state;
    cr_prove(client, "go");
}

int main(void)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_go)};

    tu_brokers();
    snprintf(client, sizeof(client), "%s/.cache/clients/goclient",
             src ? src : ".");
    if (access(client, X_OK) != 0)
        tu_skip("no Go client at %s (scripts/clients.sh go builds it)", client);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
