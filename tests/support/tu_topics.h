/* tu_topics.h - creating, awaiting and deleting topics with the admin API. */
#ifndef CHP_TU_TOPICS_H
#define CHP_TU_TOPICS_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>

/* Polls metadata until topic has exactly partitions partitions, each with a
 * leader, or timeout_ms passes.  0, or -1 with errstr filled. */
int tu_wait_topic(rd_kafka_t *rk, const char *topic, int partitions,
                  int timeout_ms, char *errstr, size_t n);

/* Waits up to timeout_ms for the result event of an admin request on q. */
rd_kafka_event_t *tu_admin_result(rd_kafka_queue_t *q,
                                  rd_kafka_event_type_t type, int timeout_ms);

/* Creates topic (replication factor 1) with the admin API, accepting one
 * that already exists, then waits until every partition has a leader.
 * 0, or -1 with errstr filled. */
int tu_create_topic(const char *brokers, const char *topic, int partitions,
                    char *errstr, size_t n);

/* Deletes topic so tests do not pile topics up on a shared broker.  Best
 * effort: 0, or -1 with errstr filled. */
int tu_delete_topic(const char *brokers, const char *topic, char *errstr,
                    size_t n);

/* A topic named prefix-<unique> (tu_unique_name into name) created with
 * partitions partitions (tu_create_topic).  0, or -1 with errstr filled. */
int tu_make_topic(const char *brokers, char *name, size_t n, const char *prefix,
                  int partitions, char *errstr, size_t errstr_size);

#endif
