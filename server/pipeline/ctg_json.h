/* The CTG analysis in the analysis JSON (issue 3; keys documented in docs/ctg.md and README):
 * writes baseline, baseline_fitted, basal_bpm, stv_ms, ltv_ms, episodes, accelerations,
 * decelerations, sinusoidal, verdicts (and a few companions: figo_baseline_bpm, ltv_bpm,
 * minutes, maternal) as members of the already-open top-level object. Not for the trace itself
 * (analysis.c writes fhr/quality/state). */
#ifndef FM_CTG_JSON_H
#define FM_CTG_JSON_H

#include "fetalmon/ctg.h"
#include "jsonw.h"

void fm_ctg_write_json(const fm_ctg_result *r, jsonw *w);

#endif
