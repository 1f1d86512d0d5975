/* fm_falsesig_batch: false-signal detection over a whole recording (uploaded files, the final
 * analysis): stage 1 is the live detector run over the trace (falsesig.c), stage 2 re-scores
 * every sample from the stage-1 probabilities with context both ways over the whole recording
 * (falsesig_context.c): with boosted trees (falsesig_model.c) on every sample, or with a
 * bidirectional GRU (falsesig_gru.c) over the features of one sample a second, its logits
 * interpolated linearly to 4 Hz. An optional stage 3 (auto-context) re-scores every sample once
 * more from the same context features computed from the stage-2 probabilities. The suggested
 * state of a flagged sample is stage 1's rule (maternal or doubtful, falsesig.c suggest)
 * applied to the sample whatever its stage-1 probability. Not for: the live stream
 * (fm_falsesig, 20 s look-ahead). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "falsesig_gru.h"
#include "falsesig_internal.h"

struct fm_falsesig_batch {
    fm_falsesig *s1;
    fs_model *m2; /* boosted stage 2; NULL (and gru NULL): stage-1 probabilities, stage-2
                     features to the sink only */
    fs_gru *gru;  /* recurrent stage 2 (instead of m2) */
    fs_model *m3; /* stage 3: context of the stage-2 probabilities; NULL: none */
    int use_mhr;
    int sink_stage; /* 2: the sink gets the stage-2 features; 3: those of stage 3 */
    fs2_context *ctx;
    fm_falsesig_feature_fn sink;
    void *sink_user;
};

fm_falsesig_batch *fm_falsesig_batch_create_from_text(const char *stage1, size_t len1,
                                                      const char *stage2, size_t len2,
                                                      fm_status *status)
{
    fm_status st = FM_OK;
    fm_falsesig_batch *b = calloc(1, sizeof *b);
    if (!b) {
        st = FM_ENOMEM;
        goto out;
    }
    b->s1 = fm_falsesig_create_from_text(stage1, len1, &st);
    if (!b->s1)
        goto fail;
    b->use_mhr = fm_falsesig_uses_mhr(b->s1);
    fs_set_suggest_all(b->s1, 1);
    if (stage2 && fs_gru_is_gru_text(stage2, len2)) {
        if ((st = fm_falsesig_batch_set_recurrent(b, stage2, len2)) != FM_OK)
            goto fail;
    } else if (stage2) {
        if ((st = fs_model2_parse(stage2, len2, &b->m2)) != FM_OK)
            goto fail;
        if (b->m2->use_mhr != b->use_mhr) {
            st = FM_EFORMAT;
            goto fail;
        }
    }
    b->sink_stage = 2;
    if (!(b->ctx = fs2_context_create())) {
        st = FM_ENOMEM;
        goto fail;
    }
    goto out;
fail:
    fm_falsesig_batch_destroy(b);
    b = NULL;
out:
    if (status)
        *status = st;
    return b;
}

fm_falsesig_batch *fm_falsesig_batch_create(int use_mhr)
{
    const char *t1 = use_mhr ? fm_falsesig_model_mhr : fm_falsesig_model_nomhr;
    size_t l1 = use_mhr ? fm_falsesig_model_mhr_len : fm_falsesig_model_nomhr_len;
    const char *t2 = use_mhr ? fm_falsesig_model2_mhr : fm_falsesig_model2_nomhr;
    size_t l2 = use_mhr ? fm_falsesig_model2_mhr_len : fm_falsesig_model2_nomhr_len;
    const char *t3 = use_mhr ? fm_falsesig_model_gru_mhr : fm_falsesig_model_gru_nomhr;
    size_t l3 = use_mhr ? fm_falsesig_model_gru_mhr_len : fm_falsesig_model_gru_nomhr_len;
    if (!l1 || !l2)
        return NULL;
    const char *t4 = use_mhr ? fm_falsesig_model3_mhr : fm_falsesig_model3_nomhr;
    size_t l4 = use_mhr ? fm_falsesig_model3_mhr_len : fm_falsesig_model3_nomhr_len;
    fm_falsesig_batch *b = fm_falsesig_batch_create_from_text(t1, l1, t2, l2, NULL);
    if (b && (b->use_mhr != (use_mhr != 0) ||
              (l3 && fm_falsesig_batch_set_recurrent(b, t3, l3) != FM_OK) ||
              (l4 && fm_falsesig_batch_set_stage3(b, t4, l4) != FM_OK))) {
        fm_falsesig_batch_destroy(b);
        return NULL;
    }
    return b;
}

void fm_falsesig_batch_destroy(fm_falsesig_batch *b)
{
    if (!b)
        return;
    fm_falsesig_destroy(b->s1);
    fs_model_free(b->m2);
    fs_gru_destroy(b->gru);
    fs_model_free(b->m3);
    fs2_context_destroy(b->ctx);
    free(b);
}

int fm_falsesig_batch_uses_mhr(const fm_falsesig_batch *b)
{
    return b ? b->use_mhr : 0;
}

void fm_falsesig_batch_set_feature_sink(fm_falsesig_batch *b, fm_falsesig_feature_fn fn,
                                        void *user)
{
    if (!b)
        return;
    b->sink = fn;
    b->sink_user = user;
}

fm_status fm_falsesig_batch_set_stage3(fm_falsesig_batch *b, const char *text, size_t len)
{
    if (!b || !text)
        return FM_EINVAL;
    fs_model *m = NULL;
    fm_status st = fs_model3_parse(text, len, &m);
    if (st != FM_OK)
        return st;
    if (m->use_mhr != b->use_mhr || (!b->m2 && !b->gru)) {
        fs_model_free(m);
        return FM_EFORMAT;
    }
    fs_model_free(b->m3);
    b->m3 = m;
    return FM_OK;
}

fm_status fm_falsesig_batch_set_feature_stage(fm_falsesig_batch *b, int stage)
{
    if (!b || (stage != 2 && stage != 3) || (stage == 3 && !b->m2 && !b->gru))
        return FM_EINVAL;
    b->sink_stage = stage;
    return FM_OK;
}

size_t fm_falsesig_context_n_features(int use_mhr)
{
    return fs2_n_features(use_mhr != 0);
}

const char *fm_falsesig_context_feature_name(int use_mhr, size_t i)
{
    return i < fs2_n_features(use_mhr != 0) ? fs2_feature_name(i) : NULL;
}

fm_status fm_falsesig_batch_run(fm_falsesig_batch *b, const fm_trace *t, float *p_false,
                                uint8_t *state)
{
    return fs_batch_run(b, t, p_false, state, NULL);
}

/* The recurrent stage: its inputs at samples 0, decim, 2 decim, ... (the stage-2 features and,
 * for a residual model, the boosted probability already in p_false), its per-step logits
 * interpolated linearly to every sample with signal (step k is sample k * decim) and, for a
 * residual model, added to the boosted logit of the sample. Rewrites p_false. */
static fm_status run_gru(const fm_falsesig_batch *b, const fm_trace *t, const float *mhr,
                         const float *p1, float *p_false)
{
    const size_t n = t->n, decim = fs_gru_decim(b->gru), nf = fs_gru_n_features(b->gru);
    const size_t n2 = fs2_n_features(b->use_mhr), steps = (n + decim - 1) / decim;
    const int residual = fs_gru_is_residual(b->gru);
    float *x = malloc((steps ? steps : 1) * nf * sizeof *x);
    float *z = malloc((steps ? steps : 1) * sizeof *z);
    fm_status st = x && z ? FM_OK : FM_ENOMEM;
    for (size_t k = 0; st == FM_OK && k < steps; k++) {
        float *xk = &x[k * nf];
        if (isnan(p1[k * decim]))
            for (size_t j = 0; j < nf; j++)
                xk[j] = NAN;
        else
            fs2_context_compute(b->ctx, n, t->fhr_bpm, mhr, p1, k * decim, b->use_mhr, xk);
        if (residual)
            xk[n2] = fs_gru_p2_logit(p_false[k * decim]);
    }
    if (st == FM_OK)
        st = fs_gru_run(b->gru, steps, x, z);
    for (size_t i = 0; st == FM_OK && i < n; i++) {
        if (isnan(p1[i])) {
            p_false[i] = NAN;
            continue;
        }
        size_t k = i / decim, k2 = k + 1 < steps ? k + 1 : k;
        float w = (float)(i % decim) / (float)decim;
        float zi = (1.0f - w) * z[k] + w * z[k2];
        if (residual)
            zi += fs_gru_p2_logit(p_false[i]);
        p_false[i] = 1.0f / (1.0f + expf(-zi));
    }
    free(x);
    free(z);
    return st;
}

/* Stage 3 (auto-context): the stage-2 context features computed from the stage-2
 * probabilities in p_false, to the sink (sink_stage 3) and through m3. Rewrites p_false. */
static fm_status run_stage3(fm_falsesig_batch *b, const fm_trace *t, const float *mhr,
                            float *p_false)
{
    const size_t n = t->n, nf = fs2_n_features(b->use_mhr);
    float *p2 = malloc((n ? n : 1) * sizeof *p2);
    if (!p2)
        return FM_ENOMEM;
    memcpy(p2, p_false, n * sizeof *p2);
    fm_status st = fs2_context_prepare(b->ctx, n, t->fhr_bpm, mhr, p2);
    float f[FS2_N_FEATURES_MHR];
    for (size_t i = 0; st == FM_OK && i < n; i++) {
        if (isnan(p2[i]))
            continue;
        fs2_context_compute(b->ctx, n, t->fhr_bpm, mhr, p2, i, b->use_mhr, f);
        if (b->sink && b->sink_stage == 3)
            b->sink(b->sink_user, i, f, nf);
        if (b->m3)
            p_false[i] = fs_model_predict_blend(b->m3, f, p2[i]);
    }
    free(p2);
    return st;
}

fm_status fm_falsesig_batch_set_recurrent(fm_falsesig_batch *b, const char *text, size_t len)
{
    if (!b || !text)
        return FM_EINVAL;
    fs_gru *g = NULL;
    fm_status st = fs_gru_parse(text, len, &g);
    if (st != FM_OK)
        return st;
    if (fs_gru_uses_mhr(g) != b->use_mhr || (fs_gru_is_residual(g) && !b->m2)) {
        fs_gru_destroy(g);
        return FM_EFORMAT;
    }
    fs_gru_destroy(b->gru);
    b->gru = g;
    if (!fs_gru_is_residual(g)) {
        fs_model_free(b->m2); /* a stand-alone recurrent stage replaces the boosted one */
        b->m2 = NULL;
    }
    return FM_OK;
}

fm_status fs_batch_run(fm_falsesig_batch *b, const fm_trace *t, float *p_false, uint8_t *state,
                       float *p_live)
{
    if (!b || !t || !p_false)
        return FM_EINVAL;
    const size_t n = t->n;
    uint8_t *kind = malloc(n ? n : 1);
    float *p1 = p_live ? p_live : malloc((n ? n : 1) * sizeof *p1);
    fm_status st = kind && p1 ? FM_OK : FM_ENOMEM;
    if (st == FM_OK)
        st = fm_falsesig_run(b->s1, t, p1, kind);
    const float *mhr = b->use_mhr ? t->mhr_bpm : NULL;
    if (st == FM_OK)
        st = fs2_context_prepare(b->ctx, n, t->fhr_bpm, mhr, p1);
    if (st == FM_OK) {
        float f[FS2_N_FEATURES_MHR];
        const size_t nf = fs2_n_features(b->use_mhr);
        for (size_t i = 0; i < n; i++) {
            float p = p1[i];
            if (!isnan(p) && ((b->sink && b->sink_stage == 2) || b->m2)) {
                fs2_context_compute(b->ctx, n, t->fhr_bpm, mhr, p1, i, b->use_mhr, f);
                if (b->sink && b->sink_stage == 2)
                    b->sink(b->sink_user, i, f, nf);
                if (b->m2)
                    p = fs_model_predict_blend(b->m2, f, p);
            }
            p_false[i] = p;
        }
    }
    if (st == FM_OK && b->gru)
        st = run_gru(b, t, mhr, p1, p_false);
    if (st == FM_OK && (b->m3 || (b->sink && b->sink_stage == 3)))
        st = run_stage3(b, t, mhr, p_false);
    for (size_t i = 0; st == FM_OK && state && i < n; i++) {
        float p = p_false[i];
        state[i] = isnan(p) ? FM_STATE_LOST : p >= FM_FALSESIG_THRESHOLD ? kind[i] : FM_STATE_OK;
    }
    free(kind);
    if (p1 != p_live)
        free(p1);
    return st;
}
