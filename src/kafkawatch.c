/* kafkawatch.c - see kafkawatch.h. */
#include <stdio.h>
#include <string.h>

#include "kafkawatch.h"
#include "log.h"

static const char *watch_who = "chaperone";
static health_t *watch_health;

bool kafkawatch_is_outage(rd_kafka_resp_err_t err)
{
    switch (err) {
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
    case RD_KAFKA_RESP_ERR__SSL:
    case RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN:
    case RD_KAFKA_RESP_ERR__RESOLVE:
    case RD_KAFKA_RESP_ERR__FATAL:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_GROUP_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
        return true;
    default:
        return false;
    }
}

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)err;
    char fatal[512];

    (void)opaque;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        rd_kafka_fatal_error(rk, fatal, sizeof(fatal));
        reason = fatal;
    }
    if (kafkawatch_is_outage(e)) {
        chp_err("%s: cannot reach Kafka: %s", watch_who, reason);
        if (watch_health)
            health_fail(watch_health, "cannot reach Kafka: %s", reason);
    } else {
        /* Disconnections of idle connections and the like: librdkafka
         * reconnects by itself. */
        chp_warn("%s: Kafka: %s", watch_who, reason);
    }
}

void kafkawatch_attach(rd_kafka_conf_t *kc, const char *who, health_t *h)
{
    watch_who = who;
    watch_health = h;
    rd_kafka_conf_set_error_cb(kc, on_error);
}
