/* proc_log.c - the log files of child processes: where they go, what they
 * hold (see proc.h). */
#include "proc.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <sys/stat.h>

void proc_log_dir(char *dir, size_t n, const char *sub, const char *clean)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char cmd[1400];

    snprintf(dir, n, "%s/Testing", bin ? bin : ".");
    mkdir(dir, 0755);
    for (const char *s = sub; s && *s;) {
        const char *slash = strchr(s, '/');
        size_t len = slash ? (size_t)(slash - s) : strlen(s), at = strlen(dir);

        snprintf(dir + at, n - at, "/%.*s", (int)len, s);
        mkdir(dir, 0755);
        s = slash ? slash + 1 : s + len;
    }
    if (!clean || !*clean)
        return;
    snprintf(cmd, sizeof(cmd), "cd '%s' && rm -f %s", dir, clean);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot clean %s\n", dir);
}

int proc_log_count(const char *log, const char *needle)
{
    char cmd[1200], out[32] = "0";
    FILE *p;

    snprintf(cmd, sizeof(cmd), "grep -c -- '%s' '%s' 2>/dev/null", needle, log);
    if ((p = popen(cmd, "r"))) {
        if (!fgets(out, sizeof(out), p))
            out[0] = '0';
        pclose(p);
    }
    return (int)strtol(out, NULL, 10);
}

void proc_wait_log(const proc_t *p, const char *needle, int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    while (proc_log_count(p->log, needle) == 0) {
        if (tu_now_ms() > deadline) {
            proc_dump_log(p);
            fail_msg("no \"%s\" in %s within %d ms", needle, p->log,
                     timeout_ms);
        }
        tu_sleep_ms(200);
    }
}

void proc_dump_log(const proc_t *p)
{
    char cmd[1100];

    if (!p->log[0])
        return;
    fprintf(stderr, "---- last lines of %s\n", p->log);
    fflush(stderr);
    snprintf(cmd, sizeof(cmd), "tail -n 30 '%.1000s' >&2", p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log at %s)\n", p->log);
}
