/* kafkawatch.h - librdkafka's own errors, told in the daemon's words.
 *
 * A transactional producer or a consumer that cannot reach its cluster
 * (wrong password, untrusted certificate, broker gone) only reports
 * "timed out" to the application; the cause is in librdkafka's error
 * events.  kafkawatch_attach() installs an error callback that logs the
 * cause in one line of the daemon's own ("worker: cannot reach Kafka:
 * SASL authentication error: ...") and marks the daemon unhealthy with it,
 * so /health and /metrics tell within seconds why nothing progresses. */
#ifndef CHP_KAFKAWATCH_H
#define CHP_KAFKAWATCH_H

#include <librdkafka/rdkafka.h>

#include "health.h"

/* Installs the error callback on kc (before rd_kafka_new).  who prefixes
 * the log lines ("worker"); h (may be NULL) is marked failed with the
 * cause.  Both must outlive every handle made from kc; one daemon per
 * process, so they are process-wide (the handle's opaque stays free). */
void kafkawatch_attach(rd_kafka_conf_t *kc, const char *who, health_t *h);

/* Whether err means the cluster cannot be reached or refuses us, as
 * opposed to a routine event (an idle connection closed). */
bool kafkawatch_is_outage(rd_kafka_resp_err_t err);

#endif
