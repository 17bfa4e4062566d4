/* clientrun.h - one real Kafka client (Python, Go) produces and consumes
 * 21,000 JSON messages over 3 buckets with the interceptor plugin loaded by
 * configuration alone; the audit topic must then hold exact counts and
 * bytes per bucket for both tiers.  The client programs live in
 * tests/clients/ and follow one command line:
 *   CLIENT produce BROKERS TOPIC PLUGIN AUDIT TIER N T0
 *   CLIENT consume BROKERS TOPIC PLUGIN AUDIT TIER N GROUP
 * For tests/integration/test_plugin_*.c; fails the cmocka case itself. */
#ifndef CHP_TESTS_CLIENTRUN_H
#define CHP_TESTS_CLIENTRUN_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "auditread.h"
#include "testutil.h"

#define CR_N       21000
#define CR_BUCKETS 3
#define CR_T0      1478311200LL

/* client: the command prefix (e.g. "/path/python3 /path/pyclient.py");
 * label: "python" or "go", as the clients write it into the value. */
void cr_prove(const char *client, const char *label);

#endif
