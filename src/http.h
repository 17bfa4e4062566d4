/* http.h - the daemons' embedded HTTP server (libmicrohttpd, http.c): the
 * requests, replies and handlers; the configuration-driven start that reads
 * the http.* keys (address, port, authentication, TLS; http_conf.c), the
 * same for the worker, the controller and the collector; and the seam that
 * serves one request without a socket (tests, fuzzing). */
#ifndef CHP_HTTP_H
#define CHP_HTTP_H

#include <stddef.h>

#include "chaperone.h"
#include "http_auth.h"
#include "metrics.h"

/* ------------------------------------------------------------ server */

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

/* ------------------------------------------------------------ from conf */

/* Request line plus headers, per connection (libmicrohttpd answers 431 or
 * 414 beyond it). */
#define HTTP_MAX_HEADER_BYTES (16u * 1024)
/* Connections served at once; more wait in the kernel's backlog. */
#define HTTP_MAX_CONNECTIONS 128

/*
 * Starts the daemon's HTTP server from conf: http.address, http.port
 * (0: default_port), http.auth.* (http_auth.h; protected mode refuses an
 * open server on a non-loopback address) and http.tls.cert.file +
 * http.tls.key.file (HTTPS).  what names the daemon in the log line that
 * says where it listens.  NULL with errstr naming the key on failure.
 */
http_server_t *http_server_start_conf(const chp_conf_t *conf, const char *what,
                                      int default_port, size_t max_body,
                                      http_handler_t *handler, void *opaque,
                                      metrics_t *metrics, char *errstr,
                                      size_t errstr_size);

/* What http_server_start_conf would refuse in the http.* keys (protected
 * mode, tokens, unreadable or unpaired TLS files), checked before a daemon
 * connects to anything. */
chp_err_t http_conf_check(const chp_conf_t *conf, char *errstr,
                          size_t errstr_size);

/* A server object with no socket yet: http_server_listen starts it,
 * http_server_serve answers requests without one. */
http_server_t *http_server_new(size_t max_body, http_handler_t *handler,
                               void *opaque, metrics_t *metrics);
/* Takes ownership of auth (NULL: open). Before http_server_listen. */
void http_server_set_auth(http_server_t *s, http_auth_t *auth);
/* Reads the PEM certificate (chain) and key; serve HTTPS. Before listen. */
chp_err_t http_server_set_tls(http_server_t *s, const char *cert_file,
                              const char *key_file, char *errstr,
                              size_t errstr_size);
chp_err_t http_server_listen(http_server_t *s, const char *address, int port,
                             char *errstr, size_t errstr_size);

/* Answers one whole request as the server would: authentication (the
 * Authorization header's value, NULL: none), the handler, the defaults. */
void http_server_serve(http_server_t *s, const http_req_t *req,
                       const char *authorization, http_resp_t *resp);

/* A regular file of at most 1 MiB, malloc()ed and NUL-terminated, *len
 * its size; NULL with errstr naming the path. */
char *http_read_file(const char *path, size_t *len, char *errstr,
                     size_t errstr_size);

#endif
