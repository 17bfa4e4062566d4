/* confdoc - writes docs/configuration.md, generated from the property
 * tables in lib/conf.c (library) and src/conf_daemon.c (daemons), to
 * stdout. */
#include "conf_daemon.h"

int main(void)
{
    chp_conf_markdown(stdout, &conf_daemon_table);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
