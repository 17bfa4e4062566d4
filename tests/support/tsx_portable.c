/* tsx_portable.c - the portable copy of the timestamp scanner (see
 * tsx_portable.h): lib/tsx_json.c compiled once more, renamed. */
#include "tsx_portable.h"

#define CHP_TSX_NO_SIMD        1
#define chp_tsx_scan_json      portable_scan_json
#define chp_tsx_parse_number   portable_parse_number
#define chp_tsx_scan_json_keys portable_scan_json_keys
#define chp_tsx_no_avx2        portable_no_avx2
#define chp_tsx_no_avx512      portable_no_avx512
#include "tsx_json.c"
