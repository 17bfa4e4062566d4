/* aggregate.c - see aggregate.h.  Rows live in one array (store_flush wants
 * them contiguous); an open-addressing table of row indices finds a key's
 * row in one hash and, almost always, one comparison.
 *
 * A row's sketch (~9 KiB of bins) comes from a pool that survives resets:
 * freeing thousands of them after every flush made malloc give the memory
 * back to the kernel and fault it in again, a quarter of the per-message
 * cost.  The decoded message's own sketch is merged, then freed at once,
 * so the decoder's next allocation reuses it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/aggregate.h"

#define EMPTY UINT32_MAX

struct agg {
    bool combine_hosts;
    store_row_t *rows;
    size_t n, cap;
    uint32_t *slots; /* row index or EMPTY; size nslots, a power of two */
    size_t nslots;
    chp_sketch_t **pool; /* empty sketches for new rows */
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
    if (a->slots)
        memset(a->slots, 0xff, a->nslots * sizeof(*a->slots));
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
    free(a->slots);
    free(a);
}

/* FNV-1a over the key's fields; the NULs keep "ab"+"c" apart from
 * "a"+"bc". */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

static uint64_t key_hash(int64_t begin, const char *topic, const char *tier,
                         const char *dc, const char *host)
{
    uint64_t h = fnv(14695981039346656037ULL, &begin, sizeof(begin));

    h = fnv(h, topic, strlen(topic) + 1);
    h = fnv(h, tier, strlen(tier) + 1);
    h = fnv(h, dc, strlen(dc) + 1);
    return fnv(h, host, strlen(host) + 1);
}

static size_t row_slot(const agg_t *a, const store_row_t *r)
{
    return (size_t)key_hash(r->time_begin, r->topic, r->tier, r->datacenter,
                            r->host) &
           (a->nslots - 1);
}

/* Keeps the table at most half full so probes stay short. */
static chp_err_t grow_slots(agg_t *a)
{
    size_t nslots = a->nslots ? a->nslots * 2 : 64;
    uint32_t *slots = malloc(nslots * sizeof(*slots));

    if (!slots)
        return CHP_ERR_NOMEM;
    memset(slots, 0xff, nslots * sizeof(*slots));
    free(a->slots);
    a->slots = slots;
    a->nslots = nslots;
    for (size_t i = 0; i < a->n; i++) {
        size_t s = row_slot(a, &a->rows[i]);
        while (a->slots[s] != EMPTY)
            s = (s + 1) & (a->nslots - 1);
        a->slots[s] = (uint32_t)i;
    }
    return CHP_OK;
}

chp_err_t agg_add(agg_t *a, chp_auditmsg_t *m)
{
    chp_sketch_t *sk = m->sketch;
    store_row_t in;
    chp_err_t err;
    size_t s;

    if ((a->n + 1) * 2 > a->nslots && grow_slots(a) != CHP_OK)
        return CHP_ERR_NOMEM;
    /* store_row_from_msg is the one merge rule shared with the stores; it
     * is given no sketch so it allocates none: rows take theirs from the
     * pool. */
    m->sketch = NULL;
    store_row_from_msg(&in, m, a->combine_hosts);
    m->sketch = sk;
    for (s = row_slot(a, &in); a->slots[s] != EMPTY;
         s = (s + 1) & (a->nslots - 1)) {
        store_row_t *r = &a->rows[a->slots[s]];
        if (store_row_same_key(r, &in)) {
            if (sk && !r->sketch && !(r->sketch = sketch_get(a)))
                return CHP_ERR_NOMEM;
            in.sketch = sk; /* borrowed: merged into r's */
            err = store_row_add(r, &in);
            if (err == CHP_OK && in.time_end > r->time_end)
                r->time_end = in.time_end;
            return err;
        }
    }
    if (a->n == a->cap) {
        size_t ncap = a->cap ? a->cap * 2 : 64;
        store_row_t *nr = realloc(a->rows, ncap * sizeof(*nr));
        if (!nr)
            return CHP_ERR_NOMEM;
        a->rows = nr;
        a->cap = ncap;
    }
    if (sk) {
        if (!(in.sketch = sketch_get(a)))
            return CHP_ERR_NOMEM;
        chp_sketch_merge(in.sketch, sk);
    }
    a->rows[a->n] = in;
    a->slots[s] = (uint32_t)a->n++;
    return CHP_OK;
}

const store_row_t *agg_rows(const agg_t *a, size_t *n)
{
    *n = a->n;
    return a->rows;
}
