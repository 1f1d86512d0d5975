/* bench_server_load: N simulated home devices stream 8 kHz Doppler audio (fm_synth) in real time
 * over real WebSockets into a real `fetalmon serve` on 127.0.0.1, while M clinicians watch on the
 * live feed. Prints, per N: ingest-to-viewer latency (a frame sent -> the trace samples it
 * completed arrive at a viewer) p50/p99/max, frames sent/acknowledged, the server's CPU (% of one
 * core) and RSS.
 *
 *   bench_server_load [--streams 100,500,1000,2000] [--viewers 200] [--seconds 20]
 *                     [--bin build/fetalmon] [--set KEY=VALUE (a server setting; repeatable)]
 *                     [--report S (a progress line every S seconds: soak runs, bench/soak.sh)]
 *                     [--session MIN,MAX (minutes) [--pause MIN,MAX (seconds)]]
 *                     [--speed X (audio sent X times faster than real time)]
 *
 * --speed: hours of stream in minutes, to see what a long stream costs (memory of the live
 * analysis) within a short run; the latency figures then mean little.
 * --session: devices record like real home sessions: each recording lasts MIN..MAX minutes
 * (uniform; the first one 1..MAX so that closes are spread from the start), then the device
 * sends "close", waits for "closed", hangs up, pauses PAUSE (default 30..120 s) and opens a new
 * recording on a new connection. Without it every stream stays open for the whole run.
 *
 * Viewers check the trace they get: per stream the samples must be contiguous (k0 = the next
 * expected k); samples skipped count as lost, repeated ones as duplicates, and "resync"
 * messages (a viewer fell behind) are counted.
 *
 * Accounts are written straight into a fresh data directory through the store (one Argon2id
 * hash reused: creating 2000 users through the CLI would take minutes). One client thread drives
 * every socket with epoll. Not a test: nothing is asserted. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth.h"
#include "bench_ws.h"
#include "store.h"
#include "synth.h"

#define RATE 8000
#define FRAME 2000 /* 0.25 s */
#define RING 64
#define INBUF 65536

typedef struct conn {
    int fd, is_dev, idx;
    unsigned char in[INBUF];
    size_t in_len;
    /* device */
    char stream[24];
    uint32_t seq;
    double next_send;
    double sent_t[RING];
    long acked;
    long next_k; /* the next trace sample expected at the viewer (-1: none yet) */
    /* device output not yet taken by the socket (never blocks the loop: a device whose
     * connection is full keeps its frames, as a real one would, and the others go on) */
    unsigned char out[2 * (16 + 4 + 2 * FRAME)];
    size_t out_len, out_off;
    /* --session: 0 recording, 1 close sent, 2 paused (no connection) */
    int phase;
    double session_end, close_sent, reopen_at;
    uint64_t rng;
} conn;

/* conn's receive buffer through bench_ws.h */
static int next_msg(conn *c, char *out, size_t cap)
{
    return bws_next_msg(c->fd, c->in, &c->in_len, out, cap);
}

static int wait_msg(conn *c, const char *needle, char *out, size_t cap)
{
    return bws_wait_msg(c->fd, c->in, &c->in_len, INBUF, needle, out, cap);
}

#define MAX_SETS 8
static const char *g_set[MAX_SETS]; /* --set KEY=VALUE for the server */
static int g_n_set;
static double g_report;   /* seconds between progress lines, 0 = none */
static double g_sess_min, g_sess_max;           /* --session, minutes (0: always open) */
static double g_pause_min = 30, g_pause_max = 120; /* --pause, seconds */
static double g_speed = 1;                         /* --speed */

/* Uniform in [a, b), per device (splitmix64: deterministic runs). */
static double unif(conn *x, double a, double b)
{
    uint64_t z = (x->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return a + (b - a) * (double)(z >> 11) * 0x1.0p-53;
}

/* One gauge of the server's /metrics (plain HTTP on the loopback), in bytes; -1 if absent. */
static double server_metric(int port, const char *name)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 2};
    static char resp[16384];
    size_t got = 0;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const char req[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
    if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        bws_send_all(fd, req, sizeof req - 1) == 0) {
        ssize_t r;
        while (got < sizeof resp - 1 && (r = recv(fd, resp + got, sizeof resp - 1 - got, 0)) > 0)
            got += (size_t)r;
    }
    close(fd);
    resp[got] = 0;
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *p = strstr(resp, key);
    return p ? atof(p + strlen(key)) : -1;
}

static double load_avg(void)
{
    FILE *f = fopen("/proc/loadavg", "r");
    double l = NAN;
    if (f && fscanf(f, "%lf", &l) != 1)
        l = NAN;
    if (f)
        fclose(f);
    return l;
}

/* Appends one client WebSocket message (zero mask) to x's output; -1 when it has no room. */
static int queue_ws(conn *x, int opcode, const void *data, size_t n)
{
    size_t hl = n < 126 ? 6 : 8;
    if (x->out_off == x->out_len)
        x->out_off = x->out_len = 0;
    if (x->out_len + hl + n > sizeof x->out)
        return -1;
    unsigned char *b = x->out + x->out_len;
    b[0] = (unsigned char)(0x80 | opcode);
    if (n < 126) {
        b[1] = (unsigned char)(0x80 | n);
    } else {
        b[1] = 0x80 | 126;
        b[2] = (unsigned char)(n >> 8), b[3] = (unsigned char)n;
    }
    memset(b + hl - 4, 0, 4);
    memcpy(b + hl, data, n);
    x->out_len += hl + n;
    return 0;
}

/* Sends what the socket takes now; 1 when x's output is empty. */
static int flush_out(conn *x)
{
    while (x->fd >= 0 && x->out_off < x->out_len) {
        ssize_t k = send(x->fd, x->out + x->out_off, x->out_len - x->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);
        if (k <= 0)
            break;
        x->out_off += (size_t)k;
    }
    return x->out_off >= x->out_len;
}

/* A new recording for device x on a new connection (blocking: a few ms). */
static int open_stream(conn *x, int port, const char *tok)
{
    char msg[512];
    x->in_len = 0;
    if ((x->fd = bws_connect(port, "/ws/ingest", "fm-ingest")) < 0)
        return -1;
    snprintf(msg, sizeof msg,
             "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":%d}", tok,
             RATE);
    bws_send(x->fd, 1, msg, strlen(msg));
    if (wait_msg(x, "opened", msg, sizeof msg))
        return -1;
    char *s = strstr(msg, "\"stream\":\"");
    if (s)
        snprintf(x->stream, sizeof x->stream, "%.16s", s + 10);
    x->seq = 0;
    x->acked = -1;
    x->next_k = 0;
    x->phase = 0;
    x->out_len = x->out_off = 0;
    return 0;
}

/* The devices sorted by stream id (for the viewers' lookups), after one changed its id. */
static void resort(const conn *c, int *order, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && strcmp(c[order[j - 1]].stream, c[order[j]].stream) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
}

static int run(const char *bin, int n_dev, int n_view, double seconds, const int16_t *pcm,
               size_t n_pcm)
{
    char dir[] = "/tmp/fm-bench-load-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char (*tok)[FM_TOKEN_MAX] = calloc((size_t)n_dev, sizeof *tok);
    char sess[FM_TOKEN_MAX];
    conn *c = calloc((size_t)(n_dev + n_view), sizeof *c);
    const size_t lat_cap = (size_t)(n_dev * seconds * g_speed * 4 * 2 + 16);
    double *lat = malloc(sizeof(double) * lat_cap);
    size_t n_lat = 0;
    int port = 0, rc = -1;
    pid_t pid = -1;
    if (!tok || !c || !lat || bws_setup_accounts(dir, n_dev, tok, sess) != 0)
        goto out;
    if ((pid = bws_start_server(bin, dir, g_set, g_n_set, &port)) < 0)
        goto out;
    usleep(200000);
    char msg[20000];
    int ep = epoll_create1(0);
    /* viewers: each watches patients v, v+M, v+2M ... (at most 64) */
    for (int v = 0; v < n_view; v++) {
        conn *x = &c[n_dev + v];
        x->idx = v;
        if ((x->fd = bws_connect(port, "/ws/live", "fm-live")) < 0)
            goto out;
        snprintf(msg, sizeof msg, "{\"type\":\"auth\",\"token\":\"%s\"}", sess);
        bws_send(x->fd, 1, msg, strlen(msg));
        if (wait_msg(x, "hello", msg, sizeof msg))
            goto out;
        for (int p = v, k = 0; p < n_dev && k < 64; p += n_view, k++) {
            snprintf(msg, sizeof msg, "{\"type\":\"subscribe\",\"patient\":\"p%d\"}", p);
            bws_send(x->fd, 1, msg, strlen(msg));
            if (wait_msg(x, "subscribed", msg, sizeof msg))
                goto out;
        }
    }
    double t0 = bws_now_s();
    for (int d = 0; d < n_dev; d++) {
        conn *x = &c[d];
        x->is_dev = 1;
        x->idx = d;
        x->rng = 0x5eed0000u + (uint64_t)d;
        if (open_stream(x, port, tok[d]))
            goto out;
    }
    t0 = bws_now_s(); /* after the setup: no burst of frames "due" while the streams opened */
    for (int d = 0; d < n_dev; d++) {
        c[d].next_send = t0 + (0.25 + 0.25 * d / n_dev) / g_speed; /* staggered */
        c[d].session_end = g_sess_max > 0 ? t0 + 60.0 * unif(&c[d], 1.0, g_sess_max) : INFINITY;
    }
    long recordings = n_dev, closes = 0, close_unacked = 0, close_timeouts = 0;
    for (int i = 0; i < n_dev + n_view; i++) {
        fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    /* stream id -> device: ids are random hex; a linear map is fine at setup, a sorted index
     * for the loop */
    int *order = malloc(sizeof(int) * (size_t)n_dev);
    for (int i = 0; i < n_dev; i++)
        order[i] = i;
    resort(c, order, n_dev); /* insertion sort by stream id */
    long cpu0 = 0;
    double t_meas = bws_now_s() + 2, t_end = bws_now_s() + 2 + seconds;
    long acked_total = 0; /* frames acknowledged, every recording */
    long sent = 0, acks_max_gap = 0, errors = 0, lost_k = 0, dup_k = 0, resyncs = 0, dropped = 0;
    double t_report = bws_now_s() + g_report;
    for (int d = 0; d < n_dev; d++)
        c[d].next_k = 0; /* viewers subscribed before the streams opened: from k = 0 */
    unsigned char frame[4 + 2 * FRAME];
    int measuring = 0;
    while (bws_now_s() < t_end + 1.5) {
        double now = bws_now_s();
        if (g_report > 0 && now >= t_report && now < t_end) {
            long unacked = 0, open_now = 0;
            for (int d = 0; d < n_dev; d++)
                if (c[d].phase < 2)
                    unacked += (long)c[d].seq - 1 - c[d].acked, open_now++;
            printf("# t %6.0f s  rss %7.1f MB  frames sent %9ld acked %9ld in flight %5ld  "
                   "samples lost %ld dup %ld  resyncs %ld  errors %ld  closed %ld  "
                   "open %ld recordings %ld  load %.2f  heap in use %.1f MB free %.1f MB\n",
                   now - (t_meas - 2), bws_proc_rss_kb(pid) / 1024.0, sent, acked_total, unacked,
                   lost_k, dup_k, resyncs, errors, dropped, open_now, recordings, load_avg(),
                   server_metric(port, "fetalmon_heap_in_use_bytes") / 1048576.0,
                   server_metric(port, "fetalmon_heap_free_bytes") / 1048576.0);
            fflush(stdout);
            t_report += g_report;
        }
        if (!measuring && now >= t_meas) {
            measuring = 1;
            cpu0 = bws_proc_cpu_ticks(pid);
            n_lat = 0;
        }
        for (int d = 0; d < n_dev && now < t_end; d++) {
            conn *x = &c[d];
            int empty = flush_out(x);
            if (x->phase == 0 && now >= x->session_end && empty) { /* the recording ends */
                const char *cl = "{\"type\":\"close\"}";
                queue_ws(x, 1, cl, strlen(cl));
                flush_out(x);
                x->phase = 1;
                x->close_sent = now;
            }
            if (x->phase == 1 && now - x->close_sent > 60) { /* no "closed": count, hang up */
                close_timeouts++;
                close_unacked += (long)x->seq - 1 - x->acked;
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                close(x->fd);
                x->fd = -1;
                x->phase = 2;
                x->reopen_at = now + unif(x, g_pause_min, g_pause_max);
            }
            if (x->phase == 2 && now >= x->reopen_at) { /* a new recording */
                if (open_stream(x, port, tok[d]) == 0) {
                    fcntl(x->fd, F_SETFL, fcntl(x->fd, F_GETFL) | O_NONBLOCK);
                    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = x};
                    epoll_ctl(ep, EPOLL_CTL_ADD, x->fd, &ev);
                    resort(c, order, n_dev);
                    recordings++;
                    x->next_send = now + 0.25 / g_speed;
                    x->session_end = now + 60.0 * unif(x, g_sess_min, g_sess_max);
                } else {
                    if (x->fd >= 0)
                        close(x->fd);
                    x->fd = -1;
                    if (errors++ < 5)
                        fprintf(stderr, "bench: device %d: reopen failed\n", d);
                    x->reopen_at = now + 5;
                }
            }
            /* frames due and room for them (a full connection: the device waits, keeps them) */
            while (x->phase == 0 && now >= x->next_send && x->fd >= 0) {
                size_t off = ((size_t)x->seq * FRAME) % (n_pcm - FRAME);
                for (int b = 0; b < 4; b++)
                    frame[b] = (unsigned char)(x->seq >> (8 * b));
                memcpy(frame + 4, pcm + off, 2 * FRAME);
                if (queue_ws(x, 2, frame, sizeof frame) != 0)
                    break;
                x->sent_t[x->seq % RING] = now;
                sent++;
                x->seq++;
                x->next_send += 0.25 / g_speed;
                if (!flush_out(x))
                    break;
            }
        }
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 5);
        for (int i = 0; i < n; i++) {
            conn *x = evs[i].data.ptr;
            ssize_t k = recv(x->fd, x->in + x->in_len, INBUF - x->in_len, 0);
            if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
                if (x->fd >= 0 && dropped++ < 5)
                    fprintf(stderr, "bench: t %.0f s: the server closed %s %d (%s)\n",
                            bws_now_s() - (t_meas - 2), x->is_dev ? "device" : "viewer", x->idx,
                            k == 0 ? "EOF" : strerror(errno));
                epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                continue;
            }
            if (k < 0)
                continue;
            x->in_len += (size_t)k;
            double t = bws_now_s();
            while (next_msg(x, msg, sizeof msg) == 1) {
                if (x->is_dev) {
                    char *a = strstr(msg, "\"ack\"");
                    char *q = strstr(msg, "\"seq\":");
                    if (a && q) {
                        long s = atol(q + 6);
                        acked_total += s - x->acked;
                        x->acked = s;
                    } else if (x->phase == 1 && strstr(msg, "\"closed\"")) {
                        closes++;
                        close_unacked += (long)x->seq - 1 - x->acked;
                        epoll_ctl(ep, EPOLL_CTL_DEL, x->fd, NULL);
                        close(x->fd);
                        x->fd = -1;
                        x->in_len = 0;
                        x->phase = 2;
                        x->reopen_at = t + unif(x, g_pause_min, g_pause_max);
                        break;
                    } else if (strstr(msg, "\"error\"") && errors++ < 5)
                        fprintf(stderr, "bench: device %d: %s\n", x->idx, msg);
                    continue;
                }
                if (!strncmp(msg, "{\"type\":\"resync\"", 16))
                    resyncs++;
                if (strncmp(msg, "{\"type\":\"samples\"", 17))
                    continue;
                char *r = strstr(msg, "\"recording\":\"");
                char *q = strstr(msg, "\"seq\":");
                if (!r || !q)
                    continue;
                char id[17];
                memcpy(id, r + 13, 16);
                id[16] = 0;
                long seq = atol(q + 6);
                int lo = 0, hi = n_dev - 1, dev = -1;
                while (lo <= hi) {
                    int mid = (lo + hi) / 2, cm = strcmp(c[order[mid]].stream, id);
                    if (!cm) {
                        dev = order[mid];
                        break;
                    }
                    if (cm < 0)
                        lo = mid + 1;
                    else
                        hi = mid - 1;
                }
                char *k0p = strstr(msg, "\"k0\":"), *fhr = strstr(msg, "\"fhr\":[");
                if (dev >= 0 && k0p && fhr) { /* contiguity of the trace at the viewer */
                    long k0 = atol(k0p + 5), n_k = fhr[7] != ']';
                    for (const char *f = fhr + 7; *f && *f != ']'; f++)
                        n_k += *f == ',';
                    if (c[dev].next_k >= 0 && k0 > c[dev].next_k)
                        lost_k += k0 - c[dev].next_k;
                    else if (c[dev].next_k >= 0 && k0 < c[dev].next_k)
                        dup_k += c[dev].next_k - k0;
                    c[dev].next_k = k0 + n_k;
                }
                if (!measuring)
                    continue;
                if (dev >= 0 && seq >= 0 && (uint32_t)seq + RING > c[dev].seq && n_lat < lat_cap)
                    lat[n_lat++] = t - c[dev].sent_t[seq % RING];
            }
        }
    }
    long cpu1 = bws_proc_cpu_ticks(pid), rss = bws_proc_rss_kb(pid);
    long never_acked = 0;
    for (int d = 0; d < n_dev; d++) {
        long gap = c[d].phase < 2 ? (long)c[d].seq - 1 - c[d].acked : 0;
        never_acked += gap;
        if (gap > acks_max_gap)
            acks_max_gap = gap;
    }
    qsort(lat, n_lat, sizeof *lat, bws_cmp_d);
    double hz = (double)sysconf(_SC_CLK_TCK);
    printf("%6d %6d %8.1f %8.1f %8.1f %9ld %8ld %7ld %7.0f %%  %7.1f MB  %zu\n", n_dev, n_view,
           n_lat ? lat[n_lat / 2] * 1e3 : NAN, n_lat ? lat[n_lat * 99 / 100] * 1e3 : NAN,
           n_lat ? lat[n_lat - 1] * 1e3 : NAN, sent, acks_max_gap, errors,
           100.0 * (double)(cpu1 - cpu0) / hz / seconds, rss / 1024.0, n_lat);
    printf("# frames never acknowledged %ld; trace samples lost at viewers %ld, duplicated %ld; "
           "resyncs %ld; connections closed by the server %ld\n",
           never_acked, lost_k, dup_k, resyncs, dropped);
    if (g_sess_max > 0)
        printf("# recordings %ld, closed %ld (frames not acknowledged at close %ld, no \"closed\" "
               "within 60 s %ld)\n",
               recordings, closes, close_unacked, close_timeouts);
    fflush(stdout);
    free(order);
    close(ep);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench: N=%d: setup failed (%s)\n", n_dev, strerror(errno));
    for (int i = 0; c && i < n_dev + n_view; i++)
        if (c[i].fd > 0)
            close(c[i].fd);
    bws_stop_server(pid, dir);
    free(tok);
    free(c);
    free(lat);
    return rc;
}

int main(int argc, char **argv)
{
    const char *streams = "100,500,1000,2000", *bin = "./fetalmon";
    int n_view = 200;
    double seconds = 20;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--streams"))
            streams = argv[i + 1];
        else if (!strcmp(argv[i], "--viewers"))
            n_view = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--seconds"))
            seconds = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--bin"))
            bin = argv[i + 1];
        else if (!strcmp(argv[i], "--set") && g_n_set < MAX_SETS)
            g_set[g_n_set++] = argv[i + 1];
        else if (!strcmp(argv[i], "--report"))
            g_report = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--session"))
            sscanf(argv[i + 1], "%lf,%lf", &g_sess_min, &g_sess_max);
        else if (!strcmp(argv[i], "--speed"))
            g_speed = atof(argv[i + 1]) > 0 ? atof(argv[i + 1]) : 1;
        else if (!strcmp(argv[i], "--pause"))
            sscanf(argv[i + 1], "%lf,%lf", &g_pause_min, &g_pause_max);
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl); /* inherited by the server */
    signal(SIGPIPE, SIG_IGN);
    /* 60 s of a normal trace, looped by every device */
    enum { N4 = 240 };
    float fhr[N4];
    for (int k = 0; k < N4; k++)
        fhr[k] = (float)(140 + 6 * sin(2 * M_PI * k / 4.0 / 41.0));
    fm_synth_config sc;
    fm_synth_config_default(&sc);
    sc.rate_hz = RATE;
    fm_synth *q = fm_synth_create(&sc, fhr, N4, NULL, NULL);
    size_t n_pcm = q ? fm_synth_length(q) : 0;
    float *f = malloc(n_pcm * sizeof *f);
    int16_t *pcm = malloc(n_pcm * sizeof *pcm);
    if (!q || !f || !pcm)
        return 1;
    n_pcm = fm_synth_render(q, f, n_pcm);
    for (size_t i = 0; i < n_pcm; i++)
        pcm[i] = (int16_t)lrintf(f[i] * 32767.0f);
    fm_synth_destroy(q);
    free(f);
    printf("# %g s measured per row after 2 s warm-up; latency = frame sent -> its samples at a "
           "viewer\n",
           seconds);
    printf("%6s %6s %8s %8s %8s %9s %8s %7s %9s  %10s  %s\n", "N", "M", "p50_ms", "p99_ms",
           "max_ms", "frames", "unacked", "errors", "cpu", "rss", "n_lat");
    char *list = strdup(streams);
    for (char *tokp = strtok(list, ","); tokp; tokp = strtok(NULL, ","))
        run(bin, atoi(tokp), atoi(tokp) < n_view ? atoi(tokp) : n_view, seconds, pcm, n_pcm);
    free(list);
    free(pcm);
    return 0;
}
