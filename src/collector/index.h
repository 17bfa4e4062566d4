/* index.h - the collector's one hash table: an open-addressing index of
 * uint32_t entries (positions in the caller's own array), kept at most
 * half full so a probe is almost always one comparison, and FNV-1a to
 * hash keys.  The caller owns the keys: it hashes them and says whether
 * an entry holds the key looked for (aggregate.c: rows by key; batch.c:
 * uuids).  Reset keeps the memory, so a steady collector allocates
 * nothing per flush.  Not thread-safe. */
#ifndef CHP_COLLECTOR_INDEX_H
#define CHP_COLLECTOR_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"

#define COLL_INDEX_EMPTY UINT32_MAX
#define COLL_HASH_INIT   14695981039346656037ULL

typedef struct coll_index {
    uint32_t *slots; /* entry or COLL_INDEX_EMPTY; nslots a power of two */
    size_t nslots;
} coll_index_t;

/* FNV-1a of p[0..n), continuing from h (COLL_HASH_INIT to start). */
static inline uint64_t coll_hash(uint64_t h, const void *p, size_t n)
{
    const unsigned char *s = p;

    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 1099511628211ULL;
    return h;
}

/* The hash of entry i (for rehashing when the index grows). */
typedef uint64_t coll_index_hash_fn_t(uint32_t entry, void *opaque);

/* Makes room for entry number n (entries 0..n-1 are in the index),
 * growing to at least min_slots and rehashing with hash.  CHP_ERR_NOMEM
 * leaves the index as it was. */
chp_err_t coll_index_reserve(coll_index_t *ix, size_t n, size_t min_slots,
                             coll_index_hash_fn_t *hash, void *opaque);

/* Empties the index (memory kept). */
void coll_index_reset(coll_index_t *ix);
void coll_index_free(coll_index_t *ix);

/* The slot of the key hashed to h: the one whose entry eq() accepts, or
 * the empty one where it goes (then ix->slots[slot] == COLL_INDEX_EMPTY;
 * store the new entry there).  Inline: eq is the caller's comparison of
 * its own key, on the per-message path. */
static inline size_t coll_index_find(const coll_index_t *ix, uint64_t h,
                                     bool (*eq)(uint32_t entry, void *opaque),
                                     void *opaque)
{
    size_t s = (size_t)h & (ix->nslots - 1);

    while (ix->slots[s] != COLL_INDEX_EMPTY && !eq(ix->slots[s], opaque))
        s = (s + 1) & (ix->nslots - 1);
    return s;
}

#endif
