/* Fuzz target: the JSON timestamp scanner and a rule list over it
 * (docs/timestamps.md).  Besides "never crash, never read past len", it
 * checks the scanner against jansson: a document jansson accepts as an
 * object is never malformed, and without a top-level "ts"/"timestamp" key
 * (any case) it is noTime; and the AVX-512, AVX2, SSE2 and portable block
 * scans agree. */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "tsx.h"

/* The portable copy of the scanner (tests/support/tsx_portable.c): its
 * answers must be identical to the library's AVX-512, AVX2 and SSE2 ones. */
#include "tsx_portable.h"

static const char *const names[] = {"ts", "timestamp"};

typedef struct {
    const char *data;
    size_t size;
} input_t;

static void die(const char *what, const char *data, size_t size)
{
    fprintf(stderr, "fuzz_tsx: %s (%zu bytes): %.*s\n", what, size,
            (int)(size > 300 ? 300 : size), data);
    abort();
}

/* Every header lookup answers with the whole input. */
static bool header(void *opaque, const char *name, const void **val,
                   size_t *len)
{
    const input_t *in = opaque;

    (void)name;
    *val = in->data;
    *len = in->size;
    return true;
}

static bool has_ts_key(json_t *obj)
{
    const char *key;
    json_t *v;

    json_object_foreach(obj, key, v)
    {
        (void)v;
        if (strcasecmp(key, "ts") == 0 || strcasecmp(key, "timestamp") == 0)
            return true;
    }
    return false;
}

static void check_jansson(const char *buf, size_t size, chp_ts_result_t r)
{
    json_error_t err;
    json_t *j;

    /* jansson skips raw NUL bytes between tokens; RFC 8259 (and the
     * scanner) do not. */
    if (memchr(buf, '\0', size))
        return;
    j = json_loadb(buf, size, 0, &err);
    if (!j)
        return; /* jansson is stricter (UTF-8, literals, numbers): no claim */
    if (!json_is_object(j)) {
        if (r != CHP_TS_MALFORMED)
            die("a JSON array was not malformed", buf, size);
    } else {
        if (r == CHP_TS_MALFORMED)
            die("valid JSON object reported malformed", buf, size);
        if (!has_ts_key(j) && r != CHP_TS_MISSING)
            die("timestamp found without a matching key", buf, size);
    }
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static chp_tsx_t *json_first, *header_first;
    /* Exactly size bytes and no terminator, as a Kafka record value is:
     * ASan reports any read past the end. */
    char *buf = malloc(size ? size : 1);
    chp_msg_view_t msg = {0};
    input_t in;
    int64_t ms = 0, ms2 = 0;
    chp_ts_result_t r, r2;
    char errstr[256];

    if (!buf)
        return 0;
    if (!json_first &&
        (chp_tsx_new("json,kafka", NULL, &json_first, errstr, sizeof(errstr)) !=
             CHP_OK ||
         chp_tsx_new("header:x-ts, json", "timestamp,ts", &header_first, errstr,
                     sizeof(errstr)) != CHP_OK))
        die("chp_tsx_new failed", errstr, strlen(errstr));
    memcpy(buf, data, size);

    r = chp_tsx_scan_json(buf, size, names, 2, &ms);
    check_jansson(buf, size, r);
    r2 = portable_scan_json(buf, size, names, 2, &ms2);
    if (r2 != r || (r == CHP_TS_FOUND && ms2 != ms))
        die("portable scanner disagrees", buf, size);
    chp_tsx_no_avx2 = 1;
    r2 = chp_tsx_scan_json(buf, size, names, 2, &ms2);
    chp_tsx_no_avx2 = 0;
    if (r2 != r || (r == CHP_TS_FOUND && ms2 != ms))
        die("SSE2 scanner disagrees", buf, size);
    chp_tsx_no_avx512 = 1;
    r2 = chp_tsx_scan_json(buf, size, names, 2, &ms2);
    chp_tsx_no_avx512 = 0;
    if (r2 != r || (r == CHP_TS_FOUND && ms2 != ms))
        die("AVX2 scanner disagrees", buf, size);

    /* The rule lists agree with the bare scanner. */
    in.data = buf;
    in.size = size;
    msg.value = buf;
    msg.value_len = size;
    msg.kafka_ts_ms = -1;
    r2 = chp_tsx_extract(json_first, &msg, 0, &ms2);
    if (r2 != r || (r == CHP_TS_FOUND && ms2 != ms))
        die("json rule disagrees with the scanner", buf, size);
    msg.header = header;
    msg.header_opaque = &in;
    r2 = chp_tsx_extract(header_first, &msg, 0, &ms2);
    if (r2 != CHP_TS_FOUND && r2 != r)
        die("header,json rules disagree with the scanner", buf, size);

    free(buf);
    return 0;
}
