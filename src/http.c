/* http.c - the embedded HTTP server (libmicrohttpd, own polling thread).
 * Requests are authenticated from their headers (http_auth.c) before any
 * body is read, collected whole (bounded by max_body, headers by
 * HTTP_MAX_HEADER_BYTES) and handed to one handler; /metrics and /health
 * have defaults.  HTTPS through libmicrohttpd's GnuTLS. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "health.h"
#include "http.h"
#include "log.h"

struct http_server {
    struct MHD_Daemon *mhd;
    http_handler_t *handler;
    void *opaque;
    metrics_t *metrics;
    health_t *health;         /* NULL: /health is always 200 */
    http_auth_t *auth;        /* owned; NULL: open */
    char *tls_cert, *tls_key; /* PEM, owned while the daemon runs */
    size_t tls_key_len;
    size_t max_body;
    int port;
};

typedef struct conn_state {
    chp_buf_t body; /* NUL-terminated; .s NULL while empty */
    bool too_big;
    bool denied; /* answered 401 from the headers alone */
} conn_state_t;

const char *http_query(const http_req_t *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, name);
}

void http_reply(http_resp_t *resp, int status, const char *content_type,
                const char *body)
{
    free(resp->body);
    resp->status = status;
    resp->content_type = content_type;
    resp->body = strdup(body ? body : "");
    resp->body_len = resp->body ? strlen(resp->body) : 0;
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlong forms,
 * no surrogates, at most U+10FFFF), 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned c = s[0];
    size_t n;
    unsigned cp, min;

    if (c < 0x80)
        return 1;
    if ((c & 0xe0) == 0xc0)
        n = 2, cp = c & 0x1f, min = 0x80;
    else if ((c & 0xf0) == 0xe0)
        n = 3, cp = c & 0x0f, min = 0x800;
    else if ((c & 0xf8) == 0xf0)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL */
            return 0;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

/* Writes s as the inside of a JSON string: quotes, backslashes and
 * control characters escaped, bytes that are not UTF-8 (a request path
 * may hold anything) as U+FFFD, so the document always parses. */
static void json_escape(char *dst, size_t n, const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t o = 0;

    while (*u && o + 7 < n) {
        size_t len = utf8_len(u);
        if (*u == '"' || *u == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)*u++;
        } else if (*u < 0x20 || *u == 0x7f) {
            o += (size_t)snprintf(dst + o, n - o, "\\u%04x", *u++);
        } else if (len == 0) {
            o += (size_t)snprintf(dst + o, n - o, "\\ufffd");
            u++;
        } else {
            memcpy(dst + o, u, len);
            o += len;
            u += len;
        }
    }
    dst[o] = '\0';
}

void http_reply_error(http_resp_t *resp, int status, const char *fmt, ...)
{
    char msg[512], esc[1100], body[1200];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_escape(esc, sizeof(esc), msg);
    snprintf(body, sizeof(body), "{\"error\":\"%s\",\"status\":%d}\n", esc,
             status);
    http_reply(resp, status, "application/json", body);
}

static enum MHD_Result send_resp(struct MHD_Connection *c, http_resp_t *r)
{
    struct MHD_Response *mr;
    enum MHD_Result ret;

    mr = MHD_create_response_from_buffer(r->body_len, r->body,
                                         MHD_RESPMEM_MUST_FREE);
    r->body = NULL;
    if (!mr)
        return MHD_NO;
    MHD_add_response_header(mr, "Content-Type",
                            r->content_type ? r->content_type : "text/plain");
    /* Browsers must not guess a type (a JSON error rendered as HTML). */
    MHD_add_response_header(mr, "X-Content-Type-Options", "nosniff");
    if (r->status == 401) /* Basic lets a browser ask for the token */
        MHD_add_response_header(mr, "WWW-Authenticate",
                                "Bearer realm=\"chaperone\", "
                                "Basic realm=\"chaperone\"");
    ret = MHD_queue_response(c, (unsigned)r->status, mr);
    MHD_destroy_response(mr);
    return ret;
}

static void health_reply(http_resp_t *resp, const char *why, uint64_t n)
{
    char esc[1100], body[1300];

    json_escape(esc, sizeof(esc), why);
    snprintf(body, sizeof(body),
             "{\"error\":\"%s\",\"status\":503,"
             "\"consecutiveFailures\":%llu}\n",
             esc, (unsigned long long)n);
    http_reply(resp, 503, "application/json", body);
}

void http_server_set_health(http_server_t *srv, health_t *h)
{
    if (srv)
        srv->health = h;
}

static void default_routes(http_server_t *s, const http_req_t *req,
                           http_resp_t *resp)
{
    if (!strcmp(req->path, "/health") && !strcmp(req->method, "GET")) {
        char why[512];
        if (health_check(s->health, why, sizeof(why)))
            http_reply(resp, 200, "text/plain", "OK");
        else
            health_reply(resp, why, health_failures(s->health));
    } else if (!strcmp(req->path, "/metrics") && s->metrics &&
               !strcmp(req->method, "GET")) {
        char *out;
        size_t len;
        if (metrics_render(s->metrics, &out, &len) == CHP_OK) {
            resp->status = 200;
            resp->content_type = "text/plain; version=0.0.4";
            resp->body = out;
            resp->body_len = len;
        } else {
            http_reply_error(resp, 500, "cannot render metrics");
        }
    } else {
        http_reply_error(resp, 404, "no such endpoint: %s %s", req->method,
                         req->path);
    }
}

/* The handler, then the defaults: everything after authentication. */
static void dispatch(http_server_t *s, const http_req_t *req, http_resp_t *resp)
{
    if (s->handler)
        s->handler(req, resp, s->opaque);
    if (resp->status == 0)
        default_routes(s, req, resp);
}

static void deny(http_resp_t *resp)
{
    http_reply_error(resp, 401,
                     "authentication required: send \"Authorization: "
                     "Bearer <token>\" (see http.auth.token)");
}

void http_server_serve(http_server_t *s, const http_req_t *req,
                       const char *authorization, http_resp_t *resp)
{
    if (!http_auth_allows(s->auth, req->method, req->path, authorization))
        deny(resp);
    else
        dispatch(s, req, resp);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *upload,
                                  size_t *upload_size, void **con_cls)
{
    http_server_t *s = cls;
    conn_state_t *st = *con_cls;
    http_resp_t resp = {0};
    (void)version;

    if (!st) { /* first call: headers only */
        if (!(st = calloc(1, sizeof(*st))))
            return MHD_NO;
        *con_cls = st;
        /* Refused before a byte of the body is read. */
        if (!http_auth_allows(s->auth, method, url,
                              MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                          "Authorization"))) {
            st->denied = true;
            deny(&resp);
            return send_resp(c, &resp);
        }
        return MHD_YES;
    }
    if (st->denied) { /* the 401 is queued; the body is dropped */
        *upload_size = 0;
        return MHD_YES;
    }
    if (*upload_size) { /* a chunk of the body */
        if (!st->too_big && st->body.len + *upload_size <= s->max_body) {
            chp_buf_putn(&st->body, upload, *upload_size);
            if (st->body.failed)
                return MHD_NO;
        } else {
            st->too_big = true;
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (st->too_big) {
        http_reply_error(&resp, 413, "request body larger than %zu bytes",
                         s->max_body);
    } else {
        http_req_t req = {.method = method,
                          .path = url,
                          .body = st->body.s,
                          .body_len = st->body.len,
                          .conn = c};
        dispatch(s, &req, &resp);
    }
    return send_resp(c, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    conn_state_t *st = *con_cls;
    (void)cls, (void)c, (void)toe;

    if (st) {
        chp_buf_free(&st->body);
        free(st);
        *con_cls = NULL;
    }
}

/* libmicrohttpd's own errors (a client speaking plain HTTP to the TLS
 * port, a header too large) as our log lines, not raw stderr. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    size_t n;

    (void)cls;
    vsnprintf(msg, sizeof(msg), fmt, ap);
    n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        msg[--n] = '\0';
    chp_log_debug("http: %s", msg);
}

http_server_t *http_server_new(size_t max_body, http_handler_t *handler,
                               void *opaque, metrics_t *metrics)
{
    http_server_t *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    s->handler = handler;
    s->opaque = opaque;
    s->metrics = metrics;
    s->max_body = max_body;
    return s;
}

void http_server_set_auth(http_server_t *s, http_auth_t *auth)
{
    http_auth_destroy(s->auth);
    s->auth = auth;
}

chp_err_t http_server_set_tls(http_server_t *s, const char *cert_file,
                              const char *key_file, char *errstr,
                              size_t errstr_size)
{
    size_t len;

    if (!MHD_is_feature_supported(MHD_FEATURE_TLS)) {
        snprintf(errstr, errstr_size,
                 "\"http.tls.cert.file\": this libmicrohttpd has no TLS");
        return CHP_ERR_INVALID_ARG;
    }
    if (!(s->tls_cert = http_read_file(cert_file, &len, errstr, errstr_size)) ||
        !(s->tls_key =
              http_read_file(key_file, &s->tls_key_len, errstr, errstr_size)))
        return CHP_ERR_IO;
    return CHP_OK;
}

chp_err_t http_server_listen(http_server_t *s, const char *address, int port,
                             char *errstr, size_t errstr_size)
{
    struct sockaddr_in sin;
    const union MHD_DaemonInfo *info;
    unsigned flags =
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
    struct MHD_OptionItem tls[] = {
        {MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert},
        {MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
        /* TLS 1.2 and 1.3 only, GnuTLS's default ciphers for them. */
        {MHD_OPTION_HTTPS_PRIORITIES, 0,
         (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"},
        {MHD_OPTION_END, 0, NULL},
    };

    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    if (!address || inet_pton(AF_INET, address, &sin.sin_addr) != 1) {
        snprintf(errstr, errstr_size,
                 "\"http.address\": not an IPv4 address: %s",
                 address ? address : "(none)");
        return CHP_ERR_INVALID_ARG;
    }
    if (s->tls_cert) {
        flags |= MHD_USE_TLS;
    } else {
        tls[0].option = MHD_OPTION_END;
    }
    s->mhd = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sin, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
        /* Request line and headers together; beyond: 431 or 414. */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_MAX_HEADER_BYTES,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned)HTTP_MAX_CONNECTIONS,
        MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_ARRAY, tls,
        MHD_OPTION_END);
    if (!s->mhd) {
        snprintf(errstr, errstr_size,
                 s->tls_cert
                     ? "cannot serve HTTPS on %s:%d (port in use, or "
                       "\"http.tls.cert.file\"/\"http.tls.key.file\" not a "
                       "matching PEM certificate and key)"
                     : "cannot listen on %s:%d (port in use or not "
                       "permitted)",
                 address, port);
        return CHP_ERR_IO;
    }
    info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : port;
    return CHP_OK;
}

http_server_t *http_server_start(const char *address, int port, size_t max_body,
                                 http_handler_t *handler, void *opaque,
                                 metrics_t *metrics, char *errstr,
                                 size_t errstr_size)
{
    http_server_t *s = http_server_new(max_body, handler, opaque, metrics);

    if (!s) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    if (http_server_listen(s, address, port, errstr, errstr_size) != CHP_OK) {
        http_server_stop(s);
        return NULL;
    }
    return s;
}

int http_server_port(const http_server_t *s)
{
    return s->port;
}

void http_server_stop(http_server_t *s)
{
    if (!s)
        return;
    if (s->mhd)
        MHD_stop_daemon(s->mhd);
    http_auth_destroy(s->auth);
    free(s->tls_cert);
    if (s->tls_key)
        memset(s->tls_key, 0, s->tls_key_len);
    free(s->tls_key);
    free(s);
}
