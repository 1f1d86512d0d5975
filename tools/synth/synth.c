/* fm_synth: life cycle, streaming rendering and ground truth of the synthetic Doppler generator.
 *
 * For: mixing the scheduled sound events (synth_sched.c) into audio samples. Each voice is
 * complex band-limited Gaussian noise (two cascaded one-pole low-passes on I and Q) shifted to a
 * Doppler centre frequency by a complex oscillator; its amplitude, centre frequency and bandwidth
 * are updated every control block (~1 ms) and the amplitude is interpolated linearly inside
 * the block. The background (receiver noise, rumble, hum, recorder floor), the user events'
 * gates (maternal-only, contact loss, clipping, noise bursts) and the +-1 limit come last.
 * Rendering is a pure function of the absolute sample index: block boundaries depend on the
 * index, never on how the caller splits its calls, so any chunking gives the same bits.
 * Not for: deciding when sounds happen (synth_sched.c). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "synth_internal.h"

#define SY_CTRL_HZ 1000.0  /* control blocks per second */
#define SY_RAMP_S 0.03     /* fade at the edges of user events */
#define SY_LOOKAHEAD_S 0.5 /* sounds are scheduled this far ahead */
#define SY_RUMBLE_HZ 25.0  /* rumble low-pass corner (two poles): energy < 80 Hz */
#define SY_MAX_4HZ ((size_t)24 * 3600 * 4)
#define SY_MIN_BW_HZ 20.0
#define SY_MOVE_DROP_DB 8.0 /* heart sounds fade while the probe moves off its target */

void fm_synth_config_default(fm_synth_config *c)
{
    memset(c, 0, sizeof *c);
    c->rate_hz = 8000.0;
    c->seed = 1;
    c->fetal_dbfs = -30.0;
    c->snr_db = 20.0;
    c->maternal_db = -12.0;
    c->maternal_only_db = 6.0;
    c->rumble_db = -12.0;
    c->umbilical_db = -10.0;
    c->hum_hz = 0.0;
    c->hum_db = -20.0;
    c->device_band_hz = 3000.0;
    c->floor_dbfs = -90.0;
    c->probe_mhz = 2.0;
    c->angle_sd_db = 4.0;
    c->beat_sd_db = 2.0;
    c->noise_only = 0;
}

static int in_range(double x, double lo, double hi)
{
    return isfinite(x) && x >= lo && x <= hi;
}

static int config_ok(const fm_synth_config *c)
{
    return in_range(c->rate_hz, FM_SYNTH_RATE_MIN_HZ, FM_SYNTH_RATE_MAX_HZ) &&
           in_range(c->fetal_dbfs, -120.0, 0.0) && in_range(c->snr_db, -40.0, 120.0) &&
           in_range(c->maternal_db, -120.0, 60.0) && in_range(c->maternal_only_db, -120.0, 60.0) &&
           in_range(c->rumble_db, -120.0, 60.0) && in_range(c->umbilical_db, -120.0, 60.0) &&
           (c->hum_hz == 0.0 || in_range(c->hum_hz, 1.0, 0.45 * c->rate_hz)) &&
           in_range(c->hum_db, -120.0, 60.0) && in_range(c->device_band_hz, 100.0, 1e6) &&
           in_range(c->floor_dbfs, -200.0, 0.0) && in_range(c->angle_sd_db, 0.0, 20.0) &&
           in_range(c->probe_mhz, 1.0, 10.0) &&
           (c->speaker_hp_hz == 0.0 || in_range(c->speaker_hp_hz, 20.0, 0.45 * c->rate_hz)) &&
           (c->agc_s == 0.0 || in_range(c->agc_s, 0.05, 600.0)) &&
           in_range(c->beat_sd_db, 0.0, 20.0);
}

static int bpm_ok(float v)
{
    return isfinite(v) && v >= 50.0f && v <= 240.0f;
}

static int mhr_ok(const float *m, size_t i)
{
    return isfinite(m[i]) && m[i] >= 30.0f && m[i] <= 240.0f;
}

/* The maternal rate. Given with gaps: linear interpolation between the valid neighbours (held at
 * the ends). Not given at all (NULL or no valid value): a plausible one, a resting level drawn in
 * 70-95 bpm, a slow Ornstein-Uhlenbeck drift (SD 5 bpm, 2 min) and respiratory sinus
 * arrhythmia (+-2.5 bpm at 0.2-0.3 Hz), kept in 60-110 bpm. */
static void make_mhr(fm_synth *q, const float *mhr_in)
{
    size_t prev = SIZE_MAX;
    for (size_t i = 0; mhr_in && i < q->n; i++) {
        if (!mhr_ok(mhr_in, i))
            continue;
        q->mhr[i] = mhr_in[i];
        for (size_t j = prev == SIZE_MAX ? 0 : prev + 1; j < i; j++)
            q->mhr[j] = prev == SIZE_MAX ? mhr_in[i]
                                         : mhr_in[prev] + (mhr_in[i] - mhr_in[prev]) *
                                                              (float)(j - prev) / (float)(i - prev);
        prev = i;
    }
    if (prev != SIZE_MAX) {
        for (size_t j = prev + 1; j < q->n; j++)
            q->mhr[j] = mhr_in[prev];
        return;
    }
    sy_rng r;
    sy_rng_seed(&r, q->cfg.seed, SY_S_MHR);
    double base = 70.0 + 25.0 * sy_u01(&r), x = 5.0 * sy_gauss(&r);
    double fr = 0.2 + 0.1 * sy_u01(&r), ph = 2.0 * SY_PI * sy_u01(&r);
    double rho = sy_exp(-0.25 / 120.0), k = sqrt(1.0 - rho * rho);
    for (size_t i = 0; i < q->n; i++) {
        double sn, cs;
        x = rho * x + k * 5.0 * sy_gauss(&r);
        sy_sincos(2.0 * SY_PI * fr * (double)i * 0.25 + ph, &sn, &cs);
        double v = base + x + 2.5 * sn;
        q->mhr[i] = (float)(v < 60.0 ? 60.0 : v > 110.0 ? 110.0 : v);
    }
}

static void make_fhr(fm_synth *q, const float *fhr)
{
    float first = 140.0f;
    for (size_t i = 0; i < q->n; i++)
        if (bpm_ok(fhr[i])) {
            first = fhr[i];
            break;
        }
    float last = first;
    for (size_t i = 0; i < q->n; i++) {
        q->fhr_in[i] = bpm_ok(fhr[i]) ? fhr[i] : NAN;
        if (bpm_ok(fhr[i]))
            last = fhr[i];
        q->fhr_fill[i] = last; /* the heart beats on through gaps at its last rate */
    }
}

static void make_rumble_mod(fm_synth *q)
{
    sy_rng r;
    sy_rng_seed(&r, q->cfg.seed, SY_S_RUMBLE_MOD);
    double rho = sy_exp(-0.25 / 5.0), k = sqrt(1.0 - rho * rho), x = sy_gauss(&r);
    for (size_t i = 0; i < q->n; i++) {
        x = rho * x + k * sy_gauss(&r);
        q->rumble_mod[i] = (float)sy_db_amp(4.0 * x);
    }
}

/* Gain of a two-pole cascade y = a y + g x (twice) that gives unit output variance. */
static double cascade_gain(double a)
{
    double a2 = a * a;
    return sqrt(sqrt((1.0 - a2) * (1.0 - a2) * (1.0 - a2) / (1.0 + a2)));
}

/* Receiver noise: Gaussian noise through a Butterworth low-pass at the device band edge,
 * normalised to unit variance from its impulse response. */
static void make_noise_filter(fm_synth *q)
{
    double fc = q->cfg.device_band_hz, fs = q->cfg.rate_hz;
    if (fc > 0.45 * fs)
        fc = 0.45 * fs;
    double s, c;
    sy_sincos(2.0 * SY_PI * fc / fs, &s, &c);
    double alpha = s / (2.0 * 0.70710678118654752), a0 = 1.0 + alpha;
    q->nb0 = (1.0 - c) / 2.0 / a0;
    q->nb1 = (1.0 - c) / a0;
    q->nb2 = q->nb0;
    q->na1 = -2.0 * c / a0;
    q->na2 = (1.0 - alpha) / a0;
    double x1 = 0, x2 = 0, y1 = 0, y2 = 0, e = 0;
    for (int i = 0; i < 65536; i++) {
        double x = i == 0 ? 1.0 : 0.0;
        double y = q->nb0 * x + q->nb1 * x1 + q->nb2 * x2 - q->na1 * y1 - q->na2 * y2;
        x2 = x1, x1 = x, y2 = y1, y1 = y;
        e += y * y;
    }
    q->noise_gain = 1.0 / sqrt(e);
}

/* The loudspeaker of a handheld Doppler, recorded by a phone held against it, loses the low
 * frequencies: a 2-pole Butterworth high-pass. */
static void make_speaker_filter(fm_synth *q)
{
    double s, c;
    sy_sincos(2.0 * SY_PI * q->cfg.speaker_hp_hz / q->cfg.rate_hz, &s, &c);
    double alpha = s / (2.0 * 0.70710678118654752), a0 = 1.0 + alpha;
    q->hb0 = (1.0 + c) / 2.0 / a0;
    q->hb1 = -(1.0 + c) / a0;
    q->hb2 = q->hb0;
    q->ha1 = -2.0 * c / a0;
    q->ha2 = (1.0 - alpha) / a0;
}

fm_synth *fm_synth_create(const fm_synth_config *c, const float *fhr_bpm, size_t n,
                          const float *mhr_bpm, fm_status *status)
{
    fm_status dummy;
    if (!status)
        status = &dummy;
    *status = FM_EINVAL;
    if (!c || !fhr_bpm || n == 0 || n > SY_MAX_4HZ || !config_ok(c))
        return NULL;
    *status = FM_ENOMEM;
    fm_synth *q = calloc(1, sizeof *q);
    if (!q)
        return NULL;
    q->cfg = *c;
    q->n = n;
    q->fhr_in = malloc(n * sizeof(float));
    q->fhr_fill = malloc(n * sizeof(float));
    q->mhr = malloc(n * sizeof(float));
    q->rumble_mod = malloc(n * sizeof(float));
    q->ctrl_n = (size_t)floor(c->rate_hz / SY_CTRL_HZ + 0.5);
    if (q->ctrl_n < 1)
        q->ctrl_n = 1;
    q->acc = malloc(q->ctrl_n * sizeof(double));
    if (!q->fhr_in || !q->fhr_fill || !q->mhr || !q->rumble_mod || !q->acc) {
        fm_synth_destroy(q);
        return NULL;
    }
    q->total = (size_t)floor((double)n * c->rate_hz / 4.0);
    make_fhr(q, fhr_bpm);
    make_mhr(q, mhr_bpm);
    make_rumble_mod(q);
    make_noise_filter(q);
    if (c->speaker_hp_hz > 0.0)
        make_speaker_filter(q);
    q->agc_alpha = c->agc_s > 0.0 ? sy_exp(-(double)q->ctrl_n / (c->agc_s * c->rate_hz)) : 0.0;
    q->agc_pow = 1.0;
    q->agc_next = 1.0;

    /* levels: amplitudes in units where the nominal fetal heart power is 1 */
    q->scale = sy_db_amp(c->fetal_dbfs);
    q->fetal_norm = 1.0 / sqrt(sy_fetal_nominal_power());
    q->umb_norm = sy_db_amp(c->umbilical_db) / sqrt(sy_umb_nominal_power());
    q->mat_norm = 1.0 / sqrt(sy_mat_nominal_power());
    q->mat_bg = sy_db_amp(c->maternal_db);
    q->mat_only_default = sy_db_amp(c->maternal_only_db);
    q->rumble_amp = c->noise_only ? 0.0 : sy_db_amp(c->rumble_db);
    q->noise_pow = 1.0 / (sy_db_amp(c->snr_db) * sy_db_amp(c->snr_db));
    q->hum_amp = c->hum_hz > 0.0 ? sqrt(2.0) * sy_db_amp(c->hum_db) : 0.0;
    q->floor_sd = sy_db_amp(c->floor_dbfs);
    q->move_drop = sy_db_amp(-SY_MOVE_DROP_DB);

    for (int v = 0; v < SY_NVOICE; v++) {
        sy_voice *w = &q->v[v];
        sy_rng_seed(&w->rng, c->seed, SY_S_VOICE + (uint64_t)v);
        w->c = 1.0;
        w->cr = 1.0;
        w->freq_hz = -1.0;
    }
    sy_rng_seed(&q->rng_rumble, c->seed, SY_S_RUMBLE);
    sy_rng_seed(&q->rng_noise, c->seed, SY_S_NOISE);
    sy_rng_seed(&q->rng_floor, c->seed, SY_S_FLOOR);
    q->ra = sy_exp(-2.0 * SY_PI * SY_RUMBLE_HZ / c->rate_hz);
    q->rg = cascade_gain(q->ra);
    if (q->hum_amp > 0.0) {
        q->hc = q->h3c = 1.0;
        sy_sincos(2.0 * SY_PI * c->hum_hz / c->rate_hz, &q->hsr, &q->hcr);
        sy_sincos(2.0 * SY_PI * 3.0 * c->hum_hz / c->rate_hz, &q->h3sr, &q->h3cr);
    }
    *status = sy_sched_init(q);
    if (*status != FM_OK) {
        fm_synth_destroy(q);
        return NULL;
    }
    return q;
}

void fm_synth_destroy(fm_synth *q)
{
    if (!q)
        return;
    free(q->fhr_in);
    free(q->fhr_fill);
    free(q->mhr);
    free(q->rumble_mod);
    free(q->acc);
    free(q->uev);
    free(q->ev);
    free(q->art);
    free(q);
}

fm_status fm_synth_add_event(fm_synth *q, fm_synth_event_type type, double start_s,
                             double duration_s, double level_db)
{
    if (!q || q->started || (int)type < 0 || type >= FM_SYNTH_EV_COUNT || !isfinite(start_s) ||
        start_s < 0.0 || !isfinite(duration_s) || duration_s <= 0.0 ||
        (!isnan(level_db) && !in_range(level_db, -120.0, 60.0)))
        return FM_EINVAL;
    if (q->n_uev >= FM_SYNTH_MAX_EVENTS)
        return FM_ERANGE;
    if (!q->uev && !(q->uev = malloc(FM_SYNTH_MAX_EVENTS * sizeof *q->uev)))
        return FM_ENOMEM;
    /* insertion keeps the list sorted by start (stable for equal starts) */
    size_t i = q->n_uev++;
    while (i > 0 && q->uev[i - 1].t0 > start_s) {
        q->uev[i] = q->uev[i - 1];
        i--;
    }
    q->uev[i] = (sy_user_ev){(int)type, start_s, start_s + duration_s, level_db};
    return FM_OK;
}

fm_status fm_synth_add_random_events(fm_synth *q, uint64_t seed, double per_min)
{
    static const struct {
        fm_synth_event_type type;
        double weight, min_s, max_s;
    } kinds[] = {{FM_SYNTH_EV_MOVEMENT, 0.45, 0.3, 3.0},
                 {FM_SYNTH_EV_CONTACT_LOSS, 0.15, 1.0, 8.0},
                 {FM_SYNTH_EV_MATERNAL_ONLY, 0.15, 10.0, 60.0},
                 {FM_SYNTH_EV_NOISE_BURST, 0.15, 0.5, 3.0},
                 {FM_SYNTH_EV_CLIP, 0.10, 0.3, 2.0}};
    if (!q || q->started || !in_range(per_min, 0.0, 20.0))
        return FM_EINVAL;
    if (per_min == 0.0)
        return FM_OK;
    sy_rng r;
    sy_rng_seed(&r, seed, SY_S_RANDOM_EVENTS);
    double len_s = (double)q->n * 0.25, t = 0.0;
    for (;;) {
        t += -sy_log(1.0 - sy_u01(&r)) * 60.0 / per_min; /* exponential gaps */
        double u = sy_u01(&r), d = sy_u01(&r), acc = 0.0;
        if (t >= len_s)
            return FM_OK;
        size_t k = 0;
        while (k + 1 < sizeof kinds / sizeof kinds[0] && u >= acc + kinds[k].weight)
            acc += kinds[k++].weight;
        double dur = kinds[k].min_s + (kinds[k].max_s - kinds[k].min_s) * d;
        fm_status st = fm_synth_add_event(q, kinds[k].type, t, dur, NAN);
        if (st != FM_OK)
            return st;
    }
}

size_t fm_synth_length(const fm_synth *q)
{
    return q ? q->total : 0;
}
size_t fm_synth_position(const fm_synth *q)
{
    return q ? q->pos : 0;
}
size_t fm_synth_truth_count(const fm_synth *q)
{
    return q ? q->n : 0;
}

void fm_synth_get_stats(const fm_synth *q, fm_synth_stats *s)
{
    if (q && s)
        *s = q->stats;
}

/* ---- control: what every voice and gain should be at time t ---- */

typedef struct sy_gains {
    double body;      /* 0 during contact loss */
    double heart;     /* fetal and maternal sounds while the probe moves */
    double fetal;     /* 0 during maternal-only stretches */
    double mat;       /* maternal level */
    double clip;      /* gain into the limiter */
    double noise_pow; /* receiver noise power */
} sy_gains;

static double user_gate(const sy_user_ev *e, double t)
{
    if (t <= e->t0 || t >= e->t1)
        return 0.0;
    double a = (t - e->t0) / SY_RAMP_S, b = (e->t1 - t) / SY_RAMP_S, m = a < b ? a : b;
    return m >= 1.0 ? 1.0 : m * m * (3.0 - 2.0 * m);
}

/* Gains at time t from the user events; events before index lo are over. */
static void eval_gains(const fm_synth *q, size_t lo, double t, sy_gains *g)
{
    double g_mo = 0, l_mo = q->mat_only_default, g_cl = 0, g_clip = 0, l_clip = 20.0, nb = 0;
    double g_mv = 0;
    for (size_t i = lo; i < q->n_uev && q->uev[i].t0 < t; i++) {
        const sy_user_ev *e = &q->uev[i];
        double x = user_gate(e, t);
        if (x <= 0.0)
            continue;
        switch (e->type) {
        case FM_SYNTH_EV_MATERNAL_ONLY:
            if (x > g_mo) {
                g_mo = x;
                l_mo = isfinite(e->level_db) ? sy_db_amp(e->level_db) : q->mat_only_default;
            }
            break;
        case FM_SYNTH_EV_CONTACT_LOSS: g_cl = x > g_cl ? x : g_cl; break;
        case FM_SYNTH_EV_CLIP:
            if (x > g_clip) {
                g_clip = x;
                l_clip = isfinite(e->level_db) ? e->level_db : 20.0;
            }
            break;
        case FM_SYNTH_EV_NOISE_BURST: {
            double a = sy_db_amp(isfinite(e->level_db) ? e->level_db : 6.0);
            nb += x * a * a;
            break;
        }
        case FM_SYNTH_EV_MOVEMENT: /* its scrapes and thumps are sound events (synth_sched.c) */
            g_mv = x > g_mv ? x : g_mv;
            break;
        default: break;
        }
    }
    g->body = 1.0 - g_cl;
    g->heart = 1.0 + (q->move_drop - 1.0) * g_mv;
    g->fetal = 1.0 - g_mo;
    g->mat = q->mat_bg + (l_mo - q->mat_bg) * g_mo;
    g->clip = g_clip > 0.0 ? 1.0 + (sy_db_amp(l_clip) - 1.0) * g_clip : 1.0;
    g->noise_pow = q->noise_pow + nb;
}

/* Amplitude and centre frequency of every voice at time t (power sum of its events). */
static void eval_voices(const fm_synth *q, double t, const sy_gains *g, double *amp, double *freq,
                        double *bw)
{
    double p[SY_NVOICE] = {0}, pf[SY_NVOICE] = {0}, pb[SY_NVOICE] = {0};
    for (size_t i = 0; i < q->n_ev; i++) {
        const sy_ev *e = &q->ev[i];
        double u = (t - e->t0) / e->dur;
        if (!(u > 0.0 && u < 1.0))
            continue;
        double w = e->amp * sy_shape(u, e->peak, e->floor), w2 = w * w;
        double f = e->f_lo + (e->f_hi - e->f_lo) * sy_bump(u, e->peak);
        p[e->voice] += w2;
        pf[e->voice] += w2 * f;
        pb[e->voice] += w2 * e->rel_bw;
    }
    for (int v = 0; v < SY_NVOICE; v++) {
        double gain = g->body;
        if (v <= SY_V_UMB)
            gain *= g->fetal * g->heart;
        else if (v == SY_V_MAT)
            gain *= g->mat * g->heart;
        amp[v] = p[v] > 0.0 ? gain * sqrt(p[v]) : 0.0;
        freq[v] = p[v] > 0.0 ? pf[v] / p[v] : -1.0;
        bw[v] = p[v] > 0.0 ? pb[v] / p[v] : 0.5;
    }
}

static void voice_tune(const fm_synth *q, sy_voice *w, double f, double rel_bw)
{
    double nyq = 0.45 * q->cfg.rate_hz;
    if (f > nyq)
        f = nyq;
    if (f == w->freq_hz)
        return;
    w->freq_hz = f;
    sy_sincos(2.0 * SY_PI * f / q->cfg.rate_hz, &w->sr, &w->cr);
    double b = rel_bw * f;
    if (b < SY_MIN_BW_HZ)
        b = SY_MIN_BW_HZ;
    w->a = sy_exp(-2.0 * SY_PI * 0.5 * b / q->cfg.rate_hz);
    w->g = cascade_gain(w->a);
}

static fm_status control_step(fm_synth *q)
{
    double fs = q->cfg.rate_hz, t0 = (double)q->pos / fs;
    double t1 = (double)(q->pos + q->ctrl_n) / fs;
    double amp[SY_NVOICE], freq[SY_NVOICE], bw[SY_NVOICE];
    sy_gains g;
    fm_status st = sy_sched_advance(q, t1 + SY_LOOKAHEAD_S);
    if (st != FM_OK)
        return st;
    sy_sched_prune(q, t0);
    while (q->uev_lo < q->n_uev && q->uev[q->uev_lo].t1 <= t0)
        q->uev_lo++; /* sorted by start: skip the leading events that are over */
    if (!q->have_next) {
        eval_gains(q, q->uev_lo, t0, &g);
        eval_voices(q, t0, &g, amp, freq, bw);
        for (int v = 0; v < SY_NVOICE; v++)
            q->v[v].amp_next = amp[v];
        q->rumble_next = q->rumble_amp * g.body * q->rumble_mod[0];
        q->na_next = sqrt(g.noise_pow);
        q->clip_next = g.clip;
        q->have_next = 1;
    }
    eval_gains(q, q->uev_lo, t1, &g);
    eval_voices(q, t1, &g, amp, freq, bw);
    double inv = 1.0 / (double)q->ctrl_n;
    for (int v = 0; v < SY_NVOICE; v++) {
        sy_voice *w = &q->v[v];
        w->amp0 = w->amp_next;
        w->amp_next = amp[v];
        w->damp = (w->amp_next - w->amp0) * inv;
        w->active = w->amp0 > 0.0 || w->amp_next > 0.0;
        if (w->active && freq[v] > 0.0)
            voice_tune(q, w, freq[v], bw[v]);
        if (w->active && w->freq_hz < 0.0)
            voice_tune(q, w, 100.0, 0.5);
        double m = 1.5 - 0.5 * (w->c * w->c + w->s * w->s); /* keep the phasor on the circle */
        w->c *= m;
        w->s *= m;
    }
    double x = t1 * 4.0;
    size_t k = (size_t)x;
    double mod = k + 1 < q->n ? q->rumble_mod[k] +
                                    (q->rumble_mod[k + 1] - q->rumble_mod[k]) * (x - (double)k)
                              : q->rumble_mod[q->n - 1];
    q->rumble0 = q->rumble_next;
    q->rumble_next = q->rumble_amp * g.body * mod;
    q->drumble = (q->rumble_next - q->rumble0) * inv;
    q->na0 = q->na_next;
    q->na_next = sqrt(g.noise_pow);
    q->dna = (q->na_next - q->na0) * inv;
    q->clip0 = q->clip_next;
    q->clip_next = g.clip;
    q->dclip = (q->clip_next - q->clip0) * inv;
    q->agc0 = q->agc_next;
    if (q->cfg.agc_s > 0.0 && q->pos > 0) {
        /* the block that just ended (always complete here) updates the power estimate; the
         * gain levels it to the nominal fetal power, within +-30 dB */
        q->agc_pow = q->agc_alpha * q->agc_pow + (1.0 - q->agc_alpha) * q->agc_blk * inv;
        double gn = 1.0 / sqrt(q->agc_pow + 1e-12);
        q->agc_next = gn < 0.03 ? 0.03 : gn > 30.0 ? 30.0 : gn;
    }
    q->agc_blk = 0.0;
    q->dagc = (q->agc_next - q->agc0) * inv;
    if (q->hum_amp > 0.0) {
        double m = 1.5 - 0.5 * (q->hc * q->hc + q->hs * q->hs);
        q->hc *= m, q->hs *= m;
        m = 1.5 - 0.5 * (q->h3c * q->h3c + q->h3s * q->h3s);
        q->h3c *= m, q->h3s *= m;
    }
    return FM_OK;
}

/* ---- rendering ---- */

static void render_voice(sy_voice *w, double *acc, size_t run, size_t inb)
{
    double i1 = w->i1, i2 = w->i2, q1 = w->q1, q2 = w->q2, c = w->c, s = w->s;
    const double a = w->a, g = w->g, cr = w->cr, sr = w->sr;
    for (size_t j = 0; j < run; j++) {
        double amp = w->amp0 + w->damp * (double)(inb + j);
        double gi, gq;
        sy_pair2(&w->rng, &gi, &gq);
        i1 = a * i1 + g * gi;
        q1 = a * q1 + g * gq;
        i2 = a * i2 + g * i1;
        q2 = a * q2 + g * q1;
        acc[j] += amp * (i2 * c - q2 * s);
        double cn = c * cr - s * sr;
        s = c * sr + s * cr;
        c = cn;
    }
    w->i1 = i1, w->i2 = i2, w->q1 = q1, w->q2 = q2, w->c = c, w->s = s;
}

static void render_background(fm_synth *q, double *acc, size_t run, size_t inb)
{
    if (q->rumble0 > 0.0 || q->rumble_next > 0.0) {
        double r1 = q->r1, r2 = q->r2;
        for (size_t j = 0; j < run; j++) {
            r1 = q->ra * r1 + q->rg * sy_gauss4(&q->rng_rumble);
            r2 = q->ra * r2 + q->rg * r1;
            acc[j] += (q->rumble0 + q->drumble * (double)(inb + j)) * r2;
        }
        q->r1 = r1, q->r2 = r2;
    }
    double x1 = q->ny1, x2 = q->ny2; /* transposed direct form II state */
    for (size_t j = 0; j < run; j++) {
        double x = q->noise_gain * sy_gauss4(&q->rng_noise);
        double y = q->nb0 * x + x1;
        x1 = q->nb1 * x - q->na1 * y + x2;
        x2 = q->nb2 * x - q->na2 * y;
        acc[j] += (q->na0 + q->dna * (double)(inb + j)) * y;
    }
    q->ny1 = x1, q->ny2 = x2;
    if (q->hum_amp > 0.0) {
        for (size_t j = 0; j < run; j++) {
            acc[j] += q->hum_amp * (q->hs + 0.3 * q->h3s);
            double cn = q->hc * q->hcr - q->hs * q->hsr;
            q->hs = q->hc * q->hsr + q->hs * q->hcr;
            q->hc = cn;
            cn = q->h3c * q->h3cr - q->h3s * q->h3sr;
            q->h3s = q->h3c * q->h3sr + q->h3s * q->h3cr;
            q->h3c = cn;
        }
    }
}

static void speaker(fm_synth *q, double *acc, size_t run)
{
    double z1 = q->hz1, z2 = q->hz2;
    for (size_t j = 0; j < run; j++) {
        double x = acc[j], y = q->hb0 * x + z1;
        z1 = q->hb1 * x - q->ha1 * y + z2;
        z2 = q->hb2 * x - q->ha2 * y;
        acc[j] = y;
    }
    q->hz1 = z1, q->hz2 = z2;
}

size_t fm_synth_render(fm_synth *q, float *out, size_t max)
{
    if (!q || !out || q->pos >= q->total)
        return 0;
    if (!q->started) {
        q->started = 1;
        if (sy_sched_freeze(q) != FM_OK)
            return 0;
    }
    size_t n = q->total - q->pos < max ? q->total - q->pos : max, done = 0;
    while (done < n) {
        size_t inb = q->pos % q->ctrl_n;
        if (inb == 0 && control_step(q) != FM_OK)
            break;
        size_t run = q->ctrl_n - inb < n - done ? q->ctrl_n - inb : n - done;
        double *acc = q->acc;
        memset(acc, 0, run * sizeof *acc);
        for (int v = 0; v < SY_NVOICE; v++)
            if (q->v[v].active)
                render_voice(&q->v[v], acc, run, inb);
        render_background(q, acc, run, inb);
        if (q->cfg.speaker_hp_hz > 0.0)
            speaker(q, acc, run);
        for (size_t j = 0; j < run; j++) {
            double a = acc[j];
            q->agc_blk += a * a;
            double gain =
                (q->agc0 + q->dagc * (double)(inb + j)) * (q->clip0 + q->dclip * (double)(inb + j));
            double y = q->scale * gain * a + q->floor_sd * sy_gauss4(&q->rng_floor);
            if (y >= 1.0 || y <= -1.0) {
                y = y > 0.0 ? 1.0 : -1.0;
                q->stats.clipped_samples++;
            }
            out[done + j] = (float)y;
        }
        done += run;
        q->pos += run;
    }
    return done;
}

/* ---- truth ---- */

static const fm_synth_label ev_label[FM_SYNTH_EV_COUNT] = {FM_SYNTH_MATERNAL_ONLY,
                                                           FM_SYNTH_NO_CONTACT, FM_SYNTH_MOVEMENT,
                                                           FM_SYNTH_CLIPPED, FM_SYNTH_NOISE_BURST};

fm_status fm_synth_truth_at(const fm_synth *q, size_t k, fm_synth_truth *t)
{
    if (!q || !t || k >= q->n)
        return FM_EINVAL;
    double tc = (double)k * 0.25, w0 = tc - 0.125, w1 = tc + 0.125;
    unsigned flags = isfinite(q->fhr_in[k]) ? 0u : FM_SYNTH_F_NOT_AUDIBLE;
    for (size_t i = 0; i < q->n_uev && q->uev[i].t0 < w1; i++)
        if (q->uev[i].t1 > w0)
            flags |= 1u << ev_label[q->uev[i].type];
    static const fm_synth_label order[] = {FM_SYNTH_NO_CONTACT,  FM_SYNTH_MATERNAL_ONLY,
                                           FM_SYNTH_NOT_AUDIBLE, FM_SYNTH_MOVEMENT,
                                           FM_SYNTH_CLIPPED,     FM_SYNTH_NOISE_BURST};
    t->label = FM_SYNTH_FETAL;
    for (size_t i = 0; i < sizeof order / sizeof order[0]; i++)
        if (flags & (1u << order[i])) {
            t->label = order[i];
            break;
        }
    t->fhr_bpm = q->fhr_in[k];
    t->mhr_bpm = q->mhr[k];
    t->flags = flags;
    t->fetal_audible =
        !(flags & (FM_SYNTH_F_NO_CONTACT | FM_SYNTH_F_MATERNAL_ONLY | FM_SYNTH_F_NOT_AUDIBLE));
    return FM_OK;
}

const char *fm_synth_label_name(fm_synth_label l)
{
    static const char *names[FM_SYNTH_LABEL_COUNT] = {"fetal",      "not_audible", "maternal_only",
                                                      "no_contact", "movement",    "clipped",
                                                      "noise_burst"};
    return (int)l >= 0 && l < FM_SYNTH_LABEL_COUNT ? names[l] : "unknown";
}
