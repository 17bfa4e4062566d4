/* secure.h - the secured listeners of scripts/kafka.sh (KAFKA_SECURE=1) for
 * e2e tests: their librdkafka settings files, turned into `-X kafka.*`
 * arguments for the daemons and `-X chaperone.kafka.*` for the plugin, the
 * SCRAM password always passed as @file: so it never shows on a command
 * line; and curl with a bearer token.  Header-only. */
#ifndef CHP_TESTS_SECURE_H
#define CHP_TESTS_SECURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "testutil.h"

#define SEC_MAX_KV 16

typedef struct sec_listener {
    const char *name;  /* "sasl_ssl" or "mtls" */
    char props[512];   /* the settings file */
    char tls_dir[512]; /* CHP_TEST_TLS_DIR */
    char brokers[256];
    char k[SEC_MAX_KV][64], v[SEC_MAX_KV][512];
    size_t n;
} sec_listener_t;

/* Loads the listener's settings from the file named by env (exit 77 when
 * it is not set: kafka.sh was started without KAFKA_SECURE=1). */
static TU_UNUSED void sec_load(sec_listener_t *l, const char *name,
                               const char *env)
{
    const char *path = getenv(env), *dir = getenv("CHP_TEST_TLS_DIR");
    char line[1024];
    FILE *fp;

    if (!path || !dir)
        tu_skip("%s/CHP_TEST_TLS_DIR not set (scripts/kafka.sh start with "
                "KAFKA_SECURE=1, then eval \"$(scripts/kafka.sh env)\")",
                env);
    memset(l, 0, sizeof(*l));
    l->name = name;
    snprintf(l->props, sizeof(l->props), "%s", path);
    snprintf(l->tls_dir, sizeof(l->tls_dir), "%s", dir);
    if (!(fp = fopen(path, "r"))) {
        fprintf(stderr, "cannot read %s\n", path);
        exit(1);
    }
    while (fgets(line, sizeof(line), fp) && l->n < SEC_MAX_KV) {
        char *eq = strchr(line, '='), *nl = strchr(line, '\n');
        if (nl)
            *nl = '\0';
        if (!eq || line[0] == '#')
            continue;
        *eq = '\0';
        if (!strcmp(line, "bootstrap.servers"))
            snprintf(l->brokers, sizeof(l->brokers), "%s", eq + 1);
        snprintf(l->k[l->n], sizeof(l->k[0]), "%s", line);
        if (!strcmp(line, "sasl.password")) /* from its file, not argv */
            snprintf(l->v[l->n], sizeof(l->v[0]), "@file:%s/sasl.password",
                     dir);
        else
            snprintf(l->v[l->n], sizeof(l->v[0]), "%s", eq + 1);
        l->n++;
    }
    fclose(fp);
    if (!l->brokers[0]) {
        fprintf(stderr, "%s has no bootstrap.servers\n", path);
        exit(1);
    }
}

/* Replaces (or adds) one setting, e.g. a wrong password. */
static TU_UNUSED void sec_set(sec_listener_t *l, const char *k, const char *v)
{
    size_t i;

    for (i = 0; i < l->n && strcmp(l->k[i], k); i++)
        ;
    if (i == l->n && l->n < SEC_MAX_KV)
        snprintf(l->k[l->n++], sizeof(l->k[0]), "%s", k);
    snprintf(l->v[i], sizeof(l->v[0]), "%s", v);
}

/* Appends "-X", "<prefix><k>=<v>" pairs to args (at *n), the strings kept
 * in buf (SEC_MAX_KV entries of 600 bytes). */
static TU_UNUSED void sec_args(const sec_listener_t *l, const char *prefix,
                               const char **args, int *n, char buf[][600])
{
    for (size_t i = 0; i < l->n; i++) {
        snprintf(buf[i], 600, "%s%s=%s", prefix, l->k[i], l->v[i]);
        args[(*n)++] = "-X";
        args[(*n)++] = buf[i];
    }
}

/* The same as one shell string of -X options (for kcat command lines). */
static TU_UNUSED void sec_shell_opts(const sec_listener_t *l,
                                     const char *prefix, char *out, size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < l->n && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, " -X '%s%s=%s'", prefix,
                              l->k[i], l->v[i]);
}

/* Runs a shell command; its exit status, its output in out (if any). */
static TU_UNUSED int sec_run(const char *cmd, char *out, size_t outn)
{
    FILE *p = popen(cmd, "r");
    size_t got = 0;
    int st;

    if (!p)
        return -1;
    if (out && outn) {
        got = fread(out, 1, outn - 1, p);
        out[got] = '\0';
    }
    {
        char sink[4096];
        while (fread(sink, 1, sizeof(sink), p) > 0)
            ;
    }
    st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* curl METHOD url [body] with "Authorization: Bearer token" (NULL: none)
 * and the extra options (NULL: none, e.g. "--cacert ca.pem"); returns the
 * HTTP status (0: no answer), the body in out. */
static TU_UNUSED int sec_curl(const char *method, const char *url,
                              const char *token, const char *body,
                              const char *extra, char *out, size_t outn)
{
    char cmd[2048], *status;
    int st;

    snprintf(
        cmd, sizeof(cmd),
        "curl -s --max-time 30 -X %s %s %s%s%s %s%s%s -w '\\n%%{http_code}' "
        "'%s'",
        method, extra ? extra : "", token ? "-H 'Authorization: Bearer " : "",
        token ? token : "", token ? "'" : "", body ? "-d '" : "",
        body ? body : "", body ? "'" : "", url);
    if (sec_run(cmd, out, outn) != 0)
        return 0;
    if (!(status = strrchr(out, '\n')))
        return 0;
    *status++ = '\0';
    st = atoi(status);
    return st;
}

/* Count of lines of log holding needle (case-insensitive) and written by
 * chaperone itself (its lines start with a timestamp, librdkafka's with
 * '%'). */
static TU_UNUSED int sec_own_lines(const char *log, const char *needle)
{
    char line[4096];
    FILE *fp = fopen(log, "r");
    int n = 0;

    if (!fp)
        return 0;
    while (fgets(line, sizeof(line), fp))
        if (line[0] >= '0' && line[0] <= '9' && strcasestr(line, needle))
            n++;
    fclose(fp);
    return n;
}

#endif
