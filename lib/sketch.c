/* sketch.c - mergeable latency sketch (DDSketch-style) and its compact text
 * encoding.  Layout and grammar: docs/sketch.md. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sketch.h"

/* The one encoding version this file writes and reads. */
#define SKETCH_VERSION 1

/* Numbers: zero or more continuation letters (bijective base 26, 'a' = 1)
 * then one terminal digit (base 36), so numbers need no separator.  Both
 * alphabets are alphanumeric: nothing to escape in JSON, URLs or SQL. */
#define TERM_BASE 36
#define CONT_BASE 26
static const char term_digits[TERM_BASE + 1] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

#define SEP  '.' /* between the header fields */
#define SKIP '~' /* "~n": the next n bins are empty */

CHP_EXPORT chp_sketch_t *chp_sketch_new(void)
{
    return calloc(1, sizeof(chp_sketch_t));
}

CHP_EXPORT void chp_sketch_destroy(chp_sketch_t *sk)
{
    free(sk);
}

CHP_EXPORT void chp_sketch_reset(chp_sketch_t *sk)
{
    memset(sk, 0, sizeof(*sk));
}

CHP_EXPORT chp_sketch_t *chp_sketch_dup(const chp_sketch_t *sk)
{
    chp_sketch_t *dup = malloc(sizeof(*dup));

    if (dup)
        memcpy(dup, sk, sizeof(*dup));
    return dup;
}

CHP_EXPORT void chp_sketch_add(chp_sketch_t *sk, int64_t latency_ms, uint64_t n)
{
    if (n == 0)
        return; /* no observation, so it must not move max either */
    if (latency_ms < 0) {
        sk->negative += n;
        return;
    }
    if (latency_ms > sk->max)
        sk->max = latency_ms;
    if (latency_ms == 0)
        sk->zero += n;
    else
        sk->bins[chp_sketch_bin(latency_ms)] += n;
}

CHP_EXPORT void chp_sketch_merge(chp_sketch_t *dst, const chp_sketch_t *src)
{
    size_t i;

    dst->zero += src->zero;
    dst->negative += src->negative;
    if (src->max > dst->max)
        dst->max = src->max;
    for (i = 0; i < CHP_SKETCH_NBINS; i++)
        dst->bins[i] += src->bins[i];
}

CHP_EXPORT uint64_t chp_sketch_count(const chp_sketch_t *sk)
{
    uint64_t n = sk->zero;
    size_t i;

    for (i = 0; i < CHP_SKETCH_NBINS; i++)
        n += sk->bins[i];
    return n;
}

CHP_EXPORT uint64_t chp_sketch_negative_count(const chp_sketch_t *sk)
{
    return sk->negative;
}

CHP_EXPORT int64_t chp_sketch_max(const chp_sketch_t *sk)
{
    return sk->max > 0 ? sk->max : 0;
}

/* Largest latency of bin i.  The last bin's natural end: it also holds the
 * clamped values above it, for which no bound is promised. */
static int64_t bin_hi(size_t i)
{
    if (i + 1 < CHP_SKETCH_NBINS)
        return chp_sketch_bin_lo[i + 1] - 1;
    return (101 * chp_sketch_bin_lo[i] - 1) / 99;
}

/* The value of bin i closest, in relative terms, to all its members: the
 * harmonic mean of its ends, off by (hi-lo)/(hi+lo) < 1% at either end.
 * The exact max replaces it when max lies in the bin and is smaller (always
 * closer) or when the rank is the last one (then it is the answer). */
static double bin_value(const chp_sketch_t *sk, size_t i, bool last_rank)
{
    double lo = (double)chp_sketch_bin_lo[i];
    double hi = (double)bin_hi(i);
    double v = 2.0 * lo * hi / (lo + hi);

    if (sk->max >= chp_sketch_bin_lo[i] && (last_rank || v > (double)sk->max))
        v = (double)sk->max;
    return v;
}

CHP_EXPORT double chp_sketch_quantile(const chp_sketch_t *sk, double q)
{
    uint64_t n = chp_sketch_count(sk);
    uint64_t rank, seen;
    double r;
    size_t i;

    if (n == 0)
        return 0.0;
    if (!(q > 0.0)) /* also NaN */
        q = 0.0;
    if (q > 1.0)
        q = 1.0;
    /* DDSketch's convention: the element of rank floor(q * (n - 1)). */
    r = q * (double)(n - 1);
    /* (double)(n - 1) rounds up for huge n, up to 2^64: no longer a uint64 */
    rank = r < 18446744073709551616.0 ? (uint64_t)r : UINT64_MAX;
    if (rank > n - 1)
        rank = n - 1;
    seen = sk->zero;
    if (rank < seen)
        return 0.0;
    for (i = 0; i < CHP_SKETCH_NBINS; i++) {
        seen += sk->bins[i];
        if (rank < seen)
            return bin_value(sk, i, rank == n - 1);
    }
    return (double)chp_sketch_max(sk); /* unreachable: rank < n */
}

/* Several quantiles in one pass: the count once, then one walk over the
 * bins for all ranks (chp_sketch_quantile walks up to twice per quantile).
 * Same answers as chp_sketch_quantile, q by q; q must be ascending (else
 * each is asked on its own). */
uint64_t chp_sketch_quantiles(const chp_sketch_t *sk, const double *q,
                              size_t nq, double *out)
{
    uint64_t n = chp_sketch_count(sk);
    uint64_t seen;
    size_t i, k;

    for (k = 1; k < nq; k++)
        if (!(q[k] >= q[k - 1])) {
            for (k = 0; k < nq; k++)
                out[k] = chp_sketch_quantile(sk, q[k]);
            return n;
        }
    if (n == 0) {
        for (k = 0; k < nq; k++)
            out[k] = 0.0;
        return n;
    }
    k = 0;
    seen = sk->zero;
    for (i = 0; k < nq && i <= CHP_SKETCH_NBINS; i++) {
        if (i > 0) {
            seen += sk->bins[i - 1];
            if (sk->bins[i - 1] == 0)
                continue;
        }
        while (k < nq) {
            double qk = q[k], r;
            uint64_t rank;

            if (!(qk > 0.0))
                qk = 0.0;
            if (qk > 1.0)
                qk = 1.0;
            r = qk * (double)(n - 1);
            rank = r < 18446744073709551616.0 ? (uint64_t)r : UINT64_MAX;
            if (rank > n - 1)
                rank = n - 1;
            if (rank >= seen)
                break;
            out[k++] = i == 0 ? 0.0 : bin_value(sk, i - 1, rank == n - 1);
        }
    }
    for (; k < nq; k++) /* unreachable: every rank < n */
        out[k] = (double)chp_sketch_max(sk);
    return n;
}

/* ------------------------------------------------------------------------
 * Encoding
 * ------------------------------------------------------------------------ */

/* snprintf-style output: counts every byte, stores those that fit. */
typedef struct writer {
    char *buf;
    size_t size;
    size_t len;
} writer_t;

static void put_char(writer_t *w, char c)
{
    if (w->len + 1 < w->size)
        w->buf[w->len] = c;
    w->len++;
}

static void put_num(writer_t *w, uint64_t v)
{
    char letters[16]; /* UINT64_MAX / 36 needs 13 letters */
    size_t k = sizeof(letters);
    uint64_t p = v / TERM_BASE;

    /* Bijective digits (1..26) make every number's spelling unique without
     * a "no leading zero" rule to check. */
    while (p > 0) {
        p--;
        letters[--k] = (char)('a' + p % CONT_BASE);
        p /= CONT_BASE;
    }
    for (; k < sizeof(letters); k++)
        put_char(w, letters[k]);
    put_char(w, term_digits[v % TERM_BASE]);
}

/* put_num without the bounds checks, for a buffer known to be large
 * enough; the same spelling. */
static char *put_num_fast(char *o, uint64_t v)
{
    if (v < TERM_BASE) {
        *o++ = term_digits[v];
        return o;
    }
    if (v < TERM_BASE * (CONT_BASE + 1)) {
        *o++ = (char)('a' + v / TERM_BASE - 1);
        *o++ = term_digits[v % TERM_BASE];
        return o;
    }
    writer_t w = {o, SIZE_MAX, 0};

    put_num(&w, v);
    return o + w.len;
}

/* The encoder for a buffer of CHP_SKETCH_ENCODE_MAX + 1 or more bytes (the
 * collector's and the tracker's case): no check per byte, and empty bins
 * skipped four at a time.  Its output is byte-for-byte the general path's
 * (tests/unit/test_sketch pins encodings and compares the two). */
static size_t encode_fast(const chp_sketch_t *sk, char *buf)
{
    char *o = buf;
    size_t i = 0, next = 0;

    o = put_num_fast(o, SKETCH_VERSION);
    *o++ = SEP;
    o = put_num_fast(o, sk->zero);
    *o++ = SEP;
    o = put_num_fast(o, sk->negative);
    *o++ = SEP;
    o = put_num_fast(o, (uint64_t)chp_sketch_max(sk));
    *o++ = SEP;
    while (i < CHP_SKETCH_NBINS) {
        if (i + 4 <= CHP_SKETCH_NBINS &&
            (sk->bins[i] | sk->bins[i + 1] | sk->bins[i + 2] |
             sk->bins[i + 3]) == 0) {
            i += 4;
            continue;
        }
        if (sk->bins[i] == 0) {
            i++;
            continue;
        }
        if (i - next == 1) {
            *o++ = term_digits[0];
        } else if (i - next > 1) {
            *o++ = SKIP;
            o = put_num_fast(o, i - next);
        }
        o = put_num_fast(o, sk->bins[i]);
        next = ++i;
    }
    *o = '\0';
    return (size_t)(o - buf);
}

CHP_EXPORT size_t chp_sketch_encode(const chp_sketch_t *sk, char *buf,
                                    size_t size)
{
    writer_t w = {buf, size, 0};
    size_t i, next = 0;

    if (buf && size > CHP_SKETCH_ENCODE_MAX)
        return encode_fast(sk, buf);
    put_num(&w, SKETCH_VERSION);
    put_char(&w, SEP);
    put_num(&w, sk->zero);
    put_char(&w, SEP);
    put_num(&w, sk->negative);
    put_char(&w, SEP);
    put_num(&w, (uint64_t)chp_sketch_max(sk));
    put_char(&w, SEP);
    for (i = 0; i < CHP_SKETCH_NBINS; i++) {
        if (sk->bins[i] == 0)
            continue;
        /* One empty bin is cheapest as a 0 count, longer gaps as a skip. */
        if (i - next == 1) {
            put_num(&w, 0);
        } else if (i - next > 1) {
            put_char(&w, SKIP);
            put_num(&w, i - next);
        }
        put_num(&w, sk->bins[i]);
        next = i + 1;
    }
    if (size > 0)
        buf[w.len < size ? w.len : size - 1] = '\0';
    return w.len;
}

/* ------------------------------------------------------------------------
 * Decoding: every read is checked against len; the input has no NUL.
 * ------------------------------------------------------------------------ */

typedef struct reader {
    const char *s;
    size_t len;
    size_t pos;
    char *errstr;
    size_t errstr_size;
} reader_t;

static chp_err_t reader_error(reader_t *r, chp_err_t err, const char *what)
{
    if (r->errstr && r->errstr_size > 0)
        snprintf(r->errstr, r->errstr_size, "latency sketch: %s at offset %zu",
                 what, r->pos);
    return err;
}

static int term_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'Z')
        return c - 'A' + 10;
    return -1;
}

static chp_err_t get_num(reader_t *r, uint64_t *v)
{
    uint64_t p = 0;
    int t;

    while (r->pos < r->len && r->s[r->pos] >= 'a' && r->s[r->pos] <= 'z') {
        uint64_t d = (uint64_t)(r->s[r->pos] - 'a' + 1);

        if (p > (UINT64_MAX - d) / CONT_BASE)
            return reader_error(r, CHP_ERR_RANGE, "number too large");
        p = p * CONT_BASE + d;
        r->pos++;
    }
    if (r->pos == r->len)
        return reader_error(r, CHP_ERR_PARSE, "truncated number");
    t = term_value(r->s[r->pos]);
    if (t < 0)
        return reader_error(r, CHP_ERR_PARSE, "bad digit");
    if (p > (UINT64_MAX - (uint64_t)t) / TERM_BASE)
        return reader_error(r, CHP_ERR_RANGE, "number too large");
    *v = p * TERM_BASE + (uint64_t)t;
    r->pos++;
    return CHP_OK;
}

static chp_err_t get_sep(reader_t *r)
{
    if (r->pos == r->len)
        return reader_error(r, CHP_ERR_PARSE, "truncated header");
    if (r->s[r->pos] != SEP)
        return reader_error(r, CHP_ERR_PARSE, "expected '.'");
    r->pos++;
    return CHP_OK;
}

/* Header: version '.' zero '.' negative '.' max '.' */
static chp_err_t get_header(reader_t *r, chp_sketch_t *sk)
{
    uint64_t version, max;
    uint64_t *fields[3] = {&sk->zero, &sk->negative, &max};
    chp_err_t err;
    size_t i;

    if (r->len == 0)
        return reader_error(r, CHP_ERR_PARSE, "empty input");
    if ((err = get_num(r, &version)) != CHP_OK)
        return err;
    if (version != SKETCH_VERSION) {
        r->pos = 0;
        return reader_error(r, CHP_ERR_PARSE, "unsupported encoding version");
    }
    for (i = 0; i < 3; i++) {
        if ((err = get_sep(r)) != CHP_OK ||
            (err = get_num(r, fields[i])) != CHP_OK)
            return err;
    }
    if (max > (uint64_t)INT64_MAX)
        return reader_error(r, CHP_ERR_RANGE, "max out of range");
    sk->max = (int64_t)max;
    return get_sep(r);
}

/* Bins: ["~" gap] count, repeated to the end of the input. */
static chp_err_t get_bins(reader_t *r, chp_sketch_t *sk)
{
    uint64_t total = sk->zero, gap, n;
    size_t next = 0;
    chp_err_t err;

    while (r->pos < r->len) {
        if (r->s[r->pos] == SKIP) {
            r->pos++;
            if ((err = get_num(r, &gap)) != CHP_OK)
                return err;
            if (gap == 0)
                return reader_error(r, CHP_ERR_PARSE, "empty skip");
            if (gap >= CHP_SKETCH_NBINS - next)
                return reader_error(r, CHP_ERR_RANGE, "bin index out of range");
            next += (size_t)gap;
            if (r->pos == r->len)
                return reader_error(r, CHP_ERR_PARSE, "skip without a count");
        }
        if (next >= CHP_SKETCH_NBINS)
            return reader_error(r, CHP_ERR_RANGE, "bin index out of range");
        if ((err = get_num(r, &n)) != CHP_OK)
            return err;
        if (n > UINT64_MAX - total)
            return reader_error(r, CHP_ERR_RANGE, "counts overflow");
        total += n;
        sk->bins[next++] = n;
    }
    /* Consumers add the two counts for a message total. */
    if (sk->negative > UINT64_MAX - total)
        return reader_error(r, CHP_ERR_RANGE, "counts overflow");
    return CHP_OK;
}

CHP_EXPORT chp_err_t chp_sketch_decode(chp_sketch_t *sk, const char *s,
                                       size_t len, char *errstr,
                                       size_t errstr_size)
{
    reader_t r = {s, s ? len : 0, 0, errstr, errstr_size};
    chp_err_t err;

    chp_sketch_reset(sk);
    if ((err = get_header(&r, sk)) != CHP_OK ||
        (err = get_bins(&r, sk)) != CHP_OK)
        goto fail;
    return CHP_OK;

fail:
    chp_sketch_reset(sk);
    return err;
}
