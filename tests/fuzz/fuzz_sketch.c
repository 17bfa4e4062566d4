/* Fuzz target: the latency sketch decoder.  Whatever decodes must survive
 * encode -> decode unchanged, and the text must be canonical (re-encoding
 * the second sketch gives the same bytes). */
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(bool ok)
{
    if (!ok)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static chp_sketch_t a, b;
    static char text1[CHP_SKETCH_ENCODE_MAX + 1];
    static char text2[CHP_SKETCH_ENCODE_MAX + 1];
    /* Exact-size copy: one byte read past size is an ASan report. */
    char *in = malloc(size ? size : 1);
    char errstr[128];
    size_t n1, n2;
    double q;

    if (!in)
        return 0;
    memcpy(in, data, size);
    if (chp_sketch_decode(&a, in, size, errstr, sizeof(errstr)) != CHP_OK) {
        check(chp_sketch_count(&a) == 0 && a.negative == 0 && a.max == 0);
        goto out;
    }
    n1 = chp_sketch_encode(&a, text1, sizeof(text1));
    check(n1 <= CHP_SKETCH_ENCODE_MAX && strlen(text1) == n1);
    check(chp_sketch_decode(&b, text1, n1, errstr, sizeof(errstr)) == CHP_OK);
    check(a.zero == b.zero && a.negative == b.negative && a.max == b.max);
    check(memcmp(a.bins, b.bins, sizeof(a.bins)) == 0);
    n2 = chp_sketch_encode(&b, text2, sizeof(text2));
    check(n1 == n2 && memcmp(text1, text2, n1) == 0);
    /* Quantiles of any decodable sketch are finite and never negative. */
    for (q = 0.0; q <= 1.0; q += 0.125) {
        double v = chp_sketch_quantile(&a, q);

        check(v >= 0.0 && v <= 9.3e18);
    }
out:
    free(in);
    return 0;
}
