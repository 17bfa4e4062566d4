/* proc.c - see proc.h. */
#include "proc.h"

int proc_start(proc_t *p, const char *log, const char *const *args)
{
    const char *bin = getenv("CHP_BINARY_DIR");
    char exe[1024];
    const char *argv[PROC_MAX_ARGS + 2];
    int n = 0;

    snprintf(exe, sizeof(exe), "%s/chaperone", bin ? bin : ".");
    argv[n++] = exe;
    for (; *args && n < PROC_MAX_ARGS; args++)
        argv[n++] = *args;
    argv[n] = NULL;
    memset(p, 0, sizeof(*p));
    snprintf(p->log, sizeof(p->log), "%s", log);
    p->pid = fork();
    if (p->pid < 0)
        return -1;
    if (p->pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    return 0;
}

bool proc_exited(proc_t *p)
{
    int st;

    if (p->exited)
        return true;
    if (p->pid > 0 && waitpid(p->pid, &st, WNOHANG) == p->pid) {
        p->exited = true;
        p->status = WIFEXITED(st) ? WEXITSTATUS(st)
                                  : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    }
    return p->exited;
}

int proc_stop(proc_t *p, int sig, int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    if (p->pid <= 0)
        return -1;
    if (!proc_exited(p))
        kill(p->pid, sig);
    while (!proc_exited(p) && tu_now_ms() < deadline)
        tu_sleep_ms(20);
    if (!proc_exited(p)) {
        kill(p->pid, SIGKILL);
        while (!proc_exited(p))
            tu_sleep_ms(20);
    }
    return p->status;
}

void proc_dump_log(const proc_t *p)
{
    char cmd[1100];

    snprintf(cmd, sizeof(cmd), "tail -n 30 '%.1000s' >&2", p->log);
    if (system(cmd) != 0)
        fprintf(stderr, "(no log at %s)\n", p->log);
}
