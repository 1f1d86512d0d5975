/* The alert rule table: for every rule its stable code, name, kind, clinical reference, default
 * thresholds and the logic text shown to the clinician (IEC 60601-1-8 6.2). Every clinical
 * number of the alert engine lives here (or in the fm_alerts_config a caller passes), each with
 * its CLINICAL.md row; values marked unverified in CLINICAL.md are configuration, not code.
 * Not for evaluating rules (alerts_sample.c, alerts_analysis.c) or episodes (alerts.c). */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "alerts_internal.h"

typedef struct rule_def {
    const char *code, *name, *ref;
    fm_alert_kind kind;
    fm_alert_rule_config def;
} rule_def;

#define P_LOW FM_ALERT_PRIO_LOW
#define P_MED FM_ALERT_PRIO_MEDIUM
#define P_HIGH FM_ALERT_PRIO_HIGH
#define PHYS FM_ALERT_PHYSIOLOGICAL
#define TECH FM_ALERT_TECHNICAL

/* Fields: enabled, priority, priority2, on, off, grade2, min_s, clear_s, window_s, gap_s,
 * update_s. Hysteresis is the off value (on the safe side of on) plus clear_s. */
static const rule_def RULES[FM_ALERT_N_RULES] = {
    /* CLINICAL 4.1 ("< 80 bpm ... emergency"), 5 (HIGH: FHR < 80 bpm > 3 min) */
    [FM_ALERT_FHR_BELOW_80] = {"fhr_below_80",
                               "FHR below 80 bpm",
                               "CLINICAL 4.1, 5",
                               PHYS,
                               {1, P_HIGH, P_HIGH, 80, 85, NAN, 180, 60, 0, 10, 120}},
    /* CLINICAL 4.1 deceleration > 15 bpm, prolonged > 3 min (> 5 min pathological: update at
     * 5 min via update_s); 5 (HIGH). on/off are depths below the last known baseline. */
    [FM_ALERT_PROLONGED_DECEL] = {"prolonged_deceleration",
                                  "Prolonged deceleration",
                                  "CLINICAL 4.1, 5",
                                  PHYS,
                                  {1, P_HIGH, P_HIGH, 15, 10, NAN, 180, 60, 0, 10, 120}},
    /* CLINICAL 2 (gaps are gaps; a minute > 50 % lost is unusable), 5 (LOW, technical). Shares
     * in percent of the window. */
    [FM_ALERT_SIGNAL_LOSS] = {"signal_loss",
                              "Signal loss",
                              "CLINICAL 2, 5",
                              TECH,
                              {1, P_LOW, P_LOW, 50, 20, NAN, 0, 60, 120, 0, 0}},
    /* CLINICAL 2 (maternal capture is the most dangerous artefact), 5 (MEDIUM). Grade 2: the
     * maternal-looking run followed a fetal descent of >= 15 bpm (CLINICAL 4.1 deceleration
     * depth) into the mother's range: a possible bradycardia, 5 (HIGH: FHR < 80 bpm). */
    [FM_ALERT_MATERNAL_CAPTURE] = {"maternal_capture",
                                   "Suspected maternal heart rate",
                                   "CLINICAL 2, 4.1, 5",
                                   TECH,
                                   {1, P_MED, P_HIGH, 50, 20, 15, 0, 60, 60, 0, 0}},
    /* CLINICAL 4.1 baseline < 110 bpm > 10 min (< 100 pathological: grade2 value), 5 (MEDIUM) */
    [FM_ALERT_BRADYCARDIA] = {"bradycardia",
                              "Bradycardia",
                              "CLINICAL 4.1, 5",
                              PHYS,
                              {1, P_MED, P_MED, 110, 112, 100, 600, 120, 0, 60, 600}},
    /* CLINICAL 4.1 baseline > 160 bpm > 10 min, 5 (MEDIUM) */
    [FM_ALERT_TACHYCARDIA] = {"tachycardia",
                              "Tachycardia",
                              "CLINICAL 4.1, 5",
                              PHYS,
                              {1, P_MED, P_MED, 160, 158, NAN, 600, 120, 0, 60, 600}},
    /* CLINICAL 4.1 variability < 5 bpm for > 50 min, 5 (MEDIUM). gap_s: minutes without enough
     * signal neither break nor extend a run (as the CTG verdict counts them). */
    [FM_ALERT_REDUCED_VARIABILITY] = {"reduced_variability",
                                      "Reduced variability",
                                      "CLINICAL 4.1, 5",
                                      PHYS,
                                      {1, P_MED, P_MED, 5, 6, NAN, 3000, 120, 0, 1e9, 600}},
    /* CLINICAL 4.1 variability > 25 bpm for > 30 min (pathological) */
    [FM_ALERT_INCREASED_VARIABILITY] = {"increased_variability",
                                        "Increased variability",
                                        "CLINICAL 4.1",
                                        PHYS,
                                        {1, P_MED, P_MED, 25, 23, NAN, 1800, 120, 0, 1e9, 600}},
    /* CLINICAL 4.1 sinusoidal > 30 min, 5 (MEDIUM) */
    [FM_ALERT_SINUSOIDAL] = {"sinusoidal",
                             "Sinusoidal pattern",
                             "CLINICAL 4.1, 5",
                             PHYS,
                             {1, P_MED, P_MED, NAN, NAN, NAN, 1800, 120, 0, 0, 600}},
    /* CLINICAL 3.4 table and TRUFFLE rows, 5 (HIGH: STV < 2.6 ms). Grades in fm_alerts_config. */
    [FM_ALERT_LOW_STV] = {"low_stv",
                          "Low short-term variation",
                          "CLINICAL 3.4, 5",
                          PHYS,
                          {1, P_LOW, P_HIGH, NAN, NAN, NAN, 0, 0, 0, 0, 0}},
    /* CLINICAL 3.3 all criteria at the 60-min checkpoint, 5 (MEDIUM) */
    [FM_ALERT_CRITERIA_NOT_MET] = {"criteria_not_met",
                                   "Antenatal criteria not met at 60 min",
                                   "CLINICAL 3.3, 5",
                                   PHYS,
                                   {1, P_MED, P_MED, 60, NAN, NAN, 0, 0, 0, 0, 0}},
    /* CLINICAL 3.2 lost beats, 3.3 criterion 2 (> 20; > 100 in records > 30 min). A
     * deceleration that is also prolonged is reported by the prolonged rule (one alert).
     * clear_s 1200: decelerations within 20 min are one episode (FIGO "repetitive" window,
     * CLINICAL 4.1; unverified as an alert policy). */
    [FM_ALERT_LARGE_DECEL] = {"large_deceleration",
                              "Large decelerations",
                              "CLINICAL 3.2, 3.3",
                              PHYS,
                              {1, P_MED, P_HIGH, 20, 18, 100, 0, 1200, 0, 0, 600}},
    /* CLINICAL 2: a verdict needs >= 90 % valid signal; on/off are lost percent of the record */
    [FM_ALERT_INSUFFICIENT_SIGNAL] = {"insufficient_signal",
                                      "Signal too poor for a verdict",
                                      "CLINICAL 2, 5",
                                      TECH,
                                      {1, P_LOW, P_LOW, 10, 8, NAN, 0, 0, 0, 0, 0}},
    /* CLINICAL 5: "a stream that stops is itself a technical alert" (30 s: server config) */
    [FM_ALERT_STREAM_STALLED] = {"stream_stalled",
                                 "Live stream stalled",
                                 "CLINICAL 5",
                                 TECH,
                                 {1, P_LOW, P_LOW, 30, NAN, NAN, 0, 0, 0, 0, 0}},
    [FM_ALERT_UPLOAD_INCOMPLETE] = {"upload_incomplete",
                                    "Upload incomplete",
                                    "CLINICAL 5",
                                    TECH,
                                    {1, P_LOW, P_LOW, NAN, NAN, NAN, 0, 0, 0, 0, 0}},
    /* MEDIUM, not LOW: while the analysis fails every analysis-level rule is blind. */
    [FM_ALERT_ANALYSIS_FAILED] = {"analysis_failed",
                                  "Analysis failed",
                                  "CLINICAL 5",
                                  TECH,
                                  {1, P_MED, P_MED, NAN, NAN, NAN, 0, 0, 0, 0, 0}},
    [FM_ALERT_DEVICE_DISCONNECTED] = {"device_disconnected",
                                      "Device disconnected",
                                      "CLINICAL 5",
                                      TECH,
                                      {1, P_LOW, P_LOW, NAN, NAN, NAN, 0, 0, 0, 0, 0}},
};

/* TRUFFLE delivery thresholds (CLINICAL 3.4, unverified): STV < 2.6 ms at 26+0-28+6 weeks,
 * < 3.0 ms at 29+0-31+6. Outside these rows, stv_high_default_ms (CLINICAL 5: 2.6 ms). */
static const fm_alert_stv_row STV_ROWS[] = {{26.0, 29.0, 2.6}, {29.0, 32.0, 3.0}};
#define STV_HIGH_DEFAULT_MS 2.6
#define STV_MEDIUM_MS 3.5 /* CLINICAL 3.4: 29-33 % below 3.5 ms, 8 % between 3.5 and 4 */
#define STV_LOW_MS 4.0    /* CLINICAL 3.4: 0 % above 4 ms */
#define STV_HYSTERESIS_MS 0.2
#define STV_MIN_VALID_MIN 10.0 /* CLINICAL 3.1: first analysis at 10 min */
#define ANALYSIS_FIRST_S 600.0
#define QUEUE_MAX 256

void fm_alerts_config_default(fm_alerts_config *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < FM_ALERT_N_RULES; i++)
        c->rule[i] = RULES[i].def;
    c->gestation_weeks = NAN;
    c->n_stv_rows = sizeof STV_ROWS / sizeof STV_ROWS[0];
    memcpy(c->stv_rows, STV_ROWS, sizeof STV_ROWS);
    c->stv_high_default_ms = STV_HIGH_DEFAULT_MS;
    c->stv_medium_ms = STV_MEDIUM_MS;
    c->stv_low_ms = STV_LOW_MS;
    c->stv_hysteresis_ms = STV_HYSTERESIS_MS;
    c->stv_min_valid_minutes = STV_MIN_VALID_MIN;
    c->analysis_first_s = ANALYSIS_FIRST_S;
    c->queue_max = QUEUE_MAX;
}

static int valid_rule(fm_alert_rule r)
{
    return (int)r >= 0 && r < FM_ALERT_N_RULES;
}

const char *fm_alert_rule_code(fm_alert_rule r)
{
    return valid_rule(r) ? RULES[r].code : "unknown";
}
const char *fm_alert_rule_name(fm_alert_rule r)
{
    return valid_rule(r) ? RULES[r].name : "unknown";
}
fm_alert_kind fm_alert_rule_kind(fm_alert_rule r)
{
    return valid_rule(r) ? RULES[r].kind : FM_ALERT_TECHNICAL;
}
const char *fm_alert_rule_ref(fm_alert_rule r)
{
    return valid_rule(r) ? RULES[r].ref : "";
}
fm_alert_rule fm_alert_rule_parse(const char *code)
{
    for (int i = 0; code && i < FM_ALERT_N_RULES; i++)
        if (!strcmp(code, RULES[i].code))
            return (fm_alert_rule)i;
    return FM_ALERT_N_RULES;
}
const char *fm_alert_priority_name(fm_alert_priority p)
{
    switch (p) {
    case FM_ALERT_PRIO_HIGH: return "high";
    case FM_ALERT_PRIO_MEDIUM: return "medium";
    case FM_ALERT_PRIO_LOW: return "low";
    default: return "none";
    }
}
const char *fm_alert_kind_name(fm_alert_kind k)
{
    return k == FM_ALERT_TECHNICAL ? "technical" : "physiological";
}
const char *fm_alert_event_type_name(fm_alert_event_type t)
{
    switch (t) {
    case FM_ALERT_OPENED: return "opened";
    case FM_ALERT_UPDATED: return "updated";
    default: return "closed";
    }
}

int al_rule_is_server(fm_alert_rule r)
{
    return r >= FM_ALERT_STREAM_STALLED && r < FM_ALERT_N_RULES;
}

const char *al_rule_message_closed(fm_alert_rule r)
{
    return RULES[r].kind == FM_ALERT_TECHNICAL ? "technical condition cleared"
                                               : "condition no longer present";
}

/* The logic as the clinician reads it, with the configured numbers (IEC 60601-1-8 6.2). */
void al_rules_logic(const fm_alerts_config *c, fm_alert_rule r, char *buf, size_t len)
{
    const fm_alert_rule_config *k = &c->rule[r];
    switch (r) {
    case FM_ALERT_FHR_BELOW_80:
        snprintf(buf, len,
                 "FHR (2-s mean of valid samples) below %.0f bpm for more than %.0f s; lost "
                 "signal up to %.0f s bridged; ends when the mean is back at or above %.0f bpm; "
                 "closes after %.0f s clear.",
                 k->on_value, k->min_s, k->gap_s, k->off_value, k->clear_s);
        break;
    case FM_ALERT_PROLONGED_DECEL:
        snprintf(buf, len,
                 "FHR more than %.0f bpm below the last known baseline for more than %.0f s "
                 "(live, sample by sample), or a deceleration longer than %.0f s in the CTG "
                 "analysis; ends when within %.0f bpm of the baseline; closes after %.0f s clear; "
                 "updated every %.0f s it lasts (FIGO: > 5 min is pathological).",
                 k->on_value, k->min_s, k->min_s, k->off_value, k->clear_s, k->update_s);
        break;
    case FM_ALERT_SIGNAL_LOSS:
        snprintf(buf, len,
                 "More than %.0f %% of the samples of the last %.0f s without usable signal "
                 "(maternal-looking samples are counted by their own rule); clears below %.0f %%, "
                 "closes after %.0f s clear.",
                 k->on_value, k->window_s, k->off_value, k->clear_s);
        break;
    case FM_ALERT_MATERNAL_CAPTURE:
        snprintf(
            buf, len,
            "More than %.0f %% of the samples of the last %.0f s look like the mother's "
            "pulse (within 5 bpm of her rate, or adult-like); these samples are never used "
            "as fetal. Clears below %.0f %%, closes after %.0f s clear. Priority %s when it began "
            "within %.0f s of a fetal value under %.0f bpm that was %.0f bpm or more below the "
            "fetal level or under %.0f bpm (a deceleration into the mother's range: possible "
            "bradycardia).",
            k->on_value, k->window_s, k->off_value, k->clear_s,
            fm_alert_priority_name(k->priority2), AL_WITNESS_GAP_S, AL_WITNESS_MAX_BPM,
            k->grade2_value, AL_WITNESS_NORMAL_BPM);
        break;
    case FM_ALERT_BRADYCARDIA:
    case FM_ALERT_TACHYCARDIA:
        snprintf(buf, len,
                 "FIGO visual baseline %s %.0f bpm for more than %.0f min (analysis); stays "
                 "while %s %.0f bpm; closes after %.0f s back in range.",
                 r == FM_ALERT_BRADYCARDIA ? "below" : "above", k->on_value, k->min_s / 60.0,
                 r == FM_ALERT_BRADYCARDIA ? "below" : "above", k->off_value, k->clear_s);
        break;
    case FM_ALERT_REDUCED_VARIABILITY:
    case FM_ALERT_INCREASED_VARIABILITY:
        snprintf(buf, len,
                 "FIGO variability (bandwidth of each minute, decelerations excluded) %s %.0f bpm "
                 "for more than %.0f min of valid minutes (minutes without enough signal neither "
                 "break nor extend the run); stays while %s %.0f bpm.",
                 r == FM_ALERT_REDUCED_VARIABILITY ? "below" : "above", k->on_value,
                 k->min_s / 60.0, r == FM_ALERT_REDUCED_VARIABILITY ? "below" : "above",
                 k->off_value);
        break;
    case FM_ALERT_SINUSOIDAL:
        snprintf(buf, len,
                 "A sinusoidal stretch (smooth undulation 3-5 cycles/min, 5-15 bpm, no "
                 "accelerations) longer than %.0f min in the CTG analysis.",
                 k->min_s / 60.0);
        break;
    case FM_ALERT_LOW_STV: {
        char rows[160] = "";
        size_t o = 0;
        for (size_t i = 0; i < c->n_stv_rows && o < sizeof rows; i++)
            o += (size_t)snprintf(rows + o, sizeof rows - o, "%s< %.1f ms at %.0f-%.0f wk",
                                  i ? ", " : "", c->stv_rows[i].high_ms, c->stv_rows[i].from_weeks,
                                  c->stv_rows[i].to_weeks - 1.0 / 7.0);
        snprintf(buf, len,
                 "Record STV (Oxford-style, >= %.0f valid minutes) graded by the Sonicaid "
                 "outcome table: HIGH %s, else < %.1f ms; MEDIUM < %.1f ms; LOW < %.1f ms. A grade "
                 "is left only %.1f ms above its threshold; priority never lowers in an episode.",
                 c->stv_min_valid_minutes, rows, c->stv_high_default_ms, c->stv_medium_ms,
                 c->stv_low_ms, c->stv_hysteresis_ms);
        break;
    }
    case FM_ALERT_CRITERIA_NOT_MET:
        snprintf(buf, len,
                 "Oxford-criteria-style analysis still not met at the %.0f-min checkpoint; every "
                 "failed criterion is listed.",
                 k->on_value);
        break;
    case FM_ALERT_LARGE_DECEL:
        snprintf(buf, len,
                 "A finished deceleration (Oxford definition, fitted baseline) with more than "
                 "%.0f lost beats (MEDIUM), more than %.0f (%s); further ones less than %.0f min "
                 "apart join the same alert; a prolonged one is reported by the "
                 "prolonged-deceleration rule instead.",
                 k->on_value, k->grade2_value, fm_alert_priority_name(k->priority2),
                 k->clear_s / 60.0);
        break;
    case FM_ALERT_INSUFFICIENT_SIGNAL:
        snprintf(buf, len,
                 "More than %.0f %% of the record without usable signal after %.0f min: no "
                 "reassuring verdict is possible; clears below %.0f %%.",
                 k->on_value, c->analysis_first_s / 60.0, k->off_value);
        break;
    case FM_ALERT_STREAM_STALLED:
        snprintf(buf, len, "No data received from the live stream for %.0f s (server).",
                 k->on_value);
        break;
    case FM_ALERT_UPLOAD_INCOMPLETE:
        snprintf(buf, len, "The upload ended before the length it announced (server).");
        break;
    case FM_ALERT_ANALYSIS_FAILED:
        snprintf(buf, len,
                 "The CTG analysis could not run: analysis-level rules are blind "
                 "until it succeeds (server).");
        break;
    case FM_ALERT_DEVICE_DISCONNECTED:
        snprintf(buf, len, "The recording device or app connection dropped (server).");
        break;
    default: snprintf(buf, len, "unknown rule"); break;
    }
}

const char *fm_alert_rule_logic(const fm_alerts_config *cfg, fm_alert_rule r, char *buf, size_t len)
{
    fm_alerts_config d;
    if (!buf || !len)
        return "";
    if (!valid_rule(r)) {
        snprintf(buf, len, "unknown rule");
        return buf;
    }
    if (!cfg) {
        fm_alerts_config_default(&d);
        cfg = &d;
    }
    al_rules_logic(cfg, r, buf, len);
    return buf;
}

/* CLINICAL 3.4 (Sonicaid manual): metabolic acidaemia / intrauterine death by record STV. */
static const struct {
    double below_ms, percent;
} STV_OUTCOME[] = {{2.5, 72}, {3.0, 33}, {3.5, 29}, {4.0, 8}};
#define STV_OUTCOME_ABOVE_PERCENT 0.0

double al_stv_risk_percent(double stv_ms)
{
    for (size_t i = 0; i < sizeof STV_OUTCOME / sizeof STV_OUTCOME[0]; i++)
        if (stv_ms < STV_OUTCOME[i].below_ms)
            return STV_OUTCOME[i].percent;
    return STV_OUTCOME_ABOVE_PERCENT;
}

void al_fmt_duration(char *buf, size_t len, double s)
{
    long t = lround(s);
    if (t >= 60 && t % 60)
        snprintf(buf, len, "%ld min %ld s", t / 60, t % 60);
    else if (t >= 60)
        snprintf(buf, len, "%ld min", t / 60);
    else
        snprintf(buf, len, "%ld s", t);
}
