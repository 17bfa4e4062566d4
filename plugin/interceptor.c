/*
 * interceptor.c - libchaperone_interceptor.so, a librdkafka plugin that
 * audits every message a librdkafka-based client produces or consumes.
 *
 *   plugin.library.paths=/path/to/libchaperone_interceptor.so
 *   chaperone.tier=...  chaperone.audit.topic=...  (set AFTER the plugin)
 *
 * Shape (as librdkafka's own interceptor test plugin):
 *  - conf_init(): one plugconf per configuration object, holding the
 *    chaperone.* settings; on_conf_set() answers for chaperone.* keys and
 *    says "unknown" to everything else, so our keys never reach librdkafka
 *    (and refuses transactional.id, see txn_refusal());
 *  - on_new(): creates the per-client state (tracker + reporter, each with
 *    its own thread and, for the reporter, its own producer) and registers
 *    the per-message interceptors;
 *  - on_send / on_consume count; on_acknowledgement counts delivery
 *    failures.  They only update counters: no blocking, no I/O, no call
 *    back into the client's handle;
 *  - on_destroy(): purges a producer's queues (so that messages never sent
 *    are acknowledged as failed), emits and delivers what was counted so
 *    far; the per-client state stays alive, because librdkafka still
 *    acknowledges (with __DESTROY) the messages in flight after it;
 *  - on_conf_destroy() of the client's configuration (the last call, after
 *    librdkafka's threads are gone): final emission, with those failures,
 *    and cleanup.
 *
 * The plugin has no link-time librdkafka: conf_init() binds every
 * rd_kafka_* call to the librdkafka that loaded it (rdk.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chaperone.h"
#include "inherit.h"
#include "kafkaconf.h"
#include "log.h"
#include "topicmap.h"
#include "rdk.h"
#include "tracker.h"
#include "conf_keys.h"

#define PREFIX           "chaperone."
#define PREFIX_LEN       (sizeof(PREFIX) - 1)
#define DESTROY_FLUSH_MS 10000

#define PLUGIN_EXPORT __attribute__((visibility("default")))

/* Per client instance. */
typedef struct plugrk {
    chp_tracker_t *tracker;
    chp_reporter_t *reporter;
} plugrk_t;

/* Per configuration object.  rd_kafka_new() takes the application's
 * configuration over as the client's own, so the client's state hangs off
 * its plugconf and is freed with it, in on_conf_destroy. */
typedef struct plugconf {
    chp_conf_t *conf;
    char *bootstrap; /* chaperone.bootstrap.servers, NULL = client's own */
    plugrk_t *rk;    /* the client created from this configuration */
} plugconf_t;

static void plugrk_free(plugrk_t *pr);

static rd_kafka_resp_err_t on_conf_dup(rd_kafka_conf_t *new_conf,
                                       const rd_kafka_conf_t *old_conf,
                                       size_t filter_cnt, const char **filter,
                                       void *ic_opaque);

static void plugconf_free(plugconf_t *pc)
{
    if (pc) {
        plugrk_free(pc->rk);
        chp_conf_destroy(pc->conf);
        free(pc->bootstrap);
        free(pc);
    }
}

static rd_kafka_resp_err_t on_conf_destroy(void *ic_opaque)
{
    plugconf_free(ic_opaque);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Checks values whose validity chp_conf_set cannot see alone: timestamp
 * rule lists and librdkafka properties for the reporter's producer. */
static chp_err_t validate(plugconf_t *pc, const char *key, const char *val,
                          char *errstr, size_t errstr_size)
{
    char sub[256];

    if (!strcmp(key, "timestamp") || !strcmp(key, CHP_KEY_TIMESTAMP_FIELDS) ||
        !strncmp(key, "timestamp.topic.", 16)) {
        chp_tsx_t *tsx = NULL;
        const char *rules = !strcmp(key, CHP_KEY_TIMESTAMP_FIELDS)
                                ? chp_conf_get_str(pc->conf, CHP_KEY_TIMESTAMP)
                                : val;
        const char *fields =
            !strcmp(key, CHP_KEY_TIMESTAMP_FIELDS)
                ? val
                : chp_conf_get_str(pc->conf, CHP_KEY_TIMESTAMP_FIELDS);
        if (chp_tsx_new(rules, fields, &tsx, sub, sizeof(sub)) != CHP_OK) {
            snprintf(errstr, errstr_size, "%s%s: %s", PREFIX, key, sub);
            return CHP_ERR_INVALID_ARG;
        }
        chp_tsx_destroy(tsx);
    } else if (!strcmp(key, CHP_KEY_TOPIC_MAP_STRIP_REGEX)) {
        chp_topicmap_t *m = NULL;
        if (chp_topicmap_new(val, &m, sub, sizeof(sub)) != CHP_OK) {
            snprintf(errstr, errstr_size, "%s%s: %s", PREFIX, key, sub);
            return CHP_ERR_INVALID_ARG;
        }
        chp_topicmap_destroy(m);
    } else if (!strncmp(key, "kafka.", 6)) {
        rd_kafka_conf_t *kc = rd_kafka_conf_new();
        chp_err_t err = chp_kafka_conf_set(kc, key + 6, val, sub, sizeof(sub));
        rd_kafka_conf_destroy(kc);
        if (err) {
            snprintf(errstr, errstr_size, "%s%s", PREFIX, sub + 1);
            return err;
        }
    }
    return CHP_OK;
}

/* librdkafka tells interceptors nothing about a transaction's commit or
 * abort, so the messages of an aborted transaction would be counted as
 * sent and show up as loss at the next tier: refuse, saying why. */
static void txn_refusal(char *errstr, size_t errstr_size)
{
    snprintf(errstr, errstr_size,
             "chaperone interceptor: a transactional producer "
             "(transactional.id) cannot be audited by an interceptor: "
             "librdkafka does not tell interceptors whether a transaction "
             "committed or aborted, so aborted messages would show as "
             "loss; count committed messages with libchaperone instead "
             "(docs/client.md)");
}

static bool conf_is_set(const rd_kafka_conf_t *conf, const char *name)
{
    char buf[8];
    size_t sz = sizeof(buf);

    /* A value longer than buf still answers OK with its size. */
    return rd_kafka_conf_get(conf, name, buf, &sz) == RD_KAFKA_CONF_OK &&
           sz > 1;
}

static rd_kafka_conf_res_t on_conf_set(rd_kafka_conf_t *conf, const char *name,
                                       const char *val, char *errstr,
                                       size_t errstr_size, void *ic_opaque)
{
    plugconf_t *pc = ic_opaque;
    const char *key;
    char sub[512];
    (void)conf;

    if (!strcmp(name, "transactional.id") && val && *val) {
        txn_refusal(errstr, errstr_size);
        return RD_KAFKA_CONF_INVALID;
    }
    if (strncmp(name, PREFIX, PREFIX_LEN) != 0)
        return RD_KAFKA_CONF_UNKNOWN; /* not ours: librdkafka's */
    key = name + PREFIX_LEN;
    if (!val) {
        snprintf(errstr, errstr_size,
                 "%s: resetting to default is not "
                 "supported",
                 name);
        return RD_KAFKA_CONF_INVALID;
    }
    if (!strcmp(key, "bootstrap.servers")) {
        free(pc->bootstrap);
        pc->bootstrap = *val ? strdup(val) : NULL;
        return RD_KAFKA_CONF_OK;
    }
    if (chp_conf_set(pc->conf, key, val, sub, sizeof(sub)) != CHP_OK) {
        snprintf(errstr, errstr_size, "%s: %s", name, sub);
        return RD_KAFKA_CONF_INVALID;
    }
    if (validate(pc, key, val, errstr, errstr_size) != CHP_OK)
        return RD_KAFKA_CONF_INVALID;
    return RD_KAFKA_CONF_OK;
}

static void conf_get(const rd_kafka_conf_t *conf, const char *name, char *buf,
                     size_t size)
{
    size_t sz = size;

    if (rd_kafka_conf_get(conf, name, buf, &sz) != RD_KAFKA_CONF_OK)
        buf[0] = '\0';
}

static rd_kafka_resp_err_t on_send(rd_kafka_t *rk, rd_kafka_message_t *m,
                                   void *ic_opaque);
static rd_kafka_resp_err_t on_ack(rd_kafka_t *rk, rd_kafka_message_t *m,
                                  void *ic_opaque);
static rd_kafka_resp_err_t on_consume(rd_kafka_t *rk, rd_kafka_message_t *m,
                                      void *ic_opaque);
static rd_kafka_resp_err_t on_destroy(rd_kafka_t *rk, void *ic_opaque);

static void plugrk_free(plugrk_t *pr)
{
    if (!pr)
        return;
    chp_tracker_destroy(pr->tracker); /* final emission into the reporter */
    chp_reporter_destroy(pr->reporter, DESTROY_FLUSH_MS);
    free(pr);
}

/* The reporter's configuration: the plugin's, plus the client's security
 * settings when the audit goes to the client's own cluster. */
static chp_err_t reporter_new(plugconf_t *pc, const rd_kafka_conf_t *conf,
                              const char *bootstrap, chp_reporter_t **out,
                              char *errstr, size_t errstr_size)
{
    chp_conf_t *rc = NULL;
    chp_err_t err;

    if (pc->bootstrap)
        return chp_reporter_new(pc->conf, pc->bootstrap, out, errstr,
                                errstr_size);
    if (!(rc = chp_conf_dup(pc->conf)))
        return CHP_ERR_NOMEM;
    err = chp_plugin_inherit(conf, rc, errstr, errstr_size);
    if (!err)
        err = chp_reporter_new(rc, bootstrap, out, errstr, errstr_size);
    chp_conf_destroy(rc);
    return err;
}

static rd_kafka_resp_err_t on_new(rd_kafka_t *rk, const rd_kafka_conf_t *conf,
                                  void *ic_opaque, char *errstr,
                                  size_t errstr_size)
{
    plugconf_t *pc = ic_opaque;
    plugrk_t *pr;
    char tier[CHP_NAME_MAX], group[CHP_NAME_MAX], bootstrap[1024];
    bool producer = rd_kafka_type(rk) == RD_KAFKA_PRODUCER;

    chp_log_set_level_name(chp_conf_get_str(pc->conf, CHP_KEY_LOG_LEVEL));
    if (conf_is_set(conf, "transactional.id")) { /* set some other way */
        txn_refusal(errstr, errstr_size);
        chp_log_error("%s: client %s is NOT audited", errstr,
                      rd_kafka_name(rk));
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    }
    if (producer) {
        snprintf(tier, sizeof(tier), "producer");
    } else {
        conf_get(conf, "group.id", group, sizeof(group));
        snprintf(tier, sizeof(tier), "consumer-%.240s", group);
    }
    conf_get(conf, "bootstrap.servers", bootstrap, sizeof(bootstrap));
    /* A configuration object used for a second client: the first one's
     * state is done with (its on_destroy ran). */
    plugrk_free(pc->rk);
    pc->rk = NULL;
    if (!(pr = calloc(1, sizeof(*pr))))
        return RD_KAFKA_RESP_ERR__FAIL;
    if (reporter_new(pc, conf, bootstrap, &pr->reporter, errstr, errstr_size) !=
            CHP_OK ||
        chp_tracker_new(pc->conf, tier, CHP_TRACKER_F_THREAD, chp_reporter_emit,
                        pr->reporter, &pr->tracker, errstr,
                        errstr_size) != CHP_OK) {
        /* librdkafka only warns and creates the client without us: say at
         * error level that it is not audited. */
        chp_log_error("chaperone interceptor: client %s is NOT audited: %s",
                      rd_kafka_name(rk), errstr);
        plugrk_free(pr);
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    pc->rk = pr;
    if (producer) {
        rd_kafka_interceptor_add_on_send(rk, "chaperone", on_send, pr);
        rd_kafka_interceptor_add_on_acknowledgement(rk, "chaperone", on_ack,
                                                    pr);
    } else {
        rd_kafka_interceptor_add_on_consume(rk, "chaperone", on_consume, pr);
    }
    rd_kafka_interceptor_add_on_destroy(rk, "chaperone", on_destroy, pr);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* Publishes what was counted so far while the application waits in
 * rd_kafka_destroy(); the state itself lives on (see on_conf_destroy).
 *
 * A producer destroyed without flush(): librdkafka frees the messages
 * still queued (not yet sent) without acknowledging them, so they would
 * vanish from the audit.  Purging the queues first (non-blocking, as
 * librdkafka does itself on a fatal error) fails them with __PURGE_QUEUE
 * through on_acknowledgement, and they are counted in
 * deliveryFailedCount.  The application gave them up by not flushing;
 * messages already sent are left to their fate (__DESTROY or delivered). */
static rd_kafka_resp_err_t on_destroy(rd_kafka_t *rk, void *ic_opaque)
{
    plugrk_t *pr = ic_opaque;

    if (rd_kafka_type(rk) == RD_KAFKA_PRODUCER)
        rd_kafka_purge(rk,
                       RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_NON_BLOCKING);
    chp_tracker_flush(pr->tracker);
    chp_reporter_flush(pr->reporter, DESTROY_FLUSH_MS);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* ----------------------------------------------------- per message */

static rd_kafka_resp_err_t count(plugrk_t *pr, rd_kafka_message_t *m)
{
    chp_msg_view_t v;

    if (!m->rkt)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    chp_kafka_msg_view(m, &v);
    chp_tracker_track_msg(pr->tracker, rd_kafka_topic_name(m->rkt), &v,
                          (uint64_t)m->key_len + m->len);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_send(rd_kafka_t *rk, rd_kafka_message_t *m,
                                   void *ic_opaque)
{
    (void)rk;
    return count(ic_opaque, m);
}

static rd_kafka_resp_err_t on_consume(rd_kafka_t *rk, rd_kafka_message_t *m,
                                      void *ic_opaque)
{
    (void)rk;
    if (m->err) /* partition EOF and other events carry no message */
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    return count(ic_opaque, m);
}

static rd_kafka_resp_err_t on_ack(rd_kafka_t *rk, rd_kafka_message_t *m,
                                  void *ic_opaque)
{
    plugrk_t *pr = ic_opaque;
    chp_msg_view_t v;
    (void)rk;

    if (!m->err || !m->rkt)
        return RD_KAFKA_RESP_ERR_NO_ERROR;
    chp_kafka_msg_view(m, &v);
    chp_tracker_track_failed(pr->tracker, rd_kafka_topic_name(m->rkt), &v);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

/* ----------------------------------------------------- registration */

static rd_kafka_resp_err_t plugconf_attach(rd_kafka_conf_t *conf,
                                           plugconf_t *pc)
{
    rd_kafka_conf_interceptor_add_on_conf_set(conf, "chaperone", on_conf_set,
                                              pc);
    rd_kafka_conf_interceptor_add_on_conf_dup(conf, "chaperone", on_conf_dup,
                                              pc);
    rd_kafka_conf_interceptor_add_on_conf_destroy(conf, "chaperone",
                                                  on_conf_destroy, pc);
    rd_kafka_conf_interceptor_add_on_new(conf, "chaperone", on_new, pc);
    return RD_KAFKA_RESP_ERR_NO_ERROR;
}

static rd_kafka_resp_err_t on_conf_dup(rd_kafka_conf_t *new_conf,
                                       const rd_kafka_conf_t *old_conf,
                                       size_t filter_cnt, const char **filter,
                                       void *ic_opaque)
{
    plugconf_t *old = ic_opaque, *pc = calloc(1, sizeof(*pc));
    (void)old_conf, (void)filter_cnt, (void)filter;

    if (!pc || !(pc->conf = chp_conf_dup(old->conf))) {
        free(pc);
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    if (old->bootstrap)
        pc->bootstrap = strdup(old->bootstrap);
    return plugconf_attach(new_conf, pc);
}

PLUGIN_EXPORT rd_kafka_resp_err_t conf_init(rd_kafka_conf_t *conf,
                                            void **plug_opaquep, char *errstr,
                                            size_t errstr_size)
{
    plugconf_t *pc;
    rd_kafka_resp_err_t err;

    *plug_opaquep = NULL;
    /* Called from inside the librdkafka that loads us: bind to it. */
    if ((err = chp_rdk_bind(__builtin_return_address(0), errstr, errstr_size)))
        return err;
    if (conf_is_set(conf, "transactional.id")) { /* set before the plugin */
        txn_refusal(errstr, errstr_size);
        return RD_KAFKA_RESP_ERR__INVALID_ARG;
    }
    pc = calloc(1, sizeof(*pc));
    if (!pc || !(pc->conf = chp_conf_new())) {
        free(pc);
        snprintf(errstr, errstr_size, "chaperone interceptor: out of memory");
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    return plugconf_attach(conf, pc);
}
