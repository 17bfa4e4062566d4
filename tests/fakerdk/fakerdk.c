/* fakerdk.c - a stand-in "librdkafka" for tests/unit/test_plugin_bind.c.
 *
 * It exports the names the plugin binds to (as do-nothing stubs) and
 * fake_load(), which loads the plugin and calls its conf_init() from inside
 * this object, as librdkafka's plugin loader does.  The plugin must bind to
 * this object, not to the real librdkafka that the test program links, and
 * refuse it: the version is too old (FAKE_VERSION) or a function is
 * missing (FAKE_OMIT_PURGE). */
#include <dlfcn.h>
#include <stddef.h>
#include <stdio.h>

#define EXPORT __attribute__((visibility("default")))
#define STUB(n)                                                                \
    EXPORT void rd_kafka_##n(void);                                            \
    EXPORT void rd_kafka_##n(void)                                             \
    {                                                                          \
    }

EXPORT int rd_kafka_version(void);
EXPORT int rd_kafka_version(void)
{
    return FAKE_VERSION;
}

EXPORT const char *rd_kafka_version_str(void);
EXPORT const char *rd_kafka_version_str(void)
{
    return FAKE_VERSION_STR;
}

STUB(err2str)
STUB(conf_new)
STUB(conf_set)
STUB(conf_get)
STUB(conf_dump)
STUB(conf_dump_free)
STUB(conf_destroy)
STUB(conf_set_dr_msg_cb)
STUB(conf_set_opaque)
STUB(conf_interceptor_add_on_conf_set)
STUB(conf_interceptor_add_on_conf_dup)
STUB(conf_interceptor_add_on_conf_destroy)
STUB(conf_interceptor_add_on_new)
STUB(interceptor_add_on_send)
STUB(interceptor_add_on_acknowledgement)
STUB(interceptor_add_on_consume)
STUB(interceptor_add_on_destroy)
STUB(new)
STUB(destroy)
STUB(type)
STUB(name)
STUB(poll)
STUB(flush)
#ifndef FAKE_OMIT_PURGE
STUB(purge)
#endif
STUB(producev)
STUB(topic_name)
STUB(message_timestamp)
STUB(message_headers)
STUB(header_get_last)

typedef int(conf_init_t)(void *conf, void **plug_opaque, char *errstr,
                         size_t errstr_size);

/* Loads plugin and calls its conf_init() from here; returns what it
 * returned (-1 if it cannot be loaded), errstr filled. */
EXPORT int fake_load(const char *plugin, char *errstr, size_t errstr_size);
EXPORT int fake_load(const char *plugin, char *errstr, size_t errstr_size)
{
    void *h = dlopen(plugin, RTLD_NOW | RTLD_LOCAL), *opaque = NULL;
    conf_init_t *init;
    int err;

    if (!h || !(*(void **)&init = dlsym(h, "conf_init"))) {
        snprintf(errstr, errstr_size, "cannot load %s: %s", plugin, dlerror());
        return -1;
    }
    err = init(NULL, &opaque, errstr, errstr_size);
    dlclose(h);
    return err;
}
