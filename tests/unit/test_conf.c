/* Unit tests: the configuration table, set/get, files, -X, dump, docs
 * (design.md §11). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <locale.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "conf.h"
#include "testutil.h"

#define ERRSZ 512

/* Sets name=value and expects err; returns the message. */
static const char *set_expect(chp_conf_t *c, const char *name,
                              const char *value, chp_err_t want)
{
    static char errstr[ERRSZ];

    errstr[0] = '\0';
    assert_int_equal(chp_conf_set(c, name, value, errstr, sizeof(errstr)),
                     want);
    if (want != CHP_OK)
        assert_true(errstr[0] != '\0');
    return errstr;
}

static void set_ok(chp_conf_t *c, const char *name, const char *value)
{
    set_expect(c, name, value, CHP_OK);
}

/* Captures a stream into a malloc'd string. */
typedef struct mem {
    char *buf;
    size_t len;
    FILE *fp;
} mem_t;

static void mem_open(mem_t *m)
{
    m->buf = NULL;
    m->len = 0;
    m->fp = open_memstream(&m->buf, &m->len);
    assert_non_null(m->fp);
}

static char *mem_close(mem_t *m)
{
    fclose(m->fp);
    return m->buf;
}

static char *dump_str(const chp_conf_t *c)
{
    mem_t m;

    mem_open(&m);
    chp_conf_dump(c, m.fp);
    return mem_close(&m);
}

/* ------------------------------------------------------------- defaults */

static void test_defaults_every_type(void **state)
{
    chp_conf_t *c = chp_conf_new();
    (void)state;

    assert_non_null(c);
    assert_string_equal(chp_conf_get_str(c, "log.level"), "info");
    assert_string_equal(chp_conf_get_str(c, "tier"), "");
    assert_string_equal(chp_conf_get_str(c, "datacenter"), "default");
    assert_string_equal(chp_conf_get_str(c, "hostname"), "");
    assert_string_equal(chp_conf_get_str(c, "cluster.name"), "local");
    assert_string_equal(chp_conf_get_str(c, "audit.topic"), "chaperone-audit");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 600);
    assert_int_equal(chp_conf_get_int(c, "report.interval.ms"), 60000);
    assert_int_equal(chp_conf_get_int(c, "max.open.buckets"), 1000);
    assert_string_equal(chp_conf_get_str(c, "timestamp"), "json");
    assert_string_equal(chp_conf_get_str(c, "timestamp.fields"),
                        "ts,timestamp");
    assert_int_equal(chp_conf_get_int(c, "reporter.max.pending"), 100000);
    assert_string_equal(chp_conf_get_str(c, "http.address"), "127.0.0.1");
    assert_int_equal(chp_conf_get_int(c, "http.port"), 0);
    assert_string_equal(chp_conf_get_str(c, "worker.group.id"),
                        "chaperone-worker");
    assert_string_equal(chp_conf_get_str(c, "worker.topics"), "");
    assert_string_equal(chp_conf_get_str(c, "worker.registry"),
                        "__chaperone_topics");
    assert_true(chp_conf_get_bool(c, "worker.use.registry"));
    assert_int_equal(chp_conf_get_int(c, "controller.detect.interval.s"), 60);
    assert_string_equal(chp_conf_get_str(c, "controller.exclude.regex"), "^__");
    assert_true(chp_conf_get_bool(c, "controller.auto.detect"));
    assert_string_equal(chp_conf_get_str(c, "db.url"), "sqlite://chaperone.db");
    assert_string_equal(chp_conf_get_str(c, "dedup"), "db");
    assert_int_equal(chp_conf_get_int(c, "dedup.ttl.hours"), 6);
    assert_int_equal(chp_conf_get_int(c, "retention.hours"), 336);
    assert_true(chp_conf_get_bool(c, "combine.hosts"));
    assert_int_equal(chp_conf_get_int(c, "report.lateness.s"), 1800);
    assert_string_equal(chp_conf_get_str(c, "report.reference.tier"), "");
    assert_true(chp_conf_get_double(c, "report.max.loss.percent") == 0.01);
    assert_false(chp_conf_is_set(c, "bucket.seconds"));
    assert_false(chp_conf_is_set(c, "tier"));
    chp_conf_destroy(c);
}

/* The brief's key list: names, types and defaults must not drift. */
static void test_required_keys(void **state)
{
    static const struct {
        const char *name;
        chp_conf_type_t type;
        const char *def;
    } want[] = {
        {"log.level", CHP_CONF_ENUM, "info"},
        {"tier", CHP_CONF_STR, ""},
        {"datacenter", CHP_CONF_STR, "default"},
        {"hostname", CHP_CONF_STR, ""},
        {"cluster.name", CHP_CONF_STR, "local"},
        {"audit.topic", CHP_CONF_STR, "chaperone-audit"},
        {"bucket.seconds", CHP_CONF_INT, "600"},
        {"report.interval.ms", CHP_CONF_INT, "60000"},
        {"max.open.buckets", CHP_CONF_INT, "1000"},
        {"timestamp", CHP_CONF_STR, "json"},
        {"timestamp.fields", CHP_CONF_STR, "ts,timestamp"},
        {"reporter.max.pending", CHP_CONF_INT, "100000"},
        {"http.address", CHP_CONF_STR, "127.0.0.1"},
        {"http.port", CHP_CONF_INT, "0"},
        {"worker.group.id", CHP_CONF_STR, "chaperone-worker"},
        {"worker.topics", CHP_CONF_STR, ""},
        {"worker.topics.regex", CHP_CONF_STR, ""},
        {"worker.registry", CHP_CONF_STR, "__chaperone_topics"},
        {"worker.use.registry", CHP_CONF_BOOL, "true"},
        {"worker.transactional.id.prefix", CHP_CONF_STR, "chaperone-worker"},
        {"controller.detect.interval.s", CHP_CONF_INT, "60"},
        {"controller.exclude.regex", CHP_CONF_STR, "^__"},
        {"controller.auto.detect", CHP_CONF_BOOL, "true"},
        {"controller.max.body.bytes", CHP_CONF_INT, "65536"},
        {"db.url", CHP_CONF_STR, "sqlite://chaperone.db"},
        {"collector.group.id", CHP_CONF_STR, "chaperone-collector"},
        {"dedup", CHP_CONF_ENUM, "db"},
        {"redis.url", CHP_CONF_STR, "redis://127.0.0.1:6379"},
        {"dedup.ttl.hours", CHP_CONF_INT, "6"},
        {"retention.hours", CHP_CONF_INT, "336"},
        {"combine.hosts", CHP_CONF_BOOL, "true"},
        {"collector.flush.interval.ms", CHP_CONF_INT, "1000"},
        {"collector.flush.max.messages", CHP_CONF_INT, "10000"},
        {"collector.retry.max.ms", CHP_CONF_INT, "30000"},
        {"report.lateness.s", CHP_CONF_INT, "1800"},
        {"report.reference.tier", CHP_CONF_STR, ""},
    };
    (void)state;

    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        const chp_conf_prop_t *p = chp_conf_prop_find(want[i].name);
        assert_non_null(p);
        assert_int_equal(p->type, want[i].type);
        assert_string_equal(p->defval, want[i].def);
    }
}

/* Every table entry is well-formed and its default goes through its own
 * parser; names are unique and lower-case. */
static void test_table_sane(void **state)
{
    size_t n;
    const chp_conf_prop_t *props = chp_conf_props(&n);
    chp_conf_t *c = chp_conf_new();
    (void)state;

    assert_true(n >= 36);
    for (size_t i = 0; i < n; i++) {
        const chp_conf_prop_t *p = &props[i];
        assert_ptr_equal(chp_conf_prop_find(p->name), p);
        for (const char *s = p->name; *s; s++)
            assert_true((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
                        *s == '.' || *s == '_');
        for (size_t j = i + 1; j < n; j++)
            assert_string_not_equal(p->name, props[j].name);
        assert_true(p->desc && strlen(p->desc) > 10);
        assert_true(p->scope != 0 && (p->scope & ~CHP_SCOPE_ALL) == 0);
        assert_true(p->group < CHP_CONF_GROUP__COUNT);
        assert_int_equal(chp_conf_set(c, p->name, p->defval, NULL, 0), CHP_OK);
        if (p->type == CHP_CONF_INT)
            assert_true(p->imin <= p->imax);
        if (p->type == CHP_CONF_ENUM)
            assert_non_null(p->enums[0]);
    }
    chp_conf_destroy(c);
}

/* --------------------------------------------------------------- set/get */

static void test_set_get(void **state)
{
    chp_conf_t *c = chp_conf_new();
    (void)state;

    set_ok(c, "tier", "regional-kafka");
    set_ok(c, "bucket.seconds", "60");
    set_ok(c, "worker.use.registry", "false");
    set_ok(c, "report.max.loss.percent", "0.5");
    set_ok(c, "log.level", "debug");
    assert_string_equal(chp_conf_get_str(c, "tier"), "regional-kafka");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 60);
    assert_false(chp_conf_get_bool(c, "worker.use.registry"));
    assert_true(chp_conf_get_double(c, "report.max.loss.percent") == 0.5);
    assert_string_equal(chp_conf_get_str(c, "log.level"), "debug");
    assert_true(chp_conf_is_set(c, "tier"));
    assert_true(chp_conf_is_set(c, "bucket.seconds"));
    assert_false(chp_conf_is_set(c, "datacenter"));

    /* The last setting wins; setting the default still counts as set. */
    set_ok(c, "bucket.seconds", "120");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 120);
    set_ok(c, "datacenter", "default");
    assert_true(chp_conf_is_set(c, "datacenter"));
    chp_conf_destroy(c);
}

static void test_int_forms(void **state)
{
    chp_conf_t *c = chp_conf_new();
    (void)state;

    set_ok(c, "bucket.seconds", "+5");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 5);
    set_ok(c, "bucket.seconds", "007");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 7);
    set_ok(c, "http.port", "-0");
    assert_int_equal(chp_conf_get_int(c, "http.port"), 0);
    chp_conf_destroy(c);
}

static void test_int_type_errors(void **state)
{
    static const char *const bad[] = {"ten", "",    "0x10", "10s",
                                      " 10", "10 ", "1.5",  "+",
                                      "-",   "1e3", "--1",  "1_000"};
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    e = set_expect(c, "bucket.seconds", "ten", CHP_ERR_TYPE);
    assert_string_equal(e,
                        "\"bucket.seconds\": expected an integer, got \"ten\"");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = set_expect(c, "bucket.seconds", bad[i], CHP_ERR_TYPE);
        assert_non_null(strstr(e, "\"bucket.seconds\""));
    }
    /* A refused value leaves the old one in place. */
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 600);
    assert_false(chp_conf_is_set(c, "bucket.seconds"));
    chp_conf_destroy(c);
}

static void test_int_range_bounds(void **state)
{
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    set_ok(c, "bucket.seconds", "1");
    set_ok(c, "bucket.seconds", "86400");
    e = set_expect(c, "bucket.seconds", "0", CHP_ERR_RANGE);
    assert_string_equal(e, "\"bucket.seconds\": 0 is out of range [1..86400]");
    e = set_expect(c, "bucket.seconds", "86401", CHP_ERR_RANGE);
    assert_string_equal(e,
                        "\"bucket.seconds\": 86401 is out of range [1..86400]");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 86400);

    set_ok(c, "http.port", "0");
    set_ok(c, "http.port", "65535");
    set_expect(c, "http.port", "-1", CHP_ERR_RANGE);
    set_expect(c, "http.port", "65536", CHP_ERR_RANGE);
    set_ok(c, "report.lateness.s", "0");
    set_ok(c, "report.lateness.s", "604800");
    set_expect(c, "report.lateness.s", "-1", CHP_ERR_RANGE);
    set_expect(c, "report.lateness.s", "604801", CHP_ERR_RANGE);
    set_ok(c, "report.interval.ms", "100");
    set_ok(c, "report.interval.ms", "86400000");
    set_expect(c, "report.interval.ms", "99", CHP_ERR_RANGE);
    set_expect(c, "report.interval.ms", "86400001", CHP_ERR_RANGE);
    chp_conf_destroy(c);
}

/* Runs check on every entry of the table whose type is in types (bits
 * 1 << CHP_CONF_*), all on one configuration: the table-driven tests. */
static void every_key(unsigned types,
                      void (*check)(chp_conf_t *c, const chp_conf_prop_t *p))
{
    size_t n;
    const chp_conf_prop_t *props = chp_conf_props(&n);
    chp_conf_t *c = chp_conf_new();
    size_t checked = 0;

    assert_non_null(c);
    for (size_t i = 0; i < n; i++)
        if (types & (1u << props[i].type)) {
            check(c, &props[i]);
            checked++;
        }
    assert_true(checked > 0); /* a test that checks nothing cannot fail */
    chp_conf_destroy(c);
}

/* Every integer key of the table at both bounds and one beyond. */
static void check_int_range(chp_conf_t *c, const chp_conf_prop_t *p)
{
    char v[32];
    const char *e;

    snprintf(v, sizeof(v), "%lld", (long long)p->imin);
    set_ok(c, p->name, v);
    assert_int_equal(chp_conf_get_int(c, p->name), p->imin);
    snprintf(v, sizeof(v), "%lld", (long long)p->imax);
    set_ok(c, p->name, v);
    assert_int_equal(chp_conf_get_int(c, p->name), p->imax);
    snprintf(v, sizeof(v), "%lld", (long long)p->imin - 1);
    e = set_expect(c, p->name, v, CHP_ERR_RANGE);
    assert_non_null(strstr(e, p->name));
    snprintf(v, sizeof(v), "%lld", (long long)p->imax + 1);
    e = set_expect(c, p->name, v, CHP_ERR_RANGE);
    assert_non_null(strstr(e, "out of range"));
    assert_int_equal(chp_conf_get_int(c, p->name), p->imax);
}

static void test_int_range_every_key(void **state)
{
    (void)state;
    every_key(1u << CHP_CONF_INT, check_int_range);
}

static void test_int_overflow(void **state)
{
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    e = set_expect(c, "bucket.seconds", "99999999999999999999", CHP_ERR_RANGE);
    assert_string_equal(e, "\"bucket.seconds\": 99999999999999999999 is out "
                           "of range [1..86400]");
    set_expect(c, "bucket.seconds", "9223372036854775807", CHP_ERR_RANGE);
    set_expect(c, "bucket.seconds", "9223372036854775808", CHP_ERR_RANGE);
    set_expect(c, "bucket.seconds", "-9223372036854775808", CHP_ERR_RANGE);
    set_expect(c, "bucket.seconds", "-9223372036854775809", CHP_ERR_RANGE);
    /* Junk after an overflow is still junk. */
    set_expect(c, "bucket.seconds", "99999999999999999999x", CHP_ERR_TYPE);
    chp_conf_destroy(c);
}

static void test_bools(void **state)
{
    static const struct {
        const char *s;
        bool v;
    } ok[] = {{"true", true}, {"false", false}, {"1", true},
              {"0", false},   {"yes", true},    {"no", false},
              {"TRUE", true}, {"False", false}, {"Yes", true},
              {"NO", false}};
    static const char *const bad[] = {"maybe", "", "2", "on", "t", " true"};
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        set_ok(c, "combine.hosts", ok[i].s);
        assert_int_equal(chp_conf_get_bool(c, "combine.hosts"), ok[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = set_expect(c, "combine.hosts", bad[i], CHP_ERR_TYPE);
        assert_non_null(strstr(e, "\"combine.hosts\": expected true or false"));
    }
    assert_false(chp_conf_get_bool(c, "combine.hosts"));
    chp_conf_destroy(c);
}

static void test_enum(void **state)
{
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    set_ok(c, "log.level", "WARN");
    /* Stored canonically, whatever case was given. */
    assert_string_equal(chp_conf_get_str(c, "log.level"), "warn");
    set_ok(c, "log.level", "error");
    set_ok(c, "dedup", "redis");
    assert_string_equal(chp_conf_get_str(c, "dedup"), "redis");
    e = set_expect(c, "log.level", "verbose", CHP_ERR_RANGE);
    assert_string_equal(e, "\"log.level\": expected one of error, warn, info, "
                           "debug; got \"verbose\"");
    e = set_expect(c, "dedup", "memcached", CHP_ERR_RANGE);
    assert_non_null(strstr(e, "db, redis"));
    set_expect(c, "dedup", "", CHP_ERR_RANGE);
    assert_string_equal(chp_conf_get_str(c, "log.level"), "error");
    assert_string_equal(chp_conf_get_str(c, "dedup"), "redis");
    chp_conf_destroy(c);
}

static void test_double(void **state)
{
    static const char *const ok[] = {"0",  "100",   "0.5", "1e-3",  ".5",
                                     "5.", "+1.25", "1E1", "00.010"};
    static const char *const bad[] = {"abc", "0x1p3", "inf", "nan",  "1,5", "",
                                      ".",   "e5",    "1e",  "1.5%", " 1"};
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        set_ok(c, "report.max.loss.percent", ok[i]);
    assert_true(chp_conf_get_double(c, "report.max.loss.percent") == 0.01);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        e = set_expect(c, "report.max.loss.percent", bad[i], CHP_ERR_TYPE);
        assert_non_null(strstr(e, "\"report.max.loss.percent\": expected a "
                                  "number"));
    }
    e = set_expect(c, "report.max.loss.percent", "100.0001", CHP_ERR_RANGE);
    assert_string_equal(e, "\"report.max.loss.percent\": 100.0001 is out of "
                           "range [0..100]");
    set_expect(c, "report.max.loss.percent", "-0.1", CHP_ERR_RANGE);
    set_expect(c, "report.max.loss.percent", "1e999", CHP_ERR_RANGE);
    assert_true(chp_conf_get_double(c, "report.max.loss.percent") == 0.01);
    chp_conf_destroy(c);
}

static void test_format_double(void **state)
{
    char buf[32];
    (void)state;

    assert_string_equal(chp_conf_format_double(0.01, buf, sizeof(buf)), "0.01");
    assert_string_equal(chp_conf_format_double(100, buf, sizeof(buf)), "100");
    assert_string_equal(chp_conf_format_double(0.1 + 0.2, buf, sizeof(buf)),
                        "0.30000000000000004");
    assert_string_equal(chp_conf_format_double(1e-7, buf, sizeof(buf)),
                        "1e-07");
}

/* ---------------------------------------------------------- string checks */

static void test_string_checks(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char longname[300];
    const char *e;
    (void)state;

    e = set_expect(c, "audit.topic", "bad topic!", CHP_ERR_TYPE);
    assert_non_null(strstr(e, "\"audit.topic\": expected a Kafka topic name"));
    e = set_expect(c, "audit.topic", "", CHP_ERR_TYPE);
    assert_non_null(strstr(e, "\"audit.topic\""));
    set_expect(c, "audit.topic", ".", CHP_ERR_TYPE);
    set_expect(c, "audit.topic", "..", CHP_ERR_TYPE);
    memset(longname, 'a', 250);
    longname[250] = '\0';
    set_expect(c, "audit.topic", longname, CHP_ERR_TYPE);
    longname[249] = '\0';
    set_ok(c, "audit.topic", longname);
    set_ok(c, "audit.topic", "my_audit.v2-x");

    e = set_expect(c, "datacenter", "", CHP_ERR_TYPE);
    assert_string_equal(e, "\"datacenter\": must not be empty");
    e = set_expect(c, "tier", "a\nb", CHP_ERR_TYPE);
    assert_string_equal(e, "\"tier\": control characters are not allowed");
    set_ok(c, "tier", "");
    set_ok(c, "hostname", "host-1.example.com");
    set_ok(c, "controller.exclude.regex", "^(__|_confluent)");
    assert_string_equal(chp_conf_get_str(c, "controller.exclude.regex"),
                        "^(__|_confluent)");
    chp_conf_destroy(c);
}

static void test_lists(void **state)
{
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    /* Stored normalised: consumers split on ',' and nothing else. */
    set_ok(c, "worker.topics", " a , b,,c ,");
    assert_string_equal(chp_conf_get_str(c, "worker.topics"), "a,b,c");
    set_ok(c, "worker.topics", "");
    assert_string_equal(chp_conf_get_str(c, "worker.topics"), "");
    e = set_expect(c, "worker.topics", "a,b c", CHP_ERR_TYPE);
    assert_non_null(strstr(e, "\"worker.topics\""));
    assert_non_null(strstr(e, "\"b c\""));

    set_ok(c, "timestamp", "json , kafka,\theader:event-time , now");
    assert_string_equal(chp_conf_get_str(c, "timestamp"),
                        "json,kafka,header:event-time,now");
    set_expect(c, "timestamp", " , ,", CHP_ERR_TYPE);
    set_ok(c, "timestamp.fields", "a,b,c,d,e,f,g,h");
    e = set_expect(c, "timestamp.fields", "a,b,c,d,e,f,g,h,i", CHP_ERR_RANGE);
    assert_string_equal(e, "\"timestamp.fields\": 9 items, at most 8 allowed");
    assert_string_equal(chp_conf_get_str(c, "timestamp.fields"),
                        "a,b,c,d,e,f,g,h");
    chp_conf_destroy(c);
}

static void test_null_value_resets(void **state)
{
    chp_conf_t *c = chp_conf_new();
    (void)state;

    set_ok(c, "bucket.seconds", "60");
    set_ok(c, "tier", "x");
    set_ok(c, "bucket.seconds", NULL);
    set_ok(c, "tier", NULL);
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 600);
    assert_string_equal(chp_conf_get_str(c, "tier"), "");
    assert_false(chp_conf_is_set(c, "bucket.seconds"));
    assert_false(chp_conf_is_set(c, "tier"));
    chp_conf_destroy(c);
}

/* ------------------------------------------------------------- bad keys */

static void test_unknown_key(void **state)
{
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    e = set_expect(c, "worker.grup.id", "x", CHP_ERR_UNKNOWN_KEY);
    assert_string_equal(e, "unknown configuration key \"worker.grup.id\" "
                           "(did you mean \"worker.group.id\"?)");
    e = set_expect(c, "bucket.second", "60", CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(e, "did you mean \"bucket.seconds\""));
    e = set_expect(c, "completely.unrelated.key", "x", CHP_ERR_UNKNOWN_KEY);
    assert_string_equal(
        e, "unknown configuration key \"completely.unrelated.key\"");
    e = set_expect(c, "kafak.acks", "all", CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(e, "did you mean \"kafka.acks\""));
    /* A librdkafka property without its prefix. */
    e = set_expect(c, "bootstrap.servers", "b:9092", CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(e, "\"kafka.bootstrap.servers\""));
    e = set_expect(c, "acks", "all", CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(e, "\"kafka.acks\""));
    /* Keys are case-sensitive, like librdkafka's. */
    set_expect(c, "Bucket.Seconds", "60", CHP_ERR_UNKNOWN_KEY);
    chp_conf_destroy(c);
}

static void test_malformed_keys(void **state)
{
    static const char *const bad[] = {" tier", "tier ", "a b",
                                      "a\tb",  "a=b",   "tier\n"};
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    e = set_expect(c, "", "x", CHP_ERR_INVALID_ARG);
    assert_string_equal(e, "empty configuration key");
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        set_expect(c, bad[i], "x", CHP_ERR_INVALID_ARG);
    e = set_expect(c, "a b", "x", CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(e, "\"a b\""));
    set_expect(c, NULL, "x", CHP_ERR_INVALID_ARG);
    assert_int_equal(chp_conf_set(NULL, "tier", "x", NULL, 0),
                     CHP_ERR_INVALID_ARG);
    /* No errstr at all is fine. */
    assert_int_equal(chp_conf_set(c, "nope", "x", NULL, 0),
                     CHP_ERR_UNKNOWN_KEY);
    chp_conf_destroy(c);
}

static void test_errstr_truncation(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char small[8], big[2000];
    char errstr[ERRSZ];
    (void)state;

    memset(small, 'x', sizeof(small));
    assert_int_equal(
        chp_conf_set(c, "bucket.seconds", "0", small, sizeof(small)),
        CHP_ERR_RANGE);
    assert_string_equal(small, "\"bucket");
    /* A huge value is cut short in the message, the key still shown. */
    memset(big, '9', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_int_equal(
        chp_conf_set(c, "bucket.seconds", big, errstr, sizeof(errstr)),
        CHP_ERR_RANGE);
    assert_non_null(strstr(errstr, "\"bucket.seconds\": 999"));
    assert_non_null(strstr(errstr, "..."));
    assert_true(strlen(errstr) < 200);
    chp_conf_destroy(c);
}

/* -------------------------------------------------------- prefix families */

typedef struct seen {
    char names[8][64];
    char values[8][64];
    size_t n;
    size_t stop_at; /* return CHP_ERR_STATE on this call (1-based), 0: no */
} seen_t;

static chp_err_t collect(const char *name, const char *value, void *opaque)
{
    seen_t *s = opaque;

    assert_true(s->n < 8);
    snprintf(s->names[s->n], 64, "%s", name);
    snprintf(s->values[s->n], 64, "%s", value);
    s->n++;
    return s->n == s->stop_at ? CHP_ERR_STATE : CHP_OK;
}

static void test_prefix_families(void **state)
{
    chp_conf_t *c = chp_conf_new();
    seen_t s = {0};
    (void)state;

    set_ok(c, "kafka.bootstrap.servers", "a:9092");
    set_ok(c, "kafka.acks", "all");
    set_ok(c, "timestamp.topic.clicks", "header:event-time, kafka");
    set_ok(c, "kafka.bootstrap.servers", "b:9092"); /* replaces in place */
    set_ok(c, "kafka.empty", "");

    assert_int_equal(chp_conf_prefix_foreach(c, "kafka.", collect, &s), CHP_OK);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[0], "bootstrap.servers");
    assert_string_equal(s.values[0], "b:9092");
    assert_string_equal(s.names[1], "acks");
    assert_string_equal(s.values[1], "all");
    assert_string_equal(s.names[2], "empty");
    assert_string_equal(s.values[2], "");

    memset(&s, 0, sizeof(s));
    assert_int_equal(
        chp_conf_prefix_foreach(c, "timestamp.topic.", collect, &s), CHP_OK);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.names[0], "clicks");
    assert_string_equal(s.values[0], "header:event-time,kafka");

    /* Full names answer the getters too. */
    assert_string_equal(chp_conf_get_str(c, "kafka.acks"), "all");
    assert_true(chp_conf_is_set(c, "kafka.acks"));
    assert_null(chp_conf_get_str(c, "kafka.linger.ms"));
    assert_false(chp_conf_is_set(c, "kafka.linger.ms"));

    /* NULL removes; setting again appends at the end. */
    set_ok(c, "kafka.bootstrap.servers", NULL);
    assert_null(chp_conf_get_str(c, "kafka.bootstrap.servers"));
    set_ok(c, "kafka.bootstrap.servers", "c:9092");
    memset(&s, 0, sizeof(s));
    chp_conf_prefix_foreach(c, "kafka.", collect, &s);
    assert_int_equal(s.n, 3);
    assert_string_equal(s.names[2], "bootstrap.servers");
    set_ok(c, "kafka.never.set", NULL);
    chp_conf_destroy(c);
}

static void test_prefix_foreach_stops(void **state)
{
    chp_conf_t *c = chp_conf_new();
    seen_t s = {.stop_at = 2};
    (void)state;

    set_ok(c, "kafka.a", "1");
    set_ok(c, "kafka.b", "2");
    set_ok(c, "kafka.c", "3");
    assert_int_equal(chp_conf_prefix_foreach(c, "kafka.", collect, &s),
                     CHP_ERR_STATE);
    assert_int_equal(s.n, 2);
    memset(&s, 0, sizeof(s));
    assert_int_equal(chp_conf_prefix_foreach(c, "nothing.", collect, &s),
                     CHP_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(chp_conf_prefix_foreach(c, "kafka.", NULL, NULL),
                     CHP_ERR_INVALID_ARG);
    chp_conf_destroy(c);
}

static void test_prefix_errors(void **state)
{
    chp_conf_t *c = chp_conf_new();
    const char *e;
    (void)state;

    e = set_expect(c, "kafka.", "x", CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(e, "\"kafka.\""));
    e = set_expect(c, "timestamp.topic.", "json", CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(e, "\"timestamp.topic.\""));
    e = set_expect(c, "timestamp.topic.a/b", "json", CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(e, "\"timestamp.topic.a/b\""));
    e = set_expect(c, "timestamp.topic.t", "", CHP_ERR_TYPE);
    assert_string_equal(e, "\"timestamp.topic.t\": must not be empty");
    set_expect(c, "timestamp.topic.t", "a,b,c,d,e,f,g,h,i", CHP_ERR_RANGE);
    /* A librdkafka value may be multi-line (PEM); ours may not. */
    set_ok(c, "kafka.ssl.certificate.pem", "-----BEGIN\nabc\n-----END");
    set_expect(c, "timestamp.topic.t", "json\nkafka", CHP_ERR_TYPE);
    assert_null(chp_conf_get_str(c, "timestamp.topic.t"));
    chp_conf_destroy(c);
}

/* ------------------------------------------------------------------ -X */

static void test_set_kv(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ];
    (void)state;

    assert_int_equal(
        chp_conf_set_kv(c, "bucket.seconds=60", errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 60);
    assert_int_equal(
        chp_conf_set_kv(c, " tier = kafka-agg ", errstr, sizeof(errstr)),
        CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "kafka-agg");
    assert_int_equal(
        chp_conf_set_kv(c, "kafka.sasl.jaas=a=b=c", errstr, sizeof(errstr)),
        CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "kafka.sasl.jaas"), "a=b=c");
    assert_int_equal(chp_conf_set_kv(c, "hostname=", errstr, sizeof(errstr)),
                     CHP_OK);
    assert_int_equal(chp_conf_set_kv(c, "novalue", errstr, sizeof(errstr)),
                     CHP_ERR_PARSE);
    assert_string_equal(errstr, "expected key=value, got \"novalue\"");
    assert_int_equal(chp_conf_set_kv(c, "=5", errstr, sizeof(errstr)),
                     CHP_ERR_INVALID_ARG);
    assert_int_equal(
        chp_conf_set_kv(c, "bucket.seconds=ten", errstr, sizeof(errstr)),
        CHP_ERR_TYPE);
    assert_non_null(strstr(errstr, "\"bucket.seconds\""));
    assert_int_equal(chp_conf_set_kv(c, NULL, errstr, sizeof(errstr)),
                     CHP_ERR_INVALID_ARG);
    chp_conf_destroy(c);
}

/* --------------------------------------------------------------- files */

static chp_err_t load(chp_conf_t *c, const char *text, char *errstr)
{
    return chp_conf_load_buf(c, text, strlen(text), "test.properties", errstr,
                             ERRSZ);
}

static void test_load_buf(void **state)
{
    static const char text[] =
        "# a comment\n"
        "! another comment\n"
        "   # an indented comment\n"
        "\n"
        "   \t\n"
        "tier=regional\r\n"
        "  datacenter   =   dc1  \r\n"
        "bucket.seconds\t=\t300\n"
        "kafka.sasl.jaas.config = user=\"a\" password=\"b=c\"\n"
        "kafka.bootstrap.servers=b1:9092,b2:9092\n"
        "timestamp.topic.clicks = kafka , now\n"
        "hostname=\n"
        "combine.hosts=no"; /* no final newline */
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ];
    (void)state;

    assert_int_equal(load(c, text, errstr), CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "regional");
    assert_string_equal(chp_conf_get_str(c, "datacenter"), "dc1");
    assert_int_equal(chp_conf_get_int(c, "bucket.seconds"), 300);
    assert_string_equal(chp_conf_get_str(c, "kafka.sasl.jaas.config"),
                        "user=\"a\" password=\"b=c\"");
    assert_string_equal(chp_conf_get_str(c, "kafka.bootstrap.servers"),
                        "b1:9092,b2:9092");
    assert_string_equal(chp_conf_get_str(c, "timestamp.topic.clicks"),
                        "kafka,now");
    assert_string_equal(chp_conf_get_str(c, "hostname"), "");
    assert_true(chp_conf_is_set(c, "hostname"));
    assert_false(chp_conf_get_bool(c, "combine.hosts"));
    chp_conf_destroy(c);
}

static void test_load_buf_errors(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ];
    (void)state;

    assert_int_equal(load(c, "tier=a\n\n# c\nbucket.seconds=ten\n", errstr),
                     CHP_ERR_TYPE);
    assert_string_equal(errstr, "test.properties:4: \"bucket.seconds\": "
                                "expected an integer, got \"ten\"");
    assert_int_equal(load(c, "tier=a\njust some words\n", errstr),
                     CHP_ERR_PARSE);
    assert_string_equal(errstr, "test.properties:2: expected key=value");
    /* CRLF lines are counted like LF lines. */
    assert_int_equal(load(c, "a.b\r\n", errstr), CHP_ERR_PARSE);
    assert_string_equal(errstr, "test.properties:1: expected key=value");
    assert_int_equal(load(c, "# x\r\n\r\nworker.grup.id=g\r\n", errstr),
                     CHP_ERR_UNKNOWN_KEY);
    assert_string_equal(errstr, "test.properties:3: unknown configuration "
                                "key \"worker.grup.id\" (did you mean "
                                "\"worker.group.id\"?)");
    assert_int_equal(load(c, "bucket.seconds=0\n", errstr), CHP_ERR_RANGE);
    assert_string_equal(errstr, "test.properties:1: \"bucket.seconds\": 0 is "
                                "out of range [1..86400]");
    assert_int_equal(load(c, "= value\n", errstr), CHP_ERR_INVALID_ARG);
    assert_non_null(strstr(errstr, "test.properties:1: "));
    /* key:value is not a properties form we take. */
    assert_int_equal(load(c, "tier:x\n", errstr), CHP_ERR_PARSE);
    chp_conf_destroy(c);
}

static void test_load_buf_all_or_nothing(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ];
    seen_t s = {0};
    (void)state;

    set_ok(c, "tier", "before");
    assert_int_equal(load(c,
                          "tier=after\nkafka.acks=all\n"
                          "bucket.seconds=-5\n",
                          errstr),
                     CHP_ERR_RANGE);
    assert_non_null(strstr(errstr, ":3: "));
    assert_string_equal(chp_conf_get_str(c, "tier"), "before");
    assert_null(chp_conf_get_str(c, "kafka.acks"));
    chp_conf_prefix_foreach(c, "kafka.", collect, &s);
    assert_int_equal(s.n, 0);
    chp_conf_destroy(c);
}

static void test_load_buf_edge_cases(void **state)
{
    static const char nul_line[] = "tier=a\nhost\0name=x\n";
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ];
    (void)state;

    /* Empty input, NULL with length 0, NULL name. */
    assert_int_equal(chp_conf_load_buf(c, NULL, 0, NULL, errstr, ERRSZ),
                     CHP_OK);
    assert_int_equal(chp_conf_load_buf(c, "", 0, "x", errstr, ERRSZ), CHP_OK);
    assert_int_equal(chp_conf_load_buf(c, "nope=1", 6, NULL, errstr, ERRSZ),
                     CHP_ERR_UNKNOWN_KEY);
    assert_non_null(strstr(errstr, "<buffer>:1: "));
    /* A UTF-8 byte order mark before the first key. */
    assert_int_equal(load(c, "\xEF\xBB\xBFtier=bom\n", errstr), CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "bom");
    /* An embedded NUL is an error, not a silent truncation. */
    assert_int_equal(chp_conf_load_buf(c, nul_line, sizeof(nul_line) - 1, "n",
                                       errstr, ERRSZ),
                     CHP_ERR_PARSE);
    assert_string_equal(errstr, "n:2: NUL byte in line");
    /* Only the given length is read. */
    assert_int_equal(chp_conf_load_buf(c, "tier=abcdef", 7, "n", errstr, ERRSZ),
                     CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "tier"), "ab");
    assert_int_equal(chp_conf_load_buf(c, NULL, 3, "n", errstr, ERRSZ),
                     CHP_ERR_INVALID_ARG);
    chp_conf_destroy(c);
}

static void test_load_file(void **state)
{
    char path[] = "/tmp/chp_test_conf_XXXXXX";
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ], want[ERRSZ + 64];
    int fd;
    FILE *fp;
    (void)state;

    fd = mkstemp(path);
    assert_true(fd >= 0);
    fp = fdopen(fd, "w");
    assert_non_null(fp);
    fputs("# worker.properties\ncluster.name = regional\n"
          "kafka.bootstrap.servers=localhost:9092\n"
          "max.open.buckets=fifty\n",
          fp);
    fclose(fp);

    assert_int_equal(chp_conf_load_file(c, path, errstr, sizeof(errstr)),
                     CHP_ERR_TYPE);
    snprintf(want, sizeof(want),
             "%s:4: \"max.open.buckets\": expected an integer, got \"fifty\"",
             path);
    assert_string_equal(errstr, want);

    fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("cluster.name = regional\nmax.open.buckets=50\n", fp);
    fclose(fp);
    assert_int_equal(chp_conf_load_file(c, path, errstr, sizeof(errstr)),
                     CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "cluster.name"), "regional");
    assert_int_equal(chp_conf_get_int(c, "max.open.buckets"), 50);
    unlink(path);

    assert_int_equal(chp_conf_load_file(c, path, errstr, sizeof(errstr)),
                     CHP_ERR_IO);
    assert_non_null(strstr(errstr, path));
    assert_int_equal(chp_conf_load_file(c, NULL, errstr, sizeof(errstr)),
                     CHP_ERR_INVALID_ARG);
    chp_conf_destroy(c);
}

/* ----------------------------------------------------------------- dup */

static void test_dup_independent(void **state)
{
    chp_conf_t *a = chp_conf_new(), *b;
    (void)state;

    set_ok(a, "tier", "one");
    set_ok(a, "bucket.seconds", "60");
    set_ok(a, "kafka.acks", "all");
    b = chp_conf_dup(a);
    assert_non_null(b);
    set_ok(b, "tier", "two");
    set_ok(b, "kafka.acks", "1");
    set_ok(b, "kafka.linger.ms", "5");
    set_ok(a, "bucket.seconds", "120");
    assert_string_equal(chp_conf_get_str(a, "tier"), "one");
    assert_string_equal(chp_conf_get_str(b, "tier"), "two");
    assert_int_equal(chp_conf_get_int(b, "bucket.seconds"), 60);
    assert_true(chp_conf_is_set(b, "bucket.seconds"));
    assert_string_equal(chp_conf_get_str(a, "kafka.acks"), "all");
    assert_null(chp_conf_get_str(a, "kafka.linger.ms"));
    chp_conf_destroy(a);
    /* b outlives a. */
    assert_string_equal(chp_conf_get_str(b, "kafka.acks"), "1");
    assert_string_equal(chp_conf_get_str(b, "log.level"), "info");
    chp_conf_destroy(b);
    assert_null(chp_conf_dup(NULL));
}

/* ---------------------------------------------------------------- dump */

static void test_dump(void **state)
{
    chp_conf_t *c = chp_conf_new();
    size_t n;
    const chp_conf_prop_t *props = chp_conf_props(&n);
    char *out, *prev = NULL, line[128];
    (void)state;

    set_ok(c, "timestamp.topic.t1", "kafka");
    set_ok(c, "kafka.bootstrap.servers", "b:9092");
    set_ok(c, "kafka.sasl.password", "hunter2");
    set_ok(c, "kafka.sasl.oauthbearer.client.secret", "s3cr3t");
    set_ok(c, "kafka.ssl.key.pem", "PRIVATE");
    set_ok(c, "kafka.ssl.certificate.pem", "a\nb");
    set_ok(c, "db.url", "mysql://audit:pw@db:3306/chaperone");
    set_ok(c, "redis.url", "redis://:pw@r:6379/0");
    set_ok(c, "bucket.seconds", "60");
    out = dump_str(c);

    /* Every table key once, in table order, before the families. */
    for (size_t i = 0; i < n; i++) {
        char *at;
        snprintf(line, sizeof(line), "\n%s=", props[i].name);
        at = i ? strstr(out, line) : out;
        assert_non_null(at);
        assert_true(prev == NULL || at > prev);
        prev = at;
    }
    assert_non_null(strstr(out, "log.level=info\n"));
    assert_non_null(strstr(out, "\nbucket.seconds=60\n"));
    assert_non_null(strstr(out, "\nworker.use.registry=true\n"));
    assert_non_null(strstr(out, "\nreport.max.loss.percent=0.01\n"));
    assert_non_null(strstr(out, "\ntier=\n"));
    assert_non_null(strstr(out, "\ndb.url=mysql://audit:[redacted]@db:3306/"
                                "chaperone\n"));
    assert_non_null(strstr(out, "\nredis.url=redis://:[redacted]@r:6379/0\n"));
    assert_non_null(strstr(out, "\nkafka.bootstrap.servers=b:9092\n"));
    assert_non_null(strstr(out, "\nkafka.sasl.password=[redacted]\n"));
    assert_non_null(
        strstr(out, "\nkafka.sasl.oauthbearer.client.secret=[redacted]\n"));
    assert_non_null(strstr(out, "\nkafka.ssl.key.pem=[redacted]\n"));
    assert_non_null(strstr(out, "\nkafka.ssl.certificate.pem=a\\x0ab\n"));
    assert_null(strstr(out, "hunter2"));
    assert_null(strstr(out, "s3cr3t"));
    assert_null(strstr(out, "PRIVATE"));
    assert_null(strstr(out, ":pw@"));
    /* kafka.* first, then timestamp.topic.*, whatever the set order. */
    assert_true(strstr(out, "\nkafka.bootstrap.servers=") >
                strstr(out, "\nreport.max.loss.percent="));
    assert_true(strstr(out, "\ntimestamp.topic.t1=kafka\n") >
                strstr(out, "\nkafka.ssl.certificate.pem="));
    free(out);
    chp_conf_destroy(c);
}

/* What dump writes loads back to the same configuration. */
static void test_dump_round_trip(void **state)
{
    chp_conf_t *a = chp_conf_new(), *b = chp_conf_new();
    char *d1, *d2, errstr[ERRSZ];
    (void)state;

    set_ok(a, "tier", "agg");
    set_ok(a, "report.max.loss.percent", "0.3");
    set_ok(a, "worker.topics", "a, b");
    set_ok(a, "log.level", "DEBUG");
    set_ok(a, "kafka.acks", "all");
    set_ok(a, "timestamp.topic.x", "now");
    d1 = dump_str(a);
    assert_int_equal(
        chp_conf_load_buf(b, d1, strlen(d1), "dump", errstr, sizeof(errstr)),
        CHP_OK);
    d2 = dump_str(b);
    assert_string_equal(d1, d2);
    free(d1);
    free(d2);
    chp_conf_destroy(a);
    chp_conf_destroy(b);
}

/* ------------------------------------------------------------- getters */

static void test_getters_wrong_type_or_unknown(void **state)
{
    chp_conf_t *c = chp_conf_new();
    (void)state;

    assert_int_equal(chp_conf_get_int(c, "tier"), 0);
    assert_null(chp_conf_get_str(c, "bucket.seconds"));
    assert_false(chp_conf_get_bool(c, "bucket.seconds"));
    assert_false(chp_conf_get_bool(c, "log.level"));
    assert_true(chp_conf_get_double(c, "bucket.seconds") == 0.0);
    assert_int_equal(chp_conf_get_int(c, "report.max.loss.percent"), 0);
    assert_int_equal(chp_conf_get_int(c, "combine.hosts"), 0);
    assert_null(chp_conf_get_str(c, "nope"));
    assert_int_equal(chp_conf_get_int(c, "nope"), 0);
    assert_false(chp_conf_get_bool(c, "nope"));
    assert_true(chp_conf_get_double(c, "nope") == 0.0);
    assert_false(chp_conf_is_set(c, "nope"));
    assert_null(chp_conf_get_str(c, NULL));
    assert_null(chp_conf_get_str(NULL, "tier"));
    assert_int_equal(chp_conf_get_int(NULL, "bucket.seconds"), 0);
    assert_false(chp_conf_is_set(NULL, "tier"));
    chp_conf_destroy(c);
    chp_conf_destroy(NULL);
}

/* -------------------------------------------------------------- scopes */

static void note_name(const char *name, void *opaque)
{
    seen_t *s = opaque;

    assert_true(s->n < 8);
    snprintf(s->names[s->n++], 64, "%s", name);
}

static void test_scopes(void **state)
{
    chp_conf_t *c = chp_conf_new();
    seen_t s = {0};
    (void)state;

    assert_int_equal(chp_conf_scope("worker.group.id"), CHP_SCOPE_WORKER);
    assert_int_equal(chp_conf_scope("log.level"), CHP_SCOPE_ALL);
    assert_true(chp_conf_scope("kafka.acks") & CHP_SCOPE_CLIENT);
    assert_false(chp_conf_scope("kafka.acks") & CHP_SCOPE_REPORT);
    assert_true(chp_conf_scope("db.url") & CHP_SCOPE_REPORT);
    assert_int_equal(chp_conf_scope("kafka."), 0);
    assert_int_equal(chp_conf_scope("nope"), 0);

    set_ok(c, "retention.hours", "24");
    set_ok(c, "bucket.seconds", "60");
    set_ok(c, "kafka.acks", "all");
    chp_conf_foreach_out_of_scope(c, CHP_SCOPE_WORKER, note_name, &s);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.names[0], "retention.hours");
    memset(&s, 0, sizeof(s));
    chp_conf_foreach_out_of_scope(c, CHP_SCOPE_REPORT, note_name, &s);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "retention.hours");
    assert_string_equal(s.names[1], "kafka.acks");
    chp_conf_destroy(c);
}

/* ------------------------------------------------------------ markdown */

static void test_markdown(void **state)
{
    size_t n;
    const chp_conf_prop_t *props = chp_conf_props(&n);
    char *md, cell[128];
    mem_t m;
    (void)state;

    mem_open(&m);
    chp_conf_dump_markdown(m.fp);
    md = mem_close(&m);
    assert_true(!strncmp(md, "# Configuration reference\n", 26));
    for (size_t i = 0; i < n; i++) {
        snprintf(cell, sizeof(cell), "\n| `%s` | ", props[i].name);
        assert_non_null(strstr(md, cell));
    }
    assert_non_null(strstr(md, "\n| `bucket.seconds` | integer | `600` | "
                               "1 .. 86400 | client, worker, report | "));
    assert_non_null(strstr(md, "\n| `log.level` | enum | `info` | `error`, "
                               "`warn`, `info`, `debug` | all | "));
    assert_non_null(strstr(md, "| `report.max.loss.percent` | number | "
                               "`0.01` | 0 .. 100 |"));
    assert_non_null(strstr(md, "\n| `kafka.<property>` | "));
    assert_non_null(strstr(md, "\n| `timestamp.topic.<topic>` | "));
    assert_non_null(strstr(md, "\n## Worker"));
    assert_non_null(strstr(md, "\n## Collector"));
    assert_non_null(strstr(md, "\n## Report"));
    free(md);
    chp_conf_dump_markdown(NULL);
}

/* ------------------------------------------------------------- threads */

static void *reader(void *arg)
{
    const chp_conf_t *c = arg;
    long bad = 0;

    for (int i = 0; i < 20000; i++) {
        bad += chp_conf_get_int(c, "bucket.seconds") != 60;
        bad += strcmp(chp_conf_get_str(c, "kafka.acks"), "all") != 0;
        bad += !chp_conf_get_bool(c, "combine.hosts");
    }
    return (void *)bad;
}

static void test_concurrent_readers(void **state)
{
    chp_conf_t *c = chp_conf_new();
    pthread_t t[4];
    (void)state;

    set_ok(c, "bucket.seconds", "60");
    set_ok(c, "kafka.acks", "all");
    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, reader, c), 0);
    for (int i = 0; i < 4; i++) {
        void *bad;
        pthread_join(t[i], &bad);
        assert_null(bad);
    }
    chp_conf_destroy(c);
}

/* ------------------------------------------------- table-driven checks */

/* Every enum key takes each of its values, in any case, stored canonical. */
static void check_enum(chp_conf_t *c, const chp_conf_prop_t *p)
{
    char upper[64];
    const char *e;

    for (size_t j = 0; j < CHP_CONF_MAX_ENUM && p->enums[j]; j++) {
        size_t k;
        for (k = 0; p->enums[j][k] && k < sizeof(upper) - 1; k++)
            upper[k] = (char)(p->enums[j][k] & ~0x20);
        upper[k] = '\0';
        set_ok(c, p->name, upper);
        assert_string_equal(chp_conf_get_str(c, p->name), p->enums[j]);
    }
    e = set_expect(c, p->name, "no-such-value", CHP_ERR_RANGE);
    assert_non_null(strstr(e, p->name));
    assert_non_null(strstr(e, p->enums[0]));
}

static void test_enum_every_key(void **state)
{
    (void)state;
    every_key(1u << CHP_CONF_ENUM, check_enum);
}

static void check_bool(chp_conf_t *c, const chp_conf_prop_t *p)
{
    const char *e;

    set_ok(c, p->name, "false");
    assert_false(chp_conf_get_bool(c, p->name));
    set_ok(c, p->name, "yes");
    assert_true(chp_conf_get_bool(c, p->name));
    e = set_expect(c, p->name, "maybe", CHP_ERR_TYPE);
    assert_non_null(strstr(e, p->name));
    assert_true(chp_conf_get_bool(c, p->name));
}

static void test_bool_every_key(void **state)
{
    (void)state;
    every_key(1u << CHP_CONF_BOOL, check_bool);
}

/* Every non-string key refuses junk with a message naming it. */
static void check_type_error(chp_conf_t *c, const chp_conf_prop_t *p)
{
    char want[128];
    const char *e = set_expect(c, p->name, "junk", CHP_ERR_TYPE);

    snprintf(want, sizeof(want), "\"%s\": expected ", p->name);
    assert_true(!strncmp(e, want, strlen(want)));
    assert_non_null(strstr(e, "\"junk\""));
}

static void test_type_error_every_key(void **state)
{
    (void)state;
    every_key(~((1u << CHP_CONF_STR) | (1u << CHP_CONF_ENUM)),
              check_type_error);
}

static void check_nonempty(chp_conf_t *c, const chp_conf_prop_t *p)
{
    if (p->flags & CHP_CONF_F_NONEMPTY) {
        const char *e = set_expect(c, p->name, "", CHP_ERR_TYPE);
        assert_non_null(strstr(e, p->name));
        assert_string_equal(chp_conf_get_str(c, p->name), p->defval);
    } else {
        set_ok(c, p->name, "");
        assert_string_equal(chp_conf_get_str(c, p->name), "");
    }
}

static void test_nonempty_every_key(void **state)
{
    (void)state;
    every_key(1u << CHP_CONF_STR, check_nonempty);
}

static void test_url_redaction_forms(void **state)
{
    static const struct {
        const char *url, *dumped;
    } cases[] = {
        {"sqlite://chaperone.db", "sqlite://chaperone.db"},
        {"sqlite:///var/lib/c.db", "sqlite:///var/lib/c.db"},
        {"postgresql://user@h/db", "postgresql://user@h/db"},
        {"mysql://u:p:q@h:3306/db", "mysql://u:[redacted]@h:3306/db"},
        {"mysql://u:pa/s?s@h/db", "mysql://u:[redacted]@h/db"},
        {"mysql://u:p@ss@h/db", "mysql://u:[redacted]@h/db"},
        /* Ambiguous: hide too much rather than too little. */
        {"mysql://u:p@h/db?opt=a@b", "mysql://u:[redacted]@b"},
        {"mysql://h/db?x=u:p@b", "mysql://h/db?x=u:[redacted]@b"},
        {"redis://h:6379", "redis://h:6379"},
        {"not a url at all", "not a url at all"},
    };
    chp_conf_t *c = chp_conf_new();
    char want[128];
    (void)state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *out;
        set_ok(c, "db.url", cases[i].url);
        assert_string_equal(chp_conf_get_str(c, "db.url"), cases[i].url);
        out = dump_str(c);
        snprintf(want, sizeof(want), "\ndb.url=%s\n", cases[i].dumped);
        assert_non_null(strstr(out, want));
        free(out);
    }
    chp_conf_destroy(c);
}

static void test_kafka_values_verbatim(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char errstr[ERRSZ];
    (void)state;

    /* chp_conf_set keeps kafka values byte for byte; only files trim. */
    set_ok(c, "kafka.client.id", "  padded  ");
    assert_string_equal(chp_conf_get_str(c, "kafka.client.id"), "  padded  ");
    set_ok(c, "kafka.ssl.ca.pem", "-----BEGIN\r\nx\r\n");
    assert_string_equal(chp_conf_get_str(c, "kafka.ssl.ca.pem"),
                        "-----BEGIN\r\nx\r\n");
    assert_int_equal(load(c, "kafka.client.id =  padded  \n", errstr), CHP_OK);
    assert_string_equal(chp_conf_get_str(c, "kafka.client.id"), "padded");
    /* Any librdkafka name is taken: librdkafka itself judges it later. */
    set_ok(c, "kafka.no.such.librdkafka.property", "1");
    chp_conf_destroy(c);
}

static void test_unknown_key_long(void **state)
{
    chp_conf_t *c = chp_conf_new();
    char key[400], errstr[64];
    (void)state;

    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    assert_int_equal(chp_conf_set(c, key, "1", errstr, sizeof(errstr)),
                     CHP_ERR_UNKNOWN_KEY);
    assert_true(!strncmp(errstr, "unknown configuration key \"kkk", 30));
    assert_int_equal(strlen(errstr), sizeof(errstr) - 1);
    chp_conf_destroy(c);
}

/* Numbers use '.' whatever LC_NUMERIC says (when such a locale exists). */
static void test_double_locale(void **state)
{
    chp_conf_t *c;
    char *out;
    (void)state;

    if (!setlocale(LC_NUMERIC, "de_DE.UTF-8") &&
        !setlocale(LC_NUMERIC, "fr_FR.UTF-8")) {
        TU_SKIP_CASE("no de_DE.UTF-8 or fr_FR.UTF-8 locale (scripts/deps.sh "
                     "generates de_DE.UTF-8)");
        return;
    }
    c = chp_conf_new();
    set_ok(c, "report.max.loss.percent", "0.25");
    assert_true(chp_conf_get_double(c, "report.max.loss.percent") == 0.25);
    out = dump_str(c);
    assert_non_null(strstr(out, "report.max.loss.percent=0.25\n"));
    free(out);
    chp_conf_destroy(c);
    setlocale(LC_NUMERIC, "C");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_every_type),
        cmocka_unit_test(test_required_keys),
        cmocka_unit_test(test_table_sane),
        cmocka_unit_test(test_set_get),
        cmocka_unit_test(test_int_forms),
        cmocka_unit_test(test_int_type_errors),
        cmocka_unit_test(test_int_range_bounds),
        cmocka_unit_test(test_int_range_every_key),
        cmocka_unit_test(test_int_overflow),
        cmocka_unit_test(test_bools),
        cmocka_unit_test(test_enum),
        cmocka_unit_test(test_double),
        cmocka_unit_test(test_format_double),
        cmocka_unit_test(test_string_checks),
        cmocka_unit_test(test_lists),
        cmocka_unit_test(test_null_value_resets),
        cmocka_unit_test(test_unknown_key),
        cmocka_unit_test(test_malformed_keys),
        cmocka_unit_test(test_errstr_truncation),
        cmocka_unit_test(test_prefix_families),
        cmocka_unit_test(test_prefix_foreach_stops),
        cmocka_unit_test(test_prefix_errors),
        cmocka_unit_test(test_set_kv),
        cmocka_unit_test(test_load_buf),
        cmocka_unit_test(test_load_buf_errors),
        cmocka_unit_test(test_load_buf_all_or_nothing),
        cmocka_unit_test(test_load_buf_edge_cases),
        cmocka_unit_test(test_load_file),
        cmocka_unit_test(test_dup_independent),
        cmocka_unit_test(test_dump),
        cmocka_unit_test(test_dump_round_trip),
        cmocka_unit_test(test_getters_wrong_type_or_unknown),
        cmocka_unit_test(test_scopes),
        cmocka_unit_test(test_markdown),
        cmocka_unit_test(test_concurrent_readers),
        cmocka_unit_test(test_enum_every_key),
        cmocka_unit_test(test_bool_every_key),
        cmocka_unit_test(test_type_error_every_key),
        cmocka_unit_test(test_nonempty_every_key),
        cmocka_unit_test(test_url_redaction_forms),
        cmocka_unit_test(test_kafka_values_verbatim),
        cmocka_unit_test(test_unknown_key_long),
        cmocka_unit_test(test_double_locale),
    };
    return tu_status(cmocka_run_group_tests(tests, NULL, NULL));
}
