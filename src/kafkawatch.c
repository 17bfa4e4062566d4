/* kafkawatch.c - see kafkawatch.h. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "kafkawatch.h"
#include "log.h"

static const char *watch_who = "chaperone";
static health_t *watch_health;
/* The last connection error: "all brokers down" alone does not say why. */
static pthread_mutex_t last_lock = PTHREAD_MUTEX_INITIALIZER;
static char last_reason[384];

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
        char last[sizeof(last_reason)];

        pthread_mutex_lock(&last_lock);
        snprintf(last, sizeof(last), "%s",
                 e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN ? last_reason : "");
        pthread_mutex_unlock(&last_lock);
        chp_log_error("%s: cannot reach Kafka: %s%s%s%s", watch_who, reason,
                      *last ? " (last: " : "", last, *last ? ")" : "");
        if (watch_health)
            health_fail(watch_health, "cannot reach Kafka: %s%s%s%s", reason,
                        *last ? " (last: " : "", last, *last ? ")" : "");
    } else {
        if (e == RD_KAFKA_RESP_ERR__TRANSPORT) {
            pthread_mutex_lock(&last_lock);
            snprintf(last_reason, sizeof(last_reason), "%s", reason);
            pthread_mutex_unlock(&last_lock);
        }
        /* Disconnections of idle connections and the like: librdkafka
         * reconnects by itself. */
        chp_log_warn("%s: Kafka: %s", watch_who, reason);
    }
}

void kafkawatch_attach(rd_kafka_conf_t *kc, const char *who, health_t *h)
{
    watch_who = who;
    watch_health = h;
    rd_kafka_conf_set_error_cb(kc, on_error);
}
