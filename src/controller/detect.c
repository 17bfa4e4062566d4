/* detect.c - auto-detection (design.md §7): every controller.detect.interval.s
 * the cluster's topics are listed and each one the registry does not know
 * yet is audited, unless it is excluded (controller.exclude.regex, `__`
 * internals, the audit and registry topics) or not included
 * (controller.include.regex).  Blacklisted topics are known to the
 * registry, so a DELETE sticks across detections and restarts. */
#include <stdio.h>

#include "controller/controller.h"
#include "log.h"

chp_err_t ctl_detect_run(ctl_t *c, size_t *added, char *errstr,
                         size_t errstr_size)
{
    topic_set_t all = {0};
    chp_err_t rc;

    *added = 0;
    if ((rc = c->cluster.list_topics(c->cluster.opaque, &all, errstr,
                                     errstr_size)) != CHP_OK)
        goto out;
    for (size_t i = 0; i < all.n; i++) {
        const char *t = all.names[i];
        bool ch = false;

        if (!ctl_detectable(c, t))
            continue;
        /* Checked again under the lock: a REST DELETE may have just
         * blacklisted it. */
        pthread_mutex_lock(&c->lock);
        if (registry_state(c->reg, t) == REG_ABSENT) {
            rc = ctl_change(c, t, REG_AUDITED, errstr, errstr_size);
            ch = true;
        }
        pthread_mutex_unlock(&c->lock);
        if (rc != CHP_OK)
            goto out;
        if (ch) {
            chp_log_info("controller: detected new topic %s", t);
            metric_inc(c->m_auto_added, 1);
            (*added)++;
        }
    }
out:
    topic_set_clear(&all);
    metric_inc(rc != CHP_OK ? c->m_detect_errors : c->m_detect_runs, 1);
    return rc;
}
