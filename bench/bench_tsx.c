/* bench_tsx.c - timestamp extraction vs a full jansson parse and vs one
 * memchr pass over the same bytes (SPEC §12: tsx_vs_jansson,
 * tsx_vs_memchr).  The message mix is generated in memory, deterministic:
 * JSON events of 200-2000 bytes with nested objects, arrays, escaped
 * strings and numbers; the timestamp early in ~50%, late (after the big
 * nested parts) in ~30%, absent in ~20%. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "benchutil.h"
#include "chaperone.h"

#define TOTAL_BYTES (32u << 20)
#define ROUNDS 7

typedef struct {
    char *data;
    size_t len, cap;
    size_t *off; /* message i is data[off[i], off[i + 1]) */
    size_t n, off_cap;
} corpus_t;

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    uint64_t x = rng_state;

    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return rng_state = x;
}

static unsigned rnd_below(unsigned n)
{
    return (unsigned)(rnd() % n);
}

static void put(corpus_t *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void put(corpus_t *c, const char *fmt, ...)
{
    va_list ap;
    int n;

    for (;;) {
        va_start(ap, fmt);
        n = vsnprintf(c->data + c->len, c->cap - c->len, fmt, ap);
        va_end(ap);
        if (n < 0)
            abort();
        if ((size_t)n < c->cap - c->len)
            break;
        c->cap *= 2;
        c->data = realloc(c->data, c->cap);
        if (!c->data)
            abort();
    }
    c->len += (size_t)n;
}

static const char *const words[] = {
    "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf",
    "hotel", "india", "juliet", "kilo", "lima", "ts", "timestamp",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static void put_user(corpus_t *c)
{
    unsigned id = rnd_below(1000000);

    put(c,
        "\"user\":{\"id\":%u,\"name\":\"user_%u\",\"email\":\"u%u@example.com\","
        "\"tags\":[\"%s\",\"%s\"],\"geo\":{\"lat\":%u.%04u,\"lon\":-%u.%04u},"
        "\"ts\":%u}",
        id, id, id, words[rnd_below(NWORDS)], words[rnd_below(NWORDS)],
        rnd_below(90), rnd_below(10000), rnd_below(180), rnd_below(10000),
        rnd_below(100));
}

static void put_ctx(corpus_t *c)
{
    put(c,
        "\"ctx\":{\"ua\":\"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/118.0\",\"ip\":\"10.%u.%u.%u\","
        "\"session\":\"%016llx%016llx\",\"flags\":[true,false,null]}",
        rnd_below(256), rnd_below(256), rnd_below(256),
        (unsigned long long)rnd(), (unsigned long long)rnd());
}

static void put_item(corpus_t *c)
{
    put(c,
        "{\"sku\":\"SKU-%05u\",\"qty\":%u,\"price\":%u.%02u,\"attrs\":{"
        "\"color\":\"%s\",\"size\":\"%c\",\"note\":\"%s \\\"%s\\\" {%u}\"},"
        "\"hist\":[%u,%u,%u,%d.5e-3]}",
        rnd_below(100000), 1 + rnd_below(9), rnd_below(500), rnd_below(100),
        words[rnd_below(NWORDS)], "SMLX"[rnd_below(4)],
        words[rnd_below(NWORDS)], words[rnd_below(NWORDS)], rnd_below(100),
        rnd_below(1000), rnd_below(1000), rnd_below(1000),
        (int)rnd_below(200) - 100);
}

static void put_msg(corpus_t *c)
{
    put(c,
        "\"msg\":\"He said \\\"hello\\\" from C:\\\\Users\\\\%s\\\\app "
        "[ts=%u] {\\\"ts\\\":1} caf\\u00e9 \xc3\xa9t\xc3\xa9 \\n\\t done\"",
        words[rnd_below(NWORDS)], rnd_below(100000));
}

static void put_ts(corpus_t *c)
{
    /* Seconds, milliseconds, fractional, exponent and string forms. */
    unsigned s = 1700000000u + rnd_below(10000000);

    switch (rnd_below(5)) {
    case 0:
        put(c, "\"ts\":%u", s);
        break;
    case 1:
        put(c, "\"timestamp\":%u%03u", s, rnd_below(1000));
        break;
    case 2:
        put(c, "\"ts\":%u.%03u", s, rnd_below(1000));
        break;
    case 3:
        put(c, "\"Timestamp\":\"%u%03u\"", s, rnd_below(1000));
        break;
    default:
        put(c, "\"ts\":%u.%09uE9", s / 1000000000u, s % 1000000000u);
        break;
    }
}

/* Appends the big nested parts until the message is about target bytes. */
static void put_body(corpus_t *c, size_t start, size_t target)
{
    put_user(c);
    put(c, ",");
    put_ctx(c);
    put(c, ",\"items\":[");
    put_item(c);
    while (c->len - start + 400 < target) {
        put(c, ",");
        put_item(c);
    }
    put(c, "],");
    put_msg(c);
}

static void gen_corpus(corpus_t *c)
{
    c->cap = TOTAL_BYTES + (1u << 20);
    c->data = malloc(c->cap);
    c->off_cap = 1u << 16;
    c->off = malloc(c->off_cap * sizeof(*c->off));
    if (!c->data || !c->off)
        abort();
    while (c->len < TOTAL_BYTES) {
        size_t start = c->len, target = 200 + rnd_below(1801);
        unsigned kind = rnd_below(10);

        if (c->n + 2 > c->off_cap) {
            c->off_cap *= 2;
            c->off = realloc(c->off, c->off_cap * sizeof(*c->off));
            if (!c->off)
                abort();
        }
        c->off[c->n++] = start;
        put(c, "{\"event\":\"%s\",\"id\":%u,", words[rnd_below(NWORDS)],
            rnd_below(1u << 30));
        if (kind < 5) { /* early */
            put_ts(c);
            put(c, ",");
            put_body(c, start, target);
        } else if (kind < 8) { /* late */
            put_body(c, start, target);
            put(c, ",");
            put_ts(c);
        } else { /* absent */
            put_body(c, start, target);
        }
        put(c, ",\"v\":%u}", rnd_below(10));
    }
    c->off[c->n] = c->len;
}

static const char *const names[] = {"ts", "timestamp"};

static double run_tsx(const corpus_t *c, uint64_t counts[3])
{
    int64_t t0 = bench_ns();
    uint64_t sum = 0;

    for (size_t i = 0; i < c->n; i++) {
        int64_t ms = 0;
        chp_ts_result_t r =
            chp_tsx_scan_json(c->data + c->off[i], c->off[i + 1] - c->off[i],
                              names, 2, &ms);

        counts[r]++;
        sum += (uint64_t)ms;
    }
    bench_sink(sum);
    return (double)(bench_ns() - t0);
}

static double run_jansson(const corpus_t *c, uint64_t *errors)
{
    int64_t t0 = bench_ns();

    for (size_t i = 0; i < c->n; i++) {
        json_error_t err;
        json_t *j = json_loadb(c->data + c->off[i], c->off[i + 1] - c->off[i],
                               0, &err);

        if (!j)
            (*errors)++;
        bench_sink((uint64_t)(uintptr_t)j);
        json_decref(j);
    }
    return (double)(bench_ns() - t0);
}

static double run_memchr(const corpus_t *c)
{
    int64_t t0 = bench_ns();
    uint64_t hits = 0;

    for (size_t i = 0; i < c->n; i++) {
        /* '\x01' never occurs: memchr reads every byte of the message. */
        const void *p =
            memchr(c->data + c->off[i], '\x01', c->off[i + 1] - c->off[i]);

        hits += (uintptr_t)p;
    }
    bench_sink(hits);
    return (double)(bench_ns() - t0);
}

int main(void)
{
    corpus_t c = {0};
    double t_tsx[ROUNDS], t_jan[ROUNDS], t_mem[ROUNDS];
    double mb, tsx, jan, mem;
    uint64_t counts[3] = {0}, jerr = 0;
    char detail[256];

    gen_corpus(&c);
    mb = (double)c.len / 1e6;
    /* Warm-up pass, and a sanity check that the mix is what we claim. */
    run_memchr(&c);
    run_tsx(&c, counts);
    run_jansson(&c, &jerr);
    if (jerr || counts[CHP_TS_MALFORMED]) {
        fprintf(stderr, "bench_tsx: bad corpus (%llu jansson errors, %llu "
                        "malformed)\n",
                (unsigned long long)jerr,
                (unsigned long long)counts[CHP_TS_MALFORMED]);
        return 1;
    }
    fprintf(stderr,
            "bench_tsx: %zu messages, %.1f MB, %.1f%% with a timestamp\n",
            c.n, mb, 100.0 * (double)counts[CHP_TS_FOUND] / (double)c.n);

    /* Rotate the order each round so no side always runs on a warm or
     * cold cache. */
    for (int r = 0; r < ROUNDS; r++) {
        for (int k = 0; k < 3; k++) {
            switch ((r + k) % 3) {
            case 0:
                t_tsx[r] = run_tsx(&c, counts);
                break;
            case 1:
                t_jan[r] = run_jansson(&c, &jerr);
                break;
            default:
                t_mem[r] = run_memchr(&c);
                break;
            }
        }
    }
    tsx = bench_median(t_tsx, ROUNDS);
    jan = bench_median(t_jan, ROUNDS);
    mem = bench_median(t_mem, ROUNDS);

    snprintf(detail, sizeof(detail),
             "A=%.0f B=%.0f MB/s; tsx scan vs jansson json_loadb+json_decref, "
             "%zu msgs %.1f MB",
             mb / (tsx / 1e9), mb / (jan / 1e9), c.n, mb);
    bench_report("tsx_vs_jansson", jan / tsx, ">= 10", detail);
    snprintf(detail, sizeof(detail),
             "A=%.2f B=%.2f ms per pass; tsx scan vs memchr of an absent "
             "byte, per message (%.0f vs %.0f MB/s)",
             tsx / 1e6, mem / 1e6, mb / (tsx / 1e9), mb / (mem / 1e9));
    bench_report("tsx_vs_memchr", tsx / mem, "<= 2", detail);

    free(c.data);
    free(c.off);
    return 0;
}
