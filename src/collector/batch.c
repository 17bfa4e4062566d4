/* batch.c - see batch.h.
 *
 * Each aggregated record keeps its raw payload (a few hundred bytes) in an
 * arena.  Decoding and aggregating happens once, on add; the raw copy is
 * only read again in the rare cases where messages must leave an
 * aggregation that cannot be subtracted from (sketches): a uuid the
 * database already knows, or partitions revoked while the database is
 * down.  The batch is then rebuilt from the records that stay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/aggregate.h"
#include "collector/batch.h"
#include "collector/index.h"

#define NONE UINT32_MAX

typedef struct rec {
    uint32_t part;   /* index in parts */
    uint32_t uuid;   /* index in uuids, NONE without one */
    size_t off, len; /* payload in the arena */
} rec_t;

struct coll_batch {
    bool combine_hosts;
    agg_t *agg;
    chp_auditmsg_t msg; /* decode target, reused */

    rec_t *recs; /* aggregated records */
    size_t nrecs, caprecs;
    char *arena;
    size_t alen, acap;

    char (*uuids)[CHP_UUID_MAX];
    const char *
        *uuid_ptrs; /* same order, for the store and the seen function */
    size_t nuuids, capuuids;
    coll_index_t uuid_index; /* the uuids as a set */
    const char *probe;       /* the uuid being looked up */

    store_offset_t *parts; /* next offset per partition */
    size_t *part_records;  /* records added per partition */
    size_t nparts, capparts;
    size_t records;

    /* The stored next offset of every partition known (next_offset; -1:
     * none stored): a partition's prev_offset when it enters a batch.
     * Survives resets. */
    store_offset_t *pos;
    size_t npos, cappos;
};

coll_batch_t *coll_batch_new(bool combine_hosts)
{
    coll_batch_t *b = calloc(1, sizeof(*b));

    if (!b)
        return NULL;
    b->combine_hosts = combine_hosts;
    chp_auditmsg_init(&b->msg);
    if (!(b->agg = agg_new(combine_hosts))) {
        free(b);
        return NULL;
    }
    return b;
}

void coll_batch_destroy(coll_batch_t *b)
{
    if (!b)
        return;
    agg_destroy(b->agg);
    chp_auditmsg_clear(&b->msg);
    free(b->recs);
    free(b->arena);
    free(b->uuids);
    free(b->uuid_ptrs);
    coll_index_free(&b->uuid_index);
    free(b->parts);
    free(b->part_records);
    free(b->pos);
    free(b);
}

void coll_batch_reset(coll_batch_t *b)
{
    agg_reset(b->agg);
    b->nrecs = b->alen = b->nuuids = b->nparts = b->records = 0;
    coll_index_reset(&b->uuid_index);
}

size_t coll_batch_records(const coll_batch_t *b)
{
    return b->records;
}

size_t coll_batch_messages(const coll_batch_t *b)
{
    return b->nrecs;
}

/* ------------------------------------------------------------ growth */

/* Makes room for one more element of size sz in *v (count n, capacity
 * *cap).  The arrays only grow, so a reset batch allocates nothing. */
static chp_err_t reserve(void **v, size_t *cap, size_t n, size_t need,
                         size_t sz)
{
    size_t ncap;
    void *nv;

    if (n + need <= *cap)
        return CHP_OK;
    ncap = *cap ? *cap * 2 : 64;
    while (ncap < n + need)
        ncap *= 2;
    if (!(nv = realloc(*v, ncap * sz)))
        return CHP_ERR_NOMEM;
    *v = nv;
    *cap = ncap;
    return CHP_OK;
}

static uint64_t uuid_hash(const char *s)
{
    return coll_hash(COLL_HASH_INIT, s, strlen(s));
}

static uint64_t entry_hash(uint32_t i, void *opaque)
{
    const coll_batch_t *b = opaque;

    return uuid_hash(b->uuids[i]);
}

/* Uuid i is the one looked for (coll_batch_t.probe). */
static bool entry_is(uint32_t i, void *opaque)
{
    const coll_batch_t *b = opaque;

    return strcmp(b->uuids[i], b->probe) == 0;
}

static store_offset_t *pos_find(const coll_batch_t *b, const char *topic,
                                int32_t partition)
{
    for (size_t i = 0; i < b->npos; i++)
        if (b->pos[i].partition == partition && !strcmp(b->pos[i].topic, topic))
            return &b->pos[i];
    return NULL;
}

chp_err_t coll_batch_set_position(coll_batch_t *b, const char *topic,
                                  int32_t partition, int64_t stored)
{
    store_offset_t *p = pos_find(b, topic, partition);

    if (!p) {
        if (reserve((void **)&b->pos, &b->cappos, b->npos, 1, sizeof(*b->pos)))
            return CHP_ERR_NOMEM;
        p = &b->pos[b->npos++];
        memset(p, 0, sizeof(*p));
        snprintf(p->topic, sizeof(p->topic), "%s", topic);
        p->partition = partition;
    }
    p->next_offset = stored < 0 ? -1 : stored;
    p->prev_offset = -1;
    return CHP_OK;
}

chp_err_t coll_batch_committed(coll_batch_t *b)
{
    chp_err_t err = CHP_OK;

    for (size_t i = 0; i < b->nparts && !err; i++)
        err =
            coll_batch_set_position(b, b->parts[i].topic, b->parts[i].partition,
                                    b->parts[i].next_offset);
    coll_batch_reset(b);
    return err;
}

/* Index of (topic, partition) in parts, added if new; -1 on ENOMEM.  A
 * collector reads one topic with a handful of partitions: a scan is
 * cheaper than any table. */
static long part_index(coll_batch_t *b, const char *topic, int32_t partition)
{
    for (size_t i = 0; i < b->nparts; i++)
        if (b->parts[i].partition == partition &&
            !strcmp(b->parts[i].topic, topic))
            return (long)i;
    size_t cap = b->capparts;
    if (reserve((void **)&b->parts, &cap, b->nparts, 1, sizeof(*b->parts)) ||
        reserve((void **)&b->part_records, &b->capparts, b->nparts, 1,
                sizeof(*b->part_records)))
        return -1;
    store_offset_t *p = &b->parts[b->nparts];
    const store_offset_t *known = pos_find(b, topic, partition);
    memset(p, 0, sizeof(*p));
    snprintf(p->topic, sizeof(p->topic), "%s", topic);
    p->partition = partition;
    p->next_offset = -1;
    /* Unknown (never set): "none stored", which the store refuses if one
     * is, so a guess can only make the batch stale, never apply twice. */
    p->prev_offset = known ? known->next_offset : -1;
    b->part_records[b->nparts] = 0;
    return (long)b->nparts++;
}

static void consumed(coll_batch_t *b, long part, int64_t offset)
{
    if (offset + 1 > b->parts[part].next_offset)
        b->parts[part].next_offset = offset + 1;
    b->part_records[part]++;
    b->records++;
}

/* --------------------------------------------------------------- add */

chp_err_t coll_batch_add(coll_batch_t *b, const char *topic, int32_t partition,
                         int64_t offset, const void *payload, size_t len,
                         coll_add_t *res, char *errstr, size_t errstr_size)
{
    chp_auditmsg_t *m = &b->msg;
    bool has_uuid;
    chp_err_t err;
    size_t slot = 0;
    long part;

    if ((part = part_index(b, topic, partition)) < 0)
        return CHP_ERR_NOMEM;
    err = chp_auditmsg_decode(m, payload, len, errstr, errstr_size);
    if (err == CHP_ERR_NOMEM)
        return err;
    if (err != CHP_OK) {
        *res = COLL_UNDECODABLE;
        consumed(b, part, offset);
        return CHP_OK;
    }
    has_uuid = m->uuid[0] != '\0';
    if (has_uuid) {
        if ((err = coll_index_reserve(&b->uuid_index, b->nuuids, 256,
                                      entry_hash, b)) != CHP_OK)
            goto cleanup;
        b->probe = m->uuid;
        slot = coll_index_find(&b->uuid_index, uuid_hash(m->uuid), entry_is, b);
        if (b->uuid_index.slots[slot] != COLL_INDEX_EMPTY) {
            *res = COLL_DUPLICATE;
            consumed(b, part, offset);
            goto cleanup;
        }
    }
    /* Every allocation before agg_add, which is the one step that changes
     * what the batch counts: a failure leaves the batch as it was. */
    size_t capu = b->capuuids;
    if (reserve((void **)&b->recs, &b->caprecs, b->nrecs, 1,
                sizeof(*b->recs)) ||
        reserve((void **)&b->arena, &b->acap, b->alen, len ? len : 1, 1) ||
        reserve((void **)&b->uuids, &capu, b->nuuids, 1, sizeof(*b->uuids)) ||
        reserve((void **)&b->uuid_ptrs, &b->capuuids, b->nuuids, 1,
                sizeof(*b->uuid_ptrs))) {
        err = CHP_ERR_NOMEM;
        goto cleanup;
    }
    if ((err = agg_add(b->agg, m)) != CHP_OK)
        goto cleanup;

    rec_t *r = &b->recs[b->nrecs++];
    r->part = (uint32_t)part;
    r->off = b->alen;
    r->len = len;
    memcpy(b->arena + b->alen, payload, len);
    b->alen += len;
    r->uuid = NONE;
    if (has_uuid) {
        r->uuid = (uint32_t)b->nuuids;
        memcpy(b->uuids[b->nuuids], m->uuid, sizeof(m->uuid));
        b->uuid_index.slots[slot] = (uint32_t)b->nuuids++;
    }
    *res = COLL_ADDED;
    consumed(b, part, offset);

cleanup:
    chp_auditmsg_clear(m);
    return err;
}

/* ----------------------------------------------------------- rebuild */

typedef bool(rec_pred_t)(const coll_batch_t *b, const rec_t *r, void *opaque);

/* Replaces b by a batch of the records keep() accepts; partitions keep()
 * accepts none of are kept only where keep_part[] says so.  The next offsets
 * stay those of the original records. */
static chp_err_t rebuild(coll_batch_t *b, rec_pred_t *keep, void *opaque,
                         const bool *keep_part, char *errstr,
                         size_t errstr_size)
{
    coll_batch_t *nb = coll_batch_new(b->combine_hosts), tmp;
    chp_err_t err = CHP_ERR_NOMEM;
    char derr[256];

    if (!nb)
        goto cleanup;
    /* Kept partitions first, in their order, with their offsets. */
    for (size_t i = 0; i < b->nparts; i++) {
        if (!keep_part[i])
            continue;
        long p = part_index(nb, b->parts[i].topic, b->parts[i].partition);
        if (p < 0)
            goto cleanup;
        nb->parts[p].next_offset = b->parts[i].next_offset;
        nb->parts[p].prev_offset = b->parts[i].prev_offset;
        nb->part_records[p] = b->part_records[i];
        nb->records += b->part_records[i];
    }
    for (size_t i = 0; i < b->nrecs; i++) {
        const rec_t *r = &b->recs[i];
        const store_offset_t *p = &b->parts[r->part];
        size_t records = nb->records;
        coll_add_t res;
        long np;

        if (!keep_part[r->part] || !keep(b, r, opaque))
            continue;
        np = part_index(nb, p->topic, p->partition);
        if (np < 0)
            goto cleanup;
        err =
            coll_batch_add(nb, p->topic, p->partition, p->next_offset - 1,
                           b->arena + r->off, r->len, &res, derr, sizeof(derr));
        if (err != CHP_OK)
            goto cleanup;
        err = CHP_ERR_NOMEM;
        /* Re-adding is not consuming: the counts carried over stand. */
        nb->records = records;
        nb->part_records[np]--;
        nb->parts[np].next_offset = p->next_offset;
    }
    /* The known positions stay with b. */
    nb->pos = b->pos;
    nb->npos = b->npos;
    nb->cappos = b->cappos;
    b->pos = NULL;
    b->npos = b->cappos = 0;
    tmp = *b;
    *b = *nb;
    *nb = tmp;
    err = CHP_OK;

cleanup:
    if (err != CHP_OK)
        snprintf(errstr, errstr_size, "out of memory rebuilding a batch");
    coll_batch_destroy(nb);
    return err;
}

static bool keep_all(const coll_batch_t *b, const rec_t *r, void *opaque)
{
    (void)b, (void)r, (void)opaque;
    return true;
}

chp_err_t coll_batch_drop_partitions(coll_batch_t *b, coll_part_pred_t *drop,
                                     void *opaque, char *errstr,
                                     size_t errstr_size)
{
    bool *keep_part, any = false;
    chp_err_t err;

    if (b->nparts == 0)
        return CHP_OK;
    if (!(keep_part = calloc(b->nparts, sizeof(*keep_part))))
        return CHP_ERR_NOMEM;
    for (size_t i = 0; i < b->nparts; i++) {
        keep_part[i] = !drop(b->parts[i].topic, b->parts[i].partition, opaque);
        any |= !keep_part[i];
    }
    err = any ? rebuild(b, keep_all, NULL, keep_part, errstr, errstr_size)
              : CHP_OK;
    free(keep_part);
    return err;
}

static bool not_seen(const coll_batch_t *b, const rec_t *r, void *opaque)
{
    const bool *seen = opaque;

    (void)b;
    return r->uuid == NONE || !seen[r->uuid];
}

/* ------------------------------------------------------------- flush */

const char *const *coll_batch_uuids(coll_batch_t *b, size_t *n)
{
    for (size_t i = 0; i < b->nuuids; i++)
        b->uuid_ptrs[i] = b->uuids[i];
    *n = b->nuuids;
    return b->uuid_ptrs;
}

const store_offset_t *coll_batch_offsets(const coll_batch_t *b, size_t *n)
{
    *n = b->nparts;
    return b->parts;
}

/* Takes the messages whose uuid the seen function knows out of the batch. */
static chp_err_t filter_seen(coll_batch_t *b, coll_seen_fn_t *seen,
                             void *opaque, size_t *dups, char *errstr,
                             size_t errstr_size)
{
    size_t n;
    const char *const *uuids = coll_batch_uuids(b, &n);
    bool *known = NULL, *keep_part = NULL;
    chp_err_t err = CHP_OK;

    *dups = 0;
    if (n == 0)
        return CHP_OK;
    if (!(known = calloc(n, sizeof(*known))) ||
        !(keep_part = malloc(b->nparts * sizeof(*keep_part)))) {
        err = CHP_ERR_NOMEM;
        snprintf(errstr, errstr_size, "out of memory");
        goto cleanup;
    }
    if ((err = seen(opaque, uuids, n, known, errstr, errstr_size)) != CHP_OK)
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        *dups += known[i];
    if (*dups == 0)
        goto cleanup;
    for (size_t i = 0; i < b->nparts; i++)
        keep_part[i] = true;
    err = rebuild(b, not_seen, known, keep_part, errstr, errstr_size);
    if (err != CHP_OK)
        *dups = 0;

cleanup:
    free(known);
    free(keep_part);
    return err;
}

chp_err_t coll_batch_flush(coll_batch_t *b, store_t *s, const char *cluster,
                           coll_seen_fn_t *seen, void *seen_opaque,
                           bool dedup_in_db, coll_flush_stats_t *st,
                           char *errstr, size_t errstr_size)
{
    store_batch_t sb = {.dedup_in_db = dedup_in_db, .cluster = cluster};
    chp_err_t err;

    memset(st, 0, sizeof(*st));
    if (b->nparts == 0)
        return CHP_OK;
    if (seen && (err = filter_seen(b, seen, seen_opaque, &st->duplicates,
                                   errstr, errstr_size)) != CHP_OK)
        return err;
    sb.rows = agg_rows(b->agg, &sb.n_rows);
    sb.uuids = coll_batch_uuids(b, &sb.n_uuids);
    sb.offsets = coll_batch_offsets(b, &sb.n_offsets);
    if ((err = store_flush(s, &sb, errstr, errstr_size)) != CHP_OK)
        return err;
    st->rows = sb.n_rows;
    st->messages = b->nrecs;
    return CHP_OK;
}
