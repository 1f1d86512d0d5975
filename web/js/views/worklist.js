// The clinician's worklist: her patients with gestational age, recordings and their status,
// unread recordings, alerts and live state. Alerts / live / readings show "–" until the server
// offers them (docs/web.md says which keys the page looks for). Refreshes every 15 s.
import { api } from '../api.js';
import { h, fmtDateTime, fmtGestation } from '../dom.js';
import { t } from '../i18n.js';
import { statusBadge, errorPanel, readState, markReadings } from './common.js';
import { feed } from '../live.js';
import { patientAlerts } from '../alertsvc.js';

const REFRESH_MS = 15000;
const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };

async function load() {
  const { patients } = await api('/api/patients');
  for (const p of patients) feed.subscribe(p.name); /* recording changes are pushed */
  const rows = await Promise.all(patients.map(async (p) => {
    let recs = [];
    try { recs = (await api(`/api/patients/${encodeURIComponent(p.name)}/recordings`)).recordings || []; } catch { recs = null; }
    try { const al = await patientAlerts(p); if (al) p.alerts = al; } catch { /* shown as unknown */ }
    if (recs) await markReadings(recs);
    return { p, recs };
  }));
  return rows;
}

function alertCell(p) {
  if (!Array.isArray(p.alerts)) return h('span.muted', { title: 'alerts are not available on this server yet' }, '–');
  const open = p.alerts.filter((a) => !a.acknowledged_ms);
  if (!open.length) return h('span.muted', '0');
  const top = open.reduce((a, b) => ((PRIORITY_RANK[b.priority] || 0) > (PRIORITY_RANK[a.priority] || 0) ? b : a));
  return h(`span.alarm.al-${top.priority}`, `${open.length} ${top.priority}`);
}

function liveCell(p, recs) {
  const receiving = recs && recs.find((r) => r.status === 'receiving');
  if (!p.live && receiving) {
    return h('a.live.ok', { href: `#/recording/${receiving.id}`, title: 'a live stream is being received; its data age is not reported yet' }, 'streaming');
  }
  if (!p.live) return h('span.muted', { title: 'no live stream' }, '–');
  const age = p.live.last_data_age_s;
  if (age == null) return h('span.muted', '–');
  if (age < 10) return h('span.live.ok', t('live'));
  if (age < 120) return h('span.live.delayed', `delayed ${Math.round(age)} s`);
  return h('span.live.stalled', 'stalled');
}

function row({ p, recs }) {
  const last = recs && recs.length ? recs.reduce((a, b) => (b.created_ms > a.created_ms ? b : a)) : null;
  const unread = recs ? recs.filter((r) => readState(r) === 'unread').length : 0;
  const readsKnown = recs && recs.some((r) => readState(r) !== null);
  return h('tr', { dataset: { patient: p.name } },
    h('th', { scope: 'row' }, h('a.pt-link', { href: `#/patient/${encodeURIComponent(p.name)}` }, p.display_name || p.name),
      h('div.sub', `${t('hospital_id')} ${p.hospital_id || '–'}`, p.risk_notes ? h('span.risk', { title: p.risk_notes }, ` · ${p.risk_notes}`) : null)),
    h('td.num', { title: p.due_date ? `${t('due_date')} ${p.due_date}` : '' }, fmtGestation(p.gestation_weeks)),
    h('td', alertCell(p)),
    h('td', liveCell(p, recs)),
    h('td.num', recs ? String(recs.length) : '?'),
    h('td.num', readsKnown ? (unread ? h('span.badge.unread', String(unread)) : '0') : h('span.muted', { title: 'readings are not available on this server yet' }, '–')),
    h('td', last ? h('a', { href: `#/recording/${last.id}` }, fmtDateTime(last.created_ms), ' ', statusBadge(last)) : h('span.muted', t('no_recordings'))),
  );
}

/* Open high alerts first, then unread, then the most recent data. */
function sortRows(rows) {
  const key = ({ p, recs }) => {
    const al = Array.isArray(p.alerts) ? Math.max(0, ...p.alerts.filter((a) => !a.acknowledged_ms).map((a) => PRIORITY_RANK[a.priority] || 0)) : 0;
    const unread = recs ? recs.filter((r) => readState(r) === 'unread').length : 0;
    const last = recs && recs.length ? Math.max(...recs.map((r) => r.created_ms || 0)) : 0;
    return [al, unread ? 1 : 0, last];
  };
  return rows.sort((a, b) => {
    const ka = key(a), kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return kb[i] - ka[i];
    return 0;
  });
}

export async function render(main) {
  main.dataset.title = t('worklist');
  main.className = 'page';
  const status = h('p.muted.small', { id: 'worklist-updated', 'aria-live': 'polite' }, t('loading'));
  const body = h('div');
  main.append(h('div.page-head', h('h1', t('worklist')), status), body);
  let timer = null;
  async function refresh() {
    try {
      const rows = sortRows(await load());
      body.replaceChildren(rows.length ? h('table.grid.worklist', { id: 'worklist' },
        h('thead', h('tr', ...[t('patient'), `${t('gestation')} (w+d)`, t('alerts'), t('live'), t('recordings'), t('unread'), t('last_recording')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', rows.map(row))) : h('p.panel', t('no_patients')));
      status.textContent = `Updated ${new Date().toLocaleTimeString([], { hour12: false })} · changes arrive live, full refresh every ${REFRESH_MS / 1000} s`;
    } catch (e) {
      if (e.status === 401) return;
      body.replaceChildren(errorPanel(e));
    }
  }
  await refresh();
  timer = setInterval(refresh, REFRESH_MS);
  let soon = null;
  const off = feed.on((m) => {
    if (m.type !== 'recording' && m.type !== 'resync' && !m.type.startsWith('alert')) return;
    clearTimeout(soon);
    soon = setTimeout(refresh, 300); /* a burst of progress messages: one reload */
  });
  return () => { clearInterval(timer); clearTimeout(soon); off(); };
}
