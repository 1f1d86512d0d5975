/* Tests of the alert life cycle (server/alerting/alerting.c) on a clock the test drives:
 * escalation timing through the care team then everyone on duty, acknowledgement stops it,
 * latching, automatic resolution, every transition recorded with who and when, and the JSON. */
#include <string.h>

#include "alerting.h"
#include "check.h"

typedef struct rec {
    int64_t alert_id, t_ms, actor;
    fm_al_action action;
    int level;
    size_t n_targets;
    int64_t targets[8];
} rec;

typedef struct world {
    int64_t team[8];
    size_t n_team;
    int64_t duty[8];
    size_t n_duty;
    rec r[256];
    size_t n;
    size_t delivered_calls;
    char json[4096];
} world;

static void on_record(void *u, const fm_al_record *r)
{
    world *w = u;
    if (w->n < 256) {
        rec *x = &w->r[w->n++];
        x->alert_id = r->alert_id;
        x->t_ms = r->t_ms;
        x->actor = r->actor_id;
        x->action = r->action;
        x->level = r->level;
        x->n_targets = r->n_targets < 8 ? r->n_targets : 8;
        if (x->n_targets)
            memcpy(x->targets, r->targets, x->n_targets * sizeof(int64_t));
    }
    fm_al_record_json(r, w->json, sizeof w->json);
}
static void on_deliver(void *u, const fm_al_record *r)
{
    ((world *)u)->delivered_calls++;
    (void)r;
}
static size_t care_team(void *u, int64_t patient, int64_t *out, size_t cap)
{
    world *w = u;
    (void)patient;
    for (size_t i = 0; i < w->n_team && i < cap; i++)
        out[i] = w->team[i];
    return w->n_team;
}
static size_t on_duty(void *u, int64_t *out, size_t cap)
{
    world *w = u;
    for (size_t i = 0; i < w->n_duty && i < cap; i++)
        out[i] = w->duty[i];
    return w->n_duty;
}

static fm_alerting *make(world *w, const fm_alerting_config *cfg)
{
    memset(w, 0, sizeof *w);
    w->n_team = 3;
    w->team[0] = 11, w->team[1] = 12, w->team[2] = 13;
    w->n_duty = 3;
    w->duty[0] = 21, w->duty[1] = 11, w->duty[2] = 22;
    fm_alerting_hooks h = {w, on_record, on_deliver, care_team, on_duty};
    return fm_alerting_create(cfg, &h);
}

static fm_alert_event event(fm_alert_event_type type, uint64_t ep, fm_alert_rule rule,
                            fm_alert_priority p)
{
    fm_alert_event e;
    memset(&e, 0, sizeof e);
    e.type = type;
    e.episode_id = ep;
    e.rule = rule;
    e.rule_code = fm_alert_rule_code(rule);
    e.rule_name = fm_alert_rule_name(rule);
    e.clinical_ref = fm_alert_rule_ref(rule);
    e.logic = "logic \"quoted\"";
    e.kind = fm_alert_rule_kind(rule);
    e.priority = p;
    e.start_s = 300;
    e.end_s = 480.25;
    e.n_values = 1;
    e.values[0].key = "nadir_bpm";
    e.values[0].value = 72;
    snprintf(e.message, sizeof e.message, "FHR below 80 bpm for 3 min");
    return e;
}

static const rec *find(const world *w, int64_t id, fm_al_action a, int nth)
{
    for (size_t i = 0; i < w->n; i++)
        if (w->r[i].alert_id == id && w->r[i].action == a && nth-- == 0)
            return &w->r[i];
    return NULL;
}

static size_t count(const world *w, int64_t id, fm_al_action a)
{
    size_t c = 0;
    for (size_t i = 0; i < w->n; i++)
        c += w->r[i].alert_id == id && w->r[i].action == a;
    return c;
}

static void high_alert_escalates_through_team_then_on_duty(void)
{
    world w;
    fm_alerting *a = make(&w, NULL);
    fm_alert_event e = event(FM_ALERT_OPENED, 1, FM_ALERT_FHR_BELOW_80, FM_ALERT_PRIO_HIGH);
    int64_t id = 0;
    CHECK(fm_alerting_event(a, 7, "rec-1", &e, 1000, &id) == FM_OK && id == 1);
    const rec *d0 = find(&w, id, FM_AL_DELIVERED, 0);
    CHECK(find(&w, id, FM_AL_RAISED, 0) && d0 && d0->n_targets == 1 && d0->targets[0] == 11);
    CHECK(d0 && d0->t_ms == 1000 && d0->level == 0);
    CHECK(fm_alerting_next_due_ms(a) == 121000);
    fm_alerting_tick(a, 120999);
    CHECK(count(&w, id, FM_AL_ESCALATED) == 0);
    fm_alerting_tick(a, 121000);
    const rec *d1 = find(&w, id, FM_AL_DELIVERED, 1);
    CHECK(count(&w, id, FM_AL_ESCALATED) == 1 && d1 && d1->targets[0] == 12 && d1->level == 1);
    CHECK(d1 && d1->t_ms == 121000);
    fm_alerting_tick(a, 241000);
    const rec *d2 = find(&w, id, FM_AL_DELIVERED, 2);
    CHECK(d2 && d2->targets[0] == 13 && d2->level == 2);
    fm_alerting_tick(a, 361000);
    /* then everyone on duty not yet told (11 already was) */
    const rec *d3 = find(&w, id, FM_AL_DELIVERED, 3);
    CHECK(d3 && d3->n_targets == 2 && d3->targets[0] == 21 && d3->targets[1] == 22);
    CHECK(fm_alerting_next_due_ms(a) == INT64_MAX);
    fm_alerting_tick(a, 10000000);
    CHECK(count(&w, id, FM_AL_DELIVERED) == 4 && w.delivered_calls == 4);
    fm_al_info info;
    CHECK(fm_alerting_get(a, id, &info) == FM_OK && info.n_notified == 5 && info.level == 3);
    fm_alerting_destroy(a);
}

static void acknowledgement_stops_escalation(void)
{
    world w;
    fm_alerting *a = make(&w, NULL);
    fm_alert_event e = event(FM_ALERT_OPENED, 5, FM_ALERT_PROLONGED_DECEL, FM_ALERT_PRIO_HIGH);
    int64_t id;
    fm_alerting_event(a, 7, "rec-1", &e, 0, &id);
    fm_alerting_tick(a, 120000); /* escalated once, to 12 */
    CHECK(fm_alerting_received(a, id, 12, 121500) == FM_OK);
    const rec *rc = find(&w, id, FM_AL_RECEIVED, 0);
    CHECK(rc && rc->actor == 12 && rc->t_ms == 121500);
    CHECK(fm_alerting_ack(a, id, 12, 150000) == FM_OK);
    const rec *k = find(&w, id, FM_AL_ACKNOWLEDGED, 0);
    CHECK(k && k->actor == 12 && k->t_ms == 150000);
    CHECK(fm_alerting_next_due_ms(a) == INT64_MAX);
    fm_alerting_tick(a, 1000000);
    CHECK(count(&w, id, FM_AL_ESCALATED) == 1);
    fm_al_info info;
    CHECK(fm_alerting_get(a, id, &info) == FM_OK && info.state == FM_AL_STATE_ACKNOWLEDGED &&
          info.ack_by == 12 && info.ack_ms == 150000);
    /* the condition clears: resolved, gone from memory */
    fm_alert_event c = event(FM_ALERT_CLOSED, 5, FM_ALERT_PROLONGED_DECEL, FM_ALERT_PRIO_HIGH);
    CHECK(fm_alerting_event(a, 7, "rec-1", &c, 200000, NULL) == FM_OK);
    CHECK(find(&w, id, FM_AL_CLEARED, 0) && find(&w, id, FM_AL_RESOLVED, 0));
    CHECK(fm_alerting_get(a, id, &info) == FM_EINVAL && fm_alerting_active(a) == 0);
    CHECK(fm_alerting_ack(a, id, 12, 1) == FM_EINVAL);
    fm_alerting_destroy(a);
}

static void high_alert_latches_until_acknowledged(void)
{
    world w;
    fm_alerting *a = make(&w, NULL);
    fm_alert_event e = event(FM_ALERT_OPENED, 9, FM_ALERT_FHR_BELOW_80, FM_ALERT_PRIO_HIGH);
    int64_t id;
    fm_alerting_event(a, 7, "rec-1", &e, 0, &id);
    e.type = FM_ALERT_CLOSED;
    fm_alerting_event(a, 7, "rec-1", &e, 30000, NULL);
    CHECK(find(&w, id, FM_AL_CLEARED, 0) && !find(&w, id, FM_AL_RESOLVED, 0));
    fm_alerting_tick(a, 120000); /* still escalates: nobody has seen it */
    CHECK(count(&w, id, FM_AL_ESCALATED) == 1);
    CHECK(fm_alerting_ack(a, id, 11, 130000) == FM_OK);
    const rec *r = find(&w, id, FM_AL_RESOLVED, 0);
    CHECK(r && r->t_ms == 130000 && fm_alerting_active(a) == 0);
    fm_alerting_destroy(a);
}

static void low_technical_resolves_when_cleared_medium_never_escalates(void)
{
    world w;
    fm_alerting *a = make(&w, NULL);
    fm_alert_event lo = event(FM_ALERT_OPENED, 1, FM_ALERT_SIGNAL_LOSS, FM_ALERT_PRIO_LOW);
    fm_alert_event me = event(FM_ALERT_OPENED, 2, FM_ALERT_BRADYCARDIA, FM_ALERT_PRIO_MEDIUM);
    int64_t il, im;
    fm_alerting_event(a, 7, "rec-1", &lo, 0, &il);
    fm_alerting_event(a, 7, "rec-1", &me, 0, &im);
    CHECK(il != im && fm_alerting_next_due_ms(a) == INT64_MAX);
    fm_alerting_tick(a, 3600000);
    CHECK(count(&w, im, FM_AL_ESCALATED) == 0 && count(&w, il, FM_AL_ESCALATED) == 0);
    lo.type = FM_ALERT_CLOSED;
    fm_alerting_event(a, 7, "rec-1", &lo, 5000, NULL);
    const rec *r = find(&w, il, FM_AL_RESOLVED, 0);
    CHECK(r && r->actor == 0 && r->t_ms == 5000);
    /* MEDIUM worsening to HIGH arms escalation from then */
    me.type = FM_ALERT_UPDATED;
    me.priority = FM_ALERT_PRIO_HIGH;
    fm_alerting_event(a, 7, "rec-1", &me, 10000, NULL);
    CHECK(find(&w, im, FM_AL_UPDATED, 0) && fm_alerting_next_due_ms(a) == 130000);
    /* manual resolve acknowledges too */
    CHECK(fm_alerting_resolve(a, im, 13, 20000, "seen, false alarm: maternal") == FM_OK);
    CHECK(find(&w, im, FM_AL_ACKNOWLEDGED, 0) && find(&w, im, FM_AL_RESOLVED, 0));
    CHECK(fm_alerting_active(a) == 0);
    fm_alerting_destroy(a);
}

static void repeated_open_is_one_alert_and_sources_are_separate(void)
{
    world w;
    fm_alerting *a = make(&w, NULL);
    fm_alert_event e = event(FM_ALERT_OPENED, 1, FM_ALERT_TACHYCARDIA, FM_ALERT_PRIO_MEDIUM);
    int64_t i1, i2, i3;
    fm_alerting_event(a, 7, "rec-1", &e, 0, &i1);
    fm_alerting_event(a, 7, "rec-1", &e, 10, &i2);
    fm_alerting_event(a, 8, "rec-2", &e, 10, &i3);
    CHECK(i1 == i2 && i3 != i1 && fm_alerting_active(a) == 2);
    CHECK(count(&w, i1, FM_AL_RAISED) == 1);
    fm_alert_event bad = e;
    bad.priority = FM_ALERT_PRIO_NONE;
    CHECK(fm_alerting_event(a, 7, "rec-1", &bad, 0, NULL) == FM_EINVAL);
    CHECK(fm_alerting_ack(a, i1, 0, 0) == FM_EINVAL);
    fm_alerting_destroy(a);
}

static void empty_care_team_goes_to_on_duty(void)
{
    world w;
    fm_alerting *a = make(&w, NULL);
    w.n_team = 0;
    fm_alert_event e = event(FM_ALERT_OPENED, 1, FM_ALERT_FHR_BELOW_80, FM_ALERT_PRIO_HIGH);
    int64_t id;
    fm_alerting_event(a, 7, "rec-1", &e, 0, &id);
    const rec *d = find(&w, id, FM_AL_DELIVERED, 0);
    CHECK(d && d->n_targets == 3);
    CHECK(fm_alerting_next_due_ms(a) == INT64_MAX);
    fm_alerting_destroy(a);
}

static void configurable_escalation_and_json(void)
{
    world w;
    fm_alerting_config cfg;
    fm_alerting_config_default(&cfg);
    cfg.escalate_after_ms[FM_ALERT_PRIO_HIGH] = 30000;
    cfg.escalate_after_ms[FM_ALERT_PRIO_MEDIUM] = 600000;
    cfg.first_id = 1000;
    fm_alerting *a = make(&w, &cfg);
    fm_alert_event e = event(FM_ALERT_OPENED, 1, FM_ALERT_BRADYCARDIA, FM_ALERT_PRIO_MEDIUM);
    int64_t id;
    fm_alerting_event(a, 7, "rec-\"1\"", &e, 0, &id);
    CHECK(id == 1000 && fm_alerting_next_due_ms(a) == 600000);
    fm_alerting_tick(a, 600000);
    CHECK(count(&w, id, FM_AL_ESCALATED) == 1);
    CHECK(strstr(w.json, "\"type\":\"alert.delivered\"") && strstr(w.json, "\"targets\":[12]"));
    CHECK(strstr(w.json, "\"source\":\"rec-\\\"1\\\"\"") &&
          strstr(w.json, "\"logic\":\"logic \\\"quoted\\\"\""));
    CHECK(strstr(w.json, "\"values\":{\"nadir_bpm\":72}") &&
          strstr(w.json, "\"rule\":\"bradycardia\""));
    char small[16];
    CHECK(fm_al_record_json(&(fm_al_record){.source = "x", .action = FM_AL_RAISED}, small,
                            sizeof small) >= sizeof small &&
          strlen(small) == sizeof small - 1);
    fm_alerting_destroy(a);
}

int main(void)
{
    RUN(high_alert_escalates_through_team_then_on_duty);
    RUN(acknowledgement_stops_escalation);
    RUN(high_alert_latches_until_acknowledged);
    RUN(low_technical_resolves_when_cleared_medium_never_escalates);
    RUN(repeated_open_is_one_alert_and_sources_are_separate);
    RUN(empty_care_team_goes_to_on_duty);
    RUN(configurable_escalation_and_json);
    return CHECK_DONE();
}
