/*
 * dedup_redis.h - de-duplication of audit messages by uuid in Redis
 * (dedup=redis, the original Chaperone's choice), beside the default of
 * keeping uuids in the database (store.h, dedup=db).
 *
 * Keys are "chaperone:uuid:<uuid>" with value 1 and a TTL
 * (dedup.ttl.hours).  How it fits exactly-once is in dedup_redis.c.
 */
#ifndef CHP_COLLECTOR_DEDUP_REDIS_H
#define CHP_COLLECTOR_DEDUP_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"

#define DEDUP_REDIS_PREFIX "chaperone:uuid:"

typedef struct dedup_redis dedup_redis_t;

/* Parses url (redis://[[user]:password@]host[:port][/db], port 6379 by
 * default) and connects.  ttl_s > 0 is how long a mark lasts.  On success
 * *out is the caller's (dedup_redis_destroy).  Errors name redis.url. */
chp_err_t dedup_redis_new(const char *url, int64_t ttl_s, dedup_redis_t **out,
                          char *errstr, size_t errstr_size);

void dedup_redis_destroy(dedup_redis_t *d);

/* seen[i] = true for each uuids[i] marked and not yet expired (one MGET
 * per 512 uuids).  CHP_ERR_DB (errstr says why) if Redis cannot answer;
 * the next call reconnects. */
chp_err_t dedup_redis_seen(dedup_redis_t *d, const char *const *uuids, size_t n,
                           bool *seen, char *errstr, size_t errstr_size);

/* Marks uuids[0..n) as seen (SET key 1 NX EX ttl, pipelined).  Call it
 * after the flush holding their counts committed.  CHP_ERR_DB as above. */
chp_err_t dedup_redis_mark(dedup_redis_t *d, const char *const *uuids, size_t n,
                           char *errstr, size_t errstr_size);

#endif
