/* Tests of the false-signal detector (dsp/falsesig*.c): it flags maternal, halved and doubled
 * stretches spliced into real fetal traces, leaves the experts' true-signal parts of real
 * recordings essentially unflagged, gives the same answer streamed in chunks as in one batch,
 * and survives empty, all-missing and absurd input. The real traces come from the FHRMA
 * false-signal dataset (../shared/data/fsdataset, Boudet et al., Biosensors 2022, GPL-3); the
 * tests that need it skip with a message when it is absent. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dsp/falsesig_internal.h"
#include "check.h"
#include "fetalmon/falsesig.h"
#include "fetalmon/trace.h"

#define N_CLEAN_FILES 10
#define SPLICE_SAMPLES (2 * 60 * FM_FHR_RATE_HZ) /* the issue: replace 2 minutes */

/* ---- dataset helpers ----------------------------------------------------------------------- */

typedef struct ann {
    char name[64];
    long ts[512][2], fs[512][2]; /* 1-based inclusive, as annotations.jsonl */
    size_t n_ts, n_fs;
} ann;

static size_t parse_iv(const char *line, const char *key, long (*iv)[2], size_t cap)
{
    const char *p = strstr(line, key);
    if (!p || !(p = strchr(p, '[')))
        return 0;
    p++;
    size_t n = 0;
    while (n < cap) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p != '[')
            break;
        char *e;
        double a = strtod(p + 1, &e);
        while (*e == ' ' || *e == ',')
            e++;
        double b = strtod(e, &e);
        iv[n][0] = lround(a);
        iv[n][1] = lround(b);
        n++;
        p = strchr(e, ']');
        if (!p)
            break;
        p++;
    }
    return n;
}

/* The first n annotation lines of the dataset. */
static size_t read_anns(const char *data, ann *out, size_t n)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/fsdataset/annotations.jsonl", data);
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    static char line[1 << 20];
    size_t k = 0;
    while (k < n && fgets(line, sizeof line, f)) {
        const char *q = strstr(line, "\"filename\": \"");
        if (!q)
            continue;
        q += 13;
        size_t j = 0;
        while (q[j] && q[j] != '"' && j + 1 < sizeof out[k].name) {
            out[k].name[j] = q[j];
            j++;
        }
        out[k].name[j] = 0;
        out[k].n_ts = parse_iv(line, "\"ts_fhr\"", out[k].ts, 512);
        out[k].n_fs = parse_iv(line, "\"fs_fhr\"", out[k].fs, 512);
        k++;
    }
    fclose(f);
    return k;
}

static fm_trace *read_rec(const char *data, const char *name)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/fsdataset/DopMHR/Train/%s", data, name);
    fm_trace *t = NULL;
    fm_trace_read(path, FM_TRACE_FHRM, &t, NULL, 0);
    return t;
}

/* 1 true-signal sample, 0 false, -1 unannotated (false marks win). */
static void truth(const ann *a, size_t n, int8_t *y)
{
    memset(y, -1, n);
    for (size_t i = 0; i < a->n_ts; i++)
        for (long s = a->ts[i][0]; s <= a->ts[i][1] && s <= (long)n; s++)
            if (s >= 1)
                y[s - 1] = 1;
    for (size_t i = 0; i < a->n_fs; i++)
        for (long s = a->fs[i][0]; s <= a->fs[i][1] && s <= (long)n; s++)
            if (s >= 1)
                y[s - 1] = 0;
}

/* Start of the first run of `len` samples that experts marked true, at least 10 min after
 * the start of the record (the detector's reference level), with signal and MHR in >= 80 %. */
static long clean_run(const ann *a, const fm_trace *t, const int8_t *y, size_t len)
{
    size_t start = 10 * 60 * FM_FHR_RATE_HZ;
    for (size_t s = start; s + len + 60 * FM_FHR_RATE_HZ < t->n; s += FM_FHR_RATE_HZ * 30) {
        size_t ok = 0, mhr = 0, bad = 0;
        for (size_t i = s - 60 * FM_FHR_RATE_HZ; i < s + len + 60 * FM_FHR_RATE_HZ; i++) {
            bad += y[i] == 0;
            ok += y[i] == 1 && !isnan(t->fhr_bpm[i]);
            mhr += t->mhr_bpm && !isnan(t->mhr_bpm[i]);
        }
        if (!bad && ok >= len && mhr >= len)
            return (long)s;
    }
    (void)a;
    return -1;
}

static double flagged_fraction(const float *p, const fm_trace *t, size_t a, size_t b)
{
    size_t n = 0, f = 0;
    for (size_t i = a; i < b; i++)
        if (!isnan(t->fhr_bpm[i])) {
            n++;
            f += p[i] >= FM_FALSESIG_THRESHOLD;
        }
    return n ? (double)f / (double)n : 0.0;
}

/* ---- tests on real traces ------------------------------------------------------------------ */

typedef enum { SPLICE_MATERNAL, SPLICE_HALVED, SPLICE_DOUBLED_MATERNAL } splice_kind;

/* Splice 2 minutes into a true-signal stretch of each of the first three recordings that have
 * one with a maternal channel at least 25 bpm below the fetal rate; returns the mean flagged
 * fraction over the spliced stretches, frac[mode][use_mhr] with mode 0 = live detector
 * (fm_falsesig_trace_live), 1 = whole-recording mode (fm_falsesig_trace). A doubled fetal
 * rate (> 240 bpm) is artefact for the trace reader already, so the doubled case is twice the
 * maternal rate, the doubling a Doppler actually makes. These records are never augmented in
 * training (tools/falsesig/augment.py). */
static int splice_test(splice_kind kind, double frac[2][2])
{
    const char *data = check_shared_data();
    if (!data) {
        printf("skip: ../shared/data absent\n");
        return 0;
    }
    static ann anns[40];
    size_t n_ann = read_anns(data, anns, 40);
    int used = 0;
    double sum[2][2] = {{0, 0}, {0, 0}};
    for (size_t r = 0; r < n_ann && used < 3; r++) {
        fm_trace *t = read_rec(data, anns[r].name);
        if (!t || !t->mhr_bpm) {
            fm_trace_destroy(t);
            continue;
        }
        int8_t *y = malloc(t->n);
        truth(&anns[r], t->n, y);
        long s = clean_run(&anns[r], t, y, SPLICE_SAMPLES);
        double fm = 0, mm = 0;
        size_t c = 0;
        for (long i = s; s >= 0 && i < s + SPLICE_SAMPLES; i++)
            if (!isnan(t->fhr_bpm[i]) && !isnan(t->mhr_bpm[i])) {
                fm += t->fhr_bpm[i];
                mm += t->mhr_bpm[i];
                c++;
            }
        /* the maternal rate must be clearly apart from the fetal one (else nothing to see) */
        if (s < 0 || !c || fm / (double)c - mm / (double)c < 25.0) {
            free(y);
            fm_trace_destroy(t);
            continue;
        }
        for (long i = s; i < s + SPLICE_SAMPLES; i++) {
            float v = t->fhr_bpm[i];
            if (kind == SPLICE_MATERNAL)
                v = t->mhr_bpm[i];
            else if (kind == SPLICE_HALVED)
                v = t->fhr_bpm[i] / 2.0f;
            else
                v = 2.0f * t->mhr_bpm[i];
            fm_trace_set(t, (size_t)i, v);
        }
        float *p = malloc(t->n * sizeof *p), *pl = malloc(t->n * sizeof *pl);
        double f[2][2];
        for (int use_mhr = 0; use_mhr < 2; use_mhr++) {
            /* one whole-recording run gives both modes (its stage 1 is the live detector,
             * checked bit for bit in whole_recording_mode) */
            fm_falsesig_batch *b = fm_falsesig_batch_create(use_mhr);
            CHECK(b != NULL && fs_batch_run(b, t, p, NULL, pl) == FM_OK);
            fm_falsesig_batch_destroy(b);
            for (int mode = 0; mode < 2; mode++) {
                f[mode][use_mhr] = flagged_fraction(mode ? p : pl, t, (size_t)s,
                                                    (size_t)s + SPLICE_SAMPLES);
                sum[mode][use_mhr] += f[mode][use_mhr];
            }
        }
        printf("  %s at %.1f min: flagged live %.3f with MHR, %.3f without; whole-recording "
               "%.3f / %.3f\n", anns[r].name, (double)s / FM_FHR_RATE_HZ / 60.0, f[0][1],
               f[0][0], f[1][1], f[1][0]);
        used++;
        free(p);
        free(pl);
        free(y);
        fm_trace_destroy(t);
    }
    CHECK(used > 0);
    for (int mode = 0; mode < 2; mode++)
        for (int use_mhr = 0; use_mhr < 2; use_mhr++)
            frac[mode][use_mhr] = used ? sum[mode][use_mhr] / used : 0;
    return used;
}

static const char *const mode_name[2] = {"live", "whole-recording"};

static void maternal_stretch_is_flagged(void)
{
    double f[2][2];
    if (!splice_test(SPLICE_MATERNAL, f))
        return;
    for (int mode = 0; mode < 2; mode++) {
        CHECKF(f[mode][1] >= 0.9, "%s, with MHR %.3f", mode_name[mode], f[mode][1]);
        CHECKF(f[mode][0] >= 0.6, "%s, without MHR %.3f", mode_name[mode], f[mode][0]);
    }
}

static void halved_stretch_is_flagged(void)
{
    double f[2][2];
    if (!splice_test(SPLICE_HALVED, f))
        return;
    for (int mode = 0; mode < 2; mode++) {
        CHECKF(f[mode][1] >= 0.7, "%s, with MHR %.3f", mode_name[mode], f[mode][1]);
        CHECKF(f[mode][0] >= 0.7, "%s, without MHR %.3f", mode_name[mode], f[mode][0]);
    }
}

static void doubled_maternal_stretch_is_flagged(void)
{
    double f[2][2];
    if (!splice_test(SPLICE_DOUBLED_MATERNAL, f))
        return;
    for (int mode = 0; mode < 2; mode++) {
        CHECKF(f[mode][1] >= 0.8, "%s, with MHR %.3f", mode_name[mode], f[mode][1]);
        /* without MHR twice the mother's rate is a plausible fetal rate: reported, not
         * asserted */
        printf("  (%s without MHR: %.3f flagged)\n", mode_name[mode], f[mode][0]);
    }
}

/* The experts' true-signal samples of the first ten recordings stay unflagged. These records
 * are part of the shipped model's training set: the honest figure is the cross-validated
 * specificity in docs/falsesig.md; this guards against regressions of the engine. */
static void clean_real_traces_are_not_flagged(void)
{
    const char *data = check_shared_data();
    if (!data) {
        printf("skip: ../shared/data absent\n");
        return;
    }
    static ann anns[N_CLEAN_FILES];
    size_t n_ann = read_anns(data, anns, N_CLEAN_FILES);
    CHECK(n_ann == N_CLEAN_FILES);
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        size_t n = 0, f[2] = {0, 0};
        fm_falsesig_batch *b = fm_falsesig_batch_create(use_mhr);
        CHECK(b != NULL);
        for (size_t r = 0; r < n_ann && b; r++) {
            fm_trace *t = read_rec(data, anns[r].name);
            CHECK(t != NULL);
            if (!t)
                continue;
            int8_t *y = malloc(t->n);
            float *p = malloc(t->n * sizeof *p), *pl = malloc(t->n * sizeof *pl);
            truth(&anns[r], t->n, y);
            CHECK(fs_batch_run(b, t, p, NULL, pl) == FM_OK);
            for (size_t i = 0; i < t->n; i++)
                if (y[i] == 1 && !isnan(t->fhr_bpm[i])) {
                    n++;
                    f[0] += pl[i] >= FM_FALSESIG_THRESHOLD;
                    f[1] += p[i] >= FM_FALSESIG_THRESHOLD;
                }
            free(y);
            free(p);
            free(pl);
            fm_trace_destroy(t);
        }
        fm_falsesig_batch_destroy(b);
        for (int mode = 0; mode < 2; mode++) {
            double fpr = n ? (double)f[mode] / (double)n : 1.0;
            printf("  %s, %s MHR: %zu of %zu true-signal samples flagged (%.4f)\n",
                   mode_name[mode], use_mhr ? "with" : "without", f[mode], n, fpr);
            CHECKF(fpr < (use_mhr ? 0.01 : 0.03), "%s: false-positive rate %.4f",
                   mode_name[mode], fpr);
        }
    }
}

/* ---- behaviour without the data ------------------------------------------------------------ */

static fm_trace *synthetic(size_t n)
{
    fm_trace *t = fm_trace_create(n, 1, 0);
    for (size_t i = 0; i < n; i++) {
        float v = 140.0f + 8.0f * sinf((float)i * 0.01f) + 2.0f * sinf((float)i * 0.37f);
        fm_trace_set(t, i, (i / 900) % 5 == 3 && i % 900 < 60 ? NAN : v);
        t->mhr_bpm[i] = 80.0f + 3.0f * sinf((float)i * 0.003f);
    }
    /* a maternal stretch, so that both states appear */
    for (size_t i = n / 2; i < n / 2 + 600 && i < n; i++)
        fm_trace_set(t, i, t->mhr_bpm[i]);
    return t;
}

static void streaming_in_chunks_equals_batch(void)
{
    fm_trace *t = synthetic(6000);
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        float *pb = malloc(t->n * sizeof *pb);
        uint8_t *sb = malloc(t->n);
        CHECK(fm_falsesig_trace_live(t, use_mhr, pb, sb) == FM_OK);
        fm_falsesig *q = fm_falsesig_create(use_mhr);
        CHECK(q != NULL);
        if (!q)
            return;
        CHECK(fm_falsesig_lookahead(q) == FM_FALSESIG_LOOKAHEAD_S * FM_FHR_RATE_HZ);
        size_t i = 0, got = 0, mismatches = 0, chunk = 1;
        uint64_t expect = 0;
        fm_falsesig_sample s;
        while (i < t->n) {
            for (size_t k = 0; k < chunk && i < t->n; k++, i++)
                CHECK(fm_falsesig_push(q, t->fhr_bpm[i], t->mhr_bpm[i]) == FM_OK);
            /* a sample is final once its look-ahead is in */
            CHECK(got + fm_falsesig_available(q) + fm_falsesig_lookahead(q) >= i);
            while (fm_falsesig_pop(q, &s) == FM_OK) {
                mismatches += s.index != expect++;
                mismatches += !(s.p_false == pb[s.index] ||
                                (isnan(s.p_false) && isnan(pb[s.index])));
                mismatches += s.state != sb[s.index];
                got++;
            }
            chunk = chunk * 7 % 97 + 1; /* 1, 8, 57, ... irregular chunk sizes */
        }
        CHECK(fm_falsesig_flush(q) == FM_OK);
        while (fm_falsesig_pop(q, &s) == FM_OK) {
            mismatches += s.index != expect++;
            mismatches += !(s.p_false == pb[s.index] || (isnan(s.p_false) && isnan(pb[s.index])));
            got++;
        }
        CHECK(got == t->n);
        CHECK(mismatches == 0);
        /* after reset the object gives the same answer again */
        fm_falsesig_reset(q);
        float *pr = malloc(t->n * sizeof *pr);
        CHECK(fm_falsesig_run(q, t, pr, NULL) == FM_OK);
        CHECK(memcmp(pr, pb, t->n * sizeof *pr) == 0);
        size_t flagged = 0;
        for (size_t k = 0; k < t->n; k++)
            flagged += sb[k] == FM_STATE_MATERNAL || sb[k] == FM_STATE_DOUBTFUL;
        if (use_mhr)
            CHECKF(flagged > 300, "the maternal stretch is flagged (%zu samples)", flagged);
        free(pr);
        free(pb);
        free(sb);
        fm_falsesig_destroy(q);
    }
    fm_trace_destroy(t);
}

/* Detectors on one shared model (the server's live streams) give what a detector with its own
 * model gives, bit for bit, also when two of them interleave. */
static void shared_model_equals_own_model(void)
{
    fm_trace *t = synthetic(6000);
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        float *pb = malloc(t->n * sizeof *pb);
        float *pa = malloc(t->n * sizeof *pa), *pc = malloc(t->n * sizeof *pc);
        fm_falsesig *own = fm_falsesig_create(use_mhr);
        fm_falsesig_model *m = fm_falsesig_model_create(use_mhr);
        fm_falsesig *a = fm_falsesig_create_shared(m), *c = fm_falsesig_create_shared(m);
        CHECK(own && m && a && c && pb && pa && pc);
        if (own && a && c && pb && pa && pc) {
            CHECK(fm_falsesig_run(own, t, pb, NULL) == FM_OK);
            /* interleaved: a gets the trace, c gets it too, a sample at a time */
            size_t na = 0, nc = 0;
            fm_falsesig_sample s;
            for (size_t i = 0; i < t->n; i++) {
                CHECK(fm_falsesig_push(a, t->fhr_bpm[i], t->mhr_bpm[i]) == FM_OK);
                CHECK(fm_falsesig_push(c, t->fhr_bpm[i], t->mhr_bpm[i]) == FM_OK);
                while (fm_falsesig_pop(a, &s) == FM_OK)
                    pa[na++] = s.p_false;
                while (fm_falsesig_pop(c, &s) == FM_OK)
                    pc[nc++] = s.p_false;
            }
            CHECK(fm_falsesig_flush(a) == FM_OK && fm_falsesig_flush(c) == FM_OK);
            while (fm_falsesig_pop(a, &s) == FM_OK)
                pa[na++] = s.p_false;
            while (fm_falsesig_pop(c, &s) == FM_OK)
                pc[nc++] = s.p_false;
            CHECK(na == t->n && nc == t->n);
            CHECK(memcmp(pa, pb, t->n * sizeof *pa) == 0);
            CHECK(memcmp(pc, pb, t->n * sizeof *pc) == 0);
        }
        fm_falsesig_destroy(a);
        fm_falsesig_destroy(c);
        fm_falsesig_destroy(own);
        fm_falsesig_model_destroy(m); /* after its detectors */
        free(pb);
        free(pa);
        free(pc);
    }
    CHECK(fm_falsesig_create_shared(NULL) == NULL);
    fm_trace_destroy(t);
}

static void missing_and_absurd_input_is_harmless(void)
{
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        fm_falsesig *q = fm_falsesig_create(use_mhr);
        CHECK(q != NULL);
        if (!q)
            return;
        /* empty stream */
        CHECK(fm_falsesig_flush(q) == FM_OK);
        CHECK(fm_falsesig_available(q) == 0);
        fm_falsesig_sample s;
        CHECK(fm_falsesig_pop(q, &s) == FM_EEMPTY);
        /* all missing, then absurd values */
        const float absurd[] = {NAN, INFINITY, -INFINITY, 0.0f, -5.0f, 1e30f, 500.0f, 49.9f,
                                240.1f, 140.0f};
        size_t pushed = 0, with_signal = 0;
        for (int i = 0; i < 3000; i++) {
            float x = i < 1000 ? NAN : absurd[i % 10];
            float m = absurd[(i * 3) % 10];
            CHECK(fm_falsesig_push(q, x, m) == FM_OK);
            pushed++;
            while (fm_falsesig_pop(q, &s) == FM_OK) {
                CHECK(s.p_false >= 0.0f || isnan(s.p_false));
                CHECK(!(s.p_false > 1.0f));
                with_signal += !isnan(s.p_false);
                CHECK(isnan(s.p_false) == (s.state == FM_STATE_LOST));
            }
        }
        CHECK(fm_falsesig_flush(q) == FM_OK);
        while (fm_falsesig_pop(q, &s) == FM_OK)
            with_signal += !isnan(s.p_false);
        CHECK(with_signal == 200); /* only the 140 bpm values are signal */
        char buf[200];
        CHECK(strlen(fm_falsesig_describe(q, buf, sizeof buf)) > 10);
        fm_falsesig_destroy(q);
    }
    /* an empty and an all-missing trace */
    fm_trace *t = fm_trace_create(0, 0, 0);
    float p[1];
    CHECK(fm_falsesig_trace(t, 0, p, NULL) == FM_OK);
    CHECK(fm_falsesig_trace(t, 1, p, NULL) == FM_OK);
    fm_trace_destroy(t);
    t = fm_trace_create(500, 0, 0);
    float *pp = malloc(500 * sizeof *pp);
    uint8_t st[500];
    CHECK(fm_falsesig_trace(t, 1, pp, st) == FM_OK); /* MHR asked, trace has none */
    for (int i = 0; i < 500; i++)
        CHECK(isnan(pp[i]) && st[i] == FM_STATE_LOST);
    free(pp);
    fm_trace_destroy(t);
    CHECK(fm_falsesig_trace(NULL, 0, p, NULL) == FM_EINVAL);
    CHECK(fm_falsesig_push(NULL, 1, 1) == FM_EINVAL);
    fm_falsesig_destroy(NULL);
}

static void bad_model_text_is_refused(void)
{
    fm_status st = FM_OK;
    const char *junk = "fm_falsesig_model 1\nuse_mhr 0\nlookahead 80\nfeatures 2 a b\n";
    CHECK(fm_falsesig_create_from_text(junk, strlen(junk), &st) == NULL && st == FM_EFORMAT);
    CHECK(fm_falsesig_create_from_text("", 0, &st) == NULL && st != FM_OK);
    CHECK(fm_falsesig_create_from_text("garbage", 7, &st) == NULL && st == FM_EFORMAT);
    CHECK(fm_falsesig_create_features(0, 100000) == NULL);
    /* a tiny valid model: one stump on the FHR level */
    char txt[4096];
    int n = snprintf(txt, sizeof txt, "fm_falsesig_model 1\nuse_mhr 0\nlookahead 4\nfeatures %zu",
                     fm_falsesig_n_features(0));
    for (size_t i = 0; i < fm_falsesig_n_features(0); i++)
        n += snprintf(txt + n, sizeof txt - (size_t)n, " %s", fm_falsesig_feature_name(0, i));
    n += snprintf(txt + n, sizeof txt - (size_t)n,
                  "\nbaseline 0\ntrees 1 3\ntree 3\ns 0 110 0 1 2\nl 3\nl -3\n");
    fm_falsesig *q = fm_falsesig_create_from_text(txt, (size_t)n, &st);
    CHECK(q != NULL && st == FM_OK);
    if (q) {
        fm_falsesig_sample s;
        CHECK(fm_falsesig_push(q, 90.0f, NAN) == FM_OK);
        CHECK(fm_falsesig_flush(q) == FM_OK);
        CHECK(fm_falsesig_pop(q, &s) == FM_OK && s.p_false > 0.9f &&
              s.state == FM_STATE_MATERNAL);
        fm_falsesig_destroy(q);
    }
    /* a child pointing backwards (a cycle) is refused */
    char *bad = strstr(txt, "s 0 110 0 1 2");
    if (bad) {
        memcpy(bad, "s 0 110 0 0 2", 13);
        CHECK(fm_falsesig_create_from_text(txt, (size_t)n, &st) == NULL && st == FM_EFORMAT);
    }
}

/* The whole-recording mode: deterministic, its stage 1 is the live detector bit for bit, its
 * states follow its probabilities, and a stage-1 model is no stage-2 model. */
static void whole_recording_mode(void)
{
    fm_trace *t = synthetic(6000);
    float *pa = malloc(t->n * sizeof *pa), *pb = malloc(t->n * sizeof *pb);
    float *pl = malloc(t->n * sizeof *pl);
    uint8_t *sa = malloc(t->n);
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        fm_falsesig_batch *b = fm_falsesig_batch_create(use_mhr);
        CHECK(b != NULL);
        if (!b)
            continue;
        CHECK(fm_falsesig_batch_uses_mhr(b) == use_mhr);
        CHECK(fm_falsesig_batch_run(b, t, pa, sa) == FM_OK);
        CHECK(fm_falsesig_batch_run(b, t, pb, NULL) == FM_OK);
        CHECK(memcmp(pa, pb, t->n * sizeof *pa) == 0);
        CHECK(fm_falsesig_trace(t, use_mhr, pb, NULL) == FM_OK);
        CHECK(memcmp(pa, pb, t->n * sizeof *pa) == 0);
        size_t bad = 0, flagged = 0;
        for (size_t i = 0; i < t->n; i++) {
            int fl = pa[i] >= FM_FALSESIG_THRESHOLD;
            flagged += fl;
            bad += isnan(pa[i]) != (sa[i] == FM_STATE_LOST) ||
                   (!isnan(pa[i]) && fl != (sa[i] == FM_STATE_MATERNAL ||
                                            sa[i] == FM_STATE_DOUBTFUL));
            bad += isnan(pa[i]) != isnan(t->fhr_bpm[i]);
        }
        CHECK(bad == 0);
        if (use_mhr) /* the spliced maternal stretch */
            CHECKF(flagged > 300, "whole-recording: %zu samples flagged", flagged);
        fm_falsesig_batch_destroy(b);
        /* stage 1 alone (no stage-2 model) is the live detector */
        const char *txt = use_mhr ? fm_falsesig_model_mhr : fm_falsesig_model_nomhr;
        size_t len = use_mhr ? fm_falsesig_model_mhr_len : fm_falsesig_model_nomhr_len;
        fm_status st;
        b = fm_falsesig_batch_create_from_text(txt, len, NULL, 0, &st);
        CHECK(b != NULL && st == FM_OK);
        if (b) {
            CHECK(fm_falsesig_batch_run(b, t, pa, NULL) == FM_OK);
            CHECK(fm_falsesig_trace_live(t, use_mhr, pl, NULL) == FM_OK);
            CHECK(memcmp(pa, pl, t->n * sizeof *pa) == 0);
            fm_falsesig_batch_destroy(b);
        }
        /* the stage-1 probabilities a whole-recording run hands out are the live ones */
        b = fm_falsesig_batch_create(use_mhr);
        CHECK(b != NULL && fs_batch_run(b, t, pa, NULL, pb) == FM_OK);
        CHECK(memcmp(pb, pl, t->n * sizeof *pb) == 0);
        fm_falsesig_batch_destroy(b);
        /* a stage-1 model given as stage 2 is refused */
        CHECK(fm_falsesig_batch_create_from_text(txt, len, txt, len, &st) == NULL &&
              st == FM_EFORMAT);
    }
    CHECK(fm_falsesig_context_feature_name(0, fm_falsesig_context_n_features(0)) == NULL);
    CHECK(fm_falsesig_context_n_features(1) > fm_falsesig_context_n_features(0));
    CHECK(fm_falsesig_batch_run(NULL, t, pa, NULL) == FM_EINVAL);
    fm_falsesig_batch_destroy(NULL);
    free(pa);
    free(pb);
    free(pl);
    free(sa);
    fm_trace_destroy(t);
}

static void state_rule_reads_the_named_features(void)
{
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_FHR), "fhr"));
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_MED10), "med10"));
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_SEG_MEAN), "seg_mean"));
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_LOG2_SEG_MED10), "log2_seg_med10"));
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_LOG2_SEG_PREV), "log2_seg_prev"));
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_ABS_X_MINUS_M), "abs_x_minus_m"));
    CHECK(!strcmp(fm_falsesig_feature_name(1, FS_F_COINC_W15), "w15_coinc"));
    CHECK(fm_falsesig_feature_name(0, FS_N_FEATURES_NOMHR) == NULL);
}

/* Suggested states: a maternal splice with MHR is "maternal", a halved one "doubtful". */
static void flagged_samples_get_a_state(void)
{
    fm_trace *t = fm_trace_create(4800, 1, 0);
    for (size_t i = 0; i < t->n; i++) {
        float fhr = 140.0f + 6.0f * sinf((float)i * 0.02f) + 2.0f * sinf((float)i * 0.41f);
        /* a mother at ~95 bpm: clear of both the fetal rate and its half */
        t->mhr_bpm[i] = 95.0f + 2.0f * sinf((float)i * 0.005f);
        if (i >= 2400 && i < 2880)
            fhr = t->mhr_bpm[i];
        else if (i >= 3600 && i < 4080)
            fhr /= 2.0f;
        fm_trace_set(t, i, fhr);
    }
    float *p = malloc(t->n * sizeof *p);
    uint8_t *st = malloc(t->n);
    CHECK(fm_falsesig_trace(t, 1, p, st) == FM_OK);
    size_t mat = 0, halved_doubtful = 0, halved_flagged = 0;
    for (size_t i = 2400; i < 2880; i++)
        mat += st[i] == FM_STATE_MATERNAL;
    for (size_t i = 3600; i < 4080; i++) {
        halved_flagged += p[i] >= FM_FALSESIG_THRESHOLD;
        halved_doubtful += st[i] == FM_STATE_DOUBTFUL;
    }
    printf("  maternal stretch: %zu/480 maternal; halved: %zu/480 flagged, %zu doubtful\n", mat,
           halved_flagged, halved_doubtful);
    CHECK(mat > 400);
    CHECK(halved_doubtful >= halved_flagged * 9 / 10);
    size_t flagged = 0;
    for (size_t i = 0; i < t->n; i++) {
        CHECK((p[i] >= FM_FALSESIG_THRESHOLD) == (st[i] == FM_STATE_MATERNAL ||
                                                   st[i] == FM_STATE_DOUBTFUL));
        flagged += p[i] >= FM_FALSESIG_THRESHOLD;
    }
    /* marking the trace copies exactly the flagged states */
    CHECK(fm_falsesig_mark(t, st) == flagged);
    CHECK(t->state[2500] == FM_STATE_MATERNAL && t->state[3700] == FM_STATE_DOUBTFUL);
    CHECK(fm_falsesig_mark(t, st) == 0);
    free(p);
    free(st);
    fm_trace_destroy(t);
}

int main(void)
{
    RUN(state_rule_reads_the_named_features);
    RUN(flagged_samples_get_a_state);
    RUN(bad_model_text_is_refused);
    RUN(missing_and_absurd_input_is_harmless);
    RUN(streaming_in_chunks_equals_batch);
    RUN(shared_model_equals_own_model);
    RUN(whole_recording_mode);
    RUN(maternal_stretch_is_flagged);
    RUN(halved_stretch_is_flagged);
    RUN(doubled_maternal_stretch_is_flagged);
    RUN(clean_real_traces_are_not_flagged);
    return CHECK_DONE();
}
