/* registry.c - see registry.h.  A sorted array of (topic, state). */
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "errstr.h"
#include "kafkaconf.h"
#include "log.h"
#include "worker/registry.h"

typedef struct reg_entry {
    char *topic;
    reg_state_t state;
} reg_entry_t;

struct registry {
    reg_entry_t *v;
    size_t n, cap;
};

registry_t *registry_new(void)
{
    return calloc(1, sizeof(registry_t));
}

static void registry_clear(registry_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->v[i].topic);
    r->n = 0;
}

void registry_destroy(registry_t *r)
{
    if (!r)
        return;
    registry_clear(r);
    free(r->v);
    free(r);
}

/* Index of topic, or of where it would go (*found false). */
static size_t find(const registry_t *r, const char *topic, size_t len,
                   bool *found)
{
    size_t lo = 0, hi = r->n;

    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strncmp(r->v[mid].topic, topic, len);
        if (c == 0 && r->v[mid].topic[len] != '\0')
            c = 1;
        if (c == 0) {
            *found = true;
            return mid;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    *found = false;
    return lo;
}

chp_err_t registry_apply(registry_t *r, const char *key, size_t key_len,
                         const char *value, size_t value_len)
{
    reg_state_t st = REG_ABSENT;
    bool found;
    size_t i;
    chp_err_t err;

    if ((err = registry_format_decode(key, key_len, value, value_len, &st, NULL,
                                      0)) != CHP_OK)
        return err;
    i = find(r, key, key_len, &found);
    if (st == REG_ABSENT) { /* tombstone */
        if (found) {
            free(r->v[i].topic);
            memmove(&r->v[i], &r->v[i + 1], (r->n - i - 1) * sizeof(*r->v));
            r->n--;
        }
        return CHP_OK;
    }
    if (found) {
        r->v[i].state = st;
        return CHP_OK;
    }
    if (r->n == r->cap) {
        size_t ncap = r->cap ? r->cap * 2 : 64;
        reg_entry_t *nv = realloc(r->v, ncap * sizeof(*nv));
        if (!nv)
            return CHP_ERR_NOMEM;
        r->v = nv;
        r->cap = ncap;
    }
    memmove(&r->v[i + 1], &r->v[i], (r->n - i) * sizeof(*r->v));
    r->v[i].topic = strndup(key, key_len);
    r->v[i].state = st;
    r->n++;
    return CHP_OK;
}

reg_state_t registry_state(const registry_t *r, const char *topic)
{
    bool found;
    size_t i = find(r, topic, strlen(topic), &found);

    return found ? r->v[i].state : REG_ABSENT;
}

bool registry_has(const registry_t *r, const char *topic)
{
    return registry_state(r, topic) == REG_AUDITED;
}

void registry_foreach(const registry_t *r, reg_state_t state,
                      void (*cb)(const char *topic, void *opaque), void *opaque)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->v[i].state == state)
            cb(r->v[i].topic, opaque);
}

chp_err_t registry_load(const chp_conf_t *conf, const char *topic,
                        registry_t *r, int timeout_ms, char *errstr,
                        size_t errstr_size)
{
    static const char *const defaults[] = {
        "enable.auto.commit", "false", "enable.partition.eof", "true", NULL};
    rd_kafka_conf_t *kc =
        chp_kafka_conf_new(conf, defaults, errstr, errstr_size);
    const rd_kafka_metadata_t *md = NULL;
    rd_kafka_topic_partition_list_t *parts = NULL;
    rd_kafka_t *rk;
    rd_kafka_topic_t *rkt;
    int64_t deadline = chp_now_ms() + timeout_ms;
    chp_err_t rc = CHP_ERR_KAFKA;
    int eofs = 0, nparts = 0;

    if (!kc)
        return CHP_ERR_KAFKA;
    /* It only reads, by assignment: the group is never joined and nothing
     * is committed, but librdkafka's consumer API refuses to poll without
     * a group.id ("Local: Unknown group"). */
    rd_kafka_conf_set(kc, "group.id", "chaperone-registry-reader", NULL, 0);
    if (!(rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        return CHP_ERR_KAFKA;
    }
    registry_clear(r);
    rkt = rd_kafka_topic_new(rk, topic, NULL);
    if (rd_kafka_metadata(rk, 0, rkt, &md, timeout_ms) != 0) {
        snprintf(errstr, errstr_size, "cannot read metadata of %s", topic);
        goto out;
    }
    if (md->topics[0].err == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
        rc = chp_errf(errstr, errstr_size, CHP_ERR_NOT_FOUND,
                      "%s does not exist", topic);
        goto out;
    }
    nparts = md->topics[0].partition_cnt;
    parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    rd_kafka_assign(rk, parts);
    while (eofs < nparts) {
        rd_kafka_message_t *m;
        if (chp_now_ms() > deadline) {
            snprintf(errstr, errstr_size, "timed out reading %s", topic);
            goto out;
        }
        if (!(m = rd_kafka_consumer_poll(rk, 100)))
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eofs++;
        } else if (m->err) {
            chp_log_warn("registry %s: %s", topic, rd_kafka_message_errstr(m));
        } else if (registry_apply(r, m->key, m->key_len, m->payload, m->len) !=
                   CHP_OK) {
            chp_log_warn("registry %s: ignored an unreadable record at offset "
                         "%lld",
                         topic, (long long)m->offset);
        }
        rd_kafka_message_destroy(m);
    }
    rc = CHP_OK;
out:
    if (parts)
        rd_kafka_topic_partition_list_destroy(parts);
    if (md)
        rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(rkt);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return rc;
}
