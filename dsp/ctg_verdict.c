/* Verdicts, each failed rule named (a code for machines, a sentence for people):
 *  - the Oxford-criteria-style antenatal analysis at one checkpoint (CLINICAL 3.3),
 *  - FIGO 2015 normal / suspicious / pathological (CLINICAL 4.1),
 *  - NICHD 2008 category I / II / III (CLINICAL 4.2),
 *  - ACOG non-stress test reactive / non-reactive (CLINICAL 4.3).
 * A reassuring verdict (criteria met, normal, category I, reactive) needs enough valid signal
 * (CLINICAL 2); without contractions no deceleration is typed early/late/variable (4.1), so the
 * rules that need that typing use the conservative reading and say so.
 * Not for computing the features (ctg_variability.c, ctg_events.c, ctg_sinus.c). */
#include <stdarg.h>
#include <string.h>

#include "ctg_internal.h"

#define GA_MIN_WEEKS 26.0 /* CLINICAL 3.1: gestational age clamped to 26..42 */
#define GA_MAX_WEEKS 42.0
#define GA_TERM_WEEKS 40.0
#define RECORD_LONG_MIN 30.0 /* CLINICAL 3.3 criteria 2 and 3: "records > 30 min" */

void ctg_reason_add(fm_ctg_reasons *rs, const char *code, const char *fmt, ...)
{
    if (rs->n >= FM_CTG_MAX_REASONS)
        return;
    fm_ctg_reason *r = &rs->r[rs->n++];
    r->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text, sizeof r->text, fmt, ap);
    va_end(ap);
}

double ctg_gestation_used(const fm_ctg_config *c, int *assumed)
{
    double ga = c->gestation_weeks;
    *assumed = !isfinite(ga);
    if (*assumed)
        ga = GA_TERM_WEEKS;
    return ga < GA_MIN_WEEKS ? GA_MIN_WEEKS : ga > GA_MAX_WEEKS ? GA_MAX_WEEKS : ga;
}

static const fm_ctg_centile_row *centile_row(const fm_ctg_config *c, double ga)
{
    const fm_ctg_centile_row *t = c->centiles ? c->centiles : fm_ctg_centiles_builtin;
    size_t n = c->centiles ? c->n_centiles : fm_ctg_centiles_builtin_n;
    const fm_ctg_centile_row *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (!best ||
            fabs(t[i].gestation_weeks - floor(ga)) < fabs(best->gestation_weeks - floor(ga)))
            best = &t[i];
    return best;
}

void ctg_oxford_evaluate(const fm_ctg_config *c, const ctg_ox_inputs *k, const double *mov_s,
                         size_t n_mov, fm_ctg_oxford *o)
{
    memset(o, 0, sizeof *o);
    int assumed;
    const double ga = ctg_gestation_used(c, &assumed);
    const double at_min = k->at_min, rec_s = at_min * 60.0;
    o->at_min = at_min;
    o->gestation_weeks = ga;
    o->valid_percent = k->valid_percent;
    o->basal_bpm = k->basal_bpm;
    o->stv_ms = k->stv_ms;
    o->ltv_ms = k->ltv_ms;
    o->high_ltv_ms = k->high_ltv_ms;
    o->high_episode_minutes = k->high_minutes;
    o->low_episode_minutes = k->low_minutes;
    o->n_dec = k->n_dec;
    o->n_acc10 = k->n_acc10;
    o->n_acc15 = k->n_acc15;
    for (size_t i = 0; i < n_mov; i++)
        o->n_movements += mov_s[i] < rec_s;
    o->max_dec_lost_beats = k->max_dec_lost_beats;
    if (assumed)
        ctg_reason_add(&o->notes, "gestation_unknown_term_assumed",
                       "gestational age not given: %.0f weeks assumed", ga);
    else if (ga != c->gestation_weeks)
        ctg_reason_add(&o->notes, "gestation_clamped",
                       "gestational age %.1f weeks clamped to %.0f (valid 26-42)",
                       c->gestation_weeks, ga);
    fm_ctg_reasons *rs = &o->reasons;
    /* CLINICAL 2: no reassurance without >= 90 % valid signal over the analysed window */
    if (!(k->valid_percent >= c->min_valid_percent))
        ctg_reason_add(rs, "insufficient_signal",
                       "valid signal %.1f %% over %.0f min, below the %.0f %% needed",
                       k->valid_percent, at_min, c->min_valid_percent);
    const fm_ctg_centile_row *row = centile_row(c, ga);
    double p1 = row ? row->high_ltv_p1_ms : NAN, p10 = row ? row->high_ltv_p10_ms : NAN;
    /* criterion 1 */
    if (!k->n_high)
        ctg_reason_add(rs, "no_high_variation_episode",
                       "no episode of high variation (minute range >= %.0f ms in %d of %d "
                       "minutes)",
                       c->high_episode_ms, c->episode_min_minutes, c->episode_window_minutes);
    else if (isfinite(p1) && !(k->high_ltv_ms > p1))
        ctg_reason_add(rs, "high_variation_below_1st_centile",
                       "LTV in high episodes %.1f ms is not above the 1st centile %.1f ms at "
                       "%.0f weeks",
                       k->high_ltv_ms, p1, ga);
    /* criterion 2 */
    double lb_max = at_min > RECORD_LONG_MIN ? c->dec_lost_beats_long : c->dec_lost_beats_short;
    if (o->max_dec_lost_beats > lb_max)
        ctg_reason_add(rs, "deceleration_lost_beats",
                       "a deceleration of %.0f lost beats (limit %.0f)", o->max_dec_lost_beats,
                       lb_max);
    /* criterion 4 */
    if (o->n_movements < c->min_movements && o->n_acc10 < c->min_accelerations)
        ctg_reason_add(rs, "too_few_movements_or_accelerations",
                       "%d movements and %d accelerations (need %d movement or %d "
                       "accelerations)",
                       o->n_movements, o->n_acc10, c->min_movements, c->min_accelerations);
    /* criterion 5 */
    if (k->sinus_longest_s >= c->oxford_sinus_min_s)
        ctg_reason_add(rs, "sinusoidal_rhythm", "sinusoidal rhythm for %.0f min",
                       k->sinus_longest_s / 60.0);
    /* criterion 6 */
    if (!isfinite(k->stv_ms))
        ctg_reason_add(rs, "stv_not_computable", "no valid minute to compute the STV");
    else if (k->stv_ms < c->stv_min_ms)
        ctg_reason_add(rs, "stv_below_3ms", "STV %.2f ms is below %.1f ms", k->stv_ms,
                       c->stv_min_ms);
    /* criterion 7: the high-LTV alternative needs a known 10th centile */
    double mov_per_h = at_min > 0 ? o->n_movements * 60.0 / at_min : 0.0;
    int alt7 = isfinite(p10) && k->high_ltv_ms > p10 && mov_per_h > c->movements_per_hour;
    if (o->n_acc10 < 1 && !alt7)
        ctg_reason_add(rs, "no_acceleration_nor_high_ltv_with_movements",
                       "no acceleration, and not (LTV in high episodes above the 10th centile%s "
                       "and > %.0f movements/hour: %.0f)",
                       isfinite(p10) ? "" : " (unknown)", c->movements_per_hour, mov_per_h);
    /* criterion 8 (unverified rule: configurable window and loss) */
    if (k->end_lost_percent > c->end_max_lost_percent)
        ctg_reason_add(rs, "signal_loss_at_end", "%.0f %% signal loss in the last %.0f min",
                       k->end_lost_percent, c->end_window_s / 60.0);
    if (isfinite(k->end_dec_start_s))
        ctg_reason_add(rs, "deceleration_at_end", "deceleration in the last %.0f min (at %.0f s)",
                       c->end_window_s / 60.0, k->end_dec_start_s);
    /* criterion 3, last: outside 116-160 may be accepted after 30 min if all else is normal */
    int basal_ok = isfinite(k->basal_bpm) && k->basal_bpm >= c->basal_min_bpm &&
                   k->basal_bpm <= c->basal_max_bpm;
    if (!basal_ok) {
        int near = isfinite(k->basal_bpm) &&
                   k->basal_bpm >= c->basal_min_bpm - c->basal_tolerance_bpm &&
                   k->basal_bpm <= c->basal_max_bpm + c->basal_tolerance_bpm;
        if (near && at_min > RECORD_LONG_MIN && rs->n == 0) {
            o->basal_accepted_outside = 1;
            ctg_reason_add(&o->notes, "basal_accepted_outside_range",
                           "basal rate %.0f bpm outside %.0f-%.0f accepted after 30 min "
                           "(all else normal)",
                           k->basal_bpm, c->basal_min_bpm, c->basal_max_bpm);
        } else if (!isfinite(k->basal_bpm)) { /* never print a number we do not have */
            ctg_reason_add(rs, "basal_rate_unknown",
                           "basal heart rate unknown (not enough valid signal)");
        } else {
            ctg_reason_add(rs, "basal_rate_out_of_range",
                           "basal heart rate %.0f bpm outside %.0f-%.0f", k->basal_bpm,
                           c->basal_min_bpm, c->basal_max_bpm);
        }
    }
    o->status = rs->n == 0 ? FM_CTG_OX_MET : FM_CTG_OX_NOT_MET;
}

/* Longest run of valid minutes with bandwidth beyond a level; invalid minutes neither break
 * nor extend it (home Doppler loses minutes often; hiding reduced variability is the risk). */
static double longest_band(const float *band, size_t nm, double level, int sign)
{
    double run = 0, best = 0;
    for (size_t m = 0; m < nm; m++) {
        if (!isfinite(band[m]))
            continue;
        int out = sign < 0 ? band[m] < level : band[m] > level;
        run = out ? run + 60.0 : 0;
        best = fmax(best, run);
    }
    return best;
}

/* Time span (s) covered by windows holding >= repetitive_dec_count decelerations matching
 * the filter; 0 when never repetitive. */
static double repetitive_span(const fm_ctg_config *c, const fm_ctg_event *d, size_t nd,
                              int gradual_or_prolonged_only)
{
    double first = NAN, last = NAN;
    for (size_t i = 0; i < nd; i++) {
        int cnt = 0;
        for (size_t j = i; j < nd && d[j].start_s < d[i].start_s + c->repetitive_dec_window_s;
             j++) {
            int sel = !gradual_or_prolonged_only || d[j].shape == FM_CTG_SHAPE_GRADUAL ||
                      (d[j].flags & FM_CTG_EV_PROLONGED);
            cnt += sel;
        }
        if (cnt >= c->repetitive_dec_count) {
            if (!isfinite(first))
                first = d[i].start_s;
            last = d[i].start_s + c->repetitive_dec_window_s;
        }
    }
    return isfinite(first) ? last - first : 0.0;
}

static void figo(const fm_ctg_config *c, fm_ctg_result *r, const ctg_baseline_runs *br,
                 double reduced_s, double increased_s)
{
    fm_ctg_reasons *rs = &r->figo_reasons;
    int path = 0, susp = 0;
    double low100 = br->below_path_s, low110 = br->below_s, hi160 = br->above_s;
    if (low100 > c->baseline_abnormal_s) {
        path = 1;
        ctg_reason_add(rs, "baseline_below_100", "baseline below %.0f bpm for %.0f min",
                       c->baseline_pathological_bpm, low100 / 60.0);
    } else if (low110 > c->baseline_abnormal_s) {
        susp = 1;
        ctg_reason_add(rs, "bradycardia", "baseline below %.0f bpm for %.0f min",
                       c->baseline_normal_min_bpm, low110 / 60.0);
    }
    if (hi160 > c->baseline_abnormal_s) {
        susp = 1;
        ctg_reason_add(rs, "tachycardia", "baseline above %.0f bpm for %.0f min",
                       c->baseline_normal_max_bpm, hi160 / 60.0);
    }
    if (reduced_s > c->var_reduced_max_s) {
        path = 1;
        ctg_reason_add(rs, "reduced_variability", "variability < %.0f bpm for %.0f min",
                       c->var_reduced_bpm, reduced_s / 60.0);
    }
    if (increased_s > c->var_increased_max_s) {
        path = 1;
        ctg_reason_add(rs, "increased_variability", "variability > %.0f bpm for %.0f min",
                       c->var_increased_bpm, increased_s / 60.0);
    }
    if (isfinite(r->bandwidth_median_bpm) &&
        (r->bandwidth_median_bpm < c->var_reduced_bpm ||
         r->bandwidth_median_bpm > c->var_increased_bpm) &&
        reduced_s <= c->var_reduced_max_s && increased_s <= c->var_increased_max_s) {
        susp = 1;
        ctg_reason_add(rs, "variability_outside_5_25", "median variability %.1f bpm",
                       r->bandwidth_median_bpm);
    }
    if (r->sinusoidal.detected) {
        path = 1;
        ctg_reason_add(rs, "sinusoidal", "sinusoidal pattern for %.0f min",
                       r->sinusoidal.longest_s / 60.0);
    }
    double longest_dec = 0;
    for (size_t i = 0; i < r->n_dec; i++)
        longest_dec = fmax(longest_dec, r->dec[i].end_s - r->dec[i].start_s);
    if (longest_dec > c->prolonged_dec_severe_s) {
        path = 1;
        ctg_reason_add(rs, "prolonged_deceleration_over_5min",
                       "a prolonged deceleration of %.1f min", longest_dec / 60.0);
    } else if (longest_dec > c->prolonged_dec_s) {
        susp = 1;
        ctg_reason_add(rs, "prolonged_deceleration", "a prolonged deceleration of %.1f min",
                       longest_dec / 60.0);
    }
    /* late cannot be told without contractions: gradual or prolonged ones stand in for them */
    double rep_gp = repetitive_span(c, r->dec, r->n_dec, 1);
    double rep_all = repetitive_span(c, r->dec, r->n_dec, 0);
    double rep_limit = reduced_s > 0 ? c->repetitive_path_s * 2.0 / 3.0 : c->repetitive_path_s;
    if (rep_gp > rep_limit) {
        path = 1;
        ctg_reason_add(rs, "repetitive_gradual_or_prolonged_decelerations",
                       "repetitive gradual or prolonged decelerations for %.0f min (no "
                       "contraction data: timing unknown)",
                       rep_gp / 60.0);
    } else if (rep_all > 0) {
        susp = 1;
        ctg_reason_add(rs, "repetitive_decelerations",
                       "repetitive decelerations (>= %d in %.0f min; no contraction data)",
                       c->repetitive_dec_count, c->repetitive_dec_window_s / 60.0);
    }
    if (r->duration_s < c->visual_window_s) {
        ctg_reason_add(rs, "record_too_short", "record of %.1f min, FIGO needs 10 min",
                       r->duration_s / 60.0);
        r->figo = path ? FM_CTG_FIGO_PATHOLOGICAL : FM_CTG_FIGO_INSUFFICIENT;
    } else if (path) {
        r->figo = FM_CTG_FIGO_PATHOLOGICAL;
    } else if (susp) {
        r->figo = FM_CTG_FIGO_SUSPICIOUS;
    } else if (r->insufficient_signal) {
        r->figo = FM_CTG_FIGO_INSUFFICIENT;
        ctg_reason_add(rs, "insufficient_signal", "valid signal %.1f %%, normal needs %.0f %%",
                       100.0 - r->lost_percent, c->min_valid_percent);
    } else {
        r->figo = FM_CTG_FIGO_NORMAL;
    }
}

static void nichd(const fm_ctg_config *c, fm_ctg_result *r, const ctg_baseline_runs *br)
{
    fm_ctg_reasons *rs = &r->nichd_reasons;
    double bw = r->bandwidth_median_bpm;
    int absent = isfinite(bw) && bw <= c->var_absent_bpm;
    int moderate = isfinite(bw) && bw > c->var_reduced_bpm && bw <= c->var_increased_bpm;
    int brady = br->below_s > c->baseline_abnormal_s;
    int tachy = br->above_s > c->baseline_abnormal_s;
    int recurrent = repetitive_span(c, r->dec, r->n_dec, 0) > 0;
    int prolonged = 0;
    for (size_t i = 0; i < r->n_dec; i++)
        prolonged |= (r->dec[i].flags & FM_CTG_EV_NICHD_PROLONGED) != 0;
    if (r->sinusoidal.detected)
        ctg_reason_add(rs, "sinusoidal", "sinusoidal pattern");
    if (absent && (recurrent || brady))
        ctg_reason_add(rs, "absent_variability_with_decelerations_or_bradycardia",
                       "absent variability (%.1f bpm) with %s", bw,
                       recurrent ? "recurrent decelerations" : "bradycardia");
    if (rs->n) {
        r->nichd_category = 3;
        return;
    }
    if (brady)
        ctg_reason_add(rs, "bradycardia", "baseline below %.0f bpm > 10 min",
                       c->baseline_normal_min_bpm);
    if (tachy)
        ctg_reason_add(rs, "tachycardia", "baseline above %.0f bpm > 10 min",
                       c->baseline_normal_max_bpm);
    if (isfinite(bw) && !moderate) /* unknown variability is no finding: see below */
        ctg_reason_add(rs, "variability_not_moderate", "variability %.1f bpm is not 6-25", bw);
    if (r->n_dec)
        ctg_reason_add(rs, "decelerations_present",
                       "%zu decelerations (no contraction data: cannot be called early)", r->n_dec);
    if (prolonged)
        ctg_reason_add(rs, "prolonged_deceleration", "a deceleration of 2 min or more");
    if (r->duration_s < c->visual_window_s)
        ctg_reason_add(rs, "record_too_short", "record of %.1f min", r->duration_s / 60.0);
    if (rs->n) {
        r->nichd_category = 2;
    } else if (r->insufficient_signal || !isfinite(bw)) {
        /* Category I needs moderate variability seen: without it there is no verdict */
        r->nichd_category = 0;
        ctg_reason_add(rs, "insufficient_signal", "valid signal %.1f %%%s",
                       100.0 - r->lost_percent, isfinite(bw) ? "" : ", variability unknown");
    } else {
        r->nichd_category = 1;
    }
}

static void nst(const fm_ctg_config *c, fm_ctg_result *r, double ga)
{
    fm_ctg_reasons *rs = &r->nst_reasons;
    const int preterm = ga < c->preterm_weeks;
    const double amp = preterm ? c->figo_acc_preterm_bpm : c->figo_acc_bpm;
    const double dur = preterm ? c->figo_acc_preterm_s : c->figo_acc_s;
    int best = 0;
    for (size_t i = 0; i < r->n_acc; i++) {
        const fm_ctg_event *a = &r->acc[i];
        if (a->start_s >= c->nst_max_s)
            break;
        int cnt = 0;
        for (size_t j = i; j < r->n_acc && r->acc[j].start_s < a->start_s + c->nst_window_s; j++)
            cnt += r->acc[j].amplitude_bpm > amp && r->acc[j].end_s - r->acc[j].start_s > dur &&
                   r->acc[j].start_s < c->nst_max_s;
        best = cnt > best ? cnt : best;
    }
    if (best >= c->nst_min_accelerations) {
        if (r->insufficient_signal) {
            r->nst = FM_CTG_NST_INSUFFICIENT;
            ctg_reason_add(rs, "insufficient_signal",
                           "%d accelerations but valid signal %.1f %% < %.0f %%", best,
                           100.0 - r->lost_percent, c->min_valid_percent);
        } else {
            r->nst = FM_CTG_NST_REACTIVE;
        }
        return;
    }
    if (r->duration_s < c->nst_window_s) {
        r->nst = FM_CTG_NST_INSUFFICIENT;
        ctg_reason_add(rs, "record_too_short", "record of %.1f min, NST needs %.0f min",
                       r->duration_s / 60.0, c->nst_window_s / 60.0);
        return;
    }
    r->nst = FM_CTG_NST_NONREACTIVE;
    ctg_reason_add(rs, "too_few_accelerations",
                   "%d acceleration(s) >= %.0f bpm for >= %.0f s in %.0f min (need %d)%s", best,
                   amp, dur, c->nst_window_s / 60.0, c->nst_min_accelerations,
                   r->duration_s < c->nst_max_s ? "; may extend to 40 min" : "");
}

void ctg_figo_nichd_nst(const fm_ctg_config *c, fm_ctg_result *r, const ctg_baseline_runs *br)
{
    int assumed;
    double ga = ctg_gestation_used(c, &assumed);
    double reduced = longest_band(r->minute_bandwidth_bpm, r->n_minutes, c->var_reduced_bpm, -1);
    double increased =
        longest_band(r->minute_bandwidth_bpm, r->n_minutes, c->var_increased_bpm, +1);
    figo(c, r, br, reduced, increased);
    nichd(c, r, br);
    nst(c, r, ga);
}
