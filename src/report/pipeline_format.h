/* pipeline_format.h - renderings of a pipeline result (pipeline.h): the
 * table a person reads, CSV, and the JSON document of `report --format
 * json` and GET /api/v1/topics/{topic}/pipeline.  Each text is malloc()ed
 * (the caller frees it), NULL when out of memory. */
#ifndef CHP_REPORT_PIPELINE_FORMAT_H
#define CHP_REPORT_PIPELINE_FORMAT_H

#include <stdbool.h>

#include <jansson.h>

#include "report/format.h"
#include "report/pipeline.h"

/* "producer->kafka-regional". */
void rep_hop_name(const rep_pipe_t *p, const rep_hop_t *h, char *buf,
                  size_t size);

/* A title line, then one line per (bucket, hop, datacenter): upstream,
 * downstream, loss, duplicated, completeness, p50/p99 added (ms); then the
 * same per (hop, datacenter) over the range, bucket "total". */
char *rep_pipe_format_table(const rep_pipe_t *p);
/* The same lines as CSV (per_datacenter 0/1, completeness empty when
 * unexpected, latencies empty when unknown). */
char *rep_pipe_format_csv(const rep_pipe_t *p);
/* rep_pipe_json as text. */
char *rep_pipe_format_json(const rep_pipe_t *p, bool pretty);
/* The document: topic, range, pipeline (tiers with their datacenters and
 * totals), hops (totals per datacenter), buckets (counts per tier, hops
 * with their cells).  The caller decrefs; NULL when out of memory. */
json_t *rep_pipe_json(const rep_pipe_t *p);

/* The violations rep_pipe_check finds (final buckets only), as
 * [{"fault", "begin", "time", "from", "to", "datacenter", "upstream",
 * "downstream", "loss", "duplicated"}]; NULL when out of memory. */
json_t *rep_pipe_violations_json(const rep_pipe_t *p, double max_loss,
                                 int64_t lateness_s, int64_t now_s);

#endif
