/* registry.h - the audited-topic registry (design.md §7): a compacted Kafka
 * topic (worker.registry, default __chaperone_topics) written by the
 * controller, records as in registry_format.h.  The worker reads it from the
 * beginning on every refresh, so it needs no state of its own and keeps
 * working, with the last set it read, while the controller is down. */
#ifndef CHP_WORKER_REGISTRY_H
#define CHP_WORKER_REGISTRY_H

#include <stdbool.h>

#include "chaperone.h"
#include "registry_format.h"

typedef struct registry registry_t;

registry_t *registry_new(void);
void registry_destroy(registry_t *r);

/* Applies one record of the registry topic (value NULL = tombstone),
 * decoded by registry_format_decode.  Returns the decoder's error (and
 * changes nothing) for a record it cannot read, CHP_ERR_NOMEM when out of
 * memory. */
chp_err_t registry_apply(registry_t *r, const char *key, size_t key_len,
                         const char *value, size_t value_len);

reg_state_t registry_state(const registry_t *r, const char *topic);
/* True if the controller lists topic as audited. */
bool registry_has(const registry_t *r, const char *topic);

/* Calls cb for every topic in the given state, in name order. */
void registry_foreach(const registry_t *r, reg_state_t state,
                      void (*cb)(const char *topic, void *opaque),
                      void *opaque);

/*
 * Reads the whole registry topic from the beginning into r (a fresh set).
 * Returns CHP_OK; CHP_ERR_NOT_FOUND if the topic does not exist (r is left
 * empty); CHP_ERR_KAFKA on error (errstr filled either way).
 */
chp_err_t registry_load(const chp_conf_t *conf, const char *topic,
                        registry_t *r, int timeout_ms, char *errstr,
                        size_t errstr_size);

#endif
