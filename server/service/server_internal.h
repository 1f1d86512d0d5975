/* The server object as the libwebsockets glue files see it (server.c, http.c; later live.c and
 * ingest.c). Not a public interface: the program uses server.h. */
#ifndef FM_SERVER_INTERNAL_H
#define FM_SERVER_INTERNAL_H

#include <libwebsockets.h>
#include <signal.h>

#include "alertsvc.h"
#include "api.h"
#include "ingest_log.h"
#include "livepipe.h"
#include "memstat.h"
#include "server.h"

#define FM_WRITE_CHUNK 16384

struct fm_server {
    fm_config cfg;
    struct lws_context *ctx;
    struct lws_vhost *vhost;
    fm_workq *api_q;      /* requests that touch the store */
    fm_workq *analysis_q; /* the engine on recordings */
    fm_workq *ingest_q;   /* live stream opens, commit rounds, closes: apart from logins */
    fm_ingest_log *ingest_log;                /* group commit of live frames */
    struct fm_ingest_group *ingest_group;     /* commit rounds (ingest.c), loop-owned */
    fm_workq *live_q;     /* the engine on live streams (livepipe.c) */
    fm_livepipes *pipes;  /* live streams' pipelines, loop-owned */
    fm_alertsvc *alerts;  /* alert life cycle */
    lws_sorted_usec_list_t sul_tick;  /* every second: escalations, sweeps */
    lws_sorted_usec_list_t sul_stall; /* every STALL_SCAN_US: stalled live streams */
    fm_job tick_job;      /* escalation tick on an API worker */
    int tick_busy;
    fm_job sweep_job;     /* resumable uploads: incomplete / expired (upload.h) */
    int sweep_busy;
    int64_t sweep_next_ms;
    fm_job mem_job; /* memory figures for /metrics, and the memory_trim_s trim (memstat.h) */
    int mem_busy, mem_trim; /* mem_trim: this job trims too */
    int64_t mem_next_ms, trim_next_ms;
    fm_memstat mem;        /* the last sample (loop side) */
    fm_memstat mem_sample; /* the job's results, read by its done callback */
    size_t trim_last_bytes;
    double trim_last_ms;
    fm_bus *bus;
    fm_ratelimit *login_rl;
    fm_api api;
    volatile sig_atomic_t stop;
    int ready;
    /* Loop-thread only: one buffer for every HTTP write (one lws_write per callback). */
    unsigned char wbuf[LWS_PRE + FM_WRITE_CHUNK];
    /* Metrics (loop thread). */
    uint64_t n_requests, n_refused_busy, n_uploads;
    int n_viewers;
    int64_t upload_bytes_in_flight;
    uint64_t n_trims, trim_bytes_total;
    double trim_ms_total, trim_ms_max;
};

/* The HTTP protocol (http.c). */
int fm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len);
size_t fm_http_pss_size(void);

#endif
