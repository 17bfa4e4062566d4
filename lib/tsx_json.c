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

#include "tsx.h"
#include "tsx_block.h"
#include "json_lex.h"
#include "tsx_num.h"

/* ------------------------------------------------------------------------
 * Small helpers
 * ------------------------------------------------------------------------ */

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
    p = json_skip_ws(s, end);
    p = num_scan(p, end, &d);
    if (!p || json_skip_ws(p, end) != end)
        return false;
    *out = dec_to_double(&d);
    return true;
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
 * and commas inside are not checked: this is the hot loop.  Defined once
 * per block-mask variant. */
#define TSX_DEFINE_SKIP(NAME, ATTR, MASKS, PXOR)                               \
    ATTR static const char *NAME(const char *p, const char *end)               \
    {                                                                          \
        skip_t st;                                                             \
                                                                               \
        st.depth = 0;                                                          \
        st.bad = 0;                                                            \
        st.in_str = st.esc = 0;                                                \
        for (;;) {                                                             \
            size_t n = (size_t)(end - p);                                      \
            char tail[64];                                                     \
            const char *b;                                                     \
            uint64_t q, bs, br;                                                \
            unsigned i = 0;                                                    \
            int r;                                                             \
                                                                               \
            if (n == 0)                                                        \
                return NULL;                                                   \
            /* Nested values are read front to back and are not in cache:      \
             * ask for the line 512 bytes ahead (a hint, never faults). */     \
            __builtin_prefetch(p + 512);                                       \
            b = block_at(p, n, tail);                                          \
            MASKS(b, &q, &bs, &br);                                            \
            if (bs | st.esc) /* rare: most blocks hold no backslash */         \
                q &= ~escaped_mask(bs, &st.esc);                               \
            r = skip_block(&st, b, bs, br, PXOR(q) ^ st.in_str, &i);           \
            if (r <= 0)                                                        \
                return r == 0 ? p + i + 1 : NULL;                              \
            if (n <= 64)                                                       \
                return NULL;                                                   \
            p += 64;                                                           \
        }                                                                      \
    }

TSX_DEFINE_SKIP(skip_generic, , block_masks, prefix_xor)
#if defined(TSX_AVX2)
/* AVX2 compares, a carry-less multiply for the prefix XOR and BMI bit
 * operations: about half the instructions per block of SSE2; AVX-512BW
 * compares straight into masks.  Chosen at run time, since the library is
 * built for baseline x86-64. */
TSX_DEFINE_SKIP(skip_avx2, __attribute__((target("avx2,pclmul,bmi"))),
                block_masks_avx2, prefix_xor_clmul)
TSX_DEFINE_SKIP(skip_avx512,
                __attribute__((target("avx512f,avx512bw,pclmul,bmi"))),
                block_masks_avx512, prefix_xor_clmul)
#endif

int chp_tsx_no_avx2;
int chp_tsx_no_avx512;

static const char *skip_container(const char *p, const char *end)
{
#if defined(TSX_AVX2)
    /* Loads and tests of libgcc's CPU model, set once at start-up. */
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("pclmul") &&
        __builtin_cpu_supports("bmi") && !chp_tsx_no_avx2) {
        if (__builtin_cpu_supports("avx512bw") && !chp_tsx_no_avx512)
            return skip_avx512(p, end);
        return skip_avx2(p, end);
    }
#endif
    return skip_generic(p, end);
}

/* ------------------------------------------------------------------------
 * The scanner
 * ------------------------------------------------------------------------ */

/* The caller's names (chp_tsx_scan_json): any number, any case. */
typedef struct {
    const char *const *names;
    const size_t *lens; /* strlen(names[j]) for j < CHP_TSX_MAX_FIELDS */
    size_t n;
} names_t;

/* lens[j] is strlen(names[j]) for j < CHP_TSX_MAX_FIELDS (SIZE_MAX for a
 * NULL name): most keys differ in length from every name and cost one
 * compare per name. */
static inline bool match_names(const char *k, size_t klen, const void *ctx)
{
    const names_t *c = ctx;

    for (size_t j = 0; j < c->n; j++) {
        const char *nm = c->names[j];
        size_t i;

        if (j < CHP_TSX_MAX_FIELDS ? c->lens[j] != klen : !nm)
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

/* A rule set's keys: lower-case already, lengths known, and free of
 * backslashes, so a key that matches has none either. */
static inline bool match_keys(const char *k, size_t klen, const void *ctx)
{
    const tsx_keys_t *c = ctx;

    for (unsigned j = 0; j < c->n; j++) {
        const char *nm = c->pool + c->off[j];
        size_t i = 0;

        if (c->len[j] != klen)
            continue;
        while (i < klen &&
               ascii_lower((unsigned char)k[i]) == (unsigned char)nm[i])
            i++;
        if (i == klen)
            return true;
    }
    return false;
}

static inline const char *literal(const char *p, const char *end,
                                  const char *word, size_t n)
{
    return (size_t)(end - p) >= n && memcmp(p, word, n) == 0 ? p + n : NULL;
}

/* The scanner, written once and instantiated per key matcher (match is a
 * constant in each caller, so it is inlined); any: there are keys. */
static inline __attribute__((always_inline)) chp_ts_result_t
scan(const char *buf, size_t len,
     bool (*match_key)(const char *, size_t, const void *), const void *ctx,
     bool any, int64_t *ts_ms)
{
    const char *p, *end;

    if (!buf || len == 0)
        return CHP_TS_MALFORMED;
    end = buf + len;
    /* The final-byte check below would otherwise stall on a cache miss
     * after an early match; start loading that line now (and the next
     * ones of a longer document). */
    __builtin_prefetch(end - 1);
    if (len > 128)
        for (const char *pf = buf + 64; pf < end && pf < buf + 512; pf += 64)
            __builtin_prefetch(pf);
    p = json_skip_ws(buf, end);
    if (p == end || *p != '{')
        return CHP_TS_MALFORMED;
    p = json_skip_ws(p + 1, end);
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
        p = json_skip_ws(q + 1, end);
        if (p == end || *p != ':')
            return CHP_TS_MALFORMED;
        p = json_skip_ws(p + 1, end);
        if (p == end)
            return CHP_TS_MALFORMED;
        match = any && match_key(key, klen, ctx);

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
        p = json_skip_ws(p, end);
        if (p == end || (*p != ',' && *p != '}'))
            return CHP_TS_MALFORMED;

        if (usable) {
            /* Stop early, but still catch the commonest corruption,
             * truncation, by looking at the last byte. */
            const char *t = end;

            while (t > p && json_is_ws(t[-1]))
                t--;
            if (t[-1] != '}')
                return CHP_TS_MALFORMED;
            if (ts_ms)
                *ts_ms = ms;
            return CHP_TS_FOUND;
        }
        if (*p == '}')
            break;
        p = json_skip_ws(p + 1, end);
    }
done:
    /* p is at the closing brace; only whitespace may follow. */
    return json_skip_ws(p + 1, end) == end ? CHP_TS_MISSING : CHP_TS_MALFORMED;
}

CHP_EXPORT chp_ts_result_t chp_tsx_scan_json(const char *buf, size_t len,
                                             const char *const *names,
                                             size_t n_names, int64_t *ts_ms)
{
    size_t lens[CHP_TSX_MAX_FIELDS];
    names_t c = {names, lens, names ? n_names : 0};

    for (size_t j = 0; j < c.n && j < CHP_TSX_MAX_FIELDS; j++)
        lens[j] = names[j] ? strlen(names[j]) : SIZE_MAX;
    return scan(buf, len, match_names, &c, c.n != 0, ts_ms);
}

chp_ts_result_t chp_tsx_scan_json_keys(const char *buf, size_t len,
                                       const tsx_keys_t *keys, int64_t *ts_ms)
{
    return scan(buf, len, match_keys, keys, keys->n != 0, ts_ms);
}
