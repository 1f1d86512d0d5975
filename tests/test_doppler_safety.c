/* Safety regressions of the Doppler engine found on generated recordings (fm_synth), one test per
 * case: a fetal deceleration must not be hidden as maternal after a short loss at its start
 * (CLINICAL 2 vs 4.1), a doubled rate must never be ok (CLINICAL 2). The first two reproduce the
 * lead's recording (fetalmon-synth --fhr fixtures/traces/fhrma_train01_20min.fhr --minutes 5
 * --maternal-only 120:40), rendered here in float without the WAV step. Not for accuracy figures
 * (test_doppler.c, bench_doppler). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fetalmon/doppler.h"
#include "fetalmon/trace.h"
#include "synth.h"
#include "test_doppler_sig.h"

/* The lead's recording: the first 5 minutes of the fixture trace (fetal and maternal channels),
 * fm_synth defaults at 8 kHz, seed 1, a 40 s maternal-only stretch at 120 s. */
typedef struct lead_rec {
    fm_synth *sy;
    tsig_out o;
    size_t n4;
} lead_rec;

static int lead_render(lead_rec *r)
{
    char path[4200];
    const char *src = getenv("FM_SOURCE_DIR");
    snprintf(path, sizeof path, "%s/fixtures/traces/fhrma_train01_20min.fhr", src ? src : "..");
    fm_trace *tr = NULL;
    if (fm_trace_read(path, FM_TRACE_AUTO, &tr, NULL, 0) != FM_OK)
        return 0;
    r->n4 = 5 * 240 < tr->n ? 5 * 240 : tr->n;
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.rate_hz = 8000;
    c.seed = 1;
    r->sy = fm_synth_create(&c, tr->fhr_bpm, r->n4, tr->mhr_bpm, NULL);
    fm_trace_destroy(tr);
    if (!r->sy || fm_synth_add_event(r->sy, FM_SYNTH_EV_MATERNAL_ONLY, 120, 40, NAN) != FM_OK)
        return 0;
    size_t n = fm_synth_length(r->sy);
    float *x = malloc(n * sizeof *x);
    if (!x)
        return 0;
    n = fm_synth_render(r->sy, x, n);
    int ok = tsig_run(x, n, 8000, NULL, 0, 0, &r->o) == 0;
    free(x);
    return ok;
}

static void lead_free(lead_rec *r)
{
    free(r->o.s);
    fm_synth_destroy(r->sy);
}

/* CLINICAL 2 vs 4.1: at 247 s the fetal rate falls from ~105 to 84 bpm (then 72) with a 0.5 s
 * loss at the drop; the deceleration (to 287 s) is fetal: ok or doubtful, not maternal. */
static void deceleration_after_short_loss_is_not_maternal(void)
{
    lead_rec r;
    CHECK(lead_render(&r));
    size_t fetal = 0, mat = 0, valid = 0;
    for (size_t k = 248 * 4; k < 287 * 4 && k < r.o.n; k++) {
        fm_synth_truth tr;
        fm_synth_truth_at(r.sy, k, &tr);
        if (tr.label != FM_SYNTH_FETAL)
            continue;
        fetal++;
        mat += r.o.s[k].state == FM_STATE_MATERNAL;
        valid += r.o.s[k].state == FM_STATE_OK || r.o.s[k].state == FM_STATE_DOUBTFUL;
    }
    printf("     deceleration 248-287 s: %zu fetal samples, %zu maternal, %zu ok or doubtful\n",
           fetal, mat, valid);
    CHECK(fetal > 140);
    CHECKF(mat * 20 <= fetal, "%zu of %zu maternal", mat, fetal);
    CHECKF(valid * 10 >= fetal * 8, "%zu of %zu ok or doubtful", valid, fetal);
    lead_free(&r);
}

/* CLINICAL 2: no ok sample is at twice or half the true fetal rate (the lead saw 195 bpm ok at
 * 280.25 s where the fetus was at 98), and ok values are within 10 bpm in 270-290 s. */
static void doubled_rate_is_never_ok(void)
{
    lead_rec r;
    CHECK(lead_render(&r));
    size_t octave = 0, off = 0;
    for (size_t k = 0; k < r.o.n && k < r.n4; k++) {
        fm_synth_truth tr;
        fm_synth_truth_at(r.sy, k, &tr);
        if (r.o.s[k].state != FM_STATE_OK || !isfinite(tr.fhr_bpm))
            continue;
        double q = r.o.s[k].fhr_bpm / tr.fhr_bpm;
        if (fabs(q - 2.0) < 0.25 || fabs(q - 0.5) < 0.06) {
            octave++;
            printf("     %.2f s: ok %.1f bpm, truth %.1f\n", k / 4.0, r.o.s[k].fhr_bpm, tr.fhr_bpm);
        }
        if (k >= 270 * 4 && k < 290 * 4)
            off += fabs(r.o.s[k].fhr_bpm - tr.fhr_bpm) > 10.0;
    }
    CHECKF(octave == 0, "%zu ok samples at an octave of the truth", octave);
    CHECKF(off == 0, "%zu ok samples off by > 10 bpm in 270-290 s", off);
    lead_free(&r);
}

/* CLINICAL 4.1: a deceleration that steps down by 25 bpm during a 0.5 s contact loss (a handheld
 * probe slips exactly when the mother moves) stays fetal; the maternal rate is elsewhere (95). */
static void stepped_deceleration_with_loss_stays_fetal(void)
{
    size_t n4 = 4 * 150;
    float *fhr = malloc(n4 * sizeof *fhr), *mhr = malloc(n4 * sizeof *mhr);
    for (size_t k = 0; k < n4; k++) {
        double t = k / 4.0;
        fhr[k] = (float)(t < 40    ? 145.0
                         : t < 52  ? 145.0 - 35.0 * (t - 40) / 12
                         : t < 100 ? 85.0 - 3.0 * sin(t / 3)
                         : t < 110 ? 85.0 + 6.0 * (t - 100)
                                   : 145.0);
        mhr[k] = 95.0f;
    }
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.seed = 21;
    fm_synth *sy = fm_synth_create(&c, fhr, n4, mhr, NULL);
    CHECK(sy && fm_synth_add_event(sy, FM_SYNTH_EV_CONTACT_LOSS, 51.75, 0.75, NAN) == FM_OK);
    size_t n = fm_synth_length(sy);
    float *x = malloc(n * sizeof *x);
    n = fm_synth_render(sy, x, n);
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    size_t low = 0, mat = 0;
    for (size_t k = 4 * 54; k < 4 * 100 && k < o.n; k++) {
        low++;
        mat += o.s[k].state == FM_STATE_MATERNAL;
    }
    printf("     54-100 s at ~85 bpm: %zu samples, %zu maternal\n", low, mat);
    CHECKF(mat * 20 <= low, "%zu of %zu maternal", mat, low);
    free(o.s);
    free(x);
    free(fhr);
    free(mhr);
    fm_synth_destroy(sy);
}

int main(void)
{
    RUN(deceleration_after_short_loss_is_not_maternal);
    RUN(doubled_rate_is_never_ok);
    RUN(stepped_deceleration_with_loss_stays_fetal);
    return CHECK_DONE();
}
