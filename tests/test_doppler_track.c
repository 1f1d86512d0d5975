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
    fm_dop_cand c = {bpm, s, q, 0.0f}; /* no harmonic support */
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

/* Halving: the best peak at twice the period with a strong peak at the period -> the period, but
 * a new track cannot be confirmed on it alone (CLINICAL 2: a 72 bpm pulse with two sounds per
 * beat looks the same): doubtful until its own peak has been the strongest. */
static void prefers_the_fundamental_over_a_stronger_multiple(void)
{
    start();
    fm_dop_cand c[2] = {{72, 0.9f, 0.9f, 0.0f}, {144, 0.7f, 0.8f, 0.0f}};
    fm_fhr_sample o;
    for (int i = 0; i < 12; i++) {
        fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
        CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 144.0f);
    }
    fm_dop_cand alone[2] = {{144, 0.8f, 0.8f, 0.0f}, {72, 0.7f, 0.8f, 0.0f}};
    for (int i = 0; i < 4; i++)
        fm_dop_track_step(&tr, &cfg, k++, 1, alone, 2, &o);
    CHECK(o.state == FM_STATE_OK && o.fhr_bpm == 144.0f);
    for (int i = 0; i < 6; i++)
        fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_OK && o.fhr_bpm == 144.0f); /* established: halving resisted */
}

/* CLINICAL 2 vs 4.1: an ok deceleration that drops by 20 bpm across a 0.75 s loss continues as
 * fetal (doubtful below maternal_max), not maternal; a second such jump from that untrusted low
 * track is maternal (no chaining onto the mother). */
static void drop_across_short_loss_in_a_descent_is_not_maternal(void)
{
    start();
    for (float b = 140; b >= 104; b -= 1.0f)
        step1(b, 0.8f, 0.8f);
    for (int i = 0; i < 3; i++)
        step_lost();
    fm_fhr_sample o = step1(84, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 84.0f);
    for (int i = 0; i < 20; i++)
        o = step1(84 - 0.2f * i, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_DOUBTFUL);
    for (int i = 0; i < 3; i++)
        step_lost();
    o = step1(62, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_MATERNAL);
}

/* A deceleration resumed after a short loss at the level where one lone maternal window was
 * seen earlier (m_n maternal windows, e.g. the first window of a recording): with one window the
 * maternal evidence is too weak to hide the deceleration (doubtful, with its value); with an
 * established maternal track (2 s) the resumption is maternal (CLINICAL 2 and 4.1). */
static fm_fhr_sample descent_after_maternal_windows(int m_n)
{
    start();
    for (int i = 0; i < m_n; i++)
        step1(92, 0.9f, 0.9f);
    for (int i = 0; i < 4; i++)
        step_lost();
    for (int i = 0; i < 60; i++)
        step1(140, 0.8f, 0.8f);
    for (float b = 140; b >= 100; b -= 1.0f) /* 4 bpm/s */
        step1(b, 0.8f, 0.8f);
    for (int i = 0; i < 4; i++)
        step_lost();
    return step1(92, 0.8f, 0.8f);
}

static void descent_through_a_lone_maternal_windows_rate_stays_fetal(void)
{
    fm_fhr_sample o = descent_after_maternal_windows(1);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 92.0f);
    for (int i = 0; i < 40; i++)
        o = step1(92 - 0.5f * (float)i, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm < 80.0f);
}

static void descent_onto_an_established_maternal_rate_is_maternal(void)
{
    CHECK(descent_after_maternal_windows(8).state == FM_STATE_MATERNAL);
}

/* Without a descent under way the same drop after a loss is maternal (CLINICAL 2). */
static void drop_across_short_loss_from_steady_level_is_maternal(void)
{
    start();
    for (int i = 0; i < 40; i++)
        step1(104, 0.8f, 0.8f);
    for (int i = 0; i < 3; i++)
        step_lost();
    CHECK(step1(84, 0.8f, 0.8f).state == FM_STATE_MATERNAL);
}

/* CLINICAL 2: the peaks of the lead's recording at 278-280 s (fetus 94-98 bpm, mother ~97): a
 * stray track at 172.6 is carried by continuity to 187-195, the double of the stronger 94-98
 * peak; that new track must never be confirmed ok (it was, at 280.25 s). */
static void new_track_on_a_doubled_peak_is_never_ok(void)
{
    start();
    step1(172.6f, 0.31f, 0.36f);
    static const fm_dop_cand w[][3] = {
        {{93.5f, 0.37f, 0.50f, 0.0f}, {87.1f, 0.33f, 0.45f, 0.0f}, {186.9f, 0.32f, 0.36f, 0.0f}},
        {{93.8f, 0.35f, 0.48f, 0.0f}, {186.1f, 0.32f, 0.37f, 0.0f}, {87.6f, 0.30f, 0.41f, 0.0f}},
        {{187.4f, 0.38f, 0.44f, 0.0f}, {94.0f, 0.36f, 0.48f, 0.0f}, {87.7f, 0.27f, 0.38f, 0.0f}},
        {{94.5f, 0.36f, 0.49f, 0.0f}, {188.2f, 0.33f, 0.38f, 0.0f}, {61.8f, 0.18f, 0.29f, 0.0f}},
        {{190.7f, 0.37f, 0.42f, 0.0f}, {94.6f, 0.33f, 0.44f, 0.0f}, {63.8f, 0.21f, 0.34f, 0.0f}},
        {{193.2f, 0.39f, 0.44f, 0.0f}, {96.8f, 0.37f, 0.49f, 0.0f}, {62.1f, 0.19f, 0.32f, 0.0f}},
        {{96.9f, 0.43f, 0.57f, 0.0f}, {192.4f, 0.37f, 0.42f, 0.0f}, {64.6f, 0.20f, 0.33f, 0.0f}},
        {{97.2f, 0.44f, 0.59f, 0.0f}, {194.9f, 0.33f, 0.38f, 0.0f}, {65.1f, 0.18f, 0.29f, 0.0f}},
        {{97.8f, 0.50f, 0.67f, 0.0f}, {195.2f, 0.33f, 0.37f, 0.0f}, {65.4f, 0.28f, 0.44f, 0.0f}},
    };
    for (size_t i = 0; i < sizeof w / sizeof w[0]; i++) {
        for (int j = 0; j < (i == 0 ? 8 : 0); j++)
            step_lost(); /* 270.25 .. 278 s: lost */
        fm_fhr_sample o;
        fm_dop_track_step(&tr, &cfg, k++, 1, w[i], 3, &o);
        CHECKF(!(o.state == FM_STATE_OK && o.fhr_bpm > 150.0f), "window %zu: ok %.1f", i,
               (double)o.fhr_bpm);
    }
}

/* A track kept by continuity against a much stronger octave peak is doubtful. */
static void unresolved_octave_is_doubtful(void)
{
    start();
    for (int i = 0; i < 10; i++)
        step1(115, 0.8f, 0.8f);
    fm_dop_cand c[2] = {{230, 0.9f, 0.9f, 0.0f}, {115, 0.5f, 0.6f, 0.0f}};
    fm_fhr_sample o;
    fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 115.0f);
}

/* Harmonic support lifts a faint one-period peak (its 2- and 3-period correlation is plain), but
 * never confirms a doubled value: a new track on the double of a stronger peak stays doubtful. */
static void harmonic_support_counts_as_quality_but_never_confirms_a_double(void)
{
    start();
    fm_dop_cand faint = {150, 0.25f, 0.28f, 0.60f};
    fm_fhr_sample o;
    for (int i = 0; i < 4; i++)
        fm_dop_track_step(&tr, &cfg, k++, 1, &faint, 1, &o);
    CHECK(o.state == FM_STATE_OK && o.fhr_bpm == 150.0f && o.quality == 0.60f);
    for (int i = 0; i < 6; i++)
        fm_dop_track_step(&tr, &cfg, k++, 1, &faint, 1, &o);
    fm_dop_cand none = {150, 0.25f, 0.28f, 0.0f};
    fm_dop_track_step(&tr, &cfg, k++, 1, &none, 1, &o);
    CHECK(o.state == FM_STATE_OK); /* a faint continuation of an established track */
    start();
    fm_dop_track_step(&tr, &cfg, k++, 1, &none, 1, &o);
    CHECK(o.state == FM_STATE_LOST); /* no track is started on a faint window */
    start();
    fm_dop_cand dbl[2] = {{80, 0.5f, 0.7f, 0.0f}, {160, 0.4f, 0.45f, 0.9f}};
    for (int i = 0; i < 12; i++) {
        fm_dop_track_step(&tr, &cfg, k++, 1, dbl, 2, &o);
        CHECK(o.state != FM_STATE_OK);
    }
}

/* CLINICAL 2 at 2:1 rates: an established fetal track continuing onto the double of a stronger
 * peak (the mother near half the fetal rate) stays ok; the same value as a halving (the track on
 * the slower peak, its double stronger) is doubtful (unresolved_octave_is_doubtful). */
static void established_track_keeps_its_value_over_a_stronger_half_rate_peak(void)
{
    start();
    fm_fhr_sample o;
    for (int i = 0; i < 10; i++)
        o = step1(160, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_OK);
    fm_dop_cand c[2] = {{80.5f, 0.5f, 0.7f, 0.0f}, {161, 0.28f, 0.5f, 0.0f}};
    fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_OK && o.fhr_bpm == 161.0f);
    /* a jump onto the double is not a close continuation: not trusted */
    fm_dop_cand far[2] = {{86, 0.5f, 0.7f, 0.0f}, {172, 0.28f, 0.5f, 0.0f}};
    fm_dop_track_step(&tr, &cfg, k++, 1, far, 2, &o);
    CHECK(o.state != FM_STATE_OK);
}

/* CLINICAL 2: the maternal track does not hold its value against its own double above the
 * maternal ceiling (a fetal heart at twice the maternal rate is the default reading); the new
 * fetal track is doubtful first, then ok while its peak is the strongest. */
static void maternal_track_yields_to_its_stronger_double(void)
{
    start();
    fm_fhr_sample o;
    for (int i = 0; i < 12; i++)
        o = step1(80, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_MATERNAL);
    fm_dop_cand c[2] = {{160, 0.6f, 0.7f, 0.0f}, {80, 0.55f, 0.75f, 0.0f}};
    fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_DOUBTFUL && o.fhr_bpm == 160.0f);
    for (int i = 0; i < 4; i++)
        fm_dop_track_step(&tr, &cfg, k++, 1, c, 2, &o);
    CHECK(o.state == FM_STATE_OK && o.fhr_bpm == 160.0f);
    /* below the ceiling the maternal track keeps its value (a tachycardic mother's double is
     * not in question, her own rate stays maternal) */
    start();
    for (int i = 0; i < 12; i++)
        o = step1(58, 0.8f, 0.8f);
    fm_dop_cand d[2] = {{116, 0.6f, 0.7f, 0.0f}, {58, 0.55f, 0.75f, 0.0f}};
    for (int i = 0; i < 8; i++) {
        fm_dop_track_step(&tr, &cfg, k++, 1, d, 2, &o);
        CHECK(o.state != FM_STATE_OK);
    }
}

/* CLINICAL 2: a tachycardic mother near the maternal ceiling whose breathing takes her peak just
 * above it (116 -> 121.4, alternating) starts a fetal track that is never confirmed while it is
 * within 5 bpm of her rate (the lead's tachycardic-mother recording at 5 dB had 5 ok samples). */
static void new_track_next_to_the_maternal_rate_is_never_confirmed(void)
{
    start();
    fm_fhr_sample o;
    for (int i = 0; i <= 40; i++) /* her rate climbs from 100 (CLINICAL 2: maternal) */
        o = step1(100.0f + 0.405f * (float)i, 0.8f, 0.8f);
    CHECK(o.state == FM_STATE_MATERNAL);
    const float seq[] = {121.4f, 120.9f, 116.8f, 121.5f, 122.0f, 119.2f, 120.5f, 117.9f,
                         120.6f, 121.6f, 120.9f, 121.2f, 120.4f, 120.8f, 121.1f, 120.3f};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        o = step1(seq[i], 0.7f, 0.8f);
        CHECKF(o.state != FM_STATE_OK, "step %zu: %.1f ok", i, (double)seq[i]);
    }
    /* a fetal rate clearly above her (> 5 bpm) is confirmed as usual */
    for (int i = 0; i < 6; i++)
        o = step1(124.0f + (float)i, 0.7f, 0.8f);
    CHECK(o.state == FM_STATE_OK);
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
    RUN(drop_across_short_loss_in_a_descent_is_not_maternal);
    RUN(drop_across_short_loss_from_steady_level_is_maternal);
    RUN(descent_through_a_lone_maternal_windows_rate_stays_fetal);
    RUN(descent_onto_an_established_maternal_rate_is_maternal);
    RUN(new_track_on_a_doubled_peak_is_never_ok);
    RUN(unresolved_octave_is_doubtful);
    RUN(maternal_track_does_not_follow_above_its_ceiling);
    RUN(harmonic_support_counts_as_quality_but_never_confirms_a_double);
    RUN(established_track_keeps_its_value_over_a_stronger_half_rate_peak);
    RUN(maternal_track_yields_to_its_stronger_double);
    RUN(new_track_next_to_the_maternal_rate_is_never_confirmed);
    return CHECK_DONE();
}
