/* main.c - the chaperone binary: git-style subcommands.
 *
 *   chaperone <command> [-c FILE] [-X key=value ...] [command options]
 *
 * -c loads a .properties file, -X sets one key (after the file, in order);
 * kafka.* keys go to librdkafka.  Only main decides to exit. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "buildinfo.h"
#include "commands.h"
#include "conf.h"
#include "conf_daemon.h"
#include "http.h"
#include "log.h"
#include "conf_daemon_keys.h"

static int cmd_config(chp_conf_t *conf, int argc, char **argv);
static int cmd_version(chp_conf_t *conf, int argc, char **argv);

static const struct command {
    const char *name;
    cmd_fn_t *fn;
    const char *summary;
} commands[] = {
    {"worker", cmd_worker,
     "audit every message stored in a Kafka cluster, exactly once"},
    {"controller", cmd_controller,
     "registry of audited topics, auto-detection and the REST API"},
    {"collector", cmd_collector,
     "store the audit messages in a database, de-duplicated, exactly once"},
    {"demo", cmd_demo,
     "the whole pipeline in one command, with a known loss injected"},
    {"report", cmd_report,
     "per-bucket counts per tier, loss and completeness of a topic"},
    {"check", cmd_check,
     "exit 2 when a closed bucket lost more than allowed (alerting)"},
    {"config", cmd_config,
     "print the effective configuration (--markdown: the key reference)"},
    {"version", cmd_version,
     "print the version, git revision and librdkafka version"},
};

#define N_COMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *fp)
{
    fprintf(fp, "usage: chaperone <command> [-c FILE] [-X key=value ...] "
                "[options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++)
        fprintf(fp, "  %-11s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\n  -c FILE        load a .properties file\n"
                "  -X key=value   set one configuration key "
                "(docs/configuration.md)\n"
                "  -h, --help     help for a command\n"
                "  -V, --version  version, git revision and librdkafka "
                "version\n");
}

static int cmd_config(chp_conf_t *conf, int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "--markdown")) {
        chp_conf_markdown(stdout, &conf_daemon_table);
        return 0;
    }
    chp_conf_dump(conf, stdout);
    return 0;
}

static int cmd_version(chp_conf_t *conf, int argc, char **argv)
{
    (void)conf, (void)argc, (void)argv;
    /* The librdkafka in use may be newer than the headers we were built
     * with (a distribution upgrade): print both. */
    printf("chaperone %s (git %s)\n", chp_version(), CHP_GIT_REV);
    printf("librdkafka %s (built with %d.%d.%d)\n", rd_kafka_version_str(),
           (RD_KAFKA_VERSION >> 24) & 0xff, (RD_KAFKA_VERSION >> 16) & 0xff,
           (RD_KAFKA_VERSION >> 8) & 0xff);
    return 0;
}

/* A secret given literally with -X is readable by every user of the host
 * (ps, /proc/PID/cmdline): say so, and how to avoid it. */
static void warn_secret_on_cmdline(const char *kv)
{
    const char *eq = strchr(kv, '='), *v;
    char key[256];
    size_t len;

    if (!eq || (len = (size_t)(eq - kv)) >= sizeof(key))
        return;
    memcpy(key, kv, len);
    key[len] = '\0';
    for (v = eq + 1; *v == ' ' || *v == '\t'; v++)
        ;
    while (len && (key[len - 1] == ' ' || key[len - 1] == '\t'))
        key[--len] = '\0';
    if (*v && strncmp(v, "@file:", 6) &&
        chp_conf_is_secret_in(&conf_daemon_table, key))
        fprintf(stderr,
                "chaperone: warning: \"%s\" given on the command line is "
                "visible to every user of this host; use -X %s=@file:/path "
                "(docs/security.md)\n",
                key, key);
}

/* Applies -c FILE (first) and -X key=value (then, in order), removing them
 * from argv.  Returns 0, or 2 after printing an error naming the key. */
static int apply_common(chp_conf_t *conf, int *argcp, char **argv)
{
    char err[512];
    int argc = *argcp, out = 1;
    const char *file = NULL;

    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
            i + 1 < argc) {
            file = argv[++i];
        }
    }
    if (file && chp_conf_load_file(conf, file, err, sizeof(err)) != CHP_OK) {
        fprintf(stderr, "chaperone: %s\n", err);
        return 2;
    }
    for (int i = 1; i < argc; i++) {
        if ((!strcmp(argv[i], "-c") || !strcmp(argv[i], "--config")) &&
            i + 1 < argc) {
            i++;
        } else if (!strcmp(argv[i], "-X") && i + 1 < argc) {
            warn_secret_on_cmdline(argv[i + 1]);
            if (chp_conf_set_kv(conf, argv[++i], err, sizeof(err)) != CHP_OK) {
                fprintf(stderr, "chaperone: -X %s: %s\n", argv[i], err);
                return 2;
            }
        } else if (!strncmp(argv[i], "-X", 2) && argv[i][2]) {
            warn_secret_on_cmdline(argv[i] + 2);
            if (chp_conf_set_kv(conf, argv[i] + 2, err, sizeof(err)) !=
                CHP_OK) {
                fprintf(stderr, "chaperone: %s: %s\n", argv[i], err);
                return 2;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    argv[out] = NULL;
    *argcp = out;
    return 0;
}

int main(int argc, char **argv)
{
    const struct command *cmd = NULL;
    chp_conf_t *conf;
    char err[1024];
    int rc;

    if (argc >= 2 && (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")))
        return cmd_version(NULL, argc - 1, argv + 1);
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") ||
        !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name))
            cmd = &commands[i];
    if (!cmd) {
        fprintf(stderr, "chaperone: unknown command \"%s\"\n\n", argv[1]);
        usage(stderr);
        return 2;
    }
    if (!(conf = conf_daemon_new())) {
        fprintf(stderr, "chaperone: out of memory\n");
        return 1;
    }
    argc--, argv++; /* argv[0] is now the command */
    if ((rc = apply_common(conf, &argc, argv)) != 0) {
        /* check's exit status 2 means "loss found" (cron and CI alert on
         * it); a configuration error there must not look like one. */
        if (cmd->fn == cmd_check)
            rc = 1;
    } else if ((cmd->fn == cmd_worker || cmd->fn == cmd_controller ||
                cmd->fn == cmd_collector) &&
               http_conf_check(conf, err, sizeof(err)) != CHP_OK) {
        /* Protected mode and the HTTP keys: refused before connecting. */
        fprintf(stderr, "chaperone %s: %s\n", cmd->name, err);
        rc = 2;
    } else {
        if (chp_log_set_level_name(chp_conf_get_str(conf, CHP_KEY_LOG_LEVEL)) !=
            0)
            chp_log_set_level(CHP_LOG_INFO);
        rc = cmd->fn(conf, argc, argv);
    }
    chp_conf_destroy(conf);
    return rc;
}
