/* tracker.h - private parts of the tracker shared with the plugin and the
 * worker.  The public API is in chaperone.h. */
#ifndef CHP_TRACKER_H
#define CHP_TRACKER_H

#include "chaperone.h"

/* Counts a message whose delivery failed (producer acknowledgement with an
 * error) in the deliveryFailedCount of its (topic, bucket); count is not
 * touched, the message was already counted when it was sent. */
void chp_tracker_track_failed(chp_tracker_t *t, const char *topic,
                              const chp_msg_view_t *msg);

/* chp_tracker_track_msg with the caller's reading of chp_now_ms_coarse():
 * a loop that counts a batch of messages reads the clock once for all of
 * them. */
chp_ts_result_t chp_tracker_track_msg_at(chp_tracker_t *t, const char *topic,
                                         const chp_msg_view_t *msg,
                                         uint64_t bytes, int64_t now_ms);

/* A topic's entry in the calling thread's shard, for a caller that counts
 * many messages of few topics and can tell cheaply that the next one is of
 * the same topic: chp_tracker_track_msg_topic then skips the lookup by
 * name.  Valid until chp_tracker_destroy, on the thread that got it; NULL
 * when out of memory. */
typedef struct ttopic chp_tracker_topic_t;
chp_tracker_topic_t *chp_tracker_topic(chp_tracker_t *t, const char *topic);
chp_ts_result_t chp_tracker_track_msg_topic(chp_tracker_t *t,
                                            chp_tracker_topic_t *tp,
                                            const chp_msg_view_t *msg,
                                            uint64_t bytes, int64_t now_ms);

#endif
