/* auditmsg_field.h - the wire field table of the audit message (private),
 * shared by the codec (auditmsg.c), the fast decoder (auditmsg_fast.c) and
 * the comparison (auditmsg_diff.c), so that they can never disagree on a
 * name, a type or a limit.  docs/wire-format.md is the human-readable copy.
 *
 * The table is static: each file's compiler sees it as a constant, as when
 * the three lived in one file (the fast path's key lookup relies on that). */
#ifndef CHP_AUDITMSG_FIELD_H
#define CHP_AUDITMSG_FIELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"

/* Bucket bounds must survive conversion to milliseconds (chp_bucket_begin,
 * database columns) without overflow. */
#define TIME_LIMIT_S (INT64_MAX / 1000)

typedef enum field_kind {
    F_NAME,    /* string, < CHP_NAME_MAX bytes */
    F_UUID,    /* string, < CHP_UUID_MAX bytes */
    F_TIME,    /* int64 epoch seconds, |t| <= TIME_LIMIT_S */
    F_COUNT,   /* uint64 in [0, INT64_MAX]: JSON integers are signed 64-bit */
    F_LATENCY, /* finite double, ms; negative allowed (the original's are) */
    F_VERSION, /* int >= 0 on input; always CHP_AUDITMSG_VERSION on output */
    F_SKETCH,  /* chp_sketch_encode text */
} field_kind_t;

typedef struct field {
    const char *name; /* wire name */
    field_kind_t kind;
    size_t off; /* offset in chp_auditmsg_t */
    bool required;
} field_t;

#define FIELD(name, kind, member, req)                                         \
    {                                                                          \
        name, kind, offsetof(chp_auditmsg_t, member), req                      \
    }

/* Wire order: the original's fields first, then our extensions. */
static const field_t fields[] = {
    FIELD("topicName", F_NAME, topic, true),
    FIELD("timeBeginInSec", F_TIME, time_begin, true),
    FIELD("timeEndInSec", F_TIME, time_end, false),
    FIELD("count", F_COUNT, count, true),
    FIELD("totalBytes", F_COUNT, total_bytes, false),
    FIELD("noTimeCount", F_COUNT, no_time_count, false),
    FIELD("malformedCount", F_COUNT, malformed_count, false),
    FIELD("meanLatency", F_LATENCY, mean_latency, false),
    FIELD("latency95", F_LATENCY, latency95, false),
    FIELD("latency99", F_LATENCY, latency99, false),
    FIELD("maxLatency", F_LATENCY, max_latency, false),
    FIELD("tier", F_NAME, tier, false),
    FIELD("datacenter", F_NAME, datacenter, false),
    FIELD("hostname", F_NAME, hostname, false),
    FIELD("uuid", F_UUID, uuid, false),
    FIELD("version", F_VERSION, version, false),
    FIELD("negativeLatencyCount", F_COUNT, negative_latency_count, false),
    FIELD("latencySumMs", F_LATENCY, latency_sum_ms, false),
    FIELD("deliveryFailedCount", F_COUNT, delivery_failed_count, false),
    FIELD("auditDroppedCount", F_COUNT, audit_dropped_count, false),
    FIELD("abortedCount", F_COUNT, aborted_count, false),
    FIELD("latencySketch", F_SKETCH, sketch, false),
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

#define AT(m, f, type) ((type *)(void *)((char *)(m) + (f)->off))
#define CAT(m, f, type)                                                        \
    ((const type *)(const void *)((const char *)(m) + (f)->off))

static inline size_t str_cap(const field_t *f)
{
    return f->kind == F_UUID ? CHP_UUID_MAX : CHP_NAME_MAX;
}

#endif
