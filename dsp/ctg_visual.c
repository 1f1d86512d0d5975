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

/* Level at segment j from the flattest segments within +-half_s. */
static double level_at(const fm_ctg_config *c, const seg *sg, size_t ns, size_t j, const seg **pick,
                       double *tmp)
{
    const double hop_s = ns > 1 ? sg[1].t - sg[0].t : 1.0;
    for (double half = c->visual_window_s / 2.0; half <= c->visual_window_s * 2.0; half *= 2.0) {
        /* segments are evenly spaced: only the neighbours within +-half can qualify */
        size_t reach = (size_t)(half / hop_s) + 1;
        size_t i0 = j > reach ? j - reach : 0, i1 = j + reach < ns ? j + reach + 1 : ns;
        size_t k = 0;
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
 * edge would, on a busy intrapartum trace, mask nearly everything. */
static void mask_excursions(const fm_ctg_config *c, const float *fhr, const float *ref, size_t n,
                            uint8_t *mask)
{
    const size_t w = (size_t)(MASK_WIDEN_S * CTG_RATE_HZ);
    memset(mask, 0, n);
    size_t last_far = (size_t)-1;
    for (size_t i = 0; i < n; i++) {
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

fm_status ctg_visual_baseline(const fm_ctg_config *c, const float *fhr, size_t n,
                              const float *ref_bpm, float *out_bpm)
{
    size_t seg_n = (size_t)(c->visual_segment_s * CTG_RATE_HZ), hop = seg_n / 2;
    if (seg_n < 8 || !n) {
        memcpy(out_bpm, ref_bpm, n * sizeof *out_bpm);
        return FM_OK;
    }
    size_t ns = n <= seg_n ? 1 : (n - seg_n) / hop + 1;
    seg *sg = calloc(ns, sizeof *sg);
    const seg **pick = malloc(ns * sizeof *pick);
    uint8_t *mask = malloc(n);
    double *lev = malloc(ns * sizeof *lev);
    float *ref = malloc(n * sizeof *ref);
    double *tmp = malloc(ns * sizeof *tmp);
    if (!sg || !pick || !mask || !lev || !ref || !tmp) {
        free(sg), free(pick), free(mask), free(lev), free(ref), free(tmp);
        return FM_ENOMEM;
    }
    memcpy(ref, ref_bpm, n * sizeof *ref);
    for (int pass = 0; pass < VISUAL_PASSES; pass++) {
        mask_excursions(c, fhr, ref, n, mask);
        for (size_t j = 0; j < ns; j++) {
            size_t a = j * hop, b = a + seg_n < n ? a + seg_n : n;
            score_segment(fhr, mask, a, b, &sg[j]);
        }
        int any = 0;
        for (size_t j = 0; j < ns; j++) {
            lev[j] = level_at(c, sg, ns, j, pick, tmp);
            any |= isfinite(lev[j]);
        }
        if (!any) {
            /* nothing flat enough anywhere: keep the reference */
            break;
        }
        /* carry levels into undetermined centres, then interpolate to samples */
        size_t prev = (size_t)-1;
        for (size_t j = 0; j < ns; j++) {
            if (!isfinite(lev[j]))
                continue;
            if (prev == (size_t)-1)
                for (size_t i = 0; i < j; i++)
                    lev[i] = lev[j];
            else
                for (size_t i = prev + 1; i < j; i++)
                    lev[i] =
                        lev[prev] + (lev[j] - lev[prev]) * (double)(i - prev) / (double)(j - prev);
            prev = j;
        }
        for (size_t i = prev + 1; i < ns; i++)
            lev[i] = lev[prev];
        for (size_t i = 0; i < n; i++) {
            double t = ctg_s_of(i);
            double pos = (t - sg[0].t) / ctg_s_of(hop);
            double v;
            if (pos <= 0 || ns == 1)
                v = lev[0];
            else if (pos >= (double)(ns - 1))
                v = lev[ns - 1];
            else {
                size_t j = (size_t)pos;
                v = lev[j] + (lev[j + 1] - lev[j]) * (pos - (double)j);
            }
            ref[i] = (float)v;
        }
    }
    memcpy(out_bpm, ref, n * sizeof *out_bpm);
    free(sg), free(pick), free(mask), free(lev), free(ref), free(tmp);
    return FM_OK;
}
