/* The FIGO-style visual baseline (CLINICAL 4.1): "the mean level of the most horizontal and
 * less oscillatory FHR segments", assessed over 10-min windows, accelerations and decelerations
 * excluded. As a per-sample curve:
 *   1. samples more than visual_exclude_bpm from a reference (first the fitted baseline, then
 *      the previous pass) are masked out, with 10 s on each side;
 *   2. the trace is cut into visual_segment_s segments (half-overlapping); each segment with
 *      enough unmasked signal gets a level (its mean) and a score: residual spread about its
 *      straight-line fit (oscillation) plus the drift of that line over the segment (slope);
 *   3. at each segment centre, the flattest visual_keep_fraction of the segments in the
 *      surrounding 10-min window (at least 2 min of signal, NICHD 4.2) give the level (median
 *      of their means); when a
 *      window has too few, it widens (20, 40 min), else the level is carried from neighbours;
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

#define VISUAL_PASSES 3
#define SEG_MIN_VALID 0.5 /* a segment needs half its samples unmasked */
#define MASK_WIDEN_S 10.0 /* seconds masked on each side of a far sample */
#define MIN_SEGMENTS 4    /* 4 half-overlapping 1-min segments ~ 2 min of signal (4.2) */

typedef struct seg {
    double t, level, score;
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
    size_t n, ns;         /* samples and segments of the kept state */
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
        void *np_ = realloc((ptr), (cnt) * sizeof *(ptr));                                        \
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

static void score_segment(const float *fhr, const uint8_t *mask, size_t a, size_t b, seg *s)
{
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = a; i < b; i++) {
        if (!isfinite(fhr[i]) || mask[i])
            continue;
        double x = (double)(i - a) / CTG_RATE_HZ, y = fhr[i];
        n++;
        sx += x;
        sy += y;
        sxx += x * x;
        sxy += x * y;
    }
    s->t = ctg_s_of(a) + ctg_s_of(b - a) / 2.0;
    s->ok = n >= SEG_MIN_VALID * (double)(b - a) && n >= 4;
    if (!s->ok)
        return;
    double den = n * sxx - sx * sx;
    double slope = den > 0 ? (n * sxy - sx * sy) / den : 0.0;
    double icpt = (sy - slope * sx) / n;
    double res = 0;
    for (size_t i = a; i < b; i++) {
        if (!isfinite(fhr[i]) || mask[i])
            continue;
        double r = fhr[i] - (icpt + slope * (double)(i - a) / CTG_RATE_HZ);
        res += r * r;
    }
    s->level = sy / n;
    s->score = sqrt(res / n) + fabs(slope) * ctg_s_of(b - a);
}

static int cmp_score(const void *a, const void *b)
{
    double x = (*(const seg *const *)a)->score, y = (*(const seg *const *)b)->score;
    return x < y ? -1 : x > y;
}

/* Level at segment j from the flattest segments within +-half_s; *used = the half-window it
 * read (the widest tried when none had enough). */
static double level_at(const fm_ctg_config *c, const seg *sg, size_t ns, size_t j, const seg **pick,
                       double *tmp, double *used)
{
    const double hop_s = ns > 1 ? sg[1].t - sg[0].t : 1.0;
    for (double half = c->visual_window_s / 2.0; half <= c->visual_window_s * 2.0; half *= 2.0) {
        /* segments are evenly spaced: only the neighbours within +-half can qualify */
        size_t reach = (size_t)(half / hop_s) + 1;
        size_t i0 = j > reach ? j - reach : 0, i1 = j + reach < ns ? j + reach + 1 : ns;
        size_t k = 0;
        *used = half;
        for (size_t i = i0; i < i1; i++)
            if (sg[i].ok && fabs(sg[i].t - sg[j].t) <= half)
                pick[k++] = &sg[i];
        if (k < MIN_SEGMENTS)
            continue;
        qsort(pick, k, sizeof *pick, cmp_score);
        size_t keep = (size_t)ceil(c->visual_keep_fraction * (double)k);
        if (keep < MIN_SEGMENTS)
            keep = MIN_SEGMENTS;
        if (keep > k)
            keep = k;
        /* the median of their levels: one flat stretch inside a long excursion cannot move it */
        for (size_t i = 0; i < keep; i++) {
            double v = pick[i]->level;
            size_t p = i;
            while (p > 0 && tmp[p - 1] > v) {
                tmp[p] = tmp[p - 1];
                p--;
            }
            tmp[p] = v;
        }
        return keep % 2 ? tmp[keep / 2] : 0.5 * (tmp[keep / 2 - 1] + tmp[keep / 2]);
    }
    return NAN;
}

/* Mask samples further than visual_exclude_bpm from the reference, widened by MASK_WIDEN_S on
 * each side (the flanks of an acceleration or deceleration). Masking whole excursions edge to
 * edge would, on a busy intrapartum trace, mask nearly everything. Writes mask[from, n) (a
 * sample's mask depends on the far samples within MASK_WIDEN_S of it). */
static void mask_excursions(const fm_ctg_config *c, const float *fhr, const float *ref, size_t n,
                            size_t from, uint8_t *mask)
{
    const size_t w = (size_t)(MASK_WIDEN_S * CTG_RATE_HZ);
    memset(mask + from, 0, n - from);
    size_t last_far = from ? from - 1 : (size_t)-1;
    for (size_t i = from > w ? from - w : 0; i < n; i++) {
        if (!isfinite(fhr[i]) || !isfinite(ref[i]) ||
            !(fabs((double)fhr[i] - ref[i]) > c->visual_exclude_bpm))
            continue;
        size_t a = i > w ? i - w : 0;
        if (last_far != (size_t)-1 && a <= last_far)
            a = last_far + 1;
        for (size_t s = a; s <= i + w && s < n; s++)
            mask[s] = 1;
        last_far = i + w < n ? i + w : n - 1;
    }
}

static size_t first_diff_u8(const uint8_t *a, const uint8_t *b, size_t from, size_t n)
{
    while (from < n && a[from] == b[from])
        from++;
    return from;
}

static int same_seg(const seg *a, const seg *b)
{
    return a->ok == b->ok &&
           (!a->ok || (a->level == b->level && a->score == b->score && a->t == b->t));
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
    /* mask: a sample reads the reference within w of it */
    size_t a = from > w ? from - w : 0;
    size_t keep = a < old_n ? old_n - a : 0;
    memcpy(scratch, p->mask + a, keep);
    mask_excursions(c, fhr, ref, n, a, p->mask);
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
            double old = j < old_ns ? p->lev[j] : NAN;
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
    uint8_t *scratch = malloc(n ? n : 1);
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
