/* demo_report.c - the demo prints what `chaperone report --topic T
 * --reference producer` prints, through the same report module. */
#include <stdio.h>
#include <stdlib.h>

#include "collector/store.h"
#include "errstr.h"
#include "demo/demo.h"
#include "report/format.h"
#include "report/report.h"

chp_err_t demo_print_report(const char *db_url, const char *topic,
                            const char *reference, int64_t from, int64_t to,
                            uint64_t *loss, char *err, size_t errn)
{
    store_t *s;
    rep_grid_t g;
    char *table;
    chp_err_t rc;

    *loss = 0;
    if ((rc = store_open(db_url, &s, err, errn)) != CHP_OK)
        return rc;
    if ((rc = rep_load(s, topic, from, to, reference, &g, err, errn)) != CHP_OK)
        goto out;
    if (!(table = rep_format_table(&g, false))) {
        rc = chp_errf(err, errn, CHP_ERR_NOMEM, "out of memory");
        goto out;
    }
    fputs(table, stdout);
    free(table);
    for (size_t b = 0; b < g.n_buckets; b++)
        for (size_t t = 0; t < g.n_tiers; t++) {
            rep_cmp_t c = rep_grid_compare(&g, b, t);
            if (c.loss > 0)
                *loss += (uint64_t)c.loss;
        }
    rc = CHP_OK;
out:
    rep_grid_free(&g);
    store_close(s);
    return rc;
}
