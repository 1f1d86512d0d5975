/* Features of the false-signal detector: what a 4 Hz FHR sample looks like against its own
 * trace (level, jumps, variability texture, halving/doubling relations, continuity) and, in the
 * MHR mode, against the maternal heart rate (coincidence and its persistence).
 *
 * Every feature of sample t uses samples t - 10 min .. t + lookahead only, so the detector runs
 * live with a fixed latency. Windows are O(1) through running sums kept in a ring; the 10-min
 * level uses a 1-bpm histogram. The same code feeds the feature dumper that trains the model
 * (tools/falsesig), so training and inference cannot drift apart.
 * Not for: the model itself (falsesig_model.c) nor the streaming queue (falsesig.c). */
#include <math.h>
#include <string.h>

#include "falsesig_internal.h"

/* CLINICAL 2: FHR within 5 bpm of the maternal rate is coincident (Pinto et al. 2015). */
#define FS_COINCIDENCE_BPM 5.0f
/* A new segment starts after a gap of 2 s or a beat-to-beat jump of more than 25 bpm: the
 * signature of the probe switching to another source. */
#define FS_GAP_BREAK_SAMPLES 8
#define FS_JUMP_BREAK_BPM 25.0f
/* Level before a segment: mean of the 10 s before it. */
#define FS_PREV_LEVEL_SAMPLES 40
/* Level after a segment (look-ahead): mean of up to 5 s of the next segment. */
#define FS_NEXT_LEVEL_SAMPLES 20
/* |x - m| is clipped here before averaging: beyond it the value says nothing more. */
#define FS_DM_CLIP_BPM 30.0f
#define FS_MHR_MIN_BPM 30.0f
#define FS_CENTER_BPM 140.0

static const char *const feature_names[FS_N_FEATURES_MHR] = {
    "fhr", "dfhr_prev", "dfhr_next", "elapsed_s", "med10", "x_minus_med10", "log2_x_med10",
    "iqr10", "x_minus_p25", "x_minus_p75", "valid_frac10",
    "w2_valid", "w2_dev", "w2_std", "w2_mad",
    "w5_valid", "w5_dev", "w5_std", "w5_mad",
    "w15_valid", "w15_dev", "w15_std", "w15_mad",
    "w60_valid", "w60_dev", "w60_std", "w60_mad",
    "seg_past_s", "seg_ahead_s", "seg_ended", "seg_mean", "seg_std", "seg_mad",
    "seg_minus_med10", "log2_seg_med10", "seg_jump_in", "log2_seg_prev", "seg_gap_before_s",
    "seg_jump_out", "log2_next_seg", "seg_minus_before", "log2_seg_before", "breaks60",
    "since_gap_s", "to_gap_s", "valid_ahead",
    "med30", "seg_minus_med30", "log2_seg_med30", "seg_minus_p90_30", "above10", "below10",
    "above30", "below30",
    /* MHR set */
    "mhr", "x_minus_m", "abs_x_minus_m",
    "w2_coinc", "w2_both", "w2_dm", "w5_coinc", "w5_both", "w5_dm",
    "w15_coinc", "w15_both", "w15_dm", "w60_coinc", "w60_both", "w60_dm",
    "seg_coinc", "seg_minus_m60", "x_minus_m60", "med10_minus_m60", "abs_x_minus_2m60",
    "abs_x_minus_halfm60", "corr15", "m_valid60", "coinc10", "x_minus_last_m",
    "last_m_age_s", "seg_minus_m10"};

/* Feature indices the state suggestion reads must match the table above. */
_Static_assert(sizeof feature_names / sizeof *feature_names == FS_N_FEATURES_MHR, "names");
/* A level "above" or "below" the segment: more than 15 bpm away (the jump a capture makes). */
#define FS_LEVEL_APART_BPM 15.0f

size_t fs_n_features(int use_mhr)
{
    return use_mhr ? FS_N_FEATURES_MHR : FS_N_FEATURES_NOMHR;
}

const char *fs_feature_name(size_t i)
{
    return i < FS_N_FEATURES_MHR ? feature_names[i] : NULL;
}

size_t fs_features_size(int use_mhr)
{
    return sizeof(fs_features) + (use_mhr ? FS_RING * sizeof(fs_prefix_mhr) : 0);
}

void fs_features_reset(fs_features *f, int use_mhr, unsigned lookahead)
{
    memset(f, 0, fs_features_size(use_mhr));
    f->use_mhr = use_mhr;
    f->lookahead = lookahead;
    f->last_valid_idx = -1;
    f->last_valid_x = NAN;
    f->last_m = NAN;
    f->last_m_idx = -1;
}

static int valid_fhr(float x)
{
    return isfinite(x) && x >= FM_FHR_ARTEFACT_MIN_BPM && x <= FM_FHR_ARTEFACT_MAX_BPM;
}

static int hist_bin(float x)
{
    int b = (int)x - FS_HIST_MIN_BPM;
    return b < 0 ? 0 : b >= FS_HIST_BINS ? FS_HIST_BINS - 1 : b;
}

/* Running sums up to and including sample i; i < 0 is the empty sum. */
static fs_prefix pf_at(const fs_features *f, int64_t i)
{
    fs_prefix p = {0};
    if (i < 0)
        return p;
    const size_t k = (size_t)((uint64_t)i & FS_RING_MASK);
    const fs_prefix_fhr *a = &f->pf[k];
    p.cv = a->cv, p.sx = a->sx, p.sxx = a->sxx, p.cd = a->cd, p.sd = a->sd, p.cs = a->cs;
    if (f->use_mhr) {
        const fs_prefix_mhr *b = &f->pm[k];
        p.cb = b->cb, p.cc = b->cc, p.sdm = b->sdm, p.cm = b->cm, p.sm = b->sm;
        p.bx = b->bx, p.bm = b->bm, p.bxx = b->bxx, p.bmm = b->bmm, p.bxm = b->bxm;
    }
    return p;
}

static void pf_put(fs_features *f, size_t k, const fs_prefix *p)
{
    f->pf[k] = (fs_prefix_fhr){p->cv, p->sx, p->sxx, p->cd, p->sd, p->cs};
    if (f->use_mhr)
        f->pm[k] = (fs_prefix_mhr){p->cb, p->cc,  p->sdm, p->cm,  p->sm,
                                   p->bx, p->bm, p->bxx, p->bmm, p->bxm};
}

void fs_features_push(fs_features *f, float fhr_bpm, float mhr_bpm)
{
    const int64_t i = (int64_t)f->n;
    const size_t k = (size_t)i & FS_RING_MASK;
    const float x = valid_fhr(fhr_bpm) ? fhr_bpm : NAN;
    const float m = (f->use_mhr && isfinite(mhr_bpm) && mhr_bpm >= FS_MHR_MIN_BPM &&
                     mhr_bpm <= FM_FHR_ARTEFACT_MAX_BPM)
                        ? mhr_bpm
                        : NAN;
    const fs_prefix prev = pf_at(f, i - 1);
    fs_prefix p = prev;
    f->x[k] = x;
    f->m[k] = m;
    f->last_invalid[k] = isnan(x) ? i : (i > 0 ? f->last_invalid[(size_t)(i - 1) & FS_RING_MASK]
                                               : -1);
    f->seg_start[k] = -1;
    f->seg_prev_level[k] = NAN;
    f->seg_gap_s[k] = NAN;
    if (!isnan(x)) {
        double xc = x - FS_CENTER_BPM;
        p.cv += 1.0;
        p.sx += xc;
        p.sxx += xc * xc;
        if (i > 0 && f->last_valid_idx == i - 1) {
            p.cd += 1.0;
            p.sd += fabsf(x - f->last_valid_x);
        }
        int64_t pv = f->last_valid_idx;
        int brk = pv < 0 || i - pv - 1 >= FS_GAP_BREAK_SAMPLES ||
                  fabsf(x - f->last_valid_x) > FS_JUMP_BREAK_BPM;
        if (brk) {
            p.cs += 1.0;
            f->seg_start[k] = i;
            /* level of the 10 s before the segment, from the sums up to i - 1 */
            int64_t a = i - FS_PREV_LEVEL_SAMPLES;
            const fs_prefix pa = pf_at(f, a - 1);
            double c = prev.cv - pa.cv;
            f->seg_prev_level[k] = c > 0 ? (float)((prev.sx - pa.sx) / c + FS_CENTER_BPM) : NAN;
            f->seg_gap_s[k] = pv < 0 ? (float)i / FM_FHR_RATE_HZ
                                     : (float)(i - pv - 1) / FM_FHR_RATE_HZ;
        } else {
            size_t kp = (size_t)pv & FS_RING_MASK;
            f->seg_start[k] = f->seg_start[kp];
            f->seg_prev_level[k] = f->seg_prev_level[kp];
            f->seg_gap_s[k] = f->seg_gap_s[kp];
        }
        f->last_valid_idx = i;
        f->last_valid_x = x;
        f->hist[hist_bin(x)]++;
        f->hist_count++;
        f->hist30[hist_bin(x)]++;
        f->hist30_count++;
    }
    f->xl[(size_t)i % FS_LONG_RING] = x;
    if (!isnan(m)) {
        f->last_m = m;
        f->last_m_idx = i;
        p.cm += 1.0;
        p.sm += m - FS_CENTER_BPM;
        if (!isnan(x)) {
            double d = fabsf(x - m), xc = x - FS_CENTER_BPM, mc = m - FS_CENTER_BPM;
            p.cb += 1.0;
            p.cc += d <= FS_COINCIDENCE_BPM ? 1.0 : 0.0;
            p.sdm += d < FS_DM_CLIP_BPM ? d : FS_DM_CLIP_BPM;
            p.bx += xc;
            p.bm += mc;
            p.bxx += xc * xc;
            p.bmm += mc * mc;
            p.bxm += xc * mc;
        }
    }
    pf_put(f, k, &p);
    f->n++;
}

float fs_features_fhr(const fs_features *f, uint64_t t)
{
    return f->x[t & FS_RING_MASK];
}

/* Sums over samples a..b inclusive (a clamped to the ring by the caller). */
static fs_prefix window(const fs_features *f, int64_t a, int64_t b)
{
    const fs_prefix pb_v = pf_at(f, b), pa_v = pf_at(f, a - 1);
    const fs_prefix *pb = &pb_v, *pa = &pa_v;
    fs_prefix w;
    w.cv = pb->cv - pa->cv;
    w.sx = pb->sx - pa->sx;
    w.sxx = pb->sxx - pa->sxx;
    w.cs = pb->cs - pa->cs;
    w.cb = pb->cb - pa->cb;
    w.cc = pb->cc - pa->cc;
    w.sdm = pb->sdm - pa->sdm;
    w.cm = pb->cm - pa->cm;
    w.sm = pb->sm - pa->sm;
    w.bx = pb->bx - pa->bx;
    w.bm = pb->bm - pa->bm;
    w.bxx = pb->bxx - pa->bxx;
    w.bmm = pb->bmm - pa->bmm;
    w.bxm = pb->bxm - pa->bxm;
    /* the diff of sample a pairs it with a - 1, outside the window */
    const fs_prefix pa1_v = pf_at(f, a);
    const fs_prefix *pa1 = &pa1_v;
    w.cd = pb->cd - pa1->cd;
    w.sd = pb->sd - pa1->sd;
    return w;
}

static float mean_of(const fs_prefix *w)
{
    return w->cv > 0 ? (float)(w->sx / w->cv + FS_CENTER_BPM) : NAN;
}

static float std_of(const fs_prefix *w)
{
    if (w->cv < 2)
        return NAN;
    double mu = w->sx / w->cv, v = w->sxx / w->cv - mu * mu;
    return (float)sqrt(v > 0 ? v : 0);
}

static float mad_of(const fs_prefix *w)
{
    return w->cd > 0 ? (float)(w->sd / w->cd) : NAN;
}

static float log2_ratio(float a, float b)
{
    return (isnan(a) || isnan(b) || a <= 0 || b <= 0) ? NAN : log2f(a / b);
}

/* Quantiles q0 < q1 < q2 of a histogram (bin centre, bpm). */
static void hist_quantiles(const uint16_t *h, uint32_t count, const double q[3], float out[3])
{
    out[0] = out[1] = out[2] = NAN;
    if (!count)
        return;
    double cum = 0;
    int j = 0;
    for (int b = 0; b < FS_HIST_BINS && j < 3; b++) {
        cum += h[b];
        while (j < 3 && cum >= q[j] * count && cum > 0) {
            out[j] = (float)(FS_HIST_MIN_BPM + b) + 0.5f;
            j++;
        }
    }
}

/* Fractions of a histogram more than FS_LEVEL_APART_BPM above and below a level. */
static void hist_apart(const uint16_t *h, uint32_t count, float level, float *above,
                       float *below)
{
    *above = *below = NAN;
    if (!count || isnan(level))
        return;
    int hi = hist_bin(level + FS_LEVEL_APART_BPM), lo = hist_bin(level - FS_LEVEL_APART_BPM);
    uint32_t a = 0, b = 0;
    for (int k = hi + 1; k < FS_HIST_BINS; k++)
        a += h[k];
    for (int k = 0; k < lo; k++)
        b += h[k];
    *above = (float)a / (float)count;
    *below = (float)b / (float)count;
}

/* Drop samples older than t - 10 min (t - 30 min) from the histograms. */
static void hist_advance(fs_features *f, uint64_t t)
{
    uint64_t lo = t > FS_HISTORY_SAMPLES ? t - FS_HISTORY_SAMPLES : 0;
    for (; f->hist_lo < lo; f->hist_lo++) {
        float x = f->x[f->hist_lo & FS_RING_MASK];
        if (!isnan(x)) {
            f->hist[hist_bin(x)]--;
            f->hist_count--;
        }
    }
    lo = t > FS_LONG_SAMPLES ? t - FS_LONG_SAMPLES : 0;
    for (; f->hist30_lo < lo; f->hist30_lo++) {
        float x = f->xl[f->hist30_lo % FS_LONG_RING];
        if (!isnan(x)) {
            f->hist30[hist_bin(x)]--;
            f->hist30_count--;
        }
    }
}

static float cap(float v, float hi)
{
    return v > hi ? hi : v;
}

void fs_features_compute(fs_features *f, uint64_t tu, float *o)
{
    const int64_t t = (int64_t)tu, newest = (int64_t)f->n - 1, L = f->lookahead;
    const int64_t hi = t + L < newest ? t + L : newest; /* last sample we may look at */
    const int64_t lo = t > FS_HISTORY_SAMPLES ? t - FS_HISTORY_SAMPLES : 0;
    const size_t k = (size_t)t & FS_RING_MASK;
    const float x = f->x[k];
    hist_advance(f, tu);
    static const double q10[3] = {0.25, 0.5, 0.75}, q30[3] = {0.5, 0.75, 0.9};
    float qa[3], qb[3];
    hist_quantiles(f->hist, f->hist_count, q10, qa);
    hist_quantiles(f->hist30, f->hist30_count, q30, qb);
    const float p25 = qa[0], p50 = qa[1], p75 = qa[2];

    size_t j = 0;
    float xp = t > 0 ? f->x[(size_t)(t - 1) & FS_RING_MASK] : NAN;
    float xn = t + 1 <= hi ? f->x[(size_t)(t + 1) & FS_RING_MASK] : NAN;
    o[j++] = x;
    o[j++] = x - xp;
    o[j++] = xn - x;
    o[j++] = (float)(t < FS_HISTORY_SAMPLES ? t : FS_HISTORY_SAMPLES) / FM_FHR_RATE_HZ;
    o[j++] = p50;
    o[j++] = x - p50;
    o[j++] = log2_ratio(x, p50);
    o[j++] = p75 - p25;
    o[j++] = x - p25;
    o[j++] = x - p75;
    fs_prefix w10 = window(f, lo, hi);
    o[j++] = (float)(w10.cv / (double)(hi - lo + 1));

    /* centred windows of 2, 5, 15 and 60 s each side (the future side capped by look-ahead) */
    static const int64_t half[4] = {8, 20, 60, 240};
    fs_prefix ww[4];
    for (int w = 0; w < 4; w++) {
        int64_t a = t - half[w] < lo ? lo : t - half[w];
        int64_t b = t + half[w] < hi ? t + half[w] : hi;
        ww[w] = window(f, a, b);
        o[j++] = (float)(ww[w].cv / (double)(b - a + 1));
        o[j++] = x - mean_of(&ww[w]);
        o[j++] = std_of(&ww[w]);
        o[j++] = mad_of(&ww[w]);
    }

    /* the segment of t: where it started, whether it ends within the look-ahead, what comes
     * next (the jump back to the true rate is the strongest sign of a false stretch) */
    const int64_t s0 = f->seg_start[k];
    int64_t e = t, next = -1, to_gap = -1;
    for (int64_t i = t + 1; i <= hi; i++) {
        size_t ki = (size_t)i & FS_RING_MASK;
        if (isnan(f->x[ki])) {
            if (to_gap < 0)
                to_gap = i - t;
            continue;
        }
        if (f->seg_start[ki] == s0)
            e = i;
        else {
            next = i;
            break;
        }
    }
    /* ended: another segment or a breaking gap seen (the end of the data is not an end) */
    const int ended = next >= 0 || hi - e >= FS_GAP_BREAK_SAMPLES;
    const int64_t sa = s0 > lo ? s0 : lo;
    fs_prefix ws = window(f, sa, e);
    float seg_mean = mean_of(&ws);
    o[j++] = cap((float)(t - s0) / FM_FHR_RATE_HZ, (float)FS_HISTORY_SAMPLES / FM_FHR_RATE_HZ);
    o[j++] = (float)(e - t) / FM_FHR_RATE_HZ;
    o[j++] = (float)ended;
    o[j++] = seg_mean;
    o[j++] = std_of(&ws);
    o[j++] = mad_of(&ws);
    o[j++] = seg_mean - p50;
    o[j++] = log2_ratio(seg_mean, p50);
    o[j++] = seg_mean - f->seg_prev_level[k];
    o[j++] = log2_ratio(seg_mean, f->seg_prev_level[k]);
    o[j++] = cap(f->seg_gap_s[k], (float)FS_HISTORY_SAMPLES / FM_FHR_RATE_HZ);
    float next_level = NAN;
    if (next >= 0) {
        int64_t nb = next + FS_NEXT_LEVEL_SAMPLES - 1 < hi ? next + FS_NEXT_LEVEL_SAMPLES - 1 : hi;
        fs_prefix wn = window(f, next, nb);
        next_level = mean_of(&wn);
    }
    o[j++] = next_level - seg_mean;
    o[j++] = log2_ratio(next_level, seg_mean);
    float before = NAN;
    if (s0 - 1 >= lo) {
        fs_prefix wb = window(f, lo, s0 - 1);
        before = mean_of(&wb);
    }
    o[j++] = seg_mean - before;
    o[j++] = log2_ratio(seg_mean, before);
    o[j++] = (float)ww[3].cs;
    int64_t li = f->last_invalid[k];
    o[j++] = li < 0 ? cap((float)t / FM_FHR_RATE_HZ, 600.0f)
                    : cap((float)(t - li) / FM_FHR_RATE_HZ, 600.0f);
    o[j++] = to_gap < 0 ? (float)(L + 1) / FM_FHR_RATE_HZ : (float)to_gap / FM_FHR_RATE_HZ;
    o[j++] = hi > t ? (float)(window(f, t + 1, hi).cv / (double)(hi - t)) : NAN;
    o[j++] = qb[0];
    o[j++] = seg_mean - qb[0];
    o[j++] = log2_ratio(seg_mean, qb[0]);
    o[j++] = seg_mean - qb[2];
    float above, below;
    hist_apart(f->hist, f->hist_count, seg_mean, &above, &below);
    o[j++] = above;
    o[j++] = below;
    hist_apart(f->hist30, f->hist30_count, seg_mean, &above, &below);
    o[j++] = above;
    o[j++] = below;
    if (!f->use_mhr)
        return;

    /* maternal channel: coincidence, its persistence, and the relations of levels */
    const float m = f->m[k];
    o[j++] = m;
    o[j++] = x - m;
    o[j++] = fabsf(x - m);
    for (int w = 0; w < 4; w++) {
        const fs_prefix *p = &ww[w];
        int64_t a = t - half[w] < lo ? lo : t - half[w];
        int64_t b = t + half[w] < hi ? t + half[w] : hi;
        o[j++] = p->cb > 0 ? (float)(p->cc / p->cb) : NAN;
        o[j++] = (float)(p->cb / (double)(b - a + 1));
        o[j++] = p->cb > 0 ? (float)(p->sdm / p->cb) : NAN;
    }
    o[j++] = ws.cb > 0 ? (float)(ws.cc / ws.cb) : NAN;
    float m60 = ww[3].cm > 0 ? (float)(ww[3].sm / ww[3].cm + FS_CENTER_BPM) : NAN;
    o[j++] = seg_mean - m60;
    o[j++] = x - m60;
    o[j++] = p50 - m60;
    o[j++] = fabsf(x - 2.0f * m60);
    o[j++] = fabsf(x - 0.5f * m60);
    const fs_prefix *c = &ww[2];
    float r = NAN;
    if (c->cb >= 8) {
        double n = c->cb, vx = c->bxx - c->bx * c->bx / n, vm = c->bmm - c->bm * c->bm / n;
        double cxm = c->bxm - c->bx * c->bm / n;
        if (vx > 1e-6 && vm > 1e-6)
            r = (float)(cxm / sqrt(vx * vm));
    }
    o[j++] = r;
    {
        int64_t a = t - half[3] < lo ? lo : t - half[3];
        int64_t b = t + half[3] < hi ? t + half[3] : hi;
        o[j++] = (float)(ww[3].cm / (double)(b - a + 1));
    }
    o[j++] = w10.cb > 0 ? (float)(w10.cc / w10.cb) : NAN;
    /* the newest maternal value (within 30 min): the channel is often intermittent */
    int recent = f->last_m_idx >= 0 && t - f->last_m_idx <= FS_LONG_SAMPLES;
    o[j++] = recent ? x - f->last_m : NAN;
    o[j++] = recent ? (float)(t - f->last_m_idx) / FM_FHR_RATE_HZ : NAN;
    o[j++] = w10.cm > 0 ? seg_mean - (float)(w10.sm / w10.cm + FS_CENTER_BPM) : NAN;
}
