/* Integration (real broker): Go's confluent-kafka-go v2 (v2.0.2 from the
 * module proxy, built with -tags dynamic against Debian's librdkafka, see
 * docs/client.md for why), producer and consumer audited by the plugin by
 * configuration alone: exact counts and bytes per bucket on both tiers.
 * The default build, whose static librdkafka exports no function a plugin
 * could call, must refuse the plugin with a message that says why.
 * scripts/clients.sh (make test) builds .cache/clients/goclient{,-static}. */
#include "clientrun.h"

static char client[2048];

static void test_go(void **state)
{
    (void)state;
    cr_prove(client, "go");
}

static void test_go_static_refused(void **state)
{
    char cmd[4096], out[4096];
    const char *bin = getenv("CHP_BINARY_DIR");
    int rc;
    (void)state;

    snprintf(cmd, sizeof(cmd),
             "%s-static produce %s chp-never-created "
             "%s/libchaperone_interceptor.so audit t 10 1478311200 2>&1",
             client, tu_brokers(), bin ? bin : ".");
    rc = tu_run(cmd, out, sizeof(out));
    fprintf(stderr, "static build: exit %d: %s", rc, out);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "static librdkafka"));
    assert_non_null(strstr(out, "exports no rd_kafka_"));
}

int main(void)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_go),
        cmocka_unit_test(test_go_static_refused),
    };
    char stat[2100];

    tu_brokers();
    snprintf(client, sizeof(client), "%s/.cache/clients/goclient",
             src ? src : ".");
    snprintf(stat, sizeof(stat), "%s-static", client);
    if (access(client, X_OK) != 0 || access(stat, X_OK) != 0)
        tu_skip("no Go clients at %s{,-static} (scripts/clients.sh go builds "
                "them)",
                client);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
