/* secure.h - the secured listeners of scripts/kafka.sh (KAFKA_SECURE=1) for
 * e2e tests: their librdkafka settings files, turned into `-X kafka.*`
 * arguments for the daemons and `-X chaperone.kafka.*` for the plugin, the
 * SCRAM password always passed as @file: so it never shows on a command
 * line; and curl with a bearer token. */
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
void sec_load(sec_listener_t *l, const char *name, const char *env);

/* Replaces (or adds) one setting, e.g. a wrong password. */
void sec_set(sec_listener_t *l, const char *k, const char *v);

/* Appends "-X", "<prefix><k>=<v>" pairs to args (at *n), the strings kept
 * in buf (SEC_MAX_KV entries of 600 bytes). */
void sec_args(const sec_listener_t *l, const char *prefix, const char **args,
              int *n, char buf[][600]);

/* The same as one shell string of -X options (for kcat command lines). */
void sec_shell_opts(const sec_listener_t *l, const char *prefix, char *out,
                    size_t size);

/* curl METHOD url [body] with "Authorization: Bearer token" (NULL: none)
 * and the extra options (NULL: none, e.g. "--cacert ca.pem"); returns the
 * HTTP status (0: no answer), the body in out. */
int sec_curl(const char *method, const char *url, const char *token,
             const char *body, const char *extra, char *out, size_t outn);

/* Count of lines of log holding needle (case-insensitive) and written by
 * chaperone itself (its lines start with a timestamp, librdkafka's with
 * '%'). */
int sec_own_lines(const char *log, const char *needle);

#endif
