/* Test helpers for the Doppler engine: a small deterministic Doppler-like signal (per-beat bursts
 * of band-limited noise for the fetal heart, slower and lower-pitched bursts for the maternal
 * pulse, white noise) from a 4 Hz FHR truth, and the accuracy metrics of the issue. This is a
 * stand-in used when fm_synth (tools/synth, the project's realistic generator) is not linked;
 * it is deliberately simple. Not for fixtures. */
#ifndef FM_TEST_DOPPLER_SIG_H
#define FM_TEST_DOPPLER_SIG_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/doppler.h"

typedef struct tsig_rng {
    uint64_t s;
} tsig_rng;

static inline double tsig_uniform(tsig_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return ((r->s * 2685821657736338717ULL) >> 11) * (1.0 / 9007199254740992.0);
}

static inline double tsig_gauss(tsig_rng *r)
{
    double u = tsig_uniform(r), v = tsig_uniform(r);
    if (u < 1e-300)
        u = 1e-300;
    return sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v);
}

/* Two-pole resonator driven by white noise: band-limited noise around f_hz. */
typedef struct tsig_reso {
    double a1, a2, g, y1, y2;
} tsig_reso;

static inline void tsig_reso_init(tsig_reso *z, double f_hz, double bw_hz, double fs)
{
    double rr = exp(-M_PI * bw_hz / fs);
    z->a1 = 2.0 * rr * cos(2.0 * M_PI * f_hz / fs);
    z->a2 = -rr * rr;
    z->g = sqrt(1.0 - rr * rr) * 1.0;
    z->y1 = z->y2 = 0.0;
}

static inline double tsig_reso_run(tsig_reso *z, double x)
{
    double y = z->g * x + z->a1 * z->y1 + z->a2 * z->y2;
    z->y2 = z->y1;
    z->y1 = y;
    return y;
}

/* Burst envelope: Hann of width w_s starting at 0. */
static inline double tsig_hann(double t, double w_s)
{
    if (t < 0.0 || t >= w_s)
        return 0.0;
    return 0.5 - 0.5 * cos(2.0 * M_PI * t / w_s);
}

/* Streaming renderer: fhr4[i] = fetal rate at 4 Hz (NAN = no fetal heart audible), mhr4[i] =
 * maternal rate (NAN = none; mhr4 may be NULL), mat_amp = maternal pulse amplitude relative to
 * the fetal one, noise_rel = white noise rms relative to the fetal signal rms. The truth arrays
 * are read at index min(t * 4, n4 - 1), so n4 = 1 renders a constant rate for ever. */
typedef struct tsig_gen {
    const float *fhr4, *mhr4;
    size_t n4, i;
    double fs, mat_amp, noise_rel;
    tsig_rng r;
    tsig_reso rf1, rf2, rm;
    double ph_f, ph_m, tb_f, tb_m, per_f, per_m, amp_f, sig_rms, beat_amp;
} tsig_gen;

static inline void tsig_gen_init(tsig_gen *g, const float *fhr4, const float *mhr4, size_t n4,
                                 double fs, double mat_amp, double noise_rel, uint64_t seed)
{
    memset(g, 0, sizeof *g);
    g->fhr4 = fhr4;
    g->mhr4 = mhr4;
    g->n4 = n4;
    g->fs = fs;
    g->mat_amp = mat_amp;
    g->noise_rel = noise_rel;
    g->r.s = seed * 0x9E3779B97F4A7C15ULL + 1;
    tsig_reso_init(&g->rf1, 350.0, 250.0, fs); /* fetal walls */
    tsig_reso_init(&g->rf2, 700.0, 400.0, fs); /* fetal valves */
    tsig_reso_init(&g->rm, 220.0, 150.0, fs);  /* maternal vessel */
    g->ph_f = tsig_uniform(&g->r);
    g->ph_m = tsig_uniform(&g->r);
    g->tb_f = g->tb_m = -10.0;
    g->per_f = 0.43;
    g->per_m = 0.8;
    g->amp_f = 0.1;
    g->sig_rms = g->amp_f * 0.45;
    g->beat_amp = 1.0;
}

static inline void tsig_gen_run(tsig_gen *g, float *x, size_t n)
{
    const double fs = g->fs;
    for (size_t j = 0; j < n; j++, g->i++) {
        double t = (double)g->i / fs;
        size_t k = (size_t)(t * 4.0);
        if (k >= g->n4)
            k = g->n4 - 1;
        double f = g->fhr4[k], m = g->mhr4 ? g->mhr4[k] : NAN;
        double ef = 0.0, em = 0.0;
        if (isfinite(f)) {
            g->ph_f += f / 60.0 / fs;
            if (g->ph_f >= 1.0) {
                g->ph_f -= 1.0;
                g->tb_f = t;
                g->per_f = 60.0 / f;
                g->beat_amp = 0.8 + 0.4 * tsig_uniform(&g->r);
            }
            double dt = t - g->tb_f;
            ef = g->beat_amp * (tsig_hann(dt, 0.07) + 0.6 * tsig_hann(dt - 0.38 * g->per_f, 0.05));
        }
        if (isfinite(m)) {
            g->ph_m += m / 60.0 / fs;
            if (g->ph_m >= 1.0) {
                g->ph_m -= 1.0;
                g->tb_m = t;
                g->per_m = 60.0 / m;
            }
            double dt = t - g->tb_m;
            em = tsig_hann(dt, 0.18 * (g->per_m / 0.8 < 1.2 ? g->per_m / 0.8 : 1.2));
        }
        double w1 = tsig_gauss(&g->r), w2 = tsig_gauss(&g->r), w3 = tsig_gauss(&g->r);
        double v =
            g->amp_f * ef * (0.8 * tsig_reso_run(&g->rf1, w1) + 0.5 * tsig_reso_run(&g->rf2, w2));
        v += g->amp_f * g->mat_amp * em * tsig_reso_run(&g->rm, w3);
        v += g->noise_rel * g->sig_rms * tsig_gauss(&g->r);
        if (v > 1.0)
            v = 1.0;
        if (v < -1.0)
            v = -1.0;
        x[j] = (float)v;
    }
}

/* Render the whole truth (n4 samples at 4 Hz) into a malloc'd buffer of *n_out samples. */
static inline float *tsig_render(const float *fhr4, const float *mhr4, size_t n4, double fs,
                                 double mat_amp, double noise_rel, uint64_t seed, size_t *n_out)
{
    size_t n = (size_t)(n4 * fs / 4.0);
    float *x = malloc((n ? n : 1) * sizeof *x);
    if (!x)
        return NULL;
    tsig_gen g;
    tsig_gen_init(&g, fhr4, mhr4, n4, fs, mat_amp, noise_rel, seed);
    tsig_gen_run(&g, x, n);
    *n_out = n;
    return x;
}

/* Collects engine output. */
typedef struct tsig_out {
    size_t n, cap;
    fm_fhr_sample *s;
} tsig_out;

static inline void tsig_sink(void *user, const fm_fhr_sample *s)
{
    tsig_out *o = user;
    if (o->n == o->cap) {
        size_t cap = o->cap ? 2 * o->cap : 1024;
        fm_fhr_sample *ns = realloc(o->s, cap * sizeof *ns);
        if (!ns)
            abort();
        o->s = ns;
        o->cap = cap;
    }
    o->s[o->n++] = *s;
}

/* Run the engine over x in blocks of `block` samples (0 = one block; SIZE_MAX/2 random 1..100000
 * with the given seed). Returns 0 on success. */
static inline int tsig_run(const float *x, size_t n, double fs, const fm_doppler_config *cfg,
                           size_t block, uint64_t seed, tsig_out *o)
{
    memset(o, 0, sizeof *o);
    fm_doppler *q = fm_doppler_create(fs, cfg, tsig_sink, o);
    if (!q)
        return -1;
    tsig_rng r = {seed + 7};
    size_t i = 0;
    while (i < n) {
        size_t m = block == 0 ? n - i : block;
        if (block == (size_t)-1 / 2)
            m = 1 + (size_t)(tsig_uniform(&r) * 100000.0);
        if (m > n - i)
            m = n - i;
        if (fm_doppler_push(q, x + i, m) != FM_OK) {
            fm_doppler_destroy(q);
            return -1;
        }
        i += m;
    }
    fm_doppler_flush(q);
    fm_doppler_destroy(q);
    return 0;
}

#endif
