// Recording review for clinicians: the CTG trace (ctg.js) with paper controls, the analysis
// panel, audio playback with a cursor on the trace when the server offers the audio, and the
// reading form when the server offers readings. A patient opening #/recording/ID gets her own
// plain view (mother.js). Another patient's recording: the server refuses and we say so.
import { api, probe } from '../api.js';
import { h, fmtDateTime, fmtDuration } from '../dom.js';
import { t } from '../i18n.js';
import { CtgView, PAPER_SPEEDS_CM_MIN } from '../ctg.js';
import { LiveTrace } from '../livetrace.js';
import { CtgOverview } from '../ctg_overview.js';
import { getDisplay, setDisplay } from '../settings.js';
import { statusBadge, errorPanel } from './common.js';
import { analysisPanel } from './analysis.js';
import { renderRecording as motherRecording } from './mother.js';
import { feed } from '../live.js';
import { patientAlerts } from '../alertsvc.js';

const POLL_MS = 2000;

export async function render(main, [id, atS], ctx) {
  if (ctx.user.role === 'patient') return motherRecording(main, id);
  main.className = 'page review';
  main.dataset.title = t('recording_detail');
  let rec;
  try {
    rec = await api(`/api/recordings/${encodeURIComponent(id)}`);
  } catch (e) {
    if (e.status !== 401) main.append(errorPanel(e));
    return null;
  }
  let stopped = false;
  const cleanups = [];
  const head = h('div.page-head');
  main.append(head);
  const patient = await api(`/api/patients/${encodeURIComponent(rec.patient)}`).catch(() => null);
  main.dataset.title = `${patient ? patient.display_name || patient.name : rec.patient} · ${fmtDateTime(rec.created_ms)}`;
  head.append(
    h('a.back', { href: `#/patient/${encodeURIComponent(rec.patient)}` }, '← ', patient ? patient.display_name || patient.name : rec.patient),
    h('h1', patient ? patient.display_name || patient.name : rec.patient,
      patient && patient.gestation_weeks ? h('span.h-sub', ` · ${Math.floor(patient.gestation_weeks)}+${Math.floor((patient.gestation_weeks % 1) * 7)} w`) : null,
      patient && patient.hospital_id ? h('span.h-sub', ` · ${patient.hospital_id}`) : null),
    h('p.meta', `${rec.source_name} · ${t('sent_on', { when: fmtDateTime(rec.created_ms) })} · `, statusBadge(rec)));

  const body = h('div');
  main.append(body);

  // Not analysed yet: poll its status. A live stream shows its trace so far, then follows it.
  let liveView = null;
  while (rec.status !== 'done' && !stopped) {
    if (rec.status === 'receiving' && !liveView) liveView = liveStreamView(body, rec, cleanups);
    if (!liveView) {
      body.replaceChildren(h('div.panel', { id: 'pending' }, statusBadge(rec),
        rec.status === 'failed' ? h('p', rec.error || t('analysis_failed')) : h('p.muted', t('pending_note'))));
    } else {
      liveView.pending.replaceChildren(h('p.muted', rec.status === 'receiving' ? t('receiving_note') : t('pending_note')));
    }
    if (rec.status === 'failed') {
      /* no trace, but the clinician may still listen to what was sent */
      const box = h('section.panel.audio', { id: 'audio', 'aria-labelledby': 'audio-h' }, h('h2', { id: 'audio-h' }, t('doppler_audio')));
      body.append(box);
      setupAudio(box, rec, {}, null, cleanups);
      return () => cleanups.forEach((f) => f());
    }
    await new Promise((r) => {
      const off = feed.on((m) => { if ((m.type === 'recording' && m.id === rec.id) || m.type === 'resync') { off(); clearTimeout(tm); r(); } });
      const tm = setTimeout(() => { off(); r(); }, POLL_MS);
    });
    if (!main.isConnected) return null;
    try { rec = await api(`/api/recordings/${encodeURIComponent(id)}`); } catch (e) { body.replaceChildren(errorPanel(e)); return null; }
    head.querySelector('.meta .badge')?.replaceWith(statusBadge(rec));
  }
  const a = rec.analysis || {};
  if (liveView) liveView.destroy();
  body.replaceChildren();

  // Paper controls.
  const disp = getDisplay();
  const traceBox = h('div.trace-box', { id: 'trace' });
  const speedSel = h('select', { id: 'paper-speed', 'aria-label': t('paper_speed') },
    PAPER_SPEEDS_CM_MIN.map((s) => h('option', { value: s, selected: s === disp.speedCmMin }, `${s} cm/min`)));
  const scaleSel = h('select', { id: 'paper-scale', 'aria-label': t('fhr_scale') },
    h('option', { value: 'intl', selected: disp.scale === 'intl' }, t('scale_intl')),
    h('option', { value: 'us', selected: disp.scale === 'us' }, t('scale_us')));
  const zoomLabel = h('span.zoom-label', { id: 'zoom-label' }, t('true_scale'));
  const toolbar = h('div.toolbar', { role: 'toolbar', 'aria-label': t('trace_display') },
    h('label', `${t('speed')} `, speedSel), h('label', `${t('scale')} `, scaleSel),
    h('span.sep'),
    h('button.btn.small', { type: 'button', id: 'zoom-out', 'aria-label': t('zoom_out'), onclick: () => ctg.setZoom(ctg.zoom * 0.5) }, '−'),
    zoomLabel,
    h('button.btn.small', { type: 'button', id: 'zoom-in', 'aria-label': t('zoom_in'), onclick: () => ctg.setZoom(ctg.zoom * 2) }, '+'),
    h('button.btn.small', { type: 'button', id: 'zoom-reset', onclick: () => ctg.setZoom(1) }, t('true_scale_btn')),
    h('span.sep'),
    legend(),
    h('a.small', { href: '#/settings', title: t('calibration_title') }, t('calibration', { v: disp.pxPerCm.toFixed(1) })));
  body.append(h('section.trace-section', { 'aria-label': t('ctg_trace') }, toolbar, traceBox));

  const ctg = new CtgView(traceBox, { scale: disp.scale, speedCmMin: disp.speedCmMin, pxPerCm: disp.pxPerCm });
  cleanups.push(() => ctg.destroy());
  /* wall-clock axis: known for a live stream (it starts when the stream opens), not for a file */
  const startMs = Number.isFinite(a.start_ms) ? a.start_ms : rec.kind === 'stream' ? rec.created_ms : null;
  ctg.setAnalysis(a, { startMs });
  const overview = new CtgOverview(traceBox, ctg);
  cleanups.unshift(() => overview.destroy());
  /* alert bands under the trace: this recording's alerts, when the server has alerts */
  if (patient) {
    patientAlerts(patient).then((list) => {
      if (list) ctg.setAlerts(list.filter((x) => x.recording_id === rec.id).map((x) => ({ start_s: x.start_s, end_s: x.end_s, priority: x.priority })));
    }).catch(() => {});
  }
  if (atS !== undefined && Number.isFinite(Number(atS))) ctg.setCursor(Number(atS)); /* from an alert link */
  ctg.scroller.setAttribute('aria-label', t('trace_aria', { d: fmtDuration(a.duration_s) }));
  speedSel.addEventListener('change', () => { const v = Number(speedSel.value); setDisplay({ speedCmMin: v }); ctg.setSpeed(v); });
  scaleSel.addEventListener('change', () => { setDisplay({ scale: scaleSel.value }); ctg.setScale(scaleSel.value); });
  traceBox.addEventListener('ctgzoom', (e) => {
    zoomLabel.textContent = e.detail.zoom === 1 ? t('true_scale') : t('not_true_scale', { z: e.detail.zoom.toFixed(2) });
    zoomLabel.classList.toggle('warn', e.detail.zoom !== 1);
  });

  // Audio with a cursor, when the recording is audio and the server serves it.
  const audioBox = h('section.panel.audio', { id: 'audio', 'aria-labelledby': 'audio-h' }, h('h2', { id: 'audio-h' }, t('doppler_audio')));
  body.append(audioBox);
  setupAudio(audioBox, rec, a, ctg, cleanups);

  body.append(h('div.review-cols', analysisPanel(a, { onJump: (s) => { ctg.setCursor(s); ctg.scroller.focus(); } }), readingPanel(rec)));
  return () => { stopped = true; cleanups.forEach((f) => f()); };
}

function legend() {
  return h('span.legend', h('i.lg-fhr'), 'FHR', h('i.lg-mat'), t('lg_maternal'), h('i.lg-dbt'), t('lg_doubtful'), h('i.lg-base'), t('lg_baseline'),
    h('i.lg-acc'), t('lg_acc'), h('i.lg-dec'), t('lg_dec'), h('i.lg-mov'), t('lg_mov'));
}

/* A live stream opened from the worklist or an alarm: its trace so far from the store, then the
 * feed's samples (livetrace.js), on true-scale paper following the pen; the full review replaces
 * it when the stream is closed and analysed. */
function liveStreamView(body, rec, cleanups) {
  const disp = getDisplay();
  const pending = h('div.panel', { id: 'pending' });
  const traceBox = h('div.trace-box', { id: 'trace', dataset: { live: '1' } });
  body.replaceChildren(pending, h('section.trace-section', { 'aria-label': t('ctg_trace') },
    h('div.toolbar', h('span.legend', h('i.lg-fhr'), 'FHR', h('i.lg-mat'), t('lg_maternal'), h('i.lg-dbt'), t('lg_doubtful'), h('i.lg-mov'), t('lg_mov'))), traceBox));
  const ctg = new CtgView(traceBox, { scale: disp.scale, speedCmMin: disp.speedCmMin, pxPerCm: disp.pxPerCm });
  ctg.startMs = rec.created_ms;
  ctg.setFollow(true);
  const trace = new LiveTrace(ctg, rec.id, { onState: (st) => { traceBox.dataset.trace = st; } });
  traceBox.liveTrace = trace;
  feed.subscribe(rec.patient);
  const off = feed.on((m) => {
    if (m.type === 'samples' && m.recording === rec.id) trace.onSamples(m);
    else if (m.type === 'samples_marked' && m.recording === rec.id) trace.onMarked(m);
    else if (m.type === 'movement' && m.recording === rec.id) ctg.append({ movements_s: [m.t_s - (trace.k0 || 0) / 4] });
    else if (m.type === 'resync') trace.onResync();
  });
  trace.start();
  let gone = false;
  const destroy = () => { if (gone) return; gone = true; off(); trace.destroy(); ctg.destroy(); };
  cleanups.push(destroy);
  return { pending, destroy };
}

async function setupAudio(box, rec, a, ctg, cleanups) {
  const isAudio = (a.input && a.input.kind === 'audio') || rec.kind === 'stream' || /\.(wav|flac|ogg)$/i.test(rec.source_name || '');
  if (!isAudio) {
    box.append(h('p.muted', { id: 'audio-state' }, t('audio_trace_file')));
    return;
  }
  const url = `/api/recordings/${encodeURIComponent(rec.id)}/audio`;
  const res = await probe(url, { Range: 'bytes=0-1' });
  if (!res) {
    box.append(h('p.muted', { id: 'audio-state' }, t('audio_unavailable')));
    return;
  }
  const ranged = res.status === 206;
  /* The session cookie set at sign-in authenticates GETs, so the element streams the file with
   * Range requests itself (seeking loads only what is needed). */
  const audio = h('audio', { controls: true, src: url, preload: 'metadata', 'aria-label': t('doppler_audio') });
  box.append(h('p.muted.small', { id: 'audio-state' }, ranged ? t('audio_follow') : t('audio_follow_noranges')));
  box.append(audio);
  let raf = null;
  if (!ctg) {
    box.querySelector('#audio-state').textContent = t('audio_failed_note');
    cleanups.push(() => audio.pause());
    return;
  }
  const tick = () => { ctg.setCursor(audio.currentTime); raf = audio.paused ? null : requestAnimationFrame(tick); };
  audio.addEventListener('play', () => { if (!raf) raf = requestAnimationFrame(tick); });
  audio.addEventListener('seeked', () => ctg.setCursor(audio.currentTime));
  ctg.onSeek = (s) => { audio.currentTime = s; ctg.setCursor(s); };
  cleanups.push(() => { if (raf) cancelAnimationFrame(raf); audio.pause(); });
}

/* Readings (GET/POST /api/recordings/ID/readings): every signed reading, oldest first, and the
 * form to sign a new one (a correction is a new reading; readings are never edited). The
 * patient sees the category and the text. */
const CATEGORIES = ['normal', 'suspicious', 'pathological', 'inconclusive'];
const READING_MAX_BYTES = 1000;

function readingPanel(rec) {
  const box = h('section.panel.reading', { id: 'reading', 'aria-labelledby': 'rd-h' }, h('h2', { id: 'rd-h' }, t('reading')));
  const list = h('div.readings', h('p.muted.small', t('loading')));
  box.append(list);
  const load = async () => {
    let readings;
    try {
      readings = (await api(`/api/recordings/${encodeURIComponent(rec.id)}/readings`)).readings || [];
    } catch (e) {
      list.replaceChildren(h('p.muted', { id: 'reading-state' }, e.status === 404 ? t('readings_unavailable_clin') : e.message));
      return false;
    }
    list.replaceChildren(...(readings.length ? readings.map((r, i) => h('div.reading-item', { dataset: { id: r.id } },
      h('p', h(`strong.cat-${r.category}`, t(`rcat_${r.category}`)), i < readings.length - 1 ? h('span.small.muted', ` · ${t('superseded')}`) : null),
      h('p.prewrap', r.text || ''),
      h('p.small.muted', t('signed_by', { who: r.clinician || '?', when: fmtDateTime(r.signed_ms) }))))
      : [h('p.muted', { id: 'reading-state' }, t('not_read_yet'))]));
    const sign = box.querySelector('#reading-sign');
    if (sign) sign.textContent = readings.length ? t('sign_correcting') : t('sign_reading');
    return true;
  };
  const cat = h('select', { id: 'reading-category', required: true },
    h('option', { value: '' }, t('choose')), CATEGORIES.map((c) => h('option', { value: c }, t(`rcat_${c}`))));
  const text = h('textarea', { id: 'reading-text', rows: 5, required: true, maxLength: READING_MAX_BYTES });
  const err = h('p.form-error', { role: 'alert', hidden: true });
  const form = h('form', { id: 'reading-form', hidden: true },
    h('label', { for: 'reading-category' }, t('category')), cat,
    h('label', { for: 'reading-text' }, t('interpretation_label')), text, err,
    h('button.btn.primary', { type: 'submit', id: 'reading-sign' }, t('sign_reading')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    err.hidden = true;
    if (new TextEncoder().encode(text.value).length > READING_MAX_BYTES) {
      err.textContent = t('at_most_bytes', { n: READING_MAX_BYTES }); err.hidden = false; return;
    }
    try {
      await api(`/api/recordings/${encodeURIComponent(rec.id)}/readings`, { method: 'POST', body: { category: cat.value, text: text.value } });
      form.reset();
      await load();
    } catch (ex) { err.textContent = ex.message; err.hidden = false; }
  });
  box.append(form);
  load().then((ok) => { form.hidden = !ok; });
  return box;
}
