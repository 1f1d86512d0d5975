/* Internal to the Doppler engine: the tracker that turns per-window autocorrelation peaks into
 * one FHR value and one state per 4 Hz sample (halving/doubling resolution, maternal capture
 * rules, track confirmation). Not public API; see doppler.h. */
#ifndef FM_DOPPLER_TRACK_H
#define FM_DOPPLER_TRACK_H

#include <stdint.h>

#include "fetalmon/doppler.h"

#define FM_DOP_MAX_CANDS 16

/* One local maximum of the normalised autocorrelation inside the rate search range. */
typedef struct fm_dop_cand {
    float bpm;   /* 60 / interpolated lag */
    float score; /* biased normalised autocorrelation at the peak (favours short lags) */
    float q;     /* unbiased normalised autocorrelation at the peak, clamped 0..1 */
    float qh;    /* harmonic support: the smaller unbiased autocorrelation at 2 and 3 periods,
                  * 0..1 (0 when 3 periods do not fit the window) */
} fm_dop_cand;

typedef struct fm_dop_track {
    /* fetal track: last value we stood behind (ok or doubtful) */
    int f_valid;
    float f_bpm;
    int64_t f_k;     /* sample index of that value */
    int f_run;       /* consecutive continuous samples on this track */
    int f_low_doubt; /* resumed below maternal_max_bpm after a loss: doubtful until back up */
    float f_avg_bpm; /* moving average of the track (~5 s): is it descending now? */
    /* maternal track */
    int m_valid;
    float m_bpm;
    int64_t m_k;
    int m_run; /* consecutive continuous maternal samples ending at m_k */
} fm_dop_track;

void fm_dop_track_reset(fm_dop_track *t);

/* Decide sample k. cands sorted by score, best first (n may be 0); window_ok = 0 when the window
 * is silent, clipped or too short. Fills *out (t_s is set by the caller). */
void fm_dop_track_step(fm_dop_track *t, const fm_doppler_config *cfg, int64_t k, int window_ok,
                       const fm_dop_cand *cands, int n, fm_fhr_sample *out);

#endif
