/* proc.c - daemons as child processes: start, reap, stop (see proc.h). */
#include "proc.h"

#include <sys/prctl.h>

/* tied: the child gets SIGKILL when the thread that forked it ends. */
static int proc_spawn(proc_t *p, const char *log, const char *const *args,
                      bool tied)
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
        if (tied)
            prctl(PR_SET_PDEATHSIG, SIGKILL);
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

int proc_start(proc_t *p, const char *log, const char *const *args)
{
    return proc_spawn(p, log, args, false);
}

int proc_start_tied(proc_t *p, const char *log, const char *const *args)
{
    return proc_spawn(p, log, args, true);
}

int proc_start_x(proc_t *p, const char *log, const char *cmd, const char *kv,
                 size_t stride, int k)
{
    const char *args[PROC_MAX_ARGS + 1];
    int n = 0;

    if (k < 0 || 1 + 2 * k > PROC_MAX_ARGS)
        return -1; /* not silently cut short */
    args[n++] = cmd;
    for (int i = 0; i < k; i++) {
        args[n++] = "-X";
        args[n++] = kv + (size_t)i * stride;
    }
    args[n] = NULL;
    return proc_start(p, log, args);
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
