/* watermark.h - completeness watermark of a topic (docs/report.md,
 * "Watermark"): the end of the newest bucket up to which every closed
 * bucket is complete across a set of tiers, so a batch job can wait for
 * "hour H is complete" instead of guessing (what LinkedIn's Gobblin does
 * before compacting).  Pure: works on a grid loaded by rep_load. */
#ifndef CHP_REPORT_WATERMARK_H
#define CHP_REPORT_WATERMARK_H

#include "report/report.h"

typedef struct rep_watermark {
    /* End of the newest final bucket up to which every final bucket with
     * rows is complete; valid when have_until.  Buckets without any row
     * are complete by definition (nothing was sent), but never move the
     * watermark by themselves: a silent pipeline and a dead audit look the
     * same, so only evidence counts. */
    bool have_until;
    int64_t until;
    size_t complete_buckets; /* final buckets at or before until */
    /* The first final bucket that is not complete, if any: it holds the
     * watermark back. */
    bool blocked;
    int64_t blocked_begin;
    char blocked_tier[CHP_NAME_MAX];
    rep_cmp_t blocked_cmp;
    /* True when the scan stopped at a bucket that is not final yet. */
    bool open_bucket;
} rep_watermark_t;

/*
 * Walks g's buckets in order.  A final bucket (rep_bucket_final) is
 * complete when every tier in tiers (n_tiers names; NULL/0: every column
 * of g) other than the reference lost no more than max_loss of the
 * reference's count (rep_violates; a tier missing from a bucket counts 0,
 * duplicates are not loss).  The scan stops at the first incomplete final
 * bucket or at the first bucket that is not final.
 */
void rep_watermark(const rep_grid_t *g, const char *const *tiers,
                   size_t n_tiers, double max_loss, int64_t lateness_s,
                   int64_t now_s, rep_watermark_t *out);

/* Splits a comma list of tier names into a NULL-terminated array (free
 * with free(); the strings live in the same block).  CHP_ERR_PARSE with
 * errstr naming the bad item when a name is empty or unusable
 * (rep_tier_name_ok). */
chp_err_t rep_split_tiers(const char *list, char ***out, size_t *n,
                          char *errstr, size_t errstr_size);

#endif
