/* httpc.h - a minimal HTTP/1.1 client for tests: one request per
 * connection (Connection: close), bounded by a timeout, the response read
 * until the server closes.  No dependency but POSIX sockets. */
#ifndef CHP_TESTS_HTTPC_H
#define CHP_TESTS_HTTPC_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "testutil.h"

typedef struct httpc_resp {
    int status; /* 0 when no answer */
    char *body; /* malloc()ed, NUL-terminated; free with httpc_free */
    size_t body_len;
    char *head; /* status line and headers */
} httpc_resp_t;

/* Frees what httpc_request filled and zeroes *r. */
void httpc_free(httpc_resp_t *r);

/* Waits for fd to be ready for events until deadline; 0 ready, -1 not. */
int httpc_wait(int fd, short events, int64_t deadline);

/*
 * Sends method path with body (NULL: none; body_len bytes, which may hold
 * NULs) to 127.0.0.1:port.  Returns 0 with *r filled, or -1 if the server
 * could not be reached or did not answer within timeout_ms.
 */
int httpc_request(int port, const char *method, const char *path,
                  const char *body, size_t body_len, int timeout_ms,
                  httpc_resp_t *r);

/* The status of GET path (e.g. 200 or 503 from /health); -1 when the
 * server could not be reached or did not answer within timeout_ms. */
int httpc_status(int port, const char *path, int timeout_ms);

/* A TCP port on 127.0.0.1 that was free a moment ago (bind to 0, read it
 * back, close); 0 on failure. */
int httpc_free_port(void);

#endif
