// The analysis panel of a recording: basal rate, STV, LTV, signal, episodes, events, the
// antenatal (Oxford-criteria-style) verdict with every reason, FIGO / NICHD / NST. Renders the
// keys present in the engine's JSON (docs/ctg.md) and says what is absent. Not for drawing.
import { h, fmtNum, fmtDuration } from '../dom.js';
import { t } from '../i18n.js';

const FIGO_CLASS = { normal: 'ok', suspicious: 'warn', pathological: 'bad', insufficient_signal: 'muted' };

/* A translated word for an engine value, or the value itself when the table lacks it. */
function tOr(key, fallback) { const v = t(key); return v === key ? fallback : v; }

function kv(label, value, title) {
  return [h('dt', { title: title || '' }, label), h('dd', value)];
}

/* A figure the engine could not compute (too little signal) is printed by it as "nan" or "inf":
 * never show that to a clinician, say why instead. */
const NOT_A_NUMBER = /(^|[^\w.])[-+]?(nan|inf(inity)?)(?![\w])/gi;
export function reasonText(text) {
  const s = String(text ?? '');
  if (!NOT_A_NUMBER.test(s)) return s;
  NOT_A_NUMBER.lastIndex = 0;
  return `${s.replace(NOT_A_NUMBER, '$1—')} (${t('not_enough_signal')})`;
}

function reasons(list) {
  if (!Array.isArray(list) || !list.length) return null;
  return h('ul.reasons', list.map((r) => h('li', { dataset: { code: r.code || '' } }, reasonText(r.text || r.code || String(r)))));
}

function summary(a) {
  const v = a.verdicts && a.verdicts.antenatal;
  return h('section.panel', { 'aria-labelledby': 'an-sum' },
    h('h2', { id: 'an-sum' }, t('summary')),
    h('dl.kv',
      kv(t('an_duration'), fmtDuration(a.duration_s)),
      kv(t('an_signal_loss'), fmtNum(a.lost_percent, 1, '%'), t('an_signal_loss_title')),
      a.maternal ? kv(t('an_maternal'), fmtNum(a.maternal.percent, 1, '%')) : [],
      'basal_bpm' in a ? kv(t('an_basal'), fmtNum(a.basal_bpm, 0, 'bpm'), t('an_basal_title')) : [],
      'figo_baseline_bpm' in a ? kv(t('an_figo_baseline'), fmtNum(a.figo_baseline_bpm, 0, 'bpm')) : [],
      'stv_ms' in a ? kv('STV', h('span', { class: a.stv_ms != null && a.stv_ms < 3 ? 'val-bad' : '' }, fmtNum(a.stv_ms, 1, 'ms')), t('an_stv_title')) : [],
      'ltv_ms' in a ? kv('LTV', `${fmtNum(a.ltv_ms, 0, 'ms')}${a.ltv_bpm != null ? ` (${fmtNum(a.ltv_bpm, 0, 'bpm')})` : ''}`) : [],
      a.episodes ? kv(t('an_high_var'), episodesText(a.episodes.high)) : [],
      a.episodes ? kv(t('an_low_var'), episodesText(a.episodes.low)) : [],
      Array.isArray(a.accelerations) ? kv(t('an_accelerations'), `${a.accelerations.length}${v ? ` (≥10: ${v.accelerations_10 ?? '–'}, ≥15: ${v.accelerations_15 ?? '–'})` : ''}`) : [],
      Array.isArray(a.decelerations) ? kv(t('an_decelerations'), String(a.decelerations.length)) : [],
      Array.isArray(a.movements_s) ? kv(t('an_movements'), String(a.movements_s.length)) : [],
      a.sinusoidal ? kv(t('an_sinusoidal'), a.sinusoidal.detected ? h('span.val-bad', t('an_sin_yes', { d: fmtDuration(a.sinusoidal.longest_s) })) : t('no')) : [],
    ));
}

function episodesText(list) {
  if (!Array.isArray(list) || !list.length) return t('none');
  const min = list.reduce((s, [a, b]) => s + (b - a), 0) / 60;
  return `${list.length} (${min.toFixed(0)} min)`;
}

function antenatal(v) {
  if (!v) return null;
  const met = v.met === true;
  return h('section.panel', { 'aria-labelledby': 'an-oxf', id: 'antenatal' },
    h('h2', { id: 'an-oxf' }, t('antenatal_criteria'), h('span.small.muted', t('oxford_style'))),
    h(`p.verdict.${met ? 'ok' : 'bad'}`, { id: 'criteria-verdict' },
      met ? t('criteria_met', { m: v.at_min }) : `${t('criteria_not_met')}${v.at_min != null ? t('criteria_evaluated_to', { m: v.at_min }) : ''}`,
      v.complete === false && !met ? h('span.small', t('record_incomplete')) : null),
    reasons(v.reasons),
    Array.isArray(v.notes) && v.notes.length ? h('div.notes', h('h3', t('notes')), reasons(v.notes)) : null);
}

function ruleSets(vs) {
  if (!vs || (!vs.figo && !vs.nichd && !vs.nst)) return null;
  const { figo, nichd, nst } = vs;
  return h('section.panel', { 'aria-labelledby': 'an-rules' },
    h('h2', { id: 'an-rules' }, t('rule_sets')),
    figo ? h('div.rule', h('h3', 'FIGO 2015'),
      h(`p.verdict.${FIGO_CLASS[figo.class] || 'muted'}`, { id: 'figo-class' }, tOr(`figo_${figo.class}`, String(figo.class).replace('_', ' ')),
        figo.baseline_bpm != null ? h('span.small', t('baseline_bpm', { v: figo.baseline_bpm })) : null,
        figo.variability_bpm != null ? h('span.small', t('variability_bpm', { v: fmtNum(figo.variability_bpm, 0) })) : null),
      reasons(figo.reasons)) : null,
    nichd ? h('div.rule', h('h3', 'NICHD 2008'),
      h(`p.verdict.${nichd.category == null ? 'muted' : nichd.category === 1 ? 'ok' : nichd.category === 3 ? 'bad' : 'warn'}`, { id: 'nichd-category' }, nichd.category ? t('nichd_category', { c: nichd.label || nichd.category }) : `— (${t('not_enough_signal')})`),
      reasons(nichd.reasons)) : null,
    nst ? h('div.rule', h('h3', 'ACOG NST'),
      h(`p.verdict.${nst.result === 'reactive' ? 'ok' : 'warn'}`, tOr(`nst_${nst.result}`, String(nst.result).replace('_', ' '))),
      reasons(nst.reasons)) : null,
    h('p.small.muted', t('no_uterine')));
}

function events(a, onJump) {
  const acc = Array.isArray(a.accelerations) ? a.accelerations : [];
  const dec = Array.isArray(a.decelerations) ? a.decelerations : [];
  if (!acc.length && !dec.length) return null;
  const rows = [
    ...acc.map((e) => ({ t: e.start_s, kind: t('ev_acc'), cls: 'acc', e,
      text: `+${fmtNum(e.amplitude_bpm, 0)} bpm, ${fmtDuration(e.duration_s ?? e.end_s - e.start_s)}${e.peak_bpm != null ? `, ${t('peak', { v: Math.round(e.peak_bpm) })}` : ''}${e.figo ? ' · FIGO' : ''}` })),
    ...dec.map((e) => ({ t: e.start_s, kind: e.prolonged ? t('ev_prolonged') : t('ev_dec'), cls: 'dec', e,
      text: `−${fmtNum(e.depth_bpm, 0)} bpm, ${fmtDuration(e.duration_s ?? e.end_s - e.start_s)}${e.nadir_bpm != null ? `, ${t('nadir', { v: Math.round(e.nadir_bpm) })}` : ''}${e.lost_beats != null ? `, ${t('lost_beats', { v: fmtNum(e.lost_beats, 0) })}` : ''}${e.shape ? `, ${e.shape}` : ''}` })),
  ].sort((x, y) => x.t - y.t);
  return h('section.panel.events', { 'aria-labelledby': 'an-ev' },
    h('h2', { id: 'an-ev' }, t('events')),
    h('table.grid.compact', h('thead', h('tr', h('th', t('ev_time')), h('th', t('ev_event')), h('th', t('ev_detail')))),
      h('tbody', rows.map((r) => h('tr', { class: r.cls },
        h('td.num', h('button.linkish', { type: 'button', onclick: () => onJump(r.t), title: t('show_on_trace_title') }, fmtDuration(r.t))),
        h('td', r.kind), h('td', r.text))))));
}

export function analysisPanel(a, { onJump }) {
  const missing = !a.verdicts ? h('p.small.muted.panel', { id: 'analysis-partial' },
    t('analysis_partial')) : null;
  return h('div.analysis', { id: 'analysis' }, summary(a), antenatal(a.verdicts && a.verdicts.antenatal), ruleSets(a.verdicts), events(a, onJump), missing);
}
