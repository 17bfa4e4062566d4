/* conf_daemon.h - the configuration of the chaperone binary: the
 * library's keys plus the daemons' own (src/conf_daemon.c). */
#ifndef CHP_CONF_DAEMON_H
#define CHP_CONF_DAEMON_H

#include "conf.h"

extern const chp_conf_table_t conf_daemon_table;

/* A configuration of the library's and the daemons' keys, every key at its
 * default; NULL on ENOMEM.  chp_conf_destroy() frees it. */
static inline chp_conf_t *conf_daemon_new(void)
{
    return chp_conf_new_ext(&conf_daemon_table);
}

#endif /* CHP_CONF_DAEMON_H */
