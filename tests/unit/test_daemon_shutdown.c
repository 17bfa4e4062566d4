/* The bounded shutdown of every daemon (daemon.h): once a stop is
 * requested, blocking calls are shortened to fit daemon.shutdown.timeout.ms
 * and a watchdog ends a process that still blocks, with status 3 and a
 * line that names the key. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon.h"
#include "testutil.h"

/* Runs body in a child with stderr to a pipe; returns its exit status and
 * what it wrote. */
static int run_child(void (*body)(void), char *out, size_t n)
{
    int fds[2], st = -1;
    pid_t pid;
    size_t len = 0;
    ssize_t r;

    assert_int_equal(pipe(fds), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], 2);
        body();
        _exit(0);
    }
    close(fds[1]);
    while (len + 1 < n && (r = read(fds[0], out + len, n - 1 - len)) > 0)
        len += (size_t)r;
    out[len] = '\0';
    close(fds[0]);
    assert_int_equal(waitpid(pid, &st, 0), pid);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static void stuck_after_sigterm(void)
{
    daemon_signals_install();
    daemon_shutdown_bound("stuck", 1000);
    kill(getpid(), SIGTERM);
    /* Something that never returns: a close on a broker that is gone. */
    for (;;)
        pause();
}

static void test_watchdog_ends_a_stuck_shutdown(void **state)
{
    char out[2048];
    int64_t t0 = tu_now_ms();
    int st;
    (void)state;

    st = run_child(stuck_after_sigterm, out, sizeof(out));
    printf("  exit %d after %lld ms: %s", st, (long long)(tu_now_ms() - t0),
           out);
    assert_int_equal(st, 3);
    assert_non_null(strstr(out, "stuck: shutdown did not finish within "
                                "1000 ms (daemon.shutdown.timeout.ms)"));
}

static void clean_exit(void)
{
    daemon_shutdown_bound("clean", 60000);
    daemon_request_stop();
    /* Returns before the bound: the watchdog must not fire. */
}

static void test_no_watchdog_for_a_clean_exit(void **state)
{
    char out[2048];
    (void)state;

    assert_int_equal(run_child(clean_exit, out, sizeof(out)), 0);
    assert_null(strstr(out, "shutdown did not finish"));
}

static void test_timeouts_shrink_once_stopping(void **state)
{
    (void)state;
    daemon_shutdown_bound("unit", 20000);
    /* Not stopping: the whole bound is left and calls keep their time. */
    assert_int_equal(daemon_shutdown_left_ms(), 20000);
    assert_int_equal(daemon_timeout_ms(5000), 5000);
    daemon_request_stop();
    assert_true(daemon_stopping());
    assert_true(daemon_shutdown_left_ms() <= 20000);
    assert_true(daemon_shutdown_left_ms() > 0);
    /* A 60 s call is cut to what is left minus the closing margin (4 s). */
    assert_true(daemon_timeout_ms(60000) <= 16000);
    assert_int_equal(daemon_timeout_ms(100), 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_watchdog_ends_a_stuck_shutdown),
        cmocka_unit_test(test_no_watchdog_for_a_clean_exit),
        /* Last: it leaves this process stopping (and its watchdog armed
         * for 20 s, more than the rest of the run). */
        cmocka_unit_test(test_timeouts_shrink_once_stopping),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
