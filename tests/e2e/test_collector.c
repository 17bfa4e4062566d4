/* E2E (real broker, real databases, real `chaperone collector` processes):
 * the collector stores the sum of the audit messages exactly once.
 *  - exactness per backend (SQLite always; MariaDB, PostgreSQL when their
 *    URL is set) and once with dedup=redis: messages from the library
 *    (sketches) and in the original Chaperone's form (doubles, no
 *    totalBytes/noTimeCount/malformedCount, no sketch), undecodable
 *    records, uuids sent twice in one batch and in a later one, and a
 *    restart that must resume from the stored offsets;
 *  - crash: kill -9 of the collector at random moments while a 200k
 *    message stream arrives, restarted each time;
 *  - outage: the database stopped for more than 30 s mid-ingest (a private
 *    MariaDB / PostgreSQL, so other tests keep theirs) and started again;
 *  - percentiles: 3 hosts, one bucket: the stored p99 is the p99 of all
 *    their latencies within 1%;
 *  - rebalances: a second collector joins and leaves the group mid-stream
 *    (eager and cooperative protocols); revocations flush first.
 * Totals are compared key by key, exactly. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "chaperone.h"
#include "collector/store.h"
#include "httpc.h"
#include "proc.h"
#include "testutil.h"

/* Key space of the generated messages. */
#define NT       3 /* source topics */
#define NTIER    3 /* tiers */
#define NDC      2 /* datacenters */
#define NHOST    3 /* hosts */
#define NB       6 /* buckets */
#define NKEYS    (NB * NT * NTIER * NDC * NHOST)
#define W        600
#define MAX_DUPS 4096

static const char *brokers;
static char workdir[256];

/* What a failed test leaves behind, for teardown: collector processes, the
 * stream thread, a private database server. */
static pid_t live_pids[64];
static int n_live;
static char private_rundir[128], private_svc[16];
static int private_port;

typedef struct sums {
    uint64_t count, bytes, no_time, malformed;
} sums_t;

/* What was produced to one audit topic, and what the store must hold. */
typedef struct model {
    char id[96]; /* unique: source topics are <id>-src-<t> */
    char audit[128];
    int64_t base; /* first bucket */
    sums_t exp[NKEYS];
    uint64_t records;     /* produced to the audit topic */
    uint64_t undecodable; /* among them */
    uint64_t dups;        /* records whose uuid was produced before */
    uint64_t rng;
    /* Payloads kept to send again (duplicates). */
    char *saved[MAX_DUPS];
    size_t saved_len[MAX_DUPS];
    int n_saved;
} model_t;

static int key_of(int b, int t, int tier, int dc, int h)
{
    return (((b * NT + t) * NTIER + tier) * NDC + dc) * NHOST + h;
}

static uint64_t rnd(uint64_t *s)
{
    /* xorshift64*: deterministic per seed, good enough for test data. */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ULL;
}

static void model_init(model_t *md, const char *what, int partitions)
{
    char err[512];

    memset(md, 0, sizeof(*md));
    tu_unique_name(md->id, sizeof(md->id), what);
    snprintf(md->audit, sizeof(md->audit), "%s-audit", md->id);
    assert_int_equal(
        tu_create_topic(brokers, md->audit, partitions, err, sizeof(err)), 0);
    /* Recent buckets, so the collector's retention keeps them. */
    md->base = (time(NULL) / W) * W - NB * W;
    md->rng = (uint64_t)tu_now_ms() ^ ((uint64_t)getpid() << 32) ^ 0x9e37;
}

static void model_free(model_t *md)
{
    for (int i = 0; i < md->n_saved; i++)
        free(md->saved[i]);
    md->n_saved = 0;
}

/* ----------------------------------------------------------- producing */

static atomic_int delivery_errors;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk, (void)opaque;
    if (m->err) {
        fprintf(stderr, "delivery failed: %s\n", rd_kafka_err2str(m->err));
        atomic_fetch_add(&delivery_errors, 1);
    }
}

static rd_kafka_t *producer_new(void)
{
    char err[512];
    rd_kafka_conf_t *conf = tu_conf(
        brokers,
        (const char *const[]){"enable.idempotence", "true", "linger.ms", "10",
                              "queue.buffering.max.messages", "200000", NULL},
        err, sizeof(err));

    assert_non_null(conf);
    rd_kafka_conf_set_dr_msg_cb(conf, dr_cb);
    return tu_handle(RD_KAFKA_PRODUCER, conf);
}

static void produce(rd_kafka_t *rk, const char *topic, const char *key,
                    const void *val, size_t len)
{
    rd_kafka_resp_err_t err;

    do {
        err = rd_kafka_producev(
            rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(key, strlen(key)),
            RD_KAFKA_V_VALUE((void *)val, len),
            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
    } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
    assert_int_equal(err, 0);
}

static void producer_done(rd_kafka_t *rk)
{
    assert_int_equal(rd_kafka_flush(rk, 120000), 0);
    rd_kafka_destroy(rk);
    assert_int_equal(atomic_load(&delivery_errors), 0);
}

/* One audit message at a random key in the original Chaperone's form:
 * numbers as doubles, no totalBytes/noTimeCount/malformedCount, no sketch.
 * Added to the model; kept for re-sending when save is true. */
static void produce_original(model_t *md, rd_kafka_t *rk, bool save)
{
    uint64_t *r = &md->rng;
    int b = (int)(rnd(r) % NB), t = (int)(rnd(r) % NT);
    int tier = (int)(rnd(r) % NTIER), dc = (int)(rnd(r) % NDC);
    int h = (int)(rnd(r) % NHOST);
    uint64_t count = 1 + rnd(r) % 1000;
    char topic[160], uuid[CHP_UUID_MAX], buf[1024];
    int n;

    snprintf(topic, sizeof(topic), "%s-src-%d", md->id, t);
    chp_uuid_generate(uuid);
    n = snprintf(buf, sizeof(buf),
                 "{\"topicName\":\"%s\",\"timeBeginInSec\":%lld.0,"
                 "\"timeEndInSec\":%lld.0,\"count\":%llu.0,"
                 "\"meanLatency\":%.1f,\"latency95\":150.0,"
                 "\"latency99\":250.0,\"maxLatency\":300.0,"
                 "\"tier\":\"tier-%d\",\"datacenter\":\"dc-%d\","
                 "\"hostname\":\"host-%d\",\"uuid\":\"%s\"}",
                 topic, (long long)(md->base + b * W),
                 (long long)(md->base + (b + 1) * W), (unsigned long long)count,
                 (double)(rnd(r) % 100), tier, dc, h, uuid);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    md->exp[key_of(b, t, tier, dc, h)].count += count;
    produce(rk, md->audit, topic, buf, (size_t)n);
    md->records++;
    if (save && md->n_saved < MAX_DUPS) {
        md->saved[md->n_saved] = strdup(buf);
        md->saved_len[md->n_saved++] = (size_t)n;
    }
}

/* One audit message at a random key as the tracker (worker, client
 * library) sends it: chp_auditmsg_encode, version 2, a sketch on most. */
static void produce_v2(model_t *md, rd_kafka_t *rk, bool save)
{
    uint64_t *r = &md->rng;
    int b = (int)(rnd(r) % NB), t = (int)(rnd(r) % NT);
    int tier = (int)(rnd(r) % NTIER), dc = (int)(rnd(r) % NDC);
    int h = (int)(rnd(r) % NHOST);
    sums_t *e = &md->exp[key_of(b, t, tier, dc, h)];
    chp_auditmsg_t m;
    uint64_t neg = rnd(r) % 3 == 0 ? 1 : 0;
    int64_t lat = 5 + (int64_t)(rnd(r) % 2000);
    char *json = NULL;
    size_t len = 0;

    chp_auditmsg_init(&m);
    snprintf(m.topic, sizeof(m.topic), "%s-src-%d", md->id, t);
    m.time_begin = md->base + b * W;
    m.time_end = m.time_begin + W;
    m.count = 1 + rnd(r) % 1000;
    m.total_bytes = m.count * (50 + rnd(r) % 200);
    m.no_time_count = rnd(r) % (m.count / 10 + 1);
    m.malformed_count = rnd(r) % (m.count / 20 + 1);
    snprintf(m.tier, sizeof(m.tier), "tier-%d", tier);
    snprintf(m.datacenter, sizeof(m.datacenter), "dc-%d", dc);
    snprintf(m.hostname, sizeof(m.hostname), "host-%d", h);
    chp_uuid_generate(m.uuid);
    m.version = CHP_AUDITMSG_VERSION;
    m.negative_latency_count = neg;
    m.latency_sum_ms = (double)lat * (double)(m.count - neg);
    m.mean_latency = m.latency95 = m.latency99 = m.max_latency = (double)lat;
    /* A sketch on most, as the tracker sends; some without. */
    if (rnd(r) % 4) {
        m.sketch = chp_sketch_new();
        assert_non_null(m.sketch);
        chp_sketch_add(m.sketch, lat, m.count - neg);
        chp_sketch_add(m.sketch, -3, neg);
    }
    e->count += m.count;
    e->bytes += m.total_bytes;
    e->no_time += m.no_time_count;
    e->malformed += m.malformed_count;
    assert_int_equal(chp_auditmsg_encode(&m, &json, &len), CHP_OK);
    produce(rk, md->audit, m.topic, json, len);
    chp_auditmsg_clear(&m);
    md->records++;
    if (save && md->n_saved < MAX_DUPS) {
        md->saved[md->n_saved] = json;
        md->saved_len[md->n_saved++] = len;
    } else {
        free(json);
    }
}

/* n messages: 4 in 5 in the tracker's form, 1 in 5 in the original's;
 * every save_every-th kept for re-sending (0: none). */
static void produce_mix(model_t *md, rd_kafka_t *rk, int n, int save_every)
{
    for (int i = 0; i < n; i++) {
        bool save = save_every > 0 && i % save_every == 0;
        if (i % 5 == 4)
            produce_original(md, rk, save);
        else
            produce_v2(md, rk, save);
    }
}

/* Sends the kept payloads again: same uuid, so each must count once. */
static void produce_dups(model_t *md, rd_kafka_t *rk)
{
    char key[160];

    snprintf(key, sizeof(key), "%s-src-0", md->id);
    for (int i = 0; i < md->n_saved; i++) {
        produce(rk, md->audit, key, md->saved[i], md->saved_len[i]);
        free(md->saved[i]);
    }
    md->records += (uint64_t)md->n_saved;
    md->dups += (uint64_t)md->n_saved;
    md->n_saved = 0;
}

static void produce_undecodable(model_t *md, rd_kafka_t *rk)
{
    static const char *const bad[] = {
        "this is not JSON",
        "[1,2,3]",
        "{\"topicName\":\"x\"}",
        "{\"topicName\":\"x\",\"timeBeginInSec\":\"soon\",\"count\":1}",
        "{\"topicName\":\"x\",\"timeBeginInSec\":1478311200,\"count\":-5}",
        "",
    };

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        produce(rk, md->audit, "garbage", bad[i], strlen(bad[i]));
    md->records += sizeof(bad) / sizeof(bad[0]);
    md->undecodable += sizeof(bad) / sizeof(bad[0]);
}

/* ------------------------------------------------------------ checking */

typedef struct got {
    const model_t *md;
    sums_t sums[NKEYS];
    uint64_t unexpected;
    bool combined;
} got_t;

/* Index of s within "<prefix><digit>", or -1. */
static int suffix_digit(const char *s, const char *prefix, int n)
{
    size_t pl = strlen(prefix);

    if (strncmp(s, prefix, pl) || !s[pl] || s[pl + 1] || s[pl] < '0' ||
        s[pl] - '0' >= n)
        return -1;
    return s[pl] - '0';
}

static void on_row(const store_row_t *row, void *opaque)
{
    got_t *g = opaque;
    char prefix[160];
    int64_t off = row->time_begin - g->md->base;
    int t, tier, dc, h, b = (int)(off / W);

    snprintf(prefix, sizeof(prefix), "%s-src-", g->md->id);
    t = suffix_digit(row->topic, prefix, NT);
    tier = suffix_digit(row->tier, "tier-", NTIER);
    dc = suffix_digit(row->datacenter, "dc-", NDC);
    h = g->combined ? (strcmp(row->host, "combined") ? -1 : 0)
                    : suffix_digit(row->host, "host-", NHOST);
    if (t < 0 || tier < 0 || dc < 0 || h < 0 || off < 0 || off % W || b >= NB) {
        g->unexpected++;
        return;
    }
    sums_t *s = &g->sums[key_of(b, t, tier, dc, h)];
    s->count += row->count;
    s->bytes += row->total_bytes;
    s->no_time += row->no_time_count;
    s->malformed += row->malformed_count;
}

typedef struct db {
    store_t *s;
} db_t;

static void db_open(db_t *d, const char *url)
{
    char err[512];

    if (store_open(url, &d->s, err, sizeof(err)) != CHP_OK)
        fail_msg("store_open %s: %s", url, err);
}

static void db_close(db_t *d)
{
    if (d->s)
        store_close(d->s);
    d->s = NULL;
}

/* Compares the store with the model; 0 if equal, else -1 with why. */
static int compare(db_t *d, const model_t *md, bool combined, char *why,
                   size_t n)
{
    got_t *g = calloc(1, sizeof(*g));
    char err[512], topic[160];
    int rc = 0;

    assert_non_null(g);
    g->md = md;
    g->combined = combined;
    for (int t = 0; t < NT; t++) {
        snprintf(topic, sizeof(topic), "%s-src-%d", md->id, t);
        if (store_query(d->s, topic, md->base, md->base + NB * W, on_row, g,
                        err, sizeof(err)) != CHP_OK) {
            snprintf(why, n, "query: %.400s", err);
            free(g);
            return -1;
        }
    }
    if (g->unexpected) {
        snprintf(why, n, "%llu unexpected row(s)",
                 (unsigned long long)g->unexpected);
        rc = -1;
    }
    for (int k = 0; k < NKEYS && rc == 0; k++) {
        sums_t want = {0};
        if (combined && k % NHOST)
            continue;
        for (int h = 0; h < (combined ? NHOST : 1); h++) {
            const sums_t *e = &md->exp[k + h];
            want.count += e->count;
            want.bytes += e->bytes;
            want.no_time += e->no_time;
            want.malformed += e->malformed;
        }
        const sums_t *s = &g->sums[k];
        if (memcmp(&want, s, sizeof(want))) {
            snprintf(
                why, n,
                "key %d: stored count=%llu bytes=%llu noTime=%llu "
                "malformed=%llu, sent %llu/%llu/%llu/%llu",
                k, (unsigned long long)s->count, (unsigned long long)s->bytes,
                (unsigned long long)s->no_time,
                (unsigned long long)s->malformed,
                (unsigned long long)want.count, (unsigned long long)want.bytes,
                (unsigned long long)want.no_time,
                (unsigned long long)want.malformed);
            rc = -1;
        }
    }
    free(g);
    return rc;
}

/* Waits until the store equals the model; fails the test after timeout_ms
 * or as soon as the collector exits. */
static void wait_exact(db_t *d, const model_t *md, bool combined, proc_t *p,
                       int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    char why[512] = "";

    for (;;) {
        if (compare(d, md, combined, why, sizeof(why)) == 0)
            return;
        if (p && proc_exited(p)) {
            proc_dump_log(p);
            fail_msg("collector exited (status %d) before storing "
                     "everything: %s",
                     p->status, why);
        }
        if (tu_now_ms() > deadline) {
            if (p)
                proc_dump_log(p);
            fail_msg("store does not match what was sent after %d ms: %s",
                     timeout_ms, why);
        }
        tu_sleep_ms(300);
    }
}

/* -------------------------------------------------------- the collector */

typedef struct coll {
    proc_t p;
    int port;
    char log[512];
} coll_t;

/* Starts a collector on md's audit topic with the given group and URL and
 * extra key=value settings (NULL-terminated). */
static void coll_start(coll_t *c, const model_t *md, const char *group,
                       const char *url, const char *const *extra)
{
    char kv[24][600];
    const char *args[64];
    int n = 0, k = 0;

    c->port = httpc_free_port();
    assert_true(c->port > 0);
    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s", brokers);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", md->audit);
    snprintf(kv[k++], sizeof(kv[0]), "collector.group.id=%s", group);
    snprintf(kv[k++], sizeof(kv[0]), "db.url=%s", url);
    snprintf(kv[k++], sizeof(kv[0]), "http.port=%d", c->port);
    snprintf(kv[k++], sizeof(kv[0]), "collector.flush.interval.ms=200");
    snprintf(kv[k++], sizeof(kv[0]), "collector.retry.max.ms=2000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.session.timeout.ms=6000");
    snprintf(kv[k++], sizeof(kv[0]), "kafka.heartbeat.interval.ms=1000");
    for (; extra && *extra && k < 24; extra++)
        snprintf(kv[k++], sizeof(kv[0]), "%s", *extra);
    args[n++] = "collector";
    for (int i = 0; i < k; i++) {
        args[n++] = "-X";
        args[n++] = kv[i];
    }
    args[n] = NULL;
    snprintf(c->log, sizeof(c->log), "%s/%s.log", workdir, group);
    assert_int_equal(proc_start(&c->p, c->log, args), 0);
    if (n_live < (int)(sizeof(live_pids) / sizeof(live_pids[0])))
        live_pids[n_live++] = c->p.pid;
}

/* Value of a metric (summed over its labels), -1 if unreachable. */
static double metric(const coll_t *c, const char *name)
{
    httpc_resp_t r;
    double sum = 0;
    size_t nl = strlen(name);

    if (httpc_request(c->port, "GET", "/metrics", NULL, 0, 2000, &r) != 0)
        return -1;
    for (char *line = r.body; line && *line;) {
        char *next = strchr(line, '\n');
        if (!strncmp(line, name, nl) && (line[nl] == ' ' || line[nl] == '{')) {
            char *sp = strchr(line, ' ');
            if (sp)
                sum += strtod(sp + 1, NULL);
        }
        line = next ? next + 1 : NULL;
    }
    httpc_free(&r);
    return sum;
}

/* Waits until metric name reaches at least want; returns its value. */
static double wait_metric(coll_t *c, const char *name, double want,
                          int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    double v = -1;

    while (tu_now_ms() < deadline && !proc_exited(&c->p)) {
        if ((v = metric(c, name)) >= want)
            return v;
        tu_sleep_ms(100);
    }
    return v;
}

/* SIGTERM must end the collector within 30 s with status 0.  If it hangs,
 * the threads' stacks go to its log (when gdb is there) before SIGKILL. */
static void coll_stop_ok(coll_t *c)
{
    int64_t deadline = tu_now_ms() + 30000;
    int st;

    kill(c->p.pid, SIGTERM);
    while (!proc_exited(&c->p) && tu_now_ms() < deadline)
        tu_sleep_ms(20);
    if (!proc_exited(&c->p)) {
        char cmd[1200];
        snprintf(cmd, sizeof(cmd),
                 "gdb -p %d -batch -ex 'thread apply all bt' >>'%s' 2>&1",
                 (int)c->p.pid, c->log);
        if (system(cmd) != 0)
            fprintf(stderr, "(no stacks: gdb failed)\n");
    }
    st = proc_stop(&c->p, SIGKILL, 5000);

    if (st != 0)
        proc_dump_log(&c->p);
    assert_int_equal(st, 0);
}

static void sqlite_url(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "sqlite://%s/%s.db", workdir, name);
}

/* -------------------------------------------------- (a) exactness */

static void exactness(const char *url, const char *const *extra, bool combined)
{
    model_t *md = calloc(1, sizeof(*md));
    char group[160], group2[200];
    coll_t c;
    db_t d = {0};
    rd_kafka_t *rk;

    assert_non_null(md);
    model_init(md, "e2ecoll", 3);
    snprintf(group, sizeof(group), "%s-g", md->id);
    db_open(&d, url);

    /* 1: a mix, undecodable records, and 40 uuids twice in one go. */
    rk = producer_new();
    produce_mix(md, rk, 2000, 50);
    produce_undecodable(md, rk);
    produce_dups(md, rk);
    produce_mix(md, rk, 10, 1); /* kept for phase 2 */
    producer_done(rk);
    coll_start(&c, md, group, url, extra);
    wait_exact(&d, md, combined, &c.p, 60000);

    /* 2: the same uuids again, now already in the store. */
    rk = producer_new();
    produce_dups(md, rk);
    produce_mix(md, rk, 500, 0);
    producer_done(rk);
    wait_exact(&d, md, combined, &c.p, 60000);
    assert_true(wait_metric(&c, "chaperone_collector_records_consumed_total",
                            (double)md->records, 30000) == (double)md->records);
    assert_true(metric(&c, "chaperone_collector_records_undecodable_total") ==
                (double)md->undecodable);
    assert_true(metric(&c, "chaperone_collector_messages_duplicate_total") ==
                (double)md->dups);
    assert_true(metric(&c, "chaperone_collector_flushes_total") >= 2);
    coll_stop_ok(&c);

    /* 3: a restart resumes at the stored offsets: it reads only what is
     * new (the group's Kafka offsets are not what it trusts). */
    uint64_t before = md->records;
    snprintf(group2, sizeof(group2), "%s2", group);
    rk = producer_new();
    produce_mix(md, rk, 200, 0);
    producer_done(rk);
    coll_start(&c, md, group2, url, extra);
    wait_exact(&d, md, combined, &c.p, 60000);
    assert_true(wait_metric(&c, "chaperone_collector_records_consumed_total",
                            (double)(md->records - before),
                            30000) == (double)(md->records - before));
    tu_sleep_ms(500);
    assert_true(metric(&c, "chaperone_collector_records_consumed_total") ==
                (double)(md->records - before));
    coll_stop_ok(&c);

    db_close(&d);
    model_free(md);
    free(md);
}

static void test_exact_sqlite(void **state)
{
    char url[512];

    (void)state;
    sqlite_url(url, sizeof(url), "exact");
    exactness(url, NULL, true);
}

static void test_exact_mysql(void **state)
{
    const char *url = getenv("CHP_TEST_MYSQL_URL");

    (void)state;
    if (!url || !*url)
        skip();
    exactness(url, NULL, true);
}

static void test_exact_pgsql(void **state)
{
    const char *url = getenv("CHP_TEST_PG_URL");

    (void)state;
    if (!url || !*url)
        skip();
    /* Hosts kept apart here, so per-host keys are checked too. */
    exactness(url, (const char *const[]){"combine.hosts=false", NULL}, false);
}

static void test_exact_redis_dedup(void **state)
{
    const char *redis = getenv("CHP_TEST_REDIS_URL");
    char url[512], kv[600];

    (void)state;
    if (!redis || !*redis)
        skip();
    sqlite_url(url, sizeof(url), "redis");
    snprintf(kv, sizeof(kv), "redis.url=%s", redis);
    exactness(url, (const char *const[]){"dedup=redis", kv, NULL}, true);
}

/* ------------------------------------------------ live stream producer */

typedef struct stream {
    model_t *md;
    int total, rate_per_s;
    atomic_bool done;
    pthread_t th;
} stream_t;

static void *stream_main(void *arg)
{
    stream_t *s = arg;
    rd_kafka_t *rk = producer_new();
    int64_t t0 = tu_now_ms();

    for (int i = 0; rk && i < s->total; i += 500) {
        /* Every 100th kept, re-sent with the next chunk: duplicates that
         * land in the same batch or in a later one. */
        produce_mix(s->md, rk, 500, 100);
        produce_dups(s->md, rk);
        int64_t due = t0 + (int64_t)(i + 500) * 1000 / s->rate_per_s;
        rd_kafka_poll(rk, 0);
        while (tu_now_ms() < due)
            tu_sleep_ms(5);
    }
    if (rk) {
        rd_kafka_flush(rk, 120000);
        rd_kafka_destroy(rk);
    }
    atomic_store(&s->done, true);
    return NULL;
}

/* Global, not on a test's stack: a failing test longjmps away while the
 * thread still runs; teardown joins it. */
static stream_t g_stream;
static bool stream_running;

static void stream_start(stream_t *s, model_t *md, int total, int rate)
{
    stream_running = true;
    s->md = md;
    s->total = total;
    s->rate_per_s = rate;
    atomic_store(&s->done, false);
    assert_int_equal(pthread_create(&s->th, NULL, stream_main, s), 0);
}

static void stream_join(stream_t *s)
{
    pthread_join(s->th, NULL);
    stream_running = false;
    assert_int_equal(atomic_load(&delivery_errors), 0);
}

/* ---------------------------------------------------------- (b) crash */

static void crash(const char *url)
{
    model_t *md = calloc(1, sizeof(*md));
    char group[160];
    stream_t *s = &g_stream;
    coll_t c;
    db_t d = {0};
    int kills = 0;
    uint64_t seed = (uint64_t)tu_now_ms();

    assert_non_null(md);
    model_init(md, "e2ecrash", 3);
    snprintf(group, sizeof(group), "%s-g", md->id);
    db_open(&d, url);
    /* 200k audit messages (+ 1% re-sent) over ~25 s. */
    stream_start(s, md, 200000, 6000);
    char instance[200];
    /* Static membership: a restarted collector takes its predecessor's
     * place at once instead of waiting for its session to time out. */
    snprintf(instance, sizeof(instance), "kafka.group.instance.id=%s-i", group);
    const char *const extra[] = {"collector.flush.max.messages=2000", instance,
                                 NULL};
    while (kills < 6) {
        coll_start(&c, md, group, url, extra);
        /* Kill only once it is really ingesting... */
        if (wait_metric(&c, "chaperone_collector_records_consumed_total", 1,
                        30000) < 1) {
            proc_dump_log(&c.p);
            fail_msg("collector consumed nothing within 30 s");
        }
        /* ...at a random moment of it, spread over the stream. */
        tu_sleep_ms(300 + (int)(rnd(&seed) % 4200));
        if (atomic_load(&s->done))
            break;
        assert_false(proc_exited(&c.p));
        proc_stop(&c.p, SIGKILL, 5000);
        kills++;
    }
    assert_true(kills >= 5); /* all while the stream was still arriving */
    if (c.p.exited)
        coll_start(&c, md, group, url, extra);
    stream_join(s);
    wait_exact(&d, md, true, &c.p, 120000);
    coll_stop_ok(&c);
    db_close(&d);
    model_free(md);
    free(md);
}

static void test_crash_sqlite(void **state)
{
    char url[512];

    (void)state;
    sqlite_url(url, sizeof(url), "crash");
    crash(url);
}

static void test_crash_mysql(void **state)
{
    const char *url = getenv("CHP_TEST_MYSQL_URL");

    (void)state;
    if (!url || !*url)
        skip();
    crash(url);
}

/* ---------------------------------------------------- (e) rebalances */

/* Two collectors in one group while a stream arrives: the second one's
 * arrival and departure move partitions, each revocation flushes first. */
static void rebalance(const char *name, const char *strategy)
{
    model_t *md = calloc(1, sizeof(*md));
    char group[160], url[512], kv[200];
    stream_t *s = &g_stream;
    coll_t a, b;
    db_t d = {0};

    assert_non_null(md);
    model_init(md, "e2ereb", 3);
    snprintf(group, sizeof(group), "%s-g", md->id);
    sqlite_url(url, sizeof(url), name);
    snprintf(kv, sizeof(kv), "kafka.partition.assignment.strategy=%s",
             strategy);
    const char *const extra[] = {kv, NULL};
    db_open(&d, url);
    stream_start(s, md, 30000, 3000);
    coll_start(&a, md, group, url, extra);
    wait_metric(&a, "chaperone_collector_records_consumed_total", 1, 30000);
    tu_sleep_ms(2000);
    coll_start(&b, md, group, url, extra);
    /* Both own partitions once the group has settled. */
    assert_true(wait_metric(&b, "chaperone_collector_assigned_partitions", 1,
                            30000) >= 1);
    tu_sleep_ms(2000);
    coll_stop_ok(&b);
    stream_join(s);
    wait_exact(&d, md, true, &a.p, 60000);
    coll_stop_ok(&a);
    db_close(&d);
    model_free(md);
    free(md);
}

static void test_rebalance_eager(void **state)
{
    (void)state;
    rebalance("rebalance-eager", "range");
}

static void test_rebalance_cooperative(void **state)
{
    (void)state;
    rebalance("rebalance-coop", "cooperative-sticky");
}

/* --------------------------------------------------------- (c) outage */

/* Runs scripts/services.sh cmd svc against the private instance. */
static int services(const char *rundir, int port, const char *cmd,
                    const char *svc)
{
    const char *src = getenv("CHP_SOURCE_DIR");
    char line[1024];

    snprintf(line, sizeof(line),
             "CHP_RUN_DIR='%s' CHP_MARIADB_PORT=%d CHP_PG_PORT=%d "
             "'%s/scripts/services.sh' %s %s >>'%s/services.log' 2>&1",
             rundir, port, port, src ? src : ".", cmd, svc, workdir);
    return system(line);
}

static void outage(const char *svc, const char *scheme)
{
    model_t *md = calloc(1, sizeof(*md));
    char group[160], url[512], rundir[128];
    int port = httpc_free_port();
    stream_t *s = &g_stream;
    coll_t c;
    db_t d = {0};

    if (geteuid() != 0 || !getenv("CHP_SOURCE_DIR")) {
        free(md);
        fprintf(stderr, "SKIP: outage needs root and CHP_SOURCE_DIR\n");
        skip();
    }
    assert_non_null(md);
    /* A private server: stopping the shared one would fail other tests. */
    snprintf(rundir, sizeof(rundir), "/tmp/chpo-%d-%s", (int)getpid(), svc);
    snprintf(private_rundir, sizeof(private_rundir), "%s", rundir);
    snprintf(private_svc, sizeof(private_svc), "%s", svc);
    private_port = port;
    if (services(rundir, port, "start", svc) != 0)
        fail_msg("cannot start a private %s (see %s/services.log)", svc,
                 workdir);
    snprintf(url, sizeof(url),
             "%s://chaperone:chaperone@127.0.0.1:%d/chaperone", scheme, port);
    model_init(md, "e2eoutage", 3);
    snprintf(group, sizeof(group), "%s-g", md->id);
    db_open(&d, url);
    coll_start(&c, md, group, url,
               (const char *const[]){"collector.retry.max.ms=4000", NULL});
    /* ~45 s of stream: before, during and after the outage. */
    stream_start(s, md, 45000, 1000);
    if (wait_metric(&c, "chaperone_collector_flushes_total", 1, 30000) < 1) {
        proc_dump_log(&c.p);
        fail_msg("no flush before the outage");
    }
    db_close(&d);
    assert_int_equal(services(rundir, port, "pause", svc), 0);
    int64_t down = tu_now_ms();
    while (tu_now_ms() - down < 32000) {
        tu_sleep_ms(1000);
        if (proc_exited(&c.p)) {
            proc_dump_log(&c.p);
            fail_msg("collector exited during the outage (status %d)",
                     c.p.status);
        }
    }
    /* It noticed, kept its batch and paused; it did not give up. */
    assert_true(metric(&c, "chaperone_collector_flush_failures_total") >= 1);
    assert_true(metric(&c, "chaperone_collector_retrying") == 1);
    assert_int_equal(services(rundir, port, "resume", svc), 0);
    stream_join(s);
    db_open(&d, url);
    wait_exact(&d, md, true, &c.p, 90000);
    assert_false(proc_exited(&c.p)); /* never exited */
    assert_true(metric(&c, "chaperone_collector_retrying") == 0);
    coll_stop_ok(&c);
    db_close(&d);
    services(rundir, port, "stop", svc);
    rmdir(rundir);
    private_rundir[0] = '\0';
    model_free(md);
    free(md);
}

static void test_outage_mysql(void **state)
{
    (void)state;
    if (!getenv("CHP_TEST_MYSQL_URL") || !*getenv("CHP_TEST_MYSQL_URL"))
        skip();
    outage("mariadb", "mysql");
}

static void test_outage_pgsql(void **state)
{
    (void)state;
    if (!getenv("CHP_TEST_PG_URL") || !*getenv("CHP_TEST_PG_URL"))
        skip();
    outage("postgres", "postgresql");
}

/* ----------------------------------------------------- (d) percentiles */

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

typedef struct one_row {
    int n;
    store_stats_t st;
    uint64_t count;
} one_row_t;

static void on_one_row(const store_row_t *row, void *opaque)
{
    one_row_t *o = opaque;

    o->n++;
    o->count = row->count;
    store_row_stats(row, &o->st);
}

static void test_percentile_merge(void **state)
{
    enum { HOSTS = 3, EMITS = 4, PER = 2500, N = HOSTS * EMITS * PER };
    model_t *md = calloc(1, sizeof(*md));
    int64_t *all = malloc(N * sizeof(*all));
    char url[512], group[160], topic[160], path[512];
    uint64_t seed = 42;
    double sum = 0, column_p99 = -1;
    one_row_t o = {0};
    rd_kafka_t *rk;
    coll_t c;
    db_t d = {0};
    int k = 0;

    (void)state;
    assert_non_null(md);
    assert_non_null(all);
    model_init(md, "e2epct", 1);
    snprintf(group, sizeof(group), "%s-g", md->id);
    snprintf(topic, sizeof(topic), "%s-src-0", md->id);
    sqlite_url(url, sizeof(url), "pct");
    rk = producer_new();
    for (int h = 0; h < HOSTS; h++) {
        for (int e = 0; e < EMITS; e++) {
            chp_auditmsg_t m;
            char *json;
            size_t len;

            chp_auditmsg_init(&m);
            snprintf(m.topic, sizeof(m.topic), "%s", topic);
            m.time_begin = md->base;
            m.time_end = md->base + W;
            snprintf(m.tier, sizeof(m.tier), "tier-0");
            snprintf(m.datacenter, sizeof(m.datacenter), "dc-0");
            snprintf(m.hostname, sizeof(m.hostname), "host-%d", h);
            chp_uuid_generate(m.uuid);
            m.version = CHP_AUDITMSG_VERSION;
            m.sketch = chp_sketch_new();
            for (int i = 0; i < PER; i++) {
                /* Fast host, slow host, very slow and spread host. */
                uint64_t r = rnd(&seed);
                int64_t lat =
                    h == 0   ? 1 + (int64_t)(r % 200)
                    : h == 1 ? 300 + (int64_t)(r % 1500)
                             : 2000 + (int64_t)((r % 1000) * (r % 1000) / 50);
                chp_sketch_add(m.sketch, lat, 1);
                all[k++] = lat;
                m.latency_sum_ms += (double)lat;
                sum += (double)lat;
            }
            m.count = PER;
            m.total_bytes = PER * 100;
            m.max_latency = (double)chp_sketch_max(m.sketch);
            m.latency95 = chp_sketch_quantile(m.sketch, 0.95);
            m.latency99 = chp_sketch_quantile(m.sketch, 0.99);
            m.mean_latency = m.latency_sum_ms / PER;
            assert_int_equal(chp_auditmsg_encode(&m, &json, &len), CHP_OK);
            produce(rk, md->audit, topic, json, len);
            free(json);
            chp_auditmsg_clear(&m);
        }
    }
    producer_done(rk);
    qsort(all, N, sizeof(*all), cmp_i64);
    /* The convention of the sketch and of DDSketch: rank floor(q(n-1)). */
    double p99 = (double)all[(size_t)(0.99 * (N - 1))];
    double p95 = (double)all[(size_t)(0.95 * (N - 1))];

    coll_start(&c, md, group, url, NULL);
    db_open(&d, url);
    int64_t deadline = tu_now_ms() + 60000;
    while (o.count < N && tu_now_ms() < deadline && !proc_exited(&c.p)) {
        char err[256];
        memset(&o, 0, sizeof(o));
        assert_int_equal(store_query(d.s, topic, md->base, md->base + W,
                                     on_one_row, &o, err, sizeof(err)),
                         CHP_OK);
        tu_sleep_ms(200);
    }
    coll_stop_ok(&c);
    assert_int_equal(o.n, 1); /* the three hosts combined */
    assert_int_equal(o.count, N);
    fprintf(stderr, "p99 stored %.1f exact %.1f; p95 %.1f / %.1f\n", o.st.p99,
            p99, o.st.p95, p95);
    assert_true(fabs(o.st.p99 - p99) <= 0.01 * p99);
    assert_true(fabs(o.st.p95 - p95) <= 0.01 * p95);
    assert_true(o.st.max == (double)all[N - 1]);
    assert_true(fabs(o.st.mean - sum / N) <= 1e-9 * (sum / N));

    /* The column itself, as Grafana or SQL would read it. */
    {
        sqlite3 *db;
        sqlite3_stmt *st;

        snprintf(path, sizeof(path), "%s/pct.db", workdir);
        assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
                         SQLITE_OK);
        assert_int_equal(
            sqlite3_prepare_v2(db,
                               "SELECT latency_p99 FROM audit_rows WHERE "
                               "topic = ?1",
                               -1, &st, NULL),
            SQLITE_OK);
        sqlite3_bind_text(st, 1, topic, -1, SQLITE_STATIC);
        if (sqlite3_step(st) == SQLITE_ROW)
            column_p99 = sqlite3_column_double(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(db);
        assert_true(fabs(column_p99 - p99) <= 0.01 * p99);
    }
    db_close(&d);
    model_free(md);
    free(md);
    free(all);
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < n_live; i++) {
        if (kill(live_pids[i], SIGKILL) == 0)
            waitpid(live_pids[i], NULL, 0);
    }
    n_live = 0;
    if (stream_running)
        stream_join(&g_stream);
    if (private_rundir[0]) {
        services(private_rundir, private_port, "stop", private_svc);
        rmdir(private_rundir);
        private_rundir[0] = '\0';
    }
    return 0;
}

#define TEST(f) cmocka_unit_test_teardown(f, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TEST(test_exact_sqlite),          TEST(test_exact_mysql),
        TEST(test_exact_pgsql),           TEST(test_exact_redis_dedup),
        TEST(test_percentile_merge),      TEST(test_rebalance_eager),
        TEST(test_rebalance_cooperative), TEST(test_crash_sqlite),
        TEST(test_crash_mysql),           TEST(test_outage_mysql),
        TEST(test_outage_pgsql),
    };
    char err[512];

    brokers = tu_brokers();
    if (tu_brokers_answer(brokers, 10000, err, sizeof(err)) != 0)
        tu_skip("%s", err);
    tu_fresh_workdir("e2e-collector", workdir, sizeof(workdir));
    /* CHP_TEST_FILTER=test_crash* runs a subset while working on one. */
    if (getenv("CHP_TEST_FILTER"))
        cmocka_set_test_filter(getenv("CHP_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
