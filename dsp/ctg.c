/* fm_ctg, the CTG analysis object (see include/fetalmon/ctg.h): configuration defaults, the
 * growing trace and its epochs, the Oxford checkpoints, and the assembly of the result from the
 * parts in ctg_*.c. The whole-record analysis is kept up to date by ctg_record.c; on its way to
 * the current length it stops at every checkpoint length (10, 12, ... 60 min) it passes and keeps
 * what the criteria read there (ctg_ox_inputs), so a checkpoint costs nothing more and a late
 * movement mark only re-reads the kept inputs. Not for the rules themselves: each lives in its
 * own ctg_*.c. A live window (fm_ctg_set_live_window) bounds what an open stream keeps: past its
 * length the oldest samples go and the analysis restarts on the rest (rebase() below). */
#include <stdlib.h>
#include <string.h>

#include "ctg_internal.h"

struct fm_ctg {
    fm_ctg_config cfg;
    size_t n, cap;
    float *fhr; /* clean samples: NAN where not usable (CLINICAL 1, 2) */
    size_t n_maternal;
    size_t n_ep, ep_cap; /* complete epochs, accumulated as samples arrive */
    float *ep_pi;
    double *mov;
    size_t n_mov, mov_cap;
    /* the whole-record analysis, brought up to date at each result */
    ctg_record *rec;
    /* Oxford checkpoints reached so far: what the criteria read at each (append-only trace) */
    ctg_ox_inputs *ck;
    size_t n_ck, ck_cap;
    double ck_next_min;
    int ck_done; /* a checkpoint met the criteria: later ones are never read (marks only add) */
    /* the last result, rebuilt when data arrived since */
    int dirty;
    fm_ctg_result res;
    /* live window: fhr[0] is sample n0 of the record; 0 = whole record kept */
    size_t keep_n, max_n, n0;
    int nst_kept; /* the NST as it was when the window first moved (CLINICAL 4.3: 40 min) */
    fm_ctg_nst nst;
    fm_ctg_reasons nst_reasons;
    fm_ctg_event *sh_ev; /* the result's events and spans in record time, once n0 > 0 */
    size_t sh_ev_cap;
    fm_ctg_span *sh_sp;
    size_t sh_sp_cap;
};

void fm_ctg_config_default(fm_ctg_config *c)
{
    memset(c, 0, sizeof *c);
    c->gestation_weeks = NAN;
    c->min_valid_percent = 90.0;       /* CLINICAL 2 */
    c->minute_max_lost_percent = 50.0; /* CLINICAL 2 */
    /* CLINICAL 3.2 fitted baseline */
    c->mode_skip_fraction = 0.125;
    c->mode_peak_halfwidth_ms = 5;
    c->mode_near_ms = 30.0;
    c->mode_min_share = 0.05;
    c->mode_smooth_ms = 12;
    c->mode_min_rel_height = 0.3;
    c->fit_exclude_bpm = 10.0;
    c->lowpass_corner_hz = 0.0017;
    c->clamp_ms = 60.0;
    c->widen_ms = 10.0;
    c->widen_max_ms = 120.0;
    c->widen_after_s = 600.0;
    c->local_window_s = 64.0 * 60.0;
    /* CLINICAL 3.2 events */
    c->ox_acc_min_bpm = 10.0;
    c->ox_acc_big_bpm = 15.0;
    c->ox_acc_min_s = 15.0;
    c->ox_dec_deep_bpm = 20.0;
    c->ox_dec_deep_s = 30.0;
    c->ox_dec_long_bpm = 10.0;
    c->ox_dec_long_s = 60.0;
    c->gap_bridge_s = 2.0 * FM_CTG_EPOCH_SAMPLES / CTG_RATE_HZ;
    /* CLINICAL 3.2 variability */
    c->high_episode_ms = 32.0;
    c->low_episode_ms = 30.0;
    c->episode_min_minutes = 5;
    c->episode_window_minutes = 6;
    /* CLINICAL 3.3 */
    c->basal_min_bpm = 116.0;
    c->basal_max_bpm = 160.0;
    c->basal_tolerance_bpm = 5.0;
    c->stv_min_ms = 3.0;
    c->min_accelerations = 3;
    c->min_movements = 1;
    c->movements_per_hour = 20.0;
    c->dec_lost_beats_short = 20.0;
    c->dec_lost_beats_long = 100.0;
    c->end_window_s = 180.0;
    c->end_max_lost_percent = 50.0;
    c->oxford_first_min = 10.0; /* CLINICAL 3.1 */
    c->oxford_step_min = 2.0;
    c->oxford_last_min = 60.0;
    c->oxford_sinus_min_s = 600.0;
    /* CLINICAL 4.1 */
    c->figo_acc_bpm = 15.0;
    c->figo_acc_s = 15.0;
    c->figo_acc_preterm_bpm = 10.0;
    c->figo_acc_preterm_s = 10.0;
    c->preterm_weeks = 32.0;
    c->acc_max_s = 600.0;
    c->figo_dec_bpm = 15.0;
    c->figo_dec_s = 15.0;
    c->prolonged_dec_s = 180.0;
    c->prolonged_dec_severe_s = 300.0;
    c->nichd_prolonged_dec_s = 120.0; /* CLINICAL 4.2 */
    c->abrupt_onset_s = 30.0;
    c->visual_window_s = 600.0;
    c->visual_segment_s = 60.0;
    c->visual_keep_fraction = 0.5;
    c->visual_exclude_bpm = 10.0;
    c->baseline_normal_min_bpm = 110.0;
    c->baseline_normal_max_bpm = 160.0;
    c->baseline_pathological_bpm = 100.0;
    c->baseline_abnormal_s = 600.0;
    c->var_reduced_bpm = 5.0;
    c->var_increased_bpm = 25.0;
    c->var_reduced_max_s = 50.0 * 60.0;
    c->var_increased_max_s = 30.0 * 60.0;
    c->var_absent_bpm = 2.0;
    c->band_minute_min_valid = 0.5;
    c->repetitive_dec_count = 3;
    c->repetitive_dec_window_s = 20.0 * 60.0;
    c->repetitive_path_s = 30.0 * 60.0;
    c->sinus_min_cpm = 3.0;
    c->sinus_max_cpm = 5.0;
    c->sinus_min_pp_bpm = 5.0;
    c->sinus_max_pp_bpm = 15.0;
    c->sinus_min_band_fraction = 0.5;
    c->sinus_window_s = 240.0;
    c->sinus_hop_s = 60.0;
    c->sinus_min_s = 30.0 * 60.0;
    /* CLINICAL 4.3 */
    c->nst_min_accelerations = 2;
    c->nst_window_s = 20.0 * 60.0;
    c->nst_max_s = 40.0 * 60.0;
}

static int config_ok(const fm_ctg_config *c)
{
    return c->min_valid_percent >= 0 && c->min_valid_percent <= 100 && c->lowpass_corner_hz > 0 &&
           c->lowpass_corner_hz < FM_CTG_EPOCHS_PER_MIN / 120.0 && c->clamp_ms > 0 &&
           c->episode_window_minutes > 0 && c->episode_min_minutes > 0 && c->oxford_step_min > 0 &&
           c->oxford_first_min > 0 && c->visual_segment_s > 0 && c->sinus_window_s > 0 &&
           c->sinus_hop_s > 0 && c->mode_peak_halfwidth_ms >= 0 && c->mode_smooth_ms >= 0 &&
           c->mode_smooth_ms <= 50 && c->mode_min_rel_height >= 0 && c->mode_min_rel_height <= 1 &&
           (!c->centiles || c->n_centiles > 0);
}

fm_ctg *fm_ctg_create(const fm_ctg_config *cfg)
{
    fm_ctg *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (cfg)
        q->cfg = *cfg;
    else
        fm_ctg_config_default(&q->cfg);
    if (!config_ok(&q->cfg)) {
        free(q);
        return NULL;
    }
    q->ck_next_min = q->cfg.oxford_first_min;
    q->rec = ctg_record_create(&q->cfg);
    if (!q->rec) {
        free(q);
        return NULL;
    }
    q->dirty = 1;
    return q;
}

/* The result's arrays are borrowed from the record analysis: nothing to free. */
static void result_free(fm_ctg_result *r)
{
    memset(r, 0, sizeof *r);
}

/* Forget the kept analysis (reset, or an update that failed half way): the next result starts
 * a fresh one from the first sample. */
static void drop_record(fm_ctg *q)
{
    ctg_record_destroy(q->rec);
    q->rec = NULL;
    if (q->n0)
        return; /* a moved live window: the checkpoints were on samples no longer here */
    q->n_ck = 0;
    q->ck_done = 0;
    q->ck_next_min = q->cfg.oxford_first_min;
}

void fm_ctg_reset(fm_ctg *q)
{
    if (!q)
        return;
    result_free(&q->res);
    q->n = q->n_ep = q->n_mov = q->n_maternal = 0;
    q->n0 = 0;
    q->nst_kept = 0;
    drop_record(q);
    q->dirty = 1;
}

void fm_ctg_destroy(fm_ctg *q)
{
    if (!q)
        return;
    result_free(&q->res);
    ctg_record_destroy(q->rec);
    free(q->ck);
    free(q->fhr);
    free(q->ep_pi);
    free(q->mov);
    free(q->sh_ev);
    free(q->sh_sp);
    free(q);
}

static int grow_from(void **p, size_t *cap, size_t need, size_t elem, size_t first)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : first;
    while (nc < need)
        nc *= 2;
    void *np = realloc(*p, nc * elem);
    if (!np)
        return -1;
    *p = np;
    *cap = nc;
    return 0;
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    return grow_from(p, cap, need, elem, 1024);
}

static fm_status rebase(fm_ctg *q);

fm_status fm_ctg_update(fm_ctg *q, const float *fhr_bpm, const uint8_t *state, size_t n)
{
    if (!q || (n && !fhr_bpm))
        return FM_EINVAL;
    if (n > FM_TRACE_MAX_SAMPLES || q->n + n > FM_TRACE_MAX_SAMPLES)
        return FM_ERANGE;
    if (!n)
        return FM_OK;
    if (grow((void **)&q->fhr, &q->cap, q->n + n, sizeof *q->fhr))
        return FM_ENOMEM;
    size_t ep_need = (q->n + n) / FM_CTG_EPOCH_SAMPLES;
    if (grow((void **)&q->ep_pi, &q->ep_cap, ep_need ? ep_need : 1, sizeof *q->ep_pi))
        return FM_ENOMEM;
    for (size_t i = 0; i < n; i++) {
        float f = fhr_bpm[i];
        uint8_t s = state ? state[i] : (uint8_t)FM_STATE_OK;
        q->n_maternal += s == FM_STATE_MATERNAL;
        /* CLINICAL 1, 2: only OK samples in 50..240 bpm are used; the rest is lost */
        int ok = s == FM_STATE_OK && isfinite(f) && f >= FM_FHR_ARTEFACT_MIN_BPM &&
                 f <= FM_FHR_ARTEFACT_MAX_BPM;
        q->fhr[q->n++] = ok ? f : NAN;
        if (q->n % FM_CTG_EPOCH_SAMPLES == 0) {
            ctg_epoch_compute(q->fhr + q->n - FM_CTG_EPOCH_SAMPLES, &q->ep_pi[q->n_ep]);
            q->n_ep++;
        }
        if (q->max_n && q->n >= q->max_n) {
            fm_status rc = rebase(q);
            if (rc != FM_OK)
                return rc;
        }
    }
    q->dirty = 1;
    return FM_OK;
}

fm_status fm_ctg_add_movement(fm_ctg *q, double t_s)
{
    if (!q || !isfinite(t_s) || t_s < 0)
        return FM_EINVAL;
    if (grow((void **)&q->mov, &q->mov_cap, q->n_mov + 1, sizeof *q->mov))
        return FM_ENOMEM;
    size_t i = q->n_mov++;
    while (i > 0 && q->mov[i - 1] > t_s) {
        q->mov[i] = q->mov[i - 1];
        i--;
    }
    q->mov[i] = t_s;
    /* the checkpoints are re-read with it at the next result (late marks included) */
    q->dirty = 1;
    return FM_OK;
}

/* The sinusoidal longest stretch at checkpoint i when it was not computed on the way (only a
 * late movement mark can ask for it): a fresh record analysis up to that length. */
static fm_status checkpoint_sinus(fm_ctg *q, ctg_ox_inputs *in)
{
    size_t ns = (size_t)llround(in->at_min * 60.0 * CTG_RATE_HZ);
    ctg_record *tmp = ctg_record_create(&q->cfg);
    if (!tmp)
        return FM_ENOMEM;
    fm_status rc = ctg_record_advance(tmp, q->fhr, q->ep_pi, ns, CTG_WANT_SINUS);
    if (rc == FM_OK) {
        ctg_ox_inputs full;
        ctg_record_ox_inputs(tmp, in->at_min, &full);
        in->sinus_longest_s = full.sinus_longest_s;
    }
    ctg_record_destroy(tmp);
    return rc;
}

/* Bring the record analysis to the current length, stopping at every checkpoint length on the
 * way to keep what the criteria read there (CLINICAL 3.1). The sinusoidal scan (criterion 5) is
 * brought up at a checkpoint only when its verdict can depend on it: the checkpoint that stays
 * reported (the last one reached) or one where every other criterion holds. */
static fm_status advance(fm_ctg *q)
{
    const fm_ctg_config *c = &q->cfg;
    while (!q->ck_done && !q->n0) { /* checkpoints are on the whole record (all kept at rebase) */
        double t = q->ck_next_min;
        size_t ns = (size_t)llround(t * 60.0 * CTG_RATE_HZ);
        if (t > c->oxford_last_min + 1e-9 || q->n < ns)
            break;
        fm_status rc = ctg_record_advance(q->rec, q->fhr, q->ep_pi, ns, 0);
        if (rc != FM_OK)
            return rc;
        if (q->n_ck == q->ck_cap) {
            size_t nc = q->ck_cap ? 2 * q->ck_cap : 32;
            ctg_ox_inputs *nk = realloc(q->ck, nc * sizeof *nk);
            if (!nk)
                return FM_ENOMEM;
            q->ck = nk;
            q->ck_cap = nc;
        }
        ctg_ox_inputs *in = &q->ck[q->n_ck++];
        ctg_record_ox_inputs(q->rec, t, in);
        q->ck_next_min = t + c->oxford_step_min;
        size_t next_ns = (size_t)llround(q->ck_next_min * 60.0 * CTG_RATE_HZ);
        int reported = q->ck_next_min > c->oxford_last_min + 1e-9 || q->n < next_ns;
        fm_ctg_oxford o;
        if (!reported) {
            ctg_oxford_evaluate(c, in, q->mov, q->n_mov, &o);
            reported = o.status == FM_CTG_OX_MET;
        }
        if (reported) {
            rc = ctg_record_advance(q->rec, q->fhr, q->ep_pi, ns, CTG_WANT_SINUS);
            if (rc != FM_OK)
                return rc;
            ctg_record_ox_inputs(q->rec, t, in);
            /* met stays met (a late movement mark can only add a movement), so the chain
             * stops here whatever comes later */
            ctg_oxford_evaluate(c, in, q->mov, q->n_mov, &o);
            q->ck_done = o.status == FM_CTG_OX_MET;
        }
    }
    return ctg_record_advance(q->rec, q->fhr, q->ep_pi, q->n, CTG_WANT_ALL);
}

/* The Oxford-criteria-style verdict (CLINICAL 3.1): checkpoints in order, stopping at the first
 * where the criteria are met; the last one evaluated is reported. */
static fm_status oxford_verdict(fm_ctg *q, fm_ctg_oxford *o, double ga)
{
    const fm_ctg_config *c = &q->cfg;
    if (!q->n_ck) {
        memset(o, 0, sizeof *o);
        o->status = FM_CTG_OX_TOO_SHORT;
        o->at_min = NAN;
        o->gestation_weeks = ga;
        o->basal_bpm = o->stv_ms = o->ltv_ms = NAN;
        o->high_ltv_ms = o->valid_percent = NAN;
        ctg_reason_add(&o->reasons, "record_too_short",
                       "record of %.1f min: the first analysis is at %.0f min",
                       ctg_s_of(q->n) / 60.0, c->oxford_first_min);
        return FM_OK;
    }
    for (size_t i = 0; i < q->n_ck; i++) {
        ctg_ox_inputs *in = &q->ck[i];
        ctg_oxford_evaluate(c, in, q->mov, q->n_mov, o);
        if (isnan(in->sinus_longest_s) && !q->n0 &&
            (o->status == FM_CTG_OX_MET || i + 1 == q->n_ck)) {
            fm_status rc = checkpoint_sinus(q, in);
            if (rc != FM_OK)
                return rc;
            ctg_oxford_evaluate(c, in, q->mov, q->n_mov, o);
        }
        o->complete = o->status == FM_CTG_OX_MET || in->at_min >= c->oxford_last_min - 1e-9;
        if (o->status == FM_CTG_OX_MET) {
            q->ck_done = 1; /* later checkpoints are never read again (marks only add) */
            break;
        }
    }
    return FM_OK;
}

static double median_of(const float *v, size_t n)
{
    float *t = malloc((n ? n : 1) * sizeof *t);
    if (!t)
        return NAN;
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(v[i]))
            t[k++] = v[i];
    double m = NAN;
    if (k) {
        /* insertion sort is fine: at most one value per minute */
        for (size_t i = 1; i < k; i++) {
            float x = t[i];
            size_t j = i;
            while (j > 0 && t[j - 1] > x) {
                t[j] = t[j - 1];
                j--;
            }
            t[j] = x;
        }
        m = k % 2 ? t[k / 2] : 0.5 * (t[k / 2 - 1] + t[k / 2]);
    }
    free(t);
    return m;
}

static fm_ctg_event *shift_events(fm_ctg_event *dst, const fm_ctg_event *src, size_t n,
                                  double t0_s)
{
    for (size_t i = 0; i < n; i++) {
        dst[i] = src[i];
        dst[i].start_s += t0_s;
        dst[i].end_s += t0_s;
        dst[i].peak_s += t0_s;
    }
    return dst;
}

static fm_ctg_span *shift_spans(fm_ctg_span *dst, const fm_ctg_span *src, size_t n, double t0_s)
{
    for (size_t i = 0; i < n; i++) {
        dst[i].start_s = src[i].start_s + t0_s;
        dst[i].end_s = src[i].end_s + t0_s;
    }
    return dst;
}

/* A moved live window: the analysis of the kept samples, with its times from the start of the
 * record (copies: the kept events belong to the incremental scanners), and the NST kept. */
static fm_status to_record_time(fm_ctg *q, fm_ctg_result *r)
{
    const double t0_s = ctg_s_of(q->n0);
    size_t ne = r->n_acc + r->n_dec + r->n_ox_acc + r->n_ox_dec;
    size_t ns = r->n_high + r->n_low + r->sinusoidal.n_spans;
    if (grow_from((void **)&q->sh_ev, &q->sh_ev_cap, ne ? ne : 1, sizeof *q->sh_ev, 32) ||
        grow_from((void **)&q->sh_sp, &q->sh_sp_cap, ns ? ns : 1, sizeof *q->sh_sp, 16))
        return FM_ENOMEM;
    fm_ctg_event *e = q->sh_ev;
    r->acc = shift_events(e, r->acc, r->n_acc, t0_s);
    r->dec = shift_events(e += r->n_acc, r->dec, r->n_dec, t0_s);
    r->ox_acc = shift_events(e += r->n_dec, r->ox_acc, r->n_ox_acc, t0_s);
    r->ox_dec = shift_events(e + r->n_ox_acc, r->ox_dec, r->n_ox_dec, t0_s);
    fm_ctg_span *s = q->sh_sp;
    r->high_episodes = shift_spans(s, r->high_episodes, r->n_high, t0_s);
    r->low_episodes = shift_spans(s += r->n_high, r->low_episodes, r->n_low, t0_s);
    r->sinusoidal.spans =
        shift_spans(s + r->n_low, r->sinusoidal.spans, r->sinusoidal.n_spans, t0_s);
    r->duration_s = ctg_s_of(q->n0 + q->n);
    r->n0 = q->n0;
    r->t0_s = t0_s;
    if (q->nst_kept) {
        r->nst = q->nst;
        r->nst_reasons = q->nst_reasons;
    }
    return FM_OK;
}

static fm_status analyse(fm_ctg *q)
{
    const fm_ctg_config *c = &q->cfg;
    fm_ctg_result *r = &q->res;
    result_free(r);
    if (!q->rec && !(q->rec = ctg_record_create(c)))
        return FM_ENOMEM;
    fm_status rc = advance(q);
    if (rc != FM_OK) {
        /* the kept analysis may be half updated: start it again at the next result */
        drop_record(q);
        return rc;
    }
    r->n = q->n;
    r->duration_s = ctg_s_of(q->n);
    r->n_epochs = q->n_ep;
    r->n_minutes = q->n_ep / FM_CTG_EPOCHS_PER_MIN;
    r->lost_percent = 100.0 - ctg_record_valid_percent(q->rec);
    r->maternal_samples = q->n_maternal;
    r->maternal_percent = 100.0 * (double)q->n_maternal / (double)(q->n0 + q->n);
    r->insufficient_signal = !(100.0 - r->lost_percent >= c->min_valid_percent);
    ctg_record_fill(q->rec, r);
    r->bandwidth_median_bpm = median_of(r->minute_bandwidth_bpm, r->n_minutes);
    int assumed;
    rc = oxford_verdict(q, &r->oxford, ctg_gestation_used(c, &assumed));
    if (rc != FM_OK)
        return rc;
    ctg_baseline_runs br;
    ctg_record_baseline_runs(q->rec, &br);
    ctg_figo_nichd_nst(c, r, &br);
    return q->n0 ? to_record_time(q, r) : FM_OK;
}

/* The live window moves: first what stays from the whole record is made final while its samples
 * are still here (every Oxford checkpoint up to 60 min with its sinusoidal scan, the NST), then
 * the oldest samples go (whole minutes, so epochs and minutes keep their places) and the
 * analysis restarts on the rest at the next result. */
static fm_status rebase(fm_ctg *q)
{
    if (!q->n0) {
        fm_status rc = analyse(q);
        if (rc != FM_OK) {
            result_free(&q->res);
            q->dirty = 1;
            return rc;
        }
        q->nst = q->res.nst;
        q->nst_reasons = q->res.nst_reasons;
        q->nst_kept = 1;
        for (size_t i = 0; i < q->n_ck; i++)
            if (isnan(q->ck[i].sinus_longest_s) && (rc = checkpoint_sinus(q, &q->ck[i])) != FM_OK)
                return rc;
        result_free(&q->res);
    }
    size_t drop = (q->n - q->keep_n) / FM_CTG_SAMPLES_PER_MIN * FM_CTG_SAMPLES_PER_MIN;
    size_t drop_ep = drop / FM_CTG_EPOCH_SAMPLES;
    memmove(q->fhr, q->fhr + drop, (q->n - drop) * sizeof *q->fhr);
    memmove(q->ep_pi, q->ep_pi + drop_ep, (q->n_ep - drop_ep) * sizeof *q->ep_pi);
    q->n -= drop;
    q->n_ep -= drop_ep;
    q->n0 += drop;
    ctg_record_destroy(q->rec);
    q->rec = NULL; /* analyse() starts a fresh one on the kept samples */
    q->dirty = 1;
    return FM_OK;
}

fm_status fm_ctg_set_live_window(fm_ctg *q, double keep_s, double max_s)
{
    if (!q || !isfinite(keep_s) || !isfinite(max_s) || keep_s < FM_CTG_LIVE_MIN_KEEP_S ||
        max_s < keep_s + 60.0 || max_s > ctg_s_of(FM_TRACE_MAX_SAMPLES) || q->n0)
        return FM_EINVAL;
    size_t per_min = FM_CTG_SAMPLES_PER_MIN;
    q->keep_n = ((size_t)llround(keep_s * CTG_RATE_HZ) + per_min - 1) / per_min * per_min;
    q->max_n = (size_t)llround(max_s * CTG_RATE_HZ);
    return FM_OK;
}

fm_status fm_ctg_get_result(fm_ctg *q, const fm_ctg_result **out)
{
    if (!q || !out)
        return FM_EINVAL;
    *out = NULL;
    if (!q->n)
        return FM_EEMPTY;
    if (q->dirty) {
        fm_status rc = analyse(q);
        if (rc != FM_OK) {
            result_free(&q->res);
            return rc;
        }
        q->dirty = 0;
    }
    *out = &q->res;
    return FM_OK;
}

fm_status fm_ctg_analyze_trace(const fm_trace *t, const fm_ctg_config *cfg, fm_ctg **out)
{
    if (!out)
        return FM_EINVAL;
    *out = NULL;
    if (!t || (t->n && (!t->fhr_bpm || !t->state)))
        return FM_EINVAL;
    if (!t->n)
        return FM_EEMPTY;
    if (t->rate_hz != FM_FHR_RATE_HZ)
        return FM_ERATE;
    fm_ctg *q = fm_ctg_create(cfg);
    if (!q)
        return cfg ? FM_EINVAL : FM_ENOMEM;
    fm_status rc = fm_ctg_update(q, t->fhr_bpm, t->state, t->n);
    for (size_t i = 0; rc == FM_OK && i < t->n_movements; i++)
        rc = fm_ctg_add_movement(q, t->movements_s[i]);
    const fm_ctg_result *r;
    if (rc == FM_OK)
        rc = fm_ctg_get_result(q, &r);
    if (rc != FM_OK) {
        fm_ctg_destroy(q);
        return rc;
    }
    *out = q;
    return FM_OK;
}

const char *fm_ctg_figo_name(fm_ctg_figo_class c)
{
    switch (c) {
    case FM_CTG_FIGO_NORMAL: return "normal";
    case FM_CTG_FIGO_SUSPICIOUS: return "suspicious";
    case FM_CTG_FIGO_PATHOLOGICAL: return "pathological";
    default: return "insufficient_signal";
    }
}

const char *fm_ctg_nst_name(fm_ctg_nst s)
{
    switch (s) {
    case FM_CTG_NST_REACTIVE: return "reactive";
    case FM_CTG_NST_NONREACTIVE: return "non_reactive";
    default: return "insufficient_signal";
    }
}

const char *fm_ctg_oxford_name(fm_ctg_oxford_status s)
{
    switch (s) {
    case FM_CTG_OX_MET: return "met";
    case FM_CTG_OX_NOT_MET: return "not_met";
    default: return "too_short";
    }
}

const char *fm_ctg_shape_name(fm_ctg_shape s)
{
    switch (s) {
    case FM_CTG_SHAPE_ABRUPT: return "abrupt";
    case FM_CTG_SHAPE_GRADUAL: return "gradual";
    default: return "none";
    }
}

void fm_ctg_result_print(const fm_ctg_result *r, FILE *f)
{
    fprintf(f,
            "ctg: %.1f min, lost %.1f %%, maternal %.1f %%; basal %.1f bpm, FIGO baseline "
            "%.0f bpm, STV %.2f ms, LTV %.1f ms; %zu acc, %zu dec, sinusoidal %s; Oxford %s "
            "at %.0f min (%d reasons), FIGO %s, NICHD %d, NST %s\n",
            r->duration_s / 60.0, r->lost_percent, r->maternal_percent, r->basal_bpm,
            r->figo_baseline_bpm, r->stv_ms, r->ltv_ms, r->n_acc, r->n_dec,
            r->sinusoidal.detected ? "yes" : "no", fm_ctg_oxford_name(r->oxford.status),
            r->oxford.at_min, r->oxford.reasons.n, fm_ctg_figo_name(r->figo), r->nichd_category,
            fm_ctg_nst_name(r->nst));
}
