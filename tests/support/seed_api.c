/* seed_api.c - the query API over a seeded database (see seed_api.h). */
#include "seed_api.h"
#include "conf_daemon.h"

#include <stdio.h>
#include <stdlib.h>

int seed_tmpdb(const char *prefix, char *dir, size_t dir_size, char *url,
               size_t url_size)
{
    snprintf(dir, dir_size, "/tmp/%s-XXXXXX", prefix);
    if (!mkdtemp(dir))
        return -1;
    snprintf(url, url_size, "sqlite://%s/audit.db", dir);
    return 0;
}

api_t *seed_api(const char *url, store_row_t *rows, size_t n, char *errstr,
                size_t errstr_size)
{
    chp_conf_t *conf = NULL;
    api_t *api = NULL;
    char kv[1100], err[512];
    int rc = seed_flush(url, rows, n, err, sizeof(err));

    seed_clear(rows, n);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "seeding %s: %s", url, err);
        goto out;
    }
    if (!(conf = conf_daemon_new())) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    snprintf(kv, sizeof(kv), "db.url=%s", url);
    if (chp_conf_set_kv(conf, kv, err, sizeof(err)) != CHP_OK) {
        snprintf(errstr, errstr_size, "%s: %s", kv, err);
        goto out;
    }
    if (!(api = api_new(conf, err, sizeof(err))))
        snprintf(errstr, errstr_size, "api_new: %s", err);
out:
    chp_conf_destroy(conf);
    return api;
}
