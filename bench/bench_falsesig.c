/* bench_falsesig: scores the false-signal detector (C inference) against the experts of the
 * FHRMA false-signal dataset, computed exactly as FHRMA EvalFSForDataset.m: the evaluated signal
 * is FHR1; truth is "true" inside ts_fhr, "false" inside fs_fhr (false wins), unannotated
 * elsewhere and where FHR1 = 0; interval ends rounded half away from zero, 1-based inclusive;
 * predicted false when p >= 0.5; counts pooled over the recordings of a group; false signal is
 * the positive class; AUC over the annotated samples (ties count one half, as perfcurve's
 * trapezoids).
 *
 * Usage: bench_falsesig --data FSDATASET_DIR SOURCE [--stage2] [--probs DIR] [--limit N]
 *   SOURCE is one of
 *     --cv DIR --mode mhr|nomhr   out-of-fold: each recording is scored by the model of its
 *                                 fold (DIR/folds.tsv, DIR/falsesig_<mode>_fold<k>.txt)
 *     --model FILE                one model file for every recording
 *     --builtin mhr|nomhr         the model embedded in the library
 *   with --stage2, --cv and --builtin score the whole-recording (batch) mode instead of the
 *   live detector: --cv loads DIR/falsesig2_<mode>_fold<k>.txt with the stage-1 fold model,
 *   --builtin uses fm_falsesig_batch_create (what fm_falsesig_trace runs)
 *     --gru DIR                   (with --cv, implies --stage2) the recurrent stage 2 instead:
 *                                 DIR/falsesig_gru_<mode>_fold<k>.txt (tools/falsesig/
 *                                 train_gru.py) with the stage-1 fold models of --cv
 *     --stage3 DIR                (with --cv, implies --stage2) adds stage 3 (auto-context):
 *                                 DIR/falsesig3_<mode>_fold<k>.txt (train.py --stage 3) after
 *                                 the stage-1 and stage-2 fold models of --cv
 *     --coincidence               the floor: flag +-10 s around |FHR1 - MHR| <= 5 bpm
 * Groups: antepartum, intrapartum (whole records), all; and FHRMA's stage 1 / stage 2 split.
 * A sample whose FHR1 is non-zero but outside 50..240 bpm (no signal for the engine) is counted
 * as predicted false (p = 1): it is not a fetal rate. A bench may read files; the engine not. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetalmon/falsesig.h"
#include "fetalmon/trace.h"

#define MAX_REC 2000
#define COINC_BPM 5.0f
#define COINC_HALF_SAMPLES 40 /* 10 s at 4 Hz */

typedef struct interval {
    double a, b;
} interval;

typedef struct record {
    char name[128];
    int antepartum;
    int has_stage2; /* stage2_start is a number (1 = the whole record is stage 2) */
    double stage2;  /* 1-based sample where stage 2 starts */
    interval *ts, *fs;
    size_t n_ts, n_fs;
} record;

enum { G_ANTE, G_INTRA, G_ALL, G_ST1, G_ST2, G_N };
static const char *group_name[G_N] = {"antepartum", "intrapartum", "all", "stage1 (FHRMA)",
                                      "stage2 (FHRMA)"};

typedef struct pair {
    float p;
    int8_t pos;
} pair;

typedef struct group {
    double tp, fp, tn, fn;
    size_t n_rec;
    pair *pairs;
    size_t n_pairs, cap_pairs;
} group;

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

/* "key": [[a, b], ...] within one line of annotations.jsonl */
static size_t parse_intervals(const char *line, const char *key, interval **out)
{
    *out = NULL;
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *p = strstr(line, pat);
    if (!p)
        return 0;
    p += strlen(pat);
    while (*p == ' ')
        p++;
    if (*p != '[')
        return 0;
    p++;
    size_t n = 0, cap = 0;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (*p != '[')
            break;
        char *e;
        double a = strtod(p + 1, &e);
        while (*e == ' ' || *e == ',')
            e++;
        double b = strtod(e, &e);
        while (*e && *e != ']')
            e++;
        p = *e ? e + 1 : e;
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            *out = realloc(*out, cap * sizeof **out);
        }
        (*out)[n].a = a;
        (*out)[n].b = b;
        n++;
    }
    return n;
}

static size_t load_annotations(const char *dir, record *recs)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/annotations.jsonl", dir);
    size_t len;
    char *buf = slurp(path, &len);
    if (!buf)
        return 0;
    size_t n = 0;
    for (char *line = strtok(buf, "\n"); line && n < MAX_REC; line = strtok(NULL, "\n")) {
        record *r = &recs[n];
        memset(r, 0, sizeof *r);
        const char *f = strstr(line, "\"filename\": \"");
        if (!f)
            continue;
        f += 13;
        size_t k = 0;
        while (f[k] && f[k] != '"' && k + 1 < sizeof r->name) {
            r->name[k] = f[k];
            k++;
        }
        const char *s = strstr(line, "\"stage2_start\": ");
        if (s) {
            s += 16;
            if (!strncmp(s, "\"Antepartum\"", 12))
                r->antepartum = 1;
            else if (strncmp(s, "null", 4)) {
                r->has_stage2 = 1;
                r->stage2 = strtod(s, NULL);
            }
        }
        r->n_ts = parse_intervals(line, "ts_fhr", &r->ts);
        r->n_fs = parse_intervals(line, "fs_fhr", &r->fs);
        n++;
    }
    free(buf);
    return n;
}

static long mround(double v)
{
    return lround(v); /* half away from zero, as MATLAB round */
}

/* -1 unannotated, 1 true signal, 0 false signal (EvalFSForDataset.m evalPeriod) */
static void make_truth(const record *r, size_t n, int8_t *y)
{
    for (size_t i = 0; i < n; i++)
        y[i] = -1;
    for (int pass = 0; pass < 2; pass++) {
        const interval *iv = pass ? r->fs : r->ts;
        size_t m = pass ? r->n_fs : r->n_ts;
        for (size_t j = 0; j < m; j++) {
            long a = mround(iv[j].a), b = mround(iv[j].b);
            if (a < 1)
                a = 1;
            if (b > (long)n)
                b = (long)n;
            for (long i = a; i <= b; i++)
                y[i - 1] = pass ? 0 : 1;
        }
    }
}

static void add(group *g, float p, int8_t y)
{
    int pred = p >= 0.5f, pos = y == 0;
    g->tp += pred && pos;
    g->fp += pred && !pos;
    g->tn += !pred && !pos;
    g->fn += !pred && pos;
    if (g->n_pairs == g->cap_pairs) {
        g->cap_pairs = g->cap_pairs ? 2 * g->cap_pairs : 1 << 16;
        g->pairs = realloc(g->pairs, g->cap_pairs * sizeof *g->pairs);
    }
    g->pairs[g->n_pairs].p = p;
    g->pairs[g->n_pairs].pos = (int8_t)pos;
    g->n_pairs++;
}

static int cmp_pair(const void *a, const void *b)
{
    float x = ((const pair *)a)->p, y = ((const pair *)b)->p;
    return (x > y) - (x < y);
}

/* Mann-Whitney AUC with ties counted one half (= trapezoidal ROC area). */
static double auc(group *g)
{
    qsort(g->pairs, g->n_pairs, sizeof *g->pairs, cmp_pair);
    double neg_below = 0, sum = 0, npos = 0, nneg = 0;
    for (size_t i = 0; i < g->n_pairs;) {
        size_t j = i;
        double tp = 0, tn = 0;
        while (j < g->n_pairs && g->pairs[j].p == g->pairs[i].p) {
            if (g->pairs[j].pos)
                tp++;
            else
                tn++;
            j++;
        }
        sum += tp * (neg_below + 0.5 * tn);
        neg_below += tn;
        npos += tp;
        nneg += tn;
        i = j;
    }
    return npos > 0 && nneg > 0 ? sum / (npos * nneg) : NAN;
}

static void coincidence(const fm_trace *t, float *p)
{
    for (size_t i = 0; i < t->n; i++)
        p[i] = 0.0f;
    for (size_t i = 0; i < t->n; i++) {
        if (!t->mhr_bpm || isnan(t->fhr_bpm[i]) || isnan(t->mhr_bpm[i]) ||
            fabsf(t->fhr_bpm[i] - t->mhr_bpm[i]) > COINC_BPM)
            continue;
        size_t a = i > COINC_HALF_SAMPLES ? i - COINC_HALF_SAMPLES : 0;
        size_t b = i + COINC_HALF_SAMPLES < t->n ? i + COINC_HALF_SAMPLES : t->n - 1;
        for (size_t k = a; k <= b; k++)
            p[k] = 1.0f;
    }
}

static int usage(void)
{
    fprintf(stderr, "usage: bench_falsesig --data DIR (--cv DIR --mode mhr|nomhr | --model FILE"
                    " | --builtin mhr|nomhr | --coincidence) [--stage2] [--gru DIR] [--stage3 DIR]"
                    " [--probs DIR]"
                    " [--limit N]\n");
    return 2;
}

static fm_falsesig *load_model(const char *path)
{
    size_t len;
    char *txt = slurp(path, &len);
    if (!txt) {
        fprintf(stderr, "bench_falsesig: cannot read %s\n", path);
        return NULL;
    }
    fm_status st;
    fm_falsesig *q = fm_falsesig_create_from_text(txt, len, &st);
    free(txt);
    if (!q)
        fprintf(stderr, "bench_falsesig: %s: %s\n", path, fm_strerror(st));
    return q;
}

/* Stage 1 + boosted stage 2 (+ the recurrent stage from path3, + stage 3 from path4 when not
 * NULL). */
static fm_falsesig_batch *load_batch(const char *path1, const char *path2, const char *path3,
                                     const char *path4)
{
    size_t l1 = 0, l2 = 0, l3 = 0, l4 = 0;
    char *t1 = slurp(path1, &l1), *t2 = slurp(path2, &l2), *t3 = path3 ? slurp(path3, &l3) : NULL;
    char *t4 = path4 ? slurp(path4, &l4) : NULL;
    fm_status st = FM_EFORMAT;
    fm_falsesig_batch *b =
        t1 && t2 ? fm_falsesig_batch_create_from_text(t1, l1, t2, l2, &st) : NULL;
    if (b && path3 && (st = t3 ? fm_falsesig_batch_set_recurrent(b, t3, l3) : FM_EIO) != FM_OK) {
        fm_falsesig_batch_destroy(b);
        b = NULL;
    }
    if (b && path4 && (st = t4 ? fm_falsesig_batch_set_stage3(b, t4, l4) : FM_EIO) != FM_OK) {
        fm_falsesig_batch_destroy(b);
        b = NULL;
    }
    if (!b)
        fprintf(stderr, "bench_falsesig: %s + %s%s%s%s%s: %s\n", path1, path2,
                path3 ? " + " : "", path3 ? path3 : "", path4 ? " + " : "", path4 ? path4 : "",
                fm_strerror(st));
    free(t4);
    free(t1);
    free(t2);
    free(t3);
    return b;
}

static int fold_of(const char *cvdir, const char *name)
{
    char path[4096], line[512];
    snprintf(path, sizeof path, "%s/folds.tsv", cvdir);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int fold = -1;
    while (fgets(line, sizeof line, f)) {
        char *tab = strchr(line, '\t');
        if (!tab)
            continue;
        *tab = 0;
        if (!strcmp(line, name)) {
            fold = atoi(tab + 1);
            break;
        }
    }
    fclose(f);
    return fold;
}

int main(int argc, char **argv)
{
    const char *data = NULL, *cv = NULL, *mode = NULL, *model = NULL, *builtin = NULL;
    const char *probs_dir = NULL, *gru_dir = NULL, *s3_dir = NULL;
    int coinc = 0, stage2 = 0;
    size_t limit = MAX_REC;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--data") && i + 1 < argc)
            data = argv[++i];
        else if (!strcmp(argv[i], "--cv") && i + 1 < argc)
            cv = argv[++i];
        else if (!strcmp(argv[i], "--mode") && i + 1 < argc)
            mode = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc)
            model = argv[++i];
        else if (!strcmp(argv[i], "--builtin") && i + 1 < argc)
            builtin = argv[++i];
        else if (!strcmp(argv[i], "--probs") && i + 1 < argc)
            probs_dir = argv[++i];
        else if (!strcmp(argv[i], "--limit") && i + 1 < argc)
            limit = (size_t)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--coincidence"))
            coinc = 1;
        else if (!strcmp(argv[i], "--stage2"))
            stage2 = 1;
        else if (!strcmp(argv[i], "--gru") && i + 1 < argc)
            gru_dir = argv[++i], stage2 = 1;
        else if (!strcmp(argv[i], "--stage3") && i + 1 < argc)
            s3_dir = argv[++i], stage2 = 1;
        else
            return usage();
    }
    if (!data || (!!cv + !!model + !!builtin + coinc) != 1 || (cv && !mode))
        return usage();
    static record recs[MAX_REC];
    size_t n_rec = load_annotations(data, recs);
    if (!n_rec) {
        fprintf(stderr, "bench_falsesig: no annotations in %s\n", data);
        return 1;
    }
    if (limit < n_rec)
        n_rec = limit;
    fm_falsesig *fixed = NULL, *folds[16] = {0};
    fm_falsesig_batch *bfixed = NULL, *bfolds[16] = {0};
    if (stage2 && (model || coinc))
        return usage();
    if ((gru_dir || s3_dir) && !cv)
        return usage();
    if (model && !(fixed = load_model(model)))
        return 1;
    if (builtin && stage2 && !(bfixed = fm_falsesig_batch_create(!strcmp(builtin, "mhr")))) {
        fprintf(stderr, "bench_falsesig: no built-in batch %s model in this build\n", builtin);
        return 1;
    }
    if (builtin && !stage2 && !(fixed = fm_falsesig_create(!strcmp(builtin, "mhr")))) {
        fprintf(stderr, "bench_falsesig: no built-in %s model in this build\n", builtin);
        return 1;
    }
    group g[G_N];
    memset(g, 0, sizeof g);
    double run_s = 0, hours = 0;
    for (size_t r = 0; r < n_rec; r++) {
        char path[4096], name[128];
        memcpy(name, recs[r].name, sizeof name);
        name[sizeof name - 1] = 0;
        snprintf(path, sizeof path, "%s/DopMHR/Train/%s", data, name);
        fm_trace *t = NULL;
        char err[256];
        if (fm_trace_read(path, FM_TRACE_FHRM, &t, err, sizeof err) != FM_OK) {
            fprintf(stderr, "bench_falsesig: %s\n", err);
            return 1;
        }
        size_t len;
        uint8_t *raw = (uint8_t *)slurp(path, &len);
        float *p = malloc(t->n * sizeof *p);
        int8_t *y = malloc(t->n);
        if (!raw || !p || !y)
            return 1;
        fm_falsesig *q = fixed;
        fm_falsesig_batch *bq = bfixed;
        if (cv) {
            int k = fold_of(cv, recs[r].name);
            if (k < 0 || k >= 16) {
                fprintf(stderr, "bench_falsesig: %s not in %s/folds.tsv\n", recs[r].name, cv);
                return 1;
            }
            if (stage2 && !bfolds[k]) {
                char p2[4096], p3[4096], p4[4096];
                snprintf(path, sizeof path, "%s/falsesig_%s_fold%d.txt", cv, mode, k);
                snprintf(p2, sizeof p2, "%s/falsesig2_%s_fold%d.txt", cv, mode, k);
                if (gru_dir)
                    snprintf(p3, sizeof p3, "%s/falsesig_gru_%s_fold%d.txt", gru_dir, mode, k);
                if (s3_dir)
                    snprintf(p4, sizeof p4, "%s/falsesig3_%s_fold%d.txt", s3_dir, mode, k);
                if (!(bfolds[k] = load_batch(path, p2, gru_dir ? p3 : NULL, s3_dir ? p4 : NULL)))
                    return 1;
            }
            bq = bfolds[k];
            if (!stage2 && !folds[k]) {
                snprintf(path, sizeof path, "%s/falsesig_%s_fold%d.txt", cv, mode, k);
                if (!(folds[k] = load_model(path)))
                    return 1;
            }
            q = folds[k];
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
        if (coinc)
            coincidence(t, p);
        else if (stage2 ? fm_falsesig_batch_run(bq, t, p, NULL) != FM_OK
                        : fm_falsesig_run(q, t, p, NULL) != FM_OK) {
            fprintf(stderr, "bench_falsesig: run failed on %s\n", recs[r].name);
            return 1;
        }
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
        run_s += (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
        hours += (double)t->n / FM_FHR_RATE_HZ / 3600.0;
        make_truth(&recs[r], t->n, y);
        /* FHRMA stage 1: before round(stage2_start); stage 2: from it (a record starting in
         * stage 2 has stage2_start = 1 and no stage 1) */
        long s2 = recs[r].has_stage2 ? mround(recs[r].stage2) : 0; /* 1-based, 0: none */
        int counted[G_N] = {0};
        for (size_t i = 0; i < t->n; i++) {
            unsigned fhr1 = (unsigned)raw[4 + 8 * i] | ((unsigned)raw[5 + 8 * i] << 8);
            if (fhr1 == 0 || y[i] < 0)
                continue;
            float pi = isnan(p[i]) ? 1.0f : p[i];
            int grp[3] = {recs[r].antepartum ? G_ANTE : G_INTRA, G_ALL, -1};
            if (!recs[r].antepartum)
                grp[2] = (s2 && (long)i + 1 >= s2) ? G_ST2 : G_ST1;
            for (int k = 0; k < 3; k++)
                if (grp[k] >= 0) {
                    add(&g[grp[k]], pi, y[i]);
                    counted[grp[k]] = 1;
                }
        }
        for (int k = 0; k < G_N; k++)
            g[k].n_rec += counted[k];
        if (probs_dir) {
            snprintf(path, sizeof path, "%s/%s.p", probs_dir, name);
            FILE *f = fopen(path, "wb");
            if (f) {
                fwrite(p, sizeof *p, t->n, f);
                fclose(f);
            }
        }
        free(raw);
        free(p);
        free(y);
        fm_trace_destroy(t);
    }
    const char *src = coinc ? "coincidence rule (+-10 s around |FHR-MHR| <= 5 bpm)"
                      : cv && gru_dir ? "out-of-fold, whole-recording mode, recurrent stage 2 "
                                        "(C inference)"
                      : cv && s3_dir ? "out-of-fold, whole-recording mode with stage 3 "
                                       "(C inference)"
                      : cv && stage2 ? "out-of-fold, whole-recording mode (C inference)"
                      : cv ? "out-of-fold (C inference)"
                      : model ? model : stage2 ? "built-in whole-recording model"
                      : "built-in model";
    printf("false-signal detection, %s%s%s, %zu recordings, %.1f h\n", src, mode ? ", " : "",
           mode ? mode : "", n_rec, hours);
    printf("| group | records | annotated | false %% | Se | Sp | PPV | accuracy | AUC |\n");
    printf("|---|---|---|---|---|---|---|---|---|\n");
    for (int k = 0; k < G_N; k++) {
        group *x = &g[k];
        double n = x->tp + x->fp + x->tn + x->fn;
        if (n == 0)
            continue;
        printf("| %s | %zu | %.0f | %.1f | %.4f | %.4f | %.4f | %.4f | %.4f |\n", group_name[k],
               x->n_rec, n, 100.0 * (x->tp + x->fn) / n, x->tp / (x->tp + x->fn),
               x->tn / (x->tn + x->fp), x->tp / (x->tp + x->fp), (x->tp + x->tn) / n, auc(x));
        free(x->pairs);
    }
    if (!coinc)
        printf("C inference: %.3f s CPU for %.1f h of trace (%.2f ms CPU per hour of trace)\n",
               run_s, hours, 1000.0 * run_s / hours);
    fm_falsesig_destroy(fixed);
    fm_falsesig_batch_destroy(bfixed);
    for (int k = 0; k < 16; k++) {
        fm_falsesig_destroy(folds[k]);
        fm_falsesig_batch_destroy(bfolds[k]);
    }
    return 0;
}
