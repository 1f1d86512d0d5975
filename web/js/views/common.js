// Pieces shared by pages: status badges, error panels, the recording list table.
import { api } from '../api.js';
import { h, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';

export function statusBadge(rec) {
  const st = rec.status || 'queued';
  const pct = st === 'analysing' && Number.isFinite(rec.progress) ? ` ${Math.round(rec.progress * 100)}%` : '';
  return h(`span.badge.st-${st}`, { dataset: { status: st } }, t(`status_${st}`) + pct);
}

export function errorPanel(err) {
  const msg = err.status === 403 ? t('error_forbidden')
    : err.status === 404 ? t('error_not_found') : t('error_generic', { msg: err.message });
  return h('div.panel.error-panel', { role: 'alert', id: 'page-error' },
    h('h2', t('error_title')), h('p', msg),
    err.status ? h('p.small.muted', `HTTP ${err.status}${err.code ? ` · ${err.code}` : ''}`) : null,
    h('p', h('a', { href: '#/' }, t('back'))));
}

/* Has the clinician read (signed) it? null when the server has no readings yet. */
export function readState(rec) {
  if (!('reading' in rec)) return null;
  return rec.reading ? 'read' : 'unread';
}

export function recordingsTable(recs, { linkFor, caption }) {
  return h('table.grid', { id: 'recordings' },
    caption ? h('caption', caption) : null,
    h('thead', h('tr', h('th', { scope: 'col' }, t('recorded_sent')), h('th', { scope: 'col' }, t('file')),
      h('th', { scope: 'col' }, t('status')), h('th', { scope: 'col' }, t('reading')), h('th', { scope: 'col' }, ''))),
    h('tbody', recs.map((r) => {
      const rs = readState(r);
      return h('tr', { dataset: { id: r.id } },
        h('td.num', fmtDateTime(r.created_ms)),
        h('td', r.source_name || r.id),
        h('td', statusBadge(r)),
        h('td', rs === null ? h('span.muted', { title: t('readings_unknown') }, '–')
          : rs === 'read' ? h('span.badge.read', t('signed')) : h('span.badge.unread', t('unread'))),
        h('td', h('a.btn.small', { href: linkFor(r) }, t('open'))));
    })));
}

/* Sets rec.reading (the latest reading, or null) on the newest analysed recordings, one request
 * each (GET /api/recordings/ID/readings); left unset (unknown) when the server refuses. Unread =
 * analysed and no reading. A summary route would serve a long history better. */
const READ_CHECK_MAX = 10;
export async function markReadings(recs) {
  const done = recs.filter((r) => r.status === 'done').sort((a, b) => b.created_ms - a.created_ms).slice(0, READ_CHECK_MAX);
  await Promise.all(done.map(async (r) => {
    try { r.reading = (await api(`/api/recordings/${r.id}/readings`)).readings.at(-1) || null; } catch { /* unknown */ }
  }));
}
