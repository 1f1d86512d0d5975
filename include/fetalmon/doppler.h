/* fm_doppler: the streaming engine that turns Doppler audio into a 4 Hz FHR trace.
 *
 * Life cycle (liquid-dsp style): create with the input rate, push mono PCM blocks of any size,
 * receive one fm_fhr_sample every 250 ms of input through the sink callback, flush at the end,
 * destroy. Output depends only on the samples pushed, never on how they were split into blocks
 * (bit-identical). No allocation per block in the steady state; FFTW plans made once per engine
 * (create and destroy take one process-wide lock around the FFTW planner, which is not
 * thread-safe; distinct engines may otherwise be used from any threads concurrently, one engine
 * from one thread at a time). Method and figures: docs/doppler.md.
 * Not for file reading (audio.h, decode.h) nor trace-level false-signal detection (falsesig.h). */
#ifndef FETALMON_DOPPLER_H
#define FETALMON_DOPPLER_H

#include <stddef.h>
#include <stdio.h>

#include "fetalmon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Accepted input rates. */
#define FM_DOPPLER_MIN_RATE_HZ 4000.0
#define FM_DOPPLER_MAX_RATE_HZ 192000.0

typedef struct fm_fhr_sample {
    double t_s;         /* time of the sample from the start of input, seconds (k * 0.25) */
    float fhr_bpm;      /* NAN unless state is FM_STATE_OK or FM_STATE_DOUBTFUL */
    float quality;      /* 0..1 signal quality index (normalised autocorrelation peak) */
    fm_fhr_state state; /* exactly one state per sample */
} fm_fhr_sample;

typedef void (*fm_fhr_sink)(void *user, const fm_fhr_sample *s);

typedef struct fm_doppler fm_doppler;

/* Every field has a default (fm_doppler_config_default); docs/doppler.md says why. */
typedef struct fm_doppler_config {
    float min_bpm, max_bpm; /* peak search range, CLINICAL 1 (50..240) */
    float band_lo_hz;       /* Doppler band kept before the envelope */
    float band_hi_hz;
    float band_split_hz;    /* > 0: also autocorrelate the envelope of band_split..band_hi
                             * and average (fetal valves/flows vs low maternal shifts);
                             * 0 = single band */
    float window_s;         /* autocorrelation window, centred on each output sample */
    float maternal_max_bpm; /* CLINICAL 2: a rate below this is fetal only when reached by a
                             * continuous descent from a fetal level; otherwise maternal */
    float quality_min;      /* below this quality the sample is lost */
    float quality_ok;       /* below this (and >= quality_min) the sample is doubtful */
} fm_doppler_config;

void fm_doppler_config_default(fm_doppler_config *cfg);

/* NULL on bad rate (outside 4 kHz..192 kHz), bad config or out of memory. cfg may be NULL. */
fm_doppler *fm_doppler_create(double rate_hz, const fm_doppler_config *cfg, fm_fhr_sink sink,
                              void *user);
/* pcm: mono samples, full scale +-1.0 (|x| >= 0.99 counts as clipped). Non-finite samples are
 * read as 0 and counted as clipped. */
fm_status fm_doppler_push(fm_doppler *q, const float *pcm, size_t n);
/* End of input: emits the samples still owed so the trace covers the whole input
 * (ceil(4 * n / rate) samples in all). Further pushes are refused until reset. */
fm_status fm_doppler_flush(fm_doppler *q);
/* Back to the freshly created state (same rate, config and sink). */
void fm_doppler_reset(fm_doppler *q);
/* Samples emitted so far. */
size_t fm_doppler_emitted(const fm_doppler *q);
void fm_doppler_print(const fm_doppler *q, FILE *f);
void fm_doppler_destroy(fm_doppler *q);

#ifdef __cplusplus
}
#endif
#endif
