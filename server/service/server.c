/* fm_server: see server.h. Wires the config, store, worker pools, bus and the libwebsockets
 * context together; the protocols themselves live in http.c (and the WebSocket files). */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "files.h"
#include "ingest.h"
#include "ingest_stages.h"
#include "live.h"
#include "log.h"
#include "memstat.h"
#include "server_internal.h"
#include "upload.h"

/* Called from worker threads (and the bus) when there is something for the loop to pick up. */
static void wake_loop(void *user)
{
    fm_server *s = user;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

/* ---- the web app's static files (web/, issue 7) ----
 * libwebsockets serves them itself (LWSMPRO_FILE mount at "/"); /api/ and /health stay on the
 * fm-http callback. The app runs with no network access: everything comes from this origin,
 * which the Content-Security-Policy below enforces. */
static const char web_csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; "
                              "img-src 'self' data: blob:; media-src 'self' blob:; "
                              "connect-src 'self'; object-src 'none'; base-uri 'none'; "
                              "frame-ancestors 'none'; form-action 'self'";

/* Headers added when lws serves a file (LWS_CALLBACK_ADD_HEADERS is only raised for files). */
static int web_add_headers(struct lws *wsi, struct lws_process_html_args *a)
{
    static const char *const h[][2] = {
        {"content-security-policy:", web_csp},
        {"x-content-type-options:", "nosniff"},
        {"referrer-policy:", "no-referrer"},
        {"x-frame-options:", "DENY"},
    };
    for (size_t i = 0; i < sizeof h / sizeof h[0]; i++) {
        unsigned char *p = (unsigned char *)a->p;
        if (lws_add_http_header_by_name(wsi, (const unsigned char *)h[i][0],
                                        (const unsigned char *)h[i][1], (int)strlen(h[i][1]),
                                        &p, (unsigned char *)a->p + a->max_len))
            return 1;
        a->max_len -= (int)(p - (unsigned char *)a->p);
        a->p = (char *)p;
    }
    return 0;
}

static int server_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                                void *in, size_t len)
{
    if (reason == LWS_CALLBACK_ADD_HEADERS)
        return web_add_headers(wsi, in);
    return fm_http_callback(wsi, reason, user, in, len);
}

static const struct lws_protocols protocols_proto[] = {
    {"fm-http", server_http_callback, 0, 0, 0, NULL, 0},
    {"fm-live", fm_live_callback, 0, 4096, 0, NULL, 0},
    {"fm-ingest", fm_ingest_callback, 0, 65536, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static const struct lws_protocol_vhost_options web_mime_json = {
    NULL, NULL, ".json", "application/json"};
static const struct lws_protocol_vhost_options web_mime_js = {
    &web_mime_json, NULL, ".js", "text/javascript"};

/* Without a web directory every URL goes to the fm-http callback (the API). With one, the
 * paths below go to the callback and everything else is a file of the directory (index.html by
 * default). Every path prefix http.c answers must be listed here, or it becomes a 404 file.
 * The mounts live as long as the context; like `protocols` below, one server per process. */
static const char *const callback_paths[] = {"/api", "/health", "/metrics", "/ws"};
#define N_CALLBACK_PATHS (sizeof callback_paths / sizeof callback_paths[0])
static char web_origin[FM_PATH_MAX];
static struct lws_http_mount mount_root = {
    .mountpoint = "/",
    .mountpoint_len = 1,
    .origin_protocol = LWSMPRO_CALLBACK,
    .protocol = "fm-http",
};
static struct lws_http_mount mount_callbacks[N_CALLBACK_PATHS];

/* The mount chain: the callback paths, then "/" (files when there is a web directory). */
static const struct lws_http_mount *mounts_for(int web)
{
    mount_root.origin_protocol = web ? LWSMPRO_FILE : LWSMPRO_CALLBACK;
    mount_root.origin = web ? web_origin : NULL;
    mount_root.def = web ? "index.html" : NULL;
    mount_root.extra_mimetypes = web ? &web_mime_js : NULL;
    if (!web)
        return &mount_root;
    for (size_t i = 0; i < N_CALLBACK_PATHS; i++) {
        struct lws_http_mount *m = &mount_callbacks[i];
        memset(m, 0, sizeof *m);
        m->mount_next = i + 1 < N_CALLBACK_PATHS ? &mount_callbacks[i + 1] : &mount_root;
        m->mountpoint = callback_paths[i];
        m->mountpoint_len = (unsigned char)strlen(callback_paths[i]);
        m->origin_protocol = LWSMPRO_CALLBACK;
        m->protocol = "fm-http";
    }
    return &mount_callbacks[0];
}

static int web_dir_ok(const char *dir, char *out, size_t cap)
{
    char index[FM_PATH_MAX + 16], real[PATH_MAX];
    snprintf(index, sizeof index, "%s/index.html", dir);
    if (access(index, R_OK) != 0 || !realpath(dir, real) || strlen(real) >= cap)
        return 0;
    snprintf(out, cap, "%s", real);
    return 1;
}

/* The configured web_dir, else web/ beside the program (build tree: build/fetalmon and web/ in
 * the source tree next to build/; installed: PREFIX/bin and PREFIX/share/fetalmon/web).
 * Returns 1 when found, 0 when there is none (API only), -1 when web_dir is configured but
 * holds no index.html. */
static int find_web_dir(const fm_config *cfg, char *out, size_t cap)
{
    if (cfg->web_dir[0])
        return web_dir_ok(cfg->web_dir, out, cap) ? 1 : -1;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return 0;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = 0;
    static const char *const rel[] = {"web", "../web", "../share/fetalmon/web"};
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char dir[PATH_MAX + 32];
        snprintf(dir, sizeof dir, "%s/%s", exe, rel[i]);
        if (web_dir_ok(dir, out, cap))
            return 1;
    }
    return 0;
}

static void tick_run(fm_job *job, void *store)
{
    (void)store;
    fm_server *s = lws_container_of(job, fm_server, tick_job);
    fm_alertsvc_tick(s->alerts);
}

static void tick_done(fm_job *job)
{
    fm_server *s = lws_container_of(job, fm_server, tick_job);
    s->tick_busy = 0;
}

static void sweep_run(fm_job *job, void *store)
{
    fm_server *s = lws_container_of(job, fm_server, sweep_job);
    fm_uploads_sweep(&s->api, store, fm_now_ms());
}

static void sweep_done(fm_job *job)
{
    fm_server *s = lws_container_of(job, fm_server, sweep_job);
    s->sweep_busy = 0;
}

/* The memory figures of /metrics and the trim (memory_trim_s), on an API worker: mallinfo2
 * walks every free chunk of every arena under its lock (9 ms with 77 MB free in small blocks:
 * bench/bench_heapstat) and malloc_trim locks each arena in turn, so neither runs on the loop.
 * /metrics shows the last sample, at most MEM_SAMPLE_MS old. */
#define MEM_SAMPLE_MS 5000

static void mem_run(fm_job *job, void *store)
{
    (void)store;
    fm_server *s = lws_container_of(job, fm_server, mem_job);
    if (s->mem_trim)
        s->trim_last_bytes = fm_mem_trim(&s->trim_last_ms);
    fm_mem_stat(&s->mem_sample);
}

static void mem_done(fm_job *job)
{
    fm_server *s = lws_container_of(job, fm_server, mem_job);
    s->mem = s->mem_sample;
    if (s->mem_trim) {
        s->n_trims++;
        s->trim_bytes_total += s->trim_last_bytes;
        s->trim_ms_total += s->trim_last_ms;
        if (s->trim_last_ms > s->trim_ms_max)
            s->trim_ms_max = s->trim_last_ms;
    }
    s->mem_busy = 0;
}

/* The upload sweep runs this often (at most; sooner when upload_incomplete_s is shorter). */
#define UPLOAD_SWEEP_MS 10000

/* FM_STAGE_TIMES (ingest_stages.h): SIGUSR1 clears the stage timings at the next tick. */
static volatile sig_atomic_t stage_reset_asked;

static void on_sigusr1(int sig)
{
    (void)sig;
    stage_reset_asked = 1;
}

/* Stalled live streams are looked for every 250 ms: the stall alert's delay beyond its
 * clinical window (stream_stall_s, CLINICAL 5) is this scan's period at most; at a 1-s tick
 * bench_alert_latency measured a stall p99 of 996 ms at 1000 streams, against the 1 s.
 * A scan is a walk over the open pipes (1000 streams: microseconds). */
#define STALL_SCAN_US (LWS_US_PER_SEC / 4)

static void on_stall_scan(lws_sorted_usec_list_t *sul)
{
    fm_server *s = lws_container_of(sul, fm_server, sul_stall);
    fm_livepipes_tick(s->pipes, fm_now_ms());
    lws_sul_schedule(s->ctx, 0, &s->sul_stall, on_stall_scan, STALL_SCAN_US);
}

/* Every second on the loop: the escalation tick (on an API worker: it writes the store) and the
 * upload sweep. */
static void on_tick(lws_sorted_usec_list_t *sul)
{
    fm_server *s = lws_container_of(sul, fm_server, sul_tick);
    if (stage_reset_asked) {
        stage_reset_asked = 0;
        fm_stage_reset();
    }
    /* The pools and the bus wake the loop once per batch (workq.c, bus.c): should a wake ever
     * be lost (one asked before the context existed), what it announced is picked up here. */
    fm_workq_drain(s->api_q);
    fm_workq_drain(s->analysis_q);
    fm_workq_drain(s->ingest_q);
    fm_workq_drain(s->live_q);
    fm_bus_dispatch(s->bus);
    if (s->alerts && !s->tick_busy) {
        memset(&s->tick_job, 0, sizeof s->tick_job);
        s->tick_job.run = tick_run;
        s->tick_job.done = tick_done;
        s->tick_busy = fm_workq_submit(s->api_q, &s->tick_job) == FM_SVC_OK;
    }
    int64_t now = fm_now_ms();
    if (!s->sweep_busy && now >= s->sweep_next_ms) {
        int64_t every = (int64_t)s->cfg.upload_incomplete_s * 1000 / 2;
        s->sweep_next_ms = now + (every < UPLOAD_SWEEP_MS ? every : UPLOAD_SWEEP_MS);
        memset(&s->sweep_job, 0, sizeof s->sweep_job);
        s->sweep_job.run = sweep_run;
        s->sweep_job.done = sweep_done;
        s->sweep_busy = fm_workq_submit(s->api_q, &s->sweep_job) == FM_SVC_OK;
    }
    fm_ingest_sweep(s, now);
    int trim_due = s->cfg.memory_trim_s > 0 && now >= s->trim_next_ms;
    if (!s->mem_busy && (trim_due || now >= s->mem_next_ms)) {
        s->mem_next_ms = now + MEM_SAMPLE_MS;
        s->mem_trim = trim_due;
        if (trim_due)
            s->trim_next_ms = now + (int64_t)s->cfg.memory_trim_s * 1000;
        memset(&s->mem_job, 0, sizeof s->mem_job);
        s->mem_job.run = mem_run;
        s->mem_job.done = mem_done;
        s->mem_busy = fm_workq_submit(s->api_q, &s->mem_job) == FM_SVC_OK;
    }
    lws_sul_schedule(s->ctx, 0, &s->sul_tick, on_tick, LWS_US_PER_SEC);
}

static void requeue(void *ctx, const fm_recording *r)
{
    fm_server *s = ctx;
    fm_api_queue_analysis(&s->api, r->id);
}

fm_svc_status fm_server_create(const fm_config *cfg, fm_server **out, char *err, size_t err_len)
{
    *out = NULL;
    fm_server *s = calloc(1, sizeof *s);
    if (!s)
        return FM_SVC_NOMEM;
    s->cfg = *cfg;
    s->trim_next_ms = fm_now_ms() + (int64_t)cfg->memory_trim_s * 1000;
    fm_mem_stat(&s->mem); /* /metrics has figures before the first sample job */
    /* Before any thread of the service exists: arenas are made per thread as they start. A
     * refusal (another allocator, e.g. a sanitizer's) leaves its default: a tuning, not a
     * reason not to serve. */
    if (fm_mem_set_arenas(cfg->malloc_arenas) != 0) {
        char extra[96];
        snprintf(extra, sizeof extra, "\"malloc_arenas\":%d", cfg->malloc_arenas);
        fm_log("warning", "malloc_arenas_refused", extra);
    }
    fm_svc_status rc = fm_auth_init();
    if (rc != FM_SVC_OK) {
        snprintf(err, err_len, "cannot initialise libsodium");
        goto fail;
    }
    if ((rc = fm_datadir_prepare(cfg->data_dir, err, err_len)) != FM_SVC_OK)
        goto fail;
    /* Opening once here runs the migrations before any worker connects, and lists the
     * recordings a crash left unanalysed. */
    fm_store *st = NULL;
    if ((rc = fm_store_open(cfg->data_dir, &st, err, err_len)) != FM_SVC_OK)
        goto fail;
    fm_datadir_clean_incoming(cfg->data_dir);
    fm_uploads_recover(cfg->data_dir, st);
    /* Frames a power loss left only in the log go back into their stream files first. */
    if (!(s->ingest_log = fm_ingest_log_open(cfg->data_dir, err, err_len)) ||
        fm_ingest_group_create(s) != FM_SVC_OK) {
        fm_store_close(st);
        rc = FM_SVC_IO;
        goto fail;
    }
    fm_ingest_log_set_switch(s->ingest_log, FM_INGEST_LOG_SWITCH_BYTES,
                             (int64_t)cfg->ingest_checkpoint_s * 1000);

    s->login_rl = fm_ratelimit_create(cfg->login_window_s);
    s->bus = fm_bus_create(4096, wake_loop, s);
    if (!s->login_rl || !s->bus) {
        fm_store_close(st);
        rc = FM_SVC_NOMEM;
        goto fail;
    }

    static struct lws_protocols protocols[sizeof protocols_proto / sizeof protocols_proto[0]];
    memcpy(protocols, protocols_proto, sizeof protocols);
    protocols[0].per_session_data_size = fm_http_pss_size();
    protocols[1].per_session_data_size = fm_live_pss_size();
    protocols[2].per_session_data_size = fm_ingest_pss_size();

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    info.port = cfg->port;
    info.iface = cfg->listen_host;
    info.protocols = protocols;
    int web = find_web_dir(cfg, web_origin, sizeof web_origin);
    if (web < 0) {
        snprintf(err, err_len, "web_dir %s has no index.html", cfg->web_dir);
        fm_store_close(st);
        rc = FM_SVC_INVAL;
        goto fail;
    }
    info.mounts = mounts_for(web);
    info.user = s;
    info.timeout_secs = (unsigned)cfg->http_timeout_s;
    info.keepalive_timeout = cfg->http_timeout_s;
    info.timeout_secs_ah_idle = (unsigned)cfg->http_timeout_s; /* slow headers (slow-loris) */
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8 | LWS_SERVER_OPTION_DISABLE_IPV6;
    if (cfg->max_connections)
        info.fd_limit_per_thread = (unsigned)cfg->max_connections;
    if (cfg->tls_cert[0] && cfg->tls_key[0]) {
        info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
        info.ssl_cert_filepath = cfg->tls_cert;
        info.ssl_private_key_filepath = cfg->tls_key;
    }
    lws_set_log_level(LLL_ERR, NULL);
    s->ctx = lws_create_context(&info);
    if (!s->ctx) {
        snprintf(err, err_len, "cannot listen on %s:%d (in use, or bad address/certificate)",
                 cfg->listen_host, cfg->port);
        fm_store_close(st);
        rc = FM_SVC_IO;
        goto fail;
    }
    s->vhost = lws_get_vhost_by_name(s->ctx, "default");

    s->api.cfg = &s->cfg;
    s->api.login_rl = s->login_rl;
    s->api.bus = s->bus;
    s->api.worklist_audit = fm_worklist_audit_create((int64_t)FM_WORKLIST_AUDIT_S * 1000);
    fm_workq_config wc = {
        .threads = cfg->api_workers,
        .max_pending = 1024,
        .thread_init = fm_api_worker_init,
        .thread_fini = fm_api_worker_fini,
        .user = &s->api,
        .wake = wake_loop,
        .wake_user = s,
    };
    s->api_q = fm_workq_create(&wc);
    wc.threads = cfg->analysis_workers;
    wc.max_pending = 100000;
    s->analysis_q = fm_workq_create(&wc);
    if (!s->api_q || !s->analysis_q) {
        fm_store_close(st);
        rc = FM_SVC_NOMEM;
        goto fail;
    }
    wc.threads = cfg->ingest_workers;
    wc.max_pending = 100000;
    s->ingest_q = fm_workq_create(&wc);
    if (!s->ingest_q) {
        fm_store_close(st);
        rc = FM_SVC_NOMEM;
        goto fail;
    }
    s->api.analysis = s->analysis_q;
    wc.threads = cfg->live_workers;
    s->live_q = fm_workq_create(&wc);
    s->alerts = fm_alertsvc_create_from(cfg, s->bus, err, err_len);
    if (!s->alerts) {
        fm_store_close(st);
        rc = FM_SVC_INVAL;
        goto fail;
    }
    /* The samples' store writes go to the ingest workers (fsync-bound, mostly waiting); the
     * alert events to the API workers, not behind a thousand streams' flushes (measured: the
     * alert then waited 0.2 s at p50 under load). */
    fm_livepipes_config lc = {.q = s->live_q, .store_q = s->ingest_q, .events_q = s->api_q,
                              .bus = s->bus, .alerts = s->alerts,
                              .data_dir = s->cfg.data_dir, .stall_s = cfg->stream_stall_s};
    s->pipes = s->live_q ? fm_livepipes_create(&lc) : NULL;
    if (!s->pipes || !s->alerts) {
        fm_store_close(st);
        rc = FM_SVC_NOMEM;
        goto fail;
    }
    s->api.alerts = s->alerts;
    lws_sul_schedule(s->ctx, 0, &s->sul_tick, on_tick, LWS_US_PER_SEC);
    lws_sul_schedule(s->ctx, 0, &s->sul_stall, on_stall_scan, STALL_SCAN_US);
    if (fm_stage_on())
        signal(SIGUSR1, on_sigusr1);
    fm_store_recording_unfinished(st, requeue, s);
    fm_store_token_purge(st, fm_now_ms() - 24LL * 3600 * 1000);
    fm_store_close(st);
    s->ready = 1;
    *out = s;
    return FM_SVC_OK;
fail:
    fm_server_destroy(s);
    return rc;
}

int fm_server_port(const fm_server *s)
{
    return s->vhost ? lws_get_vhost_listen_port(s->vhost) : s->cfg.port;
}

/* Batched loop turns: lws (poll backend) scans every socket once per turn, which at 1000 live
 * streams was half of the loop thread's time (perf, docs/alerts.md 4) when each frame or wake
 * made its own turn. With many live connections a turn that ends early waits for the rest of
 * FM_LOOP_TURN_US, so that one scan serves every socket that became ready meanwhile (at most
 * FM_LOOP_TURN_US more latency, far below the live feed's budget); few connections (tests, a
 * quiet server): no wait. */
#define FM_LOOP_TURN_US 2000
#define FM_LOOP_BATCH_CONNECTIONS 200

int fm_server_run(fm_server *s)
{
    while (!s->stop) {
        int64_t t0 = fm_stage_now_us();
        if (lws_service(s->ctx, 0) < 0)
            return -1;
        if ((size_t)s->n_viewers + fm_livepipes_count(s->pipes) < FM_LOOP_BATCH_CONNECTIONS)
            continue;
        int64_t left = FM_LOOP_TURN_US - (fm_stage_now_us() - t0);
        if (left > 0 && !s->stop)
            usleep((useconds_t)left);
    }
    return 0;
}

void fm_server_serve_until(fm_server *s, int (*done)(void *user), void *user, int timeout_ms)
{
    int64_t end = fm_now_ms() + timeout_ms;
    while (!done(user) && fm_now_ms() < end)
        if (lws_service(s->ctx, 0) < 0)
            break;
}

void fm_server_stop(fm_server *s)
{
    s->stop = 1;
    if (s->ctx)
        lws_cancel_service(s->ctx);
}

/* Shutdown order matters: workers first (they finish the requests and durable writes in hand;
 * queued analyses stay "queued" in the store and resume at the next start), then their
 * results are handed to their connections, then the context closes every socket and frees the
 * per-connection state. */
void fm_server_destroy(fm_server *s)
{
    if (!s)
        return;
    if (s->ready)
        fm_stage_dump("server stopping");
    if (s->api_q)
        fm_workq_stop(s->api_q, 1);
    if (s->ingest_q)
        fm_workq_stop(s->ingest_q, 1); /* frames in hand become durable */
    if (s->analysis_q)
        fm_workq_stop(s->analysis_q, 0);
    if (s->live_q)
        fm_workq_stop(s->live_q, 0);
    if (s->api_q)
        fm_workq_drain(s->api_q);
    if (s->analysis_q)
        fm_workq_drain(s->analysis_q);
    if (s->ingest_q)
        fm_workq_drain(s->ingest_q); /* may feed the pipes: their jobs are refused, kept */
    if (s->live_q)
        fm_workq_drain(s->live_q);
    if (s->ctx)
        lws_context_destroy(s->ctx);
    s->ctx = NULL;
    fm_ingest_group_destroy(s);
    fm_livepipes_destroy(s->pipes);
    fm_workq_destroy(s->live_q);
    fm_alertsvc_destroy(s->alerts);
    fm_workq_destroy(s->api_q);
    fm_workq_destroy(s->analysis_q);
    fm_workq_destroy(s->ingest_q);
    fm_ingest_log_close(s->ingest_log);
    fm_bus_destroy(s->bus);
    fm_ratelimit_destroy(s->login_rl);
    fm_worklist_audit_destroy(s->api.worklist_audit);
    free(s);
}
