/* watermark.c - the completeness watermark, see watermark.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/watermark.h"

/* Checks one required tier (by name) in bucket b; false and fills out
 * when it breaks max_loss. */
static bool tier_complete(const rep_grid_t *g, size_t b, const char *tier,
                          double max_loss, rep_watermark_t *out)
{
    long t = rep_grid_tier(g, tier); /* -1: no row of it */
    uint64_t count = 0, ref;
    rep_cmp_t c;

    if (t == (long)g->ref)
        return true;
    if (t >= 0)
        count = rep_cell(g, b, (size_t)t)->row.count;
    ref = rep_cell(g, b, g->ref)->row.count;
    c = rep_compare(count, ref);
    if (!rep_violates(&c, max_loss))
        return true;
    out->blocked = true;
    out->blocked_begin = g->begin[b];
    out->blocked_cmp = c;
    snprintf(out->blocked_tier, sizeof(out->blocked_tier), "%s", tier);
    return false;
}

void rep_watermark(const rep_grid_t *g, const char *const *tiers,
                   size_t n_tiers, double max_loss, int64_t lateness_s,
                   int64_t now_s, rep_watermark_t *out)
{
    memset(out, 0, sizeof(*out));
    if (g->n_tiers == 0)
        return;
    for (size_t b = 0; b < g->n_buckets; b++) {
        bool ok = true;

        if (!rep_bucket_final(g->end[b], now_s, lateness_s)) {
            out->open_bucket = true;
            return;
        }
        if (tiers && n_tiers) {
            for (size_t i = 0; i < n_tiers && ok; i++)
                ok = tier_complete(g, b, tiers[i], max_loss, out);
        } else {
            for (size_t t = 0; t < g->n_tiers && ok; t++)
                ok = tier_complete(g, b, g->tiers[t], max_loss, out);
        }
        if (!ok)
            return;
        out->have_until = true;
        out->until = g->end[b];
        out->complete_buckets++;
    }
}

chp_err_t rep_split_tiers(const char *list, char ***out, size_t *n,
                          char *errstr, size_t errstr_size)
{
    size_t len = strlen(list), items = 1, k = 0;
    char **v, *text;

    *out = NULL;
    *n = 0;
    for (const char *p = list; *p; p++)
        items += *p == ',';
    v = malloc((items + 1) * sizeof(*v) + len + 1);
    if (!v)
        return CHP_ERR_NOMEM;
    text = (char *)(v + items + 1);
    memcpy(text, list, len + 1);
    for (char *p = text;;) {
        char *end = strchr(p, ',');
        if (end)
            *end = '\0';
        while (*p == ' ' || *p == '\t')
            p++;
        for (char *e = p + strlen(p); e > p && (e[-1] == ' ' || e[-1] == '\t');)
            *--e = '\0';
        if (!rep_tier_name_ok(p)) {
            snprintf(errstr, errstr_size,
                     "item %zu of \"%s\" is not a tier name", k + 1, list);
            free(v);
            return CHP_ERR_PARSE;
        }
        v[k++] = p;
        if (!end)
            break;
        p = end + 1;
    }
    v[k] = NULL;
    *out = v;
    *n = k;
    return CHP_OK;
}
