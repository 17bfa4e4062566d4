/*
 * store_url.h - the one parser of the URLs the collector is configured
 * with: db.url for the store backends, redis.url for dedup=redis
 * (store_url.c).  PostgreSQL's libpq is given db.url as it is; the parsed
 * form there only checks it and names the server in messages.
 */
#ifndef CHP_COLLECTOR_STORE_URL_H
#define CHP_COLLECTOR_STORE_URL_H

#include <stdbool.h>
#include <stddef.h>

#include "chaperone.h"

/* A parsed scheme://user:password@host:port/path?query URL; every field is
 * percent-decoded except query, kept as written (every scheme we take
 * refuses ?options; libpq gets postgresql:// URLs whole). */
typedef struct store_url {
    char scheme[16];
    char user[256];
    char password[256];
    char host[256];
    int port;        /* 0 when absent */
    char path[4096]; /* database name (no leading '/'), or SQLite file */
    char query[1024];
} store_url_t;

/* Parses url; key ("db.url", "redis.url") names the setting in errstr.
 * sqlite URLs have no authority: everything after "sqlite://" is the file
 * path, verbatim.  errstr never contains the password. */
chp_err_t store_url_parse(const char *url, const char *key, store_url_t *u,
                          char *errstr, size_t errstr_size);

/* Decodes %XX escapes of src[0..len) into dst; false if one is malformed or
 * the result (with NUL) does not fit. */
bool store_percent_decode(const char *src, size_t len, char *dst,
                          size_t dst_size);

#endif
