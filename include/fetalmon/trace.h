/* fm_trace: a 4 Hz fetal heart rate trace in memory, and the readers of trace files.
 *
 * A trace is plain data (not an opaque object): parallel arrays of n samples at rate_hz = 4.
 * fhr_bpm holds NAN where there is no valid fetal value (CLINICAL 1: 0/NaN = no signal; values
 * outside 50..240 bpm are artefact and are read as NAN). state[] says why a value is missing or
 * doubtful. Optional channels (maternal heart rate, toco) are NULL when the source has none.
 *
 * Readers: FHRMA .fhr, FHRMA .fhrm (with maternal channel), CSV (time_s,fhr_bpm[,mhr_bpm]
 * [,quality][,state]), and PhysioNet WFDB (.hea + .dat, format 16, FHR and UC at 4 Hz).
 * Not for audio: see doppler.h and audio.h. */
#ifndef FETALMON_TRACE_H
#define FETALMON_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* CLINICAL 1: values outside this range are artefact. */
#define FM_FHR_ARTEFACT_MIN_BPM 50.0f
#define FM_FHR_ARTEFACT_MAX_BPM 240.0f
/* Longest trace we accept: 24 h at 4 Hz. */
#define FM_TRACE_MAX_SAMPLES ((size_t)24 * 3600 * FM_FHR_RATE_HZ)

typedef struct fm_trace {
    size_t n;            /* number of samples */
    double rate_hz;      /* always FM_FHR_RATE_HZ */
    double start_unix_s; /* wall-clock start, 0 when unknown */
    float *fhr_bpm;      /* n values, NAN = no valid fetal value */
    float *quality;      /* n values in 0..1 (1 for readers that carry no quality) */
    uint8_t *state;      /* n fm_fhr_state values */
    float *mhr_bpm;      /* n values or NULL when there is no maternal channel; NAN = none */
    float *toco;         /* n values or NULL when there is no uterine activity channel */
    size_t n_movements;  /* fetal movement marks (mother's event button) */
    double *movements_s; /* seconds from start, ascending */
} fm_trace;

/* Allocate a trace of n samples, all lost (NAN, quality 0, FM_STATE_LOST). with_mhr/with_toco
 * allocate those channels (filled with NAN). Returns NULL on bad n or out of memory. */
fm_trace *fm_trace_create(size_t n, int with_mhr, int with_toco);
void fm_trace_destroy(fm_trace *t);

/* Set sample i from a raw value: NAN, 0, or outside the artefact range become lost. */
void fm_trace_set(fm_trace *t, size_t i, float fhr_bpm);

/* Append a movement mark; keeps movements_s sorted. */
fm_status fm_trace_add_movement(fm_trace *t, double t_s);

/* Percentage of samples that are not FM_STATE_OK (CLINICAL 1: signal loss). */
double fm_trace_lost_percent(const fm_trace *t);

typedef enum fm_trace_format {
    FM_TRACE_AUTO = 0, /* from the file name's ending (.fhr, .fhrm, .csv, .hea/.dat) */
    FM_TRACE_FHR,
    FM_TRACE_FHRM,
    FM_TRACE_CSV,
    FM_TRACE_WFDB
} fm_trace_format;

/* Guess the format from a path; FM_TRACE_AUTO when it is not a trace file (e.g. audio). */
fm_trace_format fm_trace_format_of(const char *path);

/* Read a trace file. On failure returns a code, *out stays NULL, and when err is not NULL it
 * receives a one-line reason. For WFDB, path may name the .hea, the .dat or the record stem. */
fm_status fm_trace_read(const char *path, fm_trace_format fmt, fm_trace **out, char *err,
                        size_t err_len);

/* Parse from memory (what the fuzzers and the server use). WFDB needs both parts. */
fm_status fm_trace_parse_fhr(const uint8_t *buf, size_t len, int with_mhr, fm_trace **out,
                             char *err, size_t err_len);
fm_status fm_trace_parse_csv(const char *buf, size_t len, fm_trace **out, char *err,
                             size_t err_len);
fm_status fm_trace_parse_wfdb(const char *hea, size_t hea_len, const uint8_t *dat,
                              size_t dat_len, fm_trace **out, char *err, size_t err_len);

#ifdef __cplusplus
}
#endif
#endif
