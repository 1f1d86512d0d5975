// The analysis panel of a recording: basal rate, STV, LTV, signal, episodes, events, the
// antenatal (Oxford-criteria-style) verdict with every reason, FIGO / NICHD / NST. Renders the
// keys present in the engine's JSON (docs/ctg.md) and says what is absent. Not for drawing.
import { h, fmtNum, fmtDuration } from '../dom.js';

const FIGO_CLASS = { normal: 'ok', suspicious: 'warn', pathological: 'bad', insufficient_signal: 'muted' };

function kv(label, value, title) {
  return [h('dt', { title: title || '' }, label), h('dd', value)];
}

function reasons(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h('ul.reasons', list.map((r) => h('li', { dataset: { code: r.code || '' } }, r.text || r.code || String(r))));
}

function summary(a) {
  const v = a.verdicts && a.verdicts.antenatal;
  return h('section.panel', { 'aria-labelledby': 'an-sum' },
    h('h2', { id: 'an-sum' }, 'Summary'),
    h('dl.kv',
      kv('Duration', fmtDuration(a.duration_s)),
      kv('Signal loss', fmtNum(a.lost_percent, 1, '%'), 'samples not valid fetal signal'),
      a.maternal ? kv('Maternal suspected', fmtNum(a.maternal.percent, 1, '%')) : [],
      'basal_bpm' in a ? kv('Basal rate', fmtNum(a.basal_bpm, 0, 'bpm'), 'mean FHR in low-variation episodes, else modified mode (CLINICAL 3.2)') : [],
      'figo_baseline_bpm' in a ? kv('FIGO baseline', fmtNum(a.figo_baseline_bpm, 0, 'bpm')) : [],
      'stv_ms' in a ? kv('STV', h('span', { class: a.stv_ms != null && a.stv_ms < 3 ? 'val-bad' : '' }, fmtNum(a.stv_ms, 1, 'ms')), 'short-term variation (CLINICAL 3.2); < 3 ms fails criterion 6') : [],
      'ltv_ms' in a ? kv('LTV', `${fmtNum(a.ltv_ms, 0, 'ms')}${a.ltv_bpm != null ? ` (${fmtNum(a.ltv_bpm, 0, 'bpm')})` : ''}`) : [],
      a.episodes ? kv('High variation', episodesText(a.episodes.high)) : [],
      a.episodes ? kv('Low variation', episodesText(a.episodes.low)) : [],
      Array.isArray(a.accelerations) ? kv('Accelerations', `${a.accelerations.length}${v ? ` (≥10: ${v.accelerations_10 ?? '–'}, ≥15: ${v.accelerations_15 ?? '–'})` : ''}`) : [],
      Array.isArray(a.decelerations) ? kv('Decelerations', String(a.decelerations.length)) : [],
      Array.isArray(a.movements_s) ? kv('Fetal movements', String(a.movements_s.length)) : [],
      a.sinusoidal ? kv('Sinusoidal', a.sinusoidal.detected ? h('span.val-bad', `yes, ${fmtDuration(a.sinusoidal.longest_s)} longest`) : 'no') : [],
    ));
}

function episodesText(list) {
  if (!Array.isArray(list) || !list.length) return 'none';
  const min = list.reduce((s, [a, b]) => s + (b - a), 0) / 60;
  return `${list.length} (${min.toFixed(0)} min)`;
}

function antenatal(v) {
  if (!v) return null;
  const met = v.met === true;
  return h('section.panel', { 'aria-labelledby': 'an-oxf', id: 'antenatal' },
    h('h2', { id: 'an-oxf' }, 'Antenatal criteria', h('span.small.muted', ' (Oxford-criteria style)')),
    h(`p.verdict.${met ? 'ok' : 'bad'}`, { id: 'criteria-verdict' },
      met ? `Criteria met at ${v.at_min} min` : `Criteria not met${v.at_min != null ? ` (evaluated to ${v.at_min} min)` : ''}`,
      v.complete === false && !met ? h('span.small', ' · record incomplete') : null),
    reasons(v.reasons),
    Array.isArray(v.notes) && v.notes.length ? h('div.notes', h('h3', 'Notes'), reasons(v.notes)) : null);
}

function ruleSets(vs) {
  if (!vs || (!vs.figo && !vs.nichd && !vs.nst)) return null;
  const { figo, nichd, nst } = vs;
  return h('section.panel', { 'aria-labelledby': 'an-rules' },
    h('h2', { id: 'an-rules' }, 'Rule sets'),
    figo ? h('div.rule', h('h3', 'FIGO 2015'),
      h(`p.verdict.${FIGO_CLASS[figo.class] || 'muted'}`, { id: 'figo-class' }, figo.class.replace('_', ' '),
        figo.baseline_bpm != null ? h('span.small', ` · baseline ${figo.baseline_bpm} bpm`) : null,
        figo.variability_bpm != null ? h('span.small', ` · variability ${fmtNum(figo.variability_bpm, 0)} bpm`) : null),
      reasons(figo.reasons)) : null,
    nichd ? h('div.rule', h('h3', 'NICHD 2008'),
      h(`p.verdict.${nichd.category === 1 ? 'ok' : nichd.category === 3 ? 'bad' : 'warn'}`, `Category ${nichd.label || nichd.category}`),
      reasons(nichd.reasons)) : null,
    nst ? h('div.rule', h('h3', 'ACOG NST'),
      h(`p.verdict.${nst.result === 'reactive' ? 'ok' : 'warn'}`, nst.result.replace('_', ' ')),
      reasons(nst.reasons)) : null,
    h('p.small.muted', 'No uterine activity is recorded at home: decelerations are described by depth, duration and shape, never as early or late.'));
}

function events(a, onJump) {
  const acc = Array.isArray(a.accelerations) ? a.accelerations : [];
  const dec = Array.isArray(a.decelerations) ? a.decelerations : [];
  if (!acc.length && !dec.length) return null;
  const rows = [
    ...acc.map((e) => ({ t: e.start_s, kind: 'Acceleration', cls: 'acc', e,
      text: `+${fmtNum(e.amplitude_bpm, 0)} bpm, ${fmtDuration(e.duration_s ?? e.end_s - e.start_s)}${e.peak_bpm != null ? `, peak ${Math.round(e.peak_bpm)}` : ''}${e.figo ? ' · FIGO' : ''}` })),
    ...dec.map((e) => ({ t: e.start_s, kind: e.prolonged ? 'Prolonged deceleration' : 'Deceleration', cls: 'dec', e,
      text: `−${fmtNum(e.depth_bpm, 0)} bpm, ${fmtDuration(e.duration_s ?? e.end_s - e.start_s)}${e.nadir_bpm != null ? `, nadir ${Math.round(e.nadir_bpm)}` : ''}${e.lost_beats != null ? `, ${fmtNum(e.lost_beats, 0)} lost beats` : ''}${e.shape ? `, ${e.shape}` : ''}` })),
  ].sort((x, y) => x.t - y.t);
  return h('section.panel.events', { 'aria-labelledby': 'an-ev' },
    h('h2', { id: 'an-ev' }, 'Events'),
    h('table.grid.compact', h('thead', h('tr', h('th', 'Time'), h('th', 'Event'), h('th', 'Detail'))),
      h('tbody', rows.map((r) => h('tr', { class: r.cls },
        h('td.num', h('button.linkish', { type: 'button', onclick: () => onJump(r.t), title: 'show on the trace' }, fmtDuration(r.t))),
        h('td', r.kind), h('td', r.text))))));
}

export function analysisPanel(a, { onJump }) {
  const missing = !a.verdicts ? h('p.small.muted.panel', { id: 'analysis-partial' },
    'This server’s engine gives the trace and signal quality only: baseline, variability, events and verdicts appear when the CTG analysis is deployed.') : null;
  return h('div.analysis', { id: 'analysis' }, summary(a), antenatal(a.verdicts && a.verdicts.antenatal), ruleSets(a.verdicts), events(a, onJump), missing);
}
