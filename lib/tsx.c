/* tsx.c - timestamp rule sets (design.md §4): "json,kafka,header:NAME,now"
 * compiled once into a fixed-size struct, then tried in order per message
 * without allocating.  The JSON scanner itself is in tsx_json.c. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsx.h"
#include "errstr.h"

enum chp_tsx_kind {
    CHP_TSX_RULE_JSON,
    CHP_TSX_RULE_KAFKA,
    CHP_TSX_RULE_HEADER,
    CHP_TSX_RULE_NOW,
};

/* What every message reads comes first (rule kinds, then the keys with
 * the start of their name pool): for the usual "ts,timestamp" one cache
 * line.  Header names are read only by header rules. */
struct chp_tsx {
    uint8_t n_rules;
    uint8_t kind[CHP_TSX_MAX_RULES]; /* enum chp_tsx_kind */
    tsx_keys_t keys;
    char header[CHP_TSX_MAX_RULES][CHP_TSX_NAME_MAX]; /* header rules only */
};

/* ------------------------------------------------------------------------
 * Rule sets
 * ------------------------------------------------------------------------ */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Trims ASCII whitespace around [*s, *e). */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_space(**s))
        (*s)++;
    while (*e > *s && is_space((*e)[-1]))
        (*e)--;
}

static bool word_is(const char *s, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

static chp_err_t parse_rule(chp_tsx_t *tsx, const char *s, size_t n,
                            char *errstr, size_t errstr_size)
{
    static const char hdr[] = "header:";
    size_t i = tsx->n_rules;

    if (i == CHP_TSX_MAX_RULES) {
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "timestamp rule \"%.*s\": more than %d rules", (int)n,
                        s, CHP_TSX_MAX_RULES);
    }
    if (word_is(s, n, "json")) {
        tsx->kind[i] = CHP_TSX_RULE_JSON;
    } else if (word_is(s, n, "kafka")) {
        tsx->kind[i] = CHP_TSX_RULE_KAFKA;
    } else if (word_is(s, n, "now")) {
        tsx->kind[i] = CHP_TSX_RULE_NOW;
    } else if (n >= sizeof(hdr) - 1 &&
               strncasecmp(s, hdr, sizeof(hdr) - 1) == 0) {
        const char *h = s + sizeof(hdr) - 1, *he = s + n;

        trim(&h, &he);
        if (h == he) {
            return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                            "timestamp rule \"%.*s\": empty header name",
                            (int)n, s);
        }
        if ((size_t)(he - h) >= CHP_TSX_NAME_MAX) {
            return chp_errf(
                errstr, errstr_size, CHP_ERR_INVALID_ARG,
                "timestamp rule \"%.*s\": header name longer than %d "
                "bytes",
                (int)n, s, CHP_TSX_NAME_MAX - 1);
        }
        tsx->kind[i] = CHP_TSX_RULE_HEADER;
        memcpy(tsx->header[i], h, (size_t)(he - h));
        tsx->header[i][he - h] = '\0';
    } else {
        return chp_errf(
            errstr, errstr_size, CHP_ERR_INVALID_ARG,
            "unknown timestamp rule \"%.*s\" (expected json, kafka, "
            "header:NAME or now)",
            (int)n, s);
    }
    tsx->n_rules++;
    return CHP_OK;
}

static chp_err_t parse_field(chp_tsx_t *tsx, const char *s, size_t n,
                             char *errstr, size_t errstr_size)
{
    size_t i = tsx->keys.n;

    if (i == CHP_TSX_MAX_FIELDS) {
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "timestamp field \"%.*s\": more than %d fields", (int)n,
                        s, CHP_TSX_MAX_FIELDS);
    }
    if (n >= CHP_TSX_NAME_MAX) {
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "timestamp field \"%.*s\": longer than %d bytes",
                        (int)n, s, CHP_TSX_NAME_MAX - 1);
    }
    /* Such a name could only match a key written with escapes, which the
     * scanner never decodes: refuse it instead of silently never matching. */
    for (size_t j = 0; j < n; j++) {
        if (s[j] == '"' || s[j] == '\\' || (unsigned char)s[j] < 0x20) {
            return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                            "timestamp field \"%.*s\": quotes, backslashes and "
                            "control characters are not supported",
                            (int)n, s);
        }
    }
    /* Stored lower-case, right after the previous name: the scanner folds
     * only the message's key. */
    size_t at = i ? (size_t)tsx->keys.off[i - 1] + tsx->keys.len[i - 1] + 1 : 0;
    for (size_t j = 0; j < n; j++)
        tsx->keys.pool[at + j] =
            (s[j] >= 'A' && s[j] <= 'Z') ? (char)(s[j] | 0x20) : s[j];
    tsx->keys.pool[at + n] = '\0';
    tsx->keys.len[i] = (uint8_t)n;
    tsx->keys.off[i] = (uint16_t)at;
    tsx->keys.n++;
    return CHP_OK;
}

/* Splits a comma list and feeds each trimmed item to fn; an empty item or
 * an empty list is an error naming what (and where). */
static chp_err_t parse_list(chp_tsx_t *tsx, const char *list, const char *what,
                            chp_err_t (*fn)(chp_tsx_t *, const char *, size_t,
                                            char *, size_t),
                            char *errstr, size_t errstr_size)
{
    const char *s = list;
    int pos = 1;

    {
        const char *a = list, *b = list + strlen(list);

        trim(&a, &b);
        if (a == b) {
            return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                            "empty %s list", what);
        }
    }
    for (;; pos++) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        const char *a = s;
        chp_err_t err;

        trim(&a, &e);
        if (a == e) {
            return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                            "empty %s at position %d in \"%s\"", what, pos,
                            list);
        }
        err = fn(tsx, a, (size_t)(e - a), errstr, errstr_size);
        if (err != CHP_OK)
            return err;
        if (!comma)
            return CHP_OK;
        s = comma + 1;
    }
}

CHP_EXPORT chp_err_t chp_tsx_new(const char *rules, const char *json_fields,
                                 chp_tsx_t **out, char *errstr,
                                 size_t errstr_size)
{
    chp_tsx_t *tsx = NULL;
    chp_err_t err;

    if (!out) {
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "chp_tsx_new: out is NULL");
    }
    *out = NULL;
    tsx = calloc(1, sizeof(*tsx));
    if (!tsx) {
        return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM, "out of memory");
    }
    err = parse_list(tsx, rules ? rules : CHP_TSX_DEFAULT_RULES,
                     "timestamp rule", parse_rule, errstr, errstr_size);
    if (err != CHP_OK)
        goto fail;
    err = parse_list(tsx, json_fields ? json_fields : CHP_TSX_DEFAULT_FIELDS,
                     "timestamp field", parse_field, errstr, errstr_size);
    if (err != CHP_OK)
        goto fail;
    *out = tsx;
    return CHP_OK;

fail:
    free(tsx);
    return err;
}

CHP_EXPORT void chp_tsx_destroy(chp_tsx_t *tsx)
{
    free(tsx);
}

CHP_EXPORT chp_ts_result_t chp_tsx_extract(const chp_tsx_t *tsx,
                                           const chp_msg_view_t *msg,
                                           int64_t now_ms, int64_t *ts_ms)
{
    bool broken = false;

    if (!tsx || !msg)
        return CHP_TS_MISSING;
    for (size_t i = 0; i < tsx->n_rules; i++) {
        const void *val;
        size_t len;
        double v;
        int64_t ms;

        switch ((enum chp_tsx_kind)tsx->kind[i]) {
        case CHP_TSX_RULE_JSON:
            /* A json rule was asked to parse something: no payload at all
             * (e.g. a tombstone) is as unparsable as a broken one. */
            if (!msg->value || msg->value_len == 0) {
                broken = true;
                break;
            }
            switch (chp_tsx_scan_json_keys(msg->value, msg->value_len,
                                           &tsx->keys, &ms)) {
            case CHP_TS_FOUND:
                *ts_ms = ms;
                return CHP_TS_FOUND;
            case CHP_TS_MALFORMED:
                broken = true;
                break;
            case CHP_TS_MISSING:
                break;
            }
            break;
        case CHP_TSX_RULE_KAFKA:
            if (msg->kafka_ts_ms >= 0) {
                *ts_ms = msg->kafka_ts_ms;
                return CHP_TS_FOUND;
            }
            break;
        case CHP_TSX_RULE_HEADER:
            if (msg->header &&
                msg->header(msg->header_opaque, tsx->header[i], &val, &len) &&
                val && chp_tsx_parse_number(val, len, &v) &&
                chp_ts_to_ms(v, &ms)) {
                *ts_ms = ms;
                return CHP_TS_FOUND;
            }
            break;
        case CHP_TSX_RULE_NOW:
            *ts_ms = now_ms;
            return CHP_TS_FOUND;
        }
    }
    return broken ? CHP_TS_MALFORMED : CHP_TS_MISSING;
}
