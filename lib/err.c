/* err.c - error names and the library version. */
#include "chaperone.h"

static const char *const err_names[CHP_ERR__COUNT] = {
    [CHP_OK] = "success",
    [CHP_ERR_INVALID_ARG] = "invalid argument",
    [CHP_ERR_NOMEM] = "out of memory",
    [CHP_ERR_PARSE] = "parse error",
    [CHP_ERR_TYPE] = "wrong type",
    [CHP_ERR_RANGE] = "value out of range",
    [CHP_ERR_UNKNOWN_KEY] = "unknown configuration key",
    [CHP_ERR_NOT_FOUND] = "not found",
    [CHP_ERR_IO] = "I/O error",
    [CHP_ERR_KAFKA] = "Kafka error",
    [CHP_ERR_STATE] = "invalid state",
    [CHP_ERR_FULL] = "resource limit reached",
    [CHP_ERR_DB] = "database error",
};

CHP_EXPORT const char *chp_err_str(chp_err_t err)
{
    if ((unsigned)err >= CHP_ERR__COUNT)
        return "unknown error";
    return err_names[err];
}

CHP_EXPORT const char *chp_version(void)
{
    return CHP_VERSION_STR;
}
