/* cluster.c - ctl_cluster_t over librdkafka: the topic list and partition
 * counts from metadata, registry writes (registry_writer.c), and the
 * workers' group from the group coordinator's own description. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/kafka.h"
#include "log.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Always asks for every topic: a metadata request naming one topic lets a
 * broker with auto.create.topics.enable create it, and "does it exist?"
 * must never create it. */
static int metadata(ctl_kafka_t *k, const rd_kafka_metadata_t **md,
                    char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(k->rk, 1, NULL, md, CTL_KAFKA_TIMEOUT_MS);

    if (err) {
        snprintf(errstr, errstr_size, "metadata: %s", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int list_topics(void *opaque, topic_set_t *out, char *errstr,
                       size_t errstr_size)
{
    const rd_kafka_metadata_t *md;

    memset(out, 0, sizeof(*out));
    if (metadata(opaque, &md, errstr, errstr_size) != 0)
        return -1;
    out->names = calloc((size_t)md->topic_cnt + 1, sizeof(*out->names));
    for (int i = 0; out->names && i < md->topic_cnt; i++) {
        if (md->topics[i].err)
            continue;
        if (!(out->names[out->n] = strdup(md->topics[i].topic)))
            break;
        out->n++;
    }
    rd_kafka_metadata_destroy(md);
    if (!out->names) {
        snprintf(errstr, errstr_size, "out of memory");
        return -1;
    }
    qsort(out->names, out->n, sizeof(*out->names), cmp_str);
    return 0;
}

static int topic_partitions(void *opaque, const char *topic, char *errstr,
                            size_t errstr_size)
{
    const rd_kafka_metadata_t *md;
    int n = 0;

    if (metadata(opaque, &md, errstr, errstr_size) != 0)
        return -1;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!md->topics[i].err && !strcmp(md->topics[i].topic, topic))
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

static int registry_write(void *opaque, const char *topic, reg_state_t state,
                          char *errstr, size_t errstr_size)
{
    return ctl_kafka_registry_put(opaque, topic, state, errstr, errstr_size);
}

/* Appends member m with its partitions of topic (if it holds any). */
static int add_member(ctl_group_t *out,
                      const struct rd_kafka_group_member_info *m,
                      const char *topic)
{
    int32_t *parts;
    size_t n;
    ctl_member_t *nv, *x;

    if (ctl_assignment_partitions(m->member_assignment,
                                  m->member_assignment_size > 0
                                      ? (size_t)m->member_assignment_size
                                      : 0,
                                  topic, &parts, &n) != 0) {
        chp_log_warn("controller: unreadable assignment of group member %s",
                     m->member_id ? m->member_id : "?");
        return 0;
    }
    if (n == 0)
        return 0;
    nv = realloc(out->members, (out->n_members + 1) * sizeof(*nv));
    if (!nv) {
        free(parts);
        return -1;
    }
    out->members = nv;
    x = &out->members[out->n_members++];
    x->member_id = m->member_id ? strdup(m->member_id) : NULL;
    x->client_id = m->client_id ? strdup(m->client_id) : NULL;
    x->host = m->client_host ? strdup(m->client_host) : NULL;
    x->partitions = parts;
    x->n_partitions = n;
    return 0;
}

static int describe_group(void *opaque, const char *topic, ctl_group_t *out,
                          char *errstr, size_t errstr_size)
{
    ctl_kafka_t *k = opaque;
    const struct rd_kafka_group_list *gl = NULL;
    rd_kafka_resp_err_t err;
    int rc = -1;

    memset(out, 0, sizeof(*out));
    /* librdkafka 2.0's DescribeGroups wrapper; the bytes of each member's
     * assignment are decoded by assignment.c. */
    err = rd_kafka_list_groups(k->rk, k->group_id, &gl, CTL_KAFKA_TIMEOUT_MS);
    if (err) {
        snprintf(errstr, errstr_size, "describing group %s: %s", k->group_id,
                 rd_kafka_err2str(err));
        return -1;
    }
    for (int i = 0; i < gl->group_cnt; i++) {
        const struct rd_kafka_group_info *g = &gl->groups[i];
        if (strcmp(g->group, k->group_id))
            continue;
        if (g->err) {
            snprintf(errstr, errstr_size, "describing group %s: %s",
                     k->group_id, rd_kafka_err2str(g->err));
            goto out;
        }
        out->state = strdup(g->state ? g->state : "");
        /* Only the consumer protocol has this assignment format. */
        if (!g->protocol_type || strcmp(g->protocol_type, "consumer"))
            break;
        for (int j = 0; j < g->member_cnt; j++)
            if (add_member(out, &g->members[j], topic) != 0) {
                snprintf(errstr, errstr_size, "out of memory");
                goto out;
            }
    }
    rc = 0;
out:
    rd_kafka_group_list_destroy(gl);
    if (rc != 0)
        ctl_group_clear(out);
    return rc;
}

void ctl_kafka_cluster(ctl_kafka_t *k, ctl_cluster_t *out)
{
    out->opaque = k;
    out->list_topics = list_topics;
    out->topic_partitions = topic_partitions;
    out->registry_write = registry_write;
    out->describe_group = describe_group;
}
