/* Tests of the recurrent stage of the whole-recording false-signal detector (dsp/falsesig_gru.c
 * and its use in falsesig_batch.c): the forward pass of a tiny hand-checkable model, against an
 * independent scalar recurrence, the backward direction through time reversal, determinism,
 * refusal of malformed weight files, and the batch mode with a stand-alone and a residual
 * recurrent stage on a synthetic trace (no dataset needed). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../dsp/falsesig_gru.h"
#include "../dsp/falsesig_internal.h"
#include "check.h"
#include "fetalmon/falsesig.h"
#include "fetalmon/trace.h"
#include "test_falsesig_trace.h"

/* ---- a tiny model (hidden 1, no-MHR features), written as train_gru.py writes it ----------- */

typedef struct tiny {
    /* per direction d: input weights of gates r, z, n on input 0 (p1) and on the p1 mask,
     * recurrent weights, and the two biases of each gate */
    double a[2][3], m[2][3], u[2][3], bi[2][3], bh[2][3];
    double w_out[2], b_out;
    double sd0; /* sd of feature 0 (the others: mean 0, sd 1) */
    int residual, use_mhr;
} tiny;

typedef struct buf {
    char *s;
    size_t len, cap;
} buf;

static void put(buf *b, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        va_start(ap, fmt);
        int n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n >= 0 && b->len + (size_t)n < b->cap) {
            b->len += (size_t)n;
            return;
        }
        b->cap = b->cap * 2 + (size_t)n + 64;
        b->s = realloc(b->s, b->cap);
        if (!b->s)
            abort();
    }
}

static char *tiny_text(const tiny *t, size_t *len)
{
    buf b = {malloc(64), 0, 64};
    const size_t n2 = fs2_n_features(t->use_mhr), nf = n2 + (size_t)t->residual, nin = nf + 1;
    put(&b, "fm_falsesig_gru 1\nuse_mhr %d\ndecim 4\nresidual %d\nfeatures %zu", t->use_mhr,
        t->residual, nf);
    for (size_t i = 0; i < nf; i++)
        put(&b, " %s", i < n2 ? fs2_feature_name(i) : FS_GRU_P2_NAME);
    put(&b, "\nmasked 1 0\nhidden 1\ninputs %zu\nmean 1 %zu", nin, nf);
    for (size_t i = 0; i < nf; i++)
        put(&b, " 0");
    put(&b, "\nsd 1 %zu", nf);
    for (size_t i = 0; i < nf; i++)
        put(&b, " %.17g", i ? 1.0 : t->sd0);
    for (int d = 0; d < 2; d++) {
        put(&b, "\nw_ih%d 3 %zu\n", d, nin);
        for (int g = 0; g < 3; g++) {
            for (size_t j = 0; j < nin; j++)
                put(&b, "%.17g ", j == 0 ? t->a[d][g] : j == nin - 1 ? t->m[d][g] : 0.0);
            put(&b, "\n");
        }
        put(&b, "w_hh%d 3 1\n%.17g\n%.17g\n%.17g\n", d, t->u[d][0], t->u[d][1], t->u[d][2]);
        put(&b, "b_ih%d 1 3\n%.17g %.17g %.17g\n", d, t->bi[d][0], t->bi[d][1], t->bi[d][2]);
        put(&b, "b_hh%d 1 3\n%.17g %.17g %.17g\n", d, t->bh[d][0], t->bh[d][1], t->bh[d][2]);
    }
    put(&b, "w_out 1 2\n%.17g %.17g\nb_out 1 1\n%.17g\nend\n", t->w_out[0], t->w_out[1], t->b_out);
    *len = b.len;
    return b.s;
}

static fs_gru *tiny_gru(const tiny *t)
{
    size_t len;
    char *txt = tiny_text(t, &len);
    fs_gru *g = NULL;
    fm_status st = fs_gru_parse(txt, len, &g);
    CHECKF(st == FM_OK, "%s", fm_strerror(st));
    free(txt);
    return g;
}

static double sig(double v)
{
    return 1 / (1 + exp(-v));
}

/* The GRU recurrence written out for hidden size 1 (PyTorch's equations), in double. */
static void reference(const tiny *t, size_t n, const double *x0, double *logit)
{
    double *hf = malloc(n * sizeof *hf), h = 0;
    for (int d = 0; d < 2; d++) {
        h = 0;
        for (size_t s = 0; s < n; s++) {
            size_t k = d ? n - 1 - s : s;
            double in = isnan(x0[k]) ? 0 : x0[k] / t->sd0, mask = isnan(x0[k]) ? 0 : 1;
            double gi[3], gh[3];
            for (int g = 0; g < 3; g++) {
                gi[g] = t->a[d][g] * in + t->m[d][g] * mask + t->bi[d][g];
                gh[g] = t->u[d][g] * h + t->bh[d][g];
            }
            double r = sig(gi[0] + gh[0]), z = sig(gi[1] + gh[1]);
            double nn = tanh(gi[2] + r * gh[2]);
            h = (1 - z) * nn + z * h;
            if (!d)
                hf[k] = h;
            else
                logit[k] = t->w_out[0] * hf[k] + t->w_out[1] * h + t->b_out;
        }
    }
    free(hf);
}

static const tiny example = {
    .a = {{0.7, -0.4, 1.3}, {-0.2, 0.5, -0.9}},
    .m = {{0.1, 0.2, -0.6}, {0.3, -0.1, 0.4}},
    .u = {{0.8, -0.3, 0.6}, {-0.5, 0.9, 1.1}},
    .bi = {{0.05, -0.1, 0.2}, {0.0, 0.15, -0.25}},
    .bh = {{-0.02, 0.3, 0.1}, {0.2, -0.05, 0.07}},
    .w_out = {1.5, -2.0},
    .b_out = 0.25,
    .sd0 = 2.0,
};

/* The step inputs of a model: feature 0 = x0[k], the others 0 (NAN where x0 is NAN). */
static float *inputs(const fs_gru *g, size_t n, const double *x0)
{
    size_t nf = fs_gru_n_features(g);
    float *x = calloc(n * nf, sizeof *x);
    for (size_t k = 0; k < n; k++)
        for (size_t j = 0; j < nf; j++)
            x[k * nf + j] = isnan(x0[k]) ? NAN : j ? 0.0f : (float)x0[k];
    return x;
}

/* ---- tests --------------------------------------------------------------------------------- */

static void one_step_by_hand(void)
{
    /* only b_ih of gate n = 0.5: r = z = 1/2, n = tanh(0.5), h = n / 2 in both directions;
     * logit = 1 * h - 0.5 * h + 0.25 = 0.25 + tanh(0.5) / 4 = 0.365529289 */
    tiny t = {.bi = {{0, 0, 0.5}, {0, 0, 0.5}}, .w_out = {1, -0.5}, .b_out = 0.25, .sd0 = 1};
    fs_gru *g = tiny_gru(&t);
    float x[FS2_N_FEATURES_NOMHR] = {0}, z = 0;
    CHECK(g && fs_gru_run(g, 1, x, &z) == FM_OK);
    CHECKF(fabsf(z - 0.365529289f) < 1e-6f, "%.9f", z);
    CHECK(fs_gru_decim(g) == 4 && fs_gru_n_hidden(g) == 1 && !fs_gru_is_residual(g));
    fs_gru_destroy(g);
}

static void forward_pass_equals_the_recurrence(void)
{
    enum { N = 300 };
    double x0[N], ref[N];
    for (size_t k = 0; k < N; k++)
        x0[k] = (k % 37 == 5 || (k > 100 && k < 112)) ? NAN : 0.9 * sin(0.05 * (double)k) + 0.3;
    reference(&example, N, x0, ref);
    fs_gru *g = tiny_gru(&example);
    float *x = inputs(g, N, x0), z[N];
    CHECK(fs_gru_run(g, N, x, z) == FM_OK);
    double worst = 0;
    for (size_t k = 0; k < N; k++)
        worst = fmax(worst, fabs(z[k] - ref[k]));
    CHECKF(worst < 1e-5, "max |C - reference| = %g", worst);
    /* the backward direction matters: the last step sees only itself backwards */
    CHECK(fabs(ref[0] - ref[N - 1]) > 1e-3);
    free(x);
    fs_gru_destroy(g);
}

static void backward_direction_is_time_reversal(void)
{
    /* swapping the directions' weights and the read-out halves = running on reversed time */
    enum { N = 200 };
    tiny sw = example;
    for (int g = 0; g < 3; g++) {
        sw.a[0][g] = example.a[1][g], sw.a[1][g] = example.a[0][g];
        sw.m[0][g] = example.m[1][g], sw.m[1][g] = example.m[0][g];
        sw.u[0][g] = example.u[1][g], sw.u[1][g] = example.u[0][g];
        sw.bi[0][g] = example.bi[1][g], sw.bi[1][g] = example.bi[0][g];
        sw.bh[0][g] = example.bh[1][g], sw.bh[1][g] = example.bh[0][g];
    }
    sw.w_out[0] = example.w_out[1], sw.w_out[1] = example.w_out[0];
    double x0[N], xr[N];
    for (size_t k = 0; k < N; k++) {
        x0[k] = k % 23 == 0 ? NAN : cos(0.11 * (double)k);
        xr[N - 1 - k] = x0[k];
    }
    fs_gru *g = tiny_gru(&example), *h = tiny_gru(&sw);
    float *x = inputs(g, N, x0), *y = inputs(h, N, xr), z1[N], z2[N], z3[N];
    CHECK(fs_gru_run(g, N, x, z1) == FM_OK && fs_gru_run(h, N, y, z2) == FM_OK);
    double worst = 0;
    for (size_t k = 0; k < N; k++)
        worst = fmax(worst, fabs(z1[k] - z2[N - 1 - k]));
    CHECKF(worst < 1e-6, "%g", worst);
    /* deterministic: a second run is the same bit for bit */
    CHECK(fs_gru_run(g, N, x, z3) == FM_OK && !memcmp(z1, z3, sizeof z1));
    free(x);
    free(y);
    fs_gru_destroy(g);
    fs_gru_destroy(h);
}

static fm_status parse_status(const char *txt, size_t len)
{
    fs_gru *g = NULL;
    fm_status st = fs_gru_parse(txt, len, &g);
    fs_gru_destroy(g);
    return st;
}

static void malformed_weight_files_are_refused(void)
{
    size_t len;
    char *txt = tiny_text(&example, &len);
    CHECK(parse_status(txt, len) == FM_OK);
    CHECK(fs_gru_is_gru_text(txt, len) && !fs_gru_is_gru_text("fm_falsesig_model2 1", 20));
    /* truncated anywhere */
    for (size_t cut = 0; cut < len; cut += 97)
        CHECK(parse_status(txt, cut) == FM_EFORMAT);
    /* a feature this build does not compute */
    char *bad = malloc(len + 1);
    memcpy(bad, txt, len);
    bad[len] = 0;
    char *f = strstr(bad, " p1 ");
    CHECK(f != NULL);
    if (f)
        f[1] = 'q';
    CHECK(parse_status(bad, len) == FM_EFORMAT);
    /* a weight that is not a number */
    memcpy(bad, txt, len);
    f = strstr(bad, "b_out 1 1\n");
    if (f)
        memcpy(f + 10, "nan ", 4);
    CHECK(f && parse_status(bad, len) == FM_EFORMAT);
    /* a hidden size above the bound */
    memcpy(bad, txt, len);
    f = strstr(bad, "hidden 1\n");
    if (f)
        f[7] = '9';
    CHECK(f && parse_status(bad, len) == FM_EFORMAT);
    CHECK(fs_gru_run(NULL, 1, NULL, NULL) == FM_EINVAL);
    free(bad);
    free(txt);
}

/* ---- the batch mode with a recurrent stage ------------------------------------------------- */

static void batch_uses_the_recurrent_stage(void)
{
    const size_t n = 20 * 60 * FM_FHR_RATE_HZ;
    fm_trace *t = fs_test_trace(n);
    if (!t) {
        CHECK(t != NULL);
        return;
    }
    float *pb = malloc(n * sizeof *pb), *pg = malloc(n * sizeof *pg), *pr = malloc(n * sizeof *pr);
    uint8_t *sb = malloc(n), *sr = malloc(n);
    fm_status st;
    /* boosted stage 2 only */
    fm_falsesig_batch *b = fm_falsesig_batch_create_from_text(
        fm_falsesig_model_nomhr, fm_falsesig_model_nomhr_len, fm_falsesig_model2_nomhr,
        fm_falsesig_model2_nomhr_len, &st);
    CHECKF(b != NULL, "%s", fm_strerror(st));
    if (!b)
        goto out;
    CHECK(fm_falsesig_batch_run(b, t, pb, sb) == FM_OK);

    /* a residual recurrent stage whose read-out is zero leaves the boosted probability */
    tiny zero = {.sd0 = 1, .residual = 1};
    size_t len;
    char *txt = tiny_text(&zero, &len);
    CHECK(fm_falsesig_batch_set_recurrent(b, txt, len) == FM_OK);
    CHECK(fm_falsesig_batch_run(b, t, pr, sr) == FM_OK);
    double worst = 0;
    size_t n_signal = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(isnan(pb[i]) == isnan(pr[i]));
        if (isnan(pb[i]))
            continue;
        n_signal++;
        float clipped = fminf(fmaxf(pb[i], FS_GRU_P_CLIP), 1 - FS_GRU_P_CLIP);
        worst = fmax(worst, fabs(pr[i] - clipped));
        if (fabsf(pb[i] - FM_FALSESIG_THRESHOLD) > 1e-4f)
            CHECK(sb[i] == sr[i]);
    }
    CHECKF(worst < 1e-6, "%g", worst);
    CHECK(n_signal > n / 2);
    /* the same object, another trace in between, the same trace again: bit for bit */
    fm_trace *other = fs_test_trace(n / 3);
    CHECK(fm_falsesig_batch_run(b, other, pg, NULL) == FM_OK);
    CHECK(fm_falsesig_batch_run(b, t, pg, NULL) == FM_OK);
    CHECK(!memcmp(pg, pr, n * sizeof *pg));
    fm_trace_destroy(other);
    free(txt);

    /* a stand-alone recurrent stage (replaces the boosted one): read-out bias only */
    tiny bias = {.sd0 = 1, .b_out = 0.3};
    txt = tiny_text(&bias, &len);
    CHECK(fm_falsesig_batch_set_recurrent(b, txt, len) == FM_OK);
    CHECK(fm_falsesig_batch_run(b, t, pg, NULL) == FM_OK);
    for (size_t i = 0; i < n; i++)
        CHECK(isnan(pg[i]) ? isnan(pb[i]) : fabsf(pg[i] - (float)sig(0.3)) < 1e-6f);
    /* now without a boosted stage, a residual model is refused; so is the other mode */
    CHECK(fm_falsesig_batch_set_recurrent(b, txt, len) == FM_OK);
    free(txt);
    txt = tiny_text(&zero, &len);
    CHECK(fm_falsesig_batch_set_recurrent(b, txt, len) == FM_EFORMAT);
    free(txt);
    tiny other_mode = {.sd0 = 1, .use_mhr = 1};
    txt = tiny_text(&other_mode, &len);
    CHECK(fm_falsesig_batch_set_recurrent(b, txt, len) == FM_EFORMAT);
    free(txt);
    fm_falsesig_batch_destroy(b);
out:
    free(pb);
    free(pg);
    free(pr);
    free(sb);
    free(sr);
    fm_trace_destroy(t);
}

int main(void)
{
    RUN(one_step_by_hand);
    RUN(forward_pass_equals_the_recurrence);
    RUN(backward_direction_is_time_reversal);
    RUN(malformed_weight_files_are_refused);
    RUN(batch_uses_the_recurrent_stage);
    return CHECK_DONE();
}
