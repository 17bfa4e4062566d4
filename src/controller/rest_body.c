/* rest_body.c - request bodies of the REST API and topic names: what a
 * client may send, checked before anything touches the registry. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "conf.h"
#include "errstr.h"
#include "controller/controller.h"

/* Kafka accepts far fewer; this only bounds a number nobody means. */
#define MAX_PARTITIONS 1000000

chp_err_t ctl_topic_name_check(const char *name, size_t len, char *errstr,
                               size_t errstr_size)
{
    if (memchr(name, '\0', len) || !chp_conf_topic_name_ok(name, len)) {
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "illegal topic name \"%.*s%s\": 1 to 249 of a-z A-Z "
                        "0-9 . _ -, not \".\" or \"..\"",
                        (int)(len > 64 ? 64 : len), name,
                        len > 64 ? "..." : "");
    }
    return CHP_OK;
}

static bool blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
            return false;
    return true;
}

/* The original sends numPartitions as a string ("1"); numbers are accepted
 * too.  Only positive integers: the count is informative (partition growth
 * is followed from the metadata), but garbage is still a client bug. */
static chp_err_t parse_partitions(const json_t *v, int64_t *out, char *errstr,
                                  size_t errstr_size)
{
    if (json_is_integer(v)) {
        json_int_t i = json_integer_value(v);
        if (i < 1 || i > MAX_PARTITIONS) {
            snprintf(errstr, errstr_size,
                     "\"numPartitions\": %lld is out of range 1..%d",
                     (long long)i, MAX_PARTITIONS);
            return CHP_ERR_RANGE;
        }
        *out = i;
        return CHP_OK;
    }
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t len = json_string_length(v);
        int64_t n = 0;

        for (size_t i = 0; i < len; i++) {
            if (s[i] < '0' || s[i] > '9' || n > MAX_PARTITIONS) {
                n = -1;
                break;
            }
            n = n * 10 + (s[i] - '0');
        }
        if (len == 0 || n < 1 || n > MAX_PARTITIONS) {
            snprintf(errstr, errstr_size,
                     "\"numPartitions\": \"%.32s%s\" is not an integer in "
                     "1..%d",
                     s, len > 32 ? "..." : "", MAX_PARTITIONS);
            return CHP_ERR_RANGE;
        }
        *out = n;
        return CHP_OK;
    }
    snprintf(errstr, errstr_size,
             "\"numPartitions\": expected a positive integer or a string of "
             "digits");
    return CHP_ERR_TYPE;
}

chp_err_t ctl_body_parse(const char *body, size_t len, ctl_topic_body_t *out,
                         char *errstr, size_t errstr_size)
{
    json_error_t jerr;
    json_t *doc, *v;
    chp_err_t rc = CHP_ERR_PARSE;

    memset(out, 0, sizeof(*out));
    out->num_partitions = -1;
    if (!body || blank(body, len))
        return CHP_OK;
    doc =
        json_loadb(body, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &jerr);
    if (!doc) {
        snprintf(errstr, errstr_size,
                 "malformed JSON body: %s (line %d, "
                 "column %d)",
                 jerr.text, jerr.line, jerr.column);
        return CHP_ERR_PARSE;
    }
    if (!json_is_object(doc)) {
        snprintf(errstr, errstr_size,
                 "the body must be a JSON object such "
                 "as {\"topic\":\"name\",\"numPartitions\":\"1\"}");
        rc = CHP_ERR_TYPE;
        goto out;
    }
    if ((v = json_object_get(doc, "topic"))) {
        if (!json_is_string(v)) {
            snprintf(errstr, errstr_size, "\"topic\": expected a string");
            rc = CHP_ERR_TYPE;
            goto out;
        }
        if ((rc = ctl_topic_name_check(json_string_value(v),
                                       json_string_length(v), errstr,
                                       errstr_size)) != CHP_OK)
            goto out;
        memcpy(out->topic, json_string_value(v), json_string_length(v) + 1);
        out->has_topic = true;
    }
    if ((v = json_object_get(doc, "numPartitions")) &&
        (rc = parse_partitions(v, &out->num_partitions, errstr, errstr_size)) !=
            CHP_OK)
        goto out;
    rc = CHP_OK;
out:
    json_decref(doc);
    return rc;
}
