/* Analysis-level alert rules: on each fm_ctg_result (every 2 min live, once for an upload) every
 * rule turns the analysis into spans ("the condition holds over this time range, this badly"),
 * and the spans are reconciled with the episodes already known:
 *   - a span overlapping an open episode continues it (new extent, worse priority -> UPDATED);
 *   - a span overlapping a closed episode is the same, already reported, condition: silent;
 *   - any other span that meets the entry threshold opens a new episode;
 *   - an episode whose span ended more than clear_s before the end of the analysis, or that the
 *     re-analysis no longer sees for clear_s, closes.
 * Because the whole record is re-analysed each time, the same spans come back at every
 * re-analysis: this reconciliation is what makes one alert per episode, and what makes an upload
 * (one final analysis) and a live stream (many) give the same episodes.
 * Hysteresis: runs start on the strict threshold for the clinical window and continue on the
 * relaxed one; runs closer than clear_s merge; record-level values have separate on/off levels.
 * Not for sample-level rules (alerts_sample.c) or the episode book-keeping itself (alerts.c). */
#include <stdlib.h>
#include <string.h>

#include "alerts_internal.h"

static al_span *span_new(fm_alerts *q, size_t *n)
{
    if (*n == q->cap_spans) {
        size_t cap = q->cap_spans ? q->cap_spans * 2 : 16;
        al_span *s = realloc(q->spans, cap * sizeof *s);
        if (!s)
            return NULL;
        q->spans = s;
        q->cap_spans = cap;
    }
    al_span *s = &q->spans[(*n)++];
    memset(s, 0, sizeof *s);
    return s;
}

static int overlaps(double a0, double a1, double b0, double b1)
{
    return a0 <= b1 && b0 <= a1;
}

/* ---- reconciliation ---- */

static void reconcile(fm_alerts *q, fm_alert_rule rule, size_t ns, double T)
{
    const fm_alert_rule_config *k = &q->cfg.rule[rule];
    for (size_t i = 0; i < q->n_ep; i++)
        if (q->ep[i].rule == rule)
            q->ep[i].seen = 0;
    for (size_t j = 0; j < ns; j++) {
        const al_span *s = &q->spans[j];
        long open = -1, closed = -1;
        for (size_t i = 0; i < q->n_ep; i++) {
            al_episode *e = &q->ep[i];
            if (e->rule != rule || !overlaps(e->start_s, e->end_s, s->start_s, s->end_s))
                continue;
            if (e->open && open < 0)
                open = (long)i;
            else if (!e->open && (closed < 0 || e->end_s > q->ep[closed].end_s))
                closed = (long)i;
        }
        const int ended = !s->ongoing && T - s->end_s >= k->clear_s;
        if (open >= 0) {
            al_episode *e = &q->ep[open];
            e->seen = 1;
            e->sources |= AL_SRC_ANALYSIS;
            al_refresh(q, open, s, T);
            /* an episode the sample detector still runs is closed by that detector */
            int held = open == q->prolonged.ep || open == q->low80.ep;
            if (ended && !held)
                al_close(q, open, s->end_s, T, al_rule_message_closed(rule));
            continue;
        }
        al_span ns_ = *s;
        if (closed >= 0) {
            /* already reported; only a continuation well past its end is a new episode */
            q->ep[closed].seen = 1;
            if (s->end_s <= q->ep[closed].end_s + k->clear_s)
                continue;
            ns_.start_s = fmax(s->start_s, q->ep[closed].end_s);
        }
        if (!s->qualifies)
            continue;
        long e = al_open(q, rule, AL_SRC_ANALYSIS, &ns_, T);
        if (e >= 0 && ended)
            al_close(q, e, s->end_s, T, al_rule_message_closed(rule));
    }
    for (size_t i = 0; i < q->n_ep; i++) {
        al_episode *e = &q->ep[i];
        if (e->rule != rule || !e->open || e->seen || !(e->sources & AL_SRC_ANALYSIS))
            continue;
        if ((long)i == q->prolonged.ep || (long)i == q->low80.ep)
            continue;
        if (T - e->end_s >= k->clear_s)
            al_close(q, (long)i, NAN, T, "no longer found by the re-analysis");
    }
}

/* ---- runs over a series (baseline per sample, bandwidth per minute) ---- */

typedef struct run_spec {
    int sign;       /* -1: below, +1: above */
    double on, off; /* enter strictly beyond on; stay beyond off */
    double min_s;   /* strict part longer than this */
    double gap_s;   /* NAN stretches up to this neither break nor extend a run */
    double merge_s; /* runs closer than this form one span */
} run_spec;

typedef struct run_out {
    double start_s, end_s, worst;
    int qualifies, open_at_end;
} run_out;

static int beyond(int sign, double v, double level)
{
    return sign < 0 ? v < level : v > level;
}

/* Calls back with each merged group of runs. Element i covers [i dt, (i+1) dt). */
static size_t series_runs(const float *v, size_t n, double dt, const run_spec *sp, run_out *out,
                          size_t cap)
{
    size_t no = 0;
    int in = 0, have_group = 0;
    double strict = 0, nan_s = 0;
    run_out g = {0, 0, 0, 0, 0};
    double r_start = 0, r_end = 0, worst = 0, best_strict = 0;
    for (size_t i = 0; i <= n; i++) {
        int end_run = 0;
        if (i < n && !isfinite(v[i])) {
            nan_s += dt;
            if (in && nan_s > sp->gap_s)
                end_run = 1;
        } else if (i < n) {
            nan_s = 0;
            if (in) {
                if (beyond(sp->sign, v[i], sp->off)) {
                    r_end = (double)(i + 1) * dt;
                    if (beyond(sp->sign, v[i], worst))
                        worst = v[i];
                    strict = beyond(sp->sign, v[i], sp->on) ? strict + dt : 0;
                    best_strict = fmax(best_strict, strict);
                } else {
                    end_run = 1;
                }
            } else if (beyond(sp->sign, v[i], sp->on)) {
                in = 1;
                r_start = (double)i * dt;
                r_end = r_start + dt;
                worst = v[i];
                strict = best_strict = dt;
            }
        } else if (in) {
            end_run = 1;
        }
        if (!end_run)
            continue;
        /* a run ended (or the series did): add it to the current group */
        int open_end = i == n || (i < n && !isfinite(v[i]) && nan_s <= sp->gap_s);
        in = 0;
        if (have_group && r_start - g.end_s < sp->merge_s) {
            g.end_s = r_end;
            if (beyond(sp->sign, worst, g.worst))
                g.worst = worst;
            g.qualifies |= best_strict > sp->min_s;
        } else {
            if (have_group && g.qualifies && no < cap)
                out[no++] = g;
            g.start_s = r_start;
            g.end_s = r_end;
            g.worst = worst;
            g.qualifies = best_strict > sp->min_s;
            have_group = 1;
        }
        g.open_at_end = open_end;
        strict = best_strict = 0;
    }
    if (have_group && g.qualifies && no < cap)
        out[no++] = g;
    return no;
}

#define MAX_RUNS 256

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of the per-minute mean FHR (valid samples) over [a, b); NAN when no minute. */
static double fhr_median(const fm_alerts *q, double a, double b)
{
    size_t m0 = (size_t)(a / 60.0), m1 = (size_t)ceil(b / 60.0), n = 0;
    if (m1 > q->n_min)
        m1 = q->n_min;
    if (m0 >= m1)
        return NAN;
    double *v = malloc((m1 - m0) * sizeof *v);
    if (!v)
        return NAN;
    for (size_t m = m0; m < m1; m++)
        if (q->min_cnt[m])
            v[n++] = q->min_sum[m] / q->min_cnt[m];
    double med = NAN;
    if (n) {
        qsort(v, n, sizeof *v, cmp_double);
        med = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
    free(v);
    return med;
}

/* v[i] covers [t0 + i dt, t0 + (i+1) dt) (t0: a live window's start, fm_ctg_result.t0_s). */
static void rule_runs(fm_alerts *q, fm_alert_rule rule, const float *v, size_t n, double dt,
                      double t0, int sign, double T)
{
    const fm_alert_rule_config *k = &q->cfg.rule[rule];
    run_spec sp = {sign, k->on_value, k->off_value, k->min_s, k->gap_s, k->clear_s};
    run_out runs[MAX_RUNS];
    size_t nr = series_runs(v, n, dt, &sp, runs, MAX_RUNS), ns = 0;
    const int is_rate = rule == FM_ALERT_BRADYCARDIA || rule == FM_ALERT_TACHYCARDIA;
    for (size_t j = 0; j < nr; j++) {
        run_out g_ = runs[j];
        const run_out *g = &g_;
        g_.start_s += t0;
        g_.end_s += t0;
        /* a baseline the samples themselves do not show is an artefact of the analysis */
        if (is_rate && !beyond(sign, fhr_median(q, g->start_s, g->end_s), k->off_value))
            continue;
        al_span *s = span_new(q, &ns);
        if (!s)
            break;
        char dur[32];
        s->start_s = g->start_s;
        s->end_s = g->end_s;
        s->qualifies = 1;
        s->prio = isfinite(k->grade2_value) && beyond(sign, g->worst, k->grade2_value)
                      ? k->priority2
                      : k->priority;
        al_fmt_duration(dur, sizeof dur, g->end_s - g->start_s);
        al_span_value(s, is_rate ? "worst_baseline_bpm" : "worst_bandwidth_bpm", g->worst);
        al_span_value(s, "duration_s", g->end_s - g->start_s);
        al_span_value(s, "threshold_bpm", k->on_value);
        if (is_rate)
            snprintf(s->message, sizeof s->message, "%s: baseline %s %.0f bpm for %s (%s %.0f bpm)",
                     fm_alert_rule_name(rule), sign < 0 ? "below" : "above", k->on_value, dur,
                     sign < 0 ? "lowest" : "highest", g->worst);
        else
            snprintf(s->message, sizeof s->message,
                     "%s: bandwidth %s %.0f bpm for %s (%s %.1f bpm)", fm_alert_rule_name(rule),
                     sign < 0 ? "below" : "above", k->on_value, dur,
                     sign < 0 ? "lowest" : "highest", g->worst);
    }
    reconcile(q, rule, ns, T);
}

/* ---- decelerations ---- */

static void dec_values(al_span *s, const fm_ctg_event *d)
{
    al_span_value(s, "nadir_bpm", d->peak_bpm);
    al_span_value(s, "duration_s", d->end_s - d->start_s);
    al_span_value(s, "depth_bpm", d->amplitude_bpm);
    al_span_value(s, "lost_beats", d->lost_beats);
}

static void rule_prolonged(fm_alerts *q, const fm_ctg_result *r, double T)
{
    size_t ns = 0;
    for (size_t i = 0; i < r->n_dec; i++) {
        const fm_ctg_event *d = &r->dec[i];
        if (!(d->flags & FM_CTG_EV_PROLONGED))
            continue;
        al_span *s = span_new(q, &ns);
        if (!s)
            break;
        char dur[32];
        s->start_s = d->start_s;
        s->end_s = d->end_s;
        s->qualifies = 1;
        s->prio = q->cfg.rule[FM_ALERT_PROLONGED_DECEL].priority;
        dec_values(s, d);
        al_fmt_duration(dur, sizeof dur, d->end_s - d->start_s);
        snprintf(s->message, sizeof s->message,
                 "Prolonged deceleration of %s, %.0f bpm deep (nadir %.0f bpm, %.0f lost beats)",
                 dur, d->amplitude_bpm, d->peak_bpm, d->lost_beats);
    }
    reconcile(q, FM_ALERT_PROLONGED_DECEL, ns, T);
}

static int prolonged_overlap(const fm_alerts *q, const fm_ctg_result *r, double a, double b)
{
    for (size_t i = 0; i < r->n_dec; i++)
        if ((r->dec[i].flags & FM_CTG_EV_PROLONGED) &&
            overlaps(r->dec[i].start_s, r->dec[i].end_s, a, b))
            return 1;
    for (size_t i = 0; i < q->n_ep; i++)
        if (q->ep[i].rule == FM_ALERT_PROLONGED_DECEL &&
            overlaps(q->ep[i].start_s, q->ep[i].end_s, a, b))
            return 1;
    return 0;
}

#define DEC_END_MARGIN_S 7.5 /* two epochs: gaps this short are bridged inside an event */

/* Large decelerations group: decelerations closer than clear_s (20 min: the window in which
 * FIGO calls decelerations repetitive, CLINICAL 4.1) are one episode, "large decelerations", not
 * one alert each; it worsens to the second grade with a larger one. One between off and on
 * lost beats continues a group but never starts one. */
static void rule_large_decel(fm_alerts *q, const fm_ctg_result *r, double T)
{
    const fm_alert_rule_config *k = &q->cfg.rule[FM_ALERT_LARGE_DECEL];
    size_t ns = 0;
    al_span *g = NULL;
    const fm_ctg_event *worst = NULL;
    int count = 0;
    for (size_t i = 0; i <= r->n_ox_dec; i++) {
        const fm_ctg_event *d = i < r->n_ox_dec ? &r->ox_dec[i] : NULL;
        /* only a finished deceleration has its final size; one still going at the end of the
         * analysis is the prolonged rule's (sample by sample) until it ends */
        if (d &&
            (!(d->lost_beats > k->off_value) || prolonged_overlap(q, r, d->start_s, d->end_s) ||
             (!q->final && d->end_s > T - DEC_END_MARGIN_S)))
            continue;
        if (g && (!d || d->start_s - g->end_s >= k->clear_s)) {
            /* close the current group */
            char dur[32];
            dec_values(g, worst);
            al_span_value(g, "count", count);
            al_fmt_duration(dur, sizeof dur, g->end_s - g->start_s);
            if (count > 1)
                snprintf(g->message, sizeof g->message,
                         "%d large decelerations over %s; largest %.0f lost beats, %.0f bpm "
                         "deep, nadir %.0f bpm",
                         count, dur, worst->lost_beats, worst->amplitude_bpm, worst->peak_bpm);
            else
                snprintf(g->message, sizeof g->message,
                         "Deceleration of %.0f lost beats (more than %.0f): %s, %.0f bpm deep, "
                         "nadir %.0f bpm",
                         worst->lost_beats,
                         worst->lost_beats > k->grade2_value ? k->grade2_value : k->on_value, dur,
                         worst->amplitude_bpm, worst->peak_bpm);
            g = NULL;
        }
        if (!d)
            break;
        if (!g) {
            if (!(g = span_new(q, &ns)))
                break;
            g->start_s = d->start_s;
            g->prio = k->priority;
            worst = d;
            count = 0;
        }
        g->end_s = d->end_s;
        if (d->lost_beats > k->on_value) {
            g->qualifies = 1;
            count++;
        }
        if (d->lost_beats > worst->lost_beats)
            worst = d;
        if (d->lost_beats > k->grade2_value)
            g->prio = k->priority2;
    }
    reconcile(q, FM_ALERT_LARGE_DECEL, ns, T);
}

/* ---- whole-record values ---- */

static void rule_sinusoidal(fm_alerts *q, const fm_ctg_result *r, double T)
{
    const fm_alert_rule_config *k = &q->cfg.rule[FM_ALERT_SINUSOIDAL];
    size_t ns = 0;
    for (size_t i = 0; i < r->sinusoidal.n_spans; i++) {
        const fm_ctg_span *p = &r->sinusoidal.spans[i];
        if (!(p->end_s - p->start_s > k->min_s))
            continue;
        al_span *s = span_new(q, &ns);
        if (!s)
            break;
        char dur[32];
        s->start_s = p->start_s;
        s->end_s = p->end_s;
        s->qualifies = 1;
        s->prio = k->priority;
        al_span_value(s, "duration_s", p->end_s - p->start_s);
        al_span_value(s, "frequency_cpm", r->sinusoidal.freq_cpm);
        al_span_value(s, "amplitude_bpm", r->sinusoidal.amplitude_bpm);
        al_fmt_duration(dur, sizeof dur, p->end_s - p->start_s);
        snprintf(s->message, sizeof s->message,
                 "Sinusoidal pattern for %s (%.1f cycles/min, %.0f bpm peak to trough)", dur,
                 r->sinusoidal.freq_cpm, r->sinusoidal.amplitude_bpm);
    }
    reconcile(q, FM_ALERT_SINUSOIDAL, ns, T);
}

static double stv_high_ms(const fm_alerts_config *c, int *row)
{
    *row = -1;
    if (isfinite(c->gestation_weeks))
        for (size_t i = 0; i < c->n_stv_rows; i++)
            if (c->gestation_weeks >= c->stv_rows[i].from_weeks &&
                c->gestation_weeks < c->stv_rows[i].to_weeks) {
                *row = (int)i;
                return c->stv_rows[i].high_ms;
            }
    return c->stv_high_default_ms;
}

static void rule_stv(fm_alerts *q, const fm_ctg_result *r, double T)
{
    const fm_alerts_config *c = &q->cfg;
    size_t ns = 0;
    if (isfinite(r->stv_ms) && (double)r->n_valid_minutes >= c->stv_min_valid_minutes) {
        int row;
        const double high = stv_high_ms(c, &row), stv = r->stv_ms;
        fm_alert_priority p = stv < high               ? FM_ALERT_PRIO_HIGH
                              : stv < c->stv_medium_ms ? FM_ALERT_PRIO_MEDIUM
                              : stv < c->stv_low_ms    ? FM_ALERT_PRIO_LOW
                                                       : FM_ALERT_PRIO_NONE;
        const double top = fmax(high, fmax(c->stv_medium_ms, c->stv_low_ms));
        if (p != FM_ALERT_PRIO_NONE ||
            (al_find_open(q, FM_ALERT_LOW_STV) >= 0 && stv < top + c->stv_hysteresis_ms)) {
            al_span *s = span_new(q, &ns);
            if (s) {
                s->start_s = 0;
                s->end_s = T;
                s->ongoing = 1;
                s->qualifies = p != FM_ALERT_PRIO_NONE;
                s->prio = p != FM_ALERT_PRIO_NONE ? p : FM_ALERT_PRIO_LOW;
                al_span_value(s, "stv_ms", stv);
                al_span_value(s, "valid_minutes", (double)r->n_valid_minutes);
                al_span_value(s, "high_threshold_ms", high);
                al_span_value(s, "gestation_weeks", c->gestation_weeks);
                al_span_value(s, "outcome_risk_percent", al_stv_risk_percent(stv));
                char ga[96];
                if (row >= 0)
                    snprintf(ga, sizeof ga, "HIGH below %.1f ms at %.0f-%.0f weeks (TRUFFLE)", high,
                             c->stv_rows[row].from_weeks, c->stv_rows[row].to_weeks - 1.0 / 7.0);
                else
                    snprintf(ga, sizeof ga, "HIGH below %.1f ms%s", high,
                             isfinite(c->gestation_weeks) ? "" : ", gestation unknown");
                snprintf(s->message, sizeof s->message,
                         "Low STV %.1f ms over %zu valid minutes (%s); acidaemia/IUD %.0f %% "
                         "at this STV (Sonicaid table)",
                         stv, r->n_valid_minutes, ga, al_stv_risk_percent(stv));
            }
        }
    }
    reconcile(q, FM_ALERT_LOW_STV, ns, T);
}

static void rule_criteria(fm_alerts *q, const fm_ctg_result *r, double T)
{
    const fm_alert_rule_config *k = &q->cfg.rule[FM_ALERT_CRITERIA_NOT_MET];
    const fm_ctg_oxford *o = &r->oxford;
    size_t ns = 0;
    if (o->status == FM_CTG_OX_NOT_MET && o->complete && isfinite(o->at_min) &&
        o->at_min >= k->on_value) {
        al_span *s = span_new(q, &ns);
        if (s) {
            s->start_s = 0;
            s->end_s = T;
            s->ongoing = s->qualifies = 1;
            s->prio = k->priority;
            al_span_value(s, "checkpoint_min", o->at_min);
            al_span_value(s, "stv_ms", o->stv_ms);
            al_span_value(s, "basal_bpm", o->basal_bpm);
            al_span_value(s, "failed_criteria", o->reasons.n);
            size_t off = (size_t)snprintf(s->message, sizeof s->message,
                                          "Criteria not met at %.0f min:", o->at_min);
            for (int i = 0; i < o->reasons.n; i++) {
                if (s->n_reasons < FM_ALERT_MAX_REASONS)
                    s->reasons[s->n_reasons++] = o->reasons.r[i].code;
                if (off < sizeof s->message)
                    off += (size_t)snprintf(s->message + off, sizeof s->message - off, "%s %s",
                                            i ? ";" : "", o->reasons.r[i].text);
            }
        }
    }
    reconcile(q, FM_ALERT_CRITERIA_NOT_MET, ns, T);
}

static void rule_insufficient(fm_alerts *q, const fm_ctg_result *r, double T)
{
    const fm_alert_rule_config *k = &q->cfg.rule[FM_ALERT_INSUFFICIENT_SIGNAL];
    size_t ns = 0;
    const int open = al_find_open(q, FM_ALERT_INSUFFICIENT_SIGNAL) >= 0;
    if (T >= q->cfg.analysis_first_s &&
        (r->lost_percent > k->on_value || (open && r->lost_percent > k->off_value))) {
        al_span *s = span_new(q, &ns);
        if (s) {
            s->start_s = 0;
            s->end_s = T;
            s->ongoing = 1;
            s->qualifies = r->lost_percent > k->on_value;
            s->prio = k->priority;
            al_span_value(s, "lost_percent", r->lost_percent);
            al_span_value(s, "max_lost_percent", k->on_value);
            snprintf(s->message, sizeof s->message,
                     "%.0f %% of the record without usable signal (more than %.0f %%): no "
                     "reassuring verdict possible",
                     r->lost_percent, k->on_value);
        }
    }
    reconcile(q, FM_ALERT_INSUFFICIENT_SIGNAL, ns, T);
}

fm_status al_analysis_run(fm_alerts *q, const fm_ctg_result *r)
{
    const fm_alerts_config *c = &q->cfg;
    const double T = r->duration_s;
    if (!isfinite(T) || T < 0)
        return FM_EINVAL;
    q->analysed_s = T;
    /* the last known baseline, for the sample-level deceleration rule */
    for (size_t i = r->n; r->baseline_bpm && i-- > 0;) {
        if (isfinite(r->baseline_bpm[i])) {
            q->baseline_bpm = r->baseline_bpm[i];
            break;
        }
    }
    if (c->rule[FM_ALERT_PROLONGED_DECEL].enabled)
        rule_prolonged(q, r, T);
    if (c->rule[FM_ALERT_LARGE_DECEL].enabled)
        rule_large_decel(q, r, T);
    if (c->rule[FM_ALERT_BRADYCARDIA].enabled && r->baseline_bpm)
        rule_runs(q, FM_ALERT_BRADYCARDIA, r->baseline_bpm, r->n, AL_DT_S, r->t0_s, -1, T);
    if (c->rule[FM_ALERT_TACHYCARDIA].enabled && r->baseline_bpm)
        rule_runs(q, FM_ALERT_TACHYCARDIA, r->baseline_bpm, r->n, AL_DT_S, r->t0_s, +1, T);
    if (c->rule[FM_ALERT_REDUCED_VARIABILITY].enabled && r->minute_bandwidth_bpm)
        rule_runs(q, FM_ALERT_REDUCED_VARIABILITY, r->minute_bandwidth_bpm, r->n_minutes, 60.0,
                  r->t0_s, -1, T);
    if (c->rule[FM_ALERT_INCREASED_VARIABILITY].enabled && r->minute_bandwidth_bpm)
        rule_runs(q, FM_ALERT_INCREASED_VARIABILITY, r->minute_bandwidth_bpm, r->n_minutes, 60.0,
                  r->t0_s, +1, T);
    if (c->rule[FM_ALERT_SINUSOIDAL].enabled)
        rule_sinusoidal(q, r, T);
    if (c->rule[FM_ALERT_LOW_STV].enabled)
        rule_stv(q, r, T);
    if (c->rule[FM_ALERT_CRITERIA_NOT_MET].enabled)
        rule_criteria(q, r, T);
    if (c->rule[FM_ALERT_INSUFFICIENT_SIGNAL].enabled)
        rule_insufficient(q, r, T);
    return FM_OK;
}
