/* bench_worker.c - worker_vs_consumer (design.md §12): how much work an audited
 * message costs the `chaperone worker` compared with what a plain
 * librdkafka consumer (same group and fetch settings, read_committed)
 * spends to read it, on the same data on the local real broker.
 *
 * The question is work per message, so the ratio is in process CPU time
 * (all threads: librdkafka's fetchers and decompression count on both
 * sides; each side a fresh process): consumer CPU ns per message ÷ worker
 * CPU ns per audited message,
 * i.e. messages per CPU-second, worker ÷ consumer.  The worker's CPU is read
 * through its process CPU clock (clock_getcpuclockid), the consumer's
 * through its own.  CPU is counted over the whole job, from exec to the
 * last message: librdkafka fetches far ahead of
 * the application (queued.min.messages), so a window opened in the middle
 * would hold the fetch work of a share of the messages that depends on the
 * timing.  The start-up and group join that this includes are a few ms of
 * CPU, under 1% of a run.  The wall-clock throughput ratio is in the
 * parenthesis, measured from 10% to 100% of the data so that the group
 * join and the worker's one-time init_transactions are not in it; A and B
 * alternate in pairs (AB, BA, ...), the line gives the median of the
 * per-pair ratios and their spread.  The parenthesis also carries the
 * worker's resident memory while auditing 1,000 topics.
 * Needs CHP_BENCH_BROKERS. */
#include <arpa/inet.h>
#include <libgen.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "benchutil.h"

#define MSGS        2000000
#define PARTS       4
#define PAIRS       9
#define MANY_TOPICS 1000

static const char *brokers;
static char bindir[1024];

static int64_t now_ms(void)
{
    return bench_ns() / 1000000;
}

static rd_kafka_t *client(rd_kafka_type_t type, const char *const *kv)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();

    rd_kafka_conf_set(c, "bootstrap.servers", brokers, err, sizeof(err));
    for (; kv && kv[0]; kv += 2)
        if (rd_kafka_conf_set(c, kv[0], kv[1], err, sizeof(err))) {
            fprintf(stderr, "bench_worker: %s\n", err);
            exit(1);
        }
    rd_kafka_t *rk = rd_kafka_new(type, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_worker: %s\n", err);
        exit(1);
    }
    return rk;
}

static void create_topics(char names[][64], int n, int parts)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
    char err[256];

    for (int i = 0; i < n; i += 100) {
        int m = n - i < 100 ? n - i : 100;
        rd_kafka_NewTopic_t *nt[100];
        for (int j = 0; j < m; j++)
            nt[j] =
                rd_kafka_NewTopic_new(names[i + j], parts, 1, err, sizeof(err));
        rd_kafka_CreateTopics(rk, nt, (size_t)m, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 120000);
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_NewTopic_destroy_array(nt, (size_t)m);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
    sleep(2); /* let leaders settle before producing */
}

/* Deletes what create_topics made: 20 runs of 1,000 topics each would
 * leave the broker without file descriptors. */
static void delete_topics(char names[][64], int n)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, NULL);
    rd_kafka_queue_t *q = rd_kafka_queue_new(rk);

    for (int i = 0; i < n; i += 100) {
        int m = n - i < 100 ? n - i : 100;
        rd_kafka_DeleteTopic_t *dt[100];
        for (int j = 0; j < m; j++)
            dt[j] = rd_kafka_DeleteTopic_new(names[i + j]);
        rd_kafka_DeleteTopics(rk, dt, (size_t)m, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 120000);
        if (ev)
            rd_kafka_event_destroy(ev);
        rd_kafka_DeleteTopic_destroy_array(dt, (size_t)m);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_destroy(rk);
}

static void produce(char names[][64], int n_topics, long per_topic)
{
    rd_kafka_t *rk =
        client(RD_KAFKA_PRODUCER,
               (const char *const[]){"linger.ms", "20", "batch.num.messages",
                                     "10000", NULL});
    char v[400];
    time_t now = time(NULL);

    for (long i = 0; i < per_topic; i++)
        for (int t = 0; t < n_topics; t++) {
            int len = snprintf(v, sizeof(v),
                               "{\"ts\":%lld,\"user\":\"u-%ld\",\"event\":"
                               "\"page_view\",\"url\":\"/products/%ld\","
                               "\"meta\":{\"a\":1,\"b\":[1,2,3]}}",
                               (long long)(now - (i % 600)), i, i % 977);
            while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(names[t]),
                                     RD_KAFKA_V_VALUE(v, (size_t)len),
                                     RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                     RD_KAFKA_V_END) ==
                   RD_KAFKA_RESP_ERR__QUEUE_FULL)
                rd_kafka_poll(rk, 10);
        }
    rd_kafka_flush(rk, 300000);
    rd_kafka_destroy(rk);
}

/* Both sides are timed from the moment 10% of the messages were consumed to
 * the last one: steady state, without the group join and the worker's
 * one-time init_transactions. */
#define WARM (MSGS / 10)

/* One side's run: CPU ns per message and messages/s, steady state. */
typedef struct {
    double cpu_ns;
    double rate;
} side_t;

/* The worker reads its queue in batches of up to this many messages
 * (src/worker/worker.c BATCH_MAX); the reference consumer C does the same. */
#define BATCH_MAX 512

/* Reads up to BATCH_MAX messages as the worker does: what is queued, or
 * one within 100 ms. */
static ssize_t read_batch(rd_kafka_queue_t *q, rd_kafka_message_t **msgs)
{
    ssize_t n = rd_kafka_consume_batch_queue(q, 0, msgs, BATCH_MAX);

    return n == 0 ? rd_kafka_consume_batch_queue(q, 100, msgs, 1) : n;
}

/* A plain consumer group member reading MSGS messages, in this process,
 * which is a fresh one (run_consumer): its CPU is counted from exec.
 * batched: read as the worker reads (read_batch) instead of one
 * rd_kafka_consumer_poll per message. */
static side_t consume_here(const char *topic, int round, bool batched)
{
    char group[64];
    snprintf(group, sizeof(group), "bench-consumer-%d-%d", (int)getpid(),
             round);
    rd_kafka_t *rk =
        client(RD_KAFKA_CONSUMER,
               (const char *const[]){"group.id", group, "auto.offset.reset",
                                     "earliest", "enable.auto.commit", "false",
                                     "isolation.level", "read_committed",
                                     /* the worker's fetch setting: the ratio is
                                      * then the worker's own cost */
                                     "queued.min.messages", "1000000", NULL});
    rd_kafka_topic_partition_list_t *sub = rd_kafka_topic_partition_list_new(1);
    long got = 0;
    int64_t t0 = 0;
    side_t out;

    rd_kafka_poll_set_consumer(rk);
    rd_kafka_topic_partition_list_add(sub, topic, RD_KAFKA_PARTITION_UA);
    rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    while (!batched && got < MSGS) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (!m)
            continue;
        if (!m->err) {
            if (++got == WARM)
                t0 = bench_ns();
            bench_sink(m->len);
        }
        rd_kafka_message_destroy(m);
    }
    if (batched) {
        rd_kafka_queue_t *q = rd_kafka_queue_get_consumer(rk);
        rd_kafka_message_t *msgs[BATCH_MAX];
        while (got < MSGS) {
            ssize_t n = read_batch(q, msgs);
            for (ssize_t i = 0; i < n; i++) {
                if (!msgs[i]->err) {
                    if (++got == WARM)
                        t0 = bench_ns();
                    bench_sink(msgs[i]->len);
                }
                rd_kafka_message_destroy(msgs[i]);
            }
        }
        rd_kafka_queue_destroy(q);
    }
    out.cpu_ns = (double)bench_process_cpu_ns() / MSGS;
    out.rate = (MSGS - WARM) / ((double)(bench_ns() - t0) / 1e9);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return out;
}

static char self_exe[1024];

/* The consumer side in a process of its own, as the worker is: a fresh
 * process starts with a fresh heap (glibc's mmap threshold, the pages it
 * has already faulted in), and librdkafka's buffers cost page faults
 * there; a consumer run inside this long-lived process would not pay
 * them after the first run. */
static side_t run_consumer(const char *topic, int round, bool batched)
{
    side_t out = {0, 0};
    char rs[16];
    int fd[2];
    pid_t pid;
    FILE *fp;

    snprintf(rs, sizeof(rs), "%d", round);
    if (pipe(fd) != 0)
        return out;
    if ((pid = fork()) == 0) {
        dup2(fd[1], STDOUT_FILENO);
        close(fd[0]);
        close(fd[1]);
        execl(self_exe, self_exe, batched ? "consumer-batch" : "consumer",
              topic, rs, (char *)NULL);
        _exit(127);
    }
    close(fd[1]);
    if ((fp = fdopen(fd[0], "r"))) {
        if (fscanf(fp, "%lf %lf", &out.cpu_ns, &out.rate) != 2)
            out.cpu_ns = out.rate = 0;
        fclose(fp);
    } else {
        close(fd[0]);
    }
    if (pid > 0)
        waitpid(pid, NULL, 0);
    return out;
}

/* GET http://127.0.0.1:port/metrics; returns the value of name, -1 on
 * error. */
static double metric(int port, const char *name)
{
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port)};
    char buf[16384];
    size_t got = 0;
    ssize_t r;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    double v = -1;

    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    const char *req = "GET /metrics HTTP/1.0\r\n\r\n";
    if (write(fd, req, strlen(req)) < 0) {
        close(fd);
        return -1;
    }
    while (got < sizeof(buf) - 1 &&
           (r = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)r;
    buf[got] = '\0';
    close(fd);
    char *p = buf;
    size_t nlen = strlen(name);
    while ((p = strstr(p, name))) {
        if ((p == buf || p[-1] == '\n') && p[nlen] == ' ') {
            v = strtod(p + nlen + 1, NULL);
            break;
        }
        p += nlen;
    }
    return v;
}

static pid_t start_worker(const char *what, int port, int round,
                          const char *audit)
{
    char exe[1100], kv[8][300];
    pid_t pid;

    snprintf(exe, sizeof(exe), "%s/chaperone", bindir);
    snprintf(kv[0], sizeof(kv[0]), "kafka.bootstrap.servers=%s", brokers);
    snprintf(kv[1], sizeof(kv[1]), "%s", what);
    snprintf(kv[2], sizeof(kv[2]), "worker.group.id=bench-worker-%d-%d",
             (int)getpid(), round);
    snprintf(kv[3], sizeof(kv[3]), "worker.instance=bench-%d-%d", (int)getpid(),
             round);
    snprintf(kv[4], sizeof(kv[4]), "http.port=%d", port);
    snprintf(kv[5], sizeof(kv[5]), "audit.topic=%s", audit);
    if ((pid = fork()) == 0) {
        if (!freopen("/dev/null", "w", stderr))
            _exit(127);
        execl(exe, exe, "worker", "-X", kv[0], "-X", kv[1], "-X", kv[2], "-X",
              kv[3], "-X", kv[4], "-X", kv[5], "-X",
              "worker.use.registry=false", "-X", "log.level=warn",
              (char *)NULL);
        _exit(127);
    }
    return pid;
}

static void stop(pid_t pid)
{
    kill(pid, SIGTERM);
    waitpid(pid, NULL, 0);
}

/* A worker process auditing MSGS messages with the default report
 * interval; its /metrics counter is published every 10 ms and polled every
 * 20 ms, and its CPU clock is read at the same moments. */
static side_t run_worker(const char *topic, int round)
{
    char what[200];
    int port = bench_free_port();
    int64_t t0 = 0, t1 = 0, c1 = 0;
    int64_t deadline = now_ms() + 600000;
    double v0 = 0, v1 = 0;
    side_t out = {0, 0};

    snprintf(what, sizeof(what), "worker.topics=%s", topic);
    pid_t pid = start_worker(what, port, round, "chaperone-bench-audit");
    while (now_ms() < deadline) {
        double v = metric(port, "chaperone_worker_messages_audited_total");
        int64_t c = bench_pid_cpu_ns(pid), t = bench_ns();

        if (!t0 && v >= WARM)
            t0 = t, v0 = v;
        if (v >= MSGS) {
            t1 = t, c1 = c, v1 = v;
            break;
        }
        usleep(20000);
    }
    stop(pid);
    if (t1 > t0 && v1 > v0 && c1 > 0) {
        out.cpu_ns = (double)c1 / v1;
        out.rate = (v1 - v0) / ((double)(t1 - t0) / 1e9);
    }
    return out;
}

/* Resident memory (KiB) of a worker auditing MANY_TOPICS topics. */
static long worker_rss_many_topics(void)
{
    static char names[MANY_TOPICS][64];
    char what[200], path[64], line[256];
    int port = bench_free_port();
    long rss = -1;

    for (int i = 0; i < MANY_TOPICS; i++)
        snprintf(names[i], sizeof(names[i]), "benchmany-%d-%04d", (int)getpid(),
                 i);
    create_topics(names, MANY_TOPICS, 1);
    produce(names, MANY_TOPICS, 20);
    snprintf(what, sizeof(what), "worker.topics.regex=^benchmany-%d-",
             (int)getpid());
    pid_t pid = start_worker(what, port, 99, "chaperone-bench-audit");
    int64_t deadline = now_ms() + 300000;
    while (now_ms() < deadline &&
           metric(port, "chaperone_worker_messages_audited_total") <
               MANY_TOPICS * 20)
        usleep(100000);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *fp = fopen(path, "r");
    while (fp && fgets(line, sizeof(line), fp))
        if (!strncmp(line, "VmRSS:", 6))
            rss = strtol(line + 6, NULL, 10);
    if (fp)
        fclose(fp);
    stop(pid);
    delete_topics(names, MANY_TOPICS);
    return rss;
}

int main(int argc, char **argv)
{
    char self[1024], detail[1000];
    static char topic[1][64];
    double ca[PAIRS], cb[PAIRS], cr[PAIRS], ta[PAIRS], tb[PAIRS], tr[PAIRS],
        cc[PAIRS], ccr[PAIRS];
    bench_cmp_t cpu, thr, bat;
    ssize_t n;

    if (!(brokers = getenv("CHP_BENCH_BROKERS"))) {
        fprintf(stderr, "bench_worker: CHP_BENCH_BROKERS not set, skipped\n");
        return 0;
    }
    if (argc == 4 && (!strcmp(argv[1], "consumer") ||
                      !strcmp(argv[1], "consumer-batch"))) { /* run_consumer */
        side_t c = consume_here(argv[2], atoi(argv[3]),
                                !strcmp(argv[1], "consumer-batch"));
        printf("%.3f %.3f\n", c.cpu_ns, c.rate);
        return 0;
    }
    /* For profiling one side by hand (docs/benchmarks.md): the data set
     * of a run, and its removal. */
    if (argc == 3 &&
        (!strcmp(argv[1], "prepare") || !strcmp(argv[1], "drop"))) {
        snprintf(topic[0], sizeof(topic[0]), "%s", argv[2]);
        if (!strcmp(argv[1], "drop")) {
            delete_topics(topic, 1);
            return 0;
        }
        create_topics(topic, 1, PARTS);
        produce(topic, 1, MSGS);
        return 0;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(self_exe, sizeof(self_exe), "%s", self);
    snprintf(bindir, sizeof(bindir), "%s", dirname(self));

    snprintf(topic[0], sizeof(topic[0]), "bench-worker-%d", (int)getpid());
    create_topics(topic, 1, PARTS);
    produce(topic, 1, MSGS);
    for (int r = 0; r < PAIRS; r++) {
        side_t a, b, c;

        /* A, B and C in turn, the order reversed every other round. */
        if (r % 2 == 0) {
            a = run_worker(topic[0], r);
            b = run_consumer(topic[0], r, false);
            c = run_consumer(topic[0], r + PAIRS, true);
        } else {
            c = run_consumer(topic[0], r + PAIRS, true);
            b = run_consumer(topic[0], r, false);
            a = run_worker(topic[0], r);
        }
        if (a.cpu_ns <= 0 || b.cpu_ns <= 0 || c.cpu_ns <= 0) {
            fprintf(stderr, "bench_worker: pair %d did not finish\n", r);
            return 1;
        }
        fprintf(stderr,
                "bench_worker: pair %d: worker %.0f CPU ns/msg %.0f msgs/s, "
                "consumer %.0f CPU ns/msg %.0f msgs/s, batch-reading "
                "consumer %.0f CPU ns/msg %.0f msgs/s\n",
                r, a.cpu_ns, a.rate, b.cpu_ns, b.rate, c.cpu_ns, c.rate);
        ca[r] = a.cpu_ns, cb[r] = b.cpu_ns, cr[r] = b.cpu_ns / a.cpu_ns;
        ta[r] = a.rate, tb[r] = b.rate, tr[r] = a.rate / b.rate;
        cc[r] = c.cpu_ns, ccr[r] = c.cpu_ns / a.cpu_ns;
    }
    delete_topics(topic, 1);
    long rss = worker_rss_many_topics();
    bench_summarise(ca, cb, cr, PAIRS, BENCH_PROCESS_CPU, &cpu);
    bench_summarise(ta, tb, tr, PAIRS, BENCH_WALL, &thr);
    bench_summarise(ca, cc, ccr, PAIRS, BENCH_PROCESS_CPU, &bat);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f CPU ns per message; worker (exactly-once, "
             "read_committed, reads its queue in batches of up to %d) vs plain "
             "consumer with the same fetch settings (one "
             "rd_kafka_consumer_poll per message), ratio = B/A = msgs per "
             "CPU-second worker/consumer, %d msgs, whole job; the audit's own "
             "cost: worker vs a plain consumer reading in the same batches "
             "%.3f (pairs %.3f-%.3f, C=%.0f CPU ns per message); throughput "
             "(wall clock, after the first 10%%) worker/consumer %.3f (pairs "
             "%.3f-%.3f, %.0f vs %.0f msgs/s); worker RSS with %d topics: "
             "%.1f MiB",
             cpu.a, cpu.b, BATCH_MAX, MSGS, bat.ratio, bat.lo, bat.hi, bat.b,
             thr.ratio, thr.lo, thr.hi, thr.a, thr.b, MANY_TOPICS,
             rss / 1024.0);
    bench_report_cmp("worker_vs_consumer", &cpu, ">= 0.9", detail);
    return 0;
}
