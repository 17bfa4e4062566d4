/* consumer_lag.c - see consumer_lag.h. */
#include <stdint.h>

#include "consumer_lag.h"

chp_err_t chp_consumer_lag(rd_kafka_t *rk, double *lag, int *partitions)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    double sum = 0;

    if (rd_kafka_assignment(rk, &parts) || !parts)
        return CHP_ERR_KAFKA;
    rd_kafka_position(rk, parts);
    for (int i = 0; i < parts->cnt; i++) {
        rd_kafka_topic_partition_t *p = &parts->elems[i];
        int64_t lo, hi;
        if (p->offset >= 0 &&
            rd_kafka_get_watermark_offsets(rk, p->topic, p->partition, &lo,
                                           &hi) == 0 &&
            hi > p->offset)
            sum += (double)(hi - p->offset);
    }
    *lag = sum;
    if (partitions)
        *partitions = parts->cnt;
    rd_kafka_topic_partition_list_destroy(parts);
    return CHP_OK;
}
