/*
 * proxy.h - a TCP proxy in the test process, between a client under test
 * and a real server (MariaDB, PostgreSQL, Redis), to cut connections
 * deterministically:
 *   PX_DROP     resets every connection (a server crash, a network cut);
 *   PX_DOWN/UP  also stops/starts listening (connections refused);
 *   px_cut_after(p, word)  the next client message containing word
 *               (e.g. "COMMIT") is forwarded, the server's answer is read
 *               and thrown away and the client's connection reset: the
 *               transaction is committed and the client cannot know (an
 *               "uncertain COMMIT").
 * px_start fails the cmocka case itself when it cannot listen.
 */
#ifndef CHP_TESTS_PROXY_H
#define CHP_TESTS_PROXY_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "collector/store_impl.h"
#include "testutil.h"

/* Forwards 127.0.0.1:port to a server.  drop cuts every connection (as a
 * server crash or a network cut does); down also stops listening, so
 * connections are refused until up. */
enum { PX_RUN, PX_DROP, PX_DOWN, PX_UP, PX_QUIT };
#define PX_MAX 32

typedef struct proxy {
    int lfd, port;
    struct sockaddr_in up;
    int fd[PX_MAX][2];        /* client, server; -1 when free */
    bool cut_pending[PX_MAX]; /* COMMIT forwarded: reset on its answer */
    atomic_int cut_armed;     /* px_cut_after() */
    char cut_word[16];
    atomic_int cuts; /* connections cut after a COMMIT */
    atomic_int cmd;
    pthread_t th;
} proxy_t;

/* Sends one of PX_DROP, PX_DOWN, PX_UP to the proxy thread and waits
 * until it has been carried out. */
void px_command(proxy_t *p, int cmd);

/* Starts a proxy to host:port on a free local port. */
void px_start(proxy_t *p, const char *host, int port);

/* Arms the cut after the next client message containing word (see the
 * top of this file). */
void px_cut_after(proxy_t *p, const char *word);

/* Closes every connection and joins the proxy thread. */
void px_stop(proxy_t *p);

/* url with its host:port replaced by 127.0.0.1:port. */
void px_url(const char *url, int port, char *out, size_t n);

/* The host and port of a database URL (default_port when it has none);
 * fails the cmocka case on a URL the store cannot parse. */
void url_hostport(const char *url, char host[256], int *port, int default_port);

#endif
