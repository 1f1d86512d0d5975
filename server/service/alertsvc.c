/* fm_alertsvc: see alertsvc.h. The hooks of fm_alerting run inside its calls, under the mutex:
 * they write the store through this object's own connection and publish on the bus (which only
 * copies and wakes the loop). Not for rules or webhooks. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"
#include "alertsvc.h"
#include "store.h"

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
    char json[FM_ALERT_JSON_MAX];
};

/* ---- hooks (under the mutex) ---- */

static void publish(fm_alertsvc *a, const fm_al_record *r)
{
    size_t n = fm_al_record_json(r, a->json, sizeof a->json);
    if (n >= sizeof a->json) { /* never half a JSON; cannot happen with sane rule texts */
        fprintf(stderr, "{\"level\":\"error\",\"event\":\"alert_too_large\",\"alert\":%lld}\n",
                (long long)r->alert_id);
        return;
    }
    char topic[48];
    snprintf(topic, sizeof topic, "patient/%lld", (long long)r->patient_id);
    fm_bus_publish(a->bus, topic, a->json);
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
        break;
    }
    case FM_AL_UPDATED:
    case FM_AL_CLEARED:
        fm_store_alert_update(a->store, r->alert_id, prio, NULL, e ? e->end_s : NAN);
        publish(a, r);
        break;
    case FM_AL_ACKNOWLEDGED:
        fm_store_alert_ack(a->store, r->alert_id, r->actor_id, r->t_ms); /* NOTFOUND: done */
        publish(a, r);
        break;
    case FM_AL_RESOLVED:
        fm_store_alert_update(a->store, r->alert_id, NULL, "resolved", NAN);
        publish(a, r);
        break;
    default: break; /* DELIVERED is published by on_deliver; ESCALATED, RECEIVED: audit only */
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
    publish(user, r);
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

/* No duty roster yet: every active clinician is "on duty". */
static size_t on_duty(void *user, int64_t *out, size_t cap)
{
    fm_alertsvc *a = user;
    ids l = {out, cap, 0};
    fm_store_user_list(a->store, add_clinician, &l);
    return l.n;
}

/* ---- public ---- */

fm_alertsvc *fm_alertsvc_create(const char *data_dir, fm_bus *bus, int escalate_high_s)
{
    fm_alertsvc *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    char err[256];
    if (fm_store_open(data_dir, &a->store, err, sizeof err) != FM_SVC_OK) {
        free(a);
        return NULL;
    }
    a->bus = bus;
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
        fm_store_close(a->store);
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->mu, NULL);
    return a;
}

void fm_alertsvc_destroy(fm_alertsvc *a)
{
    if (!a)
        return;
    fm_alerting_destroy(a->al);
    fm_store_close(a->store);
    pthread_mutex_destroy(&a->mu);
    while (a->strings) {
        interned *n = a->strings->next;
        free(a->strings);
        a->strings = n;
    }
    free(a);
}

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

void fm_alertsvc_event(fm_alertsvc *a, int64_t patient_id, const char *recording_id,
                       const fm_alert_event *in)
{
    pthread_mutex_lock(&a->mu);
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
