/* CTG epochs (CLINICAL 1): 3.75 s = 15 samples; the epoch value is the mean pulse interval of
 * its valid samples, and an epoch with no valid sample is lost. Also the valid-signal share.
 * Not for baselines or statistics over epochs (ctg_baseline.c, ctg_variability.c). */
#include "ctg_internal.h"

void ctg_epoch_compute(const float *fhr15, float *pi_ms)
{
    double sum = 0.0;
    int n = 0;
    for (int i = 0; i < FM_CTG_EPOCH_SAMPLES; i++) {
        if (isfinite(fhr15[i])) {
            sum += ctg_bpm_to_pi(fhr15[i]);
            n++;
        }
    }
    *pi_ms = n ? (float)(sum / n) : NAN;
}

double ctg_valid_percent(const float *fhr, size_t n)
{
    if (!n)
        return 0.0;
    size_t ok = 0;
    for (size_t i = 0; i < n; i++)
        ok += isfinite(fhr[i]) != 0;
    return 100.0 * (double)ok / (double)n;
}
