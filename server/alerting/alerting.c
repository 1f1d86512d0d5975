/* The alert life cycle (alerting.h): raise, deliver, escalate, acknowledge, clear, resolve, each
 * transition reported as a record. Pure logic on the caller's clock; the hooks do the I/O.
 * Alerts are few (one per condition episode), so they live in a plain array searched linearly.
 * Not for persistence or delivery I/O (the server's hooks) or JSON (alerting_json.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerting.h"

typedef struct al_alert {
    int64_t id, patient_id;
    char source[FM_AL_SOURCE_MAX];
    uint64_t episode_id;
    fm_al_state state;
    fm_alert_priority prio;
    int cleared, acked, level;
    int64_t raised_ms, ack_ms, ack_by, next_ms;
    int64_t *notified;
    size_t n_notified, cap_notified;
    fm_alert_event last; /* the last engine event (its pointers are the engine's statics) */
} al_alert;

struct fm_alerting {
    fm_alerting_config cfg;
    fm_alerting_hooks hooks;
    int64_t next_id;
    al_alert **v;
    size_t n, cap;
};

#define ESCALATE_HIGH_MS 120000 /* unverified: a local escalation policy, configurable */

void fm_alerting_config_default(fm_alerting_config *c)
{
    memset(c, 0, sizeof *c);
    c->escalate_after_ms[FM_ALERT_PRIO_HIGH] = ESCALATE_HIGH_MS;
    c->latching[FM_ALERT_PRIO_HIGH] = 1;
    c->latching[FM_ALERT_PRIO_MEDIUM] = 1;
    c->first_id = 1;
    c->max_alerts = 100000;
}

fm_alerting *fm_alerting_create(const fm_alerting_config *cfg, const fm_alerting_hooks *hooks)
{
    if (!hooks || !hooks->record || !hooks->care_team)
        return NULL;
    fm_alerting *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    if (cfg)
        a->cfg = *cfg;
    else
        fm_alerting_config_default(&a->cfg);
    if (a->cfg.first_id < 1 || a->cfg.max_alerts < 1) {
        free(a);
        return NULL;
    }
    a->hooks = *hooks;
    a->next_id = a->cfg.first_id;
    return a;
}

static void alert_free(al_alert *x)
{
    free(x->notified);
    free(x);
}

void fm_alerting_destroy(fm_alerting *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++)
        alert_free(a->v[i]);
    free(a->v);
    free(a);
}

static al_alert *find_id(const fm_alerting *a, int64_t id, size_t *at)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i]->id == id) {
            if (at)
                *at = i;
            return a->v[i];
        }
    return NULL;
}

static al_alert *find_episode(const fm_alerting *a, const char *source, uint64_t ep)
{
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i]->episode_id == ep && !strcmp(a->v[i]->source, source))
            return a->v[i];
    return NULL;
}

static void emit(fm_alerting *a, const al_alert *x, fm_al_action act, int64_t now_ms, int64_t actor,
                 const int64_t *targets, size_t n_targets, const char *note)
{
    fm_al_record r;
    memset(&r, 0, sizeof r);
    r.alert_id = x->id;
    r.patient_id = x->patient_id;
    r.source = x->source;
    r.episode_id = x->episode_id;
    r.action = act;
    r.state = x->state;
    r.t_ms = now_ms;
    r.actor_id = actor;
    r.level = x->level;
    r.targets = targets;
    r.n_targets = n_targets;
    r.priority = x->prio;
    r.rule_code = x->last.rule_code;
    r.event = &x->last;
    r.note = note;
    a->hooks.record(a->hooks.user, &r);
    if (act == FM_AL_DELIVERED && a->hooks.deliver)
        a->hooks.deliver(a->hooks.user, &r);
}

static int notified(const al_alert *x, int64_t id)
{
    for (size_t i = 0; i < x->n_notified; i++)
        if (x->notified[i] == id)
            return 1;
    return 0;
}

static void remember(al_alert *x, const int64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (notified(x, ids[i]))
            continue;
        if (x->n_notified == x->cap_notified) {
            size_t cap = x->cap_notified ? x->cap_notified * 2 : 8;
            int64_t *v = realloc(x->notified, cap * sizeof *v);
            if (!v)
                return; /* only makes a later level repeat a name: harmless */
            x->notified = v;
            x->cap_notified = cap;
        }
        x->notified[x->n_notified++] = ids[i];
    }
}

/* Targets of level `level`: the level-th clinician of the care team, or (level == team size)
 * everyone on duty not yet notified. Returns -1 when there is no such level. */
static long level_targets(fm_alerting *a, const al_alert *x, int level, int64_t *out, size_t cap)
{
    int64_t team[FM_AL_MAX_TARGETS];
    size_t nt = a->hooks.care_team(a->hooks.user, x->patient_id, team, FM_AL_MAX_TARGETS);
    if (nt > FM_AL_MAX_TARGETS)
        nt = FM_AL_MAX_TARGETS;
    if ((size_t)level < nt) {
        out[0] = team[level];
        return 1;
    }
    if ((size_t)level > nt || !a->hooks.on_duty)
        return -1;
    int64_t duty[FM_AL_MAX_TARGETS];
    size_t nd = a->hooks.on_duty(a->hooks.user, duty, FM_AL_MAX_TARGETS), n = 0;
    if (nd > FM_AL_MAX_TARGETS)
        nd = FM_AL_MAX_TARGETS;
    for (size_t i = 0; i < nd && n < cap; i++)
        if (!notified(x, duty[i]))
            out[n++] = duty[i];
    return (long)n;
}

static int has_level(fm_alerting *a, const al_alert *x, int level)
{
    int64_t t[FM_AL_MAX_TARGETS];
    return level_targets(a, x, level, t, FM_AL_MAX_TARGETS) >= 0;
}

static void arm(fm_alerting *a, al_alert *x, int64_t now_ms)
{
    int64_t after = a->cfg.escalate_after_ms[x->prio];
    x->next_ms =
        !x->acked && after > 0 && has_level(a, x, x->level + 1) ? now_ms + after : INT64_MAX;
}

/* Deliver at the current level; a level with nobody (e.g. a clinician already notified, an
 * empty care team) passes to the next one at once, so someone is always told if anyone can be. */
static void deliver(fm_alerting *a, al_alert *x, int64_t now_ms)
{
    int64_t t[FM_AL_MAX_TARGETS];
    long n;
    while ((n = level_targets(a, x, x->level, t, FM_AL_MAX_TARGETS)) == 0 ||
           (n == 1 && x->level >= 0 && notified(x, t[0]) && has_level(a, x, x->level + 1)))
        x->level++;
    if (n < 0)
        n = 0;
    remember(x, t, (size_t)n);
    if (x->state == FM_AL_STATE_RAISED)
        x->state = FM_AL_STATE_DELIVERED;
    emit(a, x, FM_AL_DELIVERED, now_ms, 0, t, (size_t)n, n ? NULL : "no clinician to notify");
    arm(a, x, now_ms);
}

static void drop(fm_alerting *a, size_t i)
{
    alert_free(a->v[i]);
    a->v[i] = a->v[--a->n];
}

static void resolve(fm_alerting *a, al_alert *x, int64_t now_ms, int64_t actor, const char *note)
{
    size_t at;
    x->state = FM_AL_STATE_RESOLVED;
    x->next_ms = INT64_MAX;
    emit(a, x, FM_AL_RESOLVED, now_ms, actor, NULL, 0, note);
    if (find_id(a, x->id, &at))
        drop(a, at);
}

/* A zeroed alert of patient_id from source, with room for it in the array (the caller fills it
 * in and appends it); FM_ERANGE when max_alerts are open. */
static fm_status alert_new(fm_alerting *a, int64_t patient_id, const char *source, al_alert **out)
{
    if (a->n >= a->cfg.max_alerts)
        return FM_ERANGE;
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        al_alert **v = realloc(a->v, cap * sizeof *v);
        if (!v)
            return FM_ENOMEM;
        a->v = v;
        a->cap = cap;
    }
    al_alert *x = calloc(1, sizeof *x);
    if (!x)
        return FM_ENOMEM;
    x->patient_id = patient_id;
    snprintf(x->source, sizeof x->source, "%s", source);
    *out = x;
    return FM_OK;
}

static fm_status raise_alert(fm_alerting *a, int64_t patient_id, const char *source,
                             const fm_alert_event *ev, int64_t now_ms, int64_t *id)
{
    al_alert *x;
    fm_status rc = alert_new(a, patient_id, source, &x);
    if (rc != FM_OK)
        return rc;
    x->id = a->next_id++;
    x->episode_id = ev->episode_id;
    x->state = FM_AL_STATE_RAISED;
    x->prio = ev->priority;
    x->raised_ms = now_ms;
    x->next_ms = INT64_MAX;
    x->last = *ev;
    a->v[a->n++] = x;
    *id = x->id;
    emit(a, x, FM_AL_RAISED, now_ms, 0, NULL, 0, NULL);
    deliver(a, x, now_ms);
    return FM_OK;
}

fm_status fm_alerting_restore(fm_alerting *a, const fm_al_restore *r)
{
    if (!a || !r || !r->source || !r->event || strlen(r->source) >= FM_AL_SOURCE_MAX ||
        r->alert_id < 1 || r->priority < FM_ALERT_PRIO_LOW || r->priority > FM_ALERT_PRIO_HIGH ||
        r->level < 0 || find_id(a, r->alert_id, NULL))
        return FM_EINVAL;
    al_alert *x;
    fm_status rc = alert_new(a, r->patient_id, r->source, &x);
    if (rc != FM_OK)
        return rc;
    x->id = r->alert_id;
    x->episode_id = r->episode_id;
    x->prio = r->priority;
    x->cleared = r->cleared;
    x->acked = r->acked;
    x->level = r->level;
    x->raised_ms = r->raised_ms;
    x->ack_ms = r->ack_ms;
    x->ack_by = r->ack_by;
    x->state = r->acked ? FM_AL_STATE_ACKNOWLEDGED
               : r->n_notified ? FM_AL_STATE_DELIVERED
                               : FM_AL_STATE_RAISED;
    x->last = *r->event;
    remember(x, r->notified, r->n_notified);
    a->v[a->n++] = x;
    if (a->next_id <= x->id)
        a->next_id = x->id + 1;
    if (!r->n_notified && !r->acked) { /* stopped between raising and delivering: the next
                                          tick delivers level 0 (as an escalation record) */
        x->level = -1;
        x->next_ms = x->raised_ms;
    } else {
        arm(a, x, r->delivered_ms > 0 ? r->delivered_ms : r->raised_ms);
    }
    return FM_OK;
}

fm_status fm_alerting_event(fm_alerting *a, int64_t patient_id, const char *source,
                            const fm_alert_event *ev, int64_t now_ms, int64_t *alert_id)
{
    int64_t dummy;
    if (!alert_id)
        alert_id = &dummy;
    *alert_id = 0;
    if (!a || !ev || !source || strlen(source) >= FM_AL_SOURCE_MAX ||
        ev->priority < FM_ALERT_PRIO_LOW || ev->priority > FM_ALERT_PRIO_HIGH)
        return FM_EINVAL;
    al_alert *x = find_episode(a, source, ev->episode_id);
    if (ev->type == FM_ALERT_OPENED) {
        if (x) {
            *alert_id = x->id;
            return FM_OK;
        }
        return raise_alert(a, patient_id, source, ev, now_ms, alert_id);
    }
    if (!x)
        return FM_OK; /* an episode whose alert is already resolved: nothing to do */
    *alert_id = x->id;
    x->last = *ev;
    if (ev->type == FM_ALERT_UPDATED) {
        fm_alert_priority before = x->prio;
        if (ev->priority > x->prio)
            x->prio = ev->priority;
        emit(a, x, FM_AL_UPDATED, now_ms, 0, NULL, 0, NULL);
        /* worse priority: it may now escalate (or sooner) */
        if (x->prio > before && !x->acked) {
            int64_t was = x->next_ms;
            arm(a, x, now_ms);
            if (was < x->next_ms)
                x->next_ms = was;
        }
        return FM_OK;
    }
    /* CLOSED */
    x->cleared = 1;
    emit(a, x, FM_AL_CLEARED, now_ms, 0, NULL, 0, NULL);
    if (x->acked || !a->cfg.latching[x->prio])
        resolve(a, x, now_ms, 0, x->acked ? "cleared after acknowledgement" : "cleared");
    return FM_OK;
}

fm_status fm_alerting_ack(fm_alerting *a, int64_t alert_id, int64_t clinician_id, int64_t now_ms)
{
    al_alert *x = a ? find_id(a, alert_id, NULL) : NULL;
    if (!x || clinician_id <= 0)
        return FM_EINVAL;
    if (x->acked)
        return FM_OK;
    x->acked = 1;
    x->ack_ms = now_ms;
    x->ack_by = clinician_id;
    x->state = FM_AL_STATE_ACKNOWLEDGED;
    x->next_ms = INT64_MAX;
    emit(a, x, FM_AL_ACKNOWLEDGED, now_ms, clinician_id, NULL, 0, NULL);
    if (x->cleared)
        resolve(a, x, now_ms, 0, "acknowledged after the condition cleared");
    return FM_OK;
}

fm_status fm_alerting_received(fm_alerting *a, int64_t alert_id, int64_t clinician_id,
                               int64_t now_ms)
{
    al_alert *x = a ? find_id(a, alert_id, NULL) : NULL;
    if (!x || clinician_id <= 0)
        return FM_EINVAL;
    emit(a, x, FM_AL_RECEIVED, now_ms, clinician_id, NULL, 0, NULL);
    return FM_OK;
}

fm_status fm_alerting_resolve(fm_alerting *a, int64_t alert_id, int64_t clinician_id,
                              int64_t now_ms, const char *note)
{
    al_alert *x = a ? find_id(a, alert_id, NULL) : NULL;
    if (!x || clinician_id <= 0)
        return FM_EINVAL;
    if (!x->acked) {
        x->acked = 1;
        x->ack_ms = now_ms;
        x->ack_by = clinician_id;
        x->state = FM_AL_STATE_ACKNOWLEDGED;
        emit(a, x, FM_AL_ACKNOWLEDGED, now_ms, clinician_id, NULL, 0, NULL);
    }
    resolve(a, x, now_ms, clinician_id, note ? note : "resolved by a clinician");
    return FM_OK;
}

void fm_alerting_tick(fm_alerting *a, int64_t now_ms)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->n; i++) {
        al_alert *x = a->v[i];
        if (x->acked || x->next_ms > now_ms)
            continue;
        x->level++;
        emit(a, x, FM_AL_ESCALATED, now_ms, 0, NULL, 0, NULL);
        deliver(a, x, now_ms);
    }
}

int64_t fm_alerting_next_due_ms(const fm_alerting *a)
{
    int64_t t = INT64_MAX;
    for (size_t i = 0; a && i < a->n; i++)
        if (a->v[i]->next_ms < t)
            t = a->v[i]->next_ms;
    return t;
}

fm_status fm_alerting_get(const fm_alerting *a, int64_t alert_id, fm_al_info *o)
{
    const al_alert *x = a ? find_id(a, alert_id, NULL) : NULL;
    if (!x || !o)
        return FM_EINVAL;
    memset(o, 0, sizeof *o);
    o->alert_id = x->id;
    o->patient_id = x->patient_id;
    o->episode_id = x->episode_id;
    o->state = x->state;
    o->priority = x->prio;
    o->rule = x->last.rule;
    o->cleared = x->cleared;
    o->level = x->level;
    o->raised_ms = x->raised_ms;
    o->ack_ms = x->ack_ms;
    o->ack_by = x->ack_by;
    o->next_escalation_ms = x->next_ms;
    o->n_notified = x->n_notified;
    return FM_OK;
}

size_t fm_alerting_active(const fm_alerting *a)
{
    return a ? a->n : 0;
}

const char *fm_al_state_name(fm_al_state s)
{
    switch (s) {
    case FM_AL_STATE_RAISED: return "raised";
    case FM_AL_STATE_DELIVERED: return "delivered";
    case FM_AL_STATE_ACKNOWLEDGED: return "acknowledged";
    default: return "resolved";
    }
}

const char *fm_al_action_name(fm_al_action a)
{
    switch (a) {
    case FM_AL_RAISED: return "raised";
    case FM_AL_DELIVERED: return "delivered";
    case FM_AL_ESCALATED: return "escalated";
    case FM_AL_UPDATED: return "updated";
    case FM_AL_ACKNOWLEDGED: return "acknowledged";
    case FM_AL_CLEARED: return "cleared";
    case FM_AL_RECEIVED: return "received";
    default: return "resolved";
    }
}
