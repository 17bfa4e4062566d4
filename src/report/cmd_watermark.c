/* cmd_watermark.c - `chaperone check --watermark`: the completeness
 * watermark of one topic (docs/report.md, "Watermark"), for batch jobs that
 * wait until "hour H is complete":
 *
 *   until chaperone check --watermark --topic orders \
 *           --tiers producer,kafka-aggregate --until 2026-11-27T14:00:00Z
 *   do sleep 60; done
 *
 * Prints one WATERMARK line (and a BLOCKED line naming the first incomplete
 * closed bucket, if one holds it back).  Exit 0 when the watermark reaches
 * --until (without --until: when there is a watermark at all), 2 when not
 * yet, 1 on an error. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "conf.h"
#include "report/cli.h"
#include "report/pipeline.h"
#include "report/watermark.h"
#include "conf_daemon_keys.h"

static const char usage_text[] =
    "usage: chaperone check --watermark --topic TOPIC [--tiers TIERS]\n"
    "                       [--until TIME] [--from TIME] [--max-loss P]\n"
    "                       [--lateness DURATION] [-c FILE] [-X key=value]\n"
    "\n"
    "  --topic TOPIC     the topic (required)\n"
    "  --tiers TIERS     comma list; the first is the reference the others\n"
    "                    must match; default report.pipeline, else every\n"
    "                    tier against report.reference.tier (or the largest)\n"
    "  --until TIME      exit 0 only once the watermark is at or past TIME\n"
    "  --from TIME       oldest bucket looked at (default -24h)\n"
    "  --max-loss P      allowed loss per tier (default\n"
    "                    report.max.loss.percent)\n"
    "  --lateness D      a bucket is closed once it ended D ago (default\n"
    "                    report.lateness.s)\n"
    "\n"
    "Prints WATERMARK topic=... until=TIME until_s=N complete_buckets=N.\n"
    "Exit status: 0 reached (or any watermark without --until), 2 not yet,\n"
    "1 error.\n";

typedef struct wm_args {
    const char *topic, *tiers, *until, *from, *max_loss, *lateness;
    bool watermark;
} wm_args_t;

static int wm_fail(const char *msg)
{
    fprintf(stderr, "chaperone check --watermark: %s\n", msg);
    return 1;
}

/* The tier list: --tiers, else report.pipeline, else none (all tiers). */
static chp_err_t wm_tiers(const chp_conf_t *conf, const char *arg,
                          char ***tiers, size_t *n, char *err, size_t err_size)
{
    const char *list =
        arg ? arg : chp_conf_get_str(conf, CHP_KEY_REPORT_PIPELINE);
    char why[512];

    *tiers = NULL;
    *n = 0;
    if (!*list)
        return CHP_OK;
    if (rep_split_tiers(list, tiers, n, why, sizeof(why)) != CHP_OK) {
        snprintf(err, err_size, "%s: %s",
                 arg ? "--tiers" : CHP_KEY_REPORT_PIPELINE, why);
        return CHP_ERR_PARSE;
    }
    return CHP_OK;
}

static void print_watermark(const char *topic, const rep_watermark_t *w,
                            const char *tiers)
{
    char when[REP_TIME_MAX];

    if (w->have_until) {
        rep_format_time(w->until, when);
        printf("WATERMARK topic=%s until=%s until_s=%" PRId64
               " complete_buckets=%zu tiers=%s\n",
               topic, when, w->until, w->complete_buckets, tiers);
    } else {
        printf("WATERMARK topic=%s until=none complete_buckets=0 tiers=%s\n",
               topic, tiers);
    }
    if (w->blocked) {
        rep_format_time(w->blocked_begin, when);
        printf("BLOCKED topic=%s bucket=%s tier=%s count=%" PRIu64
               " reference_count=%" PRIu64 "\n",
               topic, when, w->blocked_tier, w->blocked_cmp.count,
               w->blocked_cmp.ref_count);
    }
    fflush(stdout);
}

int cmd_check_watermark(chp_conf_t *conf, int argc, char **argv)
{
    wm_args_t a = {0};
    const rep_opt_t opts[] = {
        {"--watermark", NULL, &a.watermark}, {"--topic", &a.topic, NULL},
        {"--tiers", &a.tiers, NULL},         {"--until", &a.until, NULL},
        {"--from", &a.from, NULL},           {"--max-loss", &a.max_loss, NULL},
        {"--lateness", &a.lateness, NULL},
    };
    char err[1024], why[512];
    char **tiers = NULL;
    size_t n_tiers = 0;
    store_t *s = NULL;
    rep_grid_t g;
    rep_watermark_t w;
    int64_t now = (int64_t)time(NULL), until = 0, from, to, lateness;
    double max_loss;
    bool exists = false, loaded = false;
    int rc = 1, r;

    if ((r = rep_cli_args("chaperone check --watermark", argc, argv, opts,
                          sizeof(opts) / sizeof(opts[0]), usage_text)) >= 0)
        return r;
    max_loss = chp_conf_get_double(conf, CHP_KEY_REPORT_MAX_LOSS_PERCENT) / 100;
    lateness = chp_conf_get_int(conf, CHP_KEY_REPORT_LATENESS_S);
    if (!a.topic)
        return wm_fail("--topic is required");
    if (!chp_conf_topic_name_ok(a.topic, strlen(a.topic))) {
        snprintf(err, sizeof(err),
                 "--topic: \"%.64s\" is not a legal Kafka topic name", a.topic);
        return wm_fail(err);
    }
    if (a.max_loss && rep_parse_loss(a.max_loss, &max_loss, why, sizeof(why))) {
        snprintf(err, sizeof(err), "--max-loss: %s", why);
        return wm_fail(err);
    }
    if (a.lateness &&
        rep_parse_duration(a.lateness, &lateness, why, sizeof(why))) {
        snprintf(err, sizeof(err), "--lateness: %s", why);
        return wm_fail(err);
    }
    if (a.until && rep_parse_time(a.until, now, &until, why, sizeof(why))) {
        snprintf(err, sizeof(err), "--until: %s", why);
        return wm_fail(err);
    }
    if (rep_parse_range(a.from, NULL, "--from", "--to", now, &from, &to, err,
                        sizeof(err)) != CHP_OK ||
        wm_tiers(conf, a.tiers, &tiers, &n_tiers, err, sizeof(err)) != CHP_OK)
        return wm_fail(err);

    if (rep_cli_open(conf, &s, err, sizeof(err)) != CHP_OK ||
        rep_topic_exists(s, a.topic, &exists, err, sizeof(err)) != CHP_OK)
        goto out;
    if (!exists) {
        snprintf(err, sizeof(err),
                 "--topic: no audit data is stored for topic %s", a.topic);
        goto out;
    }
    /* The first listed tier is the reference the others must match. */
    if (rep_load(s, a.topic, from, to,
                 n_tiers
                     ? tiers[0]
                     : chp_conf_get_str(conf, CHP_KEY_REPORT_REFERENCE_TIER),
                 &g, err, sizeof(err)) != CHP_OK) {
        rep_grid_free(&g);
        goto out;
    }
    loaded = true;
    rep_watermark(&g, (const char *const *)tiers, n_tiers, max_loss, lateness,
                  now, &w);
    print_watermark(
        a.topic, &w,
        a.tiers ? a.tiers
                : (n_tiers ? chp_conf_get_str(conf, CHP_KEY_REPORT_PIPELINE)
                           : "all"));
    if (a.until)
        rc = w.have_until && w.until >= until ? 0 : 2;
    else
        rc = w.have_until ? 0 : 2;
out:
    if (rc == 1)
        wm_fail(err);
    if (loaded)
        rep_grid_free(&g);
    free(tiers);
    if (s)
        store_close(s);
    return rc;
}
