/* fm_alertsvc: the server's side of the alert life cycle. It wraps one fm_alerting
 * (server/alerting/alerting.h) behind a mutex so the live pipelines (on their workers), the
 * upload analyses, the acknowledgement routes (API workers) and the escalation tick can all
 * reach it, and implements its hooks: every transition is stored and audited (through its own
 * store connection), published on the bus to the patient's live-feed viewers as
 * {"type":"alert.<action>", ...} (docs/api.md), and POSTed to the configured webhooks
 * (server/alerting/webhook.h: a worker thread, a durable spool in DATA/webhooks).
 * Open alerts (with their escalation level, who was told, and the deadline) are reloaded from
 * the store at create, so escalation continues on time across a restart.
 *
 * Not for deciding that a condition holds (fetalmon/alerts.h, run by livepipe.c and the upload
 * analysis). Never called on the event loop: it writes to the store (fsync). */
#ifndef FM_ALERTSVC_H
#define FM_ALERTSVC_H

#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "fetalmon/alerts.h"
#include "svc.h"

typedef struct fm_alertsvc fm_alertsvc;

/* escalate_high_s: seconds before an unacknowledged HIGH alert goes to the next clinician
 * (0 = the alerting default). No webhooks. */
fm_alertsvc *fm_alertsvc_create(const char *data_dir, fm_bus *bus, int escalate_high_s);
/* From the server's settings: escalation time and webhooks (webhook_url ... keys). NULL with a
 * message in err on a bad webhook configuration or a store error. */
fm_alertsvc *fm_alertsvc_create_from(const fm_config *cfg, fm_bus *bus, char *err,
                                     size_t err_len);
void fm_alertsvc_destroy(fm_alertsvc *a);

/* An engine event for a patient's recording (any thread but the loop). */
void fm_alertsvc_event(fm_alertsvc *a, int64_t patient_id, const char *recording_id,
                       const fm_alert_event *ev);
/* Technical alerts the server detects itself (upload incomplete, analysis failed):
 * fm_alertsvc_technical in alertsvc_tech.h. */
/* A clinician acknowledges: FM_SVC_NOTFOUND when the engine does not hold this alert (resolved,
 * or raised before a restart: the caller then acknowledges it in the store alone). */
fm_svc_status fm_alertsvc_ack(fm_alertsvc *a, int64_t alert_id, int64_t clinician_id);
/* A clinician's screen shows the alert. */
void fm_alertsvc_received(fm_alertsvc *a, int64_t alert_id, int64_t clinician_id);
/* Escalations due now. */
void fm_alertsvc_tick(fm_alertsvc *a);

#endif
