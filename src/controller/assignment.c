/* assignment.c - decodes the assignment a consumer group member received
 * (Kafka's ConsumerProtocolAssignment, big-endian, not a flexible version):
 *
 *   int16  version
 *   int32  topic count, then per topic:
 *            int16 name length, name bytes
 *            int32 partition count, int32 partitions
 *   bytes  user data (ignored)
 *
 * librdkafka 2.0's rd_kafka_list_groups() hands these bytes over raw.
 * They come from the network: every length is checked against the end. */
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"

typedef struct rd {
    const unsigned char *p, *end;
} rd_t;

static int get_i16(rd_t *r, int16_t *v)
{
    if (r->end - r->p < 2)
        return -1;
    *v = (int16_t)(((unsigned)r->p[0] << 8) | r->p[1]);
    r->p += 2;
    return 0;
}

static int get_i32(rd_t *r, int32_t *v)
{
    if (r->end - r->p < 4)
        return -1;
    *v = (int32_t)(((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) |
                   ((uint32_t)r->p[2] << 8) | r->p[3]);
    r->p += 4;
    return 0;
}

int ctl_assignment_partitions(const void *buf, size_t len, const char *topic,
                              int32_t **parts, size_t *n)
{
    rd_t r = {buf, (const unsigned char *)buf + len};
    size_t tlen = strlen(topic);
    int16_t version, slen;
    int32_t ntopics, np, p = 0;

    *parts = NULL;
    *n = 0;
    if (len == 0) /* joined, not assigned yet */
        return 0;
    if (get_i16(&r, &version) || version < 0 || get_i32(&r, &ntopics))
        goto bad;
    for (int32_t t = 0; t < ntopics; t++) {
        bool match;

        if (get_i16(&r, &slen) || slen < 0 || r.end - r.p < slen)
            goto bad;
        match = (size_t)slen == tlen && !memcmp(r.p, topic, tlen);
        r.p += slen;
        if (get_i32(&r, &np) || np < 0 || (r.end - r.p) / 4 < np)
            goto bad;
        if (match && np > 0) {
            int32_t *nv = realloc(*parts, (*n + (size_t)np) * sizeof(*nv));
            if (!nv)
                goto bad;
            *parts = nv;
        }
        for (int32_t i = 0; i < np; i++) {
            get_i32(&r, &p); /* bounds checked above */
            if (match)
                (*parts)[(*n)++] = p;
        }
    }
    return 0; /* user data follows; not ours to read */
bad:
    free(*parts);
    *parts = NULL;
    *n = 0;
    return -1;
}
