/* topics.h - the worker's topic set: explicit list, regex, registry. */
#ifndef CHP_WORKER_TOPICS_H
#define CHP_WORKER_TOPICS_H

#include <stdbool.h>

#include <librdkafka/rdkafka.h>

#include "chaperone.h"
#include "worker/registry.h"

typedef struct topic_filter topic_filter_t;

/* From worker.topics, worker.topics.regex, audit.topic, worker.registry.
 * NULL with errstr naming the key on a bad regex. */
topic_filter_t *topic_filter_new(const chp_conf_t *conf, char *errstr,
                                 size_t errstr_size);
void topic_filter_destroy(topic_filter_t *f);

/* Topics never audited: the audit topic, the registry, `__` internals. */
bool topic_filter_never(const topic_filter_t *f, const char *topic);

/* Whether topic is audited (in_registry: the controller lists it). */
bool topic_filter_match(const topic_filter_t *f, const char *topic,
                        bool in_registry);

/* A sorted set of topic names. */
typedef struct topic_set {
    char **names;
    size_t n;
} topic_set_t;

/* The cluster's existing topics that match (reg may be NULL).
 * CHP_OK, or CHP_ERR_KAFKA (logged) if the cluster could not be listed,
 * CHP_ERR_NOMEM; out is then empty. */
chp_err_t topic_set_from_metadata(rd_kafka_t *rk, const topic_filter_t *f,
                                  const registry_t *reg, topic_set_t *out,
                                  int timeout_ms);
bool topic_set_equal(const topic_set_t *a, const topic_set_t *b);
void topic_set_clear(topic_set_t *s);

#endif
