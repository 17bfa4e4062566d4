/* A program a user writes against the installed library: found by
 * pkg-config, linked against libchaperone.so.0, encodes and decodes one
 * audit message. */
#include <chaperone.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void)
{
    chp_auditmsg_t m, back;
    char *json = NULL, err[256];
    size_t len;
    int ok;

    chp_auditmsg_init(&m);
    chp_auditmsg_init(&back);
    snprintf(m.topic, sizeof(m.topic), "%s", "orders");
    m.time_begin = 1478311200;
    m.time_end = 1478311800;
    m.count = 1203;
    if (chp_auditmsg_encode(&m, &json, &len) != CHP_OK)
        return 1;
    if (chp_auditmsg_decode(&back, json, len, err, sizeof(err)) != CHP_OK) {
        fprintf(stderr, "decode: %s\n", err);
        return 1;
    }
    ok = back.count == 1203 && !strcmp(back.topic, "orders");
    printf("chaperone %s: %s\n", chp_version(),
           ok ? "round trip ok" : "MISMATCH");
    free(json);
    chp_auditmsg_clear(&m);
    chp_auditmsg_clear(&back);
    return ok ? 0 : 1;
}
