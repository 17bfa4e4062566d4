/* load.c - reading grids and topic lists from the collector's store
 * (collector/store.h); the only part of the model that does I/O. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/store.h"
#include "report/report.h"

static void on_row(const store_row_t *row, void *opaque)
{
    rep_grid_add(opaque, row);
}

chp_err_t rep_load(store_t *s, const char *topic, int64_t from, int64_t to,
                   const char *reference, rep_grid_t *g, char *errstr,
                   size_t errstr_size)
{
    chp_err_t err;

    rep_grid_init(g, topic, from, to);
    if ((err = store_query(s, topic, from, to, on_row, g, errstr,
                           errstr_size)) != CHP_OK)
        return err;
    return rep_grid_finish(g, reference, errstr, errstr_size);
}

typedef struct topic_list {
    char **v;
    size_t n, cap;
    bool nomem;
    const char *want; /* rep_topic_exists: only look for this one */
    bool found;
} topic_list_t;

static void on_topic(const char *topic, void *opaque)
{
    topic_list_t *l = opaque;
    char *copy;

    if (l->want) {
        l->found |= !strcmp(l->want, topic);
        return;
    }
    if (l->nomem)
        return;
    if (l->n + 1 >= l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **nv = realloc(l->v, cap * sizeof(*nv));
        if (!nv) {
            l->nomem = true;
            return;
        }
        l->v = nv;
        l->cap = cap;
    }
    if (!(copy = strdup(topic))) {
        l->nomem = true;
        return;
    }
    l->v[l->n++] = copy;
    l->v[l->n] = NULL;
}

chp_err_t rep_topic_exists(store_t *s, const char *topic, bool *exists,
                           char *errstr, size_t errstr_size)
{
    topic_list_t l = {.want = topic};
    chp_err_t err = store_topics(s, on_topic, &l, errstr, errstr_size);

    *exists = l.found;
    return err;
}

chp_err_t rep_topics(store_t *s, char ***out, size_t *n, char *errstr,
                     size_t errstr_size)
{
    topic_list_t l = {0};
    chp_err_t err = store_topics(s, on_topic, &l, errstr, errstr_size);

    if (err == CHP_OK && !l.v && !(l.v = calloc(1, sizeof(*l.v))))
        l.nomem = true;
    if (err == CHP_OK && l.nomem) {
        snprintf(errstr, errstr_size, "out of memory listing topics");
        err = CHP_ERR_NOMEM;
    }
    if (err != CHP_OK) {
        rep_topics_free(l.v);
        *out = NULL;
        *n = 0;
        return err;
    }
    *out = l.v;
    *n = l.n;
    return CHP_OK;
}

void rep_topics_free(char **topics)
{
    for (size_t i = 0; topics && topics[i]; i++)
        free(topics[i]);
    free(topics);
}
