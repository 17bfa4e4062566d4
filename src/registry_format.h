/* registry_format.h - the record format of the audited-topic registry
 * (design.md §7), the one contract between its writer (the controller,
 * controller/registry_writer.c) and its readers (worker/registry.c, and
 * the controller's own copy):
 *
 *   key   = the topic name (1 .. CHP_NAME_MAX-1 bytes)
 *   value = {"state":"audited"} or {"state":"blacklisted"}
 *           (other fields are ignored, so later versions may add some)
 *   null  = a tombstone: the topic is forgotten (compaction drops it) */
#ifndef CHP_REGISTRY_FORMAT_H
#define CHP_REGISTRY_FORMAT_H

#include <stddef.h>

#include "chaperone.h"

typedef enum {
    REG_ABSENT = 0, /* unknown to the registry, or a tombstone */
    REG_AUDITED,
    REG_BLACKLISTED,
} reg_state_t;

/* The record value for state (a static string), or NULL for REG_ABSENT:
 * write a tombstone. */
const char *registry_format_encode(reg_state_t state);

/*
 * Reads one record (value NULL = tombstone, *state = REG_ABSENT).
 * CHP_OK; CHP_ERR_INVALID_ARG for an empty or too long key; CHP_ERR_PARSE
 * for a value that is not one of the states above.  errstr may be NULL.
 */
chp_err_t registry_format_decode(const char *key, size_t key_len,
                                 const char *value, size_t value_len,
                                 reg_state_t *state, char *errstr,
                                 size_t errstr_size);

/* "audited", "blacklisted", or "unknown" for REG_ABSENT: the names the
 * REST API and the logs use. */
const char *registry_state_name(reg_state_t state);

#endif
