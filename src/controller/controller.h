/* controller.h - `chaperone controller` (design.md §7): the audited-topic
 * registry, auto-detection and the REST API.
 *
 * The controller's state is the registry topic (worker/registry.h); this
 * process keeps a copy in memory and changes it only after the write is
 * acknowledged by Kafka.  Everything it needs from Kafka goes through
 * ctl_cluster_t, a small table of functions: cluster.c implements it over
 * librdkafka, the unit tests over memory.  That keeps the REST handler and
 * the detection rules testable without a broker.
 *
 *   controller.c        run loop: start-up, detection timer, shutdown
 *   core.c              ctl_t: state, filters, metrics, durable changes
 *   rest.c rest_body.c  REST routes, request bodies and topic names
 *   detect.c            auto-detection of new topics
 *   registry_writer.c   the registry topic: create it, write it durably
 *   cluster.c           ctl_cluster_t over librdkafka (metadata, group)
 */
#ifndef CHP_CONTROLLER_H
#define CHP_CONTROLLER_H

#include <pthread.h>
#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "chaperone.h"
#include "http.h"
#include "metrics.h"
#include "worker/registry.h"
#include "worker/topics.h"

/* ------------------------------------------------------------ the seam */

/* One member of the workers' consumer group, with the partitions of one
 * topic it holds. */
typedef struct ctl_member {
    char *member_id, *client_id, *host;
    int32_t *partitions;
    size_t n_partitions;
} ctl_member_t;

typedef struct ctl_group {
    char *state; /* "Stable", "PreparingRebalance", "Empty", "Dead"... */
    ctl_member_t *members;
    size_t n_members;
} ctl_group_t;

void ctl_group_clear(ctl_group_t *g);

/*
 * What the controller asks of Kafka.  Every function fails (CHP_ERR_KAFKA,
 * topic_partitions -1) with errstr filled when Kafka cannot answer; the
 * REST handler turns that into a 503.
 */
typedef struct ctl_cluster {
    void *opaque;
    /* Every topic of the cluster, sorted (topic_set_clear frees it). */
    chp_err_t (*list_topics)(void *opaque, topic_set_t *out, char *errstr,
                             size_t errstr_size);
    /* Partition count of topic; 0 if it does not exist, -1 (errstr) when
     * the cluster cannot be asked: a count, so not a chp_err_t. */
    int (*topic_partitions)(void *opaque, const char *topic, char *errstr,
                            size_t errstr_size);
    /* Writes topic's registry record (REG_ABSENT: a tombstone) and returns
     * CHP_OK only once Kafka acknowledged it. */
    chp_err_t (*registry_write)(void *opaque, const char *topic,
                                reg_state_t state, char *errstr,
                                size_t errstr_size);
    /* The workers' group, with each member's partitions of topic. */
    chp_err_t (*describe_group)(void *opaque, const char *topic,
                                ctl_group_t *out, char *errstr,
                                size_t errstr_size);
} ctl_cluster_t;

/* ------------------------------------------------------------ state */

enum { CTL_N_STATUS = 10 }; /* request counters, see core.c */

typedef struct ctl {
    /* Held across "check the registry, write Kafka, apply": the REST
     * thread and the detection loop never interleave two changes. */
    pthread_mutex_t lock;
    registry_t *reg;
    ctl_cluster_t cluster;
    char *audit_topic, *registry_topic, *group_id;
    bool has_exclude, has_include;
    regex_t exclude, include;

    metrics_t *metrics; /* not owned */
    metric_t *m_audited, *m_blacklisted, *m_writes, *m_write_errors,
        *m_detect_runs, *m_detect_errors, *m_auto_added;
    metric_t *m_requests[CTL_N_STATUS];
} ctl_t;

/*
 * A controller over cluster (copied) with an empty registry, reading
 * audit.topic, worker.registry, worker.group.id and controller.* from conf.
 * Registers its metrics in metrics (which must outlive it).  NULL with
 * errstr naming the key on a bad regular expression.
 */
ctl_t *ctl_new(const chp_conf_t *conf, const ctl_cluster_t *cluster,
               metrics_t *metrics, char *errstr, size_t errstr_size);
void ctl_destroy(ctl_t *c);

/* Replaces the in-memory registry with reg (loaded from Kafka); takes
 * ownership of reg. */
void ctl_set_registry(ctl_t *c, registry_t *reg);

/* False for topics no worker ever audits: `__` internal topics, the audit
 * topic and the registry itself. */
bool ctl_auditable(const ctl_t *c, const char *topic);

/* Whether auto-detection may start auditing topic (auditable, not
 * excluded, included); says nothing about the registry. */
bool ctl_detectable(const ctl_t *c, const char *topic);

/* Writes topic's new state to Kafka and, once acknowledged, to memory.
 * The caller holds c->lock.  CHP_OK, or the cluster's error with errstr
 * filled. */
chp_err_t ctl_change(ctl_t *c, const char *topic, reg_state_t state,
                     char *errstr, size_t errstr_size);

/* Counts one answered request by its status (for /metrics). */
void ctl_count_request(ctl_t *c, int status);

/* ------------------------------------------------------------ REST */

/* The http_handler_t of the REST API; opaque is the ctl_t.  Answers every
 * request (never leaves resp->status at 0). */
void ctl_rest_handle(const http_req_t *req, http_resp_t *resp, void *opaque);

/* A parsed POST/PUT body: {"topic":"t","numPartitions":"1"}. */
typedef struct ctl_topic_body {
    bool has_topic;
    char topic[CHP_NAME_MAX];
    int64_t num_partitions; /* -1: not given */
} ctl_topic_body_t;

/*
 * Parses a request body (NULL or blank: no fields).  Returns CHP_OK, or
 * CHP_ERR_PARSE / CHP_ERR_INVALID_ARG with errstr saying why (the REST
 * handler answers 400).  Checks types and values, including the topic
 * name's legality; unknown fields are ignored.
 */
chp_err_t ctl_body_parse(const char *body, size_t len, ctl_topic_body_t *out,
                         char *errstr, size_t errstr_size);

/* CHP_OK if name is a legal Kafka topic name, else CHP_ERR_INVALID_ARG
 * with errstr filled. */
chp_err_t ctl_topic_name_check(const char *name, size_t len, char *errstr,
                               size_t errstr_size);

/* ------------------------------------------------------------ detection */

/*
 * One auto-detection pass: lists the cluster's topics and starts auditing
 * every detectable one the registry does not know (blacklisted ones are
 * known).  Sets *added to the number of topics added (also when a later
 * write failed) and returns CHP_OK, or the error with errstr filled when
 * the cluster could not be listed or a write failed.
 */
chp_err_t ctl_detect_run(ctl_t *c, size_t *added, char *errstr,
                         size_t errstr_size);

#endif
