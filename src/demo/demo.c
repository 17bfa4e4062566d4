/*
 * demo.c - `chaperone demo`: the whole pipeline in one command (design.md §9).
 *
 *   1. a Kafka cluster: librdkafka's mock cluster in this process (or a
 *      real one with --brokers HOST:PORT);
 *   2. an audited producer (tier "producer", libchaperone's tracker and
 *      reporter) writes JSON events over several 10-minute buckets to two
 *      topics — and, on purpose, never sends a known number of the events
 *      it counted: the injected loss;
 *   3. `chaperone worker` (tier "kafka-demo") audits the cluster, exactly
 *      once, and `chaperone collector` stores every audit message in SQLite
 *      in a temporary directory — both as child processes of this binary;
 *   4. when the database holds every count, the report of each topic is
 *      printed: the loss shows up exactly where it was injected.
 * Exit 0 when the report shows exactly the injected loss, 1 otherwise.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "collector/store.h"
#include "commands.h"
#include "demo/demo.h"
#include "log.h"

#define N_TOPICS     2
#define BUCKETS      6
#define PER_BUCKET   500
#define LOST         37 /* events of topics[0], bucket LOSSY_BUCKET, never sent */
#define LOSSY_BUCKET 3
#define WAIT_MS      120000

static const char *const topics[N_TOPICS] = {"orders", "clicks"};

typedef struct demo {
    const char *brokers;
    char dir[256];
    char db_url[512];
    char audit[128];
    char suffix[32]; /* keeps topic names apart on a real cluster */
    char topic[N_TOPICS][128];
    int64_t t0; /* first bucket, epoch seconds */
    pid_t worker, collector;
    rd_kafka_t *mock_rk;
    rd_kafka_mock_cluster_t *mock;
} demo_t;

static int start_child(demo_t *d, const char *cmd, const char *const *kv,
                       pid_t *pid)
{
    char exe[1024], log[512];
    const char *argv[40];
    int n = 0;
    ssize_t len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

    if (len <= 0)
        return -1;
    exe[len] = '\0';
    argv[n++] = exe;
    argv[n++] = cmd;
    for (; *kv && n < 36; kv++) {
        argv[n++] = "-X";
        argv[n++] = *kv;
    }
    argv[n] = NULL;
    snprintf(log, sizeof(log), "%s/%s.log", d->dir, cmd);
    if ((*pid = fork()) < 0)
        return -1;
    if (*pid == 0) {
        if (!freopen(log, "a", stderr) || !freopen(log, "a", stdout))
            _exit(127);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    printf("  started chaperone %s (pid %d, log %s)\n", cmd, (int)*pid, log);
    return 0;
}

/* A port the kernel has just handed out for 127.0.0.1: a port picked at
 * random may be taken by an outgoing connection, and the child then exits
 * with "address in use" (seen once in CI, on a loaded machine). */
static void free_ports(int *ports, int n)
{
    int fds[4];

    for (int i = 0; i < n && i < 4; i++) {
        struct sockaddr_in sin = {.sin_family = AF_INET};
        socklen_t len = sizeof(sin);

        ports[i] = -1; /* refused by the child's configuration, by name */
        sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        /* Held open until all are known, so that they differ. */
        if ((fds[i] = socket(AF_INET, SOCK_STREAM, 0)) >= 0 &&
            bind(fds[i], (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
            getsockname(fds[i], (struct sockaddr *)&sin, &len) == 0)
            ports[i] = ntohs(sin.sin_port);
    }
    for (int i = 0; i < n && i < 4; i++)
        if (fds[i] >= 0)
            close(fds[i]);
}

/* 0 while the child runs; otherwise fills err with how it ended (it is
 * reaped: *pid is cleared). */
static int child_gone(pid_t *pid, const char *cmd, char *err, size_t n)
{
    int st;

    if (*pid <= 0 || waitpid(*pid, &st, WNOHANG) != *pid)
        return 0;
    *pid = 0;
    if (WIFEXITED(st))
        snprintf(err, n, "chaperone %s exited with status %d", cmd,
                 WEXITSTATUS(st));
    else
        snprintf(err, n, "chaperone %s was killed by signal %d", cmd,
                 WIFSIGNALED(st) ? WTERMSIG(st) : 0);
    return -1;
}

/* The last lines of a child's log, on stderr: what a failed demo (or a
 * failed CI run) needs to show. */
static void show_log_tail(const demo_t *d, const char *cmd, int lines)
{
    char path[512], buf[1024];
    long off[64] = {0};
    int n = 0;
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s.log", d->dir, cmd);
    if (!(fp = fopen(path, "r")))
        return;
    if (lines > 64)
        lines = 64;
    for (long pos = 0; fgets(buf, sizeof(buf), fp); pos = ftell(fp))
        off[n++ % lines] = pos;
    fprintf(stderr, "--- last lines of %s\n", path);
    fseek(fp, n > lines ? off[n % lines] : 0, SEEK_SET);
    while (fgets(buf, sizeof(buf), fp))
        fputs(buf, stderr);
    fclose(fp);
}

static void stop_child(pid_t pid)
{
    int st;

    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        if (waitpid(pid, &st, WNOHANG) == pid)
            return;
        usleep(100000);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
}

static int start_cluster(demo_t *d, char *err, size_t n)
{
    if (d->brokers) {
        snprintf(d->suffix, sizeof(d->suffix), "-%d", (int)getpid());
    } else {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        /* A handle only to own the mock cluster; it never connects. */
        rd_kafka_conf_set(c, "log_level", "0", NULL, 0);
        if (!(d->mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, n)))
            return -1;
        if (!(d->mock = rd_kafka_mock_cluster_new(d->mock_rk, 3))) {
            snprintf(err, n, "cannot create the mock cluster");
            return -1;
        }
        d->brokers = rd_kafka_mock_cluster_bootstraps(d->mock);
        rd_kafka_mock_topic_create(d->mock, "chaperone-audit", 2, 1);
        for (int t = 0; t < N_TOPICS; t++)
            rd_kafka_mock_topic_create(d->mock, topics[t], 4, 1);
        printf("  librdkafka mock cluster: 3 brokers at %s\n", d->brokers);
    }
    snprintf(d->audit, sizeof(d->audit), "chaperone-audit%s", d->suffix);
    for (int t = 0; t < N_TOPICS; t++)
        snprintf(d->topic[t], sizeof(d->topic[t]), "%s%s", topics[t],
                 d->suffix);
    return 0;
}

/* Produces the events, counting every one at tier "producer", but sends
 * LOST of them nowhere.  Returns 0 when the cluster acknowledged all the
 * others and the reporter delivered the producer's audit messages. */
static int produce(demo_t *d, char *err, size_t n)
{
    chp_conf_t *conf = chp_conf_new();
    chp_reporter_t *rep = NULL;
    chp_tracker_t *trk = NULL;
    rd_kafka_t *rk = NULL;
    rd_kafka_conf_t *kc;
    char kv[300];
    int rc = -1, lost = 0;

    snprintf(kv, sizeof(kv), "audit.topic=%s", d->audit);
    if (chp_conf_set_kv(conf, kv, err, n) ||
        chp_conf_set_kv(conf, "datacenter=demo-dc", err, n) ||
        chp_reporter_new(conf, d->brokers, &rep, err, n) ||
        chp_tracker_new(conf, "producer", 0, chp_reporter_emit, rep, &trk, err,
                        n))
        goto out;
    kc = rd_kafka_conf_new();
    if (rd_kafka_conf_set(kc, "bootstrap.servers", d->brokers, err, n) ||
        rd_kafka_conf_set(kc, "enable.idempotence", "true", err, n) ||
        !(rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, n)))
        goto out;
    for (int b = 0; b < BUCKETS; b++)
        for (int t = 0; t < N_TOPICS; t++)
            for (int i = 0; i < PER_BUCKET; i++) {
                char v[256];
                int64_t ts = (d->t0 + b * 600 + i) * 1000 + i % 1000;
                int len =
                    snprintf(v, sizeof(v),
                             "{\"ts\":%lld,\"id\":\"%s-%d-%d\","
                             "\"amount\":%d.%02d}",
                             (long long)ts, topics[t], b, i, i % 97, i % 100);
                chp_msg_view_t mv = {
                    .value = v, .value_len = (size_t)len, .kafka_ts_ms = -1};
                chp_tracker_track_msg(trk, d->topic[t], &mv, (uint64_t)len);
                if (t == 0 && b == LOSSY_BUCKET && lost < LOST && i % 7 == 3) {
                    lost++; /* counted by the producer, never sent */
                    continue;
                }
                while (rd_kafka_producev(
                           rk, RD_KAFKA_V_TOPIC(d->topic[t]),
                           RD_KAFKA_V_VALUE(v, (size_t)len),
                           RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                           RD_KAFKA_V_END) == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                    rd_kafka_poll(rk, 10);
            }
    if (rd_kafka_flush(rk, 60000) != 0) {
        snprintf(err, n, "the cluster did not acknowledge every event");
        goto out;
    }
    chp_tracker_flush(trk);
    if (chp_reporter_flush(rep, 60000) != CHP_OK) {
        snprintf(err, n, "the producer's audit messages were not delivered");
        goto out;
    }
    printf("  producer: %d events counted at tier \"producer\", %d of them "
           "(topic %s, bucket %d) deliberately not sent\n",
           N_TOPICS * BUCKETS * PER_BUCKET, lost, d->topic[0], LOSSY_BUCKET);
    rc = 0;
out:
    if (rk)
        rd_kafka_destroy(rk);
    chp_tracker_destroy(trk);
    chp_reporter_destroy(rep, 10000);
    chp_conf_destroy(conf);
    return rc;
}

typedef struct totals {
    const demo_t *d;
    uint64_t producer, kafka;
} totals_t;

static void add_row(const store_row_t *r, void *opaque)
{
    totals_t *t = opaque;

    if (!strcmp(r->tier, "producer"))
        t->producer += r->count;
    else if (!strcmp(r->tier, "kafka-demo"))
        t->kafka += r->count;
}

/* Polls the database until both tiers' totals are complete. */
static int wait_stored(demo_t *d, char *err, size_t n)
{
    const uint64_t want_p = (uint64_t)N_TOPICS * BUCKETS * PER_BUCKET;
    const uint64_t want_k = want_p - LOST;
    int64_t deadline = chp_now_ms() + WAIT_MS;
    totals_t t = {d, 0, 0};

    while (chp_now_ms() < deadline) {
        store_t *s;
        if (child_gone(&d->worker, "worker", err, n) ||
            child_gone(&d->collector, "collector", err, n))
            return -1;
        t.producer = t.kafka = 0;
        if (store_open(d->db_url, &s, err, n) == CHP_OK) {
            store_query(s, NULL, d->t0, d->t0 + BUCKETS * 600, add_row, &t, err,
                        n);
            store_close(s);
        }
        if (t.producer >= want_p && t.kafka >= want_k)
            break;
        usleep(500000);
    }
    printf("  collector: %llu producer-tier and %llu kafka-tier counts "
           "stored in %s\n",
           (unsigned long long)t.producer, (unsigned long long)t.kafka,
           d->db_url);
    if (t.producer != want_p || t.kafka != want_k) {
        snprintf(err, n,
                 "the database holds %llu/%llu counts instead of %llu/%llu",
                 (unsigned long long)t.producer, (unsigned long long)t.kafka,
                 (unsigned long long)want_p, (unsigned long long)want_k);
        return -1;
    }
    return 0;
}

static void usage(FILE *fp)
{
    fprintf(fp, "usage: chaperone demo [--brokers HOST:PORT] [--keep]\n"
                "  Runs the whole pipeline on embedded defaults: librdkafka's "
                "mock cluster\n  (or the given cluster), an audited producer, "
                "the worker and the collector\n  on SQLite, with a known loss "
                "injected, and prints the report.\n"
                "  --keep  keep the temporary directory (database and logs)\n");
}

int cmd_demo(chp_conf_t *conf, int argc, char **argv)
{
    demo_t d = {0};
    char err[512] = "", kv[8][600];
    bool keep = false;
    int rc = 1;
    (void)conf;

    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--brokers") && i + 1 < argc) {
            d.brokers = argv[++i];
        } else if (!strcmp(argv[i], "--keep")) {
            keep = true;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "chaperone demo: unknown argument \"%s\"\n",
                    argv[i]);
            usage(stderr);
            return 2;
        }
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    snprintf(d.dir, sizeof(d.dir), "/tmp/chaperone-demo-XXXXXX");
    if (!mkdtemp(d.dir)) {
        perror("chaperone demo: mkdtemp");
        return 1;
    }
    snprintf(d.db_url, sizeof(d.db_url), "sqlite://%s/chaperone.db", d.dir);
    /* Six buckets ending a day ago: all of them final for `check`. */
    d.t0 = chp_bucket_begin(chp_now_ms() - 86400000LL, 600) - BUCKETS * 600;

    printf("chaperone demo: the pipeline end to end (work dir %s)\n", d.dir);
    if (start_cluster(&d, err, sizeof(err)) != 0)
        goto out;

    snprintf(kv[0], sizeof(kv[0]), "kafka.bootstrap.servers=%s", d.brokers);
    snprintf(kv[1], sizeof(kv[1]), "audit.topic=%s", d.audit);
    snprintf(kv[2], sizeof(kv[2]), "worker.topics=%s,%s", d.topic[0],
             d.topic[1]);
    int ports[2];
    free_ports(ports, 2);
    snprintf(kv[3], sizeof(kv[3]), "http.port=%d", ports[0]);
    snprintf(kv[4], sizeof(kv[4]), "worker.instance=demo-%d", (int)getpid());
    snprintf(kv[5], sizeof(kv[5]), "db.url=%s", d.db_url);
    snprintf(kv[6], sizeof(kv[6]), "collector.group.id=chaperone-demo-%d",
             (int)getpid());
    snprintf(kv[7], sizeof(kv[7]), "http.port=%d", ports[1]);
    const char *wkv[] = {kv[0],
                         kv[1],
                         kv[2],
                         kv[3],
                         kv[4],
                         "worker.use.registry=false",
                         "cluster.name=demo",
                         "report.interval.ms=1000",
                         "datacenter=demo-dc",
                         "worker.topics.refresh.ms=1000",
                         NULL};
    const char *ckv[] = {kv[0], kv[1], kv[5],
                         kv[6], kv[7], "collector.flush.interval.ms=500",
                         NULL};
    if (start_child(&d, "worker", wkv, &d.worker) != 0 ||
        start_child(&d, "collector", ckv, &d.collector) != 0) {
        snprintf(err, sizeof(err), "cannot start the worker or collector");
        goto out;
    }
    if (produce(&d, err, sizeof(err)) != 0 ||
        wait_stored(&d, err, sizeof(err)) != 0)
        goto out;
    stop_child(d.worker);
    stop_child(d.collector);
    d.worker = d.collector = 0;

    printf("\n");
    rc = 0;
    for (int t = 0; t < N_TOPICS; t++) {
        uint64_t shown = 0;
        if (demo_print_report(d.db_url, d.topic[t], "producer", d.t0,
                              d.t0 + BUCKETS * 600, &shown, err,
                              sizeof(err)) != CHP_OK) {
            rc = 1;
            goto out;
        }
        uint64_t want = t == 0 ? LOST : 0;
        if (shown != want) {
            snprintf(err, sizeof(err),
                     "report of %s shows a loss of %llu, injected %llu",
                     d.topic[t], (unsigned long long)shown,
                     (unsigned long long)want);
            rc = 1;
            goto out;
        }
        printf("\n");
    }
    printf("The report shows the %d events that the producer counted but "
           "never sent:\ntopic %s, bucket %d, between tier \"producer\" and "
           "tier \"kafka-demo\".\n",
           LOST, d.topic[0], LOSSY_BUCKET);

out:
    stop_child(d.worker);
    stop_child(d.collector);
    if (rc != 0) {
        show_log_tail(&d, "worker", 30);
        show_log_tail(&d, "collector", 30);
        fprintf(stderr, "chaperone demo: %s (logs in %s)\n", err, d.dir);
    }
    if (d.mock)
        rd_kafka_mock_cluster_destroy(d.mock);
    if (d.mock_rk)
        rd_kafka_destroy(d.mock_rk);
    if (rc == 0 && !keep) {
        char cmd[400];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d.dir);
        if (system(cmd) != 0)
            fprintf(stderr, "chaperone demo: cannot remove %s\n", d.dir);
    }
    return rc;
}
