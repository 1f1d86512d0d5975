/* Bit-for-bit comparison of two CTG results, for the CTG tests (test_ctg_real.c,
 * test_ctg_live.c). Doubles compared as bits, so NAN == NAN. */
#ifndef FM_TEST_CTG_SAME_H
#define FM_TEST_CTG_SAME_H

#include <math.h>
#include <string.h>

#include "fetalmon/ctg.h"

static int same_events(const fm_ctg_event *a, const fm_ctg_event *b, size_t n)
{
    return n == 0 || !memcmp(a, b, n * sizeof *a);
}

static int same_result(const fm_ctg_result *a, const fm_ctg_result *b)
{
    return a->n == b->n && !memcmp(a->baseline_bpm, b->baseline_bpm, a->n * sizeof(float)) &&
           !memcmp(a->baseline_fitted_bpm, b->baseline_fitted_bpm, a->n * sizeof(float)) &&
           a->n_acc == b->n_acc && a->n_dec == b->n_dec && same_events(a->acc, b->acc, a->n_acc) &&
           same_events(a->dec, b->dec, a->n_dec) &&
           (a->stv_ms == b->stv_ms || (isnan(a->stv_ms) && isnan(b->stv_ms))) &&
           (a->ltv_ms == b->ltv_ms || (isnan(a->ltv_ms) && isnan(b->ltv_ms))) &&
           a->basal_bpm == b->basal_bpm && a->n_high == b->n_high && a->n_low == b->n_low &&
           a->oxford.status == b->oxford.status &&
           (a->oxford.at_min == b->oxford.at_min ||
            (isnan(a->oxford.at_min) && isnan(b->oxford.at_min))) &&
           a->oxford.reasons.n == b->oxford.reasons.n && a->figo == b->figo &&
           a->nichd_category == b->nichd_category && a->nst == b->nst &&
           a->sinusoidal.detected == b->sinusoidal.detected;
}


static int same_floats(const float *a, const float *b, size_t n)
{
    return n == 0 || !memcmp(a, b, n * sizeof *a);
}

static int same_reasons(const fm_ctg_reasons *a, const fm_ctg_reasons *b)
{
    if (a->n != b->n)
        return 0;
    for (int i = 0; i < a->n; i++)
        if (strcmp(a->r[i].code, b->r[i].code) || strcmp(a->r[i].text, b->r[i].text))
            return 0;
    return 1;
}

static int same_spans(const fm_ctg_span *a, size_t na, const fm_ctg_span *b, size_t nb)
{
    return na == nb && (na == 0 || !memcmp(a, b, na * sizeof *a));
}

/* Everything a result holds, bit for bit (doubles compared as bits, so NAN == NAN). */
static int same_everything(const fm_ctg_result *a, const fm_ctg_result *b)
{
    const size_t nm = a->n_minutes;
    const fm_ctg_oxford *x = &a->oxford, *y = &b->oxford;
    return same_result(a, b) && a->n_minutes == b->n_minutes && a->n_epochs == b->n_epochs &&
           !memcmp(&a->lost_percent, &b->lost_percent, sizeof(double)) &&
           !memcmp(&a->ltv_bpm, &b->ltv_bpm, sizeof(double)) &&
           !memcmp(&a->modified_mode_bpm, &b->modified_mode_bpm, sizeof(double)) &&
           !memcmp(&a->figo_baseline_bpm, &b->figo_baseline_bpm, sizeof(double)) &&
           !memcmp(&a->bandwidth_median_bpm, &b->bandwidth_median_bpm, sizeof(double)) &&
           a->n_valid_minutes == b->n_valid_minutes &&
           same_floats(a->minute_lost_percent, b->minute_lost_percent, nm) &&
           same_floats(a->minute_stv_ms, b->minute_stv_ms, nm) &&
           same_floats(a->minute_range_ms, b->minute_range_ms, nm) &&
           same_floats(a->minute_bandwidth_bpm, b->minute_bandwidth_bpm, nm) &&
           same_spans(a->high_episodes, a->n_high, b->high_episodes, b->n_high) &&
           same_spans(a->low_episodes, a->n_low, b->low_episodes, b->n_low) &&
           a->n_ox_acc == b->n_ox_acc && a->n_ox_dec == b->n_ox_dec &&
           same_events(a->ox_acc, b->ox_acc, a->n_ox_acc) &&
           same_events(a->ox_dec, b->ox_dec, a->n_ox_dec) &&
           same_spans(a->sinusoidal.spans, a->sinusoidal.n_spans, b->sinusoidal.spans,
                      b->sinusoidal.n_spans) &&
           !memcmp(&a->sinusoidal.longest_s, &b->sinusoidal.longest_s, sizeof(double)) &&
           !memcmp(&a->sinusoidal.amplitude_bpm, &b->sinusoidal.amplitude_bpm, sizeof(double)) &&
           !memcmp(&a->sinusoidal.freq_cpm, &b->sinusoidal.freq_cpm, sizeof(double)) &&
           x->complete == y->complete && x->n_movements == y->n_movements &&
           x->n_acc10 == y->n_acc10 && x->n_acc15 == y->n_acc15 && x->n_dec == y->n_dec &&
           !memcmp(&x->max_dec_lost_beats, &y->max_dec_lost_beats, sizeof(double)) &&
           !memcmp(&x->high_ltv_ms, &y->high_ltv_ms, sizeof(double)) &&
           same_reasons(&x->reasons, &y->reasons) && same_reasons(&x->notes, &y->notes) &&
           same_reasons(&a->figo_reasons, &b->figo_reasons) &&
           same_reasons(&a->nichd_reasons, &b->nichd_reasons) &&
           same_reasons(&a->nst_reasons, &b->nst_reasons);
}


#endif
