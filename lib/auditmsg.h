/* auditmsg.h - audit message helpers (private).  The model and the JSON
 * codec themselves are public (chp_auditmsg_* in chaperone.h). */
#ifndef CHP_AUDITMSG_H
#define CHP_AUDITMSG_H

#include "chaperone.h"

/*
 * Compares two messages field by field (sketches by their counts, maximum
 * and a grid of quantiles).  Returns NULL when they are equal, else the wire
 * name of the first field that differs, e.g. "count" - so a failing test or
 * fuzzer can say which one.  Doubles must be identical, sign of zero
 * included: the codec round-trips them exactly.
 */
const char *chp_auditmsg_diff(const chp_auditmsg_t *a, const chp_auditmsg_t *b);

/* The two decoders behind chp_auditmsg_decode(): the fast path answers
 * false (m partly filled: clear it) for anything but a plain, valid,
 * common-case message; the full (jansson) path decides everything. */
bool chp_auditmsg_decode_fast(chp_auditmsg_t *m, const char *json, size_t len);
chp_err_t chp_auditmsg_decode_full(chp_auditmsg_t *m, const char *json,
                                   size_t len, char *errstr,
                                   size_t errstr_size);

#endif
