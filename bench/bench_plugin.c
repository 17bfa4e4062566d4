/* bench_plugin.c - plugin_overhead (design.md §12): producer msgs/s to the
 * local real broker with the interceptor plugin loaded ÷ without (a
 * throughput question: wall clock), as PAIRS alternating pairs whose order
 * flips each pair, median of the per-pair ratios and their min-max; and
 * plugin_cpu_ns_per_msg: the CPU time the plugin adds per message on the
 * application's thread (thread CPU clock over the produce() calls, same
 * messages, median of the differences of CPU_ROUNDS alternating pairs of
 * chunks, and their min-max).  Needs CHP_BENCH_BROKERS. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "benchutil.h"

#define MSGS       60000
#define PAIRS      21
#define CPU_CHUNK  10000 /* messages per thread-CPU sample */
#define CPU_ROUNDS 31

static char value[512];
static size_t value_len;

/* audit_brokers: where the plugin publishes (NULL: the client's own). */
static rd_kafka_t *producer(const char *brokers, const char *plugin,
                            const char *audit, const char *audit_brokers)
{
    char err[512];
    rd_kafka_conf_t *c = rd_kafka_conf_new();
    const char *kv[] = {"bootstrap.servers",
                        brokers,
                        "linger.ms",
                        "20",
                        "batch.num.messages",
                        "10000",
                        "queue.buffering.max.messages",
                        "1000000",
                        "enable.idempotence",
                        "true",
                        NULL};

    for (int i = 0; kv[i]; i += 2)
        rd_kafka_conf_set(c, kv[i], kv[i + 1], err, sizeof(err));
    if (audit_brokers)
        rd_kafka_conf_set(c, "log_level", "0", err, sizeof(err));
    if (plugin && (rd_kafka_conf_set(c, "plugin.library.paths", plugin, err,
                                     sizeof(err)) ||
                   rd_kafka_conf_set(c, "chaperone.audit.topic", audit, err,
                                     sizeof(err)) ||
                   (audit_brokers &&
                    rd_kafka_conf_set(c, "chaperone.bootstrap.servers",
                                      audit_brokers, err, sizeof(err))))) {
        fprintf(stderr, "bench_plugin: %s\n", err);
        exit(1);
    }
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof(err));
    if (!rk) {
        fprintf(stderr, "bench_plugin: %s\n", err);
        exit(1);
    }
    return rk;
}

/* msgs/s of one run: create the client, produce, flush, destroy. */
static double run(const char *brokers, const char *plugin, const char *topic)
{
    rd_kafka_t *rk = producer(brokers, plugin, "chaperone-bench-audit", NULL);
    int64_t t0 = bench_ns();

    for (int i = 0; i < MSGS; i++) {
        while (rd_kafka_producev(rk, RD_KAFKA_V_TOPIC(topic),
                                 RD_KAFKA_V_VALUE(value, value_len),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_END) ==
               RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rd_kafka_poll(rk, 10);
        if ((i & 1023) == 0)
            rd_kafka_poll(rk, 0);
    }
    rd_kafka_flush(rk, 120000);
    double secs = (double)(bench_ns() - t0) / 1e9;
    rd_kafka_destroy(rk);
    return MSGS / secs;
}

/* ns of this thread's CPU per produce() call over n messages. */
static double cpu_chunk(rd_kafka_t *rk, const char *topic, int n)
{
    int64_t c0 = bench_thread_cpu_ns();

    for (int i = 0; i < n; i++) {
        if (rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(value, value_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
            fprintf(stderr, "bench_plugin: produce failed\n");
            exit(1);
        }
    }
    return (double)(bench_thread_cpu_ns() - c0) / n;
}

/* ns of this thread's CPU per produce() call, with (a[i]) and without
 * (b[i]) the plugin, as n pairs of CPU_CHUNK-message chunks produced
 * alternately on two clients that live through all pairs: the halves of a
 * pair are milliseconds apart, so a neighbour's burst on a shared machine
 * hits both or neither.  The clients' cluster does not answer (messages
 * stay queued, then are purged), so no broker thread contends with the
 * application thread and only the produce() path itself is measured; the
 * plugin publishes to the real broker. */
static void cpu_pairs(const char *audit_brokers, const char *plugin,
                      const char *topic, int n, double *a, double *b)
{
    rd_kafka_t *with =
        producer("127.0.0.1:1", plugin, "chaperone-bench-audit", audit_brokers);
    rd_kafka_t *without =
        producer("127.0.0.1:1", NULL, "chaperone-bench-audit", audit_brokers);

    cpu_chunk(with, topic, CPU_CHUNK); /* warm-up */
    cpu_chunk(without, topic, CPU_CHUNK);
    for (int i = 0; i < n; i++) {
        if (i % 2 == 0) {
            a[i] = cpu_chunk(with, topic, CPU_CHUNK);
            b[i] = cpu_chunk(without, topic, CPU_CHUNK);
        } else {
            b[i] = cpu_chunk(without, topic, CPU_CHUNK);
            a[i] = cpu_chunk(with, topic, CPU_CHUNK);
        }
    }
    rd_kafka_purge(with, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_purge(without, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_destroy(with);
    rd_kafka_destroy(without);
}

typedef struct {
    const char *brokers, *plugin;
} ctx_t;

static double run_with(void *p)
{
    const ctx_t *x = p;

    return run(x->brokers, x->plugin, "chaperone-bench-plugin");
}

static double run_without(void *p)
{
    const ctx_t *x = p;

    return run(x->brokers, NULL, "chaperone-bench-plugin");
}

int main(int argc, char **argv)
{
    const char *brokers = getenv("CHP_BENCH_BROKERS");
    char self[1024], plugin[1200], detail[320];
    double a[PAIRS], b[PAIRS], ratio[PAIRS];
    double ca[CPU_ROUNDS], cb[CPU_ROUNDS], d[CPU_ROUNDS], dlo, dhi;
    bench_cmp_t cmp;
    ctx_t x;
    ssize_t n;
    (void)argc, (void)argv;

    if (!brokers) {
        fprintf(stderr, "bench_plugin: CHP_BENCH_BROKERS not set, skipped\n");
        return 0;
    }
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    self[n > 0 ? n : 0] = '\0';
    snprintf(plugin, sizeof(plugin), "%s/libchaperone_interceptor.so",
             dirname(self));
    value_len = (size_t)snprintf(
        value, sizeof(value),
        "{\"ts\":%lld,\"user\":\"u-123456\",\"event\":\"page_view\","
        "\"url\":\"/products/42?ref=home\",\"ua\":\"Mozilla/5.0 (X11; Linux "
        "x86_64)\",\"items\":[1,2,3],\"meta\":{\"a\":1,\"b\":\"two\"}}",
        (long long)time(NULL));

    x.brokers = brokers;
    x.plugin = plugin;
    run_without(&x); /* warm-up: the topic exists, the broker is warm */
    run_with(&x);
    bench_alternate(PAIRS, run_with, run_without, &x, a, b);
    for (int i = 0; i < PAIRS; i++)
        ratio[i] = a[i] / b[i];
    bench_summarise(a, b, ratio, PAIRS, BENCH_WALL, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f msgs/s; idempotent producer with vs without the "
             "interceptor, %d x %zu-byte JSON messages a run",
             cmp.a, cmp.b, MSGS, value_len);
    bench_report_cmp("plugin_overhead", &cmp, ">= 0.97", detail);

    cpu_pairs(brokers, plugin, "chaperone-bench-plugin", CPU_ROUNDS, ca, cb);
    dlo = dhi = ca[0] - cb[0];
    for (int r = 0; r < CPU_ROUNDS; r++) {
        d[r] = ca[r] - cb[r];
        dlo = d[r] < dlo ? d[r] : dlo;
        dhi = d[r] > dhi ? d[r] : dhi;
    }
    snprintf(
        detail, sizeof(detail),
        "A=%.0f B=%.0f ns of application-thread CPU per produce() with "
        "vs without the interceptor, %d-byte JSON; thread CPU time, "
        "median of %d alternating pairs of %d-message chunks' differences, "
        "per-pair %.0f-%.0f",
        bench_median(ca, CPU_ROUNDS), bench_median(cb, CPU_ROUNDS),
        (int)value_len, CPU_ROUNDS, CPU_CHUNK, dlo, dhi);
    bench_report("plugin_cpu_ns_per_msg", bench_median(d, CPU_ROUNDS), "<= 150",
                 detail);
    return 0;
}
