/* conf_daemon.c - the daemons' configuration property table.
 *
 * The keys only the `chaperone` binary reads (worker, controller,
 * collector, report, and what every daemon shares: HTTP, shutdown).  They
 * extend the library's table (lib/conf.c) in the configurations the binary
 * makes with conf_daemon_new(); libchaperone and the plugin never see them,
 * so a plugin user setting db.url gets "unknown configuration key".
 * docs/configuration.md lists both tables (tools/confdoc.c), and the key
 * constants (conf_daemon_keys.h) are generated from it (tools/confkeys.c):
 * data only here, so the generator can link it before anything that uses
 * the constants is built. */
#include "conf_daemon.h"

#include "conf_table.h"

static const chp_conf_prop_t props[] = {
    {"cluster.name", STR(.flags = F_NONEMPTY), .group = G_DAEMONS,
     .scope = S_WORKER | S_CTL, .defval = "local",
     .desc = "Name of the audited Kafka cluster; the worker's default tier "
             "is `kafka-<cluster.name>`."},
    {"http.address", STR(.flags = F_NONEMPTY), .group = G_DAEMONS,
     .scope = S_DAEMONS, .defval = "127.0.0.1",
     .desc = "Address the HTTP server (REST API, `/metrics`) binds to; "
             "`0.0.0.0` for every interface."},
    {"http.port", INT(0, 65535), .group = G_DAEMONS, .scope = S_DAEMONS,
     .defval = "0",
     .desc = "HTTP port. 0: the component default, controller 9000, "
             "worker 9001, collector 9002."},
    {"http.auth.token", STR(.flags = F_SECRET), .group = G_DAEMONS,
     .scope = S_DAEMONS, .defval = "",
     .desc = "Bearer token (16 to 256 printable characters) that every "
             "HTTP request except `GET /health` must carry as "
             "`Authorization: Bearer <token>`; a 401 with a JSON error "
             "otherwise. Redacted in dumps; give it as "
             "`@file:/path` to keep it off the command line. Empty: see "
             "`http.auth.token.file`."},
    {"http.auth.token.file", STR(.flags = 0), .group = G_DAEMONS,
     .scope = S_DAEMONS, .defval = "",
     .desc = "File of accepted bearer tokens, one per line (blank lines "
             "and `#` comments skipped), re-read on SIGHUP so tokens can "
             "be rotated without a restart; accepted besides "
             "`http.auth.token`."},
    {"http.auth.disable", BOOL, .group = G_DAEMONS, .scope = S_DAEMONS,
     .defval = "false",
     .desc = "Serve HTTP without authentication on a non-loopback "
             "`http.address`. Without a token and without this a daemon "
             "bound beyond 127.0.0.0/8 refuses to start (protected mode)."},
    {"http.tls.cert.file", STR(.flags = 0), .group = G_DAEMONS,
     .scope = S_DAEMONS, .defval = "",
     .desc = "PEM certificate (chain) of the HTTP server: with "
             "`http.tls.key.file`, serve HTTPS only (TLS 1.2 and 1.3). "
             "Empty: plain HTTP."},
    {"http.tls.key.file", STR(.flags = 0), .group = G_DAEMONS,
     .scope = S_DAEMONS, .defval = "",
     .desc = "PEM private key (unencrypted) of `http.tls.cert.file`."},

    {"daemon.shutdown.timeout.ms", INT(1000, 3600000), .group = G_DAEMONS,
     .scope = S_DAEMONS, .defval = "30000",
     .desc = "On SIGTERM/SIGINT a daemon commits what it can and closes its "
             "clients within this bound, whatever is unreachable; past it, "
             "a watchdog logs why and exits with status 3. Nothing is lost: "
             "what was not committed is replayed on the next start."},

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

const chp_conf_table_t conf_daemon_table = {
    .title = "Daemon keys",
    .intro = "Read only by the `chaperone` daemons and commands; "
             "libchaperone and the interceptor plugin refuse them as "
             "unknown keys.",
    .props = props,
    .n_props = sizeof(props) / sizeof(props[0]),
};
