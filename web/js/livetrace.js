// A live stream's trace on a CtgView, complete from its first sample: when a clinician opens a
// stream that is already running (or the feed says `resync`, or a `samples` message skips
// ahead), the samples stored so far are fetched with GET /api/recordings/ID/samples?from=K and
// drawn first; the feed's `samples` messages that arrive meanwhile wait in a queue and are then
// appended with no duplicate (k numbers samples from the stream start, t = k/4 s).
// The server stores live samples in batches of ~10 s, so between what is stored and the first
// live message there is usually a hole: it is drawn as a gap at once (the paper never waits and
// never joins across it) and filled in place when its batch is stored (asked again every
// HOLE_RETRY_MS for at most HOLE_WAIT_MS; samples that never come stay a gap). When the stream
// closes, the samples stored at the close are read until the store says `done`. A server
// without the samples route (404): the paper starts at the first message this page receives.
// Not for drawing (ctg.js) nor for the feed connection (live.js).
import { api } from './api.js';

const PAGE_SAMPLES = 4 * 60 * 30;  /* 30 min of 4 Hz samples per request (the server allows 60) */
const HOLE_WAIT_MS = 30000;        /* several of the live pipe's 10-s store batches */
const HOLE_RETRY_MS = 2000;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export class LiveTrace {
  /* ctg: a CtgView in follow mode; onState(state): 'backfill' | 'live' | 'nobackfill'. */
  constructor(ctg, recordingId, { onState = () => {} } = {}) {
    this.ctg = ctg;
    this.id = recordingId;
    this.onState = onState;
    this.k0 = null;          /* the k of the CtgView's first sample */
    this.supported = null;   /* the samples route: unknown / true / false */
    this.queue = [];
    this.filling = false;
    this.destroyed = false;
    this.holes = [];         /* [k_from, k_to) drawn as gaps, waiting for the store */
    this.healing = false;
    this.backfilled = 0;     /* samples drawn from the store (for tests and the tile) */
    this.healed = 0;         /* of which filled into holes after the live part was drawn */
    this.complete = false;   /* the store said the stream is closed and everything was read */
  }

  get next() { return (this.k0 ?? 0) + this.ctg.n; }

  /* Draws the stored trace, then follows the feed. */
  start() { return this._fill(); }

  /* A `samples` message of this recording from the feed. */
  onSamples(m) {
    if (this.destroyed) return;
    if (this.filling) { this.queue.push(m); return; }
    this._append(m);
  }

  /* A `samples_marked` message: the detector re-marked samples already sent (CLINICAL 2). */
  onMarked(m) {
    if (this.destroyed) return;
    if (this.filling) { this.queue.push(m); return; }
    this._append(m);
  }

  /* The feed dropped messages: what is stored since our last sample comes over HTTP. */
  onResync() { if (!this.filling && this.supported !== false) this._fill(); }

  /* The stream closed: its last samples (stored at the close, not all on the feed) are read
   * until the store says done. */
  async finish() {
    if (this.supported === false || this.destroyed) return;
    for (let i = 0; i < 20 && !this.complete && !this.destroyed; i++) {
      if (!this.filling) await this._fill();
      if (!this.complete) await sleep(HOLE_RETRY_MS);
    }
  }

  destroy() { this.destroyed = true; this.queue = []; this.holes = []; }

  /* Appends stored or live samples that start at k, skipping what is drawn; samples not
   * received yet are drawn as a gap and remembered as a hole to fill. */
  _put(k, fhr, state) {
    if (this.k0 == null) this.k0 = k;
    const n = this.next;
    if (k + fhr.length <= n) return 0;
    if (k < n) { fhr = fhr.slice(n - k); state = state.slice(n - k); k = n; }
    if (k > n) {
      this.ctg.append({ fhr: new Array(k - n).fill(null), state: new Array(k - n).fill(1) });
      if (this.supported) { this.holes.push([n, k, Date.now()]); this._heal(); }
    }
    this.ctg.append({ fhr, state });
    return fhr.length;
  }

  _append(m) {
    if (m.type === 'samples_marked') {
      if (this.k0 != null) this.ctg.remark((m.k0 || 0) - this.k0, m.state || []);
      return;
    }
    this._put(m.k0 || 0, m.fhr || [], m.state || []);
  }

  async _get(from, limit) {
    try {
      const r = await api(`/api/recordings/${encodeURIComponent(this.id)}/samples?from=${from}&limit=${limit}`);
      this.supported = true;
      if (r.done) this.complete = true;
      return r;
    } catch (e) {
      if (e.status === 404 && this.supported !== true) { this.supported = false; return null; }
      throw e;
    }
  }

  async _fill() {
    if (this.filling || this.destroyed) return;
    this.filling = true;
    this.onState('backfill');
    try {
      /* everything stored from our next sample on */
      for (let guard = 0; guard < 1000 && !this.destroyed; guard++) {
        const from = this.next;
        const r = await this._get(from, PAGE_SAMPLES);
        if (!r || this.destroyed) break;
        const fhr = r.fhr || [];
        if (this.k0 == null) this.k0 = 0; /* stored samples start the paper at the stream start */
        this.backfilled += this._put(Number.isFinite(r.from) ? r.from : from, fhr, r.state || []);
        if (r.done || !fhr.length || this.next <= from) break;
      }
    } catch { /* the network: what is queued is drawn (holes as gaps); a resync retries */ }
    this.filling = false;
    if (this.destroyed) return;
    const q = this.queue;
    this.queue = [];
    for (const m of q) this._append(m);
    this.onState(this.supported === false ? 'nobackfill' : 'live');
  }

  /* Fills the holes from the store as their batches are written, oldest first. */
  async _heal() {
    if (this.healing) return;
    this.healing = true;
    try {
      while (this.holes.length && !this.destroyed) {
        const h = this.holes[0];
        let got = 0;
        try {
          const r = await this._get(h[0], Math.min(PAGE_SAMPLES, h[1] - h[0]));
          const fhr = (r && r.fhr) || [];
          const from = r && Number.isFinite(r.from) ? r.from : h[0];
          if (!this.destroyed && fhr.length && from === h[0]) {
            got = Math.min(fhr.length, h[1] - h[0]);
            this.ctg.fill(h[0] - this.k0, fhr.slice(0, got), (r.state || []).slice(0, got));
            this.backfilled += got;
            this.healed += got;
            h[0] += got;
          }
        } catch { /* try again below */ }
        if (h[0] >= h[1] || Date.now() - h[2] > HOLE_WAIT_MS) this.holes.shift(); /* filled, or never stored: a gap */
        else if (!got) await sleep(HOLE_RETRY_MS);
      }
    } finally { this.healing = false; }
  }
}
