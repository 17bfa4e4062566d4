/* http.h - the HTTP server's configuration-driven side: one call that reads
 * the http.* keys (address, port, authentication, TLS) and starts the
 * server, the same for the worker, the controller and the collector; and
 * the seam that serves one request without a socket (tests, fuzzing).
 * The base server API (handlers, replies) is in daemon.h. */
#ifndef CHP_HTTP_H
#define CHP_HTTP_H

#include "chaperone.h"
#include "daemon.h"
#include "http_auth.h"

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
