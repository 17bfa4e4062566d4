/* proc.h - child processes for e2e tests: start `chaperone <cmd> -X ...`
 * with output to a log file, stop with SIGTERM (then SIGKILL), kill -9. */
#ifndef CHP_TESTS_PROC_H
#define CHP_TESTS_PROC_H

#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

#define PROC_MAX_ARGS 64

typedef struct proc {
    pid_t pid;
    int status; /* exit status once reaped */
    bool exited;
    char log[1024];
} proc_t;

/* Starts $CHP_BINARY_DIR/chaperone with args (NULL-terminated), stdout and
 * stderr appended to log.  0, or -1. */
int proc_start(proc_t *p, const char *log, const char *const *args);

/* Non-blocking: true if the child has exited (status recorded). */
bool proc_exited(proc_t *p);

/* Sends sig and waits up to timeout_ms for the exit; SIGKILL after that.
 * Returns the exit status (128+signal when killed). */
int proc_stop(proc_t *p, int sig, int timeout_ms);

/* Prints the last lines of the child's log (for failure messages). */
void proc_dump_log(const proc_t *p);

#endif
