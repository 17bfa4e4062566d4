/*
 * txn.c - the worker's emission transaction, and what it does with each
 * class of transactional error librdkafka 2.0.2 reports:
 *
 *   retriable        call the same function again (a commit_transaction
 *                    that timed out is still in progress until repeated:
 *                    aborting it instead wedges the producer), for up to
 *                    the transaction timeout;
 *   abortable        abort_transaction, then rewind every partition to the
 *                    first offset counted since the last commit;
 *   fatal (or none   destroy the producer and make a new one: its
 *   of the above,    init_transactions fences the old one and settles the
 *   or retries       open transaction (a commit that reached the
 *   exhausted)       coordinator completes, anything else aborts); the
 *                    committed offsets then say which, and the partitions
 *                    are rewound to them.
 *
 * While the producer cannot commit, the assignment is paused: nothing is
 * counted that could not be committed, and the group membership is kept
 * (the loop keeps polling).  Every commit marks the worker healthy, every
 * failure unhealthy with its cause; chaperone_worker_txn_errors_total
 * counts the errors per class.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafkaconf.h"
#include "kafkawatch.h"
#include "log.h"
#include "worker/worker.h"

/* One attempt of a transactional call; the loop repeats it.  Short, so the
 * loop notices a shutdown, and well inside the transaction timeout so a
 * retriable error gets several attempts. */
static int call_timeout(const worker_t *w)
{
    int t = w->txn_timeout_ms / 4;

    return t < 5000 ? (t > 100 ? t : 100) : 5000;
}
#define BACKOFF_MAX_MS 10000

static const char *const class_names[TXN_NCLASSES] = {"retriable", "abortable",
                                                      "fatal"};

chp_err_t wtxn_emit_cb(const chp_auditmsg_t *msgs, size_t n, void *opaque)
{
    worker_t *w = opaque;

    if (w->discarding)
        return CHP_OK;
    for (size_t i = 0; i < n; i++) {
        char *json;
        size_t len;
        rd_kafka_resp_err_t err;

        if (chp_auditmsg_encode(&msgs[i], &json, &len) != CHP_OK) {
            chp_log_error("worker: cannot encode the audit message of %s",
                          msgs[i].topic);
            w->emit_failed = true;
            continue;
        }
        do {
            err = rd_kafka_producev(
                w->producer, RD_KAFKA_V_TOPIC(w->audit_topic),
                RD_KAFKA_V_KEY(msgs[i].topic, strlen(msgs[i].topic)),
                RD_KAFKA_V_VALUE(json, len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_FREE), RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(w->producer, 50);
        } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
        if (err) {
            free(json);
            chp_log_error("worker: cannot produce an audit message: %s",
                          rd_kafka_err2str(err));
            if (!w->emit_failed)
                w->emit_err = err;
            w->emit_failed = true;
            continue;
        }
        if (w->hooks && w->hooks->emitted)
            w->hooks->emitted(w->hooks->opaque, &msgs[i]);
        metric_inc(w->m_audit_msgs, 1);
    }
    return w->emit_failed ? CHP_ERR_KAFKA : CHP_OK;
}

static void ended(worker_t *w, bool committed)
{
    if (w->hooks && w->hooks->ended)
        w->hooks->ended(w->hooks->opaque, committed);
}

static txn_class_t classify(worker_t *w, rd_kafka_error_t *error,
                            const char *what)
{
    txn_class_t c;

    if (rd_kafka_error_is_fatal(error))
        c = TXN_FATAL;
    else if (rd_kafka_error_txn_requires_abort(error))
        c = TXN_ABORTABLE;
    else if (rd_kafka_error_is_retriable(error))
        c = TXN_RETRIABLE;
    else
        c = TXN_FATAL; /* e.g. __STATE: only a new producer is sure */
    metric_inc(w->m_txn_err[c], 1);
    chp_log_warn("worker: %s: %s (%s)", what, rd_kafka_error_string(error),
                 class_names[c]);
    health_fail(w->health, "%s: %s", what, rd_kafka_error_string(error));
    return c;
}

typedef enum { OP_SEND_OFFSETS, OP_COMMIT, OP_ABORT } txn_op_t;

static const char *const op_names[] = {
    "send_offsets_to_transaction", "commit_transaction", "abort_transaction"};

static rd_kafka_error_t *call(worker_t *w, txn_op_t op,
                              rd_kafka_topic_partition_list_t *offsets,
                              int timeout_ms)
{
    rd_kafka_consumer_group_metadata_t *cgmd;
    rd_kafka_error_t *error = NULL;

    switch (op) {
    case OP_SEND_OFFSETS:
        cgmd = rd_kafka_consumer_group_metadata(w->consumer);
        error = rd_kafka_send_offsets_to_transaction(w->producer, offsets, cgmd,
                                                     timeout_ms);
        rd_kafka_consumer_group_metadata_destroy(cgmd);
        return error;
    case OP_COMMIT:
        return rd_kafka_commit_transaction(w->producer, timeout_ms);
    case OP_ABORT:
        return rd_kafka_abort_transaction(w->producer, timeout_ms);
    }
    return NULL;
}

/*
 * Calls op until it succeeds or fails for good: retriable errors repeat
 * the same call (that is how librdkafka resumes it) for up to the
 * transaction timeout, or less once a shutdown has begun.  Returns -1 on
 * success, else the class that ended it (retries exhausted: TXN_FATAL).
 */
static int txn_do(worker_t *w, txn_op_t op,
                  rd_kafka_topic_partition_list_t *offsets)
{
    int64_t deadline = chp_now_ms() + w->txn_timeout_ms;

    for (;;) {
        int left = (int)(deadline - chp_now_ms());
        int t =
            daemon_timeout_ms(left < call_timeout(w) ? left : call_timeout(w));
        rd_kafka_error_t *error;
        txn_class_t c;

        if (t <= 0) {
            chp_log_error("worker: %s: no outcome within %d ms; recreating the "
                          "producer settles it",
                          op_names[op], w->txn_timeout_ms);
            return TXN_FATAL;
        }
        if (!(error = call(w, op, offsets, t)))
            return -1;
        c = classify(w, error, op_names[op]);
        rd_kafka_error_destroy(error);
        if (c != TXN_RETRIABLE)
            return c;
        rd_kafka_poll(w->producer, 100);
    }
}

/* The producer cannot go on: pause, drop the counts not yet emitted, and
 * let wtxn_recover settle the open transaction. */
static void broken(worker_t *w, bool need_new)
{
    w->txn_ready = false;
    w->uncertain = true;
    w->need_new = w->need_new || need_new;
    w->next_recover = 0;
    wreb_pause(w, true);
    wreb_discard_counts(w);
}

static void aborted(worker_t *w)
{
    metric_inc(w->m_aborts, 1);
    if (txn_do(w, OP_ABORT, NULL) != -1) {
        broken(w, true);
        return;
    }
    ended(w, false);
    w->uncommitted = 0;
    if (wreb_rewind(w, NULL) != CHP_OK)
        broken(w, false);
}

chp_err_t wtxn_emit_commit(worker_t *w)
{
    rd_kafka_topic_partition_list_t *offsets = NULL;
    rd_kafka_error_t *error;
    int64_t t0 = chp_now_ms();
    int c;

    if (!w->txn_ready)
        return CHP_ERR_STATE;
    if (w->uncommitted == 0) {
        chp_tracker_flush(w->tracker); /* restarts the interval; emits none */
        return CHP_OK;
    }
    if ((error = rd_kafka_begin_transaction(w->producer))) {
        /* Nothing was sent: only a stale state explains this. */
        classify(w, error, "begin_transaction");
        rd_kafka_error_destroy(error);
        broken(w, true);
        return CHP_ERR_KAFKA;
    }
    w->emit_failed = false;
    w->emit_err = RD_KAFKA_RESP_ERR_NO_ERROR;
    chp_tracker_flush(w->tracker);
    if (w->emit_failed) {
        /* A transaction that failed in the background (AddPartitionsToTxn
         * refused, say) refuses produce() with __STATE before
         * commit_transaction could say "abortable": the same error, counted
         * in the same class.  __FATAL: the producer is done for. */
        if (w->emit_err == RD_KAFKA_RESP_ERR__STATE ||
            w->emit_err == RD_KAFKA_RESP_ERR__FATAL)
            metric_inc(w->m_txn_err[w->emit_err == RD_KAFKA_RESP_ERR__FATAL
                                        ? TXN_FATAL
                                        : TXN_ABORTABLE],
                       1);
        health_fail(w->health, "cannot produce the audit messages");
        aborted(w);
        return CHP_ERR_KAFKA;
    }
    offsets = wreb_offsets(w);
    c = offsets ? txn_do(w, OP_SEND_OFFSETS, offsets) : -1;
    if (c == -1)
        c = txn_do(w, OP_COMMIT, NULL);
    if (offsets)
        rd_kafka_topic_partition_list_destroy(offsets);
    if (c == TXN_ABORTABLE) {
        aborted(w);
        return CHP_ERR_KAFKA;
    }
    if (c != -1) {
        broken(w, true);
        return CHP_ERR_KAFKA;
    }
    ended(w, true);
    wreb_clear(w);
    health_ok(w->health);
    metric_inc(w->m_emissions, 1);
    metric_set(w->m_emit_ms, (double)(chp_now_ms() - t0));
    chp_log_debug("worker: committed %llu message(s) in %lld ms",
                  (unsigned long long)w->uncommitted,
                  (long long)(chp_now_ms() - t0));
    w->uncommitted = 0;
    return CHP_OK;
}

/* ------------------------------------------------------------ recovery */

chp_err_t wtxn_producer_new(worker_t *w, char *errstr, size_t n)
{
    const char *const defaults[] = {"transactional.id",
                                    w->txid,
                                    "transaction.timeout.ms",
                                    "60000",
                                    "linger.ms",
                                    "5",
                                    NULL};
    rd_kafka_conf_t *kc;
    char buf[32];
    size_t sz = sizeof(buf);

    /* The consumer-only defaults must not reach the producer. */
    if (!(kc = chp_kafka_conf_new(w->conf, defaults, errstr, n)))
        return CHP_ERR_KAFKA;
    kafkawatch_attach(kc, "worker", w->health);
    w->txn_timeout_ms = 60000;
    if (rd_kafka_conf_get(kc, "transaction.timeout.ms", buf, &sz) ==
        RD_KAFKA_CONF_OK)
        w->txn_timeout_ms = atoi(buf);
    if (!(w->producer = rd_kafka_new(RD_KAFKA_PRODUCER, kc, errstr, n))) {
        rd_kafka_conf_destroy(kc);
        return CHP_ERR_KAFKA;
    }
    return CHP_OK;
}

void wtxn_producer_destroy(worker_t *w)
{
    if (!w->producer)
        return;
    /* Undelivered audit messages belong to a transaction that will not
     * commit: drop them so destroy does not wait for an absent broker. */
    rd_kafka_purge(w->producer, RD_KAFKA_PURGE_F_QUEUE |
                                    RD_KAFKA_PURGE_F_INFLIGHT |
                                    RD_KAFKA_PURGE_F_NON_BLOCKING);
    rd_kafka_destroy(w->producer);
    w->producer = NULL;
}

static void retry_later(worker_t *w)
{
    w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : 500;
    if (w->backoff_ms > BACKOFF_MAX_MS)
        w->backoff_ms = BACKOFF_MAX_MS;
    w->next_recover = chp_now_ms() + w->backoff_ms;
}

/* After a transaction of unknown outcome: the committed offsets are the
 * truth (a commit that reached the coordinator completed).  CHP_OK when
 * settled and rewound. */
static chp_err_t settle(worker_t *w)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_resp_err_t e;
    bool committed = w->nparts > 0;
    chp_err_t rc;

    if (w->nparts == 0) {
        ended(w, false);
        return CHP_OK;
    }
    l = rd_kafka_topic_partition_list_new((int)w->nparts);
    for (size_t i = 0; i < w->nparts; i++)
        rd_kafka_topic_partition_list_add(l, w->parts[i].topic,
                                          w->parts[i].partition);
    if ((e = rd_kafka_committed(w->consumer, l,
                                daemon_timeout_ms(call_timeout(w))))) {
        chp_log_warn("worker: cannot read the committed offsets: %s",
                     rd_kafka_err2str(e));
        health_fail(w->health, "cannot read the committed offsets: %s",
                    rd_kafka_err2str(e));
        rd_kafka_topic_partition_list_destroy(l);
        return CHP_ERR_KAFKA;
    }
    for (size_t i = 0; i < w->nparts; i++)
        if (w->parts[i].next >= 0 &&
            (l->elems[i].err || l->elems[i].offset != w->parts[i].next))
            committed = false;
    ended(w, committed);
    rc = wreb_rewind(w, l);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
}

void wtxn_recover(worker_t *w)
{
    char err[512];
    int c;

    if (w->txn_ready || chp_now_ms() < w->next_recover)
        return;
    if (w->need_new) {
        chp_log_info("worker: recreating the transactional producer %s",
                     w->txid);
        wtxn_producer_destroy(w);
        metric_inc(w->m_recreated, 1);
        if (wtxn_producer_new(w, err, sizeof(err)) != CHP_OK) {
            /* The configuration did work once: memory, most likely. */
            chp_log_error("worker: %s", err);
            retry_later(w);
            return;
        }
        w->need_new = false;
        w->inited = false;
    }
    /* One bounded attempt: a timed-out init_transactions resumes when
     * called again, and the loop keeps the group membership meanwhile. */
    if (!w->inited) {
        rd_kafka_error_t *error =
            rd_kafka_init_transactions(w->producer, daemon_timeout_ms(1000));
        if (error) {
            c = classify(w, error, "init_transactions");
            rd_kafka_error_destroy(error);
            if (c != TXN_RETRIABLE)
                w->need_new = true;
            retry_later(w);
            return;
        }
        w->inited = true;
    }
    if (w->uncertain && settle(w) != CHP_OK) {
        retry_later(w);
        return;
    }
    w->uncertain = false;
    w->txn_ready = true;
    w->backoff_ms = 0;
    wreb_pause(w, false);
    chp_log_info("worker: transactions ready as %s", w->txid);
}
