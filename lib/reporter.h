/* reporter.h - private parts of the reporter (public API in chaperone.h). */
#ifndef CHP_REPORTER_H
#define CHP_REPORTER_H

#include "chaperone.h"

/* Called on the thread that re-produces the retry queue, after taken
 * messages left the queue and before they are produced again. */
typedef void(chp_reporter_retry_hook_t)(chp_reporter_t *r, size_t taken,
                                        void *opaque);

/* For tests: observe the reporter at that moment (e.g. that pending()
 * still counts the taken messages). */
void chp_reporter_set_retry_hook(chp_reporter_t *r,
                                 chp_reporter_retry_hook_t *hook, void *opaque);

#endif
