/* demo_report.c - the demo's report: the rows of `chaperone report` for one
 * topic against the producer tier, read through the store interface. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "collector/store.h"
#include "demo/demo.h"

#define MAX_BUCKETS 64
#define MAX_TIERS 8

typedef struct grid {
    int64_t begin[MAX_BUCKETS];
    size_t n_buckets;
    char tier[MAX_TIERS][CHP_NAME_MAX];
    size_t n_tiers;
    uint64_t count[MAX_BUCKETS][MAX_TIERS];
} grid_t;

static void add_row(const store_row_t *r, void *opaque)
{
    grid_t *g = opaque;
    size_t b, t;

    for (b = 0; b < g->n_buckets && g->begin[b] != r->time_begin; b++)
        ;
    if (b == g->n_buckets) {
        if (b == MAX_BUCKETS)
            return;
        g->begin[g->n_buckets++] = r->time_begin;
    }
    for (t = 0; t < g->n_tiers && strcmp(g->tier[t], r->tier); t++)
        ;
    if (t == g->n_tiers) {
        if (t == MAX_TIERS)
            return;
        snprintf(g->tier[g->n_tiers++], CHP_NAME_MAX, "%s", r->tier);
    }
    g->count[b][t] += r->count;
}

int demo_print_report(const char *db_url, const char *topic,
                      const char *reference, int64_t from, int64_t to,
                      uint64_t *loss, char *err, size_t errn)
{
    const store_ops_t *ops;
    store_t *s;
    grid_t g = {0};
    size_t ref = MAX_TIERS;

    *loss = 0;
    if (store_open(db_url, &ops, &s, err, errn) != CHP_OK)
        return -1;
    chp_err_t e = ops->query(s, topic, from, to, add_row, &g, err, errn);
    ops->close(s);
    if (e != CHP_OK)
        return -1;
    for (size_t t = 0; t < g.n_tiers; t++)
        if (!strcmp(g.tier[t], reference))
            ref = t;
    printf("topic %s, reference tier \"%s\"\n", topic, reference);
    printf("%-20s", "bucket (UTC)");
    for (size_t t = 0; t < g.n_tiers; t++)
        printf(" %12s", g.tier[t]);
    printf(" %8s %12s\n", "loss", "completeness");
    for (size_t b = 0; b < g.n_buckets; b++) {
        char when[32];
        time_t tt = (time_t)g.begin[b];
        struct tm tm;
        uint64_t rc = ref < MAX_TIERS ? g.count[b][ref] : 0, worst = rc;

        gmtime_r(&tt, &tm);
        strftime(when, sizeof(when), "%Y-%m-%d %H:%M", &tm);
        printf("%-20s", when);
        for (size_t t = 0; t < g.n_tiers; t++) {
            printf(" %12llu", (unsigned long long)g.count[b][t]);
            if (g.count[b][t] < worst)
                worst = g.count[b][t];
        }
        *loss += rc - worst;
        printf(" %8llu %11.4f%s\n", (unsigned long long)(rc - worst),
               rc ? (double)worst / (double)rc : 1.0,
               rc - worst ? "  <-- loss" : "");
    }
    return 0;
}
