/* The demo accounts and the simulated home device of `fetalmon serve --demo` (see demo.h).
 * The device is a plain blocking WebSocket client (RFC 6455, masked frames) speaking the
 * fm-ingest protocol of docs/api.md: it opens a stream, sends 0.25 s frames of 8 kHz audio in
 * real time, keeps the unacknowledged ones and resumes the same stream after a dropped
 * connection. The FHR it plays is a normal trace (baseline ~140 bpm, variability, an
 * acceleration every few minutes), rendered by fm_synth in 20-minute pieces, forever. */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "demo.h"
#include "files.h"
#include "store.h"
#include "synth.h"

#define DEMO_RATE_HZ 8000
#define DEMO_FRAME 2000     /* samples: 0.25 s */
#define DEMO_KEEP 64        /* unacknowledged frames kept for a resume */
#define DEMO_PIECE_N4 4800  /* 20 min of 4 Hz FHR per synth piece */
#define DEMO_DUE_DAYS 28    /* the demo patient is 36 weeks pregnant */
#define DEMO_CLOSE_WAIT_MS 10000 /* at shutdown, for the server's "closed" */

struct fm_demo {
    pthread_t th;
    volatile int stop;
    volatile int done; /* the device thread ended (its stream closed, or it gave up) */
    int port;
    char token[FM_TOKEN_MAX];
    int fd;
};

/* ---- accounts ---- */

static int ensure_user(fm_store *s, const char *name, const char *display, fm_role role,
                       const char *pw, int64_t *id)
{
    char hash[FM_PWHASH_MAX];
    if (fm_auth_hash_password(pw, hash) != FM_SVC_OK)
        return -1;
    fm_user u;
    if (fm_store_user_by_name(s, name, &u, NULL, 0) == FM_SVC_OK) {
        *id = u.id;
        fm_store_user_set_disabled(s, u.id, 0);
        return fm_store_user_set_password(s, u.id, hash) == FM_SVC_OK ? 0 : -1;
    }
    memset(&u, 0, sizeof u);
    snprintf(u.name, sizeof u.name, "%s", name);
    snprintf(u.display_name, sizeof u.display_name, "%s", display);
    u.role = role;
    u.created_ms = fm_now_ms();
    return fm_store_user_add(s, &u, hash, id) == FM_SVC_OK ? 0 : -1;
}

int fm_demo_prepare(const char *data_dir, char *token, size_t token_cap, char *err,
                    size_t err_len)
{
    fm_store *s = NULL;
    if (fm_auth_init() != FM_SVC_OK || fm_datadir_prepare(data_dir, err, err_len) != FM_SVC_OK ||
        fm_store_open(data_dir, &s, err, err_len) != FM_SVC_OK)
        return -1;
    int64_t cid = 0, pid = 0;
    int bad = ensure_user(s, FM_DEMO_CLINICIAN, "Dr Demo", FM_ROLE_CLINICIAN,
                          FM_DEMO_CLINICIAN_PW, &cid) ||
              ensure_user(s, FM_DEMO_PATIENT, "Demo Patient", FM_ROLE_PATIENT,
                          FM_DEMO_PATIENT_PW, &pid);
    if (!bad) {
        fm_patient p;
        if (fm_store_patient_get(s, pid, &p) != FM_SVC_OK) {
            memset(&p, 0, sizeof p);
            p.user_id = pid;
            time_t due = time(NULL) + (time_t)DEMO_DUE_DAYS * 86400;
            struct tm tm;
            gmtime_r(&due, &tm);
            strftime(p.due_date, sizeof p.due_date, "%Y-%m-%d", &tm);
            snprintf(p.hospital_id, sizeof p.hospital_id, "DEMO-0001");
            snprintf(p.risk_notes, sizeof p.risk_notes, "demo account: simulated home device");
            bad = fm_store_patient_put(s, &p) != FM_SVC_OK;
        }
        if (!bad && fm_store_care_check(s, pid, cid) != FM_SVC_OK)
            bad = fm_store_care_link(s, pid, cid) != FM_SVC_OK;
    }
    char tok[FM_TOKEN_MAX];
    uint8_t hash[32];
    fm_token_row t = {.user_id = pid, .kind = FM_TOKEN_DEVICE, .patient_id = pid};
    t.created_ms = fm_now_ms();
    t.expires_ms = t.created_ms + 7LL * 24 * 3600 * 1000;
    if (!bad)
        bad = fm_auth_token_new(FM_TOKEN_DEVICE, tok, hash) != FM_SVC_OK ||
              fm_store_token_add(s, hash, &t) != FM_SVC_OK;
    if (bad)
        snprintf(err, err_len, "the demo accounts could not be written: %s", fm_store_errmsg(s));
    else
        snprintf(token, token_cap, "%s", tok);
    fm_store_close(s);
    return bad ? -1 : 0;
}

/* ---- a minimal WebSocket client ---- */

static int send_all(int fd, const void *b, size_t n)
{
    const char *p = b;
    while (n) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int ws_send(int fd, int opcode, const void *data, size_t n)
{
    unsigned char h[14];
    size_t hl = 2;
    h[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        h[1] = (unsigned char)(0x80 | n);
    } else if (n < 65536) {
        h[1] = 0x80 | 126;
        h[2] = (unsigned char)(n >> 8), h[3] = (unsigned char)n;
        hl = 4;
    } else {
        return -1;
    }
    unsigned char mask[4];
    uint32_t r = (uint32_t)rand();
    memcpy(mask, &r, 4);
    memcpy(h + hl, mask, 4);
    hl += 4;
    unsigned char *buf = malloc(hl + n);
    if (!buf)
        return -1;
    memcpy(buf, h, hl);
    const unsigned char *d = data;
    for (size_t i = 0; i < n; i++)
        buf[hl + i] = d[i] ^ mask[i & 3];
    int rc = send_all(fd, buf, hl + n);
    free(buf);
    return rc;
}

static int recv_all(int fd, void *b, size_t n)
{
    char *p = b;
    while (n) {
        ssize_t k = recv(fd, p, n, 0);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

/* One server message (text) into buf; -1 on error or close. */
static int ws_recv(int fd, char *buf, size_t cap)
{
    unsigned char h[2];
    if (recv_all(fd, h, 2))
        return -1;
    uint64_t n = h[1] & 0x7f;
    if (n == 126) {
        unsigned char e[2];
        if (recv_all(fd, e, 2))
            return -1;
        n = (uint64_t)e[0] << 8 | e[1];
    } else if (n == 127) {
        return -1; /* never sent by the ingest endpoint */
    }
    if (n >= cap || (h[0] & 0x0f) == 8)
        return -1;
    if (recv_all(fd, buf, n))
        return -1;
    buf[n] = 0;
    return 0;
}

static int ws_open(int port)
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
    char req[512];
    int n = snprintf(req, sizeof req,
                     "GET /ws/ingest HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: ZmV0YWxtb24tZGVtby0xMg==\r\n"
                     "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: fm-ingest\r\n\r\n",
                     port);
    char resp[1024];
    size_t got = 0;
    if (send_all(fd, req, (size_t)n) != 0)
        goto fail;
    while (got < sizeof resp - 1) { /* byte by byte up to the blank line: no over-read */
        if (recv(fd, resp + got, 1, 0) != 1)
            goto fail;
        got++;
        resp[got] = 0;
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

/* ---- the device ---- */

static const char *json_str(const char *msg, const char *key, char *out, size_t cap)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":\"", key);
    const char *p = strstr(msg, pat);
    if (!p)
        return NULL;
    p += strlen(pat);
    size_t n = strcspn(p, "\"");
    if (n >= cap)
        return NULL;
    memcpy(out, p, n);
    out[n] = 0;
    return out;
}

static long json_num(const char *msg, const char *key)
{
    char pat[32];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(msg, pat);
    return p ? strtol(p + strlen(pat), NULL, 10) : -1;
}

/* A normal antenatal trace piece (CLINICAL 4.1 normal: baseline 110..160, variability 5..25,
 * accelerations). */
static void demo_fhr(float *fhr, size_t n, unsigned piece)
{
    uint32_t r = 12345u + piece * 7919u;
    double walk = 0;
    for (size_t k = 0; k < n; k++) {
        r = r * 1103515245u + 12345u;
        walk = 0.995 * walk + ((double)(r >> 8 & 0xffff) / 65535.0 - 0.5) * 1.2;
        double t = (double)k / 4.0;
        double acc = 0, tc = fmod(t + 60.0 * piece, 270.0); /* an acceleration every 4.5 min */
        if (tc > 200 && tc < 230)
            acc = 20.0 * sin(M_PI * (tc - 200) / 30.0);
        fhr[k] = (float)(138.0 + walk + 4.0 * sin(2 * M_PI * t / 37.0) + acc);
    }
}

static int open_stream(fm_demo *d, const char *resume, char *id, uint32_t *next_seq)
{
    d->fd = ws_open(d->port);
    if (d->fd < 0)
        return -1;
    char msg[512], in[4096];
    snprintf(msg, sizeof msg,
             "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":%d%s%s%s}",
             d->token, DEMO_RATE_HZ, resume ? ",\"stream\":\"" : "", resume ? resume : "",
             resume ? "\"" : "");
    if (ws_send(d->fd, 1, msg, strlen(msg)) != 0 || ws_recv(d->fd, in, sizeof in) != 0 ||
        !strstr(in, "\"opened\"") || !json_str(in, "stream", id, 24)) {
        close(d->fd);
        d->fd = -1;
        return -1;
    }
    *next_seq = (uint32_t)json_num(in, "next_seq");
    return 0;
}

static void *device_main(void *arg)
{
    fm_demo *d = arg;
    static int16_t keep[DEMO_KEEP][DEMO_FRAME]; /* frames not yet acknowledged, by seq % KEEP */
    unsigned char frame[4 + 2 * DEMO_FRAME];
    float f[DEMO_FRAME];
    float *fhr = malloc(DEMO_PIECE_N4 * sizeof *fhr);
    char id[24] = "", in[4096];
    uint32_t seq = 0, acked = 0; /* next frame to send; first frame not acknowledged */
    unsigned piece = 0;
    fm_synth *syn = NULL;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    while (!d->stop && fhr) {
        if (d->fd < 0) { /* (re)connect: resume our stream, or a new one */
            uint32_t from = 0;
            if (open_stream(d, id[0] ? id : NULL, id, &from) != 0) {
                if (id[0] && d->fd < 0 && open_stream(d, NULL, id, &from) == 0)
                    seq = acked = 0; /* the old stream is gone: a new one */
                else {
                    sleep(1);
                    continue;
                }
            }
            if (from < acked || seq - from > DEMO_KEEP) { /* cannot resend: start over */
                close(d->fd);
                d->fd = -1;
                id[0] = 0;
                continue;
            }
            for (acked = from; from < seq; from++) { /* resend what was not durable */
                memcpy(frame + 4, keep[from % DEMO_KEEP], 2 * DEMO_FRAME);
                for (int b = 0; b < 4; b++)
                    frame[b] = (unsigned char)(from >> (8 * b));
                ws_send(d->fd, 2, frame, sizeof frame);
            }
        }
        if (!syn) {
            demo_fhr(fhr, DEMO_PIECE_N4, piece);
            fm_synth_config c;
            fm_synth_config_default(&c);
            c.rate_hz = DEMO_RATE_HZ;
            c.seed = 1000 + piece++;
            syn = fm_synth_create(&c, fhr, DEMO_PIECE_N4, NULL, NULL);
            if (!syn)
                break;
        }
        size_t n = fm_synth_render(syn, f, DEMO_FRAME);
        if (n < DEMO_FRAME) {
            fm_synth_destroy(syn);
            syn = NULL;
            if (!n)
                continue;
        }
        if (seq - acked >= DEMO_KEEP) { /* the server is not acknowledging: reconnect */
            close(d->fd);
            d->fd = -1;
            continue;
        }
        int16_t *k = keep[seq % DEMO_KEEP];
        for (size_t i = 0; i < DEMO_FRAME; i++)
            k[i] = i < n ? (int16_t)lrintf(f[i] * 32767.0f) : 0;
        for (int b = 0; b < 4; b++)
            frame[b] = (unsigned char)(seq >> (8 * b));
        for (size_t i = 0; i < DEMO_FRAME; i++) {
            frame[4 + 2 * i] = (unsigned char)(k[i] & 0xff);
            frame[5 + 2 * i] = (unsigned char)((uint16_t)k[i] >> 8);
        }
        if (ws_send(d->fd, 2, frame, sizeof frame) != 0) {
            close(d->fd);
            d->fd = -1;
            continue;
        }
        seq++;
        /* real time: the next frame 0.25 s later; acks read meanwhile */
        next.tv_nsec += 250000000L;
        if (next.tv_nsec >= 1000000000L)
            next.tv_sec++, next.tv_nsec -= 1000000000L;
        for (;;) {
            struct timespec now;
            clock_gettime(CLOCK_MONOTONIC, &now);
            long ms = (long)(next.tv_sec - now.tv_sec) * 1000 +
                      (next.tv_nsec - now.tv_nsec) / 1000000L;
            if (ms <= 0 || d->stop || d->fd < 0)
                break;
            struct pollfd pf = {d->fd, POLLIN, 0};
            if (poll(&pf, 1, (int)ms) > 0) {
                if (ws_recv(d->fd, in, sizeof in) != 0) {
                    close(d->fd);
                    d->fd = -1;
                } else if (strstr(in, "\"ack\"")) {
                    long s = json_num(in, "seq");
                    if (s >= 0 && (uint32_t)s + 1 > acked)
                        acked = (uint32_t)s + 1;
                }
            }
        }
    }
    if (d->fd >= 0) { /* end of the demo: the stream closes and is analysed */
        ws_send(d->fd, 1, "{\"type\":\"close\"}", 16);
        /* The server answers "closed" once the frames are a WAV file (acks may come first);
         * its loop keeps serving until we are done (fm_demo_stopping). */
        struct timespec t0, now;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (;;) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            long left = DEMO_CLOSE_WAIT_MS - ((long)(now.tv_sec - t0.tv_sec) * 1000 +
                                              (now.tv_nsec - t0.tv_nsec) / 1000000L);
            struct pollfd pf = {d->fd, POLLIN, 0};
            if (left <= 0 || poll(&pf, 1, (int)left) <= 0 || ws_recv(d->fd, in, sizeof in) != 0 ||
                strstr(in, "\"closed\""))
                break;
        }
        close(d->fd);
        d->fd = -1;
    }
    fm_synth_destroy(syn);
    free(fhr);
    d->done = 1;
    return NULL;
}

fm_demo *fm_demo_start(int port, const char *token)
{
    fm_demo *d = calloc(1, sizeof *d);
    if (!d)
        return NULL;
    d->port = port;
    d->fd = -1;
    snprintf(d->token, sizeof d->token, "%s", token);
    if (pthread_create(&d->th, NULL, device_main, d) != 0) {
        free(d);
        return NULL;
    }
    return d;
}

void fm_demo_stopping(fm_demo *d)
{
    if (d)
        d->stop = 1;
}

int fm_demo_done(void *d)
{
    return !d || ((fm_demo *)d)->done;
}

void fm_demo_stop(fm_demo *d)
{
    if (!d)
        return;
    d->stop = 1;
    pthread_join(d->th, NULL);
    free(d);
}
