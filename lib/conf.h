/* conf.h - the configuration property tables (private).
 *
 * The public side (chp_conf_set/get/load/dump) is in chaperone.h; this
 * header exposes the tables themselves so that tests, the docs generator
 * and the components can ask what a key is and which component it applies
 * to.  Two tables: the library's (lib/conf.c: what libchaperone and the
 * plugin read) and the daemons' (src/conf_daemon.c), which only a
 * configuration made with chp_conf_new_ext() knows; chp_conf_new() refuses
 * the daemons' keys as unknown. */
#ifndef CHP_CONF_H
#define CHP_CONF_H

#include "chaperone.h"
#include "errstr.h"

typedef enum chp_conf_type {
    CHP_CONF_STR,
    CHP_CONF_INT,
    CHP_CONF_BOOL,
    CHP_CONF_DOUBLE,
    CHP_CONF_ENUM,
} chp_conf_type_t;

/* Components a key applies to (bit mask), printed in the docs. */
enum {
    CHP_SCOPE_CLIENT = 1u << 0, /* library and interceptor plugin */
    CHP_SCOPE_WORKER = 1u << 1,
    CHP_SCOPE_CONTROLLER = 1u << 2,
    CHP_SCOPE_COLLECTOR = 1u << 3,
    CHP_SCOPE_REPORT = 1u << 4,
    CHP_SCOPE_ALL = (1u << 5) - 1,
};

/* The section of docs/configuration.md a key is listed in. */
typedef enum chp_conf_group {
    CHP_CONF_GROUP_COMMON,
    CHP_CONF_GROUP_DAEMONS, /* common to the daemons */
    CHP_CONF_GROUP_WORKER,
    CHP_CONF_GROUP_CONTROLLER,
    CHP_CONF_GROUP_COLLECTOR,
    CHP_CONF_GROUP_REPORT,
    CHP_CONF_GROUP__COUNT
} chp_conf_group_t;

/* Extra checks on string values (all of them reject control characters). */
enum {
    CHP_CONF_F_NONEMPTY = 1u << 0, /* "" is refused */
    CHP_CONF_F_LIST = 1u << 1,     /* comma list, stored as "a,b" (items
                                      trimmed, empty items dropped) */
    CHP_CONF_F_TOPIC = 1u << 2,    /* a legal Kafka topic name (each item
                                      when combined with F_LIST) */
    CHP_CONF_F_URL = 1u << 3,      /* URL password redacted by dump */
    CHP_CONF_F_SECRET = 1u << 4,   /* value redacted by dump */
};

#define CHP_CONF_MAX_ENUM 8

typedef struct chp_conf_prop {
    const char *name;
    chp_conf_type_t type;
    chp_conf_group_t group;
    unsigned scope; /* CHP_SCOPE_* mask */
    unsigned flags; /* CHP_CONF_F_*, strings only */
    const char *defval;
    int64_t imin, imax; /* ints; imax is the item limit of an F_LIST */
    double dmin, dmax;  /* doubles */
    const char *enums[CHP_CONF_MAX_ENUM]; /* enums, NULL-terminated */
    const char *desc;
} chp_conf_prop_t;

/* A prefix family: "kafka." + a librdkafka property, "timestamp.topic." +
 * a topic.  Values are kept verbatim (after the flags' checks) in the order
 * first set. */
typedef struct chp_conf_family {
    const char *prefix;   /* including the final '.' */
    const char *suffix;   /* what follows, for the docs: "<topic>" */
    bool suffix_is_topic; /* the rest of the key must be a topic name */
    chp_conf_group_t group;
    unsigned scope;
    unsigned flags;    /* CHP_CONF_F_* applied to the value */
    int64_t max_items; /* F_LIST item limit, 0: none */
    const char *desc;
} chp_conf_family_t;

/* One table of keys and prefix families, in documentation order. */
typedef struct chp_conf_table {
    const char *title; /* the docs' name for it */
    const char *intro; /* one paragraph for the docs */
    const chp_conf_prop_t *props;
    size_t n_props;
    const chp_conf_family_t *families;
    size_t n_families;
} chp_conf_table_t;

/* The library's table (lib/conf.c). */
const chp_conf_table_t *chp_conf_lib_table(void);

/* A configuration of the library's keys plus those of ext (NULL: none, as
 * chp_conf_new()); ext must outlive it.  chp_conf_dup() keeps ext. */
chp_conf_t *chp_conf_new_ext(const chp_conf_table_t *ext);

/* The extension table conf was made with, or NULL. */
const chp_conf_table_t *chp_conf_ext(const chp_conf_t *conf);

/* The library table's entries, in documentation order; *n gets their
 * number. */
const chp_conf_prop_t *chp_conf_props(size_t *n);

/* The library table's prefix families, in documentation (and dump) order. */
const chp_conf_family_t *chp_conf_families(size_t *n);

/* The entry of name in the library table, then in ext (may be NULL), or
 * NULL (prefix-family keys have none); *slot (if not NULL) gets its index
 * in a configuration's values: library entries first, then ext's. */
const chp_conf_prop_t *chp_conf_prop_lookup(const chp_conf_table_t *ext,
                                            const char *name, size_t *slot);

/* chp_conf_prop_lookup(NULL, name, NULL): the library's keys only. */
const chp_conf_prop_t *chp_conf_prop_find(const char *name);

/* Components the key applies to, prefix families included; 0 if unknown
 * (to the library table, then ext). */
unsigned chp_conf_scope_in(const chp_conf_table_t *ext, const char *name);
unsigned chp_conf_scope(const char *name); /* library table only */

/* Exchanges the contents of two configurations (all-or-nothing loads). */
void chp_conf_swap(chp_conf_t *a, chp_conf_t *b);

/* Shortest "%g" form of v that reads back exactly, always with a '.'
 * decimal point whatever the locale; returns buf. */
const char *chp_conf_format_double(double v, char *buf, size_t size);

/* Calls cb for every explicitly set key (table and prefix families) that
 * does not apply to any component in scope, so a daemon can warn about
 * settings it will ignore. */
void chp_conf_foreach_out_of_scope(const chp_conf_t *conf, unsigned scope,
                                   void (*cb)(const char *name, void *opaque),
                                   void *opaque);

/* True for keys whose values are secrets: table entries flagged
 * CHP_CONF_F_SECRET and, in the kafka. family (also behind the plugin's
 * "chaperone." prefix), names holding "password" or "secret", ssl.key.pem
 * and sasl.oauthbearer.config.  chp_conf_dump redacts them and their
 * values are scrubbed from log lines once set. */
bool chp_conf_is_secret_in(const chp_conf_table_t *ext, const char *name);
bool chp_conf_is_secret(const char *name); /* library table only */

/* The Markdown reference of the library's keys, then ext's (NULL: none). */
void chp_conf_markdown(FILE *fp, const chp_conf_table_t *ext);

/* ------------------------------------------------------------------------
 * Shared by lib/conf*.c only.
 * ------------------------------------------------------------------------ */

/* One parsed value: str owned for CHP_CONF_STR, pointing into the table for
 * CHP_CONF_ENUM; i for ints and bools; d for doubles. */
typedef struct chp_conf_val {
    char *str;
    int64_t i;
    double d;
    bool set; /* explicitly set, not the default */
} chp_conf_val_t;

/* The family whose prefix name starts with (library table, then ext),
 * or NULL. */
const chp_conf_family_t *chp_conf_family_lookup(const chp_conf_table_t *ext,
                                                const char *name);

/* malloc'd copy of s[0..len) plus a NUL, or NULL. */
char *chp_conf_strndup(const char *s, size_t len);

/* Parses value for entry p into *v (all of *v overwritten). */
chp_err_t chp_conf_value_parse(const chp_conf_prop_t *p, const char *value,
                               chp_conf_val_t *v, char *errstr,
                               size_t errstr_size);
void chp_conf_value_free(const chp_conf_prop_t *p, chp_conf_val_t *v);

/* Checks a string value against CHP_CONF_F_* flags; *out gets the stored
 * (normalised) form, owned by the caller. */
chp_err_t chp_conf_check_string(const char *key, unsigned flags,
                                int64_t max_items, const char *value,
                                char **out, char *errstr, size_t errstr_size);

/* Kafka's rule: 1..249 of [a-zA-Z0-9._-], and not "." or "..". */
bool chp_conf_topic_name_ok(const char *s, size_t len);

/* The CHP_ERR_UNKNOWN_KEY message, with a suggestion when one is close. */
chp_err_t chp_conf_unknown_key(const chp_conf_table_t *ext, const char *name,
                               char *errstr, size_t errstr_size);

/* "@file:/path": *out gets the file's content (trailing newlines
 * dropped); "@@file:..." the literal "@file:..."; anything else leaves
 * *out NULL (use value as is).  Errors name the key and the path. */
chp_err_t chp_conf_value_resolve(const char *name, const char *value,
                                 char **out, char *errstr, size_t errstr_size);

/* Registers value with the log scrubber when name is secret. */
void chp_conf_secret_note(const chp_conf_table_t *ext, const char *name,
                          const char *value);

#endif /* CHP_CONF_H */
