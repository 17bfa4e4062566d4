/* daemon.h - the life of every long-running subcommand: signal handling
 * (SIGTERM/SIGINT set a flag the run loop polls, SIGHUP counts reloads) and
 * the bounded shutdown.  Its HTTP server is http.h, its metrics metrics.h. */
#ifndef CHP_DAEMON_H
#define CHP_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------ signals */

/* Installs SIGTERM/SIGINT handlers that only set a flag, a SIGHUP handler
 * that only counts; ignores SIGPIPE. */
void daemon_signals_install(void);
/* True once SIGTERM or SIGINT arrived (or daemon_request_stop was called). */
bool daemon_stopping(void);
void daemon_request_stop(void);
/* Counts the SIGHUPs received (handled by daemon_signals_install, which
 * also keeps SIGHUP from killing the process): whoever re-reads a file on
 * SIGHUP compares it with the value it last acted on. */
unsigned daemon_reload_generation(void);

/* ------------------------------------------------------------ usage */

/* The answer of `chaperone <command> arg` for a daemon, which takes no
 * argument besides -c and -X: with -h/--help the usage and `docs` on
 * stdout, exit code 0; anything else the usage on stderr, exit code 2. */
int daemon_usage(const char *command, const char *arg, const char *docs);

/* ------------------------------------------------------------ shutdown */

/*
 * Bounded shutdown (daemon.shutdown.timeout.ms): once a stop is requested
 * the daemon has timeout_ms to commit what it can and close its clients.
 * A watchdog thread, started here, then logs "<name>: shutdown did not
 * finish within N ms ..." and _exit(3)s: nothing is lost, the next start
 * replays what was not committed.  Call once, after daemon_signals_install.
 */
void daemon_shutdown_bound(const char *name, int64_t timeout_ms);
/* Milliseconds left before the watchdog fires once stopping (the whole
 * bound before that); never negative. */
int64_t daemon_shutdown_left_ms(void);
/* want_ms, or less while stopping so that a blocking call ends before the
 * watchdog fires (keeps a fifth of the bound, at most 5 s, for closing). */
int daemon_timeout_ms(int want_ms);

#endif
