/* bench_doppler: accuracy of the Doppler engine across noise levels, on real FHR traces (FHRMA,
 * ../shared/data) rendered into Doppler audio by fm_synth, with a maternal-only stretch, a contact
 * loss and a probe movement in every recording. Prints one table row per SNR:
 *   SNR, % of ok samples within +-5 bpm, coverage (ok / fetal-present), % of maternal-only
 *   samples reported ok, halving/doubling runs > 5 s, mean |error|, % of noise-only (contact
 *   loss, movement) samples reported ok.
 * Usage: bench_doppler [--traces N] [--first I --step S (FHRMA trainI, I+S, ...; 1, 5)]
 *        [--minutes M] [--rate HZ] [--snr a,b,c] [--window S]
 *        [--band-lo HZ] [--band-hi HZ] [--split HZ] [--qmin Q] [--qok Q] [-v]
 * Without ../shared/data it uses synthetic traces (stated in the output). Not a test. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/doppler.h"
#include "fetalmon/trace.h"
#include "synth.h"

#define SHARED_DEFAULT "../shared/data"

typedef struct out_buf {
    size_t n, cap;
    fm_fhr_sample *s;
} out_buf;

static void sink(void *user, const fm_fhr_sample *s)
{
    out_buf *o = user;
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 4096;
        o->s = realloc(o->s, o->cap * sizeof *o->s);
        if (!o->s)
            abort();
    }
    o->s[o->n++] = *s;
}

typedef struct score {
    double fetal_n, covered, within5, abs_err, mat_n, mat_ok, noise_n, noise_ok, oct_runs;
    double longest_oct_s;
} score;

/* A clean excerpt: n4 samples with < 2 % gaps, all in 110..200, no jump > 25 bpm. Gaps are
 * kept as gaps (the fetal heart is then not audible: synth's "not_audible"). */
static int find_excerpt(const fm_trace *t, size_t n4, size_t *off)
{
    for (size_t o = 0; o + n4 <= t->n; o += 240) {
        size_t bad = 0;
        float prev = NAN;
        int jump = 0;
        for (size_t i = 0; i < n4 && !jump && bad <= n4 / 50; i++) {
            float v = t->fhr_bpm[o + i];
            if (!isfinite(v) || v < 110 || v > 200)
                bad++;
            else {
                jump = isfinite(prev) && fabsf(v - prev) > 25;
                prev = v;
            }
        }
        if (bad <= n4 / 50 && !jump) {
            *off = o;
            return 1;
        }
    }
    return 0;
}

static void run_one(const float *fhr, size_t n4, double rate, double snr_db, uint64_t seed,
                    const fm_doppler_config *cfg, score *sc, int verbose)
{
    fm_synth_config c;
    fm_synth_config_default(&c);
    c.rate_hz = rate;
    c.seed = seed;
    c.snr_db = snr_db;
    fm_status st;
    fm_synth *sy = fm_synth_create(&c, fhr, n4, NULL, &st);
    if (!sy) {
        fprintf(stderr, "fm_synth_create: %s\n", fm_strerror(st));
        exit(1);
    }
    double dur = n4 / 4.0;
    fm_synth_add_event(sy, FM_SYNTH_EV_MATERNAL_ONLY, 0.40 * dur, 60.0, NAN);
    fm_synth_add_event(sy, FM_SYNTH_EV_CONTACT_LOSS, 0.65 * dur, 15.0, NAN);
    fm_synth_add_event(sy, FM_SYNTH_EV_MOVEMENT, 0.80 * dur, 8.0, NAN);
    out_buf o = {0};
    fm_doppler *q = fm_doppler_create(rate, cfg, sink, &o);
    if (!q) {
        fprintf(stderr, "fm_doppler_create failed\n");
        exit(1);
    }
    float buf[8192];
    size_t got;
    while ((got = fm_synth_render(sy, buf, 8192)) > 0)
        fm_doppler_push(q, buf, got);
    fm_doppler_flush(q);
    fm_doppler_destroy(q);
    size_t run = 0;
    for (size_t k = 0; k < o.n && k < n4; k++) {
        fm_synth_truth tr;
        fm_synth_truth_at(sy, k, &tr);
        const fm_fhr_sample *s = &o.s[k];
        int ok = s->state == FM_STATE_OK;
        int oct = 0;
        if (ok && isfinite(tr.fhr_bpm)) {
            double r = s->fhr_bpm / tr.fhr_bpm;
            oct = fabs(r - 2.0) < 0.2 || fabs(r - 0.5) < 0.05;
        }
        run = oct ? run + 1 : 0;
        if (run / 4.0 > sc->longest_oct_s)
            sc->longest_oct_s = run / 4.0;
        if (run == 21)
            sc->oct_runs++;
        if (verbose > 1)
            printf("%.2f %s %.1f %.1f %.2f %.1f %s\n", k / 4.0, fm_synth_label_name(tr.label),
                   tr.fhr_bpm, tr.mhr_bpm, s->quality, s->fhr_bpm, fm_state_name(s->state));
        if (k < 8 || k + 8 >= n4)
            continue; /* incomplete windows at the edges */
        if (tr.label == FM_SYNTH_MATERNAL_ONLY) {
            sc->mat_n++;
            sc->mat_ok += ok;
        } else if (tr.label == FM_SYNTH_NO_CONTACT || tr.label == FM_SYNTH_MOVEMENT) {
            sc->noise_n++;
            sc->noise_ok += ok;
        } else if (tr.label == FM_SYNTH_FETAL && isfinite(tr.fhr_bpm)) {
            sc->fetal_n++;
            if (ok) {
                double e = fabs(s->fhr_bpm - tr.fhr_bpm);
                sc->covered++;
                sc->within5 += e <= 5.0;
                sc->abs_err += e;
            }
        }
    }
    free(o.s);
    fm_synth_destroy(sy);
}

int main(int argc, char **argv)
{
    int n_traces = 6, verbose = 0, first = 1, step = 5;
    double minutes = 10, rate = 8000;
    const char *snr_list = "30,20,15,10,5,0,-5";
    fm_doppler_config cfg;
    fm_doppler_config_default(&cfg);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-v"))
            verbose++;
        else if (!v) {
            fprintf(stderr, "bench_doppler: %s needs a value\n", a);
            return 2;
        } else if (!strcmp(a, "--traces"))
            n_traces = atoi(v), i++;
        else if (!strcmp(a, "--first"))
            first = atoi(v), i++;
        else if (!strcmp(a, "--step"))
            step = atoi(v), i++;
        else if (!strcmp(a, "--minutes"))
            minutes = atof(v), i++;
        else if (!strcmp(a, "--rate"))
            rate = atof(v), i++;
        else if (!strcmp(a, "--snr"))
            snr_list = v, i++;
        else if (!strcmp(a, "--window"))
            cfg.window_s = (float)atof(v), i++;
        else if (!strcmp(a, "--band-lo"))
            cfg.band_lo_hz = (float)atof(v), i++;
        else if (!strcmp(a, "--band-hi"))
            cfg.band_hi_hz = (float)atof(v), i++;
        else if (!strcmp(a, "--split"))
            cfg.band_split_hz = (float)atof(v), i++;
        else if (!strcmp(a, "--qmin"))
            cfg.quality_min = (float)atof(v), i++;
        else if (!strcmp(a, "--qok"))
            cfg.quality_ok = (float)atof(v), i++;
        else {
            fprintf(stderr, "bench_doppler: unknown option %s\n", a);
            return 2;
        }
    }
    size_t n4 = (size_t)(minutes * 240.0);
    const char *data = getenv("FM_SHARED_DATA") ? getenv("FM_SHARED_DATA") : SHARED_DEFAULT;
    /* Traces: FHRMA training records first, first + step, ... that have a clean excerpt. */
    float **fhr = calloc((size_t)n_traces, sizeof *fhr);
    char(*names)[64] = calloc((size_t)n_traces, sizeof *names);
    int have = 0;
    for (int idx = first; idx <= 66 && have<n_traces; idx += step> 0 ? step : 1) {
        char path[4200];
        snprintf(path, sizeof path, "%s/fhrma/train/train%02d.fhr", data, idx);
        fm_trace *t = NULL;
        size_t off;
        if (fm_trace_read(path, FM_TRACE_FHR, &t, NULL, 0) != FM_OK)
            continue;
        if (find_excerpt(t, n4, &off)) {
            fhr[have] = malloc(n4 * sizeof **fhr);
            memcpy(fhr[have], t->fhr_bpm + off, n4 * sizeof **fhr);
            snprintf(names[have], sizeof names[have], "train%02d@%zus", idx, off / 4);
            have++;
        }
        fm_trace_destroy(t);
    }
    if (have == 0) {
        printf("# ../shared/data absent: synthetic traces (140 bpm +- 10, decelerations)\n");
        for (; have < n_traces; have++) {
            fhr[have] = malloc(n4 * sizeof **fhr);
            for (size_t k = 0; k < n4; k++) {
                double tmin = k / 240.0;
                double d = fmod(tmin, 5.0) > 3.0 && fmod(tmin, 5.0) < 4.0
                               ? 40.0 * sin(M_PI * (fmod(tmin, 5.0) - 3.0))
                               : 0.0;
                fhr[have][k] = (float)(130 + 5 * have + 8 * sin(k / 50.0 + have) - d);
            }
            snprintf(names[have], sizeof names[have], "synthetic%d", have);
        }
    }
    printf("# bench_doppler: %d recordings x %.0f min at %.0f Hz (fm_synth defaults; each with "
           "60 s maternal-only, 15 s contact loss, 8 s movement)\n#",
           have, minutes, rate);
    for (int i = 0; i < have; i++)
        printf(" %s", names[i]);
    printf("\n# engine: window %.1f s, band %.0f-%.0f Hz, split %.0f Hz, quality_min %.2f, "
           "quality_ok %.2f\n",
           cfg.window_s, cfg.band_lo_hz, cfg.band_hi_hz, cfg.band_split_hz, cfg.quality_min,
           cfg.quality_ok);
    printf("| SNR dB | within 5 bpm %% | coverage %% | maternal-only ok %% | noise/movement ok %% "
           "| halving/doubling runs > 5 s | mean abs err bpm |\n");
    printf("|---:|---:|---:|---:|---:|---:|---:|\n");
    char list[256];
    snprintf(list, sizeof list, "%s", snr_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        double snr = atof(tok);
        score sc = {0};
        for (int i = 0; i < have; i++)
            run_one(fhr[i], n4, rate, snr, 1000 + (uint64_t)i, &cfg, &sc, verbose);
        printf("| %g | %.2f | %.1f | %.2f | %.2f | %.0f | %.2f |\n", snr,
               sc.covered ? 100.0 * sc.within5 / sc.covered : 0.0,
               sc.fetal_n ? 100.0 * sc.covered / sc.fetal_n : 0.0,
               sc.mat_n ? 100.0 * sc.mat_ok / sc.mat_n : 0.0,
               sc.noise_n ? 100.0 * sc.noise_ok / sc.noise_n : 0.0, sc.oct_runs,
               sc.covered ? sc.abs_err / sc.covered : 0.0);
        fflush(stdout);
    }
    for (int i = 0; i < have; i++)
        free(fhr[i]);
    free(fhr);
    free(names);
    return 0;
}
