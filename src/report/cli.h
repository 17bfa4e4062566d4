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
 * "--name=value" or "--flag".  Returns 0, 1 when -h/--help was asked, or
 * -1 with errstr naming the offending argument (unknown option, missing
 * value, given twice, stray argument).
 */
int rep_cli_parse(int argc, char **argv, const rep_opt_t *opts, size_t n,
                  char *errstr, size_t errstr_size);

/* store_open on conf's db.url, errstr prefixed with "db.url". */
chp_err_t rep_cli_open(const chp_conf_t *conf, store_t **s, char *errstr,
                       size_t errstr_size);

#endif
