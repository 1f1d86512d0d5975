/* fm_alertsvc: see alertsvc.h. The hooks of fm_alerting run inside its calls, under the mutex:
 * they write the store through this object's own connection, publish on the bus (which only
 * copies and wakes the loop) and hand the JSON to the webhook worker (which spools it and
 * returns; the network is its thread's business). Not for rules or HTTP. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alertsvc.h"
#include "log.h"
#include "store.h"
#include "webhook.h"

#define FM_ALERT_JSON_MAX 16000 /* the live feed's largest message is 16384 */

/* Strings an engine event points into (its rule's logic text, reason codes) live in the fm_alerts
 * object of one stream, which may end before the alert does: fm_alerting keeps the event, so its
 * strings are copied here once and kept (a small bounded set: rules x configurations). */
typedef struct interned {
    struct interned *next;
    char s[];
} interned;

struct fm_alertsvc {
    interned *strings;
    pthread_mutex_t mu;
    fm_alerting *al;
    fm_store *store;
    fm_bus *bus;
    fm_webhook *webhook; /* NULL: none configured */
    char json[FM_ALERT_JSON_MAX];
};

static const char *intern(fm_alertsvc *a, const char *s)
{
    if (!s)
        return NULL;
    for (interned *i = a->strings; i; i = i->next)
        if (!strcmp(i->s, s))
            return i->s;
    size_t n = strlen(s);
    interned *i = malloc(sizeof *i + n + 1);
    if (!i)
        return "";
    memcpy(i->s, s, n + 1);
    i->next = a->strings;
    a->strings = i;
    return i->s;
}

/* ---- the JSON of a record: fm_al_record_json plus who the patient and the targets are ---- */

static size_t json_str(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    if (n < cap)
        out[n] = '"';
    n++;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        char tmp[8];
        int k = *p == '"' || *p == '\\' ? snprintf(tmp, sizeof tmp, "\\%c", *p)
                : *p < 0x20             ? snprintf(tmp, sizeof tmp, "\\u%04x", *p)
                                        : snprintf(tmp, sizeof tmp, "%c", *p);
        for (int i = 0; i < k; i++, n++)
            if (n < cap)
                out[n] = tmp[i];
    }
    if (n < cap)
        out[n] = '"';
    return n + 1;
}

static size_t team_size(fm_alertsvc *a, int64_t patient_id);

/* Into a->json; 0 when it does not fit (never half a JSON). */
static size_t record_json(fm_alertsvc *a, const fm_al_record *r)
{
    char *j = a->json;
    const size_t cap = sizeof a->json;
    size_t n = fm_al_record_json(r, j, cap);
    if (n >= cap || n < 2)
        return 0;
    n--; /* reopen the object */
    fm_patient pt;
    if (fm_store_patient_get(a->store, r->patient_id, &pt) == FM_SVC_OK) {
        n += (size_t)snprintf(j + n, n < cap ? cap - n : 0, ",\"patient\":");
        n += json_str(j + n, n < cap ? cap - n : 0, pt.name);
        n += (size_t)snprintf(j + n, n < cap ? cap - n : 0, ",\"hospital_id\":");
        n += json_str(j + n, n < cap ? cap - n : 0, pt.hospital_id);
    }
    if (r->action == FM_AL_DELIVERED) {
        /* who was told, by name, and as what: the care team's k-th clinician, or on duty
         * (a paging gateway routes on this; ids alone mean nothing outside) */
        const char *aud = (size_t)r->level < team_size(a, r->patient_id) ? "care_team" : "on_duty";
        n += (size_t)snprintf(j + n, n < cap ? cap - n : 0,
                              ",\"audience\":\"%s\",\"target_names\":[", aud);
        for (size_t i = 0; i < r->n_targets; i++) {
            fm_user u;
            if (fm_store_user_by_id(a->store, r->targets[i], &u) != FM_SVC_OK)
                snprintf(u.name, sizeof u.name, "%lld", (long long)r->targets[i]);
            n += (size_t)snprintf(j + n, n < cap ? cap - n : 0, "%s", i ? "," : "");
            n += json_str(j + n, n < cap ? cap - n : 0, u.name);
        }
        n += (size_t)snprintf(j + n, n < cap ? cap - n : 0, "]");
    }
    n += (size_t)snprintf(j + n, n < cap ? cap - n : 0, "}");
    if (n >= cap) {
        fprintf(stderr, "{\"level\":\"error\",\"event\":\"alert_too_large\",\"alert\":%lld}\n",
                (long long)r->alert_id);
        return 0;
    }
    return n;
}

/* ---- hooks (under the mutex) ---- */

static void publish(fm_alertsvc *a, const fm_al_record *r, int to_bus)
{
    if (!record_json(a, r))
        return;
    if (to_bus) {
        char topic[48];
        snprintf(topic, sizeof topic, "patient/%lld", (long long)r->patient_id);
        fm_bus_publish(a->bus, topic, a->json);
    }
    if (a->webhook && r->action != FM_AL_RECEIVED) {
        uint64_t id = 0;
        fm_status rc = fm_webhook_post(a->webhook, a->json, &id);
        if (rc != FM_OK) {
            char extra[160];
            snprintf(extra, sizeof extra, "\"alert\":%lld,\"action\":\"%s\",\"error\":\"%s\"",
                     (long long)r->alert_id, fm_al_action_name(r->action), fm_strerror(rc));
            fm_log("error", "webhook_refused", extra);
        }
    }
}

/* ",3,7," lists of user ids (store.h fm_alert_delivery). */
static void id_list_add(char *list, size_t cap, const int64_t *ids, size_t n)
{
    if (!list[0])
        snprintf(list, cap, ",");
    for (size_t i = 0; i < n; i++) {
        char item[32];
        snprintf(item, sizeof item, ",%lld,", (long long)ids[i]);
        if (strstr(list, item))
            continue;
        size_t l = strlen(list);
        if (l + strlen(item) < cap)
            snprintf(list + l, cap - l, "%s", item + 1);
    }
}

static size_t id_list_parse(const char *list, int64_t *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = list; *p && n < cap;) {
        char *end;
        long long v = strtoll(p, &end, 10);
        if (end != p && v > 0)
            out[n++] = v;
        p = *end ? end + 1 : end;
    }
    return n;
}

/* The escalation state beside the alerts row: what a restart needs (alertsvc_restore). */
static void store_delivery(fm_alertsvc *a, const fm_al_record *r)
{
    fm_alert_delivery d;
    if (fm_store_alert_delivery_get(a->store, r->alert_id, &d) != FM_SVC_OK) {
        memset(&d, 0, sizeof d);
        d.alert_id = r->alert_id;
    }
    d.episode_id = r->episode_id;
    if (r->action == FM_AL_DELIVERED) {
        d.level = r->level;
        d.delivered_ms = r->t_ms;
        id_list_add(d.notified, sizeof d.notified, r->targets, r->n_targets);
        if (r->level > 0)
            id_list_add(d.escalated, sizeof d.escalated, r->targets, r->n_targets);
    } else if (r->action == FM_AL_CLEARED) {
        d.cleared = 1;
    }
    if (fm_store_alert_delivery_put(a->store, &d) != FM_SVC_OK) {
        char extra[96];
        snprintf(extra, sizeof extra, "\"alert\":%lld", (long long)r->alert_id);
        fm_log("error", "alert_delivery_store", extra);
    }
}

static void on_record(void *user, const fm_al_record *r)
{
    fm_alertsvc *a = user;
    const fm_alert_event *e = r->event;
    const char *prio = fm_alert_priority_name(r->priority);
    switch (r->action) {
    case FM_AL_RAISED: {
        fm_alert row;
        memset(&row, 0, sizeof row);
        row.id = r->alert_id;
        row.patient_id = r->patient_id;
        snprintf(row.recording_id, sizeof row.recording_id, "%s", r->source ? r->source : "");
        snprintf(row.rule, sizeof row.rule, "%s", r->rule_code ? r->rule_code : "");
        snprintf(row.priority, sizeof row.priority, "%s", prio);
        snprintf(row.state, sizeof row.state, "raised");
        row.t_from_s = e ? e->start_s : NAN;
        row.t_to_s = e ? e->end_s : NAN;
        row.created_ms = r->t_ms;
        fm_store_alert_add(a->store, &row);
        publish(a, r, 0);
        break;
    }
    case FM_AL_UPDATED:
        fm_store_alert_update(a->store, r->alert_id, prio, NULL, e ? e->end_s : NAN);
        publish(a, r, 1);
        break;
    case FM_AL_CLEARED:
        fm_store_alert_update(a->store, r->alert_id, prio, NULL, e ? e->end_s : NAN);
        store_delivery(a, r);
        publish(a, r, 1);
        break;
    case FM_AL_ACKNOWLEDGED:
        fm_store_alert_ack(a->store, r->alert_id, r->actor_id, r->t_ms); /* NOTFOUND: done */
        publish(a, r, 1);
        break;
    case FM_AL_RESOLVED:
        fm_store_alert_update(a->store, r->alert_id, NULL, "resolved", NAN);
        publish(a, r, 1);
        break;
    case FM_AL_DELIVERED: store_delivery(a, r); break; /* published by on_deliver */
    case FM_AL_ESCALATED: publish(a, r, 0); break;
    default: break; /* RECEIVED: audit only */
    }
    fm_audit_entry au = {.t_ms = r->t_ms, .actor_id = r->actor_id, .status = 200};
    snprintf(au.actor, sizeof au.actor, "%s", r->actor_id ? "clinician" : "system");
    if (r->actor_id) {
        fm_user u;
        if (fm_store_user_by_id(a->store, r->actor_id, &u) == FM_SVC_OK)
            snprintf(au.actor, sizeof au.actor, "%s", u.name);
    }
    snprintf(au.action, sizeof au.action, "alert.%s", fm_al_action_name(r->action));
    snprintf(au.object, sizeof au.object, "alert:%lld", (long long)r->alert_id);
    snprintf(au.peer, sizeof au.peer, "alerting");
    fm_store_audit_add(a->store, &au);
}

static void on_deliver(void *user, const fm_al_record *r)
{
    publish(user, r, 1);
}

typedef struct ids {
    int64_t *out;
    size_t cap, n;
} ids;

static void add_clinician(void *ctx, const fm_user *u)
{
    ids *l = ctx;
    if (u->role == FM_ROLE_CLINICIAN && !u->disabled && l->n < l->cap)
        l->out[l->n++] = u->id;
}

static size_t care_team(void *user, int64_t patient_id, int64_t *out, size_t cap)
{
    fm_alertsvc *a = user;
    ids l = {out, cap, 0};
    fm_store_care_team(a->store, patient_id, add_clinician, &l);
    return l.n;
}

static size_t team_size(fm_alertsvc *a, int64_t patient_id)
{
    int64_t t[FM_AL_MAX_TARGETS];
    return care_team(a, patient_id, t, FM_AL_MAX_TARGETS);
}

/* No duty roster yet: every active clinician is "on duty". */
static size_t on_duty(void *user, int64_t *out, size_t cap)
{
    fm_alertsvc *a = user;
    ids l = {out, cap, 0};
    fm_store_user_list(a->store, add_clinician, &l);
    return l.n;
}

/* ---- restart: open alerts come back with their escalation state ---- */

static fm_alert_priority prio_parse(const char *s)
{
    return !strcmp(s, "high")     ? FM_ALERT_PRIO_HIGH
           : !strcmp(s, "medium") ? FM_ALERT_PRIO_MEDIUM
                                  : FM_ALERT_PRIO_LOW;
}

static void restore_one(void *ctx, const fm_alert *row, const fm_alert_delivery *d)
{
    fm_alertsvc *a = ctx;
    fm_alert_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = FM_ALERT_OPENED;
    ev.episode_id = d ? d->episode_id : 0;
    ev.rule = fm_alert_rule_parse(row->rule);
    ev.priority = prio_parse(row->priority);
    ev.start_s = row->t_from_s;
    ev.end_s = row->t_to_s;
    ev.at_s = row->t_to_s;
    ev.rule_code = intern(a, row->rule);
    if (ev.rule < FM_ALERT_N_RULES) {
        char logic[1024];
        ev.rule_name = intern(a, fm_alert_rule_name(ev.rule));
        ev.clinical_ref = intern(a, fm_alert_rule_ref(ev.rule));
        ev.kind = fm_alert_rule_kind(ev.rule);
        ev.logic = intern(a, fm_alert_rule_logic(NULL, ev.rule, logic, sizeof logic));
        snprintf(ev.message, sizeof ev.message, "%s (open before a server restart)",
                 fm_alert_rule_name(ev.rule));
    }
    int64_t notified[FM_AL_MAX_TARGETS];
    fm_al_restore r = {
        .alert_id = row->id,
        .patient_id = row->patient_id,
        .source = row->recording_id,
        .episode_id = ev.episode_id,
        .event = &ev,
        .priority = ev.priority,
        .level = d ? d->level : 0,
        .acked = !strcmp(row->state, "acknowledged"),
        .cleared = d ? d->cleared : 0,
        .raised_ms = row->created_ms,
        .ack_ms = row->ack_ms,
        .ack_by = row->ack_by,
        .delivered_ms = d ? d->delivered_ms : 0,
        .notified = notified,
        .n_notified = d ? id_list_parse(d->notified, notified, FM_AL_MAX_TARGETS) : 0,
    };
    if (fm_alerting_restore(a->al, &r) != FM_OK) {
        char extra[96];
        snprintf(extra, sizeof extra, "\"alert\":%lld", (long long)row->id);
        fm_log("error", "alert_not_restored", extra);
    }
}

/* ---- webhooks ---- */

static void on_webhook_report(void *user, const fm_webhook_report *r)
{
    (void)user;
    if (r->ok)
        return;
    char extra[400];
    snprintf(extra, sizeof extra,
             "\"delivery\":%llu,\"attempts\":%d,\"http_status\":%d,\"error\":\"%.200s\"",
             (unsigned long long)r->delivery_id, r->attempts, r->http_status,
             r->error ? r->error : "");
    for (char *p = extra; *p; p++) /* the error text is ours, but keep the line JSON */
        if (*p == '\\' || (unsigned char)*p < 0x20)
            *p = ' ';
    fm_log(strstr(extra, "spooled") ? "info" : "error", "webhook_failed", extra);
}

static fm_webhook *webhook_from(const fm_config *cfg, char *err, size_t err_len)
{
    if (!cfg->n_webhook_urls)
        return NULL;
    const char *urls[FM_WEBHOOK_URLS_MAX];
    for (int i = 0; i < cfg->n_webhook_urls; i++)
        urls[i] = cfg->webhook_urls[i];
    char spool[FM_PATH_MAX + 16];
    snprintf(spool, sizeof spool, "%s/webhooks", cfg->data_dir);
    fm_webhook_config wc;
    fm_webhook_config_default(&wc);
    wc.urls = urls;
    wc.n_urls = (size_t)cfg->n_webhook_urls;
    wc.secret = (const unsigned char *)cfg->webhook_secret;
    wc.secret_len = strlen(cfg->webhook_secret);
    wc.timeout_ms = cfg->webhook_timeout_ms;
    wc.max_attempts = cfg->webhook_max_attempts;
    wc.backoff_initial_ms = cfg->webhook_backoff_initial_ms;
    wc.backoff_max_ms = cfg->webhook_backoff_max_ms;
    wc.queue_max = (size_t)cfg->webhook_queue_max;
    wc.spool_dir = spool;
    wc.report = on_webhook_report;
    fm_webhook *w = fm_webhook_create(&wc);
    if (!w)
        snprintf(err, err_len,
                 "webhooks: bad configuration (webhook_secret of >= 16 bytes required, http://"
                 " URLs, backoff_max >= backoff_initial) or %s not writable",
                 spool);
    return w;
}

/* ---- public ---- */

static fm_alertsvc *create(const char *data_dir, fm_bus *bus, int escalate_high_s,
                           const fm_config *cfg, char *err, size_t err_len)
{
    fm_alertsvc *a = calloc(1, sizeof *a);
    if (!a) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    if (fm_store_open(data_dir, &a->store, err, err_len) != FM_SVC_OK) {
        a->store = NULL;
        fm_alertsvc_destroy(a);
        return NULL;
    }
    a->bus = bus;
    if (cfg && cfg->n_webhook_urls && !(a->webhook = webhook_from(cfg, err, err_len))) {
        fm_alertsvc_destroy(a);
        return NULL;
    }
    fm_alerting_config c;
    fm_alerting_config_default(&c);
    int64_t max_id = 0;
    fm_store_alert_max_id(a->store, &max_id);
    c.first_id = max_id + 1;
    if (escalate_high_s > 0)
        c.escalate_after_ms[FM_ALERT_PRIO_HIGH] = (int64_t)escalate_high_s * 1000;
    fm_alerting_hooks h = {
        .user = a,
        .record = on_record,
        .deliver = on_deliver,
        .care_team = care_team,
        .on_duty = on_duty,
    };
    a->al = fm_alerting_create(&c, &h);
    if (!a->al) {
        snprintf(err, err_len, "alerting: out of memory");
        fm_alertsvc_destroy(a);
        return NULL;
    }
    fm_store_alert_open(a->store, restore_one, a);
    return a;
}

fm_alertsvc *fm_alertsvc_create(const char *data_dir, fm_bus *bus, int escalate_high_s)
{
    char err[256];
    return create(data_dir, bus, escalate_high_s, NULL, err, sizeof err);
}

fm_alertsvc *fm_alertsvc_create_from(const fm_config *cfg, fm_bus *bus, char *err, size_t err_len)
{
    return create(cfg->data_dir, bus, cfg->alert_escalate_s, cfg, err, err_len);
}

void fm_alertsvc_destroy(fm_alertsvc *a)
{
    if (!a)
        return;
    fm_alerting_destroy(a->al);
    fm_webhook_destroy(a->webhook); /* what is not delivered stays spooled for the next start */
    fm_store_close(a->store);
    pthread_mutex_destroy(&a->mu);
    while (a->strings) {
        interned *n = a->strings->next;
        free(a->strings);
        a->strings = n;
    }
    free(a);
}

/* Under the mutex. */
static void event_locked(fm_alertsvc *a, int64_t patient_id, const char *recording_id,
                         const fm_alert_event *in)
{
    fm_alert_event ev = *in;
    ev.rule_code = intern(a, in->rule_code);
    ev.rule_name = intern(a, in->rule_name);
    ev.clinical_ref = intern(a, in->clinical_ref);
    ev.logic = intern(a, in->logic);
    for (int i = 0; i < ev.n_reasons && i < FM_ALERT_MAX_REASONS; i++)
        ev.reasons[i] = intern(a, in->reasons[i]);
    for (int i = 0; i < ev.n_values && i < FM_ALERT_MAX_VALUES; i++)
        ev.values[i].key = intern(a, in->values[i].key);
    int64_t id = 0;
    if (fm_alerting_event(a->al, patient_id, recording_id, &ev, fm_now_ms(), &id) != FM_OK)
        fprintf(stderr, "{\"level\":\"error\",\"event\":\"alert_refused\",\"rule\":\"%s\"}\n",
                ev.rule_code);
}

void fm_alertsvc_event(fm_alertsvc *a, int64_t patient_id, const char *recording_id,
                       const fm_alert_event *in)
{
    pthread_mutex_lock(&a->mu);
    event_locked(a, patient_id, recording_id, in);
    pthread_mutex_unlock(&a->mu);
}

fm_svc_status fm_alertsvc_ack(fm_alertsvc *a, int64_t alert_id, int64_t clinician_id)
{
    pthread_mutex_lock(&a->mu);
    fm_status rc = fm_alerting_ack(a->al, alert_id, clinician_id, fm_now_ms());
    pthread_mutex_unlock(&a->mu);
    return rc == FM_OK ? FM_SVC_OK : FM_SVC_NOTFOUND;
}

void fm_alertsvc_received(fm_alertsvc *a, int64_t alert_id, int64_t clinician_id)
{
    pthread_mutex_lock(&a->mu);
    fm_alerting_received(a->al, alert_id, clinician_id, fm_now_ms());
    pthread_mutex_unlock(&a->mu);
}

void fm_alertsvc_tick(fm_alertsvc *a)
{
    pthread_mutex_lock(&a->mu);
    int64_t now = fm_now_ms();
    if (fm_alerting_next_due_ms(a->al) <= now)
        fm_alerting_tick(a->al, now);
    pthread_mutex_unlock(&a->mu);
}
