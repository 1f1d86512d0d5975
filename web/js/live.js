// The clinicians' (and the mother's) live feed: one WebSocket to /ws/live (protocol fm-live,
// docs/api.md): auth with the session token, subscribe to patients, reconnect with back-off,
// and "resync" (the server dropped our queue) turned into a reload over HTTP. Pages register
// handlers; the feed outlives page changes. Not for ingest (ingest.js).
import { session } from './api.js';

const RECONNECT_MIN_MS = 1000;
const RECONNECT_MAX_MS = 30000;
const PING_MS = 25000;

class LiveFeed {
  constructor() {
    this.ws = null;
    this.state = 'off'; /* off | connecting | live | down */
    this.patients = new Set();
    this.handlers = new Set();
    this.backoff = RECONNECT_MIN_MS;
    this.timer = null;
  }

  /* on(fn): fn(message) for every server message, plus {type:'state', state} changes. */
  on(fn) { this.handlers.add(fn); return () => this.handlers.delete(fn); }
  _emit(m) { for (const fn of [...this.handlers]) { try { fn(m); } catch (e) { console.error(e); } } }
  _set(state) { if (state !== this.state) { this.state = state; this._emit({ type: 'state', state }); } }

  start() {
    if (this.ws || !session.get()) return;
    this._set('connecting');
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/live`;
    let ws;
    try { ws = new WebSocket(url, 'fm-live'); } catch { this._retry(); return; }
    this.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: session.get()?.token }));
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m.type === 'hello') {
        this.backoff = RECONNECT_MIN_MS;
        this._set('live');
        /* a clinician watches her whole care team (the server answers an error if it does
         * not know worklist subscriptions; the per-patient ones below still apply) */
        if (m.role === 'clinician') ws.send('{"type":"subscribe","worklist":true}');
        for (const p of this.patients) ws.send(JSON.stringify({ type: 'subscribe', patient: p }));
        clearInterval(this.pinger);
        this.pinger = setInterval(() => ws.readyState === 1 && ws.send('{"type":"ping"}'), PING_MS);
        this._emit({ type: 'resync' }); /* anything missed while away: reload over HTTP */
        return;
      }
      if (m.type === 'error' && m.error === 'unauthorized') { this.stop(); return; }
      this._emit(m);
    };
    ws.onclose = () => {
      clearInterval(this.pinger);
      if (this.ws === ws) { this.ws = null; if (this.state !== 'off') this._retry(); }
    };
    ws.onerror = () => {};
  }

  _retry() {
    this._set('down');
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.start(), this.backoff);
    this.backoff = Math.min(RECONNECT_MAX_MS, this.backoff * 2);
  }

  subscribe(patient) {
    if (this.patients.has(patient)) return;
    this.patients.add(patient);
    if (this.ws && this.state === 'live') this.ws.send(JSON.stringify({ type: 'subscribe', patient }));
  }

  stop() {
    this._set('off');
    clearTimeout(this.timer);
    clearInterval(this.pinger);
    this.patients.clear();
    if (this.ws) { const ws = this.ws; this.ws = null; ws.close(); }
  }
}

export const feed = new LiveFeed();
