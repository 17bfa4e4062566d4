/* tsx_corpus.h - the deterministic JSON message mix the timestamp
 * benchmarks share (bench_tsx.c, bench_tsx_simdjson.cpp): events of
 * 200-2000 bytes with nested objects, arrays, escaped strings and numbers;
 * the timestamp early in ~50%, late (after the big nested parts) in ~30%,
 * absent in ~20%.  Messages are contiguous in one buffer followed by at
 * least TSX_CORPUS_PAD readable bytes (simdjson's padding). */
#ifndef CHP_TSX_CORPUS_H
#define CHP_TSX_CORPUS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TSX_CORPUS_PAD 256

typedef struct {
    char *data;
    size_t len, cap;
    size_t *off; /* message i is data[off[i], off[i + 1]) */
    size_t n, off_cap;
} corpus_t;

/* Fills c (zeroed by the caller) with about total bytes; aborts when out of
 * memory. */
void tsx_corpus_make(corpus_t *c, size_t total);

void tsx_corpus_free(corpus_t *c);

#ifdef __cplusplus
}
#endif

#endif
