/* cmd_check.c - `chaperone check`: alerting for cron and CI (design.md §9,
 * docs/report.md).  Exit 0 when no final bucket of the checked topics has
 * a tier below 1 - max-loss of its reference (nor unexpected data), 2 when
 * one has (one line per offending bucket and tier), 1 on an error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "conf.h"
#include "report/cli.h"
#include "report/pipeline_format.h"
#include "report/report.h"
#include "conf_daemon_keys.h"

static const char usage_text[] =
    "usage: chaperone check [--max-loss P] [--lateness DURATION]\n"
    "                       [--topic TOPIC] [--reference TIER]\n"
    "                       [--from TIME] [--to TIME] [--pipeline TIERS]\n"
    "                       [-c FILE] [-X db.url=URL ...]\n"
    "       chaperone check --watermark --topic TOPIC [--tiers TIERS]\n"
    "                       [--until TIME]   (see check --watermark --help)\n"
    "\n"
    "  --max-loss P      largest allowed loss: 0.01% or a fraction (0.0001);\n"
    "                    default report.max.loss.percent\n"
    "  --lateness D      a bucket is final once it ended D ago (90s, 30m,\n"
    "                    1h); default report.lateness.s\n"
    "  --topic TOPIC     check one topic (default: every stored topic)\n"
    "  --reference TIER  default report.reference.tier, else the tier with\n"
    "                    the largest total over the range\n"
    "  --from, --to      range of bucket starts (default the last 24 hours)\n"
    "  --pipeline TIERS  ordered tiers: check every hop (loss and\n"
    "                    duplication); default report.pipeline\n"
    "\n"
    "Exit status: 0 no violation, 2 violations (listed on stdout), 1 error.\n";

typedef struct check_args {
    const char *max_loss, *lateness, *topic, *reference, *from, *to;
    const char *pipeline;
} check_args_t;

static int fail(const char *msg)
{
    fprintf(stderr, "chaperone check: %s\n", msg);
    return 1;
}

static void print_violation(const rep_grid_t *g, size_t b, size_t t,
                            const rep_cmp_t *c, void *opaque)
{
    char when[REP_TIME_MAX];
    (void)opaque;

    rep_format_time(g->begin[b], when);
    printf("%s topic=%s bucket=%s tier=%s count=%" PRIu64
           " reference=%s reference_count=%" PRIu64 " loss=%" PRId64,
           c->unexpected ? "UNEXPECTED" : "LOSS", g->topic, when, g->tiers[t],
           c->count, g->tiers[g->ref], c->ref_count, c->loss);
    if (!c->unexpected)
        printf(" loss_percent=%.4f",
               100.0 * (double)c->loss / (double)c->ref_count);
    printf("\n");
}

/* LOSS|DUPLICATION|UNEXPECTED topic=... bucket=... hop=a->b
 * datacenter=... upstream=N downstream=N loss=N duplicated=N ... */
static void print_hop_violation(const rep_pipe_t *p, size_t b,
                                const rep_hop_t *h, size_t d,
                                rep_pipe_fault_t f, void *opaque)
{
    const rep_hop_cell_t *c = rep_hop_cell(h, b, d);
    char when[REP_TIME_MAX], hop[2 * CHP_NAME_MAX + 4];
    (void)opaque;

    rep_format_time(p->begin[b], when);
    rep_hop_name(p, h, hop, sizeof(hop));
    printf("%s topic=%s bucket=%s hop=%s datacenter=%s upstream=%" PRIu64
           " downstream=%" PRIu64 " loss=%" PRIu64 " duplicated=%" PRIu64,
           rep_pipe_fault_name(f), p->topic, when, hop, rep_hop_dc(h, d), c->up,
           c->down, c->loss, c->duplicated);
    if (f == REP_PIPE_LOSS)
        printf(" loss_percent=%.4f", 100.0 * (double)c->loss / (double)c->up);
    else if (f == REP_PIPE_DUPLICATION)
        printf(" duplicated_percent=%.4f",
               100.0 * (double)c->duplicated / (double)c->up);
    printf("\n");
}

/* Checks one topic along the pipeline; 0, or -1 with err filled. */
static int check_pipeline(store_t *s, const char *topic,
                          const rep_pipe_spec_t *spec, int64_t from, int64_t to,
                          double max_loss, int64_t lateness, int64_t now,
                          rep_pipe_stats_t *st, char *err, size_t err_size)
{
    rep_pipe_t p;
    int rc = -1;

    if (rep_pipe_load(s, topic, from, to, spec, &p, err, err_size) == CHP_OK) {
        rep_pipe_check(&p, max_loss, lateness, now, print_hop_violation, NULL,
                       st);
        rc = 0;
    }
    rep_pipe_free(&p);
    return rc;
}

/* Checks one topic; 0, or -1 with err filled. */
static int check_topic(store_t *s, const char *topic, const char *reference,
                       int64_t from, int64_t to, double max_loss,
                       int64_t lateness, int64_t now, rep_check_stats_t *st,
                       char *err, size_t err_size)
{
    rep_grid_t g;
    int rc = -1;

    if (rep_load(s, topic, from, to, reference, &g, err, err_size) != CHP_OK)
        goto out;
    rep_check_grid(&g, max_loss, lateness, now, print_violation, NULL, st);
    rc = 0;
out:
    rep_grid_free(&g);
    return rc;
}

/* The thresholds and the range: from the arguments, else conf. */
static int parse_args(const chp_conf_t *conf, check_args_t *a, double *max_loss,
                      int64_t *lateness, int64_t now, int64_t *from,
                      int64_t *to, char *err, size_t err_size)
{
    char why[512];

    *max_loss =
        chp_conf_get_double(conf, CHP_KEY_REPORT_MAX_LOSS_PERCENT) / 100;
    *lateness = chp_conf_get_int(conf, CHP_KEY_REPORT_LATENESS_S);
    if (a->max_loss &&
        rep_parse_loss(a->max_loss, max_loss, why, sizeof(why))) {
        snprintf(err, err_size, "--max-loss: %s", why);
        return -1;
    }
    if (a->lateness &&
        rep_parse_duration(a->lateness, lateness, why, sizeof(why))) {
        snprintf(err, err_size, "--lateness: %s", why);
        return -1;
    }
    if (a->topic && !chp_conf_topic_name_ok(a->topic, strlen(a->topic))) {
        snprintf(err, err_size,
                 "--topic: \"%.64s\" is not a legal Kafka topic name",
                 a->topic);
        return -1;
    }
    if (!a->reference)
        a->reference = chp_conf_get_str(conf, CHP_KEY_REPORT_REFERENCE_TIER);
    if (*a->reference && !rep_tier_name_ok(a->reference)) {
        snprintf(err, err_size,
                 "--reference: not a tier name (empty, too "
                 "long or control characters)");
        return -1;
    }
    if (rep_parse_range(a->from, a->to, "--from", "--to", now, from, to, err,
                        err_size) != CHP_OK)
        return -1;
    return 0;
}

int cmd_check(chp_conf_t *conf, int argc, char **argv)
{
    check_args_t a = {0};
    const rep_opt_t opts[] = {
        {"--max-loss", &a.max_loss, NULL}, {"--lateness", &a.lateness, NULL},
        {"--topic", &a.topic, NULL},       {"--reference", &a.reference, NULL},
        {"--from", &a.from, NULL},         {"--to", &a.to, NULL},
        {"--pipeline", &a.pipeline, NULL},
    };
    rep_pipe_spec_t spec;
    rep_pipe_stats_t pst = {0};
    char err[1024], late[32], when[REP_TIME_MAX];
    store_t *s = NULL;
    char **topics = NULL;
    size_t n_topics = 0;
    rep_check_stats_t st = {0};
    int64_t now = (int64_t)time(NULL), lateness, from, to;
    double max_loss;
    int rc = 1, r;

    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--watermark"))
            return cmd_check_watermark(conf, argc, argv);
    if ((r = rep_cli_args("chaperone check", argc, argv, opts,
                          sizeof(opts) / sizeof(opts[0]), usage_text)) >= 0)
        return r;
    if (parse_args(conf, &a, &max_loss, &lateness, now, &from, &to, err,
                   sizeof(err)) != 0 ||
        rep_pipe_spec_arg(conf, a.pipeline, "--pipeline", &spec, err,
                          sizeof(err)) != CHP_OK)
        return fail(err);

    if (rep_cli_open(conf, &s, err, sizeof(err)) != CHP_OK ||
        rep_topics(s, &topics, &n_topics, err, sizeof(err)) != CHP_OK)
        goto out;
    if (a.topic) {
        bool known = false;
        for (size_t i = 0; i < n_topics; i++)
            known |= !strcmp(topics[i], a.topic);
        if (!known) {
            snprintf(err, sizeof(err),
                     "--topic: no audit data is stored for topic %s", a.topic);
            goto out;
        }
    }
    for (size_t i = 0; i < n_topics; i++)
        if ((!a.topic || !strcmp(topics[i], a.topic)) &&
            (spec.n ? check_pipeline(s, topics[i], &spec, from, to, max_loss,
                                     lateness, now, &pst, err, sizeof(err))
                    : check_topic(s, topics[i], a.reference, from, to, max_loss,
                                  lateness, now, &st, err, sizeof(err))) != 0)
            goto out;

    rep_format_duration(lateness, late, sizeof(late));
    if (spec.n) {
        rc = pst.violations ? 2 : 0;
        if (rc)
            printf("FAIL: %zu violation(s) in %zu of %zu final bucket(s): "
                   "%" PRIu64 " message(s) lost in %zu hop cell(s), %" PRIu64
                   " duplicated in %zu (max loss %g%%, lateness %s)\n",
                   pst.violations, pst.bad_buckets, pst.final_buckets, pst.lost,
                   pst.lost_cells, pst.duplicated, pst.duplicated_cells,
                   max_loss * 100, late);
        else
            printf("OK: %zu final bucket(s) of %zu topic(s) checked along "
                   "%zu hop(s), no hop lost or duplicated more than %g%% "
                   "(lateness %s)\n",
                   pst.final_buckets, a.topic ? (size_t)1 : n_topics,
                   spec.n - 1, max_loss * 100, late);
        fflush(stdout);
        goto out;
    }
    rc = rep_check_exit_status(&st);
    if (rc != 0) {
        printf("FAIL: %zu violation(s) in %zu of %zu final bucket(s) "
               "(max loss %g%%, lateness %s)\n",
               st.violations, st.bad_buckets, st.final_buckets, max_loss * 100,
               late);
    } else {
        printf("OK: %zu final bucket(s) of %zu topic(s) checked, no tier "
               "lost more than %g%% (lateness %s)",
               st.final_buckets, a.topic ? (size_t)1 : n_topics, max_loss * 100,
               late);
        if (st.have_worst) {
            rep_format_time(st.worst_begin, when);
            printf("; lowest completeness %.6f: topic=%s bucket=%s tier=%s",
                   st.worst.ratio, st.worst_topic, when, st.worst_tier);
        }
        printf("\n");
    }
    fflush(stdout);
out:
    if (rc == 1)
        fail(err);
    rep_topics_free(topics);
    if (s)
        store_close(s);
    return rc;
}
