/* Unit tests: latency sketch accuracy, merge, encoding (design.md §10). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "sketch.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static const double quantiles[] = {0,   0.01, 0.25, 0.5,   0.75,
                                   0.9, 0.95, 0.99, 0.999, 1};

/* Deterministic data: splitmix64 with a fixed seed. */
static uint64_t rng_state;

static uint64_t rng_next(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1), never 0 so logs and powers stay finite. */
static double rng_unit(void)
{
    return ((double)(rng_next() >> 11) + 0.5) / 9007199254740992.0;
}

static double rng_normal(void)
{
    return sqrt(-2.0 * log(rng_unit())) * cos(6.283185307179586 * rng_unit());
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/* Last latency of the last bin's natural range: beyond it values clamp. */
static int64_t top_hi(void)
{
    return (101 * chp_sketch_bin_lo[CHP_SKETCH_NBINS - 1] - 1) / 99;
}

static chp_sketch_t *sketch_of(const int64_t *v, size_t n)
{
    chp_sketch_t *sk = chp_sketch_new();
    size_t i;

    assert_non_null(sk);
    for (i = 0; i < n; i++)
        chp_sketch_add(sk, v[i], 1);
    return sk;
}

static void assert_sketch_equal(const chp_sketch_t *a, const chp_sketch_t *b)
{
    assert_int_equal(a->zero, b->zero);
    assert_int_equal(a->negative, b->negative);
    assert_int_equal(a->max, b->max);
    assert_memory_equal(a->bins, b->bins, sizeof(a->bins));
}

static void assert_sketch_empty(const chp_sketch_t *sk)
{
    static const struct chp_sketch empty;

    assert_sketch_equal(sk, &empty);
}

/* Encodes, decodes, re-encodes: same sketch, same text. */
static void assert_round_trip(const chp_sketch_t *sk)
{
    size_t need = chp_sketch_encode(sk, NULL, 0);
    char *a = malloc(need + 1), *b = malloc(need + 1);
    chp_sketch_t *back = chp_sketch_new();
    char errstr[128] = "";

    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(back);
    assert_true(need <= CHP_SKETCH_ENCODE_MAX);
    assert_int_equal(chp_sketch_encode(sk, a, need + 1), need);
    assert_int_equal(strlen(a), need);
    if (chp_sketch_decode(back, a, need, errstr, sizeof(errstr)) != CHP_OK)
        fail_msg("decode of own encoding failed: %s", errstr);
    assert_sketch_equal(sk, back);
    assert_int_equal(chp_sketch_encode(back, b, need + 1), need);
    assert_string_equal(a, b);
    chp_sketch_destroy(back);
    free(a);
    free(b);
}

/* Checks every quantile against the exact one (same rank convention), the
 * counts and the max, then the round trip.  Returns the sketch. */
static chp_sketch_t *check_data(const int64_t *v, size_t n)
{
    chp_sketch_t *sk = sketch_of(v, n);
    int64_t *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    size_t m = 0, i, k;
    uint64_t negative = 0;

    assert_non_null(sorted);
    for (i = 0; i < n; i++) {
        if (v[i] < 0)
            negative++;
        else
            sorted[m++] = v[i];
    }
    qsort(sorted, m, sizeof(*sorted), cmp_i64);
    assert_int_equal(chp_sketch_count(sk), m);
    assert_int_equal(chp_sketch_negative_count(sk), negative);
    assert_int_equal(chp_sketch_max(sk), m ? sorted[m - 1] : 0);
    for (k = 0; k < N_OF(quantiles) + 201; k++) {
        /* The required points, then a sweep of every 0.5%. */
        double q = k < N_OF(quantiles) ? quantiles[k]
                                       : (double)(k - N_OF(quantiles)) / 200;
        double est = chp_sketch_quantile(sk, q);
        int64_t exact;

        if (m == 0) {
            assert_true(est == 0.0);
            continue;
        }
        exact = sorted[(size_t)(q * (double)(m - 1))];
        if (exact == 0) {
            if (est != 0.0)
                fail_msg("q=%g: exact 0, got %.17g", q, est);
        } else if (exact <= top_hi() &&
                   !(fabs(est - (double)exact) / (double)exact <=
                     CHP_SKETCH_ALPHA)) {
            fail_msg("q=%g: exact %lld, got %.17g (rel err %.3g)", q,
                     (long long)exact, est,
                     fabs(est - (double)exact) / (double)exact);
        }
    }
    assert_round_trip(sk);
    free(sorted);
    return sk;
}

static void check_and_free(const int64_t *v, size_t n)
{
    chp_sketch_destroy(check_data(v, n));
}

/* ------------------------------------------------------------------ bins */

static void test_bin_table(void **state)
{
    int64_t lo = 1, x;
    size_t i;
    (void)state;

    for (i = 0; i < CHP_SKETCH_NBINS; i++) {
        int64_t hi = (101 * lo - 1) / 99;

        assert_int_equal(chp_sketch_bin_lo[i], lo);
        /* The bound, in integers: (hi - lo) / (hi + lo) < 1/100. */
        assert_true(100 * (hi - lo) < hi + lo);
        assert_int_equal(chp_sketch_bin(lo), i);
        assert_int_equal(chp_sketch_bin(hi), i);
        lo = hi + 1;
    }
    /* Ten years of milliseconds keep the bound. */
    assert_true(top_hi() >= 315576000000LL);
    for (x = 1; x <= 1000000; x++) {
        int b = chp_sketch_bin(x);

        assert_true(chp_sketch_bin_lo[b] <= x);
        assert_true(b == CHP_SKETCH_NBINS - 1 || x < chp_sketch_bin_lo[b + 1]);
    }
    /* The lookup-table path equals the exact search everywhere: every
     * latency up to 2,000,000 ms, and 1,000,000 spread up to the top. */
    for (int64_t v = 1; v <= 2000000; v++)
        if (chp_sketch_bin(v) != chp_sketch_bin_search(v))
            fail_msg("bin(%lld) = %d, search gives %d", (long long)v,
                     chp_sketch_bin(v), chp_sketch_bin_search(v));
    uint64_t rng = 88172645463325252ULL;
    for (int k = 0; k < 1000000; k++) {
        rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
        int64_t v = (int64_t)(rng >> (1 + k % 40));
        if (chp_sketch_bin(v) != chp_sketch_bin_search(v))
            fail_msg("bin(%lld) = %d, search gives %d", (long long)v,
                     chp_sketch_bin(v), chp_sketch_bin_search(v));
    }
    assert_int_equal(chp_sketch_bin(INT64_MAX), CHP_SKETCH_NBINS - 1);
    assert_int_equal(chp_sketch_bin(0), 0);
    assert_int_equal(chp_sketch_bin(INT64_MIN), 0);
}

/* -------------------------------------------------------------- accuracy */

#define NDATA 100000

static void test_uniform(void **state)
{
    int64_t *v = malloc(NDATA * sizeof(*v));
    size_t i;
    (void)state;

    assert_non_null(v);
    rng_state = 1;
    for (i = 0; i < NDATA; i++)
        v[i] = 1 + (int64_t)(rng_next() % 100000);
    check_and_free(v, NDATA);
    for (i = 0; i < NDATA; i++)
        v[i] = (int64_t)i + 1; /* every integer 1..100000 once */
    check_and_free(v, NDATA);
    free(v);
}

static void test_long_tailed(void **state)
{
    int64_t *v = malloc(NDATA * sizeof(*v));
    size_t i;
    (void)state;

    assert_non_null(v);
    rng_state = 42;
    for (i = 0; i < NDATA; i++) /* Pareto, x_m = 10 ms, shape 1.2 */
        v[i] = (int64_t)fmin(10.0 / pow(rng_unit(), 1.0 / 1.2), 1e11);
    check_and_free(v, NDATA);
    for (i = 0; i < NDATA; i++) /* lognormal around 200 ms */
        v[i] = (int64_t)exp(log(200.0) + 1.5 * rng_normal());
    check_and_free(v, NDATA);
    free(v);
}

static void test_bin_boundaries(void **state)
{
    int64_t *v = malloc(3 * CHP_SKETCH_NBINS * sizeof(*v));
    size_t i, n = 0;
    (void)state;

    assert_non_null(v);
    /* Both ends of every bin, and the first value of the next. */
    for (i = 0; i < CHP_SKETCH_NBINS; i++) {
        int64_t lo = chp_sketch_bin_lo[i];
        int64_t hi =
            i + 1 < CHP_SKETCH_NBINS ? chp_sketch_bin_lo[i + 1] - 1 : top_hi();

        v[n++] = lo;
        v[n++] = hi;
        v[n++] = hi + 1 <= top_hi() ? hi + 1 : hi;
    }
    check_and_free(v, n);
    /* Each bin end alone: every quantile is that one value. */
    for (i = 0; i < n; i += 29)
        check_and_free(&v[i], 1);
    free(v);
}

static void test_identical(void **state)
{
    static const int64_t values[] = {0, 1, 49, 50, 51, 99, 101, 777, 1000000};
    int64_t v[1000];
    size_t i, j;
    (void)state;

    for (j = 0; j < N_OF(values); j++) {
        for (i = 0; i < N_OF(v); i++)
            v[i] = values[j];
        check_and_free(v, N_OF(v));
    }
}

static void test_far_clusters(void **state)
{
    int64_t v[2000];
    size_t i, split;
    (void)state;

    /* 1 ms and 1e9 ms in varying proportions, some with zeros too. */
    for (split = 0; split <= N_OF(v); split += 125) {
        for (i = 0; i < N_OF(v); i++)
            v[i] = i < split ? 1 : 1000000000;
        check_and_free(v, N_OF(v));
        for (i = 0; i < N_OF(v); i += 3)
            v[i] = 0;
        check_and_free(v, N_OF(v));
    }
}

static void test_huge(void **state)
{
    int64_t top = chp_sketch_bin_lo[CHP_SKETCH_NBINS - 1];
    int64_t in_range[] = {top - 1,      top,      top + 1,
                          top_hi() - 1, top_hi(), 315576000000LL};
    int64_t beyond[] = {1, top, top_hi() + 1, 1000000000000000LL, INT64_MAX};
    chp_sketch_t *sk;
    (void)state;

    check_and_free(in_range, N_OF(in_range));
    /* Clamped values: no bound, but max and the last rank stay exact. */
    sk = check_data(beyond, N_OF(beyond));
    assert_int_equal(chp_sketch_max(sk), INT64_MAX);
    assert_true(chp_sketch_quantile(sk, 1.0) == (double)INT64_MAX);
    assert_int_equal(sk->bins[CHP_SKETCH_NBINS - 1], 4);
    chp_sketch_destroy(sk);
}

static void test_negative(void **state)
{
    int64_t v[3000];
    chp_sketch_t *with, *without = chp_sketch_new();
    size_t i, k;
    (void)state;

    assert_non_null(without);
    rng_state = 7;
    for (i = 0; i < N_OF(v); i++) {
        v[i] = (int64_t)(rng_next() % 5000);
        if (i % 2 == 0)
            v[i] = -1 - v[i]; /* producer clock ahead */
        else
            chp_sketch_add(without, v[i], 1);
    }
    with = check_data(v, N_OF(v));
    assert_int_equal(chp_sketch_negative_count(with), N_OF(v) / 2);
    assert_int_equal(chp_sketch_count(with), N_OF(v) / 2);
    /* The quantiles are those of the non-negative half alone. */
    for (k = 0; k < N_OF(quantiles); k++)
        assert_true(chp_sketch_quantile(with, quantiles[k]) ==
                    chp_sketch_quantile(without, quantiles[k]));
    assert_int_equal(chp_sketch_max(with), chp_sketch_max(without));
    /* Only negatives: empty for the quantiles. */
    chp_sketch_reset(with);
    chp_sketch_add(with, -5, 10);
    assert_int_equal(chp_sketch_count(with), 0);
    assert_int_equal(chp_sketch_max(with), 0);
    assert_true(chp_sketch_quantile(with, 0.5) == 0.0);
    assert_round_trip(with);
    chp_sketch_destroy(with);
    chp_sketch_destroy(without);
}

static void test_empty_and_edges(void **state)
{
    chp_sketch_t *sk = chp_sketch_new();
    char buf[32];
    (void)state;

    assert_non_null(sk);
    assert_int_equal(chp_sketch_count(sk), 0);
    assert_int_equal(chp_sketch_max(sk), 0);
    assert_true(chp_sketch_quantile(sk, 0.99) == 0.0);
    assert_int_equal(chp_sketch_encode(sk, buf, sizeof(buf)), 8);
    assert_string_equal(buf, "1.0.0.0.");
    assert_round_trip(sk);
    /* Out-of-range q is clamped; NaN reads as 0. */
    chp_sketch_add(sk, 10, 1);
    chp_sketch_add(sk, 1000, 1);
    assert_true(chp_sketch_quantile(sk, -1.0) == 10.0);
    assert_true(chp_sketch_quantile(sk, NAN) == 10.0);
    assert_true(chp_sketch_quantile(sk, 7.0) == 1000.0);
    /* n - 1 rounds up to 2^64 as a double: the rank must still fit (found
     * by the fuzzer as a float-cast overflow). */
    chp_sketch_reset(sk);
    sk->bins[5] = UINT64_MAX - 1;
    sk->max = 6;
    assert_true(chp_sketch_quantile(sk, 1.0) == 6.0);
    assert_true(chp_sketch_quantile(sk, 0.5) == 6.0);
    chp_sketch_destroy(sk);
}

static void test_add_n_dup_reset(void **state)
{
    chp_sketch_t *a = chp_sketch_new(), *b = chp_sketch_new(), *c;
    int i;
    (void)state;

    assert_non_null(a);
    assert_non_null(b);
    chp_sketch_add(a, 123, 5);
    chp_sketch_add(a, 0, 2);
    chp_sketch_add(a, -3, 4);
    chp_sketch_add(a, 99999, 0); /* no observation: max unchanged */
    for (i = 0; i < 5; i++)
        chp_sketch_add(b, 123, 1);
    for (i = 0; i < 2; i++)
        chp_sketch_add(b, 0, 1);
    for (i = 0; i < 4; i++)
        chp_sketch_add(b, -3, 1);
    assert_sketch_equal(a, b);
    assert_int_equal(chp_sketch_max(a), 123);
    c = chp_sketch_dup(a);
    assert_non_null(c);
    assert_sketch_equal(a, c);
    chp_sketch_reset(c);
    assert_sketch_empty(c);
    chp_sketch_destroy(a);
    chp_sketch_destroy(b);
    chp_sketch_destroy(c);
    chp_sketch_destroy(NULL);
}

/* ----------------------------------------------------------------- merge */

static void test_merge(void **state)
{
    int64_t *v = malloc(NDATA * sizeof(*v));
    chp_sketch_t *all, *a, *b, *empty = chp_sketch_new();
    size_t i, k, split = NDATA / 3;
    (void)state;

    assert_non_null(v);
    assert_non_null(empty);
    rng_state = 99;
    for (i = 0; i < NDATA; i++) /* lognormal, zeros and negatives */
        v[i] = (int64_t)exp(log(50.0) + 2.0 * rng_normal()) - 2;
    all = check_data(v, NDATA);
    a = sketch_of(v, split);
    b = sketch_of(v + split, NDATA - split);
    chp_sketch_merge(a, b);
    assert_sketch_equal(a, all);
    for (k = 0; k < N_OF(quantiles); k++)
        assert_true(chp_sketch_quantile(a, quantiles[k]) ==
                    chp_sketch_quantile(all, quantiles[k]));
    /* Merging an empty sketch changes nothing; into one copies. */
    chp_sketch_merge(a, empty);
    assert_sketch_equal(a, all);
    chp_sketch_merge(empty, all);
    assert_sketch_equal(empty, all);
    /* The max of the union, whichever side holds it. */
    chp_sketch_reset(a);
    chp_sketch_reset(b);
    chp_sketch_add(a, 5, 1);
    chp_sketch_add(b, 7000000, 1);
    chp_sketch_merge(a, b);
    assert_int_equal(chp_sketch_max(a), 7000000);
    chp_sketch_merge(b, a);
    assert_int_equal(chp_sketch_max(b), 7000000);
    chp_sketch_destroy(all);
    chp_sketch_destroy(a);
    chp_sketch_destroy(b);
    chp_sketch_destroy(empty);
    free(v);
}

/* -------------------------------------------------------------- encoding */

/* A number in the encoding's digits, written independently of sketch.c:
 * bijective base-26 letters, then one base-36 digit. */
static void num(uint64_t v, char *out)
{
    char tmp[32];
    size_t k = 0, j = 0;
    uint64_t p = v / 36;

    while (p > 0) {
        tmp[k++] = (char)('a' + (p - 1) % 26);
        p = (p - 1) / 26;
    }
    while (k > 0)
        out[j++] = tmp[--k];
    out[j++] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[v % 36];
    out[j] = '\0';
}

static void test_encode_example(void **state)
{
    chp_sketch_t *sk = chp_sketch_new();
    char buf[128], n1[32], n2[32];
    (void)state;

    assert_non_null(sk);
    /* The example of docs/sketch.md. */
    chp_sketch_add(sk, 0, 3);
    chp_sketch_add(sk, -20, 2);
    chp_sketch_add(sk, 1, 40);
    chp_sketch_add(sk, 3, 1);
    chp_sketch_add(sk, 250, 1000);
    chp_sketch_add(sk, 260, 7);
    chp_sketch_add(sk, 1234, 1);
    chp_sketch_encode(sk, buf, sizeof(buf));
    assert_string_equal(buf, "1.3.2.ahA.a401~c2aaS7~b21");
    assert_round_trip(sk);
    chp_sketch_destroy(sk);

    num(35, n1);
    assert_string_equal(n1, "Z");
    num(36, n1);
    assert_string_equal(n1, "a0");
    num(36 * 27, n1);
    assert_string_equal(n1, "aa0");
    num(UINT64_MAX, n2);
    assert_int_equal(strlen(n2), 14);
}

static void test_encode_small_buffer(void **state)
{
    int64_t v[] = {0, 5, 5, 77, 1000, 123456789, -4};
    chp_sketch_t *sk = sketch_of(v, N_OF(v));
    char full[256], buf[256 + 16];
    size_t need, size, i;
    (void)state;

    need = chp_sketch_encode(sk, full, sizeof(full));
    assert_true(need > 0 && need < sizeof(full));
    assert_int_equal(chp_sketch_encode(sk, NULL, 0), need);
    for (size = 0; size <= need + 2; size++) {
        memset(buf, 'X', sizeof(buf));
        assert_int_equal(chp_sketch_encode(sk, buf, size), need);
        for (i = size; i < size + 16; i++)
            assert_int_equal(buf[i], 'X'); /* nothing past size */
        if (size == 0)
            continue;
        i = size - 1 < need ? size - 1 : need;
        assert_int_equal(buf[i], '\0');
        assert_memory_equal(buf, full, i);
    }
    chp_sketch_destroy(sk);
}

static void test_encode_worst_case(void **state)
{
    chp_sketch_t *sk = chp_sketch_new();
    char *buf = malloc(CHP_SKETCH_ENCODE_MAX + 1);
    char errstr[128];
    size_t i, need;
    (void)state;

    assert_non_null(sk);
    assert_non_null(buf);
    /* Every field at its largest: the size bound holds... */
    sk->zero = sk->negative = UINT64_MAX;
    sk->max = INT64_MAX;
    for (i = 0; i < CHP_SKETCH_NBINS; i++)
        sk->bins[i] = UINT64_MAX;
    need = chp_sketch_encode(sk, buf, CHP_SKETCH_ENCODE_MAX + 1);
    assert_int_equal(need, CHP_SKETCH_ENCODE_MAX);
    /* ...and such a sketch cannot be decoded: its counts overflow. */
    assert_int_equal(chp_sketch_decode(sk, buf, need, errstr, sizeof(errstr)),
                     CHP_ERR_RANGE);
    assert_sketch_empty(sk);
    /* Largest counts that still sum within uint64: accepted. */
    for (i = 0; i < CHP_SKETCH_NBINS; i++)
        sk->bins[i] = UINT64_MAX / (CHP_SKETCH_NBINS + 2);
    sk->zero = sk->negative = UINT64_MAX / (CHP_SKETCH_NBINS + 2);
    sk->max = INT64_MAX;
    assert_round_trip(sk);
    chp_sketch_destroy(sk);
    free(buf);
}

/* Pinned encodings (the stored format, so they may never change): written
 * by the encoder before its fast path existed.  Both paths are asked: the
 * fast one (a buffer of CHP_SKETCH_ENCODE_MAX + 1) and the checked one. */
static void pin_fill(chp_sketch_t *sk, int which)
{
    chp_sketch_reset(sk);
    switch (which) {
    case 1: /* the collector benchmark's shape: ~30 bins, gaps */
        for (int k = 0; k < 30; k++)
            chp_sketch_add(sk, 20 + k * k * 7 + 5, 1234 / 30);
        break;
    case 2: /* one- and multi-letter numbers, a 1-bin gap, the last bin */
        chp_sketch_add(sk, 0, 7);
        chp_sketch_add(sk, -3, 971);
        chp_sketch_add(sk, 1, 35);
        chp_sketch_add(sk, 2, 36);
        chp_sketch_add(sk, 4, 971);
        chp_sketch_add(sk, 5, 972);
        chp_sketch_add(sk, 9, 123456789012ULL);
        chp_sketch_add(sk, 60000,
                       UINT64_MAX - 123456789012ULL - 7 - 35 - 36 - 971 - 972 -
                           5);
        chp_sketch_add(sk, 340000000000LL, 5);
        break;
    case 3: /* hundreds of bins, runs of zero-bin gaps of 1 */
        for (int k = 1; k < 5000; k += 3)
            chp_sketch_add(sk, k, (uint64_t)k * 977);
        break;
    default:
        break;
    }
}

static uint64_t fnv1a(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static void test_encode_pinned(void **state)
{
    /* Split in two (clang warns of concatenation inside the array). */
    static const char bench_shape[] =
        "1.0.0.fh8.~Oa5~6a5~Ia5~Ha5~Ha5~Ga5~Da5~Da5~Aa5~Aa5~9a5~8a5~7a5~7a5~"
        "6a5~6a5~5a5~5a5~4a5~5a5~4a5~4a5~3a5~4a5~3a5~3a5~3a5~2a5~3a5~2a5";
    static const char *const want[] = {
        "1.0.0.0.",
        bench_shape,
        "1.7.zZ.adnwfwqfG.Za00zZaa0~3kbpktrvC~jDeiotzqyqjfbpyT~uK5",
    };
    chp_sketch_t *sk = chp_sketch_new();
    char *fast = malloc(CHP_SKETCH_ENCODE_MAX + 1);
    char *slow = malloc(CHP_SKETCH_ENCODE_MAX);
    size_t n;

    (void)state;
    assert_non_null(sk);
    assert_non_null(fast);
    assert_non_null(slow);
    for (int w = 0; w < 4; w++) {
        pin_fill(sk, w);
        n = chp_sketch_encode(sk, fast, CHP_SKETCH_ENCODE_MAX + 1);
        assert_int_equal(chp_sketch_encode(sk, slow, CHP_SKETCH_ENCODE_MAX), n);
        assert_string_equal(fast, slow);
        assert_int_equal(strlen(fast), n);
        if (w < 3) {
            assert_string_equal(fast, want[w]);
        } else {
            assert_int_equal(n, 1105);
            assert_true(fnv1a(fast, n) == 0xf65954d60da964a2ULL);
        }
    }
    free(fast);
    free(slow);
    chp_sketch_destroy(sk);
}

/* The fast encoder and the checked one agree on random sketches, and the
 * one-pass quantiles equal chp_sketch_quantile's. */
static void test_encode_paths_and_quantiles(void **state)
{
    static const double qs[] = {0.0, 0.5, 0.95, 0.99, 1.0};
    chp_sketch_t *sk = chp_sketch_new();
    char *fast = malloc(CHP_SKETCH_ENCODE_MAX + 1);
    char *slow = malloc(CHP_SKETCH_ENCODE_MAX);
    uint64_t x = 88172645463325252ULL;
    double out[5];

    (void)state;
    assert_non_null(sk);
    assert_non_null(fast);
    assert_non_null(slow);
    for (int round = 0; round < 2000; round++) {
        int adds = round % 50;

        chp_sketch_reset(sk);
        for (int k = 0; k < adds; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            int64_t v =
                (int64_t)(x % 4 == 0 ? x % 3 : (x >> 8) % (1ULL << (x % 40)));

            chp_sketch_add(sk, x % 17 == 0 ? -v : v, (x >> 20) % 3000 + 1);
        }
        size_t n = chp_sketch_encode(sk, fast, CHP_SKETCH_ENCODE_MAX + 1);
        assert_int_equal(chp_sketch_encode(sk, slow, CHP_SKETCH_ENCODE_MAX), n);
        assert_string_equal(fast, slow);
        assert_true(chp_sketch_quantiles(sk, qs, 5, out) ==
                    chp_sketch_count(sk));
        for (int k = 0; k < 5; k++)
            assert_true(out[k] == chp_sketch_quantile(sk, qs[k]));
    }
    free(fast);
    free(slow);
    chp_sketch_destroy(sk);
}

static void test_decode_accepts(void **state)
{
    chp_sketch_t *sk = chp_sketch_new();
    char s[64], n[32], errstr[128];
    (void)state;

    assert_non_null(sk);
    /* Zero counts are allowed; the encoder would write a skip. */
    assert_int_equal(
        chp_sketch_decode(sk, "1.0.0.0.0001", 12, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(sk->bins[3], 1);
    assert_int_equal(chp_sketch_count(sk), 1);
    /* Only len bytes are read: the rest is not part of the input. */
    assert_int_equal(
        chp_sketch_decode(sk, "1.0.0.0.5!!", 9, errstr, sizeof(errstr)),
        CHP_OK);
    assert_int_equal(sk->bins[0], 5);
    /* UINT64_MAX itself is a valid count. */
    num(UINT64_MAX, n);
    snprintf(s, sizeof(s), "1.%s.0.0.", n);
    assert_int_equal(
        chp_sketch_decode(sk, s, strlen(s), errstr, sizeof(errstr)), CHP_OK);
    assert_true(sk->zero == UINT64_MAX);
    /* The last bin is addressable. */
    num(CHP_SKETCH_NBINS - 1, n);
    snprintf(s, sizeof(s), "1.0.0.0.~%s1", n);
    assert_int_equal(
        chp_sketch_decode(sk, s, strlen(s), errstr, sizeof(errstr)), CHP_OK);
    assert_int_equal(sk->bins[CHP_SKETCH_NBINS - 1], 1);
    chp_sketch_destroy(sk);
}

typedef struct bad_input {
    char s[96];
    size_t len;
    chp_err_t err;
} bad_input_t;

static void test_decode_rejects(void **state)
{
    static const struct {
        const char *s;
        size_t len;
        chp_err_t err;
    } fixed[] = {
#define BAD(lit, e) {lit, sizeof(lit) - 1, e}
        BAD("", CHP_ERR_PARSE),                       /* empty */
        BAD("2.0.0.0.", CHP_ERR_PARSE),               /* unknown version */
        BAD("0.0.0.0.", CHP_ERR_PARSE),               /* version 0 */
        BAD("v1.0.0.0.", CHP_ERR_PARSE),              /* no version */
        BAD("1", CHP_ERR_PARSE),                      /* header cut short */
        BAD("1.0.0.", CHP_ERR_PARSE),                 /* field missing */
        BAD("1.0.0.0", CHP_ERR_PARSE),                /* last '.' missing */
        BAD("1..0.0.", CHP_ERR_PARSE),                /* empty number */
        BAD("1.!.0.0.", CHP_ERR_PARSE),               /* bad digit */
        BAD("1.0,0.0.", CHP_ERR_PARSE),               /* bad separator */
        BAD(" 1.0.0.0.", CHP_ERR_PARSE),              /* leading space */
        BAD("1.0.0.0.5!", CHP_ERR_PARSE),             /* trailing junk */
        BAD("1.0.0.0.5 ", CHP_ERR_PARSE),             /* trailing space */
        BAD("1.0.0.0.5.", CHP_ERR_PARSE),             /* separator in bins */
        BAD("1.0.0.0.-1", CHP_ERR_PARSE),             /* sign */
        BAD("1.0.0.0.\0", CHP_ERR_PARSE),             /* embedded NUL */
        BAD("1.0.0.0.\xc3\xa9", CHP_ERR_PARSE),       /* not ASCII */
        BAD("1.0.0.0.a", CHP_ERR_PARSE),              /* number cut short */
        BAD("1.0.0.0.~", CHP_ERR_PARSE),              /* skip without gap */
        BAD("1.0.0.0.~01", CHP_ERR_PARSE),            /* empty skip */
        BAD("1.0.0.0.~5", CHP_ERR_PARSE),             /* skip without count */
        BAD("1.0.0.0.~3~41", CHP_ERR_PARSE),          /* skip after skip */
        BAD("1.zzzzzzzzzzzzzzZ.0.0.", CHP_ERR_RANGE), /* > uint64 */
#undef BAD
    };
    bad_input_t built[16];
    chp_sketch_t *sk = chp_sketch_new();
    char n[32], errstr[128];
    size_t i, nb = 0, cases = 0;
    (void)state;

    assert_non_null(sk);
    /* Skip to past the last bin, count at the index past the last. */
    num(CHP_SKETCH_NBINS, n);
    snprintf(built[nb].s, sizeof(built[nb].s), "1.0.0.0.~%s1", n);
    built[nb++].err = CHP_ERR_RANGE;
    num(CHP_SKETCH_NBINS - 1, n);
    snprintf(built[nb].s, sizeof(built[nb].s), "1.0.0.0.~%s11", n);
    built[nb++].err = CHP_ERR_RANGE;
    /* UINT64_MAX + 1: the last digit one higher. */
    num(UINT64_MAX, n);
    n[strlen(n) - 1]++;
    snprintf(built[nb].s, sizeof(built[nb].s), "1.%s.0.0.", n);
    built[nb++].err = CHP_ERR_RANGE;
    /* Counts that overflow when summed: zero + bins, bins, + negative. */
    num(UINT64_MAX, n);
    snprintf(built[nb].s, sizeof(built[nb].s), "1.%s.0.0.1", n);
    built[nb++].err = CHP_ERR_RANGE;
    snprintf(built[nb].s, sizeof(built[nb].s), "1.0.%s.0.1", n);
    built[nb++].err = CHP_ERR_RANGE;
    num(UINT64_MAX / 2 + 1, n);
    snprintf(built[nb].s, sizeof(built[nb].s), "1.0.0.0.%s%s", n, n);
    built[nb++].err = CHP_ERR_RANGE;
    /* max above INT64_MAX. */
    num((uint64_t)INT64_MAX + 1, n);
    snprintf(built[nb].s, sizeof(built[nb].s), "1.0.0.%s.", n);
    built[nb++].err = CHP_ERR_RANGE;
    for (i = 0; i < nb; i++)
        built[i].len = strlen(built[i].s);

    for (i = 0; i < N_OF(fixed) + nb; i++) {
        const char *s = i < N_OF(fixed) ? fixed[i].s : built[i - N_OF(fixed)].s;
        size_t len =
            i < N_OF(fixed) ? fixed[i].len : built[i - N_OF(fixed)].len;
        chp_err_t want =
            i < N_OF(fixed) ? fixed[i].err : built[i - N_OF(fixed)].err;
        /* Exact-size copy, so a read past len is a sanitizer error. */
        char *copy = malloc(len ? len : 1);
        chp_err_t err;

        assert_non_null(copy);
        memcpy(copy, s, len);
        chp_sketch_add(sk, 42, 3); /* must be gone after the failure */
        chp_sketch_add(sk, -1, 1);
        errstr[0] = '\0';
        err = chp_sketch_decode(sk, copy, len, errstr, sizeof(errstr));
        if (err != want)
            fail_msg("input %zu (%.*s): got %d (%s), want %d", i, (int)len, s,
                     err, errstr, want);
        assert_true(strncmp(errstr, "latency sketch: ", 16) == 0);
        assert_sketch_empty(sk);
        free(copy);
        cases++;
    }
    assert_true(cases >= 15);
    /* NULL input and a NULL errstr are survivable. */
    assert_int_equal(chp_sketch_decode(sk, NULL, 5, NULL, 0), CHP_ERR_PARSE);
    chp_sketch_destroy(sk);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bin_table),
        cmocka_unit_test(test_uniform),
        cmocka_unit_test(test_long_tailed),
        cmocka_unit_test(test_bin_boundaries),
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_far_clusters),
        cmocka_unit_test(test_huge),
        cmocka_unit_test(test_negative),
        cmocka_unit_test(test_empty_and_edges),
        cmocka_unit_test(test_add_n_dup_reset),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_encode_example),
        cmocka_unit_test(test_encode_small_buffer),
        cmocka_unit_test(test_encode_worst_case),
        cmocka_unit_test(test_encode_pinned),
        cmocka_unit_test(test_encode_paths_and_quantiles),
        cmocka_unit_test(test_decode_accepts),
        cmocka_unit_test(test_decode_rejects),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
