/* fm_api: request routing, authentication and the account/patient routes (login, logout, me,
 * patients, audit). Recording routes are in api_recordings.c. See api.h. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api_internal.h"

/* ---- responses ---- */

void fm_http_resp_free(fm_http_resp *r)
{
    free(r->body);
    r->body = NULL;
    r->len = 0;
    if (r->has_file)
        close(r->file_fd);
    r->has_file = 0;
}

static void set_body(fm_http_resp *r, int status, char *text)
{
    fm_http_resp_free(r);
    r->status = status;
    r->body = text;
    r->len = text ? strlen(text) : 0;
    if (!text) { /* out of memory while printing: a fixed reply we need not allocate */
        r->status = 500;
        r->body = strdup("{\"error\":\"internal\",\"message\":\"out of memory\"}");
        r->len = r->body ? strlen(r->body) : 0;
    }
}

void api_json(fm_http_resp *r, int status, cJSON *j)
{
    set_body(r, status, j ? cJSON_PrintUnformatted(j) : NULL);
    cJSON_Delete(j);
}

void fm_api_error(fm_http_resp *r, int status, const char *code, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "error", code);
    cJSON_AddStringToObject(j, "message", message);
    api_json(r, status, j);
}

void api_store_error(fm_http_resp *r, fm_svc_status rc)
{
    if (rc == FM_SVC_BUSY)
        fm_api_error(r, 503, "busy", "the database is busy, retry shortly");
    else
        fm_api_error(r, 500, "storage", "storage error");
}

void api_audit(fm_store *s, const fm_principal *p, const fm_http_req *req, const char *action,
               const char *object, int status)
{
    fm_audit_entry e;
    memset(&e, 0, sizeof e);
    e.t_ms = fm_now_ms();
    if (p) {
        e.actor_id = p->user.id;
        snprintf(e.actor, sizeof e.actor, "%.55s%s", p->user.name,
                 p->kind == FM_TOKEN_DEVICE ? "/device" : "");
    }
    snprintf(e.action, sizeof e.action, "%s", action);
    snprintf(e.object, sizeof e.object, "%s", object ? object : "");
    snprintf(e.peer, sizeof e.peer, "%s", req->peer);
    e.status = status;
    /* A row the database refuses (busy, locked) is queued durably by the store and written
     * later (store_sqlite_log.c); only a row that could not even be queued is lost, and counted
     * (fetalmon_audit_lost_total in /metrics). */
    (void)fm_store_audit_add(s, &e);
}

void api_list_reply(fm_store *s, const fm_principal *p, const fm_http_req *req,
                    fm_svc_status rc, cJSON *j, const char *action, const char *object,
                    fm_http_resp *resp)
{
    if (rc != FM_SVC_OK) {
        cJSON_Delete(j);
        api_store_error(resp, rc);
        return;
    }
    api_json(resp, 200, j);
    api_audit(s, p, req, action, object, 200);
}

/* ---- JSON of domain objects ---- */

static cJSON *user_json(const fm_user *u)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", u->name);
    cJSON_AddStringToObject(j, "display_name", u->display_name);
    cJSON_AddStringToObject(j, "role", fm_role_name(u->role));
    return j;
}

/* Gestational age in weeks today from the estimated due date (280 days after the last
 * menstrual period by convention); NAN without a due date. */
static double gestation_weeks(const char *due)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    if (!due[0] || !strptime(due, "%Y-%m-%d", &tm))
        return -1;
    tm.tm_hour = 12;
    time_t t_due = timegm(&tm);
    double days_left = difftime(t_due, time(NULL)) / 86400.0;
    return (280.0 - days_left) / 7.0;
}

static void add_team(void *ctx, const fm_user *u)
{
    cJSON_AddItemToArray((cJSON *)ctx, user_json(u));
}

cJSON *api_patient_json(fm_store *s, const fm_patient *pt, int with_team)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "name", pt->name);
    cJSON_AddStringToObject(j, "display_name", pt->display_name);
    cJSON_AddStringToObject(j, "hospital_id", pt->hospital_id);
    if (pt->due_date[0])
        cJSON_AddStringToObject(j, "due_date", pt->due_date);
    else
        cJSON_AddNullToObject(j, "due_date");
    double ga = gestation_weeks(pt->due_date);
    if (ga > 0 && ga < 50)
        cJSON_AddNumberToObject(j, "gestation_weeks", (double)(long)(ga * 10 + 0.5) / 10);
    else
        cJSON_AddNullToObject(j, "gestation_weeks");
    cJSON_AddStringToObject(j, "risk_notes", pt->risk_notes);
    if (with_team) {
        cJSON *team = cJSON_AddArrayToObject(j, "care_team");
        fm_store_care_team(s, pt->user_id, add_team, team);
    }
    return j;
}

/* ---- routes ---- */

static void route_login(fm_api *api, fm_store *s, const fm_http_req *req, fm_http_resp *resp)
{
    cJSON *in = req->body ? cJSON_ParseWithLength(req->body, req->body_len) : NULL;
    const cJSON *ju = cJSON_GetObjectItemCaseSensitive(in, "username");
    const cJSON *jp = cJSON_GetObjectItemCaseSensitive(in, "password");
    if (!cJSON_IsObject(in)) {
        fm_api_error(resp, 400, "bad_json", "the body must be a JSON object");
        goto out;
    }
    if (!cJSON_IsString(ju) || !cJSON_IsString(jp)) {
        fm_api_error(resp, 400, "bad_request", "\"username\" and \"password\" must be strings");
        goto out;
    }
    const char *name = ju->valuestring, *pw = jp->valuestring;
    char k_ip[96], k_user[96];
    snprintf(k_ip, sizeof k_ip, "ip:%s", req->peer);
    snprintf(k_user, sizeof k_user, "user:%.*s", FM_NAME_MAX, name);
    int64_t now = fm_now_ms();
    if (fm_ratelimit_check(api->login_rl, k_ip, api->cfg->login_ip_max_failures, now) !=
            FM_SVC_OK ||
        fm_ratelimit_check(api->login_rl, k_user, api->cfg->login_max_failures, now) != FM_SVC_OK) {
        fm_api_error(resp, 429, "rate_limited", "too many failed logins, try again later");
        snprintf(resp->header_name, sizeof resp->header_name, "Retry-After:");
        snprintf(resp->header_value, sizeof resp->header_value, "%d", api->cfg->login_window_s);
        api_audit(s, NULL, req, "login.limited", k_user, 429);
        goto out;
    }
    fm_principal p;
    memset(&p, 0, sizeof p);
    char hash[FM_PWHASH_MAX] = "";
    fm_svc_status rc = fm_user_name_valid(name)
                           ? fm_store_user_by_name(s, name, &p.user, hash, sizeof hash)
                           : FM_SVC_NOTFOUND;
    if (rc != FM_SVC_OK && rc != FM_SVC_NOTFOUND) {
        api_store_error(resp, rc);
        goto out;
    }
    int ok;
    if (rc == FM_SVC_NOTFOUND) {
        fm_auth_burn_verify(pw); /* same cost as a real check: no user enumeration by timing */
        ok = 0;
    } else {
        ok = fm_auth_verify_password(hash, pw) == FM_SVC_OK && !p.user.disabled;
    }
    if (!ok) {
        fm_ratelimit_fail(api->login_rl, k_ip, now);
        fm_ratelimit_fail(api->login_rl, k_user, now);
        fm_api_error(resp, 401, "bad_credentials", "wrong user name or password");
        api_audit(s, NULL, req, "login.failed", k_user, 401);
        goto out;
    }
    char token[FM_TOKEN_MAX];
    uint8_t th[32];
    fm_token_row t = {.user_id = p.user.id, .kind = FM_TOKEN_SESSION};
    t.created_ms = now;
    t.expires_ms = now + (int64_t)api->cfg->session_ttl_s * 1000;
    fm_auth_token_new(FM_TOKEN_SESSION, token, th);
    rc = fm_store_token_add(s, th, &t);
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        goto out;
    }
    fm_ratelimit_clear(api->login_rl, k_user);
    snprintf(resp->header_name, sizeof resp->header_name, "Set-Cookie:");
    snprintf(resp->header_value, sizeof resp->header_value,
             "fm_session=%s; Path=/; HttpOnly; SameSite=Strict; Max-Age=%d%s", token,
             api->cfg->session_ttl_s, api->cfg->tls_cert[0] ? "; Secure" : "");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "token", token);
    cJSON_AddNumberToObject(j, "expires_ms", (double)t.expires_ms);
    cJSON_AddItemToObject(j, "user", user_json(&p.user));
    api_json(resp, 200, j);
    api_audit(s, &p, req, "login", k_user, 200);
out:
    cJSON_Delete(in);
}

static void route_logout(fm_store *s, const fm_principal *p, const fm_http_req *req,
                         fm_http_resp *resp)
{
    fm_svc_status rc = fm_store_token_revoke(s, p->token_hash);
    if (rc != FM_SVC_OK && rc != FM_SVC_NOTFOUND) {
        api_store_error(resp, rc);
        return;
    }
    snprintf(resp->header_name, sizeof resp->header_name, "Set-Cookie:");
    snprintf(resp->header_value, sizeof resp->header_value,
             "fm_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0");
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "ok", 1);
    api_json(resp, 200, j);
    api_audit(s, p, req, "logout", "", 200);
}

static void route_me(fm_store *s, const fm_principal *p, fm_http_resp *resp)
{
    cJSON *j = user_json(&p->user);
    if (p->user.role == FM_ROLE_PATIENT) {
        fm_patient pt;
        if (fm_store_patient_get(s, p->user.id, &pt) == FM_SVC_OK)
            cJSON_AddItemToObject(j, "patient", api_patient_json(s, &pt, 1));
    }
    api_json(resp, 200, j);
}

typedef struct list_ctx {
    fm_store *s;
    cJSON *arr;
} list_ctx;

static void add_patient(void *ctx, const fm_patient *pt)
{
    list_ctx *c = ctx;
    cJSON_AddItemToArray(c->arr, api_patient_json(c->s, pt, 0));
}

static void route_patients(fm_store *s, const fm_principal *p, const fm_http_req *req,
                           fm_http_resp *resp)
{
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "patients");
    list_ctx c = {s, arr};
    fm_svc_status rc = FM_SVC_OK;
    if (p->user.role == FM_ROLE_PATIENT) {
        fm_patient pt;
        rc = fm_store_patient_get(s, p->user.id, &pt);
        if (rc == FM_SVC_OK)
            add_patient(&c, &pt);
        else if (rc == FM_SVC_NOTFOUND)
            rc = FM_SVC_OK;
    } else {
        rc = fm_store_patient_list(s, p->user.role == FM_ROLE_CLINICIAN ? p->user.id : 0,
                                   add_patient, &c);
    }
    api_list_reply(s, p, req, rc, j, "patient.list", "", resp);
}

/* Finds a patient by name and checks access; on refusal fills resp (404) and returns -1. */
static int load_patient(fm_store *s, const fm_principal *p, const fm_http_req *req,
                        const char *name, fm_access_kind kind, fm_patient *pt, fm_http_resp *resp)
{
    char object[96];
    snprintf(object, sizeof object, "patient:%.*s", FM_NAME_MAX, name);
    fm_user u;
    fm_svc_status rc =
        fm_user_name_valid(name) ? fm_store_user_by_name(s, name, &u, NULL, 0) : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK)
        rc = u.role == FM_ROLE_PATIENT ? fm_store_patient_get(s, u.id, pt) : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK)
        rc = fm_access_patient(s, p, pt->user_id, kind);
    if (rc == FM_SVC_NOTFOUND) {
        fm_api_error(resp, 404, "not_found", "no such patient");
        api_audit(s, p, req, "patient.denied", object, 404);
        return -1;
    }
    if (rc != FM_SVC_OK) {
        api_store_error(resp, rc);
        return -1;
    }
    return 0;
}

static void add_audit(void *ctx, const fm_audit_entry *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "t_ms", (double)e->t_ms);
    cJSON_AddStringToObject(o, "actor", e->actor);
    cJSON_AddStringToObject(o, "action", e->action);
    cJSON_AddStringToObject(o, "object", e->object);
    cJSON_AddStringToObject(o, "peer", e->peer);
    cJSON_AddNumberToObject(o, "status", e->status);
    cJSON_AddItemToArray((cJSON *)ctx, o);
}

static void route_audit(fm_store *s, const fm_http_req *req, fm_http_resp *resp)
{
    int limit = req->q_limit[0] ? atoi(req->q_limit) : 100;
    if (limit < 1 || limit > 1000) {
        fm_api_error(resp, 400, "bad_request", "limit must be 1..1000");
        return;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(j, "entries");
    fm_svc_status rc = fm_store_audit_list(s, limit, add_audit, arr);
    if (rc != FM_SVC_OK) {
        cJSON_Delete(j);
        api_store_error(resp, rc);
        return;
    }
    api_json(resp, 200, j);
}

static void method_not_allowed(fm_http_resp *resp, const char *allow)
{
    fm_api_error(resp, 405, "method_not_allowed", "method not allowed on this route");
    snprintf(resp->header_name, sizeof resp->header_name, "Allow:");
    snprintf(resp->header_value, sizeof resp->header_value, "%s", allow);
}

/* Routes that need a signed-in principal. */
static void route_authed(fm_api *api, fm_store *s, const fm_principal *p, const fm_http_req *req,
                         fm_http_resp *resp)
{
    const char *path = req->path;
    if (!strcmp(path, "/api/recordings")) {
        if (req->method != FM_M_POST)
            return method_not_allowed(resp, "POST");
        return api_recordings_upload(api, s, p, req, resp);
    }
    if (!strcmp(path, "/api/uploads"))
        return req->method == FM_M_POST ? api_uploads_open(api, s, p, req, resp)
                                        : method_not_allowed(resp, "POST");
    if (!strncmp(path, "/api/uploads/", 13) && !strchr(path + 13, '/'))
        return api_uploads_id(api, s, p, req, path + 13, resp);
    if (p->kind == FM_TOKEN_DEVICE) {
        fm_api_error(resp, 403, "forbidden", "a device token may only send recordings");
        api_audit(s, p, req, "device.denied", path, 403);
        return;
    }
    if (!strcmp(path, "/api/logout"))
        return req->method == FM_M_POST ? route_logout(s, p, req, resp)
                                        : method_not_allowed(resp, "POST");
    if (!strncmp(path, "/api/recordings/", 16)) {
        const char *id = path + 16, *slash = strchr(id, '/');
        char rid[FM_REC_ID_MAX];
        if (slash && !strcmp(slash, "/audio") && (size_t)(slash - id) < sizeof rid) {
            if (req->method != FM_M_GET)
                return method_not_allowed(resp, "GET");
            memcpy(rid, id, (size_t)(slash - id));
            rid[slash - id] = 0;
            return api_recordings_audio(api, s, p, req, rid, resp);
        }
        if (slash && !strcmp(slash, "/samples") && (size_t)(slash - id) < sizeof rid) {
            if (req->method != FM_M_GET)
                return method_not_allowed(resp, "GET");
            memcpy(rid, id, (size_t)(slash - id));
            rid[slash - id] = 0;
            return api_recordings_samples(api, s, p, req, rid, resp);
        }
        if (slash && !strcmp(slash, "/readings") && (size_t)(slash - id) < sizeof rid) {
            if (req->method != FM_M_GET && req->method != FM_M_POST)
                return method_not_allowed(resp, "GET, POST");
            memcpy(rid, id, (size_t)(slash - id));
            rid[slash - id] = 0;
            return api_readings(api, s, p, req, rid, resp);
        }
    }
    if (!strncmp(path, "/api/alerts/", 12)) {
        const char *id = path + 12, *slash = strchr(id, '/');
        char aid[24];
        if (slash && !strcmp(slash, "/ack") && (size_t)(slash - id) < sizeof aid) {
            if (req->method != FM_M_POST)
                return method_not_allowed(resp, "POST");
            memcpy(aid, id, (size_t)(slash - id));
            aid[slash - id] = 0;
            return api_alert_ack(api, s, p, req, aid, resp);
        }
    }
    if (req->method != FM_M_GET)
        return method_not_allowed(resp, "GET");
    if (!strcmp(path, "/api/me"))
        return route_me(s, p, resp);
    if (!strcmp(path, "/api/alerts"))
        return api_alerts_mine(s, p, req, resp);
    if (!strcmp(path, "/api/patients"))
        return route_patients(s, p, req, resp);
    if (!strcmp(path, "/api/worklist"))
        return api_worklist(api, s, p, req, resp);
    if (!strncmp(path, "/api/patients/", 14)) {
        char name[FM_NAME_MAX + 2];
        const char *rest = path + 14, *slash = strchr(rest, '/');
        size_t n = slash ? (size_t)(slash - rest) : strlen(rest);
        if (n > FM_NAME_MAX) {
            fm_api_error(resp, 404, "not_found", "no such patient");
            return;
        }
        memcpy(name, rest, n);
        name[n] = 0;
        fm_patient pt;
        if (!slash) {
            if (load_patient(s, p, req, name, FM_ACCESS_DEMOGRAPHICS, &pt, resp) == 0) {
                api_json(resp, 200, api_patient_json(s, &pt, 1));
                char object[96];
                snprintf(object, sizeof object, "patient:%s", pt.name);
                api_audit(s, p, req, "patient.read", object, 200);
            }
            return;
        }
        if (!strcmp(slash, "/recordings")) {
            if (load_patient(s, p, req, name, FM_ACCESS_CLINICAL, &pt, resp) == 0)
                api_recordings_list(api, s, p, req, &pt, resp);
            return;
        }
        if (!strcmp(slash, "/alerts")) {
            if (load_patient(s, p, req, name, FM_ACCESS_CLINICAL, &pt, resp) == 0)
                api_alerts_list(s, p, req, &pt, resp);
            return;
        }
    }
    if (!strncmp(path, "/api/recordings/", 16) && !strchr(path + 16, '/'))
        return api_recordings_get(api, s, p, req, path + 16, resp);
    if (!strcmp(path, "/api/audit")) {
        if (p->user.role != FM_ROLE_ADMIN) {
            fm_api_error(resp, 403, "forbidden", "the audit log is for administrators");
            api_audit(s, p, req, "audit.denied", "", 403);
            return;
        }
        return route_audit(s, req, resp);
    }
    fm_api_error(resp, 404, "not_found", "no such route");
}

void fm_api_handle(fm_api *api, fm_store *s, const fm_http_req *req, fm_http_resp *resp)
{
    memset(resp, 0, sizeof *resp);
    if (!s) {
        fm_api_error(resp, 503, "unavailable", "storage is not available");
    } else if (req->q_too_long) {
        fm_api_error(resp, 400, "bad_request", "a query argument is too long");
    } else if (!strcmp(req->path, "/api/login")) {
        if (req->method == FM_M_POST)
            route_login(api, s, req, resp);
        else
            method_not_allowed(resp, "POST");
    } else {
        fm_principal p;
        /* The session cookie authenticates reads only: a cross-site form can never make the
         * browser change anything (writes need the Authorization header). */
        const char *cred = req->authorization[0]                             ? req->authorization
                           : req->method == FM_M_GET && req->cookie_token[0] ? req->cookie_token
                                                                             : "";
        fm_svc_status rc = fm_auth_resolve(s, cred, fm_now_ms(), &p);
        if (rc == FM_SVC_DENIED) {
            fm_api_error(resp, 401, "unauthorized",
                         req->authorization[0] ? "the token is invalid or expired"
                                               : "sign in first (Authorization: Bearer TOKEN)");
            snprintf(resp->header_name, sizeof resp->header_name, "WWW-Authenticate:");
            snprintf(resp->header_value, sizeof resp->header_value, "Bearer");
        } else if (rc != FM_SVC_OK) {
            api_store_error(resp, rc);
        } else {
            route_authed(api, s, &p, req, resp);
        }
    }
    /* An upload that was not committed (refused, failed) leaves nothing behind. A committed one
     * was renamed away, so this is then a harmless ENOENT. */
    if (req->upload_tmp[0])
        unlink(req->upload_tmp);
}
