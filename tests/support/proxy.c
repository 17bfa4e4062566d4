/* proxy.c - see proxy.h. */
#include "proxy.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

static int px_listen(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons((uint16_t)port);
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 16)) {
        close(fd);
        return -1;
    }
    return fd;
}

static void px_close_pair(proxy_t *p, int i)
{
    /* RST, not FIN: what a vanished server looks like. */
    struct linger l = {1, 0};

    for (int k = 0; k < 2; k++) {
        if (p->fd[i][k] >= 0) {
            setsockopt(p->fd[i][k], SOL_SOCKET, SO_LINGER, &l, sizeof(l));
            close(p->fd[i][k]);
        }
        p->fd[i][k] = -1;
    }
}

static void px_accept(proxy_t *p)
{
    int c = accept(p->lfd, NULL, NULL), s, i;

    if (c < 0)
        return;
    s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&p->up, sizeof(p->up))) {
        if (s >= 0)
            close(s);
        close(c);
        return;
    }
    for (i = 0; i < PX_MAX && p->fd[i][0] >= 0; i++)
        ;
    if (i == PX_MAX) {
        close(s);
        close(c);
        return;
    }
    p->fd[i][0] = c;
    p->fd[i][1] = s;
    p->cut_pending[i] = false;
}

/* Copies what is readable on fd[i][k] to the other side. */
static void px_pump(proxy_t *p, int i, int k)
{
    char buf[65536];
    ssize_t n = read(p->fd[i][k], buf, sizeof(buf)), off = 0;

    if (n <= 0) {
        px_close_pair(p, i);
        return;
    }
    if (k == 1 && p->cut_pending[i]) {
        /* The server's answer to the COMMIT: the client never gets it. */
        p->cut_pending[i] = false;
        atomic_fetch_add(&p->cuts, 1); /* before the client can see it */
        px_close_pair(p, i);
        return;
    }
    if (k == 0 && atomic_load(&p->cut_armed) &&
        memmem(buf, (size_t)n, p->cut_word, strlen(p->cut_word))) {
        atomic_store(&p->cut_armed, 0);
        p->cut_pending[i] = true;
    }
    while (off < n) {
        ssize_t w = write(p->fd[i][1 - k], buf + off, (size_t)(n - off));

        if (w <= 0) {
            px_close_pair(p, i);
            return;
        }
        off += w;
    }
}

static void *px_main(void *arg)
{
    proxy_t *p = arg;

    for (;;) {
        struct pollfd pf[1 + 2 * PX_MAX];
        int who[1 + 2 * PX_MAX][2], n = 0, cmd = atomic_load(&p->cmd);

        if (cmd != PX_RUN) {
            for (int i = 0; i < PX_MAX; i++)
                px_close_pair(p, i);
            if ((cmd == PX_DOWN || cmd == PX_QUIT) && p->lfd >= 0) {
                close(p->lfd);
                p->lfd = -1;
            }
            if (cmd == PX_UP)
                p->lfd = px_listen(p->port);
            if (cmd == PX_QUIT)
                return NULL;
            atomic_store(&p->cmd, PX_RUN);
        }
        if (p->lfd >= 0) {
            pf[n] = (struct pollfd){.fd = p->lfd, .events = POLLIN};
            who[n][0] = -1;
            n++;
        }
        for (int i = 0; i < PX_MAX; i++)
            for (int k = 0; k < 2 && p->fd[i][0] >= 0; k++) {
                pf[n] = (struct pollfd){.fd = p->fd[i][k], .events = POLLIN};
                who[n][0] = i;
                who[n][1] = k;
                n++;
            }
        if (poll(pf, (nfds_t)n, 20) <= 0)
            continue;
        for (int j = 0; j < n; j++) {
            if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (who[j][0] < 0)
                px_accept(p);
            else if (p->fd[who[j][0]][who[j][1]] == pf[j].fd)
                px_pump(p, who[j][0], who[j][1]);
        }
    }
}

void px_command(proxy_t *p, int cmd)
{
    atomic_store(&p->cmd, cmd);
    while (atomic_load(&p->cmd) != PX_RUN)
        tu_sleep_ms(5);
}

void px_start(proxy_t *p, const char *host, int port)
{
    struct sockaddr_in a;
    socklen_t len = sizeof(a);

    memset(p, 0, sizeof(*p));
    memset(p->fd, -1, sizeof(p->fd));
    p->up.sin_family = AF_INET;
    p->up.sin_port = htons((uint16_t)port);
    assert_int_equal(inet_pton(AF_INET, host, &p->up.sin_addr), 1);
    p->lfd = px_listen(0);
    assert_true(p->lfd >= 0);
    assert_int_equal(getsockname(p->lfd, (struct sockaddr *)&a, &len), 0);
    p->port = ntohs(a.sin_port);
    atomic_store(&p->cmd, PX_RUN);
    assert_int_equal(pthread_create(&p->th, NULL, px_main, p), 0);
}

void px_cut_after(proxy_t *p, const char *word)
{
    snprintf(p->cut_word, sizeof(p->cut_word), "%s", word);
    atomic_store(&p->cut_armed, 1);
}

void px_stop(proxy_t *p)
{
    atomic_store(&p->cmd, PX_QUIT);
    pthread_join(p->th, NULL);
}

void px_url(const char *url, int port, char *out, size_t n)
{
    const char *auth = strstr(url, "://") + 3;
    const char *at = strchr(auth, '@');
    const char *host = at ? at + 1 : auth;
    const char *rest = host + strcspn(host, "/?");

    snprintf(out, n, "%.*s127.0.0.1:%d%s", (int)(host - url), url, port, rest);
}

void url_hostport(const char *url, char host[256], int *port, int default_port)
{
    store_url_t u;
    char errstr[256];

    assert_int_equal(store_url_parse(url, "url", &u, errstr, sizeof(errstr)),
                     CHP_OK);
    snprintf(host, 256, "%s", u.host);
    *port = u.port ? u.port : default_port;
}
