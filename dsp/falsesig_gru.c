/* The recurrent stage 2 of the whole-recording false-signal detector: a one-layer bidirectional
 * GRU (PyTorch's equations and gate order) over one input vector per step, followed by a linear
 * read-out of both directions' states: one false-signal logit per step. The step is `decim`
 * 4 Hz samples; falsesig_batch.c feeds it the stage-2 context features (falsesig_context.c)
 * of samples 0, decim, 2 decim, ... and interpolates the logits. A "residual" model also reads
 * the boosted stage-2 probability (last input, p2_logit = logit of p2 clipped to
 * [FS_GRU_P_CLIP, 1 - FS_GRU_P_CLIP]) and its output is a correction added to that logit.
 * Weights come from the text tools/falsesig/train_gru.py writes:
 *   fm_falsesig_gru 1
 *   use_mhr 0|1
 *   decim <4 Hz samples per step>
 *   residual 0|1
 *   features <n> <name_0> ... <name_n-1>   this build's stage-2 feature list (+ p2_logit
 *                                           when residual)
 *   masked <m> <feature index> ...          features that get an extra 0/1 "present" input
 *   hidden <H>
 *   inputs <n + m>
 *   mean 1 <n> ...   sd 1 <n> ...           standardisation (x - mean) / sd, missing -> 0
 *   w_ih0 3H <n+m>, w_hh0 3H H, b_ih0 1 3H, b_hh0 1 3H   forward direction (rows r, z, n)
 *   w_ih1 ... b_hh1                                     backward direction
 *   w_out 1 2H, b_out 1 1
 *   end
 * Not for: stage 1 or the boosted stage 2 (falsesig_model.c), nor training (tools/falsesig). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "falsesig_gru.h"
#include "falsesig_internal.h"
#include "model_text.h"

/* Bounds for a hostile or corrupt file (the models measured use H = 8..24, 0.25..1 Hz). */
#define GRU_MAX_HIDDEN 256
#define GRU_MAX_DECIM 64

struct fs_gru {
    int use_mhr, residual;
    size_t decim, n_features, n_masked, n_in, hidden;
    size_t *masked;                               /* [n_masked] feature indices */
    float *mean, *sd;                             /* [n_features] */
    float *w_ih[2], *w_hh[2], *b_ih[2], *b_hh[2]; /* [3H x n_in], [3H x H], [3H], [3H] */
    float *w_out;                                 /* [2H] */
    float b_out;
    float *store; /* one allocation holding every array above */
};

/* ---- parsing ------------------------------------------------------------------------------- */

static int num_float(fm_mtext *c, float *v)
{
    double x;
    if (!fm_mtext_double(c, &x, 0) || fabs(x) > 1e30)
        return 0;
    *v = (float)x;
    return 1;
}

/* "<tag> <rows> <cols>" with the expected shape, then rows * cols numbers. */
static int matrix(fm_mtext *c, const char *tag, size_t rows, size_t cols, float *dst)
{
    long r, k;
    if (!fm_mtext_expect(c, tag) || !fm_mtext_long(c, 1, 1000000, &r) ||
        !fm_mtext_long(c, 1, 1000000, &k) || (size_t)r != rows || (size_t)k != cols)
        return 0;
    for (size_t i = 0; i < rows * cols; i++)
        if (!num_float(c, &dst[i]))
            return 0;
    return 1;
}

static fm_status parse_body(fm_mtext *c, fs_gru *g)
{
    long v;
    if (!fm_mtext_expect(c, "fm_falsesig_gru") || !fm_mtext_long(c, 1, 1, &v))
        return FM_EFORMAT;
    if (!fm_mtext_expect(c, "use_mhr") || !fm_mtext_long(c, 0, 1, &v))
        return FM_EFORMAT;
    g->use_mhr = (int)v;
    if (!fm_mtext_expect(c, "decim") || !fm_mtext_long(c, 1, GRU_MAX_DECIM, &v))
        return FM_EFORMAT;
    g->decim = (size_t)v;
    if (!fm_mtext_expect(c, "residual") || !fm_mtext_long(c, 0, 1, &v))
        return FM_EFORMAT;
    g->residual = (int)v;
    /* the feature list must be this build's stage-2 list for that mode, in order */
    const size_t n2 = fs2_n_features(g->use_mhr);
    g->n_features = n2 + (size_t)g->residual;
    if (!fm_mtext_expect(c, "features") || !fm_mtext_long(c, 1, 10000, &v) ||
        (size_t)v != g->n_features)
        return FM_EFORMAT;
    for (size_t i = 0; i < g->n_features; i++) {
        char b[64];
        if (!fm_mtext_token(c, b, sizeof b) ||
            strcmp(b, i < n2 ? fs2_feature_name(i) : FS_GRU_P2_NAME))
            return FM_EFORMAT;
    }
    if (!fm_mtext_expect(c, "masked") || !fm_mtext_long(c, 0, (long)g->n_features, &v))
        return FM_EFORMAT;
    g->n_masked = (size_t)v;
    long idx[FS2_N_FEATURES_MHR + 1];
    for (size_t i = 0; i < g->n_masked; i++)
        if (!fm_mtext_long(c, 0, (long)g->n_features - 1, &idx[i]))
            return FM_EFORMAT;
    if (!fm_mtext_expect(c, "hidden") || !fm_mtext_long(c, 1, GRU_MAX_HIDDEN, &v))
        return FM_EFORMAT;
    g->hidden = (size_t)v;
    g->n_in = g->n_features + g->n_masked;
    if (!fm_mtext_expect(c, "inputs") || !fm_mtext_long(c, 1, 100000, &v) || (size_t)v != g->n_in)
        return FM_EFORMAT;

    const size_t H = g->hidden, G3 = 3 * H, nin = g->n_in;
    size_t total = 2 * g->n_features + 2 * (G3 * nin + G3 * H + 2 * G3) + 2 * H;
    g->store = malloc(total * sizeof *g->store);
    g->masked = malloc((g->n_masked ? g->n_masked : 1) * sizeof *g->masked);
    if (!g->store || !g->masked)
        return FM_ENOMEM;
    for (size_t i = 0; i < g->n_masked; i++)
        g->masked[i] = (size_t)idx[i];
    float *p = g->store;
    g->mean = p, p += g->n_features;
    g->sd = p, p += g->n_features;
    for (int d = 0; d < 2; d++) {
        g->w_ih[d] = p, p += G3 * nin;
        g->w_hh[d] = p, p += G3 * H;
        g->b_ih[d] = p, p += G3;
        g->b_hh[d] = p, p += G3;
    }
    g->w_out = p;
    if (!matrix(c, "mean", 1, g->n_features, g->mean) || !matrix(c, "sd", 1, g->n_features, g->sd))
        return FM_EFORMAT;
    for (size_t i = 0; i < g->n_features; i++)
        if (!(g->sd[i] > 0))
            return FM_EFORMAT;
    static const char *const tags[2][4] = {{"w_ih0", "w_hh0", "b_ih0", "b_hh0"},
                                           {"w_ih1", "w_hh1", "b_ih1", "b_hh1"}};
    for (int d = 0; d < 2; d++)
        if (!matrix(c, tags[d][0], G3, nin, g->w_ih[d]) ||
            !matrix(c, tags[d][1], G3, H, g->w_hh[d]) ||
            !matrix(c, tags[d][2], 1, G3, g->b_ih[d]) || !matrix(c, tags[d][3], 1, G3, g->b_hh[d]))
            return FM_EFORMAT;
    if (!matrix(c, "w_out", 1, 2 * H, g->w_out) || !matrix(c, "b_out", 1, 1, &g->b_out) ||
        !fm_mtext_expect(c, "end"))
        return FM_EFORMAT;
    return FM_OK;
}

int fs_gru_is_gru_text(const char *text, size_t len)
{
    static const char magic[] = "fm_falsesig_gru";
    return text && len >= sizeof magic - 1 && !memcmp(text, magic, sizeof magic - 1);
}

fm_status fs_gru_parse(const char *text, size_t len, fs_gru **out)
{
    if (!out || !text)
        return FM_EINVAL;
    *out = NULL;
    fs_gru *g = calloc(1, sizeof *g);
    if (!g)
        return FM_ENOMEM;
    fm_mtext c = {text, text + len};
    fm_status st = parse_body(&c, g);
    if (st != FM_OK) {
        fs_gru_destroy(g);
        return st;
    }
    *out = g;
    return FM_OK;
}

void fs_gru_destroy(fs_gru *g)
{
    if (!g)
        return;
    free(g->store);
    free(g->masked);
    free(g);
}

int fs_gru_uses_mhr(const fs_gru *g)
{
    return g ? g->use_mhr : 0;
}

int fs_gru_is_residual(const fs_gru *g)
{
    return g ? g->residual : 0;
}

size_t fs_gru_n_features(const fs_gru *g)
{
    return g ? g->n_features : 0;
}

float fs_gru_p2_logit(float p)
{
    if (isnan(p))
        return NAN;
    p = p < FS_GRU_P_CLIP ? FS_GRU_P_CLIP : p > 1.0f - FS_GRU_P_CLIP ? 1.0f - FS_GRU_P_CLIP : p;
    return logf(p / (1.0f - p));
}

size_t fs_gru_decim(const fs_gru *g)
{
    return g ? g->decim : 1;
}

size_t fs_gru_n_hidden(const fs_gru *g)
{
    return g ? g->hidden : 0;
}

/* ---- forward pass -------------------------------------------------------------------------- */

static float sigm(float v)
{
    return 1.0f / (1.0f + expf(-v));
}

/* The network input of one step: standardised features (missing -> 0), then the masks. */
static void step_input(const fs_gru *g, const float *x, float *in)
{
    for (size_t j = 0; j < g->n_features; j++)
        in[j] = isnan(x[j]) ? 0.0f : (x[j] - g->mean[j]) / g->sd[j];
    for (size_t j = 0; j < g->n_masked; j++)
        in[g->n_features + j] = isnan(x[g->masked[j]]) ? 0.0f : 1.0f;
}

/* h <- GRU cell of direction d (gi = W_ih in + b_ih precomputed into scratch). */
static void cell(const fs_gru *g, int d, const float *in, float *h, float *gi, float *gh)
{
    const size_t H = g->hidden, nin = g->n_in;
    for (size_t r = 0; r < 3 * H; r++) {
        const float *w = &g->w_ih[d][r * nin];
        float s = g->b_ih[d][r];
        for (size_t j = 0; j < nin; j++)
            s += w[j] * in[j];
        gi[r] = s;
        const float *u = &g->w_hh[d][r * H];
        float t = g->b_hh[d][r];
        for (size_t j = 0; j < H; j++)
            t += u[j] * h[j];
        gh[r] = t;
    }
    for (size_t j = 0; j < H; j++) {
        float rg = sigm(gi[j] + gh[j]);
        float zg = sigm(gi[H + j] + gh[H + j]);
        float ng = tanhf(gi[2 * H + j] + rg * gh[2 * H + j]);
        h[j] = (1.0f - zg) * ng + zg * h[j];
    }
}

fm_status fs_gru_run(const fs_gru *g, size_t n_steps, const float *x, float *logit)
{
    if (!g || (!x && n_steps) || (!logit && n_steps))
        return FM_EINVAL;
    if (!n_steps)
        return FM_OK;
    const size_t H = g->hidden, nf = g->n_features;
    /* forward states of every step, then the backward pass reads them out */
    float *hf = malloc(n_steps * H * sizeof *hf);
    float *scratch = malloc((g->n_in + 2 * H + 6 * H) * sizeof *scratch);
    if (!hf || !scratch) {
        free(hf);
        free(scratch);
        return FM_ENOMEM;
    }
    float *in = scratch, *h = in + g->n_in, *hb = h + H, *gi = hb + H, *gh = gi + 3 * H;
    memset(h, 0, H * sizeof *h);
    for (size_t k = 0; k < n_steps; k++) {
        step_input(g, &x[k * nf], in);
        cell(g, 0, in, h, gi, gh);
        memcpy(&hf[k * H], h, H * sizeof *h);
    }
    memset(hb, 0, H * sizeof *hb);
    for (size_t k = n_steps; k-- > 0;) {
        step_input(g, &x[k * nf], in);
        cell(g, 1, in, hb, gi, gh);
        float s = g->b_out;
        for (size_t j = 0; j < H; j++)
            s += g->w_out[j] * hf[k * H + j] + g->w_out[H + j] * hb[j];
        logit[k] = s;
    }
    free(hf);
    free(scratch);
    return FM_OK;
}
