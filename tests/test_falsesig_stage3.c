/* Tests of stage 3 of the whole-recording false-signal detector (auto-context,
 * dsp/falsesig_batch.c run_stage3 and falsesig_model.c fm_falsesig_model3): its features are the
 * stage-2 context features computed from the stage-2 probabilities (checked through the feature
 * sink against the stage-2 output), a hand-written stage-3 model acts as written on them, a
 * stage-3 model is refused for the other mode, without a stage 2, or under another header, and
 * the built-in batch runs deterministically with whatever stage 3 the build embeds. Synthetic
 * trace, built-in stage-1 and stage-2 models: no dataset needed. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dsp/falsesig_internal.h"
#include "check.h"
#include "fetalmon/falsesig.h"
#include "fetalmon/trace.h"
#include "test_falsesig_trace.h"

/* A stage-3 model text: one stump on feature `feature` at `thr` (leaves lo / hi), or a single
 * leaf when feature < 0. header: "fm_falsesig_model3" normally; blend: the blend_previous line
 * (NULL: none). Caller frees. */
static char *stump_text_blend(const char *header, int use_mhr, int feature, double thr,
                              double lo, double hi, const char *blend, size_t *len)
{
    size_t cap = 8192;
    char *txt = malloc(cap);
    if (!txt)
        return NULL;
    size_t nf = fm_falsesig_context_n_features(use_mhr);
    int n = snprintf(txt, cap, "%s 1\nuse_mhr %d\nlookahead 0\n%s%s%sfeatures %zu", header,
                     use_mhr, blend ? "blend_previous " : "", blend ? blend : "", blend ? "\n" : "",
                     nf);
    for (size_t i = 0; i < nf; i++)
        n += snprintf(txt + n, cap - (size_t)n, " %s", fm_falsesig_context_feature_name(use_mhr, i));
    if (feature >= 0)
        n += snprintf(txt + n, cap - (size_t)n,
                      "\nbaseline 0\ntrees 1 3\ntree 3\ns %d %.17g 0 1 2\nl %.17g\nl %.17g\n",
                      feature, thr, lo, hi);
    else
        n += snprintf(txt + n, cap - (size_t)n, "\nbaseline %.17g\ntrees 1 1\ntree 1\nl 0\n", lo);
    *len = (size_t)n;
    return txt;
}

static char *stump_text(const char *header, int use_mhr, int feature, double thr, double lo,
                        double hi, size_t *len)
{
    return stump_text_blend(header, use_mhr, feature, thr, lo, hi, NULL, len);
}

/* A copy of model text t with the line "blend_previous w" before its feature list (instead of
 * the one it has). */
static char *with_blend(const char *t, size_t len, const char *w, size_t *out_len)
{
    const char *feat = strstr(t, "features ");
    const char *old = strstr(t, "blend_previous ");
    char *s = malloc(len + 64);
    if (!feat || !s) {
        free(s);
        return NULL;
    }
    size_t head = (size_t)((old && old < feat ? old : feat) - t);
    size_t tail = len - (size_t)(feat - t);
    memcpy(s, t, head);
    int k = snprintf(s + head, 64, "blend_previous %s\n", w);
    memcpy(s + head + (size_t)k, feat, tail);
    *out_len = head + (size_t)k + tail;
    return s;
}

typedef struct sunk {
    float *p; /* feature 0 (p1 of stage 2 = the previous stage's probability) per sample */
    size_t count, n_features_bad;
    size_t nf;
} sunk;

static void on_features(void *user, uint64_t index, const float *x, size_t n)
{
    sunk *s = user;
    s->p[index] = x[0];
    s->count++;
    s->n_features_bad += n != s->nf;
}

static void stage3_reads_the_context_of_stage2(void)
{
    const size_t n = 30 * 60 * FM_FHR_RATE_HZ;
    fm_trace *t = fs_test_trace(n);
    float *p2 = malloc(n * sizeof *p2), *p3 = malloc(n * sizeof *p3), *px = malloc(n * sizeof *px);
    uint8_t *s2 = malloc(n), *s3 = malloc(n);
    if (!t || !p2 || !p3 || !px || !s2 || !s3) {
        CHECK(0);
        goto out;
    }
    CHECK(!strcmp(fm_falsesig_context_feature_name(0, 0), "p1"));
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        fm_status st;
        const char *t1 = use_mhr ? fm_falsesig_model_mhr : fm_falsesig_model_nomhr;
        size_t l1 = use_mhr ? fm_falsesig_model_mhr_len : fm_falsesig_model_nomhr_len;
        const char *t2 = use_mhr ? fm_falsesig_model2_mhr : fm_falsesig_model2_nomhr;
        size_t l2 = use_mhr ? fm_falsesig_model2_mhr_len : fm_falsesig_model2_nomhr_len;
        fm_falsesig_batch *b = fm_falsesig_batch_create_from_text(t1, l1, t2, l2, &st);
        CHECKF(b != NULL, "%s", fm_strerror(st));
        if (!b)
            continue;
        CHECK(fm_falsesig_batch_run(b, t, p2, s2) == FM_OK);

        /* the stage-3 features: their first one is the stage-2 probability of the sample */
        sunk sk = {px, 0, 0, fm_falsesig_context_n_features(use_mhr)};
        for (size_t i = 0; i < n; i++)
            px[i] = NAN;
        fm_falsesig_batch_set_feature_sink(b, on_features, &sk);
        CHECK(fm_falsesig_batch_set_feature_stage(b, 3) == FM_OK);
        CHECK(fm_falsesig_batch_run(b, t, p3, NULL) == FM_OK);
        size_t n_signal = 0, bad = 0;
        for (size_t i = 0; i < n; i++) {
            n_signal += !isnan(p2[i]);
            bad += isnan(p2[i]) ? !isnan(px[i]) : px[i] != p2[i];
            bad += memcmp(&p3[i], &p2[i], sizeof *p3) != 0; /* no stage-3 model: unchanged */
        }
        CHECKF(bad == 0, "%zu", bad);
        CHECK(sk.count == n_signal && n_signal > n / 2 && sk.n_features_bad == 0);
        fm_falsesig_batch_set_feature_sink(b, NULL, NULL);
        CHECK(fm_falsesig_batch_set_feature_stage(b, 4) == FM_EINVAL);

        /* a stump on the stage-2 probability at the threshold: the same flags as stage 2 */
        size_t len;
        char *txt = stump_text("fm_falsesig_model3", use_mhr, 0, 0.5, -8.0, 8.0, &len);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_OK);
        CHECK(fm_falsesig_batch_run(b, t, p3, s3) == FM_OK);
        bad = 0;
        size_t flagged = 0;
        for (size_t i = 0; i < n; i++) {
            if (isnan(p2[i])) {
                bad += !isnan(p3[i]) || s3[i] != FM_STATE_LOST;
                continue;
            }
            float want = (float)(1.0 / (1.0 + exp(p2[i] <= 0.5f ? 8.0 : -8.0)));
            bad += fabsf(p3[i] - want) > 1e-6f;
            if (fabsf(p2[i] - FM_FALSESIG_THRESHOLD) > 1e-6f)
                bad += s3[i] != s2[i];
            flagged += p3[i] >= FM_FALSESIG_THRESHOLD;
        }
        CHECKF(bad == 0, "%zu", bad);
        CHECKF(flagged > 300, "%zu flagged", flagged); /* the low stretch */
        free(txt);

        /* the other mode, another stage's header, a malformed text: refused, b unchanged */
        txt = stump_text("fm_falsesig_model3", !use_mhr, 0, 0.5, -8.0, 8.0, &len);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_EFORMAT);
        free(txt);
        txt = stump_text("fm_falsesig_model2", use_mhr, 0, 0.5, -8.0, 8.0, &len);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_EFORMAT);
        /* ... and a stage-2 text is no stage-3 one, nor the reverse */
        fm_falsesig_batch *b2 = fm_falsesig_batch_create_from_text(t1, l1, txt, len, &st);
        CHECK(b2 != NULL);
        fm_falsesig_batch_destroy(b2);
        free(txt);
        txt = stump_text("fm_falsesig_model3", use_mhr, 0, 0.5, -8.0, 8.0, &len);
        CHECK(fm_falsesig_batch_create_from_text(t1, l1, txt, len, &st) == NULL &&
              st == FM_EFORMAT);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len / 2) == FM_EFORMAT);
        CHECK(fm_falsesig_batch_set_stage3(b, NULL, 0) == FM_EINVAL);
        CHECK(fm_falsesig_batch_run(b, t, px, NULL) == FM_OK);
        CHECK(!memcmp(px, p3, n * sizeof *px)); /* the stump is still in place */

        /* a constant stage 3 replaces every probability with signal */
        free(txt);
        txt = stump_text("fm_falsesig_model3", use_mhr, -1, 0, 2.0, 0, &len);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_OK);
        CHECK(fm_falsesig_batch_run(b, t, p3, NULL) == FM_OK);
        bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += isnan(p2[i]) ? !isnan(p3[i]) : fabsf(p3[i] - (float)(1.0 / (1.0 + exp(-2.0)))) > 1e-6f;
        CHECKF(bad == 0, "%zu", bad);
        free(txt);

        /* blend_previous w: w * the stage-2 probability + (1 - w) * the trees' */
        txt = stump_text_blend("fm_falsesig_model3", use_mhr, -1, 0, 2.0, 0, "0.25", &len);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_OK);
        CHECK(fm_falsesig_batch_run(b, t, p3, NULL) == FM_OK);
        bad = 0;
        for (size_t i = 0; i < n; i++)
            bad += isnan(p2[i]) ? !isnan(p3[i])
                                : fabsf(p3[i] - (0.25f * p2[i] +
                                                 0.75f * (float)(1.0 / (1.0 + exp(-2.0))))) > 1e-6f;
        CHECKF(bad == 0, "%zu", bad);
        free(txt);
        /* ... a weight outside [0, 1], or NaN, is refused; so is the line in a stage-1 model */
        const char *bad_w[] = {"1.5", "-0.1", "nan", "x"};
        for (size_t k = 0; k < 4; k++) {
            txt = stump_text_blend("fm_falsesig_model3", use_mhr, -1, 0, 2.0, 0, bad_w[k], &len);
            CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_EFORMAT);
            free(txt);
        }
        size_t n1;
        char *s1 = with_blend(t1, l1, "0.5", &n1);
        CHECK(s1 && fm_falsesig_create_from_text(s1, n1, &st) == NULL && st == FM_EFORMAT);
        free(s1);
        /* a stage 2 with blend_previous 1 gives the stage-1 probabilities exactly */
        s1 = with_blend(t2, l2, "1", &n1);
        fm_falsesig_batch *b1 = s1 ? fm_falsesig_batch_create_from_text(t1, l1, s1, n1, &st) : NULL;
        CHECK(b1 != NULL);
        if (b1) {
            CHECK(fm_falsesig_batch_run(b1, t, p3, NULL) == FM_OK);
            CHECK(fm_falsesig_trace_live(t, use_mhr, px, NULL) == FM_OK);
            CHECK(!memcmp(p3, px, n * sizeof *px));
        }
        fm_falsesig_batch_destroy(b1);
        free(s1);
        fm_falsesig_batch_destroy(b);

        /* without a stage 2 there is no stage 3 */
        txt = stump_text("fm_falsesig_model3", use_mhr, -1, 0, 2.0, 0, &len);
        b = fm_falsesig_batch_create_from_text(t1, l1, NULL, 0, &st);
        CHECK(b != NULL);
        CHECK(fm_falsesig_batch_set_stage3(b, txt, len) == FM_EFORMAT);
        CHECK(fm_falsesig_batch_set_feature_stage(b, 3) == FM_EINVAL);
        fm_falsesig_batch_destroy(b);
        free(txt);
    }
out:
    free(p2);
    free(p3);
    free(px);
    free(s2);
    free(s3);
    fm_trace_destroy(t);
}

/* The built-in batch (with the stage 3 the build embeds, if any): deterministic, = trace(). */
static void builtin_batch_is_deterministic(void)
{
    const size_t n = 20 * 60 * FM_FHR_RATE_HZ;
    fm_trace *t = fs_test_trace(n);
    float *pa = malloc(n * sizeof *pa), *pb = malloc(n * sizeof *pb);
    if (!t || !pa || !pb) {
        CHECK(0);
        goto out;
    }
    for (int use_mhr = 0; use_mhr <= 1; use_mhr++) {
        fm_falsesig_batch *b = fm_falsesig_batch_create(use_mhr);
        CHECK(b != NULL);
        CHECK(fm_falsesig_batch_run(b, t, pa, NULL) == FM_OK);
        CHECK(fm_falsesig_trace(t, use_mhr, pb, NULL) == FM_OK);
        CHECK(!memcmp(pa, pb, n * sizeof *pa));
        fm_falsesig_batch_destroy(b);
        size_t l3 = use_mhr ? fm_falsesig_model3_mhr_len : fm_falsesig_model3_nomhr_len;
        printf("  built-in stage 3 (%s): %s\n", use_mhr ? "mhr" : "nomhr",
               l3 ? "embedded" : "none in this build");
    }
    CHECK(fm_falsesig_batch_set_stage3(NULL, "x", 1) == FM_EINVAL);
    CHECK(fm_falsesig_batch_set_feature_stage(NULL, 3) == FM_EINVAL);
out:
    free(pa);
    free(pb);
    fm_trace_destroy(t);
}

int main(void)
{
    RUN(stage3_reads_the_context_of_stage2);
    RUN(builtin_batch_is_deterministic);
    return CHECK_DONE();
}
