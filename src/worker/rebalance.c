/*
 * rebalance.c - the worker's partitions: what was consumed since the last
 * commit, rewinds, pause while the transactions cannot commit, and the
 * group's rebalances with either assignor family.
 *
 * Per partition the worker notes the first offset consumed since the last
 * commit and the offset after the last one.  An aborted transaction
 * rewinds exactly there, without asking the group coordinator (which may be
 * the very thing that is unavailable), and a partition that had no
 * committed offset restarts where auto.offset.reset put it, not at the
 * beginning.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker/worker.h"

/* Same topic: the same handle within the batch, else the same name. */
static inline bool same_part(const worker_t *w, const wpart_t *p,
                             const rd_kafka_message_t *m)
{
    return p->partition == m->partition &&
           ((p->gen == w->batch_gen && p->rkt == m->rkt) ||
            !strcmp(p->topic, rd_kafka_topic_name(m->rkt)));
}

void wreb_note(worker_t *w, const rd_kafka_message_t *m, bool counted)
{
    wpart_t *p = NULL;

    /* Messages come in runs per partition: one comparison per message. */
    if (w->last < w->nparts && same_part(w, &w->parts[w->last], m)) {
        p = &w->parts[w->last];
    } else {
        for (size_t i = 0; i < w->nparts && !p; i++)
            if (same_part(w, &w->parts[i], m))
                p = &w->parts[i], w->last = i;
    }
    if (!p) {
        if (w->nparts == w->capparts) {
            size_t ncap = w->capparts ? w->capparts * 2 : 64;
            wpart_t *np = realloc(w->parts, ncap * sizeof(*np));
            if (!np) {
                /* Cannot happen in practice; without the note the rewind
                 * would miss this partition, so stop counting it. */
                chp_log_error("worker: out of memory noting %s [%d]",
                              rd_kafka_topic_name(m->rkt), (int)m->partition);
                abort();
            }
            w->parts = np;
            w->capparts = ncap;
        }
        p = &w->parts[w->nparts];
        snprintf(p->topic, sizeof(p->topic), "%s", rd_kafka_topic_name(m->rkt));
        p->partition = m->partition;
        p->first = m->offset;
        p->next = -1;
        w->last = w->nparts++;
    }
    p->rkt = m->rkt;
    p->gen = w->batch_gen;
    if (counted)
        p->next = m->offset + 1;
}

rd_kafka_topic_partition_list_t *wreb_offsets(const worker_t *w)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    for (size_t i = 0; i < w->nparts; i++) {
        if (w->parts[i].next < 0)
            continue;
        if (!l)
            l = rd_kafka_topic_partition_list_new((int)w->nparts);
        rd_kafka_topic_partition_list_add(l, w->parts[i].topic,
                                          w->parts[i].partition)
            ->offset = w->parts[i].next;
    }
    return l;
}

void wreb_clear(worker_t *w)
{
    w->nparts = 0;
    w->last = 0;
}

chp_err_t wreb_rewind(worker_t *w,
                      const rd_kafka_topic_partition_list_t *committed)
{
    rd_kafka_topic_partition_list_t *l;
    rd_kafka_error_t *error;
    chp_err_t rc = CHP_OK;

    if (w->nparts == 0)
        return CHP_OK;
    l = rd_kafka_topic_partition_list_new((int)w->nparts);
    for (size_t i = 0; i < w->nparts; i++) {
        const wpart_t *p = &w->parts[i];
        rd_kafka_topic_partition_t *c =
            committed ? rd_kafka_topic_partition_list_find(
                            (rd_kafka_topic_partition_list_t *)committed,
                            p->topic, p->partition)
                      : NULL;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            c && c->offset >= 0 && !c->err ? c->offset : p->first;
    }
    if ((error = rd_kafka_seek_partitions(w->consumer, l, 10000))) {
        chp_log_error("worker: cannot rewind: %s",
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
        rc = CHP_ERR_KAFKA;
    } else {
        for (int i = 0; i < l->cnt; i++)
            if (l->elems[i].err) {
                chp_log_error("worker: cannot rewind %s [%d]: %s",
                              l->elems[i].topic, (int)l->elems[i].partition,
                              rd_kafka_err2str(l->elems[i].err));
                rc = CHP_ERR_KAFKA;
            }
    }
    rd_kafka_topic_partition_list_destroy(l);
    if (rc == CHP_OK)
        wreb_clear(w);
    return rc;
}

void wreb_discard_counts(worker_t *w)
{
    w->discarding = true;
    chp_tracker_flush(w->tracker);
    w->discarding = false;
    w->uncommitted = 0;
}

static void pause_list(worker_t *w, rd_kafka_topic_partition_list_t *l,
                       bool pause)
{
    rd_kafka_resp_err_t e = pause ? rd_kafka_pause_partitions(w->consumer, l)
                                  : rd_kafka_resume_partitions(w->consumer, l);
    if (e)
        chp_log_warn("worker: cannot %s partitions: %s",
                     pause ? "pause" : "resume", rd_kafka_err2str(e));
}

void wreb_pause(worker_t *w, bool pause)
{
    rd_kafka_topic_partition_list_t *l = NULL;

    if (w->paused == pause)
        return;
    w->paused = pause;
    if (rd_kafka_assignment(w->consumer, &l) || !l)
        return;
    if (l->cnt > 0) {
        chp_log_info("worker: %s %d partition(s)",
                     pause ? "pausing consumption of" : "resuming", l->cnt);
        pause_list(w, l, pause);
    }
    rd_kafka_topic_partition_list_destroy(l);
}

/* Forgets what was noted on the revoked partitions, rewinds the others:
 * the counts of the revoked ones are gone with the discarded tracker. */
static void forget(worker_t *w, const rd_kafka_topic_partition_list_t *gone)
{
    size_t out = 0;

    for (size_t i = 0; i < w->nparts; i++)
        if (!rd_kafka_topic_partition_list_find(
                (rd_kafka_topic_partition_list_t *)gone, w->parts[i].topic,
                w->parts[i].partition))
            w->parts[out++] = w->parts[i];
    w->nparts = out;
    w->last = 0;
    if (w->txn_ready && wreb_rewind(w, NULL) != CHP_OK)
        w->txn_ready = false, w->uncertain = true; /* retried by recovery */
}

static void assign(worker_t *w, rd_kafka_t *rk, bool coop,
                   rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t e = 0;

    chp_log_info("worker: assigned %d partition(s)", parts->cnt);
    /* Offsets come from the group's committed (transactional) ones, or
     * auto.offset.reset where there are none. */
    if (coop)
        error = rd_kafka_incremental_assign(rk, parts);
    else
        e = rd_kafka_assign(rk, parts);
    if (error) {
        chp_log_error("worker: incremental_assign: %s",
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (e) {
        chp_log_error("worker: assign: %s", rd_kafka_err2str(e));
    } else {
        /* librdkafka keeps an application pause on a partition across
         * unassign and assign: set the state we want either way. */
        pause_list(w, parts, w->paused);
    }
}

static void unassign(worker_t *w, rd_kafka_t *rk, bool coop,
                     rd_kafka_topic_partition_list_t *parts)
{
    rd_kafka_error_t *error = NULL;

    /* A partition given up paused would come back paused (see assign). */
    if (w->paused)
        pause_list(w, parts, false);

    if (coop)
        error = rd_kafka_incremental_unassign(rk, parts);
    else
        rd_kafka_assign(rk, NULL);
    if (error) {
        chp_log_error("worker: incremental_unassign: %s",
                      rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    }
}

static void rebalance(worker_t *w, rd_kafka_t *rk, rd_kafka_resp_err_t err,
                      rd_kafka_topic_partition_list_t *parts)
{
    bool coop = !strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE");

    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        assign(w, rk, coop, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
        if (rd_kafka_assignment_lost(rk)) {
            /* Someone else may own them already: committing now could
             * write offsets over the new owner's.  Abort: the counts are
             * dropped and the new owner recounts from the committed
             * offsets (librdkafka's transactions example does the same). */
            chp_log_warn("worker: %d partition(s) lost: dropping what was "
                         "counted since the last commit",
                         parts->cnt);
            metric_inc(w->m_aborts, 1);
            wreb_discard_counts(w);
            forget(w, parts);
        } else if (w->txn_ready) {
            chp_log_info("worker: %d partition(s) revoked: emitting first",
                         parts->cnt);
            /* Counts leave with their offsets before anyone else can take
             * the partitions; if that fails, the new owner recounts the
             * aborted counts from the committed offsets. */
            if (wtxn_emit_commit(w) != CHP_OK)
                chp_log_warn("worker: emission on revocation failed; the new "
                             "owner recounts from the committed offsets");
            forget(w, parts);
        } else {
            chp_log_warn("worker: %d partition(s) revoked while transactions "
                         "cannot commit: their new owner recounts them",
                         parts->cnt);
            forget(w, parts);
        }
        unassign(w, rk, coop, parts);
        break;
    default:
        chp_log_error("worker: rebalance error: %s", rd_kafka_err2str(err));
        wreb_discard_counts(w);
        forget(w, parts);
        unassign(w, rk, coop, parts);
        break;
    }
}

/* librdkafka waits for the unassign call, inside the callback or later: a
 * revocation that arrives in the middle of a batch is handled after the
 * batch, as if the messages before and after it in the batch had all come
 * before it (the partitions are still assigned until then, so they can be
 * committed).  Handled at once, it would emit without the messages already
 * taken into the batch, and those would then be counted for partitions
 * given up. */
void wreb_rebalance_cb(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                       rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    worker_t *w = opaque;
    rd_kafka_topic_partition_list_t *copy;

    /* An assignment touches no counts: at once, unless it must queue
     * behind a revocation that waits. */
    if (!w->in_batch ||
        (err == RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS && !w->npending)) {
        rebalance(w, rk, err, parts);
        return;
    }
    if (w->npending == w->cappending) {
        size_t ncap = w->cappending ? w->cappending * 2 : 4;
        wreb_event_t *np = realloc(w->pending, ncap * sizeof(*np));
        if (!np) {
            chp_log_error("worker: out of memory deferring a rebalance");
            abort();
        }
        w->pending = np;
        w->cappending = ncap;
    }
    if (!(copy = rd_kafka_topic_partition_list_copy(parts))) {
        chp_log_error("worker: out of memory deferring a rebalance");
        abort();
    }
    w->pending[w->npending].err = err;
    w->pending[w->npending++].parts = copy;
}

void wreb_run_pending(worker_t *w)
{
    if (w->npending)
        chp_log_info("worker: %zu rebalance event(s) during a batch: handled "
                     "after its messages were counted",
                     w->npending);
    for (size_t i = 0; i < w->npending; i++) {
        rebalance(w, w->consumer, w->pending[i].err, w->pending[i].parts);
        rd_kafka_topic_partition_list_destroy(w->pending[i].parts);
    }
    w->npending = 0;
}
