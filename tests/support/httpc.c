/* httpc.c - see httpc.h. */
#include "httpc.h"

void httpc_free(httpc_resp_t *r)
{
    free(r->body);
    free(r->head);
    memset(r, 0, sizeof(*r));
}

int httpc_wait(int fd, short events, int64_t deadline)
{
    struct pollfd p = {.fd = fd, .events = events};
    int left = tu_left_ms(deadline);

    if (left <= 0)
        return -1;
    return poll(&p, 1, left) == 1 ? 0 : -1;
}

int httpc_request(int port, const char *method, const char *path,
                  const char *body, size_t body_len, int timeout_ms,
                  httpc_resp_t *r)
{
    int64_t deadline = tu_now_ms() + timeout_ms;
    struct sockaddr_in sin;
    char head[2048], *buf = NULL, *sep;
    size_t len = 0, cap = 0, off = 0, hlen;
    int fd, rc = -1;

    memset(r, 0, sizeof(*r));
    if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
        return -1;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) != 0 &&
        errno != EINPROGRESS)
        goto out;
    if (httpc_wait(fd, POLLOUT, deadline) != 0)
        goto out;
    {
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr)
            goto out;
    }
    hlen = (size_t)snprintf(head, sizeof(head),
                            "%s %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                            "Connection: close\r\n"
                            "Content-Type: application/json\r\n"
                            "Content-Length: %zu\r\n\r\n",
                            method, path, port, body ? body_len : 0);
    if (hlen >= sizeof(head))
        goto out;
    /* Head then body; a server may answer (413) and close before reading
     * the whole body, so write errors are not failures by themselves. */
    for (int part = 0; part < 2; part++) {
        const char *p = part ? body : head;
        size_t n = part ? (body ? body_len : 0) : hlen;
        off = 0;
        while (off < n) {
            ssize_t w;
            if (httpc_wait(fd, POLLOUT, deadline) != 0)
                goto out;
            w = send(fd, p + off, n - off, MSG_NOSIGNAL);
            if (w < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (w <= 0)
                break;
            off += (size_t)w;
        }
    }
    for (;;) {
        ssize_t n;
        if (len + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = (cap ? cap * 2 : 8192));
            if (!nb)
                goto out;
            buf = nb;
        }
        if (httpc_wait(fd, POLLIN, deadline) != 0)
            goto out;
        n = recv(fd, buf + len, cap - len - 1, 0);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (n < 0 && len > 0) /* reset after a complete answer (413) */
            break;
        if (n <= 0) {
            if (n < 0)
                goto out;
            break;
        }
        len += (size_t)n;
    }
    if (!buf)
        goto out;
    buf[len] = '\0';
    if (sscanf(buf, "HTTP/1.%*d %d", &r->status) != 1 ||
        !(sep = strstr(buf, "\r\n\r\n")))
        goto out;
    r->head = strndup(buf, (size_t)(sep - buf));
    r->body_len = len - (size_t)(sep + 4 - buf);
    r->body = malloc(r->body_len + 1);
    if (!r->head || !r->body)
        goto out;
    memcpy(r->body, sep + 4, r->body_len);
    r->body[r->body_len] = '\0';
    rc = 0;
out:
    if (rc != 0)
        httpc_free(r);
    free(buf);
    close(fd);
    return rc;
}

int httpc_status(int port, const char *path, int timeout_ms)
{
    httpc_resp_t r;
    int st;

    if (httpc_request(port, "GET", path, NULL, 0, timeout_ms, &r) != 0)
        return -1;
    st = r.status;
    httpc_free(&r);
    return st;
}

int httpc_free_port(void)
{
    struct sockaddr_in sin;
    socklen_t sl = sizeof(sin);
    int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;

    if (fd < 0)
        return 0;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
        getsockname(fd, (struct sockaddr *)&sin, &sl) == 0)
        port = ntohs(sin.sin_port);
    close(fd);
    return port;
}
