/* topicmap.h - the name a topic is audited under.  A replicated topic
 * (MirrorMaker 2's default policy makes `orders` of cluster dc1 arrive as
 * `dc1.orders`) is audited under its source name, so every tier of a
 * pipeline speaks of the same topic (docs/pipeline.md).  Configured by
 * topic.map.strip.regex; used by the tracker, hence by the worker and the
 * interceptor plugin alike.  Private to libchaperone. */
#ifndef CHP_TOPICMAP_H
#define CHP_TOPICMAP_H

#include <stddef.h>

#include "chaperone.h"

typedef struct chp_topicmap chp_topicmap_t;

/*
 * A map that removes the first match of strip_regex (POSIX extended) from
 * topic names.  strip_regex NULL or "": *out = NULL, the identity (every
 * function below accepts NULL).  CHP_ERR_INVALID_ARG with errstr naming
 * topic.map.strip.regex when it does not compile.
 */
chp_err_t chp_topicmap_new(const char *strip_regex, chp_topicmap_t **out,
                           char *errstr, size_t errstr_size);
void chp_topicmap_destroy(chp_topicmap_t *m);

/*
 * The audit name of topic, written to buf (size >= CHP_NAME_MAX): topic
 * without the first match of the regex.  topic itself when there is no
 * match, the match is empty, or what is left would not be a legal topic
 * name (so nothing is ever audited under "" or a mangled name).
 * Thread-safe (regexec on a compiled pattern).
 */
const char *chp_topicmap_apply(const chp_topicmap_t *m, const char *topic,
                               char *buf, size_t size);

#endif
