/* http_auth.h - bearer-token authentication of the daemons' HTTP servers
 * (docs/security.md).
 *
 * Tokens come from http.auth.token (one) and http.auth.token.file (one per
 * line, blank lines and '#' comments skipped), the file re-read after
 * SIGHUP.  When any token is configured every request except GET /health
 * must carry "Authorization: Bearer <token>" (or, for GET and HEAD only,
 * HTTP Basic with the token as password, for browsers); tokens are
 * compared in constant time.  With no token the server is open, which only a
 * loopback http.address or http.auth.disable=true allows (protected mode). */
#ifndef CHP_HTTP_AUTH_H
#define CHP_HTTP_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "chaperone.h"

/* Tokens are 16 to 256 printable characters without spaces. */
#define HTTP_AUTH_TOKEN_MIN 16
#define HTTP_AUTH_TOKEN_MAX 256

typedef struct http_auth http_auth_t;

/*
 * Reads http.auth.token, http.auth.token.file, http.auth.disable and
 * http.address from conf (conf is not kept) and enforces protected mode.
 * NULL with errstr naming the key on a bad token, an unreadable or empty
 * token file, or an open server on a non-loopback address.
 */
http_auth_t *http_auth_new(const chp_conf_t *conf, char *errstr,
                           size_t errstr_size);
void http_auth_destroy(http_auth_t *a);

/* True when requests need a token. */
bool http_auth_required(const http_auth_t *a);

/* Number of tokens accepted now. */
size_t http_auth_count(http_auth_t *a);

/*
 * May this request go on?  authorization is the Authorization header's
 * value (NULL: none).  NULL a (no authentication configured) allows all.
 * Re-reads the token file first when a SIGHUP arrived since the last call.
 * Thread-safe.
 */
bool http_auth_allows(http_auth_t *a, const char *method, const char *path,
                      const char *authorization);

/* Re-reads the token file now (what SIGHUP triggers); on failure the old
 * tokens stay and errstr says why. */
chp_err_t http_auth_reload(http_auth_t *a, char *errstr, size_t errstr_size);

/* Equal in constant time for strings of up to HTTP_AUTH_TOKEN_MAX bytes:
 * the time depends on neither string's content nor length. */
bool http_auth_equal(const char *a, size_t alen, const char *b, size_t blen);

/* True for an IPv4 address in 127.0.0.0/8. */
bool http_auth_is_loopback(const char *address);

#endif
