/* kafkaconf.c - see kafkaconf.h */
#include <stdio.h>

#include "kafkaconf.h"

chp_err_t chp_kafka_conf_set(rd_kafka_conf_t *kc, const char *name,
                             const char *value, char *errstr,
                             size_t errstr_size)
{
    char rderr[256];

    if (rd_kafka_conf_set(kc, name, value, rderr, sizeof(rderr)) !=
        RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "\"kafka.%s\": %s", name, rderr);
        return CHP_ERR_INVALID_ARG;
    }
    return CHP_OK;
}

typedef struct set_ctx {
    rd_kafka_conf_t *kc;
    char *errstr;
    size_t errstr_size;
} set_ctx_t;

static chp_err_t set_one(const char *name, const char *value, void *opaque)
{
    set_ctx_t *c = opaque;

    return chp_kafka_conf_set(c->kc, name, value, c->errstr, c->errstr_size);
}

rd_kafka_conf_t *chp_kafka_conf_new(const chp_conf_t *conf,
                                    const char *const *defaults, char *errstr,
                                    size_t errstr_size)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    set_ctx_t ctx = {kc, errstr, errstr_size};

    for (; defaults && defaults[0]; defaults += 2)
        if (chp_kafka_conf_set(kc, defaults[0], defaults[1], errstr,
                               errstr_size) != CHP_OK)
            goto fail;
    if (conf &&
        chp_conf_prefix_foreach(conf, "kafka.", set_one, &ctx) != CHP_OK)
        goto fail;
    return kc;
fail:
    rd_kafka_conf_destroy(kc);
    return NULL;
}

/* Headers are parsed by librdkafka on first access, so they are looked up
 * only when a header: rule asks (the opaque is the message). */
static bool header_lookup(void *opaque, const char *name, const void **val,
                          size_t *len)
{
    rd_kafka_headers_t *hdrs = NULL;

    return rd_kafka_message_headers(opaque, &hdrs) ==
               RD_KAFKA_RESP_ERR_NO_ERROR &&
           hdrs &&
           rd_kafka_header_get_last(hdrs, name, val, len) ==
               RD_KAFKA_RESP_ERR_NO_ERROR;
}

void chp_kafka_msg_view(rd_kafka_message_t *m, chp_msg_view_t *v)
{
    rd_kafka_timestamp_type_t tstype;

    v->value = m->payload;
    v->value_len = m->len;
    v->kafka_ts_ms = rd_kafka_message_timestamp(m, &tstype);
    if (tstype == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE)
        v->kafka_ts_ms = -1;
    v->header = header_lookup;
    v->header_opaque = m;
}
