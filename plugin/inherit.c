/*
 * inherit.c - the plugin's producer connects like the client it audits.
 *
 * When the audit topic lives on the client's own cluster, the plugin's
 * producer needs the client's security settings too; users of other
 * interceptors must repeat them under a prefix and lose the audit when they
 * forget.  Here every security property the client changed from its default
 * is copied as kafka.<name>, unless chaperone.kafka.<name> was set
 * explicitly.  Values are never logged: only names.
 */
#include <stdio.h>
#include <string.h>

#include "inherit.h"
#include "log.h"

/* Families copied: connection security and name resolution. */
static bool inherited(const char *name)
{
    static const char *const exact[] = {
        "security.protocol", "client.dns.lookup",
        "enable.ssl.certificate.verification",
        "enable.sasl.oauthbearer.unsecure.jwt", NULL};

    /* Names with '_' (ssl_key, ssl.certificate.verify_cb, ...) are set
     * through dedicated API calls with pointers, not as strings. */
    if (strchr(name, '_'))
        return false;
    for (int i = 0; exact[i]; i++)
        if (!strcmp(name, exact[i]))
            return true;
    return !strncmp(name, "ssl.", 4) || !strncmp(name, "sasl.", 5);
}

static const char *default_of(const char **dflt, size_t n, const char *name)
{
    for (size_t i = 0; i + 1 < n; i += 2)
        if (!strcmp(dflt[i], name))
            return dflt[i + 1];
    return NULL;
}

chp_err_t chp_plugin_inherit(const rd_kafka_conf_t *client, chp_conf_t *dst,
                             char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *fresh = rd_kafka_conf_new();
    const char **cur = NULL, **dflt = NULL;
    size_t ncur = 0, ndflt = 0;
    chp_err_t err = CHP_OK;
    char key[512], sub[512];
    int copied = 0;

    if (!fresh)
        return CHP_ERR_NOMEM;
    /* rd_kafka_conf_dump() only reads; its parameter is not const. */
    cur = rd_kafka_conf_dump((rd_kafka_conf_t *)client, &ncur);
    dflt = rd_kafka_conf_dump(fresh, &ndflt);
    for (size_t i = 0; i + 1 < ncur; i += 2) {
        const char *name = cur[i], *val = cur[i + 1], *d;

        if (!val || !inherited(name))
            continue;
        if ((d = default_of(dflt, ndflt, name)) && !strcmp(d, val))
            continue; /* left at its default: nothing to inherit */
        snprintf(key, sizeof(key), "kafka.%s", name);
        if (chp_conf_is_set(dst, key))
            continue; /* chaperone.kafka.<name> overrides */
        if (chp_conf_set(dst, key, val, sub, sizeof(sub)) != CHP_OK) {
            /* The message may quote the value: name the key only. */
            snprintf(errstr, errstr_size,
                     "cannot take over the client's %s for the audit "
                     "producer",
                     name);
            err = CHP_ERR_INVALID_ARG;
            goto out;
        }
        chp_log_debug("chaperone interceptor: audit producer inherits %s",
                      name);
        copied++;
    }
    if (copied)
        chp_log_info("chaperone interceptor: audit producer uses the client's "
                     "%d security setting(s)",
                     copied);
out:
    if (cur)
        rd_kafka_conf_dump_free(cur, ncur);
    if (dflt)
        rd_kafka_conf_dump_free(dflt, ndflt);
    rd_kafka_conf_destroy(fresh);
    return err;
}
