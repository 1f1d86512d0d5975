/* fm_doppler: Doppler audio in, one FHR sample per 250 ms out (see doppler.h, docs/doppler.md).
 *
 * Signal path, cheapest first because the input rate dominates the cost:
 *   input (4..192 kHz) -> second-order CIC decimator by d1 to fs1 in [4, 8) kHz (two multiply-adds
 *   per input sample) -> Doppler band-pass (4th-order Butterworth high-pass + 2nd-order low-pass)
 *   -> |x| -> mean over d2 samples to the envelope rate (~250 Hz) -> 4th-order low-pass of the
 *   envelope -> ring buffer (optionally a second envelope of the upper band, band_split_hz).
 *   Every 250 ms of input, the window of window_s centred on the output time is checked
 *   (silence, clipping, level step), its least-squares line removed, and autocorrelated through
 *   FFTW (zero-padded, linear); the local maxima of the normalised autocorrelation in the
 *   50..240 bpm lag range are interpolated (parabola), given their harmonic support (the
 *   autocorrelation at 2 and 3 periods) and handed to the tracker
 *   (doppler_track.c), which chooses the value and the state.
 * Everything is sample-sequential state, so the output does not depend on block sizes.
 * Not for file reading (audio.c) nor whole-file decoding (decode.c). */
#include "fetalmon/doppler.h"

#include <fftw3.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doppler_track.h"

/* First stage: the largest integer factor d1 that keeps the rate >= this, so fs1 is in [4, 8) kHz.
 */
#define STAGE1_MIN_RATE_HZ 4000.0
/* Envelope rate: 4 ms steps; with parabolic interpolation that is far below 1 bpm at 140 bpm. */
#define ENV_RATE_HZ 250.0
#define ENV_LOWPASS_HZ 25.0
/* A window needs at least this much signal (the first and last samples of a file have less). */
#define MIN_WINDOW_S 2.0
/* Silence: mean band-passed |x| below this (about -80 dBFS) is no signal (CLINICAL 2). */
#define SILENCE_LEVEL 1e-4f
/* Clipping (CLINICAL 2): |x| at or above CLIP_LEVEL is clipped; a window with more than
 * CLIP_MAX_FRACTION (1 %) of its samples clipped is lost: occasional full-scale peaks do not
 * change the rate, sustained clipping (probe knocks, overdriven input) does. */
#define CLIP_LEVEL 0.99f
#define CLIP_MAX_FRACTION 0.01

/* Stationarity: mean envelope of one half of the window above this multiple of the other half
 * (12 dB in power) marks a window with a level step (CLINICAL 2: contact loss, movement). */
#define STEP_MAX_RATIO 4.0

/* Loudness burst (CLINICAL 2: probe movement): a window whose mean envelope exceeds
 * BURST_MAX_RATIO (3x, ~10 dB) times the average level of the recent ok samples (REF_SAMPLES = 40,
 * ~10 s) is lost; after BURST_RESET_SAMPLES (20 s) of it the new level is accepted. */
#define BURST_MAX_RATIO 3.0
#define REF_SAMPLES 40.0
#define BURST_RESET_SAMPLES 80

/* Harmonic support (harmonic_support): relative search width around each multiple of the period
 * (+-4 %: a few bpm of beat-to-beat variation inside the window) and the least overlap of the
 * window with itself at 3 periods (40 %, 1 s of a 2.5 s window: fetal rates >= ~120 bpm). */
#define HARM_TOL 0.04
#define HARM_MIN_OVERLAP 0.4

/* FFTW's planner is not thread-safe and the server creates engines from worker threads: this
 * one static mutex guards plan creation and destruction, nothing else (doppler.h). */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

typedef struct biquad {
    float b0, b1, b2, a1, a2;
    float z1, z2;
} biquad;

struct fm_doppler {
    fm_doppler_config cfg;
    fm_fhr_sink sink;
    void *user;
    int64_t rate_hz;
    int d1, d2;
    double fs1, fs_env;
    /* stage 1: CIC2 */
    int c1_i;
    float s0, s1, s0_prev, s1_prev, cic_gain;
    uint32_t clip_acc;
    /* stage 2 */
    biquad band[3];
    int c2_i;
    float env_acc;
    biquad envlp[2];
    /* upper-band envelope (band_split_hz > 0) */
    biquad split[2];
    float env_acc_hi;
    biquad envlp_hi[2];
    float *ring_hi;
    /* envelope ring */
    float *ring;
    uint32_t *ring_clip;
    size_t ring_mask;
    int64_t n_env, n_in;
    /* output scheduling */
    int64_t k_next;
    int64_t due_next; /* envelope count at which sample k_next is due */
    int flushed;
    /* autocorrelation */
    int nw, nw_min, nfft, lag_min, lag_max;
    double *fft_in, *acf, *acf_hi;
    fftw_complex *fft_out;
    fftw_plan fwd, inv;
    fm_dop_track track;
    /* loudness-burst detector */
    int ref_valid, burst_run;
    double ref_level, win_level;
};

void fm_doppler_config_default(fm_doppler_config *cfg)
{
    cfg->min_bpm = 50.0f;  /* CLINICAL 1 */
    cfg->max_bpm = 240.0f; /* CLINICAL 1 */
    cfg->band_lo_hz = 100.0f;
    cfg->band_hi_hz = 1000.0f;
    cfg->band_split_hz = 0.0f; /* measured: no coverage gain (docs/doppler.md) */
    cfg->window_s = 2.5f;
    cfg->maternal_max_bpm = 110.0f; /* CLINICAL 2: "< ~100-110 bpm"; FIGO normal baseline 110 */
    cfg->quality_min = 0.35f;
    cfg->quality_ok = 0.50f;
}

/* RBJ cookbook biquads (bilinear, prewarped). */
static void biquad_set(biquad *b, int highpass, double f_hz, double q, double fs)
{
    double w = 2.0 * M_PI * f_hz / fs, cw = cos(w), al = sin(w) / (2.0 * q);
    double a0 = 1.0 + al;
    double b0 = highpass ? (1.0 + cw) / 2.0 : (1.0 - cw) / 2.0;
    double b1 = highpass ? -(1.0 + cw) : 1.0 - cw;
    b->b0 = (float)(b0 / a0);
    b->b1 = (float)(b1 / a0);
    b->b2 = (float)(b0 / a0);
    b->a1 = (float)(-2.0 * cw / a0);
    b->a2 = (float)((1.0 - al) / a0);
    b->z1 = b->z2 = 0.0f;
}

static inline float biquad_run(biquad *b, float x)
{
    /* transposed direct form II */
    float y = b->b0 * x + b->z1;
    b->z1 = b->b1 * x - b->a1 * y + b->z2;
    b->z2 = b->b2 * x - b->a2 * y;
    return y;
}

static void clear_state(fm_doppler *q)
{
    q->c1_i = 0;
    q->s0 = q->s1 = q->s0_prev = q->s1_prev = 0.0f;
    q->clip_acc = 0;
    /* Butterworth 4th-order high-pass as two biquads (Q of the pole pairs), 2nd-order low-pass. */
    biquad_set(&q->band[0], 1, q->cfg.band_lo_hz, 0.54119610, q->fs1);
    biquad_set(&q->band[1], 1, q->cfg.band_lo_hz, 1.30656296, q->fs1);
    biquad_set(&q->band[2], 0, q->cfg.band_hi_hz, 0.70710678, q->fs1);
    q->c2_i = 0;
    q->env_acc = 0.0f;
    biquad_set(&q->envlp[0], 0, ENV_LOWPASS_HZ, 0.54119610, q->fs_env);
    biquad_set(&q->envlp[1], 0, ENV_LOWPASS_HZ, 1.30656296, q->fs_env);
    memset(q->ring, 0, (q->ring_mask + 1) * sizeof *q->ring);
    if (q->ring_hi) {
        biquad_set(&q->split[0], 1, q->cfg.band_split_hz, 0.54119610, q->fs1);
        biquad_set(&q->split[1], 1, q->cfg.band_split_hz, 1.30656296, q->fs1);
        q->env_acc_hi = 0.0f;
        biquad_set(&q->envlp_hi[0], 0, ENV_LOWPASS_HZ, 0.54119610, q->fs_env);
        biquad_set(&q->envlp_hi[1], 0, ENV_LOWPASS_HZ, 1.30656296, q->fs_env);
        memset(q->ring_hi, 0, (q->ring_mask + 1) * sizeof *q->ring_hi);
    }
    memset(q->ring_clip, 0, (q->ring_mask + 1) * sizeof *q->ring_clip);
    q->n_env = q->n_in = 0;
    q->k_next = 0;
    q->flushed = 0;
    fm_dop_track_reset(&q->track);
    q->ref_valid = 0;
    q->ref_level = q->win_level = 0.0;
    q->burst_run = 0;
}

/* Envelope count at which output sample k is due: the end of the window centred on k / 4 s. */
static int64_t due_of(const fm_doppler *q, int64_t k)
{
    double t_end = (double)k / FM_FHR_RATE_HZ + 0.5 * q->cfg.window_s;
    return (int64_t)ceil(t_end * q->fs_env - 1e-9);
}

static int config_ok(const fm_doppler_config *c)
{
    return c->min_bpm >= 30.0f && c->max_bpm <= 300.0f && c->min_bpm < c->max_bpm &&
           c->band_lo_hz > 10.0f && c->band_hi_hz > c->band_lo_hz &&
           c->band_hi_hz < 0.45f * STAGE1_MIN_RATE_HZ &&
           (c->band_split_hz == 0.0f ||
            (c->band_split_hz > c->band_lo_hz && c->band_split_hz < c->band_hi_hz)) &&
           c->window_s >= 2.0f && c->window_s <= 8.0f && c->quality_min >= 0.0f &&
           c->quality_ok >= c->quality_min && c->quality_ok <= 1.0f &&
           60.0f / c->min_bpm <= 0.75f * c->window_s;
}

fm_doppler *fm_doppler_create(double rate_hz, const fm_doppler_config *cfg, fm_fhr_sink sink,
                              void *user)
{
    if (!(rate_hz >= FM_DOPPLER_MIN_RATE_HZ && rate_hz <= FM_DOPPLER_MAX_RATE_HZ) || !sink)
        return NULL;
    fm_doppler *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (cfg)
        q->cfg = *cfg;
    else
        fm_doppler_config_default(&q->cfg);
    if (!config_ok(&q->cfg)) {
        free(q);
        return NULL;
    }
    q->sink = sink;
    q->user = user;
    q->rate_hz = llround(rate_hz);
    q->d1 = (int)floor((double)q->rate_hz / STAGE1_MIN_RATE_HZ);
    q->fs1 = (double)q->rate_hz / q->d1;
    q->d2 = (int)lround(q->fs1 / ENV_RATE_HZ);
    q->fs_env = q->fs1 / q->d2;
    q->cic_gain = 1.0f / ((float)q->d1 * (float)q->d1);
    q->nw = (int)lround(q->cfg.window_s * q->fs_env);
    q->nw_min = (int)lround(MIN_WINDOW_S * q->fs_env);
    q->lag_min = (int)floor(60.0 / q->cfg.max_bpm * q->fs_env);
    q->lag_max = (int)ceil(60.0 / q->cfg.min_bpm * q->fs_env);
    if (q->lag_min < 2)
        q->lag_min = 2;
    q->nfft = 1;
    while (q->nfft < 2 * q->nw)
        q->nfft *= 2;
    size_t ring_n = 1;
    while (ring_n < (size_t)q->nw + 16)
        ring_n *= 2;
    q->ring_mask = ring_n - 1;
    q->ring = malloc(ring_n * sizeof *q->ring);
    q->ring_clip = malloc(ring_n * sizeof *q->ring_clip);
    q->fft_in = fftw_malloc((size_t)q->nfft * sizeof *q->fft_in);
    q->acf = malloc((size_t)q->nw * sizeof *q->acf);
    if (q->cfg.band_split_hz > 0.0f) {
        q->ring_hi = malloc(ring_n * sizeof *q->ring_hi);
        q->acf_hi = malloc((size_t)q->nw * sizeof *q->acf_hi);
        if (!q->ring_hi || !q->acf_hi) {
            fm_doppler_destroy(q);
            return NULL;
        }
    }
    q->fft_out = fftw_malloc(((size_t)q->nfft / 2 + 1) * sizeof *q->fft_out);
    if (!q->ring || !q->ring_clip || !q->fft_in || !q->fft_out || !q->acf) {
        fm_doppler_destroy(q);
        return NULL;
    }
    pthread_mutex_lock(&fftw_planner_lock);
    q->fwd = fftw_plan_dft_r2c_1d(q->nfft, q->fft_in, q->fft_out, FFTW_ESTIMATE);
    q->inv = fftw_plan_dft_c2r_1d(q->nfft, q->fft_out, q->fft_in, FFTW_ESTIMATE);
    pthread_mutex_unlock(&fftw_planner_lock);
    if (!q->fwd || !q->inv) {
        fm_doppler_destroy(q);
        return NULL;
    }
    clear_state(q);
    q->due_next = due_of(q, 0);
    return q;
}

void fm_doppler_destroy(fm_doppler *q)
{
    if (!q)
        return;
    pthread_mutex_lock(&fftw_planner_lock);
    if (q->fwd)
        fftw_destroy_plan(q->fwd);
    if (q->inv)
        fftw_destroy_plan(q->inv);
    pthread_mutex_unlock(&fftw_planner_lock);
    fftw_free(q->fft_in);
    fftw_free(q->fft_out);
    free(q->ring);
    free(q->ring_clip);
    free(q->ring_hi);
    free(q->acf);
    free(q->acf_hi);
    free(q);
}

void fm_doppler_reset(fm_doppler *q)
{
    if (!q)
        return;
    clear_state(q);
    q->due_next = due_of(q, 0);
}

size_t fm_doppler_emitted(const fm_doppler *q)
{
    return q ? (size_t)q->k_next : 0;
}

/* Insert a candidate keeping the list sorted by score, best first, at most FM_DOP_MAX_CANDS. */
static void cand_insert(fm_dop_cand *c, int *n, fm_dop_cand v)
{
    int i;
    if (*n < FM_DOP_MAX_CANDS) {
        i = (*n)++; /* a free slot: never compare against what it held before */
    } else {
        if (c[FM_DOP_MAX_CANDS - 1].score >= v.score)
            return; /* full, and weaker than every kept candidate */
        i = FM_DOP_MAX_CANDS - 1;
    }
    while (i > 0 && c[i - 1].score < v.score) {
        c[i] = c[i - 1];
        i--;
    }
    c[i] = v;
}

/* Normalised autocorrelation (acf[0] = 1, lags 0..len-1) of ring samples [start, start + len)
 * after removing their least-squares line: slow level drifts (probe pressure, angle) otherwise
 * tilt the autocorrelation and shift its peaks. Returns 0 when the window has no variation. */
static int autocorrelate(fm_doppler *q, const float *ring, int64_t start, int len, double *acf)
{
    double mean = 0.0, sx = 0.0, sxy = 0.0, c0 = 0.5 * (len - 1);
    for (int i = 0; i < len; i++) {
        q->fft_in[i] = ring[(size_t)(start + i) & q->ring_mask];
        mean += q->fft_in[i];
    }
    mean /= len;
    for (int i = 0; i < len; i++) {
        double x = i - c0;
        sx += x * x;
        sxy += x * (q->fft_in[i] - mean);
    }
    double slope = sx > 0.0 ? sxy / sx : 0.0;
    for (int i = 0; i < len; i++)
        q->fft_in[i] -= mean + slope * (i - c0);
    memset(q->fft_in + len, 0, (size_t)(q->nfft - len) * sizeof *q->fft_in);
    fftw_execute(q->fwd);
    for (int i = 0; i <= q->nfft / 2; i++) {
        double re = q->fft_out[i][0], im = q->fft_out[i][1];
        q->fft_out[i][0] = re * re + im * im;
        q->fft_out[i][1] = 0.0;
    }
    fftw_execute(q->inv);
    double r0 = q->fft_in[0];
    if (!(r0 > 0.0))
        return 0;
    for (int l = 0; l < len; l++)
        acf[l] = q->fft_in[l] / r0;
    return 1;
}

/* Harmonic support of a period of lag samples: the unbiased autocorrelation at 2 and 3 periods
 * (the largest value within HARM_TOL of each multiple, beat-to-beat variation blurs them), the
 * smaller of the two, clamped 0..1. A periodic heartbeat correlates as well at 2 and 3 periods
 * as at one; a pulse at half the rate (e.g. the mother at half the fetal rate) raises only the
 * even multiple, one at a third only the third: the smaller value is evidence neither fakes. It
 * does not tell a rate from its double (a slow heart with two sounds per beat correlates at 3
 * half-periods too), so the tracker uses it as quality only, never to settle an octave. 0 when 3
 * periods leave less than HARM_MIN_OVERLAP of the window (too few products). */
static double harmonic_support(const double *r, int len, double lag)
{
    if (!(3.0 * lag * (1.0 + HARM_TOL) + 1.0 <= (1.0 - HARM_MIN_OVERLAP) * len))
        return 0.0;
    double s = 1.0;
    for (int m = 2; m <= 3; m++) {
        double c = m * lag, w = HARM_TOL * c;
        int a = (int)floor(c - w), b = (int)ceil(c + w);
        double best = -1.0;
        for (int l = a; l <= b; l++) {
            double u = r[l] * len / (len - l);
            if (u > best)
                best = u;
        }
        if (best < s)
            s = best;
    }
    return s < 0.0 ? 0.0 : s > 1.0 ? 1.0 : s;
}

/* Autocorrelate the window of envelope samples [end - window, end) and list the peaks. Returns 0
 * when the window carries no usable signal (too short, silent, clipped, level step). */
static int analyse_window(fm_doppler *q, int64_t end, fm_dop_cand *c, int *n)
{
    *n = 0;
    int64_t start = end - q->nw;
    if (start < 0)
        start = 0;
    int len = (int)(end - start);
    if (len < q->nw_min)
        return 0;
    double m1 = 0.0, m2 = 0.0;
    uint64_t clipped = 0;
    for (int i = 0; i < len; i++) {
        size_t j = (size_t)(start + i) & q->ring_mask;
        if (i < len / 2)
            m1 += q->ring[j];
        else
            m2 += q->ring[j];
        clipped += q->ring_clip[j];
    }
    double mean = (m1 + m2) / len;
    m1 /= len / 2;
    m2 /= len - len / 2;
    if (mean < SILENCE_LEVEL)
        return 0;
    if ((double)clipped > CLIP_MAX_FRACTION * (double)len * q->d1 * q->d2)
        return 0;
    /* Stationarity: a level step inside the window (contact lost or regained, a movement burst)
     * biases the autocorrelation peaks; such a window is lost (CLINICAL 2). */
    if (m1 > STEP_MAX_RATIO * m2 || m2 > STEP_MAX_RATIO * m1)
        return 0;
    /* Loudness burst: far louder than the recent good fetal signal (probe movement, knocks). */
    q->win_level = mean;
    if (q->ref_valid && mean > BURST_MAX_RATIO * q->ref_level) {
        if (++q->burst_run <= BURST_RESET_SAMPLES)
            return 0;
        q->ref_valid = 0; /* a lasting new level (gain changed, probe moved): accept it */
    }
    q->burst_run = 0;
    double *r = q->acf;
    if (!autocorrelate(q, q->ring, start, len, r))
        return 0;
    if (q->ring_hi && autocorrelate(q, q->ring_hi, start, len, q->acf_hi)) {
        /* Mean of the whole-band and upper-band autocorrelations: the fetal valves and flows
         * are periodic in both, the maternal vessel pulses (low Doppler shifts) mostly in the
         * first only, so the fetal peaks stand out. */
        for (int l = 0; l < len; l++)
            r[l] = 0.5 * (r[l] + q->acf_hi[l]);
    }
    int lmax = q->lag_max < len - 2 ? q->lag_max : len - 2;
    for (int l = q->lag_min; l <= lmax; l++) {
        if (!(r[l] > r[l - 1] && r[l] >= r[l + 1]) || r[l] <= 0.0)
            continue;
        double a = r[l - 1], b = r[l], cc = r[l + 1];
        double den = a - 2.0 * b + cc, delta = 0.0, peak = b;
        if (den < 0.0) {
            delta = 0.5 * (a - cc) / den;
            if (delta > 0.5)
                delta = 0.5;
            if (delta < -0.5)
                delta = -0.5;
            peak = b - 0.25 * (a - cc) * delta;
        }
        double lag = l + delta;
        double bpm = 60.0 * q->fs_env / lag;
        if (bpm < q->cfg.min_bpm || bpm > q->cfg.max_bpm)
            continue;
        double unb = peak * len / (len - lag);
        fm_dop_cand v = {(float)bpm, (float)peak, (float)(unb > 1.0 ? 1.0 : unb),
                         (float)harmonic_support(r, len, lag)};
        cand_insert(c, n, v);
    }
    return 1;
}

static void emit(fm_doppler *q, int64_t end)
{
    fm_dop_cand c[FM_DOP_MAX_CANDS];
    int n = 0;
    int ok = analyse_window(q, end, c, &n);
    fm_fhr_sample s;
    fm_dop_track_step(&q->track, &q->cfg, q->k_next, ok, c, n, &s);
    if (s.state == FM_STATE_OK) {
        /* Reference level of good fetal signal: exponential average over ~10 s of ok samples. */
        q->ref_level = q->ref_valid ? q->ref_level + (q->win_level - q->ref_level) / REF_SAMPLES
                                    : q->win_level;
        q->ref_valid = 1;
    }
    s.t_s = (double)q->k_next / FM_FHR_RATE_HZ;
    q->sink(q->user, &s);
    q->k_next++;
    q->due_next = due_of(q, q->k_next);
}

/* One decimated sample at fs1 through the band-pass and the envelope. */
static inline void stage2(fm_doppler *q, float y)
{
    y = biquad_run(&q->band[0], y);
    y = biquad_run(&q->band[1], y);
    y = biquad_run(&q->band[2], y);
    q->env_acc += fabsf(y);
    if (q->ring_hi) {
        float h = biquad_run(&q->split[1], biquad_run(&q->split[0], y));
        q->env_acc_hi += fabsf(h);
    }
    if (++q->c2_i < q->d2)
        return;
    float e = q->env_acc / (float)q->d2;
    q->env_acc = 0.0f;
    q->c2_i = 0;
    e = biquad_run(&q->envlp[0], e);
    e = biquad_run(&q->envlp[1], e);
    size_t j = (size_t)q->n_env & q->ring_mask;
    q->ring[j] = e;
    if (q->ring_hi) {
        float h = q->env_acc_hi / (float)q->d2;
        q->env_acc_hi = 0.0f;
        h = biquad_run(&q->envlp_hi[0], h);
        q->ring_hi[j] = biquad_run(&q->envlp_hi[1], h);
    }
    q->ring_clip[j] = q->clip_acc;
    q->clip_acc = 0;
    q->n_env++;
    while (q->n_env >= q->due_next)
        emit(q, q->n_env);
}

fm_status fm_doppler_push(fm_doppler *q, const float *pcm, size_t n)
{
    if (!q || (!pcm && n))
        return FM_EINVAL;
    if (q->flushed)
        return FM_EINVAL;
    const int d1 = q->d1;
    size_t i = 0;
    while (i < n) {
        /* Accumulate up to the end of the current CIC block with locals (the hot loop). */
        size_t m = (size_t)(d1 - q->c1_i);
        if (m > n - i)
            m = n - i;
        float s0 = q->s0, s1 = q->s1, w = (float)q->c1_i;
        uint32_t clip = 0;
        for (size_t j = 0; j < m; j++) {
            float x = pcm[i + j];
            if (!isfinite(x)) {
                x = 0.0f;
                clip++;
            }
            clip += fabsf(x) >= CLIP_LEVEL;
            s0 += x;
            s1 += w * x;
            w += 1.0f;
        }
        q->s0 = s0;
        q->s1 = s1;
        q->clip_acc += clip;
        q->c1_i += (int)m;
        i += m;
        if (q->c1_i == d1) {
            /* Triangular (CIC order 2) weights over the previous and current block. */
            float y = (s1 + s0 + (float)(d1 - 1) * q->s0_prev - q->s1_prev) * q->cic_gain;
            q->s0_prev = s0;
            q->s1_prev = s1;
            q->s0 = q->s1 = 0.0f;
            q->c1_i = 0;
            stage2(q, y);
        }
    }
    q->n_in += (int64_t)n;
    return FM_OK;
}

fm_status fm_doppler_flush(fm_doppler *q)
{
    if (!q)
        return FM_EINVAL;
    if (q->flushed)
        return FM_OK;
    q->flushed = 1;
    /* Samples k with k / 4 s < duration: ceil(4 n / rate). */
    int64_t total = (q->n_in * FM_FHR_RATE_HZ + q->rate_hz - 1) / q->rate_hz;
    while (q->k_next < total) {
        int64_t end = q->due_next < q->n_env ? q->due_next : q->n_env;
        emit(q, end);
    }
    return FM_OK;
}

void fm_doppler_print(const fm_doppler *q, FILE *f)
{
    if (!q)
        return;
    fprintf(f,
            "fm_doppler: rate %lld Hz, /%d -> %.1f Hz, band %.0f-%.0f Hz, /%d -> envelope %.2f Hz,"
            " window %.2f s (%d samples, fft %d), lags %d..%d, %lld in, %lld out\n",
            (long long)q->rate_hz, q->d1, q->fs1, q->cfg.band_lo_hz, q->cfg.band_hi_hz, q->d2,
            q->fs_env, q->cfg.window_s, q->nw, q->nfft, q->lag_min, q->lag_max, (long long)q->n_in,
            (long long)q->k_next);
}
