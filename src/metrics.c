/* metrics.c - see metrics.h.  Values are atomics: the loops update them
 * without the lock, which only guards the list (added to, rendered). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "metrics.h"

struct metric {
    char *name, *help, *labels;
    metric_type_t type;
    _Atomic double value;
};

struct metrics {
    pthread_mutex_t lock;
    metric_t **v;
    size_t n, cap;
};

metrics_t *metrics_new(void)
{
    metrics_t *m = calloc(1, sizeof(*m));

    if (m)
        pthread_mutex_init(&m->lock, NULL);
    return m;
}

void metrics_destroy(metrics_t *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n; i++) {
        free(m->v[i]->name);
        free(m->v[i]->help);
        free(m->v[i]->labels);
        free(m->v[i]);
    }
    free(m->v);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

metric_t *metrics_add(metrics_t *m, const char *name, const char *help,
                      metric_type_t type, const char *labels)
{
    metric_t *x = calloc(1, sizeof(*x));

    if (!x)
        return NULL;
    x->name = strdup(name);
    x->help = strdup(help ? help : "");
    x->labels = labels ? strdup(labels) : NULL;
    x->type = type;
    pthread_mutex_lock(&m->lock);
    if (m->n == m->cap) {
        size_t ncap = m->cap ? m->cap * 2 : 32;
        metric_t **nv = realloc(m->v, ncap * sizeof(*nv));
        if (!nv) {
            pthread_mutex_unlock(&m->lock);
            free(x->name), free(x->help), free(x->labels), free(x);
            return NULL;
        }
        m->v = nv;
        m->cap = ncap;
    }
    m->v[m->n++] = x;
    pthread_mutex_unlock(&m->lock);
    return x;
}

void metric_inc(metric_t *x, double by)
{
    double old;

    if (!x)
        return;
    old = atomic_load(&x->value);
    while (!atomic_compare_exchange_weak(&x->value, &old, old + by))
        ;
}

void metric_set(metric_t *x, double v)
{
    if (x)
        atomic_store(&x->value, v);
}

double metric_get(const metric_t *x)
{
    return x ? atomic_load(&((metric_t *)x)->value) : 0.0;
}

chp_err_t metrics_render(metrics_t *m, char **out, size_t *len)
{
    chp_buf_t b = {0};
    const char *last = "";

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        metric_t *x = m->v[i];
        if (strcmp(last, x->name)) { /* HELP/TYPE once per family */
            chp_buf_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help,
                           x->name,
                           x->type == METRIC_COUNTER ? "counter" : "gauge");
            last = x->name;
        }
        chp_buf_printf(&b, "%s%s%s%s %.17g\n", x->name, x->labels ? "{" : "",
                       x->labels ? x->labels : "", x->labels ? "}" : "",
                       metric_get(x));
    }
    pthread_mutex_unlock(&m->lock);
    *len = b.len;
    return (*out = chp_buf_take(&b)) ? CHP_OK : CHP_ERR_NOMEM;
}
