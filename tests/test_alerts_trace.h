/* Synthetic 4 Hz traces for the alert tests and bench/bench_alerts.c: a level per stretch, a
 * bounded "variability" (random knots every 2 s, linearly joined, so the FIGO bandwidth of a
 * minute is close to the amplitude asked for), abrupt dips, lost and maternal stretches, a
 * sinusoid. Deterministic (own PRNG). Plus the two feeders the engine must treat alike: live
 * (sample by sample, re-analysis every 2 min from 10 min) and upload (all samples, one analysis).
 * Not a physiological model: known conditions to check the rules against. */
#ifndef FM_TEST_ALERTS_TRACE_H
#define FM_TEST_ALERTS_TRACE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/alerts.h"
#include "fetalmon/ctg.h"

typedef struct tr {
    size_t n;
    float *fhr;
    uint8_t *st;
    float *level; /* planted level per sample */
    uint64_t rng;
} tr;

static inline double tr_unif(tr *t)
{
    uint64_t z = (t->rng += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53;
}

static inline size_t tr_i(double s)
{
    return (size_t)llround(s * 4.0);
}

/* A trace of dur_s at level_bpm with variability amp_bpm (peak to peak). */
static inline tr *tr_new(double dur_s, double level_bpm, double amp_bpm, uint64_t seed)
{
    tr *t = calloc(1, sizeof *t);
    t->n = tr_i(dur_s);
    t->fhr = malloc(t->n * sizeof *t->fhr);
    t->st = calloc(t->n, 1);
    t->level = malloc(t->n * sizeof *t->level);
    t->rng = seed * 2654435761u + 1;
    for (size_t i = 0; i < t->n; i++)
        t->level[i] = (float)level_bpm;
    double a = tr_unif(t) - 0.5, b = tr_unif(t) - 0.5;
    for (size_t i = 0; i < t->n; i++) {
        if (i % 8 == 0)
            a = b, b = tr_unif(t) - 0.5;
        double x = a + (b - a) * (double)(i % 8) / 8.0;
        t->fhr[i] = (float)(level_bpm + amp_bpm * x);
    }
    return t;
}

static inline void tr_free(tr *t)
{
    if (!t)
        return;
    free(t->fhr), free(t->st), free(t->level), free(t);
}

/* Re-level [a, b): shift by (level - planted level), scale the variability to amp_bpm. */
static inline void tr_stretch(tr *t, double a_s, double b_s, double level_bpm, double amp_bpm,
                              double old_amp_bpm)
{
    for (size_t i = tr_i(a_s); i < tr_i(b_s) && i < t->n; i++) {
        double dev = t->fhr[i] - t->level[i];
        t->fhr[i] = (float)(level_bpm + dev * (amp_bpm / old_amp_bpm));
        t->level[i] = (float)level_bpm;
    }
}

/* Abrupt dip: the FHR sits at bpm (+- 1 bpm jitter) over [a, b). */
static inline void tr_dip(tr *t, double a_s, double b_s, double bpm)
{
    for (size_t i = tr_i(a_s); i < tr_i(b_s) && i < t->n; i++)
        t->fhr[i] = (float)(bpm + 2.0 * (tr_unif(t) - 0.5));
}

static inline void tr_lost(tr *t, double a_s, double b_s)
{
    for (size_t i = tr_i(a_s); i < tr_i(b_s) && i < t->n; i++)
        t->fhr[i] = NAN, t->st[i] = FM_STATE_LOST;
}

/* Lose `share` of [a, b) in bursts of burst_s (regularly spaced). */
static inline void tr_lost_share(tr *t, double a_s, double b_s, double share, double burst_s,
                                 uint8_t state)
{
    double period = burst_s / share;
    for (double s = a_s; s < b_s; s += period)
        for (size_t i = tr_i(s); i < tr_i(fmin(s + burst_s, b_s)) && i < t->n; i++) {
            t->st[i] = state;
            if (state == FM_STATE_LOST)
                t->fhr[i] = NAN;
            else
                t->fhr[i] = 85.0f;
        }
}

static inline void tr_sinus(tr *t, double a_s, double b_s, double cpm, double pp_bpm)
{
    for (size_t i = tr_i(a_s); i < tr_i(b_s) && i < t->n; i++)
        t->fhr[i] = (float)(t->level[i] + 0.5 * pp_bpm * sin(2 * M_PI * cpm / 60.0 * i / 4.0));
}

/* Collected events. */
typedef struct evlist {
    size_t n;
    fm_alert_event ev[512];
} evlist;

static inline void ev_sink(void *user, const fm_alert_event *ev)
{
    evlist *l = user;
    if (l->n < sizeof l->ev / sizeof l->ev[0])
        l->ev[l->n++] = *ev;
}

static inline size_t ev_count(const evlist *l, fm_alert_rule rule, fm_alert_event_type type)
{
    size_t c = 0;
    for (size_t i = 0; i < l->n; i++)
        c += l->ev[i].rule == rule && l->ev[i].type == type;
    return c;
}

static inline const fm_alert_event *ev_first(const evlist *l, fm_alert_rule rule,
                                             fm_alert_event_type type)
{
    for (size_t i = 0; i < l->n; i++)
        if (l->ev[i].rule == rule && l->ev[i].type == type)
            return &l->ev[i];
    return NULL;
}

static inline double ev_value(const fm_alert_event *e, const char *key)
{
    for (int i = 0; e && i < e->n_values; i++)
        if (!strcmp(e->values[i].key, key))
            return e->values[i].value;
    return NAN;
}

#define TR_REANALYSIS_S 120.0
#define TR_FIRST_S 600.0

/* Live: sample by sample; re-analysis at 10 min then every 2 min; finish with a final one. */
static inline void tr_run_live(const tr *t, fm_alerts_config *cfg, const fm_ctg_config *ccfg,
                               evlist *out)
{
    cfg->sink = ev_sink;
    cfg->sink_user = out;
    fm_alerts *a = fm_alerts_create(cfg);
    fm_ctg *c = fm_ctg_create(ccfg);
    const fm_ctg_result *r;
    for (size_t i = 0; i < t->n; i++) {
        fm_alerts_push(a, &t->fhr[i], &t->st[i], 1);
        fm_ctg_update(c, &t->fhr[i], &t->st[i], 1);
        double s = (double)(i + 1) / 4.0;
        if (s >= TR_FIRST_S && fmod(s - TR_FIRST_S, TR_REANALYSIS_S) == 0.0 &&
            fm_ctg_get_result(c, &r) == FM_OK)
            fm_alerts_update(a, r);
    }
    fm_alerts_finish(a, fm_ctg_get_result(c, &r) == FM_OK ? r : NULL);
    fm_ctg_destroy(c);
    fm_alerts_destroy(a);
}

/* Upload: all samples, then finish with the one analysis of the whole. */
static inline void tr_run_upload(const tr *t, fm_alerts_config *cfg, const fm_ctg_config *ccfg,
                                 evlist *out)
{
    cfg->sink = ev_sink;
    cfg->sink_user = out;
    fm_alerts *a = fm_alerts_create(cfg);
    fm_ctg *c = fm_ctg_create(ccfg);
    const fm_ctg_result *r;
    fm_alerts_push(a, t->fhr, t->st, t->n);
    fm_ctg_update(c, t->fhr, t->st, t->n);
    fm_alerts_finish(a, fm_ctg_get_result(c, &r) == FM_OK ? r : NULL);
    fm_ctg_destroy(c);
    fm_alerts_destroy(a);
}

#endif
