/* The HTTP protocol of the service on the libwebsockets loop: turns each request into an
 * fm_http_req, receives bodies with bounded memory (JSON bodies up to max_json_bytes in memory;
 * uploads streamed to DATA/incoming/ *.part, never held whole), hands the request to an API
 * worker, and writes the worker's response from WRITEABLE callbacks, one lws_write each.
 *
 * On the loop thread only cheap work happens: header parsing, limits, write() of body chunks to
 * the page cache. Authentication, fsync and every database access are on workers. Requests
 * refused before a worker sees them (too large, no length, unknown method) are answered here.
 * Not for routing decisions beyond that (api.c), nor WebSockets. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "files.h"
#include "ingest.h"
#include "log.h"
#include "memstat.h"
#include "multipart.h"
#include "server_internal.h"

enum http_state {
    ST_IDLE = 0,
    ST_BODY,     /* receiving the body */
    ST_WORKER,   /* a worker has the request */
    ST_HEADERS,  /* response ready: write the headers next */
    ST_BODY_OUT, /* writing the response body */
    ST_REFUSED   /* answered early; remaining body bytes are ignored */
};

typedef struct http_job http_job;

typedef struct pss {
    struct lws *wsi;
    http_job *job;
    enum http_state state;
    int upload_fd; /* streamed upload, -1 when none */
    fm_multipart *mp; /* a browser form upload (multipart/form-data): its parser, else NULL */
    int64_t file_bytes; /* bytes of the form's file part written */
    int64_t body_expected, body_got;
    size_t sent;     /* response bytes written */
    int close_after; /* body left unread: close instead of keep-alive */
    int64_t t0_ms;   /* request start, for the log */
} pss;

struct http_job {
    fm_job job;
    fm_server *srv;
    pss *owner; /* NULL once the connection closed while a worker had the job (loop thread) */
    fm_http_req req;
    fm_http_resp resp;
};

size_t fm_http_pss_size(void)
{
    return sizeof(pss);
}

static void job_free(http_job *j)
{
    if (!j)
        return;
    free(j->req.body);
    if (j->req.upload_tmp[0])
        unlink(j->req.upload_tmp);
    fm_http_resp_free(&j->resp);
    free(j);
}

static void job_run(fm_job *job, void *store)
{
    http_job *j = (http_job *)job;
    fm_api_handle(&j->srv->api, store, &j->req, &j->resp);
    /* fm_api_handle removed or committed the upload; nothing left for job_free to unlink. */
    j->req.upload_tmp[0] = 0;
}

/* Loop thread: a worker finished the request. */
static void job_done(fm_job *job)
{
    http_job *j = (http_job *)job;
    if (!j->owner) {
        job_free(j);
        return;
    }
    if (!j->resp.body &&
        !j->resp.has_file) /* the worker never ran (shutdown): say so rather than hang */
        fm_api_error(&j->resp, 503, "unavailable", "the server is shutting down");
    j->owner->state = ST_HEADERS;
    lws_callback_on_writable(j->owner->wsi);
}

/* Answers from the loop thread (no worker involved). */
static void respond_now(pss *p, int status, const char *code, const char *message)
{
    fm_api_error(&p->job->resp, status, code, message);
    p->state = ST_HEADERS;
    /* A body still on its way is not read: the connection closes after the answer. */
    if (p->body_expected > p->body_got)
        p->close_after = 1;
    lws_callback_on_writable(p->wsi);
}

static void dispatch(fm_server *srv, pss *p)
{
    p->state = ST_WORKER;
    p->job->owner = p;
    srv->n_requests++;
    if (fm_workq_submit(srv->api_q, &p->job->job) != FM_SVC_OK) {
        srv->n_refused_busy++;
        respond_now(p, 503, "busy", "the server is busy, retry shortly");
    }
}

static fm_method method_of(int m)
{
    switch (m) {
    case LWSHUMETH_GET: return FM_M_GET;
    case LWSHUMETH_POST: return FM_M_POST;
    case LWSHUMETH_DELETE: return FM_M_DELETE;
    default: return FM_M_OTHER;
    }
}

/* Copies ?name=value query arguments we use; marks the request when one is too long. */
static void copy_args(struct lws *wsi, fm_http_req *r)
{
    struct {
        const char *name;
        char *dst;
        size_t cap;
    } args[] = {
        {"patient=", r->q_patient, sizeof r->q_patient},
        {"name=", r->q_name, sizeof r->q_name},
        {"limit=", r->q_limit, sizeof r->q_limit},
        {"offset=", r->q_offset, sizeof r->q_offset},
        {"from=", r->q_from, sizeof r->q_from},
        {"state=", r->q_state, sizeof r->q_state},
        {"scope=", r->q_scope, sizeof r->q_scope},
    };
    char buf[512];
    for (int n = 0;; n++) {
        int flen = lws_hdr_fragment_length(wsi, WSI_TOKEN_HTTP_URI_ARGS, n);
        if (flen <= 0)
            break;
        if (flen >= (int)sizeof buf) {
            r->q_too_long = 1;
            continue;
        }
        if (lws_hdr_copy_fragment(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_URI_ARGS, n) < 0)
            break;
        for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
            size_t kl = strlen(args[i].name);
            if (strncmp(buf, args[i].name, kl))
                continue;
            if (strlen(buf + kl) >= args[i].cap)
                r->q_too_long = 1;
            else
                snprintf(args[i].dst, args[i].cap, "%s", buf + kl);
        }
    }
}

/* The browser's session cookie (fm_session=TOKEN), for GET requests such as <audio src>. */
static void copy_session_cookie(struct lws *wsi, fm_http_req *r)
{
    char buf[1024];
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_COOKIE);
    if (n <= 0 || n >= (int)sizeof buf ||
        lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_COOKIE) < 0)
        return;
    for (char *c = buf; (c = strstr(c, "fm_session=")); c++) {
        if (c != buf && c[-1] != ' ' && c[-1] != ';')
            continue;
        c += 11;
        size_t len = strcspn(c, "; ");
        if (len < sizeof r->cookie_token) {
            memcpy(r->cookie_token, c, len);
            r->cookie_token[len] = 0;
        }
        return;
    }
}

/* -1 when absent or not a number. */
static int64_t content_length(struct lws *wsi)
{
    char buf[32];
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0 ||
        lws_hdr_copy(wsi, buf, sizeof buf, WSI_TOKEN_HTTP_CONTENT_LENGTH) < 0)
        return -1;
    char *end;
    long long v = strtoll(buf, &end, 10);
    return end == buf || *end || v < 0 ? -1 : v;
}

/* A form upload: "" when the body is the file itself; the boundary when it is
 * multipart/form-data; "-" when it claims to be multipart but has no usable boundary. */
static void form_boundary(struct lws *wsi, char *out, size_t cap)
{
    char ct[256];
    out[0] = 0;
    int n = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
    if (n <= 0)
        return;
    if (n >= (int)sizeof ct || lws_hdr_copy(wsi, ct, sizeof ct, WSI_TOKEN_HTTP_CONTENT_TYPE) < 0) {
        snprintf(out, cap, "-");
        return;
    }
    if (strncasecmp(ct, "multipart/", 10))
        return;
    if (fm_multipart_boundary(ct, out, cap) != 0)
        snprintf(out, cap, "-");
}

static int open_upload(fm_server *srv, pss *p)
{
    char id[17];
    fm_random_id(id);
    snprintf(p->job->req.upload_tmp, sizeof p->job->req.upload_tmp, "%s/incoming/%s.part",
             srv->cfg.data_dir, id);
    p->upload_fd = open(p->job->req.upload_tmp, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (p->upload_fd < 0) {
        p->job->req.upload_tmp[0] = 0;
        return -1;
    }
    return 0;
}

/* Prometheus text exposition of the loop's counters and queue depths. No patient data; served
 * on the loop (no store access). */
static void metrics(fm_server *srv, fm_http_resp *o)
{
    char buf[4096];
    unsigned long long au_def, au_rep, au_lost;
    fm_store_audit_counts(&au_def, &au_rep, &au_lost);
    const fm_memstat *ms = &srv->mem; /* sampled on a worker (server.c mem_run) */
    int n =
        snprintf(buf, sizeof buf,
                 "# TYPE fetalmon_http_requests_total counter\nfetalmon_http_requests_total %llu\n"
                 "# TYPE fetalmon_http_refused_busy_total counter\n"
                 "fetalmon_http_refused_busy_total %llu\n"
                 "# TYPE fetalmon_uploads_total counter\nfetalmon_uploads_total %llu\n"
                 "# TYPE fetalmon_live_streams gauge\nfetalmon_live_streams %zu\n"
                 "# TYPE fetalmon_live_viewers gauge\nfetalmon_live_viewers %d\n"
                 "# TYPE fetalmon_api_queue_depth gauge\nfetalmon_api_queue_depth %zu\n"
                 "# TYPE fetalmon_analysis_queue_depth gauge\nfetalmon_analysis_queue_depth %zu\n"
                 "# TYPE fetalmon_ingest_queue_depth gauge\nfetalmon_ingest_queue_depth %zu\n"
                 "# TYPE fetalmon_bus_queue_depth gauge\nfetalmon_bus_queue_depth %zu\n"
                 "# TYPE fetalmon_bus_dropped_total counter\nfetalmon_bus_dropped_total %zu\n"
                 "# TYPE fetalmon_analysis_seconds summary\n"
                 "fetalmon_analysis_seconds_sum %.3f\nfetalmon_analysis_seconds_count %llu\n"
                 "# TYPE fetalmon_audit_deferred_total counter\nfetalmon_audit_deferred_total %llu\n"
                 "# TYPE fetalmon_audit_replayed_total counter\nfetalmon_audit_replayed_total %llu\n"
                 "# TYPE fetalmon_audit_lost_total counter\nfetalmon_audit_lost_total %llu\n"
                 "# TYPE fetalmon_resident_bytes gauge\nfetalmon_resident_bytes %zu\n"
                 "# TYPE fetalmon_heap_in_use_bytes gauge\nfetalmon_heap_in_use_bytes %zu\n"
                 "# TYPE fetalmon_heap_free_bytes gauge\nfetalmon_heap_free_bytes %zu\n"
                 "# TYPE fetalmon_heap_mmap_bytes gauge\nfetalmon_heap_mmap_bytes %zu\n"
                 "# TYPE fetalmon_heap_trims_total counter\nfetalmon_heap_trims_total %llu\n"
                 "# TYPE fetalmon_heap_trimmed_bytes_total counter\n"
                 "fetalmon_heap_trimmed_bytes_total %llu\n"
                 "# TYPE fetalmon_heap_trim_seconds summary\n"
                 "fetalmon_heap_trim_seconds_sum %.4f\nfetalmon_heap_trim_seconds_max %.4f\n",
                 (unsigned long long)srv->n_requests, (unsigned long long)srv->n_refused_busy,
                 (unsigned long long)srv->n_uploads,
                 srv->pipes ? fm_livepipes_count(srv->pipes) : (size_t)0, srv->n_viewers,
                 fm_workq_pending(srv->api_q),
                 fm_workq_pending(srv->analysis_q), fm_workq_pending(srv->ingest_q) + fm_ingest_waiting(srv),
                 fm_bus_depth(srv->bus), fm_bus_dropped(srv->bus),
                 (double)atomic_load(&srv->api.analysis_ms_total) / 1000.0,
                 (unsigned long long)atomic_load(&srv->api.analyses_total), au_def, au_rep,
                 au_lost, ms->rss_bytes, ms->heap_in_use, ms->heap_free, ms->heap_mmap,
                 (unsigned long long)srv->n_trims, (unsigned long long)srv->trim_bytes_total,
                 srv->trim_ms_total / 1000.0, srv->trim_ms_max / 1000.0);
    o->status = 200;
    o->content_type = "text/plain; version=0.0.4";
    o->body = strndup(buf, (size_t)n);
    o->len = o->body ? (size_t)n : 0;
}

/* A new request: everything the worker needs is copied out of lws's header storage now. */
static int on_http(fm_server *srv, pss *p, struct lws *wsi)
{
    p->wsi = wsi;
    p->state = ST_IDLE;
    p->upload_fd = -1;
    fm_multipart_destroy(p->mp);
    p->mp = NULL;
    p->body_expected = p->body_got = 0;
    p->sent = 0;
    p->close_after = 0;
    p->t0_ms = fm_now_ms();
    p->job = calloc(1, sizeof *p->job);
    if (!p->job)
        return -1;
    p->job->srv = srv;
    p->job->job.run = job_run;
    p->job->job.done = job_done;
    fm_http_req *r = &p->job->req;

    char *uri = NULL;
    int uri_len = 0;
    int m = lws_http_get_uri_and_method(wsi, &uri, &uri_len);
    r->method = m < 0 ? FM_M_OTHER : method_of(m);
    lws_get_peer_simple(wsi, r->peer, sizeof r->peer);
    int64_t clen = content_length(wsi);
    if (clen > 0)
        p->body_expected = clen;

    if (uri_len <= 0 || uri_len >= (int)sizeof r->path) {
        respond_now(p, 414, "uri_too_long", "the path is too long");
        return 0;
    }
    memcpy(r->path, uri, (size_t)uri_len);
    r->path[uri_len] = 0;
    copy_args(wsi, r);
    copy_session_cookie(wsi, r);
    if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_RANGE) > 0 &&
        lws_hdr_copy(wsi, r->range, sizeof r->range, WSI_TOKEN_HTTP_RANGE) < 0)
        snprintf(r->range, sizeof r->range, "invalid");
    int alen = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
    if (alen >= (int)sizeof r->authorization)
        snprintf(r->authorization, sizeof r->authorization, "invalid"); /* answered 401 */
    else if (alen > 0)
        lws_hdr_copy(wsi, r->authorization, sizeof r->authorization, WSI_TOKEN_HTTP_AUTHORIZATION);

    if (!strcmp(r->path, "/health")) {
        fm_http_resp *o = &p->job->resp;
        o->status = srv->ready ? 200 : 503;
        o->body = strdup(srv->ready ? "{\"status\":\"ok\"}" : "{\"status\":\"starting\"}");
        o->len = o->body ? strlen(o->body) : 0;
        p->state = ST_HEADERS;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (!strcmp(r->path, "/metrics") && r->method == FM_M_GET) {
        metrics(srv, &p->job->resp);
        p->state = ST_HEADERS;
        lws_callback_on_writable(wsi);
        return 0;
    }
    if (strncmp(r->path, "/api/", 5)) {
        respond_now(p, 404, "not_found", "no such route");
        return 0;
    }
    if (r->method == FM_M_OTHER) {
        respond_now(p, 405, "method_not_allowed", "use GET, POST or DELETE");
        return 0;
    }
    if (r->method != FM_M_POST) {
        dispatch(srv, p);
        return 0;
    }
    /* POST: a body of announced length (no chunked uploads), within its limit. */
    if (clen < 0) {
        respond_now(p, 411, "length_required", "a POST needs a Content-Length");
        p->close_after = 1;
        return 0;
    }
    /* Recording bytes (a whole file, or the next piece of a resumable upload) go to disk as
     * they arrive; everything else is JSON held in memory. */
    int upload = !strcmp(r->path, "/api/recordings") || !strncmp(r->path, "/api/uploads/", 13);
    int64_t limit = upload ? srv->cfg.max_upload_bytes : srv->cfg.max_json_bytes;
    if (clen > limit) {
        respond_now(p, 413, "too_large",
                    upload ? "the recording exceeds the upload limit"
                           : "the request body is too large");
        return 0;
    }
    if (upload) {
        if (!r->authorization[0]) { /* no need to receive a file nobody may send */
            respond_now(p, 401, "unauthorized", "sign in first (Authorization: Bearer TOKEN)");
            return 0;
        }
        char boundary[FM_MULTIPART_BOUNDARY_MAX + 1];
        if (!strcmp(r->path, "/api/recordings"))
            form_boundary(wsi, boundary, sizeof boundary);
        else
            boundary[0] = 0;
        if (!strcmp(boundary, "-")) {
            respond_now(p, 400, "bad_request", "multipart/form-data needs a boundary (1..70)");
            return 0;
        }
        if (boundary[0] && !(p->mp = fm_multipart_create(boundary))) {
            respond_now(p, 503, "busy", "out of memory");
            return 0;
        }
        p->file_bytes = 0;
        if (open_upload(srv, p) != 0) {
            respond_now(p, 507, "storage_full", "the recording cannot be received now");
            return 0;
        }
        srv->n_uploads++;
    } else {
        r->body = malloc((size_t)clen + 1);
        if (!r->body) {
            respond_now(p, 503, "busy", "out of memory");
            return 0;
        }
        r->body[0] = 0;
    }
    p->state = ST_BODY;
    return 0;
}

/* Closes and removes the streamed upload (refused or failed). */
static void drop_upload(pss *p)
{
    fm_http_req *r = &p->job->req;
    if (p->upload_fd >= 0)
        close(p->upload_fd);
    p->upload_fd = -1;
    if (r->upload_tmp[0])
        unlink(r->upload_tmp);
    r->upload_tmp[0] = 0;
    fm_multipart_destroy(p->mp);
    p->mp = NULL;
}

/* Appends upload bytes to the temp file (also the multipart parser's sink); -1 when the disk
 * refuses. */
static int write_upload(void *user, const char *in, size_t len)
{
    pss *p = user;
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(p->upload_fd, in + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            close(p->upload_fd); /* the caller sees upload_fd < 0: 507, not 400 */
            p->upload_fd = -1;
            return -1;
        }
        off += (size_t)n;
    }
    p->file_bytes += (int64_t)len;
    return 0;
}

static int on_body(fm_server *srv, pss *p, const char *in, size_t len)
{
    if (p->state != ST_BODY || !p->job || !len || !in)
        return 0; /* answered early (the rest of the body is ignored), or an empty body */
    if (p->body_got + (int64_t)len > p->body_expected)
        len = (size_t)(p->body_expected - p->body_got); /* lws never gives more; be sure */
    fm_http_req *r = &p->job->req;
    if (p->upload_fd >= 0) {
        /* write() into the page cache: short and non-blocking in practice; the fsync that
         * makes it durable happens on a worker before the client is answered. A form upload
         * goes through its parser: only the file part's bytes are written. */
        int rc = p->mp ? (fm_multipart_feed(p->mp, in, len, write_upload, p) == FM_MP_ERROR ? -2
                                                                                         : 0)
                       : write_upload(p, in, len);
        if (rc == -2 && p->upload_fd >= 0) { /* the parser, not the disk */
            drop_upload(p);
            respond_now(p, 400, "bad_request", "malformed multipart/form-data body");
            return 0;
        }
        if (rc != 0 || p->upload_fd < 0) {
            drop_upload(p);
            respond_now(p, 507, "storage_full", "the recording could not be written");
            return 0;
        }
    } else if (r->body) {
        memcpy(r->body + p->body_got, in, len);
        r->body[p->body_got + (int64_t)len] = 0;
    }
    p->body_got += (int64_t)len;
    (void)srv;
    return 0;
}

static int on_body_done(fm_server *srv, pss *p)
{
    if (p->state != ST_BODY || !p->job)
        return 0;
    fm_http_req *r = &p->job->req;
    if (p->upload_fd >= 0) {
        if (close(p->upload_fd) != 0) {
            p->upload_fd = -1;
            respond_now(p, 507, "storage_full", "the recording could not be written");
            return 0;
        }
        p->upload_fd = -1;
        r->upload_bytes = p->body_got;
        if (p->mp) {
            int complete = fm_multipart_status_of(p->mp) == FM_MP_DONE &&
                           fm_multipart_has_file(p->mp);
            /* The form's file name gives the kind, unless ?name= says otherwise. */
            if (complete && !r->q_name[0])
                snprintf(r->q_name, sizeof r->q_name, "%.*s", (int)sizeof r->q_name - 1,
                         fm_multipart_filename(p->mp));
            r->upload_bytes = p->file_bytes;
            fm_multipart_destroy(p->mp);
            p->mp = NULL;
            if (!complete) {
                unlink(r->upload_tmp);
                r->upload_tmp[0] = 0;
                respond_now(p, 400, "bad_request",
                            "the multipart/form-data body is truncated or has no file part");
                return 0;
            }
        }
    } else {
        r->body_len = (size_t)p->body_got;
    }
    dispatch(srv, p);
    return 0;
}

static int write_headers(fm_server *srv, pss *p, struct lws *wsi)
{
    fm_http_resp *o = &p->job->resp;
    unsigned char *start = srv->wbuf + LWS_PRE, *ptr = start,
                  *end = srv->wbuf + sizeof srv->wbuf - 1;
    if (lws_add_http_common_headers(wsi, (unsigned)o->status,
                                    o->content_type ? o->content_type : "application/json", o->len,
                                    &ptr, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
                                    (const unsigned char *)"no-store", 8, &ptr, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)"nosniff", 7, &ptr, end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"content-security-policy:",
                                    (const unsigned char *)"default-src 'none'", 18, &ptr, end))
        return -1;
    if (o->header_name[0] && lws_add_http_header_by_name(wsi, (const unsigned char *)o->header_name,
                                                         (const unsigned char *)o->header_value,
                                                         (int)strlen(o->header_value), &ptr, end))
        return -1;
    if (o->has_file && lws_add_http_header_by_name(wsi, (const unsigned char *)"accept-ranges:",
                                                   (const unsigned char *)"bytes", 5, &ptr, end))
        return -1;
    if (o->content_range[0] &&
        lws_add_http_header_by_name(
            wsi, (const unsigned char *)"content-range:", (const unsigned char *)o->content_range,
            (int)strlen(o->content_range), &ptr, end))
        return -1;
    if (p->close_after && lws_add_http_header_by_name(wsi, (const unsigned char *)"connection:",
                                                      (const unsigned char *)"close", 5, &ptr, end))
        return -1;
    if (lws_finalize_write_http_header(wsi, start, &ptr, end))
        return -1;
    p->state = ST_BODY_OUT;
    p->sent = 0;
    lws_callback_on_writable(wsi);
    return 0;
}

static void log_request(pss *p)
{
    static const char *const m[] = {"OTHER", "GET", "POST", "DELETE"};
    const fm_http_req *r = &p->job->req;
    if (!strcmp(r->path, "/health") || !strcmp(r->path, "/metrics"))
        return; /* probes would drown the log */
    char path[160], extra[320];
    fm_log_path(r->path, path, sizeof path);
    snprintf(extra, sizeof extra,
             "\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"bytes\":%zu,\"ms\":%lld",
             m[r->method], path, p->job->resp.status, p->job->resp.len,
             (long long)(fm_now_ms() - p->t0_ms));
    fm_log("info", "http", extra);
}

/* One chunk of the response body per WRITEABLE; the last one ends the transaction. */
static int write_body(fm_server *srv, pss *p, struct lws *wsi)
{
    fm_http_resp *o = &p->job->resp;
    size_t left = o->len - p->sent, n = left < FM_WRITE_CHUNK ? left : FM_WRITE_CHUNK;
    int last = n == left;
    if (o->has_file) {
        /* A page-cache read of one chunk, as libwebsockets' own file serving does; the open,
         * the access check and the range were settled on a worker. */
        ssize_t got = pread(o->file_fd, srv->wbuf + LWS_PRE, n, o->file_off + (off_t)p->sent);
        if (got != (ssize_t)n)
            return -1; /* the file changed under us: drop the connection, never send junk */
    } else {
        memcpy(srv->wbuf + LWS_PRE, o->body + p->sent, n);
    }
    if (lws_write(wsi, srv->wbuf + LWS_PRE, n, last ? LWS_WRITE_HTTP_FINAL : LWS_WRITE_HTTP) !=
        (int)n)
        return -1;
    p->sent += n;
    if (!last) {
        lws_callback_on_writable(wsi);
        return 0;
    }
    int close_after = p->close_after;
    log_request(p);
    job_free(p->job);
    p->job = NULL;
    p->state = ST_IDLE;
    if (close_after)
        return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* The connection is gone: a job a worker holds is orphaned (freed when it comes back). */
static void on_closed(pss *p)
{
    if (p->upload_fd >= 0) {
        close(p->upload_fd);
        p->upload_fd = -1;
    }
    fm_multipart_destroy(p->mp);
    p->mp = NULL;
    if (!p->job)
        return;
    if (p->state == ST_WORKER)
        p->job->owner = NULL;
    else
        job_free(p->job);
    p->job = NULL;
    p->state = ST_IDLE;
}

int fm_http_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    pss *p = user;
    fm_server *srv = lws_context_user(lws_get_context(wsi));
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
        return 1; /* a WebSocket upgrade must name its protocol (fm-live ...) */
    case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
        if (p) {
            memset(p, 0, sizeof *p);
            p->upload_fd = -1;
        }
        break;
    case LWS_CALLBACK_HTTP:
        if (p->job) /* a pipelined request before the previous answer: not supported */
            return -1;
        return on_http(srv, p, wsi);
    case LWS_CALLBACK_HTTP_BODY: return on_body(srv, p, in, len);
    case LWS_CALLBACK_HTTP_BODY_COMPLETION: return on_body_done(srv, p);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        if (!p || !p->job)
            return 0;
        if (p->state == ST_HEADERS)
            return write_headers(srv, p, wsi);
        if (p->state == ST_BODY_OUT)
            return write_body(srv, p, wsi);
        return 0;
    case LWS_CALLBACK_CLOSED_HTTP:
    case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
        if (p)
            on_closed(p);
        break;
    case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
        /* Woken by a worker or the bus (lws_cancel_service). */
        if (srv && srv->api_q) {
            fm_workq_drain(srv->api_q);
            fm_workq_drain(srv->analysis_q);
            fm_workq_drain(srv->ingest_q);
            if (srv->live_q)
                fm_workq_drain(srv->live_q);
            fm_bus_dispatch(srv->bus);
        }
        break;
    default: break;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
}
