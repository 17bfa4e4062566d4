/* inherit.h - the client's connection settings for the plugin's producer. */
#ifndef CHP_PLUGIN_INHERIT_H
#define CHP_PLUGIN_INHERIT_H

#include <librdkafka/rdkafka.h>

#include "chaperone.h"

/**
 * Copies into dst, as kafka.<name>, every property of client in the
 * families security.protocol, sasl.*, ssl.*, client.dns.lookup (and the two
 * enable.* switches of those families) that differs from librdkafka's
 * default and that dst does not set itself (chaperone.kafka.* wins).
 * Values are never logged.
 */
chp_err_t chp_plugin_inherit(const rd_kafka_conf_t *client, chp_conf_t *dst,
                             char *errstr, size_t errstr_size);

#endif
