/* auditmsg_diff.c - field-by-field comparison of two audit messages, for
 * the tests and the fuzzer that checks the two decoders agree. */
#include <math.h>
#include <string.h>

#include "auditmsg.h"
#include "auditmsg_field.h"

static bool same_double(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return a == b && !signbit(a) == !signbit(b);
}

static bool same_sketch(const chp_sketch_t *a, const chp_sketch_t *b)
{
    static const double qs[] = {0,   0.01, 0.1,  0.25,  0.5, 0.75,
                                0.9, 0.95, 0.99, 0.999, 1};

    if (!a || !b)
        return a == b;
    if (chp_sketch_count(a) != chp_sketch_count(b) ||
        chp_sketch_negative_count(a) != chp_sketch_negative_count(b) ||
        chp_sketch_max(a) != chp_sketch_max(b))
        return false;
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++)
        if (!same_double(chp_sketch_quantile(a, qs[i]),
                         chp_sketch_quantile(b, qs[i])))
            return false;
    return true;
}

const char *chp_auditmsg_diff(const chp_auditmsg_t *a, const chp_auditmsg_t *b)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        const field_t *f = &fields[i];
        bool same = true;

        switch (f->kind) {
        case F_NAME:
        case F_UUID:
            same = strncmp(CAT(a, f, char), CAT(b, f, char), str_cap(f)) == 0;
            break;
        case F_TIME:
            same = *CAT(a, f, int64_t) == *CAT(b, f, int64_t);
            break;
        case F_COUNT:
            same = *CAT(a, f, uint64_t) == *CAT(b, f, uint64_t);
            break;
        case F_LATENCY:
            same = same_double(*CAT(a, f, double), *CAT(b, f, double));
            break;
        case F_VERSION:
            same = a->version == b->version;
            break;
        case F_SKETCH:
            same = same_sketch(a->sketch, b->sketch);
            break;
        }
        if (!same)
            return f->name;
    }
    return NULL;
}
