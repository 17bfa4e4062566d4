/* index.c - growing and clearing the collector's hash index (index.h). */
#include <stdlib.h>
#include <string.h>

#include "collector/index.h"

chp_err_t coll_index_reserve(coll_index_t *ix, size_t n, size_t min_slots,
                             coll_index_hash_fn_t *hash, void *opaque)
{
    size_t nslots;
    uint32_t *slots;

    if ((n + 1) * 2 <= ix->nslots)
        return CHP_OK;
    nslots = ix->nslots ? ix->nslots * 2 : min_slots;
    if (!(slots = malloc(nslots * sizeof(*slots))))
        return CHP_ERR_NOMEM;
    memset(slots, 0xff, nslots * sizeof(*slots));
    free(ix->slots);
    ix->slots = slots;
    ix->nslots = nslots;
    /* Entries are distinct: each goes to the first empty slot of its
     * probe. */
    for (size_t i = 0; i < n; i++) {
        size_t s = (size_t)hash((uint32_t)i, opaque) & (nslots - 1);

        while (slots[s] != COLL_INDEX_EMPTY)
            s = (s + 1) & (nslots - 1);
        slots[s] = (uint32_t)i;
    }
    return CHP_OK;
}

void coll_index_reset(coll_index_t *ix)
{
    if (ix->slots)
        memset(ix->slots, 0xff, ix->nslots * sizeof(*ix->slots));
}

void coll_index_free(coll_index_t *ix)
{
    free(ix->slots);
    ix->slots = NULL;
    ix->nslots = 0;
}
