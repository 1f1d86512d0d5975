// Display settings: CTG paper scale and speed, and the screen calibration so that 1 cm of CTG
// paper measures 1 cm on this screen (CLINICAL 6: fixed physical scale so a trace is not misread).
import { h } from '../dom.js';
import { t } from '../i18n.js';
import { getDisplay, setDisplay } from '../settings.js';
import { DEFAULT_PX_PER_CM, PAPER_SPEEDS_CM_MIN } from '../ctg.js';

const RULER_CM = 10;

export function render(main) {
  main.className = 'page';
  main.dataset.title = t('display');
  const d = getDisplay();
  const ruler = h('div.ruler', { id: 'ruler', role: 'img', 'aria-label': t('calibration_bar', { n: RULER_CM }) });
  const measured = h('input', { id: 'measured-cm', type: 'number', min: 2, max: 30, step: 0.1, value: RULER_CM });
  const info = h('p.small', { id: 'cal-info' });
  const show = () => {
    const s = getDisplay();
    ruler.style.width = `${s.pxPerCm * RULER_CM}px`;
    info.textContent = t('calibration_info', { v: s.pxPerCm.toFixed(2), dpr: window.devicePixelRatio });
  };
  main.append(h('div.page-head', h('h1', t('display'))),
    h('section.panel', h('h2', t('ctg_paper')),
      h('label', { for: 'set-speed' }, t('paper_speed')),
      h('select', { id: 'set-speed', onchange: (e) => setDisplay({ speedCmMin: Number(e.target.value) }) },
        PAPER_SPEEDS_CM_MIN.map((s) => h('option', { value: s, selected: s === d.speedCmMin }, `${s} cm/min`))),
      h('label', { for: 'set-scale' }, t('fhr_scale')),
      h('select', { id: 'set-scale', onchange: (e) => setDisplay({ scale: e.target.value }) },
        h('option', { value: 'intl', selected: d.scale === 'intl' }, t('scale_intl_long')),
        h('option', { value: 'us', selected: d.scale === 'us' }, t('scale_us_long')))),
    h('section.panel', h('h2', t('screen_calibration')),
      h('p', t('calibration_help', { n: RULER_CM })),
      ruler, info,
      h('label', { for: 'measured-cm' }, t('measured_length')), measured,
      h('div.upload-row',
        h('button.btn.primary', { type: 'button', id: 'calibrate', onclick: () => {
          const m = Number(measured.value);
          if (m > 0) { const s = getDisplay(); setDisplay({ pxPerCm: (s.pxPerCm * RULER_CM) / m }); measured.value = RULER_CM; show(); }
        } }, t('calibrate')),
        h('button.btn.ghost', { type: 'button', onclick: () => { setDisplay({ pxPerCm: DEFAULT_PX_PER_CM }); show(); } }, t('reset_default')))));
  show();
}
