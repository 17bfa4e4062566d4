/* demo.h - parts of `chaperone demo` (demo.c runs the pipeline). */
#ifndef CHP_DEMO_H
#define CHP_DEMO_H

#include <stdint.h>
#include <stddef.h>

#include "chaperone.h"

/*
 * Prints the report of topic between [from, to) from the database at
 * db_url: one row per bucket, one column per tier, and the loss of every
 * tier against the reference tier.  *loss is set to the total loss shown.
 * CHP_OK, or the store's error with err filled.
 */
chp_err_t demo_print_report(const char *db_url, const char *topic,
                            const char *reference, int64_t from, int64_t to,
                            uint64_t *loss, char *err, size_t errn);

#endif
