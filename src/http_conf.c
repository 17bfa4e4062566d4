/* http_conf.c - see http.h: the http.* keys, read the same way by every
 * daemon. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "log.h"
#include "conf_daemon_keys.h"

http_server_t *http_server_start_conf(const chp_conf_t *conf, const char *what,
                                      int default_port, size_t max_body,
                                      http_handler_t *handler, void *opaque,
                                      metrics_t *metrics, char *errstr,
                                      size_t errstr_size)
{
    const char *address = chp_conf_get_str(conf, CHP_KEY_HTTP_ADDRESS);
    const char *cert = chp_conf_get_str(conf, CHP_KEY_HTTP_TLS_CERT_FILE);
    const char *key = chp_conf_get_str(conf, CHP_KEY_HTTP_TLS_KEY_FILE);
    int port = (int)chp_conf_get_int(conf, CHP_KEY_HTTP_PORT);
    http_server_t *s = NULL;
    http_auth_t *auth;
    char sub[512];

    if (!(auth = http_auth_new(conf, errstr, errstr_size)))
        return NULL;
    if (!(s = http_server_new(max_body, handler, opaque, metrics))) {
        http_auth_destroy(auth);
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    http_server_set_auth(s, auth);
    if ((*cert != '\0') != (*key != '\0')) {
        snprintf(errstr, errstr_size,
                 "\"http.tls.cert.file\" and \"http.tls.key.file\" go "
                 "together: set both for HTTPS, or neither");
        goto fail;
    }
    if (*cert &&
        http_server_set_tls(s, cert, key, sub, sizeof(sub)) != CHP_OK) {
        snprintf(errstr, errstr_size,
                 "\"http.tls.cert.file\"/\"http.tls.key.file\": %s", sub);
        goto fail;
    }
    if (http_server_listen(s, address, port ? port : default_port, errstr,
                           errstr_size) != CHP_OK)
        goto fail;
    chp_log_info("%s: HTTP%s on %s://%s:%d/ (%s)", what, *cert ? "S" : "",
                 *cert ? "https" : "http", address, http_server_port(s),
                 http_auth_required(auth) ? "bearer-token authentication"
                                          : "no authentication");
    /* A token sent in clear text beyond this host can be sniffed. */
    if (!*cert && http_auth_required(auth) && !http_auth_is_loopback(address))
        chp_log_warn("%s: bearer tokens travel unencrypted on %s: set "
                     "\"http.tls.cert.file\" and \"http.tls.key.file\"",
                     what, address);
    return s;
fail:
    http_server_stop(s);
    return NULL;
}

chp_err_t http_conf_check(const chp_conf_t *conf, char *errstr,
                          size_t errstr_size)
{
    const char *cert = chp_conf_get_str(conf, CHP_KEY_HTTP_TLS_CERT_FILE);
    const char *key = chp_conf_get_str(conf, CHP_KEY_HTTP_TLS_KEY_FILE);
    http_auth_t *auth = http_auth_new(conf, errstr, errstr_size);
    char sub[512];
    size_t len;
    char *buf;

    if (!auth)
        return CHP_ERR_INVALID_ARG;
    http_auth_destroy(auth);
    if ((*cert != '\0') != (*key != '\0')) {
        snprintf(errstr, errstr_size,
                 "\"http.tls.cert.file\" and \"http.tls.key.file\" go "
                 "together: set both for HTTPS, or neither");
        return CHP_ERR_INVALID_ARG;
    }
    for (int i = 0; *cert && i < 2; i++) {
        const char *path = i ? key : cert;
        if (!(buf = http_read_file(path, &len, sub, sizeof(sub)))) {
            snprintf(errstr, errstr_size, "\"%s\": %s",
                     i ? CHP_KEY_HTTP_TLS_KEY_FILE : CHP_KEY_HTTP_TLS_CERT_FILE,
                     sub);
            return CHP_ERR_IO;
        }
        memset(buf, 0, len);
        free(buf);
    }
    return CHP_OK;
}
