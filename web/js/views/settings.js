// Display settings: CTG paper scale and speed, and the screen calibration so that 1 cm of CTG
// paper measures 1 cm on this screen (CLINICAL 6: fixed physical scale so a trace is not misread).
import { h } from '../dom.js';
import { getDisplay, setDisplay } from '../settings.js';
import { DEFAULT_PX_PER_CM, PAPER_SPEEDS_CM_MIN } from '../ctg.js';

const RULER_CM = 10;

export function render(main) {
  main.className = 'page';
  main.dataset.title = 'Display';
  const d = getDisplay();
  const ruler = h('div.ruler', { id: 'ruler', role: 'img', 'aria-label': `${RULER_CM} cm calibration bar` });
  const measured = h('input', { id: 'measured-cm', type: 'number', min: 2, max: 30, step: 0.1, value: RULER_CM });
  const info = h('p.small', { id: 'cal-info' });
  const show = () => {
    const s = getDisplay();
    ruler.style.width = `${s.pxPerCm * RULER_CM}px`;
    info.textContent = `${s.pxPerCm.toFixed(2)} CSS px per cm · device pixel ratio ${window.devicePixelRatio}`;
  };
  main.append(h('div.page-head', h('h1', 'Display')),
    h('section.panel', h('h2', 'CTG paper'),
      h('label', { for: 'set-speed' }, 'Paper speed'),
      h('select', { id: 'set-speed', onchange: (e) => setDisplay({ speedCmMin: Number(e.target.value) }) },
        PAPER_SPEEDS_CM_MIN.map((s) => h('option', { value: s, selected: s === d.speedCmMin }, `${s} cm/min`))),
      h('label', { for: 'set-scale' }, 'FHR scale'),
      h('select', { id: 'set-scale', onchange: (e) => setDisplay({ scale: e.target.value }) },
        h('option', { value: 'intl', selected: d.scale === 'intl' }, '50–210 bpm at 20 bpm/cm (international)'),
        h('option', { value: 'us', selected: d.scale === 'us' }, '30–240 bpm at 30 bpm/cm (US)'))),
    h('section.panel', h('h2', 'Screen calibration'),
      h('p', `Measure the bar below with a ruler. It should be ${RULER_CM} cm long. Enter what you measure and press Calibrate.`),
      ruler, info,
      h('label', { for: 'measured-cm' }, 'Measured length (cm)'), measured,
      h('div.upload-row',
        h('button.btn.primary', { type: 'button', id: 'calibrate', onclick: () => {
          const m = Number(measured.value);
          if (m > 0) { const s = getDisplay(); setDisplay({ pxPerCm: (s.pxPerCm * RULER_CM) / m }); measured.value = RULER_CM; show(); }
        } }, 'Calibrate'),
        h('button.btn.ghost', { type: 'button', onclick: () => { setDisplay({ pxPerCm: DEFAULT_PX_PER_CM }); show(); } }, 'Reset to default'))));
  show();
}
