// The mother's home page: a kind greeting with her gestational age, sending a recording with a
// resumable progress bar, her recordings and their status, and her care team's reading when signed. Plain
// language in English and Chinese (i18n.js); no clinical numbers she would have to interpret.
import { api } from '../api.js';
import { ResumableUpload, pendingUploads, sameFile, discardPending } from '../upload.js';
import { h, fmtDateTime, fmtDuration } from '../dom.js';
import { t } from '../i18n.js';
import { statusBadge, errorPanel, markReadings } from './common.js';
import { feed } from '../live.js';
import { IngestSession } from '../ingest.js';

const POLL_MS = 3000;
const ACCEPT = '.wav,.flac,.ogg,.fhr,.fhrm,.csv,audio/wav,audio/flac,audio/ogg';

function gaText(weeks) {
  if (weeks == null || !Number.isFinite(weeks)) return null;
  const w = Math.floor(weeks), d = Math.floor((weeks - w) * 7 + 1e-6);
  return d ? t('week_day', { w, d }) : t('weeks', { w });
}

function readingBlock(rec) {
  if (!('reading' in rec)) return h('p.muted.small', t('reading_unavailable'));
  if (!rec.reading) return h('p.muted.small', t('reading_waiting'));
  const r = rec.reading;
  return h('div.reading-note', { id: `reading-${rec.id}` }, h('h3', t('reading_title')),
    h('p', h('strong', t(`cat_${r.category}`))),
    h('p.prewrap', r.text || ''),
    h('p.small.muted', `${r.clinician || ''} · ${fmtDateTime(r.signed_ms)}`));
}

function statusText(rec) {
  if (rec.status === 'done') return t('analysis_ready');
  if (rec.status === 'failed') return t('failed_mother');
  return t(`status_${rec.status}`);
}

function recordingCard(rec) {
  return h('li.rec-card', { dataset: { id: rec.id, status: rec.status } },
    h('div.rec-head', h('a', { href: `#/recording/${rec.id}` }, t('sent_on', { when: fmtDateTime(rec.created_ms) })), statusBadge(rec)),
    h('p.small', statusText(rec)),
    rec.status === 'done' ? readingBlock(rec) : null);
}

export async function render(main, _params, { user }) {
  main.className = 'page mother';
  main.dataset.title = t('your_baby');
  let me;
  try { me = await api('/api/me'); } catch (e) { if (e.status !== 401) main.append(errorPanel(e)); return null; }
  const p = me.patient || {};
  const ga = gaText(p.gestation_weeks);
  const list = h('ul.rec-list', { id: 'my-recordings', 'aria-live': 'polite' });
  let timer = null;

  /* Overlapping refreshes (feed messages, the poll) may answer out of order: only the newest
   * request's answer is shown, so an older, emptier list never replaces a newer one. */
  let seq = 0;
  async function refresh() {
    const mine = ++seq;
    try {
      const { recordings } = await api(`/api/patients/${encodeURIComponent(me.name)}/recordings`);
      const recs = recordings.slice().sort((a, b) => b.created_ms - a.created_ms);
      await markReadings(recs);
      if (mine !== seq) return;
      list.replaceChildren(...(recs.length ? recs.map(recordingCard) : [h('li.muted', t('no_recordings'))]));
      const busy = recs.some((r) => r.status === 'queued' || r.status === 'analysing');
      clearTimeout(timer);
      timer = setTimeout(refresh, busy ? POLL_MS : POLL_MS * 10);
    } catch (e) {
      if (mine === seq && e.status !== 401) list.replaceChildren(h('li', errorPanel(e)));
    }
  }

  const form = uploadPanel(refresh);
  const livePanel = liveRecordPanel(refresh);
  main.append(
    h('section.hello', h('h1', t('hello', { name: p.display_name || me.display_name || me.name })),
      ga ? h('p.ga', ga) : null,
      p.care_team && p.care_team.length ? h('p.small.muted', `${t('care_team')}: ${p.care_team.map((c) => c.display_name || c.name).join(', ')}`) : null),
    h('p.reassure', { role: 'note' }, t('reassure_contact')),
    livePanel,
    form,
    h('section.panel', { 'aria-labelledby': 'my-h' }, h('h2', { id: 'my-h' }, t('my_recordings')), list));
  feed.subscribe(me.name);
  const off = feed.on((m) => { if (m.type === 'recording' || m.type === 'resync') refresh(); });
  await refresh();
  return () => { clearTimeout(timer); off(); livePanel.cleanup(); form.cleanup(); };
}

/* Sending a file with a progress bar (upload.js): in chunks that survive a dropped connection
 * and a page reload (she chooses the same file again and it continues), with a cancel button.
 * A server without resumable uploads gets one request, and the note under the form says so. */
function uploadPanel(onSent) {
  const file = h('input.visually-hidden', { type: 'file', id: 'upload-file', accept: ACCEPT, 'aria-describedby': 'upload-help' });
  const chosen = h('span.chosen', { id: 'upload-chosen' }, t('no_file'));
  const bar = h('progress', { id: 'upload-progress', max: 1, value: 0, hidden: true, 'aria-label': t('upload_title') });
  const msg = h('p.upload-msg', { id: 'upload-msg', role: 'status', 'aria-live': 'polite' });
  const send = h('button.btn.primary', { type: 'submit', id: 'upload-send', disabled: true }, t('send'));
  const cancel = h('button.btn.ghost', { type: 'button', id: 'upload-cancel', hidden: true }, t('cancel'));
  const note = h('p.small.muted', { id: 'upload-note' }, t('upload_resumable_yes'));
  const pendingBox = h('div.upload-pending', { id: 'upload-pending', hidden: true });
  let up = null, gone = false;
  const pct = (x) => Math.floor(x * 100);
  const sizeText = (f) => `${f.name} (${f.size < 1e6 ? `${Math.max(1, Math.round(f.size / 1e3))} kB` : `${(f.size / 1e6).toFixed(1)} MB`})`;

  /* An upload interrupted earlier (another visit, a reload): say where it stopped. */
  async function showPending() {
    const list = pendingUploads('');
    if (!list.length) { pendingBox.hidden = true; return; }
    const e = list[list.length - 1];
    let at = null;
    try {
      const st = await api(`/api/uploads/${encodeURIComponent(e.upload)}`);
      if (st.state !== 'open') { await discardPending(e); return showPending(); }
      at = st.size_bytes ? st.offset / st.size_bytes : 0;
    } catch (ex) {
      if (ex.status === 404) { await discardPending(e); return showPending(); }
    }
    if (gone) return;
    pendingBox.dataset.upload = e.upload;
    pendingBox.replaceChildren(
      h('p', t('upload_resume_pending', { name: e.name, pct: at == null ? '?' : pct(at) })),
      h('button.btn.small.ghost', { type: 'button', id: 'upload-discard', onclick: async () => { await discardPending(e); showPending(); } }, t('upload_discard')));
    pendingBox.hidden = false;
    pendingBox.pendingAt = at;
  }

  file.addEventListener('change', () => {
    send.disabled = !file.files.length || !file.files[0].size;
    msg.textContent = '';
    msg.className = 'upload-msg';
    const f = file.files[0];
    const match = f && pendingUploads('').find((e) => sameFile(e, f));
    send.textContent = match ? t('continue_send') : t('send');
    chosen.textContent = f ? sizeText(f) + (match && pendingBox.pendingAt != null ? ` · ${t('upload_resume_match', { pct: pct(pendingBox.pendingAt) })}` : '') : t('no_file');
  });
  const form = h('form.panel.upload', { id: 'upload', 'aria-labelledby': 'up-h' },
    h('h2', { id: 'up-h' }, t('upload_title')),
    h('p.small', { id: 'upload-help' }, t('upload_help')),
    pendingBox,
    h('div.file-row', file, h('label.btn.file-pick', { for: 'upload-file' }, t('choose_file')), chosen),
    h('div.upload-row', send, cancel), bar, msg, note);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!file.files.length || up) return;
    const f = file.files[0];
    send.disabled = true; file.disabled = true; cancel.hidden = false; cancel.disabled = false;
    bar.hidden = false; bar.value = 0;
    msg.className = 'upload-msg';
    msg.textContent = t('uploading', { pct: 0 });
    let frac = 0;
    up = new ResumableUpload(f, {
      onProgress: (x) => {
        frac = x;
        bar.value = x;
        if (up && (up.state === 'sending' || up.state === 'finishing')) msg.textContent = t('uploading', { pct: pct(x) });
      },
      onState: (st) => {
        form.dataset.state = st.state;
        form.dataset.mode = st.mode;
        if (st.mode === 'plain') note.textContent = t('upload_resumable_no');
        if (st.state === 'retrying') msg.textContent = t('upload_retrying', { s: st.retryInS });
        else if (st.state === 'sending' && st.resumedFrom > 0) msg.textContent = t('upload_resumed', { pct: pct(st.resumedFrom / f.size) });
        else if (st.state === 'finishing' && frac >= 1) msg.textContent = t('upload_finishing');
      },
    });
    cancel.onclick = () => { cancel.disabled = true; up.cancel(); };
    pendingBox.hidden = true;
    try {
      await up.start();
      bar.value = 1;
      msg.textContent = t('upload_done');
      msg.className = 'upload-msg ok';
      form.reset();
      send.textContent = t('send');
      chosen.textContent = t('no_file');
      onSent();
    } catch (ex) {
      if (ex.code === 'aborted') {
        msg.textContent = t('upload_cancelled');
        msg.className = 'upload-msg';
        bar.hidden = true;
      } else {
        msg.textContent = t('upload_failed', { msg: ex.message });
        msg.className = 'upload-msg bad';
      }
      showPending();
    } finally {
      up = null;
      file.disabled = false; cancel.hidden = true; send.disabled = !file.files.length;
    }
  });
  showPending();
  form.cleanup = () => { gone = true; };
  return form;
}

/* One of her recordings (#/recording/ID as a patient): status, plain facts and the reading. */
export async function renderRecording(main, id) {
  main.className = 'page mother';
  main.dataset.title = t('recording_detail');
  let rec;
  try { rec = await api(`/api/recordings/${encodeURIComponent(id)}`); } catch (e) {
    if (e.status !== 401) main.append(errorPanel(e));
    return null;
  }
  const a = rec.analysis || {};
  if (rec.status === 'done') await markReadings([rec]);
  main.append(h('div.page-head', h('a.back', { href: '#/home' }, '← ', t('back')), h('h1', t('recording_detail'))),
    h('section.panel', { id: 'my-recording' },
      h('p', t('sent_on', { when: fmtDateTime(rec.created_ms) }), ' ', statusBadge(rec)),
      h('p', statusText(rec)),
      a.duration_s ? h('p.small', `${t('duration')}: ${fmtDuration(a.duration_s)}`) : null,
      rec.status === 'done' ? readingBlock(rec) : null),
    h('p.reassure', t('reassure_contact')));
  return null;
}

function mmss(s) {
  const m = Math.floor(s / 60), r = Math.floor(s % 60);
  return `${m}:${String(r).padStart(2, '0')}`;
}

/* Record live from a Doppler plugged into this phone or computer (ingest.js). */
function liveRecordPanel(onDone) {
  const status = h('p.live-status', { id: 'live-status', role: 'status', 'aria-live': 'polite' }, t('live_idle'));
  const meter = h('meter', { id: 'live-level', min: 0, max: 0.3, low: 0.003, high: 0.25, optimum: 0.05, value: 0, 'aria-label': t('live_level') });
  const hint = h('p.live-hint', { id: 'live-hint', role: 'alert' });
  const startBtn = h('button.btn.primary', { type: 'button', id: 'live-start' }, t('live_start'));
  const stopBtn = h('button.btn', { type: 'button', id: 'live-stop', hidden: true }, t('live_stop'));
  const moveBtn = h('button.btn.move', { type: 'button', id: 'live-moved', hidden: true }, t('live_moved'));
  let moves = 0;
  moveBtn.addEventListener('click', () => {
    if (sess && sess.markMovement()) { moves++; moveBtn.textContent = `${t('live_moved')} (${moves})`; }
  });
  let sess = null;
  /* Probe guidance from her own live trace (samples on the feed, CLINICAL 2): the share of the
   * last GUIDE_WINDOW samples that are lost or look maternal. */
  const guide = h('p.live-guide', { id: 'live-guide', role: 'status', 'aria-live': 'polite' });
  const recent = [];
  const GUIDE_WINDOW = 40; /* 10 s at 4 Hz */
  const offFeed = feed.on((m) => {
    if (m.type !== 'samples' || !sess || m.recording !== sess.stream) return;
    for (const st of m.state || []) { recent.push(st); if (recent.length > GUIDE_WINDOW) recent.shift(); }
    if (recent.length < 16) return;
    const share = (v) => recent.filter((x) => x === v).length / recent.length;
    const key = share(2) > 0.5 ? 'guide_maternal' : share(1) + share(3) > 0.7 ? 'guide_lost' : share(0) > 0.7 ? 'guide_ok' : 'guide_some';
    guide.dataset.guide = key;
    guide.textContent = t(key);
  });
  const show = (st) => {
    meter.value = Math.min(0.3, st.level_rms || 0);
    hint.textContent = st.silent ? t('live_silent') : st.clipping ? t('live_clipping') : '';
    const times = { rec: mmss(st.recorded_s || 0), safe: mmss(st.acked_s || 0) };
    status.dataset.state = st.state;
    status.dataset.ackedS = String(st.acked_s || 0);
    status.textContent = st.state === 'recording' ? t('live_recording', times)
      : st.state === 'reconnecting' ? t('live_reconnecting', times)
      : st.state === 'finishing' ? t('live_finishing', times)
      : st.state === 'done' ? t('live_done')
      : st.state === 'failed' ? t('upload_failed', { msg: st.error || '' }) : t('live_starting');
  };
  startBtn.addEventListener('click', async () => {
    startBtn.hidden = true;
    recent.length = 0; guide.textContent = ''; delete guide.dataset.guide;
    sess = new IngestSession({ onStatus: show });
    try {
      await sess.start();
      stopBtn.hidden = false;
      moveBtn.hidden = false; moves = 0; moveBtn.textContent = t('live_moved');
      stopBtn.focus();
    } catch (e) {
      status.textContent = t('live_no_mic', { msg: e.message });
      startBtn.hidden = false;
    }
  });
  stopBtn.addEventListener('click', async () => {
    stopBtn.disabled = true;
    await sess.stop();
    stopBtn.hidden = true; stopBtn.disabled = false; startBtn.hidden = false; moveBtn.hidden = true;
    onDone();
  });
  const panel = h('section.panel.live-record', { id: 'live-record', 'aria-labelledby': 'lr-h' },
    h('h2', { id: 'lr-h' }, t('live_title')),
    h('p.small', t('live_help')),
    h('div.upload-row', startBtn, moveBtn, stopBtn),
    h('div.level-row', h('span.small', t('live_level')), meter),
    status, hint, guide);
  panel.ingestSession = () => sess;
  panel.cleanup = offFeed; /* for tests and the console */
  return panel;
}
