// Live recording from a Doppler plugged into the phone or computer: microphone (no echo
// cancellation, noise suppression or gain control: they would erase the heart sounds) -> 16-bit
// PCM frames with sequence numbers over /ws/ingest (protocol fm-ingest, docs/api.md). Every
// frame is kept until the server acknowledges it as durable; after a network drop the stream is
// reopened and resent from the server's next_seq, so nothing recorded is lost. Not for the
// trace display (the live trace arrives on the live feed when the server computes it).
import { session } from './api.js';

const WANT_RATE_HZ = 8000;     /* plenty for Doppler audio (heart sounds < 1.5 kHz) */
const FRAME_S = 0.5;           /* one frame = half a second of audio */
const RECONNECT_MS = 2000;
const SILENT_RMS = 0.003;      /* below this for 3 s: nothing is plugged in, or muted */
const CLIP_LEVEL = 0.98;

export class IngestSession {
  /* onStatus({state, stream, recorded_s, acked_s, level_rms, clipping, silent, error}) */
  constructor({ patient, onStatus } = {}) {
    this.patient = patient || null;
    this.onStatus = onStatus || (() => {});
    this.state = 'idle';
    this.frames = [];      /* unacknowledged: {seq, bytes} */
    this.totalSamples = 0; /* in frames made so far */
    this.seq = 0;          /* next sequence number to assign */
    this.sentUpTo = 0;     /* next seq to put on the wire */
    this.ackedSeq = -1;
    this.stream = null;
    this.pending = [];     /* samples not yet in a frame */
    this.pendingN = 0;
    this.silentSince = null;
    this.level = 0;
    this.clipping = false;
  }

  _status(extra = {}) {
    const rate = this.rateHz || WANT_RATE_HZ;
    const frameSamples = Math.round(rate * FRAME_S);
    this.onStatus({
      state: this.state, stream: this.stream,
      recorded_s: (this.seq * frameSamples + this.pendingN) / rate,
      acked_s: ((this.ackedSeq + 1) * frameSamples) / rate,
      level_rms: this.level, clipping: this.clipping,
      silent: this.silentSince != null && performance.now() - this.silentSince > 3000,
      ...extra,
    });
  }

  async start() {
    this.state = 'starting';
    this._status();
    this.media = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: false, noiseSuppression: false, autoGainControl: false, channelCount: 1 },
    });
    try { this.ctx = new AudioContext({ sampleRate: WANT_RATE_HZ }); } catch { this.ctx = new AudioContext(); }
    this.rateHz = this.ctx.sampleRate;
    this.frameSamples = Math.round(this.rateHz * FRAME_S);
    await this.ctx.audioWorklet.addModule(new URL('./pcm-worklet.js', import.meta.url));
    const src = this.ctx.createMediaStreamSource(this.media);
    this.tap = new AudioWorkletNode(this.ctx, 'pcm-tap');
    this.tap.port.onmessage = (e) => this._samples(e.data);
    src.connect(this.tap);
    /* a node that reaches no destination may never be run: a silent path to the output */
    const mute = this.ctx.createGain();
    mute.gain.value = 0;
    this.tap.connect(mute).connect(this.ctx.destination);
    this.state = 'recording';
    this._connect();
    this._status();
  }

  _samples(block) {
    let sum = 0, peak = 0;
    for (let i = 0; i < block.length; i++) { sum += block[i] * block[i]; peak = Math.max(peak, Math.abs(block[i])); }
    this.level = Math.sqrt(sum / block.length);
    this.clipping = peak >= CLIP_LEVEL;
    if (this.level < SILENT_RMS) { if (this.silentSince == null) this.silentSince = performance.now(); } else this.silentSince = null;
    this.pending.push(block);
    this.pendingN += block.length;
    while (this.pendingN >= this.frameSamples) this._makeFrame(this.frameSamples);
    this._status();
  }

  /* Takes n samples from pending into one frame: u32 LE sequence number + s16le PCM. */
  _makeFrame(n) {
    const bytes = new ArrayBuffer(4 + 2 * n);
    const dv = new DataView(bytes);
    dv.setUint32(0, this.seq, true);
    let k = 0;
    while (k < n) {
      const b = this.pending[0];
      const take = Math.min(b.length, n - k);
      for (let i = 0; i < take; i++) {
        const v = Math.max(-1, Math.min(1, b[i]));
        dv.setInt16(4 + 2 * (k + i), v < 0 ? v * 0x8000 : v * 0x7fff, true);
      }
      k += take;
      if (take === b.length) this.pending.shift(); else this.pending[0] = b.subarray(take);
    }
    this.pendingN -= n;
    this.frames.push({ seq: this.seq, bytes });
    this.totalSamples += n;
    this.seq++;
    this._pump();
  }

  _connect() {
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/ingest`;
    const ws = new WebSocket(url, 'fm-ingest');
    ws.binaryType = 'arraybuffer';
    this.ws = ws;
    this.open = false;
    ws.onopen = () => {
      const m = { type: 'open', token: session.get()?.token, format: 's16le', rate_hz: this.rateHz };
      if (this.patient) m.patient = this.patient;
      if (this.stream) m.stream = this.stream;
      ws.send(JSON.stringify(m));
    };
    ws.onmessage = (ev) => {
      let m;
      try { m = JSON.parse(ev.data); } catch { return; }
      if (m.type === 'opened') {
        this.stream = m.stream;
        this.open = true;
        this._acked(m.next_seq - 1);
        this.sentUpTo = m.next_seq;
        this._pump();
      } else if (m.type === 'ack') {
        this._acked(m.seq);
      } else if (m.type === 'error' && m.error === 'gap') {
        this.sentUpTo = m.expected;
        this._pump();
      } else if (m.type === 'closed') {
        this.state = 'done';
        this._status();
        if (this._closed) this._closed();
        ws.close();
      } else if (m.type === 'error') {
        this.lastError = m.message || m.error;
        if (['unauthorized', 'not_found', 'no_stream', 'bad_format'].includes(m.error)) {
          this.state = 'failed';
          this._status({ error: this.lastError });
          if (this._closed) this._closed(); /* stop() must not wait for a close that cannot come */
        }
      }
    };
    ws.onclose = () => {
      this.open = false;
      if (this.state === 'recording' || this.state === 'finishing') {
        this._status({ state: 'reconnecting' });
        setTimeout(() => { if (this.state === 'recording' || this.state === 'finishing') this._connect(); }, RECONNECT_MS);
      }
    };
  }

  _acked(seq) {
    if (seq > this.ackedSeq) this.ackedSeq = seq;
    while (this.frames.length && this.frames[0].seq <= this.ackedSeq) this.frames.shift();
    this._status();
    if (this.state === 'finishing' && !this.frames.length && this.open && !this._closeSent) {
      this._closeSent = true;
      this.ws.send('{"type":"close"}');
    }
  }

  _pump() {
    if (!this.open || !this.ws || this.ws.readyState !== 1) return;
    for (const f of this.frames) {
      if (f.seq < this.sentUpTo) continue;
      this.ws.send(f.bytes);
      this.sentUpTo = f.seq + 1;
    }
  }

  /* The mother felt the baby move (now, in stream time). Dropped when offline: a movement mark
   * is only meaningful as it happens. */
  markMovement() {
    if (this.open && this.ws && this.ws.readyState === 1) { this.ws.send('{"type":"movement"}'); return true; }
    return false;
  }

  /* Stops recording, sends what is left, waits for every frame to be durable, closes the
   * stream (the server then analyses it like an upload). */
  async stop() {
    if (this.state !== 'recording') return;
    this.tap.port.onmessage = null;
    this.media.getTracks().forEach((t) => t.stop());
    await this.ctx.close();
    if (this.pendingN >= 2) this._makeFrame(this.pendingN);
    this.state = 'finishing';
    this._status();
    const done = new Promise((r) => { this._closed = r; });
    this._acked(this.ackedSeq); /* nothing left to acknowledge: close now */
    await done;
  }
}
