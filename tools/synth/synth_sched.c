/* fm_synth scheduling: when each sound happens and what it sounds like.
 *
 * For: turning the fetal and maternal rate traces into beat times (integrating the instantaneous
 * rate), expanding every beat into its Doppler sound events (timing, duration, amplitude, Doppler
 * frequency sweep), drawing beat-to-beat and slow probe-angle variation, and expanding probe
 * movement events into scrapes and thumps. Events are generated a little ahead of the render
 * position and dropped once they are over, so memory stays bounded whatever the length.
 * Not for: turning events into samples (synth.c), or anything the engine would estimate.
 *
 * Cardiac timing (fetal echocardiography and Doppler valve-timing studies: isovolumic
 * contraction ~35 ms, ejection ~170-180 ms, isovolumic relaxation ~45 ms, mechanical PR ~100 ms
 * at 140 bpm) scales with the square root of the cycle length, so systole stays ~0.2-0.25 s while
 * diastole absorbs most rate changes. Doppler shift f = 2 f0 v cos(theta) / c; the tables are
 * for f0 = 2 MHz (walls at 2-10 cm/s give 30-300 Hz, valve leaflets 200-950 Hz, blood
 * 150-1400 Hz) and scale with the configured probe frequency. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

#define SY_TREF_S (60.0 / 140.0) /* nominal fetal cycle */
#define SY_MAT_TREF_S (60.0 / 80.0)
#define SY_ANGLE_TAU_S 20.0 /* probe-angle wander time constant */
#define SY_COS_TAU_S 30.0
#define SY_COS_SD 0.08       /* relative wander of the Doppler frequencies */
#define SY_TIMING_SD_S 0.003 /* mechanical jitter of each component */
#define SY_FETAL_LEAD_S 0.2  /* earliest fetal sound relative to the beat time */

typedef struct sy_tmpl {
    double off, dur, amp, f_lo, f_hi, peak, floor, rel_bw;
    int voice;
} sy_tmpl;

double sy_bump(double u, double peak)
{
    if (!(u > 0.0 && u < 1.0))
        return 0.0;
    double s = u < peak ? u / peak : (1.0 - u) / (1.0 - peak);
    return s * s * (3.0 - 2.0 * s);
}

/* One fetal cardiac cycle of length T starting (time 0) at atrioventricular valve closure, the
 * onset of ventricular systole. Returns the number of rows (heart sounds, then umbilical). */
static int fetal_template(double T, sy_tmpl *t)
{
    double s = sqrt(T / SY_TREF_S);
    if (s < 0.7)
        s = 0.7;
    if (s > 1.5)
        s = 1.5;
    double ict = 0.035 * s, et = 0.175 * s, irt = 0.045 * s, pr = 0.10 * s;
    /* clang-format off */
    const sy_tmpl rows[] = {
        /* off            dur        amp   f_lo  f_hi  peak  floor bw   voice */
        {-pr,             0.070 * s, 0.55, 30,  140,  0.45, 0, 0.6, SY_V_WALL},  /* atrial wall */
        {-pr + 0.01,      0.075 * s, 0.30, 150, 600,  0.50, 0, 0.5, SY_V_FLOW},  /* A-wave inflow */
        {-0.005,          0.022,     0.85, 250, 900,  0.25, 0, 0.5, SY_V_VALVE}, /* AV closure */
        {0.005,           0.110 * s, 1.00, 40,  280,  0.35, 0, 0.6, SY_V_WALL},  /* ventricles */
        {ict - 0.005,     0.020,     0.55, 250, 800,  0.25, 0, 0.5, SY_V_VALVE}, /* SL opening */
        {ict,             et,        0.45, 250, 1400, 0.30, 0, 0.45, SY_V_FLOW}, /* ejection */
        {ict + et - 0.005, 0.020,    0.75, 300, 950,  0.25, 0, 0.5, SY_V_VALVE}, /* SL closure */
        {ict + et + 0.01, 0.090 * s, 0.60, 30,  200,  0.40, 0, 0.6, SY_V_WALL},  /* relaxation */
        {ict + et + irt - 0.005, 0.022, 0.45, 200, 700, 0.25, 0, 0.5, SY_V_VALVE}, /* AV opening */
        {ict + et + irt,  0.090 * s, 0.35, 150, 650,  0.40, 0, 0.5, SY_V_FLOW},  /* E-wave */
        /* umbilical artery: systolic peak, positive diastolic flow (low placental resistance) */
        {0.07,            T,         1.00, 200, 900,  0.20, 0.45, 0.35, SY_V_UMB},
    };
    /* clang-format on */
    memcpy(t, rows, sizeof rows);
    return (int)(sizeof rows / sizeof rows[0]);
}
#define SY_FETAL_HEART_ROWS 10

/* One maternal cycle starting at the maternal heart beat: pulse transit to the uterine
 * arteries / aorta ~0.15 s, systolic whoosh ~0.3-0.4 s at 50-350 Hz, then low diastolic flow
 * (pregnancy makes the uterine arteries low-resistance), and a low wall thump. */
static int mat_template(double T, sy_tmpl *t)
{
    double s = sqrt(T / SY_MAT_TREF_S);
    if (s < 0.75)
        s = 0.75;
    if (s > 1.3)
        s = 1.3;
    double sys = 0.36 * s;
    double dia = T - 0.15 - sys + 0.05;
    if (dia < 0.1)
        dia = 0.1;
    /* clang-format off */
    const sy_tmpl rows[] = {
        {0.15,       sys,  1.00, 50, 350, 0.30, 0,   0.6, SY_V_MAT}, /* systolic flow */
        {0.12,       0.07, 0.60, 20, 80,  0.25, 0,   0.8, SY_V_MAT}, /* vessel wall */
        {0.15 + sys - 0.05, dia, 0.30, 40, 90, 0.50, 0.6, 0.6, SY_V_MAT}, /* diastolic flow */
    };
    /* clang-format on */
    memcpy(t, rows, sizeof rows);
    return (int)(sizeof rows / sizeof rows[0]);
}

double sy_shape(double u, double peak, double flr)
{
    if (!(u > 0.0 && u < 1.0))
        return 0.0;
    double b = sy_bump(u, peak);
    if (flr > 0.0) { /* the floor fades in and out over the first and last 5 % */
        double m = u < 0.5 ? u : 1.0 - u;
        double e = m >= 0.05 ? 1.0 : (m / 0.05) * (m / 0.05) * (3.0 - 2.0 * m / 0.05);
        if (flr * e > b)
            b = flr * e;
    }
    return b;
}

/* Integral over one event of its squared shape times amplitude squared (power x seconds). */
static double event_energy(const sy_tmpl *r)
{
    const int N = 2000;
    double e = 0.0;
    for (int i = 0; i < N; i++) {
        double w = sy_shape((i + 0.5) / N, r->peak, r->floor);
        e += w * w;
    }
    return r->amp * r->amp * r->dur * e / N;
}

static double template_power(int fetal, int from, int to, double T)
{
    sy_tmpl t[16];
    int n = fetal ? fetal_template(T, t) : mat_template(T, t);
    double e = 0.0;
    for (int i = from; i < to && i < n; i++)
        e += event_energy(&t[i]);
    return e / T;
}

double sy_fetal_nominal_power(void)
{
    return template_power(1, 0, SY_FETAL_HEART_ROWS, SY_TREF_S);
}
double sy_umb_nominal_power(void)
{
    return template_power(1, SY_FETAL_HEART_ROWS, 16, SY_TREF_S);
}
double sy_mat_nominal_power(void)
{
    return template_power(0, 0, 16, SY_MAT_TREF_S);
}

/* ---- beat timing ---- */

static double rate_at(const sy_phase *p, size_t i)
{
    return p->bpm[i < p->n ? i : p->n - 1];
}

/* Next beat: the time where the running integral of the (linearly interpolated) rate crosses
 * the next integer. Returns 0 past t_end. */
static int phase_next(sy_phase *p, double t_end, double *t_beat)
{
    for (;;) {
        double t_seg = p->seg * 0.25;
        if (t_seg > t_end)
            return 0;
        double a = rate_at(p, p->seg) / 60.0, b = (rate_at(p, p->seg + 1) / 60.0 - a) / 0.25;
        double inc = a * 0.25 + 0.5 * b * 0.0625, d = p->target - p->phase;
        if (d <= inc) {
            double disc = a * a + 2.0 * b * d;
            double tau = 2.0 * d / (a + sqrt(disc > 0.0 ? disc : 0.0));
            tau = tau < 0.0 ? 0.0 : tau > 0.25 ? 0.25 : tau;
            *t_beat = t_seg + tau;
            p->target += 1.0;
            return 1;
        }
        p->phase += inc;
        p->seg++;
    }
}

static double bpm_interp(const float *bpm, size_t n, double t)
{
    double x = t * 4.0;
    if (x <= 0.0)
        return bpm[0];
    size_t i = (size_t)x;
    if (i + 1 >= n)
        return bpm[n - 1];
    double f = x - (double)i;
    return bpm[i] + (bpm[i + 1] - bpm[i]) * f;
}

static fm_status push_ev(fm_synth *q, const sy_ev *e)
{
    if (q->n_ev == q->cap_ev) {
        size_t cap = q->cap_ev ? 2 * q->cap_ev : 256;
        sy_ev *p = realloc(q->ev, cap * sizeof *p);
        if (!p)
            return FM_ENOMEM;
        q->ev = p;
        q->cap_ev = cap;
    }
    q->ev[q->n_ev++] = *e;
    return FM_OK;
}

/* Advance a slow AR(1) angle state by dt (unit variance). */
static double ar_step(double x, double dt, double tau, sy_rng *r)
{
    double rho = sy_exp(-dt / tau);
    return rho * x + sqrt(1.0 - rho * rho) * sy_gauss(r);
}

static double clampd(double x, double lo, double hi)
{
    return x < lo ? lo : x > hi ? hi : x;
}

/* Amplitude factor of a log-normal level with SD sd_db (x standard normal), scaled so that its
 * mean POWER is 1: the nominal levels are then the long-run mean levels. */
static double lognormal_amp(double sd_db, double x)
{
    double k = sd_db * (SY_LN10 / 20.0);
    return sy_exp(k * x - k * k);
}

static fm_status emit_fetal_beat(fm_synth *q, double tb)
{
    sy_rng *r = &q->rng_fbeat;
    double T = 60.0 / bpm_interp(q->fhr_fill, q->n, tb);
    double dt = tb - q->last_fbeat_t;
    q->last_fbeat_t = tb;
    for (int v = SY_V_WALL; v <= SY_V_UMB; v++)
        q->angle[v] = ar_step(q->angle[v], dt, SY_ANGLE_TAU_S, r);
    q->fetal_cos = ar_step(q->fetal_cos, dt, SY_COS_TAU_S, r);
    double fc = clampd(1.0 + SY_COS_SD * q->fetal_cos, 0.6, 1.15) * q->cfg.probe_mhz / 2.0;

    sy_tmpl t[16];
    int n = fetal_template(T, t);
    double jit[16], tj[16];
    for (int i = 0; i < n; i++) { /* same draws whether audible or not */
        jit[i] = lognormal_amp(q->cfg.beat_sd_db, sy_gauss(r));
        tj[i] = SY_TIMING_SD_S * sy_gauss(r);
    }
    size_t k = (size_t)floor(tb * 4.0 + 0.5);
    if (k >= q->n)
        k = q->n - 1;
    if (!isfinite(q->fhr_in[k]))
        return FM_OK; /* the heart beats on, but the probe does not hear it */
    if (tb < q->total / q->cfg.rate_hz)
        q->stats.fetal_beats++;
    for (int i = 0; i < n; i++) {
        int umb = t[i].voice == SY_V_UMB;
        sy_ev e = {
            .t0 = tb + t[i].off + (umb ? 0.0 : tj[i]),
            .dur = t[i].dur,
            /* cord flow is continuous: no beat-to-beat amplitude draw on it */
            .amp = t[i].amp * (umb ? q->umb_norm : q->fetal_norm * jit[i]) *
                   lognormal_amp(q->cfg.angle_sd_db, q->angle[t[i].voice]),
            .f_lo = t[i].f_lo * fc,
            .f_hi = t[i].f_hi * fc,
            .peak = t[i].peak,
            .floor = t[i].floor,
            .rel_bw = t[i].rel_bw,
            .voice = t[i].voice,
        };
        fm_status st = push_ev(q, &e);
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

static fm_status emit_mat_beat(fm_synth *q, double tm)
{
    sy_rng *r = &q->rng_mbeat;
    double T = 60.0 / bpm_interp(q->mhr, q->n, tm);
    double dt = tm - q->last_mbeat_t;
    q->last_mbeat_t = tm;
    q->angle[SY_V_MAT] = ar_step(q->angle[SY_V_MAT], dt, SY_ANGLE_TAU_S, r);
    double fc = clampd(1.0 + SY_COS_SD * sy_gauss(r), 0.7, 1.2) * q->cfg.probe_mhz / 2.0;
    sy_tmpl t[8];
    int n = mat_template(T, t);
    if (tm < q->total / q->cfg.rate_hz)
        q->stats.maternal_beats++;
    for (int i = 0; i < n; i++) {
        double jit = lognormal_amp(q->cfg.beat_sd_db, sy_gauss(r));
        sy_ev e = {
            .t0 = tm + t[i].off + SY_TIMING_SD_S * sy_gauss(r),
            .dur = t[i].dur,
            .amp = t[i].amp * q->mat_norm * jit *
                   lognormal_amp(q->cfg.angle_sd_db, q->angle[SY_V_MAT]),
            .f_lo = t[i].f_lo * fc,
            .f_hi = t[i].f_hi * fc,
            .peak = t[i].peak,
            .floor = t[i].floor,
            .rel_bw = t[i].rel_bw,
            .voice = SY_V_MAT,
        };
        fm_status st = push_ev(q, &e);
        if (st != FM_OK)
            return st;
    }
    return FM_OK;
}

fm_status sy_sched_init(fm_synth *q)
{
    sy_rng r;
    sy_rng_seed(&r, q->cfg.seed, SY_S_PHASE);
    q->fphase = (sy_phase){.bpm = q->fhr_fill, .n = q->n, .seg = 0, .phase = -sy_u01(&r)};
    q->mphase = (sy_phase){.bpm = q->mhr, .n = q->n, .seg = 0, .phase = -sy_u01(&r)};
    sy_rng_seed(&q->rng_fbeat, q->cfg.seed, SY_S_FETAL_BEAT);
    sy_rng_seed(&q->rng_mbeat, q->cfg.seed, SY_S_MAT_BEAT);
    for (int v = 0; v < SY_NVOICE; v++)
        q->angle[v] = sy_gauss(&r);
    q->fetal_cos = sy_gauss(&r);
    q->sched_until = -1.0;
    q->next_fbeat_t = q->next_mbeat_t = -1.0;
    return FM_OK;
}

static int cmp_ev(const void *a, const void *b)
{
    const sy_ev *x = a, *y = b;
    if (x->t0 != y->t0)
        return x->t0 < y->t0 ? -1 : 1;
    if (x->f_hi != y->f_hi)
        return x->f_hi < y->f_hi ? -1 : 1;
    return 0;
}

/* Probe movement: a tiling of overlapping scrapes (broadband friction noise, 80-500 ms, random
 * level +-5 dB and spectral tilt) plus impulsive low thumps; mean power about level_db. */
static fm_status expand_movement(fm_synth *q, const sy_user_ev *u, size_t idx, size_t *cap)
{
    sy_rng r;
    sy_rng_seed(&r, q->cfg.seed, SY_S_ART + idx);
    double A = sy_db_amp(isfinite(u->level_db) ? u->level_db : 15.0);
    double t1 = u->t1, len_s = (double)q->total / q->cfg.rate_hz;
    if (t1 > len_s + 1.0)
        t1 = len_s + 1.0; /* nothing is heard past the end: bound the work and memory */
    if (t1 <= u->t0)
        return FM_OK;
    double D = t1 - u->t0;
    int n_thump = 1 + (int)(D * 1.5 * sy_u01(&r));
    size_t need = q->n_art + (size_t)(D / 0.048) + 2 + (size_t)n_thump;
    if (need > *cap) {
        size_t c = need * 2;
        sy_ev *p = realloc(q->art, c * sizeof *p);
        if (!p)
            return FM_ENOMEM;
        q->art = p;
        *cap = c;
    }
    for (double t = u->t0; t < t1;) {
        double d = 0.08 + 0.42 * sy_u01(&r), x = sy_u01(&r);
        sy_ev e = {.t0 = t,
                   .dur = t + d > t1 ? t1 - t : d,
                   .amp = A * 1.2 * sy_db_amp(5.0 * sy_gauss(&r)),
                   .f_lo = 20.0 + 60.0 * sy_u01(&r),
                   .f_hi = 150.0 + 1350.0 * x * x,
                   .peak = 0.2 + 0.6 * sy_u01(&r),
                   .floor = 0.0,
                   .rel_bw = 0.9,
                   .voice = SY_V_ART};
        if (e.dur < 0.02)
            break;
        q->art[q->n_art++] = e;
        t += 0.6 * d;
    }
    for (int i = 0; i < n_thump; i++) {
        double t0 = u->t0 + sy_u01(&r) * (D > 0.1 ? D - 0.1 : 0.0);
        sy_ev e = {.t0 = t0,
                   .dur = 0.02 + 0.06 * sy_u01(&r),
                   .amp = 2.0 * A,
                   .f_lo = 15.0,
                   .f_hi = 60.0 + 80.0 * sy_u01(&r),
                   .peak = 0.1,
                   .floor = 0.0,
                   .rel_bw = 1.2,
                   .voice = SY_V_ART};
        q->art[q->n_art++] = e;
    }
    return FM_OK;
}

fm_status sy_sched_freeze(fm_synth *q)
{
    size_t cap = 0;
    for (size_t i = 0; i < q->n_uev; i++) {
        if (q->uev[i].type != FM_SYNTH_EV_MOVEMENT || q->cfg.noise_only)
            continue;
        fm_status st = expand_movement(q, &q->uev[i], i, &cap);
        if (st != FM_OK)
            return st;
    }
    if (q->n_art)
        qsort(q->art, q->n_art, sizeof *q->art, cmp_ev);
    return FM_OK;
}

fm_status sy_sched_advance(fm_synth *q, double until)
{
    if (until <= q->sched_until || q->cfg.noise_only)
        return FM_OK;
    double t_end = (double)q->total / q->cfg.rate_hz + 1.0;
    fm_status st = FM_OK;
    /* fetal: a beat's first sound starts up to SY_FETAL_LEAD_S before the beat time; the next
     * beat time is computed once and kept until it is due */
    while (st == FM_OK) {
        if (q->next_fbeat_t < 0.0 && !phase_next(&q->fphase, t_end, &q->next_fbeat_t))
            break; /* past the end: next_fbeat_t stays negative, phase_next keeps saying no */
        if (q->next_fbeat_t - SY_FETAL_LEAD_S >= until)
            break;
        st = emit_fetal_beat(q, q->next_fbeat_t);
        q->next_fbeat_t = -1.0;
    }
    while (st == FM_OK) {
        if (q->next_mbeat_t < 0.0 && !phase_next(&q->mphase, t_end, &q->next_mbeat_t))
            break;
        if (q->next_mbeat_t >= until)
            break;
        st = emit_mat_beat(q, q->next_mbeat_t);
        q->next_mbeat_t = -1.0;
    }
    while (st == FM_OK && q->art_next < q->n_art && q->art[q->art_next].t0 < until)
        st = push_ev(q, &q->art[q->art_next++]);
    q->sched_until = until;
    return st;
}

void sy_sched_prune(fm_synth *q, double t)
{
    size_t j = 0;
    for (size_t i = 0; i < q->n_ev; i++)
        if (q->ev[i].t0 + q->ev[i].dur >= t)
            q->ev[j++] = q->ev[i];
    q->n_ev = j;
}
