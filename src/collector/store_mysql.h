/*
 * store_mysql.h - what the files of the MySQL/MariaDB backend share
 * (private to store_mysql*.c): the handle's struct, the statements, the session
 * and statement helpers (store_mysql.c), the transaction primitives and the
 * driver table (store_mysql_driver.c), the handle, seen, offset and the read
 * cursor (store_mysql_ops.c).
 */
#ifndef CHP_COLLECTOR_STORE_MYSQL_H
#define CHP_COLLECTOR_STORE_MYSQL_H

#include <mysql.h>
#include <string.h>

#include "collector/store_impl.h"
#include "sketch.h"

#define CONNECT_TIMEOUT_S 5
/* Longer than innodb_lock_wait_timeout (50 s): a lock wait is the server's
 * to time out, with its own error. */
#define IO_TIMEOUT_S 120
#define DEFAULT_PORT 3306
#define TEXT_SLOT    (CHP_SKETCH_ENCODE_MAX + 1)

/* uuids per round trip for store_seen(): a collector asks about a whole
 * batch, and each round trip costs a server wake-up. */
#define UUID_CHUNK 256

#define P8   "?,?,?,?,?,?,?,?"
#define P64  P8 "," P8 "," P8 "," P8 "," P8 "," P8 "," P8 "," P8
#define P256 P64 "," P64 "," P64 "," P64

#define N_ROW_SHAPES   8
#define N_UUID_SHAPES  6
#define ROW_SHAPE_MAX  128
#define UUID_SHAPE_MAX 1024
extern const size_t store_mysql_row_shapes[N_ROW_SHAPES];
extern const size_t store_mysql_uuid_shapes[N_UUID_SHAPES];

enum {
    Q_GET_ROWS, /* STORE_CHUNK keys; a short chunk repeats its last key */
    Q_INS_ROWS, /* + shape index: plain INSERT of new rows */
    Q_UPS_ROWS = Q_INS_ROWS + N_ROW_SHAPES,  /* + shape: rewrite stored rows */
    Q_INS_UUIDS = Q_UPS_ROWS + N_ROW_SHAPES, /* + uuid shape index */
    Q_SEEN = Q_INS_UUIDS + N_UUID_SHAPES,
    Q_UPD_OFFSET,
    Q_INS_OFFSET,
    Q_CLAIM_OFFSET,
    Q_GET_OFFSET,
    Q_DEL_ROWS,
    Q_DEL_UUIDS,
    Q_QUERY_TOPIC,
    Q_QUERY_ALL,
    Q_TOPICS,
    Q__COUNT
};

/* Where a result row of STORE_ROW_COLUMNS lands. */
typedef struct row_buf {
    int64_t i[SC__COUNT];
    double d[SC__COUNT];
    char name[SC__COUNT][CHP_NAME_MAX];
    unsigned long len[SC__COUNT];
    my_bool is_null[SC__COUNT];
    my_bool error[SC__COUNT];
    char *sketch; /* TEXT_SLOT bytes */
    MYSQL_BIND bind[SC__COUNT];
} row_buf_t;

/* Parameters of the largest multi-row statement. */
#define MAX3(a, b, c)                                                          \
    ((a) > (b) ? ((a) > (c) ? (a) : (c)) : ((b) > (c) ? (b) : (c)))
#define PARAMS_MAX                                                             \
    MAX3(STORE_CHUNK * 5, ROW_SHAPE_MAX * SP__COUNT, UUID_SHAPE_MAX * 2)

typedef struct my_store {
    store_t base;
    MYSQL *db; /* NULL while disconnected */
    MYSQL_STMT *q[Q__COUNT];
    char *sql[Q__COUNT]; /* built statements (NULL: fixed_sql) */
    store_url_t url;
    row_buf_t rb;
    MYSQL_BIND pb[PARAMS_MAX]; /* parameters of one execution */
    unsigned long plen[PARAMS_MAX];
    int64_t piv[PARAMS_MAX];
    /* The read cursor (store_my_read_*): one of q, NULL if none. */
    MYSQL_STMT *cur;
    int cur_which;
    store_read_t cur_what;
    MYSQL_BIND cur_bind; /* topics: the name column */
    char cur_name[CHP_NAME_MAX];
    unsigned long cur_len;
} my_store_t;

static inline my_store_t *my(store_t *s)
{
    return (my_store_t *)s;
}

static inline void b_i64(MYSQL_BIND *b, const int64_t *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONGLONG;
    b->buffer = (void *)v;
}

static inline void b_i32(MYSQL_BIND *b, const int32_t *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_LONG;
    b->buffer = (void *)v;
}

static inline void b_dbl(MYSQL_BIND *b, const double *v)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_DOUBLE;
    b->buffer = (void *)v;
}

static inline void b_str(MYSQL_BIND *b, const char *v, size_t n,
                         unsigned long *len)
{
    memset(b, 0, sizeof(*b));
    *len = (unsigned long)n;
    b->buffer_type = MYSQL_TYPE_STRING;
    b->buffer = (void *)v;
    b->buffer_length = *len;
    b->length = len;
}

static inline void b_null(MYSQL_BIND *b)
{
    memset(b, 0, sizeof(*b));
    b->buffer_type = MYSQL_TYPE_NULL;
}

void store_my_disconnect(my_store_t *s);
bool store_my_connection_error(unsigned int e);
chp_err_t store_my_fail_db(my_store_t *s, const char *what, char *errstr,
                           size_t errstr_size);
chp_err_t store_my_fail_stmt(my_store_t *s, MYSQL_STMT *st, const char *what,
                             char *errstr, size_t errstr_size);
chp_err_t store_my_ensure(my_store_t *s, char *errstr, size_t errstr_size);
chp_err_t store_my_stmt(my_store_t *s, int which, MYSQL_STMT **out,
                        char *errstr, size_t errstr_size);
chp_err_t store_my_execute(my_store_t *s, int which, MYSQL_BIND *params,
                           const char *what, MYSQL_STMT **out, char *errstr,
                           size_t errstr_size);
chp_err_t store_my_fetch(my_store_t *s, MYSQL_STMT *st, bool *got, char *errstr,
                         size_t errstr_size);
bool store_my_rb_has_key(const row_buf_t *rb, const store_row_t *k);
chp_err_t store_my_rb_row(const row_buf_t *rb, store_row_t *r, char *errstr,
                          size_t errstr_size);
chp_err_t store_my_buffer_rows(my_store_t *s, MYSQL_STMT *st, char *errstr,
                               size_t errstr_size);

/* The driver entries of store_mysql_ops.c (store_impl.h); the table is
 * store_mysql_driver, in store_mysql_driver.c. */
chp_err_t store_my_open(const char *url, store_t **out, char *errstr,
                        size_t errstr_size);
void store_my_close(store_t *s);
chp_err_t store_my_seen(store_t *s, const char *const *uuids, size_t n,
                        bool *seen, char *errstr, size_t errstr_size);
chp_err_t store_my_offset(store_t *s, const char *cluster, const char *topic,
                          int32_t partition, int64_t *next_offset, char *errstr,
                          size_t errstr_size);
chp_err_t store_my_read_open(store_t *s, store_read_t what, const char *topic,
                             int64_t from_s, int64_t to_s, char *errstr,
                             size_t errstr_size);
chp_err_t store_my_read_next(store_t *s, store_row_t *row, bool *got,
                             char *errstr, size_t errstr_size);
void store_my_read_close(store_t *s);

#endif
