/* topics.c - which topics the worker audits: an explicit list, a regex over
 * the cluster's topics, and the controller's registry; never the audit
 * topic, the registry or `__` internal topics. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "worker/topics.h"
#include "conf_daemon_keys.h"

struct topic_filter {
    char **list; /* worker.topics */
    size_t n_list;
    bool has_regex;
    regex_t re;
    char *audit_topic;
    char *registry;
};

static void split_list(topic_filter_t *f, const char *csv)
{
    const char *p = csv;

    while (p && *p) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        if (len) {
            char **nl = realloc(f->list, (f->n_list + 1) * sizeof(*nl));
            if (!nl)
                return;
            f->list = nl;
            f->list[f->n_list++] = strndup(p, len);
        }
        p = e ? e + 1 : NULL;
    }
}

topic_filter_t *topic_filter_new(const chp_conf_t *conf, char *errstr,
                                 size_t errstr_size)
{
    topic_filter_t *f = calloc(1, sizeof(*f));
    const char *re = chp_conf_get_str(conf, CHP_KEY_WORKER_TOPICS_REGEX);

    if (!f)
        return NULL;
    split_list(f, chp_conf_get_str(conf, CHP_KEY_WORKER_TOPICS));
    if (re && *re) {
        int rc = regcomp(&f->re, re, REG_EXTENDED | REG_NOSUB);
        if (rc) {
            char msg[256];
            regerror(rc, &f->re, msg, sizeof(msg));
            snprintf(errstr, errstr_size, "\"worker.topics.regex\": %s", msg);
            topic_filter_destroy(f);
            return NULL;
        }
        f->has_regex = true;
    }
    f->audit_topic = strdup(chp_conf_get_str(conf, CHP_KEY_AUDIT_TOPIC));
    f->registry = strdup(chp_conf_get_str(conf, CHP_KEY_WORKER_REGISTRY));
    return f;
}

void topic_filter_destroy(topic_filter_t *f)
{
    if (!f)
        return;
    for (size_t i = 0; i < f->n_list; i++)
        free(f->list[i]);
    free(f->list);
    if (f->has_regex)
        regfree(&f->re);
    free(f->audit_topic);
    free(f->registry);
    free(f);
}

bool topic_filter_never(const topic_filter_t *f, const char *topic)
{
    return !strncmp(topic, "__", 2) || !strcmp(topic, f->audit_topic) ||
           !strcmp(topic, f->registry);
}

bool topic_filter_match(const topic_filter_t *f, const char *topic,
                        bool in_registry)
{
    if (topic_filter_never(f, topic))
        return false;
    if (in_registry)
        return true;
    for (size_t i = 0; i < f->n_list; i++)
        if (!strcmp(f->list[i], topic))
            return true;
    return f->has_regex && regexec(&f->re, topic, 0, NULL, 0) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

chp_err_t topic_set_from_metadata(rd_kafka_t *rk, const topic_filter_t *f,
                                  const registry_t *reg, topic_set_t *out,
                                  int timeout_ms)
{
    const rd_kafka_metadata_t *md;
    rd_kafka_resp_err_t err;

    memset(out, 0, sizeof(*out));
    if ((err = rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms))) {
        chp_log_warn("worker: cannot list topics: %s", rd_kafka_err2str(err));
        return CHP_ERR_KAFKA;
    }
    out->names = calloc((size_t)md->topic_cnt + 1, sizeof(*out->names));
    for (int i = 0; out->names && i < md->topic_cnt; i++) {
        const char *name = md->topics[i].topic;
        if (md->topics[i].err)
            continue;
        if (topic_filter_match(f, name, reg && registry_has(reg, name)))
            out->names[out->n++] = strdup(name);
    }
    rd_kafka_metadata_destroy(md);
    if (!out->names)
        return CHP_ERR_NOMEM;
    qsort(out->names, out->n, sizeof(*out->names), cmp_str);
    return CHP_OK;
}

bool topic_set_equal(const topic_set_t *a, const topic_set_t *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->names[i], b->names[i]))
            return false;
    return true;
}

void topic_set_clear(topic_set_t *s)
{
    for (size_t i = 0; i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    memset(s, 0, sizeof(*s));
}
