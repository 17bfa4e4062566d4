/* auditmsg.c - the audit message (design.md §5) and its JSON codec.
 *
 * One table (auditmsg_field.h) lists every wire field once.  Encode walks
 * it in order, so the output is byte-for-byte reproducible; decode walks it
 * to look each field up, so the two directions can never disagree on a name
 * or a type.  docs/wire-format.md is the human-readable copy of this table.
 * The zero-copy fast decoder tried first is in auditmsg_fast.c. */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "auditmsg.h"
#include "auditmsg_field.h"
#include "conf.h"
#include "errstr.h"

/* Compact, fixed key order, and 17 significant digits so that every double
 * reads back bit-identical. */
#define DUMP_FLAGS                                                             \
    (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(17))

static const char *type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
        return "an integer";
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "something else";
}

/* Strict UTF-8 (RFC 3629: no overlongs, no surrogates, <= U+10FFFF), the
 * same set jansson accepts, so a string we pass it can only fail for lack
 * of memory. */
static bool utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;

    while (i < n) {
        unsigned c = s[i];
        size_t k;
        uint32_t cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xE0) == 0xC0) {
            k = 1, cp = c & 0x1F, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            k = 2, cp = c & 0x0F, min = 0x800;
        } else if ((c & 0xF8) == 0xF0) {
            k = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        if (n - i - 1 < k)
            return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += k + 1;
    }
    return true;
}

CHP_EXPORT void chp_auditmsg_init(chp_auditmsg_t *m)
{
    memset(m, 0, sizeof(*m));
}

CHP_EXPORT void chp_auditmsg_clear(chp_auditmsg_t *m)
{
    if (!m)
        return;
    chp_sketch_destroy(m->sketch);
    memset(m, 0, sizeof(*m));
}

/* ------------------------------------------------------------------ encode */

/* A JSON string of s[0..n), or NULL with *err set. */
static json_t *make_string(const char *s, size_t n, chp_err_t *err)
{
    json_t *v;

    if (!utf8_valid(s, n)) {
        *err = CHP_ERR_INVALID_ARG;
        return NULL;
    }
    v = json_stringn_nocheck(s, n);
    if (!v)
        *err = CHP_ERR_NOMEM;
    return v;
}

static json_t *encode_sketch(const chp_sketch_t *sk, chp_err_t *err)
{
    char stack[512];
    char *buf = stack;
    size_t need;
    json_t *v;

    need = chp_sketch_encode(sk, stack, sizeof(stack));
    if (need >= sizeof(stack)) {
        buf = malloc(need + 1);
        if (!buf) {
            *err = CHP_ERR_NOMEM;
            return NULL;
        }
        chp_sketch_encode(sk, buf, need + 1);
    }
    v = make_string(buf, need, err);
    if (buf != stack)
        free(buf);
    return v;
}

/* The JSON value of one field; NULL with *err == CHP_OK means "omit".
 * Refuses whatever decode would refuse, so encode OK => decode OK. */
static json_t *encode_value(const chp_auditmsg_t *m, const field_t *f,
                            chp_err_t *err)
{
    *err = CHP_OK;
    switch (f->kind) {
    case F_NAME:
    case F_UUID: {
        const char *s = CAT(m, f, char);
        size_t n = strnlen(s, str_cap(f));

        if (n == str_cap(f) || (f->required && n == 0))
            break;
        return make_string(s, n, err);
    }
    case F_TIME: {
        int64_t t = *CAT(m, f, int64_t);

        if (t < -TIME_LIMIT_S || t > TIME_LIMIT_S)
            break;
        return json_integer((json_int_t)t);
    }
    case F_COUNT: {
        uint64_t x = *CAT(m, f, uint64_t);

        if (x > (uint64_t)INT64_MAX)
            break;
        return json_integer((json_int_t)x);
    }
    case F_LATENCY: {
        double d = *CAT(m, f, double);

        if (!isfinite(d))
            break;
        return json_real(d);
    }
    case F_VERSION:
        return json_integer(CHP_AUDITMSG_VERSION);
    case F_SKETCH:
        if (!m->sketch)
            return NULL;
        return encode_sketch(m->sketch, err);
    }
    *err = CHP_ERR_INVALID_ARG;
    return NULL;
}

CHP_EXPORT chp_err_t chp_auditmsg_encode(const chp_auditmsg_t *m, char **json,
                                         size_t *len)
{
    json_t *root = NULL;
    char *out = NULL;
    size_t n;
    chp_err_t err = CHP_OK;

    if (json)
        *json = NULL;
    if (len)
        *len = 0;
    if (!m || !json || !len)
        return CHP_ERR_INVALID_ARG;
    if (m->time_end < m->time_begin)
        return CHP_ERR_INVALID_ARG;

    root = json_object();
    if (!root) {
        err = CHP_ERR_NOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < N_FIELDS; i++) {
        json_t *v = encode_value(m, &fields[i], &err);

        if (err != CHP_OK)
            goto cleanup;
        /* json_object_set_new takes v even when it fails. */
        if (v && json_object_set_new(root, fields[i].name, v) != 0) {
            err = CHP_ERR_NOMEM;
            goto cleanup;
        }
    }

    /* Dumped into our own malloc()ed buffer, so the caller's free() is
     * right even if someone swapped jansson's allocator. */
    n = json_dumpb(root, NULL, 0, DUMP_FLAGS);
    if (n == 0 || !(out = malloc(n + 1)) ||
        json_dumpb(root, out, n, DUMP_FLAGS) != n) {
        err = CHP_ERR_NOMEM;
        goto cleanup;
    }
    out[n] = '\0';
    *json = out;
    *len = n;
    out = NULL;

cleanup:
    free(out);
    json_decref(root);
    return err;
}

/* ------------------------------------------------------------------ decode */

/* An integer in [lo, hi].  Integral reals are accepted: the original
 * Chaperone writes every number through a double (1478311200.0). */
static chp_err_t decode_int(const json_t *v, const field_t *f, int64_t lo,
                            int64_t hi, int64_t *out, char *errstr,
                            size_t errstr_size)
{
    int64_t x;

    if (json_is_integer(v)) {
        x = json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);

        if (!isfinite(d) || d != floor(d))
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "field \"%s\": expected an integer, got %.15g",
                            f->name, d);
        /* [-2^63, 2^63) is exactly the doubles that convert to int64. */
        if (d < -0x1p63 || d >= 0x1p63)
            return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                            "field \"%s\": %.15g is out of range [%" PRId64
                            ", %" PRId64 "]",
                            f->name, d, lo, hi);
        x = (int64_t)d;
    } else {
        return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                        "field \"%s\": expected an integer, got %s", f->name,
                        type_name(v));
    }
    if (x < lo || x > hi)
        return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                        "field \"%s\": %" PRId64 " is out of range [%" PRId64
                        ", %" PRId64 "]",
                        f->name, x, lo, hi);
    *out = x;
    return CHP_OK;
}

static chp_err_t decode_string(const json_t *v, const field_t *f, char *dst,
                               char *errstr, size_t errstr_size)
{
    size_t n, cap = str_cap(f);

    if (!json_is_string(v))
        return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                        "field \"%s\": expected a string, got %s", f->name,
                        type_name(v));
    /* No embedded NUL is possible: we do not pass JSON_ALLOW_NUL. */
    n = json_string_length(v);
    if (n >= cap)
        return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                        "field \"%s\": %zu bytes long, at most %zu allowed",
                        f->name, n, cap - 1);
    if (n == 0 && f->required)
        return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                        "field \"%s\": must not be empty", f->name);
    memcpy(dst, json_string_value(v), n);
    dst[n] = '\0';
    return CHP_OK;
}

static chp_err_t decode_sketch(const json_t *v, const field_t *f,
                               chp_sketch_t **out, char *errstr,
                               size_t errstr_size)
{
    char why[256] = "";
    chp_sketch_t *sk;
    chp_err_t err;

    if (!json_is_string(v))
        return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                        "field \"%s\": expected a string, got %s", f->name,
                        type_name(v));
    sk = chp_sketch_new();
    if (!sk)
        return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM,
                        "field \"%s\": out of memory", f->name);
    err = chp_sketch_decode(sk, json_string_value(v), json_string_length(v),
                            why, sizeof(why));
    if (err != CHP_OK) {
        chp_sketch_destroy(sk);
        return chp_errf(errstr, errstr_size,
                        err == CHP_ERR_NOMEM ? err : CHP_ERR_PARSE,
                        "field \"%s\": %s", f->name, why);
    }
    *out = sk;
    return CHP_OK;
}

static chp_err_t decode_field(const json_t *root, const field_t *f,
                              chp_auditmsg_t *m, char *errstr,
                              size_t errstr_size)
{
    const json_t *v = json_object_get(root, f->name);
    int64_t x = 0;
    chp_err_t err;

    /* null is how the original writes a value it does not have (fastjson
     * turns NaN into null), so it means "absent". */
    if (!v || json_is_null(v)) {
        if (f->required)
            return chp_errf(errstr, errstr_size, CHP_ERR_PARSE,
                            "field \"%s\": required field missing", f->name);
        return CHP_OK;
    }

    switch (f->kind) {
    case F_NAME:
    case F_UUID:
        return decode_string(v, f, AT(m, f, char), errstr, errstr_size);
    case F_TIME:
        err = decode_int(v, f, -TIME_LIMIT_S, TIME_LIMIT_S, &x, errstr,
                         errstr_size);
        if (err == CHP_OK)
            *AT(m, f, int64_t) = x;
        return err;
    case F_COUNT:
        err = decode_int(v, f, 0, INT64_MAX, &x, errstr, errstr_size);
        if (err == CHP_OK)
            *AT(m, f, uint64_t) = (uint64_t)x;
        return err;
    case F_VERSION:
        err = decode_int(v, f, 0, INT_MAX, &x, errstr, errstr_size);
        if (err == CHP_OK)
            *AT(m, f, int) = (int)x;
        return err;
    case F_LATENCY:
        if (!json_is_number(v))
            return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                            "field \"%s\": expected a number, got %s", f->name,
                            type_name(v));
        *AT(m, f, double) = json_number_value(v);
        return CHP_OK;
    case F_SKETCH:
        return decode_sketch(v, f, &m->sketch, errstr, errstr_size);
    }
    return CHP_OK;
}

/* timeEndInSec: the original always sends it; when absent the bucket is
 * taken to have the default width.  An end before the beginning is no
 * bucket at all. */
static chp_err_t check_time_end(const json_t *root, chp_auditmsg_t *m,
                                char *errstr, size_t errstr_size)
{
    const json_t *v = json_object_get(root, "timeEndInSec");

    if (!v || json_is_null(v)) {
        if (m->time_begin > TIME_LIMIT_S - CHP_BUCKET_SECONDS_DEFAULT)
            return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                            "field \"timeEndInSec\": missing, and "
                            "timeBeginInSec + %d is out of range",
                            CHP_BUCKET_SECONDS_DEFAULT);
        m->time_end = m->time_begin + CHP_BUCKET_SECONDS_DEFAULT;
    } else if (m->time_end < m->time_begin) {
        return chp_errf(errstr, errstr_size, CHP_ERR_RANGE,
                        "field \"timeEndInSec\": %" PRId64
                        " is before timeBeginInSec %" PRId64,
                        m->time_end, m->time_begin);
    }
    return CHP_OK;
}

chp_err_t chp_auditmsg_decode_full(chp_auditmsg_t *m, const char *json,
                                   size_t len, char *errstr, size_t errstr_size)
{
    json_t *root = NULL;
    json_error_t jerr;
    chp_err_t err = CHP_OK;

    if (!m || (!json && len > 0))
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "audit message: no message or no input");
    chp_auditmsg_clear(m);
    if (!json)
        json = "";

    /* Duplicate keys are refused: parsers disagree on which one wins, and
     * an audit count must not depend on that. */
    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        err = json_error_code(&jerr) == json_error_out_of_memory
                  ? CHP_ERR_NOMEM
                  : CHP_ERR_PARSE;
        chp_errf(errstr, errstr_size, err,
                 "audit message: invalid JSON at line %d, column %d "
                 "(byte %d): %s",
                 jerr.line, jerr.column, jerr.position, jerr.text);
        goto cleanup;
    }
    if (!json_is_object(root)) {
        err = chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                       "audit message: expected a JSON object, got %s",
                       type_name(root));
        goto cleanup;
    }
    for (size_t i = 0; i < N_FIELDS; i++) {
        err = decode_field(root, &fields[i], m, errstr, errstr_size);
        if (err != CHP_OK)
            goto cleanup;
    }
    err = check_time_end(root, m, errstr, errstr_size);

cleanup:
    json_decref(root);
    if (err != CHP_OK)
        chp_auditmsg_clear(m);
    return err;
}

CHP_EXPORT chp_err_t chp_auditmsg_decode(chp_auditmsg_t *m, const char *json,
                                         size_t len, char *errstr,
                                         size_t errstr_size)
{
    if (!m || (!json && len > 0))
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "audit message: no message or no input");
    chp_auditmsg_clear(m);
    if (chp_auditmsg_decode_fast(m, json, len))
        return CHP_OK;
    return chp_auditmsg_decode_full(m, json, len, errstr, errstr_size);
}
