/* fm_api: the JSON HTTP API as plain functions from a request to a response. They run on
 * worker threads (they touch the store, hash passwords, fsync files) with the worker's own
 * store connection, and know nothing of libwebsockets: http.c fills an fm_http_req on the loop
 * thread, a worker calls fm_api_handle(), the loop writes the fm_http_resp back.
 *
 * Every route authenticates the bearer token, authorises against the principal's role and care
 * team (access.c), and writes an audit entry for every read or write of patient data. Data the
 * caller may not see is answered 404, never with its content. Routes are documented in
 * docs/api.md. Not for WebSocket protocols (live.c, ingest.c). */
#ifndef FM_API_H
#define FM_API_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "auth.h"
#include "bus.h"
#include "config.h"
#include "store.h"
#include "workq.h"

struct fm_alertsvc;

typedef enum fm_method { FM_M_OTHER = 0, FM_M_GET, FM_M_POST, FM_M_DELETE } fm_method;

typedef struct fm_http_req {
    fm_method method;
    char path[256];                  /* decoded path, no query */
    char q_patient[FM_NAME_MAX];     /* ?patient= */
    char q_name[128];                /* ?name= (upload file name) */
    char q_limit[16];                /* ?limit= */
    char q_offset[24];               /* ?offset= (resumable upload chunk) */
    char q_from[24];                 /* ?from= (stored samples) */
    char q_state[16], q_scope[16];   /* ?state=, ?scope= (GET /api/alerts) */
    int q_too_long;                  /* a query argument did not fit: 400 */
    char range[64];                  /* Range header ("" when absent) */
    char cookie_token[FM_TOKEN_MAX]; /* the fm_session cookie ("" when absent) */
    char authorization[160];         /* Authorization header ("" when absent; too long = bad) */
    char peer[64];                   /* client address */
    char *body;                      /* JSON body, NUL-terminated, or NULL */
    size_t body_len;
    char upload_tmp[FM_PATH_MAX + 64]; /* streamed upload: the complete temp file, or "" */
    int64_t upload_bytes;
} fm_http_req;

typedef struct fm_http_resp {
    int status;
    char *body; /* malloc'd JSON */
    size_t len;
    const char *content_type; /* NULL = application/json */
    /* A file body instead of `body` (audio download): len bytes from file_off of file_fd. */
    int has_file;
    int file_fd;
    int64_t file_off;
    char content_range[80]; /* "bytes a-b/size" for 206 and 416, else "" */
    char header_name[32];   /* one extra header, e.g. "WWW-Authenticate:" ("" = none) */
    char header_value[160];
} fm_http_resp;

/* What the handlers share (read-only after start, or thread-safe objects). */
typedef struct fm_api {
    const fm_config *cfg;
    fm_ratelimit *login_rl;
    fm_bus *bus;
    fm_workq *analysis; /* accepted recordings are queued here */
    struct fm_alertsvc *alerts; /* the alert life cycle (alertsvc.h), NULL in unit tests */
    struct fm_worklist_audit *worklist_audit; /* api_worklist.c; NULL: every read audited */
    /* Metrics, written by the analysis workers: analyses finished and their time (queue wait
     * excluded), for /metrics. */
    atomic_uint_fast64_t analyses_total, analysis_ms_total;
} fm_api;

/* The worklist's audit gate (api_worklist.c, docs/api.md "Worklist"): remembers when each
 * (clinician, patient) pair's worklist.read row was last written, so a worklist re-read every
 * 15 s writes it at most every interval. Thread-safe. */
#define FM_WORKLIST_AUDIT_S 900
typedef struct fm_worklist_audit fm_worklist_audit;
fm_worklist_audit *fm_worklist_audit_create(int64_t interval_ms);
void fm_worklist_audit_destroy(fm_worklist_audit *a);
/* 1 when the pair's row is due at now_ms (first time, interval passed, clock set back, or a
 * NULL gate), and then counts it as written; 0 when it was written less than interval ago. */
int fm_worklist_audit_due(fm_worklist_audit *a, int64_t clinician_id, int64_t patient_id,
                          int64_t now_ms);

void fm_api_handle(fm_api *api, fm_store *s, const fm_http_req *req, fm_http_resp *resp);
void fm_http_resp_free(fm_http_resp *r);

/* An error response: {"error": code, "message": message}. Also used by http.c on the loop for
 * requests refused before they reach a worker (too large, wrong method ...). */
void fm_api_error(fm_http_resp *r, int status, const char *code, const char *message);

/* Submits the analysis of a recording (any thread). analysis.c. */
fm_svc_status fm_api_queue_analysis(fm_api *api, const char *recording_id);
/* Worker context of the analysis pool: its own store. */
void *fm_api_worker_init(void *api);
void fm_api_worker_fini(void *store);
/* Publishes a recording's state on the bus (topic "patient/<id>"). */
void fm_api_publish_recording(fm_api *api, fm_store *s, const fm_recording *r);
/* Gestational age in weeks at t_ms from the patient's due date (NAN when unknown). */
double fm_api_gestation_at(const fm_patient *pt, int64_t t_ms);

#endif
