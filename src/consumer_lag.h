/* consumer_lag.h - a consumer's lag (design.md: the *_consumer_lag_messages
 * gauges of the worker and the collector), computed in one place. */
#ifndef CHP_CONSUMER_LAG_H
#define CHP_CONSUMER_LAG_H

#include <librdkafka/rdkafka.h>

#include "chaperone.h"

/*
 * The messages between rk's position and the high watermark, summed over
 * its current assignment, from the watermarks the fetcher already has (no
 * request: cheap enough for a run loop).  A partition with no position yet
 * or no watermark counts 0.  *partitions (may be NULL) is the size of the
 * assignment.  CHP_OK, or CHP_ERR_KAFKA when the assignment cannot be read
 * (nothing set).
 */
chp_err_t chp_consumer_lag(rd_kafka_t *rk, double *lag, int *partitions);

#endif
