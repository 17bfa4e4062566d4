/* conf_secret.c - secrets in the configuration: values read from files
 * ("key=@file:/path") and which keys are secret (redacted by
 * chp_conf_dump and scrubbed from log lines).
 *
 * A value is read from a file so that a password need not appear on a
 * command line, where ps shows it to every user of the host. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"
#include "log.h"

#define FILE_PREFIX     "@file:"
#define FILE_PREFIX_LEN (sizeof(FILE_PREFIX) - 1)
/* A secret or a certificate; anything larger is a mistake. */
#define SECRET_FILE_MAX (64u * 1024)

bool chp_conf_is_secret_in(const chp_conf_table_t *ext, const char *name)
{
    const chp_conf_prop_t *p = chp_conf_prop_lookup(ext, name, NULL);
    const char *k = name;

    if (!name)
        return false;
    if (p)
        return (p->flags & CHP_CONF_F_SECRET) != 0;
    /* The plugin's keys carry "chaperone." before ours. */
    if (!strncmp(k, "chaperone.", 10))
        k += 10;
    if ((p = chp_conf_prop_lookup(ext, k, NULL)))
        return (p->flags & CHP_CONF_F_SECRET) != 0;
    if (!strncmp(k, "kafka.", 6))
        k += 6;
    /* sasl.password, ssl.key.password, ssl.keystore.password,
     * sasl.oauthbearer.client.secret, ... and the inline PEM key. */
    return strcasestr(k, "password") || strcasestr(k, "secret") ||
           !strcmp(k, "ssl.key.pem") || !strcmp(k, "sasl.oauthbearer.config");
}

bool chp_conf_is_secret(const char *name)
{
    return chp_conf_is_secret_in(NULL, name);
}

/* Reads a regular file of at most SECRET_FILE_MAX bytes; O_NONBLOCK so a
 * FIFO named by mistake cannot hang the start. */
static chp_err_t read_value_file(const char *name, const char *path, char **out,
                                 char *errstr, size_t errstr_size)
{
    struct stat st;
    char *buf = NULL;
    size_t len = 0;
    ssize_t n;
    int fd;

    if (!*path)
        return chp_errf(errstr, errstr_size, CHP_ERR_INVALID_ARG,
                        "\"%s\": @file: needs a path", name);
    if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) < 0)
        return chp_errf(errstr, errstr_size, CHP_ERR_IO, "\"%s\": @file:%s: %s",
                        name, path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
        st.st_size > SECRET_FILE_MAX) {
        close(fd);
        return chp_errf(errstr, errstr_size, CHP_ERR_IO,
                        "\"%s\": @file:%s: not a regular file of at "
                        "most %u bytes",
                        name, path, SECRET_FILE_MAX);
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM, "out of memory");
    }
    while (len < (size_t)st.st_size &&
           (n = read(fd, buf + len, (size_t)st.st_size - len)) > 0)
        len += (size_t)n;
    close(fd);
    /* The newline an editor or `echo` leaves is not part of the value. */
    while (len && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
        len--;
    buf[len] = '\0';
    if (memchr(buf, '\0', len)) {
        free(buf);
        return chp_errf(errstr, errstr_size, CHP_ERR_TYPE,
                        "\"%s\": @file:%s: holds a NUL byte", name, path);
    }
    *out = buf;
    return CHP_OK;
}

chp_err_t chp_conf_value_resolve(const char *name, const char *value,
                                 char **out, char *errstr, size_t errstr_size)
{
    *out = NULL;
    if (!value)
        return CHP_OK;
    if (!strncmp(value, FILE_PREFIX, FILE_PREFIX_LEN))
        return read_value_file(name, value + FILE_PREFIX_LEN, out, errstr,
                               errstr_size);
    /* "@@file:x" is the literal "@file:x". */
    if (value[0] == '@' && !strncmp(value + 1, FILE_PREFIX, FILE_PREFIX_LEN)) {
        if (!(*out = chp_conf_strndup(value + 1, strlen(value + 1))))
            return chp_errf(errstr, errstr_size, CHP_ERR_NOMEM,
                            "out of memory");
    }
    return CHP_OK;
}

void chp_conf_secret_note(const chp_conf_table_t *ext, const char *name,
                          const char *value)
{
    const chp_conf_prop_t *p = chp_conf_prop_lookup(ext, name, NULL);
    const char *auth, *at, *colon;

    if (!value || !*value)
        return;
    if (chp_conf_is_secret_in(ext, name)) {
        chp_log_redact_add(value, strlen(value));
        return;
    }
    /* The password of "scheme://user:password@host/..." (as dump cuts it:
     * from the first ':' after the scheme to the last '@'). */
    if (p && (p->flags & CHP_CONF_F_URL) && (auth = strstr(value, "://")) &&
        (at = strrchr(auth + 3, '@')) &&
        (colon = memchr(auth + 3, ':', (size_t)(at - (auth + 3)))) &&
        at > colon + 1)
        chp_log_redact_add(colon + 1, (size_t)(at - colon - 1));
}
