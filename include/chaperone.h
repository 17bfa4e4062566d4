/*
 * chaperone.h - public API of libchaperone, the Kafka audit library.
 *
 * Every stage of a Kafka pipeline (a "tier") counts the messages it sees per
 * topic into buckets of event time and publishes those counts as audit
 * messages.  This header is the only public one; everything else in lib/ is
 * private.
 *
 * Conventions:
 *  - every exported symbol starts with chp_; names read chp_<object>_<verb>;
 *  - functions that can fail return chp_err_t (CHP_OK == 0) and, where a
 *    human needs to know why, fill a caller-provided errstr of errstr_size;
 *  - every _new has a _destroy; ownership is stated per function.
 */
#ifndef CHAPERONE_H
#define CHAPERONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(CHP_BUILDING_LIBRARY) && defined(__GNUC__)
#define CHP_EXPORT __attribute__((visibility("default")))
#else
#define CHP_EXPORT
#endif

#define CHP_VERSION_STR "0.1.0"

/* ------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------ */

typedef enum chp_err {
    CHP_OK = 0,
    CHP_ERR_INVALID_ARG, /* a caller passed something unusable */
    CHP_ERR_NOMEM,       /* allocation failed */
    CHP_ERR_PARSE,       /* input is not well-formed (JSON, number, file) */
    CHP_ERR_TYPE,        /* a field or value has the wrong type */
    CHP_ERR_RANGE,       /* a value is outside its allowed range */
    CHP_ERR_UNKNOWN_KEY, /* a configuration key nobody knows */
    CHP_ERR_NOT_FOUND,   /* looked-up thing does not exist */
    CHP_ERR_IO,          /* file or socket error */
    CHP_ERR_KAFKA,       /* librdkafka reported an error */
    CHP_ERR_STATE,       /* call not allowed in the object's state */
    CHP_ERR_FULL,        /* a bounded resource is exhausted */
    CHP_ERR_DB,          /* database error */
    CHP_ERR__COUNT
} chp_err_t;

/** Short, static, human-readable name of an error code. */
CHP_EXPORT const char *chp_err_str(chp_err_t err);

/** Library version string, e.g. "0.1.0". */
CHP_EXPORT const char *chp_version(void);

/* ------------------------------------------------------------------------
 * Time buckets (design.md §3)
 * ------------------------------------------------------------------------ */

/** Default bucket width in seconds. */
#define CHP_BUCKET_SECONDS_DEFAULT 600

/** Event-time values above this are milliseconds, at or below it seconds. */
#define CHP_TS_MS_THRESHOLD 999999999999.0

/**
 * Normalises a raw event-time value (seconds or milliseconds, by magnitude,
 * may be fractional) to integer milliseconds since the epoch.
 * Returns false if the value is not finite or does not fit.
 */
CHP_EXPORT bool chp_ts_to_ms(double raw, int64_t *ms);

/** Start (epoch seconds) of the bucket of width width_s holding ts_ms.
 *  Uses floor division, so times before 1970 land in the right bucket. */
CHP_EXPORT int64_t chp_bucket_begin(int64_t ts_ms, int32_t width_s);

/** Wall clock, milliseconds since the epoch. */
CHP_EXPORT int64_t chp_now_ms(void);

/* ------------------------------------------------------------------------
 * Latency sketch (design.md §10): DDSketch-style logarithmic bins with <= 1%
 * relative error on every quantile, bounded size, mergeable.
 * Negative latencies are counted apart and never enter the quantiles.
 * ------------------------------------------------------------------------ */

typedef struct chp_sketch chp_sketch_t;

/** Relative accuracy guaranteed for every quantile. */
#define CHP_SKETCH_ALPHA 0.01

/** A new empty sketch; NULL on allocation failure. */
CHP_EXPORT chp_sketch_t *chp_sketch_new(void);
CHP_EXPORT void chp_sketch_destroy(chp_sketch_t *sk);
CHP_EXPORT void chp_sketch_reset(chp_sketch_t *sk);
CHP_EXPORT chp_sketch_t *chp_sketch_dup(const chp_sketch_t *sk);

/** Adds n observations of latency_ms (negative: counted apart). */
CHP_EXPORT void chp_sketch_add(chp_sketch_t *sk, int64_t latency_ms,
                               uint64_t n);

/** dst += src.  Result equals the sketch of the union of the inputs. */
CHP_EXPORT void chp_sketch_merge(chp_sketch_t *dst, const chp_sketch_t *src);

/** Observations with latency >= 0. */
CHP_EXPORT uint64_t chp_sketch_count(const chp_sketch_t *sk);
/** Observations with latency < 0. */
CHP_EXPORT uint64_t chp_sketch_negative_count(const chp_sketch_t *sk);

/**
 * Quantile q in [0,1] of the non-negative observations, in ms, within
 * CHP_SKETCH_ALPHA relative error.  Returns 0 for an empty sketch.
 */
CHP_EXPORT double chp_sketch_quantile(const chp_sketch_t *sk, double q);

/** Exact largest observation (ms), 0 if empty. */
CHP_EXPORT int64_t chp_sketch_max(const chp_sketch_t *sk);

/**
 * Compact text encoding (docs/wire-format.md), NUL-terminated.
 * Returns the length the full encoding needs (excluding NUL), like
 * snprintf; the output is complete only if the return value < size.
 */
CHP_EXPORT size_t chp_sketch_encode(const chp_sketch_t *sk, char *buf,
                                    size_t size);

/**
 * Parses len bytes of the compact encoding into sk (replacing its content).
 * Never reads past len.  On error sk is left empty.
 */
CHP_EXPORT chp_err_t chp_sketch_decode(chp_sketch_t *sk, const char *s,
                                       size_t len, char *errstr,
                                       size_t errstr_size);

/* ------------------------------------------------------------------------
 * Timestamp extraction (design.md §4): one pass, no allocation, no DOM.
 * ------------------------------------------------------------------------ */

typedef enum chp_ts_result {
    CHP_TS_FOUND = 0, /* *ts_ms holds the event time */
    CHP_TS_MISSING,   /* no usable timestamp: counts as noTime */
    CHP_TS_MALFORMED, /* payload could not be parsed: counts as malformed */
} chp_ts_result_t;

/** Maximum number of JSON field names one rule set may look for. */
#define CHP_TSX_MAX_FIELDS 8
/** Maximum number of rules in one ordered fallback list. */
#define CHP_TSX_MAX_RULES 8

/**
 * Scans a JSON document for a top-level field whose name is one of
 * names[0..n_names) (ASCII case-insensitive) holding a number or a numeric
 * string; nested objects and arrays are skipped, not searched.  Stops at the
 * first match.  Never reads past buf+len and never allocates.
 * On CHP_TS_FOUND, *ts_ms is the normalised event time (chp_ts_to_ms).
 */
CHP_EXPORT chp_ts_result_t chp_tsx_scan_json(const char *buf, size_t len,
                                             const char *const *names,
                                             size_t n_names, int64_t *ts_ms);

/** What a rule set is applied to: one Kafka message, by view. */
typedef struct chp_msg_view {
    const void *value;
    size_t value_len;
    int64_t kafka_ts_ms; /* record timestamp, < 0 if none */
    /* Looks up the last header called name; returns false if absent.
     * May be NULL when the message has no headers. */
    bool (*header)(void *opaque, const char *name, const void **val,
                   size_t *len);
    void *header_opaque;
} chp_msg_view_t;

typedef struct chp_tsx chp_tsx_t;

/**
 * Compiles an ordered rule list, e.g. "json,kafka,header:event-time,now",
 * and the JSON field names, e.g. "ts,timestamp" (NULL: the default).
 * On success *out is owned by the caller (chp_tsx_destroy).
 */
CHP_EXPORT chp_err_t chp_tsx_new(const char *rules, const char *json_fields,
                                 chp_tsx_t **out, char *errstr,
                                 size_t errstr_size);
CHP_EXPORT void chp_tsx_destroy(chp_tsx_t *tsx);

/**
 * Tries each rule in order until one yields.  "now" yields now_ms and is
 * not a missing timestamp.  When nothing yields, the result is
 * CHP_TS_MALFORMED if a json rule met a broken payload, else
 * CHP_TS_MISSING.  Allocation-free and thread-safe (tsx is read-only).
 */
CHP_EXPORT chp_ts_result_t chp_tsx_extract(const chp_tsx_t *tsx,
                                           const chp_msg_view_t *msg,
                                           int64_t now_ms, int64_t *ts_ms);

/* ------------------------------------------------------------------------
 * Audit message (design.md §5): model and JSON codec.
 * ------------------------------------------------------------------------ */

#define CHP_AUDITMSG_VERSION 2
#define CHP_NAME_MAX         256 /* topic, tier, datacenter, hostname (incl. NUL) */
#define CHP_UUID_MAX         64

typedef struct chp_auditmsg {
    char topic[CHP_NAME_MAX]; /* topicName */
    int64_t time_begin;       /* timeBeginInSec */
    int64_t time_end;         /* timeEndInSec */
    uint64_t count;           /* count */
    uint64_t total_bytes;     /* totalBytes (0 if absent) */
    uint64_t no_time_count;   /* noTimeCount (0 if absent) */
    uint64_t malformed_count; /* malformedCount (0 if absent) */
    double mean_latency;      /* meanLatency, ms */
    double latency95;         /* latency95, ms */
    double latency99;         /* latency99, ms */
    double max_latency;       /* maxLatency, ms */
    char tier[CHP_NAME_MAX];
    char datacenter[CHP_NAME_MAX];
    char hostname[CHP_NAME_MAX];
    char uuid[CHP_UUID_MAX];
    /* Extensions (all optional on input). */
    int version;                     /* 0 when absent (original Chaperone) */
    uint64_t negative_latency_count; /* negativeLatencyCount */
    double latency_sum_ms;           /* latencySumMs */
    uint64_t delivery_failed_count;  /* deliveryFailedCount (plugin) */
    uint64_t audit_dropped_count;    /* auditDroppedCount: audit messages this
                                        reporter dropped before this one */
    uint64_t aborted_count;          /* abortedCount: messages of aborted
                                        transactions (not part of count) */
    chp_sketch_t *sketch;            /* latencySketch; NULL if absent; owned */
} chp_auditmsg_t;

/** Zeroes a message (no allocation). */
CHP_EXPORT void chp_auditmsg_init(chp_auditmsg_t *m);
/** Frees what the message owns (the sketch) and zeroes it. */
CHP_EXPORT void chp_auditmsg_clear(chp_auditmsg_t *m);

/**
 * Encodes m as one JSON object.  On success *json is a NUL-terminated
 * malloc()ed string of *len bytes that the caller frees.
 */
CHP_EXPORT chp_err_t chp_auditmsg_encode(const chp_auditmsg_t *m, char **json,
                                         size_t *len);

/**
 * Decodes len bytes of JSON into m (which must be initialised; previous
 * content is cleared).  Accepts the original Chaperone's messages: optional
 * fields missing, integers written as doubles (1478311200.0), unknown fields
 * ignored.  A wrong type or a missing required field is an error whose
 * errstr names the field.
 */
CHP_EXPORT chp_err_t chp_auditmsg_decode(chp_auditmsg_t *m, const char *json,
                                         size_t len, char *errstr,
                                         size_t errstr_size);

/** Writes a random (v4) UUID, 36 characters plus NUL, into out. */
CHP_EXPORT void chp_uuid_generate(char out[CHP_UUID_MAX]);

/* ------------------------------------------------------------------------
 * Configuration: one property table (lib/conf.c), .properties files,
 * -X key=value overrides, kafka.* passed through to librdkafka.
 * ------------------------------------------------------------------------ */

typedef struct chp_conf chp_conf_t;

/** A configuration with every key at its default; NULL on ENOMEM. */
CHP_EXPORT chp_conf_t *chp_conf_new(void);
CHP_EXPORT void chp_conf_destroy(chp_conf_t *conf);
CHP_EXPORT chp_conf_t *chp_conf_dup(const chp_conf_t *conf);

/**
 * Sets one key.  Unknown keys fail with CHP_ERR_UNKNOWN_KEY, bad values
 * with CHP_ERR_TYPE or CHP_ERR_RANGE; errstr names the key either way.
 * Keys under a prefix family ("kafka.", "timestamp.topic.") are kept
 * verbatim for chp_conf_prefix_foreach.
 */
CHP_EXPORT chp_err_t chp_conf_set(chp_conf_t *conf, const char *name,
                                  const char *value, char *errstr,
                                  size_t errstr_size);

/** Sets "key=value" (as given to -X). */
CHP_EXPORT chp_err_t chp_conf_set_kv(chp_conf_t *conf, const char *kv,
                                     char *errstr, size_t errstr_size);

/**
 * Loads a .properties file: key=value lines, '#' or '!' comments, blank
 * lines ignored, whitespace around key and value trimmed.  errstr names the
 * file, the line and the key on error.
 */
CHP_EXPORT chp_err_t chp_conf_load_file(chp_conf_t *conf, const char *path,
                                        char *errstr, size_t errstr_size);

/** Same as chp_conf_load_file on an in-memory buffer (name for messages). */
CHP_EXPORT chp_err_t chp_conf_load_buf(chp_conf_t *conf, const char *buf,
                                       size_t len, const char *name,
                                       char *errstr, size_t errstr_size);

/** Typed getters.  The key must exist in the table with that type;
 *  otherwise (an unknown key, a getter of the wrong type, a NULL argument)
 *  the error is logged naming the key and the string getter returns ""
 *  (never NULL), the others 0/false.  A prefix-family key ("kafka.acks")
 *  answers its value, or NULL while it is not set. */
CHP_EXPORT const char *chp_conf_get_str(const chp_conf_t *conf,
                                        const char *name);
CHP_EXPORT int64_t chp_conf_get_int(const chp_conf_t *conf, const char *name);
CHP_EXPORT bool chp_conf_get_bool(const chp_conf_t *conf, const char *name);
CHP_EXPORT double chp_conf_get_double(const chp_conf_t *conf, const char *name);

/** True if the key was set explicitly (not left at its default). */
CHP_EXPORT bool chp_conf_is_set(const chp_conf_t *conf, const char *name);

/**
 * Calls cb(name_without_prefix, value, opaque) for every key set under the
 * prefix family (e.g. "kafka."), in the order they were set.  Stops and
 * returns the first non-CHP_OK value cb returns.
 */
CHP_EXPORT chp_err_t chp_conf_prefix_foreach(
    const chp_conf_t *conf, const char *prefix,
    chp_err_t (*cb)(const char *name, const char *value, void *opaque),
    void *opaque);

/** Writes the Markdown reference of every key (docs/configuration.md). */
CHP_EXPORT void chp_conf_dump_markdown(FILE *fp);

/** Writes "key=value" lines of the effective configuration. */
CHP_EXPORT void chp_conf_dump(const chp_conf_t *conf, FILE *fp);

/* ------------------------------------------------------------------------
 * Tracker (design.md §3): per (topic, bucket) counters and latency sketch,
 * emitted as audit messages.  track() may be called from many threads at
 * once: each thread counts into its own shard (no global lock, no shared
 * cache line, no allocation once its (topic, bucket) exists).
 * ------------------------------------------------------------------------ */

typedef struct chp_tracker chp_tracker_t;

/**
 * Receives one emission: n audit messages, each a delta since the previous
 * emission.  The messages (and their sketches) belong to the tracker and are
 * valid only during the call.  Called on the thread that flushes: the
 * tracker's own thread (CHP_TRACKER_F_THREAD) or the caller of
 * chp_tracker_flush().  An error return is counted in the stats; the counts
 * of that emission are then the callback's responsibility (the reporter
 * keeps them for retry).
 */
typedef chp_err_t(chp_emit_cb_t)(const chp_auditmsg_t *msgs, size_t n,
                                 void *opaque);

/** Run a thread that emits every report.interval.ms, or sooner when
 *  max.open.buckets is reached. Without it, the owner calls flush. */
#define CHP_TRACKER_F_THREAD 0x1
/** The caller promises that every track and flush call comes from one
 *  thread (e.g. a consumer loop): the tracker then takes no locks.  Not
 *  combinable with CHP_TRACKER_F_THREAD. */
#define CHP_TRACKER_F_SINGLE 0x2

typedef struct chp_tracker_stats {
    uint64_t tracked;      /* messages counted since creation */
    uint64_t emissions;    /* emit callbacks made */
    uint64_t emitted_msgs; /* audit messages handed to the callback */
    uint64_t emit_errors;  /* emit callbacks that returned an error */
    uint64_t open_buckets; /* (topic, bucket, shard) entries now open */
} chp_tracker_stats_t;

/**
 * Creates a tracker from conf (bucket.seconds, report.interval.ms,
 * max.open.buckets, timestamp, timestamp.fields, timestamp.topic.*, tier,
 * datacenter, hostname).  default_tier is used when conf's tier is empty.
 * conf is only read during the call.  cb receives emissions.
 */
CHP_EXPORT chp_err_t chp_tracker_new(const chp_conf_t *conf,
                                     const char *default_tier, int flags,
                                     chp_emit_cb_t *cb, void *opaque,
                                     chp_tracker_t **out, char *errstr,
                                     size_t errstr_size);

/**
 * Counts one message of topic whose event-time lookup gave r.  With
 * CHP_TS_FOUND, ts_ms is the event time; otherwise the message goes to the
 * bucket of the current time with latency 0 and counts as noTime or
 * malformed.  bytes = key length + value length.
 */
CHP_EXPORT void chp_tracker_track(chp_tracker_t *t, const char *topic,
                                  chp_ts_result_t r, int64_t ts_ms,
                                  uint64_t bytes);

/**
 * Extracts the event time of msg with the topic's timestamp rules
 * (timestamp.topic.<topic>, else timestamp) and counts it.
 * Returns what the extraction gave.
 */
CHP_EXPORT chp_ts_result_t chp_tracker_track_msg(chp_tracker_t *t,
                                                 const char *topic,
                                                 const chp_msg_view_t *msg,
                                                 uint64_t bytes);

/** Emits everything counted so far through the callback, synchronously. */
CHP_EXPORT chp_err_t chp_tracker_flush(chp_tracker_t *t);

/** True when an emission is due (interval elapsed or bucket limit hit). */
CHP_EXPORT bool chp_tracker_due(chp_tracker_t *t, int64_t now_ms);

CHP_EXPORT void chp_tracker_stats(chp_tracker_t *t, chp_tracker_stats_t *st);

/** Stops the tracker's thread, emits what is left (no count is lost at
 *  shutdown), and frees the tracker. */
CHP_EXPORT void chp_tracker_destroy(chp_tracker_t *t);

/* ------------------------------------------------------------------------
 * Reporter: publishes audit messages to the audit topic (record key = the
 * source topic) with an idempotent producer (acks=all).  A message whose
 * delivery fails after librdkafka's own retries is kept and produced again;
 * at most reporter.max.pending are kept, beyond that the oldest are dropped
 * and counted (never silently).
 *
 * Typical wiring:
 *   chp_reporter_new(conf, NULL, &rep, ...);
 *   chp_tracker_new(conf, "producer", CHP_TRACKER_F_THREAD,
 *                   chp_reporter_emit, rep, &trk, ...);
 *   ... chp_tracker_track*(trk, ...) ...
 *   chp_tracker_destroy(trk);          // final emission into the reporter
 *   chp_reporter_destroy(rep, 10000);  // delivers what is left
 * ------------------------------------------------------------------------ */

typedef struct chp_reporter chp_reporter_t;

typedef struct chp_reporter_stats {
    uint64_t produced; /* audit messages handed to librdkafka (incl. retries) */
    uint64_t delivered; /* acknowledged by the broker */
    uint64_t failed;    /* delivery failures (each is retried) */
    uint64_t dropped;   /* given up because reporter.max.pending was full */
    uint64_t pending;   /* not yet acknowledged */
} chp_reporter_stats_t;

/**
 * Creates a reporter from conf (audit.topic, reporter.max.pending, kafka.*).
 * bootstrap, when not NULL, overrides kafka.bootstrap.servers.  The reporter
 * runs its own thread for delivery reports and retries.
 */
CHP_EXPORT chp_err_t chp_reporter_new(const chp_conf_t *conf,
                                      const char *bootstrap,
                                      chp_reporter_t **out, char *errstr,
                                      size_t errstr_size);

/** A chp_emit_cb_t: encodes and enqueues msgs; opaque is the reporter. */
CHP_EXPORT chp_err_t chp_reporter_emit(const chp_auditmsg_t *msgs, size_t n,
                                       void *opaque);

/** Waits up to timeout_ms until nothing is pending.  CHP_ERR_STATE if
 *  messages are still pending at the deadline. */
CHP_EXPORT chp_err_t chp_reporter_flush(chp_reporter_t *r, int timeout_ms);

CHP_EXPORT void chp_reporter_stats(chp_reporter_t *r, chp_reporter_stats_t *st);

/** Flushes for up to timeout_ms, then frees.  Messages still pending are
 *  counted as dropped and logged to stderr. */
CHP_EXPORT void chp_reporter_destroy(chp_reporter_t *r, int timeout_ms);

#ifdef __cplusplus
}
#endif
#endif /* CHAPERONE_H */
