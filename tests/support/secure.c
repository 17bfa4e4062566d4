/* secure.c - see secure.h. */
#include "secure.h"

void sec_load(sec_listener_t *l, const char *name, const char *env)
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

void sec_set(sec_listener_t *l, const char *k, const char *v)
{
    size_t i;

    for (i = 0; i < l->n && strcmp(l->k[i], k); i++)
        ;
    if (i == l->n && l->n < SEC_MAX_KV)
        snprintf(l->k[l->n++], sizeof(l->k[0]), "%s", k);
    snprintf(l->v[i], sizeof(l->v[0]), "%s", v);
}

void sec_args(const sec_listener_t *l, const char *prefix, const char **args,
              int *n, char buf[][600])
{
    for (size_t i = 0; i < l->n; i++) {
        snprintf(buf[i], 600, "%s%s=%s", prefix, l->k[i], l->v[i]);
        args[(*n)++] = "-X";
        args[(*n)++] = buf[i];
    }
}

void sec_shell_opts(const sec_listener_t *l, const char *prefix, char *out,
                    size_t size)
{
    size_t o = 0;

    out[0] = '\0';
    for (size_t i = 0; i < l->n && o < size; i++)
        o += (size_t)snprintf(out + o, size - o, " -X '%s%s=%s'", prefix,
                              l->k[i], l->v[i]);
}
int sec_curl(const char *method, const char *url, const char *token,
             const char *body, const char *extra, char *out, size_t outn)
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
    if (tu_run(cmd, out, outn) != 0)
        return 0;
    if (!(status = strrchr(out, '\n')))
        return 0;
    *status++ = '\0';
    st = atoi(status);
    return st;
}

int sec_own_lines(const char *log, const char *needle)
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
