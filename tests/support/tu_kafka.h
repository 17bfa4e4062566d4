/* tu_kafka.h - librdkafka clients for tests that talk to a real broker.
 *
 * None of them depends on cmocka: they return an error and fill errstr,
 * and the test decides how to fail. */
#ifndef CHP_TU_KAFKA_H
#define CHP_TU_KAFKA_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include <stdint.h>

/* prefix-<pid>-<ms since epoch>-<counter>: unique across runs and processes
 * sharing one broker, and a legal topic, group and transactional.id. */
void tu_unique_name(char *buf, size_t n, const char *prefix);

/* A configuration with bootstrap.servers and the NULL-terminated key, value
 * pairs of extra (may be NULL).  NULL and errstr filled on a bad property. */
rd_kafka_conf_t *tu_conf(const char *brokers, const char *const extra[],
                         char *errstr, size_t n);

/* A handle of the given type from a configuration; takes ownership of conf
 * in every case.  NULL (reason on stderr) on failure. */
rd_kafka_t *tu_handle(rd_kafka_type_t type, rd_kafka_conf_t *conf);

/* A producer with extra key, value pairs (NULL-terminated, may be NULL).
 * NULL (reason on stderr) on failure. */
rd_kafka_t *tu_producer(const char *brokers,
                        const char *const extra_kv_pairs[]);

/* A consumer in group (reading from the earliest offset unless extra says
 * otherwise) whose rd_kafka_consumer_poll() also serves its events.
 * NULL (reason on stderr) on failure. */
rd_kafka_t *tu_consumer(const char *brokers, const char *group,
                        const char *const extra_kv_pairs[]);

/* 0 if brokers answer a metadata request within timeout_ms, else -1 with
 * errstr filled: a test fails in seconds, not phase by phase, when the
 * configured broker is down. */
int tu_brokers_answer(const char *brokers, int timeout_ms, char *errstr,
                      size_t n);

/* High watermarks (end offsets) of partitions 0..partitions-1 of topic into
 * hi[].  0, or -1 with errstr filled. */
int tu_end_offsets(rd_kafka_t *rk, const char *topic, int partitions,
                   int64_t *hi, char *errstr, size_t n);

/* Copies the error's text into errstr and destroys it; returns -1 if there
 * was an error, 0 for NULL.  For the rd_kafka_error_t * of the transaction
 * API, so a test can fail with the reason and leak nothing. */
int tu_take_error(rd_kafka_error_t *error, const char *what, char *errstr,
                  size_t n);

/* Produces one message (copied; key may be NULL, partition may be
 * RD_KAFKA_PARTITION_UA), serving delivery reports while the queue is full
 * instead of failing.  The error of rd_kafka_producev otherwise. */
rd_kafka_resp_err_t tu_produce(rd_kafka_t *rk, const char *topic,
                               int32_t partition, const void *key,
                               size_t key_len, const void *value, size_t len);

/* Paces a stream started at t0 (tu_now_ms) to rate_per_s messages a second
 * once sent messages are out: serves rk, then sleeps until they are due. */
void tu_pace(rd_kafka_t *rk, int64_t t0, uint64_t sent, int rate_per_s);

#endif
