/*
 * reporter.c - publishes audit messages with an idempotent producer.
 *
 * Every audit message is encoded once and kept (key + JSON) until the broker
 * acknowledges it.  A delivery that fails after librdkafka's own retries
 * goes to a retry queue and is produced again after a back-off; the number
 * of messages kept (in flight + queued) is bounded by reporter.max.pending,
 * and what falls over that bound is counted as dropped and logged.  The
 * number dropped also travels in auditDroppedCount of the next audit
 * message encoded, so the collector learns of the loss (a message that
 * carried such a count and is dropped itself hands it on again).
 * Delivery reports run on the reporter's own thread.
 *
 * pending() must never miss a kept message, or a flush would end early and
 * shutdown would drop it: a message is always counted in the retry queue
 * or in inflight, and moves from one to the other by adding to the new
 * place before leaving the old one.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kafkaconf.h"
#include "log.h"
#include "reporter.h"
#include "conf_keys.h"

#define RETRY_BACKOFF_MS 1000

typedef struct pend {
    struct pend *next;
    uint64_t carried; /* auditDroppedCount encoded into val */
    size_t key_len, val_len;
    char *val;
    char key[]; /* the source topic */
} pend_t;

struct chp_reporter {
    rd_kafka_t *rk;
    char *topic;
    size_t max_pending;

    pthread_mutex_t lock; /* retry queue */
    pend_t *retry_head, *retry_tail;
    size_t n_retry;
    int64_t last_failure_ms;

    atomic_size_t inflight;
    atomic_uint_fast64_t produced, delivered, failed, dropped;
    atomic_uint_fast64_t unreported; /* dropped, not yet in a message */

    chp_reporter_retry_hook_t *retry_hook; /* tests only */
    void *retry_hook_opaque;

    pthread_t thread;
    atomic_bool stop;
};

static void pend_free(pend_t *p)
{
    if (p) {
        free(p->val);
        free(p);
    }
}

static void retry_push(chp_reporter_t *r, pend_t *p)
{
    p->next = NULL;
    if (r->retry_tail)
        r->retry_tail->next = p;
    else
        r->retry_head = p;
    r->retry_tail = p;
    r->n_retry++;
}

static pend_t *retry_pop(chp_reporter_t *r)
{
    pend_t *p = r->retry_head;

    if (p) {
        r->retry_head = p->next;
        if (!r->retry_head)
            r->retry_tail = NULL;
        r->n_retry--;
    }
    return p;
}

/* Hands p to librdkafka; on a local error (queue full) it is queued for
 * retry.  Takes ownership of p, which the caller already counted in
 * inflight. */
static void produce_one(chp_reporter_t *r, pend_t *p)
{
    rd_kafka_resp_err_t err;

    err = rd_kafka_producev(r->rk, RD_KAFKA_V_TOPIC(r->topic),
                            RD_KAFKA_V_KEY(p->key, p->key_len),
                            RD_KAFKA_V_VALUE(p->val, p->val_len),
                            RD_KAFKA_V_OPAQUE(p), RD_KAFKA_V_END);
    if (err) {
        atomic_fetch_add(&r->failed, 1);
        pthread_mutex_lock(&r->lock);
        r->last_failure_ms = chp_now_ms();
        retry_push(r, p);
        pthread_mutex_unlock(&r->lock);
        atomic_fetch_sub(&r->inflight, 1); /* after: never invisible */
        return;
    }
    atomic_fetch_add(&r->produced, 1);
}

static void dr_msg_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    chp_reporter_t *r = opaque;
    pend_t *p = m->_private;
    (void)rk;

    if (m->err) {
        atomic_fetch_add(&r->failed, 1);
        chp_log_warn("audit message for topic %.*s not delivered to %s: %s; "
                     "will retry",
                     (int)p->key_len, p->key, r->topic,
                     rd_kafka_err2str(m->err));
        pthread_mutex_lock(&r->lock);
        r->last_failure_ms = chp_now_ms();
        retry_push(r, p);
        pthread_mutex_unlock(&r->lock);
    } else {
        atomic_fetch_add(&r->delivered, 1);
        pend_free(p);
    }
    atomic_fetch_sub(&r->inflight, 1);
}

static size_t pending(chp_reporter_t *r)
{
    size_t n;

    pthread_mutex_lock(&r->lock);
    n = r->n_retry;
    pthread_mutex_unlock(&r->lock);
    return n + atomic_load(&r->inflight);
}

/* Re-produces the retry queue once the back-off has passed. */
static void retry_due(chp_reporter_t *r, bool force)
{
    pend_t *list = NULL, *p;
    size_t taken = 0;

    pthread_mutex_lock(&r->lock);
    if (r->retry_head &&
        (force || chp_now_ms() - r->last_failure_ms >= RETRY_BACKOFF_MS)) {
        list = r->retry_head;
        taken = r->n_retry;
        /* Counted in flight before they leave the queue (see top). */
        atomic_fetch_add(&r->inflight, taken);
        r->retry_head = r->retry_tail = NULL;
        r->n_retry = 0;
    }
    pthread_mutex_unlock(&r->lock);
    if (taken && r->retry_hook)
        r->retry_hook(r, taken, r->retry_hook_opaque);
    while ((p = list)) {
        list = p->next;
        produce_one(r, p);
    }
}

static void *reporter_thread(void *arg)
{
    chp_reporter_t *r = arg;

    while (!atomic_load(&r->stop)) {
        rd_kafka_poll(r->rk, 100);
        retry_due(r, false);
    }
    return NULL;
}

/* Counts one audit message given up; its own carried count and itself
 * travel on with the next message encoded. */
static void drop(chp_reporter_t *r, uint64_t carried, const char *topic,
                 const char *why)
{
    atomic_fetch_add(&r->dropped, 1);
    atomic_fetch_add(&r->unreported, carried + 1);
    chp_log_error("%s: dropped an audit message for topic %s (counted in "
                  "auditDroppedCount of the next one)",
                  why, topic);
}

/* Makes room under reporter.max.pending: the oldest queued retry goes
 * first, and the new message only if nothing else can.  Returns false
 * when the new message must be dropped. */
static bool make_room(chp_reporter_t *r)
{
    pend_t *old;

    if (pending(r) < r->max_pending)
        return true;
    pthread_mutex_lock(&r->lock);
    old = retry_pop(r);
    pthread_mutex_unlock(&r->lock);
    if (!old)
        return false;
    drop(r, old->carried, old->key, "reporter.max.pending reached");
    pend_free(old);
    return true;
}

/* A pending entry for m carrying the drops not yet reported; NULL (and
 * the carried count handed back) on failure. */
static pend_t *pend_new(chp_reporter_t *r, const chp_auditmsg_t *m,
                        chp_err_t *err)
{
    size_t klen = strlen(m->topic);
    pend_t *p = malloc(sizeof(*p) + klen + 1);
    chp_auditmsg_t copy;

    if (!p) {
        *err = CHP_ERR_NOMEM;
        return NULL;
    }
    memcpy(p->key, m->topic, klen + 1);
    p->key_len = klen;
    /* Shallow copy: only the count field differs, the sketch is shared. */
    copy = *m;
    p->carried = atomic_exchange(&r->unreported, 0);
    copy.audit_dropped_count += p->carried;
    if (chp_auditmsg_encode(&copy, &p->val, &p->val_len) != CHP_OK) {
        atomic_fetch_add(&r->unreported, p->carried);
        free(p);
        chp_log_error("cannot encode audit message for topic %s", m->topic);
        *err = CHP_ERR_INVALID_ARG;
        return NULL;
    }
    return p;
}

CHP_EXPORT chp_err_t chp_reporter_emit(const chp_auditmsg_t *msgs, size_t n,
                                       void *opaque)
{
    chp_reporter_t *r = opaque;
    chp_err_t err = CHP_OK;

    for (size_t i = 0; i < n; i++) {
        pend_t *p;

        if (!make_room(r)) {
            drop(r, 0, msgs[i].topic, "reporter.max.pending reached");
            err = CHP_ERR_FULL;
            continue;
        }
        if (!(p = pend_new(r, &msgs[i], &err))) {
            drop(r, 0, msgs[i].topic, chp_err_str(err));
            continue;
        }
        atomic_fetch_add(&r->inflight, 1);
        produce_one(r, p);
    }
    return err;
}

CHP_EXPORT chp_err_t chp_reporter_flush(chp_reporter_t *r, int timeout_ms)
{
    int64_t deadline = chp_now_ms() + timeout_ms;

    retry_due(r, true);
    while (pending(r) > 0) {
        if (chp_now_ms() >= deadline)
            return CHP_ERR_STATE;
        rd_kafka_flush(r->rk, 50);
        retry_due(r, false);
    }
    return CHP_OK;
}

CHP_EXPORT void chp_reporter_stats(chp_reporter_t *r, chp_reporter_stats_t *st)
{
    st->produced = atomic_load(&r->produced);
    st->delivered = atomic_load(&r->delivered);
    st->failed = atomic_load(&r->failed);
    st->dropped = atomic_load(&r->dropped);
    st->pending = pending(r);
}

void chp_reporter_set_retry_hook(chp_reporter_t *r,
                                 chp_reporter_retry_hook_t *hook, void *opaque)
{
    r->retry_hook_opaque = opaque;
    r->retry_hook = hook;
}

CHP_EXPORT chp_err_t chp_reporter_new(const chp_conf_t *conf,
                                      const char *bootstrap,
                                      chp_reporter_t **out, char *errstr,
                                      size_t errstr_size)
{
    static const char *const defaults[] = {"enable.idempotence",
                                           "true",
                                           "acks",
                                           "all",
                                           "linger.ms",
                                           "50",
                                           "client.id",
                                           "chaperone-reporter",
                                           NULL};
    chp_reporter_t *r;
    rd_kafka_conf_t *kc;

    *out = NULL;
    if (!(kc = chp_kafka_conf_new(conf, defaults, errstr, errstr_size)))
        return CHP_ERR_INVALID_ARG;
    if (bootstrap && *bootstrap &&
        chp_kafka_conf_set(kc, "bootstrap.servers", bootstrap, errstr,
                           errstr_size) != CHP_OK) {
        rd_kafka_conf_destroy(kc);
        return CHP_ERR_INVALID_ARG;
    }
    if (!(r = calloc(1, sizeof(*r)))) {
        rd_kafka_conf_destroy(kc);
        return CHP_ERR_NOMEM;
    }
    pthread_mutex_init(&r->lock, NULL);
    r->max_pending =
        (size_t)chp_conf_get_int(conf, CHP_KEY_REPORTER_MAX_PENDING);
    r->topic = strdup(chp_conf_get_str(conf, CHP_KEY_AUDIT_TOPIC));
    rd_kafka_conf_set_dr_msg_cb(kc, dr_msg_cb);
    rd_kafka_conf_set_opaque(kc, r);
    if (!r->topic ||
        !(r->rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, errstr_size))) {
        rd_kafka_conf_destroy(kc);
        free(r->topic);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return CHP_ERR_KAFKA;
    }
    if (pthread_create(&r->thread, NULL, reporter_thread, r) != 0) {
        snprintf(errstr, errstr_size, "cannot start reporter thread");
        rd_kafka_destroy(r->rk);
        free(r->topic);
        pthread_mutex_destroy(&r->lock);
        free(r);
        return CHP_ERR_STATE;
    }
    *out = r;
    return CHP_OK;
}

CHP_EXPORT void chp_reporter_destroy(chp_reporter_t *r, int timeout_ms)
{
    pend_t *p;
    size_t left;

    if (!r)
        return;
    chp_reporter_flush(r, timeout_ms);
    atomic_store(&r->stop, true);
    pthread_join(r->thread, NULL);
    if ((left = pending(r)) > 0)
        chp_log_error("reporter: %zu audit message(s) not delivered to %s at "
                      "shutdown",
                      left, r->topic);
    atomic_fetch_add(&r->dropped, left);
    /* Purge in-flight messages so their delivery reports free them. */
    rd_kafka_purge(r->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(r->rk, 0);
    rd_kafka_destroy(r->rk);
    while ((p = retry_pop(r)))
        pend_free(p);
    free(r->topic);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
