/* E2E (real broker, real `chaperone worker` processes): the worker audits
 * every stored message exactly once.
 *  - exactness: 1,000,000 messages over 5 topics x 4 partitions and 6
 *    buckets, with no-timestamp and malformed ones;
 *  - crash: kill -9 of the worker 5 times at random moments while it
 *    audits a live stream, restarted each time;
 *  - scale: 3 workers in one group, one killed mid-run;
 *  - a topic created while the worker runs is audited without a restart.
 * Every case compares the audit totals read back with read_committed to
 * what was produced, exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "auditread.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

#define TOPICS  5
#define PARTS   4
#define BUCKETS 6
#define T0      1478311200LL
#define TIER    "kafka-e2e"

static const char *brokers;
static char logdir[256];

typedef struct dataset {
    char topic[TOPICS][128];
    int n_topics;
    uint64_t count[TOPICS][BUCKETS]; /* messages with a timestamp */
    uint64_t bytes[TOPICS][BUCKETS];
    uint64_t no_time[TOPICS], malformed[TOPICS], total[TOPICS];
    uint64_t total_bytes[TOPICS];
} dataset_t;

static void make_topics(dataset_t *d, int n, const char *prefix)
{
    char err[512];

    memset(d, 0, sizeof(*d));
    d->n_topics = n;
    for (int t = 0; t < n; t++)
        assert_int_equal(tu_make_topic(brokers, d->topic[t],
                                       sizeof(d->topic[t]), prefix, PARTS, err,
                                       sizeof(err)),
                         0);
}

static void make_audit_topic(char *audit, size_t n)
{
    char err[512];

    assert_int_equal(
        tu_make_topic(brokers, audit, n, "e2eaudit", 3, err, sizeof(err)), 0);
}

/* Message i of topic t: 90% JSON with a timestamp in one of the buckets,
 * 5% JSON without one, 5% broken JSON.  Returns its class. */
static int make_msg(char *buf, size_t n, int *len, int t, uint64_t i,
                    int *bucket)
{
    uint64_t h = (i * 2654435761u + (uint64_t)t * 40503u) % 100;

    *bucket = (int)((i / 7 + (uint64_t)t) % BUCKETS);
    if (h < 5) {
        *len = snprintf(buf, n, "{\"event\":\"view\",\"n\":%llu}",
                        (unsigned long long)i);
        return 1;
    }
    if (h < 10) {
        *len = snprintf(buf, n, "{\"event\":\"broken\",\"ts\":%lld,\"n\":",
                        (long long)(T0 + *bucket * 600));
        return 2;
    }
    *len = snprintf(buf, n,
                    "{\"user\":{\"id\":%llu,\"tags\":[\"a\",\"b\"]},"
                    "\"ts\":%lld%03d,\"pad\":\"%.*s\"}",
                    (unsigned long long)i,
                    (long long)(T0 + *bucket * 600 + (int64_t)(i % 600)),
                    (int)(i % 1000), (int)(i % 50),
                    "--------------------------------------------------");
    return 0;
}

/* Produces n messages per topic (spread over the partitions) into d. */
static void produce(dataset_t *d, uint64_t per_topic, uint64_t start,
                    int rate_per_s)
{
    rd_kafka_t *rk = tu_producer(
        brokers,
        (const char *const[]){"linger.ms", "20", "batch.num.messages", "10000",
                              "queue.buffering.max.messages", "500000", NULL});
    char buf[256];
    int64_t t0 = tu_now_ms();
    uint64_t sent = 0;

    assert_non_null(rk);
    for (uint64_t i = start; i < start + per_topic; i++) {
        for (int t = 0; t < d->n_topics; t++) {
            int len, b, cls = make_msg(buf, sizeof(buf), &len, t, i, &b);
            assert_int_equal(tu_produce(rk, d->topic[t], (int32_t)(i % PARTS),
                                        NULL, 0, buf, (size_t)len),
                             0);
            if (cls == 0) {
                d->count[t][b]++;
                d->bytes[t][b] += (uint64_t)len;
            } else if (cls == 1) {
                d->no_time[t]++;
            } else {
                d->malformed[t]++;
            }
            d->total[t]++;
            d->total_bytes[t] += (uint64_t)len;
            sent++;
        }
        /* Pace a live stream so workers are killed mid-audit. */
        if (rate_per_s > 0 && sent % 1000 == 0)
            tu_pace(rk, t0, sent, rate_per_s);
    }
    assert_int_equal(rd_kafka_flush(rk, 120000), 0);
    rd_kafka_destroy(rk);
}

typedef struct worker_opts {
    const dataset_t *d;
    const char *audit;
    const char *group;
    const char *instance;
    const char *regex; /* instead of the topic list */
    int port;
} worker_opts_t;

static void start_worker(proc_t *p, const worker_opts_t *o)
{
    char topics[TOPICS * 130] = "", kv[16][700], log[512];
    int k = 0;

    for (int t = 0; o->d && t < o->d->n_topics; t++) {
        if (t)
            strcat(topics, ",");
        strcat(topics, o->d->topic[t]);
    }
    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s", brokers);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", o->audit);
    if (o->regex)
        snprintf(kv[k++], sizeof(kv[0]), "worker.topics.regex=%s", o->regex);
    else
        snprintf(kv[k++], sizeof(kv[0]), "worker.topics=%s", topics);
    snprintf(kv[k++], sizeof(kv[0]), "worker.group.id=%s", o->group);
    snprintf(kv[k++], sizeof(kv[0]), "worker.instance=%s", o->instance);
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", o->port);
    snprintf(kv[k++], sizeof(kv[0]), "worker.use.registry=false");
    snprintf(kv[k++], sizeof(kv[0]), "worker.topics.refresh.ms=1000");
    snprintf(kv[k++], sizeof(kv[0]), "report.interval.ms=500");
    snprintf(kv[k++], sizeof(kv[0]), "cluster.name=e2e");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.session.timeout.ms=6000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.heartbeat.interval.ms=1000");
    snprintf(log, sizeof(log), "%s/worker-%s.log", logdir, o->instance);
    assert_int_equal(proc_start_x(p, log, "worker", kv[0], sizeof(kv[0]), k),
                     0);
}

/* A port the kernel just handed out: one picked from a range may be held
 * by an outgoing connection (the ephemeral range starts at 32768). */
static int next_port(void)
{
    int port = httpc_free_port();

    assert_true(port > 0);
    return port;
}

/* Reads the audit topic until the worker tier's total over d's topics
 * reaches want (or the deadline passes); returns the last total. */
static uint64_t wait_total(const char *audit, const dataset_t *d, uint64_t want,
                           int timeout_ms, ar_result_t *r)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    uint64_t got = 0;

    while (tu_now_ms() < deadline) {
        got = 0;
        if (ar_read(brokers, audit, r, 60000) == 0)
            for (int t = 0; t < d->n_topics; t++)
                got += ar_total(r, TIER, d->topic[t]);
        if (got >= want)
            break;
        tu_sleep_ms(1000);
    }
    return got;
}

static uint64_t grand_total(const dataset_t *d)
{
    uint64_t n = 0;

    for (int t = 0; t < d->n_topics; t++)
        n += d->total[t];
    return n;
}

/* The exact comparison: per topic and event-time bucket, and per topic
 * for no-timestamp and malformed messages (current-time buckets). */
static void check_exact(ar_result_t *r, const dataset_t *d)
{
    assert_int_equal(r->undecodable, 0);
    assert_int_equal(r->dup_uuids, 0);
    for (int t = 0; t < d->n_topics; t++) {
        uint64_t nt = 0, mf = 0, bytes = 0;
        for (int b = 0; b < BUCKETS; b++) {
            ar_sum_t *s = ar_get(r, TIER, d->topic[t], T0 + b * 600);
            if (!d->count[t][b]) {
                assert_null(s);
                continue;
            }
            if (!s)
                fail_msg("no audit for %s bucket %d", d->topic[t], b);
            if (s->count != d->count[t][b])
                fail_msg("%s bucket %d: audited %llu, produced %llu",
                         d->topic[t], b, (unsigned long long)s->count,
                         (unsigned long long)d->count[t][b]);
            assert_int_equal(s->bytes, d->bytes[t][b]);
            assert_int_equal(s->no_time + s->malformed, 0);
        }
        for (size_t i = 0; i < r->n; i++)
            if (!strcmp(r->sums[i].tier, TIER) &&
                !strcmp(r->sums[i].topic, d->topic[t])) {
                nt += r->sums[i].no_time;
                mf += r->sums[i].malformed;
                bytes += r->sums[i].bytes;
            }
        assert_int_equal(ar_total(r, TIER, d->topic[t]), d->total[t]);
        assert_int_equal(nt, d->no_time[t]);
        assert_int_equal(mf, d->malformed[t]);
        assert_int_equal(bytes, d->total_bytes[t]);
    }
}

static void finish(const char *audit, const dataset_t *d, proc_t *ws, int nw,
                   int timeout_ms)
{
    ar_result_t *r = calloc(1, sizeof(*r));
    uint64_t want = grand_total(d);
    uint64_t got = wait_total(audit, d, want, timeout_ms, r);

    /* Graceful stop: emit, commit, exit 0 — then nothing more may appear. */
    for (int i = 0; i < nw; i++) {
        if (ws[i].pid <= 0 || ws[i].exited)
            continue;
        int st = proc_stop(&ws[i], SIGTERM, 60000);
        if (st != 0) {
            proc_dump_log(&ws[i]);
            fail_msg("worker exited with %d on SIGTERM", st);
        }
    }
    if (got != want) {
        for (int i = 0; i < nw; i++)
            proc_dump_log(&ws[i]);
        fail_msg("audited %llu of %llu before the deadline",
                 (unsigned long long)got, (unsigned long long)want);
    }
    assert_int_equal(ar_read(brokers, audit, r, 60000), 0);
    check_exact(r, d);
    free(r);
}

static void test_exactness_million(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128];
    proc_t w;
    (void)state;

    make_topics(d, TOPICS, "exact");
    make_audit_topic(audit, sizeof(audit));
    produce(d, 200000, 0, 0); /* 5 topics x 200,000 = 1,000,000 */
    assert_int_equal(grand_total(d), 1000000);
    tu_unique_name(group, sizeof(group), "grp");
    worker_opts_t o = {d, audit, group, "exact-w1", NULL, next_port()};
    start_worker(&w, &o);
    finish(audit, d, &w, 1, 300000);
    free(d);
}

typedef struct killer {
    proc_t *w;
    worker_opts_t *o;
    int kills;
} killer_t;

/* Kills the worker with SIGKILL 5 times at random moments while it audits
 * (it holds partitions and has committed at least once since its start),
 * restarting it each time, while the main thread produces a live stream. */
static void *killer_main(void *arg)
{
    killer_t *k = arg;

    int assigned = 0; /* the log starts empty (main removes old logs) */

    for (int i = 0; i < 5; i++) {
        int64_t deadline = tu_now_ms() + 60000;
        while (proc_log_count(k->w->log, "assigned [1-9]") <= assigned &&
               tu_now_ms() < deadline)
            tu_sleep_ms(100);
        tu_sleep_ms(700 + rand() % 1500);
        assigned = proc_log_count(k->w->log, "assigned [1-9]");
        kill(k->w->pid, SIGKILL);
        proc_stop(k->w, SIGKILL, 10000);
        k->kills++;
        start_worker(k->w, k->o);
    }
    return NULL;
}

static void test_crash_kill9(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128];
    proc_t w;
    pthread_t th;
    (void)state;

    make_topics(d, TOPICS, "crash");
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    worker_opts_t o = {d, audit, group, "crash-w1", NULL, next_port()};
    killer_t k = {&w, &o, 0};

    srand((unsigned)getpid());
    start_worker(&w, &o);
    pthread_create(&th, NULL, killer_main, &k);
    /* ~40 s of live stream: 5 topics x 100,000 at 12,000 messages/s. */
    produce(d, 100000, 0, 12000);
    pthread_join(th, NULL);
    assert_int_equal(k.kills, 5);
    finish(audit, d, &w, 1, 300000);
    free(d);
}

static void test_scale_three_workers(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128], cmd[1024];
    proc_t w[3];
    (void)state;

    make_topics(d, TOPICS, "scale");
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    const char *names[3] = {"scale-w1", "scale-w2", "scale-w3"};
    worker_opts_t o[3];
    for (int i = 0; i < 3; i++) {
        o[i] = (worker_opts_t){d, audit, group, names[i], NULL, next_port()};
        start_worker(&w[i], &o[i]);
    }
    produce(d, 20000, 0, 10000);
    /* All three must have held partitions: the group spread them. */
    for (int i = 0; i < 3; i++) {
        snprintf(cmd, sizeof(cmd), "grep -q 'assigned [1-9]' '%s'", w[i].log);
        if (system(cmd) != 0) {
            proc_dump_log(&w[i]);
            fail_msg("worker %s never got partitions", names[i]);
        }
    }
    kill(w[1].pid, SIGKILL); /* mid-run, not restarted */
    proc_stop(&w[1], SIGKILL, 10000);
    produce(d, 20000, 20000, 10000);
    finish(audit, d, w, 3, 300000);
    free(d);
}

static void test_new_topic_followed(void **state)
{
    dataset_t *d = calloc(1, sizeof(*d));
    char audit[128], group[128], prefix[64], regex[80], err[512];
    proc_t w;
    (void)state;

    tu_unique_name(prefix, sizeof(prefix), "follow");
    snprintf(regex, sizeof(regex), "^%s-", prefix);
    make_audit_topic(audit, sizeof(audit));
    tu_unique_name(group, sizeof(group), "grp");
    d->n_topics = 2;
    snprintf(d->topic[0], sizeof(d->topic[0]), "%s-first", prefix);
    snprintf(d->topic[1], sizeof(d->topic[1]), "%s-later", prefix);
    assert_int_equal(
        tu_create_topic(brokers, d->topic[0], PARTS, err, sizeof(err)), 0);
    worker_opts_t o = {NULL, audit, group, "follow-w1", regex, next_port()};
    start_worker(&w, &o);
    dataset_t first = *d;
    first.n_topics = 1;
    produce(&first, 3000, 0, 0);
    /* Created while the worker runs. */
    assert_int_equal(
        tu_create_topic(brokers, d->topic[1], PARTS, err, sizeof(err)), 0);
    dataset_t later = {0};
    later.n_topics = 1;
    memcpy(later.topic[0], d->topic[1], sizeof(later.topic[0]));
    produce(&later, 3000, 0, 0);
    /* Merge the expectations of both into d. */
    memcpy(d->count[0], first.count[0], sizeof(d->count[0]));
    memcpy(d->bytes[0], first.bytes[0], sizeof(d->bytes[0]));
    d->no_time[0] = first.no_time[0], d->malformed[0] = first.malformed[0];
    d->total[0] = first.total[0], d->total_bytes[0] = first.total_bytes[0];
    memcpy(d->count[1], later.count[0], sizeof(d->count[1]));
    memcpy(d->bytes[1], later.bytes[0], sizeof(d->bytes[1]));
    d->no_time[1] = later.no_time[0], d->malformed[1] = later.malformed[0];
    d->total[1] = later.total[0], d->total_bytes[1] = later.total_bytes[0];
    finish(audit, d, &w, 1, 120000);
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_topic_followed),
        cmocka_unit_test(test_exactness_million),
        cmocka_unit_test(test_crash_kill9),
        cmocka_unit_test(test_scale_three_workers),
    };

    brokers = tu_brokers();
    proc_log_dir(logdir, sizeof(logdir), "e2e-logs", "worker-*.log");
    return cmocka_run_group_tests(tests, NULL, NULL);
}
