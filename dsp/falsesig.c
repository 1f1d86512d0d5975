/* fm_falsesig: the streaming false-signal detector (see include/fetalmon/falsesig.h).
 *
 * Samples go into the feature ring as they arrive; sample i is finished when sample
 * i + lookahead has arrived (or at flush), then its features run through the model and the
 * result waits in a small FIFO for the caller. The batch helpers drive the very same object.
 * Not for: the features (falsesig_features.c) or the tree format (falsesig_model.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "falsesig_internal.h"

/* Finished samples that may wait unpopped: more than one look-ahead's worth (flush). */
#define FS_QUEUE (FM_FALSESIG_MAX_LOOKAHEAD_S * FM_FHR_RATE_HZ + 64)

/* State suggestion for a flagged sample (CLINICAL 2). With the maternal channel: close to it
 * now, or coincident over the last/next 15 s, means maternal. Without it: a level in the
 * adult range, or a drop to a lower level that is not a halving, looks maternal; a halving or
 * doubling relation to the recent level, or anything else, is doubtful. */
#define FS_MATERNAL_NEAR_BPM 10.0f
#define FS_MATERNAL_COINC_FRAC 0.3f
#define FS_MATERNAL_MAX_BPM 110.0f   /* CLINICAL 2: "rate < ~100-110 bpm" looks maternal */
#define FS_MATERNAL_DROP_BPM 15.0f
#define FS_HALVING_LOG2_TOL 0.15f    /* |log2 ratio| within 1 +- this: halving/doubling */

struct fm_falsesig_model {
    fs_model *m;
};

struct fm_falsesig {
    fs_model *model; /* NULL: features only */
    int model_shared; /* model belongs to an fm_falsesig_model: not freed here */
    int use_mhr;
    fs_features *feat;
    uint64_t next_out; /* next sample to finish */
    fm_falsesig_sample queue[FS_QUEUE];
    size_t q_head, q_count;
    float fv[FS_N_FEATURES_MHR];
    fm_falsesig_feature_fn sink;
    void *sink_user;
    int suggest_all; /* batch stage 1: a kind for every sample with signal */
};

static fm_falsesig *make(fs_model *model, int use_mhr, unsigned lookahead)
{
    fm_falsesig *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->feat = malloc(fs_features_size(use_mhr));
    if (!q->feat) {
        free(q);
        return NULL;
    }
    q->model = model;
    q->use_mhr = use_mhr;
    fs_features_reset(q->feat, use_mhr, lookahead);
    return q;
}

fm_falsesig *fm_falsesig_create_from_text(const char *text, size_t len, fm_status *status)
{
    fs_model *m = NULL;
    fm_status st = fs_model_parse(text, len, &m);
    if (status)
        *status = st;
    if (st != FM_OK)
        return NULL;
    fm_falsesig *q = make(m, m->use_mhr, m->lookahead);
    if (!q) {
        fs_model_free(m);
        if (status)
            *status = FM_ENOMEM;
    }
    return q;
}

fm_falsesig *fm_falsesig_create(int use_mhr)
{
    const char *text = use_mhr ? fm_falsesig_model_mhr : fm_falsesig_model_nomhr;
    size_t len = use_mhr ? fm_falsesig_model_mhr_len : fm_falsesig_model_nomhr_len;
    fm_falsesig *q = fm_falsesig_create_from_text(text, len, NULL);
    if (q && q->use_mhr != (use_mhr != 0)) {
        fm_falsesig_destroy(q);
        return NULL;
    }
    return q;
}

fm_falsesig *fm_falsesig_create_features(int use_mhr, unsigned lookahead_samples)
{
    if (lookahead_samples > FM_FALSESIG_MAX_LOOKAHEAD_S * FM_FHR_RATE_HZ)
        return NULL;
    return make(NULL, use_mhr != 0, lookahead_samples);
}

fm_falsesig_model *fm_falsesig_model_create(int use_mhr)
{
    const char *text = use_mhr ? fm_falsesig_model_mhr : fm_falsesig_model_nomhr;
    size_t len = use_mhr ? fm_falsesig_model_mhr_len : fm_falsesig_model_nomhr_len;
    fm_falsesig_model *sm = calloc(1, sizeof *sm);
    if (!sm || fs_model_parse(text, len, &sm->m) != FM_OK || sm->m->use_mhr != (use_mhr != 0)) {
        fm_falsesig_model_destroy(sm);
        return NULL;
    }
    return sm;
}

void fm_falsesig_model_destroy(fm_falsesig_model *sm)
{
    if (!sm)
        return;
    fs_model_free(sm->m);
    free(sm);
}

fm_falsesig *fm_falsesig_create_shared(const fm_falsesig_model *sm)
{
    if (!sm || !sm->m)
        return NULL;
    /* make() takes a non-const model pointer; a shared one is only read */
    fm_falsesig *q = make(sm->m, sm->m->use_mhr, sm->m->lookahead);
    if (q)
        q->model_shared = 1;
    return q;
}

void fm_falsesig_destroy(fm_falsesig *q)
{
    if (!q)
        return;
    if (!q->model_shared)
        fs_model_free(q->model);
    free(q->feat);
    free(q);
}

void fm_falsesig_reset(fm_falsesig *q)
{
    if (!q)
        return;
    fs_features_reset(q->feat, q->use_mhr, q->feat->lookahead);
    q->next_out = 0;
    q->q_head = q->q_count = 0;
}

unsigned fm_falsesig_lookahead(const fm_falsesig *q)
{
    return q ? q->feat->lookahead : 0;
}

int fm_falsesig_uses_mhr(const fm_falsesig *q)
{
    return q ? q->use_mhr : 0;
}

const char *fm_falsesig_describe(const fm_falsesig *q, char *buf, size_t len)
{
    if (!buf || !len)
        return buf;
    if (!q)
        snprintf(buf, len, "fm_falsesig(null)");
    else
        snprintf(buf, len, "fm_falsesig: %s maternal channel, look-ahead %.2f s, %zu trees, "
                 "%zu features, %llu samples in",
                 q->use_mhr ? "with" : "without",
                 (double)q->feat->lookahead / FM_FHR_RATE_HZ,
                 q->model ? q->model->n_trees : (size_t)0, fs_n_features(q->use_mhr),
                 (unsigned long long)q->feat->n);
    return buf;
}

size_t fm_falsesig_n_features(int use_mhr)
{
    return fs_n_features(use_mhr != 0);
}

const char *fm_falsesig_feature_name(int use_mhr, size_t i)
{
    return i < fs_n_features(use_mhr != 0) ? fs_feature_name(i) : NULL;
}

void fm_falsesig_set_feature_sink(fm_falsesig *q, fm_falsesig_feature_fn fn, void *user)
{
    if (!q)
        return;
    q->sink = fn;
    q->sink_user = user;
}

void fs_set_suggest_all(fm_falsesig *q, int on)
{
    if (q)
        q->suggest_all = on != 0;
}

static fm_fhr_state suggest(const fm_falsesig *q, const float *f)
{
    if (q->use_mhr) {
        if (f[FS_F_ABS_X_MINUS_M] <= FS_MATERNAL_NEAR_BPM ||
            f[FS_F_COINC_W15] >= FS_MATERNAL_COINC_FRAC)
            return FM_STATE_MATERNAL;
    }
    float r = fabsf(f[FS_F_LOG2_SEG_MED10]), rp = fabsf(f[FS_F_LOG2_SEG_PREV]);
    if (fabsf(r - 1.0f) <= FS_HALVING_LOG2_TOL || fabsf(rp - 1.0f) <= FS_HALVING_LOG2_TOL)
        return FM_STATE_DOUBTFUL;
    if (f[FS_F_SEG_MEAN] < FS_MATERNAL_MAX_BPM ||
        f[FS_F_SEG_MEAN] < f[FS_F_MED10] - FS_MATERNAL_DROP_BPM)
        return FM_STATE_MATERNAL;
    return FM_STATE_DOUBTFUL;
}

/* Finish sample next_out into the queue. */
static void finish_one(fm_falsesig *q)
{
    const uint64_t t = q->next_out++;
    fm_falsesig_sample s = {t, NAN, FM_STATE_LOST};
    if (!isnan(fs_features_fhr(q->feat, t))) {
        fs_features_compute(q->feat, t, q->fv);
        if (q->sink)
            q->sink(q->sink_user, t, q->fv, fs_n_features(q->use_mhr));
        s.state = FM_STATE_OK;
        if (q->model) {
            s.p_false = fs_model_predict(q->model, q->fv);
            if (s.p_false >= FM_FALSESIG_THRESHOLD || q->suggest_all)
                s.state = suggest(q, q->fv);
        }
    }
    q->queue[(q->q_head + q->q_count) % FS_QUEUE] = s;
    q->q_count++;
}

fm_status fm_falsesig_push(fm_falsesig *q, float fhr_bpm, float mhr_bpm)
{
    if (!q)
        return FM_EINVAL;
    if (q->q_count >= FS_QUEUE)
        return FM_ERANGE;
    fs_features_push(q->feat, fhr_bpm, mhr_bpm);
    const uint64_t n = q->feat->n;
    if (n > q->feat->lookahead && q->next_out < n - q->feat->lookahead)
        finish_one(q);
    return FM_OK;
}

fm_status fm_falsesig_flush(fm_falsesig *q)
{
    if (!q)
        return FM_EINVAL;
    if (q->q_count + (size_t)(q->feat->n - q->next_out) > FS_QUEUE)
        return FM_ERANGE;
    while (q->next_out < q->feat->n)
        finish_one(q);
    return FM_OK;
}

size_t fm_falsesig_available(const fm_falsesig *q)
{
    return q ? q->q_count : 0;
}

fm_status fm_falsesig_pop(fm_falsesig *q, fm_falsesig_sample *out)
{
    if (!q || !out)
        return FM_EINVAL;
    if (!q->q_count)
        return FM_EEMPTY;
    *out = q->queue[q->q_head];
    q->q_head = (q->q_head + 1) % FS_QUEUE;
    q->q_count--;
    return FM_OK;
}

static void drain(fm_falsesig *q, float *p, uint8_t *state, size_t n)
{
    fm_falsesig_sample s;
    while (fm_falsesig_pop(q, &s) == FM_OK) {
        if (s.index >= n)
            continue;
        p[s.index] = s.p_false;
        if (state)
            state[s.index] = (uint8_t)s.state;
    }
}

fm_status fm_falsesig_run(fm_falsesig *q, const fm_trace *t, float *p_false, uint8_t *state)
{
    if (!q || !t || !p_false)
        return FM_EINVAL;
    fm_falsesig_reset(q);
    const float *mhr = q->use_mhr ? t->mhr_bpm : NULL;
    for (size_t i = 0; i < t->n; i++) {
        fm_status st = fm_falsesig_push(q, t->fhr_bpm[i], mhr ? mhr[i] : NAN);
        if (st != FM_OK)
            return st;
        drain(q, p_false, state, t->n);
    }
    fm_status st = fm_falsesig_flush(q);
    if (st != FM_OK)
        return st;
    drain(q, p_false, state, t->n);
    return FM_OK;
}

fm_status fm_falsesig_trace(const fm_trace *t, int use_mhr, float *p_false, uint8_t *state)
{
    if (!t || !p_false)
        return FM_EINVAL;
    fm_falsesig_batch *b = fm_falsesig_batch_create(use_mhr);
    if (!b) /* a build without the stage-2 models: what the live stream gives */
        return fm_falsesig_trace_live(t, use_mhr, p_false, state);
    fm_status st = fm_falsesig_batch_run(b, t, p_false, state);
    fm_falsesig_batch_destroy(b);
    return st;
}

fm_status fm_falsesig_trace_live(const fm_trace *t, int use_mhr, float *p_false, uint8_t *state)
{
    if (!t || !p_false)
        return FM_EINVAL;
    fm_falsesig *q = fm_falsesig_create(use_mhr);
    if (!q)
        return fm_falsesig_model_mhr_len && fm_falsesig_model_nomhr_len ? FM_ENOMEM
                                                                        : FM_EUNSUPPORTED;
    fm_status st = fm_falsesig_run(q, t, p_false, state);
    fm_falsesig_destroy(q);
    return st;
}

size_t fm_falsesig_mark(fm_trace *t, const uint8_t *state)
{
    if (!t || !state)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < t->n; i++)
        if (t->state[i] == FM_STATE_OK &&
            (state[i] == FM_STATE_MATERNAL || state[i] == FM_STATE_DOUBTFUL)) {
            t->state[i] = state[i];
            n++;
        }
    return n;
}
