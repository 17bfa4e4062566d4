/* benchutil.c - see benchutil.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "benchutil.h"

int64_t bench_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

double bench_median(const double *v, size_t n)
{
    double tmp[64];
    size_t m = n < 64 ? n : 64;

    if (m == 0)
        return 0.0;
    memcpy(tmp, v, m * sizeof(*v));
    qsort(tmp, m, sizeof(*tmp), cmp_double);
    return m % 2 ? tmp[m / 2] : (tmp[m / 2 - 1] + tmp[m / 2]) / 2.0;
}

void bench_report(const char *name, double ratio, const char *goal,
                  const char *detail)
{
    printf("bench: %s ratio=%.3f goal=%s  (%s)\n", name, ratio, goal, detail);
    fflush(stdout);
}
