/* registry_format.c - see registry_format.h. */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "registry_format.h"

const char *registry_format_encode(reg_state_t state)
{
    return state == REG_AUDITED       ? "{\"state\":\"audited\"}"
           : state == REG_BLACKLISTED ? "{\"state\":\"blacklisted\"}"
                                      : NULL;
}

const char *registry_state_name(reg_state_t state)
{
    return state == REG_AUDITED       ? "audited"
           : state == REG_BLACKLISTED ? "blacklisted"
                                      : "unknown";
}

chp_err_t registry_format_decode(const char *key, size_t key_len,
                                 const char *value, size_t value_len,
                                 reg_state_t *state, char *errstr,
                                 size_t errstr_size)
{
    json_t *doc;
    const char *s;

    *state = REG_ABSENT;
    if (!key || key_len == 0 || key_len >= CHP_NAME_MAX) {
        if (errstr)
            snprintf(errstr, errstr_size, "registry key of %zu bytes",
                     key ? key_len : 0);
        return CHP_ERR_INVALID_ARG;
    }
    if (!value)
        return CHP_OK;
    doc = json_loadb(value, value_len, 0, NULL);
    s = doc ? json_string_value(json_object_get(doc, "state")) : NULL;
    if (s && !strcmp(s, "audited"))
        *state = REG_AUDITED;
    else if (s && !strcmp(s, "blacklisted"))
        *state = REG_BLACKLISTED;
    json_decref(doc);
    if (*state != REG_ABSENT)
        return CHP_OK;
    if (errstr)
        snprintf(errstr, errstr_size,
                 "registry value of %.*s is not {\"state\":\"audited\"|"
                 "\"blacklisted\"}",
                 (int)key_len, key);
    return CHP_ERR_PARSE;
}
