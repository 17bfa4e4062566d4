/* log.c - see log.h.  The level is the only process-wide setting: it is
 * written once at start-up and read with a relaxed atomic load. */
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static _Atomic int log_level = CHP_LOG_INFO;
static const char *const names[] = {"error", "warn", "info", "debug"};

void chp_log_set_level(chp_log_level_t lvl)
{
    atomic_store_explicit(&log_level, (int)lvl, memory_order_relaxed);
}

int chp_log_set_level_name(const char *name)
{
    for (int i = 0; i <= CHP_LOG_DEBUG; i++)
        if (name && !strcmp(name, names[i])) {
            chp_log_set_level((chp_log_level_t)i);
            return 0;
        }
    return -1;
}

/* Secrets to scrub (chp_log_redact_add): few, set at start-up, so a
 * linear scan per line costs nothing next to the write. */
#define REDACT_MAX 64
#define REDACT_MIN 4
static pthread_mutex_t redact_lock = PTHREAD_MUTEX_INITIALIZER;
static char *redact_v[REDACT_MAX];
static size_t redact_len[REDACT_MAX];
static _Atomic size_t redact_n;

void chp_log_redact_add(const char *secret, size_t len)
{
    char *c;
    size_t n;

    if (!secret || len < REDACT_MIN)
        return;
    pthread_mutex_lock(&redact_lock);
    n = atomic_load(&redact_n);
    for (size_t i = 0; i < n; i++)
        if (redact_len[i] == len && !memcmp(redact_v[i], secret, len))
            goto out;
    if (n < REDACT_MAX && (c = malloc(len))) {
        memcpy(c, secret, len);
        redact_v[n] = c;
        redact_len[n] = len;
        atomic_store(&redact_n, n + 1);
    }
out:
    pthread_mutex_unlock(&redact_lock);
}

#ifdef CHP_RDK_DYNAMIC
/* The plugin's copy of this file is unloaded with the plugin (dlclose):
 * nothing can log through it afterwards, so its secrets are freed then.
 * (A daemon keeps them to the end: a librdkafka thread may still log while
 * the process exits.) */
__attribute__((destructor)) static void redact_free(void)
{
    pthread_mutex_lock(&redact_lock);
    for (size_t i = 0; i < atomic_load(&redact_n); i++)
        free(redact_v[i]);
    atomic_store(&redact_n, 0);
    pthread_mutex_unlock(&redact_lock);
}
#endif

void chp_log_redact(char *line, size_t size)
{
    static const char mark[] = "[redacted]";
    const size_t mlen = sizeof(mark) - 1;
    size_t n = atomic_load(&redact_n);

    if (!n)
        return;
    pthread_mutex_lock(&redact_lock);
    n = atomic_load(&redact_n); /* may have grown (or been freed) since */
    for (size_t i = 0; i < n; i++) {
        char *p = line;
        while ((p = memmem(p, strlen(p), redact_v[i], redact_len[i]))) {
            size_t at = (size_t)(p - line);
            size_t tail = strlen(p + redact_len[i]) + 1;
            if (at + mlen + 1 > size) { /* no room for the mark: cut */
                *p = '\0';
                break;
            }
            /* The line shrinks or grows by the difference; a grown line
             * is cut at its buffer's end rather than overflow. */
            if (at + mlen + tail > size)
                tail = size - at - mlen;
            memmove(p + mlen, p + redact_len[i], tail);
            memcpy(p, mark, mlen);
            line[size - 1] = '\0';
            p += mlen;
        }
    }
    pthread_mutex_unlock(&redact_lock);
}

void chp_log(chp_log_level_t lvl, const char *fmt, ...)
{
    char line[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;
    int n;

    if ((int)lvl > atomic_load_explicit(&log_level, memory_order_relaxed))
        return;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    n = snprintf(line, sizeof(line),
                 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    chp_log_redact(line + n, sizeof(line) - (size_t)n);
    /* One fputs of a whole line keeps lines from different threads apart. */
    n = (int)strlen(line);
    if (n > 0 && line[n - 1] != '\n' && n < (int)sizeof(line) - 1) {
        line[n] = '\n';
        line[n + 1] = '\0';
    }
    fputs(line, stderr);
}
