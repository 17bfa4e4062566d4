/*
 * dedup_redis.c - dedup=redis (see dedup_redis.h).
 *
 * Why Redis cannot break exactly-once: the collector's counts and its
 * audit-topic offsets are committed together in one database transaction
 * (store.h).  Redis is asked before a flush (seen: drop messages already
 * counted) and told after the commit (mark).  A crash between the commit
 * and the mark loses only marks of messages whose offsets the database
 * has already moved past, so they are never consumed again and cannot be
 * counted twice.  Replays after a crash or a rebalance are caught by the
 * offsets, not by Redis; what Redis adds is catching the same audit message
 * arriving again at a *different* offset (a reporter's retry after a lost
 * acknowledgement, a worker re-publishing), within the TTL.
 *
 * The one thing Redis cannot see is a duplicate inside the batch being
 * flushed: the collector removes those in memory.
 *
 * A connection is dropped on any error and made again by the next call, so
 * a Redis restart costs one failed call, which the collector retries.
 */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "collector/dedup_redis.h"
#include "collector/store_url.h"
#include "errstr.h"
#include "conf_daemon_keys.h"

#define CONNECT_TIMEOUT_S 3
#define COMMAND_TIMEOUT_S 10
#define DEFAULT_PORT      6379
#define MGET_CHUNK        512
#define PREFIX_LEN        (sizeof(DEDUP_REDIS_PREFIX) - 1)
#define KEY_MAX           (PREFIX_LEN + CHP_UUID_MAX)

struct dedup_redis {
    redisContext *c; /* NULL while disconnected */
    store_url_t url;
    int db;
    char ttl[24]; /* seconds, as the EX argument */
    /* One chunk of keys and MGET arguments, kept between calls. */
    char (*keys)[KEY_MAX];
    const char **argv;
    size_t *argvlen;
};

static void disconnect(dedup_redis_t *d)
{
    if (d->c)
        redisFree(d->c);
    d->c = NULL;
}

static chp_err_t fail(dedup_redis_t *d, const char *what, const char *msg,
                      char *errstr, size_t errstr_size)
{
    chp_errf(errstr, errstr_size, CHP_ERR_DB, "redis %s:%d: %s: %s",
             d->url.host, d->url.port ? d->url.port : DEFAULT_PORT, what, msg);
    disconnect(d);
    return CHP_ERR_DB;
}

/* Runs one command; an error reply or a transport error fails.  The reply
 * is freed unless out is given. */
static chp_err_t command(dedup_redis_t *d, int argc, const char **argv,
                         const size_t *argvlen, const char *what,
                         redisReply **out, char *errstr, size_t errstr_size)
{
    redisReply *r = redisCommandArgv(d->c, argc, argv, argvlen);
    chp_err_t err;

    if (!r)
        return fail(d, what, d->c->errstr[0] ? d->c->errstr : "no reply",
                    errstr, errstr_size);
    if (r->type == REDIS_REPLY_ERROR) {
        err = fail(d, what, r->str, errstr, errstr_size);
        freeReplyObject(r);
        return err;
    }
    if (out)
        *out = r;
    else
        freeReplyObject(r);
    return CHP_OK;
}

static chp_err_t ensure(dedup_redis_t *d, char *errstr, size_t errstr_size)
{
    struct timeval ct = {CONNECT_TIMEOUT_S, 0}, io = {COMMAND_TIMEOUT_S, 0};
    char db[16];
    chp_err_t err;

    if (d->c)
        return CHP_OK;
    d->c = redisConnectWithTimeout(
        d->url.host, d->url.port ? d->url.port : DEFAULT_PORT, ct);
    if (!d->c) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "redis: out of memory");
        return CHP_ERR_NOMEM;
    }
    if (d->c->err)
        return fail(d, "connect", d->c->errstr, errstr, errstr_size);
    if (redisSetTimeout(d->c, io) != REDIS_OK)
        return fail(d, "set timeout", d->c->errstr, errstr, errstr_size);
    if (d->url.password[0]) {
        const char *argv[3] = {"AUTH", d->url.user, d->url.password};
        size_t len[3] = {4, strlen(d->url.user), strlen(d->url.password)};

        /* AUTH user pass needs Redis 6 ACLs; AUTH pass works everywhere. */
        if (d->url.user[0])
            err = command(d, 3, argv, len, "AUTH", NULL, errstr, errstr_size);
        else
            err = command(d, 2, (const char *[]){"AUTH", d->url.password},
                          (size_t[]){4, len[2]}, "AUTH", NULL, errstr,
                          errstr_size);
        if (err)
            return err;
    }
    if (d->db) {
        snprintf(db, sizeof(db), "%d", d->db);
        if ((err = command(d, 2, (const char *[]){"SELECT", db},
                           (size_t[]){6, strlen(db)}, "SELECT", NULL, errstr,
                           errstr_size)))
            return err;
    }
    return CHP_OK;
}

void dedup_redis_destroy(dedup_redis_t *d)
{
    if (!d)
        return;
    disconnect(d);
    free(d->keys);
    free(d->argv);
    free(d->argvlen);
    free(d);
}

chp_err_t dedup_redis_new(const char *url, int64_t ttl_s, dedup_redis_t **out,
                          char *errstr, size_t errstr_size)
{
    dedup_redis_t *d = calloc(1, sizeof(*d));
    chp_err_t err;

    *out = NULL;
    if (!d || !(d->keys = calloc(MGET_CHUNK, sizeof(*d->keys))) ||
        !(d->argv = calloc(MGET_CHUNK + 1, sizeof(*d->argv))) ||
        !(d->argvlen = calloc(MGET_CHUNK + 1, sizeof(*d->argvlen)))) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB, "redis: out of memory");
        err = CHP_ERR_NOMEM;
        goto fail;
    }
    if ((err = store_url_parse(url, CHP_KEY_REDIS_URL, &d->url, errstr,
                               errstr_size)))
        goto fail;
    err = CHP_ERR_INVALID_ARG;
    if (strcmp(d->url.scheme, "redis") != 0) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "redis.url: scheme must be redis:// (got %s://)",
                 d->url.scheme);
        goto fail;
    }
    if (d->url.query[0]) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "redis.url: takes no ?options");
        goto fail;
    }
    if (d->url.path[0]) {
        char *end;
        long db = strtol(d->url.path, &end, 10);

        if (*end || db < 0 || db > 1000000) {
            chp_errf(errstr, errstr_size, CHP_ERR_DB,
                     "redis.url: database \"%s\" is not a number", d->url.path);
            goto fail;
        }
        d->db = (int)db;
    }
    if (ttl_s <= 0) {
        chp_errf(errstr, errstr_size, CHP_ERR_DB,
                 "dedup.ttl.hours: must be positive");
        goto fail;
    }
    snprintf(d->ttl, sizeof(d->ttl), "%lld", (long long)ttl_s);
    /* Connecting now reports a wrong address or password at start-up. */
    if ((err = ensure(d, errstr, errstr_size)))
        goto fail;
    *out = d;
    return CHP_OK;
fail:
    dedup_redis_destroy(d);
    return err;
}

/* keys[i] = prefix + uuid; returns its length. */
static size_t make_key(char key[KEY_MAX], const char *uuid)
{
    size_t n = strnlen(uuid, CHP_UUID_MAX - 1);

    memcpy(key, DEDUP_REDIS_PREFIX, PREFIX_LEN);
    memcpy(key + PREFIX_LEN, uuid, n);
    key[PREFIX_LEN + n] = '\0';
    return PREFIX_LEN + n;
}

chp_err_t dedup_redis_seen(dedup_redis_t *d, const char *const *uuids, size_t n,
                           bool *seen, char *errstr, size_t errstr_size)
{
    chp_err_t err;

    for (size_t i = 0; i < n; i++)
        seen[i] = false;
    if (n == 0)
        return CHP_OK;
    if ((err = ensure(d, errstr, errstr_size)))
        return err;
    for (size_t i = 0; i < n; i += MGET_CHUNK) {
        size_t k = n - i < MGET_CHUNK ? n - i : MGET_CHUNK;
        redisReply *r;

        d->argv[0] = "MGET";
        d->argvlen[0] = 4;
        for (size_t j = 0; j < k; j++) {
            d->argvlen[j + 1] = make_key(d->keys[j], uuids[i + j]);
            d->argv[j + 1] = d->keys[j];
        }
        if ((err = command(d, (int)k + 1, d->argv, d->argvlen, "MGET", &r,
                           errstr, errstr_size)))
            return err;
        if (r->type != REDIS_REPLY_ARRAY || r->elements != k) {
            freeReplyObject(r);
            return fail(d, "MGET", "unexpected reply", errstr, errstr_size);
        }
        for (size_t j = 0; j < k; j++)
            seen[i + j] = r->element[j]->type != REDIS_REPLY_NIL;
        freeReplyObject(r);
    }
    return CHP_OK;
}

chp_err_t dedup_redis_mark(dedup_redis_t *d, const char *const *uuids, size_t n,
                           char *errstr, size_t errstr_size)
{
    chp_err_t err;

    if (n == 0)
        return CHP_OK;
    if ((err = ensure(d, errstr, errstr_size)))
        return err;
    for (size_t i = 0; i < n; i += MGET_CHUNK) {
        size_t k = n - i < MGET_CHUNK ? n - i : MGET_CHUNK;

        /* Pipelined: k commands out, then k replies in. */
        for (size_t j = 0; j < k; j++) {
            const char *argv[6] = {"SET", d->keys[j], "1", "NX", "EX", d->ttl};
            size_t len[6] = {3, 0, 1, 2, 2, strlen(d->ttl)};

            len[1] = make_key(d->keys[j], uuids[i + j]);
            if (redisAppendCommandArgv(d->c, 6, argv, len) != REDIS_OK)
                return fail(d, "SET", d->c->errstr, errstr, errstr_size);
        }
        for (size_t j = 0; j < k; j++) {
            void *reply = NULL;
            redisReply *r;

            if (redisGetReply(d->c, &reply) != REDIS_OK || !reply)
                return fail(d, "SET",
                            d->c->errstr[0] ? d->c->errstr : "no reply", errstr,
                            errstr_size);
            r = reply;
            /* OK, or nil when NX found the key: both mean "marked". */
            if (r->type == REDIS_REPLY_ERROR) {
                err = fail(d, "SET", r->str, errstr, errstr_size);
                freeReplyObject(r);
                return err;
            }
            freeReplyObject(r);
        }
    }
    return CHP_OK;
}
