/* err.c - error names and the library version. */
#include <stdarg.h>
#include <stdio.h>

#include "errstr.h"

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

chp_err_t chp_errf(char *errstr, size_t errstr_size, chp_err_t err,
                   const char *fmt, ...)
{
    va_list ap;

    if (errstr && errstr_size > 0) {
        va_start(ap, fmt);
        vsnprintf(errstr, errstr_size, fmt, ap);
        va_end(ap);
    }
    return err;
}
