/* auditread.h - reads an audit topic back (read_committed) and sums the
 * audit messages per (tier, topic, bucket), for integration and e2e tests. */
#ifndef CHP_TESTS_AUDITREAD_H
#define CHP_TESTS_AUDITREAD_H

#include <stdlib.h>
#include <string.h>

#include "chaperone.h"
#include "testutil.h"

#define AR_MAX_KEYS 4096

typedef struct ar_sum {
    char tier[CHP_NAME_MAX];
    char topic[CHP_NAME_MAX];
    int64_t begin;
    uint64_t count, bytes, no_time, malformed, delivery_failed, messages;
} ar_sum_t;

typedef struct ar_result {
    ar_sum_t sums[AR_MAX_KEYS];
    size_t n;
    uint64_t records;     /* audit records read */
    uint64_t undecodable; /* records that failed to decode */
    uint64_t dup_uuids;   /* records whose uuid was seen before */
    char first_error[256];
} ar_result_t;

/* The sums of (tier, topic, bucket begin), or NULL. */
ar_sum_t *ar_get(ar_result_t *r, const char *tier, const char *topic,
                 int64_t begin);

/* Sum of count over every bucket of (tier, topic); NULL matches any. */
uint64_t ar_total(const ar_result_t *r, const char *tier, const char *topic);

/* Reads audit_topic from the beginning to its end offsets as they are when
 * called (read_committed), summing into r.  0 on success, -1 on error. */
int ar_read(const char *brokers, const char *audit_topic, ar_result_t *r,
            int timeout_ms);

#endif
