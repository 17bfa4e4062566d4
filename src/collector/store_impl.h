/*
 * store_impl.h - what the three store backends share (private to
 * src/collector/ and its tests): the common part of a store handle, and the
 * driver table through which store.c runs every call of store.h (one flush:
 * read the stored rows, merge, write) the same way for every database.
 *
 * A backend's handle embeds struct store as its first member, so a store_t *
 * is a pointer to the backend's own struct.
 */
#ifndef CHP_COLLECTOR_STORE_IMPL_H
#define CHP_COLLECTOR_STORE_IMPL_H

#include "collector/store.h"
#include "collector/store_url.h"

/* ------------------------------------------------------------ drivers */

/* Rows are read and written in chunks of at most this many, so a backend
 * can batch round trips and a flush of any size needs bounded memory. */
#define STORE_CHUNK 128

/* A merged row as it is written, with the derived columns. */
typedef struct store_put {
    const store_row_t *row; /* merged counters; row->sketch may be NULL */
    double mean, p95, p99, max;
    const char *sketch_text; /* chp_sketch_encode text, NULL if no sketch */
    size_t sketch_len;
    bool exists; /* the row was read: UPDATE it; else INSERT it */
} store_put_t;

/* The columns every backend reads a row with, in enum store_col order. */
#define STORE_ROW_COLUMNS                                                      \
    "time_begin, time_end, topic, tier, datacenter, host, count, "             \
    "total_bytes, no_time_count, malformed_count, negative_latency_count, "    \
    "latency_sum_ms, latency_p95, latency_p99, max_latency, sketch, "          \
    "delivery_failed_count, audit_dropped_count, aborted_count"

enum store_col {
    SC_TIME_BEGIN,
    SC_TIME_END,
    SC_TOPIC,
    SC_TIER,
    SC_DATACENTER,
    SC_HOST,
    SC_COUNT,
    SC_TOTAL_BYTES,
    SC_NO_TIME,
    SC_MALFORMED,
    SC_NEGATIVE,
    SC_LATENCY_SUM,
    SC_P95,
    SC_P99,
    SC_MAX,
    SC_SKETCH,
    SC_DELIVERY_FAILED,
    SC_AUDIT_DROPPED,
    SC_ABORTED,
    SC__COUNT
};

/* The columns a put writes, in enum store_param order: the parameters of
 * INSERT (and, numbered, of UPDATE) are bound in this order. */
#define STORE_PUT_COLUMNS                                                      \
    "time_begin, time_end, topic, tier, datacenter, host, count, "             \
    "total_bytes, no_time_count, malformed_count, negative_latency_count, "    \
    "latency_sum_ms, mean_latency, latency_p95, latency_p99, max_latency, "    \
    "sketch, updated_at, delivery_failed_count, audit_dropped_count, "         \
    "aborted_count"

enum store_param {
    SP_TIME_BEGIN,
    SP_TIME_END,
    SP_TOPIC,
    SP_TIER,
    SP_DATACENTER,
    SP_HOST,
    SP_COUNT,
    SP_TOTAL_BYTES,
    SP_NO_TIME,
    SP_MALFORMED,
    SP_NEGATIVE,
    SP_LATENCY_SUM,
    SP_MEAN,
    SP_P95,
    SP_P99,
    SP_MAX,
    SP_SKETCH,
    SP_UPDATED_AT,
    SP_DELIVERY_FAILED,
    SP_AUDIT_DROPPED,
    SP_ABORTED,
    SP__COUNT
};

/* What a retention pass deletes. */
typedef enum store_old { STORE_OLD_ROWS, STORE_OLD_UUIDS } store_old_t;

/* What a read cursor (read_open) returns, row by row. */
typedef enum store_read {
    STORE_READ_ROWS,  /* STORE_ROW_COLUMNS of a topic (or all) and time range */
    STORE_READ_TOPICS /* distinct topics, ordered */
} store_read_t;

typedef struct store_schema store_schema_t;

/* One backend: its handle's life cycle, and the primitives store.c composes
 * into every call of store.h (one flush or retention is one transaction of
 * them; a query is a cursor over them).  Each primitive fills errstr and
 * returns CHP_ERR_DB on a database error; inside a transaction the caller
 * then calls rollback. */
typedef struct store_driver {
    const char *scheme; /* "sqlite", "mysql", "postgresql" */
    store_kind_t kind;
    const store_schema_t *schema;
    /* Parses url (errstr naming db.url) and connects; the handle is
     * initialised with store_base_init. */
    chp_err_t (*open)(const char *url, store_t **out, char *errstr,
                      size_t errstr_size);
    void (*close)(store_t *s);
    /* store_seen and store_offset, whole (one or two statements each). */
    chp_err_t (*seen)(store_t *s, const char *const *uuids, size_t n,
                      bool *seen, char *errstr, size_t errstr_size);
    chp_err_t (*offset)(store_t *s, const char *cluster, const char *topic,
                        int32_t partition, int64_t *next_offset, char *errstr,
                        size_t errstr_size);
    /* A read cursor: read_open runs the query (topic, from_s, to_s are for
     * STORE_READ_ROWS; topic NULL: all topics), read_next fills the next
     * row (for STORE_READ_TOPICS only row->topic) or sets *got false at the
     * end, decoding the sketch column into row->sketch (preset by the
     * caller; a NULL column sets it to NULL); read_close ends the cursor and
     * is called after every read_open, whatever it returned.  One cursor at
     * a time per handle. */
    chp_err_t (*read_open)(store_t *s, store_read_t what, const char *topic,
                           int64_t from_s, int64_t to_s, char *errstr,
                           size_t errstr_size);
    chp_err_t (*read_next)(store_t *s, store_row_t *row, bool *got,
                           char *errstr, size_t errstr_size);
    void (*read_close)(store_t *s);
    chp_err_t (*begin)(store_t *s, char *errstr, size_t errstr_size);
    chp_err_t (*commit)(store_t *s, char *errstr, size_t errstr_size);
    /* Best effort; must leave the handle usable (or marked for reconnect). */
    void (*rollback)(store_t *s);
    /* Inserts uuids[0..n) into seen_uuids; a uuid already there fails with
     * CHP_ERR_STATE (errstr naming it where the server says which). */
    chp_err_t (*put_uuids)(store_t *s, const char *const *uuids, size_t n,
                           int64_t now_s, char *errstr, size_t errstr_size);
    /* Reads the stored rows with the keys of keys[0..n), n <= STORE_CHUNK,
     * locking them for the transaction.  Sets found[i]; for a found row,
     * fills out[i]'s counters and p95/p99/max and, when its sketch column is
     * not NULL, decodes it (store_sketch_decode) into out[i].sketch, which
     * the caller preset to a spare sketch; a NULL column sets it to NULL.
     * The keys of keys[] are distinct. */
    chp_err_t (*get_rows)(store_t *s, const store_row_t *keys, size_t n,
                          store_row_t *out, bool *found, char *errstr,
                          size_t errstr_size);
    /* Inserts or updates puts[0..n), n <= STORE_CHUNK. */
    chp_err_t (*put_rows)(store_t *s, const store_put_t *puts, size_t n,
                          int64_t now_s, char *errstr, size_t errstr_size);
    /* Moves each offset of cluster from o[i].prev_offset (-1: no row) to
     * o[i].next_offset: UPDATE ... WHERE next_offset = prev, or INSERT
     * when prev is -1.  A statement that changes no row (the stored offset
     * is another one) fails with STORE_ERR_STALE. */
    chp_err_t (*put_offsets)(store_t *s, const char *cluster,
                             const store_offset_t *o, size_t n, char *errstr,
                             size_t errstr_size);
    /* For retention, inside its transaction: deletes the audit rows with
     * time_begin < before_s (STORE_OLD_ROWS) or the uuids seen before
     * before_s (STORE_OLD_UUIDS). */
    chp_err_t (*delete_before)(store_t *s, store_old_t what, int64_t before_s,
                               char *errstr, size_t errstr_size);
    /* For migrations: runs one parameterless statement (result rows, if
     * any, are discarded), and one returning a single integer (*is_null
     * when NULL or no row). */
    chp_err_t (*exec)(store_t *s, const char *sql, char *errstr,
                      size_t errstr_size);
    chp_err_t (*scalar)(store_t *s, const char *sql, int64_t *v, bool *is_null,
                        char *errstr, size_t errstr_size);
} store_driver_t;

/* The three backends (store_sqlite.c, store_mysql_driver.c,
 * store_pgsql_driver.c). */
extern const store_driver_t store_sqlite_driver;
extern const store_driver_t store_mysql_driver;
extern const store_driver_t store_pgsql_driver;

/* A backend's schema: migrate_steps[v] holds the statements (NULL-ended)
 * that move a database from version v to v + 1, the last of them recording
 * v + 1 in schema_version.  Every step is idempotent (IF NOT EXISTS), since
 * MySQL commits DDL as it goes and a step may be cut short. */
struct store_schema {
    const char *lock; /* run first in the transaction, or NULL */
    const char *version_table;
    const char *const *steps[STORE_SCHEMA_VERSION];
};

/* The schemas of the three backends (store_schema.c). */
extern const store_schema_t store_sqlite_schema;
extern const store_schema_t store_mysql_schema;
extern const store_schema_t store_pgsql_schema;

/* The part of every handle that store.c owns. */
struct store {
    const store_driver_t *drv;
    /* Flush workspace, allocated on first use and kept: one flush never
     * allocates per row. */
    store_row_t *ws_rows;   /* STORE_CHUNK stored rows */
    chp_sketch_t **ws_sk;   /* STORE_CHUNK spare sketches */
    store_put_t *ws_puts;   /* STORE_CHUNK */
    bool *ws_found;         /* STORE_CHUNK */
    char *ws_text;          /* STORE_CHUNK encodings, CHP_SKETCH_ENCODE_MAX+1
                               bytes each */
    chp_sketch_t *query_sk; /* for decoding rows read by store_query */
};

/* Initialises the common part of a backend handle. */
void store_base_init(store_t *s, const store_driver_t *drv);
/* Frees what store_base_init and store_flush allocated. */
void store_base_fini(store_t *s);

/* put_offsets found the stored offset of o is not o->prev_offset: fills
 * errstr and returns STORE_ERR_STALE. */
chp_err_t store_stale(const char *cluster, const store_offset_t *o,
                      char *errstr, size_t errstr_size);

/* Decodes a sketch column of len bytes into sk; errstr names the row. */
chp_err_t store_sketch_decode(chp_sketch_t *sk, const char *text, size_t len,
                              const store_row_t *key, char *errstr,
                              size_t errstr_size);

/* Epoch seconds now, for updated_at and seen_at. */
int64_t store_now_s(void);

/* Copies the topic/tier/datacenter/host of src (len bytes, not
 * NUL-terminated) into a name field, truncating to CHP_NAME_MAX - 1. */
void store_name_copy(char dst[CHP_NAME_MAX], const char *src, size_t len);

#endif
