/* tsx.h - timestamp extraction internals (private; public API in
 * chaperone.h, behaviour in docs/timestamps.md). */
#ifndef CHP_TSX_H
#define CHP_TSX_H

#include <stdint.h>

#include "chaperone.h"

/* Longest JSON field name or header name a rule set stores, incl. NUL. */
#define CHP_TSX_NAME_MAX 128

/* Nesting deeper than this inside a skipped value counts as malformed;
 * jansson's own limit is 2048, so nothing it accepts is rejected here. */
#define CHP_TSX_MAX_DEPTH 2048

/* Default JSON field names when chp_tsx_new gets NULL. */
#define CHP_TSX_DEFAULT_FIELDS "ts,timestamp"

/* Default rule list when chp_tsx_new gets NULL (the original's rule). */
#define CHP_TSX_DEFAULT_RULES "json"

/* Tests only: nonzero makes the scanner ignore AVX2 and AVX-512 (SSE2 is
 * then used), or AVX-512 only (AVX2 is then used). */
extern int chp_tsx_no_avx2;
extern int chp_tsx_no_avx512;

/* A rule set's JSON field names as the scanner wants them: lower-cased
 * once, lengths known, packed so that the per-message part of a rule set
 * (chp_tsx_t) fits in one or two cache lines.  Names hold no quote,
 * backslash or control character (chp_tsx_new refuses them). */
typedef struct tsx_keys {
    uint8_t n;
    uint8_t len[CHP_TSX_MAX_FIELDS];
    uint16_t off[CHP_TSX_MAX_FIELDS]; /* into pool */
    char pool[CHP_TSX_MAX_FIELDS * CHP_TSX_NAME_MAX];
} tsx_keys_t;

/* chp_tsx_scan_json for a rule set's own keys: no strlen and no case
 * folding of the names per message. */
chp_ts_result_t chp_tsx_scan_json_keys(const char *buf, size_t len,
                                       const tsx_keys_t *keys, int64_t *ts_ms);

/**
 * Parses len bytes that hold exactly one JSON number (optionally surrounded
 * by JSON whitespace) into *out.  Never reads past len, no NUL needed.
 * Returns false if the bytes are anything else.
 */
bool chp_tsx_parse_number(const char *s, size_t len, double *out);

#endif
