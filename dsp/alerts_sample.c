/* Sample-level alert rules: evaluated on every 4 Hz sample as it arrives, so an alert comes with
 * the sample that completes its condition, not at the next re-analysis.
 *   - low-FHR runs: FHR < 80 bpm (absolute) and the prolonged deceleration (more than a depth
 *     below the last known baseline, frozen while a run lasts) (CLINICAL 4.1, 5);
 *   - windowed shares: signal loss and maternal capture over a sliding window (CLINICAL 2, 5);
 *     maternal capture right after a fetal deceleration (a witnessed descent, AL_WITNESS_*) is
 *     a possible bradycardia and takes the rule's second priority (HIGH).
 * Hysteresis: a run starts on the strict threshold and ends on the relaxed one (2-s mean, so one
 * artefact sample can neither start nor end it), short gaps of lost signal are bridged, and an
 * episode closes only after the rule's clear time; a new run inside that time continues it.
 * Not for analysis-level rules (alerts_analysis.c) or episode book-keeping (alerts.c). */
#include <stdlib.h>
#include <string.h>

#include "alerts_internal.h"

static int sample_valid(float fhr, uint8_t st)
{
    return st == FM_STATE_OK && isfinite(fhr) && fhr >= AL_FHR_MIN_BPM && fhr <= AL_FHR_MAX_BPM;
}

/* A low-FHR run also counts values that were marked doubtful or maternal but still carry a
 * rate (the Doppler engine leaves no value on what it hears as the mother; a value marked
 * maternal later is one the engine tracked as fetal and the false-signal detector doubts, e.g. a
 * deceleration continuing after a short loss). Without a maternal channel a fetal bradycardia
 * and the mother's pulse look alike, and both call for the same immediate action: confirm the
 * fetal heart. So a possible bradycardia always reaches a clinician, never downgraded to a
 * technical "maternal capture" alert; the alert says how much of it rests on doubtful or
 * maternal-looking signal, so it is never presented as a trusted number (CLINICAL 2, 5). */
static int sample_low_evidence(float fhr, uint8_t st)
{
    return st != FM_STATE_LOST && isfinite(fhr) && fhr >= AL_FHR_MIN_BPM && fhr <= AL_FHR_MAX_BPM;
}

static void lowrun_reset(al_lowrun *d)
{
    memset(d, 0, sizeof *d);
    d->ep = -1;
    for (int i = 0; i < AL_SMOOTH_N; i++)
        d->ring[i] = NAN;
}

static fm_status share_init(al_share *d, double window_s)
{
    memset(d, 0, sizeof *d);
    d->ep = -1;
    d->len = (size_t)lround(window_s * FM_FHR_RATE_HZ);
    if (d->len < 1)
        d->len = 1;
    d->ring = calloc(d->len, 1);
    return d->ring ? FM_OK : FM_ENOMEM;
}

fm_status al_sample_init(fm_alerts *q)
{
    lowrun_reset(&q->low80);
    lowrun_reset(&q->prolonged);
    q->witness = 0;
    q->last_fetal_end_s = q->last_maternal_end_s = -1;
    q->normal_since_s = NAN;
    fm_status rc = share_init(&q->loss, q->cfg.rule[FM_ALERT_SIGNAL_LOSS].window_s);
    if (rc == FM_OK)
        rc = share_init(&q->maternal, q->cfg.rule[FM_ALERT_MATERNAL_CAPTURE].window_s);
    return rc;
}

void al_sample_free(fm_alerts *q)
{
    free(q->loss.ring);
    free(q->maternal.ring);
    q->loss.ring = q->maternal.ring = NULL;
}

/* ---- low-FHR runs ---- */

static void lowrun_span(const fm_alerts *q, fm_alert_rule rule, const al_lowrun *d,
                        const al_episode *prev, al_span *s)
{
    char dur[32];
    memset(s, 0, sizeof *s);
    s->start_s = prev ? prev->start_s : d->start_s;
    s->end_s = d->last_low_end_s;
    s->ongoing = 1;
    s->prio = q->cfg.rule[rule].priority;
    double nadir = d->nadir_bpm;
    if (prev && prev->n_values && prev->values[0].value < nadir)
        nadir = prev->values[0].value; /* values[0] is always the nadir */
    al_span_value(s, "nadir_bpm", nadir);
    al_span_value(s, "duration_s", s->end_s - s->start_s);
    al_span_value(s, "doubtful_s", d->doubtful_s);
    al_fmt_duration(dur, sizeof dur, s->end_s - s->start_s);
    if (rule == FM_ALERT_FHR_BELOW_80) {
        snprintf(s->message, sizeof s->message, "FHR below %.0f bpm for %s (nadir %.0f bpm)",
                 q->cfg.rule[rule].on_value, dur, nadir);
    } else {
        al_span_value(s, "baseline_bpm", d->level_bpm);
        al_span_value(s, "depth_bpm", d->level_bpm - nadir);
        snprintf(s->message, sizeof s->message,
                 "Prolonged deceleration: %s below the baseline of %.0f bpm (nadir %.0f bpm, "
                 "%.0f bpm deep)",
                 dur, d->level_bpm, nadir, d->level_bpm - nadir);
    }
    al_span_value(s, "maternal_s", d->maternal_s);
    if (d->maternal_s > 0) {
        size_t len = strlen(s->message);
        snprintf(s->message + len, sizeof s->message - len,
                 "; %.0f s of it may be the mother's pulse: confirm the fetal heart now "
                 "(check the mother's pulse)",
                 d->maternal_s);
    } else if (d->doubtful_s > 0) {
        size_t len = strlen(s->message);
        snprintf(s->message + len, sizeof s->message - len,
                 "; %.0f s of it on doubtful signal: check with the audio", d->doubtful_s);
    }
}

/* One sample into a low run. on_bpm/off_bpm: absolute levels (NAN: rule not applicable now). */
static void lowrun_push(fm_alerts *q, fm_alert_rule rule, al_lowrun *d, float fhr, int valid,
                        uint8_t state, double ref_bpm, double on_bpm, double off_bpm, double t0)
{
    const fm_alert_rule_config *k = &q->cfg.rule[rule];
    const double t1 = t0 + AL_DT_S;
    memmove(d->ring, d->ring + 1, (AL_SMOOTH_N - 1) * sizeof d->ring[0]);
    d->ring[AL_SMOOTH_N - 1] = valid ? fhr : NAN;
    if (d->ring_n < AL_SMOOTH_N)
        d->ring_n++;
    double sum = 0;
    int cnt = 0;
    for (int i = 0; i < AL_SMOOTH_N; i++)
        if (isfinite(d->ring[i]))
            sum += d->ring[i], cnt++;
    const double mean = cnt ? sum / cnt : NAN;

    if (!d->active && isfinite(on_bpm) && valid && mean < on_bpm) {
        d->active = 1;
        d->level_bpm = ref_bpm;
        d->nadir_bpm = fhr;
        d->start_s = t0;
        d->doubtful_s = state == FM_STATE_DOUBTFUL ? AL_DT_S : 0;
        d->maternal_s = state == FM_STATE_MATERNAL ? AL_DT_S : 0;
        /* the run starts at the earliest low sample still in the smoothing window */
        for (int i = 0; i < AL_SMOOTH_N; i++) {
            if (isfinite(d->ring[i]) && d->ring[i] < on_bpm) {
                d->start_s = t0 - (AL_SMOOTH_N - 1 - i) * AL_DT_S;
                break;
            }
        }
        for (int i = 0; i < AL_SMOOTH_N; i++)
            if (isfinite(d->ring[i]) && d->ring[i] < d->nadir_bpm)
                d->nadir_bpm = d->ring[i];
        d->last_low_end_s = t1;
    } else if (d->active) {
        if (valid && fhr < off_bpm) {
            d->last_low_end_s = t1;
            if (state == FM_STATE_DOUBTFUL)
                d->doubtful_s += AL_DT_S;
            if (state == FM_STATE_MATERNAL)
                d->maternal_s += AL_DT_S;
            if (fhr < d->nadir_bpm)
                d->nadir_bpm = fhr;
        }
        if ((isfinite(mean) && mean >= off_bpm) || t1 - d->last_low_end_s > k->gap_s ||
            !isfinite(off_bpm))
            d->active = 0;
    }

    if (d->ep < 0) {
        if (d->active && d->last_low_end_s - d->start_s > k->min_s) {
            al_span s;
            /* the re-analysis may have opened this very episode a moment earlier: adopt it */
            long e = al_find_open(q, rule);
            if (e >= 0 && q->ep[e].end_s >= d->start_s && q->ep[e].start_s <= t1) {
                d->ep = e;
                q->ep[e].sources |= AL_SRC_SAMPLE;
                lowrun_span(q, rule, d, &q->ep[e], &s);
                al_refresh(q, e, &s, t1);
            } else {
                lowrun_span(q, rule, d, NULL, &s);
                d->ep = al_open(q, rule, AL_SRC_SAMPLE, &s, t1);
            }
        }
        return;
    }
    al_episode *e = &q->ep[d->ep];
    if (d->active) {
        if (d->last_low_end_s > e->end_s) {
            al_span s;
            lowrun_span(q, rule, d, e, &s);
            al_refresh(q, d->ep, &s, t1);
        }
    } else if (t1 - e->end_s >= k->clear_s) {
        al_close(q, d->ep, NAN, t1, "FHR recovered");
        d->ep = -1;
    }
}

/* ---- windowed shares ---- */

static void share_push(fm_alerts *q, fm_alert_rule rule, al_share *d, int bad, double t0)
{
    const fm_alert_rule_config *k = &q->cfg.rule[rule];
    const double t1 = t0 + AL_DT_S;
    d->count -= d->ring[d->pos];
    d->ring[d->pos] = (uint8_t)bad;
    d->count += (size_t)bad;
    d->pos = (d->pos + 1) % d->len;
    if (bad)
        d->last_bad_end_s = t1;
    /* the share is over the whole window, so a short stream cannot reach it early */
    const double share = 100.0 * (double)d->count / (double)d->len;
    if (!d->active && share > k->on_value) {
        d->active = 1;
        d->worst_share = share;
    } else if (d->active && share < k->off_value) {
        d->active = 0;
        d->inactive_since_s = t1;
    }
    if (d->active && share > d->worst_share)
        d->worst_share = share;
    if (!d->active && d->ep < 0)
        return;

    al_span s;
    memset(&s, 0, sizeof s);
    s.end_s = d->last_bad_end_s;
    s.ongoing = 1;
    s.prio = k->priority;
    if (d->ep < 0) {
        /* the episode starts at the first bad sample still in the window */
        s.start_s = t1 - (double)d->len * AL_DT_S;
        for (size_t i = 0; i < d->len; i++) {
            if (d->ring[(d->pos + i) % d->len]) {
                s.start_s = t1 - (double)(d->len - i) * AL_DT_S;
                break;
            }
        }
        if (s.start_s < 0)
            s.start_s = 0;
    } else {
        s.start_s = q->ep[d->ep].start_s;
    }
    const int witnessed = rule == FM_ALERT_MATERNAL_CAPTURE && q->witness;
    if (witnessed)
        s.prio = k->priority2;
    al_span_value(&s, "worst_percent", d->worst_share);
    al_span_value(&s, "window_s", k->window_s);
    al_span_value(&s, "duration_s", s.end_s - s.start_s);
    char dur[32];
    al_fmt_duration(dur, sizeof dur, s.end_s - s.start_s);
    if (rule == FM_ALERT_SIGNAL_LOSS)
        snprintf(s.message, sizeof s.message,
                 "Signal lost: up to %.0f %% of the last %.0f s without usable FHR, over %s; "
                 "reposition the probe",
                 d->worst_share, k->window_s, dur);
    else if (witnessed) {
        al_span_value(&s, "fetal_level_bpm", q->witness_ref_bpm);
        al_span_value(&s, "last_fetal_bpm", q->witness_fetal_bpm);
        al_span_value(&s, "descent_at_s", q->witness_at_s);
        snprintf(s.message, sizeof s.message,
                 "Possible fetal bradycardia: the FHR fell from %.0f to %.0f bpm, then the signal "
                 "became maternal-looking (up to %.0f %% of the last %.0f s, over %s); the Doppler "
                 "cannot tell a fetal heart at the mother's rate from her pulse: confirm the fetal "
                 "heart now (check the mother's pulse)",
                 q->witness_ref_bpm, q->witness_fetal_bpm, d->worst_share, k->window_s, dur);
    } else
        snprintf(s.message, sizeof s.message,
                 "Suspected maternal heart rate: up to %.0f %% of the last %.0f s look maternal, "
                 "over %s; these samples are not fetal",
                 d->worst_share, k->window_s, dur);

    if (d->ep < 0) {
        d->ep = al_open(q, rule, AL_SRC_SAMPLE, &s, t1);
    } else if (d->active) {
        al_refresh(q, d->ep, &s, t1);
    } else if (t1 - d->inactive_since_s >= k->clear_s) {
        al_close(q, d->ep, d->last_bad_end_s, t1, al_rule_message_closed(rule));
        d->ep = -1;
        d->worst_share = 0;
    }
}

/* ---- witnessed descent into maternal-looking signal (AL_WITNESS_*) ---- */

static void witness_push(fm_alerts *q, float fhr, uint8_t state, double t0)
{
    const double t1 = t0 + AL_DT_S;
    const double depth = q->cfg.rule[FM_ALERT_MATERNAL_CAPTURE].grade2_value;
    const int fetal = (state == FM_STATE_OK || state == FM_STATE_DOUBTFUL) && isfinite(fhr) &&
                      fhr >= AL_FHR_MIN_BPM && fhr <= AL_FHR_MAX_BPM;
    if (fetal) {
        /* the reference restarts after a long gap: the level before it is not this one's */
        if (!(q->last_fetal_end_s > 0) || t0 - q->last_fetal_end_s > AL_WITNESS_REF_S)
            q->fetal_ref_bpm = fhr;
        else
            q->fetal_ref_bpm +=
                (fhr - q->fetal_ref_bpm) * (t1 - q->last_fetal_end_s) / AL_WITNESS_REF_S;
        q->last_fetal_bpm = fhr;
        q->last_fetal_end_s = t1;
        if (state == FM_STATE_OK && fhr >= AL_WITNESS_NORMAL_BPM) {
            if (!(q->normal_since_s >= 0))
                q->normal_since_s = t0;
            if (t1 - q->normal_since_s >= AL_WITNESS_NORMAL_S)
                q->witness = 0; /* the fetal heart is back at a normal rate */
        } else {
            q->normal_since_s = NAN;
        }
        return;
    }
    q->normal_since_s = NAN;
    if (state != FM_STATE_MATERNAL || isfinite(fhr))
        return; /* lost, or a value (marked maternal later) that the low-FHR rules count */
    if (!q->witness && q->last_fetal_end_s > 0 && t0 - q->last_fetal_end_s <= AL_WITNESS_GAP_S &&
        q->last_fetal_bpm < AL_WITNESS_MAX_BPM &&
        ((isfinite(depth) && q->fetal_ref_bpm - q->last_fetal_bpm >= depth) ||
         q->last_fetal_bpm < AL_WITNESS_NORMAL_BPM)) {
        q->witness = 1;
        q->witness_ref_bpm = q->fetal_ref_bpm;
        q->witness_fetal_bpm = q->last_fetal_bpm;
        q->witness_at_s = t0;
    }
    q->last_maternal_end_s = t1;
}

void al_sample_push(fm_alerts *q, float fhr_bpm, uint8_t state, double t0_s)
{
    const fm_alerts_config *c = &q->cfg;
    const int valid = sample_valid(fhr_bpm, state);
    const int low_ev = sample_low_evidence(fhr_bpm, state);
    if (c->rule[FM_ALERT_FHR_BELOW_80].enabled)
        lowrun_push(q, FM_ALERT_FHR_BELOW_80, &q->low80, fhr_bpm, low_ev, state, NAN,
                    c->rule[FM_ALERT_FHR_BELOW_80].on_value,
                    c->rule[FM_ALERT_FHR_BELOW_80].off_value, t0_s);
    if (c->rule[FM_ALERT_PROLONGED_DECEL].enabled) {
        /* the baseline is frozen while a run lasts: a long deceleration drags a re-fitted
         * baseline down and must not end itself that way */
        al_lowrun *d = &q->prolonged;
        double bl = d->active ? d->level_bpm : q->baseline_bpm;
        double on = bl - c->rule[FM_ALERT_PROLONGED_DECEL].on_value;
        double off = bl - c->rule[FM_ALERT_PROLONGED_DECEL].off_value;
        lowrun_push(q, FM_ALERT_PROLONGED_DECEL, d, fhr_bpm, low_ev, state, bl, on, off, t0_s);
    }
    if (c->rule[FM_ALERT_SIGNAL_LOSS].enabled)
        share_push(q, FM_ALERT_SIGNAL_LOSS, &q->loss, !valid && state != FM_STATE_MATERNAL, t0_s);
    if (c->rule[FM_ALERT_MATERNAL_CAPTURE].enabled) {
        witness_push(q, fhr_bpm, state, t0_s);
        if (q->witness && t0_s - q->last_maternal_end_s > AL_WITNESS_KEEP_S)
            q->witness = 0;
        share_push(q, FM_ALERT_MATERNAL_CAPTURE, &q->maternal, state == FM_STATE_MATERNAL, t0_s);
    }
}

void al_sample_finish(fm_alerts *q)
{
    q->low80.active = q->prolonged.active = 0;
    q->low80.ep = q->prolonged.ep = q->loss.ep = q->maternal.ep = -1;
    q->loss.active = q->maternal.active = 0;
    q->witness = 0;
}
