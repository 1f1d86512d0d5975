/* The alert engine object (include/fetalmon/alerts.h) and its episode book-keeping: one alert per
 * condition episode. A detector (alerts_sample.c, alerts_analysis.c) or the server says "this
 * condition holds over this span"; here that becomes an episode that is OPENED once, UPDATED
 * when its priority worsens or its extent grows by the rule's update step, and CLOSED once when
 * the condition has been gone for the rule's clear time. Events go to the caller's sink or to a
 * bounded queue that is never overwritten silently.
 * Not for deciding whether a condition holds (the detectors) or what happens to an alert after
 * it is emitted (server/alerting/). */
#include <stdlib.h>
#include <string.h>

#include "alerts_internal.h"

#define EP_KEEP_CLOSED 512 /* closed analysis episodes remembered (dedupe across re-analyses) */

static fm_status validate(const fm_alerts_config *c)
{
    if (c->queue_max < 1 || c->n_stv_rows > FM_ALERT_MAX_STV_ROWS)
        return FM_EINVAL;
    for (int i = 0; i < FM_ALERT_N_RULES; i++) {
        const fm_alert_rule_config *k = &c->rule[i];
        if (k->priority < FM_ALERT_PRIO_LOW || k->priority > FM_ALERT_PRIO_HIGH ||
            k->priority2 < FM_ALERT_PRIO_LOW || k->priority2 > FM_ALERT_PRIO_HIGH || k->min_s < 0 ||
            k->clear_s < 0 || k->window_s < 0 || k->gap_s < 0 || k->update_s < 0)
            return FM_EINVAL;
    }
    /* share-based rules need a window of at least one sample */
    if (c->rule[FM_ALERT_SIGNAL_LOSS].window_s < AL_DT_S ||
        c->rule[FM_ALERT_MATERNAL_CAPTURE].window_s < AL_DT_S)
        return FM_EINVAL;
    return FM_OK;
}

fm_alerts *fm_alerts_create(const fm_alerts_config *cfg)
{
    fm_alerts *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    if (cfg)
        q->cfg = *cfg;
    else
        fm_alerts_config_default(&q->cfg);
    if (validate(&q->cfg) != FM_OK) {
        free(q);
        return NULL;
    }
    for (int i = 0; i < FM_ALERT_N_RULES; i++)
        al_rules_logic(&q->cfg, (fm_alert_rule)i, q->logic[i], AL_LOGIC_LEN);
    q->next_id = 1;
    q->baseline_bpm = NAN;
    q->analysed_s = 0;
    if (al_sample_init(q) != FM_OK) {
        fm_alerts_destroy(q);
        return NULL;
    }
    return q;
}

void fm_alerts_destroy(fm_alerts *q)
{
    if (!q)
        return;
    al_sample_free(q);
    free(q->ep);
    free(q->queue);
    free(q->spans);
    free(q->min_sum);
    free(q->min_cnt);
    free(q);
}

/* ---- emission ---- */

static fm_status enqueue(fm_alerts *q, const fm_alert_event *ev)
{
    if (q->q_n == q->q_cap) {
        if (q->q_cap >= q->cfg.queue_max) {
            q->dropped++;
            return FM_ERANGE;
        }
        size_t cap = q->q_cap ? q->q_cap * 2 : 8;
        if (cap > q->cfg.queue_max)
            cap = q->cfg.queue_max;
        fm_alert_event *nq = malloc(cap * sizeof *nq);
        if (!nq) {
            q->dropped++;
            return FM_ENOMEM;
        }
        for (size_t i = 0; i < q->q_n; i++)
            nq[i] = q->queue[(q->q_head + i) % q->q_cap];
        free(q->queue);
        q->queue = nq;
        q->q_cap = cap;
        q->q_head = 0;
    }
    q->queue[(q->q_head + q->q_n) % q->q_cap] = *ev;
    q->q_n++;
    return FM_OK;
}

static void emit(fm_alerts *q, const al_episode *e, fm_alert_event_type type,
                 fm_alert_priority prev, double at_s)
{
    fm_alert_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.episode_id = e->id;
    ev.rule = e->rule;
    ev.rule_code = fm_alert_rule_code(e->rule);
    ev.rule_name = fm_alert_rule_name(e->rule);
    ev.clinical_ref = fm_alert_rule_ref(e->rule);
    ev.logic = q->logic[e->rule];
    ev.kind = fm_alert_rule_kind(e->rule);
    ev.priority = e->prio;
    ev.prev_priority = prev;
    ev.start_s = e->start_s;
    ev.end_s = e->end_s;
    ev.at_s = at_s;
    ev.n_values = e->n_values;
    memcpy(ev.values, e->values, sizeof ev.values);
    ev.n_reasons = e->n_reasons;
    memcpy(ev.reasons, e->reasons, sizeof ev.reasons);
    memcpy(ev.message, e->message, sizeof ev.message);
    if (q->cfg.sink) {
        q->cfg.sink(q->cfg.sink_user, &ev);
        return;
    }
    fm_status rc = enqueue(q, &ev);
    if (rc != FM_OK)
        q->last_emit = rc;
}

int fm_alerts_pop(fm_alerts *q, fm_alert_event *ev)
{
    if (!q || !q->q_n)
        return 0;
    *ev = q->queue[q->q_head];
    q->q_head = (q->q_head + 1) % q->q_cap;
    q->q_n--;
    return 1;
}

size_t fm_alerts_pending(const fm_alerts *q)
{
    return q ? q->q_n : 0;
}
size_t fm_alerts_dropped(const fm_alerts *q)
{
    return q ? q->dropped : 0;
}
double fm_alerts_time_s(const fm_alerts *q)
{
    return q ? (double)q->n_samples * AL_DT_S : 0.0;
}
size_t fm_alerts_open_count(const fm_alerts *q)
{
    size_t n = 0;
    for (size_t i = 0; q && i < q->n_ep; i++)
        n += q->ep[i].open;
    return n;
}

/* ---- episodes ---- */

void al_span_value(al_span *s, const char *key, double v)
{
    if (s->n_values < FM_ALERT_MAX_VALUES) {
        s->values[s->n_values].key = key;
        s->values[s->n_values].value = v;
        s->n_values++;
    }
}

static void copy_data(al_episode *e, const al_span *s)
{
    e->n_values = s->n_values;
    memcpy(e->values, s->values, sizeof e->values);
    e->n_reasons = s->n_reasons;
    memcpy(e->reasons, s->reasons, sizeof e->reasons);
    memcpy(e->message, s->message, sizeof e->message);
}

long al_find_open(const fm_alerts *q, fm_alert_rule rule)
{
    for (size_t i = q->n_ep; i-- > 0;)
        if (q->ep[i].open && q->ep[i].rule == rule)
            return (long)i;
    return -1;
}

long al_open(fm_alerts *q, fm_alert_rule rule, unsigned source, const al_span *s, double at_s)
{
    if (q->n_ep == q->cap_ep) {
        size_t cap = q->cap_ep ? q->cap_ep * 2 : 8;
        al_episode *n = realloc(q->ep, cap * sizeof *n);
        if (!n)
            return -1;
        q->ep = n;
        q->cap_ep = cap;
    }
    al_episode *e = &q->ep[q->n_ep];
    memset(e, 0, sizeof *e);
    e->id = q->next_id++;
    e->rule = rule;
    e->open = 1;
    e->seen = 1;
    e->sources = source;
    e->prio = s->prio;
    e->start_s = s->start_s;
    e->end_s = s->end_s;
    e->emitted_end_s = s->end_s;
    copy_data(e, s);
    emit(q, e, FM_ALERT_OPENED, FM_ALERT_PRIO_NONE, at_s);
    return (long)q->n_ep++;
}

/* New data for an open episode: extent and numbers always; an event only when the priority
 * worsens or the extent has grown by the rule's update step since the last event. The priority
 * never lowers within an episode: an improving condition is not a reason to flap. */
void al_refresh(fm_alerts *q, long i, const al_span *s, double at_s)
{
    al_episode *e = &q->ep[i];
    const fm_alert_rule_config *k = &q->cfg.rule[e->rule];
    fm_alert_priority prev = e->prio;
    e->start_s = fmin(e->start_s, s->start_s);
    e->end_s = fmax(e->end_s, s->end_s);
    copy_data(e, s);
    int worse = s->prio > e->prio;
    if (worse)
        e->prio = s->prio;
    int grown = k->update_s > 0 && e->end_s - e->emitted_end_s >= k->update_s;
    if (worse || grown) {
        e->emitted_end_s = e->end_s;
        emit(q, e, FM_ALERT_UPDATED, prev, at_s);
    }
}

void al_close(fm_alerts *q, long i, double end_s, double at_s, const char *why)
{
    al_episode *e = &q->ep[i];
    if (!e->open)
        return;
    e->open = 0;
    if (isfinite(end_s))
        e->end_s = end_s;
    if (why) {
        size_t n = strlen(e->message);
        if (n + 3 < sizeof e->message)
            snprintf(e->message + n, sizeof e->message - n, "; %s", why);
    }
    emit(q, e, FM_ALERT_CLOSED, e->prio, at_s);
}

/* Forget closed episodes no detector needs any more: sample-level and server-side ones at once
 * (their detectors keep their own state), analysis ones beyond the last EP_KEEP_CLOSED. */
void al_compact(fm_alerts *q)
{
    size_t closed_analysis = 0;
    for (size_t i = 0; i < q->n_ep; i++)
        closed_analysis += !q->ep[i].open && (q->ep[i].sources & AL_SRC_ANALYSIS);
    size_t w = 0;
    for (size_t i = 0; i < q->n_ep; i++) {
        al_episode *e = &q->ep[i];
        int keep = e->open;
        if (!e->open && (e->sources & AL_SRC_ANALYSIS)) {
            keep = closed_analysis <= EP_KEEP_CLOSED;
            if (!keep)
                closed_analysis--;
        }
        /* a closed sample-level deceleration stays: the re-analysis will find it again */
        if (!e->open && e->rule == FM_ALERT_PROLONGED_DECEL && !keep)
            keep = q->analysed_s < e->end_s + 3600.0;
        if (keep) {
            if (w != i) {
                /* the detectors hold indices of their open episodes: remap them */
                if (q->low80.ep == (long)i)
                    q->low80.ep = (long)w;
                if (q->prolonged.ep == (long)i)
                    q->prolonged.ep = (long)w;
                if (q->loss.ep == (long)i)
                    q->loss.ep = (long)w;
                if (q->maternal.ep == (long)i)
                    q->maternal.ep = (long)w;
                q->ep[w] = *e;
            }
            w++;
        }
    }
    q->n_ep = w;
}

/* ---- entry points ---- */

static fm_status minute_add(fm_alerts *q, float fhr, uint8_t st)
{
    size_t m = (size_t)(q->n_samples / FM_CTG_SAMPLES_PER_MIN);
    if (m >= q->cap_min) {
        size_t cap = q->cap_min ? q->cap_min * 2 : 64;
        double *s = realloc(q->min_sum, cap * sizeof *s);
        if (s)
            q->min_sum = s;
        uint32_t *c = realloc(q->min_cnt, cap * sizeof *c);
        if (c)
            q->min_cnt = c;
        if (!s || !c)
            return FM_ENOMEM;
        q->cap_min = cap;
    }
    if (m >= q->n_min) {
        q->min_sum[m] = 0;
        q->min_cnt[m] = 0;
        q->n_min = m + 1;
    }
    if (st == FM_STATE_OK && isfinite(fhr) && fhr >= AL_FHR_MIN_BPM && fhr <= AL_FHR_MAX_BPM) {
        q->min_sum[m] += fhr;
        q->min_cnt[m]++;
    }
    return FM_OK;
}

fm_status fm_alerts_push(fm_alerts *q, const float *fhr_bpm, const uint8_t *state, size_t n)
{
    if (!q || (!fhr_bpm && n))
        return FM_EINVAL;
    q->last_emit = FM_OK;
    for (size_t i = 0; i < n; i++) {
        double t0 = (double)q->n_samples * AL_DT_S;
        uint8_t st = state ? state[i] : FM_STATE_OK;
        al_sample_push(q, fhr_bpm[i], st, t0);
        if (minute_add(q, fhr_bpm[i], st) != FM_OK)
            return FM_ENOMEM;
        q->n_samples++;
    }
    if (q->n_ep > 64)
        al_compact(q);
    return q->last_emit;
}

fm_status fm_alerts_update(fm_alerts *q, const fm_ctg_result *r)
{
    if (!q || !r)
        return FM_EINVAL;
    q->last_emit = FM_OK;
    fm_status rc = al_analysis_run(q, r);
    al_compact(q);
    return rc != FM_OK ? rc : q->last_emit;
}

fm_status fm_alerts_technical(fm_alerts *q, fm_alert_rule rule, double t_s, int on,
                              const char *detail)
{
    if (!q || !al_rule_is_server(rule) || !isfinite(t_s))
        return FM_EINVAL;
    q->last_emit = FM_OK;
    if (!q->cfg.rule[rule].enabled)
        return FM_OK;
    long e = al_find_open(q, rule);
    if (on && e < 0) {
        al_span s;
        memset(&s, 0, sizeof s);
        s.start_s = s.end_s = t_s;
        s.ongoing = 1;
        s.prio = q->cfg.rule[rule].priority;
        snprintf(s.message, sizeof s.message, "%s%s%s", fm_alert_rule_name(rule),
                 detail && *detail ? ": " : "", detail ? detail : "");
        al_open(q, rule, AL_SRC_SERVER, &s, t_s);
    } else if (!on && e >= 0) {
        al_close(q, e, t_s, t_s, detail && *detail ? detail : al_rule_message_closed(rule));
    }
    al_compact(q);
    return q->last_emit;
}

fm_status fm_alerts_finish(fm_alerts *q, const fm_ctg_result *r)
{
    if (!q)
        return FM_EINVAL;
    q->last_emit = FM_OK;
    fm_status rc = FM_OK;
    if (r) {
        q->final = 1;
        rc = al_analysis_run(q, r);
        q->final = 0;
    }
    double t = fmax((double)q->n_samples * AL_DT_S, q->analysed_s);
    al_sample_finish(q);
    for (size_t i = 0; i < q->n_ep; i++)
        if (q->ep[i].open)
            al_close(q, (long)i, NAN, t, "end of recording");
    al_compact(q);
    return rc != FM_OK ? rc : q->last_emit;
}

void fm_alert_event_print(const fm_alert_event *ev, FILE *f)
{
    fprintf(f, "[%7.2f s] %-7s #%llu %s (%s, %s) %.1f..%.1f s: %s\n", ev->at_s,
            fm_alert_event_type_name(ev->type), (unsigned long long)ev->episode_id, ev->rule_code,
            fm_alert_priority_name(ev->priority), fm_alert_kind_name(ev->kind), ev->start_s,
            ev->end_s, ev->message);
}
