/* falsesig_dump: writes the false-signal detector's features for every sample with signal of
 * each trace file, computed by the engine's own code (fm_falsesig_create_features), so the
 * model is trained on exactly what the engine computes live.
 *
 * Usage: falsesig_dump --mhr 0|1 [--lookahead SAMPLES] [--stride S] --out DIR FILE...
 *        falsesig_dump --stage1 MODEL [--stage2 MODEL2 [--stage3-features]] [--stride S]
 *                      --out DIR FILE...
 * For each FILE writes DIR/<file name>.feat: records of (uint32 sample index, float32
 * features[n]) little-endian, for samples with signal whose index is a multiple of S.
 * DIR/features_<mode>.txt lists the feature names in order. With --stage1 the features are
 * those of the whole-recording stage 2 (fm_falsesig_batch), computed from the probabilities of
 * the stage-1 model file MODEL (its mode decides --mhr). With --stage2 (a boosted stage-2 model
 * file) it also writes DIR/<file name>.p2: float32 per 4 Hz sample, that model's probability
 * (NAN: no signal), an input of the recurrent stage (train_gru.py); with --stage3-features the
 * .feat records hold the stage-3 features instead (the same context features computed from the
 * stage-2 probabilities: what train.py --stage 3 learns from). Not for evaluation
 * (bench/bench_falsesig.c scores the C inference). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetalmon/falsesig.h"
#include "fetalmon/trace.h"

typedef struct sink {
    FILE *f;
    unsigned stride;
    int failed;
} sink;

static void on_features(void *user, uint64_t index, const float *x, size_t n)
{
    sink *s = user;
    if (index % s->stride)
        return;
    uint32_t i = (uint32_t)index;
    if (fwrite(&i, sizeof i, 1, s->f) != 1 || fwrite(x, sizeof *x, n, s->f) != n)
        s->failed = 1;
}

/* The whole file (NULL and a message when it cannot be read). */
static char *slurp(const char *path, long *len)
{
    FILE *mf = fopen(path, "rb");
    char *txt = NULL;
    *len = -1;
    if (mf && fseek(mf, 0, SEEK_END) == 0 && (*len = ftell(mf)) > 0 &&
        fseek(mf, 0, SEEK_SET) == 0 && (txt = malloc((size_t)*len)) &&
        fread(txt, 1, (size_t)*len, mf) == (size_t)*len) {
        fclose(mf);
        return txt;
    }
    fprintf(stderr, "falsesig_dump: cannot read %s\n", path);
    free(txt);
    if (mf)
        fclose(mf);
    return NULL;
}

static int usage(void)
{
    fprintf(stderr, "usage: falsesig_dump --mhr 0|1 [--lookahead SAMPLES] [--stride S] "
                    "--out DIR FILE...\n"
                    "       falsesig_dump --stage1 MODEL [--stage2 MODEL2 [--stage3-features]] "
                    "[--stride S] --out DIR FILE...\n");
    return 2;
}

int main(int argc, char **argv)
{
    int use_mhr = -1;
    unsigned lookahead = FM_FALSESIG_LOOKAHEAD_S * FM_FHR_RATE_HZ, stride = 1;
    const char *out = NULL, *stage1 = NULL, *stage2 = NULL;
    int i = 1, stage3 = 0;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--mhr") && i + 1 < argc)
            use_mhr = atoi(argv[++i]) != 0;
        else if (!strcmp(argv[i], "--lookahead") && i + 1 < argc)
            lookahead = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--stride") && i + 1 < argc)
            stride = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--stage1") && i + 1 < argc)
            stage1 = argv[++i];
        else if (!strcmp(argv[i], "--stage2") && i + 1 < argc)
            stage2 = argv[++i];
        else if (!strcmp(argv[i], "--stage3-features"))
            stage3 = 1;
        else
            return usage();
    }
    fm_falsesig_batch *b = NULL;
    if ((stage2 && !stage1) || (stage3 && !stage2))
        return usage();
    if (stage1) {
        long len = -1, len2 = 0;
        char *txt = slurp(stage1, &len), *txt2 = stage2 ? slurp(stage2, &len2) : NULL;
        if (txt && (!stage2 || txt2)) {
            fm_status st;
            b = fm_falsesig_batch_create_from_text(txt, (size_t)len, txt2, (size_t)len2, &st);
            if (!b)
                fprintf(stderr, "falsesig_dump: %s: %s\n", stage1, fm_strerror(st));
        }
        free(txt);
        free(txt2);
        if (b && stage3 && fm_falsesig_batch_set_feature_stage(b, 3) != FM_OK) {
            fm_falsesig_batch_destroy(b);
            b = NULL;
        }
        if (!b)
            return 1;
        use_mhr = fm_falsesig_batch_uses_mhr(b);
    }
    if (use_mhr < 0 || !out || i >= argc || stride == 0)
        return usage();
    char path[4096];
    snprintf(path, sizeof path, "%s/features_%s.txt", out, use_mhr ? "mhr" : "nomhr");
    FILE *names = fopen(path, "w");
    if (!names) {
        fprintf(stderr, "falsesig_dump: cannot write %s\n", path);
        return 1;
    }
    size_t nf = b ? fm_falsesig_context_n_features(use_mhr) : fm_falsesig_n_features(use_mhr);
    for (size_t k = 0; k < nf; k++)
        fprintf(names, "%s\n", b ? fm_falsesig_context_feature_name(use_mhr, k)
                                 : fm_falsesig_feature_name(use_mhr, k));
    fclose(names);
    fm_falsesig *q = b ? NULL : fm_falsesig_create_features(use_mhr, lookahead);
    if (!q && !b) {
        fprintf(stderr, "falsesig_dump: cannot create the feature extractor\n");
        return 1;
    }
    int rc = 0;
    for (; i < argc; i++) {
        fm_trace *t = NULL;
        char err[256] = "";
        fm_status st = fm_trace_read(argv[i], FM_TRACE_AUTO, &t, err, sizeof err);
        if (st != FM_OK) {
            fprintf(stderr, "falsesig_dump: %s: %s\n", argv[i], err);
            rc = 1;
            continue;
        }
        const char *base = strrchr(argv[i], '/');
        base = base ? base + 1 : argv[i];
        snprintf(path, sizeof path, "%s/%s.feat", out, base);
        sink s = {fopen(path, "wb"), stride, 0};
        if (!s.f) {
            fprintf(stderr, "falsesig_dump: cannot write %s\n", path);
            fm_trace_destroy(t);
            rc = 1;
            continue;
        }
        float *p = malloc((t->n ? t->n : 1) * sizeof *p);
        if (b) {
            fm_falsesig_batch_set_feature_sink(b, on_features, &s);
            st = p ? fm_falsesig_batch_run(b, t, p, NULL) : FM_ENOMEM;
        } else {
            fm_falsesig_set_feature_sink(q, on_features, &s);
            st = p ? fm_falsesig_run(q, t, p, NULL) : FM_ENOMEM;
        }
        if (stage2 && st == FM_OK) {
            snprintf(path, sizeof path, "%s/%s.p2", out, base);
            FILE *pf = fopen(path, "wb");
            if (!pf || fwrite(p, sizeof *p, t->n, pf) != t->n)
                s.failed = 1;
            if (pf && fclose(pf) != 0)
                s.failed = 1;
        }
        if (fclose(s.f) != 0 || s.failed || st != FM_OK) {
            fprintf(stderr, "falsesig_dump: %s: %s\n", argv[i],
                    st != FM_OK ? fm_strerror(st) : "write failed");
            rc = 1;
        }
        free(p);
        fm_trace_destroy(t);
    }
    fm_falsesig_destroy(q);
    fm_falsesig_batch_destroy(b);
    return rc;
}
