/* core.c - the controller's state: the registry copy, which topics may be
 * audited or auto-detected, durable changes and the metrics. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "errstr.h"
#include "log.h"
#include "conf_daemon_keys.h"

/* Statuses counted by name; anything else is "other" (the last slot). */
static const int counted_status[CTL_N_STATUS - 1] = {200, 201, 400, 404, 405,
                                                     409, 413, 500, 503};

void ctl_group_clear(ctl_group_t *g)
{
    for (size_t i = 0; i < g->n_members; i++) {
        free(g->members[i].member_id);
        free(g->members[i].client_id);
        free(g->members[i].host);
        free(g->members[i].partitions);
    }
    free(g->members);
    free(g->state);
    memset(g, 0, sizeof(*g));
}

static int compile(regex_t *re, bool *has, const char *key,
                   const chp_conf_t *conf, char *errstr, size_t errstr_size)
{
    const char *s = chp_conf_get_str(conf, key);
    int rc;

    if (!s || !*s)
        return 0;
    if ((rc = regcomp(re, s, REG_EXTENDED | REG_NOSUB)) != 0) {
        char msg[256];
        regerror(rc, re, msg, sizeof(msg));
        snprintf(errstr, errstr_size, "\"%s\": %s", key, msg);
        return -1;
    }
    *has = true;
    return 0;
}

static void add_metrics(ctl_t *c)
{
    metrics_t *m = c->metrics;
    char labels[32];

    c->m_audited = metrics_add(m, "chaperone_controller_topics",
                               "Topics in the registry, by state.",
                               METRIC_GAUGE, "state=\"audited\"");
    c->m_blacklisted = metrics_add(m, "chaperone_controller_topics",
                                   "Topics in the registry, by state.",
                                   METRIC_GAUGE, "state=\"blacklisted\"");
    for (int i = 0; i < CTL_N_STATUS; i++) {
        if (i < CTL_N_STATUS - 1)
            snprintf(labels, sizeof(labels), "status=\"%d\"",
                     counted_status[i]);
        else
            snprintf(labels, sizeof(labels), "status=\"other\"");
        c->m_requests[i] = metrics_add(
            m, "chaperone_controller_http_requests_total",
            "REST requests answered, by HTTP status (413s are answered by "
            "the HTTP layer and not counted).",
            METRIC_COUNTER, labels);
    }
    c->m_writes = metrics_add(m, "chaperone_controller_registry_writes_total",
                              "Registry records written and acknowledged.",
                              METRIC_COUNTER, NULL);
    c->m_write_errors = metrics_add(
        m, "chaperone_controller_registry_write_errors_total",
        "Registry writes Kafka did not acknowledge.", METRIC_COUNTER, NULL);
    c->m_detect_runs =
        metrics_add(m, "chaperone_controller_detection_runs_total",
                    "Auto-detection passes completed.", METRIC_COUNTER, NULL);
    c->m_detect_errors =
        metrics_add(m, "chaperone_controller_detection_errors_total",
                    "Auto-detection passes that failed.", METRIC_COUNTER, NULL);
    c->m_auto_added = metrics_add(
        m, "chaperone_controller_topics_auto_added_total",
        "Topics auto-detection started auditing.", METRIC_COUNTER, NULL);
}

ctl_t *ctl_new(const chp_conf_t *conf, const ctl_cluster_t *cluster,
               metrics_t *metrics, char *errstr, size_t errstr_size)
{
    ctl_t *c = calloc(1, sizeof(*c));

    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->lock, NULL);
    c->cluster = *cluster;
    c->metrics = metrics;
    c->reg = registry_new();
    c->audit_topic = strdup(chp_conf_get_str(conf, CHP_KEY_AUDIT_TOPIC));
    c->registry_topic = strdup(chp_conf_get_str(conf, CHP_KEY_WORKER_REGISTRY));
    c->group_id = strdup(chp_conf_get_str(conf, CHP_KEY_WORKER_GROUP_ID));
    if (!c->reg || !c->audit_topic || !c->registry_topic || !c->group_id) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    if (compile(&c->exclude, &c->has_exclude, CHP_KEY_CONTROLLER_EXCLUDE_REGEX,
                conf, errstr, errstr_size) != 0 ||
        compile(&c->include, &c->has_include, CHP_KEY_CONTROLLER_INCLUDE_REGEX,
                conf, errstr, errstr_size) != 0)
        goto fail;
    add_metrics(c);
    return c;

fail:
    ctl_destroy(c);
    return NULL;
}

void ctl_destroy(ctl_t *c)
{
    if (!c)
        return;
    if (c->has_exclude)
        regfree(&c->exclude);
    if (c->has_include)
        regfree(&c->include);
    registry_destroy(c->reg);
    free(c->audit_topic);
    free(c->registry_topic);
    free(c->group_id);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void count_one(const char *topic, void *opaque)
{
    (void)topic;
    (*(size_t *)opaque)++;
}

/* Caller holds the lock (or is the only thread). */
static void update_gauges(ctl_t *c)
{
    size_t audited = 0, blacklisted = 0;

    registry_foreach(c->reg, REG_AUDITED, count_one, &audited);
    registry_foreach(c->reg, REG_BLACKLISTED, count_one, &blacklisted);
    metric_set(c->m_audited, (double)audited);
    metric_set(c->m_blacklisted, (double)blacklisted);
}

void ctl_set_registry(ctl_t *c, registry_t *reg)
{
    pthread_mutex_lock(&c->lock);
    registry_destroy(c->reg);
    c->reg = reg;
    update_gauges(c);
    pthread_mutex_unlock(&c->lock);
}

bool ctl_auditable(const ctl_t *c, const char *topic)
{
    return strncmp(topic, "__", 2) != 0 && strcmp(topic, c->audit_topic) &&
           strcmp(topic, c->registry_topic);
}

bool ctl_detectable(const ctl_t *c, const char *topic)
{
    if (!ctl_auditable(c, topic))
        return false;
    if (c->has_exclude && regexec(&c->exclude, topic, 0, NULL, 0) == 0)
        return false;
    return !c->has_include || regexec(&c->include, topic, 0, NULL, 0) == 0;
}

chp_err_t ctl_change(ctl_t *c, const char *topic, reg_state_t state,
                     char *errstr, size_t errstr_size)
{
    const char *value;
    chp_err_t rc;

    if ((rc = c->cluster.registry_write(c->cluster.opaque, topic, state, errstr,
                                        errstr_size)) != CHP_OK) {
        metric_inc(c->m_write_errors, 1);
        return rc;
    }
    metric_inc(c->m_writes, 1);
    /* Memory follows Kafka, through the same decoder the workers use. */
    value = registry_format_encode(state);
    rc = registry_apply(c->reg, topic, strlen(topic), value,
                        value ? strlen(value) : 0);
    if (rc != CHP_OK)
        return chp_errf(errstr, errstr_size, rc,
                        "cannot apply the registry change");
    update_gauges(c);
    chp_log_info("controller: %s is now %s", topic,
                 state == REG_AUDITED       ? "audited"
                 : state == REG_BLACKLISTED ? "blacklisted"
                                            : "forgotten");
    return CHP_OK;
}

void ctl_count_request(ctl_t *c, int status)
{
    for (int i = 0; i < CTL_N_STATUS - 1; i++) {
        if (counted_status[i] == status) {
            metric_inc(c->m_requests[i], 1);
            return;
        }
    }
    metric_inc(c->m_requests[CTL_N_STATUS - 1], 1);
}
