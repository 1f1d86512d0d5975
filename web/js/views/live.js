// The live wall: every patient of the clinician who is streaming now, side by side, each on its
// own CTG paper at true scale following the pen (ctg.js append + follow). Streams appear and
// close as the live feed reports them; a tile first draws the trace stored so far, then the
// feed's {"type":"samples"} messages (livetrace.js: no gap, no duplicate, also after a resync).
// Data age per tile: live / delayed / stalled.
import { api } from '../api.js';
import { h, fmtGestation, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';
import { CtgView } from '../ctg.js';
import { LiveTrace } from '../livetrace.js';
import { getDisplay } from '../settings.js';
import { feed } from '../live.js';
import { errorPanel } from './common.js';

const LIVE_AGE_S = 10;     /* newer data than this: "live" */
const STALLED_AGE_S = 120; /* older: "stalled" (a technical alert on the server side) */
const CLOSED_TILE_KEEP_MS = 60000;

export async function render(main) {
  main.className = 'page live-wall';
  main.dataset.title = t('live');
  const grid = h('div.tiles', { id: 'live-tiles', 'aria-live': 'polite' });
  const empty = h('p.panel.muted', { id: 'live-empty' }, t('live_empty'));
  main.append(h('div.page-head', h('h1', t('live')), h('p.muted.small', t('live_sub'))), empty, grid);
  const tiles = new Map(); /* recording id -> tile */
  const patients = new Map();
  const disp = getDisplay();

  function tileFor(rec) {
    if (tiles.has(rec.id)) return tiles.get(rec.id);
    const p = patients.get(rec.patient) || { name: rec.patient };
    const age = h('span.age', { dataset: { state: 'waiting' } }, t('receiving_audio'));
    const figures = h('p.small.tile-figures', t('analysis_every'));
    const box = h('div.trace-box');
    const el = h('section.tile.panel', { dataset: { recording: rec.id, patient: rec.patient }, 'aria-label': t('live_stream_of', { name: p.display_name || p.name }) },
      h('header.tile-head', h('a', { href: `#/patient/${encodeURIComponent(p.name)}` }, h('strong', p.display_name || p.name)),
        h('span.muted', ` ${fmtGestation(p.gestation_weeks)} w · ${t('since', { when: fmtDateTime(rec.created_ms) })}`), age),
      box, figures,
      h('p.small.muted.tile-note', t('waiting_samples')));
    grid.append(el);
    const ctg = new CtgView(box, { scale: disp.scale, speedCmMin: disp.speedCmMin, pxPerCm: disp.pxPerCm });
    ctg.startMs = rec.created_ms;
    ctg.setFollow(true);
    const note = el.querySelector('.tile-note');
    const trace = new LiveTrace(ctg, rec.id, { onState: (st) => {
      el.dataset.trace = st;
      if (st === 'backfill') { note.hidden = false; note.textContent = t('backfilling'); }
      else note.hidden = ctg.n > 0;
      if (st !== 'backfill' && !ctg.n) note.textContent = t('waiting_samples');
    } });
    const tile = { el, ctg, trace, age, figures, lastDataAt: null, closedAt: null };
    box.liveTrace = trace; /* for tests and the console */
    tiles.set(rec.id, tile);
    empty.hidden = true;
    trace.start();
    return tile;
  }

  /* The tile of a recording, creating it (after asking the server whose stream it is) when a
   * message arrives for a stream the page has not seen open. */
  const waiting = new Map();
  function withTile(id, fn) {
    if (tiles.has(id)) { fn(tiles.get(id)); return; }
    if (!waiting.has(id)) {
      waiting.set(id, []);
      api(`/api/recordings/${encodeURIComponent(id)}`).then((rec) => {
        const tile = tileFor(rec);
        for (const f of waiting.get(id)) f(tile);
      }).catch(() => {}).finally(() => waiting.delete(id));
    }
    waiting.get(id).push(fn);
  }

  function closeTile(id, why) {
    const tile = tiles.get(id);
    if (!tile || tile.closedAt) return;
    tile.closedAt = Date.now();
    tile.age.dataset.state = 'closed';
    tile.age.textContent = why;
    tile.ctg.setFollow(false);
    tile.trace.finish(); /* the samples stored at the close */
  }

  async function load() {
    const { patients: ps } = await api('/api/patients');
    ps.forEach((p) => { patients.set(p.name, p); feed.subscribe(p.name); });
    const lists = await Promise.all(ps.map((p) => api(`/api/patients/${encodeURIComponent(p.name)}/recordings`).then((r) => r.recordings).catch(() => [])));
    for (const r of lists.flat()) if (r.status === 'receiving') tileFor(r);
  }

  const off = feed.on((m) => {
    if (m.type === 'recording') {
      if (m.status === 'receiving') tileFor(m);
      else if (tiles.has(m.id)) closeTile(m.id, t('stream_closed'));
    } else if (m.type === 'samples' && m.recording) {
      withTile(m.recording, (tile) => {
        tile.trace.onSamples(m); /* k0 numbering: no gap, no duplicate (livetrace.js) */
        tile.lastDataAt = Date.now();
        if (!tile.trace.filling) tile.el.querySelector('.tile-note').hidden = true;
      });
    } else if (m.type === 'samples_marked' && m.recording && tiles.has(m.recording)) {
      tiles.get(m.recording).trace.onMarked(m);
    } else if (m.type === 'movement' && m.recording) {
      withTile(m.recording, (tile) => tile.ctg.append({ movements_s: [m.t_s - (tile.trace.k0 || 0) / 4] }));
    } else if (m.type === 'analysis' && m.recording) {
      withTile(m.recording, (tile) => {
        const f = (v, d, u) => (v == null ? '–' : `${Number(v).toFixed(d)} ${u}`);
        tile.figures.textContent = t('live_figures', { basal: f(m.basal_bpm, 0, 'bpm'), stv: f(m.stv_ms, 1, 'ms'), lost: f(m.lost_percent, 0, '%') }) +
          (m.figo ? ` · FIGO ${typeof m.figo === 'object' ? m.figo.class : m.figo}` : '') + t('at_min', { m: Math.round((m.t_s || 0) / 60) });
      });
    } else if (m.type === 'resync') {
      for (const tile of tiles.values()) if (!tile.closedAt) tile.trace.onResync();
      load().catch(() => {});
    }
  });

  const ticker = setInterval(() => {
    for (const [id, tile] of tiles) {
      if (tile.closedAt) {
        if (Date.now() - tile.closedAt > CLOSED_TILE_KEEP_MS) { tile.trace.destroy(); tile.ctg.destroy(); tile.el.remove(); tiles.delete(id); }
        continue;
      }
      if (tile.lastDataAt == null) continue;
      const ageS = (Date.now() - tile.lastDataAt) / 1000;
      tile.age.dataset.state = ageS < LIVE_AGE_S ? 'live' : ageS < STALLED_AGE_S ? 'delayed' : 'stalled';
      tile.age.textContent = ageS < LIVE_AGE_S ? t('live_ok') : ageS < STALLED_AGE_S ? t('live_delayed', { s: Math.round(ageS) }) : t('live_stalled');
    }
    empty.hidden = tiles.size > 0;
  }, 1000);

  try { await load(); } catch (e) { if (e.status !== 401) main.append(errorPanel(e)); }
  return () => { off(); clearInterval(ticker); for (const tile of tiles.values()) { tile.trace.destroy(); tile.ctg.destroy(); } };
}
