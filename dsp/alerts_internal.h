/* Private to the alert engine (dsp/alerts*.c): the object, episodes and the detectors' state.
 * Not a public API: include/fetalmon/alerts.h is.
 *   alerts.c          the object, the episode book-keeping (open / update / close), emission
 *   alerts_rules.c    the rule table: names, references, defaults, logic texts
 *   alerts_sample.c   sample-level detectors (low-FHR runs, windowed shares)
 *   alerts_analysis.c analysis-level rules: spans from an fm_ctg_result, reconciled with episodes
 */
#ifndef FM_ALERTS_INTERNAL_H
#define FM_ALERTS_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "fetalmon/alerts.h"

#define AL_DT_S (1.0 / FM_FHR_RATE_HZ)
#define AL_SMOOTH_N 8       /* 2 s running mean: one artefact sample cannot start or end a run */
#define AL_FHR_MIN_BPM 50.0 /* CLINICAL 1: values outside 50..240 are artefact */
#define AL_FHR_MAX_BPM 240.0
#define AL_LOGIC_LEN 480
/* Witnessed descent into maternal-looking signal (maternal_capture, grade 2; CLINICAL 2 and
 * 4.1): the Doppler engine leaves no value on what it hears as the mother, and a fetal heart
 * that decelerates to the mother's rate can only be told from her by continuity, which a short
 * loss breaks. So a maternal-looking run that begins at most AL_WITNESS_GAP_S after a fetal value
 * below AL_WITNESS_MAX_BPM (the range a resting mother's pulse can reach, CLINICAL 2: 60-110,
 * and the engine's 120 bpm maternal ceiling) that either lay at least grade2_value (15 bpm, a
 * deceleration's depth) below the fetal reference level (a ~AL_WITNESS_REF_S moving average of
 * the fetal values) or was itself below AL_WITNESS_NORMAL_BPM (a fetal heart already below the
 * normal baseline range, e.g. on a bradycardic plateau) is a possible fetal bradycardia: the
 * alert takes priority2 (HIGH). The
 * witness lapses after AL_WITNESS_KEEP_S without a maternal-looking sample, or once the fetal
 * heart is back at >= AL_WITNESS_NORMAL_BPM (CLINICAL 4.1 normal baseline) for AL_WITNESS_NORMAL_S.
 */
#define AL_WITNESS_GAP_S 5.0
#define AL_WITNESS_REF_S 30.0
#define AL_WITNESS_MAX_BPM 120.0
#define AL_WITNESS_KEEP_S 60.0
#define AL_WITNESS_NORMAL_BPM 110.0
#define AL_WITNESS_NORMAL_S 10.0

typedef enum al_source { AL_SRC_SAMPLE = 1, AL_SRC_ANALYSIS = 2, AL_SRC_SERVER = 4 } al_source;

/* One condition episode. Closed episodes of analysis-level rules are kept so that the same
 * condition, found again by every later re-analysis, is recognised and not re-alerted. */
typedef struct al_episode {
    uint64_t id;
    fm_alert_rule rule;
    int open;
    int seen; /* matched during the current analysis pass */
    unsigned sources;
    fm_alert_priority prio;
    double start_s, end_s;
    double emitted_end_s; /* extent at the last emitted event (for update_s) */
    int n_values;
    fm_alert_value values[FM_ALERT_MAX_VALUES];
    int n_reasons;
    const char *reasons[FM_ALERT_MAX_REASONS];
    char message[320];
} al_episode;

/* Data for opening or updating an episode. */
typedef struct al_span {
    double start_s, end_s;
    int ongoing;   /* record-level: holds up to the end of what was analysed */
    int qualifies; /* meets the entry threshold (else it may only continue an episode) */
    fm_alert_priority prio;
    int n_values;
    fm_alert_value values[FM_ALERT_MAX_VALUES];
    int n_reasons;
    const char *reasons[FM_ALERT_MAX_REASONS];
    char message[320];
} al_span;

/* A run of FHR below a level (FHR < 80, prolonged deceleration). */
typedef struct al_lowrun {
    float ring[AL_SMOOTH_N];
    size_t ring_n;
    int active;
    double start_s, last_low_end_s, nadir_bpm, level_bpm; /* level frozen during a run */
    double doubtful_s;                                    /* of the run, on doubtful samples */
    double maternal_s;                                    /* ... on samples marked maternal */
    long ep;                                              /* episode index or -1 */
} al_lowrun;

/* A share of bad samples over a sliding window (signal loss, maternal capture). */
typedef struct al_share {
    uint8_t *ring;
    size_t len, pos, count;
    int active;
    double inactive_since_s, last_bad_end_s, worst_share;
    long ep;
} al_share;

struct fm_alerts {
    fm_alerts_config cfg;
    char logic[FM_ALERT_N_RULES][AL_LOGIC_LEN];
    uint64_t next_id;
    uint64_t n_samples;
    double analysed_s;   /* duration of the last analysis */
    int final;           /* the analysis pass is the last one (fm_alerts_finish) */
    double baseline_bpm; /* last known baseline (for the sample-level deceleration rule) */

    al_episode *ep;
    size_t n_ep, cap_ep;

    al_lowrun low80, prolonged;
    al_share loss, maternal;
    /* witnessed descent (see AL_WITNESS_*): fetal reference level and last fetal value */
    double fetal_ref_bpm, last_fetal_bpm, last_fetal_end_s, normal_since_s;
    int witness; /* a maternal-looking run followed a deceleration: maternal_capture is grade 2 */
    double witness_ref_bpm, witness_fetal_bpm, witness_at_s, last_maternal_end_s;

    fm_alert_event *queue; /* ring, grown on demand up to cfg.queue_max */
    size_t q_cap, q_head, q_n, dropped;
    fm_status last_emit;

    /* mean FHR of valid samples per minute, to check an analysis-level baseline against the
     * samples themselves (a run the FHR does not show is an artefact of the analysis) */
    double *min_sum;
    uint32_t *min_cnt;
    size_t n_min, cap_min;

    al_span *spans; /* scratch for the analysis pass */
    size_t cap_spans;
};

/* alerts.c: episodes. Indices into q->ep stay valid until al_compact() runs (only at the end of
 * fm_alerts_update / finish). */
long al_open(fm_alerts *q, fm_alert_rule rule, unsigned source, const al_span *s, double at_s);
void al_refresh(fm_alerts *q, long e, const al_span *s, double at_s);
void al_close(fm_alerts *q, long e, double end_s, double at_s, const char *why);
long al_find_open(const fm_alerts *q, fm_alert_rule rule);
void al_compact(fm_alerts *q);
void al_span_value(al_span *s, const char *key, double v);

/* alerts_rules.c */
void al_rules_logic(const fm_alerts_config *c, fm_alert_rule r, char *buf, size_t len);
int al_rule_is_server(fm_alert_rule r);
const char *al_rule_message_closed(fm_alert_rule r);
double al_stv_risk_percent(double stv_ms); /* CLINICAL 3.4 table */

/* alerts_sample.c */
fm_status al_sample_init(fm_alerts *q);
void al_sample_free(fm_alerts *q);
void al_sample_push(fm_alerts *q, float fhr_bpm, uint8_t state, double t0_s);
void al_sample_finish(fm_alerts *q);

/* alerts_analysis.c */
fm_status al_analysis_run(fm_alerts *q, const fm_ctg_result *r);

/* "3 min 20 s" */
void al_fmt_duration(char *buf, size_t len, double s);

#endif
