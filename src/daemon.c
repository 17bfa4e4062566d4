/* daemon.c - signals and the metrics registry (HTTP is in http.c). */
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"

/* ------------------------------------------------------------ signals */

static volatile sig_atomic_t stop_flag;
static volatile sig_atomic_t reload_gen; /* SIGHUPs so far */
/* When the stop was requested (CLOCK_MONOTONIC ms); lock-free, so the
 * signal handler may store it. */
static _Atomic int64_t stop_at_ms;

static int64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void mark_stop(void)
{
    int64_t zero = 0;

    atomic_compare_exchange_strong(&stop_at_ms, &zero, mono_ms());
    stop_flag = 1;
}

static void on_signal(int sig)
{
    if (sig == SIGHUP)
        reload_gen++;
    else
        mark_stop();
}

void daemon_signals_install(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
}

unsigned daemon_reload_generation(void)
{
    return (unsigned)reload_gen;
}

bool daemon_stopping(void)
{
    return stop_flag != 0;
}

void daemon_request_stop(void)
{
    mark_stop();
}

/* ------------------------------------------------------------ shutdown */

static int64_t bound_ms = 30000;
static char bound_name[64] = "chaperone";

static void *watchdog(void *arg)
{
    (void)arg;
    while (!stop_flag)
        usleep(50 * 1000);
    while (daemon_shutdown_left_ms() > 0)
        usleep(20 * 1000);
    /* Whatever blocks (a broker gone, a database that never answers), the
     * process must end: an orchestrator's SIGKILL would come anyway, and
     * committed work is safe while uncommitted work is replayed. */
    chp_log_error("%s: shutdown did not finish within %lld ms "
                  "(daemon.shutdown.timeout.ms); exiting now, what was not "
                  "committed is replayed on the next start",
                  bound_name, (long long)bound_ms);
    _exit(3);
    return NULL;
}

void daemon_shutdown_bound(const char *name, int64_t timeout_ms)
{
    static bool started;
    pthread_t t;
    pthread_attr_t attr;

    bound_ms = timeout_ms > 0 ? timeout_ms : 30000;
    snprintf(bound_name, sizeof(bound_name), "%s", name);
    if (started)
        return;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* Signals go to the main thread: the watchdog must not take them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    started = pthread_create(&t, &attr, watchdog, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
}

int64_t daemon_shutdown_left_ms(void)
{
    int64_t at = atomic_load(&stop_at_ms), left;

    if (!stop_flag || at == 0)
        return bound_ms;
    left = at + bound_ms - mono_ms();
    return left > 0 ? left : 0;
}

int daemon_timeout_ms(int want_ms)
{
    int64_t left;

    if (!stop_flag)
        return want_ms;
    /* A fifth of the bound (at most 5 s) stays for closing the clients:
     * destroying a client whose broker does not answer takes a while. */
    left =
        daemon_shutdown_left_ms() - (bound_ms / 5 < 5000 ? bound_ms / 5 : 5000);
    if (left < 0)
        left = 0;
    return left < want_ms ? (int)left : want_ms;
}

/* ------------------------------------------------------------ metrics */

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

chp_err_t metrics_render(metrics_t *m, char **out, size_t *len)
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
        return CHP_ERR_NOMEM;
    *out = b.s;
    *len = b.len;
    return CHP_OK;
}
