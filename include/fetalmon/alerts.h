/* fm_alerts: the alert rule engine. Turns a 4 Hz FHR stream and its CTG analyses into alert
 * episodes (opened / updated / closed), one per condition episode, never one per sample.
 *
 * What it is for: deciding, from the samples as they arrive and from each fm_ctg_result, which
 * clinical or technical condition holds, since when, how bad (priority after IEC 60601-1-8,
 * CLINICAL 5), with the data behind it, a human message and the rule's logic text (disclosed to
 * the clinician, IEC 60601-1-8 6.2). Every rule is a named, configurable row of the rule table
 * (dsp/alerts_rules.c) citing its CLINICAL.md section. docs/alerts.md lists them all.
 *
 * What it is not for: delivery, acknowledgement, escalation, storage (server/alerting/), the
 * analysis itself (ctg.h), wall-clock time (all times here are trace time in seconds from the
 * first sample, so the same object serves an upload and a live stream and tests drive time).
 *
 * Life cycle (liquid-dsp style):
 *     fm_alerts *q = fm_alerts_create(&cfg);        // cfg NULL = defaults, events queued
 *     fm_alerts_push(q, fhr_bpm, state, n);         // every sample, as it arrives
 *     fm_alerts_update(q, result);                  // after each CTG re-analysis (every 2 min
 *                                                   // live; once at the end of an upload)
 *     fm_alerts_technical(q, FM_ALERT_STREAM_STALLED, t_s, 1, "no data for 30 s");
 *     while (fm_alerts_pop(q, &ev)) ...;            // or a sink callback in cfg
 *     fm_alerts_finish(q, final_result);            // end of recording (final analysis or
 *                                                   // NULL): closes open episodes
 *     fm_alerts_destroy(q);
 *
 * Threads: one object is used by one thread at a time (the one that owns the stream's fm_ctg);
 * objects are independent. Memory: about 11 kB per object (+5 kB once the queue is used), plus
 * 12 bytes per minute of trace and ~0.5 kB per episode remembered.
 *
 * Timing: a sample-level rule (FHR < 80 bpm, prolonged deceleration below the last known
 * baseline, signal loss, maternal capture) emits its event inside the fm_alerts_push() call that
 * delivers the sample completing the condition; an analysis-level rule emits inside
 * fm_alerts_update(). Detection delay is the rule's clinical window (plus, for analysis-level
 * rules, the time until the caller re-runs the analysis). */
#ifndef FETALMON_ALERTS_H
#define FETALMON_ALERTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fetalmon/common.h"
#include "fetalmon/ctg.h"

#ifdef __cplusplus
extern "C" {
#endif

/* IEC 60601-1-8 priorities (CLINICAL 5). Ordered: a larger value is more urgent. */
typedef enum fm_alert_priority {
    FM_ALERT_PRIO_NONE = 0,
    FM_ALERT_PRIO_LOW = 1,    /* awareness */
    FM_ALERT_PRIO_MEDIUM = 2, /* prompt response */
    FM_ALERT_PRIO_HIGH = 3    /* immediate response: death or irreversible harm possible */
} fm_alert_priority;

/* Physiological (about the baby) and technical (about the equipment or the signal) alerts are
 * kept apart, as IEC 60601-1-8 asks. */
typedef enum fm_alert_kind { FM_ALERT_PHYSIOLOGICAL = 0, FM_ALERT_TECHNICAL = 1 } fm_alert_kind;

/* The rules. The order is the rule table's (dsp/alerts_rules.c) and is part of the API. */
typedef enum fm_alert_rule {
    /* sample-level: fire with the completing sample */
    FM_ALERT_FHR_BELOW_80 = 0, /* FHR < 80 bpm for > 3 min (CLINICAL 4.1, 5) */
    FM_ALERT_PROLONGED_DECEL,  /* > 15 bpm below baseline for > 3 min (CLINICAL 4.1, 5) */
    FM_ALERT_SIGNAL_LOSS,      /* lost signal over a sliding window (CLINICAL 2, 5) */
    FM_ALERT_MATERNAL_CAPTURE, /* maternal-looking samples over a window (CLINICAL 2, 5) */
    /* analysis-level: on each fm_ctg_result */
    FM_ALERT_BRADYCARDIA,           /* baseline < 110 bpm > 10 min (CLINICAL 4.1, 5) */
    FM_ALERT_TACHYCARDIA,           /* baseline > 160 bpm > 10 min (CLINICAL 4.1, 5) */
    FM_ALERT_REDUCED_VARIABILITY,   /* bandwidth < 5 bpm > 50 min (CLINICAL 4.1, 5) */
    FM_ALERT_INCREASED_VARIABILITY, /* bandwidth > 25 bpm > 30 min (CLINICAL 4.1) */
    FM_ALERT_SINUSOIDAL,            /* sinusoidal pattern > 30 min (CLINICAL 4.1, 5) */
    FM_ALERT_LOW_STV,               /* STV graded by the CLINICAL 3.4 table, gestation-aware */
    FM_ALERT_CRITERIA_NOT_MET,      /* Oxford-style criteria not met at 60 min (CLINICAL 3.3, 5) */
    FM_ALERT_LARGE_DECEL,           /* deceleration > 20 / > 100 lost beats (CLINICAL 3.2, 3.3) */
    FM_ALERT_INSUFFICIENT_SIGNAL,   /* record valid signal below the verdict minimum (CLINICAL 2) */
    /* raised by the server through fm_alerts_technical() */
    FM_ALERT_STREAM_STALLED,      /* live stream: no data for 30 s (CLINICAL 5) */
    FM_ALERT_UPLOAD_INCOMPLETE,   /* an upload ended before its announced length (CLINICAL 5) */
    FM_ALERT_ANALYSIS_FAILED,     /* the CTG analysis could not run: rules blind (CLINICAL 5) */
    FM_ALERT_DEVICE_DISCONNECTED, /* the Doppler/app connection dropped (CLINICAL 5) */
    FM_ALERT_N_RULES
} fm_alert_rule;

/* What happened to an episode. */
typedef enum fm_alert_event_type {
    FM_ALERT_OPENED = 0, /* the condition is met: a new alert */
    FM_ALERT_UPDATED,    /* same episode, worse priority or a larger extent */
    FM_ALERT_CLOSED      /* the condition has cleared (after the rule's hysteresis) */
} fm_alert_event_type;

/* Every configurable number of a rule. Which fields a rule reads, and their units, is in the
 * rule table and docs/alerts.md; unused fields are ignored. */
typedef struct fm_alert_rule_config {
    int enabled;
    fm_alert_priority priority;  /* base priority */
    fm_alert_priority priority2; /* priority of the second grade (e.g. > 100 lost beats) */
    double on_value;             /* threshold to enter the condition (rule's unit) */
    double off_value;    /* threshold to leave it (hysteresis: on the safe side of on_value) */
    double grade2_value; /* threshold of the second grade (priority2), NAN = none */
    double min_s;        /* the condition must hold longer than this: the clinical window */
    double clear_s;      /* the condition must be gone this long before the episode closes */
    double window_s;     /* sliding window (share-based rules) */
    double gap_s;        /* lost signal bridged inside a run (sample-level rules) */
    double update_s;     /* an UPDATED event each time the extent grows by this (0 = never) */
} fm_alert_rule_config;

/* TRUFFLE-style gestation rows for the HIGH low-STV grade (CLINICAL 3.4, unverified values). */
typedef struct fm_alert_stv_row {
    double from_weeks, to_weeks; /* [from, to) in completed weeks + days/7 */
    double high_ms;              /* STV below this is HIGH priority */
} fm_alert_stv_row;

#define FM_ALERT_MAX_STV_ROWS 8

typedef struct fm_alert_event fm_alert_event;
/* Called synchronously inside push/update/technical/finish. ev is valid during the call. */
typedef void (*fm_alert_sink)(void *user, const fm_alert_event *ev);

typedef struct fm_alerts_config {
    fm_alert_rule_config rule[FM_ALERT_N_RULES];
    double gestation_weeks; /* NAN = unknown: stv_high_default_ms is used and said so */
    /* CLINICAL 3.4 low-STV grades: HIGH below the gestation row (or the default), MEDIUM below
     * stv_medium_ms, LOW below stv_low_ms. rule[FM_ALERT_LOW_STV].on_value is unused. */
    fm_alert_stv_row stv_rows[FM_ALERT_MAX_STV_ROWS];
    size_t n_stv_rows;
    double stv_high_default_ms;   /* 2.6 (CLINICAL 5) */
    double stv_medium_ms;         /* 3.5: 29-33 % acidaemia/IUD below (CLINICAL 3.4) */
    double stv_low_ms;            /* 4.0: 8 % between 3.5 and 4 (CLINICAL 3.4) */
    double stv_hysteresis_ms;     /* a grade is left only this far above its threshold (0.2) */
    double stv_min_valid_minutes; /* STV judged on at least this many valid minutes (10) */
    double analysis_first_s; /* record-level rules wait for this much trace (600, CLINICAL 3.1) */
    fm_alert_sink sink;      /* NULL: events go to the bounded queue, read with fm_alerts_pop */
    void *sink_user;
    size_t queue_max; /* bound of the queue (256) */
} fm_alerts_config;

void fm_alerts_config_default(fm_alerts_config *c);

/* One number behind an alert, with its unit in the key ("nadir_bpm", "stv_ms"). */
typedef struct fm_alert_value {
    const char *key;
    double value;
} fm_alert_value;

#define FM_ALERT_MAX_VALUES 8
#define FM_ALERT_MAX_REASONS 10

typedef struct fm_alert_event {
    fm_alert_event_type type;
    uint64_t episode_id; /* unique within this fm_alerts object, from 1 */
    fm_alert_rule rule;
    const char *rule_code;    /* stable id, e.g. "prolonged_deceleration" */
    const char *rule_name;    /* human name */
    const char *clinical_ref; /* e.g. "CLINICAL 4.1, 5" */
    const char *logic;        /* the rule's logic, in words, with the configured numbers */
    fm_alert_kind kind;
    fm_alert_priority priority;      /* now */
    fm_alert_priority prev_priority; /* before this event (NONE on OPENED) */
    double start_s, end_s;           /* trace time of the data behind the alert */
    double at_s; /* trace time of the sample (or analysis) that caused the event */
    int n_values;
    fm_alert_value values[FM_ALERT_MAX_VALUES];
    int n_reasons; /* criteria not met: the failed criteria codes */
    const char *reasons[FM_ALERT_MAX_REASONS];
    char message[320]; /* for the clinician, with the numbers */
} fm_alert_event;

typedef struct fm_alerts fm_alerts;

/* NULL cfg = defaults. The config is copied. NULL on bad config or out of memory. */
fm_alerts *fm_alerts_create(const fm_alerts_config *cfg);
void fm_alerts_destroy(fm_alerts *q);

/* Append n 4 Hz samples (state may be NULL: a finite 50..240 bpm value is OK). Sample-level
 * rules are evaluated on each. FM_ERANGE when the queue was full and an event could not be
 * queued (counted in fm_alerts_dropped; never silent). */
fm_status fm_alerts_push(fm_alerts *q, const float *fhr_bpm, const uint8_t *state, size_t n);

/* A new analysis of everything pushed so far (r->n may lag the pushed samples). Runs the
 * analysis-level rules and refreshes the baseline the prolonged-deceleration rule uses. */
fm_status fm_alerts_update(fm_alerts *q, const fm_ctg_result *r);

/* A server-side technical condition (FM_ALERT_STREAM_STALLED .. DEVICE_DISCONNECTED) becomes
 * active (on = 1) or clears (on = 0) at trace time t_s. detail (may be NULL) goes in the
 * message. Repeated "on" while active is a no-op. FM_EINVAL for a rule that is not technical
 * server-side. */
fm_status fm_alerts_technical(fm_alerts *q, fm_alert_rule rule, double t_s, int on,
                              const char *detail);

/* End of the recording. final (may be NULL) is the analysis of the whole recording: it runs as
 * a last fm_alerts_update in which events touching the end count as finished (an upload passes
 * its only analysis here). Then every open episode closes at the trace end. */
fm_status fm_alerts_finish(fm_alerts *q, const fm_ctg_result *final);

/* Queue mode: 1 and *ev filled when an event was waiting (ev's pointers stay valid while q
 * lives), 0 when empty. */
int fm_alerts_pop(fm_alerts *q, fm_alert_event *ev);
size_t fm_alerts_pending(const fm_alerts *q);
size_t fm_alerts_dropped(const fm_alerts *q);
/* Episodes open now, and trace time reached (samples pushed / 4). */
size_t fm_alerts_open_count(const fm_alerts *q);
double fm_alerts_time_s(const fm_alerts *q);

/* The rule table. */
const char *fm_alert_rule_code(fm_alert_rule r);
const char *fm_alert_rule_name(fm_alert_rule r);
fm_alert_kind fm_alert_rule_kind(fm_alert_rule r);
const char *fm_alert_rule_ref(fm_alert_rule r);
/* FM_ALERT_N_RULES when unknown. */
fm_alert_rule fm_alert_rule_parse(const char *code);
const char *fm_alert_priority_name(fm_alert_priority p);     /* "high", "medium", "low", "none" */
const char *fm_alert_kind_name(fm_alert_kind k);             /* "physiological", "technical" */
const char *fm_alert_event_type_name(fm_alert_event_type t); /* "opened", "updated", "closed" */
/* The logic text of a rule with the numbers of cfg (NULL = defaults), into buf. */
const char *fm_alert_rule_logic(const fm_alerts_config *cfg, fm_alert_rule r, char *buf,
                                size_t len);

/* One line for debugging (liquid-dsp's _print). */
void fm_alert_event_print(const fm_alert_event *ev, FILE *f);

#ifdef __cplusplus
}
#endif
#endif
