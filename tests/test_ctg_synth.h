/* Synthetic FHR traces with planted truth, for the CTG tests and bench/bench_ctg.c: a baseline
 * with level and slow drift, 1/f-ish variability (three AR(1) processes of different time
 * constants, amplitude changing with sleep-like states), accelerations and decelerations of
 * each size (raised-cosine shapes, abrupt or gradual decelerations), optional sinusoidal
 * stretches, and bursts of lost signal. Deterministic: its own PRNG (splitmix64), no libc rand.
 * Not a physiological model: a known truth to measure the analysis against. */
#ifndef FM_TEST_CTG_SYNTH_H
#define FM_TEST_CTG_SYNTH_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/ctg.h"

typedef struct synth_rng {
    uint64_t s;
} synth_rng;

static inline uint64_t synth_next(synth_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static inline double synth_unif(synth_rng *r)
{
    return (synth_next(r) >> 11) * 0x1.0p-53;
}
static inline double synth_range(synth_rng *r, double a, double b)
{
    return a + (b - a) * synth_unif(r);
}
static inline double synth_gauss(synth_rng *r)
{
    double u = synth_unif(r), v = synth_unif(r);
    return sqrt(-2.0 * log(u + 1e-300)) * cos(2.0 * M_PI * v);
}

#define SYNTH_MAX_EVENTS 256

typedef struct synth_event {
    double start_s, end_s, amp_bpm; /* amp > 0 for both kinds */
} synth_event;

typedef struct synth_opts {
    double duration_s;
    uint64_t seed;
    double lost_fraction; /* share of samples in lost bursts */
    double acc_per_hour, dec_per_hour;
    double var_scale; /* 1 = typical moderate variability */
    double sinus_start_s, sinus_len_s, sinus_pp_bpm, sinus_cpm; /* sinus_len_s 0 = none */
    double drift_bpm; /* peak slow drift of the baseline */
} synth_opts;

typedef struct synth_trace {
    size_t n;
    float *fhr; /* NAN where lost */
    uint8_t *state;
    float *truth_bl; /* planted baseline per sample */
    size_t n_acc, n_dec;
    synth_event acc[SYNTH_MAX_EVENTS], dec[SYNTH_MAX_EVENTS];
} synth_trace;

static inline void synth_opts_default(synth_opts *o, double duration_s, uint64_t seed)
{
    memset(o, 0, sizeof *o);
    o->duration_s = duration_s;
    o->seed = seed;
    o->acc_per_hour = 8;
    o->dec_per_hour = 4;
    o->var_scale = 1.0;
    o->drift_bpm = 6;
}

static inline int synth_free_slot(const synth_trace *t, double a, double b)
{
    for (size_t i = 0; i < t->n_acc; i++)
        if (a < t->acc[i].end_s + 30 && b > t->acc[i].start_s - 30)
            return 0;
    for (size_t i = 0; i < t->n_dec; i++)
        if (a < t->dec[i].end_s + 30 && b > t->dec[i].start_s - 30)
            return 0;
    return 1;
}

/* Raised-cosine bump of height 1 over [0, len), with the peak at peak_frac of the length. */
static inline double synth_bump(double x, double len, double peak_frac)
{
    if (x < 0 || x >= len)
        return 0.0;
    double p = peak_frac * len;
    double u = x < p ? x / p : 1.0 + (x - p) / (len - p);
    return 0.5 - 0.5 * cos(M_PI * u);
}

static inline synth_trace *synth_make(const synth_opts *o)
{
    synth_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->n = (size_t)(o->duration_s * 4.0);
    t->fhr = malloc(t->n * sizeof *t->fhr);
    t->state = malloc(t->n);
    t->truth_bl = malloc(t->n * sizeof *t->truth_bl);
    float *shape = calloc(t->n, sizeof *shape);
    if (!t->fhr || !t->state || !t->truth_bl || !shape) {
        free(t->fhr), free(t->state), free(t->truth_bl), free(shape), free(t);
        return NULL;
    }
    synth_rng r = {o->seed * 7919u + 17u};
    const double level = synth_range(&r, 120, 155);
    const double drift_period = synth_range(&r, 1800, 5400), drift_phase = synth_range(&r, 0, 6.3);
    for (size_t i = 0; i < t->n; i++)
        t->truth_bl[i] =
            (float)(level +
                    o->drift_bpm * sin(2 * M_PI * (double)i / 4.0 / drift_period + drift_phase));
    /* events, placed without overlap */
    int n_acc = (int)lround(o->acc_per_hour * o->duration_s / 3600.0);
    int n_dec = (int)lround(o->dec_per_hour * o->duration_s / 3600.0);
    for (int k = 0, tries = 0; k < n_acc + n_dec && tries < 2000; tries++) {
        int is_acc = k < n_acc;
        double amp = is_acc ? synth_range(&r, 10, 35) : synth_range(&r, 12, 60);
        double len = is_acc ? synth_range(&r, 18, 100) : synth_range(&r, 20, 150);
        if (!is_acc && synth_unif(&r) < 0.1)
            len = synth_range(&r, 150, 330); /* some prolonged */
        double a = synth_range(&r, 60, o->duration_s - len - 60);
        if (a < 0 ||
            (o->sinus_len_s > 0 && a < o->sinus_start_s + o->sinus_len_s + 60 &&
             a + len > o->sinus_start_s - 60) ||
            !synth_free_slot(t, a, a + len) || t->n_acc >= SYNTH_MAX_EVENTS ||
            t->n_dec >= SYNTH_MAX_EVENTS)
            continue;
        double pf = is_acc ? 0.5 : (synth_unif(&r) < 0.5 ? synth_range(&r, 0.1, 0.25) : 0.5);
        size_t i0 = (size_t)(a * 4.0), i1 = (size_t)((a + len) * 4.0);
        for (size_t i = i0; i < i1 && i < t->n; i++)
            shape[i] += (float)((is_acc ? 1 : -1) * amp * synth_bump((i - i0) / 4.0, len, pf));
        synth_event ev = {a, a + len, amp};
        if (is_acc)
            t->acc[t->n_acc++] = ev;
        else
            t->dec[t->n_dec++] = ev;
        k++;
    }
    /* 1/f-ish variability: three AR(1) processes (0.5 s, 4 s, 20 s), sleep-state modulation */
    const double tau[3] = {0.5, 4.0, 20.0}, sd[3] = {1.2, 2.0, 2.2};
    double x[3] = {0, 0, 0}, gain = 1.0, gain_target = 1.0;
    for (size_t i = 0; i < t->n; i++) {
        if (i % (4 * 600) == 0)
            gain_target = synth_unif(&r) < 0.3 ? 0.45 : synth_range(&r, 0.8, 1.4);
        gain += (gain_target - gain) / (4.0 * 60.0);
        double v = 0;
        for (int j = 0; j < 3; j++) {
            double a = exp(-0.25 / tau[j]);
            x[j] = a * x[j] + sqrt(1 - a * a) * sd[j] * synth_gauss(&r);
            v += x[j];
        }
        double ts = i / 4.0;
        double f = t->truth_bl[i] + shape[i];
        if (o->sinus_len_s > 0 && ts >= o->sinus_start_s && ts < o->sinus_start_s + o->sinus_len_s)
            f += o->sinus_pp_bpm / 2.0 * sin(2 * M_PI * o->sinus_cpm / 60.0 * ts) +
                 0.15 * v * o->var_scale;
        else
            f += v * gain * o->var_scale;
        t->fhr[i] = (float)f;
        t->state[i] = FM_STATE_OK;
    }
    free(shape);
    /* lost bursts (2-30 s) until the share is reached */
    size_t want = (size_t)(o->lost_fraction * (double)t->n), lost = 0;
    for (int guard = 0; lost < want && guard < 100000; guard++) {
        size_t len = (size_t)(synth_range(&r, 2, 30) * 4.0);
        size_t a = (size_t)(synth_unif(&r) * (double)(t->n - len));
        for (size_t i = a; i < a + len && lost < want; i++)
            if (t->state[i] == FM_STATE_OK) {
                t->state[i] = FM_STATE_LOST;
                t->fhr[i] = NAN;
                lost++;
            }
    }
    return t;
}

static inline void synth_free(synth_trace *t)
{
    if (!t)
        return;
    free(t->fhr);
    free(t->state);
    free(t->truth_bl);
    free(t);
}

#endif
