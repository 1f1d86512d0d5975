/* Tests of the live window of the CTG analysis (fm_ctg_set_live_window, docs/ctg.md "Live
 * window"): an open stream keeps a bounded part of its record. Before the window first moves the
 * results are bit for bit those of the whole-record object; after, each result is the batch
 * analysis of the kept samples with its times from the start of the record, the Oxford verdict
 * that of the whole record, the NST kept. Not for the incremental analysis itself
 * (test_ctg_real.c). */
#include <math.h>
#include <string.h>

#include "check.h"
#include "fetalmon/alerts.h"
#include "fetalmon/ctg.h"
#include "test_ctg_same.h"
#include "test_ctg_synth.h"

static fm_ctg *windowed(void)
{
    fm_ctg *q = fm_ctg_create(NULL);
    CHECK(q && fm_ctg_set_live_window(q, FM_CTG_LIVE_KEEP_S, FM_CTG_LIVE_MAX_S) == FM_OK);
    return q;
}

static const size_t max_n = (size_t)(FM_CTG_LIVE_MAX_S * FM_FHR_RATE_HZ);

static int same_bits(double a, double b)
{
    return !memcmp(&a, &b, sizeof a);
}

static int events_shifted(const fm_ctg_event *w, size_t nw, const fm_ctg_event *b, size_t nb,
                          double t0)
{
    if (nw != nb)
        return 0;
    for (size_t i = 0; i < nw; i++) {
        fm_ctg_event e = b[i];
        e.start_s += t0;
        e.end_s += t0;
        e.peak_s += t0;
        if (memcmp(&e, &w[i], sizeof e))
            return 0;
    }
    return 1;
}

static int spans_shifted(const fm_ctg_span *w, size_t nw, const fm_ctg_span *b, size_t nb,
                         double t0)
{
    if (nw != nb)
        return 0;
    for (size_t i = 0; i < nw; i++)
        if (!same_bits(w[i].start_s, b[i].start_s + t0) || !same_bits(w[i].end_s, b[i].end_s + t0))
            return 0;
    return 1;
}

/* The window's analysis (w) against a batch run on the kept samples (b). */
static int window_is_batch(const fm_ctg_result *w, const fm_ctg_result *b)
{
    const double t0 = w->t0_s;
    const size_t nm = b->n_minutes;
    return w->n == b->n && w->n_minutes == nm && w->n_epochs == b->n_epochs &&
           same_floats(w->baseline_bpm, b->baseline_bpm, b->n) &&
           same_floats(w->baseline_fitted_bpm, b->baseline_fitted_bpm, b->n) &&
           same_floats(w->minute_lost_percent, b->minute_lost_percent, nm) &&
           same_floats(w->minute_stv_ms, b->minute_stv_ms, nm) &&
           same_floats(w->minute_range_ms, b->minute_range_ms, nm) &&
           same_floats(w->minute_bandwidth_bpm, b->minute_bandwidth_bpm, nm) &&
           same_bits(w->lost_percent, b->lost_percent) && same_bits(w->stv_ms, b->stv_ms) &&
           same_bits(w->ltv_ms, b->ltv_ms) && same_bits(w->basal_bpm, b->basal_bpm) &&
           same_bits(w->modified_mode_bpm, b->modified_mode_bpm) &&
           same_bits(w->figo_baseline_bpm, b->figo_baseline_bpm) &&
           same_bits(w->bandwidth_median_bpm, b->bandwidth_median_bpm) &&
           events_shifted(w->acc, w->n_acc, b->acc, b->n_acc, t0) &&
           events_shifted(w->dec, w->n_dec, b->dec, b->n_dec, t0) &&
           events_shifted(w->ox_acc, w->n_ox_acc, b->ox_acc, b->n_ox_acc, t0) &&
           events_shifted(w->ox_dec, w->n_ox_dec, b->ox_dec, b->n_ox_dec, t0) &&
           spans_shifted(w->high_episodes, w->n_high, b->high_episodes, b->n_high, t0) &&
           spans_shifted(w->low_episodes, w->n_low, b->low_episodes, b->n_low, t0) &&
           spans_shifted(w->sinusoidal.spans, w->sinusoidal.n_spans, b->sinusoidal.spans,
                         b->sinusoidal.n_spans, t0) &&
           w->sinusoidal.detected == b->sinusoidal.detected &&
           same_bits(w->sinusoidal.longest_s, b->sinusoidal.longest_s) &&
           w->figo == b->figo && same_reasons(&w->figo_reasons, &b->figo_reasons) &&
           w->nichd_category == b->nichd_category &&
           same_reasons(&w->nichd_reasons, &b->nichd_reasons);
}

static int same_oxford(const fm_ctg_oxford *x, const fm_ctg_oxford *y)
{
    return x->status == y->status && same_bits(x->at_min, y->at_min) &&
           x->complete == y->complete && same_bits(x->stv_ms, y->stv_ms) &&
           same_bits(x->basal_bpm, y->basal_bpm) && x->n_movements == y->n_movements &&
           same_reasons(&x->reasons, &y->reasons) && same_reasons(&x->notes, &y->notes);
}

/* A 5-hour stream with movement marks, lost bursts and a sinusoidal stretch after 2 h, results
 * every 2 min: up to the first move every result is the whole-record one bit for bit; after,
 * every 20 min, the result is the batch analysis of the kept samples. */
static void live_window_is_whole_record_then_the_kept_window(void)
{
    synth_opts o;
    synth_opts_default(&o, 5 * 3600, 21);
    o.lost_fraction = 0.05;
    o.sinus_start_s = 9000;
    o.sinus_len_s = 2400;
    o.sinus_pp_bpm = 9;
    o.sinus_cpm = 4;
    synth_trace *t = synth_make(&o);
    fm_ctg *win = windowed(), *whole = fm_ctg_create(NULL);
    const double marks[] = {300, 1500, 2400, 5000, 9500};
    size_t next_mark = 0, before = 0, before_same = 0, after = 0, after_same = 0;
    fm_ctg_nst nst_at_move = FM_CTG_NST_INSUFFICIENT;
    const size_t block = 2 * FM_CTG_SAMPLES_PER_MIN;
    for (size_t at = 0; at < t->n;) {
        size_t len = t->n - at < block ? t->n - at : block;
        /* the block that reaches the window's length: the NST the window keeps */
        if (at < max_n && at + len >= max_n) {
            const fm_ctg_result *r;
            fm_ctg_update(whole, t->fhr + at, t->state + at, max_n - at);
            if (fm_ctg_get_result(whole, &r) == FM_OK)
                nst_at_move = r->nst;
            fm_ctg_update(whole, t->fhr + max_n, t->state + max_n, at + len - max_n);
        } else {
            fm_ctg_update(whole, t->fhr + at, t->state + at, len);
        }
        CHECK(fm_ctg_update(win, t->fhr + at, t->state + at, len) == FM_OK);
        at += len;
        while (next_mark < sizeof marks / sizeof *marks && marks[next_mark] * 4 <= (double)at) {
            fm_ctg_add_movement(win, marks[next_mark]);
            fm_ctg_add_movement(whole, marks[next_mark++]);
        }
        const fm_ctg_result *w = NULL, *a = NULL;
        CHECK(fm_ctg_get_result(win, &w) == FM_OK && fm_ctg_get_result(whole, &a) == FM_OK);
        if (!w || !a)
            break;
        if (at < max_n) {
            int same = same_everything(w, a) && w->n0 == 0 && w->t0_s == 0;
            CHECKF(same, "differs from the whole record at %.1f min", at / 240.0);
            before++;
            before_same += same;
            continue;
        }
        CHECKF(w->n0 > 0 && w->n0 + w->n == at && w->n < max_n &&
                   w->n >= (size_t)(FM_CTG_LIVE_KEEP_S * FM_FHR_RATE_HZ) &&
                   w->n0 % FM_CTG_SAMPLES_PER_MIN == 0 && w->t0_s == w->n0 / 4.0 &&
                   w->duration_s == at / 4.0,
               "window at %.1f min: n0 %zu n %zu", at / 240.0, w->n0, w->n);
        /* the whole record's Oxford verdict, the NST kept, maternal over the whole record */
        CHECKF(same_oxford(&w->oxford, &a->oxford), "Oxford differs at %.1f min", at / 240.0);
        CHECK(w->nst == nst_at_move && w->maternal_samples == a->maternal_samples);
        if ((at / block) % 10 && at != t->n)
            continue;
        fm_ctg *b = fm_ctg_create(NULL);
        const fm_ctg_result *br = NULL;
        fm_ctg_update(b, t->fhr + w->n0, t->state + w->n0, w->n);
        CHECK(fm_ctg_get_result(b, &br) == FM_OK);
        int same = br && window_is_batch(w, br);
        CHECKF(same, "window differs from the batch of its samples at %.1f min", at / 240.0);
        after++;
        after_same += same;
        fm_ctg_destroy(b);
    }
    CHECKF(before >= 59 && before == before_same && after >= 8 && after == after_same,
           "before the move %zu of %zu, after %zu of %zu", before_same, before, after_same,
           after);
    fm_ctg_destroy(win);
    fm_ctg_destroy(whole);
    synth_free(t);
}

/* A monitor left on for 26 hours: the window keeps it analysed (the whole-record object refuses
 * a record past 24 h) and never holds more than its length. */
static void a_day_long_stream_stays_bounded(void)
{
    fm_ctg *q = windowed();
    const size_t n = 26 * 3600 * 4, block = 30 * FM_CTG_SAMPLES_PER_MIN;
    float *fhr = malloc(block * sizeof *fhr);
    synth_rng rng = {7};
    size_t largest = 0;
    int ok = 1;
    for (size_t at = 0; at < n && fhr; at += block) {
        for (size_t i = 0; i < block; i++)
            fhr[i] = (float)(140.0 + 8.0 * sin((double)(at + i) / 900.0) + 3.0 * synth_gauss(&rng));
        ok &= fm_ctg_update(q, fhr, NULL, block) == FM_OK;
        const fm_ctg_result *r;
        ok &= fm_ctg_get_result(q, &r) == FM_OK;
        if (ok) {
            largest = r->n > largest ? r->n : largest;
            ok &= r->n0 + r->n == at + block && r->stv_ms > 0;
        }
    }
    CHECKF(ok && largest < max_n, "ok %d, largest window %zu samples", ok, largest);
    free(fhr);
    fm_ctg_destroy(q);
}

typedef struct brady_seen {
    int n;
    double start_s;
} brady_seen;

static void on_alert(void *user, const fm_alert_event *ev)
{
    brady_seen *b = user;
    if (ev->rule == FM_ALERT_BRADYCARDIA && ev->type == FM_ALERT_OPENED && b->n++ == 0)
        b->start_s = ev->start_s;
}

/* The alert rules read a moved window in record time: a bradycardia from 150 min to the end
 * (the window then starts at 30 or 60 min) is reported from about 153 min (where the visual
 * baseline crosses 110), not from that minus the window's start. */
static void alerts_on_a_moved_window_are_in_record_time(void)
{
    const size_t n = 215 * FM_CTG_SAMPLES_PER_MIN, block = 2 * FM_CTG_SAMPLES_PER_MIN;
    float *fhr = malloc(n * sizeof *fhr);
    synth_rng rng = {5};
    for (size_t i = 0; i < n && fhr; i++) {
        double level = i >= 150 * FM_CTG_SAMPLES_PER_MIN && i < 215 * FM_CTG_SAMPLES_PER_MIN
                           ? 97.0
                           : 140.0;
        fhr[i] = (float)(level + 4.0 * sin((double)i / 37.0) + 1.5 * synth_gauss(&rng));
    }
    brady_seen seen = {0, NAN};
    fm_alerts_config ac;
    fm_alerts_config_default(&ac);
    ac.sink = on_alert;
    ac.sink_user = &seen;
    fm_alerts *al = fm_alerts_create(&ac);
    fm_ctg *q = windowed();
    double t0_at_onset = -1;
    for (size_t at = 0; fhr && al && at < n; at += block) {
        size_t len = n - at < block ? n - at : block;
        fm_ctg_update(q, fhr + at, NULL, len);
        fm_alerts_push(al, fhr + at, NULL, len);
        const fm_ctg_result *r;
        if (fm_ctg_get_result(q, &r) == FM_OK) {
            fm_alerts_update(al, r);
            if (at <= 150 * FM_CTG_SAMPLES_PER_MIN)
                t0_at_onset = r->t0_s;
        }
    }
    CHECKF(t0_at_onset >= 1800, "window start at the onset %.0f s", t0_at_onset);
    CHECKF(seen.n >= 1 && seen.start_s >= 145 * 60 && seen.start_s <= 156 * 60,
           "%d bradycardia episodes, the first from %.1f min", seen.n, seen.start_s / 60.0);
    fm_alerts_destroy(al);
    fm_ctg_destroy(q);
    free(fhr);
}

static void bad_windows_are_refused(void)
{
    fm_ctg *q = fm_ctg_create(NULL);
    CHECK(fm_ctg_set_live_window(q, 30 * 60, 3 * 3600) == FM_EINVAL); /* below the look-back */
    CHECK(fm_ctg_set_live_window(q, FM_CTG_LIVE_KEEP_S, FM_CTG_LIVE_KEEP_S) == FM_EINVAL);
    CHECK(fm_ctg_set_live_window(q, FM_CTG_LIVE_KEEP_S, NAN) == FM_EINVAL);
    CHECK(fm_ctg_set_live_window(NULL, FM_CTG_LIVE_KEEP_S, FM_CTG_LIVE_MAX_S) == FM_EINVAL);
    CHECK(fm_ctg_set_live_window(q, FM_CTG_LIVE_KEEP_S, FM_CTG_LIVE_MAX_S) == FM_OK);
    fm_ctg_destroy(q);
}

int main(void)
{
    RUN(live_window_is_whole_record_then_the_kept_window);
    RUN(a_day_long_stream_stays_bounded);
    RUN(alerts_on_a_moved_window_are_in_record_time);
    RUN(bad_windows_are_refused);
    return CHECK_DONE();
}
