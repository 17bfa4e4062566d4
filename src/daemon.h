/* daemon.h - what every long-running subcommand shares: signal handling
 * (SIGTERM/SIGINT set a flag the run loop polls), an embedded HTTP server
 * (libmicrohttpd) and a small Prometheus metrics registry. */
#ifndef CHP_DAEMON_H
#define CHP_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "chaperone.h"

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

/* ------------------------------------------------------------ metrics */

typedef enum { METRIC_COUNTER, METRIC_GAUGE } metric_type_t;

typedef struct metrics metrics_t;
typedef struct metric metric_t;

metrics_t *metrics_new(void);
void metrics_destroy(metrics_t *m);

/* Registers a metric (labels may be NULL, e.g. "topic=\"a\"");
 * returns a handle valid until metrics_destroy. */
metric_t *metrics_add(metrics_t *m, const char *name, const char *help,
                      metric_type_t type, const char *labels);
void metric_inc(metric_t *x, double by);
void metric_set(metric_t *x, double v);
double metric_get(const metric_t *x);

/* Prometheus text exposition format; caller frees *out.  CHP_OK, or
 * CHP_ERR_NOMEM. */
chp_err_t metrics_render(metrics_t *m, char **out, size_t *len);

/* ------------------------------------------------------------ HTTP */

typedef struct http_req {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* decoded path, without the query string */
    const char *body;   /* NUL-terminated; NULL when empty */
    size_t body_len;
    void *conn; /* for http_query() */
} http_req_t;

typedef struct http_resp {
    int status;
    const char *content_type; /* static string */
    char *body;               /* malloc()ed, freed by the server */
    size_t body_len;
} http_resp_t;

/* The value of query parameter name, or NULL. */
const char *http_query(const http_req_t *req, const char *name);

/* Fills resp with a copy of body. */
void http_reply(http_resp_t *resp, int status, const char *content_type,
                const char *body);
/* {"error": msg} with status. */
void http_reply_error(http_resp_t *resp, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

typedef void(http_handler_t)(const http_req_t *req, http_resp_t *resp,
                             void *opaque);

typedef struct http_server http_server_t;

/*
 * Starts a server on address:port (port 0 = any free port, see
 * http_server_port) with its own thread.  Bodies larger than max_body get a
 * 413 with a JSON error before the handler is called.  GET /metrics and
 * GET /health are answered from metrics (if not NULL) unless the handler
 * answers them first (status != 0).
 */
http_server_t *http_server_start(const char *address, int port, size_t max_body,
                                 http_handler_t *handler, void *opaque,
                                 metrics_t *metrics, char *errstr,
                                 size_t errstr_size);
int http_server_port(const http_server_t *s);
void http_server_stop(http_server_t *s);

#endif
