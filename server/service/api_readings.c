/* Readings and alerts routes: a clinician's signed interpretation of a recording (the patient
 * sees it), and the alerts of a patient with their acknowledgement. Alerts are raised by the
 * alerting engine (not here); this file lists them and records who acknowledged them. Run on
 * workers. See api.h and docs/api.md. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alertsvc.h"
#include "api_internal.h"

/* The categories a reading may carry: FIGO 2015 (CLINICAL 4.1), plus "inconclusive" for a
 * recording that cannot be interpreted (e.g. too much signal loss, CLINICAL 2). */
static const char *const reading_categories[] = {"normal", "suspicious", "pathological",
                                                 "inconclusive"};

#define FM_READING_TEXT_MAX 1000

typedef struct list_ctx {
    fm_store *s;
    cJSON *arr;
} list_ctx;

static void add_reading(void *ctx, const fm_reading *rd)
{
    list_ctx *c = ctx;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "id", (double)rd->id);
    cJSON_AddStringToObject(o, "recording", rd->recording_id);
    fm_user u;
    cJSON_AddStringToObject(
        o, "clinician",
        fm_store_user_by_id(c->s, rd->clinician_id, &u) == FM_SVC_OK ? u.display_name : "");
    cJSON_AddStringToObject(o, "category", rd->category);
    cJSON_AddStringToObject(o, "text", rd->text);
    cJSON_AddNumberToObject(o, "signed_ms", (double)rd->signed_ms);
    cJSON_AddItemToArray(c->arr, o);
}

void api_readings(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                  const char *id, fm_http_resp *resp)
{
    (void)api;
    fm_recording r;
    if (api_visible_recording(s, p, req, id, &r, resp) != 0)
        return;
    char object[64];
    snprintf(object, sizeof object, "recording:%s", r.id);
    if (req->method == FM_M_GET) {
        cJSON *j = cJSON_CreateObject();
        list_ctx c = {s, cJSON_AddArrayToObject(j, "readings")};
        fm_svc_status rc = fm_store_reading_list(s, r.id, add_reading, &c);
        api_list_reply(s, p, req, rc, j, "reading.list", object, resp);
        return;
    }
    if (p->user.role != FM_ROLE_CLINICIAN) {
        fm_api_error(resp, 403, "forbidden", "only a clinician signs a reading");
        api_audit(s, p, req, "reading.denied", object, 403);
        return;
    }
    cJSON *in = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    const char *cat = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "category"));
    const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "text"));
    int cat_ok = 0;
    for (size_t i = 0; cat && i < sizeof reading_categories / sizeof reading_categories[0]; i++)
        cat_ok |= !strcmp(cat, reading_categories[i]);
    if (!cJSON_IsObject(in)) {
        fm_api_error(resp, 400, "bad_json", "the body must be a JSON object");
    } else if (!cat_ok) {
        fm_api_error(resp, 400, "bad_request",
                     "\"category\" must be normal, suspicious, pathological or inconclusive");
    } else if (!text || strlen(text) > FM_READING_TEXT_MAX) {
        fm_api_error(resp, 400, "bad_request", "\"text\" must be a string of at most 1000 bytes");
    } else {
        fm_reading rd;
        memset(&rd, 0, sizeof rd);
        snprintf(rd.recording_id, sizeof rd.recording_id, "%s", r.id);
        rd.clinician_id = p->user.id;
        snprintf(rd.category, sizeof rd.category, "%s", cat);
        snprintf(rd.text, sizeof rd.text, "%s", text);
        rd.signed_ms = fm_now_ms();
        fm_svc_status rc = fm_store_reading_add(s, &rd);
        if (rc != FM_SVC_OK) {
            api_store_error(resp, rc);
        } else {
            cJSON *j = cJSON_CreateObject();
            cJSON_AddNumberToObject(j, "id", (double)rd.id);
            cJSON_AddNumberToObject(j, "signed_ms", (double)rd.signed_ms);
            api_json(resp, 201, j);
            api_audit(s, p, req, "reading.sign", object, 201);
        }
    }
    cJSON_Delete(in);
}

/* user ids ",3,7," -> names */
static void add_names(fm_store *s, cJSON *arr, const char *list)
{
    for (const char *p = list; *p;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        fm_user u;
        if (end != p && v > 0 && fm_store_user_by_id(s, v, &u) == FM_SVC_OK)
            cJSON_AddItemToArray(arr, cJSON_CreateString(u.name));
        p = *end ? end + 1 : end;
    }
}

static cJSON *alert_json(fm_store *s, const fm_alert *a)
{
    cJSON *o = cJSON_CreateObject();
    /* who was told: level 0 the first clinician of the care team, then escalation (the next
     * clinicians, then everyone on duty): escalated_to */
    fm_alert_delivery d;
    if (s && fm_store_alert_delivery_get(s, a->id, &d) == FM_SVC_OK) {
        cJSON_AddNumberToObject(o, "level", d.level);
        add_names(s, cJSON_AddArrayToObject(o, "delivered_to"), d.notified);
        add_names(s, cJSON_AddArrayToObject(o, "escalated_to"), d.escalated);
    }
    cJSON_AddNumberToObject(o, "id", (double)a->id);
    cJSON_AddStringToObject(o, "recording", a->recording_id);
    cJSON_AddStringToObject(o, "rule", a->rule);
    cJSON_AddStringToObject(o, "priority", a->priority);
    cJSON_AddStringToObject(o, "state", a->state);
    cJSON_AddNumberToObject(o, "t_from_s", a->t_from_s);
    cJSON_AddNumberToObject(o, "t_to_s", a->t_to_s);
    cJSON_AddNumberToObject(o, "created_ms", (double)a->created_ms);
    if (a->ack_ms)
        cJSON_AddNumberToObject(o, "acknowledged_ms", (double)a->ack_ms);
    return o;
}

typedef struct alert_list_ctx {
    fm_store *s;
    cJSON *arr;
    int with_patient; /* the list of one clinician across patients: name the patient */
} alert_list_ctx;

static void add_alert(void *ctx, const fm_alert *a)
{
    alert_list_ctx *c = ctx;
    cJSON *o = alert_json(c->s, a);
    fm_patient pt;
    if (c->with_patient && fm_store_patient_get(c->s, a->patient_id, &pt) == FM_SVC_OK)
        cJSON_AddStringToObject(o, "patient", pt.name);
    cJSON_AddItemToArray(c->arr, o);
}

/* A clinician told of an alert by escalation (on duty, outside the care team) may see and
 * acknowledge that alert, nothing else of the patient. */
static int was_notified(fm_store *s, int64_t alert_id, int64_t user_id)
{
    fm_alert_delivery d;
    char item[32];
    snprintf(item, sizeof item, ",%lld,", (long long)user_id);
    return fm_store_alert_delivery_get(s, alert_id, &d) == FM_SVC_OK && strstr(d.notified, item);
}

/* GET /api/alerts filters (docs/api.md): `state` open (not resolved, the default) or raised
 * (waiting for acknowledgement); `scope` delivered (to the caller, the default), care_team
 * (every alert of the patients on her care team) or all (both). At most FM_ALERTS_MINE_MAX. */
#define FM_ALERTS_MINE_MAX 1000

typedef struct mine_ctx {
    fm_alert *v;
    size_t n, cap;
    int raised_only, truncated;
    fm_svc_status rc;
} mine_ctx;

static void collect_alert(void *ctx, const fm_alert *a)
{
    mine_ctx *c = ctx;
    if (c->raised_only ? strcmp(a->state, "raised") != 0 : strcmp(a->state, "resolved") == 0)
        return;
    if (c->n == FM_ALERTS_MINE_MAX) {
        c->truncated = 1;
        return;
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 16;
        fm_alert *v = realloc(c->v, cap * sizeof *v);
        if (!v) {
            c->rc = FM_SVC_NOMEM;
            return;
        }
        c->v = v;
        c->cap = cap;
    }
    c->v[c->n++] = *a;
}

/* The patients of a care team, collected first: their alerts are read after the list. */
typedef struct team_ctx {
    int64_t *id;
    size_t n, cap;
    int nomem;
} team_ctx;

static void collect_team(void *ctx, const fm_patient *pt)
{
    team_ctx *t = ctx;
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        int64_t *id = realloc(t->id, cap * sizeof *id);
        if (!id) {
            t->nomem = 1;
            return;
        }
        t->id = id;
        t->cap = cap;
    }
    t->id[t->n++] = pt->user_id;
}

static int newest_first(const void *x, const void *y)
{
    const fm_alert *a = x, *b = y;
    if (a->created_ms != b->created_ms)
        return a->created_ms > b->created_ms ? -1 : 1;
    return a->id > b->id ? -1 : a->id < b->id;
}

void api_alerts_mine(fm_store *s, const fm_principal *p, const fm_http_req *req,
                     fm_http_resp *resp)
{
    if (p->user.role != FM_ROLE_CLINICIAN) {
        fm_api_error(resp, 403, "forbidden", "alerts are for clinicians");
        return;
    }
    const char *state = req->q_state, *scope = req->q_scope[0] ? req->q_scope : "delivered";
    int delivered = !strcmp(scope, "delivered") || !strcmp(scope, "all");
    int team = !strcmp(scope, "care_team") || !strcmp(scope, "all");
    if ((state[0] && strcmp(state, "open") && strcmp(state, "raised")) || (!delivered && !team)) {
        fm_api_error(resp, 400, "bad_request",
                     "state is open or raised, scope is delivered, care_team or all");
        return;
    }
    mine_ctx c = {.raised_only = !strcmp(state, "raised"), .rc = FM_SVC_OK};
    team_ctx t = {0};
    fm_svc_status rc = FM_SVC_OK;
    if (delivered)
        rc = fm_store_alert_list_notified(s, p->user.id, collect_alert, &c);
    if (rc == FM_SVC_OK && team) {
        rc = fm_store_patient_list(s, p->user.id, collect_team, &t);
        if (rc == FM_SVC_OK && t.nomem)
            rc = FM_SVC_NOMEM;
        for (size_t i = 0; i < t.n && rc == FM_SVC_OK; i++)
            rc = fm_store_alert_list(s, t.id[i], collect_alert, &c);
    }
    if (rc == FM_SVC_OK)
        rc = c.rc;
    if (rc != FM_SVC_OK) {
        free(c.v);
        free(t.id);
        api_store_error(resp, rc);
        return;
    }
    /* newest first; with scope=all an alert delivered to a clinician of the care team is in
     * both lists: the copies are neighbours once sorted */
    if (c.n)
        qsort(c.v, c.n, sizeof *c.v, newest_first);
    cJSON *j = cJSON_CreateObject();
    alert_list_ctx lc = {s, cJSON_AddArrayToObject(j, "alerts"), 1};
    for (size_t i = 0; i < c.n; i++)
        if (!i || c.v[i].id != c.v[i - 1].id)
            add_alert(&lc, &c.v[i]);
    if (c.truncated)
        cJSON_AddBoolToObject(j, "truncated", 1);
    api_json(resp, 200, j);
    /* one row per request, and one per patient whose alerts the answer shows (an alarm bar
     * polling an empty list shows no patient's data) */
    char object[96];
    snprintf(object, sizeof object, "alerts:%s", delivered && !team ? "mine" : scope);
    api_audit(s, p, req, "alert.list", object, 200);
    for (size_t i = 0; i < c.n; i++) {
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++)
            seen = c.v[k].patient_id == c.v[i].patient_id;
        fm_patient pt;
        if (seen || fm_store_patient_get(s, c.v[i].patient_id, &pt) != FM_SVC_OK)
            continue;
        snprintf(object, sizeof object, "patient:%s", pt.name);
        api_audit(s, p, req, "alert.list", object, 200);
    }
    free(c.v);
    free(t.id);
}

void api_alerts_list(fm_store *s, const fm_principal *p, const fm_http_req *req,
                     const fm_patient *pt, fm_http_resp *resp)
{
    /* Alerts are the care team's work list; the mother sees readings, not raw alarms. */
    if (p->user.role != FM_ROLE_CLINICIAN) {
        fm_api_error(resp, 403, "forbidden", "alerts are for the care team");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    alert_list_ctx c = {s, cJSON_AddArrayToObject(j, "alerts"), 0};
    fm_svc_status rc = fm_store_alert_list(s, pt->user_id, add_alert, &c);
    char object[96];
    snprintf(object, sizeof object, "patient:%s", pt->name);
    api_list_reply(s, p, req, rc, j, "alert.list", object, resp);
}

void api_alert_ack(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                   const char *id_text, fm_http_resp *resp)
{
    char *end;
    long long id = strtoll(id_text, &end, 10);
    fm_alert a;
    fm_svc_status rc =
        *id_text && !*end && id > 0 ? fm_store_alert_get(s, id, &a) : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK)
        rc = p->user.role == FM_ROLE_CLINICIAN
                 ? fm_access_patient(s, p, a.patient_id, FM_ACCESS_CLINICAL)
                 : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_NOTFOUND && p->user.role == FM_ROLE_CLINICIAN && id > 0 &&
        was_notified(s, id, p->user.id))
        rc = FM_SVC_OK;
    char object[48];
    snprintf(object, sizeof object, "alert:%lld", id);
    if (rc == FM_SVC_NOTFOUND) {
        fm_api_error(resp, 404, "not_found", "no such alert");
        api_audit(s, p, req, "alert.denied", object, 404);
        return;
    }
    if (rc == FM_SVC_OK && strcmp(a.state, "raised")) {
        fm_api_error(resp, 409, "conflict", "the alert is not waiting for acknowledgement");
        return;
    }
    int64_t now = fm_now_ms();
    /* An alert the engine holds is acknowledged there: it stops escalating, and its record
     * hook stores, audits and publishes the acknowledgement ("alert.acknowledged"). */
    int by_engine = rc == FM_SVC_OK && api->alerts &&
                    fm_alertsvc_ack(api->alerts, id, p->user.id) == FM_SVC_OK;
    if (rc == FM_SVC_OK && !by_engine)
        rc = fm_store_alert_ack(s, id, p->user.id, now);
    if (rc == FM_SVC_NOTFOUND) { /* acknowledged by someone else meanwhile */
        fm_api_error(resp, 409, "conflict", "the alert is not waiting for acknowledgement");
        return;
    }
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        return;
    }
    fm_store_alert_get(s, id, &a);
    cJSON *j = alert_json(s, &a);
    api_audit(s, p, req, "alert.ack", object, 200);
    if (api->bus && !by_engine) {
        cJSON *ev = alert_json(s, &a);
        cJSON_AddStringToObject(ev, "type", "alert");
        char *text = cJSON_PrintUnformatted(ev);
        cJSON_Delete(ev);
        char topic[48];
        snprintf(topic, sizeof topic, "patient/%lld", (long long)a.patient_id);
        if (text)
            fm_bus_publish(api->bus, topic, text);
        free(text);
    }
    api_json(resp, 200, j);
}
