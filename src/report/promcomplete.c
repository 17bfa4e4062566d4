/* promcomplete.c - completeness as Prometheus metrics, see promcomplete.h. */
#include <math.h>
#include <stdio.h>

#include "report/promcomplete.h"
#include "report/watermark.h"

void rep_prom_header(chp_buf_t *b)
{
    chp_buf_puts(b,
                 "# HELP chaperone_completeness_ratio Worst completeness of "
                 "a tier against the reference over the closed buckets of "
                 "the window.\n"
                 "# TYPE chaperone_completeness_ratio gauge\n"
                 "# HELP chaperone_lossy_buckets Closed buckets of the window "
                 "where the tier lost more than allowed.\n"
                 "# TYPE chaperone_lossy_buckets gauge\n"
                 "# HELP chaperone_complete_until_seconds End of the newest "
                 "bucket up to which every closed bucket is complete (Unix "
                 "time).\n"
                 "# TYPE chaperone_complete_until_seconds gauge\n");
}

void rep_prom_label(chp_buf_t *b, const char *s)
{
    for (; *s; s++) {
        if (*s == '\\')
            chp_buf_puts(b, "\\\\");
        else if (*s == '"')
            chp_buf_puts(b, "\\\"");
        else if (*s == '\n')
            chp_buf_puts(b, "\\n");
        else
            chp_buf_putn(b, s, 1);
    }
}

static void sample(chp_buf_t *b, const char *name, const rep_grid_t *g,
                   size_t t, bool with_ref)
{
    chp_buf_printf(b, "%s{topic=\"", name);
    rep_prom_label(b, g->topic);
    chp_buf_puts(b, "\",tier=\"");
    rep_prom_label(b, g->tiers[t]);
    if (with_ref) {
        chp_buf_puts(b, "\",reference=\"");
        rep_prom_label(b, g->tiers[g->ref]);
    }
    chp_buf_puts(b, "\"} ");
}

void rep_prom_topic(chp_buf_t *b, const rep_grid_t *g, double max_loss,
                    int64_t lateness_s, int64_t now_s)
{
    rep_watermark_t w;

    for (size_t t = 0; t < g->n_tiers; t++) {
        double worst = NAN;
        size_t lossy = 0, final = 0;

        if (t == g->ref)
            continue;
        for (size_t k = 0; k < g->n_buckets; k++) {
            rep_cmp_t c;
            if (!rep_bucket_final(g->end[k], now_s, lateness_s))
                continue;
            final++;
            c = rep_grid_compare(g, k, t);
            lossy += rep_violates(&c, max_loss);
            /* Data the reference never saw has no ratio; it is lossy. */
            if (!c.unexpected && (isnan(worst) || c.ratio < worst))
                worst = c.ratio;
        }
        if (final == 0)
            continue; /* nothing closed yet: no claim either way */
        if (!isnan(worst)) {
            sample(b, "chaperone_completeness_ratio", g, t, true);
            chp_buf_printf(b, "%.6g\n", worst);
        }
        sample(b, "chaperone_lossy_buckets", g, t, false);
        chp_buf_printf(b, "%zu\n", lossy);
    }
    rep_watermark(g, NULL, 0, max_loss, lateness_s, now_s, &w);
    if (w.have_until) {
        chp_buf_puts(b, "chaperone_complete_until_seconds{topic=\"");
        rep_prom_label(b, g->topic);
        chp_buf_printf(b, "\"} %lld\n", (long long)w.until);
    }
}
