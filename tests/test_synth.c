/* Tests of fm_synth, the synthetic Doppler generator that is the ground truth of the engine's
 * tests and benchmarks: determinism (chunking, seeds), beat timing against the truth, the
 * maternal-only and contact-loss stretches, clipping, sample rates and bad configurations.
 * The checks measure the rendered audio with plain signal processing written here (energy
 * envelopes, band energy via Goertzel-free FIR band-pass), never with the engine. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "synth.h"

static float *const_trace(size_t n, float bpm)
{
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++)
        f[i] = bpm;
    return f;
}

static fm_synth *make(double rate, uint64_t seed, const float *fhr, size_t n, double snr_db)
{
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.rate_hz = rate;
    c.seed = seed;
    c.snr_db = snr_db;
    return fm_synth_create(&c, fhr, n, NULL, NULL);
}

static float *render_all(fm_synth *q, size_t *len)
{
    size_t n = fm_synth_length(q);
    float *x = malloc(n * sizeof *x);
    *len = fm_synth_render(q, x, n);
    return x;
}

static void add_all_events(fm_synth *q)
{
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_MATERNAL_ONLY, 3.0, 4.0, NAN) == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CONTACT_LOSS, 8.0, 1.5, NAN) == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_MOVEMENT, 10.0, 2.0, NAN) == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CLIP, 13.0, 1.0, NAN) == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_NOISE_BURST, 15.0, 1.0, NAN) == FM_OK);
}

static void chunked_render_is_bit_identical_to_one_block(void)
{
    const double rates[] = {8000.0, 44100.0};
    for (int r = 0; r < 2; r++) {
        size_t n = 4 * 20;
        float *fhr = const_trace(n, 150.0f);
        for (size_t i = 0; i < n; i++)
            fhr[i] = 130.0f + 0.5f * (float)i; /* changing rate */
        fhr[30] = NAN;
        fm_synth_config c;
        fm_synth_config_default(&c);
        c.rate_hz = rates[r];
        c.seed = 11;
        if (r == 1) { /* every optional stage on */
            c.speaker_hp_hz = 250;
            c.agc_s = 1.0;
            c.hum_hz = 50;
            c.probe_mhz = 3.0;
        }
        fm_synth *a = fm_synth_create(&c, fhr, n, NULL, NULL);
        fm_synth *b = fm_synth_create(&c, fhr, n, NULL, NULL);
        add_all_events(a);
        add_all_events(b);
        size_t la;
        float *xa = render_all(a, &la);
        float *xb = malloc(la * sizeof *xb);
        uint64_t lcg = 12345;
        size_t pos = 0, got;
        do {
            lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
            size_t want = 1 + (size_t)((lcg >> 33) % 5000);
            got = fm_synth_render(b, xb + pos, want < la - pos ? want : la - pos);
            pos += got;
        } while (got > 0 && pos < la);
        CHECK(pos == la);
        CHECK(fm_synth_render(b, xb, 10) == 0);
        CHECK(memcmp(xa, xb, la * sizeof *xa) == 0);
        fm_synth_destroy(a);
        fm_synth_destroy(b);
        free(xa);
        free(xb);
        free(fhr);
    }
}

static void same_seed_is_identical_and_another_seed_differs(void)
{
    size_t n = 40;
    float *fhr = const_trace(n, 140.0f);
    fm_synth *a = make(8000, 5, fhr, n, 20), *b = make(8000, 5, fhr, n, 20),
             *c = make(8000, 6, fhr, n, 20);
    size_t la, lb, lc;
    float *xa = render_all(a, &la), *xb = render_all(b, &lb), *xc = render_all(c, &lc);
    CHECK(la == 80000 && lb == la && lc == la);
    CHECK(memcmp(xa, xb, la * sizeof *xa) == 0);
    size_t same = 0;
    for (size_t i = 0; i < la; i++)
        same += xa[i] == xc[i];
    CHECKF(same < la / 100, "%zu of %zu samples equal", same, la);
    fm_synth_destroy(a), fm_synth_destroy(b), fm_synth_destroy(c);
    free(xa), free(xb), free(xc), free(fhr);
}

/* Energy envelope at 100 Hz (10 ms mean of squares), mean removed. */
static double *envelope(const float *x, size_t len, double rate, size_t from_s, size_t to_s,
                        size_t *ne)
{
    size_t hop = (size_t)(rate / 100.0), n0 = from_s * 100, n1 = to_s * 100;
    double *e = calloc(n1 - n0, sizeof *e), mean = 0;
    for (size_t k = n0; k < n1; k++) {
        for (size_t j = 0; j < hop && k * hop + j < len; j++)
            e[k - n0] += (double)x[k * hop + j] * x[k * hop + j];
        mean += e[k - n0];
    }
    mean /= (double)(n1 - n0);
    for (size_t k = 0; k < n1 - n0; k++)
        e[k] -= mean;
    *ne = n1 - n0;
    return e;
}

/* Strength of the envelope's periodicity at bpm (magnitude of its Fourier coefficient). */
static double periodicity(const double *e, size_t ne, double bpm)
{
    double w = 2.0 * M_PI * bpm / 60.0 / 100.0, re = 0, im = 0;
    for (size_t k = 0; k < ne; k++) {
        re += e[k] * cos(w * (double)k);
        im += e[k] * sin(w * (double)k);
    }
    return sqrt(re * re + im * im);
}

static double strongest_rate(const double *e, size_t ne, double lo, double hi)
{
    double best = 0, best_bpm = 0;
    for (double b = lo; b <= hi; b += 0.1) {
        double p = periodicity(e, ne, b);
        if (p > best)
            best = p, best_bpm = b;
    }
    return best_bpm;
}

static void beats_follow_a_constant_140_bpm(void)
{
    size_t n = 4 * 60;
    float *fhr = const_trace(n, 140.0f);
    fm_synth *q = make(8000, 3, fhr, n, 25);
    size_t len, ne;
    float *x = render_all(q, &len);
    fm_synth_stats st;
    fm_synth_get_stats(q, &st);
    CHECKF(st.fetal_beats >= 139 && st.fetal_beats <= 141, "%llu beats in 60 s",
           (unsigned long long)st.fetal_beats);
    double *e = envelope(x, len, 8000, 0, 60, &ne);
    double bpm = strongest_rate(e, ne, 60, 240);
    CHECKF(fabs(bpm - 140.0) <= 2.8, "envelope periodicity at %.1f bpm", bpm);
    fm_synth_destroy(q);
    free(x), free(e), free(fhr);
}

static void audio_rhythm_follows_a_step_in_the_trace_at_the_right_time(void)
{
    size_t n = 4 * 60;
    float *fhr = const_trace(n, 120.0f);
    for (size_t i = 4 * 30; i < n; i++)
        fhr[i] = 160.0f;
    fm_synth *q = make(8000, 21, fhr, n, 25);
    size_t len, ne;
    float *x = render_all(q, &len);
    double *e1 = envelope(x, len, 8000, 5, 29, &ne);
    double b1 = strongest_rate(e1, ne, 60, 240);
    double *e2 = envelope(x, len, 8000, 31, 55, &ne);
    double b2 = strongest_rate(e2, ne, 60, 240);
    CHECKF(fabs(b1 - 120.0) <= 2.4 && fabs(b2 - 160.0) <= 3.2, "%.1f then %.1f bpm", b1, b2);
    fm_synth_destroy(q);
    free(x), free(e1), free(e2), free(fhr);
}

static void beat_count_is_the_integral_of_a_changing_trace(void)
{
    size_t n = 4 * 90;
    float *fhr = malloc(n * sizeof *fhr);
    double integral = 0;
    for (size_t i = 0; i < n; i++) {
        fhr[i] = 110.0f + 60.0f * (float)sin(M_PI * (double)i / (double)n); /* 110-170-110 */
        if (i > 0)
            integral += 0.25 * (fhr[i] + fhr[i - 1]) / 2.0 / 60.0;
    }
    fm_synth *q = make(4000, 9, fhr, n, 20);
    size_t len;
    float *x = render_all(q, &len);
    fm_synth_stats st;
    fm_synth_get_stats(q, &st);
    CHECKF(fabs((double)st.fetal_beats - integral) <= 2.0, "%llu beats, integral %.1f",
           (unsigned long long)st.fetal_beats, integral);
    fm_synth_destroy(q);
    free(x), free(fhr);
}

/* Power of x[a..b) in 600-1800 Hz: fetal valves and flow live there, maternal vessels and
 * rumble do not. A windowed-sinc band-pass, 255 taps. */
static double band_power(const float *x, size_t a, size_t b, double rate)
{
    enum { TAPS = 255 };
    double h[TAPS], f1 = 600.0 / rate, f2 = 1800.0 / rate, p = 0;
    for (int i = 0; i < TAPS; i++) {
        double m = i - (TAPS - 1) / 2.0;
        double s =
            m == 0 ? 2 * (f2 - f1) : (sin(2 * M_PI * f2 * m) - sin(2 * M_PI * f1 * m)) / (M_PI * m);
        h[i] = s * (0.54 - 0.46 * cos(2 * M_PI * i / (TAPS - 1)));
    }
    for (size_t k = a + TAPS; k < b; k++) {
        double y = 0;
        for (int i = 0; i < TAPS; i++)
            y += h[i] * x[k - (size_t)i];
        p += y * y;
    }
    return p / (double)(b - a - TAPS);
}

static void maternal_only_stretch_has_no_fetal_component(void)
{
    size_t n = 4 * 60;
    float *fhr = const_trace(n, 140.0f), *mhr = const_trace(n, 88.0f), *none = const_trace(n, NAN);
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.snr_db = 40;
    fm_synth *q = fm_synth_create(&c, fhr, n, mhr, NULL);
    /* the same recording of a mother with no audible fetus at all */
    fm_synth *ref = fm_synth_create(&c, none, n, mhr, NULL);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_MATERNAL_ONLY, 20.0, 20.0, NAN) == FM_OK);
    CHECK(fm_synth_add_event(ref, FM_SYNTH_EV_MATERNAL_ONLY, 20.0, 20.0, NAN) == FM_OK);
    for (size_t k = 0; k < n; k++) {
        fm_synth_truth t;
        CHECK(fm_synth_truth_at(q, k, &t) == FM_OK);
        double ts = (double)k * 0.25;
        if (ts > 20.2 && ts < 39.8)
            CHECK(t.label == FM_SYNTH_MATERNAL_ONLY && !t.fetal_audible && t.mhr_bpm == 88.0f);
        if (ts < 19.8 || ts > 40.2)
            CHECK(t.label == FM_SYNTH_FETAL && t.fetal_audible && t.fhr_bpm == 140.0f);
    }
    size_t len, lref, ne;
    float *x = render_all(q, &len), *xr = render_all(ref, &lref);
    /* inside the stretch, not one bit of the fetal heart: identical to the fetus-free take */
    CHECK(len == lref && memcmp(x + 21 * 8000, xr + 21 * 8000, 18 * 8000 * sizeof *x) == 0);
    double in = band_power(x, 22 * 8000, 38 * 8000, 8000);
    double out = band_power(x, 2 * 8000, 18 * 8000, 8000);
    /* what remains above 600 Hz is the tail of the (6 dB louder) maternal whoosh */
    CHECKF(10 * log10(in / out) < -10.0, "fetal band %.1f dB inside vs outside",
           10 * log10(in / out));
    double *e = envelope(x, len, 8000, 22, 38, &ne);
    double bpm = strongest_rate(e, ne, 50, 240);
    CHECKF(fabs(bpm - 88.0) < 2.0 || fabs(bpm - 176.0) < 3.0, "maternal-only periodicity %.1f",
           bpm);
    /* relative strength of a 140 bpm rhythm: inside the stretch vs in the fetal part */
    double *ef = envelope(x, len, 8000, 2, 18, &ne);
    double rel_in = periodicity(e, ne, 140.0), rel_out = periodicity(ef, ne, 140.0), ni = 0, no = 0;
    for (size_t k = 0; k < ne; k++)
        ni += e[k] * e[k], no += ef[k] * ef[k];
    rel_in /= sqrt(ni), rel_out /= sqrt(no);
    if (getenv("FM_SYNTH_VERBOSE"))
        printf("140 bpm rhythm %.3f inside, %.3f outside\n", rel_in, rel_out);
    CHECKF(rel_in < 0.4 * rel_out, "140 bpm rhythm %.3f inside, %.3f outside", rel_in, rel_out);
    fm_synth_destroy(q);
    fm_synth_destroy(ref);
    free(x), free(xr), free(e), free(ef), free(fhr), free(mhr), free(none);
}

static void contact_loss_leaves_only_hiss(void)
{
    size_t n = 4 * 20;
    float *fhr = const_trace(n, 140.0f);
    fm_synth *q = make(8000, 4, fhr, n, 20);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CONTACT_LOSS, 8.0, 6.0, NAN) == FM_OK);
    size_t len;
    float *x = render_all(q, &len);
    double pin = 0, pout = 0;
    for (size_t i = 9 * 8000; i < 13 * 8000; i++)
        pin += (double)x[i] * x[i];
    for (size_t i = 2 * 8000; i < 6 * 8000; i++)
        pout += (double)x[i] * x[i];
    /* receiver noise is 20 dB under the fetal power: the stretch is >= 15 dB quieter */
    CHECKF(10 * log10(pin / pout) < -15.0, "%.1f dB", 10 * log10(pin / pout));
    fm_synth_truth t;
    fm_synth_truth_at(q, 40, &t);
    CHECK(t.label == FM_SYNTH_NO_CONTACT && !t.fetal_audible);
    fm_synth_destroy(q);
    free(x), free(fhr);
}

static double power(const float *x, size_t a, size_t b)
{
    double p = 0;
    for (size_t i = a; i < b; i++)
        p += (double)x[i] * x[i];
    return p / (double)(b - a);
}

static void recorder_agc_raises_the_hiss_of_contact_loss(void)
{
    size_t n = 4 * 30;
    float *fhr = const_trace(n, 140.0f);
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.agc_s = 0.5;
    fm_synth *q = fm_synth_create(&c, fhr, n, NULL, NULL);
    c.agc_s = 0;
    fm_synth *plain = fm_synth_create(&c, fhr, n, NULL, NULL);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CONTACT_LOSS, 10.0, 15.0, NAN) == FM_OK);
    CHECK(fm_synth_add_event(plain, FM_SYNTH_EV_CONTACT_LOSS, 10.0, 15.0, NAN) == FM_OK);
    size_t len;
    float *x = render_all(q, &len), *y = render_all(plain, &len);
    double agc_in = power(x, 20 * 8000, 24 * 8000), plain_in = power(y, 20 * 8000, 24 * 8000);
    double agc_out = power(x, 4 * 8000, 9 * 8000), plain_out = power(y, 4 * 8000, 9 * 8000);
    /* without AGC the hiss is ~20 dB down; the AGC brings it back near the signal level */
    CHECKF(10 * log10(plain_in / plain_out) < -15.0, "plain %.1f dB",
           10 * log10(plain_in / plain_out));
    CHECKF(10 * log10(agc_in / agc_out) > -8.0, "agc %.1f dB", 10 * log10(agc_in / agc_out));
    fm_synth_destroy(q);
    fm_synth_destroy(plain);
    free(x), free(y), free(fhr);
}

static void loudspeaker_path_loses_the_low_frequencies(void)
{
    size_t n = 4 * 20;
    float *fhr = const_trace(n, 140.0f);
    fm_synth_config c;
    fm_synth_config_default(&c);
    fm_synth *line = fm_synth_create(&c, fhr, n, NULL, NULL);
    c.speaker_hp_hz = 250;
    fm_synth *spk = fm_synth_create(&c, fhr, n, NULL, NULL);
    size_t len;
    float *x = render_all(line, &len), *y = render_all(spk, &len);
    /* energy below ~80 Hz: four cascaded one-pole low-passes at 60 Hz */
    double lx = 0, ly = 0, sx[4] = {0}, sy[4] = {0}, a = exp(-2 * M_PI * 60.0 / 8000.0);
    for (size_t i = 0; i < len; i++) {
        double ux = x[i], uy = y[i];
        for (int k = 0; k < 4; k++) {
            ux = sx[k] = a * sx[k] + (1 - a) * ux;
            uy = sy[k] = a * sy[k] + (1 - a) * uy;
        }
        lx += ux * ux;
        ly += uy * uy;
    }
    CHECKF(10 * log10(ly / lx) < -15.0, "low band %.1f dB", 10 * log10(ly / lx));
    fm_synth_destroy(line);
    fm_synth_destroy(spk);
    free(x), free(y), free(fhr);
}

static void output_is_finite_bounded_and_clipping_saturates_exactly(void)
{
    size_t n = 4 * 30;
    float *fhr = const_trace(n, 135.0f);
    fm_synth *q = make(8000, 8, fhr, n, 10);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CLIP, 10.0, 5.0, 30.0) == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_MOVEMENT, 20.0, 3.0, NAN) == FM_OK);
    size_t len, sat_in = 0, sat_out = 0;
    float *x = render_all(q, &len);
    int ok = 1;
    for (size_t i = 0; i < len; i++) {
        ok &= isfinite(x[i]) && x[i] >= -1.0f && x[i] <= 1.0f;
        int sat = x[i] == 1.0f || x[i] == -1.0f;
        if (i >= 10 * 8000 && i < 15 * 8000)
            sat_in += sat;
        else if (i < 20 * 8000)
            sat_out += sat;
    }
    CHECK(ok);
    CHECKF(sat_in > 5 * 8000 / 20, "%zu saturated samples in the clip stretch", sat_in);
    CHECKF(sat_out == 0, "%zu saturated samples outside", sat_out);
    fm_synth_stats st;
    fm_synth_get_stats(q, &st);
    CHECK(st.clipped_samples >= sat_in);
    fm_synth_truth t;
    fm_synth_truth_at(q, 50, &t);
    CHECK(t.label == FM_SYNTH_CLIPPED && t.fetal_audible);
    fm_synth_truth_at(q, 85, &t);
    CHECK(t.label == FM_SYNTH_MOVEMENT && (t.flags & FM_SYNTH_F_MOVEMENT));
    fm_synth_destroy(q);
    free(x), free(fhr);
}

static void rates_4k_and_192k_work(void)
{
    const double rates[] = {4000.0, 192000.0};
    for (int r = 0; r < 2; r++) {
        size_t n = 4 * 10;
        float *fhr = const_trace(n, 140.0f);
        fm_synth *q = make(rates[r], 2, fhr, n, 20);
        CHECK(q && fm_synth_length(q) == (size_t)(10 * rates[r]));
        size_t len, ne;
        float *x = render_all(q, &len);
        CHECK(len == (size_t)(10 * rates[r]));
        int ok = 1;
        for (size_t i = 0; i < len; i++)
            ok &= isfinite(x[i]) && fabsf(x[i]) <= 1.0f;
        CHECK(ok);
        double *e = envelope(x, len, rates[r], 0, 10, &ne);
        double bpm = strongest_rate(e, ne, 60, 240);
        CHECKF(fabs(bpm - 140.0) < 5.0, "rate %.0f: periodicity %.1f", rates[r], bpm);
        fm_synth_destroy(q);
        free(x), free(e), free(fhr);
    }
}

static void gaps_in_the_trace_are_not_audible(void)
{
    size_t n = 4 * 20;
    float *fhr = const_trace(n, 140.0f);
    for (size_t i = 40; i < 60; i++)
        fhr[i] = (i & 1) ? NAN : 0.0f;
    fm_synth *q = make(8000, 12, fhr, n, 40);
    fm_synth_truth t;
    fm_synth_truth_at(q, 50, &t);
    CHECK(t.label == FM_SYNTH_NOT_AUDIBLE && !t.fetal_audible && isnan(t.fhr_bpm));
    fm_synth_truth_at(q, 20, &t);
    CHECK(t.label == FM_SYNTH_FETAL && t.fhr_bpm == 140.0f);
    size_t len;
    float *x = render_all(q, &len);
    double in = band_power(x, (size_t)(10.8 * 8000), (size_t)(14.4 * 8000), 8000);
    double out = band_power(x, 2 * 8000, 8 * 8000, 8000);
    CHECKF(10 * log10(in / out) < -20.0, "gap %.1f dB", 10 * log10(in / out));
    fm_synth_destroy(q);
    free(x), free(fhr);
}

static void default_maternal_rate_is_plausible(void)
{
    size_t n = 4 * 600;
    float *fhr = const_trace(n, 140.0f);
    for (uint64_t seed = 1; seed <= 5; seed++) {
        fm_synth *q = make(8000, seed, fhr, n, 20);
        for (size_t k = 0; k < n; k += 7) {
            fm_synth_truth t;
            fm_synth_truth_at(q, k, &t);
            CHECK(t.mhr_bpm >= 60.0f && t.mhr_bpm <= 110.0f);
        }
        fm_synth_destroy(q);
    }
    free(fhr);
}

static void given_maternal_rate_is_used_and_its_gaps_interpolated(void)
{
    size_t n = 40;
    float *fhr = const_trace(n, 140.0f), *mhr = const_trace(n, NAN);
    mhr[10] = 80.0f;
    mhr[20] = 100.0f;
    fm_synth_config c;
    fm_synth_config_default(&c);
    fm_synth *q = fm_synth_create(&c, fhr, n, mhr, NULL);
    fm_synth_truth t;
    fm_synth_truth_at(q, 0, &t);
    CHECK(t.mhr_bpm == 80.0f);
    fm_synth_truth_at(q, 15, &t);
    CHECK(fabsf(t.mhr_bpm - 90.0f) < 1e-4f);
    fm_synth_truth_at(q, 39, &t);
    CHECK(t.mhr_bpm == 100.0f);
    fm_synth_destroy(q);
    free(fhr), free(mhr);
}

static void random_disturbances_are_seeded_and_labelled(void)
{
    size_t n = 4 * 600;
    float *fhr = const_trace(n, 140.0f);
    fm_synth *a = make(4000, 1, fhr, n, 20), *b = make(4000, 1, fhr, n, 20);
    CHECK(fm_synth_add_random_events(a, 77, 4.0) == FM_OK);
    CHECK(fm_synth_add_random_events(b, 77, 4.0) == FM_OK);
    CHECK(fm_synth_add_random_events(b, 77, 25.0) == FM_EINVAL);
    size_t counts[FM_SYNTH_LABEL_COUNT] = {0};
    int same = 1;
    for (size_t k = 0; k < n; k++) {
        fm_synth_truth ta, tb;
        fm_synth_truth_at(a, k, &ta);
        fm_synth_truth_at(b, k, &tb);
        same &= ta.label == tb.label && ta.flags == tb.flags;
        counts[ta.label]++;
    }
    CHECK(same);
    /* 10 minutes at 4 per minute: every kind shows up, fetal stays the majority */
    CHECK(counts[FM_SYNTH_MOVEMENT] > 0 && counts[FM_SYNTH_NO_CONTACT] > 0);
    CHECK(counts[FM_SYNTH_MATERNAL_ONLY] > 0 && counts[FM_SYNTH_FETAL] > n / 3);
    fm_synth_destroy(a);
    fm_synth_destroy(b);
    free(fhr);
}

static void noise_only_channel_has_no_heart(void)
{
    size_t n = 40;
    float *fhr = const_trace(n, 140.0f);
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.noise_only = 1;
    fm_synth *q = fm_synth_create(&c, fhr, n, NULL, NULL);
    size_t len;
    float *x = render_all(q, &len);
    fm_synth_stats st;
    fm_synth_get_stats(q, &st);
    CHECK(st.fetal_beats == 0 && st.maternal_beats == 0);
    double p = 0;
    for (size_t i = 0; i < len; i++)
        p += (double)x[i] * x[i];
    p /= (double)len;
    /* receiver noise only: fetal_dbfs - snr_db = -50 dBFS */
    CHECKF(fabs(10 * log10(p) + 50.0) < 1.5, "%.1f dBFS", 10 * log10(p));
    fm_synth_destroy(q);
    free(x), free(fhr);
}

/* The same inputs must give the same bits on every machine and build (optimised, sanitised,
 * other CPUs): this fingerprint of a short render with every event type was recorded once.
 * It changes only when the signal model itself is changed on purpose; then record it again
 * (FM_SYNTH_PRINT_HASH=1 prints it) and say so in the commit. */
#define GOLDEN_HASH 0xef0812a27ae2a3beULL
static void output_fingerprint_is_stable_across_machines(void)
{
    size_t n = 4 * 20;
    float *fhr = const_trace(n, 0);
    for (size_t i = 0; i < n; i++)
        fhr[i] = 120.0f + (float)(i % 37);
    fm_synth *q = make(8000, 42, fhr, n, 15);
    add_all_events(q);
    size_t len;
    float *x = render_all(q, &len);
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a over the float bits */
    for (size_t i = 0; i < len; i++) {
        uint32_t b;
        memcpy(&b, &x[i], 4);
        for (int k = 0; k < 4; k++)
            h = (h ^ ((b >> (8 * k)) & 0xff)) * 0x100000001b3ULL;
    }
    if (getenv("FM_SYNTH_PRINT_HASH"))
        printf("fingerprint 0x%016llxULL\n", (unsigned long long)h);
    CHECKF(h == GOLDEN_HASH, "fingerprint 0x%016llx", (unsigned long long)h);
    fm_synth_destroy(q);
    free(x), free(fhr);
}

static void invalid_config_is_refused(void)
{
    float fhr[8] = {140, 140, 140, 140, 140, 140, 140, 140};
    fm_synth_config c;
    fm_status st = FM_OK;
    fm_synth_config_default(&c);
    c.rate_hz = 3999;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, &st) && st == FM_EINVAL);
    c.rate_hz = 192001;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    c.rate_hz = NAN;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    fm_synth_config_default(&c);
    c.snr_db = NAN;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    fm_synth_config_default(&c);
    c.hum_hz = 5000; /* above 0.45 x 8 kHz */
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    fm_synth_config_default(&c);
    c.probe_mhz = 0.5;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    fm_synth_config_default(&c);
    c.agc_s = -1;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    fm_synth_config_default(&c);
    c.speaker_hp_hz = 10;
    CHECK(!fm_synth_create(&c, fhr, 8, NULL, NULL));
    fm_synth_config_default(&c);
    CHECK(!fm_synth_create(&c, fhr, 0, NULL, NULL));
    CHECK(!fm_synth_create(&c, NULL, 8, NULL, NULL));
    CHECK(!fm_synth_create(NULL, fhr, 8, NULL, NULL));
    fm_synth *q = fm_synth_create(&c, fhr, 8, NULL, &st);
    CHECK(q && st == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_COUNT, 0, 1, NAN) == FM_EINVAL);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CLIP, -1, 1, NAN) == FM_EINVAL);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CLIP, 0, 0, NAN) == FM_EINVAL);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CLIP, 0, INFINITY, NAN) == FM_EINVAL);
    /* absurdly long or late events are fine: only the rendered length is worked on */
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_MOVEMENT, 0.5, 1e12, NAN) == FM_OK);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_MOVEMENT, 1e9, 10, NAN) == FM_OK);
    fm_synth_truth t;
    CHECK(fm_synth_truth_at(q, 8, &t) == FM_EINVAL);
    float buf[16];
    CHECK(fm_synth_render(q, buf, 16) == 16);
    CHECK(fm_synth_add_event(q, FM_SYNTH_EV_CLIP, 0, 1, NAN) == FM_EINVAL); /* too late */
    fm_synth_destroy(q);
    fm_synth_destroy(NULL);
    CHECK(fm_synth_render(NULL, buf, 16) == 0);
}

int main(void)
{
    RUN(chunked_render_is_bit_identical_to_one_block);
    RUN(same_seed_is_identical_and_another_seed_differs);
    RUN(beats_follow_a_constant_140_bpm);
    RUN(audio_rhythm_follows_a_step_in_the_trace_at_the_right_time);
    RUN(beat_count_is_the_integral_of_a_changing_trace);
    RUN(maternal_only_stretch_has_no_fetal_component);
    RUN(contact_loss_leaves_only_hiss);
    RUN(recorder_agc_raises_the_hiss_of_contact_loss);
    RUN(loudspeaker_path_loses_the_low_frequencies);
    RUN(output_is_finite_bounded_and_clipping_saturates_exactly);
    RUN(rates_4k_and_192k_work);
    RUN(gaps_in_the_trace_are_not_audible);
    RUN(default_maternal_rate_is_plausible);
    RUN(given_maternal_rate_is_used_and_its_gaps_interpolated);
    RUN(random_disturbances_are_seeded_and_labelled);
    RUN(noise_only_channel_has_no_heart);
    RUN(output_fingerprint_is_stable_across_machines);
    RUN(invalid_config_is_refused);
    return CHECK_DONE();
}
