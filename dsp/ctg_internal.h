/* Private to the CTG analysis (dsp/ctg*.c): the working structures shared by its files.
 * Not a public API: include/fetalmon/ctg.h is. */
#ifndef FM_CTG_INTERNAL_H
#define FM_CTG_INTERNAL_H

#include <math.h>
#include <stdint.h>

#include "fetalmon/ctg.h"

/* PI (ms) = 60000 / FHR (bpm) (CLINICAL 1). */
#define CTG_PI_MS_PER_BPM 60000.0
#define CTG_RATE_HZ ((double)FM_FHR_RATE_HZ)

static inline double ctg_bpm_to_pi(double bpm)
{
    return CTG_PI_MS_PER_BPM / bpm;
}
static inline double ctg_pi_to_bpm(double pi)
{
    return CTG_PI_MS_PER_BPM / pi;
}
static inline double ctg_s_of(size_t i)
{
    return (double)i / CTG_RATE_HZ;
}

/* Running sums of the valid minutes before a minute (ctg_variability.c). */
typedef struct ctg_minute_sums {
    double stv, rng, rng_bpm;
    size_t n_valid;
} ctg_minute_sums;

/* The Oxford-style part of the analysis at the record's current length: fitted baseline,
 * Oxford events, minute statistics, episodes, STV/LTV, basal rate. Kept by ctg_record.c and
 * brought up to date as the record grows; the arrays are its own (acc/dec are borrowed from
 * the event scanners). */
typedef struct ctg_core {
    size_t n;           /* samples */
    size_t n_ep, n_min; /* complete epochs, complete minutes */
    const float *fhr;   /* borrowed: clean samples, NAN = not usable */
    const float *ep_pi; /* borrowed: epoch mean PI, NAN = lost epoch */
    double valid_percent;

    float *bl_pi;   /* fitted baseline per epoch (ms) */
    float *bl_bpm;  /* fitted baseline per sample (bpm) */
    double mode_pi; /* modified mode (ms) */

    fm_ctg_event *acc, *dec; /* Oxford events (CLINICAL 3.2) */
    size_t n_acc, n_dec;

    float *min_lost_pct, *min_stv, *min_range_ms, *min_range_bpm;
    ctg_minute_sums *ps; /* ps[m]: sums over minutes [0, m) */
    size_t n_valid_min;
    fm_ctg_span *high, *low;
    size_t n_high, n_low;
    double stv_ms, ltv_ms, ltv_bpm, high_ltv_ms, basal_bpm;
    double high_minutes, low_minutes;
} ctg_core;

/* ctg_epoch.c */
void ctg_epoch_compute(const float *fhr15, float *pi_ms);
double ctg_valid_percent(const float *fhr, size_t n);

/* ctg_baseline.c: CLINICAL 3.2 fitted baseline; the cache keeps what a longer record cannot
 * change (histogram so far, local modes of settled windows). */
typedef struct ctg_fitcache ctg_fitcache;
ctg_fitcache *ctg_fitcache_create(void);
void ctg_fitcache_destroy(ctg_fitcache *f);
double ctg_modified_mode(const float *pi_ms, size_t n, const fm_ctg_config *c);
fm_status ctg_fit_baseline(const fm_ctg_config *c, ctg_fitcache *f, const float *ep_pi,
                           size_t n_ep, float *bl_pi, double *mode_pi);
void ctg_epochs_to_samples(const float *bl_pi, size_t n_ep, size_t n, size_t from, float *bl_bpm);

/* ctg_visual.c: CLINICAL 4.1 visual baseline, kept and updated from the first changed input
 * sample; *changed_from = first output sample that differs from the kept curve. */
typedef struct ctg_visual ctg_visual;
ctg_visual *ctg_visual_create(void);
void ctg_visual_destroy(ctg_visual *v);
fm_status ctg_visual_update(const fm_ctg_config *c, ctg_visual *v, const float *fhr, size_t n,
                            const float *ref_bpm, size_t from, size_t *changed_from);
const float *ctg_visual_curve(const ctg_visual *v);

/* ctg_events.c */
typedef struct ctg_event_rule {
    int sign;           /* +1 accelerations, -1 decelerations */
    double min_amp_bpm; /* amplitude strictly above */
    double min_dur_s;   /* extent strictly above */
    double alt_amp_bpm; /* or amplitude above this ... (<= 0: unused) */
    double alt_dur_s;   /* ... with extent above this */
    double max_dur_s;   /* extent below (<= 0: unbounded) */
} ctg_event_rule;
/* A resumable scan for one rule: ctg_evscan_run rescans from the minute holding `from` (the
 * first sample whose baseline changed) to n; *first_ev = index of the first event that may
 * differ from the previous run, *changed_s = earliest start among old and new events from
 * there (INFINITY when none). */
typedef struct ctg_evscan ctg_evscan;
ctg_evscan *ctg_evscan_create(const ctg_event_rule *rule);
void ctg_evscan_destroy(ctg_evscan *s);
fm_status ctg_evscan_run(const fm_ctg_config *c, ctg_evscan *s, const float *fhr,
                         const float *bl_bpm, size_t n, size_t from, size_t *first_ev,
                         double *changed_s);
fm_ctg_event *ctg_evscan_events(ctg_evscan *s, size_t *n);

/* ctg_variability.c: minutes [m0, n_min) recomputed, record figures and episodes redone. */
fm_status ctg_variability(const fm_ctg_config *c, ctg_core *k, size_t m0);
fm_status ctg_bandwidth(const fm_ctg_config *c, const float *fhr, const fm_ctg_event *dec,
                        size_t n_dec, float *band_bpm, size_t m0, size_t n_min);

/* ctg_sinus.c: window judgements kept; windows holding a sample >= from are judged again. The
 * spans in *out belong to s (valid until the next update). */
typedef struct ctg_sinus ctg_sinus;
ctg_sinus *ctg_sinus_create(const fm_ctg_config *c);
void ctg_sinus_destroy(ctg_sinus *s);
fm_status ctg_sinus_update(const fm_ctg_config *c, ctg_sinus *s, const float *fhr,
                           const float *bl_bpm, size_t n, size_t from, const fm_ctg_event *acc,
                           size_t n_acc, fm_ctg_sinusoidal *out);

/* What the Oxford criteria read at one checkpoint (CLINICAL 3.3), taken from the record when it
 * had exactly the checkpoint's length and kept, so that a late movement mark re-evaluates the
 * checkpoints without recomputing them. */
typedef struct ctg_ox_inputs {
    double at_min;
    double valid_percent, basal_bpm, stv_ms, ltv_ms, high_ltv_ms;
    double high_minutes, low_minutes;
    size_t n_high;
    int n_acc10, n_acc15, n_dec;
    double max_dec_lost_beats;
    double end_lost_percent;  /* criterion 8: loss in the end window */
    double end_dec_start_s;   /* criterion 8: first deceleration ending in it, NAN if none */
    double sinus_longest_s; /* NAN: not computed (then criterion 5 is not judged) */
} ctg_ox_inputs;

/* Longest stretches (s) of the visual baseline below 100, below 110 and above 160 bpm (the
 * configured levels; CLINICAL 4.1 bradycardia / tachycardia), kept by ctg_record.c. */
typedef struct ctg_baseline_runs {
    double below_path_s, below_s, above_s;
} ctg_baseline_runs;

/* ctg_record.c: the whole-record analysis kept up to date as samples arrive. */
typedef struct ctg_record ctg_record;
ctg_record *ctg_record_create(const fm_ctg_config *c);
void ctg_record_destroy(ctg_record *rec);
/* Bring the analysis to the first n samples (n >= the previous length). The Oxford part is
 * always brought up; the sinusoidal scan and the visual part only when asked (a checkpoint on
 * the way does not need them): they catch up at their next update. */
#define CTG_WANT_SINUS 1u
#define CTG_WANT_VISUAL 2u
#define CTG_WANT_ALL 3u
fm_status ctg_record_advance(ctg_record *rec, const float *fhr, const float *ep_pi, size_t n,
                             unsigned want);
/* The Oxford inputs at the current length, as a checkpoint at at_min (sinus_longest_s NAN when
 * the sinusoidal scan is not up to date). */
void ctg_record_ox_inputs(const ctg_record *rec, double at_min, ctg_ox_inputs *in);
/* The visual baseline's longest stretches beyond the FIGO levels. */
void ctg_record_baseline_runs(const ctg_record *rec, ctg_baseline_runs *br);
/* Usable share (%) of the samples analysed (CLINICAL 1). */
double ctg_record_valid_percent(const ctg_record *rec);
/* Fill r's analysis members (arrays borrowed from rec, valid until the next advance). */
void ctg_record_fill(ctg_record *rec, fm_ctg_result *r);

/* ctg_verdict.c */
void ctg_reason_add(fm_ctg_reasons *rs, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double ctg_gestation_used(const fm_ctg_config *c, int *assumed);
void ctg_oxford_evaluate(const fm_ctg_config *c, const ctg_ox_inputs *k, const double *mov_s,
                         size_t n_mov, fm_ctg_oxford *o);
void ctg_figo_nichd_nst(const fm_ctg_config *c, fm_ctg_result *r, const ctg_baseline_runs *br);

#endif
