/* fm_falsesig: per-sample probability that a 4 Hz FHR value is false signal (the mother's pulse
 * counted as fetal, a halved or doubled rate, or any other rate that is not the baby's heart).
 *
 * CLINICAL 2: maternal capture is the main safety risk of home Doppler. This object looks at the
 * trace itself (rate level and jumps, variability texture, halving/doubling relations to the
 * recent history, continuity and gaps) and, when the caller has it, at the maternal heart rate
 * (coincidence |FHR - MHR| and its persistence). A boosted-tree model trained offline on the
 * expert-annotated FHRMA false-signal dataset (tools/falsesig/, docs/falsesig.md) turns the
 * features into a probability; the two shipped models (with / without the maternal channel) are
 * embedded in the library at build time, nothing is read from disk.
 *
 * Streaming: push one sample at a time (fhr_bpm, mhr_bpm; NAN = none). The value for sample i is
 * final when sample i + lookahead has been pushed (FM_FALSESIG_LOOKAHEAD_S by default, stated by
 * fm_falsesig_lookahead()), or when the stream is flushed; pop results in order. The helpers
 * fm_falsesig_run() and fm_falsesig_trace_live() run the very same object over a whole trace, so
 * they equal streaming bit for bit. A recording known in full gets the whole-recording mode
 * (fm_falsesig_trace, fm_falsesig_batch: context both ways), which is more accurate.
 *
 * Not for: the audio (doppler.h rejects what it can there), nor for correcting a halved/doubled
 * rate (we flag it; the CTG analysis excludes flagged samples). */
#ifndef FETALMON_FALSESIG_H
#define FETALMON_FALSESIG_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/common.h"
#include "fetalmon/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Operating point: a sample with p_false >= this is flagged (as in the FHRMA evaluation). */
#define FM_FALSESIG_THRESHOLD 0.5f
/* Look-ahead of the shipped models: a sample's verdict is known 20 s after it was recorded. */
#define FM_FALSESIG_LOOKAHEAD_S 20
/* Longest look-ahead a model may ask for (bounded memory). */
#define FM_FALSESIG_MAX_LOOKAHEAD_S 120

typedef struct fm_falsesig fm_falsesig;

/* One finished sample. */
typedef struct fm_falsesig_sample {
    uint64_t index;     /* 0-based sample index since create/reset */
    float p_false;      /* probability of false signal; NAN where fhr_bpm was NAN (no signal) */
    fm_fhr_state state; /* suggested state: LOST (no signal), OK, MATERNAL or DOUBTFUL */
} fm_falsesig_sample;

/* With the built-in model: use_mhr = 1 for the model that reads the maternal channel, 0 for the
 * one that does not (the usual home case). NULL when out of memory or when the library was built
 * without that model. */
fm_falsesig *fm_falsesig_create(int use_mhr);

/* With a model given as text (the format train.py writes; benches and tools only). The mode and
 * look-ahead come from the model. On failure returns NULL and sets *status when not NULL. */
fm_falsesig *fm_falsesig_create_from_text(const char *model_text, size_t len, fm_status *status);

/* The built-in model parsed once, to be shared by many detectors (a server's live streams):
 * immutable after create, so detectors on any threads may use it at the same time. It must
 * outlive every detector made from it. NULL when out of memory or the model is not built in. */
typedef struct fm_falsesig_model fm_falsesig_model;
fm_falsesig_model *fm_falsesig_model_create(int use_mhr);
void fm_falsesig_model_destroy(fm_falsesig_model *m);
/* A detector on a shared model: the same results as fm_falsesig_create(use_mhr), bit for bit,
 * without its own copy of the trees. */
fm_falsesig *fm_falsesig_create_shared(const fm_falsesig_model *m);

/* Features only, no model (p_false stays NAN): the feature dumper of tools/falsesig. */
fm_falsesig *fm_falsesig_create_features(int use_mhr, unsigned lookahead_samples);

void fm_falsesig_destroy(fm_falsesig *q);
/* Forget the stream (start a new recording); keeps the model. */
void fm_falsesig_reset(fm_falsesig *q);

/* Append one 4 Hz sample. mhr_bpm is ignored by the no-MHR model. Values outside the plausible
 * range (CLINICAL 1) count as no signal. FM_ERANGE when too many results are waiting (pop them). */
fm_status fm_falsesig_push(fm_falsesig *q, float fhr_bpm, float mhr_bpm);
/* End of stream: finish every pending sample with the look-ahead that exists. */
fm_status fm_falsesig_flush(fm_falsesig *q);
/* Number of finished samples waiting, and the oldest of them (FM_EEMPTY when none). */
size_t fm_falsesig_available(const fm_falsesig *q);
fm_status fm_falsesig_pop(fm_falsesig *q, fm_falsesig_sample *out);

/* Look-ahead of this object in samples (latency of the verdict), and its mode. */
unsigned fm_falsesig_lookahead(const fm_falsesig *q);
int fm_falsesig_uses_mhr(const fm_falsesig *q);
/* One line describing the object (mode, look-ahead, trees) for logs; returns buf. */
const char *fm_falsesig_describe(const fm_falsesig *q, char *buf, size_t len);

/* Feature access for the tools (one source of truth for training and inference). */
size_t fm_falsesig_n_features(int use_mhr);
const char *fm_falsesig_feature_name(int use_mhr, size_t i);
typedef void (*fm_falsesig_feature_fn)(void *user, uint64_t index, const float *features,
                                       size_t n_features);
/* Called for every finished sample that has signal, before the model runs. */
void fm_falsesig_set_feature_sink(fm_falsesig *q, fm_falsesig_feature_fn fn, void *user);

/* Whole trace: one probability per sample into p_false[t->n] (NAN where there is no signal)
 * and, when state is not NULL, the suggested state per sample (LOST where no signal, else OK /
 * MATERNAL / DOUBTFUL). use_mhr = 1 reads t->mhr_bpm (a trace without it is run as if no
 * maternal value were present; prefer use_mhr = 0 then). This is what the analysis of a
 * recording calls: the whole-recording (batch) mode, fm_falsesig_batch below, which looks at
 * the past AND the future of every sample (falls back to the live model when the library was
 * built without the batch models). */
fm_status fm_falsesig_trace(const fm_trace *t, int use_mhr, float *p_false, uint8_t *state);
/* The same with the live detector (20 s look-ahead): what a live stream of this trace gives,
 * bit for bit (fm_falsesig_create + push/pop). */
fm_status fm_falsesig_trace_live(const fm_trace *t, int use_mhr, float *p_false, uint8_t *state);
/* Copy suggested MATERNAL / DOUBTFUL states into t->state where the sample is FM_STATE_OK (a
 * lost sample stays lost). Returns the number of samples marked. */
size_t fm_falsesig_mark(fm_trace *t, const uint8_t *state);
/* The same with a caller's object (reset first), e.g. one made from a model file. */
fm_status fm_falsesig_run(fm_falsesig *q, const fm_trace *t, float *p_false, uint8_t *state);

/* ---- whole-recording (batch) mode -------------------------------------------------------- *
 * For a recording known in full (uploads, the final analysis). Stage 1 is the live detector run
 * over the trace; stage 2, a second model, re-scores each sample from the stage-1 probabilities
 * of the whole recording (the last and next 10 s .. 20 min, its segment and neighbours, the
 * level the trace holds where stage 1 trusts it, coincidence with the maternal rate over the
 * recording). The result depends on the whole trace: it is not available sample by sample. */
typedef struct fm_falsesig_batch fm_falsesig_batch;

/* With the built-in models; NULL when out of memory or built without them. */
fm_falsesig_batch *fm_falsesig_batch_create(int use_mhr);
/* With models given as text (benches and tools). stage2 = NULL: stage-1 probabilities only
 * (the stage-2 features still go to the feature sink: the training dumper). */
fm_falsesig_batch *fm_falsesig_batch_create_from_text(const char *stage1, size_t len1,
                                                      const char *stage2, size_t len2,
                                                      fm_status *status);
void fm_falsesig_batch_destroy(fm_falsesig_batch *b);
int fm_falsesig_batch_uses_mhr(const fm_falsesig_batch *b);
/* One probability (and suggested state, may be NULL) per sample of t, as fm_falsesig_trace. */
fm_status fm_falsesig_batch_run(fm_falsesig_batch *b, const fm_trace *t, float *p_false,
                                uint8_t *state);
/* Adds the recurrent stage (text of tools/falsesig/train_gru.py; benches and tools; the
 * built-in batch has it when the library was built with one): a bidirectional GRU over the
 * stage-2 features of the whole recording. A "residual" model corrects the boosted stage-2
 * probability (needs the boosted stage 2), a stand-alone one replaces it. FM_EFORMAT when the
 * text is malformed, for the other mode, or residual without a boosted stage 2. */
fm_status fm_falsesig_batch_set_recurrent(fm_falsesig_batch *b, const char *text, size_t len);
/* Adds stage 3 (auto-context; text of tools/falsesig/train.py --stage 3; the built-in batch
 * has it when the library was built with one): the stage-2 context features computed from the
 * stage-2 probabilities, through a third boosted model. FM_EFORMAT when the text is malformed,
 * for the other mode, or the batch has no stage 2. */
fm_status fm_falsesig_batch_set_stage3(fm_falsesig_batch *b, const char *text, size_t len);
/* Which features the feature sink gets: 2 (default) the stage-2 features (context of the
 * stage-1 probabilities), 3 the stage-3 features (context of the stage-2 probabilities; needs
 * a stage 2). FM_EINVAL otherwise. */
fm_status fm_falsesig_batch_set_feature_stage(fm_falsesig_batch *b, int stage);
/* Stage-2 feature access for the tools. */
size_t fm_falsesig_context_n_features(int use_mhr);
const char *fm_falsesig_context_feature_name(int use_mhr, size_t i);
void fm_falsesig_batch_set_feature_sink(fm_falsesig_batch *b, fm_falsesig_feature_fn fn,
                                        void *user);

#ifdef __cplusplus
}
#endif
#endif
