/* rest.c - the controller's REST API, with the original's paths and
 * bodies (docs/controller.md):
 *
 *   GET    /health                 OK
 *   GET    /metrics                Prometheus text
 *   GET    /topics                 {"topics":[...],"blacklisted":[...]}
 *   POST   /topics                 {"topic":"t","numPartitions":"1"}
 *   PUT    /topics                 same body, accepted for compatibility
 *   GET    /topics/{topic}         partitions and the worker holding each
 *   POST   /topics/{topic}         start auditing (no body needed)
 *   DELETE /topics/{topic}         stop auditing and blacklist
 *
 * Every error is a JSON {"error":...,"status":N} body. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller/controller.h"
#include "log.h"

#define JSON_TYPE "application/json"

/* Answers resp with doc (consumed) serialised. */
static void reply_json(http_resp_t *resp, int status, json_t *doc)
{
    char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
    size_t len;

    json_decref(doc);
    if (!s) {
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    /* A trailing newline keeps curl output readable. */
    len = strlen(s);
    free(resp->body);
    resp->status = status;
    resp->content_type = JSON_TYPE;
    char *grown = realloc(s, len + 2);
    if (!grown) {
        free(s);
        resp->body = NULL;
        http_reply_error(resp, 500, "out of memory");
        return;
    }
    resp->body = grown;
    resp->body[len] = '\n';
    resp->body[len + 1] = '\0';
    resp->body_len = len + 1;
}

static void append_name(const char *topic, void *opaque)
{
    json_array_append_new(opaque, json_string(topic));
}

/* ------------------------------------------------------------ handlers */

static void get_topics(ctl_t *c, http_resp_t *resp)
{
    json_t *audited = json_array(), *blacklisted = json_array();

    pthread_mutex_lock(&c->lock);
    registry_foreach(c->reg, REG_AUDITED, append_name, audited);
    registry_foreach(c->reg, REG_BLACKLISTED, append_name, blacklisted);
    pthread_mutex_unlock(&c->lock);
    reply_json(
        resp, 200,
        json_pack("{s:o,s:o}", "topics", audited, "blacklisted", blacklisted));
}

/* The member holding partition p of the topic, or NULL. */
static const ctl_member_t *holder(const ctl_group_t *g, int32_t p)
{
    for (size_t i = 0; i < g->n_members; i++)
        for (size_t j = 0; j < g->members[i].n_partitions; j++)
            if (g->members[i].partitions[j] == p)
                return &g->members[i];
    return NULL;
}

/* Member and client ids come from the clients: not necessarily UTF-8. */
static json_t *str_or_null(const char *s)
{
    json_t *v;

    if (!s)
        return json_null();
    v = json_string(s);
    return v ? v : json_string("(not UTF-8)");
}

static void get_topic(ctl_t *c, const char *topic, http_resp_t *resp)
{
    ctl_group_t g = {0};
    char err[512];
    reg_state_t st;
    json_t *parts;
    int n;

    pthread_mutex_lock(&c->lock);
    st = registry_state(c->reg, topic);
    pthread_mutex_unlock(&c->lock);
    if (st != REG_AUDITED) {
        http_reply_error(resp, 404, "topic %s is not audited%s", topic,
                         st == REG_BLACKLISTED ? " (blacklisted)" : "");
        return;
    }
    if ((n = c->cluster.topic_partitions(c->cluster.opaque, topic, err,
                                         sizeof(err))) < 0 ||
        c->cluster.describe_group(c->cluster.opaque, topic, &g, err,
                                  sizeof(err)) != CHP_OK) {
        ctl_group_clear(&g);
        http_reply_error(resp, 503, "cannot describe %s: %s", topic, err);
        return;
    }
    parts = json_array();
    for (int p = 0; p < n; p++) {
        const ctl_member_t *m = holder(&g, p);
        json_t *worker = m ? json_pack("{s:o,s:o,s:o}", "memberId",
                                       str_or_null(m->member_id), "clientId",
                                       str_or_null(m->client_id), "host",
                                       str_or_null(m->host))
                           : json_null();
        json_array_append_new(
            parts, json_pack("{s:i,s:o}", "partition", p, "worker", worker));
    }
    reply_json(resp, 200,
               json_pack("{s:s,s:s,s:b,s:i,s:s,s:o,s:o}", "topic", topic,
                         "state", "audited", "existsInKafka", n > 0,
                         "numPartitions", n, "group", c->group_id, "groupState",
                         str_or_null(g.state), "partitions", parts));
    ctl_group_clear(&g);
}

/* 400 for a topic no worker ever audits; false when answered. */
static bool auditable(ctl_t *c, const char *topic, http_resp_t *resp)
{
    if (ctl_auditable(c, topic))
        return true;
    http_reply_error(resp, 400,
                     "topic %s is never audited (internal, audit or registry "
                     "topic)",
                     topic);
    return false;
}

/* Called with c->lock held and n the topic's partition count (< 0: Kafka
 * did not answer, why in err; 0: the topic is missing, answered 404 as
 * "topic T <missing>").  Writes state `to` when write is set, then
 * unlocks.  False when it answered an error. */
static bool change_locked(ctl_t *c, const char *topic, int n, char *err,
                          size_t err_size, const char *missing, bool write,
                          reg_state_t to, http_resp_t *resp)
{
    bool ok = false;

    if (n < 0)
        http_reply_error(resp, 503, "cannot list Kafka topics: %s", err);
    else if (n == 0)
        http_reply_error(resp, 404, "topic %s %s", topic, missing);
    else if (write && ctl_change(c, topic, to, err, err_size) != CHP_OK)
        http_reply_error(resp, 503, "registry not updated: %s", err);
    else
        ok = true;
    pthread_mutex_unlock(&c->lock);
    return ok;
}

/* Start auditing topic (POST).  num_partitions is informative only. */
static void post_topic(ctl_t *c, const char *topic, http_resp_t *resp)
{
    char err[512];
    reg_state_t st;
    int n;

    if (!auditable(c, topic, resp))
        return;
    pthread_mutex_lock(&c->lock);
    if ((st = registry_state(c->reg, topic)) == REG_AUDITED) {
        pthread_mutex_unlock(&c->lock);
        http_reply_error(resp, 409, "topic %s is already audited", topic);
        return;
    }
    n = c->cluster.topic_partitions(c->cluster.opaque, topic, err, sizeof(err));
    if (!change_locked(c, topic, n, err, sizeof(err), "does not exist in Kafka",
                       true, REG_AUDITED, resp))
        return;
    reply_json(resp, 201,
               json_pack("{s:s,s:s,s:i,s:b}", "topic", topic, "state",
                         "audited", "numPartitions", n, "wasBlacklisted",
                         st == REG_BLACKLISTED));
}

static void delete_topic(ctl_t *c, const char *topic, http_resp_t *resp)
{
    char err[512];
    reg_state_t st;
    int n = 1;

    if (!auditable(c, topic, resp))
        return;
    pthread_mutex_lock(&c->lock);
    st = registry_state(c->reg, topic);
    /* Blacklisting a topic the registry does not know yet keeps
     * auto-detection off it; one Kafka does not know is a typo. */
    if (st == REG_ABSENT)
        n = c->cluster.topic_partitions(c->cluster.opaque, topic, err,
                                        sizeof(err));
    if (!change_locked(c, topic, n, err, sizeof(err),
                       "is neither in the registry nor in Kafka",
                       st != REG_BLACKLISTED, REG_BLACKLISTED, resp))
        return;
    reply_json(resp, 200,
               json_pack("{s:s,s:s,s:s}", "topic", topic, "state",
                         "blacklisted", "previousState",
                         registry_state_name(st)));
}

/* PUT /topics: the original grew the topic's partitions in its replicator;
 * the workers follow partition growth from the metadata, so a valid
 * request is simply acknowledged. */
static void put_topics(ctl_t *c, const ctl_topic_body_t *b, http_resp_t *resp)
{
    reg_state_t st;

    pthread_mutex_lock(&c->lock);
    st = registry_state(c->reg, b->topic);
    pthread_mutex_unlock(&c->lock);
    reply_json(resp, 200,
               json_pack("{s:s,s:s,s:s}", "topic", b->topic, "state",
                         registry_state_name(st), "message",
                         "accepted; partition growth is followed "
                         "automatically"));
}

/* ------------------------------------------------------------ routing */

static void route_collection(ctl_t *c, const http_req_t *req, http_resp_t *resp)
{
    ctl_topic_body_t b;
    char err[512];
    bool post = !strcmp(req->method, "POST");

    if (!strcmp(req->method, "GET")) {
        get_topics(c, resp);
        return;
    }
    if (!post && strcmp(req->method, "PUT")) {
        http_reply_error(resp, 405,
                         "method %s not allowed on /topics "
                         "(GET, POST, PUT)",
                         req->method);
        return;
    }
    if (ctl_body_parse(req->body, req->body_len, &b, err, sizeof(err)) !=
        CHP_OK) {
        http_reply_error(resp, 400, "%s", err);
        return;
    }
    if (!b.has_topic) {
        http_reply_error(resp, 400,
                         "missing \"topic\": expected "
                         "{\"topic\":\"name\",\"numPartitions\":\"1\"}");
        return;
    }
    if (post)
        post_topic(c, b.topic, resp);
    else
        put_topics(c, &b, resp);
}

static void route_topic(ctl_t *c, const http_req_t *req, const char *topic,
                        http_resp_t *resp)
{
    ctl_topic_body_t b;
    char err[512];

    if (ctl_topic_name_check(topic, strlen(topic), err, sizeof(err)) !=
        CHP_OK) {
        http_reply_error(resp, 400, "%s", err);
        return;
    }
    if (!strcmp(req->method, "GET")) {
        get_topic(c, topic, resp);
    } else if (!strcmp(req->method, "DELETE")) {
        delete_topic(c, topic, resp);
    } else if (!strcmp(req->method, "POST")) {
        /* The body is optional; if it names a topic, it must be this one. */
        if (ctl_body_parse(req->body, req->body_len, &b, err, sizeof(err)) !=
            CHP_OK) {
            http_reply_error(resp, 400, "%s", err);
        } else if (b.has_topic && strcmp(b.topic, topic)) {
            http_reply_error(resp, 400,
                             "the body names topic %s, the path "
                             "%s",
                             b.topic, topic);
        } else {
            post_topic(c, topic, resp);
        }
    } else {
        http_reply_error(resp, 405,
                         "method %s not allowed on /topics/{topic} "
                         "(GET, POST, DELETE)",
                         req->method);
    }
}

static void route(ctl_t *c, const http_req_t *req, http_resp_t *resp)
{
    const char *path = req->path ? req->path : "";
    const char *rest;

    if (!strcmp(path, "/health") || !strcmp(path, "/metrics")) {
        if (strcmp(req->method, "GET")) {
            http_reply_error(resp, 405, "method %s not allowed on %s (GET)",
                             req->method, path);
        } else if (path[1] == 'h') {
            http_reply(resp, 200, "text/plain", "OK");
        } else {
            char *out;
            size_t len;
            if (metrics_render(c->metrics, &out, &len) != CHP_OK) {
                http_reply_error(resp, 500, "cannot render metrics");
                return;
            }
            free(resp->body);
            resp->status = 200;
            resp->content_type = "text/plain; version=0.0.4";
            resp->body = out;
            resp->body_len = len;
        }
        return;
    }
    if (strncmp(path, "/topics", 7) || (path[7] != '\0' && path[7] != '/')) {
        http_reply_error(resp, 404, "no such endpoint: %s", path);
        return;
    }
    rest = path[7] ? path + 8 : path + 7;
    if (!*rest) { /* "/topics" or "/topics/" */
        route_collection(c, req, resp);
        return;
    }
    if (strchr(rest, '/')) {
        http_reply_error(resp, 404, "no such endpoint: %s", path);
        return;
    }
    route_topic(c, req, rest, resp);
}

void ctl_rest_handle(const http_req_t *req, http_resp_t *resp, void *opaque)
{
    ctl_t *c = opaque;

    route(c, req, resp);
    if (resp->status == 0) /* defensive: never fall through to defaults */
        http_reply_error(resp, 500, "request not answered");
    ctl_count_request(c, resp->status);
    if (resp->status >= 500)
        chp_log_warn("controller: %s %s -> %d", req->method, req->path,
                     resp->status);
    else
        chp_log_debug("controller: %s %s -> %d", req->method, req->path,
                      resp->status);
}
