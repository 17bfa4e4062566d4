/* Fuzz target: .properties parsing, value checks and dump (lib/conf*.c).
 * Any input must end in CHP_OK or an error with a message, never a crash,
 * a leak or an out-of-bounds read. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "chaperone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *devnull;
    char errstr[256];
    chp_conf_t *conf;
    char *buf;

    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        abort();
    /* An exact-size copy, so ASan catches any read past len. */
    if (!(buf = malloc(size ? size : 1)))
        return 0;
    if (size)
        memcpy(buf, data, size);
    if (!(conf = chp_conf_new()))
        abort();
    errstr[0] = '\0';
    if (chp_conf_load_buf(conf, buf, size, "fuzz", errstr, sizeof(errstr)) !=
            CHP_OK &&
        errstr[0] == '\0')
        abort(); /* every error must say why */
    chp_conf_dump(conf, devnull);
    chp_conf_destroy(conf);
    free(buf);
    return 0;
}
