/*
 * store_url.c - the one parser of the URLs the collector is configured
 * with (db.url for every backend, redis.url for dedup=redis): scheme,
 * percent-decoded user, password, host, port and path, and the query's
 * name=value pairs (store_url.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "collector/store_url.h"
#include "errstr.h"

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool store_percent_decode(const char *src, size_t len, char *dst,
                          size_t dst_size)
{
    size_t i, o = 0;

    for (i = 0; i < len; i++) {
        char c = src[i];

        if (c == '%') {
            int hi, lo;

            if (i + 2 >= len)
                return false;
            hi = hex_value(src[i + 1]);
            lo = hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                return false;
            c = (char)(hi * 16 + lo);
            /* A decoded NUL would silently cut the string short. */
            if (c == '\0')
                return false;
            i += 2;
        }
        if (o + 1 >= dst_size)
            return false;
        dst[o++] = c;
    }
    if (dst_size == 0)
        return false;
    dst[o] = '\0';
    return true;
}

/* Decodes a URL component into a field, with an error naming what. */
static chp_err_t decode_part(const char *src, size_t len, char *dst,
                             size_t dst_size, const char *key, const char *what,
                             char *errstr, size_t errstr_size)
{
    if (store_percent_decode(src, len, dst, dst_size))
        return CHP_OK;
    chp_errf(errstr, errstr_size, CHP_ERR_DB,
             "%s: the %s is too long or has a bad %%-escape", key, what);
    return CHP_ERR_PARSE;
}

static chp_err_t parse_port(const char *p, size_t len, int *port,
                            const char *key, char *errstr, size_t errstr_size)
{
    long v = 0;

    if (len == 0 || len > 5)
        goto bad;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            goto bad;
        v = v * 10 + (p[i] - '0');
    }
    if (v < 1 || v > 65535)
        goto bad;
    *port = (int)v;
    return CHP_OK;
bad:
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "%s: bad port \"%.*s\"", key,
             (int)(len > 16 ? 16 : len), p);
    return CHP_ERR_PARSE;
}

/* host[:port] or [v6]:port of an authority without its userinfo. */
static chp_err_t parse_hostport(const char *p, size_t len, store_url_t *u,
                                const char *key, char *errstr,
                                size_t errstr_size)
{
    const char *end = p + len, *host = p, *colon;
    size_t hlen;

    if (len > 0 && p[0] == '[') {
        const char *close = memchr(p, ']', len);

        if (!close || (close + 1 < end && close[1] != ':')) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB, "%s: bad [IPv6] host",
                     key);
            return CHP_ERR_PARSE;
        }
        host = p + 1;
        hlen = (size_t)(close - host);
        colon = close + 1 < end ? close + 1 : NULL;
    } else {
        colon = memrchr(p, ':', len);
        hlen = colon ? (size_t)(colon - p) : len;
    }
    if (hlen == 0) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "%s: no host", key);
        return CHP_ERR_PARSE;
    }
    if (hlen >= sizeof(u->host)) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "%s: host name too long",
                 key);
        return CHP_ERR_PARSE;
    }
    memcpy(u->host, host, hlen);
    u->host[hlen] = '\0';
    if (colon)
        return parse_port(colon + 1, (size_t)(end - colon - 1), &u->port, key,
                          errstr, errstr_size);
    return CHP_OK;
}

chp_err_t store_url_parse(const char *url, const char *key, store_url_t *u,
                          char *errstr, size_t errstr_size)
{
    const char *sep = url ? strstr(url, "://") : NULL;
    const char *p, *at, *rest;
    size_t slen, alen;
    chp_err_t err;

    memset(u, 0, sizeof(*u));
    if (!sep || sep == url ||
        (slen = (size_t)(sep - url)) >= sizeof(u->scheme)) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "%s: not a URL (scheme://...)", key);
        return CHP_ERR_PARSE;
    }
    for (size_t i = 0; i < slen; i++) {
        char c = url[i];

        u->scheme[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    p = sep + 3;
    if (strcmp(u->scheme, "sqlite") == 0) {
        /* A file path, taken as written: "sqlite://a.db" is relative,
         * "sqlite:///abs/a.db" absolute. */
        if (!*p) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB,
                     "%s: sqlite:// needs a file path", key);
            return CHP_ERR_PARSE;
        }
        if (strlen(p) >= sizeof(u->path)) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB, "%s: file path too long",
                     key);
            return CHP_ERR_PARSE;
        }
        memcpy(u->path, p, strlen(p) + 1);
        return CHP_OK;
    }

    alen = strcspn(p, "/?");
    rest = p + alen;
    /* The last '@': a password with an unescaped '@' still parses. */
    at = memrchr(p, '@', alen);
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        size_t ulen = colon ? (size_t)(colon - p) : (size_t)(at - p);

        if ((err = decode_part(p, ulen, u->user, sizeof(u->user), key,
                               "user name", errstr, errstr_size)))
            return err;
        if (colon && (err = decode_part(colon + 1, (size_t)(at - colon - 1),
                                        u->password, sizeof(u->password), key,
                                        "password", errstr, errstr_size)))
            return err;
        alen -= (size_t)(at + 1 - p);
        p = at + 1;
    }
    if ((err = parse_hostport(p, alen, u, key, errstr, errstr_size)))
        return err;
    if (*rest == '/') {
        size_t plen = strcspn(rest + 1, "?");

        if ((err = decode_part(rest + 1, plen, u->path, sizeof(u->path), key,
                               "path", errstr, errstr_size)))
            return err;
        rest += 1 + plen;
    }
    if (*rest == '?') {
        if (strlen(rest + 1) >= sizeof(u->query)) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB,
                     "%s: query string too long", key);
            return CHP_ERR_PARSE;
        }
        memcpy(u->query, rest + 1, strlen(rest + 1) + 1);
    }
    return CHP_OK;
}
