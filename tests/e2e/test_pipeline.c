/* E2E (scripts/pipeline.sh): the real multi-datacenter pipeline.  Two
 * regional clusters (dc1, dc2) and an aggregate cluster, MirrorMaker 2
 * replicating both into the aggregate (orders -> dc1.orders, dc2.orders);
 * producers audited by the interceptor plugin (kcat) in each datacenter, a
 * worker per regional cluster (kafka-regional), a worker on the aggregate
 * (kafka-aggregate, mapping dc1./dc2. back to the source topic), a consumer
 * with the plugin on the aggregate (consumer-etl), a collector per cluster
 * writing one SQLite database (one audit topic name everywhere; the
 * collectors are restarted half-way and must resume from their own
 * cluster's offsets).  Each fault lives in its own bucket of event
 * time and must be found exactly at its hop with exactly its count, every
 * other hop complete:
 *   B0  nothing wrong
 *   B1  200 records deleted from dc1 while MirrorMaker was stopped
 *   B2  37 events counted by producer@dc2 but never sent
 *   B3  MirrorMaker killed with -9 mid-stream and restarted, plus 150
 *       records written straight into the aggregate: duplication equal to
 *       what the aggregate really holds
 *   B4  the consumer stops 150 records before the end
 * Needs CHP_TEST_PIPE_DC1/DC2/AGG (scripts/pipeline.sh env); 77 without. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collector/store.h"
#include "testutil.h"
#include "httpc.h"
#include <jansson.h>
#include "proc.h"
#include "report/pipeline.h"
#include "testutil.h"

#define WAIT_MS 180000
#define N_PROCS 9

static const char *dc1, *dc2, *agg, *src_dir, *bin_dir;
static char topic[128], workdir[512], dburl[700], plugin[1024];
/* One audit topic name in every cluster: the collectors key what they
 * store about their source by cluster (collector.cluster). */
static char audit_topic[160];
static int64_t base; /* B0's start */
static proc_t procs[N_PROCS];
static int n_procs;
static bool passed; /* the work directory is kept for a failed run */
static const char *const pipeline =
    "producer,kafka-regional,kafka-aggregate,consumer-etl";

static int64_t bucket(int k)
{
    return base + 600 * k;
}

/* ------------------------------------------------------------ shell */

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    rc = system(cmd);
    return rc == -1 ? -1 : WEXITSTATUS(rc);
}

/* The number printed by a shell command, -1 if none. */
static long sh_num(const char *cmd)
{
    FILE *p = popen(cmd, "r");
    long v = -1;

    if (!p)
        return -1;
    if (fscanf(p, "%ld", &v) != 1)
        v = -1;
    pclose(p);
    return v;
}

static void pipeline_sh(const char *args)
{
    if (sh("'%s/scripts/pipeline.sh' %s >>'%s/pipeline-sh.log' 2>&1", src_dir,
           args, workdir) != 0)
        fail_msg("scripts/pipeline.sh %s failed; see %s/pipeline-sh.log", args,
                 workdir);
}

/* Writes n JSON events of bucket k (marker "b":k) to a file; returns its
 * path. */
static const char *events(int k, int n, const char *dc)
{
    static char path[700];
    FILE *f;

    snprintf(path, sizeof(path), "%s/events-%d-%s-%d.txt", workdir, k, dc, n);
    assert_non_null(f = fopen(path, "w"));
    for (int i = 0; i < n; i++)
        fprintf(f, "{\"ts\":%" PRId64 ",\"b\":%d,\"dc\":\"%s\",\"i\":%d}\n",
                bucket(k) + i % 600, k, dc, i);
    fclose(f);
    return path;
}

/* kcat with the plugin as tier producer in dc; partition -1: the
 * partitioner's choice.  Returns kcat's exit status. */
static int produce(const char *brokers, const char *dc, const char *audit,
                   int k, int n, int partition)
{
    char part[32] = "";

    if (partition >= 0)
        snprintf(part, sizeof(part), "-p %d", partition);
    return sh("kcat -b %s -P -t %s %s -l '%s' -X plugin.library.paths=%s "
              "-X chaperone.tier=producer -X chaperone.datacenter=%s "
              "-X chaperone.audit.topic=%s -X chaperone.report.interval.ms=500 "
              ">>'%s/kcat.log' 2>&1",
              brokers, topic, part, events(k, n, dc), plugin, dc, audit,
              workdir);
}

/* Records of bucket k in a topic of the aggregate. */
static long held(const char *t, int k)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd),
             "kcat -b %s -C -t %s -o beginning -e -q -f '%%s\\n' | "
             "grep -c '\"b\":%d,'",
             agg, t, k);
    return sh_num(cmd);
}

/* The end offset of partition 0 of t on the aggregate, -1 on error:
 * cheap enough to poll while MirrorMaker copies. */
static int64_t end_offset(rd_kafka_t *rk, const char *t)
{
    int64_t lo = 0, hi = -1;

    if (rd_kafka_query_watermark_offsets(rk, t, 0, &lo, &hi, 10000))
        return -1;
    return hi;
}

static long held_all(const char *t)
{
    char cmd[1024];

    snprintf(cmd, sizeof(cmd), "kcat -b %s -C -t %s -o beginning -e -q | wc -l",
             agg, t);
    return sh_num(cmd);
}

/* ------------------------------------------------------------ daemons */

/* Starts chaperone cmd with kv; returns its HTTP port. */
static int start(const char *cmd, const char *name, const char *const *kv)
{
    char port[64], log[700];
    const char *args[40];
    int n = 0, http = httpc_free_port();

    assert_true(n_procs < N_PROCS);
    assert_true(http > 0);
    snprintf(port, sizeof(port), "http.port=%d", http);
    args[n++] = cmd;
    for (; *kv; kv++) {
        args[n++] = "-X";
        args[n++] = *kv;
    }
    args[n++] = "-X";
    args[n++] = port;
    args[n] = NULL;
    snprintf(log, sizeof(log), "%s/%s.log", workdir, name);
    assert_int_equal(proc_start(&procs[n_procs++], log, args), 0);
    return http;
}

static void worker(const char *name, const char *brokers, const char *audit,
                   const char *tier, const char *dc, const char *topics,
                   const char *map)
{
    char kv[12][400];
    const char *v[13];
    int k = 0;

    snprintf(kv[k++], sizeof(kv[0]), "kafka.bootstrap.servers=%s", brokers);
    snprintf(kv[k++], sizeof(kv[0]), "audit.topic=%s", audit);
    snprintf(kv[k++], sizeof(kv[0]), "worker.topics=%s", topics);
    snprintf(kv[k++], sizeof(kv[0]), "worker.group.id=%s-%s", name, topic);
    snprintf(kv[k++], sizeof(kv[0]), "worker.instance=%s", name);
    snprintf(kv[k++], sizeof(kv[0]), "worker.use.registry=false");
    snprintf(kv[k++], sizeof(kv[0]), "worker.topics.refresh.ms=1000");
    snprintf(kv[k++], sizeof(kv[0]), "report.interval.ms=500");
    snprintf(kv[k++], sizeof(kv[0]), "tier=%s", tier);
    snprintf(kv[k++], sizeof(kv[0]), "datacenter=%s", dc);
    snprintf(kv[k++], sizeof(kv[0]), "topic.map.strip.regex=%s", map);
    for (int i = 0; i < k; i++)
        v[i] = kv[i];
    v[k] = NULL;
    start("worker", name, v);
}

/* One collector per cluster (a worker's audit messages stay in its own
 * cluster, in one transaction with its offsets), all writing one database;
 * each stores its audit-topic offsets under its cluster's id. */
static int collector(const char *name, const char *group, const char *brokers,
                     const char *audit)
{
    char kv[6][800];
    const char *v[7];

    snprintf(kv[0], sizeof(kv[0]), "kafka.bootstrap.servers=%s", brokers);
    snprintf(kv[1], sizeof(kv[0]), "audit.topic=%s", audit);
    snprintf(kv[2], sizeof(kv[0]), "collector.group.id=%s-%s", group, topic);
    snprintf(kv[3], sizeof(kv[0]), "db.url=%s", dburl);
    snprintf(kv[4], sizeof(kv[0]), "collector.flush.interval.ms=200");
    snprintf(kv[5], sizeof(kv[0]), "report.pipeline=%s", pipeline);
    for (int i = 0; i < 6; i++)
        v[i] = kv[i];
    v[6] = NULL;
    return start("collector", name, v);
}

/* ------------------------------------------------------------ the DB */

typedef struct count_q {
    const char *tier, *dc;
    int64_t begin;
    uint64_t sum;
} count_q_t;

static void on_row(const store_row_t *row, void *opaque)
{
    count_q_t *q = opaque;

    if (row->time_begin == q->begin && !strcmp(row->tier, q->tier) &&
        (!q->dc || !strcmp(row->datacenter, q->dc)))
        q->sum += row->count;
}

/* Stored count of tier (in dc, NULL: all) in bucket k; -1 on error. */
static long stored(const char *tier, const char *dc, int k)
{
    store_t *s;
    count_q_t q = {.tier = tier, .dc = dc, .begin = bucket(k)};
    char err[512];
    long v = -1;

    if (store_open(dburl, &s, err, sizeof(err)) != CHP_OK)
        return -1;
    if (store_query(s, topic, bucket(k), bucket(k) + 1, on_row, &q, err,
                    sizeof(err)) == CHP_OK)
        v = (long)q.sum;
    store_close(s);
    return v;
}

static void wait_stored(const char *tier, const char *dc, int k, long want)
{
    int64_t deadline = tu_now_ms() + WAIT_MS;
    long v = -1;

    while (tu_left_ms(deadline) > 0) {
        if ((v = stored(tier, dc, k)) == want)
            return;
        tu_sleep_ms(250);
    }
    for (int i = 0; i < n_procs; i++)
        proc_dump_log(&procs[i]);
    fail_msg("bucket B%d: %s@%s stored %ld, expected %ld", k, tier,
             dc ? dc : "*", v, want);
}

static void wait_held(const char *t, int k, long want)
{
    int64_t deadline = tu_now_ms() + WAIT_MS;
    long v = -1;

    while (tu_left_ms(deadline) > 0) {
        if ((v = held(t, k)) == want)
            return;
        tu_sleep_ms(500);
    }
    fail_msg("aggregate %s holds %ld records of B%d, expected %ld", t, v, k,
             want);
}

/* ------------------------------------------------------------ phases */

static void expect_hop(const rep_pipe_t *p, size_t hop, int k, size_t d,
                       uint64_t up, uint64_t down)
{
    long b = -1;
    const rep_hop_cell_t *c;

    for (size_t i = 0; i < p->n_buckets; i++)
        if (p->begin[i] == bucket(k))
            b = (long)i;
    if (b < 0)
        fail_msg("bucket B%d missing from the pipeline result", k);
    c = rep_hop_cell(&p->hops[hop], (size_t)b, d);
    if (c->up != up || c->down != down ||
        c->loss != (up > down ? up - down : 0) ||
        c->duplicated != (down > up ? down - up : 0))
        fail_msg("B%d hop %zu (%s) datacenter %s: upstream %" PRIu64
                 " downstream %" PRIu64 " loss %" PRIu64 " duplicated %" PRIu64
                 ", expected %" PRIu64 " -> %" PRIu64,
                 k, hop, p->spec.tiers[hop], rep_hop_dc(&p->hops[hop], d),
                 c->up, c->down, c->loss, c->duplicated, up, down);
}

/* Runs a chaperone command, its stdout into out; returns the status. */
static int chaperone(const char *args, char *out, size_t size)
{
    char cmd[2048];
    FILE *p;
    size_t n;
    int rc;

    snprintf(cmd, sizeof(cmd), "'%s/chaperone' %s -X 'db.url=%s'", bin_dir,
             args, dburl);
    assert_non_null(p = popen(cmd, "r"));
    n = fread(out, 1, size - 1, p);
    out[n] = '\0';
    rc = pclose(p);
    return WEXITSTATUS(rc);
}

static void test_pipeline_faults(void **state)
{
    char t1[200], t2[200], err[512], out[16384], args[1024], want[1024];
    const char *map = "^(dc1|dc2)\\.";
    long dups, total_dc1, total_dc2;
    int64_t t_start = tu_now_ms();
    int api_port;
    rep_pipe_spec_t spec;
    rep_pipe_t p;
    store_t *s;

    (void)state;
    snprintf(t1, sizeof(t1), "dc1.%s", topic);
    snprintf(t2, sizeof(t2), "dc2.%s", topic);
    assert_int_equal(tu_create_topic(dc1, topic, 1, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(dc2, topic, 1, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(agg, t1, 1, err, sizeof(err)), 0);
    assert_int_equal(tu_create_topic(agg, t2, 1, err, sizeof(err)), 0);
    pipeline_sh("mm2-start");
    collector("collector-dc1", "coll-dc1", dc1, audit_topic);
    collector("collector-dc2", "coll-dc2", dc2, audit_topic);
    api_port = collector("collector-agg", "coll-agg", agg, audit_topic);
    worker("worker-dc1", dc1, audit_topic, "kafka-regional", "dc1", topic, "");
    worker("worker-dc2", dc2, audit_topic, "kafka-regional", "dc2", topic, "");
    snprintf(args, sizeof(args), "%s,%s", t1, t2);
    worker("worker-agg", agg, audit_topic, "kafka-aggregate", "aggregate", args,
           map);

    /* B0: nothing wrong. */
    assert_int_equal(produce(dc1, "dc1", audit_topic, 0, 1000, -1), 0);
    assert_int_equal(produce(dc2, "dc2", audit_topic, 0, 500, -1), 0);
    wait_held(t1, 0, 1000);
    wait_held(t2, 0, 500);
    wait_stored("kafka-aggregate", NULL, 0, 1500);
    wait_stored("kafka-regional", "dc1", 0, 1000);

    /* B1: 300 records in dc1 while MirrorMaker is stopped, counted by the
     * regional worker, then the first 200 of them deleted (offsets 1000 to
     * 1199: everything before 1200) before MirrorMaker copies them. */
    pipeline_sh("mm2-stop");
    assert_int_equal(produce(dc1, "dc1", audit_topic, 1, 300, -1), 0);
    wait_stored("kafka-regional", "dc1", 1, 300);
    snprintf(args, sizeof(args), "delete-records dc1 %s 0 1200", topic);
    pipeline_sh(args);
    pipeline_sh("mm2-start");
    wait_held(t1, 1, 100);

    /* B2: 37 events counted by producer@dc2 but never sent (a partition
     * that does not exist: delivery fails, kcat exits 1). */
    assert_int_equal(produce(dc2, "dc2", audit_topic, 2, 500, -1), 0);
    assert_int_not_equal(produce(dc2, "dc2", audit_topic, 2, 37, 5), 0);
    wait_held(t2, 2, 500);

    /* The three collectors restarted: each resumes from its own cluster's
     * offsets (the same audit topic name and partition in every cluster),
     * or the totals below would be off. */
    for (int i = 0; i < 3; i++)
        assert_int_equal(proc_stop(&procs[i], SIGTERM, 60000), 0);
    collector("collector-dc1b", "coll-dc1", dc1, audit_topic);
    collector("collector-dc2b", "coll-dc2", dc2, audit_topic);
    api_port = collector("collector-aggb", "coll-agg", agg, audit_topic);

    /* B3: 150 records written straight into the aggregate, and
     * MirrorMaker killed with -9 while it copies 3000 records, then
     * restarted: it copies again what it had not committed. */
    assert_int_equal(sh("kcat -b %s -P -t %s -l '%s' >>'%s/kcat.log' 2>&1", agg,
                        t2, events(3, 150, "agg"), workdir),
                     0);
    pipeline_sh("mm2-stop");
    assert_int_equal(produce(dc1, "dc1", audit_topic, 3, 3000, -1), 0);
    {
        rd_kafka_t *rk = tu_producer(agg, NULL);
        int64_t deadline = tu_now_ms() + WAIT_MS, before;
        assert_non_null(rk);
        before = end_offset(rk, t1);
        assert_true(before >= 0);
        pipeline_sh("mm2-start");
        while (end_offset(rk, t1) <= before && tu_left_ms(deadline) > 0)
            tu_sleep_ms(5);
        rd_kafka_destroy(rk);
    }
    pipeline_sh("mm2-kill");
    print_message("B3: MirrorMaker killed (-9) with %ld of 3000 copied\n",
                  held(t1, 3));
    pipeline_sh("mm2-start");

    /* B4: after B3 in dc1, so once B4 is in the aggregate, MirrorMaker
     * has copied B3 again as far as it will. */
    assert_int_equal(produce(dc1, "dc1", audit_topic, 4, 400, -1), 0);
    wait_held(t1, 4, 400);
    dups = held(t1, 3) - 3000;
    assert_true(dups >= 0);
    print_message("B3: the aggregate holds %ld + 150 duplicates\n", dups);

    /* The consumer reads everything but the last 150 records of dc1: B4's. */
    total_dc1 = held_all(t1);
    total_dc2 = held_all(t2);
    assert_int_equal(total_dc1, 1000 + 100 + 3000 + dups + 400);
    assert_int_equal(total_dc2, 500 + 500 + 150);
    /* No chaperone.tier: the plugin's default, consumer-<group.id>. */
    assert_int_equal(
        sh("kcat -b %s -C -t %s -o beginning -e -q -X group.id=etl "
           "-X plugin.library.paths=%s "
           "-X chaperone.datacenter=aggregate -X chaperone.audit.topic=%s "
           "-X 'chaperone.topic.map.strip.regex=%s' >/dev/null "
           "2>>'%s/kcat.log'",
           agg, t2, plugin, audit_topic, map, workdir),
        0);
    assert_int_equal(
        sh("kcat -b %s -C -t %s -o beginning -c %ld -q -X group.id=etl "
           "-X plugin.library.paths=%s "
           "-X chaperone.datacenter=aggregate -X chaperone.audit.topic=%s "
           "-X 'chaperone.topic.map.strip.regex=%s' >/dev/null "
           "2>>'%s/kcat.log'",
           agg, t1, total_dc1 - 150, plugin, audit_topic, map, workdir),
        0);

    /* Everything stored. */
    wait_stored("producer", "dc2", 2, 537);
    wait_stored("kafka-regional", "dc2", 2, 500);
    wait_stored("kafka-regional", "dc1", 3, 3000);
    wait_stored("kafka-regional", "dc1", 4, 400);
    wait_stored("kafka-aggregate", NULL, 1, 100);
    wait_stored("kafka-aggregate", NULL, 2, 500);
    wait_stored("kafka-aggregate", NULL, 3, 3150 + dups);
    wait_stored("kafka-aggregate", NULL, 4, 400);
    wait_stored("consumer-etl", NULL, 0, 1500);
    wait_stored("consumer-etl", NULL, 1, 100);
    wait_stored("consumer-etl", NULL, 2, 500);
    wait_stored("consumer-etl", NULL, 3, 3150 + dups);
    wait_stored("consumer-etl", NULL, 4, 250);

    /* Every hop of every bucket, exactly. */
    assert_int_equal(rep_pipe_spec_parse(pipeline, &spec, err, sizeof(err)),
                     CHP_OK);
    assert_int_equal(store_open(dburl, &s, err, sizeof(err)), CHP_OK);
    assert_int_equal(rep_pipe_load(s, topic, bucket(0), bucket(5), &spec, &p,
                                   err, sizeof(err)),
                     CHP_OK);
    store_close(s);
    assert_int_equal(p.n_buckets, 5);
    assert_true(p.hops[0].per_dc);
    assert_string_equal(rep_hop_dc(&p.hops[0], 0), "dc1");
    assert_string_equal(rep_hop_dc(&p.hops[0], 1), "dc2");
    assert_false(p.hops[1].per_dc);
    assert_string_equal(rep_hop_dc(&p.hops[1], 0), "dc1+dc2");
    assert_true(p.hops[2].per_dc);
    assert_string_equal(rep_hop_dc(&p.hops[2], 0), "aggregate");
    /* producer -> kafka-regional, per datacenter */
    expect_hop(&p, 0, 0, 0, 1000, 1000);
    expect_hop(&p, 0, 0, 1, 500, 500);
    expect_hop(&p, 0, 1, 0, 300, 300);
    expect_hop(&p, 0, 1, 1, 0, 0);
    expect_hop(&p, 0, 2, 0, 0, 0);
    expect_hop(&p, 0, 2, 1, 537, 500); /* 37 lost at producer@dc2 */
    expect_hop(&p, 0, 3, 0, 3000, 3000);
    expect_hop(&p, 0, 3, 1, 0, 0);
    expect_hop(&p, 0, 4, 0, 400, 400);
    expect_hop(&p, 0, 4, 1, 0, 0);
    /* kafka-regional -> kafka-aggregate, summed (fan-in) */
    expect_hop(&p, 1, 0, 0, 1500, 1500);
    expect_hop(&p, 1, 1, 0, 300, 100); /* 200 deleted before MirrorMaker */
    expect_hop(&p, 1, 2, 0, 500, 500);
    expect_hop(&p, 1, 3, 0, 3000, (uint64_t)(3150 + dups)); /* duplicated */
    expect_hop(&p, 1, 4, 0, 400, 400);
    /* kafka-aggregate -> consumer-etl */
    expect_hop(&p, 2, 0, 0, 1500, 1500);
    expect_hop(&p, 2, 1, 0, 100, 100);
    expect_hop(&p, 2, 2, 0, 500, 500);
    expect_hop(&p, 2, 3, 0, (uint64_t)(3150 + dups), (uint64_t)(3150 + dups));
    expect_hop(&p, 2, 4, 0, 400, 250); /* the consumer stopped early */
    rep_pipe_free(&p);

    /* check names each hop, datacenter and count, and exits 2. */
    snprintf(args, sizeof(args),
             "check --topic %s --from %" PRId64 " --to %" PRId64
             " --pipeline %s",
             topic, bucket(0), bucket(5), pipeline);
    assert_int_equal(chaperone(args, out, sizeof(out)), 2);
    print_message("%s", out);
    {
        char when[REP_TIME_MAX], line[1024];
        const char *lines[4];
        char buf[4][1024];
        rep_format_time(bucket(1), when);
        snprintf(buf[0], sizeof(buf[0]),
                 "LOSS topic=%s bucket=%s hop=kafka-regional->kafka-aggregate "
                 "datacenter=dc1+dc2 upstream=300 downstream=100 loss=200 "
                 "duplicated=0 loss_percent=66.6667\n",
                 topic, when);
        rep_format_time(bucket(2), when);
        snprintf(buf[1], sizeof(buf[1]),
                 "LOSS topic=%s bucket=%s hop=producer->kafka-regional "
                 "datacenter=dc2 upstream=537 downstream=500 loss=37 "
                 "duplicated=0 loss_percent=6.8901\n",
                 topic, when);
        rep_format_time(bucket(3), when);
        snprintf(buf[2], sizeof(buf[2]),
                 "DUPLICATION topic=%s bucket=%s "
                 "hop=kafka-regional->kafka-aggregate datacenter=dc1+dc2 "
                 "upstream=3000 downstream=%ld loss=0 duplicated=%ld "
                 "duplicated_percent=%.4f\n",
                 topic, when, 3150 + dups, 150 + dups,
                 100.0 * (double)(150 + dups) / 3000.0);
        rep_format_time(bucket(4), when);
        snprintf(buf[3], sizeof(buf[3]),
                 "LOSS topic=%s bucket=%s hop=kafka-aggregate->consumer-etl "
                 "datacenter=aggregate upstream=400 downstream=250 loss=150 "
                 "duplicated=0 loss_percent=37.5000\n",
                 topic, when);
        for (int i = 0; i < 4; i++) {
            lines[i] = buf[i];
            if (!strstr(out, lines[i]))
                fail_msg("check's output lacks: %s", lines[i]);
        }
        snprintf(line, sizeof(line),
                 "FAIL: 4 violation(s) in 4 of 5 final bucket(s): 387 "
                 "message(s) lost in 3 hop cell(s), %ld duplicated in 1",
                 150 + dups);
        if (!strstr(out, line))
            fail_msg("check's output lacks: %s", line);
    }
    snprintf(args, sizeof(args),
             "report --topic %s --from %" PRId64 " --to %" PRId64
             " --pipeline %s",
             topic, bucket(0), bucket(5), pipeline);
    assert_int_equal(chaperone(args, out, sizeof(out)), 0);
    fputs(out, stdout); /* print_message cuts long texts */
    /* report's totals line per hop, as CSV. */
    snprintf(args, sizeof(args),
             "report --topic %s --from %" PRId64 " --to %" PRId64
             " --pipeline %s --format csv",
             topic, bucket(0), bucket(5), pipeline);
    assert_int_equal(chaperone(args, out, sizeof(out)), 0);
    snprintf(want, sizeof(want),
             "total,%" PRId64 ",%" PRId64 ",kafka-regional,kafka-aggregate,"
             "dc1+dc2,0,5700,%ld,200,%ld,",
             bucket(0), bucket(5), 5650 + dups, 150 + dups);
    if (!strstr(out, want))
        fail_msg("report's CSV lacks \"%s\":\n%s", want, out);
    /* The same through the collector's query API (report.pipeline set). */
    {
        httpc_resp_t r;
        char path[512];
        json_t *doc, *v;
        snprintf(path, sizeof(path),
                 "/api/v1/topics/%s/pipeline?from=%" PRId64 "&to=%" PRId64,
                 topic, bucket(0), bucket(5));
        assert_int_equal(
            httpc_request(api_port, "GET", path, NULL, 0, 30000, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(doc = json_loads(r.body, 0, NULL));
        v = json_object_get(doc, "violations");
        assert_int_equal(json_array_size(v), 4);
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(v, 2), "fault")),
            "DUPLICATION");
        assert_int_equal(json_integer_value(json_object_get(
                             json_array_get(v, 2), "duplicated")),
                         150 + dups);
        assert_int_equal(
            json_integer_value(json_object_get(json_array_get(v, 3), "loss")),
            150);
        json_decref(doc);
        httpc_free(&r);
        snprintf(path, sizeof(path),
                 "/pipeline/%s?from=%" PRId64 "&to=%" PRId64 "&hop=1", topic,
                 bucket(0), bucket(5));
        assert_int_equal(
            httpc_request(api_port, "GET", path, NULL, 0, 30000, &r), 0);
        assert_int_equal(r.status, 200);
        assert_non_null(strstr(r.body, "data-hop=\"1\" data-violations=\"2\" "
                                       "data-loss=\"200\""));
        httpc_free(&r);
    }
    print_message("pipeline e2e: %.1f s\n",
                  (double)(tu_now_ms() - t_start) / 1000.0);
    passed = true;
}

/* ------------------------------------------------------------ set-up */

static int setup(void **state)
{
    const char *e;
    char tmpl[] = "/tmp/chp-pipeline-XXXXXX";

    (void)state;
    dc1 = getenv("CHP_TEST_PIPE_DC1");
    dc2 = getenv("CHP_TEST_PIPE_DC2");
    agg = getenv("CHP_TEST_PIPE_AGG");
    src_dir = getenv("CHP_SOURCE_DIR");
    bin_dir = getenv("CHP_BINARY_DIR");
    if (!dc1 || !dc2 || !agg || !*dc1 || !*dc2 || !*agg)
        tu_skip("CHP_TEST_PIPE_DC1/DC2/AGG unset (start scripts/pipeline.sh "
                "and eval its env)");
    if (!src_dir || !bin_dir || sh("command -v kcat >/dev/null") != 0)
        tu_skip("needs CHP_SOURCE_DIR, CHP_BINARY_DIR (set by ctest) and "
                "kcat");
    if (tu_brokers_answer(dc1, 30000, NULL, 0) != 0 ||
        tu_brokers_answer(dc2, 30000, NULL, 0) != 0 ||
        tu_brokers_answer(agg, 30000, NULL, 0) != 0) {
        fprintf(stderr, "pipeline clusters do not answer\n");
        return -1;
    }
    if (!(e = mkdtemp(tmpl)))
        return -1;
    snprintf(workdir, sizeof(workdir), "%s", e);
    snprintf(dburl, sizeof(dburl), "sqlite://%s/audit.db", workdir);
    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so", bin_dir);
    tu_unique_name(topic, sizeof(topic), "orders");
    snprintf(audit_topic, sizeof(audit_topic), "chaperone-audit-%s", topic);
    /* Two hours ago: every bucket final under the default lateness. */
    base = (int64_t)time(NULL) / 600 * 600 - 12 * 600;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int i = 0; i < n_procs; i++)
        proc_stop(&procs[i], SIGTERM, 30000);
    /* Leave MirrorMaker running, as the topology was found. */
    if (src_dir && workdir[0])
        sh("'%s/scripts/pipeline.sh' mm2-start >>'%s/pipeline-sh.log' 2>&1",
           src_dir, workdir);
    if (passed)
        sh("rm -rf '%s'", workdir);
    else if (workdir[0])
        fprintf(stderr, "logs kept in %s\n", workdir);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipeline_faults),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
