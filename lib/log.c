/* log.c - see log.h.  The level is the only process-wide setting: it is
 * written once at start-up and read with a relaxed atomic load. */
#include <stdarg.h>
#include <stdatomic.h>
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
    n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                 tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000, names[lvl]);
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    va_end(ap);
    /* One fputs of a whole line keeps lines from different threads apart. */
    n = (int)strlen(line);
    if (n > 0 && line[n - 1] != '\n' && n < (int)sizeof(line) - 1) {
        line[n] = '\n';
        line[n + 1] = '\0';
    }
    fputs(line, stderr);
}
