/*
 * rdk.h - the librdkafka functions the plugin calls, bound at run time to
 * the librdkafka that loaded the plugin.
 *
 * A client may carry its own librdkafka (the pip wheel of confluent-kafka,
 * npm and .NET packages bundle one, loaded privately); calling the system's
 * with that client's objects crashes.  So the plugin has no link-time
 * librdkafka: conf_init() finds the object its caller lives in and fills
 * chp_rdk from it.  Every source of the plugin target is compiled with this
 * header force-included (-include, with CHP_RDK_DYNAMIC), which maps each
 * rd_kafka_* call to the table; lib/ stays unchanged for libchaperone and
 * the daemons, which link Debian's librdkafka.
 *
 * Only functions present in CHP_RDK_MIN_VERSION may be listed here.
 */
#ifndef CHP_PLUGIN_RDK_H
#define CHP_PLUGIN_RDK_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* Oldest librdkafka the plugin accepts (rd_kafka_version() format):
 * 1.0.0 has every function below, the interceptor API, message headers,
 * purge() and the idempotent producer. */
#define CHP_RDK_MIN_VERSION     0x010000ff
#define CHP_RDK_MIN_VERSION_STR "1.0.0"

/* X(name): one entry per rd_kafka_<name> the plugin uses. */
#define CHP_RDK_FUNCS(X)                                                       \
    X(version)                                                                 \
    X(version_str)                                                             \
    X(err2str)                                                                 \
    X(conf_new)                                                                \
    X(conf_set)                                                                \
    X(conf_get)                                                                \
    X(conf_dump)                                                               \
    X(conf_dump_free)                                                          \
    X(conf_destroy)                                                            \
    X(conf_set_dr_msg_cb)                                                      \
    X(conf_set_opaque)                                                         \
    X(conf_interceptor_add_on_conf_set)                                        \
    X(conf_interceptor_add_on_conf_dup)                                        \
    X(conf_interceptor_add_on_conf_destroy)                                    \
    X(conf_interceptor_add_on_new)                                             \
    X(interceptor_add_on_send)                                                 \
    X(interceptor_add_on_acknowledgement)                                      \
    X(interceptor_add_on_consume)                                              \
    X(interceptor_add_on_destroy)                                              \
    X(new)                                                                     \
    X(destroy)                                                                 \
    X(type)                                                                    \
    X(name)                                                                    \
    X(poll)                                                                    \
    X(flush)                                                                   \
    X(purge)                                                                   \
    X(producev)                                                                \
    X(topic_name)                                                              \
    X(message_timestamp)                                                       \
    X(message_headers)                                                         \
    X(header_get_last)

#define CHP_RDK_MEMBER(n) __typeof__(&rd_kafka_##n) n;
typedef struct chp_rdk {
    CHP_RDK_FUNCS(CHP_RDK_MEMBER)
} chp_rdk_t;
#undef CHP_RDK_MEMBER

/* The bound table; valid once chp_rdk_bind() succeeded. */
extern chp_rdk_t chp_rdk;

/**
 * Binds chp_rdk to the librdkafka containing caller (an address inside it:
 * conf_init's return address).  Idempotent for the same library; fails
 * with errstr when the functions cannot be found there (a static build that
 * exports none), when the library is older than CHP_RDK_MIN_VERSION, or
 * when another librdkafka of the same process already bound the plugin.
 */
rd_kafka_resp_err_t chp_rdk_bind(const void *caller, char *errstr,
                                 size_t errstr_size);

#ifdef CHP_RDK_DYNAMIC
#define rd_kafka_version            (chp_rdk.version)
#define rd_kafka_version_str        (chp_rdk.version_str)
#define rd_kafka_err2str            (chp_rdk.err2str)
#define rd_kafka_conf_new           (chp_rdk.conf_new)
#define rd_kafka_conf_set           (chp_rdk.conf_set)
#define rd_kafka_conf_get           (chp_rdk.conf_get)
#define rd_kafka_conf_dump          (chp_rdk.conf_dump)
#define rd_kafka_conf_dump_free     (chp_rdk.conf_dump_free)
#define rd_kafka_conf_destroy       (chp_rdk.conf_destroy)
#define rd_kafka_conf_set_dr_msg_cb (chp_rdk.conf_set_dr_msg_cb)
#define rd_kafka_conf_set_opaque    (chp_rdk.conf_set_opaque)
#define rd_kafka_conf_interceptor_add_on_conf_set                              \
    (chp_rdk.conf_interceptor_add_on_conf_set)
#define rd_kafka_conf_interceptor_add_on_conf_dup                              \
    (chp_rdk.conf_interceptor_add_on_conf_dup)
#define rd_kafka_conf_interceptor_add_on_conf_destroy                          \
    (chp_rdk.conf_interceptor_add_on_conf_destroy)
#define rd_kafka_conf_interceptor_add_on_new                                   \
    (chp_rdk.conf_interceptor_add_on_new)
#define rd_kafka_interceptor_add_on_send (chp_rdk.interceptor_add_on_send)
#define rd_kafka_interceptor_add_on_acknowledgement                            \
    (chp_rdk.interceptor_add_on_acknowledgement)
#define rd_kafka_interceptor_add_on_consume (chp_rdk.interceptor_add_on_consume)
#define rd_kafka_interceptor_add_on_destroy (chp_rdk.interceptor_add_on_destroy)
#define rd_kafka_new                        (chp_rdk.new)
#define rd_kafka_destroy                    (chp_rdk.destroy)
#define rd_kafka_type                       (chp_rdk.type)
#define rd_kafka_name                       (chp_rdk.name)
#define rd_kafka_poll                       (chp_rdk.poll)
#define rd_kafka_flush                      (chp_rdk.flush)
#define rd_kafka_purge                      (chp_rdk.purge)
#define rd_kafka_producev                   (chp_rdk.producev)
#define rd_kafka_topic_name                 (chp_rdk.topic_name)
#define rd_kafka_message_timestamp          (chp_rdk.message_timestamp)
#define rd_kafka_message_headers            (chp_rdk.message_headers)
#define rd_kafka_header_get_last            (chp_rdk.header_get_last)
#endif

#endif
