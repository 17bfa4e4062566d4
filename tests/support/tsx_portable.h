/* tsx_portable.h - a second copy of the timestamp scanner (lib/tsx_json.c),
 * built from the same source with the portable block scan only, under
 * other names: the unit tests and the fuzz target compare its answers with
 * the library's (which uses SSE2 or AVX2 where the CPU has them). */
#ifndef CHP_TESTS_TSX_PORTABLE_H
#define CHP_TESTS_TSX_PORTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tsx.h"

/* chp_tsx_scan_json, chp_tsx_parse_number and chp_tsx_no_avx2 of the
 * portable copy. */
chp_ts_result_t portable_scan_json(const char *buf, size_t len,
                                   const char *const *names, size_t n_names,
                                   int64_t *ts_ms);
bool portable_parse_number(const char *s, size_t len, double *out);
extern int portable_no_avx2;
extern int portable_no_avx512;

#endif
