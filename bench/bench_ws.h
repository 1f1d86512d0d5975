/* bench_ws.h: what the server benchmarks (bench_server_load, bench_alert_latency) share: a
 * minimal blocking WebSocket client over loopback (RFC 6455 with a zero mask), the server as a
 * child process, accounts written straight into the store, and /proc readings of the server.
 * Not for tests (tests/server/srvtest.h has the test-side client). Header-only: static inline. */
#ifndef FM_BENCH_WS_H
#define FM_BENCH_WS_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "store.h"

#define BWS_PAYLOAD_MAX 8192 /* the largest message a bench sends (a 0.25 s frame: 4004 bytes) */

static inline double bws_now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int bws_send_all(int fd, const void *b, size_t n)
{
    const char *p = b;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EINTR || errno == EAGAIN)) {
            if (errno == EAGAIN)
                usleep(100);
            continue;
        }
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static inline int bws_send(int fd, int opcode, const void *data, size_t n)
{
    unsigned char buf[16 + BWS_PAYLOAD_MAX];
    size_t hl = 2;
    if (n + 16 > sizeof buf)
        return -1;
    buf[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        buf[1] = (unsigned char)(0x80 | n);
    } else {
        buf[1] = 0x80 | 126;
        buf[2] = (unsigned char)(n >> 8), buf[3] = (unsigned char)n;
        hl = 4;
    }
    memset(buf + hl, 0, 4); /* a zero mask: valid, and the payload goes as is */
    hl += 4;
    memcpy(buf + hl, data, n);
    return bws_send_all(fd, buf, hl + n);
}

static inline int bws_connect(int port, const char *path, const char *proto)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char req[512], resp[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: YmVuY2gtc2VydmVyLWxvYWQ=\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: %s\r\n\r\n",
                     path, proto);
    size_t got = 0;
    if (bws_send_all(fd, req, (size_t)n) != 0)
        goto fail;
    while (got < sizeof resp - 1) {
        if (recv(fd, resp + got, 1, 0) != 1)
            goto fail;
        resp[++got] = 0;
        if (got >= 4 && !memcmp(resp + got - 4, "\r\n\r\n", 4))
            break;
    }
    if (strncmp(resp, "HTTP/1.1 101", 12))
        goto fail;
    return fd;
fail:
    close(fd);
    return -1;
}

/* Next complete text message in in[0..*in_len) (NUL-terminated copy in out), 1; 0 when
 * incomplete, -1 on a frame this client does not take. The message is consumed. A ping is
 * answered on fd with its pong (RFC 6455 5.5.2; libwebsockets pings a connection after 300 s
 * without one and hangs up 10 s later when no pong comes); pongs and binary frames are skipped. */
static inline int bws_next_msg(int fd, unsigned char *in, size_t *in_len, char *out, size_t cap)
{
again:
    if (*in_len < 2)
        return 0;
    size_t n = in[1] & 0x7f, hl = 2;
    if (n == 126) {
        if (*in_len < 4)
            return 0;
        n = (size_t)in[2] << 8 | in[3];
        hl = 4;
    } else if (n == 127) {
        return -1;
    }
    if (*in_len < hl + n)
        return 0;
    int opcode = in[0] & 0x0f;
    size_t k = n < cap - 1 ? n : cap - 1;
    memcpy(out, in + hl, k);
    out[k] = 0;
    memmove(in, in + hl + n, *in_len - hl - n);
    *in_len -= hl + n;
    if (opcode == 9) { /* ping -> pong with the same payload */
        bws_send(fd, 10, out, k);
        goto again;
    }
    if (opcode != 1)
        goto again;
    return 1;
}

/* Blocking (set-up phase): the next message holding needle, within 30 s. in has room for cap_in. */
static inline int bws_wait_msg(int fd, unsigned char *in, size_t *in_len, size_t cap_in,
                               const char *needle, char *out, size_t cap)
{
    double t_end = bws_now_s() + 30;
    while (bws_now_s() < t_end) {
        int r;
        while ((r = bws_next_msg(fd, in, in_len, out, cap)) == 1)
            if (strstr(out, needle))
                return 0;
        if (r < 0)
            return -1;
        ssize_t k = recv(fd, in + *in_len, cap_in - *in_len, 0);
        if (k <= 0)
            return -1;
        *in_len += (size_t)k;
    }
    return -1;
}

static inline long bws_proc_cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');
    long ut = 0, st = 0;
    if (p)
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &ut, &st);
    return ut + st;
}

static inline long bws_proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    long kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6))
            kb = atol(line + 6);
    if (f)
        fclose(f);
    return kb;
}

static inline int bws_cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline int bws_setup_accounts(const char *dir, int n, char (*dev_tok)[FM_TOKEN_MAX],
                                     char *sess)
{
    char err[256], hash[FM_PWHASH_MAX];
    fm_store *s;
    if (fm_auth_init() != FM_SVC_OK || fm_store_open(dir, &s, err, sizeof err) != FM_SVC_OK ||
        fm_auth_hash_password("bench-password", hash) != FM_SVC_OK) {
        fprintf(stderr, "bench: store: %s\n", err);
        return -1;
    }
    fm_user c = {.role = FM_ROLE_CLINICIAN, .created_ms = fm_now_ms()};
    snprintf(c.name, sizeof c.name, "drload");
    snprintf(c.display_name, sizeof c.display_name, "Dr Load");
    int64_t cid, pid;
    if (fm_store_user_add(s, &c, hash, &cid) != FM_SVC_OK)
        return -1;
    uint8_t h[32];
    fm_token_row t = {.user_id = cid, .kind = FM_TOKEN_SESSION, .created_ms = fm_now_ms()};
    t.expires_ms = t.created_ms + 86400000LL;
    fm_auth_token_new(FM_TOKEN_SESSION, sess, h);
    fm_store_token_add(s, h, &t);
    for (int i = 0; i < n; i++) {
        fm_user u = {.role = FM_ROLE_PATIENT, .created_ms = fm_now_ms()};
        snprintf(u.name, sizeof u.name, "p%d", i);
        snprintf(u.display_name, sizeof u.display_name, "Patient %d", i);
        if (fm_store_user_add(s, &u, hash, &pid) != FM_SVC_OK)
            return -1;
        fm_patient p = {.user_id = pid};
        fm_store_patient_put(s, &p);
        fm_store_care_link(s, pid, cid);
        fm_token_row d = {.user_id = pid, .kind = FM_TOKEN_DEVICE, .patient_id = pid};
        d.created_ms = fm_now_ms();
        d.expires_ms = d.created_ms + 86400000LL;
        fm_auth_token_new(FM_TOKEN_DEVICE, dev_tok[i], h);
        fm_store_token_add(s, h, &d);
    }
    fm_store_close(s);
    return 0;
}

/* Starts `BIN serve` on a fresh port of 127.0.0.1 with DIR and the given --set KEY=VALUE
 * settings; the server's stderr goes to $FM_BENCH_SERVER_LOG (else dropped). Returns its pid and
 * the port, or -1. */
static inline pid_t bws_start_server(const char *bin, const char *dir, const char *const *sets,
                                     int n_sets, int *port)
{
    int pfd[2];
    if (n_sets > 20 || pipe(pfd))
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        dup2(pfd[1], 1);
        const char *log = getenv("FM_BENCH_SERVER_LOG");
        int nul = open(log ? log : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0600);
        dup2(nul, 2);
        close(pfd[0]);
        const char *argv[48] = {bin, "serve", "--data", dir, "--listen", "127.0.0.1:0"};
        int n = 6;
        for (int i = 0; i < n_sets; i++) {
            argv[n++] = "--set";
            argv[n++] = sets[i];
        }
        argv[n] = NULL;
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    close(pfd[1]);
    FILE *f = fdopen(pfd[0], "r");
    char line[256] = "";
    if (!f || !fgets(line, sizeof line, f))
        return -1;
    fclose(f);
    char *colon = strrchr(line, ':');
    *port = colon ? atoi(colon + 1) : 0;
    return *port > 0 ? pid : -1;
}

/* The end of a run: the server (pid, when > 0) gets SIGTERM and is waited for, then its data
 * directory dir is removed. */
static inline void bws_stop_server(pid_t pid, const char *dir)
{
    if (pid > 0) {
        kill(pid, SIGTERM);
        waitpid(pid, NULL, 0);
    }
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "bench: could not remove %s\n", dir);
}

#endif
