/* Tests of fm_doppler (dsp/doppler.c, dsp/doppler_track.c): timing of the 4 Hz output, block-size
 * independence, accuracy on real FHR traces rendered by fm_synth, and the safety rules (silence,
 * noise, clipping, maternal-only stretches -> never ok; gradual decelerations stay fetal). */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fetalmon/doppler.h"
#include "fetalmon/trace.h"
#include "synth.h"
#include "test_doppler_sig.h"

/* Render n4 4 Hz samples of truth with fm_synth into a malloc'd buffer. */
static float *synth_render(const float *fhr, size_t n4, double rate, double snr_db, uint64_t seed,
                           fm_synth **keep, size_t *n_out, void (*events)(fm_synth *))
{
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.rate_hz = rate;
    c.seed = seed;
    c.snr_db = snr_db;
    fm_synth *sy = fm_synth_create(&c, fhr, n4, NULL, NULL);
    if (!sy)
        return NULL;
    if (events)
        events(sy);
    size_t n = fm_synth_length(sy), got = 0;
    float *x = malloc(n * sizeof *x);
    while (x && got < n) {
        size_t g = fm_synth_render(sy, x + got, n - got);
        if (!g)
            break;
        got += g;
    }
    *n_out = got;
    if (keep)
        *keep = sy;
    else
        fm_synth_destroy(sy);
    return x;
}

static void rejects_bad_arguments(void)
{
    tsig_out o = {0};
    CHECK(!fm_doppler_create(0, NULL, tsig_sink, &o));
    CHECK(!fm_doppler_create(3999, NULL, tsig_sink, &o));
    CHECK(!fm_doppler_create(192001, NULL, tsig_sink, &o));
    CHECK(!fm_doppler_create(NAN, NULL, tsig_sink, &o));
    CHECK(!fm_doppler_create(8000, NULL, NULL, &o));
    fm_doppler_config cfg;
    fm_doppler_config_default(&cfg);
    cfg.window_s = 0.5f;
    CHECK(!fm_doppler_create(8000, &cfg, tsig_sink, &o));
    fm_doppler *q = fm_doppler_create(8000, NULL, tsig_sink, &o);
    CHECK(q);
    CHECK(fm_doppler_push(q, NULL, 5) == FM_EINVAL);
    CHECK(fm_doppler_push(q, NULL, 0) == FM_OK);
    CHECK(fm_doppler_push(NULL, NULL, 0) == FM_EINVAL);
    CHECK(fm_doppler_flush(q) == FM_OK);
    float x = 0.0f;
    CHECK(fm_doppler_push(q, &x, 1) == FM_EINVAL); /* after flush */
    fm_doppler_destroy(q);
    fm_doppler_destroy(NULL);
    free(o.s);
}

/* ceil(4 n / rate) samples at t = k / 4, for odd rates and lengths. */
static void emits_one_sample_per_250_ms(void)
{
    const double rates[] = {4000, 8000, 11025, 22050, 44100, 48000, 96000, 192000};
    for (size_t r = 0; r < sizeof rates / sizeof *rates; r++) {
        size_t n = (size_t)(7.3 * rates[r]) + 3;
        float *x = calloc(n, sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = 0.1f * (float)sin(i * 0.3);
        tsig_out o;
        CHECK(tsig_run(x, n, rates[r], NULL, 0, 0, &o) == 0);
        size_t want = (size_t)ceil(4.0 * (double)n / rates[r]);
        CHECKF(o.n == want, "rate %g: %zu samples, want %zu", rates[r], o.n, want);
        int times_ok = 1, states_ok = 1;
        for (size_t k = 0; k < o.n; k++) {
            times_ok &= o.s[k].t_s == k * 0.25;
            states_ok &= o.s[k].state <= FM_STATE_DOUBTFUL && o.s[k].quality >= 0.0f &&
                         o.s[k].quality <= 1.0f;
            states_ok &= (o.s[k].state == FM_STATE_OK || o.s[k].state == FM_STATE_DOUBTFUL) ==
                         !isnan(o.s[k].fhr_bpm);
        }
        CHECK(times_ok);
        CHECK(states_ok);
        free(o.s);
        free(x);
    }
}

static int same_output(const tsig_out *a, const tsig_out *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t k = 0; k < a->n; k++)
        if (memcmp(&a->s[k].fhr_bpm, &b->s[k].fhr_bpm, sizeof(float)) ||
            memcmp(&a->s[k].quality, &b->s[k].quality, sizeof(float)) ||
            a->s[k].state != b->s[k].state || a->s[k].t_s != b->s[k].t_s)
            return 0;
    return 1;
}

static void chunked_input_gives_bit_identical_output(void)
{
    size_t n4 = 4 * 90, n;
    float *fhr = malloc(n4 * sizeof *fhr);
    for (size_t k = 0; k < n4; k++)
        fhr[k] = 140.0f + 10.0f * (float)sin(k / 30.0);
    float *x = synth_render(fhr, n4, 44100, 15, 3, NULL, &n, NULL);
    CHECK(x);
    tsig_out one, rnd, rnd2, tiny;
    CHECK(tsig_run(x, n, 44100, NULL, 0, 0, &one) == 0);
    CHECK(tsig_run(x, n, 44100, NULL, (size_t)-1 / 2, 1, &rnd) == 0);
    CHECK(tsig_run(x, n, 44100, NULL, (size_t)-1 / 2, 2, &rnd2) == 0);
    CHECK(tsig_run(x, n / 6, 44100, NULL, 1, 0, &tiny) == 0); /* 15 s one sample at a time */
    tsig_out one_short;
    CHECK(tsig_run(x, n / 6, 44100, NULL, 0, 0, &one_short) == 0);
    CHECK(one.n == n4);
    CHECK(same_output(&one, &rnd));
    CHECK(same_output(&one, &rnd2));
    CHECK(same_output(&one_short, &tiny));
    size_t ok = 0;
    for (size_t k = 0; k < one.n; k++)
        ok += one.s[k].state == FM_STATE_OK;
    CHECKF(ok > one.n / 2, "only %zu of %zu ok: the comparison would be vacuous", ok, one.n);
    /* reset: the same engine gives the same output again */
    tsig_out again = {0};
    fm_doppler *q = fm_doppler_create(44100, NULL, tsig_sink, &again);
    fm_doppler_push(q, x, n / 3);
    fm_doppler_reset(q);
    free(again.s);
    memset(&again, 0, sizeof again);
    fm_doppler_push(q, x, n);
    fm_doppler_flush(q);
    CHECK(same_output(&one, &again));
    fm_doppler_destroy(q);
    free(one.s), free(rnd.s), free(rnd2.s), free(tiny.s), free(one_short.s), free(again.s);
    free(x);
    free(fhr);
}

static void add_maternal_only(fm_synth *sy)
{
    double dur = fm_synth_truth_count(sy) / 4.0;
    fm_synth_add_event(sy, FM_SYNTH_EV_MATERNAL_ONLY, 0.45 * dur, 60.0, NAN);
}

typedef struct acc {
    size_t fetal, covered, within5, mat, mat_ok, oct_runs;
} acc;

static void score(const tsig_out *o, fm_synth *sy, acc *a)
{
    size_t run = 0, n4 = fm_synth_truth_count(sy);
    for (size_t k = 0; k < o->n && k < n4; k++) {
        fm_synth_truth tr;
        fm_synth_truth_at(sy, k, &tr);
        int ok = o->s[k].state == FM_STATE_OK;
        int oct = ok && isfinite(tr.fhr_bpm) &&
                  (fabs(o->s[k].fhr_bpm / tr.fhr_bpm - 2.0) < 0.2 ||
                   fabs(o->s[k].fhr_bpm / tr.fhr_bpm - 0.5) < 0.05);
        run = oct ? run + 1 : 0;
        a->oct_runs += run == 21; /* > 5 s */
        if (k < 8 || k + 8 >= n4)
            continue;
        if (tr.label == FM_SYNTH_MATERNAL_ONLY) {
            a->mat++;
            a->mat_ok += ok;
        } else if (tr.label == FM_SYNTH_FETAL && isfinite(tr.fhr_bpm)) {
            a->fetal++;
            if (ok) {
                a->covered++;
                a->within5 += fabs(o->s[k].fhr_bpm - tr.fhr_bpm) <= 5.0;
            }
        }
    }
}

/* A clean 10-min excerpt of a real trace (110..200 bpm, < 2 % gaps, no jump > 25 bpm). */
static int real_excerpt(const char *data, int idx, size_t n4, float *out)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/fhrma/train/train%02d.fhr", data, idx);
    fm_trace *t = NULL;
    if (fm_trace_read(path, FM_TRACE_FHR, &t, NULL, 0) != FM_OK)
        return 0;
    int found = 0;
    for (size_t o = 0; !found && o + n4 <= t->n; o += 240) {
        size_t bad = 0;
        float prev = NAN;
        int jump = 0;
        for (size_t i = 0; i < n4 && !jump; i++) {
            float v = t->fhr_bpm[o + i];
            if (!isfinite(v) || v < 110 || v > 200)
                bad++;
            else {
                jump = isfinite(prev) && fabsf(v - prev) > 25;
                prev = v;
            }
        }
        if (bad <= n4 / 50 && !jump) {
            memcpy(out, t->fhr_bpm + o, n4 * sizeof *out);
            found = 1;
        }
    }
    fm_trace_destroy(t);
    return found;
}

/* The acceptance figures at moderate noise (SNR 10 dB in the device band). */
static void accurate_on_real_traces_at_moderate_noise(void)
{
    const char *data = check_shared_data();
    size_t n4 = 4 * 60 * 8;
    float *fhr = malloc(n4 * sizeof *fhr);
    acc a = {0};
    int used = 0;
    const int idx[] = {6, 16, 26, 41};
    for (size_t i = 0; i < sizeof idx / sizeof *idx; i++) {
        if (data) {
            if (!real_excerpt(data, idx[i], n4, fhr))
                continue;
        } else {
            for (size_t k = 0; k < n4; k++) /* synthetic: variability and a deceleration */
                fhr[k] =
                    135.0f + 6.0f * (float)sin(k / 20.0 + i) + 4.0f * (float)sin(k / 7.0) -
                    (k > 800 && k < 1100 ? 35.0f * (float)sin(M_PI * (k - 800) / 300.0) : 0.0f);
        }
        size_t n;
        fm_synth *sy = NULL;
        float *x = synth_render(fhr, n4, 8000, 10, 100 + i, &sy, &n, add_maternal_only);
        tsig_out o;
        CHECK(x && tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
        score(&o, sy, &a);
        used++;
        free(o.s);
        free(x);
        fm_synth_destroy(sy);
    }
    if (!data)
        printf("     (../shared/data absent: synthetic traces)\n");
    CHECK(used >= 3);
    double within = 100.0 * a.within5 / (a.covered ? a.covered : 1);
    double cover = 100.0 * a.covered / (a.fetal ? a.fetal : 1);
    double mat_ok = 100.0 * a.mat_ok / (a.mat ? a.mat : 1);
    printf("     %d recordings: within 5 bpm %.2f %%, coverage %.1f %%, maternal-only ok %.2f %%,"
           " octave runs %zu\n",
           used, within, cover, mat_ok, a.oct_runs);
    CHECKF(within >= 98.0, "%.2f %%", within);
    /* The target (90 %). Measured 90.4 % (87.2 % before the third round: harmonic
     * support, 2:1-rate rules, docs/doppler.md); bench_doppler measures 93.0-93.8 % (training)
     * and 92.8-93.6 % (held-out) at 5-30 dB. What is still missed here: the fetal heart faded
     * under the maternal pulse near a 2:1 rate ratio, a start at 106-120 bpm held maternal. */
    CHECKF(cover >= 90.0, "%.1f %%", cover);
    CHECK(a.mat > 0);
    CHECKF(mat_ok <= 1.0, "%.2f %%", mat_ok);
    CHECK(a.oct_runs == 0);
    free(fhr);
}

static size_t count_state(const tsig_out *o, size_t from, size_t to, fm_fhr_state st)
{
    size_t c = 0;
    for (size_t k = from; k < to && k < o->n; k++)
        c += o->s[k].state == st;
    return c;
}

static void silence_is_lost(void)
{
    size_t n = 8000 * 30;
    float *x = calloc(n, sizeof *x);
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    CHECK(o.n == 120);
    CHECK(count_state(&o, 0, o.n, FM_STATE_LOST) == o.n);
    free(o.s);
    free(x);
}

static void white_noise_is_lost(void)
{
    size_t n = 8000 * 120;
    float *x = malloc(n * sizeof *x);
    tsig_rng r = {42};
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.05 * tsig_gauss(&r));
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    size_t ok = count_state(&o, 0, o.n, FM_STATE_OK);
    CHECKF(ok * 100 <= o.n, "%zu of %zu ok", ok, o.n);
    free(o.s);
    free(x);
}

/* A clean beat clipped at full scale for most of its samples: lost, not a number. */
static void clipping_is_lost(void)
{
    float fhr = 140.0f;
    size_t n = 8000 * 30;
    float *x = malloc(n * sizeof *x);
    tsig_gen g;
    tsig_gen_init(&g, &fhr, NULL, 1, 8000, 0, 0.05, 7);
    tsig_gen_run(&g, x, n);
    for (size_t i = 0; i < n; i++)
        x[i] = x[i] * 100.0f > 1.0f ? 1.0f : x[i] * 100.0f < -1.0f ? -1.0f : x[i] * 100.0f;
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    CHECK(count_state(&o, 0, o.n, FM_STATE_LOST) == o.n);
    free(o.s);
    free(x);
}

static void non_finite_samples_are_lost(void)
{
    size_t n = 8000 * 20;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    CHECK(o.n == 80 && count_state(&o, 0, o.n, FM_STATE_LOST) == o.n);
    free(o.s);
    free(x);
}

/* Engines created, run and destroyed on several threads at once (the FFTW planner lock) give
 * the same output as on one thread. */
typedef struct thread_job {
    const float *x;
    size_t n;
    tsig_out out;
    int rc;
} thread_job;

static void *thread_run(void *arg)
{
    thread_job *j = arg;
    j->rc = 0;
    for (int rep = 0; rep < 5 && j->rc == 0; rep++) {
        free(j->out.s);
        j->rc = tsig_run(j->x, j->n, 8000, NULL, 4096, 0, &j->out);
    }
    return NULL;
}

static void engines_run_on_concurrent_threads(void)
{
    float fhr = 145.0f;
    size_t n = 8000 * 20;
    float *x = malloc(n * sizeof *x);
    tsig_gen g;
    tsig_gen_init(&g, &fhr, NULL, 1, 8000, 0, 0.5, 8);
    tsig_gen_run(&g, x, n);
    tsig_out ref;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &ref) == 0);
    thread_job jobs[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){x, n, {0}, -1};
        CHECK(pthread_create(&th[i], NULL, thread_run, &jobs[i]) == 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        CHECK(jobs[i].rc == 0 && same_output(&ref, &jobs[i].out));
        free(jobs[i].out.s);
    }
    free(ref.s);
    free(x);
}

/* CLINICAL 2: probe movement (fm_synth scrapes and thumps) gives no wrong ok value, and no ok
 * value at all once the window lies inside it. */
static void probe_movement_is_lost(void)
{
    size_t n4 = 4 * 150, n;
    float *fhr = malloc(n4 * sizeof *fhr);
    for (size_t k = 0; k < n4; k++)
        fhr[k] = 150.0f + 5.0f * (float)sin(k / 25.0);
    size_t wrong = 0, inside_ok = 0, inside = 0;
    for (uint64_t seed = 30; seed < 34; seed++) {
        fm_synth_config c;
        fm_synth_config_default(&c);
        c.seed = seed;
        fm_synth *sy = fm_synth_create(&c, fhr, n4, NULL, NULL);
        fm_synth_add_event(sy, FM_SYNTH_EV_MOVEMENT, 40.0, 10.0, NAN);
        fm_synth_add_event(sy, FM_SYNTH_EV_MOVEMENT, 100.0, 6.0, NAN);
        n = fm_synth_length(sy);
        float *x = malloc(n * sizeof *x);
        n = fm_synth_render(sy, x, n);
        tsig_out o;
        CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
        for (size_t k = 0; k < o.n && k < n4; k++) {
            fm_synth_truth tr;
            fm_synth_truth_at(sy, k, &tr);
            if (tr.label != FM_SYNTH_MOVEMENT)
                continue;
            int ok = o.s[k].state == FM_STATE_OK;
            wrong += ok && fabsf(o.s[k].fhr_bpm - tr.fhr_bpm) > 5.0f;
            double t = k / 4.0;
            if ((t >= 41.5 && t < 48.5) || (t >= 101.5 && t < 104.5)) {
                inside++;
                inside_ok += ok;
            }
        }
        free(o.s);
        free(x);
        fm_synth_destroy(sy);
    }
    CHECKF(wrong == 0, "%zu wrong ok values during movement", wrong);
    CHECKF(inside_ok * 20 <= inside, "%zu of %zu ok inside the movements", inside_ok, inside);
    free(fhr);
}

static void maternal_only_recording_is_never_ok(void)
{
    size_t n4 = 4 * 240, n;
    float *fhr = malloc(n4 * sizeof *fhr);
    for (size_t k = 0; k < n4; k++)
        fhr[k] = 140.0f;
    uint64_t seeds[] = {5, 6, 7};
    for (int s = 0; s < 3; s++) {
        fm_synth_config c;
        fm_synth_config_default(&c);
        c.seed = seeds[s];
        c.snr_db = 15;
        fm_synth *sy = fm_synth_create(&c, fhr, n4, NULL, NULL);
        fm_synth_add_event(sy, FM_SYNTH_EV_MATERNAL_ONLY, 0.0, 240.0, NAN);
        n = fm_synth_length(sy);
        float *x = malloc(n * sizeof *x);
        n = fm_synth_render(sy, x, n);
        tsig_out o;
        CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
        size_t ok = count_state(&o, 0, o.n, FM_STATE_OK);
        size_t mat = count_state(&o, 0, o.n, FM_STATE_MATERNAL);
        CHECKF(ok * 100 <= o.n, "seed %llu: %zu of %zu ok", (unsigned long long)seeds[s], ok, o.n);
        CHECKF(mat > o.n / 2, "seed %llu: only %zu of %zu maternal_suspected",
               (unsigned long long)seeds[s], mat, o.n);
        free(o.s);
        free(x);
        fm_synth_destroy(sy);
    }
    free(fhr);
}

/* CLINICAL 2: a tachycardic mother heard alone, her rate climbing from 100 to 118 bpm and staying
 * there (the maternal track's 120 bpm ceiling; her double, 200-236 bpm, is in the search range),
 * is never reported as a fetal rate, at moderate and low noise. */
static void tachycardic_mother_is_never_ok(void)
{
    size_t n4 = 4 * 240, n;
    float *fhr = malloc(n4 * sizeof *fhr), *mhr = malloc(n4 * sizeof *mhr);
    for (size_t k = 0; k < n4; k++) {
        double t = k / 4.0;
        fhr[k] = 140.0f;
        mhr[k] = (float)(t < 30 ? 100.0 : t < 150 ? 100.0 + 18.0 * (t - 30) / 120 : 118.0);
    }
    const double snrs[] = {15, 5};
    for (int s = 0; s < 2; s++) {
        fm_synth_config c;
        fm_synth_config_default(&c);
        c.seed = 31 + (uint64_t)s;
        c.snr_db = snrs[s];
        fm_synth *sy = fm_synth_create(&c, fhr, n4, mhr, NULL);
        fm_synth_add_event(sy, FM_SYNTH_EV_MATERNAL_ONLY, 0.0, 240.0, NAN);
        n = fm_synth_length(sy);
        float *x = malloc(n * sizeof *x);
        n = fm_synth_render(sy, x, n);
        tsig_out o;
        CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
        size_t ok = count_state(&o, 0, o.n, FM_STATE_OK);
        size_t mat = count_state(&o, 4 * 150, o.n, FM_STATE_MATERNAL);
        printf("     %g dB: %zu of %zu ok, %zu of %zu maternal at 118 bpm\n", snrs[s], ok, o.n, mat,
               o.n - 4 * 150);
        CHECKF(ok == 0, "%g dB: %zu of %zu ok", snrs[s], ok, o.n); /* was 5 at 5 dB */
        free(o.s);
        free(x);
        fm_synth_destroy(sy);
    }
    free(fhr);
    free(mhr);
}

/* CLINICAL 2 vs 4.1: a deceleration that descends gradually from the fetal baseline to 85 bpm
 * stays fetal (ok, at worst doubtful), never maternal. */
static void gradual_deceleration_stays_fetal(void)
{
    size_t n4 = 4 * 240, n;
    float *fhr = malloc(n4 * sizeof *fhr);
    for (size_t k = 0; k < n4; k++) {
        double t = k / 4.0;
        double d = t < 60    ? 0
                   : t < 100 ? (t - 60) / 40
                   : t < 160 ? 1
                   : t < 200 ? (200 - t) / 40
                             : 0;
        fhr[k] = (float)(140.0 - 55.0 * d + 2.0 * sin(t));
    }
    float *x = synth_render(fhr, n4, 8000, 15, 9, NULL, &n, NULL);
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    size_t low = 0, low_fetal = 0, low_ok = 0, low_mat = 0;
    for (size_t k = 0; k < o.n; k++) {
        if (fhr[k] >= 108.0f)
            continue;
        low++;
        low_fetal += o.s[k].state == FM_STATE_OK || o.s[k].state == FM_STATE_DOUBTFUL;
        low_ok += o.s[k].state == FM_STATE_OK;
        low_mat += o.s[k].state == FM_STATE_MATERNAL;
    }
    printf("     below 108 bpm: %zu samples, %zu ok, %zu doubtful, %zu maternal\n", low, low_ok,
           low_fetal - low_ok, low_mat);
    CHECK(low > 200);
    CHECKF(low_mat * 20 <= low, "%zu of %zu maternal", low_mat, low);
    CHECKF(low_fetal * 100 >= low * 85, "%zu of %zu ok or doubtful", low_fetal, low);
    free(o.s);
    free(x);
    free(fhr);
}

/* CLINICAL 2: contact lost, then the probe comes back on the mother only. */
static void resumption_at_maternal_level_is_not_ok(void)
{
    size_t n4 = 4 * 180, n;
    float *fhr = malloc(n4 * sizeof *fhr), *mhr = malloc(n4 * sizeof *mhr);
    for (size_t k = 0; k < n4; k++) {
        fhr[k] = 150.0f;
        mhr[k] = 88.0f;
    }
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.seed = 11;
    fm_synth *sy = fm_synth_create(&c, fhr, n4, mhr, NULL);
    fm_synth_add_event(sy, FM_SYNTH_EV_CONTACT_LOSS, 60.0, 10.0, NAN);
    fm_synth_add_event(sy, FM_SYNTH_EV_MATERNAL_ONLY, 70.0, 60.0, NAN);
    n = fm_synth_length(sy);
    float *x = malloc(n * sizeof *x);
    n = fm_synth_render(sy, x, n);
    tsig_out o;
    CHECK(tsig_run(x, n, 8000, NULL, 0, 0, &o) == 0);
    size_t ok_before = count_state(&o, 8, 4 * 58, FM_STATE_OK);
    size_t ok_mat = count_state(&o, 4 * 61, 4 * 130, FM_STATE_OK);
    size_t ok_after = count_state(&o, 4 * 133, n4 - 8, FM_STATE_OK);
    CHECKF(ok_before > 4 * 50 * 9 / 10, "%zu", ok_before);
    CHECKF(ok_mat == 0, "%zu ok samples in the contact loss + maternal stretch", ok_mat);
    CHECKF(ok_after > 4 * 39 * 8 / 10, "%zu", ok_after);
    free(o.s);
    free(x);
    free(fhr);
    free(mhr);
    fm_synth_destroy(sy);
}

int main(void)
{
    RUN(rejects_bad_arguments);
    RUN(emits_one_sample_per_250_ms);
    RUN(chunked_input_gives_bit_identical_output);
    RUN(silence_is_lost);
    RUN(white_noise_is_lost);
    RUN(clipping_is_lost);
    RUN(non_finite_samples_are_lost);
    RUN(probe_movement_is_lost);
    RUN(engines_run_on_concurrent_threads);
    RUN(maternal_only_recording_is_never_ok);
    RUN(gradual_deceleration_stays_fetal);
    RUN(resumption_at_maternal_level_is_not_ok);
    RUN(tachycardic_mother_is_never_ok);
    RUN(accurate_on_real_traces_at_moderate_noise);
    return CHECK_DONE();
}
