/* log.h - one line per event on stderr (design.md §11), level set once at
 * start. */
#ifndef CHP_LOG_H
#define CHP_LOG_H

#include <stddef.h>

typedef enum {
    CHP_LOG_ERROR,
    CHP_LOG_WARN,
    CHP_LOG_INFO,
    CHP_LOG_DEBUG
} chp_log_level_t;

/* Sets the level from its name ("error", "warn", "info", "debug");
 * returns -1 for an unknown name. */
int chp_log_set_level_name(const char *name);
void chp_log_set_level(chp_log_level_t lvl);
void chp_log(chp_log_level_t lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* From now on, every occurrence of secret[0..len) in a log line is written
 * as "[redacted]" (secrets shorter than 4 bytes are ignored: they would
 * blank out ordinary words; at most 64 are kept). */
void chp_log_redact_add(const char *secret, size_t len);

/* Replaces every registered secret in line (NUL-terminated, size bytes of
 * room) in place. */
void chp_log_redact(char *line, size_t size);

#define chp_log_error(...) chp_log(CHP_LOG_ERROR, __VA_ARGS__)
#define chp_log_warn(...)  chp_log(CHP_LOG_WARN, __VA_ARGS__)
#define chp_log_info(...)  chp_log(CHP_LOG_INFO, __VA_ARGS__)
#define chp_log_debug(...) chp_log(CHP_LOG_DEBUG, __VA_ARGS__)

#endif
