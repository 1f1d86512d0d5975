// One patient for her clinician: demographics, care team, her recordings (newest first), and
// the STV of each analysed recording as a trend once the analyses are loaded.
import { api } from '../api.js';
import { ResumableUpload } from '../upload.js';
import { h, fmtGestation } from '../dom.js';
import { t } from '../i18n.js';
import { errorPanel, recordingsTable, markReadings } from './common.js';
import { stvTrendPanel } from './stvtrend.js';

export async function render(main, [name]) {
  main.className = 'page';
  main.dataset.title = name;
  try {
    const [p, { recordings }] = await Promise.all([
      api(`/api/patients/${encodeURIComponent(name)}`),
      api(`/api/patients/${encodeURIComponent(name)}/recordings`),
    ]);
    main.dataset.title = p.display_name || p.name;
    const recs = recordings.slice().sort((a, b) => b.created_ms - a.created_ms);
    await markReadings(recs);
    main.append(
      h('div.page-head', h('a.back', { href: '#/worklist' }, '← ', t('worklist')), h('h1', p.display_name || p.name)),
      h('dl.facts',
        h('dt', t('hospital_id')), h('dd', p.hospital_id || '–'),
        h('dt', t('gestation')), h('dd', fmtGestation(p.gestation_weeks)),
        h('dt', t('due_date')), h('dd', p.due_date || '–'),
        h('dt', t('risk_notes')), h('dd', p.risk_notes || '–'),
        h('dt', t('care_team_clin')), h('dd', (p.care_team || []).map((c) => c.display_name || c.name).join(', ') || '–')),
      recs.length ? recordingsTable(recs, { linkFor: (r) => `#/recording/${r.id}`, caption: t('recordings') })
        : h('p.panel', t('no_recordings')),
      recs.length ? stvTrendPanel(recs) : null,
      uploadForPatient(p.name),
    );
  } catch (e) {
    if (e.status !== 401) main.append(errorPanel(e));
  }
}

/* A clinician adds a recording for her patient (POST /api/recordings?patient=NAME). */
function uploadForPatient(name) {
  const file = h('input', { type: 'file', id: 'clin-upload-file', accept: '.wav,.flac,.ogg,.fhr,.fhrm,.csv' });
  const bar = h('progress', { max: 1, value: 0, hidden: true, 'aria-label': t('upload_progress') });
  const msg = h('span.small', { role: 'status' });
  const btn = h('button.btn.small', { type: 'submit' }, t('upload'));
  const form = h('form.panel.upload-inline', { 'aria-label': t('add_recording') },
    h('label', { for: 'clin-upload-file' }, t('add_recording')), h('div.upload-row', file, btn, bar, msg));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!file.files.length) return;
    btn.disabled = true; bar.hidden = false;
    try {
      const up = new ResumableUpload(file.files[0], { patient: name,
        onProgress: (f) => { bar.value = f; msg.textContent = `${Math.floor(f * 100)} %`; },
        onState: (st) => { if (st.state === 'retrying') msg.textContent = t('upload_retrying', { s: st.retryInS }); } });
      const r = await up.start();
      location.hash = `#/recording/${r.id}`;
    } catch (ex) {
      msg.textContent = ex.message; btn.disabled = false;
    }
  });
  return form;
}
