// STV trend across a patient's analysed recordings (issue 7 "STV trend"): one point per
// recording, the 3 ms line of criterion 6 (CLINICAL 3.3) drawn for reference, points filled when
// the antenatal criteria were met. Loads each recording's analysis (newest 30), one at a time.
import { api } from '../api.js';
import { h, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';

const MAX_RECORDINGS = 30;
const STV_CRITERION_MS = 3; /* CLINICAL 3.3 criterion 6 */
const NS = 'http://www.w3.org/2000/svg';

function s(tag, attrs = {}, ...kids) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  for (const k of kids) el.append(k instanceof Node ? k : document.createTextNode(String(k)));
  return el;
}

function chart(points) {
  const W = 640, H = 180, L = 40, R = 12, T = 10, B = 28;
  const ymax = Math.max(12, ...points.map((p) => p.stv)) * 1.1;
  const t0 = Math.min(...points.map((p) => p.t)), t1 = Math.max(...points.map((p) => p.t));
  const X = (t) => L + (t1 > t0 ? ((t - t0) / (t1 - t0)) * (W - L - R) : (W - L - R) / 2);
  const Y = (v) => T + (1 - v / ymax) * (H - T - B);
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'stv-chart', role: 'img',
    'aria-label': t('stv_chart_aria', { n: points.length, a: points[0].stv.toFixed(1), b: points[points.length - 1].stv.toFixed(1) }) });
  for (let v = 0; v <= ymax; v += 2) {
    svg.append(s('line', { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: 'grid' }),
      s('text', { x: L - 6, y: Y(v) + 4, 'text-anchor': 'end', class: 'tick' }, v));
  }
  svg.append(s('line', { x1: L, x2: W - R, y1: Y(STV_CRITERION_MS), y2: Y(STV_CRITERION_MS), class: 'limit' }),
    s('text', { x: W - R, y: Y(STV_CRITERION_MS) - 4, 'text-anchor': 'end', class: 'limit-label' }, t('stv_criterion')),
    s('text', { x: 4, y: T + 8, class: 'tick' }, 'ms'));
  if (points.length > 1)
    svg.append(s('polyline', { points: points.map((p) => `${X(p.t)},${Y(p.stv)}`).join(' '), class: 'line' }));
  for (const p of points) {
    const c = s('circle', { cx: X(p.t), cy: Y(p.stv), r: 4.5, class: p.met ? 'met' : p.met === false ? 'notmet' : 'unknown' });
    c.append(s('title', {}, t('stv_point', { when: fmtDateTime(p.t), v: p.stv.toFixed(1), met: p.met ? t('crit_met') : p.met === false ? t('crit_not_met') : '?' })));
    const a = s('a', { href: `#/recording/${p.id}` });
    a.append(c);
    svg.append(a);
  }
  svg.append(s('text', { x: L, y: H - 8, class: 'tick' }, fmtDateTime(t0)),
    s('text', { x: W - R, y: H - 8, 'text-anchor': 'end', class: 'tick' }, fmtDateTime(t1)));
  return svg;
}

export function stvTrendPanel(recs) {
  const body = h('p.muted.small', t('loading_analyses'));
  const panel = h('section.panel.stv-trend', { id: 'stv-trend', 'aria-labelledby': 'stv-h' }, h('h2', { id: 'stv-h' }, t('stv_trend')), body);
  const done = recs.filter((r) => r.status === 'done').sort((a, b) => a.created_ms - b.created_ms).slice(-MAX_RECORDINGS);
  (async () => {
    const points = [];
    for (const r of done) {
      if (!panel.isConnected && points.length) return;
      try {
        const d = await api(`/api/recordings/${encodeURIComponent(r.id)}`);
        const a = d.analysis || {};
        if (typeof a.stv_ms === 'number') {
          const v = a.verdicts && a.verdicts.antenatal;
          points.push({ id: r.id, t: r.created_ms, stv: a.stv_ms, met: v ? v.met : null });
        }
      } catch { /* one unreadable analysis does not hide the others */ }
    }
    if (!done.length) body.replaceWith(h('p.muted.small', t('no_analysed')));
    else if (!points.length) body.replaceWith(h('p.muted.small', t('stv_needs_analysis')));
    else body.replaceWith(chart(points));
  })();
  return panel;
}
