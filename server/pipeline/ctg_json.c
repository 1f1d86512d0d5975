/* fm_ctg_write_json: see ctg_json.h. Times in seconds from the start, rates in bpm, PI in ms;
 * NAN is written as null. */
#include "ctg_json.h"

#include <math.h>

static void spans(jsonw *w, const char *key, const fm_ctg_span *s, size_t n)
{
    jw_arr_open(w, key);
    for (size_t i = 0; i < n; i++) {
        jw_arr_open(w, NULL);
        jw_num(w, NULL, s[i].start_s, 2);
        jw_num(w, NULL, s[i].end_s, 2);
        jw_arr_close(w);
    }
    jw_arr_close(w);
}

static void reasons(jsonw *w, const char *key, const fm_ctg_reasons *rs)
{
    jw_arr_open(w, key);
    for (int i = 0; i < rs->n; i++) {
        jw_obj_open(w, NULL);
        jw_str(w, "code", rs->r[i].code);
        jw_str(w, "text", rs->r[i].text);
        jw_obj_close(w);
    }
    jw_arr_close(w);
}

static void accelerations(jsonw *w, const char *key, const fm_ctg_event *e, size_t n)
{
    jw_arr_open(w, key);
    for (size_t i = 0; i < n; i++) {
        jw_obj_open(w, NULL);
        jw_num(w, "start_s", e[i].start_s, 2);
        jw_num(w, "end_s", e[i].end_s, 2);
        jw_num(w, "peak_s", e[i].peak_s, 2);
        jw_num(w, "peak_bpm", e[i].peak_bpm, 1);
        jw_num(w, "amplitude_bpm", e[i].amplitude_bpm, 1);
        jw_num(w, "duration_s", e[i].end_s - e[i].start_s, 2);
        jw_int(w, "class_bpm", e[i].class_bpm);
        jw_bool(w, "figo", (e[i].flags & FM_CTG_EV_FIGO) != 0);
        jw_obj_close(w);
    }
    jw_arr_close(w);
}

static void decelerations(jsonw *w, const char *key, const fm_ctg_event *e, size_t n)
{
    jw_arr_open(w, key);
    for (size_t i = 0; i < n; i++) {
        jw_obj_open(w, NULL);
        jw_num(w, "start_s", e[i].start_s, 2);
        jw_num(w, "end_s", e[i].end_s, 2);
        jw_num(w, "nadir_s", e[i].peak_s, 2);
        jw_num(w, "nadir_bpm", e[i].peak_bpm, 1);
        jw_num(w, "depth_bpm", e[i].amplitude_bpm, 1);
        jw_num(w, "duration_s", e[i].end_s - e[i].start_s, 2);
        jw_num(w, "onset_to_nadir_s", e[i].peak_s - e[i].start_s, 2);
        jw_num(w, "lost_beats", e[i].lost_beats, 1);
        jw_str(w, "shape", fm_ctg_shape_name(e[i].shape));
        jw_bool(w, "oxford", (e[i].flags & FM_CTG_EV_OXFORD) != 0);
        jw_bool(w, "prolonged", (e[i].flags & FM_CTG_EV_PROLONGED) != 0);
        jw_obj_close(w);
    }
    jw_arr_close(w);
}

static void antenatal(jsonw *w, const fm_ctg_oxford *o)
{
    jw_obj_open(w, "antenatal");
    jw_str(w, "method", "oxford_criteria_style");
    jw_str(w, "status", fm_ctg_oxford_name(o->status));
    jw_bool(w, "met", o->status == FM_CTG_OX_MET);
    jw_num(w, "at_min", o->at_min, 0);
    jw_bool(w, "complete", o->complete);
    jw_num(w, "gestation_weeks", o->gestation_weeks, 1);
    jw_num(w, "valid_percent", o->valid_percent, 1);
    jw_num(w, "basal_bpm", o->basal_bpm, 1);
    jw_num(w, "stv_ms", o->stv_ms, 2);
    jw_num(w, "ltv_ms", o->ltv_ms, 1);
    jw_num(w, "high_episode_ltv_ms", o->high_ltv_ms, 1);
    jw_num(w, "high_episode_min", o->high_episode_minutes, 0);
    jw_num(w, "low_episode_min", o->low_episode_minutes, 0);
    jw_int(w, "accelerations_10", o->n_acc10);
    jw_int(w, "accelerations_15", o->n_acc15);
    jw_int(w, "decelerations", o->n_dec);
    jw_num(w, "max_deceleration_lost_beats", o->max_dec_lost_beats, 1);
    jw_int(w, "movements", o->n_movements);
    jw_bool(w, "basal_accepted_outside_range", o->basal_accepted_outside);
    reasons(w, "reasons", &o->reasons);
    reasons(w, "notes", &o->notes);
    jw_obj_close(w);
}

void fm_ctg_write_json(const fm_ctg_result *r, jsonw *w)
{
    jw_floats(w, "baseline", r->baseline_bpm, r->n, 2);
    jw_floats(w, "baseline_fitted", r->baseline_fitted_bpm, r->n, 2);
    jw_num(w, "basal_bpm", r->basal_bpm, 1);
    jw_num(w, "figo_baseline_bpm", r->figo_baseline_bpm, 0);
    jw_num(w, "stv_ms", r->stv_ms, 2);
    jw_num(w, "ltv_ms", r->ltv_ms, 1);
    jw_num(w, "ltv_bpm", r->ltv_bpm, 1);
    jw_obj_open(w, "episodes");
    spans(w, "high", r->high_episodes, r->n_high);
    spans(w, "low", r->low_episodes, r->n_low);
    jw_obj_close(w);
    jw_obj_open(w, "minutes");
    jw_floats(w, "lost_percent", r->minute_lost_percent, r->n_minutes, 1);
    jw_floats(w, "stv_ms", r->minute_stv_ms, r->n_minutes, 2);
    jw_floats(w, "range_ms", r->minute_range_ms, r->n_minutes, 1);
    jw_floats(w, "bandwidth_bpm", r->minute_bandwidth_bpm, r->n_minutes, 1);
    jw_obj_close(w);
    accelerations(w, "accelerations", r->acc, r->n_acc);
    decelerations(w, "decelerations", r->dec, r->n_dec);
    jw_obj_open(w, "sinusoidal");
    jw_bool(w, "detected", r->sinusoidal.detected);
    jw_num(w, "longest_s", r->sinusoidal.longest_s, 0);
    jw_num(w, "total_s", r->sinusoidal.total_s, 0);
    jw_num(w, "frequency_cpm", r->sinusoidal.freq_cpm, 2);
    jw_num(w, "amplitude_bpm", r->sinusoidal.amplitude_bpm, 1);
    spans(w, "spans", r->sinusoidal.spans, r->sinusoidal.n_spans);
    jw_obj_close(w);
    jw_obj_open(w, "maternal");
    jw_int(w, "samples", (long long)r->maternal_samples);
    jw_num(w, "percent", r->maternal_percent, 2);
    jw_obj_close(w);
    jw_obj_open(w, "verdicts");
    antenatal(w, &r->oxford);
    jw_obj_open(w, "figo");
    jw_str(w, "class", fm_ctg_figo_name(r->figo));
    jw_num(w, "baseline_bpm", r->figo_baseline_bpm, 0);
    jw_num(w, "variability_bpm", r->bandwidth_median_bpm, 1);
    reasons(w, "reasons", &r->figo_reasons);
    jw_obj_close(w);
    jw_obj_open(w, "nichd");
    if (r->nichd_category)
        jw_int(w, "category", r->nichd_category);
    else
        jw_null(w, "category");
    jw_str(w, "label",
           r->nichd_category == 1   ? "I"
           : r->nichd_category == 2 ? "II"
           : r->nichd_category == 3 ? "III"
                                    : "insufficient_signal");
    reasons(w, "reasons", &r->nichd_reasons);
    jw_obj_close(w);
    jw_obj_open(w, "nst");
    jw_str(w, "result", fm_ctg_nst_name(r->nst));
    reasons(w, "reasons", &r->nst_reasons);
    jw_obj_close(w);
    jw_obj_close(w);
}
