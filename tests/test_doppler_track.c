/* Tests of the Doppler tracker rules (dsp/doppler_track.c) on hand-made autocorrelation peaks:
 * the safety rules of CLINICAL 2 one by one, independent of any signal. */
#include <math.h>
#include <stdio.h>

#include "../dsp/doppler_track.h"
#include "check.h"

static fm_doppler_config cfg;
static fm_dop_track tr;
static long long k;

/* One step with a single peak at bpm (score s, quality q). */
static fm_fhr_sample step1(float bpm, float s, float q)
{
    fm_dop_cand c = {bpm, s, q};
    fm_fhr_sample o;
    fm_dop_track_step(&tr, &cfg, k++, 1, &c, 1, &o);
    return o;
}

static fm_fhr_sample step_lost(void)
{
    fm_fhr_sample o;
    fm_dop_track_step(&tr, &cfg, k++, 0, NULL, 0, &o);
    return o;
}

static void start(void)
{
    fm_doppler_config_default(&cfg);
    fm_dop_track_reset(&tr);
    k = 0;
}

static void new_track_is_doubtful_then_ok(void)
{
    start();
    fm_fhr_sample o = step1(140, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 140.0f);
    for (int i = 0; i < 3; i++)
        o = step1(140, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_OK);
}

static void low_quality_is_lost_and_never_a_number(void)
{
    start();
    fm_fhr_sample o = step1(140, 0.2f, cfg.quality_min - 0.01f);
    CHECK(o.state == FM_STATE_LOST && isnan(o.fhr_bpm));
    o = step_lost();
    CHECK(o.state == FM_STATE_LOST && isnan(o.fhr_bpm) && o.quality == 0.0f);
}

static void new_track_below_maternal_max_is_maternal(void)
{
    start();
    for (int i = 0; i < 40; i++) {
        fm_fhr_sample o = step1(85, 0.9f, 0.9f);
        CHECK(o.state == FM_STATE_MATERNAL && isnan(o.fhr_bpm));
    }
}

static void gradual_descent_from_fetal_level_stays_ok(void)
{
    start();
    fm_fhr_sample o;
    for (int i = 0; i < 8; i++)
        step1(140, 0.8f, 0.8f);
    int all_ok = 1;
    for (float b = 140; b >= 80; b -= 0.5f) { /* 2 bpm/s */
        o = step1(b, 0.8f, 0.8f);
        all_ok &= o.state == FM_STATE_OK;
    }
    CHECK(all_ok);
}

static void abrupt_jump_to_maternal_level_is_maternal(void)
{
    start();
    for (int i = 0; i < 20; i++)
        step1(140, 0.8f, 0.8f);
    fm_fhr_sample o = step1(82, 0.9f, 0.9f);
    CHECK(o.state == FM_STATE_MATERNAL);
    for (int i = 0; i < 40; i++)
        o = step1(82 + 0.1f * i, 0.9f, 0.9f);
    CHECK(o.state == FM_STATE_MATERNAL);
}

static void resumption_after_loss_at_maternal_level_is_maternal(void)
{
    start();
    for (int i = 0; i < 20; i++)
        step1(135, 0.8f, 0.8f);
    for (int i = 0; i < 60; i++) /* 15 s lost */
        step_lost();
    fm_fhr_sample o = step1(95, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_MATERNAL);
}

static void short_dropout_inside_a_deceleration_resumes_doubtful(void)
{
    start();
    for (float b = 140; b >= 100; b -= 0.5f)
        step1(b, 0.8f, 0.8f);
    for (int i = 0; i < 12; i++) /* 3 s lost */
        step_lost();
    fm_fhr_sample o = step1(96, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_DOUBTFUL); /* could be the mother: not ok */
    for (int i = 0; i < 20; i++)
        o = step1(96 + 0.5f * i, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_DOUBTFUL); /* still below 110 */
    for (int i = 0; i < 20; i++)
        o = step1(106 + 0.5f * i, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_OK); /* back above maternal_max */
}

static void within_5_bpm_of_recent_maternal_rate_is_maternal(void)
{
    start();
    for (int i = 0; i < 20; i++)
        step1(112, 0.9f, 0.9f);
    /* that was a new track >= 110: fetal; now a maternal episode at 100, then loss, then a new
     * track at 103: within 5 bpm of the mother */
    start();
    for (int i = 0; i < 20; i++)
        step1(100, 0.9f, 0.9f);
    for (int i = 0; i < 40; i++)
        step_lost();
    fm_fhr_sample o;
    for (int i = 0; i < 10; i++)
        o = step1(104, 0.9f, 0.9f);
    CHECK(o.state == FM_STATE_MATERNAL);
}

/* Halving: the best peak at twice the period with a strong peak at the period -> the period. */
static void prefers_the_fundamental_over_a_stronger_multiple(void)
{
    start();
    fm_dop_cand c[2] = {{72, 0.9f, 0.9f}, {144, 0.7f, 0.8f}};
    fm_fhr_sample o;
    for (int i = 0; i < 6; i++)
        fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_OK && o.fhr_bpm == 144.0f);
}

/* A track kept by continuity against a much stronger octave peak is doubtful. */
static void unresolved_octave_is_doubtful(void)
{
    start();
    for (int i = 0; i < 10; i++)
        step1(115, 0.8f, 0.8f);
    fm_dop_cand c[2] = {{230, 0.9f, 0.9f}, {115, 0.5f, 0.6f}};
    fm_fhr_sample o;
    fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 115.0f);
}

static void maternal_track_does_not_follow_above_its_ceiling(void)
{
    start();
    for (int i = 0; i < 8; i++)
        step1(105, 0.9f, 0.9f);
    fm_fhr_sample o;
    for (float b = 105; b < 135; b += 1.0f)
        o = step1(b, 0.9f, 0.9f);
    CHECK(o.state != FM_STATE_MATERNAL);
}

int main(void)
{
    RUN(new_track_is_doubtful_then_ok);
    RUN(low_quality_is_lost_and_never_a_number);
    RUN(new_track_below_maternal_max_is_maternal);
    RUN(gradual_descent_from_fetal_level_stays_ok);
    RUN(abrupt_jump_to_maternal_level_is_maternal);
    RUN(resumption_after_loss_at_maternal_level_is_maternal);
    RUN(short_dropout_inside_a_deceleration_resumes_doubtful);
    RUN(within_5_bpm_of_recent_maternal_rate_is_maternal);
    RUN(prefers_the_fundamental_over_a_stronger_multiple);
    RUN(unresolved_octave_is_doubtful);
    RUN(maternal_track_does_not_follow_above_its_ceiling);
    return CHECK_DONE();
}
