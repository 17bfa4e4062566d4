/* Integration: the broker from scripts/kafka.sh does what the worker's and
 * collector's exactly-once design (design.md §6, §8) relies on, tested with
 * librdkafka alone: idempotent produce, transactions seen through
 * read_committed, and consumer offsets committed inside a transaction.
 * Needs CHP_TEST_BROKERS; skipped (77) without it. */
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "testutil.h"

#define NPART    3
#define PHASE_MS TU_TIMEOUT_MS
/* Whole-program limit: a broker that stops answering fails the test. */
#define WATCHDOG_S 600

static const char *brokers;

/* ---------------------------------------------------------------- helpers */

/* Delivery report tally; with a message index as msg_opaque, also where each
 * message landed, so the consumer can check partition and offset exactly. */
struct dr_state {
    int ok;
    int failed;
    int32_t *partition; /* by message index, or NULL */
    int64_t *offset;
};

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dr_state *st = opaque;
    intptr_t i = (intptr_t)m->_private;
    (void)rk;

    if (m->err) {
        st->failed++;
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        return;
    }
    st->ok++;
    if (st->partition && i >= 0) {
        st->partition[i] = m->partition;
        st->offset[i] = m->offset;
    }
}

static rd_kafka_t *new_producer(struct dr_state *st, const char *const kv[])
{
    char errstr[512];
    rd_kafka_conf_t *conf = tu_conf(brokers, kv, errstr, sizeof(errstr));

    if (!conf)
        fail_msg("producer config: %s", errstr);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    rd_kafka_conf_set_opaque(conf, st);
    return tu_handle(RD_KAFKA_PRODUCER, conf);
}

static void create_topic(char *name, size_t n, const char *prefix)
{
    char errstr[512];

    tu_unique_name(name, n, prefix);
    if (tu_create_topic(brokers, name, NPART, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
}

static void delete_topic(const char *name)
{
    char errstr[512];

    if (tu_delete_topic(brokers, name, errstr, sizeof(errstr)))
        fprintf(stderr, "warning: %s\n", errstr);
}

/* Produces one message (partition -1: by key), waiting out a full queue
 * until the deadline. */
static void produce(rd_kafka_t *rk, const char *topic, int32_t partition,
                    const char *key, const char *value, intptr_t index,
                    int64_t deadline)
{
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic),
            RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA
                                               : partition),
            RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)value, strlen(value)),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_OPAQUE((void *)index), RD_KAFKA_V_END);
        if (!err)
            return;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || tu_left_ms(deadline) == 0)
            fail_msg("produce to %s: %s", topic, rd_kafka_err2str(err));
        rd_kafka_poll(rk, 50);
    }
}

static void txn_check(rd_kafka_error_t *error, const char *what)
{
    char errstr[512];

    if (tu_take_error(error, what, errstr, sizeof(errstr)))
        fail_msg("%s", errstr);
}

/* Parses "<tag>-<n>" (not NUL-terminated) into tag and n; 0 on success. */
static int parse_value(const rd_kafka_message_t *m, char *tag, size_t tagn,
                       long *n)
{
    char buf[64], *dash, *end;

    if (!m->payload || m->len == 0 || m->len >= sizeof(buf))
        return -1;
    memcpy(buf, m->payload, m->len);
    buf[m->len] = '\0';
    dash = strrchr(buf, '-');
    if (!dash || (size_t)(dash - buf) >= tagn)
        return -1;
    memcpy(tag, buf, (size_t)(dash - buf));
    tag[dash - buf] = '\0';
    *n = strtol(dash + 1, &end, 10);
    return *end || end == dash + 1 ? -1 : 0;
}

/* What a consumer saw: per tag, how often each index arrived. */
#define MAX_TAGS 4
struct seen {
    const char *tags[MAX_TAGS];
    long sizes[MAX_TAGS];
    unsigned char *count[MAX_TAGS];
    long total;
    long unknown;
};

static void seen_init(struct seen *s, const char *const tags[],
                      const long sizes[], int ntags)
{
    int t;

    memset(s, 0, sizeof(*s));
    for (t = 0; t < ntags; t++) {
        s->tags[t] = tags[t];
        s->sizes[t] = sizes[t];
        s->count[t] = calloc((size_t)sizes[t], 1);
        assert_non_null(s->count[t]);
    }
}

/* Counts one message; returns its tag slot and index, or -1 if unknown. */
static int seen_add(struct seen *s, const rd_kafka_message_t *m, long *index)
{
    char tag[32];
    int t;

    s->total++;
    if (parse_value(m, tag, sizeof(tag), index) == 0) {
        for (t = 0; t < MAX_TAGS && s->tags[t]; t++) {
            if (strcmp(tag, s->tags[t]) == 0 && *index >= 0 &&
                *index < s->sizes[t]) {
                if (s->count[t][*index] < 255)
                    s->count[t][*index]++;
                return t;
            }
        }
    }
    s->unknown++;
    fprintf(stderr, "unexpected message: %.*s\n", (int)m->len,
            (const char *)m->payload);
    return -1;
}

/* Asserts every index of tag t arrived exactly want (0 or 1) times. */
static void seen_expect(const struct seen *s, int t, int want)
{
    long i, bad = 0, first = -1;

    for (i = 0; i < s->sizes[t]; i++) {
        if (s->count[t][i] != want) {
            if (first < 0)
                first = i;
            bad++;
        }
    }
    if (bad)
        fail_msg("tag %s: %ld of %ld indexes not seen exactly %d time(s), "
                 "first %s-%ld (seen %d)",
                 s->tags[t], bad, s->sizes[t], want, s->tags[t], first,
                 s->count[t][first]);
}

static void seen_free(struct seen *s)
{
    int t;

    for (t = 0; t < MAX_TAGS; t++)
        free(s->count[t]);
}

/* Called for every message a consumer loop returns. */
typedef void (*on_msg_fn)(const rd_kafka_message_t *m, void *arg);

/* Polls rk until every one of the NPART partitions of its subscription or
 * assignment has reported end-of-partition with no message after it.  All
 * data was written before, so that is the whole topic.  Fails at deadline. */
static void consume_to_end(rd_kafka_t *rk, int64_t deadline, on_msg_fn fn,
                           void *arg)
{
    int at_eof[NPART] = {0};
    int p, done = 0;

    while (!done) {
        rd_kafka_message_t *m;

        if (tu_left_ms(deadline) == 0)
            fail_msg("consumer did not reach the end of all %d partitions "
                     "in time (eof: %d %d %d)",
                     NPART, at_eof[0], at_eof[1], at_eof[2]);
        m = rd_kafka_consumer_poll(rk, 200);
        if (!m)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            if (m->partition >= 0 && m->partition < NPART)
                at_eof[m->partition] = 1;
        } else if (m->err) {
            char msg[256];
            snprintf(msg, sizeof(msg), "%s", rd_kafka_message_errstr(m));
            rd_kafka_message_destroy(m);
            fail_msg("consume: %s", msg);
        } else {
            assert_in_range(m->partition, 0, NPART - 1);
            at_eof[m->partition] = 0;
            fn(m, arg);
        }
        rd_kafka_message_destroy(m);
        for (done = 1, p = 0; p < NPART; p++)
            done &= at_eof[p];
    }
}

/* A consumer assigned to every partition of topic from the start. */
static rd_kafka_t *reader(const char *topic, const char *isolation)
{
    char group[128];
    const char *kv[] = {"enable.partition.eof",
                        "true",
                        "enable.auto.commit",
                        "false",
                        "isolation.level",
                        isolation,
                        NULL};
    rd_kafka_topic_partition_list_t *parts;
    rd_kafka_resp_err_t err;
    rd_kafka_t *rk;
    int p;

    tu_unique_name(group, sizeof(group), "chp-it-reader");
    rk = tu_consumer(brokers, group, kv);
    assert_non_null(rk);
    parts = rd_kafka_topic_partition_list_new(NPART);
    for (p = 0; p < NPART; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset =
            RD_KAFKA_OFFSET_BEGINNING;
    err = rd_kafka_assign(rk, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (err)
        fail_msg("assign %s: %s", topic, rd_kafka_err2str(err));
    return rk;
}

static void close_consumer(rd_kafka_t *rk)
{
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
}

static void count_msg(const rd_kafka_message_t *m, void *arg)
{
    long index;

    seen_add(arg, m, &index);
}

/* Reads all of topic with the given isolation level into s. */
static void read_all(const char *topic, const char *isolation, struct seen *s)
{
    rd_kafka_t *rk = reader(topic, isolation);

    consume_to_end(rk, tu_now_ms() + PHASE_MS, count_msg, s);
    close_consumer(rk);
}

/* -------------------------------------------- (a) idempotent round trip */

#define A_COUNT 10000

struct order_check {
    struct seen seen;
    const int32_t *partition; /* where the delivery report put each index */
    const int64_t *offset;
    long last[NPART]; /* last index read per partition */
};

static void check_order(const rd_kafka_message_t *m, void *arg)
{
    struct order_check *oc = arg;
    char key[32];
    long i;

    assert_int_equal(seen_add(&oc->seen, m, &i), 0);
    /* Same partition and offset as acknowledged, key intact, and the
     * producer's order kept within the partition. */
    assert_int_equal(m->partition, oc->partition[i]);
    assert_int_equal(m->offset, oc->offset[i]);
    snprintf(key, sizeof(key), "k-%05ld", i);
    assert_int_equal(m->key_len, strlen(key));
    assert_memory_equal(m->key, key, m->key_len);
    if (i <= oc->last[m->partition])
        fail_msg("partition %d: index %ld after %ld", (int)m->partition, i,
                 oc->last[m->partition]);
    oc->last[m->partition] = i;
}

static void test_idempotent_roundtrip(void **state)
{
    static const char *const kv[] = {
        "enable.idempotence", "true", "acks", "all", "linger.ms", "5", NULL};
    static const char *const tags[] = {"a"};
    static const long sizes[] = {A_COUNT};
    char topic[128], group[128], key[32], value[32];
    struct dr_state dr = {0};
    struct order_check oc;
    int64_t deadline = tu_now_ms() + PHASE_MS;
    rd_kafka_topic_partition_list_t *sub;
    rd_kafka_t *rk;
    long i;
    int p;
    (void)state;

    create_topic(topic, sizeof(topic), "chp-it-idem");
    dr.partition = calloc(A_COUNT, sizeof(*dr.partition));
    dr.offset = calloc(A_COUNT, sizeof(*dr.offset));
    assert_non_null(dr.partition);
    assert_non_null(dr.offset);

    rk = new_producer(&dr, kv);
    assert_non_null(rk);
    for (i = 0; i < A_COUNT; i++) {
        snprintf(key, sizeof(key), "k-%05ld", i);
        snprintf(value, sizeof(value), "a-%ld", i);
        produce(rk, topic, -1, key, value, (intptr_t)i, deadline);
        rd_kafka_poll(rk, 0);
    }
    assert_int_equal(rd_kafka_flush(rk, tu_left_ms(deadline)), 0);
    assert_int_equal(rd_kafka_outq_len(rk), 0);
    rd_kafka_destroy(rk);
    assert_int_equal(dr.failed, 0);
    assert_int_equal(dr.ok, A_COUNT);

    /* Read back through a consumer group, as the worker does. */
    static const char *const ckv[] = {"enable.partition.eof", "true",
                                      "enable.auto.commit", "false", NULL};
    tu_unique_name(group, sizeof(group), "chp-it-idem");
    rk = tu_consumer(brokers, group, ckv);
    assert_non_null(rk);
    sub = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(rk, sub), 0);
    rd_kafka_topic_partition_list_destroy(sub);

    seen_init(&oc.seen, tags, sizes, 1);
    oc.partition = dr.partition;
    oc.offset = dr.offset;
    for (p = 0; p < NPART; p++)
        oc.last[p] = -1;
    consume_to_end(rk, tu_now_ms() + PHASE_MS, check_order, &oc);
    close_consumer(rk);

    assert_int_equal(oc.seen.total, A_COUNT);
    assert_int_equal(oc.seen.unknown, 0);
    seen_expect(&oc.seen, 0, 1);
    /* The key partitioner spread the keys over every partition. */
    for (p = 0; p < NPART; p++)
        assert_true(oc.last[p] >= 0);

    seen_free(&oc.seen);
    free(dr.partition);
    free(dr.offset);
    delete_topic(topic);
}

/* ---------------------------------------------- (b) commit and abort */

#define B_COMMIT1 1000
#define B_ABORT   500
#define B_COMMIT2 700

/* One transaction of n messages tagged tag; committed or aborted.  The
 * aborted batch is flushed first so its records really are in the log. */
static void transaction(rd_kafka_t *rk, struct dr_state *dr, const char *topic,
                        const char *tag, long n, int commit)
{
    int64_t deadline = tu_now_ms() + PHASE_MS;
    char key[32], value[32];
    int before = dr->ok;
    long i;

    txn_check(rd_kafka_begin_transaction(rk), "begin_transaction");
    for (i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "%s-%ld", tag, i);
        snprintf(value, sizeof(value), "%s-%ld", tag, i);
        produce(rk, topic, -1, key, value, -1, deadline);
        rd_kafka_poll(rk, 0);
    }
    if (commit) {
        txn_check(rd_kafka_commit_transaction(rk, tu_left_ms(deadline)),
                  "commit_transaction");
    } else {
        assert_int_equal(rd_kafka_flush(rk, tu_left_ms(deadline)), 0);
        txn_check(rd_kafka_abort_transaction(rk, tu_left_ms(deadline)),
                  "abort_transaction");
    }
    assert_int_equal(dr->failed, 0);
    assert_int_equal(dr->ok - before, n);
}

static void test_transactions(void **state)
{
    static const char *const tags[] = {"c1", "ab", "c2"};
    static const long sizes[] = {B_COMMIT1, B_ABORT, B_COMMIT2};
    char topic[128], txid[128];
    struct dr_state dr = {0};
    struct seen s;
    rd_kafka_t *rk;
    (void)state;

    create_topic(topic, sizeof(topic), "chp-it-txn");
    tu_unique_name(txid, sizeof(txid), "chp-it-txn");
    const char *const kv[] = {"transactional.id", txid, "acks", "all",
                              "linger.ms",        "5",  NULL};
    rk = new_producer(&dr, kv);
    assert_non_null(rk);
    txn_check(rd_kafka_init_transactions(rk, PHASE_MS), "init_transactions");
    transaction(rk, &dr, topic, "c1", B_COMMIT1, 1);
    transaction(rk, &dr, topic, "ab", B_ABORT, 0);
    transaction(rk, &dr, topic, "c2", B_COMMIT2, 1);
    rd_kafka_destroy(rk);

    seen_init(&s, tags, sizes, 3);
    read_all(topic, "read_committed", &s);
    assert_int_equal(s.unknown, 0);
    assert_int_equal(s.total, B_COMMIT1 + B_COMMIT2);
    seen_expect(&s, 0, 1);
    seen_expect(&s, 1, 0);
    seen_expect(&s, 2, 1);
    seen_free(&s);

    seen_init(&s, tags, sizes, 3);
    read_all(topic, "read_uncommitted", &s);
    assert_int_equal(s.unknown, 0);
    assert_int_equal(s.total, B_COMMIT1 + B_ABORT + B_COMMIT2);
    seen_expect(&s, 0, 1);
    seen_expect(&s, 1, 1);
    seen_expect(&s, 2, 1);
    seen_free(&s);

    delete_topic(topic);
}

/* ------------------------------- (c) consume-transform-produce with offsets */

#define C_COUNT 3000
#define C_BATCH 1000

struct ctp {
    rd_kafka_t *producer;
    rd_kafka_t *consumer;
    const char *out_topic;
    int64_t deadline;
    int64_t next[NPART]; /* next offset to commit, -1: none in this txn */
    long in_txn;         /* messages in the open transaction */
    long transactions;
};

/* Commits the open transaction together with the offsets it consumed, so
 * output and input progress become visible together or not at all. */
static void ctp_commit(struct ctp *c, const char *in_topic)
{
    rd_kafka_topic_partition_list_t *offs =
        rd_kafka_topic_partition_list_new(NPART);
    rd_kafka_consumer_group_metadata_t *cgmd =
        rd_kafka_consumer_group_metadata(c->consumer);
    rd_kafka_error_t *error;
    int p;

    for (p = 0; p < NPART; p++) {
        if (c->next[p] >= 0)
            rd_kafka_topic_partition_list_add(offs, in_topic, p)->offset =
                c->next[p];
    }
    error = rd_kafka_send_offsets_to_transaction(c->producer, offs, cgmd,
                                                 tu_left_ms(c->deadline));
    rd_kafka_consumer_group_metadata_destroy(cgmd);
    rd_kafka_topic_partition_list_destroy(offs);
    txn_check(error, "send_offsets_to_transaction");
    txn_check(rd_kafka_commit_transaction(c->producer, tu_left_ms(c->deadline)),
              "commit_transaction");
    for (p = 0; p < NPART; p++)
        c->next[p] = -1;
    c->in_txn = 0;
    c->transactions++;
}

struct ctp_ctx {
    struct ctp c;
    const char *in_topic;
};

static void on_input(const rd_kafka_message_t *m, void *arg)
{
    struct ctp_ctx *x = arg;
    char out[80];

    if (x->c.in_txn == 0)
        txn_check(rd_kafka_begin_transaction(x->c.producer),
                  "begin_transaction");
    assert_true(m->len < 64);
    snprintf(out, sizeof(out), "out%.*s", (int)m->len,
             (const char *)m->payload);
    produce(x->c.producer, x->c.out_topic, m->partition, "k", out, -1,
            x->c.deadline);
    rd_kafka_poll(x->c.producer, 0);
    x->c.next[m->partition] = m->offset + 1;
    if (++x->c.in_txn == C_BATCH)
        ctp_commit(&x->c, x->in_topic);
}

static void test_send_offsets(void **state)
{
    static const char *const pkv[] = {"enable.idempotence", "true", "acks",
                                      "all", NULL};
    static const char *const tags[] = {"outin"};
    static const long sizes[] = {C_COUNT};
    char in_topic[128], out_topic[128], group[128], txid[128], value[32];
    struct dr_state dr = {0}, tdr = {0};
    struct ctp_ctx x;
    rd_kafka_topic_partition_list_t *parts;
    int64_t hi[NPART], deadline = tu_now_ms() + PHASE_MS;
    struct seen s;
    rd_kafka_t *rk;
    long i;
    int p;
    (void)state;

    create_topic(in_topic, sizeof(in_topic), "chp-it-in");
    create_topic(out_topic, sizeof(out_topic), "chp-it-out");

    /* Input: every partition gets data, so every offset must be committed. */
    rk = new_producer(&dr, pkv);
    assert_non_null(rk);
    for (i = 0; i < C_COUNT; i++) {
        snprintf(value, sizeof(value), "in-%ld", i);
        produce(rk, in_topic, (int32_t)(i % NPART), "k", value, -1, deadline);
        rd_kafka_poll(rk, 0);
    }
    assert_int_equal(rd_kafka_flush(rk, tu_left_ms(deadline)), 0);
    rd_kafka_destroy(rk);
    assert_int_equal(dr.failed, 0);
    assert_int_equal(dr.ok, C_COUNT);

    /* Consume-transform-produce, C_BATCH input messages per transaction. */
    memset(&x, 0, sizeof(x));
    x.in_topic = in_topic;
    x.c.out_topic = out_topic;
    x.c.deadline = tu_now_ms() + PHASE_MS;
    for (p = 0; p < NPART; p++)
        x.c.next[p] = -1;
    tu_unique_name(txid, sizeof(txid), "chp-it-ctp");
    const char *const tkv[] = {"transactional.id", txid, NULL};
    x.c.producer = new_producer(&tdr, tkv);
    assert_non_null(x.c.producer);
    txn_check(rd_kafka_init_transactions(x.c.producer, PHASE_MS),
              "init_transactions");

    static const char *const ckv[] = {"enable.auto.commit",
                                      "false",
                                      "enable.partition.eof",
                                      "true",
                                      "isolation.level",
                                      "read_committed",
                                      NULL};
    tu_unique_name(group, sizeof(group), "chp-it-ctp");
    x.c.consumer = tu_consumer(brokers, group, ckv);
    assert_non_null(x.c.consumer);
    parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, in_topic, RD_KAFKA_PARTITION_UA);
    assert_int_equal(rd_kafka_subscribe(x.c.consumer, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);

    consume_to_end(x.c.consumer, x.c.deadline, on_input, &x);
    if (x.c.in_txn > 0)
        ctp_commit(&x.c, in_topic);
    assert_int_equal(x.c.transactions, C_COUNT / C_BATCH);
    assert_int_equal(tdr.failed, 0);
    assert_int_equal(tdr.ok, C_COUNT);

    /* The group's committed offsets are the input's end offsets. */
    {
        char errstr[512];
        rd_kafka_resp_err_t err;

        assert_int_equal(tu_end_offsets(x.c.consumer, in_topic, NPART, hi,
                                        errstr, sizeof(errstr)),
                         0);
        parts = rd_kafka_topic_partition_list_new(NPART);
        for (p = 0; p < NPART; p++)
            rd_kafka_topic_partition_list_add(parts, in_topic, p);
        err = rd_kafka_committed(x.c.consumer, parts, PHASE_MS);
        if (err)
            fail_msg("committed: %s", rd_kafka_err2str(err));
        for (p = 0; p < NPART; p++) {
            assert_int_equal(parts->elems[p].err, 0);
            if (parts->elems[p].offset != hi[p])
                fail_msg("%s [%d]: committed %lld, end offset %lld", in_topic,
                         p, (long long)parts->elems[p].offset,
                         (long long)hi[p]);
        }
        rd_kafka_topic_partition_list_destroy(parts);
    }
    close_consumer(x.c.consumer);
    rd_kafka_destroy(x.c.producer);

    seen_init(&s, tags, sizes, 1);
    read_all(out_topic, "read_committed", &s);
    assert_int_equal(s.unknown, 0);
    assert_int_equal(s.total, C_COUNT);
    seen_expect(&s, 0, 1);
    seen_free(&s);

    delete_topic(in_topic);
    delete_topic(out_topic);
}

/* ------------------------------------------------------------------ main */

static void on_alarm(int sig)
{
    static const char msg[] =
        "FAIL: test_kafka_roundtrip exceeded its time limit; is the broker "
        "answering?\n";
    ssize_t r = write(STDERR_FILENO, msg, sizeof(msg) - 1);

    (void)r;
    (void)sig;
    _exit(1);
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_idempotent_roundtrip),
        cmocka_unit_test(test_transactions),
        cmocka_unit_test(test_send_offsets),
    };

    char errstr[512];

    brokers = tu_brokers();
    if (tu_brokers_answer(brokers, 15000, errstr, sizeof(errstr))) {
        fprintf(stderr, "FAIL: %s\n", errstr);
        return 1;
    }
    signal(SIGALRM, on_alarm);
    alarm(WATCHDOG_S);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
