// The clinician's worklist: her patients with gestational age, open alerts by priority, live
// state with the age of the last data, recordings, unread recordings and the last one. One
// request, GET /api/worklist; a server without it gets the older way (patients, then each one's
// recordings, readings and alerts), and what it cannot say shows "–". Refreshes every 15 s and
// when the live feed reports a change; the data age of a live stream ticks every second and
// restarts when the feed brings its samples.
import { api } from '../api.js';
import { h, fmtDateTime, fmtGestation } from '../dom.js';
import { t } from '../i18n.js';
import { statusBadge, errorPanel, readState, markReadings } from './common.js';
import { feed } from '../live.js';
import { patientAlerts } from '../alertsvc.js';

const REFRESH_MS = 15000;
const LIVE_AGE_S = 10;     /* newer data than this: "live" */
const STALLED_AGE_S = 120; /* older: "stalled" */
const PRIORITY_RANK = { high: 3, medium: 2, low: 1 };

let summaryRoute = null; /* does the server offer GET /api/worklist? (null: not asked yet) */

/* A row: {p, alerts: {high, medium, low, top} | null, live: {recording, age_s, at} | null,
 * receiving (a stream without a data age), total, unread (null = unknown), last}. */
function fromSummary(p, now) {
  return {
    p,
    alerts: p.open_alerts || null,
    live: p.live ? { recording: p.live.recording, age_s: p.live.last_data_age_s, at: now } : null,
    receiving: null,
    total: p.recordings_total ?? (p.recordings || []).length,
    unread: p.unread ?? null,
    last: (p.recordings || [])[0] || null,
  };
}

async function loadSummary() {
  const r = await api('/api/worklist');
  const now = performance.now();
  return r.patients.map((p) => fromSummary(p, now));
}

async function loadLegacy() {
  const { patients } = await api('/api/patients');
  return Promise.all(patients.map(async (p) => {
    let recs = [];
    try { recs = (await api(`/api/patients/${encodeURIComponent(p.name)}/recordings`)).recordings || []; } catch { recs = null; }
    let alerts = null;
    try {
      const al = await patientAlerts(p);
      if (al) {
        const open = al.filter((a) => !a.acknowledged_ms);
        alerts = { high: 0, medium: 0, low: 0 };
        for (const a of open) alerts[a.priority] = (alerts[a.priority] || 0) + 1;
        alerts.top = ['high', 'medium', 'low'].find((k) => alerts[k]) || null;
      }
    } catch { /* shown as unknown */ }
    if (recs) await markReadings(recs);
    const readsKnown = recs && recs.some((r) => readState(r) !== null);
    return {
      p, alerts, live: null,
      receiving: recs && recs.find((r) => r.status === 'receiving'),
      total: recs ? recs.length : null,
      unread: readsKnown ? recs.filter((r) => readState(r) === 'unread').length : null,
      last: recs && recs.length ? recs.reduce((a, b) => (b.created_ms > a.created_ms ? b : a)) : null,
    };
  }));
}

async function load() {
  let rows = null;
  if (summaryRoute !== false) {
    try { rows = await loadSummary(); summaryRoute = true; } catch (e) {
      if (e.status !== 404 || summaryRoute) throw e;
      summaryRoute = false;
    }
  }
  if (!rows) rows = await loadLegacy();
  for (const { p } of rows) feed.subscribe(p.name); /* recording changes and samples are pushed */
  return rows;
}

function alertCell(al) {
  if (!al) return h('span.muted', { title: t('alerts_unknown') }, '–');
  const n = (al.high || 0) + (al.medium || 0) + (al.low || 0);
  if (!n) return h('span.muted', '0');
  return h('span.alerts-cell', ['high', 'medium', 'low'].filter((k) => al[k])
    .map((k) => h(`span.alarm.al-${k}`, { dataset: { priority: k } }, t('alert_count', { n: al[k], p: t(`prio_${k}`) }))));
}

function liveAge(live) { return live.age_s + (performance.now() - live.at) / 1000; }

function liveContent(el, live) {
  const age = liveAge(live);
  const st = age < LIVE_AGE_S ? 'ok' : age < STALLED_AGE_S ? 'delayed' : 'stalled';
  el.className = `live ${st}`;
  el.dataset.state = st;
  el.textContent = st === 'ok' ? t('live_ok') : st === 'delayed' ? t('live_delayed', { s: Math.round(age) }) : t('live_stalled');
}

function liveCell(row) {
  if (row.live && row.live.age_s != null) {
    const a = h('a.live', { href: `#/recording/${row.live.recording}`, dataset: { recording: row.live.recording } });
    liveContent(a, row.live);
    a.liveRow = row.live;
    return a;
  }
  if (row.receiving) return h('a.live.ok', { href: `#/recording/${row.receiving.id}` }, t('live_streaming'));
  return h('span.muted', { title: t('no_live') }, '–');
}

function row(r) {
  const { p, last } = r;
  return h('tr', { dataset: { patient: p.name } },
    h('th', { scope: 'row' }, h('a.pt-link', { href: `#/patient/${encodeURIComponent(p.name)}` }, p.display_name || p.name),
      h('div.sub', `${t('hospital_id')} ${p.hospital_id || '–'}`, p.risk_notes ? h('span.risk', { title: p.risk_notes }, ` · ${p.risk_notes}`) : null)),
    h('td.num', { title: p.due_date ? `${t('due_date')} ${p.due_date}` : '' }, fmtGestation(p.gestation_weeks)),
    h('td', alertCell(r.alerts)),
    h('td', liveCell(r)),
    h('td.num', r.total == null ? '?' : String(r.total)),
    h('td.num', r.unread == null ? h('span.muted', { title: t('readings_unknown') }, '–')
      : r.unread ? h('span.badge.unread', String(r.unread)) : '0'),
    h('td', last ? h('a', { href: `#/recording/${last.id}` }, fmtDateTime(last.created_ms), ' ', statusBadge(last)) : h('span.muted', t('no_recordings'))),
  );
}

/* Open high alerts first, then live streams, then unread, then the most recent data. */
function sortRows(rows) {
  const key = (r) => [
    r.alerts ? Math.max(0, ...['high', 'medium', 'low'].filter((k) => r.alerts[k]).map((k) => PRIORITY_RANK[k])) : 0,
    r.live || r.receiving ? 1 : 0,
    r.unread ? 1 : 0,
    r.last ? r.last.created_ms || 0 : 0,
  ];
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
  let timer = null, seq = 0;
  async function refresh() {
    const mine = ++seq; /* answers may come out of order: only the newest is shown */
    try {
      const rows = sortRows(await load());
      if (mine !== seq) return;
      body.replaceChildren(rows.length ? h('table.grid.worklist', { id: 'worklist', dataset: { source: summaryRoute ? 'worklist' : 'legacy' } },
        h('thead', h('tr', ...[t('patient'), `${t('gestation')} (w+d)`, t('alerts'), t('live'), t('recordings'), t('unread'), t('last_recording')]
          .map((c) => h('th', { scope: 'col' }, c)))),
        h('tbody', rows.map(row))) : h('p.panel', t('no_patients')));
      status.textContent = t('worklist_updated', { time: new Date().toLocaleTimeString([], { hour12: false }), s: REFRESH_MS / 1000 });
    } catch (e) {
      if (e.status === 401 || mine !== seq) return;
      body.replaceChildren(errorPanel(e));
    }
  }
  await refresh();
  timer = setInterval(refresh, REFRESH_MS);
  const ticker = setInterval(() => {
    for (const a of body.querySelectorAll('a.live[data-recording]')) if (a.liveRow) liveContent(a, a.liveRow);
  }, 1000);
  let soon = null;
  const off = feed.on((m) => {
    if (m.type === 'samples' && m.recording) { /* data arrived: its age restarts */
      for (const a of body.querySelectorAll(`a.live[data-recording="${m.recording}"]`)) {
        if (a.liveRow) { a.liveRow.age_s = 0; a.liveRow.at = performance.now(); liveContent(a, a.liveRow); }
      }
      return;
    }
    if (m.type !== 'recording' && m.type !== 'resync' && !m.type.startsWith('alert')) return;
    clearTimeout(soon);
    soon = setTimeout(refresh, 300); /* a burst of progress messages: one reload */
  });
  return () => { clearInterval(timer); clearInterval(ticker); clearTimeout(soon); off(); };
}
