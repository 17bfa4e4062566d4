/*
 * store_schema.c - the typed schema (store.h) as each backend creates and
 * migrates it: migrate_steps[v] moves a database from version v to v + 1
 * (store_impl.h, store_migrate).  The three are side by side so a new
 * version is written for all of them at once.
 */
#include "collector/store_impl.h"

/* ------------------------------------------------------------ sqlite */

static const char *const sqlite_v1[] = {
    "CREATE TABLE IF NOT EXISTS audit_rows ("
    " time_begin INTEGER NOT NULL,"
    " time_end INTEGER NOT NULL,"
    " topic TEXT NOT NULL,"
    " tier TEXT NOT NULL,"
    " datacenter TEXT NOT NULL,"
    " host TEXT NOT NULL,"
    " count INTEGER NOT NULL,"
    " total_bytes INTEGER NOT NULL,"
    " no_time_count INTEGER NOT NULL,"
    " malformed_count INTEGER NOT NULL,"
    " negative_latency_count INTEGER NOT NULL,"
    " latency_sum_ms REAL NOT NULL,"
    " mean_latency REAL NOT NULL,"
    " latency_p95 REAL NOT NULL,"
    " latency_p99 REAL NOT NULL,"
    " max_latency REAL NOT NULL,"
    " sketch TEXT,"
    " updated_at INTEGER NOT NULL,"
    " PRIMARY KEY (time_begin, topic, tier, datacenter, host))",
    "CREATE INDEX IF NOT EXISTS audit_rows_topic_time"
    " ON audit_rows (topic, time_begin)",
    "CREATE TABLE IF NOT EXISTS seen_uuids ("
    " uuid TEXT NOT NULL PRIMARY KEY,"
    " seen_at INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS seen_uuids_seen_at ON seen_uuids (seen_at)",
    "CREATE TABLE IF NOT EXISTS source_offsets ("
    " topic TEXT NOT NULL,"
    " part INTEGER NOT NULL,"
    " next_offset INTEGER NOT NULL,"
    " PRIMARY KEY (topic, part))",
    "INSERT OR IGNORE INTO schema_version (version) VALUES (1)",
    NULL,
};

/* Offsets keyed by the audit cluster (existing ones get cluster '', see
 * Q_CLAIM_OFFSET); the counts that are not part of count.  SQLite cannot
 * change a primary key in place: the table is copied.  DDL is
 * transactional here, so the step needs no IF NOT EXISTS. */
static const char *const sqlite_v2[] = {
    "CREATE TABLE source_offsets_v2 ("
    " cluster TEXT NOT NULL,"
    " topic TEXT NOT NULL,"
    " part INTEGER NOT NULL,"
    " next_offset INTEGER NOT NULL,"
    " PRIMARY KEY (cluster, topic, part))",
    "INSERT INTO source_offsets_v2 (cluster, topic, part, next_offset)"
    " SELECT '', topic, part, next_offset FROM source_offsets",
    "DROP TABLE source_offsets",
    "ALTER TABLE source_offsets_v2 RENAME TO source_offsets",
    "ALTER TABLE audit_rows ADD COLUMN"
    " delivery_failed_count INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE audit_rows ADD COLUMN"
    " audit_dropped_count INTEGER NOT NULL DEFAULT 0",
    "ALTER TABLE audit_rows ADD COLUMN"
    " aborted_count INTEGER NOT NULL DEFAULT 0",
    "INSERT OR IGNORE INTO schema_version (version) VALUES (2)",
    NULL,
};

const store_schema_t store_sqlite_schema = {
    .lock = NULL, /* BEGIN IMMEDIATE already excludes other writers */
    .version_table = "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER NOT NULL PRIMARY KEY)",
    .steps = {sqlite_v1, sqlite_v2},
};

/* ------------------------------------------------------------ mysql */

static const char *const mysql_v1[] = {
    "CREATE TABLE IF NOT EXISTS audit_rows ("
    " time_begin BIGINT NOT NULL,"
    " time_end BIGINT NOT NULL,"
    " topic VARBINARY(255) NOT NULL,"
    " tier VARBINARY(255) NOT NULL,"
    " datacenter VARBINARY(255) NOT NULL,"
    " host VARBINARY(255) NOT NULL,"
    " count BIGINT NOT NULL,"
    " total_bytes BIGINT NOT NULL,"
    " no_time_count BIGINT NOT NULL,"
    " malformed_count BIGINT NOT NULL,"
    " negative_latency_count BIGINT NOT NULL,"
    " latency_sum_ms DOUBLE NOT NULL,"
    " mean_latency DOUBLE NOT NULL,"
    " latency_p95 DOUBLE NOT NULL,"
    " latency_p99 DOUBLE NOT NULL,"
    " max_latency DOUBLE NOT NULL,"
    " sketch TEXT CHARACTER SET ascii COLLATE ascii_bin NULL,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (time_begin, topic, tier, datacenter, host),"
    " INDEX audit_rows_topic_time (topic, time_begin)"
    ") ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS seen_uuids ("
    " uuid VARBINARY(64) NOT NULL PRIMARY KEY,"
    " seen_at BIGINT NOT NULL,"
    " INDEX seen_uuids_seen_at (seen_at)"
    ") ENGINE=InnoDB",
    "CREATE TABLE IF NOT EXISTS source_offsets ("
    " topic VARBINARY(255) NOT NULL,"
    " part INT NOT NULL,"
    " next_offset BIGINT NOT NULL,"
    " PRIMARY KEY (topic, part)"
    ") ENGINE=InnoDB",
    "INSERT IGNORE INTO schema_version (version) VALUES (1)",
    NULL,
};

/* Offsets keyed by the audit cluster (existing ones get cluster '', see
 * Q_CLAIM_OFFSET); the counts that are not part of count.  MySQL commits
 * each ALTER on its own: IF NOT EXISTS (MariaDB) and re-setting the same
 * primary key make every statement safe to run again. */
static const char *const mysql_v2[] = {
    "ALTER TABLE source_offsets"
    " ADD COLUMN IF NOT EXISTS cluster VARBINARY(255) NOT NULL DEFAULT ''"
    " FIRST, DROP PRIMARY KEY, ADD PRIMARY KEY (cluster, topic, part)",
    "ALTER TABLE audit_rows"
    " ADD COLUMN IF NOT EXISTS delivery_failed_count BIGINT NOT NULL"
    " DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS audit_dropped_count BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS aborted_count BIGINT NOT NULL DEFAULT 0",
    "INSERT IGNORE INTO schema_version (version) VALUES (2)",
    NULL,
};

const store_schema_t store_mysql_schema = {
    .lock = NULL, /* CREATE TABLE IF NOT EXISTS is safe to race in InnoDB */
    .version_table = "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INT NOT NULL PRIMARY KEY) ENGINE=InnoDB",
    .steps = {mysql_v1, mysql_v2},
};

/* ------------------------------------------------------------ pgsql */

static const char *const pgsql_v1[] = {
    "CREATE TABLE IF NOT EXISTS audit_rows ("
    " time_begin BIGINT NOT NULL,"
    " time_end BIGINT NOT NULL,"
    " topic TEXT COLLATE \"C\" NOT NULL,"
    " tier TEXT COLLATE \"C\" NOT NULL,"
    " datacenter TEXT COLLATE \"C\" NOT NULL,"
    " host TEXT COLLATE \"C\" NOT NULL,"
    " count BIGINT NOT NULL,"
    " total_bytes BIGINT NOT NULL,"
    " no_time_count BIGINT NOT NULL,"
    " malformed_count BIGINT NOT NULL,"
    " negative_latency_count BIGINT NOT NULL,"
    " latency_sum_ms DOUBLE PRECISION NOT NULL,"
    " mean_latency DOUBLE PRECISION NOT NULL,"
    " latency_p95 DOUBLE PRECISION NOT NULL,"
    " latency_p99 DOUBLE PRECISION NOT NULL,"
    " max_latency DOUBLE PRECISION NOT NULL,"
    " sketch TEXT,"
    " updated_at BIGINT NOT NULL,"
    " PRIMARY KEY (time_begin, topic, tier, datacenter, host))",
    "CREATE INDEX IF NOT EXISTS audit_rows_topic_time"
    " ON audit_rows (topic, time_begin)",
    "CREATE TABLE IF NOT EXISTS seen_uuids ("
    " uuid TEXT COLLATE \"C\" NOT NULL PRIMARY KEY,"
    " seen_at BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS seen_uuids_seen_at ON seen_uuids (seen_at)",
    "CREATE TABLE IF NOT EXISTS source_offsets ("
    " topic TEXT COLLATE \"C\" NOT NULL,"
    " part INTEGER NOT NULL,"
    " next_offset BIGINT NOT NULL,"
    " PRIMARY KEY (topic, part))",
    "INSERT INTO schema_version (version) VALUES (1) ON CONFLICT DO NOTHING",
    NULL,
};

/* Offsets keyed by the audit cluster (existing ones get cluster '', see
 * Q_CLAIM_OFFSET); the counts that are not part of count. */
static const char *const pgsql_v2[] = {
    "ALTER TABLE source_offsets"
    " ADD COLUMN IF NOT EXISTS cluster TEXT COLLATE \"C\" NOT NULL"
    " DEFAULT ''",
    "ALTER TABLE source_offsets DROP CONSTRAINT IF EXISTS source_offsets_pkey,"
    " ADD PRIMARY KEY (cluster, topic, part)",
    "ALTER TABLE audit_rows"
    " ADD COLUMN IF NOT EXISTS delivery_failed_count BIGINT NOT NULL"
    " DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS audit_dropped_count BIGINT NOT NULL DEFAULT 0,"
    " ADD COLUMN IF NOT EXISTS aborted_count BIGINT NOT NULL DEFAULT 0",
    "INSERT INTO schema_version (version) VALUES (2) ON CONFLICT DO NOTHING",
    NULL,
};

const store_schema_t store_pgsql_schema = {
    /* Concurrent CREATE TABLE IF NOT EXISTS can fail in PostgreSQL (a
     * unique violation in the catalog): collectors migrate one at a time. */
    .lock = "SELECT pg_advisory_xact_lock(hashtext('chaperone.schema'))",
    .version_table = "CREATE TABLE IF NOT EXISTS schema_version ("
                     " version INTEGER NOT NULL PRIMARY KEY)",
    .steps = {pgsql_v1, pgsql_v2},
};
