/* Soak: a live stream through 3 workers and 2 collectors (SQLite), with
 * kill -9, SIGSTOP/SIGCONT of any of them and broker restarts and pauses at
 * random moments.  Seeded and reproducible in its choices
 * (CHP_SOAK_SEED=<n> replays the same sequence of faults; the default seed
 * is printed), bounded (CHP_SOAK_SECONDS of stream, 150 by default).  At
 * the end, the totals stored by the collectors equal the totals produced,
 * per topic and bucket, exactly.  Prints every fault it applied and the
 * totals.  Shares the suite's broker (resumed and running at the end,
 * whatever happens). */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "auditread.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

#define TOPICS  3
#define PARTS   4
#define BUCKETS 4
#define TIER    "kafka-soak"
#define NW      3
#define NC      2

static const char *brokers;
static char workdir[300], kafka_sh[512], db_path[400];
static pid_t broker_pid;
static uint64_t rng;
/* The first bucket: an hour ago, so the collectors' retention
 * (retention.hours) keeps every row. */
static int64_t T0;

static uint64_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static int rnd_between(int lo, int hi)
{
    return lo + (int)(rnd() % (uint64_t)(hi - lo + 1));
}

/* ------------------------------------------------------------ broker */

static void broker_ensure_up(void)
{
    broker_pid = tu_broker_ensure_up(brokers, kafka_sh);
}

/* ------------------------------------------------------------ model */

typedef struct model {
    char topic[TOPICS][128], audit[128], wgroup[128], cgroup[128];
    uint64_t count[TOPICS][BUCKETS];
    uint64_t sent;
} model_t;

static model_t md;

static void *stream_main(void *arg)
{
    int seconds = *(int *)arg, rate = 1500;
    uint64_t n = (uint64_t)seconds * (uint64_t)rate / TOPICS;
    rd_kafka_t *rk = tu_producer(
        brokers, (const char *const[]){"linger.ms", "20", "enable.idempotence",
                                       "true", NULL});
    int64_t t0 = tu_now_ms();
    uint64_t sent = 0;
    char buf[160];

    if (!rk)
        return NULL;
    for (uint64_t i = 0; i < n; i++) {
        for (int t = 0; t < TOPICS; t++) {
            int b = (int)((i / 5 + (uint64_t)t) % BUCKETS);
            int len =
                snprintf(buf, sizeof(buf), "{\"ts\":%lld,\"i\":%llu}",
                         (long long)(T0 + b * 600 + (int64_t)(i % 600)) * 1000,
                         (unsigned long long)i);
            if (tu_produce(rk, md.topic[t], (int32_t)(i % PARTS), NULL, 0, buf,
                           (size_t)len))
                continue; /* not counted: never stored */
            md.count[t][b]++;
            sent++;
        }
        if (sent % 300 == 0)
            tu_pace(rk, t0, sent, rate);
    }
    /* Idempotent and patient (message.timeout.ms 300 s): pauses and
     * restarts of the broker delay the stream, they do not change it. */
    if (rd_kafka_flush(rk, 300000) != 0)
        fprintf(stderr, "soak: the stream did not flush\n");
    md.sent = sent;
    rd_kafka_destroy(rk);
    return NULL;
}

/* ------------------------------------------------------------ daemons */

typedef struct daemon_proc {
    proc_t p;
    bool worker;
    int idx, port;
    bool stopped; /* SIGSTOPped */
} dproc_t;

static dproc_t ws[NW], cs[NC];

static void start_daemon(dproc_t *d)
{
    char kv[20][700], log[600];
    int k = 0;

    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s", brokers);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", md.audit);
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", d->port);
    snprintf(kv[k++], sizeof(kv[0]), "kafka.session.timeout.ms=6000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.heartbeat.interval.ms=1000");
    snprintf(kv[k++], sizeof(kv[0]), "daemon.shutdown.timeout.ms=15000");
    if (d->worker) {
        snprintf(kv[k++], sizeof(kv[0]), "worker.topics=%s,%s,%s", md.topic[0],
                 md.topic[1], md.topic[2]);
        snprintf(kv[k++], sizeof(kv[0]), "worker.group.id=%s", md.wgroup);
        snprintf(kv[k++], sizeof(kv[0]), "worker.instance=soak-w%d", d->idx);
        snprintf(kv[k++], sizeof(kv[0]), "worker.use.registry=false");
        snprintf(kv[k++], sizeof(kv[0]), "worker.topics.refresh.ms=1000");
        snprintf(kv[k++], sizeof(kv[0]), "report.interval.ms=500");
        snprintf(kv[k++], sizeof(kv[0]), "cluster.name=soak");
        snprintf(kv[k++], sizeof(kv[0]), "kafka.transaction.timeout.ms=10000");
        snprintf(kv[k++], sizeof(kv[0]),
                 "kafka.partition.assignment.strategy=cooperative-sticky");
    } else {
        snprintf(kv[k++], sizeof(kv[0]), "collector.group.id=%s", md.cgroup);
        snprintf(kv[k++], sizeof(kv[0]), "db.url=sqlite://%s", db_path);
        snprintf(kv[k++], sizeof(kv[0]), "collector.flush.interval.ms=200");
        snprintf(kv[k++], sizeof(kv[0]), "collector.retry.max.ms=2000");
    }
    snprintf(log, sizeof(log), "%s/%s-%d.log", workdir,
             d->worker ? "worker" : "collector", d->idx);
    assert_int_equal(proc_start_x(&d->p, log,
                                  d->worker ? "worker" : "collector", kv[0],
                                  sizeof(kv[0]), k),
                     0);
    d->stopped = false;
}

static const char *dname(const dproc_t *d, char *buf, size_t n)
{
    snprintf(buf, n, "%s %d", d->worker ? "worker" : "collector", d->idx);
    return buf;
}

/* ------------------------------------------------------------ faults */

typedef struct faults {
    int seconds;
    volatile int done;
    int applied[6];
} faults_t;

static const char *const fault_names[] = {"kill -9 worker", "kill -9 collector",
                                          "SIGSTOP worker", "SIGSTOP collector",
                                          "broker restart", "broker SIGSTOP"};

static void log_fault(int64_t t0, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void log_fault(int64_t t0, const char *fmt, ...)
{
    va_list ap;

    printf("  [%6.1f s] ", (double)(tu_now_ms() - t0) / 1000.0);
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static void pause_for(dproc_t *d, int ms, int64_t t0)
{
    char nm[32];

    log_fault(t0, "SIGSTOP %s for %d ms", dname(d, nm, sizeof(nm)), ms);
    kill(d->p.pid, SIGSTOP);
    d->stopped = true;
    tu_sleep_ms(ms);
    kill(d->p.pid, SIGCONT);
    d->stopped = false;
}

static void *faults_main(void *arg)
{
    faults_t *f = arg;
    int64_t t0 = tu_now_ms(), end = t0 + (int64_t)f->seconds * 1000;
    int bounces = 0;

    int order[6] = {0, 1, 2, 3, 4, 5}, nth = 0;

    /* Every kind once, in a seeded order, then any. */
    for (int i = 5; i > 0; i--) {
        int j = (int)(rnd() % (uint64_t)(i + 1)), tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    tu_sleep_ms(8000); /* everyone joined and committed once */
    while (tu_now_ms() < end - 5000) {
        int kind = nth < 6 ? order[nth] : (int)(rnd() % 6);
        char nm[32];
        dproc_t *d;

        if (kind == 4 && bounces >= 2)
            kind = 5; /* a bounce costs ~25 s: two at most */
        switch (kind) {
        case 0:
        case 1:
            d = kind == 0 ? &ws[rnd() % NW] : &cs[rnd() % NC];
            log_fault(t0, "kill -9 %s", dname(d, nm, sizeof(nm)));
            kill(d->p.pid, SIGKILL);
            proc_stop(&d->p, SIGKILL, 10000);
            tu_sleep_ms(rnd_between(0, 3000));
            start_daemon(d);
            break;
        case 2:
        case 3:
            d = kind == 2 ? &ws[rnd() % NW] : &cs[rnd() % NC];
            pause_for(d, rnd_between(2000, 12000), t0);
            break;
        case 4:
            log_fault(t0, "broker restart (kafka.sh bounce)");
            bounces++;
            if (system(kafka_sh) != 0)
                log_fault(t0, "broker restart failed");
            broker_pid = tu_broker_pid();
            break;
        case 5: {
            int ms = rnd_between(3000, 15000);
            log_fault(t0, "broker SIGSTOP for %d ms", ms);
            kill(broker_pid, SIGSTOP);
            tu_sleep_ms(ms);
            kill(broker_pid, SIGCONT);
            break;
        }
        }
        f->applied[kind]++;
        nth++;
        tu_sleep_ms(rnd_between(4000, 10000));
    }
    f->done = 1;
    return NULL;
}

/* ------------------------------------------------------------ totals */

static int stored(uint64_t out[TOPICS][BUCKETS])
{
    sqlite3 *db;
    sqlite3_stmt *st;
    int rc = -1;

    memset(out, 0, sizeof(uint64_t) * TOPICS * BUCKETS);
    if (sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK)
        goto done;
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_prepare_v2(db,
                           "SELECT COALESCE(SUM(count), 0) FROM audit_rows "
                           "WHERE tier = ? AND topic = ? AND time_begin = ?",
                           -1, &st, NULL) != SQLITE_OK)
        goto done;
    rc = 0;
    for (int t = 0; t < TOPICS && rc == 0; t++)
        for (int b = 0; b < BUCKETS && rc == 0; b++) {
            sqlite3_reset(st);
            sqlite3_bind_text(st, 1, TIER, -1, SQLITE_STATIC);
            sqlite3_bind_text(st, 2, md.topic[t], -1, SQLITE_STATIC);
            sqlite3_bind_int64(st, 3, T0 + b * 600);
            if (sqlite3_step(st) == SQLITE_ROW)
                out[t][b] = (uint64_t)sqlite3_column_int64(st, 0);
            else
                rc = -1;
        }
    sqlite3_finalize(st);
done:
    sqlite3_close(db);
    return rc;
}

static uint64_t sum(const uint64_t a[TOPICS][BUCKETS])
{
    uint64_t n = 0;

    for (int t = 0; t < TOPICS; t++)
        for (int b = 0; b < BUCKETS; b++)
            n += a[t][b];
    return n;
}

static void dump_logs(void)
{
    for (int i = 0; i < NW; i++)
        proc_dump_log(&ws[i].p);
    for (int i = 0; i < NC; i++)
        proc_dump_log(&cs[i].p);
}

static void test_soak(void **state)
{
    const char *s_seed = getenv("CHP_SOAK_SEED"),
               *s_secs = getenv("CHP_SOAK_SECONDS");
    uint64_t seed = s_seed ? strtoull(s_seed, NULL, 10)
                           : (uint64_t)tu_now_ms() ^ (uint64_t)getpid();
    int seconds = s_secs ? atoi(s_secs) : 150;
    uint64_t got[TOPICS][BUCKETS];
    faults_t f = {0};
    pthread_t st, ft;
    char err[512];
    int64_t deadline;
    (void)state;

    if (seconds < 30)
        seconds = 30;
    T0 = ((int64_t)time(NULL) / 600) * 600 - 3600;
    rng = seed ? seed : 1;
    printf("  seed %llu (CHP_SOAK_SEED), %d s of stream\n",
           (unsigned long long)seed, seconds);
    for (int t = 0; t < TOPICS; t++)
        assert_int_equal(tu_make_topic(brokers, md.topic[t],
                                       sizeof(md.topic[t]), "soak", PARTS, err,
                                       sizeof(err)),
                         0);
    assert_int_equal(tu_make_topic(brokers, md.audit, sizeof(md.audit),
                                   "soakaudit", 2, err, sizeof(err)),
                     0);
    tu_unique_name(md.wgroup, sizeof(md.wgroup), "soakw");
    tu_unique_name(md.cgroup, sizeof(md.cgroup), "soakc");
    snprintf(db_path, sizeof(db_path), "%s/soak-%s.db", workdir, md.audit);

    for (int i = 0; i < NW; i++) {
        ws[i] =
            (dproc_t){.worker = true, .idx = i + 1, .port = httpc_free_port()};
        start_daemon(&ws[i]);
    }
    for (int i = 0; i < NC; i++) {
        cs[i] =
            (dproc_t){.worker = false, .idx = i + 1, .port = httpc_free_port()};
        start_daemon(&cs[i]);
    }
    f.seconds = seconds;
    assert_int_equal(pthread_create(&st, NULL, stream_main, &seconds), 0);
    assert_int_equal(pthread_create(&ft, NULL, faults_main, &f), 0);
    pthread_join(ft, NULL);
    pthread_join(st, NULL);
    broker_ensure_up();
    /* Anything that died on its own is a failure of its own. */
    for (int i = 0; i < NW; i++)
        if (proc_exited(&ws[i].p)) {
            dump_logs();
            fail_msg("worker %d exited with %d", i + 1, ws[i].p.status);
        }
    for (int i = 0; i < NC; i++)
        if (proc_exited(&cs[i].p)) {
            dump_logs();
            fail_msg("collector %d exited with %d", i + 1, cs[i].p.status);
        }

    deadline = tu_now_ms() + 300000;
    while (tu_now_ms() < deadline &&
           (stored(got) != 0 || sum(got) < sum(md.count)))
        tu_sleep_ms(1000);
    tu_sleep_ms(3000); /* a late duplicate would show now */
    for (int i = 0; i < NW; i++) {
        int rc = proc_stop(&ws[i].p, SIGTERM, 60000);
        if (rc != 0)
            printf("  worker %d exited with %d on SIGTERM\n", i + 1, rc);
        assert_int_equal(rc, 0);
    }
    for (int i = 0; i < NC; i++) {
        int rc = proc_stop(&cs[i].p, SIGTERM, 60000);
        if (rc != 0)
            printf("  collector %d exited with %d on SIGTERM\n", i + 1, rc);
        assert_int_equal(rc, 0);
    }
    assert_int_equal(stored(got), 0);
    {
        /* The worker tier on its own: the audit topic, read_committed. */
        ar_result_t *r = calloc(1, sizeof(*r));
        uint64_t audited = 0;
        assert_int_equal(ar_read(brokers, md.audit, r, 60000), 0);
        assert_int_equal(r->dup_uuids, 0);
        for (int t = 0; t < TOPICS; t++)
            for (int b = 0; b < BUCKETS; b++) {
                ar_sum_t *a = ar_get(r, TIER, md.topic[t], T0 + b * 600);
                audited += a ? a->count : 0;
                if ((a ? a->count : 0) != md.count[t][b])
                    fail_msg("audit topic: %s bucket %d: %llu, produced %llu",
                             md.topic[t], b,
                             (unsigned long long)(a ? a->count : 0),
                             (unsigned long long)md.count[t][b]);
            }
        printf("  audit topic (read_committed): %llu audited in %llu audit "
               "messages\n",
               (unsigned long long)audited, (unsigned long long)r->records);
        free(r);
    }
    printf("  faults applied:");
    for (int k = 0; k < 6; k++)
        printf(" %s %d%s", fault_names[k], f.applied[k], k < 5 ? "," : "\n");
    printf("  produced %llu, stored %llu (seed %llu)\n",
           (unsigned long long)sum(md.count), (unsigned long long)sum(got),
           (unsigned long long)seed);
    for (int t = 0; t < TOPICS; t++)
        for (int b = 0; b < BUCKETS; b++) {
            printf("    %s bucket %d: produced %llu, stored %llu\n",
                   md.topic[t], b, (unsigned long long)md.count[t][b],
                   (unsigned long long)got[t][b]);
            if (got[t][b] != md.count[t][b]) {
                dump_logs();
                fail_msg("%s bucket %d: stored %llu, produced %llu (seed "
                         "%llu)",
                         md.topic[t], b, (unsigned long long)got[t][b],
                         (unsigned long long)md.count[t][b],
                         (unsigned long long)seed);
            }
        }
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < NW; i++)
        if (ws[i].p.pid > 0 && !proc_exited(&ws[i].p)) {
            kill(ws[i].p.pid, SIGCONT);
            proc_stop(&ws[i].p, SIGKILL, 10000);
        }
    for (int i = 0; i < NC; i++)
        if (cs[i].p.pid > 0 && !proc_exited(&cs[i].p)) {
            kill(cs[i].p.pid, SIGCONT);
            proc_stop(&cs[i].p, SIGKILL, 10000);
        }
    broker_ensure_up();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_soak, teardown),
    };
    int rc;

    brokers = tu_brokers();
    broker_pid = tu_broker_for_faults(brokers, kafka_sh, sizeof(kafka_sh));
    proc_log_dir(workdir, sizeof(workdir), "soak", "*.log *.db*");
    setvbuf(stdout, NULL, _IOLBF, 0);
    rc = cmocka_run_group_tests(tests, NULL, NULL);
    broker_ensure_up();
    return rc;
}
