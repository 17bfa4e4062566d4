/* cluster.c - ctl_cluster_t over librdkafka: the topic list and partition
 * counts from metadata, registry writes (registry_writer.c), and the
 * workers' group from the group coordinator's own description
 * (DescribeConsumerGroups, which decodes the members' assignments). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/kafka.h"
#include "errstr.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Always asks for every topic: a metadata request naming one topic lets a
 * broker with auto.create.topics.enable create it, and "does it exist?"
 * must never create it. */
static chp_err_t metadata(ctl_kafka_t *k, const rd_kafka_metadata_t **md,
                          char *errstr, size_t errstr_size)
{
    rd_kafka_resp_err_t err =
        rd_kafka_metadata(k->rk, 1, NULL, md, CTL_KAFKA_TIMEOUT_MS);

    if (err) {
        snprintf(errstr, errstr_size, "metadata: %s", rd_kafka_err2str(err));
        return CHP_ERR_KAFKA;
    }
    return CHP_OK;
}

static chp_err_t list_topics(void *opaque, topic_set_t *out, char *errstr,
                             size_t errstr_size)
{
    const rd_kafka_metadata_t *md;

    memset(out, 0, sizeof(*out));
    if (metadata(opaque, &md, errstr, errstr_size) != CHP_OK)
        return CHP_ERR_KAFKA;
    out->names = calloc((size_t)md->topic_cnt + 1, sizeof(*out->names));
    for (int i = 0; out->names && i < md->topic_cnt; i++) {
        if (md->topics[i].err)
            continue;
        if (!(out->names[out->n] = strdup(md->topics[i].topic)))
            break;
        out->n++;
    }
    rd_kafka_metadata_destroy(md);
    if (!out->names)
        return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM, "out of memory");
    qsort(out->names, out->n, sizeof(*out->names), cmp_str);
    return CHP_OK;
}

static int topic_partitions(void *opaque, const char *topic, char *errstr,
                            size_t errstr_size)
{
    const rd_kafka_metadata_t *md;
    int n = 0;

    if (metadata(opaque, &md, errstr, errstr_size) != CHP_OK)
        return -1;
    for (int i = 0; i < md->topic_cnt; i++)
        if (!md->topics[i].err && !strcmp(md->topics[i].topic, topic))
            n = md->topics[i].partition_cnt;
    rd_kafka_metadata_destroy(md);
    return n;
}

static chp_err_t registry_write(void *opaque, const char *topic,
                                reg_state_t state, char *errstr,
                                size_t errstr_size)
{
    return ctl_kafka_registry_put(opaque, topic, state, errstr, errstr_size);
}

/* Appends member m with its partitions of topic (if it holds any). */
static int add_member(ctl_group_t *out, const rd_kafka_MemberDescription_t *m,
                      const char *topic)
{
    const rd_kafka_MemberAssignment_t *a =
        rd_kafka_MemberDescription_assignment(m);
    const rd_kafka_topic_partition_list_t *l =
        a ? rd_kafka_MemberAssignment_partitions(a) : NULL;
    const char *id = rd_kafka_MemberDescription_consumer_id(m),
               *client = rd_kafka_MemberDescription_client_id(m),
               *host = rd_kafka_MemberDescription_host(m);
    int32_t *parts = NULL;
    size_t n = 0;
    ctl_member_t *nv, *x;

    for (int i = 0; l && i < l->cnt; i++)
        n += !strcmp(l->elems[i].topic, topic);
    if (n == 0)
        return 0;
    if (!(parts = malloc(n * sizeof(*parts))))
        return -1;
    n = 0;
    for (int i = 0; i < l->cnt; i++)
        if (!strcmp(l->elems[i].topic, topic))
            parts[n++] = l->elems[i].partition;
    if (!(nv = realloc(out->members, (out->n_members + 1) * sizeof(*nv)))) {
        free(parts);
        return -1;
    }
    out->members = nv;
    x = &out->members[out->n_members++];
    x->member_id = id ? strdup(id) : NULL;
    x->client_id = client ? strdup(client) : NULL;
    x->host = host ? strdup(host) : NULL;
    x->partitions = parts;
    x->n_partitions = n;
    return 0;
}

/* Fills out from the description of k's group in ev. */
static chp_err_t read_group(ctl_kafka_t *k, rd_kafka_event_t *ev,
                            const char *topic, ctl_group_t *out, char *errstr,
                            size_t errstr_size)
{
    const rd_kafka_ConsumerGroupDescription_t **gs;
    const rd_kafka_ConsumerGroupDescription_t *g = NULL;
    const rd_kafka_error_t *gerr;
    size_t cnt = 0;

    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, errstr_size, "describing group %s: %s", k->group_id,
                 rd_kafka_event_error_string(ev));
        return CHP_ERR_KAFKA;
    }
    gs = rd_kafka_DescribeConsumerGroups_result_groups(
        rd_kafka_event_DescribeConsumerGroups_result(ev), &cnt);
    for (size_t i = 0; i < cnt; i++)
        if (!strcmp(rd_kafka_ConsumerGroupDescription_group_id(gs[i]),
                    k->group_id))
            g = gs[i];
    if (!g) {
        snprintf(errstr, errstr_size, "describing group %s: no result",
                 k->group_id);
        return CHP_ERR_KAFKA;
    }
    if ((gerr = rd_kafka_ConsumerGroupDescription_error(g))) {
        snprintf(errstr, errstr_size, "describing group %s: %s", k->group_id,
                 rd_kafka_error_string(gerr));
        return CHP_ERR_KAFKA;
    }
    /* A group nobody joined is described as "Dead" with no members. */
    if (!(out->state = strdup(rd_kafka_consumer_group_state_name(
              rd_kafka_ConsumerGroupDescription_state(g)))))
        goto oom;
    for (size_t j = 0; j < rd_kafka_ConsumerGroupDescription_member_count(g);
         j++)
        if (add_member(out, rd_kafka_ConsumerGroupDescription_member(g, j),
                       topic) != 0)
            goto oom;
    return CHP_OK;
oom:
    return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM, "out of memory");
}

/* The group coordinator's own description (DescribeGroups): librdkafka
 * decodes each member's assignment. */
static chp_err_t describe_group(void *opaque, const char *topic,
                                ctl_group_t *out, char *errstr,
                                size_t errstr_size)
{
    ctl_kafka_t *k = opaque;
    const char *groups[1] = {k->group_id};
    rd_kafka_AdminOptions_t *opts;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    chp_err_t rc;

    memset(out, 0, sizeof(*out));
    opts = rd_kafka_AdminOptions_new(k->rk,
                                     RD_KAFKA_ADMIN_OP_DESCRIBECONSUMERGROUPS);
    if (!opts || rd_kafka_AdminOptions_set_request_timeout(
                     opts, CTL_KAFKA_TIMEOUT_MS, errstr, errstr_size)) {
        if (opts)
            rd_kafka_AdminOptions_destroy(opts);
        else
            snprintf(errstr, errstr_size, "out of memory");
        return CHP_ERR_KAFKA;
    }
    q = rd_kafka_queue_new(k->rk);
    rd_kafka_DescribeConsumerGroups(k->rk, groups, 1, opts, q);
    /* The request timeout answers first; the margin only covers a lost
     * event. */
    ev = rd_kafka_queue_poll(q, CTL_KAFKA_TIMEOUT_MS + 1000);
    rd_kafka_queue_destroy(q);
    rd_kafka_AdminOptions_destroy(opts);
    if (!ev) {
        snprintf(errstr, errstr_size, "describing group %s: no answer in %d ms",
                 k->group_id, CTL_KAFKA_TIMEOUT_MS);
        return CHP_ERR_KAFKA;
    }
    rc = read_group(k, ev, topic, out, errstr, errstr_size);
    rd_kafka_event_destroy(ev);
    if (rc != CHP_OK)
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
