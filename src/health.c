/* health.c - progress and cause of the last failure, see health.h. */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "health.h"

struct health {
    pthread_mutex_t lock;
    bool healthy;
    uint64_t failures; /* consecutive */
    char why[512];
    metric_t *m_healthy, *m_last, *m_consec, *m_total;
};

health_t *health_new(metrics_t *m, const char *labels)
{
    health_t *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->healthy = true;
    if (m) {
        h->m_healthy = metrics_add(
            m, "chaperone_healthy",
            "1 while the daemon makes progress, 0 after a failed attempt.",
            METRIC_GAUGE, labels);
        h->m_last = metrics_add(
            m, "chaperone_last_success_timestamp_seconds",
            "Unix time of the last successful commit or flush (0: none yet).",
            METRIC_GAUGE, labels);
        h->m_consec = metrics_add(
            m, "chaperone_consecutive_failures",
            "Failed attempts since the last successful commit or flush.",
            METRIC_GAUGE, labels);
        h->m_total = metrics_add(m, "chaperone_failures_total",
                                 "Failed commit or flush attempts.",
                                 METRIC_COUNTER, labels);
        metric_set(h->m_healthy, 1);
    }
    return h;
}

void health_destroy(health_t *h)
{
    if (!h)
        return;
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void health_ok(health_t *h)
{
    struct timespec now;

    if (!h)
        return;
    clock_gettime(CLOCK_REALTIME, &now);
    pthread_mutex_lock(&h->lock);
    h->healthy = true;
    h->failures = 0;
    h->why[0] = '\0';
    pthread_mutex_unlock(&h->lock);
    if (h->m_healthy) {
        metric_set(h->m_healthy, 1);
        metric_set(h->m_consec, 0);
        metric_set(h->m_last, (double)now.tv_sec);
    }
}

void health_fail(health_t *h, const char *fmt, ...)
{
    va_list ap;
    uint64_t n;

    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    h->healthy = false;
    n = ++h->failures;
    va_start(ap, fmt);
    vsnprintf(h->why, sizeof(h->why), fmt, ap);
    va_end(ap);
    pthread_mutex_unlock(&h->lock);
    if (h->m_healthy) {
        metric_set(h->m_healthy, 0);
        metric_set(h->m_consec, (double)n);
        metric_inc(h->m_total, 1);
    }
}

bool health_check(health_t *h, char *why, size_t why_size)
{
    bool ok;

    if (!h)
        return true;
    pthread_mutex_lock(&h->lock);
    ok = h->healthy;
    if (!ok && why && why_size)
        snprintf(why, why_size, "%s", h->why);
    pthread_mutex_unlock(&h->lock);
    return ok;
}

uint64_t health_failures(health_t *h)
{
    uint64_t n;

    if (!h)
        return 0;
    pthread_mutex_lock(&h->lock);
    n = h->failures;
    pthread_mutex_unlock(&h->lock);
    return n;
}
