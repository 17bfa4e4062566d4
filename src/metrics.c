/* metrics.c - see metrics.h.  Values are atomics: the loops update them
 * without the lock, which only guards the list (added to, rendered). */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

typedef struct strbuf {
    char *s;
    size_t len, cap;
} strbuf_t;

static int sb_printf(strbuf_t *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int sb_printf(strbuf_t *b, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        size_t avail = b->cap - b->len;
        va_start(ap, fmt);
        n = vsnprintf(b->s ? b->s + b->len : NULL, avail, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < avail) {
            b->len += (size_t)n;
            return 0;
        }
        size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
        char *ns = realloc(b->s, ncap);
        if (!ns)
            return -1;
        b->s = ns;
        b->cap = ncap;
    }
}

int metrics_render(metrics_t *m, char **out, size_t *len)
{
    strbuf_t b = {0};
    const char *last = "";

    pthread_mutex_lock(&m->lock);
    for (size_t i = 0; i < m->n; i++) {
        metric_t *x = m->v[i];
        if (strcmp(last, x->name)) { /* HELP/TYPE once per family */
            sb_printf(&b, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help,
                      x->name, x->type == METRIC_COUNTER ? "counter" : "gauge");
            last = x->name;
        }
        sb_printf(&b, "%s%s%s%s %.17g\n", x->name, x->labels ? "{" : "",
                  x->labels ? x->labels : "", x->labels ? "}" : "",
                  metric_get(x));
    }
    pthread_mutex_unlock(&m->lock);
    if (!b.s && sb_printf(&b, "%s", "") != 0)
        return -1;
    *out = b.s;
    *len = b.len;
    return 0;
}
