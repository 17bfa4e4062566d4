/* Fuzz target: the audit message decoder, and the promise that whatever it
 * accepts encodes again and reads back the same (docs/wire-format.md). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auditmsg.h"

static void die(const char *what, const char *detail)
{
    fprintf(stderr, "fuzz_auditmsg: %s: %s\n", what, detail ? detail : "");
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    chp_auditmsg_t a, b;
    char errstr[512];
    char *j1 = NULL, *j2 = NULL;
    size_t n1, n2;
    const char *diff;
    /* Exactly size bytes and no terminator, as a Kafka record value is:
     * ASan reports any read past the end. */
    char *in = malloc(size ? size : 1);

    if (!in)
        return 0;
    memcpy(in, data, size);
    chp_auditmsg_init(&a);
    chp_auditmsg_init(&b);

    /* Differential: whatever the fast path accepts, the full (jansson)
     * path accepts too, with the same fields. */
    if (chp_auditmsg_decode_fast(&a, in, size)) {
        if (chp_auditmsg_decode_full(&b, in, size, errstr, sizeof(errstr)) !=
            CHP_OK)
            die("fast path accepted what the full path rejects", errstr);
        if ((diff = chp_auditmsg_diff(&a, &b)) != NULL)
            die("fast and full paths disagree on", diff);
    }
    chp_auditmsg_clear(&a);
    chp_auditmsg_clear(&b);

    if (chp_auditmsg_decode(&a, in, size, errstr, sizeof(errstr)) != CHP_OK)
        goto cleanup;

    /* Decode OK => encode OK => decode OK, same fields, same bytes. */
    if (chp_auditmsg_encode(&a, &j1, &n1) != CHP_OK)
        die("accepted message does not encode", NULL);
    if (strlen(j1) != n1)
        die("encoded length", j1);
    if (chp_auditmsg_decode(&b, j1, n1, errstr, sizeof(errstr)) != CHP_OK)
        die("own encoding rejected", errstr);
    a.version = CHP_AUDITMSG_VERSION; /* encode always writes ours */
    if ((diff = chp_auditmsg_diff(&a, &b)) != NULL)
        die("field differs after round trip", diff);
    if (chp_auditmsg_encode(&b, &j2, &n2) != CHP_OK)
        die("re-encode failed", NULL);
    if (n1 != n2 || memcmp(j1, j2, n1) != 0)
        die("encoding not reproducible", j2);

cleanup:
    free(j1);
    free(j2);
    chp_auditmsg_clear(&a);
    chp_auditmsg_clear(&b);
    free(in);
    return 0;
}
