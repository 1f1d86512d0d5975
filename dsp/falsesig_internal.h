/* Internals of fm_falsesig shared by its three source files: the causal feature extractor
 * (falsesig_features.c), the boosted-tree model (falsesig_model.c) and the streaming object
 * (falsesig.c). Not a public API: tools go through include/fetalmon/falsesig.h. */
#ifndef FETALMON_FALSESIG_INTERNAL_H
#define FETALMON_FALSESIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "fetalmon/falsesig.h"

/* ---- features ------------------------------------------------------------------------------ */

/* History the features look back on: 10 min (the reference level of the trace). */
#define FS_HISTORY_SAMPLES (10 * 60 * FM_FHR_RATE_HZ)
/* Ring size: history + longest look-ahead + 1, rounded up to a power of two. */
#define FS_RING 4096
#define FS_RING_MASK (FS_RING - 1)
/* Long history: 30 min (which levels the trace has held, for halving/doubling and maternal
 * levels that last longer than the 10-min window). Only a histogram and the FHR values. */
#define FS_LONG_SAMPLES (30 * 60 * FM_FHR_RATE_HZ)
#define FS_LONG_RING 8192
#define FS_N_FEATURES_NOMHR 54
#define FS_N_FEATURES_MHR 81
#define FS_HIST_MIN_BPM 50
#define FS_HIST_BINS 191 /* 1-bpm bins over 50..240 bpm (CLINICAL 1 artefact range) */

/* Running sums over the whole stream; a window's sum is the difference of two entries.
 * fs_prefix is the value the feature code works with; the ring stores its FHR part for every
 * detector and its MHR part only for a detector with the maternal channel (memory: 48 vs 136
 * bytes a sample, 4096 samples, per live stream). */
typedef struct fs_prefix_fhr {
    double cv, sx, sxx, cd, sd, cs;
} fs_prefix_fhr;
typedef struct fs_prefix_mhr {
    double cb, cc, sdm, cm, sm, bx, bm, bxx, bmm, bxm;
} fs_prefix_mhr;

typedef struct fs_prefix {
    double cv, sx, sxx;      /* valid FHR: count, sum and sum of squares (x - 140) */
    double cd, sd;           /* consecutive valid pairs: count, sum of |x[i] - x[i-1]| */
    double cs;               /* segment starts */
    double cb, cc, sdm;      /* FHR and MHR both valid: count, |x - m| <= tolerance, sum |x - m| */
    double cm, sm;           /* valid MHR: count, sum (m - 140) */
    double bx, bm, bxx, bmm, bxm; /* both valid: sums for the FHR-MHR correlation */
} fs_prefix;

typedef struct fs_features {
    int use_mhr;
    unsigned lookahead;      /* samples */
    uint64_t n;              /* samples pushed */
    float x[FS_RING], m[FS_RING];
    fs_prefix_fhr pf[FS_RING];
    int64_t seg_start[FS_RING];    /* absolute index where the sample's segment starts, -1 none */
    float seg_prev_level[FS_RING]; /* mean FHR in the 10 s before that segment (NAN: none) */
    float seg_gap_s[FS_RING];      /* length of the gap before that segment */
    int64_t last_invalid[FS_RING]; /* most recent sample without FHR at or before i, -1 none */
    int64_t last_valid_idx;
    float last_valid_x;
    uint16_t hist[FS_HIST_BINS]; /* FHR histogram of samples [hist_lo, n) */
    uint32_t hist_count;
    uint64_t hist_lo;
    float xl[FS_LONG_RING];         /* FHR of the last 30 min */
    uint16_t hist30[FS_HIST_BINS];  /* FHR histogram of samples [hist30_lo, n) */
    uint32_t hist30_count;
    uint64_t hist30_lo;
    float last_m;                   /* newest valid MHR and its index (-1: none yet) */
    int64_t last_m_idx;
    fs_prefix_mhr pm[]; /* FS_RING entries when use_mhr, none otherwise */
} fs_features;

/* Bytes to allocate for an fs_features (the MHR sums only when use_mhr). */
size_t fs_features_size(int use_mhr);
/* use_mhr must be what the object was allocated for (fs_features_size). */
void fs_features_reset(fs_features *f, int use_mhr, unsigned lookahead);
void fs_features_push(fs_features *f, float fhr_bpm, float mhr_bpm);
/* Features of sample t (valid FHR, t + lookahead >= n - 1 or the stream ended, t < n).
 * Fills fs_n_features(use_mhr) values. Moves the histogram window forward: call with t
 * increasing. */
void fs_features_compute(fs_features *f, uint64_t t, float *out);
size_t fs_n_features(int use_mhr);
const char *fs_feature_name(size_t i); /* names of the MHR set; the first 46 are the no-MHR set */
/* The FHR of a sample still in the ring (NAN: none). */
float fs_features_fhr(const fs_features *f, uint64_t t);

/* Indices used by the state suggestion (falsesig.c); tests/test_falsesig.c checks them
 * against the names. */
enum {
    FS_F_FHR = 0,
    FS_F_MED10 = 4,
    FS_F_SEG_MEAN = 30,
    FS_F_LOG2_SEG_MED10 = 34,
    FS_F_LOG2_SEG_PREV = 36,
    FS_F_ABS_X_MINUS_M = FS_N_FEATURES_NOMHR + 2,
    FS_F_COINC_W15 = FS_N_FEATURES_NOMHR + 9
};

/* ---- model --------------------------------------------------------------------------------- */

typedef struct fs_node {
    float v;         /* split: threshold (go left when x <= v); leaf: value */
    int16_t feature; /* -1 for a leaf */
    uint8_t missing_left;
    uint8_t pad;
    int32_t left, right; /* absolute node indices */
} fs_node;

typedef struct fs_model {
    int use_mhr;
    unsigned lookahead;
    size_t n_features;
    float blend_prev; /* stages 2, 3: output = blend_prev * previous stage's probability
                         + (1 - blend_prev) * this model's (0: the model alone) */
    double baseline;
    size_t n_trees, n_nodes;
    int32_t *roots;
    fs_node *nodes;
} fs_model;

/* Parse the text written by tools/falsesig/train.py. FM_EFORMAT when it is malformed or its
 * feature list is not the one this build computes. */
fm_status fs_model_parse(const char *text, size_t len, fs_model **out);
/* The same for a stage-2 (whole-recording) model: header fm_falsesig_model2, features of
 * falsesig_context.c. */
fm_status fs_model2_parse(const char *text, size_t len, fs_model **out);
/* The same for a stage-3 model: header fm_falsesig_model3, the same context features computed
 * from the stage-2 probabilities (auto-context). */
fm_status fs_model3_parse(const char *text, size_t len, fs_model **out);
void fs_model_free(fs_model *m);
/* Probability from one feature vector. */
float fs_model_predict(const fs_model *m, const float *features);
/* A stage-2/3 model's output for a sample whose previous-stage probability is p_prev. */
float fs_model_predict_blend(const fs_model *m, const float *features, float p_prev);

/* Built-in models embedded at build time (dsp/models/, see dsp/CMakeLists.txt); len 0 when the
 * build had none. */
extern const char fm_falsesig_model_mhr[];
extern const size_t fm_falsesig_model_mhr_len;
extern const char fm_falsesig_model_nomhr[];
extern const size_t fm_falsesig_model_nomhr_len;
extern const char fm_falsesig_model2_mhr[];
extern const size_t fm_falsesig_model2_mhr_len;
extern const char fm_falsesig_model2_nomhr[];
extern const size_t fm_falsesig_model2_nomhr_len;
extern const char fm_falsesig_model3_mhr[];
extern const size_t fm_falsesig_model3_mhr_len;
extern const char fm_falsesig_model3_nomhr[];
extern const size_t fm_falsesig_model3_nomhr_len;
/* recurrent stage over the boosted stage 2 (falsesig_gru.c); len 0: not shipped */
extern const char fm_falsesig_model_gru_mhr[];
extern const size_t fm_falsesig_model_gru_mhr_len;
extern const char fm_falsesig_model_gru_nomhr[];
extern const size_t fm_falsesig_model_gru_nomhr_len;

/* ---- stage 2: whole-recording context (falsesig_context.c) --------------------------------- */

#define FS2_N_FEATURES_NOMHR 36
#define FS2_N_FEATURES_MHR 45

size_t fs2_n_features(int use_mhr);
const char *fs2_feature_name(size_t i); /* names of the MHR set; the no-MHR set is a prefix */

typedef struct fs2_context fs2_context;
fs2_context *fs2_context_create(void);
void fs2_context_destroy(fs2_context *c);
/* Running sums and segments of a whole recording: fhr[n] (valid where p1 is not NAN),
 * mhr[n] or NULL, p1[n] = stage-1 probabilities (NAN: no signal). */
fm_status fs2_context_prepare(fs2_context *c, size_t n, const float *fhr, const float *mhr,
                              const float *p1);
/* Stage-2 features of sample t (p1[t] not NAN) after prepare with the same arrays. */
void fs2_context_compute(const fs2_context *c, size_t n, const float *fhr, const float *mhr,
                         const float *p1, size_t t, int use_mhr, float *out);

/* Stage 1 gives every sample with signal its suggested kind (MATERNAL / DOUBTFUL), whatever
 * its probability (the batch mode decides with the stage-2 probability). */
void fs_set_suggest_all(fm_falsesig *q, int on);
/* fm_falsesig_batch_run that also gives the stage-1 probabilities (= the live detector's,
 * bit for bit) in p_live[t->n] when not NULL (tests: both modes from one run). */
fm_status fs_batch_run(fm_falsesig_batch *b, const fm_trace *t, float *p_false, uint8_t *state,
                       float *p_live);

#endif
