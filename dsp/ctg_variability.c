/* Variability (CLINICAL 3.2, 4.1): per-minute STV and minute range about the fitted baseline,
 * STV and LTV of the record, episodes of high and low variation, basal heart rate, and the FIGO
 * bandwidth per minute. Also ctg_core_run(), which strings the Oxford-style parts together for a
 * prefix of the trace (a checkpoint) or the whole record.
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

fm_status ctg_variability(const fm_ctg_config *c, ctg_core *k)
{
    const size_t nm = k->n_min;
    double stv_sum = 0.0, rng_sum = 0.0, rng_bpm_sum = 0.0;
    k->n_valid_min = 0;
    for (size_t m = 0; m < nm; m++) {
        size_t s0 = m * FM_CTG_SAMPLES_PER_MIN, lost = 0;
        for (size_t i = s0; i < s0 + FM_CTG_SAMPLES_PER_MIN; i++)
            lost += !isfinite(k->fhr[i]);
        k->min_lost_pct[m] = (float)(100.0 * (double)lost / FM_CTG_SAMPLES_PER_MIN);
        k->min_stv[m] = k->min_range_ms[m] = k->min_range_bpm[m] = NAN;
        /* CLINICAL 3.2 / 2: minutes with a deceleration or > 50 % loss are excluded */
        if (k->min_lost_pct[m] > c->minute_max_lost_percent ||
            minute_has_event(k->dec, k->n_dec, m))
            continue;
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
            continue;
        k->min_stv[m] = (float)(dsum / nd);
        k->min_range_ms[m] = (float)(up + down);
        k->min_range_bpm[m] = (float)(up_bpm + down_bpm);
        stv_sum += k->min_stv[m];
        rng_sum += k->min_range_ms[m];
        rng_bpm_sum += k->min_range_bpm[m];
        k->n_valid_min++;
    }
    k->stv_ms = k->n_valid_min ? stv_sum / (double)k->n_valid_min : NAN;
    k->ltv_ms = k->n_valid_min ? rng_sum / (double)k->n_valid_min : NAN;
    k->ltv_bpm = k->n_valid_min ? rng_bpm_sum / (double)k->n_valid_min : NAN;

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
    for (size_t e = 0; e < k->n_ep; e++) {
        double t = ((double)e + 0.5) * FM_CTG_EPOCH_SAMPLES / CTG_RATE_HZ;
        if (isfinite(k->ep_pi[e]) && in_spans(k->low, k->n_low, t)) {
            bs += ctg_pi_to_bpm(k->ep_pi[e]);
            bn++;
        }
    }
    k->basal_bpm = bn ? bs / (double)bn : (isfinite(k->mode_pi) ? ctg_pi_to_bpm(k->mode_pi) : NAN);
    return FM_OK;
}

fm_status ctg_bandwidth(const fm_ctg_config *c, const float *fhr, size_t n, const fm_ctg_event *dec,
                        size_t n_dec, float *band_bpm, size_t n_min)
{
    (void)n;
    size_t di = 0;
    for (size_t m = 0; m < n_min; m++) {
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

void ctg_core_free(ctg_core *k)
{
    free(k->bl_pi);
    free(k->bl_bpm);
    free(k->acc);
    free(k->dec);
    free(k->min_lost_pct);
    free(k->min_stv);
    free(k->min_range_ms);
    free(k->min_range_bpm);
    free(k->high);
    free(k->low);
    memset(k, 0, sizeof *k);
}

fm_status ctg_core_run(ctg_core *k, const fm_ctg_config *c, const float *fhr, size_t n,
                       const float *ep_pi, size_t n_ep)
{
    memset(k, 0, sizeof *k);
    k->n = n;
    k->fhr = fhr;
    k->ep_pi = ep_pi;
    k->n_ep = n_ep;
    k->n_min = n_ep / FM_CTG_EPOCHS_PER_MIN;
    k->valid_percent = ctg_valid_percent(fhr, n);
    size_t nm = k->n_min ? k->n_min : 1;
    k->bl_pi = malloc((n_ep ? n_ep : 1) * sizeof *k->bl_pi);
    k->bl_bpm = malloc((n ? n : 1) * sizeof *k->bl_bpm);
    k->min_lost_pct = malloc(nm * sizeof(float));
    k->min_stv = malloc(nm * sizeof(float));
    k->min_range_ms = malloc(nm * sizeof(float));
    k->min_range_bpm = malloc(nm * sizeof(float));
    if (!k->bl_pi || !k->bl_bpm || !k->min_lost_pct || !k->min_stv || !k->min_range_ms ||
        !k->min_range_bpm) {
        ctg_core_free(k);
        return FM_ENOMEM;
    }
    fm_status rc = ctg_fit_baseline(c, ep_pi, n_ep, k->bl_pi, &k->mode_pi);
    if (rc != FM_OK)
        goto fail;
    ctg_epochs_to_samples(k->bl_pi, n_ep, n, k->bl_bpm);
    /* CLINICAL 3.2 acceleration: > 15 s above baseline with peak > 10 bpm (and < 10 min) */
    const ctg_event_rule acc = {+1, c->ox_acc_min_bpm, c->ox_acc_min_s, 0, 0, c->acc_max_s};
    /* CLINICAL 3.2 deceleration: > 20 bpm for > 30 s, or > 10 bpm for > 60 s */
    const ctg_event_rule dec = {
        -1, c->ox_dec_deep_bpm, c->ox_dec_deep_s, c->ox_dec_long_bpm, c->ox_dec_long_s, 0};
    rc = ctg_find_events(c, fhr, k->bl_bpm, n, &acc, &k->acc, &k->n_acc);
    if (rc == FM_OK)
        rc = ctg_find_events(c, fhr, k->bl_bpm, n, &dec, &k->dec, &k->n_dec);
    if (rc != FM_OK)
        goto fail;
    for (size_t i = 0; i < k->n_acc; i++)
        k->acc[i].flags |= FM_CTG_EV_OXFORD;
    for (size_t i = 0; i < k->n_dec; i++)
        k->dec[i].flags |= FM_CTG_EV_OXFORD;
    rc = ctg_variability(c, k);
    if (rc != FM_OK)
        goto fail;
    return FM_OK;
fail:
    ctg_core_free(k);
    return rc;
}
