/* Tests of the CTG analysis rules (dsp/ctg*.c) at their boundaries, on traces built sample by
 * sample: decelerations, accelerations, episodes, lost beats, shapes, sinusoidal, basal rate,
 * signal-loss safety, verdict reasons. Real traces and incremental runs: test_ctg_real.c. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fetalmon/ctg.h"
#include "test_ctg_synth.h"

#define HZ 4
#define FLAT_BPM 140.0f

static float *flat(size_t n_s, float bpm)
{
    float *f = malloc(n_s * HZ * sizeof *f);
    for (size_t i = 0; i < n_s * HZ; i++)
        f[i] = bpm;
    return f;
}

/* Set [t0, t0 + dur) to bpm + delta (a rectangle). */
static void plant(float *f, double t0, double dur, float delta)
{
    for (size_t i = (size_t)(t0 * HZ); i < (size_t)((t0 + dur) * HZ); i++)
        f[i] += delta;
}

static const fm_ctg_result *run(fm_ctg **q, const float *f, size_t n, const fm_ctg_config *c)
{
    *q = fm_ctg_create(c);
    const fm_ctg_result *r = NULL;
    if (!*q || fm_ctg_update(*q, f, NULL, n) != FM_OK || fm_ctg_get_result(*q, &r) != FM_OK)
        return NULL;
    return r;
}

static int has_reason(const fm_ctg_reasons *rs, const char *code)
{
    for (int i = 0; i < rs->n; i++)
        if (!strcmp(rs->r[i].code, code))
            return 1;
    return 0;
}

static const fm_ctg_event *dec_near(const fm_ctg_result *r, double t)
{
    for (size_t i = 0; i < r->n_dec; i++)
        if (r->dec[i].start_s <= t && r->dec[i].end_s >= t)
            return &r->dec[i];
    return NULL;
}

static const fm_ctg_event *acc_near(const fm_ctg_result *r, double t)
{
    for (size_t i = 0; i < r->n_acc; i++)
        if (r->acc[i].start_s <= t && r->acc[i].end_s >= t)
            return &r->acc[i];
    return NULL;
}

static void drop_of_21_bpm_for_31_s_is_an_oxford_deceleration(void)
{
    float *f = flat(1200, FLAT_BPM);
    plant(f, 600, 31, -21);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, NULL);
    CHECK(r != NULL);
    const fm_ctg_event *d = r ? dec_near(r, 615) : NULL;
    CHECK(d && (d->flags & FM_CTG_EV_OXFORD) && (d->flags & FM_CTG_EV_FIGO));
    CHECKF(d && fabs(d->end_s - d->start_s - 31.0) < 0.01, "duration %.2f",
           d ? d->end_s - d->start_s : -1);
    fm_ctg_destroy(q);
    free(f);
}

static void drop_of_21_bpm_for_29_s_is_not_an_oxford_deceleration(void)
{
    float *f = flat(1200, FLAT_BPM);
    plant(f, 600, 29, -21);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, NULL);
    const fm_ctg_event *d = r ? dec_near(r, 615) : NULL;
    /* it is still a FIGO deceleration (> 15 bpm for > 15 s) */
    CHECK(d && !(d->flags & FM_CTG_EV_OXFORD) && (d->flags & FM_CTG_EV_FIGO));
    fm_ctg_destroy(q);
    free(f);
}

static void drop_of_11_bpm_needs_more_than_60_s_for_oxford(void)
{
    fm_ctg_config c;
    fm_ctg_config_default(&c);
    c.figo_dec_bpm = 10; /* list shallow dips so the Oxford flag can be read */
    float *f = flat(1200, FLAT_BPM);
    plant(f, 300, 61, -11);
    plant(f, 800, 59, -11);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, &c);
    const fm_ctg_event *a = r ? dec_near(r, 320) : NULL, *b = r ? dec_near(r, 820) : NULL;
    CHECK(a && (a->flags & FM_CTG_EV_OXFORD));
    CHECK(b && !(b->flags & FM_CTG_EV_OXFORD));
    fm_ctg_destroy(q);
    free(f);
}

static void drop_of_15_bpm_is_not_a_figo_deceleration_16_is(void)
{
    float *f = flat(1200, FLAT_BPM);
    plant(f, 300, 40, -15);
    plant(f, 800, 40, -16);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, NULL);
    CHECK(r && !dec_near(r, 320) && dec_near(r, 820));
    fm_ctg_destroy(q);
    free(f);
}

static void one_artefact_sample_does_not_make_a_deceleration(void)
{
    float *f = flat(1200, FLAT_BPM);
    plant(f, 300, 40, -6);
    f[320 * HZ] = FLAT_BPM - 40; /* a single 0.25-s spike inside a shallow 40-s dip */
    plant(f, 800, 40, -6);
    plant(f, 815, 3, -34); /* 3 s at -40: a real, if short, nadir */
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, NULL);
    CHECK(r && !dec_near(r, 320));
    CHECK(r && dec_near(r, 816));
    fm_ctg_destroy(q);
    free(f);
}

static void deceleration_of_30_bpm_for_60_s_loses_30_beats(void)
{
    float *f = flat(1200, FLAT_BPM);
    plant(f, 600, 60, -30);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, NULL);
    const fm_ctg_event *d = r ? dec_near(r, 630) : NULL;
    CHECKF(d && fabsf(d->lost_beats - 30.0f) < 0.5f, "lost beats %.2f", d ? d->lost_beats : -1);
    CHECK(d && fabsf(d->amplitude_bpm - 30.0f) < 0.01f && fabsf(d->peak_bpm - 110.0f) < 0.01f);
    fm_ctg_destroy(q);
    free(f);
}

static void deceleration_shape_is_abrupt_under_30_s_onset_to_nadir(void)
{
    float *f = flat(1800, FLAT_BPM);
    /* V: 10 s down, 40 s back; U: 45 s down, 45 s back */
    for (int i = 0; i < 50 * HZ; i++) {
        double t = i / (double)HZ;
        f[(size_t)(400 * HZ) + (size_t)i] -= (float)(t < 10 ? 3.0 * t : 30.0 - 0.75 * (t - 10));
    }
    for (int i = 0; i < 90 * HZ; i++) {
        double t = i / (double)HZ;
        f[(size_t)(1000 * HZ) + (size_t)i] -= (float)(30.0 * sin(M_PI * t / 90.0));
    }
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1800 * HZ, NULL);
    const fm_ctg_event *v = r ? dec_near(r, 410) : NULL, *u = r ? dec_near(r, 1045) : NULL;
    CHECK(v && v->shape == FM_CTG_SHAPE_ABRUPT);
    CHECK(u && u->shape == FM_CTG_SHAPE_GRADUAL);
    CHECK(!strcmp(fm_ctg_shape_name(FM_CTG_SHAPE_GRADUAL), "gradual"));
    fm_ctg_destroy(q);
    free(f);
}

static void acceleration_classes_follow_15_and_10_bpm(void)
{
    float *f = flat(1800, FLAT_BPM);
    plant(f, 300, 20, 16);  /* 16 bpm 20 s: 15 class, FIGO at term */
    plant(f, 700, 20, 14);  /* 14 bpm 20 s: 10 class only */
    plant(f, 1100, 12, 16); /* 16 bpm 12 s: too short for 15/15, 10 class */
    plant(f, 1500, 9, 16);  /* 9 s: not even 10/10 */
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1800 * HZ, NULL);
    const fm_ctg_event *a = r ? acc_near(r, 310) : NULL, *b = r ? acc_near(r, 710) : NULL;
    const fm_ctg_event *c = r ? acc_near(r, 1105) : NULL;
    CHECK(a && a->class_bpm == 15 && (a->flags & FM_CTG_EV_FIGO));
    CHECK(b && b->class_bpm == 10 && !(b->flags & FM_CTG_EV_FIGO));
    CHECK(c && c->class_bpm == 10 && !(c->flags & FM_CTG_EV_FIGO));
    CHECK(r && !acc_near(r, 1504));
    fm_ctg_destroy(q);
    free(f);
}

static void before_32_weeks_accelerations_need_10_bpm_for_10_s(void)
{
    fm_ctg_config c;
    fm_ctg_config_default(&c);
    c.gestation_weeks = 30;
    float *f = flat(1200, FLAT_BPM);
    plant(f, 300, 12, 11);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, &c);
    const fm_ctg_event *a = r ? acc_near(r, 305) : NULL;
    CHECK(a && (a->flags & FM_CTG_EV_FIGO));
    fm_ctg_destroy(q);
    free(f);
}

static void oxford_acceleration_needs_more_than_15_s(void)
{
    float *f = flat(1200, FLAT_BPM);
    plant(f, 300, 16, 12);
    plant(f, 700, 14, 12);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1200 * HZ, NULL);
    CHECK(r && r->n_ox_acc == 1 && fabs(r->ox_acc[0].start_s - 300) < 1.0);
    fm_ctg_destroy(q);
    free(f);
}

/* Epochs alternate between pi0 + a and pi0 - a ms: minute range ~ 2a about a flat baseline. */
static void minute_pattern(float *f, int minute, double pi0, double a)
{
    for (int e = 0; e < FM_CTG_EPOCHS_PER_MIN; e++) {
        double pi = pi0 + (e % 2 ? a : -a);
        for (int s = 0; s < FM_CTG_EPOCH_SAMPLES; s++)
            f[(size_t)minute * FM_CTG_SAMPLES_PER_MIN + (size_t)e * FM_CTG_EPOCH_SAMPLES +
              (size_t)s] = (float)(60000.0 / pi);
    }
}

static size_t high_episodes_with(const char *pattern)
{
    size_t nm = strlen(pattern);
    float *f = calloc(nm * FM_CTG_SAMPLES_PER_MIN, sizeof *f);
    for (size_t m = 0; m < nm; m++)
        minute_pattern(f, (int)m, 430.0, pattern[m] == 'H' ? 20.0 : 10.0);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, nm * FM_CTG_SAMPLES_PER_MIN, NULL);
    size_t n = r ? r->n_high : 999;
    if (r)
        for (size_t m = 0; m < nm; m++) {
            double want = pattern[m] == 'H' ? 40.0 : 20.0;
            CHECKF(fabs(r->minute_range_ms[m] - want) < 3.0, "minute %zu range %.1f", m,
                   r->minute_range_ms[m]);
        }
    fm_ctg_destroy(q);
    free(f);
    return n;
}

static void five_of_six_minutes_at_32_ms_make_a_high_episode(void)
{
    CHECK(high_episodes_with("LLLHHLHHHLLL") == 1);
}

static void four_of_six_minutes_at_32_ms_do_not(void)
{
    CHECK(high_episodes_with("LLLHHLHHLLLL") == 0);
    CHECK(high_episodes_with("LHHLHHLHHLHHL") == 0);
}

static void low_variation_episode_gives_the_basal_rate(void)
{
    /* 8 quiet minutes around 430 ms (139.5 bpm), then 8 active ones around 400 ms */
    float *f = calloc(16 * FM_CTG_SAMPLES_PER_MIN, sizeof *f);
    for (int m = 0; m < 16; m++)
        minute_pattern(f, m, m < 8 ? 430.0 : 400.0, m < 8 ? 5.0 : 25.0);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 16 * FM_CTG_SAMPLES_PER_MIN, NULL);
    CHECK(r && r->n_low >= 1);
    CHECKF(r && fabs(r->basal_bpm - 60000.0 / 430.0) < 1.0, "basal %.2f", r ? r->basal_bpm : 0);
    fm_ctg_destroy(q);
    free(f);
}

static void stv_is_the_mean_epoch_to_epoch_difference(void)
{
    /* alternating +-5 ms epochs: every |dPI| = 10 ms */
    float *f = calloc(12 * FM_CTG_SAMPLES_PER_MIN, sizeof *f);
    for (int m = 0; m < 12; m++)
        minute_pattern(f, m, 430.0, 5.0);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 12 * FM_CTG_SAMPLES_PER_MIN, NULL);
    CHECKF(r && fabs(r->stv_ms - 10.0) < 0.05, "stv %.3f", r ? r->stv_ms : 0);
    fm_ctg_destroy(q);
    free(f);
}

static void minute_with_more_than_half_lost_is_excluded_from_stv(void)
{
    float *f = calloc(12 * FM_CTG_SAMPLES_PER_MIN, sizeof *f);
    for (int m = 0; m < 12; m++)
        minute_pattern(f, m, 430.0, 5.0);
    for (int i = 0; i < FM_CTG_SAMPLES_PER_MIN * 6 / 10; i++)
        f[3 * FM_CTG_SAMPLES_PER_MIN + i] = NAN; /* minute 3: 60 % lost */
    for (int i = 0; i < FM_CTG_SAMPLES_PER_MIN * 4 / 10; i++)
        f[5 * FM_CTG_SAMPLES_PER_MIN + i] = NAN; /* minute 5: 40 % lost */
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 12 * FM_CTG_SAMPLES_PER_MIN, NULL);
    CHECK(r && isnan(r->minute_stv_ms[3]) && isfinite(r->minute_stv_ms[5]));
    CHECK(r && r->n_valid_minutes == 11);
    fm_ctg_destroy(q);
    free(f);
}

static void sinusoidal_pattern_is_detected_when_sustained(void)
{
    synth_opts o;
    synth_opts_default(&o, 3000, 11);
    o.acc_per_hour = o.dec_per_hour = 0;
    o.sinus_start_s = 300;
    o.sinus_len_s = 2400;
    o.sinus_pp_bpm = 10;
    o.sinus_cpm = 4;
    synth_trace *t = synth_make(&o);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, t->fhr, t->n, NULL);
    CHECK(r && r->sinusoidal.detected && r->sinusoidal.longest_s >= 1800);
    CHECKF(r && fabs(r->sinusoidal.freq_cpm - 4.0) < 0.6, "freq %.2f", r->sinusoidal.freq_cpm);
    CHECKF(r && r->sinusoidal.amplitude_bpm > 7 && r->sinusoidal.amplitude_bpm < 13,
           "amplitude %.1f", r->sinusoidal.amplitude_bpm);
    CHECK(r && r->figo == FM_CTG_FIGO_PATHOLOGICAL && r->nichd_category == 3);
    CHECK(r && has_reason(&r->figo_reasons, "sinusoidal"));
    fm_ctg_destroy(q);
    synth_free(t);
}

static void normal_variability_is_not_sinusoidal(void)
{
    for (uint64_t s = 1; s <= 3; s++) {
        synth_opts o;
        synth_opts_default(&o, 3600, s);
        synth_trace *t = synth_make(&o);
        fm_ctg *q;
        const fm_ctg_result *r = run(&q, t->fhr, t->n, NULL);
        CHECK(r && !r->sinusoidal.detected);
        fm_ctg_destroy(q);
        synth_free(t);
    }
}

static void short_sinusoidal_stretch_is_not_sustained(void)
{
    synth_opts o;
    synth_opts_default(&o, 3000, 12);
    o.acc_per_hour = o.dec_per_hour = 0;
    o.sinus_start_s = 600;
    o.sinus_len_s = 900; /* 15 min < 30 min */
    o.sinus_pp_bpm = 10;
    o.sinus_cpm = 4;
    synth_trace *t = synth_make(&o);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, t->fhr, t->n, NULL);
    CHECK(r && !r->sinusoidal.detected && r->sinusoidal.longest_s > 0);
    fm_ctg_destroy(q);
    synth_free(t);
}

static const fm_ctg_result *synth_run(fm_ctg **q, uint64_t seed, double dur, double level_shift,
                                      double lost, int movements)
{
    synth_opts o;
    synth_opts_default(&o, dur, seed);
    o.lost_fraction = lost;
    o.dec_per_hour = 0;
    o.acc_per_hour = 10;
    synth_trace *t = synth_make(&o);
    for (size_t i = 0; i < t->n; i++)
        t->fhr[i] += (float)level_shift;
    *q = fm_ctg_create(NULL);
    fm_ctg_update(*q, t->fhr, t->state, t->n);
    for (int m = 0; m < movements; m++)
        fm_ctg_add_movement(*q, 60.0 + 97.0 * m);
    synth_free(t);
    const fm_ctg_result *r = NULL;
    fm_ctg_get_result(*q, &r);
    return r;
}

static void basal_rate_outside_116_160_fails_criterion_3(void)
{
    fm_ctg *q;
    const fm_ctg_result *r = synth_run(&q, 3, 1800, 0, 0, 10);
    double b = r ? r->basal_bpm : NAN;
    fm_ctg_destroy(q);
    /* shift the same trace so its basal rate sits 4 bpm below 116, then 4 bpm above it */
    r = synth_run(&q, 3, 1800, 112.0 - b, 0, 10);
    CHECKF(r && has_reason(&r->oxford.reasons, "basal_rate_out_of_range"), "basal %.1f",
           r ? r->oxford.basal_bpm : 0);
    fm_ctg_destroy(q);
    r = synth_run(&q, 3, 1800, 120.0 - b, 0, 10);
    CHECKF(r && !has_reason(&r->oxford.reasons, "basal_rate_out_of_range"), "basal %.1f",
           r ? r->oxford.basal_bpm : 0);
    fm_ctg_destroy(q);
}

static void healthy_trace_meets_criteria_at_a_checkpoint(void)
{
    int met = 0;
    for (uint64_t s = 1; s <= 4; s++) {
        fm_ctg *q;
        const fm_ctg_result *r = synth_run(&q, s, 3600, 0, 0, 10);
        if (r && r->oxford.status == FM_CTG_OX_MET) {
            met++;
            CHECK(r->oxford.at_min >= 10 && r->oxford.at_min <= 60 &&
                  fmod(r->oxford.at_min - 10, 2) == 0 && r->oxford.reasons.n == 0);
        }
        fm_ctg_destroy(q);
    }
    CHECKF(met >= 2, "met on %d of 4 healthy traces", met);
}

static void fifteen_percent_lost_never_meets_criteria(void)
{
    for (uint64_t s = 1; s <= 6; s++) {
        fm_ctg *q;
        const fm_ctg_result *r = synth_run(&q, s, 3600, 0, 0.15, 30);
        CHECK(r && r->oxford.status != FM_CTG_OX_MET);
        CHECK(r && has_reason(&r->oxford.reasons, "insufficient_signal"));
        CHECK(r && r->figo != FM_CTG_FIGO_NORMAL && r->nichd_category != 1 &&
              r->nst != FM_CTG_NST_REACTIVE);
        fm_ctg_destroy(q);
    }
}

static void maternal_samples_count_as_lost_and_are_reported(void)
{
    float *f = flat(1200, FLAT_BPM);
    uint8_t *st = calloc(1200 * HZ, 1);
    for (size_t i = 0; i < 200 * HZ; i++)
        st[i] = FM_STATE_MATERNAL;
    for (size_t i = 200 * HZ; i < 220 * HZ; i++)
        st[i] = FM_STATE_DOUBTFUL;
    fm_ctg *q = fm_ctg_create(NULL);
    const fm_ctg_result *r = NULL;
    CHECK(fm_ctg_update(q, f, st, 1200 * HZ) == FM_OK && fm_ctg_get_result(q, &r) == FM_OK);
    CHECK(r && r->maternal_samples == 200 * HZ);
    CHECK(r && fabs(r->lost_percent - 100.0 * 220 / 1200) < 0.01 && r->insufficient_signal);
    fm_ctg_destroy(q);
    free(f);
    free(st);
}

static void record_shorter_than_10_min_has_no_oxford_verdict(void)
{
    float *f = flat(540, FLAT_BPM);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 540 * HZ, NULL);
    CHECK(r && r->oxford.status == FM_CTG_OX_TOO_SHORT && isnan(r->oxford.at_min));
    CHECK(r && has_reason(&r->oxford.reasons, "record_too_short"));
    fm_ctg_destroy(q);
    free(f);
}

static void flat_trace_fails_variability_criteria_by_name(void)
{
    float *f = flat(1800, FLAT_BPM);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1800 * HZ, NULL);
    CHECK(r && r->oxford.status == FM_CTG_OX_NOT_MET && r->oxford.complete == 0);
    CHECK(r && has_reason(&r->oxford.reasons, "stv_below_3ms"));
    CHECK(r && has_reason(&r->oxford.reasons, "no_high_variation_episode"));
    CHECK(r && has_reason(&r->oxford.reasons, "too_few_movements_or_accelerations"));
    CHECK(r && has_reason(&r->oxford.reasons, "no_acceleration_nor_high_ltv_with_movements"));
    CHECK(r && !has_reason(&r->oxford.reasons, "basal_rate_out_of_range"));
    CHECK(r && r->nst == FM_CTG_NST_NONREACTIVE);
    fm_ctg_destroy(q);
    free(f);
}

static void prolonged_deceleration_over_5_min_is_pathological(void)
{
    float *f = flat(2400, FLAT_BPM);
    plant(f, 900, 330, -40);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 2400 * HZ, NULL);
    const fm_ctg_event *d = r ? dec_near(r, 1000) : NULL;
    CHECK(d && (d->flags & FM_CTG_EV_PROLONGED));
    CHECK(r && r->figo == FM_CTG_FIGO_PATHOLOGICAL &&
          has_reason(&r->figo_reasons, "prolonged_deceleration_over_5min"));
    fm_ctg_destroy(q);
    free(f);
}

static void bradycardia_below_100_for_more_than_10_min_is_pathological(void)
{
    float *f = flat(1800, 95.0f);
    for (size_t i = 0; i < 1800 * HZ; i++)
        f[i] += (float)(4.0 * sin(i * 0.37) + 3.0 * sin(i * 0.05));
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, f, 1800 * HZ, NULL);
    CHECK(r && r->figo == FM_CTG_FIGO_PATHOLOGICAL &&
          has_reason(&r->figo_reasons, "baseline_below_100"));
    CHECK(r && r->nichd_category >= 2);
    fm_ctg_destroy(q);
    free(f);
}

static void centile_table_from_config_is_used_for_criterion_1(void)
{
    static const fm_ctg_centile_row strict[] = {{26, 500.0f, 600.0f}, {42, 500.0f, 600.0f}};
    CHECK(fm_ctg_centiles_builtin_n == 17 && fm_ctg_centiles_builtin[0].gestation_weeks == 26);
    fm_ctg_config c;
    fm_ctg_config_default(&c);
    c.centiles = strict;
    c.n_centiles = 2;
    synth_opts o;
    synth_opts_default(&o, 3600, 2);
    synth_trace *t = synth_make(&o);
    fm_ctg *q;
    const fm_ctg_result *r = run(&q, t->fhr, t->n, &c);
    CHECK(r && (has_reason(&r->oxford.reasons, "high_variation_below_1st_centile") ||
                has_reason(&r->oxford.reasons, "no_high_variation_episode")));
    CHECK(r && r->oxford.status == FM_CTG_OX_NOT_MET);
    fm_ctg_destroy(q);
    synth_free(t);
}

int main(void)
{
    RUN(drop_of_21_bpm_for_31_s_is_an_oxford_deceleration);
    RUN(drop_of_21_bpm_for_29_s_is_not_an_oxford_deceleration);
    RUN(drop_of_11_bpm_needs_more_than_60_s_for_oxford);
    RUN(drop_of_15_bpm_is_not_a_figo_deceleration_16_is);
    RUN(one_artefact_sample_does_not_make_a_deceleration);
    RUN(deceleration_of_30_bpm_for_60_s_loses_30_beats);
    RUN(deceleration_shape_is_abrupt_under_30_s_onset_to_nadir);
    RUN(acceleration_classes_follow_15_and_10_bpm);
    RUN(before_32_weeks_accelerations_need_10_bpm_for_10_s);
    RUN(oxford_acceleration_needs_more_than_15_s);
    RUN(five_of_six_minutes_at_32_ms_make_a_high_episode);
    RUN(four_of_six_minutes_at_32_ms_do_not);
    RUN(low_variation_episode_gives_the_basal_rate);
    RUN(stv_is_the_mean_epoch_to_epoch_difference);
    RUN(minute_with_more_than_half_lost_is_excluded_from_stv);
    RUN(sinusoidal_pattern_is_detected_when_sustained);
    RUN(normal_variability_is_not_sinusoidal);
    RUN(short_sinusoidal_stretch_is_not_sustained);
    RUN(basal_rate_outside_116_160_fails_criterion_3);
    RUN(healthy_trace_meets_criteria_at_a_checkpoint);
    RUN(fifteen_percent_lost_never_meets_criteria);
    RUN(maternal_samples_count_as_lost_and_are_reported);
    RUN(record_shorter_than_10_min_has_no_oxford_verdict);
    RUN(flat_trace_fails_variability_criteria_by_name);
    RUN(prolonged_deceleration_over_5_min_is_pathological);
    RUN(bradycardia_below_100_for_more_than_10_min_is_pathological);
    RUN(centile_table_from_config_is_used_for_criterion_1);
    return CHECK_DONE();
}
