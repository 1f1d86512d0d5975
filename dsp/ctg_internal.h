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

/* The part of the analysis that both the Oxford checkpoints (on a prefix) and the whole record
 * need: fitted baseline, Oxford events, minute statistics, episodes, STV/LTV, basal rate. */
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
    size_t n_valid_min;
    fm_ctg_span *high, *low;
    size_t n_high, n_low;
    double stv_ms, ltv_ms, ltv_bpm, high_ltv_ms, basal_bpm;
    double high_minutes, low_minutes;
} ctg_core;

/* ctg_epoch.c */
void ctg_epoch_compute(const float *fhr15, float *pi_ms);
double ctg_valid_percent(const float *fhr, size_t n);

/* ctg_baseline.c: CLINICAL 3.2 fitted baseline. */
double ctg_modified_mode(const float *pi_ms, size_t n, const fm_ctg_config *c);
fm_status ctg_fit_baseline(const fm_ctg_config *c, const float *ep_pi, size_t n_ep, float *bl_pi,
                           double *mode_pi);
void ctg_lowpass_filtfilt(double *x, size_t n, double corner_hz, double rate_hz);
void ctg_epochs_to_samples(const float *bl_pi, size_t n_ep, size_t n, float *bl_bpm);

/* ctg_visual.c: CLINICAL 4.1 visual baseline. */
fm_status ctg_visual_baseline(const fm_ctg_config *c, const float *fhr, size_t n,
                              const float *ref_bpm, float *out_bpm);

/* ctg_events.c */
typedef struct ctg_event_rule {
    int sign;           /* +1 accelerations, -1 decelerations */
    double min_amp_bpm; /* amplitude strictly above */
    double min_dur_s;   /* extent strictly above */
    double alt_amp_bpm; /* or amplitude above this ... (<= 0: unused) */
    double alt_dur_s;   /* ... with extent above this */
    double max_dur_s;   /* extent below (<= 0: unbounded) */
} ctg_event_rule;
fm_status ctg_find_events(const fm_ctg_config *c, const float *fhr, const float *bl_bpm, size_t n,
                          const ctg_event_rule *rule, fm_ctg_event **out, size_t *n_out);

/* ctg_variability.c */
fm_status ctg_variability(const fm_ctg_config *c, ctg_core *k);
fm_status ctg_bandwidth(const fm_ctg_config *c, const float *fhr, size_t n, const fm_ctg_event *dec,
                        size_t n_dec, float *band_bpm, size_t n_min);

/* ctg_core (ctg_variability.c) */
fm_status ctg_core_run(ctg_core *k, const fm_ctg_config *c, const float *fhr, size_t n,
                       const float *ep_pi, size_t n_ep);
void ctg_core_free(ctg_core *k);

/* ctg_sinus.c */
fm_status ctg_sinus_scan(const fm_ctg_config *c, const float *fhr, const float *bl_bpm, size_t n,
                         const fm_ctg_event *acc, size_t n_acc, fm_ctg_sinusoidal *out);

/* ctg_verdict.c */
void ctg_reason_add(fm_ctg_reasons *rs, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
double ctg_gestation_used(const fm_ctg_config *c, int *assumed);
void ctg_oxford_evaluate(const fm_ctg_config *c, const ctg_core *k, double at_min,
                         const double *mov_s, size_t n_mov, const fm_ctg_sinusoidal *sin,
                         fm_ctg_oxford *o);
void ctg_figo_nichd_nst(const fm_ctg_config *c, fm_ctg_result *r);

#endif
