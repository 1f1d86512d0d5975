/* Accelerations and decelerations (CLINICAL 3.2, 4.1, 4.2): excursions of the FHR away from a
 * baseline, at sample resolution (0.25 s). An excursion starts where the FHR leaves the baseline
 * and ends where it comes back (FHRMA convention: the crossing of the baseline); lost signal up to
 * gap_bridge_s (2 epochs) inside it is bridged. It is an event when its amplitude (peak height or
 * nadir depth, on a 2-s running mean) and its extent pass the rule. Decelerations get their lost
 * beats (CLINICAL 1), and a shape from onset to nadir (abrupt < 30 s, else gradual) - never
 * early/late/variable, since there are no contractions to relate them to (CLINICAL 4.1).
 * The scan runs left to right with a small state (in an excursion or not, and the excursion so
 * far); that state is kept at every minute boundary, so when the baseline changes only from some
 * sample on (a live stream), the scan resumes at the minute before it instead of at the start,
 * with the same events as a scan from the start. Not for deciding which baseline to use (the
 * caller passes it) or for verdicts. */
#include <stdlib.h>

#include "ctg_internal.h"

/* The amplitude is read on a 2-s running mean of the deviation, so a single artefact sample
 * cannot make an excursion deep or high enough (a 2-s mean is invisible on a paper trace). */
#define AMP_SMOOTH_SAMPLES 8

typedef struct excursion {
    size_t start, last; /* first and last valid sample inside */
    size_t peak;
    double amp;     /* max sign * (fhr - baseline) */
    double deficit; /* sum over valid samples of sign * (fhr - baseline), bpm x samples */
} excursion;

typedef struct scan_state {
    int in;
    excursion x;
    size_t n_out; /* events emitted before this point */
} scan_state;

struct ctg_evscan {
    ctg_event_rule rule;
    fm_ctg_event *ev;
    size_t n_ev, cap;
    scan_state *st; /* st[m]: the state before sample m * FM_CTG_SAMPLES_PER_MIN */
    size_t n_st, cap_st;
};

ctg_evscan *ctg_evscan_create(const ctg_event_rule *rule)
{
    ctg_evscan *s = calloc(1, sizeof *s);
    if (s)
        s->rule = *rule;
    return s;
}

void ctg_evscan_destroy(ctg_evscan *s)
{
    if (!s)
        return;
    free(s->ev);
    free(s->st);
    free(s);
}

fm_ctg_event *ctg_evscan_events(ctg_evscan *s, size_t *n)
{
    *n = s->n_ev;
    return s->ev;
}

static int qualifies(const ctg_event_rule *r, double amp, double dur)
{
    if (r->max_dur_s > 0 && !(dur < r->max_dur_s))
        return 0;
    if (amp > r->min_amp_bpm && dur > r->min_dur_s)
        return 1;
    return r->alt_amp_bpm > 0 && amp > r->alt_amp_bpm && dur > r->alt_dur_s;
}

/* Highest 2-s running mean of sign * (fhr - baseline) over the valid samples of the excursion
 * (all of them when it has fewer), and the sample of the largest deviation inside that window. */
static void smoothed_peak(const float *fhr, const float *bl, int sign, excursion *x)
{
    size_t idx[AMP_SMOOTH_SAMPLES];
    double val[AMP_SMOOTH_SAMPLES], sum = 0.0, best = -1.0;
    size_t k = 0, best_peak = x->peak;
    for (size_t i = x->start; i <= x->last; i++) {
        if (!isfinite(fhr[i]))
            continue;
        double d = sign * ((double)fhr[i] - bl[i]);
        size_t slot = k % AMP_SMOOTH_SAMPLES;
        if (k >= AMP_SMOOTH_SAMPLES)
            sum -= val[slot];
        val[slot] = d;
        idx[slot] = i;
        sum += d;
        k++;
        size_t m = k < AMP_SMOOTH_SAMPLES ? k : AMP_SMOOTH_SAMPLES;
        if (k >= AMP_SMOOTH_SAMPLES || i == x->last) {
            double mean = sum / (double)m;
            if (mean > best) {
                best = mean;
                size_t p = 0;
                for (size_t j = 1; j < m; j++)
                    if (val[j] > val[p])
                        p = j;
                best_peak = idx[p];
            }
        }
    }
    x->amp = best;
    x->peak = best_peak;
}

static fm_status emit(const fm_ctg_config *c, const ctg_event_rule *r, const float *fhr,
                      const float *bl, excursion *x, fm_ctg_event **out, size_t *n_out, size_t *cap)
{
    double start_s = ctg_s_of(x->start), end_s = ctg_s_of(x->last + 1);
    smoothed_peak(fhr, bl, r->sign, x);
    if (!qualifies(r, x->amp, end_s - start_s))
        return FM_OK;
    if (*n_out == *cap) {
        size_t nc = *cap ? *cap * 2 : 16;
        fm_ctg_event *ne = realloc(*out, nc * sizeof *ne);
        if (!ne)
            return FM_ENOMEM;
        *out = ne;
        *cap = nc;
    }
    fm_ctg_event *e = &(*out)[(*n_out)++];
    e->start_s = start_s;
    e->end_s = end_s;
    e->peak_s = ctg_s_of(x->peak);
    e->peak_bpm = fhr[x->peak];
    e->amplitude_bpm = (float)x->amp;
    e->flags = 0;
    if (r->sign > 0) {
        /* CLINICAL 3.2: counted separately above 10 and above 15 bpm */
        e->class_bpm = x->amp > c->ox_acc_big_bpm ? 15 : 10;
        e->lost_beats = 0.0f;
        e->shape = FM_CTG_SHAPE_NONE;
    } else {
        e->class_bpm = 0;
        /* CLINICAL 1: lost beats = sum of the deficit (bpm) times the time (min) it lasts */
        e->lost_beats = (float)(x->deficit / (CTG_RATE_HZ * 60.0));
        /* CLINICAL 4.1: abrupt when onset to nadir is under 30 s */
        e->shape =
            e->peak_s - e->start_s < c->abrupt_onset_s ? FM_CTG_SHAPE_ABRUPT : FM_CTG_SHAPE_GRADUAL;
    }
    return FM_OK;
}

fm_status ctg_evscan_run(const fm_ctg_config *c, ctg_evscan *s, const float *fhr,
                         const float *bl_bpm, size_t n, size_t from, size_t *first_ev,
                         double *changed_s)
{
    const ctg_event_rule *rule = &s->rule;
    const size_t bridge = (size_t)lround(c->gap_bridge_s * CTG_RATE_HZ);
    size_t m0 = from / FM_CTG_SAMPLES_PER_MIN;
    if (m0 + 1 > s->n_st)
        m0 = s->n_st ? s->n_st - 1 : 0;
    scan_state cur = {0};
    if (s->n_st)
        cur = s->st[m0];
    s->n_st = m0;
    /* events from here on may change: the earliest start among the old ones */
    *first_ev = cur.n_out;
    *changed_s = cur.n_out < s->n_ev ? s->ev[cur.n_out].start_s : INFINITY;
    s->n_ev = cur.n_out;
    size_t need = n / FM_CTG_SAMPLES_PER_MIN + 1;
    if (need > s->cap_st) {
        scan_state *ns = realloc(s->st, 2 * need * sizeof *ns);
        if (!ns)
            return FM_ENOMEM;
        s->st = ns;
        s->cap_st = 2 * need;
    }
    fm_status rc = FM_OK;
    for (size_t i = m0 * FM_CTG_SAMPLES_PER_MIN; i < n && rc == FM_OK; i++) {
        if (i % FM_CTG_SAMPLES_PER_MIN == 0) {
            cur.n_out = s->n_ev;
            s->st[s->n_st++] = cur;
        }
        int valid = isfinite(fhr[i]) && isfinite(bl_bpm[i]);
        double d = valid ? rule->sign * ((double)fhr[i] - bl_bpm[i]) : 0.0;
        if (cur.in && (!valid ? i - cur.x.last > bridge : d <= 0.0)) {
            rc = emit(c, rule, fhr, bl_bpm, &cur.x, &s->ev, &s->n_ev, &s->cap);
            cur.in = 0;
        }
        if (!valid || d <= 0.0)
            continue;
        if (!cur.in) {
            cur.in = 1;
            cur.x.start = cur.x.peak = i;
            cur.x.amp = d;
            cur.x.deficit = 0.0;
        }
        cur.x.last = i;
        cur.x.deficit += d;
        if (d > cur.x.amp) {
            cur.x.amp = d;
            cur.x.peak = i;
        }
    }
    if (cur.in && rc == FM_OK)
        rc = emit(c, rule, fhr, bl_bpm, &cur.x, &s->ev, &s->n_ev, &s->cap);
    if (rc != FM_OK) {
        s->n_ev = 0;
        s->n_st = 0;
        return rc;
    }
    if (*first_ev < s->n_ev && s->ev[*first_ev].start_s < *changed_s)
        *changed_s = s->ev[*first_ev].start_s;
    return FM_OK;
}
