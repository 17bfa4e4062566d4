/* confdoc - writes docs/configuration.md, generated from the property
 * table in lib/conf.c, to stdout. */
#include "chaperone.h"

int main(void)
{
    chp_conf_dump_markdown(stdout);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
