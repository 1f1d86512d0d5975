/* The clinicians' live feed: the WebSocket protocol "fm-live" (path /ws/live).
 *
 * A viewer connects, sends {"type":"auth","token":...} within FM_LIVE_AUTH_TIMEOUT_S, then
 * {"type":"subscribe","patient":NAME} for each patient she watches. From then on every event the
 * bus carries for those patients (recording state and progress today; trace samples, analysis
 * updates and alerts as their producers land) reaches her as one text frame of JSON.
 *
 * Fan-out: events are shared, reference-counted messages; each viewer has its own bounded
 * lws_ring of pointers to them, drained one lws_write per WRITEABLE callback. A viewer whose
 * ring is full (a slow network) loses her queued events and gets {"type":"resync"} instead, and
 * reloads her state over HTTP: a slow viewer never slows the others, the ingest, or the memory.
 *
 * The session is checked again every FM_LIVE_RECHECK_S: a viewer signed out (or whose session
 * expired, or whose account was disabled) gets an "unauthorized" error and the feed closes.
 * Token checks and access decisions touch the store, so they run as jobs on the API workers;
 * while one is in flight the connection's receive side is paused (lws_rx_flow_control), which
 * bounds what a client can make us hold. Not for ingest (ingest.c). Protocol: docs/api.md. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "api_internal.h"
#include "ingest_stages.h"
#include "live.h"
#include "server_internal.h"

#define FM_LIVE_AUTH_TIMEOUT_S 10
#define FM_LIVE_QUEUE 256   /* messages waiting per viewer before drop-and-resync */
#define FM_LIVE_MAX_IN 4096 /* largest control message a viewer may send */
#define FM_LIVE_MAX_SUBS 64 /* patients per connection */
#define FM_LIVE_RECHECK_S 5 /* a signed-out, expired or revoked session stops within this */
#define FM_LIVE_WRITES_PER_TURN 32 /* messages written per WRITEABLE callback, at most */

typedef struct live_msg {
    int refs;
    int64_t t0_us, t_q_us; /* stage timings (ingest_stages.h): the cause, when queued */
    size_t len;
    char data[]; /* JSON text */
} live_msg;

typedef struct live_pss live_pss;

typedef struct live_job {
    fm_job job;
    fm_server *srv;
    live_pss *owner; /* NULL when the connection closed first (loop thread) */
    int kind;        /* 0 = auth, 1 = subscribe to a patient, 2 = to the worklist,
                        3 = acknowledge an alert, 4 = an alert is on screen,
                        5 = is the session still valid (every FM_LIVE_RECHECK_S) */
    long long alert_id;
    int status; /* 3: the HTTP status the same request over /api/alerts/ID/ack gets */
    char token[160];
    char patient[FM_NAME_MAX];
    int64_t user_id; /* subscribe: who asks */
    /* result */
    int ok;
    fm_principal principal;
    int64_t patient_id;
    char error[96];
    /* worklist: the patients in the viewer's care */
    int n_list;
    int64_t list_ids[64];
    char list_names[64][FM_NAME_MAX];
} live_job;

struct live_pss {
    struct lws *wsi;
    fm_server *srv;
    struct lws_ring *ring; /* live_msg * */
    int resync;            /* queued events were dropped: say so first */
    int authed;
    int closing;
    fm_principal principal;
    live_job *job; /* in flight */
    int n_subs;
    fm_bus_sub *subs[FM_LIVE_MAX_SUBS];
    int64_t sub_patients[FM_LIVE_MAX_SUBS];
    char in[FM_LIVE_MAX_IN + 1];
    size_t in_len;
    int in_too_big;
};

size_t fm_live_pss_size(void)
{
    return sizeof(live_pss);
}

static live_msg *msg_new(const char *json)
{
    size_t n = strlen(json);
    live_msg *m = malloc(sizeof *m + n + 1);
    if (!m)
        return NULL;
    m->refs = 1;
    m->t0_us = m->t_q_us = 0;
    m->len = n;
    memcpy(m->data, json, n + 1);
    return m;
}

static void msg_unref(live_msg *m)
{
    if (m && --m->refs == 0)
        free(m);
}

static void drop_queue(live_pss *p)
{
    live_msg *m;
    while (p->ring && lws_ring_consume(p->ring, NULL, &m, 1) == 1)
        msg_unref(m);
}

/* Queues a message for the viewer (taking a reference); a full queue turns into a resync. */
static void enqueue(live_pss *p, live_msg *m)
{
    if (!p->ring || p->closing)
        return;
    if (lws_ring_get_count_free_elements(p->ring) == 0) {
        drop_queue(p);
        p->resync = 1;
    } else {
        m->refs++;
        lws_ring_insert(p->ring, &m, 1);
    }
    lws_callback_on_writable(p->wsi);
}

static void send_json(live_pss *p, cJSON *j)
{
    char *text = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!text)
        return;
    live_msg *m = msg_new(text);
    free(text);
    if (m) {
        enqueue(p, m);
        msg_unref(m);
    }
}

static void send_error(live_pss *p, const char *code, const char *message)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "type", "error");
    cJSON_AddStringToObject(j, "error", code);
    cJSON_AddStringToObject(j, "message", message);
    send_json(p, j);
}

/* ---- bus -> viewers ---- */

static void on_event(void *user, const char *topic, const char *json)
{
    live_pss *p = user;
    (void)topic;
    if (!json) { /* the bus itself dropped events */
        drop_queue(p);
        p->resync = 1;
        lws_callback_on_writable(p->wsi);
        return;
    }
    live_msg *m = msg_new(json);
    if (!m) {
        p->resync = 1;
        return;
    }
    if (fm_stage_on()) {
        m->t0_us = fm_bus_event_t0(p->srv->bus);
        m->t_q_us = fm_stage_now_us();
    }
    enqueue(p, m);
    msg_unref(m);
}

/* ---- jobs on the API workers ---- */

static void add_to_list(void *ctx, const fm_patient *pt)
{
    live_job *j = ctx;
    if (j->n_list < 64) {
        j->list_ids[j->n_list] = pt->user_id;
        snprintf(j->list_names[j->n_list++], FM_NAME_MAX, "%s", pt->name);
    }
}

/* Subscribes the viewer to one patient's topic (once). */
static void subscribe_patient(live_pss *p, int64_t patient_id)
{
    for (int i = 0; i < p->n_subs; i++)
        if (p->sub_patients[i] == patient_id)
            return;
    if (p->n_subs >= FM_LIVE_MAX_SUBS)
        return;
    char topic[48];
    snprintf(topic, sizeof topic, "patient/%lld", (long long)patient_id);
    fm_bus_sub *sub = fm_bus_subscribe(p->srv->bus, topic, on_event, p);
    if (sub) {
        p->subs[p->n_subs] = sub;
        p->sub_patients[p->n_subs++] = patient_id;
    }
}

static void job_run(fm_job *job, void *store)
{
    live_job *j = (live_job *)job;
    fm_store *s = store;
    if (!s) {
        snprintf(j->error, sizeof j->error, "storage unavailable");
        return;
    }
    if (j->kind == 0) {
        j->ok = fm_auth_resolve(s, j->token, fm_now_ms(), &j->principal) == FM_SVC_OK &&
                j->principal.kind == FM_TOKEN_SESSION && j->principal.user.role != FM_ROLE_ADMIN;
        if (!j->ok)
            snprintf(j->error, sizeof j->error, "invalid token, or not a viewer");
        return;
    }
    if (j->kind == 5) { /* logged out, expired, user disabled: the feed stops */
        fm_token_row t;
        fm_user u;
        fm_svc_status rc = fm_store_token_get(s, j->principal.token_hash, fm_now_ms(), &t);
        if (rc == FM_SVC_OK)
            rc = fm_store_user_by_id(s, t.user_id, &u);
        if (rc == FM_SVC_OK && u.disabled)
            rc = FM_SVC_NOTFOUND;
        j->ok = rc != FM_SVC_NOTFOUND; /* a busy store is no verdict: checked again later */
        return;
    }
    if (j->kind == 3) { /* exactly what POST /api/alerts/ID/ack does */
        fm_http_req req;
        fm_http_resp resp;
        memset(&req, 0, sizeof req);
        memset(&resp, 0, sizeof resp);
        req.method = FM_M_POST;
        snprintf(req.peer, sizeof req.peer, "ws");
        char id_text[24];
        snprintf(id_text, sizeof id_text, "%lld", j->alert_id);
        api_alert_ack(&j->srv->api, s, &j->principal, &req, id_text, &resp);
        j->status = resp.status;
        j->ok = resp.status == 200;
        fm_http_resp_free(&resp);
        return;
    }
    if (j->kind == 4) {
        fm_alert a;
        j->ok = j->principal.user.role == FM_ROLE_CLINICIAN &&
                fm_store_alert_get(s, j->alert_id, &a) == FM_SVC_OK &&
                fm_access_patient(s, &j->principal, a.patient_id, FM_ACCESS_CLINICAL) ==
                    FM_SVC_OK;
        if (j->ok && j->srv->alerts)
            fm_alertsvc_received(j->srv->alerts, j->alert_id, j->principal.user.id);
        return;
    }
    if (j->kind == 2) { /* a clinician's patients, or the patient herself */
        fm_patient pt;
        if (j->principal.user.role == FM_ROLE_CLINICIAN)
            j->ok = fm_store_patient_list(s, j->principal.user.id, add_to_list, j) == FM_SVC_OK;
        else if ((j->ok = fm_store_patient_get(s, j->principal.user.id, &pt) == FM_SVC_OK))
            add_to_list(j, &pt);
        if (!j->ok)
            snprintf(j->error, sizeof j->error, "the worklist could not be read");
        fm_audit_entry e = {.t_ms = fm_now_ms(), .actor_id = j->principal.user.id};
        snprintf(e.actor, sizeof e.actor, "%s", j->principal.user.name);
        snprintf(e.action, sizeof e.action, "live.worklist");
        snprintf(e.object, sizeof e.object, "patients:%d", j->n_list);
        snprintf(e.peer, sizeof e.peer, "ws");
        e.status = j->ok ? 200 : 500;
        fm_store_audit_add(s, &e);
        return;
    }
    fm_user u;
    fm_svc_status rc = fm_user_name_valid(j->patient)
                           ? fm_store_user_by_name(s, j->patient, &u, NULL, 0)
                           : FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK && u.role != FM_ROLE_PATIENT)
        rc = FM_SVC_NOTFOUND;
    if (rc == FM_SVC_OK)
        rc = fm_access_patient(s, &j->principal, u.id, FM_ACCESS_CLINICAL);
    fm_audit_entry e;
    memset(&e, 0, sizeof e);
    e.t_ms = fm_now_ms();
    e.actor_id = j->principal.user.id;
    snprintf(e.actor, sizeof e.actor, "%s", j->principal.user.name);
    snprintf(e.action, sizeof e.action, rc == FM_SVC_OK ? "live.subscribe" : "live.denied");
    snprintf(e.object, sizeof e.object, "patient:%s", j->patient);
    snprintf(e.peer, sizeof e.peer, "ws");
    e.status = rc == FM_SVC_OK ? 200 : 404;
    fm_store_audit_add(s, &e);
    j->ok = rc == FM_SVC_OK;
    j->patient_id = j->ok ? u.id : 0;
    if (!j->ok)
        snprintf(j->error, sizeof j->error, "no such patient");
}

static void job_done(fm_job *job)
{
    live_job *j = (live_job *)job;
    live_pss *p = j->owner;
    if (!p) {
        free(j);
        return;
    }
    p->job = NULL;
    lws_rx_flow_control(p->wsi, 1);
    if (j->kind == 5) {
        if (!j->ok) {
            send_error(p, "unauthorized", "the session ended (signed out, expired or revoked)");
            p->closing = 1;
        }
        free(j);
        return;
    }
    cJSON *r = cJSON_CreateObject();
    if (j->kind == 0) {
        if (!j->ok) {
            cJSON_Delete(r);
            send_error(p, "unauthorized", j->error);
            p->closing = 1; /* close once the error is out */
            free(j);
            return;
        }
        p->authed = 1;
        p->principal = j->principal;
        lws_set_timeout(p->wsi, NO_PENDING_TIMEOUT, 0);
        lws_set_timer_usecs(p->wsi, FM_LIVE_RECHECK_S * LWS_USEC_PER_SEC);
        cJSON_AddStringToObject(r, "type", "hello");
        cJSON_AddStringToObject(r, "user", p->principal.user.name);
        cJSON_AddStringToObject(r, "role", fm_role_name(p->principal.user.role));
    } else if (j->kind == 3 || j->kind == 4) {
        if (j->kind == 4 && j->ok) { /* nothing to say */
            cJSON_Delete(r);
            free(j);
            return;
        }
        cJSON_AddStringToObject(r, "type", j->ok ? "acked" : "error");
        cJSON_AddNumberToObject(r, "alert", (double)j->alert_id);
        if (!j->ok) {
            int st = j->kind == 3 ? j->status : 404;
            cJSON_AddStringToObject(r, "error", st == 409 ? "conflict" : st == 404 ? "not_found"
                                                                                     : "storage");
            cJSON_AddNumberToObject(r, "status", st);
        }
    } else if (j->kind == 2) {
        cJSON_AddStringToObject(r, "type", j->ok ? "subscribed" : "error");
        if (!j->ok)
            cJSON_AddStringToObject(r, "error", "storage");
        cJSON_AddBoolToObject(r, "worklist", 1);
        cJSON *names = cJSON_AddArrayToObject(r, "patients");
        for (int i = 0; j->ok && i < j->n_list; i++) {
            subscribe_patient(p, j->list_ids[i]);
            cJSON_AddItemToArray(names, cJSON_CreateString(j->list_names[i]));
        }
    } else if (!j->ok) {
        cJSON_AddStringToObject(r, "type", "error");
        cJSON_AddStringToObject(r, "error", "not_found");
        cJSON_AddStringToObject(r, "message", j->error);
        cJSON_AddStringToObject(r, "patient", j->patient);
    } else {
        subscribe_patient(p, j->patient_id);
        cJSON_AddStringToObject(r, "type", "subscribed");
        cJSON_AddStringToObject(r, "patient", j->patient);
    }
    send_json(p, r);
    free(j);
}

static void start_job(live_pss *p, live_job *j)
{
    j->job.run = job_run;
    j->job.done = job_done;
    j->srv = p->srv;
    j->owner = p;
    p->job = j;
    lws_rx_flow_control(p->wsi, 0); /* one request at a time: the rest waits in the kernel */
    if (fm_workq_submit(p->srv->api_q, &j->job) != FM_SVC_OK) {
        p->job = NULL;
        lws_rx_flow_control(p->wsi, 1);
        free(j);
        send_error(p, "busy", "the server is busy, retry shortly");
    }
}

/* One complete control message from the viewer. */
static void on_message(live_pss *p)
{
    cJSON *in = cJSON_ParseWithLength(p->in, p->in_len);
    const char *type = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "type"));
    if (!cJSON_IsObject(in) || !type) {
        send_error(p, "bad_json", "messages are JSON objects with a \"type\"");
    } else if (!strcmp(type, "auth")) {
        const char *tok = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "token"));
        live_job *j = calloc(1, sizeof *j);
        if (p->authed || !tok || strlen(tok) >= sizeof j->token || !j) {
            free(j);
            send_error(p, "bad_request", p->authed ? "already signed in" : "\"token\" missing");
        } else {
            snprintf(j->token, sizeof j->token, "%s", tok);
            start_job(p, j);
        }
    } else if (!p->authed) {
        send_error(p, "unauthorized", "send {\"type\":\"auth\",\"token\":...} first");
    } else if (!strcmp(type, "subscribe") &&
               cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(in, "worklist"))) {
        live_job *j = calloc(1, sizeof *j);
        if (!j) {
            send_error(p, "busy", "out of memory");
        } else {
            j->kind = 2;
            j->principal = p->principal;
            start_job(p, j);
        }
    } else if (!strcmp(type, "subscribe")) {
        const char *pat = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(in, "patient"));
        live_job *j = NULL;
        if (!pat || strlen(pat) >= FM_NAME_MAX)
            send_error(p, "bad_request", "\"patient\" must be a patient's name");
        else if (p->n_subs >= FM_LIVE_MAX_SUBS)
            send_error(p, "too_many", "too many subscriptions on one connection");
        else if (!(j = calloc(1, sizeof *j)))
            send_error(p, "busy", "out of memory");
        else {
            j->kind = 1;
            snprintf(j->patient, sizeof j->patient, "%s", pat);
            j->principal = p->principal;
            start_job(p, j);
        }
    } else if (!strcmp(type, "ack") || !strcmp(type, "received")) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(in, "alert");
        live_job *j = NULL;
        if (!cJSON_IsNumber(id) || id->valuedouble < 1 || id->valuedouble > 9e15 ||
            id->valuedouble != (double)(long long)id->valuedouble)
            send_error(p, "bad_request", "\"alert\" must be an alert id");
        else if (!(j = calloc(1, sizeof *j)))
            send_error(p, "busy", "out of memory");
        else {
            j->kind = strcmp(type, "ack") ? 4 : 3;
            j->alert_id = (long long)id->valuedouble;
            j->principal = p->principal;
            start_job(p, j);
        }
    } else if (!strcmp(type, "ping")) {
        cJSON *r = cJSON_CreateObject();
        cJSON_AddStringToObject(r, "type", "pong");
        send_json(p, r);
    } else {
        send_error(p, "bad_request", "unknown message type");
    }
    cJSON_Delete(in);
}

static int on_receive(live_pss *p, struct lws *wsi, const char *in, size_t len)
{
    if (lws_frame_is_binary(wsi)) {
        send_error(p, "bad_request", "this endpoint takes JSON text messages");
        p->in_len = 0;
        return 0;
    }
    if (p->in_len + len > FM_LIVE_MAX_IN)
        p->in_too_big = 1;
    else {
        memcpy(p->in + p->in_len, in, len);
        p->in_len += len;
    }
    if (!lws_is_final_fragment(wsi) || lws_remaining_packet_payload(wsi))
        return 0;
    if (p->in_too_big)
        send_error(p, "too_large", "control messages are at most 4096 bytes");
    else if (p->job)
        send_error(p, "busy", "one request at a time"); /* cannot happen: rx is paused */
    else
        on_message(p);
    p->in_len = 0;
    p->in_too_big = 0;
    return 0;
}

/* Writes the next queued message: 1 when one was written, 0 when there was none, -1 on a
 * write error. */
static int write_one(live_pss *p, struct lws *wsi)
{
    fm_server *srv = p->srv;
    const char *text = NULL;
    size_t n = 0;
    live_msg *m = NULL;
    static const char resync[] = "{\"type\":\"resync\"}";
    if (p->resync) {
        text = resync;
        n = sizeof resync - 1;
        p->resync = 0;
    } else if (p->ring && lws_ring_consume(p->ring, NULL, &m, 1) == 1) {
        text = m->data;
        n = m->len;
    } else {
        return 0;
    }
    if (n > FM_WRITE_CHUNK) { /* never produced; refuse rather than overflow */
        msg_unref(m);
        p->resync = 1;
        return 1;
    }
    memcpy(srv->wbuf + LWS_PRE, text, n);
    int64_t t0_us = m ? m->t0_us : 0, t_q_us = m ? m->t_q_us : 0;
    msg_unref(m);
    if (lws_write(wsi, srv->wbuf + LWS_PRE, n, LWS_WRITE_TEXT) < (int)n)
        return -1;
    fm_stage_since(FM_STAGE_VIEWER_WAIT, t_q_us);
    fm_stage_since(FM_STAGE_WRITTEN, t0_us);
    return 1;
}

/* Several messages per turn while the socket takes them (lws_send_pipe_choked): one write per
 * turn left a busy viewer's queue waiting one loop iteration per message (measured: p99 0.9 s
 * at 1000 streams, docs/alerts.md 4). */
static int on_writeable(live_pss *p, struct lws *wsi)
{
    int wrote = 0;
    while (wrote < FM_LIVE_WRITES_PER_TURN && !(wrote && lws_send_pipe_choked(wsi))) {
        int r = write_one(p, wsi);
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        wrote++;
    }
    if (!wrote && p->closing) { /* everything said: close */
        lws_close_reason(wsi, LWS_CLOSE_STATUS_POLICY_VIOLATION, (unsigned char *)"unauthorized",
                         12);
        return -1;
    }
    if (p->resync || (p->ring && lws_ring_get_count_waiting_elements(p->ring, NULL)) || p->closing)
        lws_callback_on_writable(wsi);
    return 0;
}

static void on_closed(live_pss *p)
{
    for (int i = 0; i < p->n_subs; i++)
        fm_bus_unsubscribe(p->srv->bus, p->subs[i]);
    p->n_subs = 0;
    if (p->job)
        p->job->owner = NULL;
    p->job = NULL;
    drop_queue(p);
    if (p->ring)
        lws_ring_destroy(p->ring);
    p->ring = NULL;
}

int fm_live_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                     size_t len)
{
    live_pss *p = user;
    switch (reason) {
    case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION: {
        char uri[64];
        if (lws_hdr_copy(wsi, uri, sizeof uri, WSI_TOKEN_GET_URI) < 0 || strcmp(uri, FM_LIVE_PATH))
            return 1; /* refuse the upgrade elsewhere */
        break;
    }
    case LWS_CALLBACK_ESTABLISHED:
        memset(p, 0, sizeof *p);
        p->wsi = wsi;
        p->srv = lws_context_user(lws_get_context(wsi));
        p->ring = lws_ring_create(sizeof(live_msg *), FM_LIVE_QUEUE, NULL);
        if (!p->ring)
            return -1;
        lws_set_timeout(wsi, PENDING_TIMEOUT_USER_OK, FM_LIVE_AUTH_TIMEOUT_S);
        p->srv->n_viewers++;
        break;
    case LWS_CALLBACK_RECEIVE: return on_receive(p, wsi, in, len);
    case LWS_CALLBACK_SERVER_WRITEABLE: return on_writeable(p, wsi);
    case LWS_CALLBACK_TIMER: /* the session is checked again while the feed runs */
        if (p && p->srv && p->authed && !p->closing) {
            live_job *j = p->job ? NULL : calloc(1, sizeof *j);
            if (j) {
                j->kind = 5;
                j->principal = p->principal;
                start_job(p, j);
            }
            lws_set_timer_usecs(wsi, FM_LIVE_RECHECK_S * LWS_USEC_PER_SEC);
        }
        break;
    case LWS_CALLBACK_CLOSED:
        if (p && p->srv) { /* not when the upgrade was refused before ESTABLISHED */
            on_closed(p);
            p->srv->n_viewers--;
            p->srv = NULL;
        }
        break;
    default: break;
    }
    return 0;
}
