/* Fuzz target: the HTTP request handling of the daemons without a socket -
 * authentication (src/http_auth.c through http_server_serve), the
 * controller's REST API (src/controller/rest.c) over an in-memory cluster,
 * and the collector's query API and dashboard (src/report/api.c) over a
 * seeded SQLite database.
 *
 * Input: "METHOD\nPATH[?QUERY]\nAUTHORIZATION\nBODY" (missing parts are
 * empty).  Every answer must carry a status of 100..599 and, for a JSON
 * error, a JSON body with "error"; a request without the right token must
 * never reach a handler (no registry write). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "controller/controller.h"
#include "http.h"
#include "log.h"
#include "report/api.h"
#include "report_seed.h"
#include "conf_daemon.h"

#define TOKEN "fuzz-token-0123456789"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static api_t *api;
static http_server_t *api_srv;
static chp_conf_t *conf;
static int writes;
static http_auth_t *check_auth; /* the same tokens, asked directly */

/* ------------------------------------------------- an in-memory cluster */

static chp_err_t f_list(void *o, topic_set_t *out, char *e, size_t n)
{
    static const char *names[] = {"clicks", "orders", "black"};
    (void)o, (void)e, (void)n;
    memset(out, 0, sizeof(*out));
    out->names = calloc(4, sizeof(*out->names));
    for (size_t i = 0; out->names && i < 3; i++)
        out->names[out->n++] = strdup(names[i]);
    return CHP_OK;
}

static int f_partitions(void *o, const char *topic, char *e, size_t n)
{
    (void)o, (void)e, (void)n;
    return strcmp(topic, "clicks") && strcmp(topic, "orders") ? 0 : 3;
}

static chp_err_t f_write(void *o, const char *t, reg_state_t s, char *e,
                         size_t n)
{
    (void)o, (void)t, (void)s, (void)e, (void)n;
    writes++;
    return CHP_OK;
}

static chp_err_t f_group(void *o, const char *t, ctl_group_t *out, char *e,
                         size_t n)
{
    (void)o, (void)t;
    memset(out, 0, sizeof(*out));
    snprintf(e, n, "no group in the fuzzer");
    return CHP_ERR_KAFKA;
}

/* -------------------------------------------------------------- set-up */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static char dir[64], url[160];
    store_row_t rows[4];
    char err[512];
    size_t n = 0;

    (void)argc, (void)argv;
    chp_log_set_level(CHP_LOG_ERROR);
    snprintf(dir, sizeof(dir), "/tmp/chp-fuzz-http-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    snprintf(url, sizeof(url), "sqlite://%s/audit.db", dir);
    seed_row(&rows[n++], "clicks", 1478311200, "producer", "dc1", 1000, 100);
    seed_row(&rows[n++], "clicks", 1478311200, "regional", "dc1", 990, 300);
    seed_row(&rows[n++], "<script>x</script>", 1478311200, "<b>", "\"dc\"", 5,
             0);
    seed_row(&rows[n++], "clicks", 1478311800, "producer", "dc1", 1000, 100);
    if (seed_flush(url, rows, n, err, sizeof(err)) != 0) {
        fprintf(stderr, "seeding %s: %s\n", url, err);
        abort();
    }
    seed_clear(rows, n);
    conf = conf_daemon_new();
    snprintf(err, sizeof(err), "db.url=%s", url);
    if (chp_conf_set_kv(conf, err, err, sizeof(err)) != CHP_OK ||
        chp_conf_set_kv(conf, "http.auth.token=" TOKEN, err, sizeof(err)) !=
            CHP_OK ||
        !(api = api_new(conf, err, sizeof(err))))
        abort();
    check_auth = http_auth_new(conf, err, sizeof(err));
    api_srv = http_server_new(4096, api_handle, api, NULL);
    http_server_set_auth(api_srv, http_auth_new(conf, err, sizeof(err)));
    return 0;
}

/* ------------------------------------------------------------- checks */

static void check(const char *what, http_resp_t *r)
{
    if (r->status < 100 || r->status > 599) {
        fprintf(stderr, "%s: status %d\n", what, r->status);
        abort();
    }
    if (r->status >= 400 && r->content_type &&
        !strcmp(r->content_type, "application/json")) {
        json_error_t e;
        json_t *doc = json_loadb(r->body, r->body_len, 0, &e);
        if (!doc || !json_is_string(json_object_get(doc, "error"))) {
            fprintf(stderr, "%s: %d without a JSON error: %s\n", what,
                    r->status, r->body ? r->body : "(null)");
            abort();
        }
        json_decref(doc);
    }
    free(r->body);
    memset(r, 0, sizeof(*r));
}

/* Splits at '\n' into a NUL-terminated copy; *rest after it. */
static char *take_line(const char **p, const char *end)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    const char *e = nl ? nl : end;
    char *s = malloc((size_t)(e - *p) + 1);

    if (!s)
        abort();
    memcpy(s, *p, (size_t)(e - *p));
    s[e - *p] = '\0';
    *p = nl ? nl + 1 : end;
    return s;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* In-place %XX and '+' decoding, as libmicrohttpd hands arguments over. */
static void url_decode(char *s)
{
    char *o = s;

    for (; *s; s++) {
        if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
            *o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
            s += 2;
        } else {
            *o++ = *s == '+' ? ' ' : *s;
        }
    }
    *o = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data, *end = p + size;
    char *method = take_line(&p, end), *target = take_line(&p, end);
    char *authz = take_line(&p, end), *body = NULL, *query, err[256];
    api_param_t params[API_MAX_PARAMS + 2];
    size_t n_params = 0, body_len = (size_t)(end - p);
    ctl_cluster_t cl = {NULL, f_list, f_partitions, f_write, f_group};
    metrics_t *m = metrics_new();
    ctl_t *ctl = ctl_new(conf, &cl, m, err, sizeof(err));
    http_server_t *ctl_srv;
    http_resp_t r = {0};
    http_req_t req;
    bool authorized;

    if (!ctl || !m)
        abort();
    ctl_set_registry(ctl, registry_new());
    ctl_srv = http_server_new(65536, ctl_rest_handle, ctl, m);
    http_server_set_auth(ctl_srv, http_auth_new(conf, err, sizeof(err)));
    /* An exact-size body, so ASan sees any read past it. */
    if (body_len && !(body = malloc(body_len)))
        abort();
    if (body_len)
        memcpy(body, p, body_len);
    if ((query = strchr(target, '?')))
        *query++ = '\0';
    for (char *q = query, *amp; q && *q && n_params < API_MAX_PARAMS + 2;
         q = amp) {
        char *eq;
        if ((amp = strchr(q, '&')))
            *amp++ = '\0';
        if ((eq = strchr(q, '=')))
            *eq++ = '\0';
        url_decode(q);
        if (eq)
            url_decode(eq);
        params[n_params].name = q;
        params[n_params++].value = eq; /* NULL: "?from" without '=' */
    }
    url_decode(target);
    req = (http_req_t){
        .method = method, .path = target, .body = body, .body_len = body_len};
    authorized =
        http_auth_allows(check_auth, method, target, *authz ? authz : NULL);

    writes = 0;
    http_server_serve(ctl_srv, &req, *authz ? authz : NULL, &r);
    if (!authorized && (writes || r.status != 401)) {
        fprintf(stderr, "unauthenticated request reached the REST API\n");
        abort();
    }
    check("controller", &r);
    http_server_serve(api_srv, &req, *authz ? authz : NULL, &r);
    check("api", &r);
    api_dispatch(api, method, target, params, n_params, &r);
    if (r.status != 0) /* 0: not the API's path, the server's defaults */
        check("api_dispatch", &r);

    http_server_stop(ctl_srv);
    ctl_destroy(ctl);
    metrics_destroy(m);
    free(method);
    free(target);
    free(authz);
    free(body);
    return 0;
}
