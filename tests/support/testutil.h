/* testutil.h - what integration and e2e tests that talk to a real Kafka
 * broker include: one header for the Kafka-side helpers of tests/support
 * (the chp_testsupport library, which chp_add_tests links into every test).
 *
 * None of these helpers depends on cmocka: they return an error and fill
 * errstr, and the test decides how to fail.  The one exception to "only
 * main exits" is tu_skip() (see tu_skip.h). */
#ifndef CHP_TESTUTIL_H
#define CHP_TESTUTIL_H

/* What the header-only testutil.h brought along, which tests rely on. */
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#include "tu_broker.h"
#include "tu_clock.h"
#include "tu_kafka.h"
#include "tu_shell.h"
#include "tu_skip.h"
#include "tu_topics.h"

/* For a test's own helpers that not every program of a group calls. */
#define TU_UNUSED __attribute__((unused))

#endif
