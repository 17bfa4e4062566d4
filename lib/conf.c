/* conf.c - the library's configuration property table (design.md §11).
 *
 * Every key libchaperone and the interceptor plugin read, its type,
 * default, range, scope and documentation lives in props[] below, the way
 * librdkafka's rdkafka_conf.c does it: the values are checked from it
 * (conf_value.c), kept per configuration from it (conf_store.c),
 * docs/configuration.md and the key constants (conf_keys.h) are generated
 * from it (conf_doc.c, tools/), so code and docs cannot disagree.  The
 * daemons' keys are in a table of their own, src/conf_daemon.c, which the
 * library never sees: a plugin user setting db.url gets "unknown key". */
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "conf_table.h"

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

static const chp_conf_table_t lib_table = {
    .title = "Library keys",
    .intro = "Read by libchaperone and the librdkafka interceptor plugin "
             "(there as `chaperone.<key>`), and by every daemon.",
    .props = props,
    .n_props = N_PROPS,
    .families = families,
    .n_families = N_FAMILIES,
};

const chp_conf_table_t *chp_conf_lib_table(void)
{
    return &lib_table;
}

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

static const chp_conf_prop_t *find_in(const chp_conf_table_t *t,
                                      const char *name, size_t *at)
{
    for (size_t i = 0; i < t->n_props; i++)
        if (!strcmp(t->props[i].name, name)) {
            *at = i;
            return &t->props[i];
        }
    return NULL;
}

const chp_conf_prop_t *chp_conf_prop_lookup(const chp_conf_table_t *ext,
                                            const char *name, size_t *slot)
{
    const chp_conf_prop_t *p;
    size_t at = 0;

    if (!name)
        return NULL;
    if ((p = find_in(&lib_table, name, &at))) {
        if (slot)
            *slot = at;
    } else if (ext && (p = find_in(ext, name, &at))) {
        if (slot)
            *slot = N_PROPS + at;
    }
    return p;
}

const chp_conf_prop_t *chp_conf_prop_find(const char *name)
{
    return chp_conf_prop_lookup(NULL, name, NULL);
}

const chp_conf_family_t *chp_conf_family_lookup(const chp_conf_table_t *ext,
                                                const char *name)
{
    const chp_conf_table_t *tables[] = {&lib_table, ext};

    for (size_t t = 0; t < 2 && tables[t]; t++)
        for (size_t i = 0; i < tables[t]->n_families; i++) {
            const chp_conf_family_t *f = &tables[t]->families[i];
            if (!strncmp(name, f->prefix, strlen(f->prefix)))
                return f;
        }
    return NULL;
}

unsigned chp_conf_scope_in(const chp_conf_table_t *ext, const char *name)
{
    const chp_conf_prop_t *p = chp_conf_prop_lookup(ext, name, NULL);
    const chp_conf_family_t *f;

    if (p)
        return p->scope;
    if (!name)
        return 0;
    f = chp_conf_family_lookup(ext, name);
    return f && name[strlen(f->prefix)] ? f->scope : 0;
}

unsigned chp_conf_scope(const char *name)
{
    return chp_conf_scope_in(NULL, name);
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

chp_err_t chp_conf_unknown_key(const chp_conf_table_t *ext, const char *name,
                               char *errstr, size_t errstr_size)
{
    const chp_conf_table_t *tables[] = {&lib_table, ext};
    const char *best = NULL, *rest = "";
    size_t best_d = 3;

    for (size_t t = 0; t < 2 && tables[t]; t++)
        for (size_t i = 0; i < tables[t]->n_props; i++) {
            size_t d = edit_distance(name, tables[t]->props[i].name);
            if (d < best_d)
                best_d = d, best = tables[t]->props[i].name;
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
