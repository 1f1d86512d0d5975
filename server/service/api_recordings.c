/* The recording routes: upload (commit the streamed temp file, durable before acknowledged),
 * detail with the analysis JSON, and a patient's list. Run on workers. See api.h, docs/api.md. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_internal.h"
#include "files.h"

/* What an upload may be: the engine's inputs (audio through libsndfile, or trace files). */
static const struct {
    const char *ext;
    const char *magic; /* first bytes, or NULL: the engine's reader checks the content */
    size_t magic_len;
} upload_kinds[] = {
    {".wav", "RIFF", 4}, {".flac", "fLaC", 4}, {".ogg", "OggS", 4},
    {".fhr", NULL, 0},   {".fhrm", NULL, 0},   {".csv", NULL, 0},
};

int api_upload_kind(const char *name)
{
    const char *dot = strrchr(name, '.');
    if (!dot)
        return -1;
    for (size_t i = 0; i < sizeof upload_kinds / sizeof upload_kinds[0]; i++)
        if (!strcasecmp(dot, upload_kinds[i].ext))
            return (int)i;
    return -1;
}

const char *api_upload_kind_ext(int kind)
{
    return upload_kinds[kind].ext;
}

/* Content check: the first bytes match the announced kind (audio magic numbers; CSV is text). */
int api_upload_content_ok(const char *path, int kind)
{
    unsigned char buf[512];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf);
    close(fd);
    if (n <= 0)
        return 0;
    if (upload_kinds[kind].magic)
        return (size_t)n >= upload_kinds[kind].magic_len &&
               !memcmp(buf, upload_kinds[kind].magic, upload_kinds[kind].magic_len);
    if (!strcmp(upload_kinds[kind].ext, ".csv"))
        return memchr(buf, 0, (size_t)n) == NULL;
    return 1;
}

cJSON *api_recording_json(fm_store *s, const fm_recording *r)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", r->id);
    fm_user u;
    cJSON_AddStringToObject(j, "patient",
                            fm_store_user_by_id(s, r->patient_id, &u) == FM_SVC_OK ? u.name : "");
    cJSON_AddStringToObject(j, "kind", r->kind);
    cJSON_AddStringToObject(j, "source_name", r->source_name);
    cJSON_AddNumberToObject(j, "size_bytes", (double)r->size_bytes);
    cJSON_AddNumberToObject(j, "created_ms", (double)r->created_ms);
    cJSON_AddNumberToObject(j, "updated_ms", (double)r->updated_ms);
    cJSON_AddStringToObject(j, "status", fm_rec_status_name(r->status));
    cJSON_AddNumberToObject(j, "progress", r->progress);
    if (r->status == FM_REC_FAILED)
        cJSON_AddStringToObject(j, "error", r->error);
    return j;
}

/* Which patient an upload is for: the device's, the signed-in patient herself, or the
 * ?patient= of a clinician on her care team. Fills resp and returns -1 when refused. */
int api_upload_patient(fm_store *s, const fm_principal *p, const fm_http_req *req,
                       int64_t *patient_id, fm_http_resp *resp)
{
    if (p->kind == FM_TOKEN_DEVICE) {
        *patient_id = p->device_patient_id;
    } else if (p->user.role == FM_ROLE_PATIENT) {
        *patient_id = p->user.id;
    } else if (p->user.role == FM_ROLE_CLINICIAN) {
        fm_user u;
        if (!req->q_patient[0]) {
            fm_api_error(resp, 400, "bad_request", "a clinician names the patient: ?patient=NAME");
            return -1;
        }
        fm_svc_status rc = fm_user_name_valid(req->q_patient)
                               ? fm_store_user_by_name(s, req->q_patient, &u, NULL, 0)
                               : FM_SVC_NOTFOUND;
        if (rc == FM_SVC_OK && u.role != FM_ROLE_PATIENT)
            rc = FM_SVC_NOTFOUND;
        if (rc != FM_SVC_OK && rc != FM_SVC_NOTFOUND) {
            api_store_error(resp, rc);
            return -1;
        }
        *patient_id = rc == FM_SVC_OK ? u.id : -1;
    } else {
        fm_api_error(resp, 403, "forbidden", "administrators do not upload recordings");
        return -1;
    }
    /* A patient or device naming someone else is refused like an unknown patient. */
    if (p->user.role == FM_ROLE_PATIENT && req->q_patient[0] &&
        strcmp(req->q_patient, p->user.name))
        *patient_id = -1;
    fm_svc_status rc =
        *patient_id > 0 ? fm_access_patient(s, p, *patient_id, FM_ACCESS_INGEST) : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_NOTFOUND) {
        fm_api_error(resp, 404, "not_found", "no such patient");
        api_audit(s, p, req, "recording.upload.denied", req->q_patient, 404);
        return -1;
    }
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        return -1;
    }
    return 0;
}

void api_recording_accepted(fm_api *api, fm_store *s, const fm_principal *p,
                            const fm_http_req *req, const fm_recording *r)
{
    char object[64];
    snprintf(object, sizeof object, "recording:%s", r->id);
    api_audit(s, p, req, "recording.upload", object, 201);
    /* A full analysis queue leaves the row queued: it is picked up again at the next start. */
    (void)fm_api_queue_analysis(api, r->id);
    fm_api_publish_recording(api, s, r);
}

void api_recordings_upload(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                           fm_http_resp *resp)
{
    int64_t patient_id;
    if (api_upload_patient(s, p, req, &patient_id, resp) != 0)
        return;
    if (!req->upload_tmp[0] || req->upload_bytes <= 0) {
        fm_api_error(resp, 400, "empty_body", "the body must be the recording file");
        return;
    }
    fm_recording r;
    memset(&r, 0, sizeof r);
    fm_safe_name(req->q_name[0] ? req->q_name : "recording.wav", r.source_name,
                 sizeof r.source_name);
    int kind = api_upload_kind(r.source_name);
    if (kind < 0) {
        fm_api_error(resp, 415, "unsupported_type",
                     "?name= must end in .wav, .flac, .ogg, .fhr, .fhrm or .csv");
        return;
    }
    if (!api_upload_content_ok(req->upload_tmp, kind)) {
        fm_api_error(resp, 415, "bad_content", "the body does not look like its file type");
        return;
    }
    fm_random_id(r.id);
    snprintf(r.file, sizeof r.file, "recordings/%s%s", r.id, upload_kinds[kind].ext);
    char dst[FM_PATH_MAX + FM_TEXT_MAX];
    snprintf(dst, sizeof dst, "%s/%s", api->cfg->data_dir, r.file);
    /* Durable before acknowledged: the bytes are fsynced and renamed into place, then the row
     * commits (synchronous=FULL); only then does the client get its id. A crash in between
     * leaves at worst an orphan file, never a row without its bytes. */
    if (fm_file_commit(req->upload_tmp, dst) != FM_SVC_OK) {
        fm_api_error(resp, 507, "storage_full", "the recording could not be stored");
        return;
    }
    r.patient_id = patient_id;
    r.uploaded_by = p->user.id;
    r.created_ms = r.updated_ms = fm_now_ms();
    snprintf(r.kind, sizeof r.kind, "upload");
    r.size_bytes = req->upload_bytes;
    r.status = FM_REC_QUEUED;
    fm_svc_status rc = fm_store_recording_add(s, &r);
    if (rc != FM_SVC_OK) {
        unlink(dst);
        api_store_error(resp, rc);
        return;
    }
    api_recording_accepted(api, s, p, req, &r);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", r.id);
    cJSON_AddStringToObject(j, "status", fm_rec_status_name(r.status));
    cJSON_AddNumberToObject(j, "size_bytes", (double)r.size_bytes);
    api_json(resp, 201, j);
}

/* Reads a whole analysis file (written by the engine, so its size is ours, not a peer's). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *buf = NULL;
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && st.st_size > 0 && (buf = malloc((size_t)st.st_size + 1))) {
        *len = fread(buf, 1, (size_t)st.st_size, f);
        buf[*len] = 0;
    }
    fclose(f);
    return buf;
}

int api_visible_recording(fm_store *s, const fm_principal *p, const fm_http_req *req,
                          const char *id, fm_recording *r, fm_http_resp *resp)
{
    fm_svc_status rc = strlen(id) == 16 && strspn(id, "0123456789abcdef") == 16
                           ? fm_store_recording_get(s, id, r)
                           : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK)
        rc = fm_access_patient(s, p, r->patient_id, FM_ACCESS_CLINICAL);
    if (rc == FM_SVC_NOTFOUND) {
        char object[64];
        snprintf(object, sizeof object, "recording:%.24s", id);
        fm_api_error(resp, 404, "not_found", "no such recording");
        api_audit(s, p, req, "recording.denied", object, 404);
        return -1;
    }
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        return -1;
    }
    return 0;
}

void api_recordings_get(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                        const char *id, fm_http_resp *resp)
{
    fm_recording r;
    char object[64];
    snprintf(object, sizeof object, "recording:%.24s", id);
    if (api_visible_recording(s, p, req, id, &r, resp) != 0)
        return;
    cJSON *j = api_recording_json(s, &r);
    char *meta = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    char *analysis = NULL;
    size_t alen = 0;
    if (r.status == FM_REC_DONE && r.analysis_file[0]) {
        char path[FM_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", api->cfg->data_dir, r.analysis_file);
        analysis = read_file(path, &alen);
        while (alen && (analysis[alen - 1] == '\n' || analysis[alen - 1] == ' '))
            alen--;
    }
    if (!meta || (r.status == FM_REC_DONE && !analysis)) {
        free(meta);
        free(analysis);
        fm_api_error(resp, 500, "storage", "the analysis could not be read");
        return;
    }
    if (analysis) {
        /* Splice: {meta...,"analysis":<engine JSON>} without re-parsing the large document. */
        size_t mlen = strlen(meta);
        char *out = malloc(mlen + alen + 16);
        if (out) {
            memcpy(out, meta, mlen - 1);
            size_t n = mlen - 1;
            memcpy(out + n, ",\"analysis\":", 12);
            n += 12;
            memcpy(out + n, analysis, alen);
            n += alen;
            out[n++] = '}';
            out[n] = 0;
        }
        free(meta);
        meta = out;
        free(analysis);
    }
    fm_http_resp_free(resp);
    resp->status = meta ? 200 : 500;
    resp->body = meta ? meta : strdup("{\"error\":\"internal\",\"message\":\"out of memory\"}");
    resp->len = resp->body ? strlen(resp->body) : 0;
    api_audit(s, p, req, "recording.read", object, resp->status);
}

typedef struct rec_list_ctx {
    fm_store *s;
    cJSON *arr;
} rec_list_ctx;

static void add_recording(void *ctx, const fm_recording *r)
{
    rec_list_ctx *c = ctx;
    cJSON_AddItemToArray(c->arr, api_recording_json(c->s, r));
}

void api_recordings_list(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                         const fm_patient *pt, fm_http_resp *resp)
{
    (void)api;
    cJSON *j = cJSON_CreateObject();
    rec_list_ctx c = {s, cJSON_AddArrayToObject(j, "recordings")};
    fm_svc_status rc = fm_store_recording_list(s, pt->user_id, add_recording, &c);
    char object[96];
    snprintf(object, sizeof object, "patient:%s", pt->name);
    api_list_reply(s, p, req, rc, j, "recording.list", object, resp);
}

/* ---- GET /api/recordings/ID/samples?from=K[&limit=N] ---- */

#define SAMPLES_HZ 4              /* the engine's trace rate */
#define SAMPLES_LIMIT_DEFAULT 2400 /* 10 min */
#define SAMPLES_LIMIT_MAX 14400    /* 1 h */

static int parse_count(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s[0] || strspn(s, "0123456789") != strlen(s) || strlen(s) > 15)
        return -1;
    long long v = strtoll(s, NULL, 10);
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

void api_recordings_samples(fm_api *api, fm_store *s, const fm_principal *p,
                            const fm_http_req *req, const char *id, fm_http_resp *resp)
{
    (void)api;
    int64_t from = 0, limit = SAMPLES_LIMIT_DEFAULT;
    if ((req->q_from[0] && parse_count(req->q_from, 0, INT64_MAX / 2, &from) != 0) ||
        (req->q_limit[0] && parse_count(req->q_limit, 1, SAMPLES_LIMIT_MAX, &limit) != 0)) {
        fm_api_error(resp, 400, "bad_request", "from must be >= 0, limit 1..14400");
        return;
    }
    fm_recording r;
    if (api_visible_recording(s, p, req, id, &r, resp) != 0)
        return;
    char object[64];
    snprintf(object, sizeof object, "recording:%s", r.id);
    if (strcmp(r.kind, "stream")) {
        fm_api_error(resp, 409, "conflict",
                     "an uploaded recording has no live samples: its trace is in its analysis");
        api_audit(s, p, req, "recording.samples", object, 409);
        return;
    }
    /* One more than asked: tells whether more are stored. */
    size_t cap = (size_t)limit + 1, n = 0;
    fm_sample_row *rows = malloc(cap * sizeof *rows);
    if (!rows) {
        fm_api_error(resp, 503, "busy", "out of memory");
        return;
    }
    fm_svc_status rc = fm_store_samples_read(s, r.id, from, from + (int64_t)cap, rows, cap, &n);
    if (rc != FM_SVC_OK) {
        free(rows);
        api_store_error(resp, rc);
        return;
    }
    /* Contiguous from the first stored sample at or after `from` (the store never has gaps
     * in a stream's trace; should one appear, the answer stops before it). */
    int64_t k0 = n ? rows[0].k : from;
    size_t m = 0;
    while (m < n && m < (size_t)limit && rows[m].k == k0 + (int64_t)m)
        m++;
    int more = m < n;
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "recording", r.id);
    cJSON_AddNumberToObject(j, "hz", SAMPLES_HZ);
    cJSON_AddNumberToObject(j, "from", (double)k0);
    cJSON_AddNumberToObject(j, "next", (double)(k0 + (int64_t)m));
    cJSON *fhr = cJSON_AddArrayToObject(j, "fhr");
    cJSON *q = cJSON_AddArrayToObject(j, "quality");
    cJSON *st = cJSON_AddArrayToObject(j, "state");
    for (size_t i = 0; i < m; i++) {
        if (isfinite(rows[i].fhr_bpm))
            cJSON_AddItemToArray(fhr, cJSON_CreateNumber(round(rows[i].fhr_bpm * 100.0) / 100.0));
        else
            cJSON_AddItemToArray(fhr, cJSON_CreateNull());
        cJSON_AddItemToArray(q, cJSON_CreateNumber(round(rows[i].quality * 1000.0) / 1000.0));
        cJSON_AddItemToArray(st, cJSON_CreateNumber(rows[i].state));
    }
    free(rows);
    /* done: the stream is closed and every stored sample from `from` on is in this answer. */
    cJSON_AddBoolToObject(j, "done", r.status != FM_REC_RECEIVING && !more);
    api_json(resp, 200, j);
    api_audit(s, p, req, "recording.samples", object, 200);
}
