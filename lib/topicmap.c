/* topicmap.c - see topicmap.h. */
#include <regex.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "topicmap.h"

struct chp_topicmap {
    regex_t re;
};

chp_err_t chp_topicmap_new(const char *strip_regex, chp_topicmap_t **out,
                           char *errstr, size_t errstr_size)
{
    chp_topicmap_t *m;
    int rc;

    *out = NULL;
    if (!strip_regex || !*strip_regex)
        return CHP_OK;
    if (!(m = calloc(1, sizeof(*m))))
        return CHP_ERR_NOMEM;
    if ((rc = regcomp(&m->re, strip_regex, REG_EXTENDED)) != 0) {
        char why[256];
        regerror(rc, &m->re, why, sizeof(why));
        snprintf(errstr, errstr_size,
                 "\"topic.map.strip.regex\": \"%.64s\" is not a POSIX "
                 "extended regular expression: %s",
                 strip_regex, why);
        free(m);
        return CHP_ERR_INVALID_ARG;
    }
    *out = m;
    return CHP_OK;
}

void chp_topicmap_destroy(chp_topicmap_t *m)
{
    if (m) {
        regfree(&m->re);
        free(m);
    }
}

const char *chp_topicmap_apply(const chp_topicmap_t *m, const char *topic,
                               char *buf, size_t size)
{
    regmatch_t at;
    size_t len = strlen(topic), so, eo, out;

    if (!m || len >= size || regexec(&m->re, topic, 1, &at, 0) != 0)
        return topic;
    so = (size_t)at.rm_so;
    eo = (size_t)at.rm_eo;
    if (eo <= so)
        return topic;
    memcpy(buf, topic, so);
    memcpy(buf + so, topic + eo, len - eo);
    out = len - (eo - so);
    buf[out] = '\0';
    if (!chp_conf_topic_name_ok(buf, out))
        return topic;
    return buf;
}
