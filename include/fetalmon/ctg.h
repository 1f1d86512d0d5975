/* fm_ctg: computerised CTG analysis of a 4 Hz fetal heart rate trace.
 *
 * What it is for: from FHR samples (and the mother's movement marks) to the numbers and verdicts
 * an obstetrician reads: epochs and signal loss, two baselines (Oxford-style fitted, FIGO-style
 * visual) as per-sample curves, basal heart rate, STV / minute ranges / LTV, episodes of high
 * and low variation, FIGO variability bandwidth, accelerations and decelerations, sinusoidal
 * pattern, carried-over maternal capture, and the verdicts (Oxford-criteria-style antenatal
 * analysis, FIGO 2015, NICHD 2008, ACOG NST), each failed rule named. CLINICAL.md §1, §3, §4.
 *
 * What it is not for: turning audio into FHR (doppler.h), deciding which samples are maternal
 * (the false-signal stage marks them; here any sample whose state is not FM_STATE_OK is lost),
 * alerts, display. It never labels a deceleration early/late/variable: a home Doppler records no
 * contractions (CLINICAL 4.1).
 *
 * Life cycle (liquid-dsp style):
 *     fm_ctg *q = fm_ctg_create(&cfg);          // cfg NULL = defaults
 *     fm_ctg_update(q, fhr_bpm, state, n);      // any block size, as samples arrive
 *     fm_ctg_add_movement(q, t_s);              // mother's movement button
 *     fm_ctg_get_result(q, &r);                     // analysis of everything pushed so far
 *     fm_ctg_destroy(q);
 * or, for a whole recording, fm_ctg_analyze_trace(trace, &cfg, &q) then fm_ctg_get_result().
 *
 * Incremental cost: the analysis is kept between results and each fm_ctg_get_result() recomputes
 * only what the new samples can change: every stage restarts from the first place its input
 * changed (bit for bit), and the fitted baseline's backward low-pass has a bounded look-ahead
 * (16 min) so that its older part settles. Past 64 min an update costs about the last 20 min of
 * analysis whatever the length (~0.5 ms); up to 64 min the record-wide modified mode can still
 * move older parts. Each Oxford checkpoint (10, 12, ... 60 min) is taken when the record passes
 * its length and kept. The result at a given length is identical (bit for bit) whether the
 * samples came in one block or many, and whenever results were asked (docs/ctg.md). */
#ifndef FETALMON_CTG_H
#define FETALMON_CTG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fetalmon/common.h"
#include "fetalmon/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLINICAL 1: an epoch is 1/16 min = 15 samples at 4 Hz. */
#define FM_CTG_EPOCH_SAMPLES 15
#define FM_CTG_EPOCHS_PER_MIN 16
#define FM_CTG_SAMPLES_PER_MIN (FM_CTG_EPOCH_SAMPLES * FM_CTG_EPOCHS_PER_MIN)

/* One row of the gestation-specific centile table (CLINICAL 3.3 criteria 1 and 7): the 1st and
 * 10th centiles of the long-term variation (mean minute range) in high-variation episodes.
 * NAN means "not known": the rule then falls back to its conservative form (see docs/ctg.md). */
typedef struct fm_ctg_centile_row {
    int gestation_weeks;
    float high_ltv_p1_ms;
    float high_ltv_p10_ms;
} fm_ctg_centile_row;

/* The built-in table, generated at build time from dsp/tables/ctg_centiles.csv. */
extern const fm_ctg_centile_row fm_ctg_centiles_builtin[];
extern const size_t fm_ctg_centiles_builtin_n;

/* Every threshold of the analysis, with its CLINICAL.md row. fm_ctg_config_default() fills the
 * documented values; values marked (unverified) in CLINICAL.md are here so they can be changed. */
typedef struct fm_ctg_config {
    double gestation_weeks;         /* NAN = unknown (term assumed, and said so in the notes) */
    double min_valid_percent;       /* CLINICAL 2: a reassuring verdict needs >= this (90) */
    double minute_max_lost_percent; /* CLINICAL 2: minute excluded from STV/LTV above (50) */

    /* CLINICAL 3.2 fitted baseline */
    double mode_skip_fraction;  /* modified mode: skip this share from the slow end (0.125) */
    int mode_peak_halfwidth_ms; /* a peak dominates this many 1-ms bins on each side (5) */
    double mode_near_ms;        /* ... and lies this close to the mode (30) */
    double mode_min_share;      /* ... or holds at least this share (0.05) */
    int mode_smooth_ms;         /* the peak test reads the histogram smoothed by a triangle of
                                   this half-width (12), ... */
    double mode_min_rel_height; /* ... where the peak reaches this share of the highest (0.3) */
    double lowpass_corner_hz;   /* Butterworth corner (0.0017) at the epoch rate 16/60 Hz */
    double clamp_ms;            /* clamp epoch PI to mode +- this (60) */
    double widen_ms;            /* widen by this when the trace stays outside (10) */
    double widen_max_ms;        /* widest clamp (120) */
    double widen_after_s;       /* outside for longer than this triggers widening (600) */
    double fit_exclude_bpm;     /* refit leaving out epochs this far from the first fit (10;
                                   0 = no refit; our addition, not in CLINICAL 3.2) */
    double local_window_s;      /* records longer than this use a sliding local mode (3840) */

    /* CLINICAL 3.2 events on the fitted baseline (Oxford-style) */
    double ox_acc_min_bpm;  /* acceleration peak > 10 bpm */
    double ox_acc_big_bpm;  /* counted separately above 15 bpm */
    double ox_acc_min_s;    /* > 15 s */
    double ox_dec_deep_bpm; /* > 20 bpm ... */
    double ox_dec_deep_s;   /* ... for > 30 s */
    double ox_dec_long_bpm; /* or > 10 bpm ... */
    double ox_dec_long_s;   /* ... for > 60 s */
    double gap_bridge_s;    /* gaps <= 2 epochs bridged inside an event (7.5) */

    /* CLINICAL 3.2 variability */
    double high_episode_ms;     /* minute range >= 32 ms ... */
    double low_episode_ms;      /* minute range <= 30 ms ... */
    int episode_min_minutes;    /* ... in >= 5 ... */
    int episode_window_minutes; /* ... of 6 consecutive minutes */

    /* CLINICAL 3.3 criteria */
    double basal_min_bpm, basal_max_bpm; /* 116..160 */
    double basal_tolerance_bpm;          /* accepted outside by this after 30 min (5, unverified) */
    double stv_min_ms;                   /* 3 */
    int min_accelerations;               /* 3 accelerations, or ... */
    int min_movements;                   /* ... 1 movement */
    double movements_per_hour;           /* criterion 7: > 20 movements/hour */
    double dec_lost_beats_short;         /* 20 lost beats ... */
    double dec_lost_beats_long;          /* ... 100 if the record is > 30 min */
    double end_window_s;                 /* criterion 8 window at the end (180, unverified) */
    double end_max_lost_percent;         /* criterion 8: loss allowed there (50, unverified) */
    double oxford_first_min, oxford_step_min, oxford_last_min; /* CLINICAL 3.1: 10, 2, 60 */
    double
        oxford_sinus_min_s; /* criterion 5: sinusoidal stretch this long fails (600, unverified) */
    const fm_ctg_centile_row *centiles; /* table, gestation ascending; NULL = built-in */
    size_t n_centiles;

    /* CLINICAL 4.1 FIGO and visual baseline */
    double figo_acc_bpm, figo_acc_s;                 /* 15 bpm, 15 s */
    double figo_acc_preterm_bpm, figo_acc_preterm_s; /* before 32 weeks: 10, 10 */
    double preterm_weeks;                            /* 32 */
    double acc_max_s;                                /* acceleration < 10 min */
    double figo_dec_bpm, figo_dec_s;                 /* 15 bpm, 15 s */
    double prolonged_dec_s;                          /* FIGO prolonged > 3 min (180) */
    double prolonged_dec_severe_s; /* one prolonged > 5 min is pathological (300) */
    double nichd_prolonged_dec_s;  /* NICHD prolonged >= 2 min (120) */
    double abrupt_onset_s;         /* abrupt: onset to nadir < 30 s */
    double visual_window_s;        /* 10 min window for the visual baseline */
    double visual_segment_s;       /* segment length scored for horizontality (60) */
    double visual_keep_fraction;   /* flattest share kept: weighted score quantile, soft (0.5) */
    double visual_exclude_bpm;     /* events this far (15-s mean) excluded, ramp +-3 (10) */
    double baseline_normal_min_bpm, baseline_normal_max_bpm; /* 110, 160 */
    double baseline_pathological_bpm;                        /* < 100 */
    double baseline_abnormal_s;                              /* tachy/bradycardia > 10 min */
    double var_reduced_bpm, var_increased_bpm;               /* 5, 25 */
    double var_reduced_max_s;                                /* reduced > 50 min pathological */
    double var_increased_max_s;                              /* increased > 30 min pathological */
    double var_absent_bpm;        /* NICHD absent: range <= this (2, unverified) */
    double band_minute_min_valid; /* a bandwidth minute needs this valid share (0.5) */
    int repetitive_dec_count;     /* decelerations in the window to be repetitive (3, unverified) */
    double repetitive_dec_window_s; /* (1200, unverified) */
    double repetitive_path_s;       /* repetitive prolonged > 30 min pathological */

    /* CLINICAL 4.1 sinusoidal */
    double sinus_min_cpm, sinus_max_cpm;       /* 3..5 cycles/min */
    double sinus_min_pp_bpm, sinus_max_pp_bpm; /* amplitude 5..15 bpm (peak to trough) */
    double sinus_min_band_fraction;            /* share of the detrended power in the band (0.5) */
    double sinus_window_s, sinus_hop_s;        /* spectral window and hop (240, 60) */
    double sinus_min_s;                        /* sustained > 30 min (1800) */

    /* CLINICAL 4.3 ACOG NST */
    int nst_min_accelerations; /* 2 ... */
    double nst_window_s;       /* ... in 20 min ... */
    double nst_max_s;          /* ... extendable to 40 min */
} fm_ctg_config;

void fm_ctg_config_default(fm_ctg_config *c);

typedef enum fm_ctg_shape {
    FM_CTG_SHAPE_NONE = 0,
    FM_CTG_SHAPE_ABRUPT,
    FM_CTG_SHAPE_GRADUAL
} fm_ctg_shape;

/* Event flags. */
#define FM_CTG_EV_FIGO 1u            /* meets the FIGO/NICHD definition (CLINICAL 4.1/4.2) */
#define FM_CTG_EV_OXFORD 2u          /* meets the Oxford-style definition (CLINICAL 3.2) */
#define FM_CTG_EV_PROLONGED 4u       /* deceleration > 3 min (FIGO) */
#define FM_CTG_EV_NICHD_PROLONGED 8u /* deceleration >= 2 min (NICHD) */

/* An acceleration or deceleration. Times in seconds from the start of the trace. */
typedef struct fm_ctg_event {
    double start_s, end_s; /* where the FHR leaves and returns to the baseline */
    double peak_s;         /* peak (acceleration) or nadir (deceleration) */
    float peak_bpm;        /* FHR at the peak or nadir */
    float amplitude_bpm;   /* height above (acc) or depth below (dec) the baseline, > 0 */
    float lost_beats;      /* CLINICAL 1: sum of (baseline - fhr) / 16 per epoch; dec only */
    int class_bpm;         /* accelerations: 15 or 10 (CLINICAL 3.2, 4.1) */
    fm_ctg_shape shape;    /* decelerations: abrupt (< 30 s onset to nadir) or gradual */
    unsigned flags;        /* FM_CTG_EV_* */
} fm_ctg_event;

typedef struct fm_ctg_span {
    double start_s, end_s;
} fm_ctg_span;

#define FM_CTG_MAX_REASONS 24
typedef struct fm_ctg_reason {
    const char *code; /* stable machine-readable code, e.g. "stv_below_3ms" */
    char text[192];   /* human sentence with the numbers */
} fm_ctg_reason;

typedef struct fm_ctg_reasons {
    int n;
    fm_ctg_reason r[FM_CTG_MAX_REASONS];
} fm_ctg_reasons;

typedef enum fm_ctg_oxford_status {
    FM_CTG_OX_TOO_SHORT = 0, /* fewer than 10 min: no analysis yet */
    FM_CTG_OX_MET,
    FM_CTG_OX_NOT_MET
} fm_ctg_oxford_status;

/* The Oxford-criteria-style analysis (CLINICAL 3): the state at the last checkpoint evaluated,
 * i.e. the first at which the criteria were met, or the latest one. */
typedef struct fm_ctg_oxford {
    fm_ctg_oxford_status status;
    double at_min;          /* checkpoint (minutes) this verdict was made at, NAN if none */
    int complete;           /* 1 when met, or the 60-min checkpoint was reached */
    double gestation_weeks; /* used, after clamping to 26..42 */
    double valid_percent;   /* over the analysed window */
    double basal_bpm, stv_ms, ltv_ms, high_ltv_ms;
    int n_acc10, n_acc15, n_dec, n_movements;
    double max_dec_lost_beats;
    double high_episode_minutes, low_episode_minutes;
    int basal_accepted_outside; /* criterion 3 relaxed after 30 min (marked, CLINICAL 3.3) */
    fm_ctg_reasons reasons;     /* every failed criterion */
    fm_ctg_reasons notes;       /* assumptions worth showing (e.g. gestation unknown) */
} fm_ctg_oxford;

typedef enum fm_ctg_figo_class {
    FM_CTG_FIGO_INSUFFICIENT = 0,
    FM_CTG_FIGO_NORMAL,
    FM_CTG_FIGO_SUSPICIOUS,
    FM_CTG_FIGO_PATHOLOGICAL
} fm_ctg_figo_class;

typedef enum fm_ctg_nst {
    FM_CTG_NST_INSUFFICIENT = 0,
    FM_CTG_NST_REACTIVE,
    FM_CTG_NST_NONREACTIVE
} fm_ctg_nst;

typedef struct fm_ctg_sinusoidal {
    int detected; /* a stretch >= sinus_min_s */
    double longest_s, total_s;
    double freq_cpm, amplitude_bpm; /* of the strongest window of the longest stretch */
    size_t n_spans;
    fm_ctg_span *spans;
} fm_ctg_sinusoidal;

/* The analysis of everything pushed so far. Owned by the fm_ctg object: valid until the next
 * fm_ctg_update / fm_ctg_get_result / fm_ctg_destroy. Arrays of n samples / n_minutes minutes. */
typedef struct fm_ctg_result {
    size_t n; /* samples analysed */
    double duration_s;
    size_t n_epochs, n_minutes; /* complete epochs / minutes */
    double lost_percent;        /* CLINICAL 1: samples not usable (lost, maternal, doubtful) */
    size_t maternal_samples;    /* carried over from the engine (CLINICAL 2) */
    double maternal_percent;
    int insufficient_signal; /* valid share below min_valid_percent (CLINICAL 2) */

    float *baseline_bpm;        /* FIGO-style visual baseline per sample (NAN if undeterminable) */
    float *baseline_fitted_bpm; /* Oxford-style fitted baseline per sample */
    double basal_bpm;           /* CLINICAL 3.2 */
    double modified_mode_bpm;
    double figo_baseline_bpm; /* mean visual baseline rounded to 5 bpm (CLINICAL 4.1) */

    double stv_ms, ltv_ms, ltv_bpm; /* CLINICAL 3.2, NAN when no valid minute */
    size_t n_valid_minutes;
    float *minute_lost_percent;  /* per minute */
    float *minute_stv_ms;        /* NAN where excluded */
    float *minute_range_ms;      /* NAN where excluded */
    float *minute_bandwidth_bpm; /* FIGO bandwidth, NAN where not enough signal */
    double bandwidth_median_bpm;

    size_t n_high, n_low;
    fm_ctg_span *high_episodes, *low_episodes;

    size_t n_acc, n_dec; /* on the visual baseline (what the clinician sees) */
    fm_ctg_event *acc, *dec;
    size_t n_ox_acc, n_ox_dec; /* on the fitted baseline, Oxford definitions */
    fm_ctg_event *ox_acc, *ox_dec;

    fm_ctg_sinusoidal sinusoidal;

    fm_ctg_oxford oxford;
    fm_ctg_figo_class figo;
    fm_ctg_reasons figo_reasons;
    int nichd_category; /* 1, 2, 3; 0 = insufficient signal */
    fm_ctg_reasons nichd_reasons;
    fm_ctg_nst nst;
    fm_ctg_reasons nst_reasons;

    /* Live window (fm_ctg_set_live_window): the arrays above (baseline, minutes) start at sample
     * n0 of the record, i.e. t0_s = n0 / 4 s; every time in the result (events, spans,
     * duration_s) is from the start of the record. Both 0 until the window first moves. */
    size_t n0;
    double t0_s;
} fm_ctg_result;

typedef struct fm_ctg fm_ctg;

/* NULL cfg = defaults. The config is copied. NULL on bad config or out of memory. */
fm_ctg *fm_ctg_create(const fm_ctg_config *cfg);
void fm_ctg_destroy(fm_ctg *q);
/* Forget all samples and movements, keep the config. */
void fm_ctg_reset(fm_ctg *q);

/* Append n samples. state may be NULL (then a finite fhr in 50..240 is OK). A sample is used
 * only when its state is FM_STATE_OK and its value finite within 50..240 bpm (CLINICAL 1, 2). */
fm_status fm_ctg_update(fm_ctg *q, const float *fhr_bpm, const uint8_t *state, size_t n);

/* Live streams: bound the memory of an open stream (an fm_ctg otherwise keeps the whole record,
 * ~0.6 MB per hour). When the record reaches max_s, the oldest samples are dropped so that the
 * last keep_s (whole minutes) stay, and the analysis is redone on them: from then on every
 * figure is that of the kept window (t0_s, n0 in the result), except the Oxford-criteria
 * verdict (CLINICAL 3.1: decided by 60 min, its checkpoints are kept), the NST (CLINICAL 4.3:
 * the first 40 min; kept as it was at the first move) and the maternal count (whole record).
 * Results before the record first reaches max_s are bit for bit those without a window. Needs
 * keep_s >= FM_CTG_LIVE_MIN_KEEP_S (FM_EINVAL otherwise); max_s > keep_s. Call before the
 * first update. */
#define FM_CTG_LIVE_MIN_KEEP_S (82.0 * 60.0) /* the longest look-back of the analysis: the local
                                              * mode window (64 min) + the fitted baseline's
                                              * backward look-ahead (16 min) and block (2 min) */
#define FM_CTG_LIVE_KEEP_S (90.0 * 60.0)     /* what a live stream keeps: >= the above, the
                                              * 60-min antenatal criteria, the 50-min FIGO /
                                              * alert reduced-variability run (CLINICAL 4.1) */
#define FM_CTG_LIVE_MAX_S (120.0 * 60.0)     /* moved every 30 min past 2 h: the first 2 h of a
                                              * live stream are analysed as a whole record */
fm_status fm_ctg_set_live_window(fm_ctg *q, double keep_s, double max_s);

/* A fetal movement mark at t_s seconds from the start (CLINICAL 3.1). */
fm_status fm_ctg_add_movement(fm_ctg *q, double t_s);

/* Analyse what has been pushed. FM_EEMPTY when no sample at all; otherwise FM_OK and *out, even
 * for traces too short or too lost for verdicts (then the verdicts say so). */
fm_status fm_ctg_get_result(fm_ctg *q, const fm_ctg_result **out);

/* Whole recording: create, push every sample and movement mark of t, analyse. On FM_OK *out is
 * the caller's; read the analysis with fm_ctg_get_result(*out, &r). */
fm_status fm_ctg_analyze_trace(const fm_trace *t, const fm_ctg_config *cfg, fm_ctg **out);

/* One-paragraph summary for debugging (liquid-dsp's _print). */
void fm_ctg_result_print(const fm_ctg_result *r, FILE *f);

const char *fm_ctg_figo_name(fm_ctg_figo_class c);      /* "normal", ... "insufficient_signal" */
const char *fm_ctg_nst_name(fm_ctg_nst s);              /* "reactive", ... */
const char *fm_ctg_oxford_name(fm_ctg_oxford_status s); /* "met", "not_met", "too_short" */
const char *fm_ctg_shape_name(fm_ctg_shape s);          /* "abrupt", "gradual" */

#ifdef __cplusplus
}
#endif
#endif
