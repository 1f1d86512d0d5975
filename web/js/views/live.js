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
    const box = h('div.trace-box');
    const el = h('section.tile.panel', { dataset: { recording: rec.id, patient: rec.patient }, 'aria-label': `Live stream of ${p.display_name || p.name}` },
      h('header.tile-head', h('a', { href: `#/patient/${encodeURIComponent(p.name)}` }, h('strong', p.display_name || p.name)),
        h('span.muted', ` ${fmtGestation(p.gestation_weeks)} w · since ${fmtDateTime(rec.created_ms)}`), age),
      box,
      h('p.small.muted.tile-note', 'The live trace appears here when the server computes it from the audio.'));
    grid.append(el);
    const ctg = new CtgView(box, { scale: disp.scale, speedCmMin: disp.speedCmMin, pxPerCm: disp.pxPerCm });
    ctg.startMs = rec.created_ms;
    ctg.setFollow(true);
    const tile = { el, ctg, age, lastDataAt: null, closedAt: null };
    tiles.set(rec.id, tile);
    empty.hidden = true;
    return tile;
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
      const tile = tileFor({ id: m.recording, patient: m.patient, created_ms: Date.now() });
      tile.ctg.append({ fhr: m.fhr || [], state: m.state, movements_s: m.movements_s, analysis: m.analysis });
      tile.lastDataAt = Date.now();
      tile.el.querySelector('.tile-note').hidden = true;
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
