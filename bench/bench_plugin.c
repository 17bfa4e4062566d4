/* bench_plugin.c - plugin_overhead (design.md §12): producer msgs/s to the
 * local real broker with the interceptor plugin loaded ÷ without, alternating
 * runs in one process, medians; and plugin_cpu_ns_per_msg: the CPU time the
 * plugin adds per message on the application's thread (thread CPU clock
 * over the produce() calls, same messages, median of the pairwise
 * differences of alternating runs).  Needs CHP_BENCH_BROKERS. */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "benchutil.h"

#define MSGS       300000
#define ROUNDS     5
#define CPU_MSGS   200000
#define CPU_CHUNK  10000 /* messages per thread-CPU sample */
#define CPU_ROUNDS 7

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

static int64_t thread_cpu_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* ns of this thread's CPU per produce() call.  The client's cluster does
 * not answer (messages stay queued, then are purged at destroy), so no
 * broker thread contends with the application thread and only the
 * produce() path itself is measured; the plugin publishes to the real
 * broker.  The median over chunks of CPU_CHUNK messages: a neighbour's
 * burst on a shared machine inflates some chunks, not the median. */
static double cpu_run(const char *audit_brokers, const char *plugin,
                      const char *topic)
{
    rd_kafka_t *rk =
        producer("127.0.0.1:1", plugin, "chaperone-bench-audit", audit_brokers);
    double chunks[CPU_MSGS / CPU_CHUNK];
    int64_t c0 = thread_cpu_ns();

    for (int i = 0; i < CPU_MSGS; i++) {
        if (i && i % CPU_CHUNK == 0) {
            int64_t c = thread_cpu_ns();
            chunks[i / CPU_CHUNK - 1] = (double)(c - c0) / CPU_CHUNK;
            c0 = c;
        }
        if (rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_VALUE(value, value_len),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END)) {
            fprintf(stderr, "bench_plugin: produce failed\n");
            exit(1);
        }
    }
    chunks[CPU_MSGS / CPU_CHUNK - 1] =
        (double)(thread_cpu_ns() - c0) / CPU_CHUNK;
    rd_kafka_purge(rk, RD_KAFKA_PURGE_F_QUEUE);
    rd_kafka_destroy(rk);
    return bench_median(chunks, CPU_MSGS / CPU_CHUNK);
}

int main(int argc, char **argv)
{
    const char *brokers = getenv("CHP_BENCH_BROKERS");
    char self[1024], plugin[1200], detail[256];
    double a[ROUNDS], b[ROUNDS], ca[CPU_ROUNDS], cb[CPU_ROUNDS], d[CPU_ROUNDS];
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

    run(brokers, NULL, "chaperone-bench-plugin"); /* warm-up, topic */
    for (int r = 0; r < ROUNDS; r++) {
        a[r] = run(brokers, plugin, "chaperone-bench-plugin");
        b[r] = run(brokers, NULL, "chaperone-bench-plugin");
    }
    double ma = bench_median(a, ROUNDS), mb = bench_median(b, ROUNDS);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f msgs/s; idempotent producer with vs without the "
             "interceptor, %d x %zu-byte JSON messages",
             ma, mb, MSGS, value_len);
    bench_report("plugin_overhead", ma / mb, ">= 0.97", detail);

    cpu_run(brokers, plugin, "chaperone-bench-plugin"); /* warm-up */
    for (int r = 0; r < CPU_ROUNDS; r++) {
        ca[r] = cpu_run(brokers, plugin, "chaperone-bench-plugin");
        cb[r] = cpu_run(brokers, NULL, "chaperone-bench-plugin");
        d[r] = ca[r] - cb[r];
    }
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f ns of application-thread CPU per produce() with "
             "vs without the interceptor, %d-byte JSON; median of %d "
             "alternating pairs' differences",
             bench_median(ca, CPU_ROUNDS), bench_median(cb, CPU_ROUNDS),
             (int)value_len, CPU_ROUNDS);
    bench_report("plugin_cpu_ns_per_msg", bench_median(d, CPU_ROUNDS), "<= 150",
                 detail);
    return 0;
}
