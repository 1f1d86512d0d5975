/* Sinusoidal pattern (CLINICAL 4.1): a smooth regular undulation of 5-15 bpm amplitude at 3-5
 * cycles/min, sustained (> 30 min), without accelerations. Detected on the trace minus the
 * fitted baseline, in windows of sinus_window_s every sinus_hop_s: after removing the window's
 * straight-line trend, a Hann-windowed DFT over the 3-5 cycles/min band; the window is
 * sinusoidal when that band holds most of the power (smooth and regular), the estimated peak-to-
 * trough amplitude is 5-15 bpm and no acceleration touches it. Consecutive sinusoidal windows
 * make a stretch (a window too lost to judge does not break it); detection needs a stretch of
 * sinus_min_s. A window's spectral judgement depends only on its own samples, so it is kept
 * (ctg_sinus) and recomputed only when the fitted baseline under it changed; the stretches are
 * rebuilt from the kept judgements each time (a few hundred windows at most).
 * Not for deciding what the verdicts make of it (ctg_verdict.c). */
#include <stdlib.h>
#include <string.h>

#include "ctg_internal.h"

#define SINUS_MIN_VALID 0.6    /* a window needs 60 % valid signal to be judged */
#define SINUS_BRIDGE_WINDOWS 2 /* unjudged windows a stretch may run through */

typedef struct win_eval {
    int judged; /* enough signal to say yes or no */
    int ok;
    double freq_cpm, pp_bpm, frac;
} win_eval;

struct ctg_sinus {
    size_t len, hop;    /* window and hop (samples) */
    double *hann, *x;   /* len each */
    win_eval *ev;       /* kept judgements */
    size_t n_ev, cap_ev;
    fm_ctg_span *sp;    /* stretches of the last scan */
    size_t cap_sp;
};

ctg_sinus *ctg_sinus_create(const fm_ctg_config *c)
{
    ctg_sinus *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->len = (size_t)(c->sinus_window_s * CTG_RATE_HZ);
    s->hop = (size_t)(c->sinus_hop_s * CTG_RATE_HZ);
    s->hann = malloc((s->len ? s->len : 1) * sizeof *s->hann);
    s->x = malloc((s->len ? s->len : 1) * sizeof *s->x);
    if (!s->hann || !s->x) {
        ctg_sinus_destroy(s);
        return NULL;
    }
    for (size_t i = 0; i < s->len; i++)
        s->hann[i] = 0.5 - 0.5 * cos(2.0 * M_PI * (double)i / (double)s->len);
    return s;
}

void ctg_sinus_destroy(ctg_sinus *s)
{
    if (!s)
        return;
    free(s->hann), free(s->x), free(s->ev), free(s->sp);
    free(s);
}

static void eval_window(const fm_ctg_config *c, const float *fhr, const float *bl, size_t a,
                        size_t len, const double *hann, double *x, win_eval *w)
{
    memset(w, 0, sizeof *w);
    double n = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (size_t i = 0; i < len; i++) {
        float f = fhr[a + i], b = bl[a + i];
        if (!isfinite(f) || !isfinite(b))
            continue;
        double y = (double)f - b, t = (double)i;
        n++, sx += t, sy += y, sxx += t * t, sxy += t * y;
    }
    if (n < SINUS_MIN_VALID * (double)len)
        return;
    w->judged = 1;
    double den = n * sxx - sx * sx;
    double slope = den > 0 ? (n * sxy - sx * sy) / den : 0, icpt = (sy - slope * sx) / n;
    double var = 0, pw = 0;
    for (size_t i = 0; i < len; i++) {
        float f = fhr[a + i], b = bl[a + i];
        double y = isfinite(f) && isfinite(b) ? (double)f - b - (icpt + slope * (double)i) : 0;
        var += y * y;
        x[i] = y * hann[i];
        pw += x[i] * x[i];
    }
    var /= n;
    if (pw <= 0)
        return;
    const double dur_min = (double)len / CTG_RATE_HZ / 60.0;
    int k0 = (int)ceil(c->sinus_min_cpm * dur_min), k1 = (int)floor(c->sinus_max_cpm * dur_min);
    /* The band (< 0.1 Hz) is far below the 2 Hz Nyquist rate: the DFT runs on 1-s block sums
     * placed at the block centres, a quarter of the work for a negligible error. */
    const size_t blk = FM_FHR_RATE_HZ, nb = len / blk;
    for (size_t m = 0; m < nb; m++) {
        double sum = 0;
        for (size_t j = 0; j < blk; j++)
            sum += x[m * blk + j];
        x[m] = sum;
    }
    double band = 0, best = -1;
    for (int k = k0; k <= k1; k++) {
        /* one DFT bin by a rotating phasor (no trigonometry per sample) */
        double re = 0, im = 0, w0 = 2.0 * M_PI * k / (double)len;
        double ph = w0 * (blk - 1) / 2.0, step = w0 * (double)blk;
        double cr = cos(step), ci = -sin(step), pr = cos(ph), pim = -sin(ph);
        for (size_t m = 0; m < nb; m++) {
            re += x[m] * pr;
            im += x[m] * pim;
            double t = pr * cr - pim * ci;
            pim = pr * ci + pim * cr;
            pr = t;
        }
        double p = re * re + im * im;
        band += p;
        if (p > best) {
            best = p;
            w->freq_cpm = k / dur_min;
        }
    }
    /* Parseval: one-sided share of the windowed power held by the band */
    w->frac = 2.0 * band / ((double)len * pw);
    /* a sinusoid of amplitude A has variance A^2/2; peak to trough = 2A */
    w->pp_bpm = 2.0 * sqrt(2.0 * fmin(w->frac, 1.0) * var);
    w->ok = w->frac >= c->sinus_min_band_fraction && w->pp_bpm >= c->sinus_min_pp_bpm &&
            w->pp_bpm <= c->sinus_max_pp_bpm;
}

fm_status ctg_sinus_update(const fm_ctg_config *c, ctg_sinus *s, const float *fhr,
                           const float *bl_bpm, size_t n, size_t from, const fm_ctg_event *acc,
                           size_t n_acc, fm_ctg_sinusoidal *out)
{
    memset(out, 0, sizeof *out);
    const size_t len = s->len, hop = s->hop;
    if (len < 16 || hop < 1 || n < len) {
        s->n_ev = 0;
        return FM_OK;
    }
    size_t nw = (n - len) / hop + 1;
    if (nw > s->cap_ev) {
        size_t nc = 2 * nw;
        win_eval *ne = realloc(s->ev, nc * sizeof *ne);
        if (!ne)
            return FM_ENOMEM;
        s->ev = ne;
        s->cap_ev = nc;
        fm_ctg_span *np = realloc(s->sp, nc * sizeof *np);
        if (!np)
            return FM_ENOMEM;
        s->sp = np;
        s->cap_sp = nc;
    }
    /* windows that hold a sample at or after `from` are judged again, and the new ones */
    size_t w0 = from >= len ? (from - len) / hop + 1 : 0;
    if (w0 > s->n_ev)
        w0 = s->n_ev;
    for (size_t w = w0; w < nw; w++)
        eval_window(c, fhr, bl_bpm, w * hop, len, s->hann, s->x, &s->ev[w]);
    s->n_ev = nw;
    fm_ctg_span *sp = s->sp;
    size_t ns = 0;
    double best_pp = 0, best_f = NAN, run_best_pp = 0, run_best_f = NAN;
    int prev_ok = 0, unjudged = 0;
    for (size_t w = 0; w < nw; w++) {
        size_t a = w * hop;
        double ws = ctg_s_of(a), we = ctg_s_of(a + len);
        win_eval ev = s->ev[w];
        /* CLINICAL 4.1: no accelerations in a sinusoidal pattern */
        for (size_t i = 0; ev.ok && i < n_acc; i++)
            if (acc[i].start_s < we && acc[i].end_s > ws)
                ev.ok = 0;
        /* lost signal does not end a stretch: up to SINUS_BRIDGE_WINDOWS unjudged windows
         * are run through (the stretch still ends at its last sinusoidal window) */
        if (!ev.judged && prev_ok && unjudged < SINUS_BRIDGE_WINDOWS) {
            unjudged++;
            continue;
        }
        unjudged = 0;
        if (!ev.ok) {
            prev_ok = 0;
            continue;
        }
        if (prev_ok && ns) {
            sp[ns - 1].end_s = we;
        } else {
            sp[ns].start_s = ws;
            sp[ns].end_s = we;
            ns++;
            run_best_pp = 0;
        }
        if (ev.pp_bpm > run_best_pp) {
            run_best_pp = ev.pp_bpm;
            run_best_f = ev.freq_cpm;
        }
        double d = sp[ns - 1].end_s - sp[ns - 1].start_s;
        if (d >= out->longest_s) {
            out->longest_s = d;
            best_pp = run_best_pp;
            best_f = run_best_f;
        }
        prev_ok = 1;
    }
    for (size_t i = 0; i < ns; i++)
        out->total_s += sp[i].end_s - sp[i].start_s;
    out->spans = ns ? sp : NULL;
    out->n_spans = ns;
    out->amplitude_bpm = ns ? best_pp : NAN;
    out->freq_cpm = ns ? best_f : NAN;
    out->detected = ns && out->longest_s >= c->sinus_min_s;
    return FM_OK;
}
