// The live wall: every patient of the clinician who is streaming now, side by side, each on its
// own CTG paper at true scale following the pen (ctg.js append + follow). Streams appear and
// close as the live feed reports them; the trace arrives as {"type":"samples"} messages (see
// docs/web.md) once the server computes it live. Data age per tile: live / delayed / stalled.
import { api } from '../api.js';
import { h, fmtGestation, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';
import { CtgView } from '../ctg.js';
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
  const empty = h('p.panel.muted', { id: 'live-empty' }, 'No patient is streaming now. Streams appear here as soon as they start.');
  main.append(h('div.page-head', h('h1', t('live')), h('p.muted.small', 'True-scale paper, following each stream.')), empty, grid);
  const tiles = new Map(); /* recording id -> tile */
  const patients = new Map();
  const disp = getDisplay();

  function tileFor(rec) {
    if (tiles.has(rec.id)) return tiles.get(rec.id);
    const p = patients.get(rec.patient) || { name: rec.patient };
    const age = h('span.age', { dataset: { state: 'waiting' } }, 'receiving audio');
    const figures = h('p.small.tile-figures', 'analysis every 2 min of stream');
    const box = h('div.trace-box');
    const el = h('section.tile.panel', { dataset: { recording: rec.id, patient: rec.patient }, 'aria-label': `Live stream of ${p.display_name || p.name}` },
      h('header.tile-head', h('a', { href: `#/patient/${encodeURIComponent(p.name)}` }, h('strong', p.display_name || p.name)),
        h('span.muted', ` ${fmtGestation(p.gestation_weeks)} w · since ${fmtDateTime(rec.created_ms)}`), age),
      box, figures,
      h('p.small.muted.tile-note', 'Waiting for the first trace samples (the paper starts when this page receives them).'));
    grid.append(el);
    const ctg = new CtgView(box, { scale: disp.scale, speedCmMin: disp.speedCmMin, pxPerCm: disp.pxPerCm });
    ctg.startMs = rec.created_ms;
    ctg.setFollow(true);
    const tile = { el, ctg, age, figures, lastDataAt: null, closedAt: null, k0: null };
    tiles.set(rec.id, tile);
    empty.hidden = true;
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
      else if (tiles.has(m.id)) closeTile(m.id, 'stream closed');
    } else if (m.type === 'samples' && m.recording) {
      withTile(m.recording, (tile) => {
        /* k0 numbers the first sample from the stream start: skip what we have, and show
         * samples we never received as a gap (never joined across) */
        let fhr = m.fhr || [], st = m.state || [];
        const n = tile.ctg.n;
        if (tile.k0 == null) tile.k0 = m.k0 || 0; /* opened mid-stream: the paper starts here */
        const k = (m.k0 || 0) - tile.k0;
        if (k < n) { fhr = fhr.slice(n - k); st = st.slice(n - k); }
        else if (k > n) tile.ctg.append({ fhr: new Array(k - n).fill(null), state: new Array(k - n).fill(1) });
        tile.ctg.append({ fhr, state: st });
        tile.lastDataAt = Date.now();
        tile.el.querySelector('.tile-note').hidden = true;
      });
    } else if (m.type === 'movement' && m.recording) {
      withTile(m.recording, (tile) => tile.ctg.append({ movements_s: [m.t_s - (tile.k0 || 0) / 4] }));
    } else if (m.type === 'analysis' && m.recording) {
      withTile(m.recording, (tile) => {
        const f = (v, d, u) => (v == null ? '–' : `${Number(v).toFixed(d)} ${u}`);
        tile.figures.textContent = `basal ${f(m.basal_bpm, 0, 'bpm')} · STV ${f(m.stv_ms, 1, 'ms')} · lost ${f(m.lost_percent, 0, '%')}` +
          (m.figo ? ` · FIGO ${typeof m.figo === 'object' ? m.figo.class : m.figo}` : '') + ` · at ${Math.round((m.t_s || 0) / 60)} min`;
      });
    } else if (m.type === 'resync') {
      load().catch(() => {});
    }
  });

  const ticker = setInterval(() => {
    for (const [id, tile] of tiles) {
      if (tile.closedAt) {
        if (Date.now() - tile.closedAt > CLOSED_TILE_KEEP_MS) { tile.ctg.destroy(); tile.el.remove(); tiles.delete(id); }
        continue;
      }
      if (tile.lastDataAt == null) continue;
      const ageS = (Date.now() - tile.lastDataAt) / 1000;
      tile.age.dataset.state = ageS < LIVE_AGE_S ? 'live' : ageS < STALLED_AGE_S ? 'delayed' : 'stalled';
      tile.age.textContent = ageS < LIVE_AGE_S ? 'live' : ageS < STALLED_AGE_S ? `delayed ${Math.round(ageS)} s` : 'stalled';
    }
    empty.hidden = tiles.size > 0;
  }, 1000);

  try { await load(); } catch (e) { if (e.status !== 401) main.append(errorPanel(e)); }
  return () => { off(); clearInterval(ticker); for (const tile of tiles.values()) tile.ctg.destroy(); };
}
