/* benchutil.c - see benchutil.h */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"

static int64_t clock_ns(clockid_t id)
{
    struct timespec ts;

    if (clock_gettime(id, &ts) != 0)
        return -1;
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int bench_free_port(void)
{
    struct sockaddr_in sin = {.sin_family = AF_INET};
    socklen_t len = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    if (fd < 0)
        return 0;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
        port = ntohs(sin.sin_port);
    close(fd);
    return port;
}

int64_t bench_ns(void)
{
    return clock_ns(CLOCK_MONOTONIC);
}

int64_t bench_thread_cpu_ns(void)
{
    return clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

int64_t bench_process_cpu_ns(void)
{
    return clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

int64_t bench_pid_cpu_ns(pid_t pid)
{
    clockid_t id;

    if (clock_getcpuclockid(pid, &id) != 0)
        return -1;
    return clock_ns(id);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_median(const double *v, size_t n)
{
    double tmp[BENCH_MAX_PAIRS];
    size_t m = n < BENCH_MAX_PAIRS ? n : BENCH_MAX_PAIRS;

    if (m == 0)
        return 0.0;
    memcpy(tmp, v, m * sizeof(*v));
    qsort(tmp, m, sizeof(*tmp), cmp_double);
    return m % 2 ? tmp[m / 2] : (tmp[m / 2 - 1] + tmp[m / 2]) / 2.0;
}

void bench_summarise(const double *a, const double *b, const double *ratio,
                     size_t n, bench_clock_t clock, bench_cmp_t *out)
{
    memset(out, 0, sizeof(*out));
    out->pairs = n < BENCH_MAX_PAIRS ? n : BENCH_MAX_PAIRS;
    out->clock = clock;
    if (out->pairs == 0)
        return;
    out->a = bench_median(a, out->pairs);
    out->b = bench_median(b, out->pairs);
    out->ratio = bench_median(ratio, out->pairs);
    out->lo = out->hi = ratio[0];
    for (size_t i = 1; i < out->pairs; i++) {
        if (ratio[i] < out->lo)
            out->lo = ratio[i];
        if (ratio[i] > out->hi)
            out->hi = ratio[i];
    }
}

void bench_alternate(size_t n, double (*run_a)(void *), double (*run_b)(void *),
                     void *ctx, double *a, double *b)
{
    bench_alternate_spread(n, run_a, run_b, ctx, a, b, 0);
}

void bench_alternate_spread(size_t n, double (*run_a)(void *),
                            double (*run_b)(void *), void *ctx, double *a,
                            double *b, int gap_ms)
{
    const struct timespec gap = {gap_ms / 1000, (gap_ms % 1000) * 1000000L};

    if (n < BENCH_MIN_PAIRS)
        n = BENCH_MIN_PAIRS;
    for (size_t i = 0; i < n && i < BENCH_MAX_PAIRS; i++) {
        if (i % 2 == 0) {
            a[i] = run_a(ctx);
            b[i] = run_b(ctx);
        } else {
            b[i] = run_b(ctx);
            a[i] = run_a(ctx);
        }
        if (gap_ms > 0)
            nanosleep(&gap, NULL);
    }
}

static const char *clock_name(bench_clock_t c)
{
    switch (c) {
    case BENCH_THREAD_CPU:
        return "thread CPU time";
    case BENCH_PROCESS_CPU:
        return "process CPU time";
    case BENCH_WALL:
        break;
    }
    return "wall clock";
}

void bench_report_cmp(const char *name, const bench_cmp_t *c, const char *goal,
                      const char *detail)
{
    printf("bench: %s ratio=%.3f goal=%s  (%s; %s, median of %zu "
           "alternating pairs, per-pair ratio %.3f-%.3f)\n",
           name, c->ratio, goal, detail, clock_name(c->clock), c->pairs, c->lo,
           c->hi);
    fflush(stdout);
}

void bench_report(const char *name, double ratio, const char *goal,
                  const char *detail)
{
    printf("bench: %s ratio=%.3f goal=%s  (%s)\n", name, ratio, goal, detail);
    fflush(stdout);
}
