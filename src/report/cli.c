/* cli.c - see cli.h.  A small parser of our own rather than getopt_long:
 * it names the offending argument in every error, never prints by
 * itself, and keeps no global state between the two commands' tests. */
#include <stdio.h>
#include <string.h>

#include "report/cli.h"
#include "conf_daemon_keys.h"

static const rep_opt_t *find(const rep_opt_t *opts, size_t n, const char *name,
                             size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && !strncmp(opts[i].name, name, len))
            return &opts[i];
    return NULL;
}

chp_err_t rep_cli_parse(int argc, char **argv, const rep_opt_t *opts, size_t n,
                        bool *help, char *errstr, size_t errstr_size)
{
    *help = false;
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i], *eq = strchr(arg, '=');
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        const rep_opt_t *o;

        if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
            *help = true;
            return CHP_OK;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(errstr, errstr_size, "unexpected argument \"%.64s\"", arg);
            return CHP_ERR_INVALID_ARG;
        }
        if (!(o = find(opts, n, arg, len))) {
            snprintf(errstr, errstr_size, "unknown option %.*s",
                     (int)(len > 64 ? 64 : len), arg);
            return CHP_ERR_INVALID_ARG;
        }
        if (o->flag) {
            if (eq) {
                snprintf(errstr, errstr_size, "%s takes no value", o->name);
                return CHP_ERR_INVALID_ARG;
            }
            *o->flag = true;
            continue;
        }
        if (*o->value) {
            snprintf(errstr, errstr_size, "%s given twice", o->name);
            return CHP_ERR_INVALID_ARG;
        }
        if (eq) {
            *o->value = eq + 1;
        } else if (i + 1 < argc) {
            *o->value = argv[++i];
        } else {
            snprintf(errstr, errstr_size, "%s needs a value", o->name);
            return CHP_ERR_INVALID_ARG;
        }
        if (!**o->value) {
            snprintf(errstr, errstr_size, "%s: empty value", o->name);
            return CHP_ERR_INVALID_ARG;
        }
    }
    return CHP_OK;
}

int rep_cli_args(const char *command, int argc, char **argv,
                 const rep_opt_t *opts, size_t n, const char *usage)
{
    char err[512];
    bool help;

    if (rep_cli_parse(argc, argv, opts, n, &help, err, sizeof(err)) != CHP_OK) {
        fprintf(stderr, "%s: %s\n\n%s", command, err, usage);
        return 1;
    }
    if (help) {
        fputs(usage, stdout);
        return 0;
    }
    return -1;
}

chp_err_t rep_cli_open(const chp_conf_t *conf, store_t **s, char *errstr,
                       size_t errstr_size)
{
    char why[1024];
    chp_err_t err =
        store_open(chp_conf_get_str(conf, CHP_KEY_DB_URL), s, why, sizeof(why));

    if (err != CHP_OK)
        snprintf(errstr, errstr_size, "%s%s",
                 strncmp(why, CHP_KEY_DB_URL, 6) ? "db.url: " : "", why);
    return err;
}
