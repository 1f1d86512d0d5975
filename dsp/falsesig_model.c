/* The false-signal model: gradient-boosted regression trees on the features of
 * falsesig_features.c, parsed from the text tools/falsesig/train.py writes, evaluated by plain
 * tree walks (p = sigmoid(baseline + sum of leaves), as sklearn's HistGradientBoostingClassifier).
 *
 * Text format (whitespace separated, one record a line):
 *   fm_falsesig_model 1
 *   use_mhr 0|1
 *   lookahead <samples>
 *   blend_previous <w>                        optional, stages 2 and 3 only, 0 <= w <= 1: the
 *                                             output is w * the previous stage's probability
 *                                             + (1 - w) * the trees' (tools/falsesig/blend.py)
 *   features <n> <name_0> ... <name_n-1>     must equal this build's feature list
 *   baseline <raw score>
 *   trees <n_trees> <n_nodes>
 *   tree <n>                                  then n lines, node 0 is the root:
 *   s <feature> <threshold> <missing_left 0|1> <left> <right>   (go left when x <= threshold,
 *                                                                 node numbers within the tree)
 *   l <value>
 * Not for: reading files (the caller hands us the text; the engine embeds its models). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "falsesig_internal.h"
#include "model_text.h"

/* Largest tree size and count we accept: far above what we ship, bounds a hostile file. */
#define FS_MAX_TREES 5000
#define FS_MAX_NODES 4000000

/* The largest float not above a double threshold: for a float feature x,
 * x <= thr (in double) exactly when x <= floor_float(thr), so the walk stays in float. */
static float floor_float(double thr)
{
    float f = (float)thr;
    if ((double)f > thr)
        f = nextafterf(f, -INFINITY);
    return f;
}

static fm_status parse_tree(fm_mtext *c, fs_model *m, size_t *next_node)
{
    long n;
    if (!fm_mtext_expect(c, "tree") || !fm_mtext_long(c, 1, FS_MAX_NODES, &n))
        return FM_EFORMAT;
    if (*next_node + (size_t)n > m->n_nodes)
        return FM_EFORMAT;
    size_t base = *next_node;
    for (long i = 0; i < n; i++) {
        char kind[4];
        fs_node *nd = &m->nodes[base + (size_t)i];
        memset(nd, 0, sizeof *nd);
        if (!fm_mtext_token(c, kind, sizeof kind))
            return FM_EFORMAT;
        if (!strcmp(kind, "l")) {
            double v;
            if (!fm_mtext_double(c, &v, 0))
                return FM_EFORMAT;
            nd->feature = -1;
            nd->v = (float)v;
        } else if (!strcmp(kind, "s")) {
            long f, ml, l, r;
            double thr;
            if (!fm_mtext_long(c, 0, (long)m->n_features - 1, &f) || !fm_mtext_double(c, &thr, 1) ||
                !fm_mtext_long(c, 0, 1, &ml) || !fm_mtext_long(c, i + 1, n - 1, &l) ||
                !fm_mtext_long(c, i + 1, n - 1, &r))
                return FM_EFORMAT; /* children after their parent: no cycles */
            nd->feature = (int16_t)f;
            nd->v = floor_float(thr);
            nd->missing_left = (uint8_t)ml;
            nd->left = (int32_t)(base + (size_t)l);
            nd->right = (int32_t)(base + (size_t)r);
        } else {
            return FM_EFORMAT;
        }
    }
    *next_node += (size_t)n;
    return FM_OK;
}

static fm_status parse_any(const char *text, size_t len, int stage, fs_model **out)
{
    *out = NULL;
    if (!text || !len)
        return FM_EEMPTY;
    fm_mtext c = {text, text + len};
    long v, use_mhr, la, nf, nt, nn;
    char name[64];
    /* stages 2 and 3 read the same context features (of the stage-1 / stage-2 probabilities) */
    size_t (*n_feat)(int) = stage >= 2 ? fs2_n_features : fs_n_features;
    const char *(*feat_name)(size_t) = stage >= 2 ? fs2_feature_name : fs_feature_name;
    const char *header = stage == 3   ? "fm_falsesig_model3"
                         : stage == 2 ? "fm_falsesig_model2"
                                      : "fm_falsesig_model";
    if (!fm_mtext_expect(&c, header) ||
        !fm_mtext_long(&c, 1, 1, &v) || !fm_mtext_expect(&c, "use_mhr") ||
        !fm_mtext_long(&c, 0, 1, &use_mhr) || !fm_mtext_expect(&c, "lookahead") ||
        !fm_mtext_long(&c, 0, FM_FALSESIG_MAX_LOOKAHEAD_S * FM_FHR_RATE_HZ, &la))
        return FM_EFORMAT;
    double blend = 0.0;
    fm_mtext before = c;
    if (stage >= 2 && fm_mtext_expect(&c, "blend_previous")) {
        if (!fm_mtext_double(&c, &blend, 0) || !(blend >= 0.0 && blend <= 1.0))
            return FM_EFORMAT;
    } else {
        c = before;
    }
    if (!fm_mtext_expect(&c, "features") || !fm_mtext_long(&c, 1, 1000, &nf))
        return FM_EFORMAT;
    if ((size_t)nf != n_feat((int)use_mhr))
        return FM_EFORMAT;
    for (long i = 0; i < nf; i++)
        if (!fm_mtext_token(&c, name, sizeof name) || strcmp(name, feat_name((size_t)i)))
            return FM_EFORMAT;
    fs_model *m = calloc(1, sizeof *m);
    if (!m)
        return FM_ENOMEM;
    m->use_mhr = (int)use_mhr;
    m->lookahead = (unsigned)la;
    m->n_features = (size_t)nf;
    m->blend_prev = (float)blend;
    fm_status st = FM_EFORMAT;
    if (!fm_mtext_expect(&c, "baseline") || !fm_mtext_double(&c, &m->baseline, 0) ||
        !fm_mtext_expect(&c, "trees") || !fm_mtext_long(&c, 1, FS_MAX_TREES, &nt) ||
        !fm_mtext_long(&c, 1, FS_MAX_NODES, &nn))
        goto fail;
    m->n_trees = (size_t)nt;
    m->n_nodes = (size_t)nn;
    m->roots = malloc(m->n_trees * sizeof *m->roots);
    m->nodes = malloc(m->n_nodes * sizeof *m->nodes);
    if (!m->roots || !m->nodes) {
        st = FM_ENOMEM;
        goto fail;
    }
    size_t next = 0;
    for (size_t t = 0; t < m->n_trees; t++) {
        m->roots[t] = (int32_t)next;
        if ((st = parse_tree(&c, m, &next)) != FM_OK)
            goto fail;
    }
    if (next != m->n_nodes || !fm_mtext_at_end(&c)) {
        st = FM_EFORMAT;
        goto fail;
    }
    *out = m;
    return FM_OK;
fail:
    fs_model_free(m);
    return st;
}

fm_status fs_model_parse(const char *text, size_t len, fs_model **out)
{
    return parse_any(text, len, 1, out);
}

fm_status fs_model2_parse(const char *text, size_t len, fs_model **out)
{
    return parse_any(text, len, 2, out);
}

fm_status fs_model3_parse(const char *text, size_t len, fs_model **out)
{
    return parse_any(text, len, 3, out);
}

void fs_model_free(fs_model *m)
{
    if (!m)
        return;
    free(m->roots);
    free(m->nodes);
    free(m);
}

float fs_model_predict(const fs_model *m, const float *x)
{
    double raw = m->baseline;
    const fs_node *nodes = m->nodes;
    for (size_t t = 0; t < m->n_trees; t++) {
        const fs_node *nd = &nodes[m->roots[t]];
        while (nd->feature >= 0) {
            float v = x[nd->feature];
            int left = isnan(v) ? nd->missing_left : v <= nd->v;
            nd = &nodes[left ? nd->left : nd->right];
        }
        raw += nd->v;
    }
    return (float)(1.0 / (1.0 + exp(-raw)));
}

float fs_model_predict_blend(const fs_model *m, const float *x, float p_prev)
{
    float p = fs_model_predict(m, x);
    return m->blend_prev > 0.0f ? m->blend_prev * p_prev + (1.0f - m->blend_prev) * p : p;
}
