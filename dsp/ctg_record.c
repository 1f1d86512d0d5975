/* The whole-record analysis of a growing trace, kept up to date (CLINICAL 3.2, 4.1): fitted
 * baseline, Oxford events and minute statistics (the core), sinusoidal scan, visual baseline,
 * visual events, FIGO bandwidth per minute.
 *
 * Why incremental: a live stream asks for a result every 2 min for hours; recomputing the record
 * each time costs O(length) per update, O(length^2) over the stream. Every stage here is local
 * except the fitted baseline's histogram (global: it is kept and extended) and its low-pass
 * (kept cheap: it runs on epochs, 16 a minute, and its backward pass has a bounded look-ahead,
 * see ctg_baseline.c). So each update:
 *   1. refits the baseline on all epochs (O(epochs), microseconds) and finds the first epoch
 *      whose value changed, bit for bit; only samples from there are re-interpolated, and the
 *      first sample whose fitted baseline really changed (d_fit) is what the stages below see;
 *   2. the Oxford event scans resume at the minute holding d_fit; minute figures are redone from
 *      the first minute whose baseline or decelerations changed; episodes and the basal rate are
 *      rebuilt from the minute figures (cheap); spectral windows holding a sample >= d_fit are
 *      judged again;
 *   3. the visual baseline updates its passes from d_fit on, each stage from the first place its
 *      own input changed, and says from where its curve changed (d_vis); visual events and the
 *      bandwidth resume from there.
 * Each stage recomputes from a point before which its inputs are bit-identical to the kept ones,
 * with the same operations in the same order, so the result equals a computation from scratch
 * at the same length (a batch run uses this same object in one step; tests/test_ctg_real.c).
 * Not for the Oxford checkpoints' bookkeeping, the verdicts or the public object (ctg.c). */
#include <stdlib.h>
#include <string.h>

#include "ctg_internal.h"

/* What a left-to-right pass over the visual baseline has gathered up to a minute boundary: its
 * sum (the FIGO baseline value) and its runs beyond the FIGO levels (below 100, below 110,
 * above 160 bpm), so that the pass resumes at the minute where the curve changed. */
typedef struct vis_sums {
    double sum;
    size_t n;
    size_t run[3], best[3];
} vis_sums;

struct ctg_record {
    fm_ctg_config c;
    double ga;
    ctg_core k;
    size_t n_ok;         /* usable samples among the first k.n */
    size_t cap_n, cap_ep, cap_min;
    float *bl_new;       /* epochs: the refit before comparison */
    float *bl_old;       /* samples: the kept fitted baseline where it is recomputed */
    ctg_fitcache *fit;
    ctg_evscan *ox_acc, *ox_dec, *vis_acc, *vis_dec;
    ctg_sinus *sin;
    fm_ctg_sinusoidal sinus;
    fm_ctg_event *big;   /* 15-bpm Oxford accelerations, for the sinusoidal scan */
    size_t cap_big;
    ctg_visual *vis;
    fm_ctg_event *acc, *dec; /* visual events (borrowed from the scanners) */
    size_t n_acc, n_dec;
    float *band;         /* FIGO bandwidth per minute */
    vis_sums *vs;        /* vs[m]: visual baseline sum over samples [0, m minutes) */
    size_t sin_n, vis_n;       /* record length at the last sinusoidal / visual update */
    size_t sin_from, vis_from; /* first sample whose fitted baseline changed since then */
    size_t n_vs;
    double figo_mean_bpm;
    ctg_baseline_runs runs;
};

ctg_record *ctg_record_create(const fm_ctg_config *c)
{
    ctg_record *rec = calloc(1, sizeof *rec);
    if (!rec)
        return NULL;
    rec->c = *c;
    int assumed;
    rec->ga = ctg_gestation_used(c, &assumed);
    /* CLINICAL 3.2 acceleration: > 15 s above baseline with peak > 10 bpm (and < 10 min) */
    const ctg_event_rule ox_acc = {+1, c->ox_acc_min_bpm, c->ox_acc_min_s, 0, 0, c->acc_max_s};
    /* CLINICAL 3.2 deceleration: > 20 bpm for > 30 s, or > 10 bpm for > 60 s */
    const ctg_event_rule ox_dec = {
        -1, c->ox_dec_deep_bpm, c->ox_dec_deep_s, c->ox_dec_long_bpm, c->ox_dec_long_s, 0};
    /* CLINICAL 4.1, 4.2: the clinician's list, accelerations down to the 10 bpm / 10 s class */
    const ctg_event_rule vis_acc = {+1,
                                    fmin(c->figo_acc_preterm_bpm, c->figo_acc_bpm),
                                    fmin(c->figo_acc_preterm_s, c->figo_acc_s),
                                    0,
                                    0,
                                    c->acc_max_s};
    const ctg_event_rule vis_dec = {-1, c->figo_dec_bpm, c->figo_dec_s, 0, 0, 0};
    rec->fit = ctg_fitcache_create();
    rec->ox_acc = ctg_evscan_create(&ox_acc);
    rec->ox_dec = ctg_evscan_create(&ox_dec);
    rec->vis_acc = ctg_evscan_create(&vis_acc);
    rec->vis_dec = ctg_evscan_create(&vis_dec);
    rec->sin = ctg_sinus_create(c);
    rec->vis = ctg_visual_create();
    rec->k.mode_pi = NAN;
    if (!rec->fit || !rec->ox_acc || !rec->ox_dec || !rec->vis_acc || !rec->vis_dec ||
        !rec->sin || !rec->vis) {
        ctg_record_destroy(rec);
        return NULL;
    }
    return rec;
}

void ctg_record_destroy(ctg_record *rec)
{
    if (!rec)
        return;
    ctg_core *k = &rec->k;
    free(k->bl_pi), free(k->bl_bpm), free(k->min_lost_pct), free(k->min_stv);
    free(k->min_range_ms), free(k->min_range_bpm), free(k->ps), free(k->high), free(k->low);
    free(rec->bl_new), free(rec->bl_old), free(rec->big), free(rec->band), free(rec->vs);
    ctg_fitcache_destroy(rec->fit);
    ctg_evscan_destroy(rec->ox_acc);
    ctg_evscan_destroy(rec->ox_dec);
    ctg_evscan_destroy(rec->vis_acc);
    ctg_evscan_destroy(rec->vis_dec);
    ctg_sinus_destroy(rec->sin);
    ctg_visual_destroy(rec->vis);
    free(rec);
}

#define GROW(ptr, cnt)                                                                             \
    do {                                                                                           \
        void *np_ = realloc((ptr), (cnt) * sizeof *(ptr));                                        \
        if (!np_)                                                                                  \
            return FM_ENOMEM;                                                                      \
        (ptr) = np_;                                                                               \
    } while (0)

static size_t grown(size_t cap, size_t need)
{
    size_t nc = cap ? cap : 1024;
    while (nc < need)
        nc *= 2;
    return nc;
}

static fm_status reserve(ctg_record *rec, size_t n, size_t n_ep, size_t n_min)
{
    ctg_core *k = &rec->k;
    if (n > rec->cap_n) {
        size_t nc = grown(rec->cap_n, n);
        GROW(k->bl_bpm, nc);
        GROW(rec->bl_old, nc);
        rec->cap_n = nc;
    }
    if (n_ep + 1 > rec->cap_ep) {
        size_t nc = grown(rec->cap_ep, n_ep + 1);
        GROW(k->bl_pi, nc);
        GROW(rec->bl_new, nc);
        rec->cap_ep = nc;
    }
    if (n_min + 2 > rec->cap_min) {
        size_t nc = grown(rec->cap_min, n_min + 2);
        GROW(k->min_lost_pct, nc);
        GROW(k->min_stv, nc);
        GROW(k->min_range_ms, nc);
        GROW(k->min_range_bpm, nc);
        GROW(k->ps, nc);
        GROW(rec->band, nc);
        GROW(rec->vs, nc);
        if (!rec->cap_min) {
            memset(&k->ps[0], 0, sizeof k->ps[0]);
            memset(&rec->vs[0], 0, sizeof rec->vs[0]);
        }
        rec->cap_min = nc;
    }
    return FM_OK;
}

/* 1. Fitted baseline; returns the first sample whose fitted baseline differs (or old n). */
static fm_status update_fitted(ctg_record *rec, size_t old_n, size_t old_ep, size_t *e_b,
                               size_t *d_fit)
{
    ctg_core *k = &rec->k;
    fm_status rc = ctg_fit_baseline(&rec->c, rec->fit, k->ep_pi, k->n_ep, rec->bl_new, &k->mode_pi);
    if (rc != FM_OK)
        return rc;
    size_t e = 0;
    while (e < old_ep && !memcmp(&rec->bl_new[e], &k->bl_pi[e], sizeof(float)))
        e++;
    memcpy(k->bl_pi + e, rec->bl_new + e, (k->n_ep - e) * sizeof(float));
    *e_b = e;
    /* a sample reads the epochs on either side of it, and the last epoch is held to the end */
    size_t from = e >= 1 ? (e - 1) * FM_CTG_EPOCH_SAMPLES : 0;
    if (from > old_n)
        from = old_n;
    memcpy(rec->bl_old + from, k->bl_bpm + from, (old_n - from) * sizeof(float));
    ctg_epochs_to_samples(k->bl_pi, k->n_ep, k->n, from, k->bl_bpm);
    while (from < old_n && !memcmp(&rec->bl_old[from], &k->bl_bpm[from], sizeof(float)))
        from++;
    *d_fit = from;
    return FM_OK;
}

/* 2. Oxford events, minute statistics, sinusoidal scan. */
static fm_status update_core(ctg_record *rec, size_t d_fit, size_t e_b, size_t old_min)
{
    const fm_ctg_config *c = &rec->c;
    ctg_core *k = &rec->k;
    size_t first;
    double acc_s, dec_s;
    fm_status rc = ctg_evscan_run(c, rec->ox_acc, k->fhr, k->bl_bpm, k->n, d_fit, &first, &acc_s);
    k->acc = ctg_evscan_events(rec->ox_acc, &k->n_acc);
    for (size_t i = first; i < k->n_acc; i++)
        k->acc[i].flags |= FM_CTG_EV_OXFORD;
    if (rc == FM_OK)
        rc = ctg_evscan_run(c, rec->ox_dec, k->fhr, k->bl_bpm, k->n, d_fit, &first, &dec_s);
    k->dec = ctg_evscan_events(rec->ox_dec, &k->n_dec);
    for (size_t i = first; i < k->n_dec; i++)
        k->dec[i].flags |= FM_CTG_EV_OXFORD;
    if (rc != FM_OK)
        return rc;
    /* minutes whose baseline epochs or decelerations changed, and the new ones */
    size_t m0 = e_b / FM_CTG_EPOCHS_PER_MIN;
    if (isfinite(dec_s) && (size_t)(dec_s / 60.0) < m0)
        m0 = (size_t)(dec_s / 60.0);
    if (m0 > old_min)
        m0 = old_min;
    rc = ctg_variability(c, k, m0);
    return rc;
}

/* 2b. Sinusoidal scan, from the first sample whose fitted baseline changed since its last run. */
static fm_status update_sinus(ctg_record *rec)
{
    const fm_ctg_config *c = &rec->c;
    ctg_core *k = &rec->k;
    /* CLINICAL 4.1: accelerations of the 15 bpm class exclude a window */
    if (k->n_acc > rec->cap_big) {
        rec->cap_big = 2 * k->n_acc;
        GROW(rec->big, rec->cap_big);
    }
    size_t nb = 0;
    for (size_t i = 0; i < k->n_acc; i++)
        if (k->acc[i].class_bpm >= 15)
            rec->big[nb++] = k->acc[i];
    fm_status rc = ctg_sinus_update(c, rec->sin, k->fhr, k->bl_bpm, k->n, rec->sin_from, rec->big,
                                    nb, &rec->sinus);
    rec->sin_n = rc == FM_OK ? k->n : 0;
    rec->sin_from = rc == FM_OK ? k->n : 0;
    return rc;
}

/* Flags of the visual events from index `first` on (CLINICAL 4.1, 4.2, 3.2). */
static void flag_visual(const fm_ctg_config *c, double ga, fm_ctg_event *acc, size_t n_acc,
                        size_t first_acc, fm_ctg_event *dec, size_t n_dec, size_t first_dec)
{
    const int preterm = ga < c->preterm_weeks;
    const double acc_bpm = preterm ? c->figo_acc_preterm_bpm : c->figo_acc_bpm;
    const double acc_s = preterm ? c->figo_acc_preterm_s : c->figo_acc_s;
    for (size_t i = first_acc; i < n_acc; i++) {
        fm_ctg_event *e = &acc[i];
        double d = e->end_s - e->start_s;
        /* classes: 15 bpm / 15 s and 10 bpm / 10 s (CLINICAL 4.1, 4.2) */
        e->class_bpm = e->amplitude_bpm > c->figo_acc_bpm && d > c->figo_acc_s ? 15 : 10;
        if (e->amplitude_bpm > acc_bpm && d > acc_s)
            e->flags |= FM_CTG_EV_FIGO;
    }
    for (size_t i = first_dec; i < n_dec; i++) {
        fm_ctg_event *e = &dec[i];
        double d = e->end_s - e->start_s;
        e->flags |= FM_CTG_EV_FIGO;
        /* CLINICAL 3.2: the same excursion measured against the Oxford rule */
        if ((e->amplitude_bpm > c->ox_dec_deep_bpm && d > c->ox_dec_deep_s) ||
            (e->amplitude_bpm > c->ox_dec_long_bpm && d > c->ox_dec_long_s))
            e->flags |= FM_CTG_EV_OXFORD;
        if (d > c->prolonged_dec_s)
            e->flags |= FM_CTG_EV_PROLONGED;
        if (d >= c->nichd_prolonged_dec_s)
            e->flags |= FM_CTG_EV_NICHD_PROLONGED;
    }
}

/* 3. Visual baseline, visual events, bandwidth, mean visual level, from the first sample whose
 * fitted baseline changed since their last run. */
static fm_status update_visual(ctg_record *rec)
{
    const fm_ctg_config *c = &rec->c;
    ctg_core *k = &rec->k;
    const size_t old_n = rec->vis_n, old_min = old_n / FM_CTG_SAMPLES_PER_MIN;
    const size_t d_fit = rec->vis_from;
    rec->vis_n = rec->vis_from = 0; /* until it succeeds */
    size_t d_vis;
    fm_status rc = ctg_visual_update(c, rec->vis, k->fhr, k->n, k->bl_bpm, d_fit, &d_vis);
    if (rc != FM_OK)
        return rc;
    if (d_vis > old_n)
        d_vis = old_n;
    const float *vb = ctg_visual_curve(rec->vis);
    size_t fa, fd;
    double acc_s, dec_s;
    rc = ctg_evscan_run(c, rec->vis_acc, k->fhr, vb, k->n, d_vis, &fa, &acc_s);
    if (rc == FM_OK)
        rc = ctg_evscan_run(c, rec->vis_dec, k->fhr, vb, k->n, d_vis, &fd, &dec_s);
    rec->acc = ctg_evscan_events(rec->vis_acc, &rec->n_acc);
    rec->dec = ctg_evscan_events(rec->vis_dec, &rec->n_dec);
    if (rc != FM_OK)
        return rc;
    flag_visual(c, rec->ga, rec->acc, rec->n_acc, fa, rec->dec, rec->n_dec, fd);
    /* CLINICAL 4.1 bandwidth: a minute reads its samples and the decelerations touching it */
    size_t m0 = old_min;
    if (isfinite(dec_s) && (size_t)(dec_s / 60.0) < m0)
        m0 = (size_t)(dec_s / 60.0);
    rc = ctg_bandwidth(c, k->fhr, rec->dec, rec->n_dec, rec->band, m0, k->n_min);
    if (rc != FM_OK)
        return rc;
    /* mean visual level, summed in sample order from the kept minute sums */
    size_t m = d_vis / FM_CTG_SAMPLES_PER_MIN;
    if (m + 1 > rec->n_vs)
        m = rec->n_vs ? rec->n_vs - 1 : 0;
    vis_sums acc = rec->vs[m];
    rec->n_vs = m + 1;
    const double lo_path = c->baseline_pathological_bpm, lo = c->baseline_normal_min_bpm,
                 hi = c->baseline_normal_max_bpm;
    for (size_t i = m * FM_CTG_SAMPLES_PER_MIN; i < k->n; i++) {
        int fin = isfinite(vb[i]);
        if (fin) {
            acc.sum += vb[i];
            acc.n++;
        }
        int out[3] = {fin && vb[i] < lo_path, fin && vb[i] < lo, fin && vb[i] > hi};
        for (int j = 0; j < 3; j++) {
            acc.run[j] = out[j] ? acc.run[j] + 1 : 0;
            acc.best[j] = acc.run[j] > acc.best[j] ? acc.run[j] : acc.best[j];
        }
        if ((i + 1) % FM_CTG_SAMPLES_PER_MIN == 0)
            rec->vs[rec->n_vs++] = acc;
    }
    rec->runs.below_path_s = ctg_s_of(acc.best[0]);
    rec->runs.below_s = ctg_s_of(acc.best[1]);
    rec->runs.above_s = ctg_s_of(acc.best[2]);
    /* CLINICAL 4.1: the baseline is given rounded to 5 bpm */
    rec->figo_mean_bpm = acc.n ? 5.0 * round(acc.sum / (double)acc.n / 5.0) : NAN;
    rec->vis_n = rec->vis_from = k->n;
    return FM_OK;
}

fm_status ctg_record_advance(ctg_record *rec, const float *fhr, const float *ep_pi, size_t n,
                             unsigned want)
{
    ctg_core *k = &rec->k;
    const size_t old_n = k->n, old_ep = k->n_ep, old_min = k->n_min;
    if (n < old_n)
        return FM_EINVAL;
    k->fhr = fhr;
    k->ep_pi = ep_pi;
    fm_status rc = FM_OK;
    if (n > old_n || !n) {
        const size_t n_ep = n / FM_CTG_EPOCH_SAMPLES, n_min = n_ep / FM_CTG_EPOCHS_PER_MIN;
        rc = reserve(rec, n, n_ep, n_min);
        if (rc != FM_OK)
            return rc;
        for (size_t i = old_n; i < n; i++)
            rec->n_ok += isfinite(fhr[i]) != 0;
        k->n = n;
        k->n_ep = n_ep;
        k->n_min = n_min;
        k->valid_percent = n ? 100.0 * (double)rec->n_ok / (double)n : 0.0;
        size_t e_b = 0, d_fit = 0;
        rc = update_fitted(rec, old_n, old_ep, &e_b, &d_fit);
        if (rc == FM_OK)
            rc = update_core(rec, d_fit, e_b, old_min);
        /* the later stages catch up from the earliest change they have not seen */
        if (d_fit < rec->sin_from)
            rec->sin_from = d_fit;
        if (d_fit < rec->vis_from)
            rec->vis_from = d_fit;
    }
    if (rc == FM_OK && (want & CTG_WANT_SINUS) && (rec->sin_n != n || !n))
        rc = update_sinus(rec);
    if (rc == FM_OK && (want & CTG_WANT_VISUAL) && (rec->vis_n != n || !n))
        rc = update_visual(rec);
    return rc; /* on error the kept state is unusable: the caller starts a fresh record */
}

void ctg_record_ox_inputs(const ctg_record *rec, double at_min, ctg_ox_inputs *in)
{
    const fm_ctg_config *c = &rec->c;
    const ctg_core *k = &rec->k;
    memset(in, 0, sizeof *in);
    in->at_min = at_min;
    in->valid_percent = k->valid_percent;
    in->basal_bpm = k->basal_bpm;
    in->stv_ms = k->stv_ms;
    in->ltv_ms = k->ltv_ms;
    in->high_ltv_ms = k->high_ltv_ms;
    in->high_minutes = k->high_minutes;
    in->low_minutes = k->low_minutes;
    in->n_high = k->n_high;
    in->n_acc10 = (int)k->n_acc;
    in->n_dec = (int)k->n_dec;
    for (size_t i = 0; i < k->n_acc; i++)
        in->n_acc15 += k->acc[i].class_bpm >= 15;
    for (size_t i = 0; i < k->n_dec; i++)
        in->max_dec_lost_beats = fmax(in->max_dec_lost_beats, k->dec[i].lost_beats);
    /* criterion 8 (unverified rule: configurable window and loss) */
    double end_a = at_min * 60.0 - c->end_window_s;
    size_t a = (size_t)((end_a > 0 ? end_a : 0) * CTG_RATE_HZ);
    in->end_lost_percent = a < k->n ? 100.0 - ctg_valid_percent(k->fhr + a, k->n - a) : 0.0;
    in->end_dec_start_s = NAN;
    for (size_t i = 0; i < k->n_dec; i++)
        if (k->dec[i].end_s > end_a) {
            in->end_dec_start_s = k->dec[i].start_s;
            break;
        }
    in->sinus_longest_s = rec->sin_n == k->n ? rec->sinus.longest_s : NAN;
}

void ctg_record_baseline_runs(const ctg_record *rec, ctg_baseline_runs *br)
{
    *br = rec->runs;
}

double ctg_record_valid_percent(const ctg_record *rec)
{
    return rec->k.valid_percent;
}

void ctg_record_fill(ctg_record *rec, fm_ctg_result *r)
{
    ctg_core *k = &rec->k;
    r->baseline_fitted_bpm = k->bl_bpm;
    r->minute_lost_percent = k->min_lost_pct;
    r->minute_stv_ms = k->min_stv;
    r->minute_range_ms = k->min_range_ms;
    r->high_episodes = k->high;
    r->n_high = k->n_high;
    r->low_episodes = k->low;
    r->n_low = k->n_low;
    r->ox_acc = k->acc;
    r->n_ox_acc = k->n_acc;
    r->ox_dec = k->dec;
    r->n_ox_dec = k->n_dec;
    r->stv_ms = k->stv_ms;
    r->ltv_ms = k->ltv_ms;
    r->ltv_bpm = k->ltv_bpm;
    r->n_valid_minutes = k->n_valid_min;
    r->basal_bpm = k->basal_bpm;
    r->modified_mode_bpm = isfinite(k->mode_pi) ? ctg_pi_to_bpm(k->mode_pi) : NAN;
    r->sinusoidal = rec->sinus;
    r->baseline_bpm = (float *)ctg_visual_curve(rec->vis);
    r->acc = rec->acc;
    r->n_acc = rec->n_acc;
    r->dec = rec->dec;
    r->n_dec = rec->n_dec;
    r->minute_bandwidth_bpm = rec->band;
    r->figo_baseline_bpm = rec->figo_mean_bpm;
}
