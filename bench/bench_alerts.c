/* bench_alerts: the processing part of alert latency in the rule engine (dsp/alerts*.c).
 *   1. sample-level rules: time from fm_alerts_push() of the sample that completes a condition to
 *      the event in the sink (FHR < 80 bpm, prolonged deceleration, maternal capture), p50/p99
 *      over many runs;
 *   2. analysis-level rules: fm_alerts_update() time on a fresh fm_ctg_result (and, apart, the
 *      fm_ctg_get_result() re-analysis that precedes it), at 20 and 60 min;
 *   3. cost per sample of fm_alerts_push() over a 60-min trace with conditions.
 * Times are thread CPU time by default (shared machine); FM_BENCH_WALL=1 for wall clock.
 * The end-to-end part (to the clinician's browser at 1000 streams) is the server's benchmark.
 * With --real DIR: every .fhr recording of DIR (FHRMA), cut to its first 60 min, run live (sample
 * by sample, re-analysis every 2 min) and as an upload: episodes per hour by rule, events per
 * episode, and how many live episodes the upload finds too (and the reverse).
 * Usage: bench_alerts [runs]   (default 2000)
 *        bench_alerts --real ../shared/data/fhrma/train */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../tests/test_alerts_trace.h"

/* Thread CPU time: the machine is shared with other builds and benchmarks, so wall-clock
 * percentiles measure the neighbours' load; the processing cost is the thread's CPU time.
 * FM_BENCH_WALL=1 switches to the wall clock. */
static int use_wall = 0;
static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(use_wall ? CLOCK_MONOTONIC : CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

typedef struct lat_sink {
    fm_alert_rule rule;
    double t_emit;
} lat_sink;

static void sink(void *u, const fm_alert_event *ev)
{
    lat_sink *s = u;
    if (ev->rule == s->rule && ev->type == FM_ALERT_OPENED && s->t_emit == 0)
        s->t_emit = now_ns();
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void pct(const char *what, double *v, int n, const char *unit, double scale)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    printf("%-44s p50 %8.2f %s  p99 %8.2f %s  max %8.2f %s  (n=%d)\n", what, v[n / 2] / scale, unit,
           v[(int)(n * 0.99)] / scale, unit, v[n - 1] / scale, unit, n);
}

/* Pushes t up to (not including) the completing sample, then times that one push. */
static double one_latency(const tr *t, fm_alert_rule rule, const fm_ctg_result *analysis,
                          size_t complete_at)
{
    lat_sink s = {rule, 0};
    fm_alerts_config cfg;
    fm_alerts_config_default(&cfg);
    cfg.sink = sink;
    cfg.sink_user = &s;
    fm_alerts *a = fm_alerts_create(&cfg);
    if (analysis)
        fm_alerts_update(a, analysis);
    fm_alerts_push(a, t->fhr, t->st, complete_at);
    double t0 = now_ns();
    fm_alerts_push(a, &t->fhr[complete_at], &t->st[complete_at], 1);
    double dt = s.t_emit > 0 ? s.t_emit - t0 : -1;
    fm_alerts_destroy(a);
    return dt;
}

static int matched(const evlist *a, const fm_alert_event *e)
{
    for (size_t j = 0; j < a->n; j++)
        if (a->ev[j].type == FM_ALERT_OPENED && a->ev[j].rule == e->rule &&
            a->ev[j].start_s <= e->end_s + 60 && e->start_s <= a->ev[j].end_s + 60)
            return 1;
    return 0;
}

static int cmpstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int real_traces(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        printf("no folder %s: skipped\n", dir);
        return 0;
    }
    char *names[1024];
    size_t nn = 0;
    struct dirent *de;
    while ((de = readdir(d)) && nn < 1024) {
        size_t l = strlen(de->d_name);
        if (l > 4 && !strcmp(de->d_name + l - 4, ".fhr"))
            names[nn++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, nn, sizeof *names, cmpstr);
    static evlist L, U;
    double hours = 0;
    size_t unmatched_live[FM_ALERT_N_RULES] = {0}, unmatched_up[FM_ALERT_N_RULES] = {0};
    size_t opened[FM_ALERT_N_RULES] = {0}, events = 0, episodes = 0, live_ok = 0, live_n = 0,
           up_ok = 0, up_n = 0, worst_dup = 0;
    double t_live = 0;
    for (size_t i = 0; i < nn; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        fm_trace *ft = NULL;
        if (fm_trace_read(path, FM_TRACE_AUTO, &ft, NULL, 0) != FM_OK)
            continue;
        tr t = {ft->n < 3600 * 4 ? ft->n : 3600 * 4, ft->fhr_bpm, ft->state, NULL, 0};
        fm_alerts_config cfg;
        fm_alerts_config_default(&cfg);
        L.n = U.n = 0;
        double t0 = now_ns();
        tr_run_live(&t, &cfg, NULL, &L);
        t_live += now_ns() - t0;
        tr_run_upload(&t, &cfg, NULL, &U);
        hours += (double)t.n / 4.0 / 3600.0;
        size_t per_rule[FM_ALERT_N_RULES] = {0};
        for (size_t k = 0; k < L.n; k++) {
            events++;
            if (L.ev[k].type != FM_ALERT_OPENED)
                continue;
            episodes++;
            opened[L.ev[k].rule]++;
            per_rule[L.ev[k].rule]++;
            live_n++;
            int m = matched(&U, &L.ev[k]);
            live_ok += m;
            if (!m)
                unmatched_live[L.ev[k].rule]++;
        }
        for (int r = 0; r < FM_ALERT_N_RULES; r++)
            worst_dup = per_rule[r] > worst_dup ? per_rule[r] : worst_dup;
        for (size_t k = 0; k < U.n; k++)
            if (U.ev[k].type == FM_ALERT_OPENED) {
                up_n++;
                int m = matched(&L, &U.ev[k]);
                up_ok += m;
                if (!m)
                    unmatched_up[U.ev[k].rule]++;
            }
        fm_trace_destroy(ft);
    }
    printf("real recordings: %zu from %s, first 60 min each, %.1f h in all\n", nn, dir, hours);
    printf("live: %.0f ms per hour of trace (rules + re-analysis every 2 min)\n",
           t_live / 1e6 / hours);
    printf("episodes per hour (live): %.2f; events per episode: %.2f; most episodes of one rule "
           "in one recording: %zu\n",
           episodes / hours, episodes ? (double)events / episodes : 0, worst_dup);
    for (int r = 0; r < FM_ALERT_N_RULES; r++)
        if (opened[r])
            printf("  %-24s %4zu episodes  %.2f /h  (live only %zu, upload only %zu)\n",
                   fm_alert_rule_code((fm_alert_rule)r), opened[r], opened[r] / hours,
                   unmatched_live[r], unmatched_up[r]);
    printf("live episodes also found by the upload: %zu / %zu; upload episodes also found live: "
           "%zu / %zu\n",
           live_ok, live_n, up_ok, up_n);
    for (size_t i = 0; i < nn; i++)
        free(names[i]);
    return 0;
}

int main(int argc, char **argv)
{
    use_wall = getenv("FM_BENCH_WALL") && atoi(getenv("FM_BENCH_WALL"));
    if (argc > 2 && !strcmp(argv[1], "--real"))
        return real_traces(argv[2]);
    int runs = argc > 1 ? atoi(argv[1]) : 2000;
    if (runs < 10)
        runs = 10;
    double *v = malloc((size_t)runs * sizeof *v);
    printf("bench_alerts: %d runs, %s time\n", runs, use_wall ? "wall-clock" : "thread CPU");

    /* 1. sample-level latency */
    struct {
        const char *name;
        fm_alert_rule rule;
    } cases[] = {{"fhr_below_80 (push of completing sample)", FM_ALERT_FHR_BELOW_80},
                 {"prolonged_deceleration (idem)", FM_ALERT_PROLONGED_DECEL},
                 {"maternal_capture (idem)", FM_ALERT_MATERNAL_CAPTURE}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        int n = 0, missed = 0;
        for (int k = 0; k < runs; k++) {
            tr *t = tr_new(900, 140, 10, (uint64_t)k + 1);
            const fm_ctg_result *r = NULL;
            fm_ctg *q = NULL;
            size_t at;
            if (cases[c].rule == FM_ALERT_MATERNAL_CAPTURE) {
                tr_lost_share(t, 600, 700, 1.0, 1.0, FM_STATE_MATERNAL);
                at = 600 * 4 + 120; /* > 50 % of 60 s */
            } else {
                tr_dip(t, 600, 800, cases[c].rule == FM_ALERT_FHR_BELOW_80 ? 70 : 110);
                at = 600 * 4 + 720; /* > 180 s */
                if (cases[c].rule == FM_ALERT_PROLONGED_DECEL) {
                    q = fm_ctg_create(NULL);
                    fm_ctg_update(q, t->fhr, t->st, 600 * 4);
                    fm_ctg_get_result(q, &r);
                }
            }
            double d = one_latency(t, cases[c].rule, r, at);
            if (d >= 0)
                v[n++] = d;
            else
                missed++;
            fm_ctg_destroy(q);
            tr_free(t);
            if (cases[c].rule == FM_ALERT_PROLONGED_DECEL && k >= runs / 10)
                break; /* each run re-analyses 10 min: fewer runs are enough */
        }
        if (n)
            pct(cases[c].name, v, n, "us", 1e3);
        if (missed)
            printf("  MISSED %d runs\n", missed);
    }

    /* 2. analysis-level: re-analysis and rule pass */
    const double lens[] = {1200, 3600};
    for (size_t l = 0; l < 2; l++) {
        tr *t = tr_new(lens[l], 104, 3, 99);
        tr_dip(t, lens[l] / 2, lens[l] / 2 + 60, 80);
        int m = runs / 20 > 20 ? runs / 20 : 20;
        double *ca = malloc((size_t)m * sizeof *ca), *ua = malloc((size_t)m * sizeof *ua);
        const size_t step = (size_t)(TR_REANALYSIS_S * 4);
        for (int k = 0; k < m; k++) {
            /* live: the previous analysis 2 min ago, then 2 min of samples, then this one */
            const fm_ctg_result *r;
            fm_ctg *q = fm_ctg_create(NULL);
            fm_ctg_update(q, t->fhr, t->st, t->n - step);
            fm_ctg_get_result(q, &r);
            fm_ctg_update(q, t->fhr + t->n - step, t->st + t->n - step, step);
            double t0 = now_ns();
            fm_ctg_get_result(q, &r);
            double t1 = now_ns();
            fm_alerts *a = fm_alerts_create(NULL);
            fm_alerts_push(a, t->fhr, t->st, t->n);
            double t2 = now_ns();
            fm_alerts_update(a, r);
            double t3 = now_ns();
            ca[k] = t1 - t0;
            ua[k] = t3 - t2;
            fm_alerts_destroy(a);
            fm_ctg_destroy(q);
        }
        char name[96];
        snprintf(name, sizeof name, "fm_ctg_get_result at %.0f min", lens[l] / 60);
        pct(name, ca, m, "ms", 1e6);
        snprintf(name, sizeof name, "fm_alerts_update at %.0f min", lens[l] / 60);
        pct(name, ua, m, "us", 1e3);
        free(ca), free(ua);
        tr_free(t);
    }

    /* 3. cost per sample, live style (one sample per push) */
    {
        tr *t = tr_new(3600, 140, 10, 7);
        tr_dip(t, 900, 1150, 72);
        tr_lost_share(t, 2000, 2200, 0.7, 3.0, FM_STATE_LOST);
        tr_lost_share(t, 2500, 2600, 1.0, 1.0, FM_STATE_MATERNAL);
        int m = runs / 100 > 5 ? runs / 100 : 5;
        double *ps = malloc((size_t)m * sizeof *ps);
        for (int k = 0; k < m; k++) {
            fm_alerts *a = fm_alerts_create(NULL);
            fm_alert_event ev;
            double t0 = now_ns();
            for (size_t i = 0; i < t->n; i++) {
                fm_alerts_push(a, &t->fhr[i], &t->st[i], 1);
                while (fm_alerts_pop(a, &ev))
                    ;
            }
            ps[k] = (now_ns() - t0) / (double)t->n;
            fm_alerts_destroy(a);
        }
        pct("fm_alerts_push per sample (60 min, 1 by 1)", ps, m, "ns", 1.0);
        printf("  => 1000 live streams at 4 Hz: %.3f %% of one core for sample-level rules\n",
               ps[m / 2] * 4000.0 / 1e9 * 100.0);
        free(ps);
        tr_free(t);
    }
    free(v);
    return 0;
}
