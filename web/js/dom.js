// Tiny DOM helpers: h('tag.class', {attrs}, ...children) builds elements with text nodes only
// (no innerHTML, so nothing from the server is ever parsed as HTML), and formatting helpers.

export function h(spec, attrs, ...children) {
  const [tag, ...classes] = spec.split('.');
  const el = document.createElement(tag || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k in el && k !== 'list' && k !== 'form') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

export function fmtDateTime(ms) {
  if (!ms) return '';
  const d = new Date(ms);
  return d.toLocaleString([], { year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false });
}

export function fmtDuration(s) {
  if (s == null || !Number.isFinite(s)) return '–';
  const m = Math.floor(s / 60), sec = Math.round(s % 60);
  return `${m}:${String(sec).padStart(2, '0')}`;
}

/* Gestational age as "32+4" (weeks+days), the obstetric convention. */
export function fmtGestation(weeks) {
  if (weeks == null || !Number.isFinite(weeks)) return '–';
  const w = Math.floor(weeks), d = Math.floor((weeks - w) * 7 + 1e-6);
  return `${w}+${d}`;
}

export function fmtNum(v, digits = 1, unit = '') {
  if (v == null || !Number.isFinite(v)) return '–';
  return `${v.toFixed(digits)}${unit ? ` ${unit}` : ''}`;
}
