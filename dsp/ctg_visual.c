/* The FIGO-style visual baseline (CLINICAL 4.1): "the mean level of the most horizontal and
 * less oscillatory FHR segments", assessed over 10-min windows, accelerations and decelerations
 * excluded. As a per-sample curve, every choice soft (weights, not cuts) so that a small change
 * of the input or of the reference makes a small change of the curve:
 *   1. each sample gets a weight from the distance of the FHR, averaged over +-7.5 s, to a
 *      reference (first the fitted baseline, then the previous pass): 1 within
 *      visual_exclude_bpm - 3, 0 beyond visual_exclude_bpm + 3; then the smallest weight within
 *      10 s on each side (the flanks of an event);
 *   2. the trace is cut into visual_segment_s segments (half-overlapping); each gets a weighted
 *      level (mean), a score (residual spread about its weighted straight-line fit plus the
 *      drift of that line over the segment) and a coverage weight (its unmasked share);
 *   3. at each segment centre, the segments in the surrounding 10-min window weigh by how flat
 *      they are against the visual_keep_fraction quantile of the scores, times their coverage;
 *      the level is their weighted mean. With less than ~2 min of signal (NICHD 4.2) the window
 *      widens (20, 40 min), blended by the narrower window's coverage; else the level is carried
 *      from neighbours;
 *   4. levels are interpolated between centres; the whole is done three times.
 * Everything above is local (a sample's mask looks 10 s around it, a segment at its minute, a
 * level at most 20 min around its centre), so a live stream keeps every stage of every pass
 * (ctg_visual) and, when the input changes only from some sample on, recomputes each stage from
 * the first place its own input changed (compared bit for bit with the kept one), reaching back
 * only as far as that stage looks. The result is the one a computation from scratch gives.
 * Not for the Oxford fitted baseline (ctg_baseline.c). */
#include <stdlib.h>
#include <string.h>

#include "ctg_internal.h"

#ifndef VISUAL_PASSES
#define VISUAL_PASSES 3
#endif
#define SEG_COVER_LO 0.4 /* a segment counts fully from 60 % of its samples unmasked, ... */
#define SEG_COVER_HI 0.6 /* ... not at all under 40 % (about half, without a cliff) */
#define KEEP_SOFT                                                                                  \
    1.0                   /* segment weight falls from 1 at the keep-quantile score to 0 at        \
                             (1 + KEEP_SOFT) times it */
#define MASK_WIDEN_S 10.0 /* seconds masked on each side of a far sample */
#define MASK_SOFT_BPM 3.0 /* the mask ramps over visual_exclude_bpm +- this */
#define MASK_SMOOTH_S 7.5 /* the FHR is averaged over +- this for the mask */
#define FIXED(bpm) ((int64_t)llrint((double)(bpm)*65536.0))
#define MIN_SEGMENTS 4 /* 4 half-overlapping 1-min segments ~ 2 min of signal (4.2) */

typedef struct seg {
    double t, level, score, w; /* w: coverage weight in 0..1 */
    int ok;
} seg;

/* One pass: its mask (per sample), segments, raw levels (NAN where undetermined) with the
 * half-window that gave them, carried levels, and its output curve. */
typedef struct vpass {
    uint8_t *mask;
    float *out;
    seg *sg;
    double *raw, *half, *lev;
    int any;
} vpass;

struct ctg_visual {
    size_t n, ns; /* samples and segments of the kept state */
    size_t cap_n, cap_s;
    vpass p[VISUAL_PASSES];
    const seg **pick;
    double *tmp;
};

ctg_visual *ctg_visual_create(void)
{
    return calloc(1, sizeof(ctg_visual));
}

void ctg_visual_destroy(ctg_visual *v)
{
    if (!v)
        return;
    for (int k = 0; k < VISUAL_PASSES; k++) {
        free(v->p[k].mask), free(v->p[k].out), free(v->p[k].sg);
        free(v->p[k].raw), free(v->p[k].half), free(v->p[k].lev);
    }
    free(v->pick), free(v->tmp);
    free(v);
}

const float *ctg_visual_curve(const ctg_visual *v)
{
    return v->p[VISUAL_PASSES - 1].out;
}

#define GROW(ptr, cnt)                                                                             \
    do {                                                                                           \
        void *np_ = realloc((ptr), (cnt) * sizeof *(ptr));                                         \
        if (!np_)                                                                                  \
            return FM_ENOMEM;                                                                      \
        (ptr) = np_;                                                                               \
    } while (0)

static fm_status reserve(ctg_visual *v, size_t n, size_t ns)
{
    if (n > v->cap_n) {
        size_t nc = v->cap_n ? v->cap_n : 4096;
        while (nc < n)
            nc *= 2;
        for (int k = 0; k < VISUAL_PASSES; k++) {
            GROW(v->p[k].mask, nc);
            GROW(v->p[k].out, nc);
        }
        v->cap_n = nc;
    }
    if (ns > v->cap_s) {
        size_t nc = v->cap_s ? v->cap_s : 64;
        while (nc < ns)
            nc *= 2;
        for (int k = 0; k < VISUAL_PASSES; k++) {
            GROW(v->p[k].sg, nc);
            GROW(v->p[k].raw, nc);
            GROW(v->p[k].half, nc);
            GROW(v->p[k].lev, nc);
        }
        GROW(v->pick, nc);
        GROW(v->tmp, nc);
        v->cap_s = nc;
    }
    return FM_OK;
}

/* Weight of a sample's mask value (0 = excluded, 255 = fully in). */
#define MASK_FULL 255
#define MASK_W(m) ((double)(m) / MASK_FULL)

/* Weighted level (mean) and score of the samples [a, b): residual spread about the weighted
 * straight-line fit plus the drift of that line over the segment. The segment's weight w rises
 * from 0 to 1 as its unmasked share goes from SEG_COVER_LO to SEG_COVER_HI (a soft version of
 * "half the samples unmasked"). */
static void score_segment(const float *fhr, const uint8_t *mask, size_t a, size_t b, seg *s)
{
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = a; i < b; i++) {
        if (!isfinite(fhr[i]) || !mask[i])
            continue;
        double wi = MASK_W(mask[i]);
        double x = (double)(i - a) / CTG_RATE_HZ, y = fhr[i];
        n += wi;
        sx += wi * x;
        sy += wi * y;
        sxx += wi * x * x;
        sxy += wi * x * y;
    }
    s->t = ctg_s_of(a) + ctg_s_of(b - a) / 2.0;
    double cover = n / (double)(b - a);
    s->w = cover <= SEG_COVER_LO   ? 0.0
           : cover >= SEG_COVER_HI ? 1.0
                                   : (cover - SEG_COVER_LO) / (SEG_COVER_HI - SEG_COVER_LO);
    s->ok = s->w > 0.0 && n >= 4;
    if (!s->ok)
        return;
    double den = n * sxx - sx * sx;
    double slope = den > 0 ? (n * sxy - sx * sy) / den : 0.0;
    double icpt = (sy - slope * sx) / n;
    double res = 0;
    for (size_t i = a; i < b; i++) {
        if (!isfinite(fhr[i]) || !mask[i])
            continue;
        double r = fhr[i] - (icpt + slope * (double)(i - a) / CTG_RATE_HZ);
        res += MASK_W(mask[i]) * r * r;
    }
    s->level = sy / n;
    s->score = sqrt(res / n) + fabs(slope) * ctg_s_of(b - a);
}

static int cmp_score(const void *a, const void *b)
{
    double x = (*(const seg *const *)a)->score, y = (*(const seg *const *)b)->score;
    return x < y ? -1 : x > y;
}

/* Soft level of the segments within +-half of segment j; *cover = their summed coverage weight.
 * "The flattest visual_keep_fraction" is soft: q = that weighted quantile of the scores; a
 * segment weighs 1 up to score q, falling to 0 at (1 + KEEP_SOFT) q, times its coverage weight;
 * the level is the weighted mean (NAN when nothing weighs). */
static double soft_level(const fm_ctg_config *c, const seg *sg, size_t ns, size_t j, double half,
                         const seg **pick, double *cover)
{
    const double hop_s = ns > 1 ? sg[1].t - sg[0].t : 1.0;
    /* segments are evenly spaced: only the neighbours within +-half can qualify */
    size_t reach = (size_t)(half / hop_s) + 1;
    size_t i0 = j > reach ? j - reach : 0, i1 = j + reach < ns ? j + reach + 1 : ns;
    size_t k = 0;
    double tot = 0.0;
    for (size_t i = i0; i < i1; i++)
        if (sg[i].ok && fabs(sg[i].t - sg[j].t) <= half) {
            pick[k++] = &sg[i];
            tot += sg[i].w;
        }
    *cover = tot;
    if (!k || tot <= 0.0)
        return NAN;
    qsort(pick, k, sizeof *pick, cmp_score);
    /* weighted quantile: each segment spans its weight on the cumulative axis, its score at
     * the middle of that span; linear in between */
    const double want = c->visual_keep_fraction * tot;
    double cum = 0.0, q = pick[k - 1]->score, prev_mid = 0.0, prev_sc = pick[0]->score;
    for (size_t i = 0; i < k; i++) {
        double mid = cum + 0.5 * pick[i]->w;
        if (mid >= want) {
            q = i == 0 || mid <= prev_mid
                    ? pick[i]->score
                    : prev_sc + (pick[i]->score - prev_sc) * (want - prev_mid) / (mid - prev_mid);
            break;
        }
        prev_mid = mid;
        prev_sc = pick[i]->score;
        cum += pick[i]->w;
    }
    double sw = 0.0, sl = 0.0;
    for (size_t i = 0; i < k; i++) {
        double sc = pick[i]->score, wi;
        if (sc <= q)
            wi = 1.0;
        else if (sc >= (1.0 + KEEP_SOFT) * q)
            wi = 0.0;
        else
            wi = 1.0 - (sc - q) / (KEEP_SOFT * q);
        wi *= pick[i]->w;
        sw += wi;
        sl += wi * pick[i]->level;
    }
    return sw > 0.0 ? sl / sw : NAN;
}

/* Level at segment j (CLINICAL 4.1: 10-min window, at least ~2 min of signal, 4.2). With less
 * than MIN_SEGMENTS of coverage the window widens (20, 40 min) and the two are blended by the
 * coverage of the narrower one, so a segment gaining or losing weight never switches windows
 * abruptly. *used = the widest half-window read.
 * Why soft everywhere: a hard cut (the flattest half, then the median of their levels) made
 * the level jump between two groups of segments (a flat stretch at the baseline, a flat stretch
 * beside a deceleration) when one score crossed the cut: a 0.37 bpm change of the reference
 * moved the visual baseline of a real record by 10 bpm and its acceleration count from 31 to
 * 11. Here a small change of the input makes a small change of the level. */
static double level_at(const fm_ctg_config *c, const seg *sg, size_t ns, size_t j, const seg **pick,
                       double *tmp, double *used)
{
    (void)tmp;
    double lv[3], cov[3];
    int m = 0;
    double half = c->visual_window_s / 2.0;
    for (; m < 3; m++, half *= 2.0) {
        lv[m] = soft_level(c, sg, ns, j, half, pick, &cov[m]);
        *used = half;
        if (cov[m] >= MIN_SEGMENTS)
            break;
    }
    if (m == 3)
        return NAN; /* too little signal even in the widest window */
    double v = lv[m];
    /* blend back towards the narrower windows by their coverage */
    for (int i = m - 1; i >= 0; i--) {
        double a = cov[i] / MIN_SEGMENTS;
        if (isfinite(lv[i]))
            v = a * lv[i] + (1.0 - a) * v;
    }
    return v;
}

/* out[s] = min of x[i] over |i - s| <= w, i in [base, n), for s in [from, n) (from >= base + w
 * or base == 0): van Herk / Gil-Werman, blocks of 2w + 1 from base with prefix and suffix
 * minima (pre, suf: scratch of n), so the cost does not grow with w. */
static void running_min(const uint8_t *x, size_t base, size_t n, size_t w, size_t from,
                        uint8_t *out, uint8_t *pre, uint8_t *suf)
{
    const size_t blk = 2 * w + 1;
    for (size_t b0 = base; b0 < n; b0 += blk) {
        size_t b1 = b0 + blk < n ? b0 + blk : n;
        pre[b0] = x[b0];
        for (size_t i = b0 + 1; i < b1; i++)
            pre[i] = x[i] < pre[i - 1] ? x[i] : pre[i - 1];
        suf[b1 - 1] = x[b1 - 1];
        for (size_t i = b1 - 1; i-- > b0;)
            suf[i] = x[i] < suf[i + 1] ? x[i] : suf[i + 1];
    }
    for (size_t s = from; s < n; s++) {
        size_t i0 = s > base + w ? s - w : base, i1 = s + w < n ? s + w : n - 1;
        uint8_t m;
        if (i1 - i0 + 1 == blk || (i0 - base) / blk != (i1 - base) / blk) {
            /* i0 and i1 in neighbouring blocks (or one whole block) */
            m = suf[i0] < pre[i1] ? suf[i0] : pre[i1];
        } else {
            m = MASK_FULL; /* a clipped window inside one block: at the record's edges */
            for (size_t i = i0; i <= i1; i++)
                if (x[i] < m)
                    m = x[i];
        }
        out[s] = m;
    }
}

/* Mask weight of each sample from the distance of the FHR, averaged over +-MASK_SMOOTH_S, to
 * the reference (the average: masking single samples beyond the limit clipped the tail of the
 * variability on the side away from a biased reference, which pulled the level, and the next
 * pass's reference, further that way): MASK_FULL within
 * visual_exclude_bpm - MASK_SOFT_BPM, 0 beyond visual_exclude_bpm + MASK_SOFT_BPM, linear in
 * between; a sample then takes the smallest weight within MASK_WIDEN_S on each side of it (the
 * flanks of an acceleration or deceleration). Masking whole excursions edge to edge would, on a
 * busy intrapartum trace, mask nearly everything. The ramp keeps a small change of the
 * reference from switching samples fully in or out. Lost samples and samples without a
 * reference do not exclude anything. Writes mask[from, n) (a sample's weight depends on the
 * samples within MASK_WIDEN_S of it); far[] is scratch of n bytes. */
static void mask_excursions(const fm_ctg_config *c, const float *fhr, const float *ref, size_t n,
                            size_t from, uint8_t *mask, uint8_t *far, uint8_t *pre, uint8_t *suf)
{
    const size_t w = (size_t)(MASK_WIDEN_S * CTG_RATE_HZ);
    const double lo = c->visual_exclude_bpm - MASK_SOFT_BPM;
    size_t a = from > w ? from - w : 0;
    const size_t ws = (size_t)(MASK_SMOOTH_S * CTG_RATE_HZ);
    /* the running sum in fixed point (1/65536 bpm): exact, so a window summed from any start
     * gives the same bits (a live update starts it elsewhere than a batch run) */
    int64_t sum = 0;
    size_t cnt = 0, j0 = a > ws ? a - ws : 0, j1 = j0; /* running window [j0, j1) */
    for (size_t i = a; i < n; i++) {
        for (; j1 < n && j1 <= i + ws; j1++)
            if (isfinite(fhr[j1]))
                sum += FIXED(fhr[j1]), cnt++;
        for (; j0 + ws < i; j0++)
            if (isfinite(fhr[j0]))
                sum -= FIXED(fhr[j0]), cnt--;
        double d = cnt && isfinite(fhr[i]) && isfinite(ref[i])
                       ? fabs((double)sum / 65536.0 / (double)cnt - ref[i])
                       : 0.0;
        double v = d <= lo                         ? 1.0
                   : d >= lo + 2.0 * MASK_SOFT_BPM ? 0.0
                                                   : 1.0 - (d - lo) / (2.0 * MASK_SOFT_BPM);
        far[i] = (uint8_t)lrint(v * MASK_FULL);
    }
    running_min(far, a, n, w, from, mask, pre, suf);
}

static size_t first_diff_u8(const uint8_t *a, const uint8_t *b, size_t from, size_t n)
{
    while (from < n && a[from] == b[from])
        from++;
    return from;
}

static int same_seg(const seg *a, const seg *b)
{
    return a->ok == b->ok && (!a->ok || (a->level == b->level && a->score == b->score &&
                                         a->t == b->t && a->w == b->w));
}

static int same_double(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

/* One pass from `from` (the first sample whose reference may differ from the kept one) on; the
 * kept state covers old_n samples and old_ns segments. Returns the first sample whose output
 * differs from the kept one (or old_n). */
static size_t pass_update(const fm_ctg_config *c, ctg_visual *v, vpass *p, const float *fhr,
                          const float *ref, size_t n, size_t ns, size_t old_n, size_t old_ns,
                          size_t from, uint8_t *scratch)
{
    const size_t seg_n = (size_t)(c->visual_segment_s * CTG_RATE_HZ), hop = seg_n / 2;
    const size_t w = (size_t)(MASK_WIDEN_S * CTG_RATE_HZ);
    const size_t wf = w + (size_t)(MASK_SMOOTH_S * CTG_RATE_HZ);
    /* mask: a sample reads the reference within w of it, the FHR within wf (new at old_n) */
    size_t a = from > w ? from - w : 0;
    if (old_n < a + wf)
        a = old_n > wf ? old_n - wf : 0;
    size_t keep = a < old_n ? old_n - a : 0;
    memcpy(scratch, p->mask + a, keep);
    mask_excursions(c, fhr, ref, n, a, p->mask, scratch + n, scratch + 2 * n, scratch + 3 * n);
    size_t mfrom = a + (first_diff_u8(scratch, p->mask + a, 0, keep));
    /* segments whose span holds a changed mask sample (and the new ones) */
    size_t js = mfrom >= seg_n ? (mfrom - seg_n) / hop + 1 : 0;
    if (js > old_ns)
        js = old_ns;
    size_t jdiff = ns;
    for (size_t j = js; j < ns; j++) {
        seg old = p->sg[j];
        size_t sa = j * hop, sb = sa + seg_n < n ? sa + seg_n : n;
        score_segment(fhr, p->mask, sa, sb, &p->sg[j]);
        if (jdiff == ns && (j >= old_ns || !same_seg(&old, &p->sg[j])))
            jdiff = j;
    }
    /* levels whose window (the half-window they used) reaches a changed segment */
    const double hop_s = ns > 1 ? p->sg[1].t - p->sg[0].t : 1.0;
    size_t jl = jdiff < old_ns ? jdiff : old_ns;
    size_t max_reach = (size_t)(c->visual_window_s * 2.0 / hop_s) + 1;
    for (size_t j = jl, k = 0; j-- > 0 && k <= max_reach; k++) {
        size_t reach = (size_t)(p->half[j] / hop_s) + 1;
        if (j + reach >= jdiff)
            jl = j;
    }
    size_t ldiff = ns;
    int any = 0;
    for (size_t j = 0; j < jl; j++)
        any |= isfinite(p->raw[j]);
    for (size_t j = jl; j < ns; j++) {
        double old = j < old_ns ? p->raw[j] : NAN;
        p->raw[j] = level_at(c, p->sg, ns, j, v->pick, v->tmp, &p->half[j]);
        any |= isfinite(p->raw[j]);
        if (ldiff == ns && (j >= old_ns || !same_double(old, p->raw[j])))
            ldiff = j;
    }
    size_t out_from;
    if (!any) {
        /* nothing flat enough anywhere: the pass hands its reference on */
        out_from = 0;
        memcpy(p->out, ref, n * sizeof *p->out);
    } else {
        /* carry levels into undetermined centres: from the last determined one before ldiff
         * (all of them when the kept pass had handed its reference on) */
        const int full = !p->any;
        size_t jc = full ? 0 : ldiff < old_ns ? ldiff : old_ns;
        while (jc > 0 && !isfinite(p->raw[jc - 1]))
            jc--;
        if (jc > 0)
            jc--;
        size_t fdiff = ns;
        size_t prev = (size_t)-1;
        for (size_t j = jc; j-- > 0;)
            if (isfinite(p->raw[j])) {
                prev = j;
                break;
            }
        for (size_t j = jc; j < ns; j++) {
            /* a kept pass that handed its reference on never wrote lev[] */
            double old = j < old_ns && !full ? p->lev[j] : NAN;
            if (isfinite(p->raw[j])) {
                p->lev[j] = p->raw[j];
            } else {
                size_t nx = j + 1;
                while (nx < ns && !isfinite(p->raw[nx]))
                    nx++;
                if (prev == (size_t)-1)
                    p->lev[j] = p->raw[nx];
                else if (nx == ns)
                    p->lev[j] = p->raw[prev];
                else
                    p->lev[j] = p->raw[prev] + (p->raw[nx] - p->raw[prev]) * (double)(j - prev) /
                                                   (double)(nx - prev);
            }
            if (isfinite(p->raw[j]))
                prev = j;
            if (fdiff == ns && (j >= old_ns || !same_double(old, p->lev[j])))
                fdiff = j;
        }
        if (fdiff > old_ns || full)
            fdiff = full ? 0 : old_ns;
        /* samples interpolate between centres j and j + 1; the last centre's value is held */
        out_from = fdiff >= 1 ? seg_n / 2 + (fdiff - 1) * hop : 0;
        if (old_ns <= 1)
            out_from = 0;
        if (out_from > old_n)
            out_from = old_n;
        for (size_t i = out_from; i < n; i++) {
            double t = ctg_s_of(i);
            double pos = (t - p->sg[0].t) / ctg_s_of(hop);
            double val;
            if (pos <= 0 || ns == 1)
                val = p->lev[0];
            else if (pos >= (double)(ns - 1))
                val = p->lev[ns - 1];
            else {
                size_t j = (size_t)pos;
                val = p->lev[j] + (p->lev[j + 1] - p->lev[j]) * (pos - (double)j);
            }
            float f = (float)val;
            if (!full && out_from == i && i < old_n && !memcmp(&f, &p->out[i], sizeof f))
                out_from++;
            p->out[i] = f;
        }
    }
    p->any = any;
    return out_from;
}

fm_status ctg_visual_update(const fm_ctg_config *c, ctg_visual *v, const float *fhr, size_t n,
                            const float *ref_bpm, size_t from, size_t *changed_from)
{
    size_t seg_n = (size_t)(c->visual_segment_s * CTG_RATE_HZ), hop = seg_n / 2;
    size_t ns = !n ? 0 : n <= seg_n ? 1 : (n - seg_n) / hop + 1;
    fm_status rc = reserve(v, n, ns ? ns : 1);
    if (rc != FM_OK)
        return rc;
    uint8_t *scratch = malloc(n ? 4 * n : 1);
    if (!scratch)
        return FM_ENOMEM;
    size_t old_n = v->n, old_ns = v->ns;
    /* a record within a segment or two has no settled part worth tracking: from scratch */
    if (seg_n < 8 || old_n < 2 * seg_n || hop == 0) {
        old_n = old_ns = 0;
        for (int k = 0; k < VISUAL_PASSES; k++)
            v->p[k].any = 1;
    }
    if (from > old_n)
        from = old_n;
    if (seg_n < 8 || !n) {
        for (int k = 0; k < VISUAL_PASSES; k++)
            memcpy(v->p[k].out, ref_bpm, n * sizeof(float));
        from = 0;
    } else {
        const float *ref = ref_bpm;
        for (int k = 0; k < VISUAL_PASSES; k++) {
            from = pass_update(c, v, &v->p[k], fhr, ref, n, ns, old_n, old_ns, from, scratch);
            ref = v->p[k].out;
        }
    }
    free(scratch);
    v->n = n;
    v->ns = ns;
    *changed_from = from;
    return FM_OK;
}
