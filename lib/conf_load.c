/* conf_load.c - .properties files and -X key=value (design.md §11).
 *
 * A load is all-or-nothing: lines are applied to a copy that replaces the
 * configuration only when every line was accepted, so a daemon refusing a
 * bad file is not left half-configured. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"

/* Files larger than this are not configuration files. */
#define CONF_FILE_MAX (16u << 20)

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\f' || c == '\r' || c == '\v';
}

/* Trims [*b, *e) in place. */
static void trim(char **b, char **e)
{
    while (*b < *e && is_space(**b))
        (*b)++;
    while (*e > *b && is_space((*e)[-1]))
        (*e)--;
}

/* Sets "key=value" held in the writable range [b, e): split at the first
 * '=', both sides trimmed.  Returns CHP_ERR_PARSE without a message when
 * there is no '='. */
static chp_err_t set_line(chp_conf_t *conf, char *b, char *e, char *errstr,
                          size_t errstr_size)
{
    char *eq = memchr(b, '=', (size_t)(e - b));
    char *kb = b, *ke, *vb, *ve = e;

    if (!eq)
        return CHP_ERR_PARSE;
    ke = eq;
    vb = eq + 1;
    trim(&kb, &ke);
    trim(&vb, &ve);
    *ke = '\0';
    *ve = '\0';
    return chp_conf_set(conf, kb, vb, errstr, errstr_size);
}

CHP_EXPORT chp_err_t chp_conf_set_kv(chp_conf_t *conf, const char *kv,
                                     char *errstr, size_t errstr_size)
{
    size_t len;
    char *copy;
    chp_err_t err;

    if (!conf || !kv) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "no configuration or key given");
        return CHP_ERR_INVALID_ARG;
    }
    len = strlen(kv);
    if (!(copy = malloc(len + 1))) {
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "out of memory");
        return CHP_ERR_NOMEM;
    }
    memcpy(copy, kv, len + 1);
    err = set_line(conf, copy, copy + len, errstr, errstr_size);
    if (err == CHP_ERR_PARSE && errstr && errstr_size)
        snprintf(errstr, errstr_size, "expected key=value, got \"%.*s%s\"",
                 len > 64 ? 64 : (int)len, kv, len > 64 ? "..." : "");
    free(copy);
    return err;
}

CHP_EXPORT chp_err_t chp_conf_load_buf(chp_conf_t *conf, const char *buf,
                                       size_t len, const char *name,
                                       char *errstr, size_t errstr_size)
{
    char msg[512];
    char *copy = NULL, *p, *end;
    chp_conf_t *work = NULL;
    unsigned line = 0;
    int at;
    chp_err_t err = CHP_OK;

    if (!name)
        name = "<buffer>";
    if (!conf || (!buf && len)) {
        err = CHP_ERR_INVALID_ARG;
        snprintf(msg, sizeof(msg), "%s: no configuration or buffer", name);
        goto out;
    }
    /* One NUL-terminated copy we can cut into lines in place. */
    if (!(copy = malloc(len + 1)) || !(work = chp_conf_dup(conf))) {
        err = CHP_ERR_NOMEM;
        snprintf(msg, sizeof(msg), "%s: out of memory", name);
        goto out;
    }
    if (len)
        memcpy(copy, buf, len);
    copy[len] = '\0';
    p = copy;
    end = copy + len;
    /* Editors on some systems start UTF-8 files with a byte order mark. */
    if (len >= 3 && !memcmp(p, "\xEF\xBB\xBF", 3))
        p += 3;

    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *b = p, *e = nl ? nl : end;
        p = nl ? nl + 1 : end;
        line++;
        trim(&b, &e);
        if (b == e || *b == '#' || *b == '!')
            continue;
        if (memchr(b, '\0', (size_t)(e - b))) {
            err = CHP_ERR_PARSE;
            snprintf(msg, sizeof(msg), "%s:%u: NUL byte in line", name, line);
            goto out;
        }
        /* "file:line: " first, then set's own message after it. */
        at = snprintf(msg, sizeof(msg), "%s:%u: ", name, line);
        if (at < 0 || (size_t)at >= sizeof(msg))
            at = 0;
        err = set_line(work, b, e, msg + at, sizeof(msg) - (size_t)at);
        if (err == CHP_ERR_PARSE)
            snprintf(msg + at, sizeof(msg) - (size_t)at, "expected key=value");
        if (err)
            goto out;
    }
    chp_conf_swap(conf, work);

out:
    if (err && errstr && errstr_size)
        snprintf(errstr, errstr_size, "%s", msg);
    chp_conf_destroy(work);
    free(copy);
    return err;
}

CHP_EXPORT chp_err_t chp_conf_load_file(chp_conf_t *conf, const char *path,
                                        char *errstr, size_t errstr_size)
{
    FILE *fp = NULL;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    chp_err_t err = CHP_OK;

    if (!conf || !path) {
        err = CHP_ERR_INVALID_ARG;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "no configuration or path given");
        goto out;
    }
    if (!(fp = fopen(path, "rb"))) {
        err = CHP_ERR_IO;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: %s", path, strerror(errno));
        goto out;
    }
    for (;;) {
        size_t n;
        if (len == cap) {
            char *nb;
            if (cap >= CONF_FILE_MAX) {
                err = CHP_ERR_IO;
                if (errstr && errstr_size)
                    snprintf(errstr, errstr_size,
                             "%s: larger than %u bytes, not a configuration "
                             "file",
                             path, CONF_FILE_MAX);
                goto out;
            }
            cap = cap ? cap * 2 : 4096;
            if (!(nb = realloc(buf, cap))) {
                err = CHP_ERR_NOMEM;
                if (errstr && errstr_size)
                    snprintf(errstr, errstr_size, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
        }
        n = fread(buf + len, 1, cap - len, fp);
        len += n;
        if (n == 0)
            break;
    }
    if (ferror(fp)) {
        err = CHP_ERR_IO;
        if (errstr && errstr_size)
            snprintf(errstr, errstr_size, "%s: read error", path);
        goto out;
    }
    err = chp_conf_load_buf(conf, buf, len, path, errstr, errstr_size);

out:
    if (fp)
        fclose(fp);
    free(buf);
    return err;
}
