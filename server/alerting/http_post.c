/* A minimal blocking HTTP/1.1 POST client with one overall deadline, for the webhook worker
 * thread only: parse http://host[:port]/path, resolve, non-blocking connect, send the request,
 * read the status line. Connection: close, no redirects, no chunked bodies to read (only the
 * status matters). The only file that touches a socket: TLS (https) goes here next.
 * Not for the event loop (it blocks up to its timeout) or for anything but webhooks. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http_post.h"

int fm_http_parse_url(const char *url, fm_http_url *u)
{
    memset(u, 0, sizeof *u);
    if (strncmp(url, "http://", 7))
        return -1;
    const char *h = url + 7, *p = h;
    while (*p && *p != ':' && *p != '/')
        p++;
    size_t hl = (size_t)(p - h);
    if (!hl || hl >= sizeof u->host)
        return -1;
    memcpy(u->host, h, hl);
    snprintf(u->port, sizeof u->port, "80");
    if (*p == ':') {
        const char *q = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        size_t pl = (size_t)(p - q);
        if (!pl || pl >= sizeof u->port)
            return -1;
        memcpy(u->port, q, pl);
        u->port[pl] = 0;
    }
    if (*p && *p != '/')
        return -1;
    snprintf(u->path, sizeof u->path, "%s", *p ? p : "/");
    return strlen(*p ? p : "/") < sizeof u->path ? 0 : -1;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int wait_fd(int fd, short ev, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - mono_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {fd, ev, 0};
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno == EINTR)
            continue;
        return r > 0;
    }
}

static int connect_deadline(const fm_http_url *u, int64_t deadline, char *err, size_t el)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int g = getaddrinfo(u->host, u->port, &hints, &res);
    if (g) {
        snprintf(err, el, "resolve %s: %s", u->host, gai_strerror(g));
        return -1;
    }
    int fd = -1;
    snprintf(err, el, "connect: no address");
    for (struct addrinfo *a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        int r = connect(fd, a->ai_addr, a->ai_addrlen);
        if (r < 0 && errno == EINPROGRESS) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                snprintf(err, el, "connect: timeout");
                close(fd);
                fd = -1;
                continue;
            }
            int e = 0;
            socklen_t sl = sizeof e;
            getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &sl);
            r = e ? -1 : 0;
            errno = e;
        }
        if (r == 0)
            break;
        snprintf(err, el, "connect: %s", strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n, int64_t deadline)
{
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k > 0) {
            p += k;
            n -= (size_t)k;
        } else if (k < 0 && (errno == EAGAIN || errno == EINTR)) {
            if (!wait_fd(fd, POLLOUT, deadline))
                return -1;
        } else {
            return -1;
        }
    }
    return 0;
}

int fm_http_post(const fm_http_url *u, const char *const *headers, size_t n_headers,
                 const char *body, size_t body_len, int timeout_ms, char *err, size_t err_len)
{
    const int64_t deadline = mono_ms() + timeout_ms;
    int fd = connect_deadline(u, deadline, err, err_len);
    if (fd < 0)
        return -1;
    char head[2048];
    int hl = snprintf(head, sizeof head,
                      "POST %s HTTP/1.1\r\nHost: %s:%s\r\nUser-Agent: fetalmon-webhook/1\r\n"
                      "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n",
                      u->path, u->host, u->port, body_len);
    for (size_t i = 0; i < n_headers && hl > 0 && (size_t)hl < sizeof head; i++)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "%s\r\n", headers[i]);
    if (hl > 0 && (size_t)hl < sizeof head)
        hl += snprintf(head + hl, sizeof head - (size_t)hl, "\r\n");
    if (hl <= 0 || (size_t)hl >= sizeof head) {
        snprintf(err, err_len, "request headers too long");
        close(fd);
        return -1;
    }
    if (send_all(fd, head, (size_t)hl, deadline) || send_all(fd, body, body_len, deadline)) {
        snprintf(err, err_len, "send: %s", errno ? strerror(errno) : "timeout");
        close(fd);
        return -1;
    }
    /* the status line is all we need: "HTTP/1.x NNN" */
    char resp[64];
    size_t got = 0;
    while (got < 12) {
        if (!wait_fd(fd, POLLIN, deadline)) {
            snprintf(err, err_len, "timeout waiting for the response");
            close(fd);
            return -1;
        }
        ssize_t k = recv(fd, resp + got, sizeof resp - 1 - got, 0);
        if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
            snprintf(err, err_len, "connection closed before a response");
            close(fd);
            return -1;
        }
        if (k > 0)
            got += (size_t)k;
    }
    resp[got] = 0;
    close(fd);
    int status = 0;
    if (strncmp(resp, "HTTP/1.", 7) || sscanf(resp + 8, " %3d", &status) != 1) {
        snprintf(err, err_len, "not an HTTP response");
        return -1;
    }
    snprintf(err, err_len, "HTTP %d", status);
    return status;
}
