/* tsx_block.h - the 64-byte block scan of the JSON timestamp scanner
 * (tsx_json.c, the only includer): one bit per byte for quotes,
 * backslashes and brackets, then bit tricks for escapes and string
 * interiors (the approach of simdjson's first stage).  Portable C, SSE2
 * (x86-64 baseline), and AVX2 / AVX-512BW variants that tsx_json.c picks
 * at run time.  Private to lib/; static inline so the scan loops inline
 * them.
 *
 * CHP_TSX_NO_SIMD (portable code only) and CHP_TSX_NO_AVX2 (no AVX2, no
 * AVX-512) exist so that tests can build every variant on one machine. */
#ifndef CHP_TSX_BLOCK_H
#define CHP_TSX_BLOCK_H

#include <stdint.h>
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

/* The AVX-512BW masks: one 64-byte load, compares straight into 64-bit
 * masks (no movemask, no shifts): a third of the AVX2 instructions. */
__attribute__((target("avx512f,avx512bw,pclmul,bmi"))) static inline void
block_masks_avx512(const char *b, uint64_t *quote, uint64_t *bslash,
                   uint64_t *brack)
{
    const __m512i v = _mm512_loadu_si512((const void *)b);
    const __m512i f = _mm512_or_si512(v, _mm512_set1_epi8(0x20));

    *quote = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('"'));
    *bslash = _mm512_cmpeq_epi8_mask(v, _mm512_set1_epi8('\\'));
    *brack = _mm512_cmpeq_epi8_mask(f, _mm512_set1_epi8('{')) |
             _mm512_cmpeq_epi8_mask(f, _mm512_set1_epi8('}'));
}
#endif /* TSX_AVX2 */

#endif
