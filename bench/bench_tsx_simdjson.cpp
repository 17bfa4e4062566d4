/* bench_tsx_simdjson.cpp - tsx_vs_simdjson (design.md §12): simdjson On-Demand
 * ns per message finding the same top-level timestamp field ÷ ours, on the
 * corpus bench_tsx uses (tsx_corpus.c), in thread CPU time, alternating
 * pairs.  Both sides answer the same question the worker asks: the first
 * top-level key equal to "ts" or "timestamp" (ASCII case-insensitive, as
 * the scanner matches) whose value is a number or a numeric string,
 * normalised to milliseconds by chp_ts_to_ms.  Every answer of simdjson is
 * checked against ours before anything is timed.
 *
 * simdjson reads the messages in place: they are contiguous in one buffer
 * with readable padding after the last, which is what its padding
 * requirement asks for, so neither side copies. */
#include <simdjson.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

#include "benchutil.h"
#include "chaperone.h"
#include "tsx_corpus.h"

#define TOTAL_BYTES (32u << 20)
#define PAIRS 21
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)

static_assert(TSX_CORPUS_PAD >= simdjson::SIMDJSON_PADDING, "corpus padding");

using namespace simdjson;

static const char *const names[] = {"ts", "timestamp"};

/* r points after the opening quote of a key, as written (escapes not
 * decoded: an escaped spelling does not match, as in ours). */
static bool key_is_name(const char *r)
{
    for (const char *nm : names) {
        size_t i = 0;

        /* Stops at the first difference; the closing quote differs from
         * every letter, so nothing past the key is compared. */
        for (; nm[i]; i++) {
            unsigned char c = (unsigned char)r[i];
            if (c >= 'A' && c <= 'Z')
                c |= 0x20;
            if (c != (unsigned char)nm[i])
                break;
        }
        if (!nm[i] && r[i] == '"')
            return true;
    }
    return false;
}

/* What chp_tsx_scan_json answers, by simdjson On-Demand. */
static chp_ts_result_t sj_scan(ondemand::parser &parser, const char *buf,
                               size_t len, size_t capacity, int64_t *ms)
{
    ondemand::document doc;
    ondemand::object obj;

    if (parser.iterate(buf, len, capacity).get(doc) ||
        doc.get_object().get(obj))
        return CHP_TS_MALFORMED;
    for (auto field : obj) {
        ondemand::raw_json_string key;
        double v;

        if (field.key().get(key))
            return CHP_TS_MALFORMED;
        if (!key_is_name(key.raw()))
            continue;
        ondemand::value val;
        if (field.value().get(val))
            return CHP_TS_MALFORMED;
        ondemand::json_type t;
        if (val.type().get(t))
            return CHP_TS_MALFORMED;
        if (t == ondemand::json_type::number) {
            if (val.get_double().get(v))
                return CHP_TS_MALFORMED;
        } else if (t == ondemand::json_type::string) {
            std::string_view s;
            if (val.get_string().get(s))
                return CHP_TS_MALFORMED;
            char tmp[64];
            char *end;
            if (s.empty() || s.size() >= sizeof(tmp))
                continue;
            std::memcpy(tmp, s.data(), s.size());
            tmp[s.size()] = '\0';
            v = std::strtod(tmp, &end);
            if (*end)
                continue;
        } else {
            continue;
        }
        if (chp_ts_to_ms(v, ms))
            return CHP_TS_FOUND;
    }
    return CHP_TS_MISSING;
}

struct ctx {
    corpus_t c;
    ondemand::parser parser;
    std::vector<int64_t> ms;
    std::vector<unsigned char> res;
};

static double run_simdjson(void *p)
{
    ctx *x = static_cast<ctx *>(p);
    uint64_t sum = 0;
    int64_t t0 = bench_thread_cpu_ns();

    for (size_t i = 0; i < x->c.n; i++) {
        int64_t ms = 0;
        size_t o = x->c.off[i];
        chp_ts_result_t r = sj_scan(x->parser, x->c.data + o,
                                    x->c.off[i + 1] - o, x->c.cap - o, &ms);
        sum += (uint64_t)ms + (uint64_t)r;
    }
    bench_sink(sum);
    return (double)(bench_thread_cpu_ns() - t0) / (double)x->c.n;
}

static double run_tsx(void *p)
{
    ctx *x = static_cast<ctx *>(p);
    uint64_t sum = 0;
    int64_t t0 = bench_thread_cpu_ns();

    for (size_t i = 0; i < x->c.n; i++) {
        int64_t ms = 0;
        size_t o = x->c.off[i];
        chp_ts_result_t r = chp_tsx_scan_json(
            x->c.data + o, x->c.off[i + 1] - o, names, 2, &ms);
        sum += (uint64_t)ms + (uint64_t)r;
    }
    bench_sink(sum);
    return (double)(bench_thread_cpu_ns() - t0) / (double)x->c.n;
}

int main()
{
    static ctx x;
    double a[PAIRS], b[PAIRS], ratio[PAIRS];
    size_t found = 0;
    bench_cmp_t cmp;
    char detail[320];

    tsx_corpus_make(&x.c, TOTAL_BYTES);
    if (x.parser.allocate(64 * 1024)) {
        std::fprintf(stderr, "bench_tsx_simdjson: parser allocation\n");
        return 1;
    }
    /* Same answers, message by message, before any timing. */
    for (size_t i = 0; i < x.c.n; i++) {
        size_t o = x.c.off[i], len = x.c.off[i + 1] - o;
        int64_t ms_a = 0, ms_b = 0;
        chp_ts_result_t ra = sj_scan(x.parser, x.c.data + o, len,
                                     x.c.cap - o, &ms_a);
        chp_ts_result_t rb =
            chp_tsx_scan_json(x.c.data + o, len, names, 2, &ms_b);

        if (ra != rb || (ra == CHP_TS_FOUND && ms_a != ms_b)) {
            std::fprintf(stderr,
                         "bench_tsx_simdjson: message %zu: simdjson %d/%lld, "
                         "ours %d/%lld: %.*s\n",
                         i, (int)ra, (long long)ms_a, (int)rb,
                         (long long)ms_b, (int)len, x.c.data + o);
            return 1;
        }
        found += ra == CHP_TS_FOUND;
    }
    std::fprintf(stderr,
                 "bench_tsx_simdjson: %zu messages, %.1f MB, %zu with a "
                 "timestamp, answers equal (simdjson %s kernel)\n",
                 x.c.n, (double)x.c.len / 1e6, found,
                 STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION));
    run_simdjson(&x); /* warm-up */
    run_tsx(&x);
    bench_alternate(PAIRS, run_simdjson, run_tsx, &x, a, b);
    for (int i = 0; i < PAIRS; i++)
        ratio[i] = a[i] / b[i];
    bench_summarise(a, b, ratio, PAIRS, BENCH_THREAD_CPU, &cmp);
    std::snprintf(detail, sizeof(detail),
                  "A=%.0f B=%.0f ns per message; simdjson %s On-Demand "
                  "%s kernel (iterate, walk the top-level keys, stop at the first "
                  "timestamp) vs tsx scan, %zu msgs %.1f MB, same answers",
                  cmp.a, cmp.b, STRINGIFY(SIMDJSON_VERSION),
                  STRINGIFY(SIMDJSON_BUILTIN_IMPLEMENTATION), x.c.n,
                  (double)x.c.len / 1e6);
    bench_report_cmp("tsx_vs_simdjson", &cmp, ">= 1.5", detail);
    tsx_corpus_free(&x.c);
    return 0;
}
