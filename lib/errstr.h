/* errstr.h - the one way to fill a caller's errstr (private to lib/ and
 * src/).
 *
 * The house convention (docs/design.md, "Errors"): a function that can fail
 * returns chp_err_t (CHP_OK = 0) and, where a human needs to know why,
 * writes one line into the caller's errstr/errstr_size. */
#ifndef CHP_ERRSTR_H
#define CHP_ERRSTR_H

#include <stddef.h>

#include "chaperone.h"

/* Formats into errstr (skipped when errstr is NULL or errstr_size 0,
 * truncated to fit) and returns err, so a failure reads
 * `return chp_errf(errstr, errstr_size, CHP_ERR_RANGE, "...", ...);`. */
__attribute__((format(printf, 4, 5))) chp_err_t
chp_errf(char *errstr, size_t errstr_size, chp_err_t err, const char *fmt, ...);

#endif /* CHP_ERRSTR_H */
