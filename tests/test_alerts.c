/* Tests of the alert engine's sample-level rules and episode mechanics (dsp/alerts*.c): each rule
 * fires with the sample that completes its condition and stays silent just below its
 * thresholds; hysteresis at a threshold; one episode, not one alert per sample; queue bound;
 * server-side technical conditions; bad input. Analysis-level rules: test_alerts_analysis.c. */
#include "check.h"
#include "test_alerts_trace.h"

/* Push sample by sample through the queue; returns the index of the sample whose push emitted
 * the first OPENED of `rule` (or -1), collecting every event in out. */
static long push_until(fm_alerts *a, const tr *t, fm_alert_rule rule, evlist *out)
{
    long first = -1;
    fm_alert_event ev;
    for (size_t i = 0; i < t->n; i++) {
        CHECK(fm_alerts_push(a, &t->fhr[i], &t->st[i], 1) == FM_OK);
        while (fm_alerts_pop(a, &ev)) {
            if (first < 0 && ev.rule == rule && ev.type == FM_ALERT_OPENED)
                first = (long)i;
            if (out->n < 512)
                out->ev[out->n++] = ev;
        }
    }
    fm_alerts_finish(a, NULL);
    while (fm_alerts_pop(a, &ev))
        if (out->n < 512)
            out->ev[out->n++] = ev;
    return first;
}

static void fhr_below_80_fires_with_the_completing_sample(void)
{
    tr *t = tr_new(1200, 140, 10, 1);
    tr_dip(t, 300, 500, 70);
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    long i = push_until(a, t, FM_ALERT_FHR_BELOW_80, &l);
    /* > 180 s below 80 from 300 s: the 721st low sample, index 300*4 + 720 */
    CHECKF(i == 300 * 4 + 720, "fired at sample %ld", i);
    const fm_alert_event *o = ev_first(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED);
    CHECK(o && o->priority == FM_ALERT_PRIO_HIGH && o->kind == FM_ALERT_PHYSIOLOGICAL);
    CHECK(o && fabs(o->start_s - 300.0) < 0.01 && fabs(o->at_s - 480.25) < 0.01);
    CHECK(o && ev_value(o, "nadir_bpm") < 71.01 && ev_value(o, "nadir_bpm") > 68.9);
    CHECK(o && o->logic && strstr(o->logic, "80 bpm") && strstr(o->message, "nadir"));
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED) == 1);
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_CLOSED) == 1);
    const fm_alert_event *c = ev_first(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_CLOSED);
    /* closes after 60 s clear, with the data range of the dip */
    CHECK(c && fabs(c->end_s - 500.0) < 0.5 && fabs(c->at_s - 560.0) < 0.6);
    CHECK(c && c->episode_id == o->episode_id);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void fhr_below_80_on_doubtful_or_maternal_marked_signal_still_fires_and_says_so(void)
{
    /* the Doppler engine marks a deceleration continuing below 110 bpm after a short loss as
     * doubtful: a possible bradycardia must still reach a clinician, flagged as doubtful */
    tr *t = tr_new(1200, 140, 10, 1);
    tr_dip(t, 300, 500, 70);
    for (size_t i = 300 * 4; i < 500 * 4; i++)
        t->st[i] = FM_STATE_DOUBTFUL;
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    long i = push_until(a, t, FM_ALERT_FHR_BELOW_80, &l);
    CHECKF(i == 300 * 4 + 720, "fired at sample %ld", i);
    const fm_alert_event *o = ev_first(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED);
    CHECK(o && ev_value(o, "doubtful_s") > 170.0 && strstr(o->message, "doubtful"));
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED) == 1);
    fm_alerts_destroy(a);
    /* a low rate the false-signal detector marked maternal (without a maternal channel a fetal
     * bradycardia looks the same) still raises the HIGH alert, saying it may be the mother */
    for (size_t k = 300 * 4; k < 500 * 4; k++)
        t->st[k] = FM_STATE_MATERNAL;
    a = fm_alerts_create(NULL);
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) == 300 * 4 + 720);
    o = ev_first(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED);
    CHECK(o && o->priority == FM_ALERT_PRIO_HIGH && ev_value(o, "maternal_s") > 170.0);
    CHECK(o && strstr(o->message, "mother"));
    fm_alerts_destroy(a);
    /* maternal samples without a value (what the Doppler engine hears as the mother) and lost
     * samples are no evidence of anything */
    for (size_t k = 300 * 4; k < 500 * 4; k++)
        t->fhr[k] = NAN;
    a = fm_alerts_create(NULL);
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) < 0);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void fhr_below_80_silent_just_below_threshold(void)
{
    /* 82 bpm (+-1) for 10 min: above 80 */
    tr *t = tr_new(1200, 140, 10, 2);
    tr_dip(t, 300, 900, 82);
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) < 0);
    fm_alerts_destroy(a);
    tr_free(t);
    /* 70 bpm for 179 s: not more than 3 min */
    t = tr_new(1200, 140, 10, 3);
    tr_dip(t, 300, 479, 70);
    a = fm_alerts_create(NULL);
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) < 0);
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED) == 0);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void fhr_below_80_hovering_is_one_episode(void)
{
    /* below 80 for 200 s, then 12 times: 20 s back up at 95, 40 s down at 76; each excursion is
     * shorter than the 60-s clear time, so it is one episode, not 13 alerts */
    tr *t = tr_new(1800, 140, 10, 4);
    tr_dip(t, 300, 500, 75);
    double s = 500;
    for (int k = 0; k < 12; k++, s += 60) {
        tr_dip(t, s, s + 20, 95);
        tr_dip(t, s + 20, s + 60, 76);
    }
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    push_until(a, t, FM_ALERT_FHR_BELOW_80, &l);
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED) == 1);
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_CLOSED) == 1);
    /* extent updates every 120 s: about 8 over 920 s, never one per sample */
    size_t u = ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_UPDATED);
    CHECKF(u >= 5 && u <= 9, "%zu updates", u);
    /* values hovering between on (80) and off (85) keep the run going */
    tr_free(t);
    fm_alerts_destroy(a);
    t = tr_new(1800, 140, 10, 5);
    tr_dip(t, 300, 500, 76);
    tr_dip(t, 500, 1200, 82.5); /* between 80 and 85: stays in the episode */
    a = fm_alerts_create(NULL);
    l.n = 0;
    push_until(a, t, FM_ALERT_FHR_BELOW_80, &l);
    CHECK(ev_count(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_OPENED) == 1);
    const fm_alert_event *c = ev_first(&l, FM_ALERT_FHR_BELOW_80, FM_ALERT_CLOSED);
    CHECKF(c && fabs(c->end_s - 1200) < 1.0, "closed end %.1f", c ? c->end_s : -1);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void short_signal_gaps_are_bridged_long_ones_are_not(void)
{
    tr *t = tr_new(1200, 140, 10, 6);
    tr_dip(t, 300, 500, 70);
    tr_lost(t, 380, 388); /* 8 s lost inside: bridged (gap 10 s) */
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) == 300 * 4 + 720);
    fm_alerts_destroy(a);
    tr_free(t);
    t = tr_new(1200, 140, 10, 7);
    tr_dip(t, 300, 500, 70);
    tr_lost(t, 380, 400); /* 20 s lost: two runs of 80 and 100 s, neither > 3 min */
    a = fm_alerts_create(NULL);
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) < 0);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void prolonged_deceleration_below_last_known_baseline(void)
{
    /* 30 min at 140; analysis at 10, 12, 14 min gives the baseline; at 15 min 10 s a 4-min dip
     * to 110 (30 bpm below): fires live with the sample completing 180 s (before the next
     * re-analysis at 18 min could see it), once */
    tr *t = tr_new(1800, 140, 10, 8);
    tr_dip(t, 910, 1150, 110);
    fm_alerts_config cfg;
    fm_alerts_config_default(&cfg);
    static evlist l;
    l.n = 0;
    tr_run_live(t, &cfg, NULL, &l);
    const fm_alert_event *o = ev_first(&l, FM_ALERT_PROLONGED_DECEL, FM_ALERT_OPENED);
    CHECK(o && fabs(o->at_s - (910 + 180.25)) < 0.3);
    CHECK(o && fabs(ev_value(o, "baseline_bpm") - 140) < 4 && o->priority == FM_ALERT_PRIO_HIGH);
    CHECK(ev_count(&l, FM_ALERT_PROLONGED_DECEL, FM_ALERT_OPENED) == 1);
    CHECK(ev_count(&l, FM_ALERT_PROLONGED_DECEL, FM_ALERT_CLOSED) == 1);
    /* the same deceleration is not also a "large deceleration" alert */
    CHECK(ev_count(&l, FM_ALERT_LARGE_DECEL, FM_ALERT_OPENED) == 0);
    /* the upload path finds it in the analysis: same episode */
    static evlist u;
    u.n = 0;
    tr_run_upload(t, &cfg, NULL, &u);
    const fm_alert_event *uo = ev_first(&u, FM_ALERT_PROLONGED_DECEL, FM_ALERT_OPENED);
    CHECK(ev_count(&u, FM_ALERT_PROLONGED_DECEL, FM_ALERT_OPENED) == 1);
    CHECK(uo && o && fabs(uo->start_s - o->start_s) < 30 && ev_value(uo, "lost_beats") > 100);
    tr_free(t);
}

static void prolonged_deceleration_silent_below_thresholds(void)
{
    fm_alerts_config cfg;
    fm_alerts_config_default(&cfg);
    static evlist l;
    /* 170 s: not more than 3 min */
    tr *t = tr_new(1800, 140, 10, 9);
    tr_dip(t, 900, 1070, 110);
    l.n = 0;
    tr_run_live(t, &cfg, NULL, &l);
    CHECK(ev_count(&l, FM_ALERT_PROLONGED_DECEL, FM_ALERT_OPENED) == 0);
    tr_free(t);
    /* 12 bpm below for 5 min: not a deceleration (> 15 bpm) */
    t = tr_new(1800, 140, 4, 10);
    tr_dip(t, 900, 1200, 128);
    l.n = 0;
    tr_run_live(t, &cfg, NULL, &l);
    CHECK(ev_count(&l, FM_ALERT_PROLONGED_DECEL, FM_ALERT_OPENED) == 0);
    tr_free(t);
}

static void signal_loss_window_share(void)
{
    /* 70 % lost over 5 min: fires once the 2-min window is > 50 % lost */
    tr *t = tr_new(1200, 140, 10, 11);
    tr_lost_share(t, 300, 600, 0.7, 3.5, FM_STATE_LOST);
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    long i = push_until(a, t, FM_ALERT_SIGNAL_LOSS, &l);
    CHECK(i > 300 * 4 && i < 420 * 4);
    const fm_alert_event *o = ev_first(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_OPENED);
    CHECK(o && o->kind == FM_ALERT_TECHNICAL && o->priority == FM_ALERT_PRIO_LOW);
    CHECK(o && o->start_s >= 299.9 && o->start_s < 310);
    CHECK(ev_count(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_OPENED) == 1);
    CHECK(ev_count(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_CLOSED) == 1);
    fm_alerts_destroy(a);
    tr_free(t);
    /* 45 % lost for 10 min: below 50 % */
    t = tr_new(1200, 140, 10, 12);
    tr_lost_share(t, 300, 900, 0.45, 3.0, FM_STATE_LOST);
    a = fm_alerts_create(NULL);
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_SIGNAL_LOSS, &l) < 0);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void signal_loss_hovering_at_half_is_one_episode(void)
{
    /* 20 min alternating 2 min at 60 % lost and 2 min at 40 %: the 2-min share hovers around
     * the 50 % entry threshold, far above the 20 % exit: one episode */
    tr *t = tr_new(1800, 140, 10, 16);
    for (double s = 300; s < 1500; s += 240) {
        tr_lost_share(t, s, s + 120, 0.6, 3.0, FM_STATE_LOST);
        tr_lost_share(t, s + 120, s + 240, 0.4, 2.0, FM_STATE_LOST);
    }
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_SIGNAL_LOSS, &l) > 0);
    CHECK(ev_count(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_OPENED) == 1);
    CHECK(ev_count(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_CLOSED) == 1);
    CHECK(ev_count(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_UPDATED) == 0);
    const fm_alert_event *c = ev_first(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_CLOSED);
    CHECK(c && c->end_s > 1400 && ev_value(c, "worst_percent") >= 55);
    fm_alerts_destroy(a);
    tr_free(t);
}

static void maternal_capture_fires_at_half_the_window(void)
{
    tr *t = tr_new(1200, 140, 10, 13);
    tr_lost_share(t, 400, 520, 1.0, 1.0, FM_STATE_MATERNAL);
    fm_alerts *a = fm_alerts_create(NULL);
    static evlist l;
    l.n = 0;
    long i = push_until(a, t, FM_ALERT_MATERNAL_CAPTURE, &l);
    /* 60-s window: > 50 % after 121 maternal samples */
    CHECKF(i == 400 * 4 + 120, "fired at %ld", i);
    const fm_alert_event *o = ev_first(&l, FM_ALERT_MATERNAL_CAPTURE, FM_ALERT_OPENED);
    CHECK(o && o->priority == FM_ALERT_PRIO_MEDIUM && o->kind == FM_ALERT_TECHNICAL);
    CHECK(o && fabs(o->start_s - 400) < 0.01);
    /* maternal samples are not counted as signal loss */
    CHECK(ev_count(&l, FM_ALERT_SIGNAL_LOSS, FM_ALERT_OPENED) == 0);
    CHECK(ev_count(&l, FM_ALERT_MATERNAL_CAPTURE, FM_ALERT_OPENED) == 1);
    fm_alerts_destroy(a);
    tr_free(t);
    t = tr_new(1200, 140, 10, 14);
    tr_lost_share(t, 300, 900, 0.45, 4.0, FM_STATE_MATERNAL);
    a = fm_alerts_create(NULL);
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_MATERNAL_CAPTURE, &l) < 0);
    fm_alerts_destroy(a);
    tr_free(t);
}

#define AL_TEST_LOGIC_LEN 512

/* A fetal descent from `from_bpm` over 20 s to `to_bpm` (ok samples), a 1-s loss, then
 * maternal-looking samples without a value (what the Doppler engine hears as the mother) for
 * 300 s from 401 s, then the fetal heart back at 140 bpm. */
static tr *descent_into_maternal(double from_bpm, double to_bpm, uint64_t seed)
{
    tr *t = tr_new(1200, from_bpm, 6, seed);
    for (size_t i = tr_i(380); i < tr_i(400); i++)
        t->fhr[i] = (float)(from_bpm + (to_bpm - from_bpm) * (double)(i - tr_i(380)) / 80.0);
    tr_lost(t, 400, 401);
    for (size_t i = tr_i(401); i < tr_i(701); i++)
        t->fhr[i] = NAN, t->st[i] = FM_STATE_MATERNAL;
    tr_stretch(t, 701, 1200, 140, 6, 6);
    return t;
}

static fm_alert_priority maternal_capture_priority(tr *t, const fm_alert_event **first, evlist *l)
{
    fm_alerts *a = fm_alerts_create(NULL);
    l->n = 0;
    long i = push_until(a, t, FM_ALERT_MATERNAL_CAPTURE, l);
    fm_alerts_destroy(a);
    *first = ev_first(l, FM_ALERT_MATERNAL_CAPTURE, FM_ALERT_OPENED);
    CHECKF(i == 401 * 4 + 120, "fired at %ld", i); /* > 50 % of the 60-s window, as ever */
    return *first ? (*first)->priority : FM_ALERT_PRIO_NONE;
}

/* CLINICAL 2 and 4.1: a deceleration into the mother's range that the engine then hears as
 * maternal is a possible bradycardia (HIGH, with the descent in its data); the same maternal
 * signal after no descent, a shallow one, or one that stays above the maternal range is
 * ordinary maternal capture (MEDIUM). */
static void maternal_capture_after_a_descent_is_a_possible_bradycardia(void)
{
    static evlist l;
    const fm_alert_event *o;
    tr *t = descent_into_maternal(140, 95, 21);
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_HIGH);
    CHECK(o && strstr(o->message, "bradycardia") && strstr(o->message, "confirm the fetal heart"));
    CHECK(o && ev_value(o, "last_fetal_bpm") < 97 && ev_value(o, "fetal_level_bpm") > 115);
    CHECK(o && fabs(ev_value(o, "descent_at_s") - 401) < 0.01);
    char logic[AL_TEST_LOGIC_LEN];
    CHECK(strstr(fm_alert_rule_logic(NULL, FM_ALERT_MATERNAL_CAPTURE, logic, sizeof logic),
                 "possible bradycardia")); /* o->logic lived in the destroyed engine */
    CHECK(ev_count(&l, FM_ALERT_MATERNAL_CAPTURE, FM_ALERT_OPENED) == 1);
    tr_free(t);
    /* a fetal heart already below 110 bpm (a bradycardic plateau) before the switch */
    t = descent_into_maternal(100, 100, 26);
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_HIGH);
    tr_free(t);
    /* just below the thresholds: a fall of 12 bpm to 114; a steady 112 bpm; a descent that ends
     * above 120 bpm */
    t = descent_into_maternal(126, 114, 22);
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_MEDIUM);
    tr_free(t);
    t = descent_into_maternal(113, 113, 27);
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_MEDIUM);
    tr_free(t);
    t = descent_into_maternal(150, 122, 23);
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_MEDIUM);
    tr_free(t);
    /* no descent: an abrupt switch from 140 bpm */
    t = descent_into_maternal(140, 140, 24);
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_MEDIUM);
    tr_free(t);
    /* the witness lapses once the fetal heart is back: a later switch is MEDIUM again */
    t = descent_into_maternal(140, 95, 25);
    for (size_t i = tr_i(900); i < tr_i(1100); i++)
        t->fhr[i] = NAN, t->st[i] = FM_STATE_MATERNAL;
    CHECK(maternal_capture_priority(t, &o, &l) == FM_ALERT_PRIO_HIGH);
    CHECK(ev_count(&l, FM_ALERT_MATERNAL_CAPTURE, FM_ALERT_OPENED) == 2);
    int later_high = 0, n_open = 0;
    for (size_t i = 0; i < l.n; i++)
        if (l.ev[i].rule == FM_ALERT_MATERNAL_CAPTURE && l.ev[i].type == FM_ALERT_OPENED &&
            n_open++ == 1)
            later_high = l.ev[i].priority == FM_ALERT_PRIO_HIGH;
    CHECK(n_open == 2 && !later_high);
    tr_free(t);
}

static void queue_is_bounded_and_overflow_is_reported(void)
{
    fm_alerts_config cfg;
    fm_alerts_config_default(&cfg);
    cfg.queue_max = 1;
    fm_alerts *a = fm_alerts_create(&cfg);
    CHECK(fm_alerts_technical(a, FM_ALERT_STREAM_STALLED, 10, 1, NULL) == FM_OK);
    CHECK(fm_alerts_pending(a) == 1);
    CHECK(fm_alerts_technical(a, FM_ALERT_DEVICE_DISCONNECTED, 11, 1, NULL) == FM_ERANGE);
    CHECK(fm_alerts_dropped(a) == 1);
    fm_alert_event ev;
    CHECK(fm_alerts_pop(a, &ev) && ev.rule == FM_ALERT_STREAM_STALLED);
    CHECK(!fm_alerts_pop(a, &ev));
    fm_alerts_destroy(a);
}

static void server_technical_conditions(void)
{
    fm_alerts *a = fm_alerts_create(NULL);
    fm_alert_event ev;
    CHECK(fm_alerts_technical(a, FM_ALERT_STREAM_STALLED, 100, 1, "no data for 30 s") == FM_OK);
    CHECK(fm_alerts_technical(a, FM_ALERT_STREAM_STALLED, 105, 1, NULL) == FM_OK); /* no-op */
    CHECK(fm_alerts_pop(a, &ev) && ev.type == FM_ALERT_OPENED && ev.kind == FM_ALERT_TECHNICAL);
    CHECK(strstr(ev.message, "no data for 30 s") != NULL && ev.start_s == 100);
    CHECK(!fm_alerts_pop(a, &ev));
    CHECK(fm_alerts_open_count(a) == 1);
    CHECK(fm_alerts_technical(a, FM_ALERT_STREAM_STALLED, 130, 0, "data again") == FM_OK);
    CHECK(fm_alerts_pop(a, &ev) && ev.type == FM_ALERT_CLOSED && ev.end_s == 130);
    CHECK(fm_alerts_technical(a, FM_ALERT_ANALYSIS_FAILED, 140, 1, "out of memory") == FM_OK);
    CHECK(fm_alerts_pop(a, &ev) && ev.priority == FM_ALERT_PRIO_MEDIUM);
    /* only server-side rules come through this door */
    CHECK(fm_alerts_technical(a, FM_ALERT_BRADYCARDIA, 1, 1, NULL) == FM_EINVAL);
    CHECK(fm_alerts_finish(a, NULL) == FM_OK);
    CHECK(fm_alerts_pop(a, &ev) && ev.type == FM_ALERT_CLOSED &&
          ev.rule == FM_ALERT_ANALYSIS_FAILED);
    fm_alerts_destroy(a);
}

static void rule_table_and_bad_input(void)
{
    char buf[512];
    for (int i = 0; i < FM_ALERT_N_RULES; i++) {
        fm_alert_rule r = (fm_alert_rule)i;
        CHECK(fm_alert_rule_parse(fm_alert_rule_code(r)) == r);
        CHECK(strstr(fm_alert_rule_ref(r), "CLINICAL") != NULL);
        CHECK(strlen(fm_alert_rule_logic(NULL, r, buf, sizeof buf)) > 20);
    }
    CHECK(fm_alert_rule_parse("nope") == FM_ALERT_N_RULES);
    fm_alerts_config cfg;
    fm_alerts_config_default(&cfg);
    cfg.rule[FM_ALERT_SIGNAL_LOSS].window_s = 0;
    CHECK(fm_alerts_create(&cfg) == NULL);
    fm_alerts_config_default(&cfg);
    cfg.rule[FM_ALERT_BRADYCARDIA].priority = 7;
    CHECK(fm_alerts_create(&cfg) == NULL);
    fm_alerts *a = fm_alerts_create(NULL);
    CHECK(fm_alerts_push(a, NULL, NULL, 3) == FM_EINVAL);
    CHECK(fm_alerts_push(NULL, NULL, NULL, 0) == FM_EINVAL);
    CHECK(fm_alerts_update(a, NULL) == FM_EINVAL);
    float junk[4] = {NAN, INFINITY, -5, 400};
    CHECK(fm_alerts_push(a, junk, NULL, 4) == FM_OK);
    CHECK(fm_alerts_time_s(a) == 1.0);
    fm_alerts_destroy(a);
    /* a disabled rule stays silent */
    fm_alerts_config_default(&cfg);
    cfg.rule[FM_ALERT_FHR_BELOW_80].enabled = 0;
    tr *t = tr_new(900, 140, 10, 15);
    tr_dip(t, 100, 400, 70);
    a = fm_alerts_create(&cfg);
    static evlist l;
    l.n = 0;
    CHECK(push_until(a, t, FM_ALERT_FHR_BELOW_80, &l) < 0);
    fm_alerts_destroy(a);
    tr_free(t);
}

int main(void)
{
    RUN(fhr_below_80_fires_with_the_completing_sample);
    RUN(fhr_below_80_on_doubtful_or_maternal_marked_signal_still_fires_and_says_so);
    RUN(fhr_below_80_silent_just_below_threshold);
    RUN(fhr_below_80_hovering_is_one_episode);
    RUN(short_signal_gaps_are_bridged_long_ones_are_not);
    RUN(prolonged_deceleration_below_last_known_baseline);
    RUN(prolonged_deceleration_silent_below_thresholds);
    RUN(signal_loss_window_share);
    RUN(signal_loss_hovering_at_half_is_one_episode);
    RUN(maternal_capture_fires_at_half_the_window);
    RUN(maternal_capture_after_a_descent_is_a_possible_bradycardia);
    RUN(queue_is_bounded_and_overflow_is_reported);
    RUN(server_technical_conditions);
    RUN(rule_table_and_bad_input);
    return CHECK_DONE();
}
