/* Helpers for integration and e2e tests that talk to a real Kafka broker.
 *
 * Header-only on purpose: CMake builds each tests/<label>/test_*.c as its own
 * program and globs nothing else, so every helper here is static and marked
 * unused.  None of them depends on cmocka: they return an error and fill
 * errstr, and the test decides how to fail.  The one exception to "only main
 * exits" is tu_skip(): a test without its servers has nothing to run, and
 * CTest counts exit code 77 as "skipped". */
#ifndef CHP_TESTUTIL_H
#define CHP_TESTUTIL_H

#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

#define TU_UNUSED __attribute__((unused))

/* Exit code CTest reports as "skipped" (SKIP_RETURN_CODE in CMakeLists). */
#define TU_SKIP 77

/* Generous bound for one broker round trip or one test phase. */
#define TU_TIMEOUT_MS 60000

/* Monotonic milliseconds, for deadlines. */
static TU_UNUSED int64_t tu_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Milliseconds left until deadline (>= 0), as librdkafka timeouts want. */
static TU_UNUSED int tu_left_ms(int64_t deadline)
{
    int64_t left = deadline - tu_now_ms();

    return left > 0 ? (int)(left > INT32_MAX ? INT32_MAX : left) : 0;
}

static TU_UNUSED void tu_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

    nanosleep(&ts, NULL);
}

/* True when the run requires every case (CHP_TEST_REQUIRE_ALL=1, set by
 * scripts/test.sh and so by CI): a missing server is then a failure, not a
 * skip, so `make test` cannot pass without having tested everything. */
static TU_UNUSED int tu_require_all(void)
{
    const char *v = getenv("CHP_TEST_REQUIRE_ALL");

    return v && !strcmp(v, "1");
}

/* Exits with 77 (skipped) after saying why on stderr; with
 * CHP_TEST_REQUIRE_ALL=1, exits with 1 (failed) instead. */
static TU_UNUSED __attribute__((noreturn, format(printf, 1, 2))) void
tu_skip(const char *fmt, ...)
{
    va_list ap;

    fputs(tu_require_all() ? "FAIL (required, CHP_TEST_REQUIRE_ALL=1): "
                           : "SKIP: ",
          stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(tu_require_all() ? 1 : TU_SKIP);
}

/* Cases skipped inside a cmocka group (see TU_SKIP_CASE). */
static TU_UNUSED int tu_skipped_cases;

/* Skips one cmocka case, saying why; the program's status then becomes 77
 * through tu_status() unless a case failed.  With CHP_TEST_REQUIRE_ALL=1 the
 * case fails instead.  (cmocka's skip() alone lets the program pass.) */
#define TU_SKIP_CASE(...)                                                      \
    do {                                                                       \
        fprintf(stderr, "%s",                                                  \
                tu_require_all() ? "FAIL (required): " : "SKIP: ");            \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        if (tu_require_all())                                                  \
            fail_msg("required case could not run");                           \
        tu_skipped_cases++;                                                    \
        skip();                                                                \
    } while (0)

/* The exit status of a cmocka program: failures win, then skips (77). */
static TU_UNUSED int tu_status(int failed)
{
    if (failed)
        return failed;
    return tu_skipped_cases ? TU_SKIP : 0;
}

/* getenv(name), or skip the whole test when it is unset or empty. */
static TU_UNUSED const char *tu_env_or_skip(const char *name, const char *hint)
{
    const char *v = getenv(name);

    if (!v || !*v)
        tu_skip("%s is not set%s%s", name, hint ? "; " : "", hint ? hint : "");
    return v;
}

/* The bootstrap brokers of the test cluster; skips the test without one. */
static TU_UNUSED const char *tu_brokers(void)
{
    return tu_env_or_skip("CHP_TEST_BROKERS",
                          "start Kafka with scripts/kafka.sh start and set "
                          "CHP_TEST_BROKERS=127.0.0.1:9092");
}

/* prefix-<pid>-<ms since epoch>-<counter>: unique across runs and processes
 * sharing one broker, and a legal topic, group and transactional.id. */
static TU_UNUSED void tu_unique_name(char *buf, size_t n, const char *prefix)
{
    static unsigned counter;
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    snprintf(buf, n, "%s-%ld-%lld-%u", prefix, (long)getpid(),
             (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, counter++);
}

/* A configuration with bootstrap.servers and the NULL-terminated key, value
 * pairs of extra (may be NULL).  NULL and errstr filled on a bad property. */
static TU_UNUSED rd_kafka_conf_t *
tu_conf(const char *brokers, const char *const extra[], char *errstr, size_t n)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    size_t i;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", brokers, errstr, n) !=
        RD_KAFKA_CONF_OK)
        goto fail;
    for (i = 0; extra && extra[i]; i += 2) {
        if (!extra[i + 1]) {
            snprintf(errstr, n, "property %s has no value", extra[i]);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, extra[i], extra[i + 1], errstr, n) !=
            RD_KAFKA_CONF_OK)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

/* A handle of the given type from a configuration; takes ownership of conf
 * in every case.  NULL (reason on stderr) on failure. */
static TU_UNUSED rd_kafka_t *tu_handle(rd_kafka_type_t type,
                                       rd_kafka_conf_t *conf)
{
    char errstr[512];
    rd_kafka_t *rk;

    if (!conf)
        return NULL;
    rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "testutil: rd_kafka_new: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

/* A producer with extra key, value pairs (NULL-terminated, may be NULL).
 * NULL (reason on stderr) on failure. */
static TU_UNUSED rd_kafka_t *tu_producer(const char *brokers,
                                         const char *const extra_kv_pairs[])
{
    char errstr[512];
    rd_kafka_conf_t *conf =
        tu_conf(brokers, extra_kv_pairs, errstr, sizeof(errstr));

    if (!conf) {
        fprintf(stderr, "testutil: producer config: %s\n", errstr);
        return NULL;
    }
    return tu_handle(RD_KAFKA_PRODUCER, conf);
}

/* 0 if brokers answer a metadata request within timeout_ms, else -1 with
 * errstr filled: a test fails in seconds, not phase by phase, when the
 * configured broker is down. */
static TU_UNUSED int tu_brokers_answer(const char *brokers, int timeout_ms,
                                       char *errstr, size_t n)
{
    rd_kafka_t *rk = tu_producer(brokers, NULL);
    const struct rd_kafka_metadata *md = NULL;
    rd_kafka_resp_err_t err;

    if (!rk) {
        snprintf(errstr, n, "cannot create a client for %s", brokers);
        return -1;
    }
    err = rd_kafka_metadata(rk, 0, NULL, &md, timeout_ms);
    if (err)
        snprintf(errstr, n, "brokers %s do not answer: %s", brokers,
                 rd_kafka_err2str(err));
    else
        rd_kafka_metadata_destroy(md);
    rd_kafka_destroy(rk);
    return err ? -1 : 0;
}

/* The pid of the shared test broker (scripts/kafka.sh writes it to
 * $CHP_RUN_DIR/kafka/kafka.pid), or 0 when it is not running.  Fault tests
 * pause and restart it. */
static TU_UNUSED pid_t tu_broker_pid(void)
{
    const char *run = getenv("CHP_RUN_DIR"), *src = getenv("CHP_SOURCE_DIR");
    char path[600];
    FILE *fp;
    long pid = 0;

    if (run && *run)
        snprintf(path, sizeof(path), "%s/kafka/kafka.pid", run);
    else
        snprintf(path, sizeof(path), "%s/.cache/run/kafka/kafka.pid",
                 src ? src : ".");
    if (!(fp = fopen(path, "r")))
        return 0;
    if (fscanf(fp, "%ld", &pid) != 1)
        pid = 0;
    fclose(fp);
    return pid > 0 && kill((pid_t)pid, 0) == 0 ? (pid_t)pid : 0;
}

/* Resumes the shared broker (SIGCONT) and makes sure it answers; runs
 * bounce_cmd (scripts/kafka.sh bounce: a restart over its data) when it
 * does not.  Every fault test calls it at the end of a case, whatever
 * happened, since the other tests share the broker.  0, or -1 with errstr
 * filled. */
static TU_UNUSED int tu_broker_revive(const char *brokers,
                                      const char *bounce_cmd, char *errstr,
                                      size_t errstr_size)
{
    pid_t pid = tu_broker_pid();

    if (pid)
        kill(pid, SIGCONT);
    if (tu_brokers_answer(brokers, 30000, errstr, errstr_size) == 0)
        return 0;
    fprintf(stderr, "broker does not answer (%s): bouncing it\n", errstr);
    if (system(bounce_cmd) != 0 ||
        tu_brokers_answer(brokers, 60000, errstr, errstr_size) != 0)
        return -1;
    return 0;
}

/* A consumer in group (reading from the earliest offset unless extra says
 * otherwise) whose rd_kafka_consumer_poll() also serves its events.
 * NULL (reason on stderr) on failure. */
static TU_UNUSED rd_kafka_t *tu_consumer(const char *brokers, const char *group,
                                         const char *const extra_kv_pairs[])
{
    char errstr[512];
    rd_kafka_conf_t *conf = tu_conf(brokers, NULL, errstr, sizeof(errstr));
    rd_kafka_t *rk;
    size_t i;

    if (!conf)
        goto fail;
    if (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) ||
        rd_kafka_conf_set(conf, "auto.offset.reset", "earliest", errstr,
                          sizeof(errstr)))
        goto fail;
    for (i = 0; extra_kv_pairs && extra_kv_pairs[i]; i += 2) {
        if (!extra_kv_pairs[i + 1]) {
            snprintf(errstr, sizeof(errstr), "property %s has no value",
                     extra_kv_pairs[i]);
            goto fail;
        }
        if (rd_kafka_conf_set(conf, extra_kv_pairs[i], extra_kv_pairs[i + 1],
                              errstr, sizeof(errstr)))
            goto fail;
    }
    rk = tu_handle(RD_KAFKA_CONSUMER, conf);
    if (rk)
        rd_kafka_poll_set_consumer(rk);
    return rk;
fail:
    fprintf(stderr, "testutil: consumer config: %s\n", errstr);
    if (conf)
        rd_kafka_conf_destroy(conf);
    return NULL;
}

/* Polls metadata until topic has exactly partitions partitions, each with a
 * leader, or timeout_ms passes.  0, or -1 with errstr filled. */
static TU_UNUSED int tu_wait_topic(rd_kafka_t *rk, const char *topic,
                                   int partitions, int timeout_ms, char *errstr,
                                   size_t n)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    rd_kafka_topic_t *rkt = rd_kafka_topic_new(rk, topic, NULL);

    snprintf(errstr, n, "no metadata for %s", topic);
    if (!rkt)
        return -1;
    do {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err;
        int ok = 0, i;

        err = rd_kafka_metadata(rk, 0, rkt, &md, tu_left_ms(deadline) + 1);
        if (err) {
            snprintf(errstr, n, "metadata for %s: %s", topic,
                     rd_kafka_err2str(err));
        } else if (md->topic_cnt != 1 || md->topics[0].err) {
            snprintf(errstr, n, "topic %s: %s", topic,
                     md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err)
                                        : "not in metadata");
        } else if (md->topics[0].partition_cnt != partitions) {
            snprintf(errstr, n, "topic %s has %d partitions, want %d", topic,
                     md->topics[0].partition_cnt, partitions);
        } else {
            ok = 1;
            for (i = 0; i < partitions; i++) {
                const rd_kafka_metadata_partition_t *p =
                    &md->topics[0].partitions[i];
                if (p->err || p->leader < 0) {
                    snprintf(errstr, n, "topic %s partition %d: no leader (%s)",
                             topic, (int)p->id, rd_kafka_err2str(p->err));
                    ok = 0;
                    break;
                }
            }
        }
        if (md)
            rd_kafka_metadata_destroy(md);
        if (ok) {
            rd_kafka_topic_destroy(rkt);
            return 0;
        }
        tu_sleep_ms(100);
    } while (tu_left_ms(deadline) > 0);
    rd_kafka_topic_destroy(rkt);
    return -1;
}

/* Waits up to timeout_ms for the result event of an admin request on q. */
static TU_UNUSED rd_kafka_event_t *
tu_admin_result(rd_kafka_queue_t *q, rd_kafka_event_type_t type, int timeout_ms)
{
    int64_t deadline = tu_now_ms() + timeout_ms;

    do {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, tu_left_ms(deadline));
        if (ev && rd_kafka_event_type(ev) == type)
            return ev;
        if (ev)
            rd_kafka_event_destroy(ev);
    } while (tu_left_ms(deadline) > 0);
    return NULL;
}

/* Creates topic (replication factor 1) with the admin API, accepting one
 * that already exists, then waits until every partition has a leader.
 * 0, or -1 with errstr filled. */
static TU_UNUSED int tu_create_topic(const char *brokers, const char *topic,
                                     int partitions, char *errstr, size_t n)
{
    rd_kafka_t *rk = tu_producer(brokers, NULL);
    rd_kafka_queue_t *q = NULL;
    rd_kafka_NewTopic_t *nt = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_event_t *ev = NULL;
    const rd_kafka_topic_result_t **res;
    size_t cnt = 0;
    int rc = -1;

    if (!rk) {
        snprintf(errstr, n, "cannot create an admin client");
        return -1;
    }
    nt = rd_kafka_NewTopic_new(topic, partitions, 1, errstr, n);
    if (!nt)
        goto out;
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    if (rd_kafka_AdminOptions_set_request_timeout(opts, TU_TIMEOUT_MS, errstr,
                                                  n) ||
        rd_kafka_AdminOptions_set_operation_timeout(opts, TU_TIMEOUT_MS / 2,
                                                    errstr, n))
        goto out;
    q = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, &nt, 1, opts, q);
    ev = tu_admin_result(q, RD_KAFKA_EVENT_CREATETOPICS_RESULT,
                         TU_TIMEOUT_MS + 5000);
    if (!ev) {
        snprintf(errstr, n, "CreateTopics %s: no result in time", topic);
        goto out;
    }
    if (rd_kafka_event_error(ev)) {
        snprintf(errstr, n, "CreateTopics %s: %s", topic,
                 rd_kafka_event_error_string(ev));
        goto out;
    }
    res = rd_kafka_CreateTopics_result_topics(
        rd_kafka_event_CreateTopics_result(ev), &cnt);
    if (cnt != 1) {
        snprintf(errstr, n, "CreateTopics %s: %zu results", topic, cnt);
        goto out;
    }
    if (rd_kafka_topic_result_error(res[0]) &&
        rd_kafka_topic_result_error(res[0]) !=
            RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
        snprintf(errstr, n, "CreateTopics %s: %s", topic,
                 rd_kafka_topic_result_error_string(res[0]));
        goto out;
    }
    rc = tu_wait_topic(rk, topic, partitions, TU_TIMEOUT_MS, errstr, n);
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    if (q)
        rd_kafka_queue_destroy(q);
    if (opts)
        rd_kafka_AdminOptions_destroy(opts);
    if (nt)
        rd_kafka_NewTopic_destroy(nt);
    rd_kafka_destroy(rk);
    return rc;
}

/* Deletes topic so tests do not pile topics up on a shared broker.  Best
 * effort: 0, or -1 with errstr filled. */
static TU_UNUSED int tu_delete_topic(const char *brokers, const char *topic,
                                     char *errstr, size_t n)
{
    rd_kafka_t *rk = tu_producer(brokers, NULL);
    rd_kafka_DeleteTopic_t *dt;
    rd_kafka_queue_t *q;
    rd_kafka_event_t *ev;
    int rc = -1;

    if (!rk) {
        snprintf(errstr, n, "cannot create an admin client");
        return -1;
    }
    dt = rd_kafka_DeleteTopic_new(topic);
    q = rd_kafka_queue_new(rk);
    rd_kafka_DeleteTopics(rk, &dt, 1, NULL, q);
    ev = tu_admin_result(q, RD_KAFKA_EVENT_DELETETOPICS_RESULT, TU_TIMEOUT_MS);
    if (!ev) {
        snprintf(errstr, n, "DeleteTopics %s: no result in time", topic);
    } else {
        const rd_kafka_topic_result_t **res;
        size_t cnt = 0;

        res = rd_kafka_DeleteTopics_result_topics(
            rd_kafka_event_DeleteTopics_result(ev), &cnt);
        if (rd_kafka_event_error(ev))
            snprintf(errstr, n, "DeleteTopics %s: %s", topic,
                     rd_kafka_event_error_string(ev));
        else if (cnt == 1 && rd_kafka_topic_result_error(res[0]))
            snprintf(errstr, n, "DeleteTopics %s: %s", topic,
                     rd_kafka_topic_result_error_string(res[0]));
        else
            rc = 0;
        rd_kafka_event_destroy(ev);
    }
    rd_kafka_queue_destroy(q);
    rd_kafka_DeleteTopic_destroy(dt);
    rd_kafka_destroy(rk);
    return rc;
}

/* High watermarks (end offsets) of partitions 0..partitions-1 of topic into
 * hi[].  0, or -1 with errstr filled. */
static TU_UNUSED int tu_end_offsets(rd_kafka_t *rk, const char *topic,
                                    int partitions, int64_t *hi, char *errstr,
                                    size_t n)
{
    int p;

    for (p = 0; p < partitions; p++) {
        int64_t lo = 0;
        rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
            rk, topic, p, &lo, &hi[p], TU_TIMEOUT_MS);
        if (err) {
            snprintf(errstr, n, "watermarks of %s [%d]: %s", topic, p,
                     rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

/* Copies the error's text into errstr and destroys it; returns -1 if there
 * was an error, 0 for NULL.  For the rd_kafka_error_t * of the transaction
 * API, so a test can fail with the reason and leak nothing. */
static TU_UNUSED int tu_take_error(rd_kafka_error_t *error, const char *what,
                                   char *errstr, size_t n)
{
    if (!error)
        return 0;
    snprintf(errstr, n, "%s: %s%s%s", what, rd_kafka_error_string(error),
             rd_kafka_error_is_fatal(error) ? " (fatal)" : "",
             rd_kafka_error_txn_requires_abort(error) ? " (abortable)" : "");
    rd_kafka_error_destroy(error);
    return -1;
}

#endif /* CHP_TESTUTIL_H */
