// Display settings kept on this computer (localStorage): CTG paper scale and speed, and the
// screen calibration (CSS px per cm) that makes 1 cm of paper 1 cm on the screen (CLINICAL 6).
import { DEFAULT_PX_PER_CM, SCALES, PAPER_SPEEDS_CM_MIN } from './ctg.js';

const KEY = 'fetalmon.display';
const defaults = { scale: 'intl', speedCmMin: 1, pxPerCm: DEFAULT_PX_PER_CM };

export function getDisplay() {
  let s = {};
  try { s = JSON.parse(localStorage.getItem(KEY)) || {}; } catch { s = {}; }
  const out = { ...defaults, ...s };
  if (!SCALES[out.scale]) out.scale = defaults.scale;
  if (!PAPER_SPEEDS_CM_MIN.includes(out.speedCmMin)) out.speedCmMin = defaults.speedCmMin;
  if (!(out.pxPerCm > 10 && out.pxPerCm < 200)) out.pxPerCm = defaults.pxPerCm;
  return out;
}

export function setDisplay(patch) {
  const s = { ...getDisplay(), ...patch };
  localStorage.setItem(KEY, JSON.stringify(s));
  return s;
}
