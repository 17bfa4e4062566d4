/* daemon.c - see daemon.h: signals and the bounded shutdown. */
#include <pthread.h>
#include <signal.h>
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

int daemon_usage(const char *command, const char *arg, const char *docs)
{
    bool help = !strcmp(arg, "-h") || !strcmp(arg, "--help");

    fprintf(help ? stdout : stderr,
            "usage: chaperone %s [-c FILE] [-X key=value ...]\n%s%s", command,
            help ? docs : "", help ? "\n" : "");
    return help ? 0 : 2;
}
