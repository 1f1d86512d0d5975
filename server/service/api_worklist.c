/* GET /api/worklist: the clinician's worklist in one request. For each patient on her care team:
 * demographics with gestational age (from the due date), the live stream with the age of its
 * last data, the newest recordings, how many analysed recordings nobody has read yet, and the
 * open (raised, unacknowledged) alerts counted by priority. The web worklist used to make one
 * request per patient and per recording for this; the answer is the same data through the same
 * store interface and access rules (docs/api.md "Worklist").
 *
 * The audit of a worklist that the page re-reads every 15 s is bounded (docs/api.md "Worklist"):
 * one `worklist.view` row per answer, and one `worklist.read` row per (clinician, patient) when
 * the patient first appears in her worklist and then at most every FM_WORKLIST_AUDIT_S
 * (fm_worklist_audit, below), instead of one row per patient per refresh.
 *
 * Not for patients or administrators (403: the worklist is the care team's), not for the alert
 * list itself (GET /api/patients/NAME/alerts) nor for recordings' content. Runs on a worker. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "api_internal.h"

/* How many of a patient's newest recordings the worklist carries (the patient page has all). */
#define FM_WORKLIST_RECENT 5
/* Bounds of one answer: the live feed follows at most 64 patients per connection, the worklist
 * page shows more, but a care team larger than this is served by paging (not yet needed). */
#define FM_WORKLIST_MAX_PATIENTS 500

/* ---- the worklist's audit gate ---- */

/* At most this many (clinician, patient) pairs are remembered; beyond, every read is audited
 * (more rows, never fewer). 64k pairs: a 3 MB table. */
#define FM_WORKLIST_AUDIT_PAIRS 65536

typedef struct wl_pair {
    int64_t clinician_id, patient_id, t_ms; /* clinician_id 0: free slot */
} wl_pair;

struct fm_worklist_audit {
    pthread_mutex_t mu;
    int64_t interval_ms;
    wl_pair *v; /* open addressing, linear probing, cap a power of two */
    size_t cap, n;
};

fm_worklist_audit *fm_worklist_audit_create(int64_t interval_ms)
{
    fm_worklist_audit *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->interval_ms = interval_ms;
    a->cap = 256;
    a->v = calloc(a->cap, sizeof *a->v);
    if (!a->v) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void fm_worklist_audit_destroy(fm_worklist_audit *a)
{
    if (!a)
        return;
    pthread_mutex_destroy(&a->mu);
    free(a->v);
    free(a);
}

static size_t pair_slot(const wl_pair *v, size_t cap, int64_t c, int64_t p)
{
    uint64_t h = (uint64_t)c * 0x9e3779b97f4a7c15u ^ (uint64_t)p * 0xc2b2ae3d27d4eb4fu;
    size_t i = (size_t)(h ^ h >> 29) & (cap - 1);
    while (v[i].clinician_id && (v[i].clinician_id != c || v[i].patient_id != p))
        i = (i + 1) & (cap - 1);
    return i;
}

/* Rebuilds the table into cap slots, keeping only the pairs whose interval has not passed
 * (the others would be due anyway). 0, or -1 without memory (the table is unchanged). */
static int pairs_rebuild(fm_worklist_audit *a, size_t cap, int64_t now_ms)
{
    wl_pair *v = calloc(cap, sizeof *v);
    if (!v)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < a->cap; i++) {
        const wl_pair *e = &a->v[i];
        if (!e->clinician_id || now_ms - e->t_ms >= a->interval_ms || now_ms < e->t_ms)
            continue;
        v[pair_slot(v, cap, e->clinician_id, e->patient_id)] = *e;
        n++;
    }
    free(a->v);
    a->v = v;
    a->cap = cap;
    a->n = n;
    return 0;
}

int fm_worklist_audit_due(fm_worklist_audit *a, int64_t clinician_id, int64_t patient_id,
                          int64_t now_ms)
{
    if (!a || clinician_id == 0)
        return 1;
    pthread_mutex_lock(&a->mu);
    int due = 1;
    size_t i = pair_slot(a->v, a->cap, clinician_id, patient_id);
    if (a->v[i].clinician_id) {
        /* a clock set back counts as due: a row too many rather than a gap */
        due = now_ms - a->v[i].t_ms >= a->interval_ms || now_ms < a->v[i].t_ms;
        if (due)
            a->v[i].t_ms = now_ms;
        goto out;
    }
    if ((a->n + 1) * 2 > a->cap) { /* keep the load under one half */
        size_t cap = a->cap;
        if (pairs_rebuild(a, cap, now_ms) == 0 && (a->n + 1) * 2 > cap / 2 &&
            cap < FM_WORKLIST_AUDIT_PAIRS * 2)
            pairs_rebuild(a, cap * 2, now_ms);
        if ((a->n + 1) * 2 > a->cap)
            goto out; /* full of recent pairs: audited, not remembered */
        i = pair_slot(a->v, a->cap, clinician_id, patient_id);
    }
    a->v[i] = (wl_pair){clinician_id, patient_id, now_ms};
    a->n++;
out:
    pthread_mutex_unlock(&a->mu);
    return due;
}

/* ---- the worklist ---- */

typedef struct wl_list {
    fm_patient *v;
    size_t n, cap;
    int overflow;
} wl_list;

static void collect_patient(void *ctx, const fm_patient *pt)
{
    wl_list *l = ctx;
    if (l->n >= FM_WORKLIST_MAX_PATIENTS) {
        l->overflow = 1;
        return;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fm_patient *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->overflow = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *pt;
}

typedef struct rec_list {
    fm_recording *v;
    size_t n, cap;
    int oom;
} rec_list;

static void collect_recording(void *ctx, const fm_recording *r)
{
    rec_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        fm_recording *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            l->oom = 1;
            return;
        }
        l->v = v;
        l->cap = cap;
    }
    l->v[l->n++] = *r;
}

static int newest_first(const void *a, const void *b)
{
    const fm_recording *x = a, *y = b;
    return x->created_ms < y->created_ms ? 1 : x->created_ms > y->created_ms ? -1 : 0;
}

static void count_reading(void *ctx, const fm_reading *rd)
{
    (void)rd;
    (*(int *)ctx)++;
}

typedef struct alert_count {
    int high, medium, low;
} alert_count;

static void count_alert(void *ctx, const fm_alert *a)
{
    alert_count *c = ctx;
    if (strcmp(a->state, "raised")) /* open = waiting for acknowledgement */
        return;
    if (!strcmp(a->priority, "high"))
        c->high++;
    else if (!strcmp(a->priority, "medium"))
        c->medium++;
    else
        c->low++;
}

/* When the last data of a live stream arrived: its frames file grows with every durable frame
 * (ingest_worker.c appends and fdatasyncs before acknowledging), so its mtime is the time of the last
 * frame on disk. Falls back to the row's updated time when the file cannot be read. */
static int64_t last_data_ms(const fm_api *api, const fm_recording *r)
{
    char path[FM_PATH_MAX + FM_TEXT_MAX + 2];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", api->cfg->data_dir, r->file);
    if (r->file[0] && stat(path, &st) == 0)
        return (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
    return r->updated_ms;
}

/* One patient's worklist entry; a store error returns non-OK (the whole answer is then 503/500:
 * a worklist silently missing a patient's alerts would be worse than none). */
static fm_svc_status patient_entry(const fm_api *api, fm_store *s, const fm_patient *pt,
                                   int64_t now_ms, cJSON *out)
{
    cJSON *j = api_patient_json(s, pt, 0);
    cJSON_AddItemToArray(out, j);
    rec_list recs = {0};
    fm_svc_status rc = fm_store_recording_list(s, pt->user_id, collect_recording, &recs);
    if (rc == FM_SVC_OK && recs.oom)
        rc = FM_SVC_NOMEM;
    if (rc != FM_SVC_OK)
        goto out;
    if (recs.n > 1)
        qsort(recs.v, recs.n, sizeof recs.v[0], newest_first);

    /* The live stream: the open one with the newest data (an abandoned stream may wait for its
     * device to resume; the one receiving now is what the clinician wants to open). */
    const fm_recording *live = NULL;
    int64_t live_ms = 0;
    for (size_t i = 0; i < recs.n; i++) {
        if (recs.v[i].status != FM_REC_RECEIVING)
            continue;
        int64_t t = last_data_ms(api, &recs.v[i]);
        if (!live || t > live_ms) {
            live = &recs.v[i];
            live_ms = t;
        }
    }
    if (live) {
        cJSON *l = cJSON_AddObjectToObject(j, "live");
        cJSON_AddStringToObject(l, "recording", live->id);
        cJSON_AddNumberToObject(l, "started_ms", (double)live->created_ms);
        cJSON_AddNumberToObject(l, "last_data_ms", (double)live_ms);
        double age_s = (double)(now_ms - live_ms) / 1000.0;
        cJSON_AddNumberToObject(l, "last_data_age_s",
                                age_s > 0 ? (double)(long)(age_s * 10) / 10 : 0);
    } else {
        cJSON_AddNullToObject(j, "live");
    }

    /* Unread: analysed and no reading signed yet. */
    int unread = 0;
    cJSON *recent = cJSON_AddArrayToObject(j, "recordings");
    for (size_t i = 0; i < recs.n && rc == FM_SVC_OK; i++) {
        int n_readings = 0;
        if (recs.v[i].status == FM_REC_DONE) {
            rc = fm_store_reading_list(s, recs.v[i].id, count_reading, &n_readings);
            unread += rc == FM_SVC_OK && n_readings == 0;
        }
        if (i < FM_WORKLIST_RECENT) {
            cJSON *rj = api_recording_json(s, &recs.v[i]);
            if (recs.v[i].status == FM_REC_DONE)
                cJSON_AddBoolToObject(rj, "read", n_readings > 0);
            cJSON_AddItemToArray(recent, rj);
        }
    }
    if (rc != FM_SVC_OK)
        goto out;
    cJSON_AddNumberToObject(j, "recordings_total", (double)recs.n);
    if (recs.n)
        cJSON_AddNumberToObject(j, "last_recording_ms", (double)recs.v[0].created_ms);
    else
        cJSON_AddNullToObject(j, "last_recording_ms");
    cJSON_AddNumberToObject(j, "unread", unread);

    alert_count ac = {0};
    rc = fm_store_alert_list(s, pt->user_id, count_alert, &ac);
    if (rc != FM_SVC_OK)
        goto out;
    cJSON *al = cJSON_AddObjectToObject(j, "open_alerts");
    cJSON_AddNumberToObject(al, "high", ac.high);
    cJSON_AddNumberToObject(al, "medium", ac.medium);
    cJSON_AddNumberToObject(al, "low", ac.low);
    const char *top = ac.high ? "high" : ac.medium ? "medium" : ac.low ? "low" : NULL;
    if (top)
        cJSON_AddStringToObject(al, "top", top);
    else
        cJSON_AddNullToObject(al, "top");
out:
    free(recs.v);
    return rc;
}

void api_worklist(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                  fm_http_resp *resp)
{
    if (p->user.role != FM_ROLE_CLINICIAN) {
        fm_api_error(resp, 403, "forbidden", "the worklist is for clinicians");
        api_audit(s, p, req, "worklist.denied", "", 403);
        return;
    }
    wl_list pts = {0};
    fm_svc_status rc = fm_store_patient_list(s, p->user.id, collect_patient, &pts);
    int64_t now = fm_now_ms();
    cJSON *j = cJSON_CreateObject();
    cJSON_AddNumberToObject(j, "generated_ms", (double)now);
    cJSON *arr = cJSON_AddArrayToObject(j, "patients");
    for (size_t i = 0; i < pts.n && rc == FM_SVC_OK; i++)
        rc = patient_entry(api, s, &pts.v[i], now, arr);
    if (rc == FM_SVC_OK && pts.overflow)
        cJSON_AddBoolToObject(j, "truncated", 1);
    if (rc != FM_SVC_OK) {
        cJSON_Delete(j);
        free(pts.v);
        api_store_error(resp, rc);
        return;
    }
    api_json(resp, 200, j);
    /* Who saw which patient's data, when (docs/api.md "Worklist"): every answer is one
     * worklist.view row; each patient in it gets a worklist.read row when she first appears in
     * this clinician's worklist and then at most every FM_WORKLIST_AUDIT_S while it is re-read. */
    char object[96];
    snprintf(object, sizeof object, "patients:%zu", pts.n);
    api_audit(s, p, req, "worklist.view", object, 200);
    for (size_t i = 0; i < pts.n; i++) {
        if (!fm_worklist_audit_due(api->worklist_audit, p->user.id, pts.v[i].user_id, now))
            continue;
        snprintf(object, sizeof object, "patient:%s", pts.v[i].name);
        api_audit(s, p, req, "worklist.read", object, 200);
    }
    free(pts.v);
}
