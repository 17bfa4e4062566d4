/* kafka.h - the controller's one Kafka client (private to controller/):
 * an idempotent producer that writes the registry topic, and through
 * which the cluster's metadata and the workers' group are read. */
#ifndef CHP_CONTROLLER_KAFKA_H
#define CHP_CONTROLLER_KAFKA_H

#include <stdatomic.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "controller/controller.h"
#include "health.h"

#define CTL_KAFKA_TIMEOUT_MS 10000 /* metadata, group description */

typedef struct ctl_kafka {
    rd_kafka_t *rk;
    char *registry_topic, *group_id;
    int write_wait_ms; /* message.timeout.ms plus a margin */
    uint64_t seq;      /* of the last write; writes hold the ctl lock */
    /* Set by the delivery report, which may run on any polling thread. */
    _Atomic int dr_err;
    _Atomic uint64_t dr_seq;
} ctl_kafka_t;

/* The producer (enable.idempotence, acks=all, kafka.* keys of conf);
 * librdkafka's errors are logged and marked on health (may be NULL).
 * NULL with errstr filled. */
ctl_kafka_t *ctl_kafka_new(const chp_conf_t *conf, health_t *health,
                           char *errstr, size_t errstr_size);
void ctl_kafka_destroy(ctl_kafka_t *k);

/* Creates the registry topic if missing: compacted, 1 partition, the
 * cluster's default replication factor.  CHP_OK, or CHP_ERR_KAFKA with
 * errstr filled. */
chp_err_t ctl_kafka_ensure_registry(ctl_kafka_t *k, int timeout_ms,
                                    char *errstr, size_t errstr_size);

/* Writes topic's record and waits for Kafka's acknowledgement.
 * CHP_OK, or CHP_ERR_KAFKA with errstr filled (outcome unknown: retry the
 * same write). */
chp_err_t ctl_kafka_registry_put(ctl_kafka_t *k, const char *topic,
                                 reg_state_t state, char *errstr,
                                 size_t errstr_size);

/* True once the idempotent producer hit a fatal error (errstr filled):
 * the process must restart to write again. */
bool ctl_kafka_fatal(ctl_kafka_t *k, char *errstr, size_t errstr_size);

/* Fills out with the ctl_cluster_t over k (cluster.c). */
void ctl_kafka_cluster(ctl_kafka_t *k, ctl_cluster_t *out);

#endif
