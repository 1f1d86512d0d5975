// A live stream's trace on a CtgView, complete from its first sample: when a clinician opens a
// stream that is already running (or the feed says `resync`, or a `samples` message skips
// ahead), the samples stored so far are fetched with GET /api/recordings/ID/samples?from=K and
// drawn first; the feed's `samples` messages that arrive meanwhile wait in a queue and are then
// appended with no gap and no duplicate (k numbers samples from the stream start, t = k/4 s).
// The server stores live samples in batches of ~10 s, so a hole between what is stored and the
// first live message is asked for again until it is stored (HOLE_WAIT_MS), and only then, if it
// is still missing, drawn as a gap (never joined across). A server without the samples route
// (404): the paper starts at the first message this page receives, as before.
// Not for drawing (ctg.js) nor for the feed connection (live.js).
import { api } from './api.js';

const PAGE_SAMPLES = 4 * 60 * 30;  /* 30 min of 4 Hz samples per request */
const HOLE_WAIT_MS = 15000;        /* > the live pipe's 10-s store batches */
const HOLE_RETRY_MS = 1500;

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
    this.backfilled = 0;     /* samples drawn from the store (for tests and the tile) */
  }

  get next() { return (this.k0 ?? 0) + this.ctg.n; }

  /* Draws the stored trace, then follows the feed. */
  start() { return this._fill(); }

  /* A `samples` message of this recording from the feed. */
  onSamples(m) {
    if (this.destroyed) return;
    if (this.filling) { this.queue.push(m); return; }
    if (this.supported && this.k0 != null && (m.k0 || 0) > this.next) { /* missed some: fetch them */
      this.queue.push(m);
      this._fill();
      return;
    }
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

  destroy() { this.destroyed = true; this.queue = []; }

  /* Appends stored or live samples that start at k, skipping what is drawn and drawing samples
   * never received as a gap. */
  _put(k, fhr, state) {
    if (this.k0 == null) this.k0 = k;
    const n = this.next;
    if (k + fhr.length <= n) return 0;
    if (k < n) { fhr = fhr.slice(n - k); state = state.slice(n - k); k = n; }
    if (k > n) this.ctg.append({ fhr: new Array(k - n).fill(null), state: new Array(k - n).fill(1) });
    this.ctg.append({ fhr, state });
    return fhr.length;
  }
  _append(m) {
    if (m.type === 'samples_marked') { if (this.k0 != null) this.ctg.remark((m.k0 || 0) - this.k0, m.state || []); return; }
    this._put(m.k0 || 0, m.fhr || [], m.state || []);
  }

  /* One page of stored samples from `from`; false when the server has no samples route. */
  async _fetch(from, limit) {
    let r;
    try {
      r = await api(`/api/recordings/${encodeURIComponent(this.id)}/samples?from=${from}&limit=${limit}`);
    } catch (e) {
      if (e.status === 404 && this.supported !== true) { this.supported = false; return null; }
      throw e;
    }
    this.supported = true;
    if (this.destroyed) return null;
    const fhr = r.fhr || [], st = r.state || [];
    if (this.k0 == null) this.k0 = 0; /* stored samples start the paper at the stream start */
    this.backfilled += this._put(Number.isFinite(r.from) ? r.from : from, fhr, st);
    return r;
  }

  async _fill() {
    if (this.filling || this.destroyed) return;
    this.filling = true;
    this.onState('backfill');
    try {
      /* everything stored from our next sample on */
      for (let guard = 0; guard < 1000 && !this.destroyed; guard++) {
        const before = this.next;
        const r = await this._fetch(before, PAGE_SAMPLES);
        if (!r || r.done || !(r.fhr || []).length || this.next <= before) break;
      }
      /* a hole between the store and the first queued live message: wait for its batch */
      if (this.supported) {
        const t0 = Date.now();
        const firstLive = () => this.queue.find((m) => m.type !== 'samples_marked');
        while (!this.destroyed && firstLive() && (firstLive().k0 || 0) > this.next && Date.now() - t0 < HOLE_WAIT_MS) {
          const want = (firstLive().k0 || 0) - this.next;
          const before = this.next;
          await this._fetch(this.next, want);
          if (this.next === before) await sleep(HOLE_RETRY_MS);
        }
      }
    } catch { /* the network: what is queued is drawn, holes as gaps; a resync retries */ }
    this.filling = false;
    if (this.destroyed) return;
    const q = this.queue;
    this.queue = [];
    for (const m of q) this._append(m);
    this.onState(this.supported === false ? 'nobackfill' : 'live');
  }
}
