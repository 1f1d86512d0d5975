/* bench_ctg: figures for the CTG analysis (issue 3).
 *   1. real traces: every .fhr of ../shared/data/fhrma/train (or the folder given with --real):
 *      one line per record (duration, lost %, basal, STV, LTV, accelerations, decelerations,
 *      verdicts, time), and bench/out/ctg/<record>.json for bench/plot_ctg.py;
 *   2. synthetic truth: traces with planted baseline and events (tests/test_ctg_synth.h):
 *      baseline RMSD (visual and fitted) and MADI, acceleration / deceleration precision,
 *      recall, F1 (one-to-one matching by > 5 s overlap; planted events under 15 bpm are
 *      "don't care"), sinusoidal detection;
 *   3. live stream: 60-min and 3-h traces re-analysed every 2 min (30 and 90 updates),
 *      incremental vs from scratch (ms, ratio, identical results).
 * Usage: bench_ctg [--real DIR] [--out DIR] [--synth N] [--no-real] [--live-only] */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "../tests/test_ctg_synth.h"
#include "fetalmon/ctg.h"
#include "fetalmon/trace.h"

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* CPU time of this thread: the live-stream figures are not inflated by other processes
 * competing for the machine (wall time is what the table of real traces reports). */
static double cpu_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void jfloats(FILE *f, const char *key, const float *v, size_t n, int dec)
{
    fprintf(f, "\"%s\":[", key);
    for (size_t i = 0; i < n; i++)
        isfinite(v[i]) ? fprintf(f, "%s%.*f", i ? "," : "", dec, v[i])
                       : fprintf(f, "%snull", i ? "," : "");
    fprintf(f, "]");
}

static void jevents(FILE *f, const char *key, const fm_ctg_event *e, size_t n)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++)
        fprintf(f,
                "%s{\"start_s\":%.2f,\"end_s\":%.2f,\"peak_s\":%.2f,\"amp\":%.1f,"
                "\"class\":%d,\"figo\":%d,\"lost_beats\":%.1f,\"shape\":\"%s\"}",
                i ? "," : "", e[i].start_s, e[i].end_s, e[i].peak_s, e[i].amplitude_bpm,
                e[i].class_bpm, (e[i].flags & FM_CTG_EV_FIGO) != 0, e[i].lost_beats,
                fm_ctg_shape_name(e[i].shape));
    fprintf(f, "]");
}

static void jspans(FILE *f, const char *key, const fm_ctg_span *s, size_t n)
{
    fprintf(f, ",\"%s\":[", key);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s[%.1f,%.1f]", i ? "," : "", s[i].start_s, s[i].end_s);
    fprintf(f, "]");
}

static int write_plot_json(const char *path, const char *name, const float *fhr, size_t n,
                           const fm_ctg_result *r, const float *truth_bl)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"name\":\"%s\",", name);
    jfloats(f, "fhr", fhr, n, 2);
    fprintf(f, ",");
    jfloats(f, "baseline", r->baseline_bpm, n, 2);
    fprintf(f, ",");
    jfloats(f, "baseline_fitted", r->baseline_fitted_bpm, n, 2);
    if (truth_bl) {
        fprintf(f, ",");
        jfloats(f, "truth_baseline", truth_bl, n, 2);
    }
    jevents(f, "accelerations", r->acc, r->n_acc);
    jevents(f, "decelerations", r->dec, r->n_dec);
    jspans(f, "sinusoidal", r->sinusoidal.spans, r->sinusoidal.n_spans);
    jspans(f, "high", r->high_episodes, r->n_high);
    jspans(f, "low", r->low_episodes, r->n_low);
    fprintf(f,
            ",\"summary\":\"basal %.0f bpm, STV %.1f ms, LTV %.0f ms, Oxford %s@%.0f, FIGO %s, "
            "NICHD %d, NST %s\"}\n",
            r->basal_bpm, r->stv_ms, r->ltv_ms, fm_ctg_oxford_name(r->oxford.status),
            r->oxford.at_min, fm_ctg_figo_name(r->figo), r->nichd_category,
            fm_ctg_nst_name(r->nst));
    return fclose(f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int bench_real(const char *dir, const char *out)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("real traces: %s not found, skipped\n", dir);
        return 0;
    }
    char *names[1024];
    size_t nn = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nn < 1024) {
        size_t l = strlen(e->d_name);
        if (l > 4 && !strcmp(e->d_name + l - 4, ".fhr"))
            names[nn++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmp_str);
    printf("\n== real traces: %s (%zu records) ==\n", dir, nn);
    printf("%-12s %6s %5s %6s %5s %6s %5s %4s %4s %4s %-12s %-12s %5s %-13s %6s\n", "record", "min",
           "lost%", "basal", "figoB", "STV", "LTV", "acc", "acc15", "dec", "oxford", "figo",
           "nichd", "nst", "ms");
    int errors = 0;
    double total_ms = 0, total_min = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[4400], jp[4400], err[256] = "";
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fm_trace *t = NULL;
        fm_status rc = fm_trace_read(path, FM_TRACE_FHR, &t, err, sizeof err);
        fm_ctg *q = NULL;
        double t0 = now_ms();
        if (rc == FM_OK)
            rc = fm_ctg_analyze_trace(t, NULL, &q);
        double ms = now_ms() - t0;
        const fm_ctg_result *r = NULL;
        if (rc == FM_OK)
            rc = fm_ctg_get_result(q, &r);
        if (rc != FM_OK) {
            printf("%-12s ERROR %s %s\n", names[i], fm_strerror(rc), err);
            errors++;
        } else {
            int n15 = 0;
            for (size_t k = 0; k < r->n_acc; k++)
                n15 += r->acc[k].class_bpm == 15;
            char ox[32];
            snprintf(ox, sizeof ox, "%s@%.0f", fm_ctg_oxford_name(r->oxford.status),
                     r->oxford.at_min);
            printf("%-12s %6.1f %5.1f %6.1f %5.0f %6.2f %5.1f %4zu %4d %4zu %-12s %-12s %5d "
                   "%-13s %6.1f\n",
                   names[i], r->duration_s / 60, r->lost_percent, r->basal_bpm,
                   r->figo_baseline_bpm, r->stv_ms, r->ltv_ms, r->n_acc, n15, r->n_dec, ox,
                   fm_ctg_figo_name(r->figo), r->nichd_category, fm_ctg_nst_name(r->nst), ms);
            total_ms += ms;
            total_min += r->duration_s / 60;
            char stem[300];
            snprintf(stem, sizeof stem, "%.*s", (int)(strlen(names[i]) - 4), names[i]);
            snprintf(jp, sizeof jp, "%s/%s.json", out, stem);
            if (write_plot_json(jp, stem, t->fhr_bpm, t->n, r, NULL) != 0)
                printf("  cannot write %s\n", jp);
        }
        fm_ctg_destroy(q);
        fm_trace_destroy(t);
        free(names[i]);
    }
    printf("records %zu, errors %d, %.1f h analysed in %.0f ms (%.2f ms per hour of trace)\n", nn,
           errors, total_min / 60, total_ms, total_min > 0 ? total_ms / (total_min / 60) : 0);
    return errors;
}

typedef struct prf {
    int tp_d, fp, tp_t, fn; /* tp_d: matched detections, tp_t: matched truths */
} prf;

/* One-to-one matching by overlap of more than 5 s (the FHRMA evaluation's rule), greedy in time
 * order. */
static int overlaps(const fm_ctg_event *d, const synth_event *t)
{
    return d->start_s + 5.0 < t->end_s && d->end_s > t->start_s + 5.0;
}

/* Planted events below the class threshold are "don't care" (like FHRMA's overshoots): a
 * detection matching only one of them counts neither way. */
static void match(const synth_event *tr, size_t nt, const synth_event *dc, size_t ndc,
                  const fm_ctg_event *de, size_t nd, unsigned need_flag, prf *p)
{
    char used[SYNTH_MAX_EVENTS] = {0};
    for (size_t i = 0; i < nd; i++) {
        if (need_flag && !(de[i].flags & need_flag))
            continue;
        int hit = 0;
        for (size_t j = 0; j < nt && !hit; j++)
            if (!used[j] && overlaps(&de[i], &tr[j])) {
                used[j] = 1;
                hit = 1;
            }
        int ignore = 0;
        for (size_t j = 0; j < ndc && !hit && !ignore; j++)
            ignore = overlaps(&de[i], &dc[j]);
        if (!ignore)
            hit ? p->tp_d++ : p->fp++;
    }
    for (size_t j = 0; j < nt; j++)
        used[j] ? p->tp_t++ : p->fn++;
}

static void prf_print(const char *what, const prf *p)
{
    double pr = p->tp_d + p->fp ? (double)p->tp_d / (p->tp_d + p->fp) : NAN;
    double rc = p->tp_t + p->fn ? (double)p->tp_t / (p->tp_t + p->fn) : NAN;
    printf("  %-34s precision %.3f  recall %.3f  F1 %.3f  (%d detected, %d planted)\n", what, pr,
           rc, 2 * pr * rc / (pr + rc), p->tp_d + p->fp, p->tp_t + p->fn);
}

/* MADI (Morphological Analysis Discordance Index, as the FHRMA papers define it): over the
 * valid samples, D = (L1 - L2)^2 against the product of each baseline's local 1-min RMS
 * distance to the FHR (+3 bpm): mean of D / (D1 D2 + D). Our own implementation. */
static double madi(const float *fhr, const float *l1, const float *l2, size_t n, double *sum,
                   size_t *cnt)
{
    size_t m = 0;
    double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *d = malloc(n * sizeof *d);
    for (size_t i = 0; i < n; i++)
        if (isfinite(fhr[i]) && isfinite(l1[i]) && isfinite(l2[i])) {
            a[m] = ((double)l1[i] - fhr[i]) * ((double)l1[i] - fhr[i]);
            b[m] = ((double)l2[i] - fhr[i]) * ((double)l2[i] - fhr[i]);
            d[m] = ((double)l1[i] - l2[i]) * ((double)l1[i] - l2[i]);
            m++;
        }
    const size_t w = 240;
    double sa = 0, sb = 0, acc = 0;
    size_t k = 0;
    for (size_t i = 0; i < m; i++) {
        sa += a[i];
        sb += b[i];
        if (i >= w) {
            sa -= a[i - w];
            sb -= b[i - w];
        }
        if (i + 1 >= w) {
            double d1 = sqrt(sa / w) + 3, d2 = sqrt(sb / w) + 3;
            double dd = d[i + 1 - w / 2];
            acc += dd / (d1 * d2 + dd);
            k++;
        }
    }
    free(a), free(b), free(d);
    *sum += acc;
    *cnt += k;
    return k ? acc / (double)k : NAN;
}

static void bench_synth(int n_traces, const char *out)
{
    printf("\n== synthetic truth: %d traces of 60 min (seeds 1..%d) ==\n", n_traces, n_traces);
    double se_v = 0, se_f = 0, ad_v = 0, madi_sum = 0;
    size_t ns = 0, madi_n = 0;
    prf acc = {0}, dec = {0};
    int sinus_hit = 0, sinus_planted = 0, sinus_false = 0;
    for (int s = 1; s <= n_traces; s++) {
        synth_opts o;
        synth_opts_default(&o, 3600, (uint64_t)s);
        o.lost_fraction = (s % 4) * 0.04; /* 0, 4, 8, 12 % lost */
        if (s % 5 == 0) {                 /* every 5th trace carries a 35-min sinusoidal stretch */
            o.sinus_start_s = 600;
            o.sinus_len_s = 2100;
            o.sinus_pp_bpm = 6 + (s % 3) * 3;
            o.sinus_cpm = 3.2 + (s % 4) * 0.5;
        }
        synth_trace *t = synth_make(&o);
        fm_ctg *q = fm_ctg_create(NULL);
        const fm_ctg_result *r = NULL;
        if (!t || !q || fm_ctg_update(q, t->fhr, t->state, t->n) != FM_OK ||
            fm_ctg_get_result(q, &r) != FM_OK) {
            printf("  seed %d: analysis failed\n", s);
            synth_free(t);
            fm_ctg_destroy(q);
            continue;
        }
        for (size_t i = 0; i < t->n; i++) {
            if (!isfinite(r->baseline_bpm[i]))
                continue;
            double dv = r->baseline_bpm[i] - t->truth_bl[i];
            double df = r->baseline_fitted_bpm[i] - t->truth_bl[i];
            se_v += dv * dv;
            se_f += df * df;
            ad_v += fabs(dv);
            ns++;
        }
        madi(t->fhr, t->truth_bl, r->baseline_bpm, t->n, &madi_sum, &madi_n);
        /* FIGO accelerations (> 15 bpm, > 15 s) against planted ones above 15 bpm */
        synth_event big[SYNTH_MAX_EVENTS], small[SYNTH_MAX_EVENTS];
        size_t nb = 0, nsm = 0;
        for (size_t i = 0; i < t->n_acc; i++) {
            if (t->acc[i].amp_bpm > 15)
                big[nb++] = t->acc[i];
            else
                small[nsm++] = t->acc[i];
        }
        match(big, nb, small, nsm, r->acc, r->n_acc, FM_CTG_EV_FIGO, &acc);
        nb = nsm = 0;
        for (size_t i = 0; i < t->n_dec; i++) {
            if (t->dec[i].amp_bpm > 15)
                big[nb++] = t->dec[i];
            else
                small[nsm++] = t->dec[i];
        }
        match(big, nb, small, nsm, r->dec, r->n_dec, 0, &dec);
        if (o.sinus_len_s > 0) {
            sinus_planted++;
            sinus_hit += r->sinusoidal.detected;
        } else {
            sinus_false += r->sinusoidal.detected;
        }
        if (s <= 4 && out) {
            char jp[4096], name[64];
            snprintf(name, sizeof name, "synth%02d", s);
            snprintf(jp, sizeof jp, "%s/%s.json", out, name);
            write_plot_json(jp, name, t->fhr, t->n, r, t->truth_bl);
        }
        synth_free(t);
        fm_ctg_destroy(q);
    }
    printf("  baseline RMSD visual %.2f bpm (mean abs %.2f), fitted %.2f bpm, over %zu samples\n",
           sqrt(se_v / (double)ns), ad_v / (double)ns, sqrt(se_f / (double)ns), ns);
    printf("  baseline MADI (visual vs planted) %.2f %%\n", 100.0 * madi_sum / (double)madi_n);
    prf_print("accelerations (FIGO 15/15)", &acc);
    prf_print("decelerations (FIGO > 15 bpm)", &dec);
    printf("  sinusoidal: detected %d of %d planted, %d false on %d without\n", sinus_hit,
           sinus_planted, sinus_false, n_traces - sinus_planted);
}

static int same_live(const fm_ctg_result *a, const fm_ctg_result *b)
{
    size_t n = a->n;
    return n == b->n && a->oxford.status == b->oxford.status &&
           a->oxford.reasons.n == b->oxford.reasons.n && !memcmp(&a->stv_ms, &b->stv_ms, 8) &&
           !memcmp(&a->ltv_ms, &b->ltv_ms, 8) && !memcmp(&a->basal_bpm, &b->basal_bpm, 8) &&
           a->n_acc == b->n_acc && a->n_dec == b->n_dec && a->n_ox_acc == b->n_ox_acc &&
           a->n_ox_dec == b->n_ox_dec && a->figo == b->figo && a->nst == b->nst &&
           a->nichd_category == b->nichd_category &&
           a->sinusoidal.n_spans == b->sinusoidal.n_spans &&
           !memcmp(a->acc, b->acc, a->n_acc * sizeof *a->acc) &&
           !memcmp(a->dec, b->dec, a->n_dec * sizeof *a->dec) &&
           !memcmp(a->ox_dec, b->ox_dec, a->n_ox_dec * sizeof *a->ox_dec) &&
           !memcmp(a->baseline_bpm, b->baseline_bpm, n * sizeof(float)) &&
           !memcmp(a->baseline_fitted_bpm, b->baseline_fitted_bpm, n * sizeof(float)) &&
           !memcmp(a->minute_range_ms, b->minute_range_ms, a->n_minutes * sizeof(float)) &&
           !memcmp(a->minute_bandwidth_bpm, b->minute_bandwidth_bpm, a->n_minutes * sizeof(float));
}

/* A live stream of duration_s re-analysed every 2 min: the cost of the incremental object
 * (2-min frames pushed, one fm_ctg_get_result per frame) against a from-scratch analysis at each
 * of those lengths; the fastest of `reps` repetitions of each (the machine is shared), then one
 * more pass checking that every pair of results is identical. */
static void bench_live(double duration_s, uint64_t seed, int reps)
{
    const size_t step = 2 * FM_CTG_SAMPLES_PER_MIN;
    synth_opts o;
    synth_opts_default(&o, duration_s, seed);
    o.lost_fraction = 0.03;
    synth_trace *t = synth_make(&o);
    if (!t)
        return;
    double inc_best = INFINITY, batch_best = INFINITY, last_inc = INFINITY,
           last_batch = INFINITY;
    int updates = 0;
    for (int rep = 0; rep < reps; rep++) {
        fm_ctg *live = fm_ctg_create(NULL);
        const fm_ctg_result *r;
        double inc = 0, batch = 0, l_inc = 0, l_batch = 0;
        updates = 0;
        for (size_t at = step; at <= t->n; at += step, updates++) {
            double t0 = cpu_ms();
            fm_ctg_update(live, t->fhr + at - step, t->state + at - step, step);
            fm_ctg_get_result(live, &r);
            l_inc = cpu_ms() - t0;
            inc += l_inc;
        }
        fm_ctg_destroy(live);
        for (size_t at = step; at <= t->n; at += step) {
            double t0 = cpu_ms();
            fm_ctg *b = fm_ctg_create(NULL);
            fm_ctg_update(b, t->fhr, t->state, at);
            fm_ctg_get_result(b, &r);
            fm_ctg_destroy(b);
            l_batch = cpu_ms() - t0;
            batch += l_batch;
        }
        inc_best = fmin(inc_best, inc);
        batch_best = fmin(batch_best, batch);
        last_inc = fmin(last_inc, l_inc);
        last_batch = fmin(last_batch, l_batch);
    }
    int same = 1;
    fm_ctg *live = fm_ctg_create(NULL);
    for (size_t at = step; at <= t->n; at += step) {
        const fm_ctg_result *ri, *rb;
        fm_ctg_update(live, t->fhr + at - step, t->state + at - step, step);
        fm_ctg *b = fm_ctg_create(NULL);
        fm_ctg_update(b, t->fhr, t->state, at);
        same &= fm_ctg_get_result(live, &ri) == FM_OK && fm_ctg_get_result(b, &rb) == FM_OK &&
                same_live(ri, rb);
        fm_ctg_destroy(b);
    }
    fm_ctg_destroy(live);
    printf("  %3.0f min, %2d updates: incremental %7.1f ms in all, from scratch %7.1f ms "
           "(%.1fx); last update %.2f vs %.2f ms; results identical: %s\n",
           duration_s / 60, updates, inc_best, batch_best, batch_best / inc_best, last_inc,
           last_batch, same ? "yes" : "NO");
    synth_free(t);
}

static void bench_live_all(void)
{
    printf("\n== live stream: re-analysed every 2 min, incremental vs from scratch ==\n");
    printf("  (thread CPU time, fastest of 5 runs each; synthetic trace, seed 42, 3 %% lost)\n");
    bench_live(3600, 42, 5);
    bench_live(3 * 3600, 42, 5);
}

int main(int argc, char **argv)
{
    const char *real = NULL, *out = "bench/out/ctg";
    int n_synth = 40, do_real = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--real") && i + 1 < argc)
            real = argv[++i];
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            out = argv[++i];
        else if (!strcmp(argv[i], "--synth") && i + 1 < argc)
            n_synth = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-real"))
            do_real = 0;
        else if (!strcmp(argv[i], "--live-only"))
            do_real = 0, n_synth = 0;
        else {
            fprintf(stderr, "usage: bench_ctg [--real DIR] [--out DIR] [--synth N] [--no-real] [--live-only]\n");
            return 2;
        }
    }
    char def[4096];
    if (!real) {
        const char *src = getenv("FM_SOURCE_DIR");
        snprintf(def, sizeof def, "%s/../shared/data/fhrma/train", src ? src : ".");
        real = def;
    }
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "%s", out);
    for (char *p = cmd + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            mkdir(cmd, 0777);
            *p = '/';
        }
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "bench_ctg: cannot create %s\n", out);
        return 1;
    }
    int errors = do_real ? bench_real(real, out) : 0;
    if (n_synth > 0)
        bench_synth(n_synth, out);
    bench_live_all();
    return errors ? 1 : 0;
}
