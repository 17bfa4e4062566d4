/* seed_api.h - the query API (src/report/api.h) over a database seeded with
 * report_seed rows: the set-up of the API, dashboard and bad-request
 * tests.  No cmocka: errors come back with errstr filled. */
#ifndef CHP_TESTS_SEED_API_H
#define CHP_TESTS_SEED_API_H

#include <stddef.h>

#include "report/api.h"
#include "report_seed.h"

/* A new directory /tmp/<prefix>-XXXXXX into dir, and the URL of an SQLite
 * database in it (sqlite://<dir>/audit.db) into url.  0, or -1. */
int seed_tmpdb(const char *prefix, char *dir, size_t dir_size, char *url,
               size_t url_size);

/* Writes rows[0..n) to the database at url in one flush and clears them
 * (seed_flush, seed_clear), then opens the query API on it (db.url=url).
 * The API, or NULL with errstr filled. */
api_t *seed_api(const char *url, store_row_t *rows, size_t n, char *errstr,
                size_t errstr_size);

#endif
