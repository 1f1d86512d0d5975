/* The Oxford-style fitted baseline (CLINICAL 3.2): histogram of epoch pulse intervals ->
 * "modified mode"; epoch series clamped to mode +- 60 ms; 4th-order Butterworth low-pass at
 * ~0.0017 Hz (epoch rate 16/min), run forward and backward; where the trace stays outside the
 * clamp band for more than 10 min, the band is widened by 10 ms on that side and the fit redone.
 * Records longer than local_window_s use a sliding local mode (the same histogram rule on the
 * surrounding hour), so a 7-hour intrapartum baseline can drift.
 *
 * The backward pass is run per 2-min block of epochs, each started (in steady state) a bounded
 * look-ahead of BACKWARD_LOOKAHEAD_EPOCHS after its block, or at the end of the record when that
 * comes first. A whole-record backward pass would make every new minute of a live stream change
 * the baseline (in its last bits) back to the start of the record, and with it everything built
 * on the baseline; with the bounded look-ahead an epoch's baseline is final once the trace is
 * that much longer, so a live stream recomputes only its tail (ctg_record.c). The filter's
 * slowest pole pair decays by e every ~65 epochs, so a start 128 epochs (8 min) ahead weighs
 * exp(-2) on the block's first epoch at most; measured against the whole-record pass on the
 * FHRMA records it moves the fitted baseline by < 0.1 bpm (docs/ctg.md). Batch and live use
 * this same definition. The histograms of settled local windows are cached in ctg_fitcache.
 * Not for the FIGO visual baseline (ctg_visual.c) or events (ctg_events.c). */
#include <stdlib.h>
#include <string.h>

#include "ctg_internal.h"

#define HIST_BINS 1300 /* 1-ms bins; 50 bpm = 1200 ms is the longest valid PI (CLINICAL 1) */
#define EPOCH_RATE_HZ (FM_CTG_EPOCHS_PER_MIN / 60.0)
#define LOCAL_BLOCK_EPOCHS 32 /* the local mode is refreshed every 2 min */
#define BACKWARD_BLOCK_EPOCHS 32     /* backward pass run per 2-min block ... */
#define BACKWARD_LOOKAHEAD_EPOCHS 256 /* ... started 8 min after the block (see above) */

/* What stays valid as the record grows: the histogram of every epoch so far, and the local mode
 * of each block whose window lies wholly inside the record (it can no longer change). */
struct ctg_fitcache {
    int hist[HIST_BINS];
    size_t n_hist;       /* epochs counted in hist */
    double *block_mode;  /* raw local mode per settled block (NAN = none) */
    size_t n_blocks, cap_blocks;
    size_t tail_lo;      /* window start of the cached tail mode (SIZE_MAX = none) */
    double tail_mode;
    /* the low-pass, kept: its input (clamped, filled), forward output and filter state after
     * each epoch, result, and the look-ahead end each backward block was run to */
    double *x, *y, *st, *out;
    size_t *blk_end;
    size_t n_kept;       /* epochs of the kept low-pass */
    double *xn, *centre, *tmp; /* work arrays */
    size_t cap_ep;
};

ctg_fitcache *ctg_fitcache_create(void)
{
    ctg_fitcache *f = calloc(1, sizeof *f);
    if (f)
        f->tail_lo = (size_t)-1;
    return f;
}

void ctg_fitcache_destroy(ctg_fitcache *f)
{
    if (!f)
        return;
    free(f->block_mode);
    free(f->x), free(f->y), free(f->st), free(f->out), free(f->blk_end);
    free(f->xn), free(f->centre), free(f->tmp);
    free(f);
}

static int bin_of(float pi)
{
    int b = (int)lrintf(pi);
    return b < 0 ? 0 : b >= HIST_BINS ? HIST_BINS - 1 : b;
}

/* Modified mode of a histogram (CLINICAL 3.2): smooth [1/4 1/2 1/4]; walking from the slow-rate
 * (long PI) end, skip the first mode_skip_fraction of the distribution (decelerations live
 * there), then take the first bin that dominates its mode_peak_halfwidth neighbours on both
 * sides and either lies near the plain mode or holds a real share; else the plain mode. */
static double mode_of_hist(const int *h, const fm_ctg_config *c)
{
    static const int lo = 1, hi = HIST_BINS - 1;
    double s[HIST_BINS];
    double total = 0.0;
    s[0] = s[HIST_BINS - 1] = 0.0;
    for (int b = lo; b < hi; b++) {
        s[b] = 0.25 * h[b - 1] + 0.5 * h[b] + 0.25 * h[b + 1];
        total += s[b];
    }
    if (total <= 0.0)
        return NAN;
    int mode = lo;
    for (int b = lo; b < hi; b++)
        if (s[b] > s[mode])
            mode = b;
    const int w = c->mode_peak_halfwidth_ms;
    double cum = 0.0;
    for (int b = hi - 1; b >= lo; b--) {
        cum += s[b];
        if (cum / total <= c->mode_skip_fraction)
            continue;
        if (s[b] <= 0.0)
            continue;
        int peak = 1;
        for (int k = 1; k <= w && peak; k++) {
            double l = b - k >= 0 ? s[b - k] : 0.0, r = b + k < HIST_BINS ? s[b + k] : 0.0;
            if (!(s[b] > r && s[b] >= l))
                peak = 0;
        }
        if (peak &&
            (fabs((double)(b - mode)) < c->mode_near_ms || s[b] / total > c->mode_min_share))
            return b;
    }
    return mode;
}

double ctg_modified_mode(const float *pi_ms, size_t n, const fm_ctg_config *c)
{
    int *h = calloc(HIST_BINS, sizeof *h);
    if (!h)
        return NAN;
    for (size_t i = 0; i < n; i++)
        if (isfinite(pi_ms[i]))
            h[bin_of(pi_ms[i])]++;
    double m = mode_of_hist(h, c);
    free(h);
    return m;
}

/* 4th-order Butterworth low-pass as two biquads (bilinear transform with pre-warping), each
 * started in its steady state for the first input so the record's edges do not ring. */
static void biquads_design(double corner_hz, double rate_hz, double b[2][3], double a[2][3])
{
    const double k = tan(M_PI * corner_hz / rate_hz);
    for (int s = 0; s < 2; s++) {
        /* pole pair s of the 4th-order prototype: Q = 1 / (2 cos(theta)) */
        double q = 1.0 / (2.0 * cos(M_PI * (2 * s + 1) / 8.0));
        double norm = 1.0 / (1.0 + k / q + k * k);
        b[s][0] = k * k * norm;
        b[s][1] = 2.0 * b[s][0];
        b[s][2] = b[s][0];
        a[s][0] = 1.0;
        a[s][1] = 2.0 * (k * k - 1.0) * norm;
        a[s][2] = (1.0 - k / q + k * k) * norm;
    }
}

/* Local modified mode of the epochs [lo, lo + win). */
static double window_mode(const fm_ctg_config *c, const float *pi, size_t lo, size_t win)
{
    return ctg_modified_mode(pi + lo, win, c);
}

/* Per-epoch centre of the clamp band: the global modified mode, or for long records the local
 * mode of the window centred on each 2-min block (the last blocks share the window that ends
 * with the record). Settled blocks come from the cache. */
static fm_status clamp_centres(const fm_ctg_config *c, ctg_fitcache *f, const float *pi,
                               size_t n_ep, double *centre, double *mode_pi)
{
    for (; f->n_hist < n_ep; f->n_hist++)
        if (isfinite(pi[f->n_hist]))
            f->hist[bin_of(pi[f->n_hist])]++;
    *mode_pi = mode_of_hist(f->hist, c);
    size_t win = (size_t)(c->local_window_s * EPOCH_RATE_HZ);
    if (n_ep <= win || win < LOCAL_BLOCK_EPOCHS) {
        for (size_t e = 0; e < n_ep; e++)
            centre[e] = *mode_pi;
        return FM_OK;
    }
    for (size_t blk = 0; blk < n_ep; blk += LOCAL_BLOCK_EPOCHS) {
        size_t bi = blk / LOCAL_BLOCK_EPOCHS;
        size_t mid = blk + LOCAL_BLOCK_EPOCHS / 2;
        size_t want_lo = mid > win / 2 ? mid - win / 2 : 0;
        double m;
        if (bi < f->n_blocks) {
            m = f->block_mode[bi];
        } else if (want_lo + win <= n_ep) {
            /* its window lies inside the record: final, cache it */
            if (bi >= f->cap_blocks) {
                size_t nc = f->cap_blocks ? 2 * f->cap_blocks : 64;
                double *nb = realloc(f->block_mode, nc * sizeof *nb);
                if (!nb)
                    return FM_ENOMEM;
                f->block_mode = nb;
                f->cap_blocks = nc;
            }
            m = f->block_mode[bi] = window_mode(c, pi, want_lo, win);
            f->n_blocks = bi + 1;
        } else {
            want_lo = n_ep - win;
            if (f->tail_lo != want_lo) {
                f->tail_mode = window_mode(c, pi, want_lo, win);
                f->tail_lo = want_lo;
            }
            m = f->tail_mode;
        }
        if (!isfinite(m))
            m = *mode_pi;
        for (size_t e = blk; e < blk + LOCAL_BLOCK_EPOCHS && e < n_ep; e++)
            centre[e] = m;
    }
    return FM_OK;
}

/* Clamp, fill lost epochs by linear interpolation (edges held). */
static void fit_input(const float *pi, size_t n_ep, const double *centre, double lo_ms,
                      double hi_ms, double *out)
{
    size_t last = (size_t)-1;
    for (size_t e = 0; e < n_ep; e++) {
        if (!isfinite(pi[e]))
            continue;
        double v = pi[e];
        if (v < centre[e] - lo_ms)
            v = centre[e] - lo_ms;
        if (v > centre[e] + hi_ms)
            v = centre[e] + hi_ms;
        out[e] = v;
        if (last == (size_t)-1) {
            for (size_t j = 0; j < e; j++)
                out[j] = v;
        } else {
            for (size_t j = last + 1; j < e; j++)
                out[j] = out[last] + (v - out[last]) * (double)(j - last) / (double)(e - last);
        }
        last = e;
    }
    for (size_t j = last + 1; j < n_ep; j++)
        out[j] = out[last];
}

/* One biquad step, transposed direct form II (z: its two states). */
static inline double biquad_step(const double b[3], const double a[3], double *z, double in)
{
    double y = b[0] * in + z[0];
    z[0] = b[1] * in - a[1] * y + z[1];
    z[1] = b[2] * in - a[2] * y;
    return y;
}

/* Steady state of a biquad for a constant input x0 (DC gain 1). */
static void biquad_rest(const double b[3], const double a[3], double *z, double x0)
{
    z[1] = (b[2] - a[2]) * x0;
    z[0] = (b[1] - a[1]) * x0 + z[1];
}

/* Low-pass of f->xn (n_ep epochs) into f->out, forward then backward per block with a bounded
 * look-ahead (see the top of this file). The forward pass is causal: it restarts from the first
 * epoch whose input changed, with the filter state kept there. A backward block is run again
 * only if its look-ahead end moved or its stretch of the forward output changed. */
static void lowpass(const fm_ctg_config *c, ctg_fitcache *f, size_t n_ep)
{
    double b[2][3], a[2][3];
    biquads_design(c->lowpass_corner_hz, EPOCH_RATE_HZ, b, a);
    size_t e0 = 0;
    while (e0 < f->n_kept && e0 < n_ep && !memcmp(&f->x[e0], &f->xn[e0], sizeof(double)))
        e0++;
    memcpy(f->x + e0, f->xn + e0, (n_ep - e0) * sizeof(double));
    /* forward: both sections per epoch (the same operations as one section after the other;
     * the second starts at rest on the first's first output) */
    for (size_t e = e0; e < n_ep; e++) {
        double z[4];
        if (e == 0)
            biquad_rest(b[0], a[0], z, f->x[0]);
        else
            memcpy(z, f->st + 4 * e, sizeof z);
        double y0 = biquad_step(b[0], a[0], z, f->x[e]);
        if (e == 0)
            biquad_rest(b[1], a[1], z + 2, y0);
        f->y[e] = biquad_step(b[1], a[1], z + 2, y0);
        memcpy(f->st + 4 * (e + 1), z, sizeof z);
    }
    for (size_t blk = 0; blk < n_ep; blk += BACKWARD_BLOCK_EPOCHS) {
        size_t bi = blk / BACKWARD_BLOCK_EPOCHS;
        size_t bend = blk + BACKWARD_BLOCK_EPOCHS < n_ep ? blk + BACKWARD_BLOCK_EPOCHS : n_ep;
        size_t end = bend + BACKWARD_LOOKAHEAD_EPOCHS < n_ep ? bend + BACKWARD_LOOKAHEAD_EPOCHS
                                                             : n_ep;
        if (blk + BACKWARD_BLOCK_EPOCHS <= f->n_kept && f->blk_end[bi] == end && end <= e0)
            continue; /* nothing it reads changed */
        f->blk_end[bi] = end;
        double z[4];
        biquad_rest(b[0], a[0], z, f->y[end - 1]);
        double *t = f->tmp;
        for (size_t i = end; i-- > blk;)
            t[i - blk] = biquad_step(b[0], a[0], z, f->y[i]);
        biquad_rest(b[1], a[1], z + 2, t[end - 1 - blk]);
        for (size_t i = end; i-- > blk;) {
            double v = biquad_step(b[1], a[1], z + 2, t[i - blk]);
            if (i < bend)
                f->out[i] = v;
        }
    }
    f->n_kept = n_ep;
}

/* Longest stretch (s) of valid epochs that all lie beyond the band on one side (sign -1: short
 * PI, fast side; +1: long PI, slow side); lost epochs neither break nor extend a stretch. */
static double longest_outside(const float *pi, size_t n_ep, const double *centre, double lo_ms,
                              double hi_ms, int sign)
{
    size_t best = 0, run = 0;
    for (size_t e = 0; e < n_ep; e++) {
        if (!isfinite(pi[e]))
            continue;
        int out = sign < 0 ? pi[e] < centre[e] - lo_ms : pi[e] > centre[e] + hi_ms;
        run = out ? run + 1 : 0;
        if (run > best)
            best = run;
    }
    return (double)best / EPOCH_RATE_HZ;
}

static fm_status reserve(ctg_fitcache *f, size_t n_ep)
{
    if (n_ep <= f->cap_ep)
        return FM_OK;
    size_t nc = f->cap_ep ? f->cap_ep : 1024;
    while (nc < n_ep)
        nc *= 2;
    double **arr[] = {&f->x, &f->y, &f->out, &f->xn, &f->centre};
    for (size_t i = 0; i < sizeof arr / sizeof *arr; i++) {
        double *np = realloc(*arr[i], nc * sizeof *np);
        if (!np)
            return FM_ENOMEM;
        *arr[i] = np;
    }
    double *ns = realloc(f->st, 4 * (nc + 1) * sizeof *ns);
    if (!ns)
        return FM_ENOMEM;
    f->st = ns;
    size_t *nb = realloc(f->blk_end, (nc / BACKWARD_BLOCK_EPOCHS + 1) * sizeof *nb);
    if (!nb)
        return FM_ENOMEM;
    f->blk_end = nb;
    if (!f->tmp) {
        f->tmp = malloc((BACKWARD_BLOCK_EPOCHS + BACKWARD_LOOKAHEAD_EPOCHS) * sizeof *f->tmp);
        if (!f->tmp)
            return FM_ENOMEM;
    }
    f->cap_ep = nc;
    return FM_OK;
}

fm_status ctg_fit_baseline(const fm_ctg_config *c, ctg_fitcache *f, const float *ep_pi,
                           size_t n_ep, float *bl_pi, double *mode_pi)
{
    *mode_pi = NAN;
    if (!n_ep)
        return FM_OK;
    fm_status rc = reserve(f, n_ep);
    if (rc == FM_OK)
        rc = clamp_centres(c, f, ep_pi, n_ep, f->centre, mode_pi);
    if (rc != FM_OK)
        return rc;
    if (!isfinite(*mode_pi)) {
        for (size_t e = 0; e < n_ep; e++)
            bl_pi[e] = NAN; /* no valid epoch at all */
        f->n_kept = 0;
        return FM_OK;
    }
    /* the band is widened while the trace stays beyond it (the fit does not change that test,
     * so the widths are settled first and the fit run once) */
    const double *centre = f->centre;
    double lo = c->clamp_ms, hi = c->clamp_ms;
    for (;;) {
        int widened = 0;
        if (lo + c->widen_ms <= c->widen_max_ms &&
            longest_outside(ep_pi, n_ep, centre, lo, hi, -1) > c->widen_after_s) {
            lo += c->widen_ms;
            widened = 1;
        }
        if (hi + c->widen_ms <= c->widen_max_ms &&
            longest_outside(ep_pi, n_ep, centre, lo, hi, +1) > c->widen_after_s) {
            hi += c->widen_ms;
            widened = 1;
        }
        if (!widened || c->widen_ms <= 0)
            break;
    }
    fit_input(ep_pi, n_ep, centre, lo, hi, f->xn);
    if (n_ep < 2) {
        bl_pi[0] = (float)f->xn[0];
        f->n_kept = 0;
        return FM_OK;
    }
    lowpass(c, f, n_ep);
    for (size_t e = 0; e < n_ep; e++)
        bl_pi[e] = (float)f->out[e];
    return FM_OK;
}

/* Epoch values sit at epoch centres; samples in between are interpolated linearly. Samples
 * [from, n) are written. */
void ctg_epochs_to_samples(const float *bl_pi, size_t n_ep, size_t n, size_t from, float *bl_bpm)
{
    if (!n_ep) {
        for (size_t i = from; i < n; i++)
            bl_bpm[i] = NAN;
        return;
    }
    const double half = (FM_CTG_EPOCH_SAMPLES - 1) / 2.0;
    for (size_t i = from; i < n; i++) {
        double pos = ((double)i - half) / FM_CTG_EPOCH_SAMPLES;
        double v;
        if (pos <= 0.0) {
            v = bl_pi[0];
        } else if (pos >= (double)(n_ep - 1)) {
            v = bl_pi[n_ep - 1];
        } else {
            size_t e = (size_t)pos;
            double f = pos - (double)e;
            v = bl_pi[e] + (bl_pi[e + 1] - bl_pi[e]) * f;
        }
        bl_bpm[i] = isfinite(v) && v > 0 ? (float)ctg_pi_to_bpm(v) : NAN;
    }
}
