/* tu_skip.c - skipping a test, or failing it when every case is required
 * (see tu_skip.h). */
#include "tu_skip.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

int tu_skipped_cases;

int tu_require_all(void)
{
    const char *v = getenv("CHP_TEST_REQUIRE_ALL");

    return v && !strcmp(v, "1");
}

void tu_skip(const char *fmt, ...)
{
    va_list ap;

    fputs(tu_require_all() ? "FAIL (required, CHP_TEST_REQUIRE_ALL=1): "
                           : "SKIP: ",
          stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(tu_require_all() ? 1 : TU_SKIP);
}

int tu_status(int failed)
{
    if (failed)
        return failed;
    return tu_skipped_cases ? TU_SKIP : 0;
}

const char *tu_env_or_skip(const char *name, const char *hint)
{
    const char *v = getenv(name);

    if (!v || !*v)
        tu_skip("%s is not set%s%s", name, hint ? "; " : "", hint ? hint : "");
    return v;
}

const char *tu_brokers(void)
{
    return tu_env_or_skip("CHP_TEST_BROKERS",
                          "start Kafka with scripts/kafka.sh start and set "
                          "CHP_TEST_BROKERS=127.0.0.1:9092");
}
