/* fm_doppler: the streaming engine that turns Doppler audio into a 4 Hz FHR trace.
 *
 * Life cycle (liquid-dsp style): create with the input rate, push mono PCM blocks of any size,
 * receive one fm_fhr_sample every 250 ms of input through the sink callback, flush at the end,
 * destroy. Output depends only on the samples pushed, never on how they were split into blocks
 * (bit-identical). No allocation per block in the steady state; FFTW plans made once.
 * Not for file reading (audio.h) nor trace-level false-signal detection (falsesig.h). */
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
    float quality;      /* 0..1 signal quality index */
    fm_fhr_state state; /* exactly one state per sample */
} fm_fhr_sample;

typedef void (*fm_fhr_sink)(void *user, const fm_fhr_sample *s);

typedef struct fm_doppler fm_doppler;

typedef struct fm_doppler_config {
    float min_bpm, max_bpm;      /* peak search range (50..240) */
    float maternal_max_bpm;      /* rates at or below this with no fetal continuity: maternal */
    float quality_min;           /* below this quality the sample is lost */
} fm_doppler_config;

void fm_doppler_config_default(fm_doppler_config *cfg);

/* NULL on bad rate (outside 4 kHz..192 kHz) or out of memory. cfg may be NULL (defaults). */
fm_doppler *fm_doppler_create(double rate_hz, const fm_doppler_config *cfg, fm_fhr_sink sink,
                              void *user);
fm_status fm_doppler_push(fm_doppler *q, const float *pcm, size_t n);
/* End of input: emits the samples still owed so the trace covers the whole input. */
fm_status fm_doppler_flush(fm_doppler *q);
void fm_doppler_reset(fm_doppler *q);
void fm_doppler_print(const fm_doppler *q, FILE *f);
void fm_doppler_destroy(fm_doppler *q);

#ifdef __cplusplus
}
#endif
#endif
