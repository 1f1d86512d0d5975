/* Whole-recording (batch) false-signal detection: stage 2 of fm_falsesig_batch.
 *
 * Stage 1 is the live detector (falsesig.c: 30 min of history, 20 s of look-ahead). For an
 * uploaded recording the whole trace is known, so stage 2 looks at every stage-1 probability
 * with long context both ways: how suspect the last and next 10 s .. 20 min are, the segment
 * the sample belongs to and its neighbours, the level the trace holds where stage 1 trusts it
 * (a maternal tachycardia that lasts 50 min is recognised from the fetal level elsewhere in
 * the recording) and, with the maternal channel, coincidence over the whole recording. A
 * second boosted-tree model (same format as stage 1, header fm_falsesig_model2) turns these
 * into the final probability. Expert practice: a trace is read as a whole (CLINICAL 2).
 *
 * Not for: the live stream (stage 2 needs the future; the live pipeline uses fm_falsesig),
 * nor the stage-1 features (falsesig_features.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "falsesig_internal.h"

/* Stage-1 probability below which a sample counts as trusted fetal signal for the levels. */
#define FS2_TRUSTED_P 0.2f
/* CLINICAL 2: within 5 bpm of the maternal rate is coincident. */
#define FS2_COINCIDENCE_BPM 5.0f
/* Segments as in stage 1: a 2 s gap or a 25 bpm beat-to-beat jump starts a new one. */
#define FS2_GAP_BREAK_SAMPLES 8
#define FS2_JUMP_BREAK_BPM 25.0f
#define FS2_MHR_MIN_BPM 30.0f

#define HZ FM_FHR_RATE_HZ

static const char *const names2[FS2_N_FEATURES_MHR] = {
    "p1", "fhr",
    "p_past10s", "p_next10s", "p_ctr10s", "p_past1m", "p_next1m", "p_ctr1m",
    "p_past5m", "p_next5m", "p_ctr5m", "p_past20m", "p_next20m", "p_ctr20m",
    "flag_ctr1m", "flag_ctr5m", "valid_ctr1m", "valid_ctr5m",
    "p_rec", "flag_rec", "valid_rec",
    "seg_p", "seg_len_s", "seg_p_prev", "seg_p_next", "seg_gap_before_s", "seg_gap_after_s",
    "x_minus_trust5m", "x_minus_trust30m", "x_minus_trust_rec", "log2_x_trust5m",
    "log2_x_trust_rec", "trust_sd_rec", "trust_frac_rec", "x_minus_suspect_rec",
    "seg_x_minus_trust_rec",
    /* with the maternal channel */
    "mhr_valid_rec", "x_minus_m", "x_minus_m5m", "x_minus_m_rec", "coinc_ctr1m", "coinc_ctr5m",
    "coinc_ctr20m", "coinc_rec", "trust_rec_minus_m_rec"};

size_t fs2_n_features(int use_mhr)
{
    return use_mhr ? FS2_N_FEATURES_MHR : FS2_N_FEATURES_NOMHR;
}

const char *fs2_feature_name(size_t i)
{
    return i < FS2_N_FEATURES_MHR ? names2[i] : NULL;
}

/* Running sums over the recording, entry i = samples [0, i). */
typedef struct sums {
    double cv, sp, cf;      /* stage-1 valid: count, sum p1, count p1 >= 0.5 */
    double ct, stx, stxx;   /* trusted: count, sum x, sum x^2 (x - 140) */
    double cs, ssx;         /* suspect (p1 >= 0.5): count, sum x */
    double cm, sm;          /* valid MHR: count, sum */
    double cb, cc;          /* FHR and MHR both valid: count, coincident count */
} sums;

#define CENTER 140.0

static size_t clampi(int64_t v, size_t n)
{
    return v < 0 ? 0 : (size_t)v > n ? n : (size_t)v;
}

/* Difference of the sums over [a, b) with clipping to the recording. */
static sums win(const sums *s, size_t n, int64_t a, int64_t b)
{
    const sums *hi = &s[clampi(b, n)], *lo = &s[clampi(a, n)];
    sums d;
    d.cv = hi->cv - lo->cv;
    d.sp = hi->sp - lo->sp;
    d.cf = hi->cf - lo->cf;
    d.ct = hi->ct - lo->ct;
    d.stx = hi->stx - lo->stx;
    d.stxx = hi->stxx - lo->stxx;
    d.cs = hi->cs - lo->cs;
    d.ssx = hi->ssx - lo->ssx;
    d.cm = hi->cm - lo->cm;
    d.sm = hi->sm - lo->sm;
    d.cb = hi->cb - lo->cb;
    d.cc = hi->cc - lo->cc;
    return d;
}

static float ratio(double a, double b)
{
    return b > 0 ? (float)(a / b) : NAN;
}

static float mean_p(const sums *s, size_t n, int64_t a, int64_t b)
{
    sums d = win(s, n, a, b);
    return ratio(d.sp, d.cv);
}

static float trusted_mean(const sums *s, size_t n, int64_t a, int64_t b)
{
    sums d = win(s, n, a, b);
    return d.ct > 0 ? (float)(d.stx / d.ct + CENTER) : NAN;
}

static float log2_ratio(float x, float ref)
{
    return ref > 0 ? log2f(x / ref) : NAN;
}

struct fs2_context {
    size_t cap;
    sums *s;
    int32_t *seg;     /* segment of each valid sample (-1: none) */
    size_t n_seg, cap_seg;
    struct seg_info {
        size_t a, b; /* [a, b] valid samples */
        double sp, sx, c;
    } *segs;
};

fs2_context *fs2_context_create(void)
{
    return calloc(1, sizeof(fs2_context));
}

void fs2_context_destroy(fs2_context *c)
{
    if (!c)
        return;
    free(c->s);
    free(c->seg);
    free(c->segs);
    free(c);
}

static float valid_m(const float *mhr, size_t i)
{
    if (!mhr)
        return NAN;
    float m = mhr[i];
    return isfinite(m) && m >= FS2_MHR_MIN_BPM && m <= FM_FHR_ARTEFACT_MAX_BPM ? m : NAN;
}

fm_status fs2_context_prepare(fs2_context *c, size_t n, const float *fhr, const float *mhr,
                              const float *p1)
{
    if (n + 1 > c->cap) {
        sums *s = realloc(c->s, (n + 1) * sizeof *s);
        if (!s)
            return FM_ENOMEM;
        c->s = s;
        int32_t *seg = realloc(c->seg, (n ? n : 1) * sizeof *seg);
        if (!seg)
            return FM_ENOMEM;
        c->seg = seg;
        c->cap = n + 1;
    }
    memset(&c->s[0], 0, sizeof c->s[0]);
    c->n_seg = 0;
    int64_t last = -1;
    for (size_t i = 0; i < n; i++) {
        sums v = c->s[i];
        const float p = p1[i], x = fhr[i], m = valid_m(mhr, i);
        c->seg[i] = -1;
        if (!isnan(p)) {
            double xc = x - CENTER;
            v.cv += 1;
            v.sp += p;
            if (p >= FM_FALSESIG_THRESHOLD) {
                v.cf += 1;
                v.cs += 1;
                v.ssx += xc;
            }
            if (p < FS2_TRUSTED_P) {
                v.ct += 1;
                v.stx += xc;
                v.stxx += xc * xc;
            }
            if (!isnan(m)) {
                v.cb += 1;
                v.cc += fabsf(x - m) <= FS2_COINCIDENCE_BPM;
            }
            int brk = last < 0 || (int64_t)i - last - 1 >= FS2_GAP_BREAK_SAMPLES ||
                      fabsf(x - fhr[last]) > FS2_JUMP_BREAK_BPM;
            if (brk) {
                if (c->n_seg == c->cap_seg) {
                    size_t nc = c->cap_seg ? 2 * c->cap_seg : 64;
                    struct seg_info *g = realloc(c->segs, nc * sizeof *g);
                    if (!g)
                        return FM_ENOMEM;
                    c->segs = g;
                    c->cap_seg = nc;
                }
                c->segs[c->n_seg] = (struct seg_info){i, i, 0, 0, 0};
                c->n_seg++;
            }
            struct seg_info *g = &c->segs[c->n_seg - 1];
            g->b = i;
            g->sp += p;
            g->sx += x;
            g->c += 1;
            c->seg[i] = (int32_t)(c->n_seg - 1);
            last = (int64_t)i;
        }
        if (!isnan(m)) {
            v.cm += 1;
            v.sm += m;
        }
        c->s[i + 1] = v;
    }
    return FM_OK;
}

void fs2_context_compute(const fs2_context *c, size_t n, const float *fhr, const float *mhr,
                         const float *p1, size_t t, int use_mhr, float *out)
{
    const sums *s = c->s;
    const int64_t i = (int64_t)t;
    const float x = fhr[t];
    size_t k = 0;
    out[k++] = p1[t];
    out[k++] = x;
    static const int64_t w_s[4] = {10, 60, 300, 1200};
    for (int w = 0; w < 4; w++) {
        int64_t W = w_s[w] * HZ;
        out[k++] = mean_p(s, n, i - W, i);
        out[k++] = mean_p(s, n, i + 1, i + 1 + W);
        out[k++] = mean_p(s, n, i - W, i + 1 + W);
    }
    for (int w = 1; w <= 2; w++) {
        int64_t W = w_s[w] * HZ;
        sums d = win(s, n, i - W, i + 1 + W);
        out[k++] = ratio(d.cf, d.cv);
    }
    for (int w = 1; w <= 2; w++) {
        int64_t W = w_s[w] * HZ;
        int64_t a = (int64_t)clampi(i - W, n), b = (int64_t)clampi(i + 1 + W, n);
        sums d = win(s, n, a, b);
        out[k++] = ratio(d.cv, (double)(b - a));
    }
    const sums *all = &s[n];
    out[k++] = ratio(all->sp, all->cv);
    out[k++] = ratio(all->cf, all->cv);
    out[k++] = ratio(all->cv, (double)n);
    /* the segment and its neighbours */
    const struct seg_info *g = &c->segs[c->seg[t]];
    const size_t gi = (size_t)c->seg[t];
    out[k++] = (float)(g->sp / g->c);
    out[k++] = (float)((double)(g->b - g->a + 1) / HZ);
    out[k++] = gi > 0 ? (float)(c->segs[gi - 1].sp / c->segs[gi - 1].c) : NAN;
    out[k++] = gi + 1 < c->n_seg ? (float)(c->segs[gi + 1].sp / c->segs[gi + 1].c) : NAN;
    out[k++] = gi > 0 ? (float)((double)(g->a - c->segs[gi - 1].b - 1) / HZ) : NAN;
    out[k++] = gi + 1 < c->n_seg ? (float)((double)(c->segs[gi + 1].a - g->b - 1) / HZ) : NAN;
    /* the level stage 1 trusts, near and over the whole recording */
    const float tr5 = trusted_mean(s, n, i - 300 * HZ, i + 1 + 300 * HZ);
    const float tr30 = trusted_mean(s, n, i - 1800 * HZ, i + 1 + 1800 * HZ);
    const float trr = trusted_mean(s, n, 0, (int64_t)n);
    out[k++] = x - tr5;
    out[k++] = x - tr30;
    out[k++] = x - trr;
    out[k++] = log2_ratio(x, tr5);
    out[k++] = log2_ratio(x, trr);
    if (all->ct > 1) {
        double mu = all->stx / all->ct;
        double var = all->stxx / all->ct - mu * mu;
        out[k++] = (float)sqrt(var > 0 ? var : 0);
    } else {
        out[k++] = NAN;
    }
    out[k++] = ratio(all->ct, all->cv);
    out[k++] = all->cs > 0 ? (float)(x - (all->ssx / all->cs + CENTER)) : NAN;
    out[k++] = (float)(g->sx / g->c) - trr;
    if (!use_mhr)
        return;
    const float m = valid_m(mhr, t);
    out[k++] = ratio(all->cm, (double)n);
    out[k++] = x - m;
    {
        sums d = win(s, n, i - 300 * HZ, i + 1 + 300 * HZ);
        out[k++] = d.cm > 0 ? x - (float)(d.sm / d.cm) : NAN;
    }
    out[k++] = all->cm > 0 ? x - (float)(all->sm / all->cm) : NAN;
    for (int w = 1; w <= 3; w++) {
        int64_t W = w_s[w] * HZ;
        sums d = win(s, n, i - W, i + 1 + W);
        out[k++] = ratio(d.cc, d.cb);
    }
    out[k++] = ratio(all->cc, all->cb);
    out[k++] = all->cm > 0 ? trr - (float)(all->sm / all->cm) : NAN;
}
