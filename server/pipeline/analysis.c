/* fm_analysis: see analysis.h. The one place that strings the engine modules together. */
#include "analysis.h"

#include "ctg_json.h"
#include "fetalmon/falsesig.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fetalmon/decode.h"

void fm_analysis_opts_default(fm_analysis_opts *o)
{
    memset(o, 0, sizeof *o);
    o->gestation_weeks = NAN;
    o->use_mhr = 1;
    o->progress = 1;
}

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

static const char *format_label(fm_trace_format f)
{
    switch (f) {
    case FM_TRACE_FHR: return "fhr";
    case FM_TRACE_FHRM: return "fhrm";
    case FM_TRACE_CSV: return "csv";
    case FM_TRACE_WFDB: return "wfdb";
    default: return "unknown";
    }
}

/* Progress of an audio decode on a terminal. */
static void progress_stderr(void *user, double fraction)
{
    (void)user;
    fprintf(stderr, "\rdecoding audio %3.0f %%", 100.0 * fraction);
}

fm_status fm_analysis_load(const char *path, const fm_analysis_opts *o, fm_analysis **out,
                           char *err, size_t err_len)
{
    *out = NULL;
    fm_analysis *an = calloc(1, sizeof *an);
    if (!an)
        return FM_ENOMEM;
    if (o)
        an->opts = *o;
    else
        fm_analysis_opts_default(&an->opts);
    snprintf(an->source, sizeof an->source, "%s", base_name(path));
    an->channel_used = -1;
    fm_trace_format tf = fm_trace_format_of(path);
    fm_status rc;
    if (tf != FM_TRACE_AUTO) {
        rc = fm_trace_read(path, tf, &an->trace, err, err_len);
        snprintf(an->input_kind, sizeof an->input_kind, "trace");
        snprintf(an->input_format, sizeof an->input_format, "%s", format_label(tf));
        an->input_rate_hz = FM_FHR_RATE_HZ;
        an->input_channels = 1;
    } else {
        /* Audio: streamed through the Doppler engine (dsp/decode.c). */
        fm_decode_info info;
        fm_progress_fn prog = an->opts.on_progress;
        void *prog_user = an->opts.progress_user;
        if (!prog && an->opts.progress && isatty(STDERR_FILENO)) {
            prog = progress_stderr;
            prog_user = NULL;
        }
        rc = fm_decode_file(path, NULL, prog, prog_user, &an->trace, &info, err, err_len);
        if (prog == progress_stderr)
            fputs("\r\033[K", stderr);
        if (rc == FM_OK) {
            snprintf(an->input_kind, sizeof an->input_kind, "audio");
            snprintf(an->input_format, sizeof an->input_format, "%s", info.format);
            an->input_rate_hz = info.rate_hz;
            an->input_channels = info.channels;
            an->channel_used = info.channel_used;
        }
    }
    if (rc != FM_OK) {
        fm_analysis_destroy(an);
        return rc;
    }
    if (an->trace->mhr_bpm && !an->opts.use_mhr) {
        free(an->trace->mhr_bpm);
        an->trace->mhr_bpm = NULL;
    }
    *out = an;
    return FM_OK;
}

fm_status fm_analysis_run(fm_analysis *an, char *err, size_t err_len)
{
    if (!an || !an->trace)
        return FM_EINVAL;
    if (an->trace->n == 0) {
        snprintf(err, err_len, "the recording holds no samples");
        return FM_EEMPTY;
    }
    /* CLINICAL 2: false signal (maternal pulse, halving/doubling) is marked before the CTG
     * analysis, so it never counts as fetal. The maternal channel is used when present. */
    free(an->false_signal);
    an->false_signal = malloc(an->trace->n * sizeof *an->false_signal);
    uint8_t *fs_state = malloc(an->trace->n);
    if (!an->false_signal || !fs_state) {
        free(fs_state);
        return FM_ENOMEM;
    }
    fm_status rc = fm_falsesig_trace(an->trace, an->trace->mhr_bpm != NULL, an->false_signal,
                                     fs_state);
    if (rc == FM_OK)
        an->n_false_marked = fm_falsesig_mark(an->trace, fs_state);
    free(fs_state);
    if (rc != FM_OK) {
        snprintf(err, err_len, "false-signal detection failed: %s", fm_strerror(rc));
        return rc;
    }
    fm_ctg_config cfg;
    fm_ctg_config_default(&cfg);
    cfg.gestation_weeks = an->opts.gestation_weeks;
    fm_ctg_destroy(an->ctg);
    an->ctg = NULL;
    rc = fm_ctg_analyze_trace(an->trace, &cfg, &an->ctg);
    if (rc != FM_OK) {
        snprintf(err, err_len, "CTG analysis failed: %s", fm_strerror(rc));
        return rc;
    }
    return FM_OK;
}

/* CLINICAL 2: "fhr" holds only values we stand behind (state ok). Values the engine doubts
 * (maternal_suspected, doubtful) go to "fhr_suspect" so the trace can show them apart, never
 * as fetal heart rate. */
static void write_fhr(const fm_trace *t, jsonw *w, int suspect)
{
    jw_arr_open(w, suspect ? "fhr_suspect" : "fhr");
    for (size_t i = 0; i < t->n; i++) {
        int ok = t->state[i] == FM_STATE_OK;
        int doubted = t->state[i] == FM_STATE_MATERNAL || t->state[i] == FM_STATE_DOUBTFUL;
        jw_num(w, NULL, (suspect ? doubted : ok) ? t->fhr_bpm[i] : NAN, 2);
    }
    jw_arr_close(w);
}

static void write_states(const fm_trace *t, jsonw *w)
{
    jw_arr_open(w, "state");
    for (size_t i = 0; i < t->n; i++)
        jw_str(w, NULL, fm_state_name((fm_fhr_state)t->state[i]));
    jw_arr_close(w);
}

void fm_analysis_write_json(const fm_analysis *an, jsonw *w)
{
    const fm_trace *t = an->trace;
    jw_str(w, "source", an->source);
    jw_obj_open(w, "input");
    jw_str(w, "kind", an->input_kind);
    jw_str(w, "format", an->input_format);
    jw_num(w, "rate_hz", an->input_rate_hz, 0);
    jw_int(w, "channels", an->input_channels);
    if (an->channel_used >= 0)
        jw_int(w, "channel_used", an->channel_used);
    else
        jw_str(w, "channel_used", "mix");
    jw_obj_close(w);
    jw_num(w, "duration_s", (double)t->n / t->rate_hz, 2);
    jw_int(w, "fhr_hz", FM_FHR_RATE_HZ);
    write_fhr(t, w, 0);
    write_fhr(t, w, 1);
    jw_floats(w, "quality", t->quality, t->n, 3);
    write_states(t, w);
    if (an->false_signal) {
        jw_floats(w, "false_signal", an->false_signal, t->n, 3);
        jw_obj_open(w, "false_signal_detector");
        jw_bool(w, "used_mhr", t->mhr_bpm != NULL);
        jw_num(w, "threshold", FM_FALSESIG_THRESHOLD, 2);
        /* fm_falsesig_trace: the whole recording is context (not the live 20 s look-ahead) */
        jw_str(w, "mode", "whole_recording");
        jw_int(w, "samples_marked", (long long)an->n_false_marked);
        jw_obj_close(w);
    }
    jw_num(w, "lost_percent", fm_trace_lost_percent(t), 2);
    if (t->mhr_bpm)
        jw_floats(w, "mhr", t->mhr_bpm, t->n, 2);
    jw_doubles(w, "movements_s", t->movements_s, t->n_movements, 2);
    const fm_ctg_result *r = NULL;
    if (an->ctg && fm_ctg_get_result(an->ctg, &r) == FM_OK)
        fm_ctg_write_json(r, w);
}

void fm_analysis_print_summary(const fm_analysis *an, FILE *f)
{
    const fm_trace *t = an->trace;
    fprintf(f, "%s: %s %s, %.1f min, signal lost %.1f %%\n", an->source, an->input_kind,
            an->input_format, (double)t->n / t->rate_hz / 60.0, fm_trace_lost_percent(t));
    const fm_ctg_result *r = NULL;
    if (an->ctg && fm_ctg_get_result(an->ctg, &r) == FM_OK)
        fm_ctg_result_print(r, f);
}

void fm_analysis_destroy(fm_analysis *an)
{
    if (!an)
        return;
    fm_ctg_destroy(an->ctg);
    free(an->false_signal);
    fm_trace_destroy(an->trace);
    free(an);
}
