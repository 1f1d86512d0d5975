// Alerts from the server (docs/api.md: GET /api/alerts, GET /api/patients/NAME/alerts,
// POST /api/alerts/ID/ack, {"type":"alert.*"} on the live feed) in the shape the alarm bar and
// the trace use. Not for the alert rules (the alerting engine) nor their presentation
// (alarms.js).
import { api } from './api.js';
import { t } from './i18n.js';

/* A rule code as words in the user's language: "prolonged_deceleration" -> "prolonged
 * deceleration" / "延长减速"; an unknown code as its words. */
export function ruleText(rule) {
  const key = `rule_${rule}`, v = t(key);
  return v !== key ? v : String(rule || '').replace(/_/g, ' ');
}

export function toAlarm(a, patient) {
  return {
    id: a.id, priority: a.priority, state: a.state, rule: a.rule,
    text: ruleText(a.rule) + (a.t_from_s != null ? t('alarm_from', { t: `${Math.floor(a.t_from_s / 60)}:${String(Math.floor(a.t_from_s % 60)).padStart(2, '0')}` }) : ''),
    patient: patient ? patient.name : a.patient, patient_name: patient ? patient.display_name || patient.name : a.patient,
    created_ms: a.created_ms, acknowledged_ms: a.state !== 'raised' ? a.acknowledged_ms || 1 : null,
    recording_id: a.recording, start_s: a.t_from_s, end_s: a.t_to_s,
  };
}

/* One patient's alerts; null when the server has no alerts route or refuses (not a clinician). */
export async function patientAlerts(patient) {
  try {
    const r = await api(`/api/patients/${encodeURIComponent(patient.name)}/alerts`);
    return (r.alerts || []).map((a) => toAlarm(a, patient));
  } catch (e) {
    if (e.status === 404 || e.status === 403) return null;
    throw e;
  }
}

/* The alarm bar's list in one request: every alert of the clinician's care team waiting for
 * acknowledgement (GET /api/alerts?state=raised&scope=care_team), the patients named by their
 * display names (GET /api/patients, asked again only when an alert names a patient not seen
 * yet). null when the server has no such list (404, 400) or refuses (403): no alarm bar. */
let displayNames = null; /* patient name -> her patient record */
export async function careTeamAlarms() {
  let r;
  try {
    r = await api('/api/alerts?state=raised&scope=care_team');
  } catch (e) {
    if (e.status === 404 || e.status === 403 || e.status === 400) return null;
    throw e;
  }
  const alerts = r.alerts || [];
  if (alerts.some((a) => !displayNames || !displayNames.has(a.patient))) {
    const { patients } = await api('/api/patients');
    displayNames = new Map(patients.map((p) => [p.name, p]));
  }
  return alerts.map((a) => toAlarm(a, displayNames.get(a.patient)));
}
/* At sign-out: the next user's patients are asked anew. */
export function forgetAlarmPatients() { displayNames = null; }

export async function ackAlert(id) {
  return api(`/api/alerts/${encodeURIComponent(id)}/ack`, { method: 'POST', body: {} });
}
