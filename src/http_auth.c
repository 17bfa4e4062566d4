/* http_auth.c - see http_auth.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "http.h"
#include "http_auth.h"
#include "log.h"
#include "conf_daemon_keys.h"

/* A token file larger than this is not a token file. */
#define TOKEN_FILE_MAX (1u << 20)

typedef struct tokens {
    char **v;
    size_t n, cap;
} tokens_t;

struct http_auth {
    pthread_mutex_t lock;
    char *file;  /* http.auth.token.file, NULL if unset */
    char *fixed; /* http.auth.token, NULL if unset */
    tokens_t from_file;
    bool required;
    unsigned seen_gen; /* daemon_reload_generation() last acted on */
};

static void tokens_free(tokens_t *t)
{
    for (size_t i = 0; i < t->n; i++) {
        /* Do not leave secrets in freed memory. */
        memset(t->v[i], 0, strlen(t->v[i]));
        free(t->v[i]);
    }
    free(t->v);
    memset(t, 0, sizeof(*t));
}

/* A token must be something a header can carry unchanged. */
static const char *token_problem(const char *s, size_t len)
{
    if (len < HTTP_AUTH_TOKEN_MIN)
        return "is shorter than 16 characters";
    if (len > HTTP_AUTH_TOKEN_MAX)
        return "is longer than 256 characters";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
            return "holds a space, control or non-ASCII character";
    return NULL;
}

static int tokens_add(tokens_t *t, const char *s, size_t len)
{
    char *c;

    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4;
        char **nv = realloc(t->v, cap * sizeof(*nv));
        if (!nv)
            return -1;
        t->v = nv;
        t->cap = cap;
    }
    if (!(c = malloc(len + 1)))
        return -1;
    memcpy(c, s, len);
    c[len] = '\0';
    t->v[t->n++] = c;
    return 0;
}

char *http_read_file(const char *path, size_t *len, char *errstr,
                     size_t errstr_size)
{
    struct stat st;
    char *buf = NULL;
    ssize_t n;
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);

    if (fd < 0) {
        snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > TOKEN_FILE_MAX) {
        snprintf(errstr, errstr_size,
                 "%s: not a regular file of at most %u "
                 "bytes",
                 path, TOKEN_FILE_MAX);
        goto fail;
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    *len = 0;
    while (*len < (size_t)st.st_size &&
           (n = read(fd, buf + *len, (size_t)st.st_size - *len)) > 0)
        *len += (size_t)n;
    buf[*len] = '\0';
    close(fd);
    return buf;
fail:
    free(buf);
    close(fd);
    return NULL;
}

/* Parses a token file into *out: one token per line, surrounding blanks
 * trimmed, blank lines and '#' comments skipped; at least one token. */
static chp_err_t load_file(const char *path, tokens_t *out, char *errstr,
                           size_t errstr_size)
{
    size_t len = 0, line = 0;
    char *buf = http_read_file(path, &len, errstr, errstr_size), *p;
    tokens_t t = {0};
    chp_err_t err = CHP_ERR_INVALID_ARG;

    if (!buf)
        return CHP_ERR_IO;
    for (p = buf; p < buf + len;) {
        char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        char *b = p, *e = nl ? nl : buf + len;
        const char *why;
        p = e + 1;
        line++;
        while (b < e && isspace((unsigned char)*b))
            b++;
        while (e > b && isspace((unsigned char)e[-1]))
            e--;
        if (b == e || *b == '#')
            continue;
        if ((why = token_problem(b, (size_t)(e - b)))) {
            /* The token itself is never echoed. */
            snprintf(errstr, errstr_size,
                     "\"http.auth.token.file\": %s:%zu: the token %s", path,
                     line, why);
            goto out;
        }
        if (tokens_add(&t, b, (size_t)(e - b)) != 0) {
            snprintf(errstr, errstr_size, "out of memory");
            err = CHP_ERR_NOMEM;
            goto out;
        }
    }
    if (t.n == 0) {
        snprintf(errstr, errstr_size,
                 "\"http.auth.token.file\": %s holds no token", path);
        goto out;
    }
    tokens_free(out);
    *out = t;
    t = (tokens_t){0};
    err = CHP_OK;
out:
    tokens_free(&t);
    memset(buf, 0, len);
    free(buf);
    return err;
}

bool http_auth_is_loopback(const char *address)
{
    struct in_addr in;

    return address && inet_pton(AF_INET, address, &in) == 1 &&
           (ntohl(in.s_addr) >> 24) == 127;
}

http_auth_t *http_auth_new(const chp_conf_t *conf, char *errstr,
                           size_t errstr_size)
{
    const char *token = chp_conf_get_str(conf, CHP_KEY_HTTP_AUTH_TOKEN);
    const char *file = chp_conf_get_str(conf, CHP_KEY_HTTP_AUTH_TOKEN_FILE);
    const char *address = chp_conf_get_str(conf, CHP_KEY_HTTP_ADDRESS);
    bool disable = chp_conf_get_bool(conf, CHP_KEY_HTTP_AUTH_DISABLE);
    http_auth_t *a;
    const char *why;

    if (token && *token && (why = token_problem(token, strlen(token)))) {
        snprintf(errstr, errstr_size, "\"http.auth.token\": the token %s", why);
        return NULL;
    }
    if (!(a = calloc(1, sizeof(*a)))) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    a->seen_gen = daemon_reload_generation();
    if ((token && *token && !(a->fixed = strdup(token))) ||
        (file && *file && !(a->file = strdup(file)))) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (a->file && load_file(a->file, &a->from_file, errstr, errstr_size))
        goto fail;
    a->required = a->fixed || a->file;
    if (disable && a->required) {
        snprintf(errstr, errstr_size,
                 "\"http.auth.disable\" is true but a token is set "
                 "(\"http.auth.token\" or \"http.auth.token.file\"): "
                 "remove one or the other");
        goto fail;
    }
    /* Protected mode, as Redis has it: no open server beyond this host
     * unless the operator said so in so many words. */
    if (!a->required && !disable && !http_auth_is_loopback(address)) {
        snprintf(errstr, errstr_size,
                 "refusing to serve HTTP on %s without authentication: set "
                 "\"http.auth.token\" or \"http.auth.token.file\", bind "
                 "\"http.address\" to 127.0.0.1, or set "
                 "\"http.auth.disable=true\" to run open on purpose",
                 address ? address : "(none)");
        goto fail;
    }
    return a;
fail:
    http_auth_destroy(a);
    return NULL;
}

void http_auth_destroy(http_auth_t *a)
{
    if (!a)
        return;
    tokens_free(&a->from_file);
    if (a->fixed)
        memset(a->fixed, 0, strlen(a->fixed));
    free(a->fixed);
    free(a->file);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

bool http_auth_required(const http_auth_t *a)
{
    return a && a->required;
}

size_t http_auth_count(http_auth_t *a)
{
    size_t n;

    if (!a)
        return 0;
    pthread_mutex_lock(&a->lock);
    n = a->from_file.n + (a->fixed != NULL);
    pthread_mutex_unlock(&a->lock);
    return n;
}

chp_err_t http_auth_reload(http_auth_t *a, char *errstr, size_t errstr_size)
{
    chp_err_t err;

    if (!a || !a->file)
        return CHP_OK;
    pthread_mutex_lock(&a->lock);
    err = load_file(a->file, &a->from_file, errstr, errstr_size);
    pthread_mutex_unlock(&a->lock);
    return err;
}

bool http_auth_equal(const char *a, size_t alen, const char *b, size_t blen)
{
    volatile unsigned char diff = 0;

    /* Every call reads HTTP_AUTH_TOKEN_MAX positions: past its end a
     * string reads as zeros (index 0 is re-read, masked), and the lengths
     * are compared the same way.  Both point to at least one byte. */
    if (alen > HTTP_AUTH_TOKEN_MAX || blen > HTTP_AUTH_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < HTTP_AUTH_TOKEN_MAX; i++) {
        size_t ma = (size_t)0 - (size_t)(i < alen);
        size_t mb = (size_t)0 - (size_t)(i < blen);
        unsigned char x = (unsigned char)((unsigned char)a[i & ma] & ma);
        unsigned char y = (unsigned char)((unsigned char)b[i & mb] & mb);
        diff |= x ^ y;
    }
    diff |= (unsigned char)((alen ^ blen) | ((alen ^ blen) >> 8));
    return diff == 0;
}

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
}

/* Standard base64 of at most out_size - 1 bytes into out (NUL-terminated);
 * -1 on anything else. */
static int b64_decode(const char *in, size_t len, char *out, size_t out_size,
                      size_t *out_len)
{
    unsigned acc = 0;
    int bits = 0;
    size_t o = 0;

    while (len && in[len - 1] == '=')
        len--;
    for (size_t i = 0; i < len; i++) {
        int v = b64_value((unsigned char)in[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o + 1 >= out_size)
                return -1;
            out[o++] = (char)((acc >> bits) & 0xff);
        }
    }
    out[o] = '\0';
    *out_len = o;
    return 0;
}

/* The token of "Bearer <token>", or the password of "Basic
 * base64(user:password)" (what a browser sends for the dashboard; the user
 * name is ignored).  Schemes are case-insensitive (RFC 7235).  buf holds
 * the decoded Basic credentials; *basic says which scheme it was. */
static bool credentials(const char *h, char *buf, size_t buf_size,
                        const char **tok, size_t *len, bool *basicp)
{
    const char *e, *colon;
    bool basic;

    if (!h)
        return false;
    if (!strncasecmp(h, "Bearer ", 7))
        basic = false;
    else if (!strncasecmp(h, "Basic ", 6))
        basic = true;
    else
        return false;
    h += basic ? 6 : 7;
    while (*h == ' ')
        h++;
    e = h + strlen(h);
    while (e > h && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    if (basic) {
        size_t n;
        if (b64_decode(h, (size_t)(e - h), buf, buf_size, &n) != 0 ||
            !(colon = memchr(buf, ':', n)))
            return false;
        h = colon + 1;
        e = buf + n;
    }
    *tok = h;
    *len = (size_t)(e - h);
    *basicp = basic;
    return *len > 0;
}

static void maybe_reload(http_auth_t *a)
{
    unsigned gen = daemon_reload_generation();
    char err[512];

    if (gen == a->seen_gen)
        return;
    a->seen_gen = gen;
    if (!a->file)
        return;
    if (load_file(a->file, &a->from_file, err, sizeof(err)) != CHP_OK)
        chp_log_warn("http: SIGHUP: keeping the %zu token(s) loaded before: %s",
                     a->from_file.n, err);
    else
        chp_log_info("http: SIGHUP: %zu token(s) loaded from %s",
                     a->from_file.n, a->file);
}

bool http_auth_allows(http_auth_t *a, const char *method, const char *path,
                      const char *authorization)
{
    char basic[2 * HTTP_AUTH_TOKEN_MAX];
    const char *tok;
    size_t len;
    bool ok = false, is_basic = false;

    if (!a || !a->required)
        return true;
    /* Load balancers and orchestrators probe /health without credentials;
     * it tells only whether the daemon makes progress. */
    if (method && path && !strcmp(method, "GET") && !strcmp(path, "/health"))
        return true;
    if (!credentials(authorization, basic, sizeof(basic), &tok, &len,
                     &is_basic) ||
        len > HTTP_AUTH_TOKEN_MAX)
        return false;
    /* A browser resends Basic credentials on its own, also for requests a
     * hostile page makes (CSRF): they may only read. */
    if (is_basic && strcmp(method ? method : "", "GET") &&
        strcmp(method ? method : "", "HEAD")) {
        memset(basic, 0, sizeof(basic));
        return false;
    }
    pthread_mutex_lock(&a->lock);
    maybe_reload(a);
    /* No early exit: every token is compared whatever matched. */
    if (a->fixed)
        ok |= http_auth_equal(tok, len, a->fixed, strlen(a->fixed));
    for (size_t i = 0; i < a->from_file.n; i++)
        ok |= http_auth_equal(tok, len, a->from_file.v[i],
                              strlen(a->from_file.v[i]));
    pthread_mutex_unlock(&a->lock);
    memset(basic, 0, sizeof(basic));
    return ok;
}
