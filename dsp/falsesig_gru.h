/* The recurrent stage 2 of the whole-recording false-signal detector (falsesig_gru.c): a small
 * bidirectional GRU over the stage-2 context features, one step every `decim` 4 Hz samples.
 * Internal to the engine (falsesig_batch.c and the tests); tools reach it through
 * fm_falsesig_batch_create_from_text, which recognises its text by the header. */
#ifndef FETALMON_FALSESIG_GRU_H
#define FETALMON_FALSESIG_GRU_H

#include <stddef.h>

#include "fetalmon/common.h"

typedef struct fs_gru fs_gru;

/* Residual models: the last input is the boosted stage-2 probability as a clipped logit. */
#define FS_GRU_P2_NAME "p2_logit"
#define FS_GRU_P_CLIP 1e-4f

/* Parse the text tools/falsesig/train_gru.py writes. FM_EFORMAT when malformed or when its
 * feature list is not this build's stage-2 list; FM_ENOMEM. */
fm_status fs_gru_parse(const char *text, size_t len, fs_gru **out);
void fs_gru_destroy(fs_gru *g);
/* 1 when text starts with the GRU header (fm_falsesig_gru), 0 otherwise. */
int fs_gru_is_gru_text(const char *text, size_t len);
int fs_gru_uses_mhr(const fs_gru *g);
size_t fs_gru_decim(const fs_gru *g);
/* 1: the output is a correction to the boosted stage-2 logit, whose probability is the last
 * input (fs_gru_p2_logit); 0: the output is the logit itself (no boosted stage 2 needed). */
int fs_gru_is_residual(const fs_gru *g);
/* Inputs per step: fs2_n_features(use_mhr), + 1 when residual. */
size_t fs_gru_n_features(const fs_gru *g);
/* logit(p) with p clipped to [FS_GRU_P_CLIP, 1 - FS_GRU_P_CLIP]; NAN stays NAN. */
float fs_gru_p2_logit(float p);
size_t fs_gru_n_hidden(const fs_gru *g);
/* x[n_steps][fs_gru_n_features(g)] (NAN = missing) -> logit[n_steps] (false signal).
 * Deterministic; allocates O(n_steps * hidden) floats for the call (FM_ENOMEM). */
fm_status fs_gru_run(const fs_gru *g, size_t n_steps, const float *x, float *logit);

#endif
