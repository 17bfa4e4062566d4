/* tu_shell.h - running a shell command from a test and reading what it
 * printed. */
#ifndef CHP_TU_SHELL_H
#define CHP_TU_SHELL_H

#include <stddef.h>

/* Runs cmd with /bin/sh; the first outn - 1 bytes of its output go to out
 * (NUL-terminated; out may be NULL), the rest is read and dropped so the
 * command never blocks on a full pipe.  Its exit status, or -1 when it
 * could not run or did not exit. */
int tu_run(const char *cmd, char *out, size_t outn);

/* An empty work directory $CHP_BINARY_DIR/Testing/name (., without the
 * variable), removed and made again, its path in out; the test is skipped
 * (tu_skip) when it cannot be made. */
void tu_fresh_workdir(const char *name, char *out, size_t outn);

#endif
