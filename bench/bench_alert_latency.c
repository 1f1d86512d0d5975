/* bench_alert_latency: end-to-end alert latency at N concurrent live streams (issue 6). N
 * simulated home devices stream 8 kHz Doppler audio (fm_synth) in real time over /ws/ingest into
 * a real `fetalmon serve` (a child process) on 127.0.0.1, while M clinicians watch on /ws/live.
 * Three kinds of device:
 *   - condition (K of them): a normal trace, then a 10-s descent to a 70 bpm plateau: the
 *     physiological HIGH rule "FHR below 80 bpm for > 3 min" (CLINICAL 4.1, 5; rule 0 in
 *     docs/alerts.md) completes 180 s into the plateau. Staggered starts.
 *   - stall (S of them): stream normally, then stop sending: "stream stalled" (no frame for
 *     stream_stall_s, 30 s).
 *   - normal: the rest, a normal trace (background load; any alert they raise is counted).
 * Latency is measured to the first "alert.delivered" of the rule for that stream arriving at a
 * viewer socket, from:
 *   physiological, "at_s": the send time of the audio frame holding the sample the server says
 *     completed the condition (the alert's at_s, trace time: frame floor(4 at_s)), minus the
 *     false-signal look-ahead (FM_FALSESIG_LOOKAHEAD_S = 20 s: a sample reaches the rules 20 s
 *     after it arrives, by design, docs/alerts.md 1). What remains is the Doppler engine's own
 *     delay, the queues, the rule, the life cycle (store + audit, fsync) and the fan-out.
 *   physiological, "truth": the same from the frame of the generated truth's completing sample
 *     (the first sample whose trailing 2-s mean of the truth is < 80 bpm, + 180 s), minus 20 s:
 *     adds what the engine's trace and the rule's 2-s mean / gap bridging move the completion.
 *   stall: from the send time of the last frame + stream_stall_s (the rule's own window).
 * Prints p50/p95/p99/max per measure, how many alerts were missed, the server's CPU (% of one
 * core over the streaming period) and RSS at the end.
 *
 *   bench_alert_latency [--streams 1000] [--condition 50] [--stall 50] [--viewers 100]
 *                       [--bin build-release/fetalmon] [--set KEY=VALUE]...
 *
 * Accounts go straight into a fresh data directory through the store (one Argon2id hash
 * reused), as bench_server_load does. One client thread drives every socket with epoll. Not a
 * test: nothing is asserted. A run lasts about 5 minutes (the rule's window is 3 minutes). */
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
#include "fetalmon/falsesig.h"
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
    long acked;
    int role;       /* ROLE_* */
    int pre_frames; /* condition: normal frames before the condition audio starts */
    double stop_t;  /* stall: the last frame goes at this time */
    double last_sent;
    double *sent;   /* condition: send time of every frame */
    double *arrive; /* condition: when trace sample k first reached a viewer */
    double got_t;   /* when its alert reached a viewer (0 = not yet) */
    double at_s;    /* the alert's at_s (trace time of the completing sample) */
    size_t n_frames; /* of sent / arrive */
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

static const char *g_set[16]; /* --set KEY=VALUE for the server */
static int n_set;

enum { ROLE_NORMAL = 0, ROLE_CONDITION, ROLE_STALL };

#define PLATEAU_BPM 70.0
#define RULE_BPM 80.0     /* rule 0's threshold (fm_alerts default) */
#define RULE_WINDOW_S 180 /* rule 0's clinical window: > 3 min */
#define PRE_S 40          /* normal trace before the descent */
#define DESCENT_S 10
#define PLATEAU_S 250
#define STAGGER_S 20 /* condition starts spread over this */
#define STALL_AT_S 60
#define STALL_S 30 /* stream_stall_s, set on the server */

/* 4 Hz truth -> 16-bit PCM at RATE. */
static int16_t *render(const float *fhr, size_t n4, uint64_t seed, size_t *n_pcm)
{
    fm_synth_config sc;
    fm_synth_config_default(&sc);
    sc.rate_hz = RATE;
    sc.seed = seed;
    fm_synth *q = fm_synth_create(&sc, fhr, n4, NULL, NULL);
    size_t n = q ? fm_synth_length(q) : 0;
    float *f = malloc(n * sizeof *f + 1);
    int16_t *pcm = malloc(n * sizeof *pcm + 1);
    if (!q || !f || !pcm)
        return NULL;
    n = fm_synth_render(q, f, n);
    for (size_t i = 0; i < n; i++)
        pcm[i] = (int16_t)lrintf(fmaxf(-1.f, fminf(1.f, f[i])) * 32767.0f);
    fm_synth_destroy(q);
    free(f);
    *n_pcm = n;
    return pcm;
}

static double pct(const double *v, size_t n, double p)
{
    if (!n)
        return NAN;
    size_t i = (size_t)ceil(p * (double)n) - 1;
    return v[i < n ? i : n - 1];
}

static void print_row(const char *what, double *v, size_t n, size_t want)
{
    qsort(v, n, sizeof *v, bws_cmp_d);
    printf("%-34s %5zu/%-5zu %8.0f %8.0f %8.0f %8.0f\n", what, n, want, pct(v, n, 0.50) * 1e3,
           pct(v, n, 0.95) * 1e3, pct(v, n, 0.99) * 1e3, n ? v[n - 1] * 1e3 : NAN);
}

static int starts(const char *m, const char *lit)
{
    return !strncmp(m, lit, strlen(lit));
}

/* Other alerts seen, by rule. */
static struct {
    char rule[40];
    long n;
} others[32];

static void count_other(const char *m)
{
    const char *r = strstr(m, "\"rule\":\"");
    char rule[40] = "?";
    if (r)
        snprintf(rule, sizeof rule, "%.*s", (int)strcspn(r + 8, "\""), r + 8);
    for (int i = 0; i < 32; i++) {
        if (!others[i].rule[0])
            snprintf(others[i].rule, sizeof others[i].rule, "%s", rule);
        if (!strcmp(others[i].rule, rule)) {
            others[i].n++;
            return;
        }
    }
}

/* Value of "key": in a JSON text (numbers), NAN when absent or null. */
static double jnum(const char *m, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\":", key);
    const char *p = strstr(m, k);
    if (!p)
        return NAN;
    p += strlen(k);
    return !strncmp(p, "null", 4) ? NAN : atof(p);
}

#define SETUP_FRAMES_MAX 400 /* keep-alive frames while the streams open (100 s) */

/* One frame of normal audio now (setup); a condition stream's condition starts one later. */
static int keepalive(conn *x, const int16_t *pcm, size_t n_pcm)
{
    static unsigned char frame[4 + 2 * FRAME];
    size_t off = ((size_t)x->seq * FRAME) % (n_pcm - FRAME);
    for (int b = 0; b < 4; b++)
        frame[b] = (unsigned char)(x->seq >> (8 * b));
    memcpy(frame + 4, pcm + off, 2 * FRAME);
    double t = bws_now_s();
    if (x->sent)
        x->sent[x->seq] = t;
    if (x->role == ROLE_CONDITION)
        x->pre_frames++;
    x->last_sent = t;
    x->seq++;
    return bws_send(x->fd, 2, frame, sizeof frame);
}

static int run(const char *bin, int n_dev, int n_cond, int n_stall, int n_view,
               const int16_t *pcm_norm, size_t n_norm, const int16_t *pcm_cond, size_t n_cond_pcm,
               double t_truth_s)
{
    char dir[] = "/tmp/fm-bench-alert-XXXXXX";
    if (!mkdtemp(dir))
        return -1;
    char (*tok)[FM_TOKEN_MAX] = calloc((size_t)n_dev, sizeof *tok);
    char sess[FM_TOKEN_MAX];
    conn *c = calloc((size_t)(n_dev + n_view), sizeof *c);
    int port = 0, rc = -1, ep = -1;
    pid_t pid = -1;
    int *order = NULL;
    if (!tok || !c || bws_setup_accounts(dir, n_dev, tok, sess) != 0)
        goto out;
    if ((pid = bws_start_server(bin, dir, g_set, n_set, &port)) < 0)
        goto out;
    usleep(200000);
    static char msg[65536];
    ep = epoll_create1(0);
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
    /* roles spread over the device range (and so over the viewers) */
    int step = n_dev / (n_cond + n_stall > 0 ? n_cond + n_stall : 1);
    if (step < 1)
        step = 1;
    int ic = 0, is = 0;
    double last_keepalive = bws_now_s();
    size_t max_frames = 0;
    for (int d = 0, k = 0; d < n_dev; d++) {
        conn *x = &c[d];
        x->is_dev = 1;
        x->idx = d;
        x->acked = -1;
        x->stop_t = 1e300;
        if (d % step == 0 && k < n_cond + n_stall) { /* alternate condition / stall */
            if ((k % 2 == 0 && ic < n_cond) || is >= n_stall) {
                x->role = ROLE_CONDITION;
                x->pre_frames = (int)(4.0 * STAGGER_S * ic / (n_cond > 1 ? n_cond - 1 : 1));
                size_t nf = (size_t)x->pre_frames + n_cond_pcm / FRAME + SETUP_FRAMES_MAX;
                x->sent = calloc(nf + 8, sizeof *x->sent);
                x->arrive = calloc(nf + 8, sizeof *x->arrive);
                x->n_frames = nf + 8;
                if (!x->sent || !x->arrive)
                    goto out;
                if (nf > max_frames)
                    max_frames = nf;
                ic++;
            } else {
                x->role = ROLE_STALL;
                is++;
            }
            k++;
        }
        if ((x->fd = bws_connect(port, "/ws/ingest", "fm-ingest")) < 0)
            goto out;
        snprintf(msg, sizeof msg,
                 "{\"type\":\"open\",\"token\":\"%s\",\"format\":\"s16le\",\"rate_hz\":%d}", tok[d],
                 RATE);
        bws_send(x->fd, 1, msg, strlen(msg));
        if (wait_msg(x, "opened", msg, sizeof msg))
            goto out;
        char *s = strstr(msg, "\"stream\":\"");
        if (s)
            snprintf(x->stream, sizeof x->stream, "%.16s", s + 10);
        /* opening 1000 streams takes a while: keep the open ones fed, so that none raises
         * "stream stalled" before the run (their condition starts after these frames) */
        if (bws_now_s() - last_keepalive > 5) {
            last_keepalive = bws_now_s();
            for (int e = 0; e <= d; e++)
                if (c[e].seq < SETUP_FRAMES_MAX && keepalive(&c[e], pcm_norm, n_norm) != 0)
                    goto out;
        }
    }
    double t0 = bws_now_s();
    if (getenv("FM_STAGE_TIMES")) /* the server's stage timings: from here (ingest_stages.h) */
        kill(pid, SIGUSR1);
    for (int d = 0; d < n_dev; d++) {
        c[d].next_send = t0 + 0.25 + 0.25 * d / n_dev; /* staggered */
        c[d].stop_t = c[d].role == ROLE_STALL ? t0 + STALL_AT_S + (double)STAGGER_S * d / n_dev
                                              : 1e300;
    }
    n_cond = ic;
    n_stall = is;
    for (int i = 0; i < n_dev + n_view; i++) {
        fcntl(c[i].fd, F_SETFL, fcntl(c[i].fd, F_GETFL) | O_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &c[i]};
        epoll_ctl(ep, EPOLL_CTL_ADD, c[i].fd, &ev);
    }
    order = malloc(sizeof(int) * (size_t)n_dev);
    for (int i = 0; i < n_dev; i++)
        order[i] = i;
    for (int i = 1; i < n_dev; i++) /* insertion sort by stream id */
        for (int j = i; j > 0 && strcmp(c[order[j - 1]].stream, c[order[j]].stream) > 0; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    long cpu0 = bws_proc_cpu_ticks(pid);
    /* until every condition alert is due, + a margin (the condition audio lasts longer) */
    double t_end = t0 + STAGGER_S + t_truth_s + FM_FALSESIG_LOOKAHEAD_S + 60;
    if (t_end > t0 + (double)max_frames / 4.0)
        t_end = t0 + (double)max_frames / 4.0;
    static unsigned char frame[4 + 2 * FRAME];
    long sent = 0, errors = 0, other_alerts = 0, stall_false = 0, resyncs = 0, other_on_cond = 0;
    int n_stall_got = 0;
    double *lat_at = calloc((size_t)n_cond + 1, sizeof(double));
    double *lat_truth = calloc((size_t)n_cond + 1, sizeof(double));
    double *lat_stall = calloc((size_t)n_stall + 1, sizeof(double));
    double *at_err = calloc((size_t)n_cond + 1, sizeof(double));
    size_t n_at = 0, n_truth = 0, n_path = 0, n_engine = 0;
    double *lat_path = calloc((size_t)n_cond + 1, sizeof(double));
    double *lat_engine = calloc((size_t)n_cond + 1, sizeof(double));
    printf("# streaming for %.0f s ...\n", t_end - t0);
    fflush(stdout);
    while (bws_now_s() < t_end) {
        double now = bws_now_s();
        for (int d = 0; d < n_dev; d++) {
            conn *x = &c[d];
            if (now < x->next_send || (x->role == ROLE_STALL && now >= x->stop_t))
                continue;
            const int16_t *src;
            if (x->role == ROLE_CONDITION && (int)x->seq >= x->pre_frames) {
                size_t off = (size_t)(x->seq - (uint32_t)x->pre_frames) * FRAME;
                if (off + FRAME > n_cond_pcm) {
                    x->next_send += 0.25;
                    continue;
                }
                src = pcm_cond + off;
            } else {
                size_t off = ((size_t)(x->seq + (uint32_t)d * 97u) * FRAME) % (n_norm - FRAME);
                src = pcm_norm + off;
            }
            for (int b = 0; b < 4; b++)
                frame[b] = (unsigned char)(x->seq >> (8 * b));
            memcpy(frame + 4, src, 2 * FRAME);
            if (x->sent)
                x->sent[x->seq] = now;
            x->last_sent = now;
            if (bws_send(x->fd, 2, frame, sizeof frame) == 0)
                sent++;
            x->seq++;
            x->next_send += 0.25;
        }
        struct epoll_event evs[256];
        int n = epoll_wait(ep, evs, 256, 5);
        for (int i = 0; i < n; i++) {
            conn *x = evs[i].data.ptr;
            ssize_t k = recv(x->fd, x->in + x->in_len, INBUF - x->in_len, 0);
            if (k <= 0)
                continue;
            x->in_len += (size_t)k;
            double t = bws_now_s();
            int r;
            while ((r = next_msg(x, msg, sizeof msg)) == 1) {
                if (x->is_dev) {
                    char *a = strstr(msg, "\"ack\"");
                    char *q = strstr(msg, "\"seq\":");
                    if (a && q)
                        x->acked = atol(q + 6);
                    else if (strstr(msg, "\"error\""))
                        errors++;
                    continue;
                }
                if (starts(msg, "{\"type\":\"resync\"")) {
                    resyncs++;
                    continue;
                }
                int is_samples = starts(msg, "{\"type\":\"samples\",");
                if (!is_samples && !starts(msg, "{\"type\":\"alert.delivered\","))
                    continue;
                char *s = strstr(msg, is_samples ? "\"recording\":\"" : "\"source\":\"");
                if (!s)
                    continue;
                s += is_samples ? 13 : 10;
                char id[17];
                memcpy(id, s, 16);
                id[16] = 0;
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
                if (dev < 0)
                    continue;
                conn *dv = &c[dev];
                if (is_samples) { /* when each trace sample of a condition stream is shown */
                    double k0 = jnum(msg, "k0");
                    const char *f = strstr(msg, "\"fhr\":[");
                    if (!dv->arrive || !f || !(k0 >= 0))
                        continue;
                    size_t n_s = 1;
                    for (const char *q = f + 7; *q && *q != ']'; q++)
                        n_s += *q == ',';
                    for (size_t j = (size_t)k0; j < (size_t)k0 + n_s && j < dv->n_frames; j++)
                        if (!dv->arrive[j])
                            dv->arrive[j] = t;
                    continue;
                }
                if (jnum(msg, "level") != 0)
                    continue;
                int is_low80 = strstr(msg, "\"rule\":\"fhr_below_80\"") != NULL;
                int is_stall = strstr(msg, "\"rule\":\"stream_stalled\"") != NULL;
                if (dv->role == ROLE_CONDITION && is_low80 && !dv->got_t) {
                    dv->got_t = t;
                    dv->at_s = jnum(msg, "at_s");
                    long f_at = (long)floor(dv->at_s * 4 + 1e-6);
                    long f_truth = dv->pre_frames + (long)floor(t_truth_s * 4 + 1e-6);
                    if (f_at >= 0 && f_at < (long)dv->seq)
                        lat_at[n_at++] = t - dv->sent[f_at] - FM_FALSESIG_LOOKAHEAD_S;

                    if (f_truth < (long)dv->seq) {
                        at_err[n_truth] = dv->at_s - (dv->pre_frames / 4.0 + t_truth_s);
                        lat_truth[n_truth++] = t - dv->sent[f_truth] - FM_FALSESIG_LOOKAHEAD_S;
                    }
                } else if (dv->role == ROLE_STALL && is_stall && !dv->got_t &&
                           t > dv->stop_t) {
                    dv->got_t = t;
                    lat_stall[n_stall_got++] = t - dv->last_sent - STALL_S;
                } else {
                    if (is_stall && t < dv->stop_t + STALL_S - 1)
                        stall_false++;
                    other_alerts++;
                    other_on_cond += dv->role == ROLE_CONDITION;
                    count_other(msg);
                }
            }
        }
    }
    long cpu1 = bws_proc_cpu_ticks(pid), rss = bws_proc_rss_kb(pid);
    /* The split: the completing sample's verdict comes with sample k_judge (20 s later): the
     * engine part is frame k_judge sent -> sample k_judge on the feed, the alert path the rest
     * (published in the same processing step, so it may precede the samples message). */
    for (int d = 0; d < n_dev; d++) {
        conn *dv = &c[d];
        long f_at = dv->got_t > 0 ? (long)floor(dv->at_s * 4 + 1e-6) : -1;
        long k_judge = f_at + 4 * FM_FALSESIG_LOOKAHEAD_S;
        if (dv->role != ROLE_CONDITION || f_at < 0 || k_judge >= (long)dv->n_frames ||
            !dv->arrive[k_judge] || !dv->sent[k_judge])
            continue;
        lat_engine[n_engine++] = dv->arrive[k_judge] - dv->sent[k_judge];
        lat_path[n_path++] = dv->got_t - dv->arrive[k_judge];
    }
    double hz = (double)sysconf(_SC_CLK_TCK), secs = bws_now_s() - t0;
    printf("# N=%d streams (%d condition, %d stall, %d normal), M=%d viewers, %.0f s, %ld frames"
           " sent, %ld errors\n",
           n_dev, n_cond, n_stall, n_dev - n_cond - n_stall, n_view, secs, sent, errors);
    printf("%-34s %11s %8s %8s %8s %8s\n", "latency (ms) beyond the window", "got/want",
           "p50", "p95", "p99", "max");
    print_row("fhr_below_80, from at_s frame - 20 s", lat_at, n_at, (size_t)n_cond);
    print_row("fhr_below_80, from truth - 20 s", lat_truth, n_truth, (size_t)n_cond);
    print_row("stream_stalled, from last frame+30s", lat_stall, (size_t)n_stall_got,
              (size_t)n_stall);
    printf("# the first row split in two:\n");
    print_row("  engine: frame -> its sample shown", lat_engine, n_engine, (size_t)n_cond);
    print_row("  then alert path: sample -> alert", lat_path, n_path, (size_t)n_cond);
    qsort(at_err, n_truth, sizeof *at_err, bws_cmp_d);
    printf("# completing sample (at_s) - truth: median %+.2f s, min %+.2f, max %+.2f;"
           " other alerts at viewers: %ld (stream_stalled not caused by a stop: %ld);"
           " resync messages: %ld\n",
           n_truth ? at_err[n_truth / 2] : NAN, n_truth ? at_err[0] : NAN,
           n_truth ? at_err[n_truth - 1] : NAN, other_alerts, stall_false, resyncs);
    printf("# other alerts on condition streams: %ld; by rule:", other_on_cond);
    for (int i = 0; i < 32 && others[i].rule[0]; i++)
        printf(" %s %ld", others[i].rule, others[i].n);
    printf("\n");
    printf("# server: CPU %.0f %% of one core (mean over the run), RSS %.1f MB\n",
           100.0 * (double)(cpu1 - cpu0) / hz / secs, rss / 1024.0);
    fflush(stdout);
    free(lat_at);
    free(lat_truth);
    free(lat_stall);
    free(at_err);
    free(lat_path);
    free(lat_engine);
    rc = 0;
out:
    if (rc)
        fprintf(stderr, "bench: N=%d: setup failed (%s)\n", n_dev, strerror(errno));
    if (ep >= 0)
        close(ep);
    free(order);
    for (int i = 0; c && i < n_dev + n_view; i++) {
        if (c[i].fd > 0)
            close(c[i].fd);
        free(c[i].sent);
        free(c[i].arrive);
    }
    bws_stop_server(pid, dir);
    free(tok);
    free(c);
    return rc;
}

int main(int argc, char **argv)
{
    const char *bin = "./fetalmon";
    int n_dev = 1000, n_cond = 50, n_stall = 50, n_view = 100;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--streams"))
            n_dev = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--condition"))
            n_cond = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--stall"))
            n_stall = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--viewers"))
            n_view = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--bin"))
            bin = argv[i + 1];
        else if (!strcmp(argv[i], "--set") && n_set < 14)
            g_set[n_set++] = argv[i + 1];
    }
    static char stall_set[32];
    snprintf(stall_set, sizeof stall_set, "stream_stall_s=%d", STALL_S);
    g_set[n_set++] = stall_set;
    if (n_cond + n_stall > n_dev || n_view < 1 || n_dev / n_view > 64) {
        fprintf(stderr, "bench: need condition + stall <= streams, streams/viewers <= 64\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl); /* inherited by the server */
    signal(SIGPIPE, SIG_IGN);
    /* normal: 60 s looped; condition: PRE_S normal, a DESCENT_S descent, a plateau, back up */
    enum { N_NORM4 = 240 };
    float norm[N_NORM4];
    for (int k = 0; k < N_NORM4; k++)
        norm[k] = (float)(140 + 6 * sin(2 * M_PI * k / 4.0 / 41.0) + 2 * sin(2 * M_PI * k / 4.0 / 7.0));
    size_t n_c4 = (size_t)(PRE_S + DESCENT_S + PLATEAU_S + 10) * 4;
    float *cond = malloc(n_c4 * sizeof *cond);
    double t_first_below = NAN;
    for (size_t k = 0; k < n_c4; k++) {
        double t = (double)k / 4.0, base = 140 + 6 * sin(2 * M_PI * t / 41.0);
        double drop = t < PRE_S                ? 0
                      : t < PRE_S + DESCENT_S ? (t - PRE_S) / DESCENT_S
                      : t < PRE_S + DESCENT_S + PLATEAU_S
                          ? 1
                          : 1 - (t - PRE_S - DESCENT_S - PLATEAU_S) / 10.0;
        cond[k] = (float)(base * (1 - drop) + (PLATEAU_BPM + 1.5 * sin(2 * M_PI * t / 9.0)) * drop);
        if (k >= 7 && isnan(t_first_below)) { /* trailing 2-s mean of the truth */
            double m = 0;
            for (size_t j = k - 7; j <= k; j++)
                m += cond[j];
            if (m / 8 < RULE_BPM)
                t_first_below = t;
        }
    }
    double t_truth = t_first_below + RULE_WINDOW_S; /* trace time completing the condition */
    size_t n_norm, n_cpcm;
    int16_t *pcm_norm = render(norm, N_NORM4, 7, &n_norm);
    int16_t *pcm_cond = render(cond, n_c4, 23, &n_cpcm);
    free(cond);
    if (!pcm_norm || !pcm_cond)
        return 1;
    printf("# truth: FHR < %.0f bpm (2-s mean) from %.2f s of the condition audio; the rule's"
           " window (%d s) completes at %.2f s; + %d s false-signal look-ahead\n",
           RULE_BPM, t_first_below, RULE_WINDOW_S, t_truth, FM_FALSESIG_LOOKAHEAD_S);
    int bad = run(bin, n_dev, n_cond, n_stall, n_view, pcm_norm, n_norm, pcm_cond, n_cpcm, t_truth);
    free(pcm_norm);
    free(pcm_cond);
    return bad ? 1 : 0;
}
