/* commands.h - the subcommands of the chaperone binary.  Each gets the
 * configuration already loaded from -c FILE and -X key=value, and the
 * remaining arguments (argv[0] is the subcommand's name).  The return value
 * is the process's exit status. */
#ifndef CHP_COMMANDS_H
#define CHP_COMMANDS_H

#include "chaperone.h"

typedef int(cmd_fn_t)(chp_conf_t *conf, int argc, char **argv);

cmd_fn_t cmd_worker;
cmd_fn_t cmd_demo;
cmd_fn_t cmd_collector;
cmd_fn_t cmd_controller;
cmd_fn_t cmd_report;
cmd_fn_t cmd_check;
cmd_fn_t cmd_check_watermark; /* check --watermark */

#endif
