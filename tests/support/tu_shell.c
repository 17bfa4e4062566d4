/* tu_shell.c - running a shell command from a test (see tu_shell.h). */
#include "tu_shell.h"
#include "tu_skip.h"

#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

int tu_run(const char *cmd, char *out, size_t outn)
{
    FILE *p = popen(cmd, "r");
    char sink[4096];
    size_t got;
    int st;

    if (!p)
        return -1;
    if (out && outn) {
        got = fread(out, 1, outn - 1, p);
        out[got] = '\0';
    }
    while (fread(sink, 1, sizeof(sink), p) > 0)
        ;
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void tu_fresh_workdir(const char *name, char *out, size_t outn)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char cmd[1200];

    snprintf(out, outn, "%s/Testing/%s", bin ? bin : ".", name);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s' && mkdir -p '%s'", out, out);
    if (system(cmd) != 0)
        tu_skip("cannot create %s", out);
}
