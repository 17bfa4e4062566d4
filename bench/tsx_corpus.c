/* tsx_corpus.c - see tsx_corpus.h */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tsx_corpus.h"

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
    "hotel", "india", "juliet",  "kilo",  "lima", "ts",      "timestamp",
};
#define NWORDS (sizeof(words) / sizeof(words[0]))

static void put_user(corpus_t *c)
{
    unsigned id = rnd_below(1000000);

    put(c,
        "\"user\":{\"id\":%u,\"name\":\"user_%u\",\"email\":\"u%u@example."
        "com\","
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

void tsx_corpus_make(corpus_t *c, size_t total)
{
    c->cap = total + (1u << 20);
    c->data = malloc(c->cap);
    c->off_cap = 1u << 16;
    c->off = malloc(c->off_cap * sizeof(*c->off));
    if (!c->data || !c->off)
        abort();
    while (c->len < total) {
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
    /* Padding: readable bytes after the last message. */
    if (c->cap - c->len < TSX_CORPUS_PAD) {
        c->cap = c->len + TSX_CORPUS_PAD;
        c->data = realloc(c->data, c->cap);
        if (!c->data)
            abort();
    }
    memset(c->data + c->len, ' ', c->cap - c->len);
}

void tsx_corpus_free(corpus_t *c)
{
    free(c->data);
    free(c->off);
    memset(c, 0, sizeof(*c));
}
