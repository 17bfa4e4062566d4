/* bench_collector.c - collector_vs_insert_{sqlite,mysql,pgsql} (design.md §12):
 * rows/s the collector ingests ÷ rows/s of a plain batched multi-row
 * INSERT of the same rows into an equivalent table, per backend.
 *
 * A is the collector's real path, in-process: every pre-encoded audit
 * message is decoded, checked against the batch's uuids and aggregated
 * (coll_batch_add), and each batch is one store flush: uuids looked up
 * (dedup=db), rows read-merged-written, uuids and offsets inserted, in one
 * transaction.  Each message is its own row (no aggregation gain), so A
 * does all of its per-row work.  B inserts the same rows, already decoded,
 * with the same transaction size: what any loader would do without
 * exactly-once or de-duplication.
 *
 * The question is throughput, and half of the work is done by the database
 * server (another process), so both sides are timed by the wall clock; A
 * and B alternate in PAIRS short pairs (AB, BA, ...; 9 longer pairs moved
 * the median by 10-15% between runs) and the line gives the median of the
 * per-pair ratios with their spread.  On PostgreSQL, VACUUM ANALYZE runs
 * between pairs, outside the timed runs.
 *
 * MySQL and PostgreSQL come from CHP_BENCH_MYSQL_URL / CHP_BENCH_PG_URL
 * (else CHP_TEST_MYSQL_URL / CHP_TEST_PG_URL); unset: skipped with a note.
 * Needs chaperone_app (the store and the batch). */
#include <inttypes.h>
#include <libpq-fe.h>
#include <mysql.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "benchutil.h"
#include "chaperone.h"
#include "collector/batch.h"
#include "collector/store_impl.h"

#define MSGS        10000 /* audit messages (= rows) per run */
#define FLUSH       2000  /* messages per flush = rows per transaction */
#define INSERT_ROWS 500   /* rows per INSERT statement in B */
#define PAIRS       21    /* alternating A/B pairs (>= BENCH_MIN_PAIRS) */
#define W           600

/* One run's input: the encoded messages (A) and their decoded rows (B). */
typedef struct input {
    char *json[MSGS];
    size_t len[MSGS];
    chp_auditmsg_t *msg; /* MSGS decoded */
    char *sketch[MSGS];  /* compact encodings, as B stores them */
} input_t;

static char tag[32]; /* chp-bench-<pid>: everything this run writes */

/* Client (this process's) CPU µs per row of the last run_collector or
 * run_plain: the side's own work, without the server's. */
static double last_client_us;

static void die(const char *what, const char *why)
{
    fprintf(stderr, "bench_collector: %s: %s\n", what, why);
    exit(1);
}

/* MSGS messages with distinct keys (topic <tag>-<side><round>), each with
 * a sketch of ~30 bins, as a tracker emission carries. */
static void input_make(input_t *in, char side, int round)
{
    int64_t begin = (chp_now_ms() / 1000 / W) * W;

    in->msg = calloc(MSGS, sizeof(*in->msg));
    if (!in->msg)
        die("input", "out of memory");
    for (int i = 0; i < MSGS; i++) {
        chp_auditmsg_t *m = &in->msg[i];
        size_t need;

        chp_auditmsg_init(m);
        snprintf(m->topic, sizeof(m->topic), "%s-%c%d-%d", tag, side, round,
                 i % 50);
        m->time_begin = begin - (int64_t)(i / 50 % 20) * W;
        m->time_end = m->time_begin + W;
        m->count = 1000 + (uint64_t)i % 777;
        m->total_bytes = m->count * 300;
        m->no_time_count = (uint64_t)i % 7;
        m->malformed_count = (uint64_t)i % 3;
        snprintf(m->tier, sizeof(m->tier), "kafka-tier%d", i / 1000 % 4);
        snprintf(m->datacenter, sizeof(m->datacenter), "dc1");
        snprintf(m->hostname, sizeof(m->hostname), "host-%d", i / 4000);
        snprintf(m->uuid, sizeof(m->uuid), "%s-%c%d-%d", tag, side, round, i);
        m->version = CHP_AUDITMSG_VERSION;
        m->sketch = chp_sketch_new();
        for (int k = 0; k < 30; k++)
            chp_sketch_add(m->sketch, 20 + k * k * 7 + i % 13, m->count / 30);
        m->latency_sum_ms = 123.0 * (double)m->count;
        m->mean_latency = 123.0;
        m->latency95 = chp_sketch_quantile(m->sketch, 0.95);
        m->latency99 = chp_sketch_quantile(m->sketch, 0.99);
        m->max_latency = (double)chp_sketch_max(m->sketch);
        if (chp_auditmsg_encode(m, &in->json[i], &in->len[i]) != CHP_OK)
            die("encode", "failed");
        need = chp_sketch_encode(m->sketch, NULL, 0) + 1;
        in->sketch[i] = malloc(need);
        if (!in->sketch[i])
            die("input", "out of memory");
        chp_sketch_encode(m->sketch, in->sketch[i], need);
    }
}

static void input_free(input_t *in)
{
    for (int i = 0; i < MSGS; i++) {
        free(in->json[i]);
        free(in->sketch[i]);
        chp_auditmsg_clear(&in->msg[i]);
    }
    free(in->msg);
    memset(in, 0, sizeof(*in));
}

/* ----------------------------------------------------------- A: collector */

static chp_err_t seen_in_store(void *opaque, const char *const *uuids, size_t n,
                               bool *seen, char *errstr, size_t errstr_size)
{
    return store_seen(opaque, uuids, n, seen, errstr, errstr_size);
}

/* rows/s of the collector's path over in. */
static double run_collector(store_t *s, const input_t *in)
{
    coll_batch_t *b = coll_batch_new(false);
    coll_flush_stats_t st;
    char audit[128], err[1024];
    size_t rows = 0;
    int64_t t0;

    static int round;
    char cluster[32];

    snprintf(audit, sizeof(audit), "%s-audit", tag);
    /* Each round reads offsets 0.. again: as another cluster, since the
     * store refuses to move one cluster's offset backwards. */
    snprintf(cluster, sizeof(cluster), "bench-%d", round++);
    int64_t c0 = bench_process_cpu_ns();
    t0 = bench_ns();
    for (int i = 0; i < MSGS; i++) {
        coll_add_t res;
        if (coll_batch_add(b, audit, 0, i, in->json[i], in->len[i], &res, err,
                           sizeof(err)) != CHP_OK ||
            res != COLL_ADDED)
            die("coll_batch_add", err);
        if (coll_batch_records(b) == FLUSH || i == MSGS - 1) {
            if (coll_batch_flush(b, s, cluster, seen_in_store, s, true, &st,
                                 err, sizeof(err)) != CHP_OK)
                die("flush", err);
            rows += st.rows;
            coll_batch_committed(b);
        }
    }
    double secs = (double)(bench_ns() - t0) / 1e9;
    last_client_us = (double)(bench_process_cpu_ns() - c0) / 1e3 / MSGS;
    coll_batch_destroy(b);
    if (rows != MSGS)
        die("collector", "not one row per message");
    return (double)MSGS / secs;
}

/* ------------------------------------------------------- B: plain INSERT */

typedef enum { LITE, MY, PG } kind_t;

typedef struct plain {
    kind_t kind;
    sqlite3 *lite;
    MYSQL *my;
    PGconn *pg;
} plain_t;

static void exec_sql(plain_t *p, const char *sql)
{
    char *msg = NULL;

    switch (p->kind) {
    case LITE:
        if (sqlite3_exec(p->lite, sql, NULL, NULL, &msg) != SQLITE_OK)
            die(sql, msg ? msg : "sqlite error");
        break;
    case MY:
        if (mysql_query(p->my, sql))
            die(sql, mysql_error(p->my));
        break;
    case PG: {
        PGresult *r = PQexec(p->pg, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            die(sql, PQerrorMessage(p->pg));
        PQclear(r);
        break;
    }
    }
}

/* The columns and keys of audit_rows, in each dialect. */
static void plain_create(plain_t *p)
{
    static const char *const ddl[] = {
        [LITE] = "CREATE TABLE bench_plain_rows (time_begin INTEGER NOT NULL,"
                 " time_end INTEGER NOT NULL, topic TEXT NOT NULL,"
                 " tier TEXT NOT NULL, datacenter TEXT NOT NULL,"
                 " host TEXT NOT NULL, count INTEGER NOT NULL,"
                 " total_bytes INTEGER NOT NULL,"
                 " no_time_count INTEGER NOT NULL,"
                 " malformed_count INTEGER NOT NULL,"
                 " negative_latency_count INTEGER NOT NULL,"
                 " latency_sum_ms REAL NOT NULL, mean_latency REAL NOT NULL,"
                 " latency_p95 REAL NOT NULL, latency_p99 REAL NOT NULL,"
                 " max_latency REAL NOT NULL, sketch TEXT,"
                 " updated_at INTEGER NOT NULL,"
                 " PRIMARY KEY (time_begin, topic, tier, datacenter, host))",
        [MY] = "CREATE TABLE bench_plain_rows (time_begin BIGINT NOT NULL,"
               " time_end BIGINT NOT NULL, topic VARBINARY(255) NOT NULL,"
               " tier VARBINARY(255) NOT NULL,"
               " datacenter VARBINARY(255) NOT NULL,"
               " host VARBINARY(255) NOT NULL, count BIGINT NOT NULL,"
               " total_bytes BIGINT NOT NULL, no_time_count BIGINT NOT NULL,"
               " malformed_count BIGINT NOT NULL,"
               " negative_latency_count BIGINT NOT NULL,"
               " latency_sum_ms DOUBLE NOT NULL, mean_latency DOUBLE NOT NULL,"
               " latency_p95 DOUBLE NOT NULL, latency_p99 DOUBLE NOT NULL,"
               " max_latency DOUBLE NOT NULL,"
               " sketch TEXT CHARACTER SET ascii COLLATE ascii_bin NULL,"
               " updated_at BIGINT NOT NULL,"
               " PRIMARY KEY (time_begin, topic, tier, datacenter, host),"
               " INDEX bench_plain_topic_time (topic, time_begin))"
               " ENGINE=InnoDB",
        [PG] = "CREATE TABLE bench_plain_rows (time_begin BIGINT NOT NULL,"
               " time_end BIGINT NOT NULL, topic TEXT COLLATE \"C\" NOT NULL,"
               " tier TEXT COLLATE \"C\" NOT NULL,"
               " datacenter TEXT COLLATE \"C\" NOT NULL,"
               " host TEXT COLLATE \"C\" NOT NULL, count BIGINT NOT NULL,"
               " total_bytes BIGINT NOT NULL, no_time_count BIGINT NOT NULL,"
               " malformed_count BIGINT NOT NULL,"
               " negative_latency_count BIGINT NOT NULL,"
               " latency_sum_ms DOUBLE PRECISION NOT NULL,"
               " mean_latency DOUBLE PRECISION NOT NULL,"
               " latency_p95 DOUBLE PRECISION NOT NULL,"
               " latency_p99 DOUBLE PRECISION NOT NULL,"
               " max_latency DOUBLE PRECISION NOT NULL, sketch TEXT,"
               " updated_at BIGINT NOT NULL,"
               " PRIMARY KEY (time_begin, topic, tier, datacenter, host))",
    };

    exec_sql(p, "DROP TABLE IF EXISTS bench_plain_rows");
    exec_sql(p, ddl[p->kind]);
    if (p->kind != MY)
        exec_sql(p, "CREATE INDEX bench_plain_topic_time ON "
                    "bench_plain_rows (topic, time_begin)");
}

/* rows/s of batched multi-row INSERTs of in's rows. */
static double run_plain(plain_t *p, const input_t *in)
{
    size_t cap = (size_t)INSERT_ROWS * 2048 + 1024;
    char *sql = malloc(cap);
    int64_t now_s = chp_now_ms() / 1000, t0;

    if (!sql)
        die("plain", "out of memory");
    int64_t c0 = bench_process_cpu_ns();
    t0 = bench_ns();
    for (int i = 0; i < MSGS;) {
        exec_sql(p, p->kind == LITE ? "BEGIN IMMEDIATE"
                    : p->kind == MY ? "START TRANSACTION"
                                    : "BEGIN");
        for (int end_tx = i + FLUSH; i < end_tx && i < MSGS;) {
            size_t o = (size_t)snprintf(
                sql, cap,
                "INSERT INTO bench_plain_rows (time_begin, time_end, topic, "
                "tier, datacenter, host, count, total_bytes, no_time_count, "
                "malformed_count, negative_latency_count, latency_sum_ms, "
                "mean_latency, latency_p95, latency_p99, max_latency, sketch, "
                "updated_at) VALUES ");
            for (int k = 0; k < INSERT_ROWS && i < end_tx && i < MSGS;
                 k++, i++) {
                const chp_auditmsg_t *m = &in->msg[i];
                /* Names are [a-z0-9-], sketches [0-9a-z:,;]: no quoting
                 * needed in any dialect. */
                o += (size_t)snprintf(
                    sql + o, cap - o,
                    "%s(%" PRId64 ",%" PRId64 ",'%s','%s','%s','%s',%" PRIu64
                    ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                    ",%.17g,%.17g,%.17g,%.17g,%.17g,'%s',%" PRId64 ")",
                    k ? "," : "", m->time_begin, m->time_end, m->topic, m->tier,
                    m->datacenter, m->hostname, m->count, m->total_bytes,
                    m->no_time_count, m->malformed_count,
                    m->negative_latency_count, m->latency_sum_ms,
                    m->mean_latency, m->latency95, m->latency99, m->max_latency,
                    in->sketch[i], now_s);
                if (o >= cap)
                    die("plain", "statement buffer too small");
            }
            exec_sql(p, sql);
        }
        exec_sql(p, "COMMIT");
    }
    double secs = (double)(bench_ns() - t0) / 1e9;
    last_client_us = (double)(bench_process_cpu_ns() - c0) / 1e3 / MSGS;
    free(sql);
    return (double)MSGS / secs;
}

static int plain_open(plain_t *p, kind_t kind, const char *url,
                      const char *lite_path)
{
    store_url_t u;
    char err[512];

    memset(p, 0, sizeof(*p));
    p->kind = kind;
    switch (kind) {
    case LITE:
        if (sqlite3_open(lite_path, &p->lite) != SQLITE_OK)
            die("sqlite3_open", sqlite3_errmsg(p->lite));
        /* The store's own settings, so B is not slowed by fsyncs A skips. */
        exec_sql(p, "PRAGMA journal_mode = WAL");
        exec_sql(p, "PRAGMA synchronous = NORMAL");
        break;
    case MY:
        if (store_url_parse(url, "db.url", &u, err, sizeof(err)) != CHP_OK)
            die("url", err);
        p->my = mysql_init(NULL);
        if (!mysql_real_connect(p->my, u.host, u.user, u.password, u.path,
                                (unsigned)(u.port ? u.port : 3306), NULL, 0))
            die("mysql_real_connect", mysql_error(p->my));
        break;
    case PG:
        p->pg = PQconnectdb(url);
        if (PQstatus(p->pg) != CONNECTION_OK)
            die("PQconnectdb", PQerrorMessage(p->pg));
        exec_sql(p, "SET client_min_messages = warning");
        break;
    }
    return 0;
}

/* One number from a one-row, one-column query; -1 if unavailable. */
static double query_num(plain_t *p, const char *sql)
{
    double v = -1;

    switch (p->kind) {
    case LITE:
        break;
    case MY: {
        MYSQL_RES *res;
        MYSQL_ROW row;

        if (mysql_query(p->my, sql) || !(res = mysql_store_result(p->my)))
            break;
        if ((row = mysql_fetch_row(res)) && row[0])
            v = strtod(row[0], NULL);
        mysql_free_result(res);
        break;
    }
    case PG: {
        PGresult *r = PQexec(p->pg, sql);

        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            !PQgetisnull(r, 0, 0))
            v = strtod(PQgetvalue(r, 0, 0), NULL);
        PQclear(r);
        break;
    }
    }
    return v;
}

/* On-disk bytes per row (table + indexes) of a table: B's, which has the
 * columns and keys of audit_rows and every row B wrote, is what the
 * database grows by per stored row; seen_uuids holds the uuids of A's
 * messages (docs/capacity.md).  -1 on SQLite. */
static double bytes_per_row(plain_t *p, const char *table)
{
    double bytes = -1, rows;
    char sql[256];

    if (p->kind == MY) {
        snprintf(sql, sizeof(sql), "ANALYZE TABLE %s", table);
        query_num(p, sql); /* returns a result set */
        snprintf(sql, sizeof(sql),
                 "SELECT data_length + index_length FROM "
                 "information_schema.tables WHERE table_schema = DATABASE() "
                 "AND table_name = '%s'",
                 table);
        bytes = query_num(p, sql);
    } else if (p->kind == PG) {
        snprintf(sql, sizeof(sql), "VACUUM ANALYZE %s", table);
        exec_sql(p, sql);
        snprintf(sql, sizeof(sql), "SELECT pg_total_relation_size('%s')",
                 table);
        bytes = query_num(p, sql);
    }
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    rows = query_num(p, sql);
    return bytes > 0 && rows > 0 ? bytes / rows : -1;
}

/* Leaves the shared databases as they were. */
static void cleanup(plain_t *p)
{
    char sql[512];

    exec_sql(p, "DROP TABLE IF EXISTS bench_plain_rows");
    snprintf(sql, sizeof(sql),
             "DELETE FROM audit_rows WHERE topic LIKE '%s-%%'", tag);
    exec_sql(p, sql);
    snprintf(sql, sizeof(sql), "DELETE FROM seen_uuids WHERE uuid LIKE '%s-%%'",
             tag);
    exec_sql(p, sql);
    snprintf(sql, sizeof(sql),
             "DELETE FROM source_offsets WHERE topic LIKE '%s-%%'", tag);
    exec_sql(p, sql);
    if (p->lite)
        sqlite3_close(p->lite);
    if (p->my)
        mysql_close(p->my);
    if (p->pg)
        PQfinish(p->pg);
}

static void bench_backend(const char *name, kind_t kind, const char *url,
                          const char *lite_path)
{
    double a[PAIRS], b[PAIRS], ratio[PAIRS], ca[PAIRS], cb[PAIRS];
    store_t *s;
    plain_t p;
    bench_cmp_t cmp;
    char err[1024], detail[800];

    if (store_open(url, &s, err, sizeof(err)) != CHP_OK)
        die(name, err);
    plain_open(&p, kind, url, lite_path);
    plain_create(&p);
    for (int r = 0; r < PAIRS; r++) {
        input_t ia = {0}, ib = {0};
        input_make(&ia, 'a', r);
        input_make(&ib, 'b', r);
        if (r % 2 == 0) {
            a[r] = run_collector(s, &ia);
            ca[r] = last_client_us;
            b[r] = run_plain(&p, &ib);
            cb[r] = last_client_us;
        } else {
            b[r] = run_plain(&p, &ib);
            cb[r] = last_client_us;
            a[r] = run_collector(s, &ia);
            ca[r] = last_client_us;
        }
        ratio[r] = a[r] / b[r];
        input_free(&ia);
        input_free(&ib);
        /* PostgreSQL's autovacuum wakes up as the tables grow and slowed
         * whichever side it fell on (per-pair ratios 0.36-1.30): the
         * maintenance is done here, between pairs, on neither side. */
        if (kind == PG)
            exec_sql(&p, "VACUUM ANALYZE audit_rows, seen_uuids, "
                         "source_offsets, bench_plain_rows");
    }
    store_close(s);
    double row_bytes = bytes_per_row(&p, "bench_plain_rows");
    double uuid_bytes = bytes_per_row(&p, "seen_uuids");
    cleanup(&p);
    bench_summarise(a, b, ratio, PAIRS, BENCH_WALL, &cmp);
    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f rows/s; A: collector decode+dedup+aggregate+"
             "store flush, %d audit messages (1 row each) in flushes of %d; "
             "B: multi-row INSERT of the same rows, %d per statement, %d per "
             "transaction; client CPU per row (process CPU time) A=%.1f "
             "B=%.1f us",
             cmp.a, cmp.b, MSGS, FLUSH, INSERT_ROWS, FLUSH,
             bench_median(ca, PAIRS), bench_median(cb, PAIRS));
    if (row_bytes > 0)
        snprintf(detail + strlen(detail), sizeof(detail) - strlen(detail),
                 "; on disk (table + indexes): %.0f bytes per row with a "
                 "~30-bin sketch, %.0f per seen_uuids entry",
                 row_bytes, uuid_bytes);
    char full[96];
    snprintf(full, sizeof(full), "collector_vs_insert_%s", name);
    bench_report_cmp(full, &cmp, ">= 0.5", detail);
}

static const char *env2(const char *a, const char *b)
{
    const char *v = getenv(a);

    if (!v || !*v)
        v = getenv(b);
    return v && *v ? v : NULL;
}

int main(void)
{
    char path[256], url[300], side[300];
    const char *my = env2("CHP_BENCH_MYSQL_URL", "CHP_TEST_MYSQL_URL");
    const char *pg = env2("CHP_BENCH_PG_URL", "CHP_TEST_PG_URL");

    snprintf(tag, sizeof(tag), "chp-bench-%ld", (long)getpid());
    snprintf(path, sizeof(path), "/tmp/%s.db", tag);
    snprintf(url, sizeof(url), "sqlite://%s", path);
    bench_backend("sqlite", LITE, url, path);
    unlink(path);
    snprintf(side, sizeof(side), "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof(side), "%s-shm", path);
    unlink(side);

    if (my)
        bench_backend("mysql", MY, my, NULL);
    else
        fprintf(stderr, "bench_collector: collector_vs_insert_mysql skipped: "
                        "CHP_BENCH_MYSQL_URL / CHP_TEST_MYSQL_URL not set\n");
    if (pg)
        bench_backend("pgsql", PG, pg, NULL);
    else
        fprintf(stderr, "bench_collector: collector_vs_insert_pgsql skipped: "
                        "CHP_BENCH_PG_URL / CHP_TEST_PG_URL not set\n");
    return 0;
}
