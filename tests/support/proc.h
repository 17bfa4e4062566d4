/* proc.h - child processes for e2e tests: start `chaperone <cmd> -X ...`
 * with output to a log file, stop with SIGTERM (then SIGKILL), kill -9;
 * their log files (proc_log.c). */
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

/* proc_start, and the child gets SIGKILL if the calling thread ends (call
 * it from the main thread: a child started by a helper thread would die
 * with that thread). */
int proc_start_tied(proc_t *p, const char *log, const char *const *args);

/* Starts `chaperone cmd -X kv[0] -X kv[1] ...`: the k settings are rows of
 * stride bytes from kv (a char kv[][N] passes kv[0], sizeof(kv[0])).
 * -1 when they do not fit in PROC_MAX_ARGS arguments. */
int proc_start_x(proc_t *p, const char *log, const char *cmd, const char *kv,
                 size_t stride, int k);

/* Non-blocking: true if the child has exited (status recorded). */
bool proc_exited(proc_t *p);

/* Sends sig and waits up to timeout_ms for the exit; SIGKILL after that.
 * Returns the exit status (128+signal when killed). */
int proc_stop(proc_t *p, int sig, int timeout_ms);

/* Prints the last lines of the child's log (for failure messages); nothing
 * for a child never started. */
void proc_dump_log(const proc_t *p);

/* $CHP_BINARY_DIR/Testing/<sub> into dir (sub may hold '/'), created; then
 * the files matching the shell patterns of clean (NULL: none) removed
 * from it, so a run's logs start empty. */
void proc_log_dir(char *dir, size_t n, const char *sub, const char *clean);

/* Lines of log holding needle (grep -c), 0 when there is no log. */
int proc_log_count(const char *log, const char *needle);

/* Waits until the child's log holds needle (a grep pattern); fails the
 * cmocka case with the log's tail after timeout_ms. */
void proc_wait_log(const proc_t *p, const char *needle, int timeout_ms);

#endif
