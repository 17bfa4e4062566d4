/* cli.h - what `chaperone report` and `chaperone check` share: their
 * option parser and opening the store named by db.url. */
#ifndef CHP_REPORT_CLI_H
#define CHP_REPORT_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "chaperone.h"
#include "collector/store.h"

typedef struct rep_opt {
    const char *name;   /* "--from" */
    const char **value; /* an option with a value, or NULL */
    bool *flag;         /* a flag, or NULL */
} rep_opt_t;

/*
 * Parses argv[1..argc) (argv[0] is the command) as "--name value",
 * "--name=value" or "--flag".  Returns CHP_OK (*help set when -h/--help
 * was asked), or CHP_ERR_INVALID_ARG with errstr naming the offending
 * argument (unknown option, missing value, given twice, stray argument).
 */
chp_err_t rep_cli_parse(int argc, char **argv, const rep_opt_t *opts, size_t n,
                        bool *help, char *errstr, size_t errstr_size);

/* rep_cli_parse for the commands: -1 to go on, else the exit code to
 * return at once, the usage printed (0 after --help on stdout, 1 after
 * "command: why" and the usage on stderr). */
int rep_cli_args(const char *command, int argc, char **argv,
                 const rep_opt_t *opts, size_t n, const char *usage);

/* store_open on conf's db.url, errstr prefixed with "db.url". */
chp_err_t rep_cli_open(const chp_conf_t *conf, store_t **s, char *errstr,
                       size_t errstr_size);

#endif
