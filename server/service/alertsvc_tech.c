/* fm_alertsvc_technical: see alertsvc_tech.h. A short-lived fm_alerts object turns the
 * condition into the engine's own event (rule table text, priority, CLINICAL reference), which
 * goes to fm_alertsvc_event like any stream's. The episode of a (source, rule) pair is numbered
 * by its rule, so the clearing event finds the alert the raising one opened. */
#include <string.h>

#include "alertsvc_tech.h"

typedef struct tech_ctx {
    fm_alertsvc *a;
    int64_t patient_id;
    const char *source;
    int want_closed; /* clearing: only the CLOSED event goes on */
} tech_ctx;

static void tech_sink(void *user, const fm_alert_event *in)
{
    tech_ctx *c = user;
    if (c->want_closed != (in->type == FM_ALERT_CLOSED))
        return;
    fm_alert_event ev = *in;
    ev.episode_id = (uint64_t)in->rule + 1;
    fm_alertsvc_event(c->a, c->patient_id, c->source, &ev);
}

void fm_alertsvc_technical(fm_alertsvc *a, int64_t patient_id, const char *source,
                           fm_alert_rule rule, int on, const char *detail)
{
    if (!a || !source)
        return;
    tech_ctx c = {a, patient_id, source, !on};
    fm_alerts_config cfg;
    fm_alerts_config_default(&cfg);
    cfg.sink = tech_sink;
    cfg.sink_user = &c;
    fm_alerts *al = fm_alerts_create(&cfg);
    if (!al)
        return;
    fm_alerts_technical(al, rule, 0, 1, on ? detail : NULL);
    if (!on)
        fm_alerts_technical(al, rule, 0, 0, detail);
    fm_alerts_destroy(al);
}
