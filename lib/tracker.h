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

#endif
