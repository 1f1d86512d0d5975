/* fm_synth: a deterministic generator of handheld fetal Doppler audio, with ground truth.
 *
 * For: turning a known 4 Hz fetal heart rate trace (real FHRMA traces or a constant) into
 * realistic Doppler audio so the engine (dsp/doppler) can be tested and benchmarked against a
 * truth it never sees. The model (docs/synth.md): every fetal cardiac cycle produces
 * band-limited noise bursts from atrial and ventricular walls, the four valve events and the
 * blood flow, plus umbilical flow; the mother's vessels pulse at her own rate; receiver noise,
 * low-frequency rumble, optional mains hum; timed events add maternal-only stretches, contact
 * loss, probe movement, clipping and noise bursts.
 * Not for: estimating anything. This module must never know how the engine works.
 *
 * Life cycle (liquid-dsp style):
 *     fm_synth_config c; fm_synth_config_default(&c); c.rate_hz = 8000; c.seed = 7;
 *     fm_synth *q = fm_synth_create(&c, fhr_bpm, n, NULL, &st);   // fhr_bpm at 4 Hz
 *     fm_synth_add_event(q, FM_SYNTH_EV_MATERNAL_ONLY, 60.0, 30.0, NAN); // before rendering
 *     while ((got = fm_synth_render(q, buf, 4096)) > 0) ...;     // streaming, any block size
 *     fm_synth_truth(q, k, &t);                                   // truth of 4 Hz sample k
 *     fm_synth_destroy(q);
 *
 * Determinism: the output depends only on the config, the input arrays and the events, never on
 * how rendering is split into blocks, and never on global state (own xoshiro256** generators,
 * own exp/log/sin/cos; the library is built with -ffp-contract=off). Same inputs => identical
 * samples on any IEEE-754 machine.
 *
 * Levels: all levels are powers in dB relative to the "nominal fetal power": the mean power of the
 * fetal heart components over one cardiac cycle at 140 bpm with every beat-to-beat and probe-
 * angle factor at 1. fetal_dbfs places that power on the output scale (RMS re full scale 1.0).
 * The real fetal power wanders around it by a few dB (probe angle, beat-to-beat variation). */
#ifndef FETALMON_SYNTH_H
#define FETALMON_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FM_SYNTH_RATE_MIN_HZ 4000.0
#define FM_SYNTH_RATE_MAX_HZ 192000.0

typedef struct fm_synth fm_synth;

typedef struct fm_synth_config {
    double rate_hz;          /* output sample rate, 4000..192000 */
    uint64_t seed;           /* every random choice derives from it */
    double fetal_dbfs;       /* nominal fetal RMS on the output scale, dB re 1.0 (default -30) */
    double snr_db;           /* nominal fetal power / receiver noise power in the device band
                              * 0..device_band_hz (default 20) */
    double maternal_db;      /* maternal vessel pulses, background level (default -12) */
    double maternal_only_db; /* maternal vessel pulses inside maternal-only stretches (+6) */
    double rumble_db;        /* low-frequency rumble < 80 Hz (default -12) */
    double umbilical_db;     /* umbilical cord flow whoosh (default -10) */
    double hum_hz;           /* mains hum frequency (50 or 60); 0 = no hum (default) */
    double hum_db;           /* hum level (default -20) */
    double device_band_hz;   /* receiver noise band edge (default 3000; capped at 0.45 rate) */
    double floor_dbfs;       /* full-band recorder noise floor, dB re 1.0 (default -90) */
    double probe_mhz;        /* ultrasound carrier, 1..10 MHz (default 2): every Doppler
                              * frequency scales with it (f = 2 f0 v cos(theta) / c) */
    double angle_sd_db;      /* slow probe-angle wander of each component, SD in dB (4) */
    double beat_sd_db;       /* beat-to-beat amplitude variation, SD in dB (2) */
    double speaker_hp_hz;    /* 0 = line-out recording (default); else a phone held to the
                              * device's loudspeaker: 2-pole high-pass at this corner (~250) */
    double agc_s;            /* 0 = no automatic gain control (default); else the time constant
                              * of a recorder AGC that levels the signal (phone recordings) */
    int noise_only;          /* 1: no body sounds at all, only receiver noise and floor (for
                              * the empty channels of a multi-channel file) */
} fm_synth_config;

/* Fill c with the defaults above (rate 8000 Hz, seed 1). */
void fm_synth_config_default(fm_synth_config *c);

/* Create a generator for n 4 Hz samples of fetal heart rate (fhr_bpm[k] holds the rate at time
 * k * 0.25 s; NAN, 0 or a value outside 50..240 = the fetal heart is not audible there). The
 * output lasts n * 0.25 s. mhr_bpm (n values, may be NULL) gives the maternal rate; its gaps (NAN
 * or outside 30..240) are interpolated linearly between valid neighbours; NULL or no valid value
 * gives a seeded plausible maternal rate (60-110 bpm, slowly drifting, with respiratory
 * modulation). Both arrays are copied. Returns NULL on an invalid config, n == 0,
 * n above 24 h, or out of memory; *status (when not NULL) says why. */
fm_synth *fm_synth_create(const fm_synth_config *c, const float *fhr_bpm, size_t n,
                          const float *mhr_bpm, fm_status *status);
void fm_synth_destroy(fm_synth *q);

typedef enum fm_synth_event_type {
    FM_SYNTH_EV_MATERNAL_ONLY = 0, /* probe hears only the mother: fetal components off, maternal
                                    * pulses at level_db (NAN: config maternal_only_db) */
    FM_SYNTH_EV_CONTACT_LOSS,      /* probe off the skin: every body sound off, receiver hiss
                                    * stays; level_db ignored */
    FM_SYNTH_EV_MOVEMENT,          /* probe moved: loud broadband scrapes and thumps at level_db
                                    * (NAN: +15 dB); the heart sounds drop 8 dB meanwhile */
    FM_SYNTH_EV_CLIP,              /* gain pushed level_db (NAN: +20 dB) into the +-1 limit */
    FM_SYNTH_EV_NOISE_BURST,       /* extra receiver-band noise at level_db (NAN: +6 dB) */
    FM_SYNTH_EV_COUNT
} fm_synth_event_type;

/* Add a timed event [start_s, start_s + duration_s). Only before the first render; events may
 * overlap. FM_EINVAL on a bad type, negative/non-finite times, or after rendering started;
 * FM_ERANGE when more than FM_SYNTH_MAX_EVENTS events were added. */
#define FM_SYNTH_MAX_EVENTS 4096
fm_status fm_synth_add_event(fm_synth *q, fm_synth_event_type type, double start_s,
                             double duration_s, double level_db);

/* Add a seeded random sequence of home-recording disturbances over the whole length: events
 * start as a Poisson process of per_min per minute (0..20); each is movement (45 %, 0.3-3 s),
 * contact loss (15 %, 1-8 s), maternal-only (15 %, 10-60 s), noise burst (15 %, 0.5-3 s) or clip
 * (10 %, 0.3-2 s), at its default level. Same rules as fm_synth_add_event. */
fm_status fm_synth_add_random_events(fm_synth *q, uint64_t seed, double per_min);

/* Render the next samples (at most max) into out; returns how many were written, 0 at the end.
 * Samples are in [-1, 1]; the output is hard-limited at +-1 (clipping stretches saturate at
 * exactly +-1.0f). */
size_t fm_synth_render(fm_synth *q, float *out, size_t max);

/* Total number of output samples, and how many were rendered so far. */
size_t fm_synth_length(const fm_synth *q);
size_t fm_synth_position(const fm_synth *q);

/* Ground truth of 4 Hz sample k (time k * 0.25 s), 0 <= k < n (the n given to create).
 * Truth is a function of the inputs and the events only, so it can be asked at any time.
 *   fhr_bpm: the fetus's true rate at that instant (the input value; NAN where the input has
 *            none). It is given even where the heart is not audible: check label/flags.
 *   mhr_bpm: the maternal rate driving the maternal pulses.
 *   flags:   every condition that touches the window [t - 0.125 s, t + 0.125 s).
 *   label:   the single most important of them, by precedence
 *            no_contact > maternal_only > not_audible > movement > clipped > noise_burst > fetal.
 *   fetal_audible: 1 when the fetal heart components are in the audio over the whole window
 *            (label fetal, movement, clipped or noise_burst), else 0. */
typedef enum fm_synth_label {
    FM_SYNTH_FETAL = 0,     /* fetal heart audible, nothing else special */
    FM_SYNTH_NOT_AUDIBLE,   /* input FHR missing: probe off the fetal heart, mother + noise */
    FM_SYNTH_MATERNAL_ONLY, /* maternal-only event */
    FM_SYNTH_NO_CONTACT,    /* contact-loss event */
    FM_SYNTH_MOVEMENT,      /* movement event */
    FM_SYNTH_CLIPPED,       /* clip event */
    FM_SYNTH_NOISE_BURST,   /* noise-burst event */
    FM_SYNTH_LABEL_COUNT
} fm_synth_label;

#define FM_SYNTH_F_NOT_AUDIBLE (1u << FM_SYNTH_NOT_AUDIBLE)
#define FM_SYNTH_F_MATERNAL_ONLY (1u << FM_SYNTH_MATERNAL_ONLY)
#define FM_SYNTH_F_NO_CONTACT (1u << FM_SYNTH_NO_CONTACT)
#define FM_SYNTH_F_MOVEMENT (1u << FM_SYNTH_MOVEMENT)
#define FM_SYNTH_F_CLIPPED (1u << FM_SYNTH_CLIPPED)
#define FM_SYNTH_F_NOISE_BURST (1u << FM_SYNTH_NOISE_BURST)

typedef struct fm_synth_truth {
    float fhr_bpm;
    float mhr_bpm;
    fm_synth_label label;
    unsigned flags;
    int fetal_audible;
} fm_synth_truth;

size_t fm_synth_truth_count(const fm_synth *q);
fm_status fm_synth_truth_at(const fm_synth *q, size_t k, fm_synth_truth *t);

/* "fetal", "not_audible", "maternal_only", "no_contact", "movement", "clipped", "noise_burst". */
const char *fm_synth_label_name(fm_synth_label l);

/* Counters of what was rendered so far (for tests and debugging). */
typedef struct fm_synth_stats {
    uint64_t fetal_beats;     /* fetal cycles whose sounds were emitted (audible beats) */
    uint64_t maternal_beats;  /* maternal pulses emitted */
    uint64_t clipped_samples; /* output samples that hit the +-1 limit */
} fm_synth_stats;
void fm_synth_get_stats(const fm_synth *q, fm_synth_stats *s);

#ifdef __cplusplus
}
#endif
#endif
