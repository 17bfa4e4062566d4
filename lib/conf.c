/* conf.c - the configuration property table (design.md §11).
 *
 * Every key, its type, default, range, scope and documentation lives in
 * props[] below, the way librdkafka's rdkafka_conf.c does it: the values
 * are checked from it (conf_value.c), kept per configuration from it
 * (conf_store.c) and docs/configuration.md is generated from it
 * (conf_doc.c), so code and docs cannot disagree. */
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"

#define S_CLIENT   CHP_SCOPE_CLIENT
#define S_WORKER   CHP_SCOPE_WORKER
#define S_CTL      CHP_SCOPE_CONTROLLER
#define S_COLL     CHP_SCOPE_COLLECTOR
#define S_REPORT   CHP_SCOPE_REPORT
#define S_AUDITORS (S_CLIENT | S_WORKER)
#define S_DAEMONS  (S_WORKER | S_CTL | S_COLL)

#define STR(...)    .type = CHP_CONF_STR, __VA_ARGS__
#define INT(lo, hi) .type = CHP_CONF_INT, .imin = (lo), .imax = (hi)
#define DBL(lo, hi) .type = CHP_CONF_DOUBLE, .dmin = (lo), .dmax = (hi)
#define BOOL        .type = CHP_CONF_BOOL
#define ENUM(...)   .type = CHP_CONF_ENUM, .enums = {__VA_ARGS__, NULL}

#define G_COMMON CHP_CONF_GROUP_COMMON
#define G_WORKER CHP_CONF_GROUP_WORKER
#define G_CTL    CHP_CONF_GROUP_CONTROLLER
#define G_COLL   CHP_CONF_GROUP_COLLECTOR
#define G_REPORT CHP_CONF_GROUP_REPORT

#define F_NONEMPTY CHP_CONF_F_NONEMPTY
#define F_LIST     CHP_CONF_F_LIST
#define F_TOPIC    CHP_CONF_F_TOPIC
#define F_URL      CHP_CONF_F_URL
#define F_SECRET   CHP_CONF_F_SECRET

static const chp_conf_prop_t props[] = {
    /* ---------------------------------------------------------- common */
    {"log.level", ENUM("error", "warn", "info", "debug"), .group = G_COMMON,
     .scope = CHP_SCOPE_ALL, .defval = "info",
     .desc = "Least severe level of the log lines written to stderr."},
    {"tier", STR(.flags = 0), .group = G_COMMON, .scope = S_AUDITORS,
     .defval = "",
     .desc = "Pipeline stage this process counts as, written in every audit "
             "message. Empty: the component default, `producer` or "
             "`consumer-<group.id>` for the client, `kafka-<cluster.name>` "
             "for the worker."},
    {"datacenter", STR(.flags = F_NONEMPTY), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "default",
     .desc = "Datacenter written in every audit message."},
    {"hostname", STR(.flags = 0), .group = G_COMMON, .scope = S_AUDITORS,
     .defval = "",
     .desc = "Host name written in every audit message. Empty: the result "
             "of gethostname()."},
    {"cluster.name", STR(.flags = F_NONEMPTY), .group = G_COMMON,
     .scope = S_WORKER | S_CTL, .defval = "local",
     .desc = "Name of the audited Kafka cluster; the worker's default tier "
             "is `kafka-<cluster.name>`."},
    {"audit.topic", STR(.flags = F_NONEMPTY | F_TOPIC), .group = G_COMMON,
     .scope = S_AUDITORS | S_CTL | S_COLL, .defval = "chaperone-audit",
     .desc = "Topic the audit messages are published to and the collector "
             "reads; it is never audited itself."},
    {"topic.map.strip.regex", STR(.flags = 0), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "",
     .desc = "POSIX extended regular expression: the first part of a topic "
             "name it matches is removed, and the topic is audited under "
             "what is left, so a replica speaks of its source topic. With "
             "MirrorMaker 2's default replication policy, `^(dc1|dc2)\\.` "
             "audits `dc1.orders` as `orders`. A name that would become "
             "empty or illegal is kept as it is. Empty: off."},
    {"bucket.seconds", INT(1, 86400), .group = G_COMMON,
     .scope = S_AUDITORS | S_REPORT, .defval = "600",
     .desc = "Width of an event-time bucket, in seconds."},
    {"report.interval.ms", INT(100, 86400000), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "60000",
     .desc = "How often the counters are published as audit messages "
             "(each one carries the delta since the last)."},
    {"max.open.buckets", INT(1, 1000000), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "1000",
     .desc = "Publish early when this many (topic, bucket) pairs are open, "
             "to bound memory."},
    {"timestamp", STR(.flags = F_NONEMPTY | F_LIST), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "json", .imax = CHP_TSX_MAX_RULES,
     .desc = "Ordered list of timestamp rules, tried until one yields: "
             "`json` (a top-level field of `timestamp.fields`), `kafka` "
             "(the record timestamp), `header:NAME` (an ASCII number in a "
             "header), `now` (processing time). Example: `json,kafka`. "
             "Overridden per topic by `timestamp.topic.<topic>`."},
    {"timestamp.fields", STR(.flags = F_NONEMPTY | F_LIST), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "ts,timestamp", .imax = CHP_TSX_MAX_FIELDS,
     .desc = "Top-level JSON field names the `json` rule looks for, "
             "compared case-insensitively."},
    {"reporter.max.pending", INT(1, 100000000), .group = G_COMMON,
     .scope = S_AUDITORS, .defval = "100000",
     .desc = "Most audit messages kept in memory for retry while the audit "
             "topic cannot be written."},
    {"http.address", STR(.flags = F_NONEMPTY), .group = G_COMMON,
     .scope = S_DAEMONS, .defval = "127.0.0.1",
     .desc = "Address the HTTP server (REST API, `/metrics`) binds to; "
             "`0.0.0.0` for every interface."},
    {"http.port", INT(0, 65535), .group = G_COMMON, .scope = S_DAEMONS,
     .defval = "0",
     .desc = "HTTP port. 0: the component default, controller 9000, "
             "worker 9001, collector 9002."},
    {"http.auth.token", STR(.flags = F_SECRET), .group = G_COMMON,
     .scope = S_DAEMONS, .defval = "",
     .desc = "Bearer token (16 to 256 printable characters) that every "
             "HTTP request except `GET /health` must carry as "
             "`Authorization: Bearer <token>`; a 401 with a JSON error "
             "otherwise. Redacted in dumps; give it as "
             "`@file:/path` to keep it off the command line. Empty: see "
             "`http.auth.token.file`."},
    {"http.auth.token.file", STR(.flags = 0), .group = G_COMMON,
     .scope = S_DAEMONS, .defval = "",
     .desc = "File of accepted bearer tokens, one per line (blank lines "
             "and `#` comments skipped), re-read on SIGHUP so tokens can "
             "be rotated without a restart; accepted besides "
             "`http.auth.token`."},
    {"http.auth.disable", BOOL, .group = G_COMMON, .scope = S_DAEMONS,
     .defval = "false",
     .desc = "Serve HTTP without authentication on a non-loopback "
             "`http.address`. Without a token and without this a daemon "
             "bound beyond 127.0.0.0/8 refuses to start (protected mode)."},
    {"http.tls.cert.file", STR(.flags = 0), .group = G_COMMON,
     .scope = S_DAEMONS, .defval = "",
     .desc = "PEM certificate (chain) of the HTTP server: with "
             "`http.tls.key.file`, serve HTTPS only (TLS 1.2 and 1.3). "
             "Empty: plain HTTP."},
    {"http.tls.key.file", STR(.flags = 0), .group = G_COMMON,
     .scope = S_DAEMONS, .defval = "",
     .desc = "PEM private key (unencrypted) of `http.tls.cert.file`."},

    {"daemon.shutdown.timeout.ms", INT(1000, 3600000), .group = G_COMMON,
     .scope = S_DAEMONS, .defval = "30000",
     .desc = "On SIGTERM/SIGINT a daemon commits what it can and closes its "
             "clients within this bound, whatever is unreachable; past it, "
             "a watchdog logs why and exits with status 3. Nothing is lost: "
             "what was not committed is replayed on the next start."},

    /* ---------------------------------------------------------- worker */
    {"worker.group.id", STR(.flags = F_NONEMPTY), .group = G_WORKER,
     .scope = S_WORKER, .defval = "chaperone-worker",
     .desc = "Consumer group the workers of one cluster join; the group "
             "protocol spreads the partitions over its members."},
    {"worker.topics", STR(.flags = F_LIST | F_TOPIC), .group = G_WORKER,
     .scope = S_WORKER, .defval = "",
     .desc = "Comma-separated topics to audit explicitly (whitespace around "
             "the names is ignored)."},
    {"worker.topics.regex", STR(.flags = 0), .group = G_WORKER,
     .scope = S_WORKER, .defval = "",
     .desc = "Audit every topic matching this POSIX extended regular "
             "expression, re-evaluated every `worker.topics.refresh.ms`. "
             "Empty: off. The audit topic, the registry and `__` internal "
             "topics are never audited."},
    {"worker.topics.refresh.ms", INT(100, 3600000), .group = G_WORKER,
     .scope = S_WORKER, .defval = "10000",
     .desc = "How often the worker lists the cluster's topics (and reads "
             "the registry) to follow topics created or removed while it "
             "runs."},
    {"worker.instance", STR(.flags = 0), .group = G_WORKER, .scope = S_WORKER,
     .defval = "",
     .desc = "Name of this worker process, unique in its group and stable "
             "across restarts: its `transactional.id` is "
             "`<worker.transactional.id.prefix>-<worker.instance>`, so a "
             "restarted worker fences its crashed predecessor and aborts "
             "its open transaction at once. Empty: the host name."},
    {"worker.registry", STR(.flags = F_NONEMPTY | F_TOPIC), .group = G_WORKER,
     .scope = S_WORKER | S_CTL, .defval = "__chaperone_topics",
     .desc = "Compacted topic holding the audited set and the blacklist: "
             "written by the controller, followed by the workers."},
    {"worker.use.registry", BOOL, .group = G_WORKER, .scope = S_WORKER,
     .defval = "true",
     .desc = "Audit the topics the controller lists in `worker.registry`."},
    {"worker.transactional.id.prefix", STR(.flags = F_NONEMPTY),
     .group = G_WORKER, .scope = S_WORKER, .defval = "chaperone-worker",
     .desc = "Prefix of the `transactional.id` of each worker's producer "
             "(exactly-once emission)."},

    /* ------------------------------------------------------ controller */
    {"controller.detect.interval.s", INT(1, 86400), .group = G_CTL,
     .scope = S_CTL, .defval = "60",
     .desc = "Seconds between two listings of the cluster's topics for "
             "auto-detection."},
    {"controller.exclude.regex", STR(.flags = 0), .group = G_CTL,
     .scope = S_CTL, .defval = "^__",
     .desc = "Topics matching this regular expression are never "
             "auto-detected (nor is the audit topic). Empty: exclude "
             "nothing else."},
    {"controller.include.regex", STR(.flags = 0), .group = G_CTL,
     .scope = S_CTL, .defval = "",
     .desc = "When set, only topics matching this POSIX extended regular "
             "expression are auto-detected (for example `^prod\\.`). "
             "Empty: every topic not excluded."},
    {"controller.auto.detect", BOOL, .group = G_CTL, .scope = S_CTL,
     .defval = "true",
     .desc = "Start auditing new topics automatically, unless blacklisted."},
    {"controller.max.body.bytes", INT(1024, 16777216), .group = G_CTL,
     .scope = S_CTL, .defval = "65536",
     .desc = "Largest HTTP request body accepted by the REST API."},

    /* ------------------------------------------------------- collector */
    {"db.url", STR(.flags = F_NONEMPTY | F_URL), .group = G_COLL,
     .scope = S_COLL | S_REPORT, .defval = "sqlite://chaperone.db",
     .desc = "Database: `sqlite://PATH` (a relative PATH is relative to the "
             "working directory, `sqlite:///abs/path` is absolute), "
             "`mysql://user:password@host:3306/db` or "
             "`postgresql://user:password@host:5432/db`. The password is "
             "redacted in dumps."},
    {"collector.group.id", STR(.flags = F_NONEMPTY), .group = G_COLL,
     .scope = S_COLL, .defval = "chaperone-collector",
     .desc = "Consumer group the collectors join on the audit topic."},
    {"dedup", ENUM("db", "redis"), .group = G_COLL, .scope = S_COLL,
     .defval = "db",
     .desc = "Where seen audit-message uuids are kept: `db` (in the same "
             "transaction as the data) or `redis` (`SET NX EX`, as the "
             "original did)."},
    {"redis.url", STR(.flags = F_NONEMPTY | F_URL), .group = G_COLL,
     .scope = S_COLL, .defval = "redis://127.0.0.1:6379",
     .desc = "Redis server used when `dedup=redis`."},
    {"dedup.ttl.hours", INT(1, 8760), .group = G_COLL, .scope = S_COLL,
     .defval = "6",
     .desc = "How long an audit-message uuid is remembered for "
             "de-duplication."},
    {"retention.hours", INT(1, 87600), .group = G_COLL, .scope = S_COLL,
     .defval = "336", .desc = "Rows of buckets older than this are deleted."},
    {"combine.hosts", BOOL, .group = G_COLL, .scope = S_COLL, .defval = "true",
     .desc = "Aggregate the hosts of one (bucket, topic, tier, datacenter) "
             "into a single row with host `combined`."},
    {"collector.flush.interval.ms", INT(10, 600000), .group = G_COLL,
     .scope = S_COLL, .defval = "1000",
     .desc = "Longest time a consumed audit message waits for the database "
             "transaction that stores it."},
    {"collector.flush.max.messages", INT(1, 10000000), .group = G_COLL,
     .scope = S_COLL, .defval = "10000",
     .desc = "Commit a database transaction once it holds this many audit "
             "messages, before the interval is up."},
    {"collector.retry.max.ms", INT(100, 600000), .group = G_COLL,
     .scope = S_COLL, .defval = "30000",
     .desc = "Upper bound of the back-off between retries while the "
             "database is unreachable."},
    {"collector.cluster", STR(.flags = 0), .group = G_COLL, .scope = S_COLL,
     .defval = "",
     .desc = "Name of the audit cluster this collector reads; the stored "
             "audit-topic offsets are keyed by it, so collectors of several "
             "clusters share one database. Empty: the cluster's id as Kafka "
             "reports it."},
    {"collector.metrics.topics", INT(0, 100000), .group = G_COLL,
     .scope = S_COLL, .defval = "100",
     .desc = "Most topics whose completeness the collector's /metrics "
             "exposes (chaperone_completeness_ratio, "
             "chaperone_lossy_buckets, chaperone_complete_until_seconds), "
             "in byte order of their names: bounds the label cardinality. "
             "0: none."},
    {"collector.metrics.window.s", INT(600, 604800), .group = G_COLL,
     .scope = S_COLL, .defval = "21600",
     .desc = "The completeness metrics look at the buckets that started "
             "within this many seconds; they are recomputed at most every "
             "30 s, whatever the scrape interval."},

    /* ---------------------------------------------------------- report */
    {"report.lateness.s", INT(0, 604800), .group = G_REPORT,
     .scope = S_REPORT | S_COLL, .defval = "1800",
     .desc = "A bucket is closed, and checked, once it ended this many "
             "seconds ago."},
    {"report.reference.tier", STR(.flags = 0), .group = G_REPORT,
     .scope = S_REPORT | S_COLL, .defval = "",
     .desc = "Tier that the other tiers' loss is measured against "
             "(`chaperone report`, `check`, the query API and the "
             "dashboard). Empty: per topic, the tier with the largest total "
             "count over the range looked at."},
    {"report.pipeline", STR(.flags = F_LIST), .group = G_REPORT,
     .scope = S_REPORT | S_COLL, .defval = "",
     .desc = "Ordered tiers of the pipeline, e.g. "
             "`producer,kafka-regional,kafka-aggregate,consumer-etl`: "
             "`report`, `check`, the query API and the dashboard then "
             "compare each tier with the one before it (loss, duplication "
             "and added latency per hop, per datacenter where both tiers "
             "report the same datacenters; see docs/pipeline.md). Empty: "
             "every tier is compared with the reference tier."},
    {"report.max.loss.percent", DBL(0.0, 100.0), .group = G_REPORT,
     .scope = S_REPORT | S_COLL, .defval = "0.01",
     .desc = "`chaperone check` fails when a closed bucket of some tier "
             "lost more than this percentage against the reference tier "
             "(its default for `--max-loss`); the query API and the "
             "dashboard mark such buckets as lossy."},
};

#define N_PROPS (sizeof(props) / sizeof(props[0]))

static const chp_conf_family_t families[] = {
    {.prefix = "kafka.",
     .suffix = "<property>",
     .group = G_COMMON,
     .scope = S_AUDITORS | S_DAEMONS,
     .desc = "Passed to librdkafka verbatim without the prefix, e.g. "
             "`kafka.bootstrap.servers=broker:9092`. Values of properties "
             "whose name contains `password` or `secret` are redacted in "
             "dumps."},
    {.prefix = "timestamp.topic.",
     .suffix = "<topic>",
     .suffix_is_topic = true,
     .group = G_COMMON,
     .scope = S_AUDITORS,
     .flags = F_NONEMPTY | F_LIST,
     .max_items = CHP_TSX_MAX_RULES,
     .desc = "Timestamp rule list for one topic, replacing `timestamp` for "
             "it, e.g. `timestamp.topic.clicks=header:event-time,kafka`."},
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

const chp_conf_prop_t *chp_conf_props(size_t *n)
{
    *n = N_PROPS;
    return props;
}

const chp_conf_family_t *chp_conf_families(size_t *n)
{
    *n = N_FAMILIES;
    return families;
}

const chp_conf_prop_t *chp_conf_prop_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_PROPS; i++)
        if (!strcmp(props[i].name, name))
            return &props[i];
    return NULL;
}

const chp_conf_family_t *chp_conf_family_find(const char *name)
{
    for (size_t i = 0; i < N_FAMILIES; i++)
        if (!strncmp(name, families[i].prefix, strlen(families[i].prefix)))
            return &families[i];
    return NULL;
}

unsigned chp_conf_scope(const char *name)
{
    const chp_conf_prop_t *p = chp_conf_prop_find(name);
    const chp_conf_family_t *f;

    if (p)
        return p->scope;
    if (!name)
        return 0;
    f = chp_conf_family_find(name);
    return f && name[strlen(f->prefix)] ? f->scope : 0;
}

/* ------------------------------------------------------ unknown keys */

/* Levenshtein distance, capped: only small distances matter here. */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[129];

    if (la > 128 || lb > 128)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j], best;
            best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best)
                best = up + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[lb];
}

/* True if librdkafka knows name, to point at the missing "kafka." prefix.
 * Only on the error path: it builds a throwaway librdkafka conf. */
static bool is_rdkafka_property(const char *name)
{
    rd_kafka_conf_t *rk;
    char errstr[256];
    bool known;

    /* Setting it is the only way to ask about properties with no default
     * (bootstrap.servers, group.id); this one would load a library. */
    if (!strcmp(name, "plugin.library.paths"))
        return true;
    if (!(rk = rd_kafka_conf_new()))
        return false;
    known = rd_kafka_conf_set(rk, name, "", errstr, sizeof(errstr)) !=
            RD_KAFKA_CONF_UNKNOWN;
    rd_kafka_conf_destroy(rk);
    return known;
}

chp_err_t chp_conf_unknown_key(const char *name, char *errstr,
                               size_t errstr_size)
{
    const char *best = NULL, *rest = "";
    size_t best_d = 3;

    for (size_t i = 0; i < N_PROPS; i++) {
        size_t d = edit_distance(name, props[i].name);
        if (d < best_d)
            best_d = d, best = props[i].name;
    }
    /* A misspelt family prefix: compare as many dot-separated segments as
     * the prefix has ("kafak.acks" -> "kafka.acks"). */
    for (size_t i = 0; i < N_FAMILIES && !best; i++) {
        const char *pre = families[i].prefix, *p = name;
        char head[64];
        size_t dots = 0, hl;
        for (const char *q = pre; *q; q++)
            dots += *q == '.';
        while (*p && dots)
            dots -= *p++ == '.';
        hl = (size_t)(p - name);
        if (dots || !*p || hl >= sizeof(head))
            continue;
        memcpy(head, name, hl);
        head[hl] = '\0';
        if (edit_distance(head, pre) <= 2)
            best = pre, rest = p;
    }
    if (best)
        return chp_errf(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                        "unknown configuration key \"%s\" (did you mean "
                        "\"%s%s\"?)",
                        name, best, rest);
    if (is_rdkafka_property(name))
        return chp_errf(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                        "unknown configuration key \"%s\" (librdkafka "
                        "properties take the \"kafka.\" prefix: "
                        "\"kafka.%s\")",
                        name, name);
    return chp_errf(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                    "unknown configuration key \"%s\"", name);
}
