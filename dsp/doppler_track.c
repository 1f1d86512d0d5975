/* The Doppler engine's tracker: from the autocorrelation peaks of one window to one FHR value and
 * one state (ok, lost, maternal_suspected, doubtful) per 4 Hz sample.
 *
 * Why a tracker: the autocorrelation of a heartbeat envelope has peaks at the beat period and at
 * its multiples (halving of the rate), and, when the two heart sounds of a beat are similar, near
 * half the period (doubling). A handheld probe also hears the mother's aorta and uterine arteries
 * (CLINICAL 2), whose pulse gives a perfectly good autocorrelation peak at the maternal rate. The
 * window alone cannot tell these apart; the recent history can. The rules, in order:
 *   - the shortest-lag octave alternative (x2 rate) scoring >= 0.6 of the best peak is the
 *     default (halving resistance); continuity with the fetal track may pick any peak scoring
 *     >= 0.5 of the best, the maternal track only an octave scoring >= 0.8; a value kept by
 *     continuity against a clearly stronger octave is doubtful (unresolved halving/doubling),
 *     unless an established track continues closely onto the faster octave (2:1 rates: the
 *     stronger peak is its subharmonic plus the mother near half its rate);
 *   - a value continuous with the maternal track (below 120 bpm) is maternal; when both tracks
 *     could claim it the closer one does; the maternal track does not hold its value when the
 *     best peak is its double above 120 bpm;
 *   - a window's quality is the larger of its peak's unbiased autocorrelation and the peak's
 *     harmonic support (2 and 3 periods, doppler.c), never used to settle an octave;
 *   - a value continuous with the fetal track stays fetal at any level, so a real bradycardia or
 *     deceleration descending gradually from the baseline stays ok;
 *   - a value that starts a new track below maternal_max_bpm (after a loss, or by an abrupt jump
 *     from a fetal level) is maternal, as is a new track within 5 bpm of a recent maternal rate;
 *     except that a trusted track which is falling now (a deceleration under way) and resumes
 *     after a loss of <= 3 s lower still, by <= 30 bpm, stays fetal (doubtful below
 *     maternal_max_bpm): a deceleration is never hidden as maternal by a short loss;
 *   - a new fetal track is doubtful until confirmed for TRACK_CONFIRM_SAMPLES, and a window where
 *     its value is twice the rate of a stronger peak restarts that confirmation (a doubled value
 *     is never confirmed ok);
 *   - a faint window (quality 0.25..quality_min) counts only as the continuation of an
 *     established track within 2 bpm per sample; a resumption within 6 bpm of an established
 *     track after a short loss is trusted at once.
 * Not for signal processing (doppler.c) nor trace-level false-signal detection (falsesig). */
#include <math.h>

#include "doppler_track.h"

/* Relative tolerance for "an octave apart" (x2 or x0.5). */
#define OCTAVE_TOL 0.08f
/* CLINICAL 2 (halving/doubling): an octave candidate scoring at least OCTAVE_CONSIDER_RATIO of
 * the best peak is an alternative the track may pick; a shorter-lag one scoring at least
 * OCTAVE_SHORT_RATIO is preferred by default; the maternal track follows only peaks scoring at
 * least OCTAVE_AMBIG_RATIO. */
#define OCTAVE_CONSIDER_RATIO 0.50f
#define OCTAVE_SHORT_RATIO 0.60f
#define OCTAVE_AMBIG_RATIO 0.80f
/* Relative distance to the track under which continuity picks a candidate. */
#define TRACK_PREFER_TOL 0.12f
/* Continuity: a value within TRACK_STEP_BPM per elapsed sample (0.25 s) of the track's last value,
 * at most TRACK_CONT_SAMPLES after it, continues the track. 8 bpm per 0.25 s is far above the
 * steepest physiological deceleration slope once smoothed by the window (CLINICAL 4.1: abrupt
 * = onset to nadir < 30 s, i.e. a few bpm/s), so only jumps break a track. */
#define TRACK_STEP_BPM 8.0f
#define TRACK_CONT_SAMPLES 4
/* A resumption after a gap of at most 10 s within 12 bpm of the last fetal value continues the
 * track (short dropouts are common with a handheld probe). Below maternal_max_bpm such a
 * resumption stays doubtful until the track is back above it (CLINICAL 2: could be the mother). */
#define TRACK_BRIDGE_SAMPLES 40
#define TRACK_BRIDGE_BPM 12.0f
/* A resumption (within TRACK_BRIDGE_SAMPLES) this close to an established track's last value
 * continues it as ok even from a window below quality_ok. */
#define TRACK_RESUME_BPM 6.0f
/* A new fetal track is doubtful for its first second. */
#define TRACK_CONFIRM_SAMPLES 4
/* A track running for 2 s may keep a window of quality between quality_min and quality_ok as ok
 * when the value moves by at most 4 bpm per sample. */
#define TRACK_TRUST_SAMPLES 8
#define TRACK_TRUST_STEP_BPM 4.0f
/* CLINICAL 4.1 (decelerations) vs CLINICAL 2 (abrupt jump to a maternal level): a track that
 * is descending now (its last value at least DESCENT_MIN_BPM below its moving average over
 * DESCENT_AVG_SAMPLES, 5 s: a fall of >= ~2 bpm/s sustained for seconds) and resumes after a gap of
 * at most DESCENT_BRIDGE_SAMPLES (3 s) lower still, by at most DESCENT_BRIDGE_BPM, continues the
 * deceleration: it stays fetal (doubtful below maternal_max_bpm), not maternal, unless the value
 * coincides with a recent maternal rate. Only a trusted track (not itself resumed low) bridges
 * this way, so one such jump cannot be chained into following the mother. */
#define DESCENT_MIN_BPM 10.0f
#define DESCENT_AVG_SAMPLES 20.0f
#define DESCENT_BRIDGE_SAMPLES 12
#define DESCENT_BRIDGE_BPM 30.0f
/* A window of quality between TRACK_WEAK_Q_MIN and quality_min (a faint heart, e.g. probe angle
 * drifting) is kept only as the continuation of an established track (TRACK_TRUST_SAMPLES, not
 * low, not an octave case) within TRACK_WEAK_STEP_BPM per sample: a noise peak landing that
 * close to the track by chance is rare, so continuity is the evidence the window lacks.
 * Measured: bench_doppler coverage +2 % at 15 dB with no loss of accuracy (docs/doppler.md). */
#define TRACK_WEAK_Q_MIN 0.25f
#define TRACK_WEAK_STEP_BPM 2.0f
/* Maternal track continuity (2 s) and memory (60 s). CLINICAL 2: within 5 bpm of the maternal
 * rate is flagged (Pinto et al. 2015). */
#define MATERNAL_CONT_SAMPLES 8
#define MATERNAL_MEMORY_SAMPLES 240
#define MATERNAL_COINCIDE_BPM 5.0f
/* A maternal rate vetoes the resumption of a fetal track (bridge or descent) only when the
 * maternal track was established: seen for at least this many consecutive, continuous samples
 * (1 s). A lone
 * maternal window (e.g. the first window of a recording) is too weak to turn a fetal
 * deceleration that passes the mother's rate into maternal capture, which would hide it
 * (CLINICAL 2 and 4.1: a deceleration is never hidden as maternal by a short loss). */
#define MATERNAL_ESTABLISHED_SAMPLES 4
/* A maternal track does not follow a value above this: a resting mother is 60-110 bpm
 * (CLINICAL 2); above it the value starts a new (doubtful until confirmed) fetal track. */
#define MATERNAL_TRACK_MAX_BPM 120.0f

void fm_dop_track_reset(fm_dop_track *t)
{
    t->f_valid = 0;
    t->f_bpm = 0;
    t->f_k = 0;
    t->f_run = 0;
    t->f_low_doubt = 0;
    t->f_avg_bpm = 0;
    t->m_valid = 0;
    t->m_bpm = 0;
    t->m_k = 0;
    t->m_run = 0;
}

static int octave_of(float a, float b)
{
    float r = a / b;
    return fabsf(r - 2.0f) <= 2.0f * OCTAVE_TOL || fabsf(r - 0.5f) <= 0.5f * OCTAVE_TOL;
}

/* Among the given peaks, the one closest to ref_bpm if it lies within TRACK_PREFER_TOL of it;
 * NULL otherwise. */
static const fm_dop_cand *closest_to(const fm_dop_cand *const *opt, int n_opt, float ref_bpm)
{
    const fm_dop_cand *best = NULL;
    float best_d = TRACK_PREFER_TOL;
    for (int i = 0; i < n_opt; i++) {
        float d = fabsf(opt[i]->bpm - ref_bpm) / ref_bpm;
        if (d <= best_d) {
            best_d = d;
            best = opt[i];
        }
    }
    return best;
}

/* Largest change that still continues a track after gap samples. */
static float step_allowed(int64_t gap)
{
    float a = TRACK_STEP_BPM * (float)gap;
    return a < TRACK_BRIDGE_BPM ? a : TRACK_BRIDGE_BPM;
}

static void set_fetal(fm_dop_track *t, int64_t k, float bpm, int run, int new_track)
{
    /* The recent high decays with the time since the last value; a new track starts it afresh. */
    /* Moving average of the track (first-order, over DESCENT_AVG_SAMPLES of elapsed time). */
    float a = (float)(k - t->f_k) / DESCENT_AVG_SAMPLES;
    t->f_avg_bpm =
        !new_track && t->f_valid && a < 1.0f ? t->f_avg_bpm + a * (bpm - t->f_avg_bpm) : bpm;
    t->f_valid = 1;
    t->f_bpm = bpm;
    t->f_k = k;
    t->f_run = run;
}

static void set_maternal(fm_dop_track *t, int64_t k, float bpm)
{
    int64_t gap = k - t->m_k;
    int cont =
        t->m_valid && gap <= MATERNAL_CONT_SAMPLES && fabsf(bpm - t->m_bpm) <= step_allowed(gap);
    t->m_run = cont ? t->m_run + 1 : 1;
    t->m_valid = 1;
    t->m_bpm = bpm;
    t->m_k = k;
}

void fm_dop_track_step(fm_dop_track *t, const fm_doppler_config *cfg, int64_t k, int window_ok,
                       const fm_dop_cand *c, int n, fm_fhr_sample *out)
{
    out->fhr_bpm = NAN;
    out->quality = 0.0f;
    out->state = FM_STATE_LOST;
    if (!window_ok || n <= 0)
        return;

    /* Octave alternatives of the best peak. With the biased autocorrelation a periodic beat gives
     * its largest peak at the beat period, the multiples decaying; a best peak at twice the beat
     * period (halving) means something else adds there, typically a maternal pulse at half the
     * fetal rate. So the default is the shortest-lag octave alternative that scores at least
     * OCTAVE_SHORT_RATIO of the best; choosing a weaker peak over the best is a judgement the
     * track must confirm. */
    const fm_dop_cand *opt[FM_DOP_MAX_CANDS];
    int n_opt = 0;
    opt[n_opt++] = &c[0];
    for (int i = 1; i < n && n_opt < FM_DOP_MAX_CANDS; i++)
        if (octave_of(c[i].bpm, c[0].bpm) && c[i].score >= OCTAVE_CONSIDER_RATIO * c[0].score)
            opt[n_opt++] = &c[i];
    const fm_dop_cand *dflt = &c[0];
    for (int i = 1; i < n_opt; i++)
        if (opt[i]->bpm > dflt->bpm && opt[i]->score >= OCTAVE_SHORT_RATIO * c[0].score)
            dflt = opt[i];
    const fm_dop_cand *ch = dflt;
    int f_recent = t->f_valid && k - t->f_k <= TRACK_BRIDGE_SAMPLES;
    int m_recent = t->m_valid && k - t->m_k <= MATERNAL_CONT_SAMPLES;
    const fm_dop_cand *pick = NULL;
    if (f_recent) {
        /* Continuity with the fetal track may pick any strong enough peak, not only an octave
         * of the best: with a weak fetal signal the maternal pulse can momentarily win. */
        const fm_dop_cand *all[FM_DOP_MAX_CANDS];
        int n_all = 0;
        for (int i = 0; i < n; i++)
            if (c[i].score >= OCTAVE_CONSIDER_RATIO * c[0].score)
                all[n_all++] = &c[i];
        pick = closest_to(all, n_all, t->f_bpm);
    }
    const fm_dop_cand *f_pick = pick; /* the fetal track's own choice, if any */
    if (!pick && m_recent) {
        /* Follow the mother only to a peak nearly as strong as the best: a fetal heart at twice
         * the maternal rate must not be captured by the maternal track. */
        pick = closest_to(opt, n_opt, t->m_bpm);
        if (pick && pick->score < OCTAVE_AMBIG_RATIO * c[0].score)
            pick = NULL;
        /* Nor when the best peak is the maternal value's double above the maternal ceiling:
         * that is the default octave rule's reading (a fetal heart at twice the maternal rate),
         * and a new fetal track there is confirmed only on windows where it is not the double
         * of a stronger peak. Measured: +1 % coverage on the test recordings, +0.1-0.4 %
         * in bench_doppler, no maternal-only sample ok (docs/doppler.md). */
        if (pick && pick != &c[0] && c[0].bpm >= MATERNAL_TRACK_MAX_BPM &&
            octave_of(c[0].bpm, pick->bpm))
            pick = NULL;
    }
    if (pick)
        ch = pick;
    /* CLINICAL 2: continuity kept a value while an octave of it is clearly the stronger peak
     * (one the default rule would not have left): a halving/doubling we cannot resolve. */
    int octave_doubt =
        ch != &c[0] && octave_of(ch->bpm, c[0].bpm) && ch->score < OCTAVE_SHORT_RATIO * c[0].score;
    /* CLINICAL 2: the value is twice the rate of a stronger peak (the default octave rule's
     * choice, or continuity's): right for a fetal heart at twice the maternal rate, but also what
     * a doubling looks like. A track not yet confirmed cannot be confirmed on such a window. */
    int doubled = ch != &c[0] && ch->bpm > c[0].bpm && octave_of(ch->bpm, c[0].bpm);
    /* CLINICAL 2 (halving/doubling at 2:1 rates): the fetal heart's own autocorrelation has peaks
     * at 2 and 3 beat periods as strong as at one (unbiased), and a maternal pulse near half the
     * fetal rate adds to the 2-period peak, which then outscores the fetal one. An established
     * fetal track (TRACK_TRUST_SAMPLES, not resumed low, at or above maternal_max_bpm) that
     * continues within TRACK_WEAK_STEP_BPM per sample onto the faster octave of the stronger peak
     * (its value twice that peak's rate) keeps its value as a plain, trusted one (ok, faint windows
     * included) rather than an unresolved octave: a doubling cannot arise on a track that was
     * confirmed at this rate and moves this little, since the peak at half its rate is its own
     * subharmonic. The opposite case (the track on the slower peak, its double stronger: a halving)
     * stays doubtful. Measured: bench_doppler 10 dB coverage +1.3 % (training) / +2.1 % (held-out),
     * within 5 bpm unchanged, no halving/doubling run (docs/doppler.md). */
    if (f_pick && ch == f_pick && doubled && t->f_run >= TRACK_TRUST_SAMPLES && !t->f_low_doubt &&
        k - t->f_k <= TRACK_CONT_SAMPLES && ch->bpm >= cfg->maternal_max_bpm &&
        fabsf(ch->bpm - t->f_bpm) <= TRACK_WEAK_STEP_BPM * (float)(k - t->f_k))
        octave_doubt = doubled = 0;
    /* Quality of the chosen period: its own unbiased autocorrelation, or its harmonic support
     * (the weaker of 2 and 3 periods, doppler.c) when larger: beat-to-beat variation and a pulse
     * near the period blur the one-period peak while the rhythm is plain at 2 and 3 periods.
     * Measured: bench_doppler coverage +0.5-2.3 % (training) / +0.4-2.8 % (held-out) at 30..-5
     * dB, within 5 bpm, maternal-only and noise ok unchanged (docs/doppler.md). */
    float q = ch->qh > ch->q ? ch->qh : ch->q;
    out->quality = q;
    /* Below quality_min the window is lost, unless it is a faint continuation of an established
     * track (see TRACK_WEAK_Q_MIN): decided below, once continuity is known. */
    int weak = q < cfg->quality_min;
    if (weak && (q < TRACK_WEAK_Q_MIN || doubled || octave_doubt || t->f_low_doubt))
        return; /* lost */

    float r = ch->bpm;
    int64_t f_gap = k - t->f_k, m_gap = k - t->m_k;
    float df = t->f_valid ? fabsf(r - t->f_bpm) : INFINITY;
    float dm = t->m_valid ? fabsf(r - t->m_bpm) : INFINITY;
    int f_cont = t->f_valid && f_gap <= TRACK_CONT_SAMPLES && df <= step_allowed(f_gap);
    int f_bridge = !f_cont && t->f_valid && f_gap <= TRACK_BRIDGE_SAMPLES && df <= TRACK_BRIDGE_BPM;
    int f_descent = !f_cont && !f_bridge && t->f_valid && f_gap <= DESCENT_BRIDGE_SAMPLES &&
                    r < t->f_bpm && t->f_bpm - r <= DESCENT_BRIDGE_BPM &&
                    t->f_avg_bpm - t->f_bpm >= DESCENT_MIN_BPM && !t->f_low_doubt;
    int m_cont = t->m_valid && m_gap <= MATERNAL_CONT_SAMPLES && dm <= step_allowed(m_gap) &&
                 r < MATERNAL_TRACK_MAX_BPM;
    int m_coincide = t->m_valid && m_gap <= MATERNAL_MEMORY_SAMPLES && dm <= MATERNAL_COINCIDE_BPM;
    /* When both tracks could claim the value, the closer one does; a value on both (within
     * MATERNAL_COINCIDE_BPM of the mother) is maternal (CLINICAL 2). */
    int maternal = m_cont && (!(f_cont || f_bridge) || dm < df || m_coincide);

    int weak_ok = f_cont && t->f_run >= TRACK_TRUST_SAMPLES && !maternal &&
                  df <= TRACK_WEAK_STEP_BPM * (float)f_gap;
    if (weak && !weak_ok)
        return; /* lost: a faint window never starts or moves a track */

    fm_fhr_state st;
    if (maternal) {
        /* CLINICAL 2: continuing the maternal pulse. */
        set_maternal(t, k, r);
        st = FM_STATE_MATERNAL;
    } else if (f_cont) {
        /* A weak window (quality_min..quality_ok) is trusted only inside an established track
         * and close to its last value. */
        int steady = t->f_run >= TRACK_TRUST_SAMPLES &&
                     fabsf(r - t->f_bpm) <= TRACK_TRUST_STEP_BPM * (float)f_gap;
        /* A new track is not confirmed on a window where its value is the double of a stronger
         * peak, nor where it is within MATERNAL_COINCIDE_BPM of the recent maternal rate
         * (CLINICAL 2): a tachycardic mother wandering just above the maternal ceiling (118 +-
         * 2.5 bpm of breathing) otherwise starts a fetal track that alternates with hers.
         * Measured: no coverage change in bench_doppler; test_doppler's tachycardic mother at 5
         * dB 5 ok samples -> 0. */
        int run = t->f_run < TRACK_CONFIRM_SAMPLES && (doubled || m_coincide) ? 1 : t->f_run + 1;
        set_fetal(t, k, r, run, 0);
        if (r >= cfg->maternal_max_bpm)
            t->f_low_doubt = 0;
        st = (t->f_run >= TRACK_CONFIRM_SAMPLES && (q >= cfg->quality_ok || steady) &&
              !t->f_low_doubt && !octave_doubt)
                 ? FM_STATE_OK
                 : FM_STATE_DOUBTFUL;
    } else if ((f_bridge || f_descent) &&
               !(m_coincide && t->m_run >= MATERNAL_ESTABLISHED_SAMPLES)) {
        /* Resumption after a short dropout near the last fetal value, or further down a
         * deceleration that was under way (CLINICAL 4.1). */
        /* Back within TRACK_RESUME_BPM of an established track: the same heart, trusted at
         * once (a faint window too), its run kept. */
        int resume = f_bridge && t->f_run >= TRACK_TRUST_SAMPLES && df <= TRACK_RESUME_BPM;
        set_fetal(t, k, r, resume ? t->f_run + 1 : f_bridge ? TRACK_CONFIRM_SAMPLES : 1, 0);
        if (r < cfg->maternal_max_bpm)
            t->f_low_doubt = 1; /* CLINICAL 2: a low level after a loss may be the mother */
        st = (f_bridge && (q >= cfg->quality_ok || resume) && !t->f_low_doubt && !octave_doubt &&
              !doubled)
                 ? FM_STATE_OK
                 : FM_STATE_DOUBTFUL; /* a descent resumption must be confirmed */
    } else if (r < cfg->maternal_max_bpm || m_coincide) {
        /* CLINICAL 2: a new track at a maternal-looking level, or at the recent maternal rate
         * (which is not moved above the ceiling, so coincidence cannot creep upwards). */
        if (r < MATERNAL_TRACK_MAX_BPM)
            set_maternal(t, k, r);
        st = FM_STATE_MATERNAL;
    } else {
        /* A new fetal track: doubtful until continuity confirms it (which also confirms a
         * judgement of the octave rule above). */
        set_fetal(t, k, r, 1, 1);
        t->f_low_doubt = 0;
        st = FM_STATE_DOUBTFUL; /* until confirmed */
    }
    out->state = st;
    if (st == FM_STATE_OK || st == FM_STATE_DOUBTFUL)
        out->fhr_bpm = r;
}
