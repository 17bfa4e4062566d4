/*
 * rdk.c - binds the plugin to the librdkafka that loaded it (see rdk.h).
 *
 * librdkafka's plugin loader calls conf_init() from inside itself, so the
 * caller's address names the right object even when it is a private copy
 * (the pip wheel loads its librdkafka without adding it to the global
 * scope, where a lookup by name would find the system's instead).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "rdk.h"

chp_rdk_t chp_rdk;

static pthread_mutex_t bind_lock = PTHREAD_MUTEX_INITIALIZER;
static const void *bound_base; /* load address of the bound librdkafka */
static char bound_name[512];

/* Address of name in handle (or the global scope with RTLD_DEFAULT), but
 * only if it lies in the object loaded at base: a function of the same
 * name from another librdkafka must never be mixed in. */
static void *sym_in(void *handle, const char *name, const void *base)
{
    void *p = dlsym(handle, name);
    Dl_info di;

    if (!p || !dladdr(p, &di) || di.dli_fbase != base)
        return NULL;
    return p;
}

/* Fills t from the object at base; returns the first missing name. */
static const char *fill(chp_rdk_t *t, void *handle, const void *base)
{
#define CHP_RDK_LOOKUP(n)                                                      \
    if (!(t->n = (__typeof__(t->n))sym_in(handle, "rd_kafka_" #n, base)))      \
        return "rd_kafka_" #n;
    CHP_RDK_FUNCS(CHP_RDK_LOOKUP)
#undef CHP_RDK_LOOKUP
    return NULL;
}

rd_kafka_resp_err_t chp_rdk_bind(const void *caller, char *errstr,
                                 size_t errstr_size)
{
    rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR__FAIL;
    const char *missing;
    chp_rdk_t t;
    void *h = NULL;
    Dl_info di;
    int v;

    pthread_mutex_lock(&bind_lock);
    if (!dladdr(caller, &di) || !di.dli_fbase) {
        snprintf(errstr, errstr_size,
                 "chaperone interceptor: cannot tell which librdkafka loaded "
                 "it (dladdr failed)");
        goto out;
    }
    if (bound_base) {
        if (bound_base == di.dli_fbase) {
            err = RD_KAFKA_RESP_ERR_NO_ERROR;
        } else {
            snprintf(errstr, errstr_size,
                     "chaperone interceptor: already bound to the librdkafka "
                     "in %s; a second librdkafka (%s) in the same process "
                     "cannot load the same plugin file",
                     bound_name, di.dli_fname ? di.dli_fname : "?");
        }
        goto out;
    }
    /* Our own reference: the library cannot go away under the plugin. */
    if (di.dli_fname && *di.dli_fname)
        h = dlopen(di.dli_fname, RTLD_NOLOAD | RTLD_NOW);
    memset(&t, 0, sizeof(t));
    missing = fill(&t, h ? h : RTLD_DEFAULT, di.dli_fbase);
    if (missing) {
        /* Short and essential first: some bindings cut errstr at 128. */
        snprintf(errstr, errstr_size,
                 "chaperone interceptor: static librdkafka? the one that "
                 "loaded it exports no %s; use a shared librdkafka (%s)",
                 missing, di.dli_fname ? di.dli_fname : "?");
        goto out;
    }
    if ((v = t.version()) < CHP_RDK_MIN_VERSION) {
        snprintf(errstr, errstr_size,
                 "chaperone interceptor: librdkafka %s is too old; "
                 "%s or later is needed",
                 t.version_str(), CHP_RDK_MIN_VERSION_STR);
        goto out;
    }
    chp_rdk = t;
    bound_base = di.dli_fbase;
    snprintf(bound_name, sizeof(bound_name), "%s",
             di.dli_fname ? di.dli_fname : "?");
    h = NULL; /* kept for the life of the process */
    err = RD_KAFKA_RESP_ERR_NO_ERROR;
out:
    if (h)
        dlclose(h);
    pthread_mutex_unlock(&bind_lock);
    return err;
}
