/* fm_alerting: the life cycle of an alert once the rule engine (fetalmon/alerts.h) has emitted
 * it: raised -> delivered (to which clinicians) -> acknowledged (by whom, when) -> resolved, with
 * escalation of unacknowledged alerts (HIGH by default) to the next clinician of the patient's
 * care team, then to every clinician on duty. Every transition is handed to the caller as a
 * record (who, when, what) through one callback, for the store and the audit log.
 *
 * What it is for: pure decision logic with a caller-driven clock (now_ms is passed in; nothing
 * here reads the time, sleeps, or does I/O), so tests drive hours of escalation in microseconds
 * and the event loop calls it without blocking.
 * What it is not for: persistence, permissions, WebSocket or webhook I/O (the server implements
 * the hooks; webhook.h posts to external systems), deciding that a condition holds (alerts.h).
 *
 * Life cycle of an alert:
 *   RAISED      engine OPENED event                 -> record RAISED, then DELIVERED to level 0
 *   DELIVERED   the deliver hook was called with the targets (level 0: the first clinician of
 *               the care team; escalation levels add the next ones, then all on duty)
 *   ACKNOWLEDGED fm_alerting_ack by a clinician      -> stops escalation
 *   RESOLVED    the condition cleared (engine CLOSED -> record CLEARED) and it was acknowledged;
 *               non-latching priorities (LOW by default) resolve when cleared; a clinician may
 *               resolve by hand (fm_alerting_resolve). Resolved alerts leave memory.
 * Latching (IEC 60601-1-8): a HIGH or MEDIUM alert whose condition cleared before anyone
 * acknowledged it stays, and keeps escalating, until acknowledged. */
#ifndef FM_ALERTING_H
#define FM_ALERTING_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/alerts.h"
#include "fetalmon/common.h"

typedef enum fm_al_state {
    FM_AL_STATE_RAISED = 0,
    FM_AL_STATE_DELIVERED,
    FM_AL_STATE_ACKNOWLEDGED,
    FM_AL_STATE_RESOLVED
} fm_al_state;

/* What a record says happened. */
typedef enum fm_al_action {
    FM_AL_RAISED = 0,   /* a new alert (with the engine event) */
    FM_AL_DELIVERED,    /* sent to targets[] at escalation level `level` */
    FM_AL_ESCALATED,    /* unacknowledged past its time: next level (followed by DELIVERED) */
    FM_AL_UPDATED,      /* the engine updated the episode (worse priority, larger extent) */
    FM_AL_ACKNOWLEDGED, /* by actor_id */
    FM_AL_CLEARED,      /* the engine closed the episode: the condition is gone */
    FM_AL_RESOLVED,     /* done (actor_id 0 = automatically, after clear and acknowledgement) */
    FM_AL_RECEIVED      /* a clinician's client confirmed it has the alert on screen (actor_id) */
} fm_al_action;

#define FM_AL_SOURCE_MAX 64
#define FM_AL_MAX_TARGETS 256

/* One transition, for the store and the audit log. Pointers valid during the callback only. */
typedef struct fm_al_record {
    int64_t alert_id;
    int64_t patient_id;
    const char *source;  /* the recording or stream the engine ran on */
    uint64_t episode_id; /* the engine's episode */
    fm_al_action action;
    fm_al_state state; /* after this transition */
    int64_t t_ms;      /* the caller's clock */
    int64_t actor_id;  /* clinician who acted; 0 = the system */
    int level;         /* escalation level: 0 first clinician, k the k-th, then on duty */
    size_t n_targets;
    const int64_t *targets; /* DELIVERED: who it was sent to */
    fm_alert_priority priority;
    const char *rule_code;
    const fm_alert_event *event; /* RAISED, UPDATED, CLEARED: the engine event; else the last */
    const char *note;            /* resolve note, or NULL */
} fm_al_record;

/* Implemented by the server. record and deliver are called synchronously from the fm_alerting
 * call that caused them (on the caller's thread); they must not block (queue I/O elsewhere). */
typedef struct fm_alerting_hooks {
    void *user;
    /* every transition (store + audit). Required. */
    void (*record)(void *user, const fm_al_record *r);
    /* notify r->targets of the alert (WebSocket push, webhook post). May be NULL. */
    void (*deliver)(void *user, const fm_al_record *r);
    /* the patient's care team, in escalation order (responsible clinician first) */
    size_t (*care_team)(void *user, int64_t patient_id, int64_t *out, size_t cap);
    /* every clinician on duty now */
    size_t (*on_duty)(void *user, int64_t *out, size_t cap);
} fm_alerting_hooks;

typedef struct fm_alerting_config {
    /* by fm_alert_priority: time without acknowledgement before the next escalation level;
     * 0 = never escalates. Defaults: HIGH 120 s (unverified: a local policy), MEDIUM and LOW 0. */
    int64_t escalate_after_ms[4];
    /* by priority: latched until acknowledged even if the condition clears (HIGH, MEDIUM) */
    int latching[4];
    int64_t first_id;  /* first alert id (the server resumes after its stored ids) */
    size_t max_alerts; /* unresolved alerts held; beyond, new alerts are refused (FM_ERANGE) */
} fm_alerting_config;

void fm_alerting_config_default(fm_alerting_config *c);

typedef struct fm_alerting fm_alerting;

/* NULL cfg = defaults; hooks are copied (record and care_team required). */
fm_alerting *fm_alerting_create(const fm_alerting_config *cfg, const fm_alerting_hooks *hooks);
void fm_alerting_destroy(fm_alerting *a);

/* An engine event for a patient's recording/stream `source`. OPENED raises (and delivers) a new
 * alert, UPDATED / CLOSED act on the alert of that episode. *alert_id (may be NULL) gets the
 * alert's id, 0 when none. A repeated OPENED for the same episode is ignored (same id).
 * FM_ERANGE when max_alerts are unresolved (the alert is not raised: the caller must log it). */
fm_status fm_alerting_event(fm_alerting *a, int64_t patient_id, const char *source,
                            const fm_alert_event *ev, int64_t now_ms, int64_t *alert_id);

/* A clinician acknowledges. FM_EINVAL for an unknown (or already resolved) alert. */
fm_status fm_alerting_ack(fm_alerting *a, int64_t alert_id, int64_t clinician_id, int64_t now_ms);

/* A clinician's browser or phone confirms the alert reached the screen (the WebSocket client
 * answers the push): recorded, no state change. FM_EINVAL for an unknown alert. */
fm_status fm_alerting_received(fm_alerting *a, int64_t alert_id, int64_t clinician_id,
                               int64_t now_ms);

/* A clinician resolves by hand (acknowledges too). */
fm_status fm_alerting_resolve(fm_alerting *a, int64_t alert_id, int64_t clinician_id,
                              int64_t now_ms, const char *note);

/* Escalations due at now_ms. Call when fm_alerting_next_due_ms() is reached (an lws timer). */
void fm_alerting_tick(fm_alerting *a, int64_t now_ms);
/* The next time tick has something to do; INT64_MAX when nothing is pending. */
int64_t fm_alerting_next_due_ms(const fm_alerting *a);

/* An alert that was open when the server stopped, as the server stored it: it comes back with
 * its escalation level, the clinicians already told and its escalation deadline
 * (delivered_ms + the priority's escalation time; overdue ones escalate at the next tick), so
 * that escalation continues on time across a restart. No record is emitted. A later engine
 * event for (source, episode_id) acts on it. */
typedef struct fm_al_restore {
    int64_t alert_id, patient_id;
    const char *source;
    uint64_t episode_id;
    const fm_alert_event *event; /* rule, priority, range: what the alert is about (copied; its
                                    strings must outlive the alert) */
    fm_alert_priority priority;
    int level, acked, cleared;
    int64_t raised_ms, ack_ms, ack_by, delivered_ms;
    const int64_t *notified;
    size_t n_notified;
} fm_al_restore;
/* FM_EINVAL for a bad record or an id already held; FM_ERANGE when max_alerts are held. */
fm_status fm_alerting_restore(fm_alerting *a, const fm_al_restore *r);

typedef struct fm_al_info {
    int64_t alert_id, patient_id;
    uint64_t episode_id;
    fm_al_state state;
    fm_alert_priority priority;
    fm_alert_rule rule;
    int cleared, level;
    int64_t raised_ms, ack_ms, ack_by, next_escalation_ms;
    size_t n_notified;
} fm_al_info;

/* FM_EINVAL when unknown or resolved. */
fm_status fm_alerting_get(const fm_alerting *a, int64_t alert_id, fm_al_info *out);
size_t fm_alerting_active(const fm_alerting *a);

const char *fm_al_state_name(fm_al_state s);   /* "raised", "delivered", ... */
const char *fm_al_action_name(fm_al_action a); /* "raised", "delivered", "escalated", ... */

/* The record as JSON (what the webhook posts and the browser receives): into buf, NUL-ended.
 * Returns the length, or a value >= len when it did not fit. */
size_t fm_al_record_json(const fm_al_record *r, char *buf, size_t len);

#endif
