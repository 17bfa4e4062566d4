/* tu_clock.c - monotonic time, deadlines and sleeps for tests. */
#include "tu_clock.h"

#include <time.h>

int64_t tu_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tu_left_ms(int64_t deadline)
{
    int64_t left = deadline - tu_now_ms();

    return left > 0 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 0;
}

void tu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}
