/* Internal to fm_synth: the object layout shared by synth.c (life cycle, rendering, truth) and
 * synth_sched.c (what sounds happen when: fetal and maternal beats, movement artefacts).
 * Not for: use outside tools/synth. */
#ifndef FM_SYNTH_INTERNAL_H
#define FM_SYNTH_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "synth.h"
#include "synth_math.h"

/* Voices: each is one stream of band-limited noise whose amplitude, Doppler centre frequency
 * and bandwidth follow the sound events scheduled on it. */
enum {
    SY_V_WALL = 0, /* fetal atrial and ventricular wall motion: loud, 30-300 Hz */
    SY_V_VALVE,    /* fetal valve opening/closing clicks: short, 200-950 Hz */
    SY_V_FLOW,     /* fetal intracardiac blood flow: weaker, up to ~1.4 kHz */
    SY_V_UMB,      /* umbilical cord flow: pulsatile whoosh with diastolic flow */
    SY_V_MAT,      /* maternal aorta / uterine arteries */
    SY_V_ART,      /* probe movement scrapes and thumps */
    SY_NVOICE
};

/* Streams of the random generators (fixed numbers: adding one never shifts another). */
enum {
    SY_S_VOICE = 0, /* + voice index: per-sample noise of each voice */
    SY_S_RUMBLE = 16,
    SY_S_NOISE,
    SY_S_FLOOR,
    SY_S_FETAL_BEAT,
    SY_S_MAT_BEAT,
    SY_S_MHR,
    SY_S_RUMBLE_MOD,
    SY_S_PHASE,
    SY_S_RANDOM_EVENTS,
    SY_S_ART = 64 /* + movement event index */
};

typedef struct sy_ev {
    double t0, dur; /* s */
    double amp;     /* linear amplitude, nominal fetal power = 1 */
    double f_lo;    /* centre frequency at the edges of the event, Hz */
    double f_hi;    /* centre frequency at the peak, Hz */
    double peak;    /* 0..1: where in the event the peak lies */
    double floor;   /* 0..1: amplitude floor (continuous flow) */
    double rel_bw;  /* noise bandwidth as a fraction of the centre frequency */
    int voice;
} sy_ev;

typedef struct sy_user_ev {
    int type;
    double t0, t1, level_db;
} sy_user_ev;

/* Complex band-limited noise shifted to a centre frequency: a cloud of scatterers moving at
 * about the same speed. */
typedef struct sy_voice {
    sy_rng rng;
    double i1, i2, q1, q2; /* two cascaded one-pole low-passes on I and Q */
    double c, s;           /* oscillator phasor */
    double cr, sr;         /* per-sample rotation */
    double a, g;           /* low-pass coefficient and input gain (unit output variance) */
    double amp0, damp;     /* amplitude at the start of the control block, per-sample step */
    double amp_next;       /* amplitude at the next control boundary */
    double freq_hz;        /* last centre frequency (kept while silent) */
    int active;
} sy_voice;

/* Phase integrator: beats at integer crossings of the integral of a 4 Hz rate trace. */
typedef struct sy_phase {
    const float *bpm; /* gap-filled rates, n values */
    size_t n;
    size_t seg;   /* current 0.25 s segment */
    double phase; /* phase at the start of seg, in beats */
    double target;
} sy_phase;

struct fm_synth {
    fm_synth_config cfg;
    size_t n;          /* 4 Hz samples */
    float *fhr_in;     /* input FHR, NAN where not audible */
    float *fhr_fill;   /* gap-filled for beat timing */
    float *mhr;        /* maternal rate, complete */
    float *rumble_mod; /* slow rumble amplitude factor per 4 Hz sample */
    size_t total;      /* output samples */
    size_t pos;        /* rendered so far */
    size_t ctrl_n;     /* samples per control block */
    int started;

    /* levels (amplitudes, nominal fetal = 1) */
    double scale; /* output scale: nominal fetal RMS on the output */
    double fetal_norm, umb_norm, mat_norm;
    double mat_bg, mat_only_default;
    double rumble_amp, noise_pow, hum_amp, floor_sd, move_drop;

    /* user events, sorted by start at the first render */
    sy_user_ev *uev;
    size_t n_uev;
    size_t uev_lo; /* events before this index have ended (render time only) */

    /* scheduled sound events (a rolling window around the render time) */
    sy_ev *ev;
    size_t n_ev, cap_ev;
    double sched_until; /* sounds starting before this time are scheduled */
    sy_phase fphase, mphase;
    sy_rng rng_fbeat, rng_mbeat;
    double angle[SY_NVOICE]; /* slow probe-angle state per voice, standard units */
    double fetal_cos;        /* slow Doppler-angle factor on the fetal frequencies */
    double last_fbeat_t, last_mbeat_t;
    double next_fbeat_t, next_mbeat_t; /* computed, not yet emitted beat times; < 0 = none */
    sy_ev *art;                        /* movement sub-events, sorted by start */
    size_t n_art, art_next;

    /* renderers */
    sy_voice v[SY_NVOICE];
    sy_rng rng_rumble, rng_noise, rng_floor;
    double r1, r2, ra, rg; /* rumble low-pass state */
    double rumble0, drumble, rumble_next;
    double nb0, nb1, nb2, na1, na2, ny1, ny2;      /* receiver noise biquad + state */
    double noise_gain;                             /* biquad gain normalising to unit variance */
    double na0, dna, na_next;                      /* receiver noise amplitude */
    double clip0, dclip, clip_next;                /* clip-stretch gain */
    double hc, hs, hcr, hsr, h3c, h3s, h3cr, h3sr; /* hum phasors */
    double hum0, dhum, hum_next;
    double hb0, hb1, hb2, ha1, ha2, hz1, hz2; /* loudspeaker high-pass */
    double agc_alpha, agc_pow, agc_blk;       /* recorder AGC: smoothed input power */
    double agc0, dagc, agc_next;
    int have_next;
    double *acc; /* ctrl_n accumulator */

    fm_synth_stats stats;
};

/* synth_sched.c */
fm_status sy_sched_init(fm_synth *q);
fm_status sy_sched_freeze(fm_synth *q);             /* at the first render */
fm_status sy_sched_advance(fm_synth *q, double t);  /* schedule sounds starting before t */
void sy_sched_prune(fm_synth *q, double t);         /* drop sounds that ended before t */
double sy_bump(double u, double peak);              /* 0..1 rise-fall, peak at peak */
double sy_shape(double u, double peak, double flr); /* event amplitude shape, u in 0..1 */
double sy_fetal_nominal_power(void);
double sy_umb_nominal_power(void);
double sy_mat_nominal_power(void);

#endif
