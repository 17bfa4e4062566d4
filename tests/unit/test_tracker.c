/* Unit tests: the tracker — exact counts per (topic, bucket), emission
 * triggers, flush on destroy, and exact sums under 8 concurrent threads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "chaperone.h"
#include "bucket.h"
#include "tracker.h"

/* ---- a sink that sums emissions per (topic, bucket) ---- */

#define MAX_KEYS 256

typedef struct sum {
    char topic[CHP_NAME_MAX];
    int64_t begin;
    uint64_t count, bytes, no_time, malformed, negative;
    uint64_t messages; /* audit messages that contributed */
    double max_latency;
} sum_t;

typedef struct sink {
    pthread_mutex_t lock;
    sum_t sums[MAX_KEYS];
    size_t n;
    uint64_t emissions;
    uint64_t sketch_total; /* sum of sketch counts + negatives */
    int bad;               /* a message that broke an invariant */
} sink_t;

static chp_err_t sink_cb(const chp_auditmsg_t *msgs, size_t n, void *opaque)
{
    sink_t *sk = opaque;

    pthread_mutex_lock(&sk->lock);
    sk->emissions++;
    for (size_t i = 0; i < n; i++) {
        const chp_auditmsg_t *m = &msgs[i];
        sum_t *s = NULL;
        for (size_t j = 0; j < sk->n; j++)
            if (!strcmp(sk->sums[j].topic, m->topic) &&
                sk->sums[j].begin == m->time_begin)
                s = &sk->sums[j];
        if (!s) {
            s = &sk->sums[sk->n++];
            snprintf(s->topic, sizeof(s->topic), "%s", m->topic);
            s->begin = m->time_begin;
        }
        if (m->count == 0 || m->no_time_count + m->malformed_count > m->count ||
            m->time_end != m->time_begin + 600 || !m->sketch ||
            chp_sketch_count(m->sketch) +
                    chp_sketch_negative_count(m->sketch) !=
                m->count ||
            strlen(m->uuid) != 36 || m->version != CHP_AUDITMSG_VERSION)
            sk->bad++;
        s->count += m->count;
        s->bytes += m->total_bytes;
        s->no_time += m->no_time_count;
        s->malformed += m->malformed_count;
        s->negative += m->negative_latency_count;
        s->messages++;
        if (m->max_latency > s->max_latency)
            s->max_latency = m->max_latency;
    }
    pthread_mutex_unlock(&sk->lock);
    return CHP_OK;
}

static sink_t *sink_new(void)
{
    sink_t *s = calloc(1, sizeof(*s));
    pthread_mutex_init(&s->lock, NULL);
    return s;
}

static const sum_t *sink_get(sink_t *sk, const char *topic, int64_t begin)
{
    for (size_t j = 0; j < sk->n; j++)
        if (!strcmp(sk->sums[j].topic, topic) && sk->sums[j].begin == begin)
            return &sk->sums[j];
    return NULL;
}

static chp_conf_t *conf_with(const char *const *kv)
{
    chp_conf_t *c = chp_conf_new();
    char err[256];

    assert_non_null(c);
    for (; kv && *kv; kv++)
        assert_int_equal(chp_conf_set_kv(c, *kv, err, sizeof(err)), CHP_OK);
    return c;
}

static chp_tracker_t *tracker_with(const char *const *kv, int flags, sink_t *sk)
{
    chp_conf_t *c = conf_with(kv);
    chp_tracker_t *t = NULL;
    char err[256];

    assert_int_equal(chp_tracker_new(c, "producer", flags, sink_cb, sk, &t, err,
                                     sizeof(err)),
                     CHP_OK);
    chp_conf_destroy(c);
    return t;
}

/* 2016-11-05 02:00:00 UTC, a bucket boundary for W=600. */
#define T0 1478311200000LL

static void test_counts_per_topic_and_bucket(void **state)
{
    sink_t *sk = sink_new();
    const char *kv[] = {"hostname=h1", "datacenter=dc1", NULL};
    chp_tracker_t *t = tracker_with(kv, 0, sk);
    (void)state;

    for (int i = 0; i < 100; i++)
        chp_tracker_track(t, "a", CHP_TS_FOUND, T0 + i * 1000, 10);
    for (int i = 0; i < 50; i++)
        chp_tracker_track(t, "a", CHP_TS_FOUND, T0 + 600000 + i, 20);
    for (int i = 0; i < 30; i++)
        chp_tracker_track(t, "b", CHP_TS_FOUND, T0 + 1200000 + i, 1);
    chp_tracker_track(t, "b", CHP_TS_MISSING, 0, 5);
    chp_tracker_track(t, "b", CHP_TS_MALFORMED, 0, 7);
    /* Event time in the future: negative latency, counted apart. */
    chp_tracker_track(t, "c", CHP_TS_FOUND, chp_now_ms() + 3600000, 3);

    assert_int_equal(chp_tracker_flush(t), CHP_OK);
    const sum_t *s = sink_get(sk, "a", T0 / 1000);
    assert_non_null(s);
    assert_int_equal(s->count, 100);
    assert_int_equal(s->bytes, 1000);
    s = sink_get(sk, "a", T0 / 1000 + 600);
    assert_non_null(s);
    assert_int_equal(s->count, 50);
    assert_int_equal(s->bytes, 1000);
    s = sink_get(sk, "b", T0 / 1000 + 1200);
    assert_non_null(s);
    assert_int_equal(s->count, 30);
    assert_int_equal(s->no_time, 0);

    /* noTime and malformed land in the current-time bucket. */
    int64_t now_b = chp_bucket_begin(chp_now_ms(), 600);
    s = sink_get(sk, "b", now_b);
    if (!s) /* the clock crossed a boundary between track and here */
        s = sink_get(sk, "b", now_b - 600);
    assert_non_null(s);
    assert_int_equal(s->count, 2);
    assert_int_equal(s->no_time, 1);
    assert_int_equal(s->malformed, 1);
    assert_int_equal(s->bytes, 12);

    s = sink_get(sk, "c", chp_bucket_begin(chp_now_ms() + 3600000, 600));
    assert_non_null(s);
    assert_int_equal(s->count, 1);
    assert_int_equal(s->negative, 1);
    assert_int_equal(sk->bad, 0);

    /* Counters reset on emission: a second flush emits nothing. */
    uint64_t before = sk->emissions;
    assert_int_equal(chp_tracker_flush(t), CHP_OK);
    assert_int_equal(sk->emissions, before);

    chp_tracker_destroy(t);
    free(sk);
}

/* Bucket edges, before and after 1970, in an order where a message's
 * bucket is the topic's latest one or not: each lands where
 * chp_bucket_begin puts it.  Through chp_tracker_track, and through a
 * topic entry (the worker's path: chp_tracker_topic and
 * chp_tracker_track_msg_topic, with the Kafka timestamp, which is never
 * negative). */
static void test_bucket_edges(void **state)
{
    static const int64_t ts[] = {T0 - 1,      T0,      T0 + 599999, T0 + 600000,
                                 T0 - 1,      T0,      T0 + 599999, -1,
                                 -600000,     -600001, 0,           599999,
                                 T0 - 600000, T0 + 1,  T0 - 600001};
    const size_t n = sizeof(ts) / sizeof(ts[0]);
    (void)state;

    for (int path = 0; path < 2; path++) {
        sink_t *sk = sink_new();
        const char *kv[] = {"timestamp=kafka", NULL};
        chp_tracker_t *t = tracker_with(kv, CHP_TRACKER_F_SINGLE, sk);
        chp_tracker_topic_t *tp = chp_tracker_topic(t, "e");
        chp_msg_view_t v = {0};
        size_t nb = 0;

        assert_non_null(tp);
        for (size_t i = 0; i < n; i++) {
            if (path == 0) {
                chp_tracker_track(t, "e", CHP_TS_FOUND, ts[i], 1);
            } else if (ts[i] >= 0) {
                v.kafka_ts_ms = ts[i];
                assert_int_equal(chp_tracker_track_msg_topic(
                                     t, tp, &v, 1, chp_now_ms_coarse()),
                                 CHP_TS_FOUND);
            }
        }
        assert_int_equal(chp_tracker_flush(t), CHP_OK);
        for (size_t i = 0; i < n; i++) {
            int64_t begin = chp_bucket_begin(ts[i], 600);
            uint64_t want = 0;
            int first = 1;
            if (path == 1 && ts[i] < 0)
                continue;
            for (size_t j = 0; j < n; j++)
                if ((path == 0 || ts[j] >= 0) &&
                    chp_bucket_begin(ts[j], 600) == begin) {
                    want++;
                    first &= j >= i;
                }
            const sum_t *s = sink_get(sk, "e", begin);
            assert_non_null(s);
            assert_int_equal(s->count, want);
            nb += first;
        }
        assert_int_equal(sk->n, nb);
        assert_int_equal(sk->bad, 0);
        chp_tracker_destroy(t);
        free(sk);
    }
}

static void test_message_fields(void **state)
{
    sink_t *sk = sink_new();
    chp_conf_t *c = conf_with((const char *const[]){
        "hostname=host-7", "datacenter=dc-east", "tier=regional", NULL});
    chp_tracker_t *t;
    char err[256];
    (void)state;

    /* Capture one message's fields through a dedicated callback. */
    assert_int_equal(
        chp_tracker_new(c, "producer", 0, sink_cb, sk, &t, err, sizeof(err)),
        CHP_OK);
    int64_t now = chp_now_ms();
    for (int i = 1; i <= 100; i++)
        chp_tracker_track(t, "lat", CHP_TS_FOUND, now - i * 100, 1);
    assert_int_equal(chp_tracker_flush(t), CHP_OK);
    const sum_t *s = sink_get(sk, "lat", chp_bucket_begin(now - 5000, 600));
    if (!s)
        s = sink_get(sk, "lat", chp_bucket_begin(now, 600));
    assert_non_null(s);
    /* The largest latency is 10 s, give or take the coarse clock tick. */
    assert_true(s->max_latency >= 9990.0 && s->max_latency < 20000.0);
    chp_tracker_destroy(t);
    chp_conf_destroy(c);
    free(sk);
}

static void test_flush_on_destroy(void **state)
{
    sink_t *sk = sink_new();
    chp_tracker_t *t = tracker_with(NULL, CHP_TRACKER_F_THREAD, sk);
    (void)state;

    for (int i = 0; i < 1234; i++)
        chp_tracker_track(t, "d", CHP_TS_FOUND, T0, 2);
    chp_tracker_destroy(t); /* no explicit flush */
    const sum_t *s = sink_get(sk, "d", T0 / 1000);
    assert_non_null(s);
    assert_int_equal(s->count, 1234);
    assert_int_equal(s->bytes, 2468);
    free(sk);
}

static void test_interval_thread(void **state)
{
    sink_t *sk = sink_new();
    const char *kv[] = {"report.interval.ms=100", NULL};
    chp_tracker_t *t = tracker_with(kv, CHP_TRACKER_F_THREAD, sk);
    (void)state;

    chp_tracker_track(t, "i", CHP_TS_FOUND, T0, 1);
    /* The thread emits within a few intervals; bounded wait, no timing
     * assertion beyond "eventually, within 10 s". */
    for (int i = 0; i < 1000; i++) {
        pthread_mutex_lock(&sk->lock);
        uint64_t e = sk->emissions;
        pthread_mutex_unlock(&sk->lock);
        if (e)
            break;
        usleep(10000);
    }
    pthread_mutex_lock(&sk->lock);
    assert_true(sk->emissions >= 1);
    pthread_mutex_unlock(&sk->lock);
    chp_tracker_destroy(t);
    assert_int_equal(sink_get(sk, "i", T0 / 1000)->count, 1);
    free(sk);
}

static void test_open_bucket_limit(void **state)
{
    sink_t *sk = sink_new();
    const char *kv[] = {"max.open.buckets=5", "report.interval.ms=86400000",
                        NULL};
    chp_tracker_t *t = tracker_with(kv, 0, sk);
    chp_tracker_stats_t st;
    (void)state;

    for (int b = 0; b < 4; b++)
        chp_tracker_track(t, "o", CHP_TS_FOUND, T0 + b * 600000LL, 1);
    assert_false(chp_tracker_due(t, chp_now_ms()));
    chp_tracker_track(t, "o", CHP_TS_FOUND, T0 + 4 * 600000LL, 1);
    assert_true(chp_tracker_due(t, chp_now_ms()));
    chp_tracker_stats(t, &st);
    assert_int_equal(st.open_buckets, 5);
    assert_int_equal(st.tracked, 5);
    assert_int_equal(chp_tracker_flush(t), CHP_OK);
    assert_false(chp_tracker_due(t, chp_now_ms()));
    /* Interval-based due. */
    assert_true(chp_tracker_due(t, chp_now_ms() + 86400000LL));
    /* Empty buckets are recycled after two idle emissions. */
    chp_tracker_flush(t);
    chp_tracker_flush(t);
    chp_tracker_stats(t, &st);
    assert_int_equal(st.open_buckets, 0);
    chp_tracker_destroy(t);
    for (int b = 0; b < 5; b++)
        assert_int_equal(sink_get(sk, "o", T0 / 1000 + b * 600)->count, 1);
    free(sk);
}

static void test_track_msg_rules(void **state)
{
    sink_t *sk = sink_new();
    const char *kv[] = {"timestamp=json", "timestamp.topic.k=kafka,now", NULL};
    chp_tracker_t *t = tracker_with(kv, 0, sk);
    (void)state;

    const char *good = "{\"id\":1,\"ts\":1478311200}";
    const char *none = "{\"id\":1}";
    const char *bad = "Kafka topic dummy topic data 1";
    chp_msg_view_t v = {.kafka_ts_ms = -1};

    v.value = good, v.value_len = strlen(good);
    assert_int_equal(chp_tracker_track_msg(t, "j", &v, v.value_len),
                     CHP_TS_FOUND);
    v.value = none, v.value_len = strlen(none);
    assert_int_equal(chp_tracker_track_msg(t, "j", &v, v.value_len),
                     CHP_TS_MISSING);
    v.value = bad, v.value_len = strlen(bad);
    assert_int_equal(chp_tracker_track_msg(t, "j", &v, v.value_len),
                     CHP_TS_MALFORMED);
    /* Topic k uses the Kafka record timestamp, whatever the payload. */
    v.kafka_ts_ms = T0 + 600000;
    assert_int_equal(chp_tracker_track_msg(t, "k", &v, v.value_len),
                     CHP_TS_FOUND);
    chp_tracker_flush(t);
    assert_int_equal(sink_get(sk, "j", T0 / 1000)->count, 1);
    assert_int_equal(sink_get(sk, "k", T0 / 1000 + 600)->count, 1);
    uint64_t total = 0, nt = 0, mf = 0;
    for (size_t i = 0; i < sk->n; i++) {
        if (strcmp(sk->sums[i].topic, "j"))
            continue;
        total += sk->sums[i].count;
        nt += sk->sums[i].no_time;
        mf += sk->sums[i].malformed;
    }
    assert_int_equal(total, 3);
    assert_int_equal(nt, 1);
    assert_int_equal(mf, 1);
    chp_tracker_destroy(t);
    free(sk);
}

static void test_bad_timestamp_conf(void **state)
{
    chp_conf_t *c =
        conf_with((const char *const[]){"timestamp=json,bogus", NULL});
    chp_tracker_t *t = NULL;
    char err[256] = "";
    sink_t *sk = sink_new();
    (void)state;

    assert_int_not_equal(
        chp_tracker_new(c, "producer", 0, sink_cb, sk, &t, err, sizeof(err)),
        CHP_OK);
    assert_null(t);
    assert_non_null(strstr(err, "timestamp"));
    assert_non_null(strstr(err, "bogus"));
    chp_conf_destroy(c);
    free(sk);
}

static void test_single_thread_mode(void **state)
{
    sink_t *sk = sink_new();
    chp_tracker_t *t = tracker_with(NULL, CHP_TRACKER_F_SINGLE, sk);
    chp_conf_t *c = chp_conf_new();
    chp_tracker_t *bad = NULL;
    char err[256] = "";
    (void)state;

    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 10000; i++)
            chp_tracker_track(t, "s", CHP_TS_FOUND, T0 + (i % 3) * 600000, 4);
        assert_int_equal(chp_tracker_flush(t), CHP_OK);
    }
    for (int b = 0; b < 3; b++) {
        const sum_t *s = sink_get(sk, "s", T0 / 1000 + b * 600);
        assert_non_null(s);
        assert_int_equal(s->count, 3 * (b == 0 ? 3334 : 3333));
        assert_int_equal(s->bytes, 4 * s->count);
        assert_int_equal(s->messages, 3);
    }
    chp_tracker_destroy(t);
    /* A thread of its own contradicts "one thread". */
    assert_int_equal(
        chp_tracker_new(c, "x", CHP_TRACKER_F_SINGLE | CHP_TRACKER_F_THREAD,
                        sink_cb, sk, &bad, err, sizeof(err)),
        CHP_ERR_INVALID_ARG);
    assert_null(bad);
    assert_non_null(strstr(err, "CHP_TRACKER_F_SINGLE"));
    chp_conf_destroy(c);
    free(sk);
}

/* ---- 8 threads x 1,000,000 track calls, with concurrent flushes ---- */

#define THREADS    8
#define PER_THREAD 1000000
#define TOPICS     4
#define BUCKETS    3

typedef struct worker_arg {
    chp_tracker_t *t;
    int id;
} worker_arg_t;

static const char *const topic_names[TOPICS] = {"mt-a", "mt-b", "mt-c", "mt-d"};

static void *track_thread(void *p)
{
    worker_arg_t *a = p;

    for (int i = 0; i < PER_THREAD; i++) {
        int k = (i + a->id) % (TOPICS * BUCKETS);
        chp_tracker_track(a->t, topic_names[k % TOPICS], CHP_TS_FOUND,
                          T0 + (int64_t)(k / TOPICS) * 600000 + (i % 600000),
                          (uint64_t)(1 + i % 7));
    }
    return NULL;
}

static volatile int flusher_stop;

static void *flush_thread(void *p)
{
    while (!flusher_stop) {
        chp_tracker_flush(p);
        usleep(2000);
    }
    return NULL;
}

static void test_threads_exact(void **state)
{
    sink_t *sk = sink_new();
    chp_tracker_t *t = tracker_with(NULL, 0, sk);
    pthread_t th[THREADS], fl;
    worker_arg_t args[THREADS];
    uint64_t want_count[TOPICS][BUCKETS] = {{0}};
    uint64_t want_bytes[TOPICS][BUCKETS] = {{0}};
    (void)state;

    for (int id = 0; id < THREADS; id++)
        for (int i = 0; i < PER_THREAD; i++) {
            int k = (i + id) % (TOPICS * BUCKETS);
            want_count[k % TOPICS][k / TOPICS]++;
            want_bytes[k % TOPICS][k / TOPICS] += (uint64_t)(1 + i % 7);
        }

    flusher_stop = 0;
    pthread_create(&fl, NULL, flush_thread, t);
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg_t){t, i};
        pthread_create(&th[i], NULL, track_thread, &args[i]);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    flusher_stop = 1;
    pthread_join(fl, NULL);
    chp_tracker_destroy(t);

    uint64_t total = 0;
    for (int tp = 0; tp < TOPICS; tp++)
        for (int b = 0; b < BUCKETS; b++) {
            const sum_t *s = sink_get(sk, topic_names[tp], T0 / 1000 + b * 600);
            assert_non_null(s);
            assert_int_equal(s->count, want_count[tp][b]);
            assert_int_equal(s->bytes, want_bytes[tp][b]);
            total += s->count;
        }
    assert_int_equal(total, (uint64_t)THREADS * PER_THREAD);
    assert_int_equal(sk->n, TOPICS * BUCKETS);
    assert_int_equal(sk->bad, 0);
    free(sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts_per_topic_and_bucket),
        cmocka_unit_test(test_bucket_edges),
        cmocka_unit_test(test_message_fields),
        cmocka_unit_test(test_flush_on_destroy),
        cmocka_unit_test(test_interval_thread),
        cmocka_unit_test(test_open_bucket_limit),
        cmocka_unit_test(test_track_msg_rules),
        cmocka_unit_test(test_bad_timestamp_conf),
        cmocka_unit_test(test_single_thread_mode),
        cmocka_unit_test(test_threads_exact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
