/* aggregate.c - see aggregate.h.  Rows live in one array (store_flush wants
 * them contiguous); the collector's hash index (index.h) of row indices
 * finds a key's row in one hash and, almost always, one comparison.
 *
 * A row's sketch (~9 KiB of bins) comes from a pool that survives resets:
 * freeing thousands of them after every flush made malloc give the memory
 * back to the kernel and fault it in again, a quarter of the per-message
 * cost.  A new row takes the decoded message's own sketch and gives the
 * message a pooled one, freed at once, so the decoder's next allocation
 * reuses it; a message for an existing row is merged into the row's. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/aggregate.h"
#include "collector/index.h"

struct agg {
    bool combine_hosts;
    store_row_t *rows;
    size_t n, cap;
    coll_index_t index;       /* rows by key */
    const store_row_t *probe; /* the key being looked up */
    chp_sketch_t **pool;      /* empty sketches for new rows */
    size_t npool, cappool;
};

agg_t *agg_new(bool combine_hosts)
{
    agg_t *a = calloc(1, sizeof(*a));

    if (a)
        a->combine_hosts = combine_hosts;
    return a;
}

/* An empty sketch, from the pool if it has one; NULL on ENOMEM. */
static chp_sketch_t *sketch_get(agg_t *a)
{
    if (a->npool > 0) {
        chp_sketch_t *sk = a->pool[--a->npool];
        chp_sketch_reset(sk);
        return sk;
    }
    return chp_sketch_new();
}

static void sketch_put(agg_t *a, chp_sketch_t *sk)
{
    if (!sk)
        return;
    if (a->npool == a->cappool) {
        size_t ncap = a->cappool ? a->cappool * 2 : 64;
        chp_sketch_t **np = realloc(a->pool, ncap * sizeof(*np));
        if (!np) {
            chp_sketch_destroy(sk);
            return;
        }
        a->pool = np;
        a->cappool = ncap;
    }
    a->pool[a->npool++] = sk;
}

void agg_reset(agg_t *a)
{
    for (size_t i = 0; i < a->n; i++)
        sketch_put(a, a->rows[i].sketch);
    a->n = 0;
    coll_index_reset(&a->index);
}

void agg_destroy(agg_t *a)
{
    if (!a)
        return;
    agg_reset(a);
    for (size_t i = 0; i < a->npool; i++)
        chp_sketch_destroy(a->pool[i]);
    free(a->pool);
    free(a->rows);
    coll_index_free(&a->index);
    free(a);
}

/* The key's fields hashed; the NULs keep "ab"+"c" apart from "a"+"bc". */
static uint64_t row_hash(const store_row_t *r)
{
    uint64_t h =
        coll_hash(COLL_HASH_INIT, &r->time_begin, sizeof(r->time_begin));

    h = coll_hash(h, r->topic, strlen(r->topic) + 1);
    h = coll_hash(h, r->tier, strlen(r->tier) + 1);
    h = coll_hash(h, r->datacenter, strlen(r->datacenter) + 1);
    return coll_hash(h, r->host, strlen(r->host) + 1);
}

static uint64_t entry_hash(uint32_t i, void *opaque)
{
    const agg_t *a = opaque;

    return row_hash(&a->rows[i]);
}

/* The row looked for (agg_t.probe) has the key of row i. */
static bool entry_is(uint32_t i, void *opaque)
{
    const agg_t *a = opaque;

    return store_row_same_key(&a->rows[i], a->probe);
}

chp_err_t agg_add(agg_t *a, chp_auditmsg_t *m)
{
    chp_sketch_t *sk = m->sketch;
    store_row_t in;
    chp_err_t err;
    size_t s;

    if (coll_index_reserve(&a->index, a->n, 64, entry_hash, a) != CHP_OK)
        return CHP_ERR_NOMEM;
    /* store_row_from_msg is the one merge rule shared with the stores; it
     * is given no sketch so it allocates none: rows take theirs from the
     * pool. */
    m->sketch = NULL;
    store_row_from_msg(&in, m, a->combine_hosts);
    m->sketch = sk;
    a->probe = &in;
    s = coll_index_find(&a->index, row_hash(&in), entry_is, a);
    if (a->index.slots[s] != COLL_INDEX_EMPTY) {
        store_row_t *r = &a->rows[a->index.slots[s]];

        if (sk && !r->sketch && !(r->sketch = sketch_get(a)))
            return CHP_ERR_NOMEM;
        in.sketch = sk; /* borrowed: merged into r's */
        err = store_row_add(r, &in);
        if (err == CHP_OK && in.time_end > r->time_end)
            r->time_end = in.time_end;
        return err;
    }
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 64;
        store_row_t *nr = realloc(a->rows, ncap * sizeof(*nr));
        if (!nr)
            return CHP_ERR_NOMEM;
        a->rows = nr;
        a->cap = ncap;
    }
    /* A new row takes the message's sketch as it is (no clear and merge of
     * ~9 KiB), and the message takes a spare from the pool in exchange,
     * which its clear frees at once for the decoder's next allocation: the
     * same churn of memory as a merge into a pooled sketch. */
    if (sk) {
        in.sketch = sk;
        m->sketch = a->npool > 0 ? a->pool[--a->npool] : NULL;
    }
    a->rows[a->n] = in;
    a->index.slots[s] = (uint32_t)a->n++;
    return CHP_OK;
}

const store_row_t *agg_rows(const agg_t *a, size_t *n)
{
    *n = a->n;
    return a->rows;
}
