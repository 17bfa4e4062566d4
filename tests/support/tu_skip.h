/* tu_skip.h - how a test that cannot run its case says so.
 *
 * CTest counts exit code 77 as "skipped" (SKIP_RETURN_CODE in CMakeLists).
 * The one exception to "only main exits" is tu_skip(): a test without its
 * servers has nothing to run.  With CHP_TEST_REQUIRE_ALL=1 (scripts/test.sh,
 * and so CI) a skip is a failure instead, so `make test` cannot pass without
 * having tested everything. */
#ifndef CHP_TU_SKIP_H
#define CHP_TU_SKIP_H

#include <stdio.h>

/* Exit code CTest reports as "skipped". */
#define TU_SKIP 77

/* True when the run requires every case (CHP_TEST_REQUIRE_ALL=1). */
int tu_require_all(void);

/* Exits with 77 (skipped) after saying why on stderr; with
 * CHP_TEST_REQUIRE_ALL=1, exits with 1 (failed) instead. */
__attribute__((noreturn, format(printf, 1, 2))) void tu_skip(const char *fmt,
                                                             ...);

/* Cases skipped inside a cmocka group (see TU_SKIP_CASE). */
extern int tu_skipped_cases;

/* Skips one cmocka case, saying why; the program's status then becomes 77
 * through tu_status() unless a case failed.  With CHP_TEST_REQUIRE_ALL=1 the
 * case fails instead.  (cmocka's skip() alone lets the program pass.)
 * A macro: fail_msg() and skip() must run in the case itself. */
#define TU_SKIP_CASE(...)                                                      \
    do {                                                                       \
        fprintf(stderr, "%s",                                                  \
                tu_require_all() ? "FAIL (required): " : "SKIP: ");            \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        if (tu_require_all())                                                  \
            fail_msg("required case could not run");                           \
        tu_skipped_cases++;                                                    \
        skip();                                                                \
    } while (0)

/* The exit status of a cmocka program: failures win, then skips (77). */
int tu_status(int failed);

/* getenv(name), or skip the whole test when it is unset or empty; hint
 * (may be NULL) says how to set it. */
const char *tu_env_or_skip(const char *name, const char *hint);

/* The bootstrap brokers of the test cluster; skips the test without one. */
const char *tu_brokers(void);

#endif
