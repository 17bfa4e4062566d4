/* cmd_report.c - `chaperone report`: one topic's buckets, one column per
 * tier, loss and completeness against the reference tier (design.md §9,
 * docs/report.md).  Exit 0, or 1 on any error. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "conf.h"
#include "report/cli.h"
#include "report/format.h"
#include "report/pipeline_format.h"
#include "conf_daemon_keys.h"

static const char usage_text[] =
    "usage: chaperone report --topic TOPIC [--from TIME] [--to TIME]\n"
    "                        [--reference TIER] [--format table|json|csv]\n"
    "                        [--latency] [--pipeline TIERS] [-c FILE]\n"
    "                        [-X db.url=URL ...]\n"
    "\n"
    "  --topic TOPIC     the audited topic\n"
    "  --from, --to      range of bucket starts, from <= start < to: epoch\n"
    "                    seconds, 2016-11-05T02:00:00Z or relative (-6h);\n"
    "                    default the last 24 hours\n"
    "  --reference TIER  tier the others are compared with; default\n"
    "                    report.reference.tier, else the tier with the\n"
    "                    largest total over the range\n"
    "  --format F        table (default), json or csv\n"
    "  --latency         table: add p95/p99 latency (ms) of every tier\n"
    "  --pipeline TIERS  ordered tiers (producer,kafka-regional,...): loss,\n"
    "                    duplication and added latency per hop; default\n"
    "                    report.pipeline (empty: compare with the reference)\n"
    "\n"
    "Exit status: 0, or 1 on an error.  See docs/report.md.\n";

typedef struct report_args {
    const char *topic, *from, *to, *reference, *format, *pipeline;
    bool latency;
} report_args_t;

static int fail(const char *msg)
{
    fprintf(stderr, "chaperone report: %s\n", msg);
    return 1;
}

/* Writes text (taken) to stdout; 0, or 1 after saying why. */
static int print_text(char *text)
{
    int rc = 0;

    if (!text)
        return fail("out of memory");
    if (fputs(text, stdout) == EOF || fflush(stdout) != 0)
        rc = fail("cannot write the report to stdout");
    free(text);
    return rc;
}

/* The pipeline view: one line per (bucket, hop, datacenter). */
static int report_pipeline(const chp_conf_t *conf, const report_args_t *a,
                           const rep_pipe_spec_t *spec, rep_format_t fmt,
                           int64_t from, int64_t to)
{
    store_t *s = NULL;
    rep_pipe_t p = {0};
    char err[1024];
    bool exists;
    int rc = 1;

    if (rep_cli_open(conf, &s, err, sizeof(err)) != CHP_OK ||
        rep_topic_exists(s, a->topic, &exists, err, sizeof(err)))
        goto out;
    if (!exists) {
        snprintf(err, sizeof(err),
                 "--topic: no audit data is stored for topic %s", a->topic);
        goto out;
    }
    if (rep_pipe_load(s, a->topic, from, to, spec, &p, err, sizeof(err)) !=
        CHP_OK)
        goto out;
    rc = print_text(fmt == REP_FMT_JSON  ? rep_pipe_format_json(&p, true)
                    : fmt == REP_FMT_CSV ? rep_pipe_format_csv(&p)
                                         : rep_pipe_format_table(&p));
    err[0] = '\0';
out:
    if (rc != 0 && err[0])
        fail(err);
    rep_pipe_free(&p);
    if (s)
        store_close(s);
    return rc;
}

int cmd_report(chp_conf_t *conf, int argc, char **argv)
{
    report_args_t a = {0};
    const rep_opt_t opts[] = {
        {"--topic", &a.topic, NULL},
        {"--from", &a.from, NULL},
        {"--to", &a.to, NULL},
        {"--reference", &a.reference, NULL},
        {"--format", &a.format, NULL},
        {"--latency", NULL, &a.latency},
        {"--pipeline", &a.pipeline, NULL},
    };
    rep_pipe_spec_t spec;
    char err[1024];
    store_t *s = NULL;
    rep_grid_t g = {0};
    rep_format_t fmt = REP_FMT_TABLE;
    int64_t from, to;
    bool exists;
    char *text = NULL;
    int rc = 1, r;

    if ((r = rep_cli_args("chaperone report", argc, argv, opts,
                          sizeof(opts) / sizeof(opts[0]), usage_text)) >= 0)
        return r;
    if (!a.topic)
        return fail("--topic is required");
    if (!chp_conf_topic_name_ok(a.topic, strlen(a.topic))) {
        snprintf(err, sizeof(err),
                 "--topic: \"%.64s\" is not a legal Kafka topic name", a.topic);
        return fail(err);
    }
    if (!a.reference)
        a.reference = chp_conf_get_str(conf, CHP_KEY_REPORT_REFERENCE_TIER);
    if (*a.reference && !rep_tier_name_ok(a.reference))
        return fail("--reference: not a tier name (empty, too long or "
                    "control characters)");
    if (a.format && rep_format_parse(a.format, &fmt, err, sizeof(err))) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "--format: %s", err);
        return fail(msg);
    }
    if (rep_parse_range(a.from, a.to, "--from", "--to", (int64_t)time(NULL),
                        &from, &to, err, sizeof(err)) != CHP_OK)
        return fail(err);
    if (rep_pipe_spec_arg(conf, a.pipeline, "--pipeline", &spec, err,
                          sizeof(err)) != CHP_OK)
        return fail(err);
    if (spec.n)
        return report_pipeline(conf, &a, &spec, fmt, from, to);

    if (rep_cli_open(conf, &s, err, sizeof(err)) != CHP_OK ||
        rep_topic_exists(s, a.topic, &exists, err, sizeof(err)))
        goto out;
    if (!exists) {
        snprintf(err, sizeof(err),
                 "--topic: no audit data is stored for topic %s", a.topic);
        goto out;
    }
    if (rep_load(s, a.topic, from, to, a.reference, &g, err, sizeof(err)) !=
        CHP_OK)
        goto out;
    if (g.ref_missing)
        fprintf(stderr,
                "chaperone report: warning: reference tier %s has no rows "
                "for topic %s in this range; every tier with messages is "
                "unexpected data\n",
                g.tiers[g.ref], g.topic);
    text = fmt == REP_FMT_JSON  ? rep_format_json(&g, true)
           : fmt == REP_FMT_CSV ? rep_format_csv(&g)
                                : rep_format_table(&g, a.latency);
    if (!text) {
        snprintf(err, sizeof(err), "out of memory");
        goto out;
    }
    if (fputs(text, stdout) == EOF || fflush(stdout) != 0) {
        snprintf(err, sizeof(err), "cannot write the report to stdout");
        goto out;
    }
    rc = 0;
out:
    if (rc != 0)
        fail(err);
    free(text);
    rep_grid_free(&g);
    if (s)
        store_close(s);
    return rc;
}
