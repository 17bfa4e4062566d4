/* tsx_json.c - the JSON timestamp scanner (design.md §4): single pass, no
 * allocation, no DOM.  It runs on every audited message, so it walks the
 * top-level object key by key and skips nested values with a 64-byte-block
 * bit scan (SSE2, or AVX2 when the CPU has it).  What is and is not
 * validated is written down in docs/timestamps.md.
 *
 * CHP_TSX_NO_SIMD (portable code only), CHP_TSX_NO_AVX2 and chp_tsx_no_avx2
 * exist so that tests can exercise every variant of the block scan on one
 * machine. */
#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(CHP_TSX_NO_SIMD)
#include <immintrin.h>
#define TSX_SSE2 1
#if !defined(CHP_TSX_NO_AVX2)
#define TSX_AVX2 1
#endif
#elif defined(__SSE2__) && !defined(CHP_TSX_NO_SIMD)
#include <emmintrin.h>
#define TSX_SSE2 1
#endif

#include "tsx.h"
#include "tsx_num.h"

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

/* JSON whitespace (space, tab, LF, CR) by a shift and a mask rather than a
 * table load: the scanner is a chain of dependent loads, each one counts. */
#define WS_BITS                                                                \
    (((uint64_t)1 << ' ') | ((uint64_t)1 << '\t') | ((uint64_t)1 << '\n') |    \
     ((uint64_t)1 << '\r'))

static inline bool is_ws(char c)
{
    unsigned u = (unsigned char)c;

    return u <= ' ' && ((WS_BITS >> u) & 1);
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p))
        p++;
    return p;
}

static inline unsigned char ascii_lower(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

bool chp_tsx_parse_number(const char *s, size_t len, double *out)
{
    const char *p, *end;
    decnum_t d;

    if (!s || len == 0)
        return false;
    end = s + len;
    p = skip_ws(s, end);
    p = num_scan(p, end, &d);
    if (!p || skip_ws(p, end) != end)
        return false;
    *out = dec_to_double(&d);
    return true;
}

/* ------------------------------------------------------------------------
 * Skipping strings and nested values, 64 bytes at a time: one bit per byte
 * for quotes, backslashes and brackets, then bit tricks for escapes and
 * string interiors (the approach of simdjson's first stage).
 * ------------------------------------------------------------------------ */

#if defined(TSX_SSE2)
/* One 16-byte lane of block_masks. */
static inline void lane_masks(const char *b, uint64_t *q, uint64_t *s,
                              uint64_t *k, int shift)
{
    const __m128i v = _mm_loadu_si128((const __m128i *)(const void *)b);
    /* '[' | 0x20 == '{' and ']' | 0x20 == '}', and no other byte maps
     * there, so two compares find all four brackets. */
    const __m128i f = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i br = _mm_or_si128(_mm_cmpeq_epi8(f, _mm_set1_epi8('{')),
                                    _mm_cmpeq_epi8(f, _mm_set1_epi8('}')));

    *q |= (uint64_t)(uint32_t)_mm_movemask_epi8(
              _mm_cmpeq_epi8(v, _mm_set1_epi8('"')))
          << shift;
    *s |= (uint64_t)(uint32_t)_mm_movemask_epi8(
              _mm_cmpeq_epi8(v, _mm_set1_epi8('\\')))
          << shift;
    *k |= (uint64_t)(uint32_t)_mm_movemask_epi8(br) << shift;
}

/* Bit i of *quote / *bslash / *brack is set when b[i] is '"' / '\\' /
 * one of "{}[]".  b holds 64 readable bytes. */
static inline void block_masks(const char *b, uint64_t *quote, uint64_t *bslash,
                               uint64_t *brack)
{
    uint64_t q = 0, s = 0, k = 0;

    /* Unrolled by hand: -O2 keeps a 4-trip loop with variable shifts. */
    lane_masks(b, &q, &s, &k, 0);
    lane_masks(b + 16, &q, &s, &k, 16);
    lane_masks(b + 32, &q, &s, &k, 32);
    lane_masks(b + 48, &q, &s, &k, 48);
    *quote = q;
    *bslash = s;
    *brack = k;
}
#else
/* Classes of the bytes the portable block scan looks for. */
enum { K_QUOTE = 1, K_BSLASH = 2, K_BRACK = 4 };

static const unsigned char cls[256] = {
    ['"'] = K_QUOTE, ['\\'] = K_BSLASH, ['{'] = K_BRACK,
    ['}'] = K_BRACK, ['['] = K_BRACK,   [']'] = K_BRACK,
};

static inline void block_masks(const char *b, uint64_t *quote, uint64_t *bslash,
                               uint64_t *brack)
{
    uint64_t q = 0, s = 0, k = 0;

    for (int i = 0; i < 64; i++) {
        unsigned c = cls[(unsigned char)b[i]];

        q |= (uint64_t)((c & K_QUOTE) != 0) << i;
        s |= (uint64_t)((c & K_BSLASH) != 0) << i;
        k |= (uint64_t)((c & K_BRACK) != 0) << i;
    }
    *quote = q;
    *bslash = s;
    *brack = k;
}
#endif

#define EVEN_BITS 0x5555555555555555ULL
#define ODD_BITS  0xAAAAAAAAAAAAAAAAULL

/* Bit i set when b[i] is escaped, i.e. follows an odd run of backslashes.
 * *carry says whether bit 0 is escaped by the previous block and receives
 * the same for the next one.  Adding a run's first bit to the run carries
 * into the byte just after it; a run that starts on an even bit has odd
 * length exactly when that byte is on an odd bit, and vice versa. */
static inline uint64_t escaped_mask(uint64_t bs, uint64_t *carry)
{
    uint64_t cin = *carry;
    uint64_t b = bs & ~cin; /* an escaped backslash starts no run */
    uint64_t starts = b & ~(b << 1);
    uint64_t even_ends = (b + (starts & EVEN_BITS)) & ~b;
    uint64_t odd_sum = b + (starts & ODD_BITS);

    /* Only a run starting on an odd bit and reaching bit 63 is odd. */
    *carry = odd_sum < b;
    return (even_ends & ODD_BITS) | (odd_sum & ~b & EVEN_BITS) | cin;
}

/* Bit i set when an odd number of bits at positions <= i are set in x:
 * applied to the quote mask it marks string interiors (opening quote
 * included, closing quote excluded). */
static inline uint64_t prefix_xor(uint64_t x)
{
    x ^= x << 1;
    x ^= x << 2;
    x ^= x << 4;
    x ^= x << 8;
    x ^= x << 16;
    x ^= x << 32;
    return x;
}

static inline unsigned ctz64(uint64_t x)
{
    return (unsigned)__builtin_ctzll(x);
}

/* s is the first byte after an opening quote.  Returns the closing quote or
 * NULL if the string is unterminated. */
static const char *str_end(const char *s, const char *end)
{
    uint64_t esc = 0;

#if defined(TSX_SSE2)
    /* Most strings (keys above all) are short and have no escapes: one
     * 16-byte compare settles them. */
    if ((size_t)(end - s) >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)s);
        unsigned q =
            (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')));
        unsigned bs =
            (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')));

        if (q && (bs & ((q & (0u - q)) - 1)) == 0)
            return s + __builtin_ctz(q);
    }
#endif
    while ((size_t)(end - s) >= 64) {
        uint64_t q, bs, br;

        block_masks(s, &q, &bs, &br);
        if (bs | esc)
            q &= ~escaped_mask(bs, &esc);
        if (q)
            return s + ctz64(q);
        s += 64;
    }
    /* Short rest: memchr, then count the backslashes before the quote. */
    {
        const char *p = s;

        if (esc) {
            if (p == end)
                return NULL;
            p++;
        }
        for (;;) {
            const char *q = memchr(p, '"', (size_t)(end - p));
            const char *b;

            if (!q)
                return NULL;
            b = q;
            while (b > p && b[-1] == '\\')
                b--;
            /* Counting stops at p: a run carried over from the last block
             * was even (only its parity matters) or ended at the escaped
             * byte just before p. */
            if (((q - b) & 1) == 0)
                return q;
            p = q + 1;
        }
    }
}

/* State of one nested-value skip. */
typedef struct {
    /* stack[d] holds the opening bracket of level d.  '{' '}' differ from
     * '[' ']' in bit 5 only, and opening brackets have bit 1 set, closing
     * ones clear: so brackets need no data-dependent branch (which would
     * mispredict on every other bracket). */
    unsigned char stack[CHP_TSX_MAX_DEPTH + 1];
    size_t depth;
    unsigned bad;    /* a closing bracket did not match */
    uint64_t in_str; /* all ones when the previous block ended in a string */
    uint64_t esc;    /* bit 0 of the next block is escaped */
} skip_t;

/* Loads the block at p into *tail if fewer than 64 bytes remain, so that
 * nothing past end is ever read.  Returns the bytes to scan. */
static inline const char *block_at(const char *p, size_t n, char *tail)
{
    if (n >= 64)
        return p;
    memcpy(tail, p, n);
    memset(tail + n, 0, 64 - n);
    return tail;
}

/* Processes one block after its masks are known; instr marks string
 * interiors.  Returns 1 to go on, 0 when the outermost container closed at
 * b[*at], -1 when the value is malformed. */
static inline __attribute__((always_inline)) int
skip_block(skip_t *st, const char *b, uint64_t bs, uint64_t br, uint64_t instr,
           unsigned *at_out)
{
    uint64_t ev;

    st->in_str = (uint64_t)0 - (instr >> 63);
    if (bs & ~instr)
        return -1; /* a backslash outside any string */
    ev = br & ~instr;
    while (ev) {
        unsigned i = ctz64(ev);
        unsigned c = (unsigned char)b[i];
        unsigned open = (c >> 1) & 1;
        size_t at = st->depth - 1 + open; /* slot pushed or popped */

        ev &= ev - 1;
        /* For a push the old slot content is ignored (masked out). */
        st->bad |= (st->stack[at] ^ c) & 0x20 & (open - 1);
        st->stack[at] = (unsigned char)c;
        st->depth = at + open;
        if (st->depth - 1 >= CHP_TSX_MAX_DEPTH) { /* 0, or too deep */
            *at_out = i;
            return st->depth == 0 && !st->bad ? 0 : -1;
        }
    }
    return 1;
}

/* p points at '{' or '[' (so the first bracket seen is an opening one and
 * depth never goes below 0).  Returns the byte after the matching close, or
 * NULL if the value is truncated, its brackets do not match, a string in it
 * is unterminated or a backslash appears outside a string.  Scalars, colons
 * and commas inside are not checked: this is the hot loop. */
static const char *skip_generic(const char *p, const char *end)
{
    skip_t st;

    st.depth = 0;
    st.bad = 0;
    st.in_str = st.esc = 0;
    for (;;) {
        size_t n = (size_t)(end - p);
        char tail[64];
        const char *b;
        uint64_t q, bs, br;
        unsigned i = 0;
        int r;

        if (n == 0)
            return NULL;
        b = block_at(p, n, tail);
        block_masks(b, &q, &bs, &br);
        if (bs | st.esc) /* rare: most blocks hold no backslash */
            q &= ~escaped_mask(bs, &st.esc);
        r = skip_block(&st, b, bs, br, prefix_xor(q) ^ st.in_str, &i);
        if (r <= 0)
            return r == 0 ? p + i + 1 : NULL;
        if (n <= 64)
            return NULL;
        p += 64;
    }
}

#if defined(TSX_AVX2)
/* The same loop with AVX2 compares, a carry-less multiply for the prefix
 * XOR and BMI bit operations: about half the instructions per block.
 * Chosen at run time, since the library is built for baseline x86-64. */
__attribute__((target("avx2,pclmul,bmi"))) static inline void
block_masks_avx2(const char *b, uint64_t *quote, uint64_t *bslash,
                 uint64_t *brack)
{
    const __m256i lo = _mm256_loadu_si256((const __m256i *)(const void *)b);
    const __m256i hi =
        _mm256_loadu_si256((const __m256i *)(const void *)(b + 32));
    const __m256i x20 = _mm256_set1_epi8(0x20);
    const __m256i vq = _mm256_set1_epi8('"'), vb = _mm256_set1_epi8('\\');
    const __m256i vo = _mm256_set1_epi8('{'), vc = _mm256_set1_epi8('}');
    __m256i flo = _mm256_or_si256(lo, x20), fhi = _mm256_or_si256(hi, x20);

    *quote = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, vq)) |
             (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, vq))
                 << 32;
    *bslash =
        (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(lo, vb)) |
        (uint64_t)(uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(hi, vb))
            << 32;
    flo =
        _mm256_or_si256(_mm256_cmpeq_epi8(flo, vo), _mm256_cmpeq_epi8(flo, vc));
    fhi =
        _mm256_or_si256(_mm256_cmpeq_epi8(fhi, vo), _mm256_cmpeq_epi8(fhi, vc));
    *brack = (uint32_t)_mm256_movemask_epi8(flo) |
             (uint64_t)(uint32_t)_mm256_movemask_epi8(fhi) << 32;
}

__attribute__((target("avx2,pclmul,bmi"))) static inline uint64_t
prefix_xor_clmul(uint64_t x)
{
    /* x times all-ones, carry-less: bit i is the XOR of bits 0..i. */
    return (uint64_t)_mm_cvtsi128_si64(_mm_clmulepi64_si128(
        _mm_set_epi64x(0, (long long)x), _mm_set1_epi8((char)0xFF), 0));
}

__attribute__((target("avx2,pclmul,bmi"))) static const char *
skip_avx2(const char *p, const char *end)
{
    skip_t st;

    st.depth = 0;
    st.bad = 0;
    st.in_str = st.esc = 0;
    for (;;) {
        size_t n = (size_t)(end - p);
        char tail[64];
        const char *b;
        uint64_t q, bs, br;
        unsigned i = 0;
        int r;

        if (n == 0)
            return NULL;
        /* The hardware prefetcher loses the stream at page boundaries
         * and restarts slowly; nested values are read front to back, so
         * ask for the line four blocks ahead (a hint: never faults). */
        __builtin_prefetch(p + 256);
        b = block_at(p, n, tail);
        block_masks_avx2(b, &q, &bs, &br);
        if (bs | st.esc)
            q &= ~escaped_mask(bs, &st.esc);
        r = skip_block(&st, b, bs, br, prefix_xor_clmul(q) ^ st.in_str, &i);
        if (r <= 0)
            return r == 0 ? p + i + 1 : NULL;
        if (n <= 64)
            return NULL;
        p += 64;
    }
}
#endif

int chp_tsx_no_avx2;

static const char *skip_container(const char *p, const char *end)
{
#if defined(TSX_AVX2)
    /* A load and a test of libgcc's CPU model, set once at start-up. */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
        __builtin_cpu_supports("bmi") && !chp_tsx_no_avx2)
        return skip_avx2(p, end);
#endif
    return skip_generic(p, end);
}

/* ------------------------------------------------------------------------
 * The scanner
 * ------------------------------------------------------------------------ */

static bool key_matches(const char *k, size_t klen, const char *const *names,
                        size_t n_names)
{
    for (size_t j = 0; j < n_names; j++) {
        const char *nm = names[j];
        size_t i;

        if (!nm)
            continue;
        for (i = 0; i < klen; i++)
            if (nm[i] == '\0' || ascii_lower((unsigned char)k[i]) !=
                                     ascii_lower((unsigned char)nm[i]))
                break;
        /* A key spelled with escapes is not compared decoded: no match.
         * (A loop: keys are short, a libc call costs more.) */
        if (i == klen && nm[klen] == '\0') {
            for (i = 0; i < klen; i++)
                if (k[i] == '\\')
                    return false;
            return true;
        }
    }
    return false;
}

static inline const char *literal(const char *p, const char *end,
                                  const char *word, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

CHP_EXPORT chp_ts_result_t chp_tsx_scan_json(const char *buf, size_t len,
                                             const char *const *names,
                                             size_t n_names, int64_t *ts_ms)
{
    const char *p, *end;

    if (!buf || len == 0)
        return CHP_TS_MALFORMED;
    if (!names)
        n_names = 0;
    end = buf + len;
    /* The final-byte check below would otherwise stall on a cache miss
     * after an early match; start loading that line now. */
    __builtin_prefetch(end - 1);
    p = skip_ws(buf, end);
    if (p == end || *p != '{')
        return CHP_TS_MALFORMED;
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}')
        goto done;

    for (;;) {
        const char *key, *q;
        size_t klen;
        bool match, usable = false;
        double v = 0.0;
        decnum_t d;
        int64_t ms = 0;

        if (p == end || *p != '"')
            return CHP_TS_MALFORMED;
        key = p + 1;
        q = str_end(key, end);
        if (!q)
            return CHP_TS_MALFORMED;
        klen = (size_t)(q - key);
        p = skip_ws(q + 1, end);
        if (p == end || *p != ':')
            return CHP_TS_MALFORMED;
        p = skip_ws(p + 1, end);
        if (p == end)
            return CHP_TS_MALFORMED;
        match = n_names && key_matches(key, klen, names, n_names);

        switch (*p) {
        case '"':
            q = str_end(p + 1, end);
            if (!q)
                return CHP_TS_MALFORMED;
            if (match)
                usable = chp_tsx_parse_number(p + 1, (size_t)(q - p - 1), &v) &&
                         chp_ts_to_ms(v, &ms);
            p = q + 1;
            break;
        case '{':
        case '[':
            p = skip_container(p, end);
            break;
        case 't':
            p = literal(p, end, "true", 4);
            break;
        case 'f':
            p = literal(p, end, "false", 5);
            break;
        case 'n':
            p = literal(p, end, "null", 4);
            break;
        default:
            p = num_scan(p, end, &d);
            if (p && match)
                usable = dec_to_ms(&d, &ms);
            break;
        }
        if (!p)
            return CHP_TS_MALFORMED;
        p = skip_ws(p, end);
        if (p == end || (*p != ',' && *p != '}'))
            return CHP_TS_MALFORMED;

        if (usable) {
            /* Stop early, but still catch the commonest corruption,
             * truncation, by looking at the last byte. */
            const char *t = end;

            while (t > p && is_ws(t[-1]))
                t--;
            if (t[-1] != '}')
                return CHP_TS_MALFORMED;
            if (ts_ms)
                *ts_ms = ms;
            return CHP_TS_FOUND;
        }
        if (*p == '}')
            break;
        p = skip_ws(p + 1, end);
    }
done:
    /* p is at the closing brace; only whitespace may follow. */
    return skip_ws(p + 1, end) == end ? CHP_TS_MISSING : CHP_TS_MALFORMED;
}
