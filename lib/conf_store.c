/* conf_store.c - chp_conf_t: new/dup/set/get/foreach/dump.
 *
 * A configuration holds one parsed value per table entry plus the
 * prefix-family keys in the order first set.  Getters never modify it, so
 * concurrent readers need no lock; there is no global state. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"

typedef struct conf_kv {
    char *name; /* full key, prefix included */
    char *value;
} conf_kv_t;

struct chp_conf {
    const chp_conf_table_t *ext; /* the daemons' table, or NULL */
    conf_kv_t *kv; /* prefix-family keys, in the order first set */
    size_t kv_cnt, kv_cap;
    size_t n_vals;
    chp_conf_val_t vals[]; /* library entries, then ext's, same order */
};

/* --------------------------------------------------------- lifecycle */

/* The table entry of slot i of vals[]: library entries, then ext's. */
static const chp_conf_prop_t *slot_prop(const chp_conf_t *conf, size_t i)
{
    size_t n;
    const chp_conf_prop_t *lib = chp_conf_props(&n);

    return i < n ? &lib[i] : &conf->ext->props[i - n];
}

static chp_conf_t *conf_alloc(const chp_conf_table_t *ext)
{
    size_t n;
    chp_conf_t *conf;

    chp_conf_props(&n);
    if (ext)
        n += ext->n_props;
    if (!(conf = calloc(1, sizeof(*conf) + n * sizeof(conf->vals[0]))))
        return NULL;
    conf->ext = ext;
    conf->n_vals = n;
    return conf;
}

chp_conf_t *chp_conf_new_ext(const chp_conf_table_t *ext)
{
    chp_conf_t *conf = conf_alloc(ext);

    if (!conf)
        return NULL;
    /* Defaults go through the same parser as user values: one source of
     * truth, and a bad default in the table fails every test at once. */
    for (size_t i = 0; i < conf->n_vals; i++) {
        const chp_conf_prop_t *p = slot_prop(conf, i);
        if (chp_conf_value_parse(p, p->defval, &conf->vals[i], NULL, 0) !=
            CHP_OK) {
            chp_conf_destroy(conf);
            return NULL;
        }
    }
    return conf;
}

CHP_EXPORT chp_conf_t *chp_conf_new(void)
{
    return chp_conf_new_ext(NULL);
}

const chp_conf_table_t *chp_conf_ext(const chp_conf_t *conf)
{
    return conf ? conf->ext : NULL;
}

CHP_EXPORT void chp_conf_destroy(chp_conf_t *conf)
{
    if (!conf)
        return;
    for (size_t i = 0; i < conf->n_vals; i++)
        chp_conf_value_free(slot_prop(conf, i), &conf->vals[i]);
    for (size_t i = 0; i < conf->kv_cnt; i++) {
        free(conf->kv[i].name);
        free(conf->kv[i].value);
    }
    free(conf->kv);
    free(conf);
}

CHP_EXPORT chp_conf_t *chp_conf_dup(const chp_conf_t *conf)
{
    chp_conf_t *d;

    if (!conf || !(d = conf_alloc(conf->ext)))
        return NULL;
    for (size_t i = 0; i < d->n_vals; i++) {
        d->vals[i] = conf->vals[i];
        if (slot_prop(d, i)->type != CHP_CONF_STR)
            continue;
        d->vals[i].str =
            chp_conf_strndup(conf->vals[i].str, strlen(conf->vals[i].str));
        if (!d->vals[i].str) /* later slots are still zero */
            goto fail;
    }
    if (conf->kv_cnt) {
        if (!(d->kv = calloc(conf->kv_cnt, sizeof(*d->kv))))
            goto fail;
        d->kv_cap = conf->kv_cnt;
        for (; d->kv_cnt < conf->kv_cnt; d->kv_cnt++) {
            const conf_kv_t *s = &conf->kv[d->kv_cnt];
            conf_kv_t *t = &d->kv[d->kv_cnt];
            t->name = chp_conf_strndup(s->name, strlen(s->name));
            t->value = chp_conf_strndup(s->value, strlen(s->value));
            if (!t->name || !t->value) {
                d->kv_cnt++; /* so destroy frees the half-made pair */
                goto fail;
            }
        }
    }
    return d;

fail:
    chp_conf_destroy(d);
    return NULL;
}

void chp_conf_swap(chp_conf_t *a, chp_conf_t *b)
{
    /* Only between a configuration and its chp_conf_dup(): same tables. */
    conf_kv_t *kv = a->kv;
    size_t cnt = a->kv_cnt, cap = a->kv_cap;

    a->kv = b->kv, a->kv_cnt = b->kv_cnt, a->kv_cap = b->kv_cap;
    b->kv = kv, b->kv_cnt = cnt, b->kv_cap = cap;
    for (size_t i = 0; i < a->n_vals; i++) {
        chp_conf_val_t v = a->vals[i];
        a->vals[i] = b->vals[i];
        b->vals[i] = v;
    }
}

/* ------------------------------------------------------------------ set */

static conf_kv_t *kv_find(const chp_conf_t *conf, const char *name)
{
    for (size_t i = 0; i < conf->kv_cnt; i++)
        if (!strcmp(conf->kv[i].name, name))
            return &conf->kv[i];
    return NULL;
}

static chp_err_t family_set(chp_conf_t *conf, const chp_conf_family_t *f,
                            const char *name, const char *value, char *errstr,
                            size_t errstr_size)
{
    const char *rest = name + strlen(f->prefix);
    conf_kv_t *kv = kv_find(conf, name);
    char *v = NULL;
    chp_err_t err;

    if (!*rest)
        return chp_errf(errstr, errstr_size, CHP_ERR_UNKNOWN_KEY,
                        "unknown configuration key \"%s\": a name "
                        "must follow the prefix",
                        name);
    if (f->suffix_is_topic && !chp_conf_topic_name_ok(rest, strlen(rest)))
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "\"%s\": \"%s\" is not a valid Kafka topic "
                        "name",
                        name, rest);
    if (!value) { /* NULL: back to unset, like librdkafka */
        if (kv) {
            size_t at = (size_t)(kv - conf->kv);
            free(kv->name);
            free(kv->value);
            memmove(kv, kv + 1, (conf->kv_cnt - at - 1) * sizeof(*kv));
            conf->kv_cnt--;
        }
        return CHP_OK;
    }
    if (f->flags) {
        err = chp_conf_check_string(name, f->flags, f->max_items, value, &v,
                                    errstr, errstr_size);
        if (err == CHP_ERR_NOMEM)
            goto nomem;
        if (err)
            return err;
    } else if (!(v = chp_conf_strndup(value, strlen(value)))) {
        goto nomem;
    }
    if (kv) { /* replaced in place: the first position is kept */
        free(kv->value);
        kv->value = v;
        return CHP_OK;
    }
    if (conf->kv_cnt == conf->kv_cap) {
        size_t cap = conf->kv_cap ? conf->kv_cap * 2 : 8;
        conf_kv_t *n = realloc(conf->kv, cap * sizeof(*n));
        if (!n)
            goto nomem;
        conf->kv = n;
        conf->kv_cap = cap;
    }
    kv = &conf->kv[conf->kv_cnt];
    if (!(kv->name = chp_conf_strndup(name, strlen(name))))
        goto nomem;
    kv->value = v;
    conf->kv_cnt++;
    return CHP_OK;

nomem:
    free(v);
    return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM, "out of memory");
}

static chp_err_t conf_set(chp_conf_t *conf, const char *name, const char *value,
                          char *errstr, size_t errstr_size);

CHP_EXPORT chp_err_t chp_conf_set(chp_conf_t *conf, const char *name,
                                  const char *value, char *errstr,
                                  size_t errstr_size)
{
    char *resolved = NULL;
    chp_err_t err;

    if (!conf || !name)
        return conf_set(conf, name, value, errstr, errstr_size);
    /* "@file:/path" (conf_secret.c), for every key alike. */
    if ((err = chp_conf_value_resolve(name, value, &resolved, errstr,
                                      errstr_size)) != CHP_OK)
        return err;
    if (resolved)
        value = resolved;
    err = conf_set(conf, name, value, errstr, errstr_size);
    if (err == CHP_OK)
        chp_conf_secret_note(conf->ext, name, value);
    if (resolved) {
        memset(resolved, 0, strlen(resolved));
        free(resolved);
    }
    return err;
}

static chp_err_t conf_set(chp_conf_t *conf, const char *name, const char *value,
                          char *errstr, size_t errstr_size)
{
    const chp_conf_prop_t *p;
    const chp_conf_family_t *f;
    chp_conf_val_t v;
    size_t idx;
    chp_err_t err;

    if (!conf || !name)
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "no configuration or key given");
    if (!*name)
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "empty configuration key");
    for (const char *c = name; *c; c++)
        if ((unsigned char)*c <= ' ' || *c == 0x7f || *c == '=')
            return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                            "invalid configuration key \"%s\": no "
                            "whitespace, control characters or '=' "
                            "allowed",
                            name);

    if ((p = chp_conf_prop_lookup(conf->ext, name, &idx))) {
        /* NULL: back to the default, like librdkafka. */
        err = chp_conf_value_parse(p, value ? value : p->defval, &v, errstr,
                                   errstr_size);
        if (err) {
            if (err == CHP_ERR_NOMEM)
                chp_errf(errstr, errstr_size, err, "out of memory");
            return err;
        }
        chp_conf_value_free(p, &conf->vals[idx]);
        v.set = value != NULL;
        conf->vals[idx] = v;
        return CHP_OK;
    }
    if ((f = chp_conf_family_lookup(conf->ext, name)))
        return family_set(conf, f, name, value, errstr, errstr_size);
    return chp_conf_unknown_key(conf->ext, name, errstr, errstr_size);
}

/* ------------------------------------------------------------------ get */

/* The value of table key name when its type is one of types (a mask of
 * 1 << CHP_CONF_*).  An unknown key or a getter of the wrong type is a bug
 * of the caller that must not pass silently: it is logged, naming the
 * key, and NULL returned (the getters then answer "", 0 or false).
 * Prefix-family keys have no table value: NULL without a word. */
static const chp_conf_val_t *val_get(const chp_conf_t *conf, const char *name,
                                     unsigned types, const char *getter)
{
    const chp_conf_prop_t *p;
    size_t slot;

    if (!conf || !name) {
        chp_log_error("%s: no configuration or key given", getter);
        return NULL;
    }
    if (!(p = chp_conf_prop_lookup(conf->ext, name, &slot))) {
        if (!chp_conf_family_lookup(conf->ext, name))
            chp_log_error("%s: unknown configuration key \"%s\"", getter, name);
        return NULL;
    }
    if (!((1u << p->type) & types)) {
        chp_log_error("%s: configuration key \"%s\" is not of this type",
                      getter, name);
        return NULL;
    }
    return &conf->vals[slot];
}

CHP_EXPORT const char *chp_conf_get_str(const chp_conf_t *conf,
                                        const char *name)
{
    const chp_conf_val_t *v;
    const conf_kv_t *kv;

    v = val_get(conf, name, 1u << CHP_CONF_STR | 1u << CHP_CONF_ENUM,
                "chp_conf_get_str");
    if (v)
        return v->str;
    /* Prefix-family keys answer too: "kafka.acks" -> its value, or NULL
     * while unset. */
    if (conf && name && chp_conf_family_lookup(conf->ext, name) &&
        !chp_conf_prop_lookup(conf->ext, name, NULL)) {
        kv = kv_find(conf, name);
        return kv ? kv->value : NULL;
    }
    return "";
}

CHP_EXPORT int64_t chp_conf_get_int(const chp_conf_t *conf, const char *name)
{
    const chp_conf_val_t *v =
        val_get(conf, name, 1u << CHP_CONF_INT, "chp_conf_get_int");

    return v ? v->i : 0;
}

CHP_EXPORT bool chp_conf_get_bool(const chp_conf_t *conf, const char *name)
{
    const chp_conf_val_t *v =
        val_get(conf, name, 1u << CHP_CONF_BOOL, "chp_conf_get_bool");

    return v ? v->i != 0 : false;
}

CHP_EXPORT double chp_conf_get_double(const chp_conf_t *conf, const char *name)
{
    const chp_conf_val_t *v =
        val_get(conf, name, 1u << CHP_CONF_DOUBLE, "chp_conf_get_double");

    return v ? v->d : 0.0;
}

CHP_EXPORT bool chp_conf_is_set(const chp_conf_t *conf, const char *name)
{
    size_t slot;

    if (!conf || !name)
        return false;
    if (chp_conf_prop_lookup(conf->ext, name, &slot))
        return conf->vals[slot].set;
    return kv_find(conf, name) != NULL;
}

CHP_EXPORT chp_err_t chp_conf_prefix_foreach(
    const chp_conf_t *conf, const char *prefix,
    chp_err_t (*cb)(const char *name, const char *value, void *opaque),
    void *opaque)
{
    size_t plen;

    if (!conf || !prefix || !cb)
        return CHP_ERR_INVALID_ARG;
    plen = strlen(prefix);
    for (size_t i = 0; i < conf->kv_cnt; i++) {
        chp_err_t err;
        if (strncmp(conf->kv[i].name, prefix, plen))
            continue;
        err = cb(conf->kv[i].name + plen, conf->kv[i].value, opaque);
        if (err)
            return err;
    }
    return CHP_OK;
}

void chp_conf_foreach_out_of_scope(const chp_conf_t *conf, unsigned scope,
                                   void (*cb)(const char *name, void *opaque),
                                   void *opaque)
{
    for (size_t i = 0; i < conf->n_vals; i++)
        if (conf->vals[i].set && !(slot_prop(conf, i)->scope & scope))
            cb(slot_prop(conf, i)->name, opaque);
    for (size_t i = 0; i < conf->kv_cnt; i++)
        if (!(chp_conf_scope_in(conf->ext, conf->kv[i].name) & scope))
            cb(conf->kv[i].name, opaque);
}

/* ----------------------------------------------------------------- dump */

/* Writes s, control characters as \xHH so one key stays on one line. */
static void put_escaped(FILE *fp, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            fprintf(fp, "\\x%02x", c);
        else
            fputc(c, fp);
    }
}

/* "scheme://user:password@host/..." is written with the password
 * replaced.  Raw passwords may hold '/', '@' or '?', so everything from the
 * first ':' to the last '@' goes: better too much hidden than a leak. */
static void put_url(FILE *fp, const char *url)
{
    const char *auth = strstr(url, "://"), *at, *colon;

    if (!auth || !(at = strrchr(auth + 3, '@')) ||
        !(colon = memchr(auth + 3, ':', (size_t)(at - (auth + 3))))) {
        put_escaped(fp, url, strlen(url));
        return;
    }
    put_escaped(fp, url, (size_t)(colon + 1 - url));
    fputs("[redacted]", fp);
    put_escaped(fp, at, strlen(at));
}

CHP_EXPORT void chp_conf_dump(const chp_conf_t *conf, FILE *fp)
{
    size_t nf;
    const chp_conf_family_t *families = chp_conf_families(&nf);
    char buf[32];

    if (!conf || !fp)
        return;
    for (size_t i = 0; i < conf->n_vals; i++) {
        const chp_conf_prop_t *p = slot_prop(conf, i);
        const chp_conf_val_t *v = &conf->vals[i];
        fprintf(fp, "%s=", p->name);
        switch (p->type) {
        case CHP_CONF_STR:
        case CHP_CONF_ENUM:
            if ((p->flags & CHP_CONF_F_SECRET) && *v->str)
                fputs("[redacted]", fp);
            else if (p->flags & CHP_CONF_F_URL)
                put_url(fp, v->str);
            else
                put_escaped(fp, v->str, strlen(v->str));
            break;
        case CHP_CONF_INT:
            fprintf(fp, "%" PRId64, v->i);
            break;
        case CHP_CONF_BOOL:
            fputs(v->i ? "true" : "false", fp);
            break;
        case CHP_CONF_DOUBLE:
            fputs(chp_conf_format_double(v->d, buf, sizeof(buf)), fp);
            break;
        }
        fputc('\n', fp);
    }
    /* Family by family, each in the order first set. */
    for (size_t f = 0; f < nf; f++) {
        const char *pre = families[f].prefix;
        size_t plen = strlen(pre);
        for (size_t i = 0; i < conf->kv_cnt; i++) {
            const conf_kv_t *kv = &conf->kv[i];
            if (strncmp(kv->name, pre, plen))
                continue;
            fprintf(fp, "%s=", kv->name);
            if (chp_conf_is_secret_in(conf->ext, kv->name))
                fputs("[redacted]", fp);
            else
                put_escaped(fp, kv->value, strlen(kv->value));
            fputc('\n', fp);
        }
    }
}
