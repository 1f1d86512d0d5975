/* fm_alertsvc_technical: a server-side technical condition that belongs to no live pipeline
 * (an upload without progress, ...) raised or cleared through the alert life cycle, the way a
 * stream's fm_alerts raises "stream stalled". Not for conditions an engine object owns (they go
 * through that object's fm_alerts and fm_alertsvc_event). */
#ifndef FM_ALERTSVC_TECH_H
#define FM_ALERTSVC_TECH_H

#include <stdint.h>

#include "alertsvc.h"

/* on = 1 raises the rule's alert for (patient_id, source), on = 0 clears it (an alert the
 * engine no longer holds, e.g. raised before a restart, is left as stored). source is the
 * recording or upload id the alert is about; rule is one of the server-side technical rules
 * (FM_ALERT_STREAM_STALLED .. FM_ALERT_DEVICE_DISCONNECTED). detail (may be NULL) goes into
 * the message. a may be NULL (no alerting): nothing happens. Any thread but the loop. */
void fm_alertsvc_technical(fm_alertsvc *a, int64_t patient_id, const char *source,
                           fm_alert_rule rule, int on, const char *detail);

#endif
