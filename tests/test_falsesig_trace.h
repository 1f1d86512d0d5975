/* The synthetic trace of the whole-recording false-signal tests (test_falsesig_gru.c,
 * test_falsesig_stage3.c): a normal rate with slow variation, lost stretches (60 samples in
 * every fifth 400-sample block) and a 3-min dip to ~85 bpm at 600-780 s. No maternal channel.
 * Deterministic; NULL on allocation failure. */
#ifndef FM_TEST_FALSESIG_TRACE_H
#define FM_TEST_FALSESIG_TRACE_H

#include <math.h>

#include "fetalmon/trace.h"

static inline fm_trace *fs_test_trace(size_t n)
{
    fm_trace *t = fm_trace_create(n, 0, 0);
    for (size_t i = 0; t && i < n; i++) {
        double s = (double)i / FM_FHR_RATE_HZ;
        fm_trace_set(t, i,
                     (i / 400) % 5 == 3 && i % 400 < 60 ? NAN
                     : s > 600 && s < 780               ? 85.0f + 3.0f * (float)sin(0.2 * s)
                                                        : 138.0f + 6.0f * (float)sin(0.03 * s));
    }
    return t;
}

#endif
