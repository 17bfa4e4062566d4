/* auditread.c - see auditread.h. */
#include "auditread.h"

ar_sum_t *ar_get(ar_result_t *r, const char *tier, const char *topic,
                 int64_t begin)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->sums[i].begin == begin && !strcmp(r->sums[i].topic, topic) &&
            !strcmp(r->sums[i].tier, tier))
            return &r->sums[i];
    return NULL;
}

uint64_t ar_total(const ar_result_t *r, const char *tier, const char *topic)
{
    uint64_t t = 0;

    for (size_t i = 0; i < r->n; i++)
        if ((!tier || !strcmp(r->sums[i].tier, tier)) &&
            (!topic || !strcmp(r->sums[i].topic, topic)))
            t += r->sums[i].count;
    return t;
}

static int ar_uuid_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int ar_read(const char *brokers, const char *audit_topic, ar_result_t *r,
            int timeout_ms)
{
    char group[128];
    const char *extra[] = {"isolation.level",
                           "read_committed",
                           "enable.partition.eof",
                           "true",
                           "enable.auto.commit",
                           "false",
                           NULL};
    rd_kafka_t *rk;
    rd_kafka_topic_partition_list_t *sub;
    int64_t deadline = tu_now_ms() + timeout_ms;
    int partitions = -1, eofs = 0;
    char **uuids = NULL;
    size_t nuuids = 0, capuuids = 0;
    int rc = -1;

    memset(r, 0, sizeof(*r));
    tu_unique_name(group, sizeof(group), "auditread");
    if (!(rk = tu_consumer(brokers, group, extra)))
        return -1;
    {
        const rd_kafka_metadata_t *md;
        rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, audit_topic, NULL);
        if (rd_kafka_metadata(rk, 0, rkt, &md, 10000) == 0) {
            if (md->topic_cnt == 1 && !md->topics[0].err)
                partitions = md->topics[0].partition_cnt;
            rd_kafka_metadata_destroy(md);
        }
        rd_kafka_topic_destroy(rkt);
    }
    if (partitions <= 0) {
        snprintf(r->first_error, sizeof(r->first_error),
                 "audit topic %s not found", audit_topic);
        goto out;
    }
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, audit_topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);

    while (eofs < partitions && tu_now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 200);
        chp_auditmsg_t am;
        char err[256];
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
            rd_kafka_message_destroy(m);
            continue;
        }
        if (m->err) {
            rd_kafka_message_destroy(m);
            continue;
        }
        r->records++;
        chp_auditmsg_init(&am);
        if (chp_auditmsg_decode(&am, m->payload, m->len, err, sizeof(err))) {
            r->undecodable++;
            if (!r->first_error[0])
                snprintf(r->first_error, sizeof(r->first_error), "%s", err);
        } else {
            ar_sum_t *s = ar_get(r, am.tier, am.topic, am.time_begin);
            if (!s && r->n < AR_MAX_KEYS) {
                s = &r->sums[r->n++];
                snprintf(s->tier, sizeof(s->tier), "%s", am.tier);
                snprintf(s->topic, sizeof(s->topic), "%s", am.topic);
                s->begin = am.time_begin;
            }
            if (s) {
                s->count += am.count;
                s->bytes += am.total_bytes;
                s->no_time += am.no_time_count;
                s->malformed += am.malformed_count;
                s->delivery_failed += am.delivery_failed_count;
                s->messages++;
            }
            if (nuuids == capuuids) {
                capuuids = capuuids ? capuuids * 2 : 256;
                uuids = realloc(uuids, capuuids * sizeof(*uuids));
            }
            uuids[nuuids++] = strdup(am.uuid);
        }
        chp_auditmsg_clear(&am);
        rd_kafka_message_destroy(m);
    }
    if (eofs < partitions) {
        snprintf(r->first_error, sizeof(r->first_error),
                 "timed out reading %s (%d of %d partitions at end)",
                 audit_topic, eofs, partitions);
        goto out;
    }
    if (nuuids) {
        qsort(uuids, nuuids, sizeof(*uuids), ar_uuid_cmp);
        for (size_t i = 1; i < nuuids; i++)
            if (!strcmp(uuids[i - 1], uuids[i]))
                r->dup_uuids++;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nuuids; i++)
        free(uuids[i]);
    free(uuids);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
