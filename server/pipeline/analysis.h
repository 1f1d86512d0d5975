/* fm_analysis: one recording through the whole engine, as the CLI and the server's workers run
 * it: load (audio through fm_doppler, or a trace file), false-signal marking, CTG analysis, and
 * the stable analysis JSON. Not for live streams (they push into the same dsp objects directly). */
#ifndef FM_ANALYSIS_H
#define FM_ANALYSIS_H

#include <stdio.h>

#include "fetalmon/common.h"
#include "fetalmon/ctg.h"
#include "fetalmon/trace.h"
#include "jsonw.h"

typedef struct fm_analysis_opts {
    double gestation_weeks; /* NAN when unknown */
    int use_mhr;            /* use the maternal channel when the input has one */
    int progress;           /* report progress on stderr when it is a terminal */
    /* Called with 0..1 as loading advances (may be NULL). */
    void (*on_progress)(void *user, double fraction);
    void *progress_user;
} fm_analysis_opts;

typedef struct fm_analysis {
    char source[256];      /* input file name (no directories) */
    char input_kind[16];   /* "audio" or "trace" */
    char input_format[32]; /* "WAV", "FLAC", "fhr", "fhrm", "csv", "wfdb" ... */
    double input_rate_hz;  /* audio rate, or 4 for traces */
    int input_channels;
    int channel_used;      /* audio: channel analysed, -1 = mix of all */
    fm_analysis_opts opts;
    fm_trace *trace;       /* the 4 Hz trace (owned) */
    fm_ctg *ctg;           /* the CTG analysis after fm_analysis_run (owned) */
    float *false_signal;   /* per sample probability of false signal (NAN = no signal) */
    size_t n_false_marked; /* ok samples the detector re-marked maternal/doubtful */
} fm_analysis;

void fm_analysis_opts_default(fm_analysis_opts *o);
fm_status fm_analysis_load(const char *path, const fm_analysis_opts *o, fm_analysis **out,
                           char *err, size_t err_len);
fm_status fm_analysis_run(fm_analysis *an, char *err, size_t err_len);
void fm_analysis_write_json(const fm_analysis *an, jsonw *w);
void fm_analysis_print_summary(const fm_analysis *an, FILE *f);
void fm_analysis_destroy(fm_analysis *an);

#endif
