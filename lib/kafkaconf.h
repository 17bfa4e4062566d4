/* kafkaconf.h - builds librdkafka configurations from our kafka.* keys. */
#ifndef CHP_KAFKACONF_H
#define CHP_KAFKACONF_H

#include <librdkafka/rdkafka.h>

#include "chaperone.h"

/**
 * A new rd_kafka_conf_t holding defaults[] ("name", "value" pairs, NULL
 * terminated; may be NULL) and then every kafka.* key of conf, so users can
 * override our defaults.  Errors name the offending key (with its kafka.
 * prefix).  Returns NULL on error.
 */
rd_kafka_conf_t *chp_kafka_conf_new(const chp_conf_t *conf,
                                    const char *const *defaults, char *errstr,
                                    size_t errstr_size);

/** Sets one property, naming it in errstr on failure. */
chp_err_t chp_kafka_conf_set(rd_kafka_conf_t *kc, const char *name,
                             const char *value, char *errstr,
                             size_t errstr_size);

/* Fills v from a librdkafka message: value, record timestamp (-1 when not
 * available) and headers. */
void chp_kafka_msg_view(rd_kafka_message_t *m, chp_msg_view_t *v);

#endif
