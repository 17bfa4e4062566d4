/* The plugin binds to the librdkafka that loads it - here a stand-in
 * library (tests/fakerdk) in a program that also links the real
 * librdkafka: the plugin must take the stand-in's functions (so it refuses
 * it: too old, or a function missing), not the real ones it could find by
 * name, and still work with the real librdkafka afterwards. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

typedef int(fake_load_t)(const char *plugin, char *errstr, size_t n);

static char plugin[1024], bindir[1024];

static int load_via(const char *fake, char *errstr, size_t n)
{
    char path[1200];
    void *h;
    fake_load_t *load;
    int rc;

    snprintf(path, sizeof(path), "%s/%s", bindir, fake);
    h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h)
        fail_msg("cannot load %s: %s", path, dlerror());
    *(void **)&load = dlsym(h, "fake_load");
    assert_non_null(load);
    rc = load(plugin, errstr, n);
    dlclose(h);
    return rc;
}

static void test_too_old(void **state)
{
    char err[512] = "";
    (void)state;

    assert_int_not_equal(load_via("libchp_fakerdk_old.so", err, sizeof(err)),
                         0);
    fprintf(stderr, "old: %s\n", err);
    assert_non_null(strstr(err, "librdkafka 0.11.6 is too old"));
    assert_non_null(strstr(err, "1.0.0 or later"));
}

static void test_missing_function(void **state)
{
    char err[512] = "";
    (void)state;

    assert_int_not_equal(
        load_via("libchp_fakerdk_nopurge.so", err, sizeof(err)), 0);
    fprintf(stderr, "missing: %s\n", err);
    assert_non_null(strstr(err, "exports no rd_kafka_purge"));
    assert_non_null(strstr(err, "libchp_fakerdk_nopurge.so"));
}

/* The refusals bound nothing: the real librdkafka still loads it. */
static void test_real_still_works(void **state)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    (void)state;

    assert_int_equal(
        rd_kafka_conf_set(c, "plugin.library.paths", plugin, err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    assert_int_equal(
        rd_kafka_conf_set(c, "chaperone.tier", "edge", err, sizeof(err)),
        RD_KAFKA_CONF_OK);
    rd_kafka_conf_destroy(c);
}

int main(void)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_too_old),
        cmocka_unit_test(test_missing_function),
        cmocka_unit_test(test_real_still_works),
    };

    snprintf(bindir, sizeof(bindir), "%s", bin ? bin : ".");
    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so", bindir);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
