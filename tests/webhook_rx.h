/* A webhook receiver for tests: a real HTTP server on 127.0.0.1 in a thread of the test, one
 * connection at a time, that keeps every complete request it accepted (body and the
 * X-Fetalmon-Delivery / -Timestamp / -Signature headers) so the test can check the signatures
 * and count the deliveries. It can refuse the first requests (500) or accept and never answer
 * (a hung receiver). Used by tests/alerting/test_webhook.c (the webhook worker alone) and
 * tests/server/test_server_alerts.c (the whole server). Not a general HTTP server: one request
 * per connection, Content-Length bodies only. Header-only, so each test stays one file. */
#ifndef FM_WEBHOOK_RX_H
#define FM_WEBHOOK_RX_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WEBHOOK_RX_MAX 256            /* requests kept; later ones are answered, not kept */
#define WEBHOOK_RX_REQ_BYTES 65536    /* a larger request is answered 400 */

typedef struct webhook_rx_got {
    char *body; /* NUL-terminated (malloc) */
    char delivery[32], timestamp[32], signature[96];
} webhook_rx_got;

typedef struct webhook_rx {
    int fd, port;
    int fail_first; /* answer 500 to this many requests */
    int silent;     /* accept, read, never answer (until stopped) */
    atomic_int stop;
    pthread_t th;
    pthread_mutex_t mu;
    webhook_rx_got g[WEBHOOK_RX_MAX];
    int n;        /* requests kept in g */
    int requests; /* complete requests seen, kept or not */
} webhook_rx;

/* A loopback port nobody listens on (yet): a receiver that is down until started there. */
static inline int webhook_rx_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    bind(fd, (struct sockaddr *)&a, sizeof a);
    socklen_t l = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static inline void webhook_rx_header(const char *req, const char *name, char *out, size_t len)
{
    out[0] = 0;
    const char *p = strcasestr(req, name);
    if (!p)
        return;
    p += strlen(name);
    while (*p == ' ')
        p++;
    size_t n = strcspn(p, "\r\n");
    if (n >= len)
        n = len - 1;
    memcpy(out, p, n);
    out[n] = 0;
}

static inline void webhook_rx_serve_one(webhook_rx *r, int c)
{
    size_t cap = WEBHOOK_RX_REQ_BYTES, n = 0;
    char *req = malloc(cap);
    char *body = NULL;
    long clen = -1;
    while (req && n < cap - 1) {
        struct pollfd p = {c, POLLIN, 0};
        if (poll(&p, 1, 2000) <= 0)
            break;
        ssize_t k = recv(c, req + n, cap - 1 - n, 0);
        if (k <= 0)
            break;
        n += (size_t)k;
        req[n] = 0;
        if (!body && (body = strstr(req, "\r\n\r\n"))) {
            body += 4;
            char cl[16];
            webhook_rx_header(req, "Content-Length:", cl, sizeof cl);
            clen = cl[0] ? atol(cl) : -1;
        }
        if (body && (long)(req + n - body) >= clen)
            break;
    }
    int complete = req && body && clen >= 0 && (long)(req + n - body) >= clen;
    pthread_mutex_lock(&r->mu);
    int ok = 0;
    if (complete) {
        int idx = r->requests++;
        ok = idx >= r->fail_first && !r->silent;
    }
    if (ok && r->n < WEBHOOK_RX_MAX) {
        webhook_rx_got *g = &r->g[r->n++];
        g->body = strndup(body, (size_t)clen);
        webhook_rx_header(req, "X-Fetalmon-Delivery:", g->delivery, sizeof g->delivery);
        webhook_rx_header(req, "X-Fetalmon-Timestamp:", g->timestamp, sizeof g->timestamp);
        webhook_rx_header(req, "X-Fetalmon-Signature:", g->signature, sizeof g->signature);
    }
    int silent = r->silent;
    pthread_mutex_unlock(&r->mu);
    if (silent) {
        char sink[512];
        while (!atomic_load(&r->stop)) {
            struct pollfd p = {c, POLLIN, 0};
            if (poll(&p, 1, 50) > 0 && recv(c, sink, sizeof sink, 0) <= 0)
                break;
        }
    } else {
        const char *resp =
            ok ? "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            : complete ? "HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                       : "HTTP/1.1 400 Bad\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send(c, resp, strlen(resp), MSG_NOSIGNAL);
    }
    close(c);
    free(req);
}

static inline void *webhook_rx_main(void *arg)
{
    webhook_rx *r = arg;
    while (!atomic_load(&r->stop)) {
        struct pollfd p = {r->fd, POLLIN, 0};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(r->fd, NULL, NULL);
        if (c >= 0)
            webhook_rx_serve_one(r, c);
    }
    return NULL;
}

/* Sets r up (nothing kept yet; set fail_first / silent after this, before start). */
static inline void webhook_rx_init(webhook_rx *r)
{
    memset(r, 0, sizeof *r);
    r->fd = -1;
    pthread_mutex_init(&r->mu, NULL);
}

/* Starts listening on `port` (e.g. webhook_rx_free_port()). 0 on success. A receiver may be
 * stopped and started again; what it kept stays. */
static inline int webhook_rx_start(webhook_rx *r, int port)
{
    r->fd = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(r->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (bind(r->fd, (struct sockaddr *)&a, sizeof a) || listen(r->fd, 64)) {
        close(r->fd);
        r->fd = -1;
        return -1;
    }
    r->port = port;
    atomic_store(&r->stop, 0);
    return pthread_create(&r->th, NULL, webhook_rx_main, r);
}

static inline void webhook_rx_stop(webhook_rx *r)
{
    if (r->fd < 0)
        return;
    atomic_store(&r->stop, 1);
    pthread_join(r->th, NULL);
    close(r->fd);
    r->fd = -1;
}

/* How many requests were kept so far. */
static inline int webhook_rx_count(webhook_rx *r)
{
    pthread_mutex_lock(&r->mu);
    int n = r->n;
    pthread_mutex_unlock(&r->mu);
    return n;
}

/* Stops it if running and frees what it kept. */
static inline void webhook_rx_free(webhook_rx *r)
{
    webhook_rx_stop(r);
    for (int i = 0; i < r->n; i++)
        free(r->g[i].body);
    r->n = 0;
    pthread_mutex_destroy(&r->mu);
}

#endif
