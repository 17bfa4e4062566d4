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

#endif
