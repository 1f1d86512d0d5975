/* Resumable uploads (docs/api.md "Resumable uploads"): a large recording sent in pieces over a
 * bad mobile network. POST /api/uploads opens one (same rights, kinds and size limit as
 * POST /api/recordings); each POST /api/uploads/ID?offset=K appends the next bytes, which are
 * fdatasynced into DATA/uploads/ID.part before the store's offset moves and the client is
 * answered; the last piece turns the file into a recording exactly as a whole upload would be.
 *
 * What survives a crash is the stored offset: the part file may hold more (bytes written but
 * never acknowledged) and is cut back to the offset at the next start and before every append.
 * Appends to one upload are serialised by flock() on its part file, so two requests racing
 * with the same offset never interleave their bytes: the second sees the moved offset (409).
 *
 * Runs on API workers (file writes, fsync, the store). Not for the streaming of the request
 * body off the socket (http.c puts each piece in DATA/incoming/ first) nor for whole uploads
 * (api_recordings.c). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alertsvc_tech.h"
#include "api_internal.h"
#include "files.h"
#include "log.h"
#include "upload.h"

#define UPLOAD_PURGE_AFTER_MS (30LL * 24 * 3600 * 1000) /* rows of finished uploads kept */

static void part_path(const char *data_dir, const char *id, char *out, size_t cap)
{
    snprintf(out, cap, "%s/uploads/%s.part", data_dir, id);
}

static void recording_path(const char *data_dir, const fm_upload *u, char *rel, size_t rel_cap,
                           char *abs, size_t abs_cap)
{
    int kind = api_upload_kind(u->source_name);
    snprintf(rel, rel_cap, "recordings/%s%s", u->recording_id,
             kind >= 0 ? api_upload_kind_ext(kind) : "");
    snprintf(abs, abs_cap, "%s/%s", data_dir, rel);
}

static int id_valid(const char *id)
{
    return strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16;
}

/* A non-negative decimal integer, nothing else. */
static int parse_offset(const char *s, int64_t *out)
{
    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 18)
        return -1;
    *out = strtoll(s, NULL, 10);
    return 0;
}

static cJSON *upload_json(const fm_upload *u)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "upload", u->id);
    cJSON_AddNumberToObject(j, "offset", (double)u->offset);
    cJSON_AddNumberToObject(j, "size_bytes", (double)u->size_bytes);
    cJSON_AddStringToObject(j, "state", fm_upload_state_name(u->state));
    if (u->state == FM_UPLOAD_DONE)
        cJSON_AddStringToObject(j, "id", u->recording_id);
    return j;
}

static void audit_upload(fm_store *s, const fm_principal *p, const fm_http_req *req,
                         const char *action, const char *id, int status)
{
    char object[48];
    snprintf(object, sizeof object, "upload:%.24s", id);
    api_audit(s, p, req, action, object, status);
}

/* The owner: the patient herself, her device, or the clinician who opened it (while she is
 * still on the care team). */
static int upload_visible(fm_store *s, const fm_principal *p, const fm_upload *u)
{
    if (p->kind == FM_TOKEN_DEVICE)
        return p->device_patient_id == u->patient_id;
    if (p->user.role == FM_ROLE_PATIENT)
        return p->user.id == u->patient_id;
    if (p->user.role == FM_ROLE_CLINICIAN)
        return p->user.id == u->opened_by &&
               fm_access_patient(s, p, u->patient_id, FM_ACCESS_INGEST) == FM_SVC_OK;
    return 0;
}

/* ---- POST /api/uploads ---- */

void api_uploads_open(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                      fm_http_resp *resp)
{
    cJSON *in = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    if (!cJSON_IsObject(in)) {
        fm_api_error(resp, 400, "bad_json", "the body must be a JSON object");
        goto out;
    }
    const cJSON *jn = cJSON_GetObjectItemCaseSensitive(in, "name");
    const cJSON *js = cJSON_GetObjectItemCaseSensitive(in, "size_bytes");
    if ((jn && !cJSON_IsString(jn)) || !cJSON_IsNumber(js) || !isfinite(js->valuedouble) ||
        js->valuedouble < 1 || js->valuedouble != floor(js->valuedouble) ||
        js->valuedouble > 9e15) {
        fm_api_error(resp, 400, "bad_request",
                     "\"size_bytes\" must be a positive integer, \"name\" a string");
        goto out;
    }
    int64_t patient_id;
    if (api_upload_patient(s, p, req, &patient_id, resp) != 0)
        goto out;
    fm_upload u;
    memset(&u, 0, sizeof u);
    u.size_bytes = (int64_t)js->valuedouble;
    if (u.size_bytes > api->cfg->max_upload_bytes) {
        fm_api_error(resp, 413, "too_large", "the recording exceeds the upload limit");
        goto out;
    }
    fm_safe_name(jn ? jn->valuestring : "recording.wav", u.source_name, sizeof u.source_name);
    if (api_upload_kind(u.source_name) < 0) {
        fm_api_error(resp, 415, "unsupported_type",
                     "\"name\" must end in .wav, .flac, .ogg, .fhr, .fhrm or .csv");
        goto out;
    }
    fm_random_id(u.id);
    fm_random_id(u.recording_id);
    u.patient_id = patient_id;
    u.opened_by = p->user.id;
    u.created_ms = u.updated_ms = fm_now_ms();
    u.state = FM_UPLOAD_OPEN;
    /* The (empty) part file exists before the row that promises it. */
    char part[FM_PATH_MAX + 64], dir[FM_PATH_MAX + 16];
    part_path(api->cfg->data_dir, u.id, part, sizeof part);
    snprintf(dir, sizeof dir, "%s/uploads", api->cfg->data_dir);
    int fd = open(part, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0600);
    if (fd < 0 || fsync(fd) != 0 || fm_dir_fsync(dir) != FM_SVC_OK) {
        if (fd >= 0) {
            close(fd);
            unlink(part);
        }
        fm_api_error(resp, 507, "storage_full", "the upload cannot be stored now");
        goto out;
    }
    close(fd);
    fm_svc_status rc = fm_store_upload_add(s, &u);
    if (rc != FM_SVC_OK) {
        unlink(part);
        api_store_error(resp, rc);
        goto out;
    }
    audit_upload(s, p, req, "upload.open", u.id, 201);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "upload", u.id);
    cJSON_AddNumberToObject(j, "offset", 0);
    cJSON_AddNumberToObject(j, "size_bytes", (double)u.size_bytes);
    api_json(resp, 201, j);
out:
    cJSON_Delete(in);
}

/* ---- appending ---- */

/* Copies len bytes of file src to dst at offset off. 0 on success. */
static int copy_bytes(const char *src, int dst, int64_t off, int64_t len)
{
    int in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0)
        return -1;
    enum { BUF = 64 * 1024 };
    char *buf = malloc(BUF);
    int rc = buf ? 0 : -1;
    while (rc == 0 && len > 0) {
        ssize_t n = read(in, buf, len < BUF ? (size_t)len : BUF);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = -1;
            break;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = pwrite(dst, buf + done, (size_t)(n - done), (off_t)off);
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                rc = -1;
                break;
            }
            done += w;
            off += w;
        }
        len -= n;
    }
    free(buf);
    close(in);
    return rc;
}

static void alert_incomplete(fm_api *api, const fm_upload *u, int on, const char *detail)
{
    fm_alertsvc_technical(api->alerts, u->patient_id, u->id, FM_ALERT_UPLOAD_INCOMPLETE, on,
                          detail);
}

/* Every byte is in: content check, the part file becomes recordings/RID.EXT, and the recording
 * row commits together with the upload's DONE state. The caller holds the part's lock. */
static void complete(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                     fm_upload *u, const char *part, fm_http_resp *resp)
{
    int kind = api_upload_kind(u->source_name);
    if (kind < 0 || !api_upload_content_ok(part, kind)) {
        /* Refused content is not kept: the upload is gone (404 from now on). */
        unlink(part);
        fm_store_upload_delete(s, u->id);
        if (u->incomplete)
            alert_incomplete(api, u, 0, "upload refused");
        fm_api_error(resp, 415, "bad_content", "the upload does not look like its file type");
        audit_upload(s, p, req, "upload.refused", u->id, 415);
        return;
    }
    fm_recording r;
    memset(&r, 0, sizeof r);
    char dst[FM_PATH_MAX + FM_TEXT_MAX];
    recording_path(api->cfg->data_dir, u, r.file, sizeof r.file, dst, sizeof dst);
    if (fm_file_commit(part, dst) != FM_SVC_OK) {
        fm_api_error(resp, 507, "storage_full", "the recording could not be stored");
        return;
    }
    snprintf(r.id, sizeof r.id, "%s", u->recording_id);
    snprintf(r.source_name, sizeof r.source_name, "%s", u->source_name);
    snprintf(r.kind, sizeof r.kind, "upload");
    r.patient_id = u->patient_id;
    r.uploaded_by = u->opened_by;
    r.created_ms = r.updated_ms = fm_now_ms();
    r.size_bytes = u->size_bytes;
    r.status = FM_REC_QUEUED;
    fm_svc_status rc = fm_store_upload_complete(s, u->id, &r);
    if (rc != FM_SVC_OK) {
        /* Back where it was: the upload stays open at its full length, and a repeated last
         * piece (0 bytes at offset = size_bytes) completes it. */
        rename(dst, part);
        api_store_error(resp, rc);
        return;
    }
    u->state = FM_UPLOAD_DONE;
    api_recording_accepted(api, s, p, req, &r);
    cJSON *j = upload_json(u);
    cJSON_AddStringToObject(j, "status", fm_rec_status_name(r.status));
    api_json(resp, 200, j);
}

/* POST /api/uploads/ID?offset=K with the next bytes (in req->upload_tmp). */
static void append(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                   fm_upload *u, fm_http_resp *resp)
{
    int64_t k, len = req->upload_tmp[0] ? req->upload_bytes : 0;
    if (parse_offset(req->q_offset, &k) != 0) {
        fm_api_error(resp, 400, "bad_request", "?offset=K (the bytes the server has) is required");
        return;
    }
    char part[FM_PATH_MAX + 64];
    part_path(api->cfg->data_dir, u->id, part, sizeof part);
    int fd = u->state == FM_UPLOAD_OPEN ? open(part, O_WRONLY | O_CLOEXEC) : -1;
    if (fd >= 0 && flock(fd, LOCK_EX) != 0) {
        close(fd);
        fd = -1;
    }
    /* Under the lock, the row as it is now (another piece may have moved it). */
    fm_svc_status rc = fm_store_upload_get(s, u->id, u);
    if (rc != FM_SVC_OK) {
        if (fd >= 0)
            close(fd);
        if (rc == FM_SVC_NOTFOUND)
            fm_api_error(resp, 404, "not_found", "no such upload");
        else
            api_store_error(resp, rc);
        return;
    }
    if (u->state != FM_UPLOAD_OPEN || fd < 0) {
        if (fd >= 0)
            close(fd);
        if (u->state == FM_UPLOAD_OPEN) {
            fm_api_error(resp, 500, "storage", "the upload's bytes are missing");
            return;
        }
        cJSON *j = upload_json(u);
        cJSON_AddStringToObject(j, "error", "conflict");
        cJSON_AddStringToObject(j, "message", "the upload is no longer open");
        api_json(resp, 409, j);
        audit_upload(s, p, req, "upload.chunk", u->id, 409);
        return;
    }
    if (k != u->offset) {
        close(fd);
        cJSON *j = cJSON_CreateObject();
        cJSON_AddStringToObject(j, "error", "offset_mismatch");
        cJSON_AddStringToObject(j, "message", "send the bytes from \"offset\" on");
        cJSON_AddNumberToObject(j, "offset", (double)u->offset);
        cJSON_AddStringToObject(j, "upload", u->id);
        cJSON_AddNumberToObject(j, "size_bytes", (double)u->size_bytes);
        api_json(resp, 409, j);
        audit_upload(s, p, req, "upload.chunk", u->id, 409);
        return;
    }
    if (len > u->size_bytes - k) {
        close(fd);
        fm_api_error(resp, 413, "too_large", "the bytes go past the announced size_bytes");
        audit_upload(s, p, req, "upload.chunk", u->id, 413);
        return;
    }
    if (len > 0) {
        /* Bytes past the offset were never acknowledged (a crash, a failed commit): cut. */
        if (ftruncate(fd, (off_t)k) != 0 || copy_bytes(req->upload_tmp, fd, k, len) != 0 ||
            fdatasync(fd) != 0) {
            close(fd);
            fm_api_error(resp, 507, "storage_full", "the bytes could not be stored");
            return;
        }
        int64_t now = fm_now_ms();
        rc = fm_store_upload_advance(s, u->id, k, k + len, now);
        if (rc != FM_SVC_OK) {
            close(fd);
            api_store_error(resp, rc == FM_SVC_NOTFOUND ? FM_SVC_IO : rc);
            return;
        }
        if (u->incomplete)
            alert_incomplete(api, u, 0, "the upload is progressing again");
        u->offset = k + len;
        u->updated_ms = now;
        u->incomplete = 0;
        audit_upload(s, p, req, "upload.chunk", u->id, 200);
    }
    if (u->offset == u->size_bytes)
        complete(api, s, p, req, u, part, resp);
    else
        api_json(resp, 200, upload_json(u));
    close(fd); /* releases the lock */
}

/* DELETE /api/uploads/ID */
static void cancel(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                   fm_upload *u, fm_http_resp *resp)
{
    char part[FM_PATH_MAX + 64];
    part_path(api->cfg->data_dir, u->id, part, sizeof part);
    int fd = open(part, O_WRONLY | O_CLOEXEC);
    if (fd >= 0)
        flock(fd, LOCK_EX);
    fm_svc_status rc = fm_store_upload_get(s, u->id, u);
    if (rc == FM_SVC_OK && u->state == FM_UPLOAD_OPEN) {
        rc = fm_store_upload_set_state(s, u->id, FM_UPLOAD_CANCELLED);
        if (rc == FM_SVC_OK) {
            unlink(part);
            u->state = FM_UPLOAD_CANCELLED;
            if (u->incomplete)
                alert_incomplete(api, u, 0, "upload cancelled");
        }
    }
    if (fd >= 0)
        close(fd);
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        return;
    }
    if (u->state == FM_UPLOAD_DONE) {
        cJSON *j = upload_json(u);
        cJSON_AddStringToObject(j, "error", "conflict");
        cJSON_AddStringToObject(j, "message", "the upload is complete: it is a recording now");
        api_json(resp, 409, j);
        audit_upload(s, p, req, "upload.cancel", u->id, 409);
        return;
    }
    api_json(resp, 200, upload_json(u));
    audit_upload(s, p, req, "upload.cancel", u->id, 200);
}

void api_uploads_id(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                    const char *id, fm_http_resp *resp)
{
    if (req->method == FM_M_OTHER) {
        fm_api_error(resp, 405, "method_not_allowed", "method not allowed on this route");
        snprintf(resp->header_name, sizeof resp->header_name, "Allow:");
        snprintf(resp->header_value, sizeof resp->header_value, "GET, POST, DELETE");
        return;
    }
    fm_upload u;
    fm_svc_status rc = id_valid(id) ? fm_store_upload_get(s, id, &u) : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK && !upload_visible(s, p, &u))
        rc = FM_SVC_NOTFOUND;
    if (rc == FM_SVC_NOTFOUND) {
        fm_api_error(resp, 404, "not_found", "no such upload");
        audit_upload(s, p, req, "upload.denied", id, 404);
        return;
    }
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        return;
    }
    switch (req->method) {
    case FM_M_GET:
        api_json(resp, 200, upload_json(&u));
        audit_upload(s, p, req, "upload.read", u.id, 200);
        break;
    case FM_M_POST: append(api, s, p, req, &u, resp); break;
    case FM_M_DELETE: cancel(api, s, p, req, &u, resp); break;
    default: break;
    }
}

/* ---- restart and housekeeping ---- */

typedef struct upload_list {
    fm_upload *v;
    size_t n, cap;
} upload_list;

static void collect(void *ctx, const fm_upload *u)
{
    upload_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fm_upload *v = realloc(l->v, cap * sizeof *v);
        if (!v)
            return;
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *u;
}

static void log_upload(const char *event, const fm_upload *u, int64_t on_disk)
{
    char extra[160];
    snprintf(extra, sizeof extra, "\"upload\":\"%s\",\"offset\":%lld,\"on_disk\":%lld", u->id,
             (long long)u->offset, (long long)on_disk);
    fm_log("error", event, extra);
}

void fm_uploads_recover(const char *data_dir, fm_store *s)
{
    upload_list l = {0};
    fm_store_upload_open_list(s, collect, &l);
    for (size_t i = 0; i < l.n; i++) {
        fm_upload *u = &l.v[i];
        char part[FM_PATH_MAX + 64], rel[FM_TEXT_MAX], dst[FM_PATH_MAX + FM_TEXT_MAX];
        part_path(data_dir, u->id, part, sizeof part);
        recording_path(data_dir, u, rel, sizeof rel, dst, sizeof dst);
        struct stat st;
        /* A crash between moving the finished file into recordings/ and the commit: the
         * upload is still open at its full length; the file goes back. */
        if (stat(part, &st) != 0 && u->offset == u->size_bytes && stat(dst, &st) == 0)
            rename(dst, part);
        if (stat(part, &st) != 0) {
            log_upload("upload_part_missing", u, -1);
            int fd = open(part, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
            if (fd >= 0)
                close(fd);
            fm_store_upload_advance(s, u->id, u->offset, 0, u->updated_ms);
            continue;
        }
        if (st.st_size > u->offset) {
            /* Written, never acknowledged: cut back to what the client was told. */
            if (truncate(part, (off_t)u->offset) != 0)
                log_upload("upload_truncate_failed", u, (int64_t)st.st_size);
        } else if (st.st_size < u->offset) {
            log_upload("upload_part_short", u, (int64_t)st.st_size);
            fm_store_upload_advance(s, u->id, u->offset, (int64_t)st.st_size, u->updated_ms);
        }
    }
    free(l.v);
    fm_store_upload_purge(s, fm_now_ms() - UPLOAD_PURGE_AFTER_MS);
}

void fm_uploads_sweep(fm_api *api, fm_store *s, int64_t now_ms)
{
    const fm_config *c = api->cfg;
    upload_list l = {0};
    if (!s || fm_store_upload_open_list(s, collect, &l) != FM_SVC_OK) {
        free(l.v);
        return;
    }
    for (size_t i = 0; i < l.n; i++) {
        fm_upload *u = &l.v[i];
        int64_t idle_ms = now_ms - u->updated_ms;
        if (idle_ms >= (int64_t)c->upload_expire_s * 1000) {
            char part[FM_PATH_MAX + 64];
            part_path(c->data_dir, u->id, part, sizeof part);
            int fd = open(part, O_WRONLY | O_CLOEXEC);
            if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) {
                close(fd); /* a piece is arriving right now: not idle after all */
                continue;
            }
            if (fm_store_upload_get(s, u->id, u) == FM_SVC_OK && u->state == FM_UPLOAD_OPEN &&
                now_ms - u->updated_ms >= (int64_t)c->upload_expire_s * 1000 &&
                fm_store_upload_set_state(s, u->id, FM_UPLOAD_EXPIRED) == FM_SVC_OK) {
                unlink(part);
                if (u->incomplete)
                    alert_incomplete(api, u, 0, "the upload expired and was deleted");
                fm_audit_entry e = {.t_ms = now_ms, .status = 0};
                snprintf(e.actor, sizeof e.actor, "system");
                snprintf(e.action, sizeof e.action, "upload.expired");
                snprintf(e.object, sizeof e.object, "upload:%s", u->id);
                snprintf(e.peer, sizeof e.peer, "server");
                fm_store_audit_add(s, &e);
            }
            if (fd >= 0)
                close(fd);
        } else if (!u->incomplete && idle_ms >= (int64_t)c->upload_incomplete_s * 1000) {
            char detail[160];
            snprintf(detail, sizeof detail, "%lld of %lld bytes received, none for %lld min",
                     (long long)u->offset, (long long)u->size_bytes,
                     (long long)(idle_ms / 60000));
            if (fm_store_upload_set_incomplete(s, u->id, 1) == FM_SVC_OK)
                alert_incomplete(api, u, 1, detail);
        }
    }
    free(l.v);
}
