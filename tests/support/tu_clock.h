/* tu_clock.h - monotonic time, deadlines and sleeps for tests. */
#ifndef CHP_TU_CLOCK_H
#define CHP_TU_CLOCK_H

#include <stdint.h>

/* Generous bound for one broker round trip or one test phase. */
#define TU_TIMEOUT_MS 60000

/* Monotonic milliseconds, for deadlines. */
int64_t tu_now_ms(void);

/* Milliseconds left until deadline (>= 0), as librdkafka timeouts want. */
int tu_left_ms(int64_t deadline);

void tu_sleep_ms(int ms);

#endif
