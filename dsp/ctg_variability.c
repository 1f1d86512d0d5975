/* Variability (CLINICAL 3.2, 4.1): per-minute STV and minute range about the fitted baseline,
 * STV and LTV of the record, episodes of high and low variation, basal heart rate, and the FIGO
 * bandwidth per minute. A minute's figures depend only on its own samples, its stretch of the
 * fitted baseline and the decelerations touching it, so a growing record recomputes them from
 * the first minute whose inputs changed; the record means restart from running sums kept per
 * minute (the same additions in the same order as a computation from scratch). Episodes and
 * the basal rate are redone from the minute figures (a few hundred minutes at most).
 * Not for the baselines themselves (ctg_baseline.c, ctg_visual.c) nor for verdicts. */
#include <stdlib.h>
#include <string.h>

#include "ctg_internal.h"

static int minute_has_event(const fm_ctg_event *ev, size_t n_ev, size_t m)
{
    double a = (double)m * 60.0, b = a + 60.0;
    for (size_t i = 0; i < n_ev; i++)
        if (ev[i].start_s < b && ev[i].end_s > a)
            return 1;
    return 0;
}

/* Merge windows of episode_window_minutes minutes holding >= episode_min_minutes qualifying
 * minutes into spans (CLINICAL 3.2: 5 of 6 consecutive minutes). */
static fm_status episodes(const fm_ctg_config *c, const float *range, size_t n_min, int high,
                          fm_ctg_span **out, size_t *n_out, double *minutes)
{
    *out = NULL;
    *n_out = 0;
    *minutes = 0.0;
    const size_t w = (size_t)c->episode_window_minutes;
    if (w == 0 || n_min < w)
        return FM_OK;
    fm_ctg_span *sp = malloc((n_min / w + 2) * 2 * sizeof *sp);
    if (!sp)
        return FM_ENOMEM;
    size_t ns = 0;
    for (size_t m0 = 0; m0 + w <= n_min; m0++) {
        int q = 0;
        size_t first = 0, last = 0;
        for (size_t m = m0; m < m0 + w; m++) {
            if (!isfinite(range[m]))
                continue;
            if (high ? range[m] >= c->high_episode_ms : range[m] <= c->low_episode_ms) {
                if (!q++)
                    first = m;
                last = m;
            }
        }
        if (q < c->episode_min_minutes)
            continue;
        /* the episode runs from the window's first to its last qualifying minute */
        double a = (double)first * 60.0, b = (double)(last + 1) * 60.0;
        if (ns && sp[ns - 1].end_s >= a) {
            sp[ns - 1].end_s = b;
        } else {
            sp[ns].start_s = a;
            sp[ns].end_s = b;
            ns++;
        }
    }
    for (size_t i = 0; i < ns; i++)
        *minutes += (sp[i].end_s - sp[i].start_s) / 60.0;
    *out = sp;
    *n_out = ns;
    return FM_OK;
}

static int in_spans(const fm_ctg_span *sp, size_t n, double t)
{
    for (size_t i = 0; i < n; i++)
        if (t >= sp[i].start_s && t < sp[i].end_s)
            return 1;
    return 0;
}

/* STV and minute range of minute m (CLINICAL 3.2); 0 when it has no pair of valid epochs. */
static int minute_figures(ctg_core *k, size_t m)
{
    const float *pi = k->ep_pi + m * FM_CTG_EPOCHS_PER_MIN;
    const float *bl = k->bl_pi + m * FM_CTG_EPOCHS_PER_MIN;
    double dsum = 0.0, up = 0.0, down = 0.0, up_bpm = 0.0, down_bpm = 0.0;
    int nd = 0;
    for (int e = 0; e < FM_CTG_EPOCHS_PER_MIN; e++) {
        if (!isfinite(pi[e]))
            continue;
        if (e + 1 < FM_CTG_EPOCHS_PER_MIN && isfinite(pi[e + 1])) {
            dsum += fabs((double)pi[e + 1] - pi[e]);
            nd++;
        }
        double dev = (double)pi[e] - bl[e];
        double dev_bpm = ctg_pi_to_bpm(pi[e]) - ctg_pi_to_bpm(bl[e]);
        up = fmax(up, dev);
        down = fmax(down, -dev);
        up_bpm = fmax(up_bpm, dev_bpm);
        down_bpm = fmax(down_bpm, -dev_bpm);
    }
    if (!nd)
        return 0;
    k->min_stv[m] = (float)(dsum / nd);
    k->min_range_ms[m] = (float)(up + down);
    k->min_range_bpm[m] = (float)(up_bpm + down_bpm);
    return 1;
}

fm_status ctg_variability(const fm_ctg_config *c, ctg_core *k, size_t m0)
{
    const size_t nm = k->n_min;
    if (m0 > nm)
        m0 = nm;
    double stv_sum = k->ps[m0].stv, rng_sum = k->ps[m0].rng, rng_bpm_sum = k->ps[m0].rng_bpm;
    k->n_valid_min = k->ps[m0].n_valid;
    for (size_t m = m0; m < nm; m++) {
        size_t s0 = m * FM_CTG_SAMPLES_PER_MIN, lost = 0;
        for (size_t i = s0; i < s0 + FM_CTG_SAMPLES_PER_MIN; i++)
            lost += !isfinite(k->fhr[i]);
        k->min_lost_pct[m] = (float)(100.0 * (double)lost / FM_CTG_SAMPLES_PER_MIN);
        k->min_stv[m] = k->min_range_ms[m] = k->min_range_bpm[m] = NAN;
        /* CLINICAL 3.2 / 2: minutes with a deceleration or > 50 % loss are excluded */
        if (!(k->min_lost_pct[m] > c->minute_max_lost_percent ||
              minute_has_event(k->dec, k->n_dec, m)) &&
            minute_figures(k, m)) {
            stv_sum += k->min_stv[m];
            rng_sum += k->min_range_ms[m];
            rng_bpm_sum += k->min_range_bpm[m];
            k->n_valid_min++;
        }
        ctg_minute_sums *ps = &k->ps[m + 1];
        ps->stv = stv_sum, ps->rng = rng_sum, ps->rng_bpm = rng_bpm_sum;
        ps->n_valid = k->n_valid_min;
    }
    k->stv_ms = k->n_valid_min ? stv_sum / (double)k->n_valid_min : NAN;
    k->ltv_ms = k->n_valid_min ? rng_sum / (double)k->n_valid_min : NAN;
    k->ltv_bpm = k->n_valid_min ? rng_bpm_sum / (double)k->n_valid_min : NAN;

    free(k->high);
    free(k->low);
    k->high = k->low = NULL;
    fm_status rc = episodes(c, k->min_range_ms, nm, 1, &k->high, &k->n_high, &k->high_minutes);
    if (rc == FM_OK)
        rc = episodes(c, k->min_range_ms, nm, 0, &k->low, &k->n_low, &k->low_minutes);
    if (rc != FM_OK)
        return rc;

    /* LTV inside high episodes (criteria 1 and 7) */
    double hs = 0.0;
    int hn = 0;
    for (size_t m = 0; m < nm; m++)
        if (isfinite(k->min_range_ms[m]) && in_spans(k->high, k->n_high, m * 60.0 + 30.0)) {
            hs += k->min_range_ms[m];
            hn++;
        }
    k->high_ltv_ms = hn ? hs / hn : NAN;

    /* CLINICAL 3.2 basal heart rate: mean FHR in low-variation episodes, else the mode */
    double bs = 0.0;
    size_t bn = 0;
    for (size_t i = 0; i < k->n_low; i++) {
        /* the epochs whose centre lies in the span, in order (spans are sorted, disjoint) */
        size_t e = (size_t)(k->low[i].start_s * CTG_RATE_HZ / FM_CTG_EPOCH_SAMPLES);
        e = e > 0 ? e - 1 : 0;
        for (; e < k->n_ep; e++) {
            double t = ((double)e + 0.5) * FM_CTG_EPOCH_SAMPLES / CTG_RATE_HZ;
            if (t >= k->low[i].end_s)
                break;
            if (t >= k->low[i].start_s && isfinite(k->ep_pi[e])) {
                bs += ctg_pi_to_bpm(k->ep_pi[e]);
                bn++;
            }
        }
    }
    k->basal_bpm = bn ? bs / (double)bn : (isfinite(k->mode_pi) ? ctg_pi_to_bpm(k->mode_pi) : NAN);
    return FM_OK;
}

fm_status ctg_bandwidth(const fm_ctg_config *c, const float *fhr, const fm_ctg_event *dec,
                        size_t n_dec, float *band_bpm, size_t m0, size_t n_min)
{
    size_t di = 0;
    while (di < n_dec && dec[di].end_s <= (double)m0 * 60.0)
        di++;
    for (size_t m = m0; m < n_min; m++) {
        size_t s0 = m * FM_CTG_SAMPLES_PER_MIN;
        float lo = INFINITY, hi = -INFINITY;
        size_t used = 0;
        for (size_t i = s0; i < s0 + FM_CTG_SAMPLES_PER_MIN; i++) {
            double t = ctg_s_of(i);
            while (di < n_dec && dec[di].end_s <= t)
                di++;
            /* CLINICAL 4.1: decelerations excluded */
            if (!isfinite(fhr[i]) || (di < n_dec && dec[di].start_s <= t))
                continue;
            lo = fminf(lo, fhr[i]);
            hi = fmaxf(hi, fhr[i]);
            used++;
        }
        band_bpm[m] =
            (double)used >= c->band_minute_min_valid * FM_CTG_SAMPLES_PER_MIN ? hi - lo : NAN;
    }
    return FM_OK;
}
