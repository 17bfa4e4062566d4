/* conf.c - the configuration property table, set/get and dump (SPEC §11).
 *
 * Every key, its type, default, range and documentation lives in props[]
 * below; docs/configuration.md is generated from it (conf_doc.c), so the
 * code and the docs cannot disagree.  A chp_conf_t holds one parsed value
 * per table entry plus the prefix-family keys in the order first set; it is
 * never modified by getters, so concurrent readers need no lock. */
#include <ctype.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>

#include "conf.h"

#define S_CLIENT CHP_SCOPE_CLIENT
#define S_WORKER CHP_SCOPE_WORKER
#define S_CTL    CHP_SCOPE_CONTROLLER
#define S_COLL   CHP_SCOPE_COLLECTOR
#define S_REPORT CHP_SCOPE_REPORT
#define S_AUDITORS (S_CLIENT | S_WORKER)
#define S_DAEMONS  (S_WORKER | S_CTL | S_COLL)

#define STR(...)  .type = CHP_CONF_STR, __VA_ARGS__
#define INT(lo, hi) .type = CHP_CONF_INT, .imin = (lo), .imax = (hi)
#define DBL(lo, hi) .type = CHP_CONF_DOUBLE, .dmin = (lo), .dmax = (hi)
#define BOOL .type = CHP_CONF_BOOL
#define ENUM(...) .type = CHP_CONF_ENUM, .enums = {__VA_ARGS__, NULL}

#define G_COMMON CHP_CONF_GROUP_COMMON
#define G_WORKER CHP_CONF_GROUP_WORKER
#define G_CTL    CHP_CONF_GROUP_CONTROLLER
#define G_COLL   CHP_CONF_GROUP_COLLECTOR
#define G_REPORT CHP_CONF_GROUP_REPORT

#define F_NONEMPTY CHP_CONF_F_NONEMPTY
#define F_LIST     CHP_CONF_F_LIST
#define F_TOPIC    CHP_CONF_F_TOPIC
#define F_URL      CHP_CONF_F_URL

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
     .scope = S_AUDITORS, .defval = "ts,timestamp",
     .imax = CHP_TSX_MAX_FIELDS,
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
     .desc = "Audit every topic matching this regular expression (a "
             "librdkafka regex subscription). Empty: off."},
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
     .defval = "336",
     .desc = "Rows of buckets older than this are deleted."},
    {"combine.hosts", BOOL, .group = G_COLL, .scope = S_COLL,
     .defval = "true",
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

    /* ---------------------------------------------------------- report */
    {"report.lateness.s", INT(0, 604800), .group = G_REPORT,
     .scope = S_REPORT, .defval = "1800",
     .desc = "A bucket is closed, and checked, once it ended this many "
             "seconds ago."},
    {"report.reference.tier", STR(.flags = 0), .group = G_REPORT,
     .scope = S_REPORT, .defval = "",
     .desc = "Tier that the other tiers' loss is measured against. Empty: "
             "the tier with the most messages in the bucket."},
    {"report.max.loss.percent", DBL(0.0, 100.0), .group = G_REPORT,
     .scope = S_REPORT, .defval = "0.01",
     .desc = "`chaperone check` fails when a closed bucket of some tier "
             "lost more than this percentage against the reference tier."},
};

#define N_PROPS (sizeof(props) / sizeof(props[0]))

static const chp_conf_family_t families[] = {
    {.prefix = "kafka.", .suffix = "<property>", .group = G_COMMON,
     .scope = S_AUDITORS | S_DAEMONS,
     .desc = "Passed to librdkafka verbatim without the prefix, e.g. "
             "`kafka.bootstrap.servers=broker:9092`. Values of properties "
             "whose name contains `password` or `secret` are redacted in "
             "dumps."},
    {.prefix = "timestamp.topic.", .suffix = "<topic>",
     .suffix_is_topic = true, .group = G_COMMON, .scope = S_AUDITORS,
     .flags = F_NONEMPTY | F_LIST, .max_items = CHP_TSX_MAX_RULES,
     .desc = "Timestamp rule list for one topic, replacing `timestamp` for "
             "it, e.g. `timestamp.topic.clicks=header:event-time,kafka`."},
};

#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

/* One parsed value.  str is owned for CHP_CONF_STR, points into the table
 * for CHP_CONF_ENUM. */
typedef struct conf_val {
    char *str;
    int64_t i;
    double d;
    bool set;
} conf_val_t;

typedef struct conf_kv {
    char *name; /* full key, prefix included */
    char *value;
} conf_kv_t;

struct chp_conf {
    conf_val_t vals[N_PROPS];
    conf_kv_t *kv; /* prefix-family keys, in the order first set */
    size_t kv_cnt, kv_cap;
};

/* --------------------------------------------------------------- helpers */

__attribute__((format(printf, 4, 5))) static chp_err_t
fail(char *errstr, size_t errstr_size, chp_err_t err, const char *fmt, ...)
{
    va_list ap;

    if (errstr && errstr_size > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}

static char *dupstr(const char *s, size_t len)
{
    char *p = malloc(len + 1);

    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

/* Values are quoted in messages; a runaway value would bury the key. */
#define QV(v) (strlen(v) > 64 ? 64 : (int)strlen(v)), (v), \
              (strlen(v) > 64 ? "..." : "")

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

static const chp_conf_family_t *family_find(const char *name)
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
    f = family_find(name);
    return f && name[strlen(f->prefix)] ? f->scope : 0;
}

/* ---------------------------------------------------------- value parsing */

/* Optional sign then decimal digits only.  0 ok, -1 not an integer,
 * 1 an integer that does not fit in int64_t. */
static int parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false, overflow = false;
    uint64_t acc = 0, limit;

    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p < '0' || *p > '9')
        return -1;
    for (; *p; p++) {
        unsigned d;
        if (*p < '0' || *p > '9')
            return -1;
        d = (unsigned)(*p - '0');
        if (acc > (UINT64_MAX - d) / 10)
            overflow = true; /* keep scanning: junk still wins */
        else
            acc = acc * 10 + d;
    }
    limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (overflow || acc > limit)
        return 1;
    if (neg)
        *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
    else
        *out = (int64_t)acc;
    return 0;
}

/* Plain decimal notation ([sign] digits [. digits] [e [sign] digits]);
 * strtod alone would also take hex, "inf", "nan" and leading blanks, and
 * would follow the process locale's decimal point. */
static bool parse_double(const char *s, double *out)
{
    const char *p = s;
    size_t digits = 0;
    locale_t c_locale;
    char *end;
    double v;

    if (*p == '+' || *p == '-')
        p++;
    for (; *p >= '0' && *p <= '9'; p++)
        digits++;
    if (*p == '.')
        for (p++; *p >= '0' && *p <= '9'; p++)
            digits++;
    if (!digits)
        return false;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-')
            p++;
        if (*p < '0' || *p > '9')
            return false;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p)
        return false;
    c_locale = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (c_locale == (locale_t)0)
        return false;
    v = strtod_l(s, &end, c_locale);
    freelocale(c_locale);
    if (*end)
        return false;
    *out = v;
    return true;
}

const char *chp_conf_format_double(double v, char *buf, size_t size)
{
    double back;
    char *comma;

    /* Whole numbers read better as "100" than as "1e+02". */
    if (v == floor(v) && fabs(v) < 1e15) {
        snprintf(buf, size, "%.0f", v);
        return buf;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(buf, size, "%.*g", prec, v);
        /* printf follows the locale; the output must not. */
        if ((comma = strchr(buf, ',')))
            *comma = '.';
        if (parse_double(buf, &back) && back == v)
            break;
    }
    return buf;
}

static int parse_bool(const char *s)
{
    static const char *const yes[] = {"true", "1", "yes"};
    static const char *const no[] = {"false", "0", "no"};

    for (size_t i = 0; i < 3; i++) {
        if (!strcasecmp(s, yes[i]))
            return 1;
        if (!strcasecmp(s, no[i]))
            return 0;
    }
    return -1;
}

/* Kafka's own rule: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
static bool topic_name_ok(const char *s, size_t len)
{
    if (len == 0 || len > 249)
        return false;
    if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '_' &&
            s[i] != '-')
            return false;
    return true;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

/* Checks a string value against flags and returns it, normalised, in *out
 * (owned by the caller). */
static chp_err_t check_string(const char *key, unsigned flags,
                              int64_t max_items, const char *value,
                              char **out, char *errstr, size_t errstr_size)
{
    size_t len = strlen(value), n_items = 0, o = 0;
    const char *p = value;
    char *norm;

    for (size_t i = 0; i < len; i++)
        if (((unsigned char)value[i] < 0x20 && value[i] != '\t') ||
            value[i] == 0x7f)
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": control characters are not allowed", key);
    if (!(flags & F_LIST)) {
        if ((flags & F_TOPIC) && !topic_name_ok(value, len))
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": expected a Kafka topic name (1 to 249 of "
                        "a-z A-Z 0-9 . _ -), got \"%.*s%s\"",
                        key, QV(value));
        if ((flags & F_NONEMPTY) && len == 0)
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": must not be empty", key);
        if (!(*out = dupstr(value, len)))
            return CHP_ERR_NOMEM;
        return CHP_OK;
    }

    /* A list: trim each item and drop empty ones, so consumers split on
     * ',' and nothing else. */
    if (!(norm = malloc(len + 1)))
        return CHP_ERR_NOMEM;
    while (*p) {
        const char *b = p, *e;
        size_t ilen;
        while (*p && *p != ',')
            p++;
        e = p;
        if (*p)
            p++;
        while (b < e && is_blank(*b))
            b++;
        while (e > b && is_blank(e[-1]))
            e--;
        ilen = (size_t)(e - b);
        if (!ilen)
            continue;
        if ((flags & F_TOPIC) && !topic_name_ok(b, ilen)) {
            free(norm);
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": expected Kafka topic names (1 to 249 of "
                        "a-z A-Z 0-9 . _ -), got \"%.*s\"",
                        key, ilen > 64 ? 64 : (int)ilen, b);
        }
        if (o)
            norm[o++] = ',';
        memcpy(norm + o, b, ilen);
        o += ilen;
        n_items++;
    }
    norm[o] = '\0';
    if ((flags & F_NONEMPTY) && n_items == 0) {
        free(norm);
        return fail(errstr, errstr_size, CHP_ERR_TYPE,
                    "\"%s\": must not be empty", key);
    }
    if (max_items > 0 && n_items > (size_t)max_items) {
        free(norm);
        return fail(errstr, errstr_size, CHP_ERR_RANGE,
                    "\"%s\": %zu items, at most %" PRId64 " allowed", key,
                    n_items, max_items);
    }
    *out = norm;
    return CHP_OK;
}

/* Parses value for table entry p into *v (v->str owned for strings). */
static chp_err_t parse_value(const chp_conf_prop_t *p, const char *value,
                             conf_val_t *v, char *errstr, size_t errstr_size)
{
    int r;

    memset(v, 0, sizeof(*v));
    switch (p->type) {
    case CHP_CONF_STR:
        return check_string(p->name, p->flags, p->imax, value, &v->str,
                            errstr, errstr_size);
    case CHP_CONF_INT:
        r = parse_int(value, &v->i);
        if (r < 0)
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": expected an integer, got \"%.*s%s\"",
                        p->name, QV(value));
        if (r > 0 || v->i < p->imin || v->i > p->imax)
            return fail(errstr, errstr_size, CHP_ERR_RANGE,
                        "\"%s\": %.*s%s is out of range [%" PRId64
                        "..%" PRId64 "]",
                        p->name, QV(value), p->imin, p->imax);
        return CHP_OK;
    case CHP_CONF_DOUBLE: {
        char lo[32], hi[32];
        if (!parse_double(value, &v->d))
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": expected a number, got \"%.*s%s\"", p->name,
                        QV(value));
        if (!isfinite(v->d) || v->d < p->dmin || v->d > p->dmax)
            return fail(errstr, errstr_size, CHP_ERR_RANGE,
                        "\"%s\": %.*s%s is out of range [%s..%s]", p->name,
                        QV(value), chp_conf_format_double(p->dmin, lo, 32),
                        chp_conf_format_double(p->dmax, hi, 32));
        return CHP_OK;
    }
    case CHP_CONF_BOOL:
        r = parse_bool(value);
        if (r < 0)
            return fail(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": expected true or false (or yes/no, 1/0), "
                        "got \"%.*s%s\"",
                        p->name, QV(value));
        v->i = r;
        return CHP_OK;
    case CHP_CONF_ENUM: {
        char allowed[128];
        size_t o = 0;
        for (size_t i = 0; i < CHP_CONF_MAX_ENUM && p->enums[i]; i++) {
            if (!strcasecmp(value, p->enums[i])) {
                v->str = (char *)p->enums[i];
                return CHP_OK;
            }
        }
        allowed[0] = '\0';
        for (size_t i = 0; i < CHP_CONF_MAX_ENUM && p->enums[i]; i++) {
            int w = snprintf(allowed + o, sizeof(allowed) - o, "%s%s",
                             i ? ", " : "", p->enums[i]);
            if (w < 0 || (size_t)w >= sizeof(allowed) - o)
                break;
            o += (size_t)w;
        }
        return fail(errstr, errstr_size, CHP_ERR_RANGE,
                    "\"%s\": expected one of %s; got \"%.*s%s\"", p->name,
                    allowed, QV(value));
    }
    }
    return fail(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                "\"%s\": unsupported type", p->name);
}

static void val_free(const chp_conf_prop_t *p, conf_val_t *v)
{
    if (p->type == CHP_CONF_STR)
        free(v->str);
    v->str = NULL;
}

/* --------------------------------------------------------- lifecycle */

CHP_EXPORT chp_conf_t *chp_conf_new(void)
{
    chp_conf_t *conf = calloc(1, sizeof(*conf));

    if (!conf)
        return NULL;
    /* Defaults go through the same parser as user values: one source of
     * truth, and a bad default in the table fails every test at once. */
    for (size_t i = 0; i < N_PROPS; i++) {
        if (parse_value(&props[i], props[i].defval, &conf->vals[i], NULL,
                        0) != CHP_OK) {
            chp_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

CHP_EXPORT void chp_conf_destroy(chp_conf_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < N_PROPS; i++)
        val_free(&props[i], &conf->vals[i]);
    for (size_t i = 0; i < conf->kv_cnt; i++) {
        free(conf->kv[i].name);
        free(conf->kv[i].value);
    }
    free(conf->kv);
    free(conf);
}

CHP_EXPORT chp_conf_t *chp_conf_dup(const chp_conf_t *conf)
{
    chp_conf_t *d;

    if (!conf || !(d = calloc(1, sizeof(*d))))
        return NULL;
    for (size_t i = 0; i < N_PROPS; i++) {
        d->vals[i] = conf->vals[i];
        if (props[i].type == CHP_CONF_STR &&
            !(d->vals[i].str = dupstr(conf->vals[i].str,
                                      strlen(conf->vals[i].str))))
            goto fail;
    }
    if (conf->kv_cnt) {
        if (!(d->kv = calloc(conf->kv_cnt, sizeof(*d->kv))))
            goto fail;
        d->kv_cap = conf->kv_cnt;
        for (; d->kv_cnt < conf->kv_cnt; d->kv_cnt++) {
            const conf_kv_t *s = &conf->kv[d->kv_cnt];
            conf_kv_t *t = &d->kv[d->kv_cnt];
            t->name = dupstr(s->name, strlen(s->name));
            t->value = dupstr(s->value, strlen(s->value));
            if (!t->name || !t->value) {
                d->kv_cnt++; /* so destroy frees the half-made pair */
                goto fail;
            }
        }
    }
    return d;

fail:
    chp_conf_destroy(d);
    return NULL;
}

void chp_conf_swap(chp_conf_t *a, chp_conf_t *b)
{
    chp_conf_t tmp = *a;

    *a = *b;
    *b = tmp;
}

/* ------------------------------------------------------------------ set */

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

static chp_err_t unknown_key(const char *name, char *errstr,
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
        return fail(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                    "unknown configuration key \"%s\" (did you mean "
                    "\"%s%s\"?)",
                    name, best, rest);
    if (is_rdkafka_property(name))
        return fail(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                    "unknown configuration key \"%s\" (librdkafka "
                    "properties take the \"kafka.\" prefix: \"kafka.%s\")",
                    name, name);
    return fail(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                "unknown configuration key \"%s\"", name);
}

static conf_kv_t *kv_find(const chp_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->kv_cnt; i++)
        if (!strcmp(conf->kv[i].name, name))
            return &conf->kv[i];
    return NULL;
}

static chp_err_t family_set(chp_conf_t *conf, const chp_conf_family_t *f,
                            const char *name, const char *value,
                            char *errstr, size_t errstr_size)
{
    const char *rest = name + strlen(f->prefix);
    conf_kv_t *kv = kv_find(conf, name);
    char *v = NULL;
    chp_err_t err;

    if (!*rest)
        return fail(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                    "unknown configuration key \"%s\": a name must follow "
                    "the prefix",
                    name);
    if (f->suffix_is_topic && !topic_name_ok(rest, strlen(rest)))
        return fail(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                    "\"%s\": \"%s\" is not a valid Kafka topic name", name,
                    rest);
    if (!value) { /* NULL: back to unset, like librdkafka */
        if (kv) {
            size_t at = (size_t)(kv - conf->kv);
            free(kv->name);
            free(kv->value);
            memmove(kv, kv + 1, (conf->kv_cnt - at - 1) * sizeof(*kv));
            conf->kv_cnt--;
        }
        return CHP_OK;
    }
    if (f->flags) {
        err = check_string(name, f->flags, f->max_items, value, &v, errstr,
                           errstr_size);
        if (err)
            return err;
    } else if (!(v = dupstr(value, strlen(value)))) {
        return CHP_ERR_NOMEM;
    }
    if (kv) { /* replaced in place: the first position is kept */
        free(kv->value);
        kv->value = v;
        return CHP_OK;
    }
    if (conf->kv_cnt == conf->kv_cap) {
        size_t cap = conf->kv_cap ? conf->kv_cap * 2 : 8;
        conf_kv_t *n = realloc(conf->kv, cap * sizeof(*n));
        if (!n)
            goto nomem;
        conf->kv = n;
        conf->kv_cap = cap;
    }
    kv = &conf->kv[conf->kv_cnt];
    if (!(kv->name = dupstr(name, strlen(name))))
        goto nomem;
    kv->value = v;
    conf->kv_cnt++;
    return CHP_OK;

nomem:
    free(v);
    return fail(errstr, errstr_size, CHP_ERR_NOMEM, "out of memory");
}

CHP_EXPORT chp_err_t chp_conf_set(chp_conf_t *conf, const char *name,
                                  const char *value, char *errstr,
                                  size_t errstr_size)
{
    const chp_conf_prop_t *p;
    const chp_conf_family_t *f;
    conf_val_t v;
    chp_err_t err;

    if (!conf || !name)
        return fail(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                    "no configuration or key given");
    if (!*name)
        return fail(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                    "empty configuration key");
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '=')
            return fail(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "invalid configuration key \"%s\": no whitespace, "
                        "control characters or '=' allowed",
                        name);

    if ((p = chp_conf_prop_find(name))) {
        size_t idx = (size_t)(p - props);
        /* NULL: back to the default, like librdkafka. */
        err = parse_value(p, value ? value : p->defval, &v, errstr,
                          errstr_size);
        if (err) {
            if (err == CHP_ERR_NOMEM)
                fail(errstr, errstr_size, err, "out of memory");
            return err;
        }
        val_free(p, &conf->vals[idx]);
        v.set = value != NULL;
        conf->vals[idx] = v;
        return CHP_OK;
    }
    if ((f = family_find(name)))
        return family_set(conf, f, name, value, errstr, errstr_size);
    return unknown_key(name, errstr, errstr_size);
}

/* ------------------------------------------------------------------ get */

static const conf_val_t *val_get(const chp_conf_t *conf, const char *name,
                                 chp_conf_type_t type)
{
    const chp_conf_prop_t *p = conf ? chp_conf_prop_find(name) : NULL;

    if (!p || p->type != type)
        return NULL;
    return &conf->vals[p - props];
}

CHP_EXPORT const char *chp_conf_get_str(const chp_conf_t *conf,
                                        const char *name)
{
    const conf_val_t *v;
    const conf_kv_t *kv;

    if (!conf || !name)
        return NULL;
    if ((v = val_get(conf, name, CHP_CONF_STR)) ||
        (v = val_get(conf, name, CHP_CONF_ENUM)))
        return v->str;
    /* Prefix-family keys answer too: "kafka.acks" -> its value, if set. */
    kv = kv_find(conf, name);
    return kv ? kv->value : NULL;
}

CHP_EXPORT int64_t chp_conf_get_int(const chp_conf_t *conf, const char *name)
{
    const conf_val_t *v = val_get(conf, name, CHP_CONF_INT);

    return v ? v->i : 0;
}

CHP_EXPORT bool chp_conf_get_bool(const chp_conf_t *conf, const char *name)
{
    const conf_val_t *v = val_get(conf, name, CHP_CONF_BOOL);

    return v ? v->i != 0 : false;
}

CHP_EXPORT double chp_conf_get_double(const chp_conf_t *conf,
                                      const char *name)
{
    const conf_val_t *v = val_get(conf, name, CHP_CONF_DOUBLE);

    return v ? v->d : 0.0;
}

CHP_EXPORT bool chp_conf_is_set(const chp_conf_t *conf, const char *name)
{
    const chp_conf_prop_t *p;

    if (!conf || !name)
        return false;
    if ((p = chp_conf_prop_find(name)))
        return conf->vals[p - props].set;
    return kv_find(conf, name) != NULL;
}

CHP_EXPORT chp_err_t chp_conf_prefix_foreach(
    const chp_conf_t *conf, const char *prefix,
    chp_err_t (*cb)(const char *name, const char *value, void *opaque),
    void *opaque)
{
    size_t plen;

    if (!conf || !prefix || !cb)
        return CHP_ERR_INVALID_ARG;
    plen = strlen(prefix);
    for (size_t i = 0; i < conf->kv_cnt; i++) {
        chp_err_t err;
        if (strncmp(conf->kv[i].name, prefix, plen))
            continue;
        err = cb(conf->kv[i].name + plen, conf->kv[i].value, opaque);
        if (err)
            return err;
    }
    return CHP_OK;
}

void chp_conf_foreach_out_of_scope(const chp_conf_t *conf, unsigned scope,
                                   void (*cb)(const char *name, void *opaque),
                                   void *opaque)
{
    for (size_t i = 0; i < N_PROPS; i++)
        if (conf->vals[i].set && !(props[i].scope & scope))
            cb(props[i].name, opaque);
    for (size_t i = 0; i < conf->kv_cnt; i++)
        if (!(chp_conf_scope(conf->kv[i].name) & scope))
            cb(conf->kv[i].name, opaque);
}

/* ----------------------------------------------------------------- dump */

static bool is_secret_kafka_key(const char *prop)
{
    return strcasestr(prop, "password") || strcasestr(prop, "secret") ||
           !strcmp(prop, "ssl.key.pem") ||
           !strcmp(prop, "sasl.oauthbearer.config");
}

/* Writes s, control characters as \xHH so one key stays on one line. */
static void put_escaped(FILE *fp, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\x%02x", c);
        else
            fputc(c, fp);
    }
}

/* "scheme://user:password@host/..." is written with the password
 * replaced. */
static void put_url(FILE *fp, const char *url)
{
    const char *auth = strstr(url, "://"), *at = NULL, *colon;
    size_t alen;

    if (auth) {
        auth += 3;
        alen = strcspn(auth, "/?#");
        for (size_t i = 0; i < alen; i++)
            if (auth[i] == '@')
                at = auth + i;
    }
    if (!at || !(colon = memchr(auth, ':', (size_t)(at - auth)))) {
        put_escaped(fp, url, strlen(url));
        return;
    }
    put_escaped(fp, url, (size_t)(colon + 1 - url));
    fputs("[redacted]", fp);
    put_escaped(fp, at, strlen(at));
}

CHP_EXPORT void chp_conf_dump(const chp_conf_t *conf, FILE *fp)
{
    char buf[32];

    if (!conf || !fp)
        return;
    for (size_t i = 0; i < N_PROPS; i++) {
        const chp_conf_prop_t *p = &props[i];
        const conf_val_t *v = &conf->vals[i];
        fprintf(fp, "%s=", p->name);
        switch (p->type) {
        case CHP_CONF_STR:
        case CHP_CONF_ENUM:
            if (p->flags & F_URL)
                put_url(fp, v->str);
            else
                put_escaped(fp, v->str, strlen(v->str));
            break;
        case CHP_CONF_INT:
            fprintf(fp, "%" PRId64, v->i);
            break;
        case CHP_CONF_BOOL:
            fputs(v->i ? "true" : "false", fp);
            break;
        case CHP_CONF_DOUBLE:
            fputs(chp_conf_format_double(v->d, buf, sizeof(buf)), fp);
            break;
        }
        fputc('\n', fp);
    }
    /* Family by family, each in the order first set. */
    for (size_t f = 0; f < N_FAMILIES; f++) {
        const char *pre = families[f].prefix;
        size_t plen = strlen(pre);
        for (size_t i = 0; i < conf->kv_cnt; i++) {
            const conf_kv_t *kv = &conf->kv[i];
            if (strncmp(kv->name, pre, plen))
                continue;
            fprintf(fp, "%s=", kv->name);
            if (!strcmp(pre, "kafka.") && is_secret_kafka_key(kv->name + plen))
                fputs("[redacted]", fp);
            else
                put_escaped(fp, kv->value, strlen(kv->value));
            fputc('\n', fp);
        }
    }
}
