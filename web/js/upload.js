// Resumable upload of a recording file (docs/api.md "Resumable uploads"): the file goes in
// chunks to POST /api/uploads/UID?offset=K; a network error or a busy server is retried with
// back-off, a 409 offset_mismatch continues from the server's offset, and the upload id with the
// file's identity (name, size, lastModified) is kept in localStorage so that after a page reload
// (or a new sign-in) choosing the same file again continues where the server stopped. A server
// without /api/uploads (404) gets the plain one-request POST /api/recordings (api.js).
// Not for the live microphone stream (ingest.js) nor for rendering (views/mother.js).
import { ApiError, api, session, uploadRecording } from './api.js';

const STORE_KEY = 'fetalmon.uploads';
const PENDING_MAX_AGE_MS = 7 * 86400e3; /* the server expires an idle upload well before this */
export const uploadConfig = {
  chunkBytes: 1 << 20,  /* 1 MiB per request */
  backoffMs: [1000, 2000, 4000, 8000, 15000, 30000], /* then 30 s on */
};

/* ---- pending uploads remembered on this computer ---- */

function loadAll() {
  try {
    const v = JSON.parse(localStorage.getItem(STORE_KEY));
    return Array.isArray(v) ? v.filter((e) => e && Date.now() - e.saved_ms < PENDING_MAX_AGE_MS) : [];
  } catch { return []; }
}
function saveAll(list) {
  try {
    if (list.length) localStorage.setItem(STORE_KEY, JSON.stringify(list));
    else localStorage.removeItem(STORE_KEY);
  } catch { /* storage full or disabled: the upload still works, only without resuming */ }
}
function whoami() { const s = session.get(); return (s && s.user && s.user.name) || ''; }
const sameTarget = (e, patient) => e.user === whoami() && (e.patient || '') === (patient || '');

/* The interrupted uploads of the signed-in user (for `patient`, or her own). */
export function pendingUploads(patient) { return loadAll().filter((e) => sameTarget(e, patient)); }
function remember(entry) {
  saveAll([...loadAll().filter((e) => e.upload !== entry.upload), { ...entry, saved_ms: Date.now() }]);
}
function forget(uid) { saveAll(loadAll().filter((e) => e.upload !== uid)); }
export function sameFile(e, file) {
  return e.name === file.name && e.size_bytes === file.size && e.last_modified === file.lastModified;
}

/* Forgets an interrupted upload and tells the server (best effort). */
export async function discardPending(entry) {
  forget(entry.upload);
  try { await api(`/api/uploads/${encodeURIComponent(entry.upload)}`, { method: 'DELETE' }); } catch { /* gone already */ }
}

/* ---- one chunk, with upload progress (fetch cannot report it) ---- */

function putChunk(uid, offset, blob, onBytes, setAbort) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', `/api/uploads/${encodeURIComponent(uid)}?offset=${offset}`);
    const s = session.get();
    if (s && s.token) xhr.setRequestHeader('Authorization', `Bearer ${s.token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => onBytes(e.loaded);
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else {
        const err = new ApiError(xhr.status, data && data.error, (data && data.message) || xhr.statusText);
        err.data = data;
        reject(err);
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The connection was interrupted.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    setAbort(() => xhr.abort());
    xhr.send(blob);
  });
}

const retryable = (e) => (e.status === 0 && e.code !== 'aborted') || e.status === 408 || e.status === 429 || e.status >= 500;

/* Sends `file`. Callbacks: onProgress(fraction, bytesSafe, total) where bytesSafe is what the
 * server has confirmed; onState({state, attempt, retryInS, resumedFrom, mode}) with state
 * 'starting' | 'sending' | 'retrying' | 'finishing' | 'done' | 'failed' | 'cancelled'.
 * start() resolves with the recording ({id, status}); cancel() stops and deletes the upload. */
export class ResumableUpload {
  constructor(file, { patient = '', onProgress = () => {}, onState = () => {} } = {}) {
    this.file = file;
    this.patient = patient;
    this.onProgress = onProgress;
    this.onState = onState;
    this.uid = null;
    this.offset = 0;
    this.mode = 'resumable';
    this.cancelled = false;
    this._abort = null;
    this._wake = null;
  }

  _state(state, extra = {}) { this.state = state; this.onState({ state, mode: this.mode, ...extra }); }
  _progress(inFlight = 0) {
    const total = this.file.size || 1;
    this.onProgress(Math.min(1, (this.offset + inFlight) / total), this.offset, this.file.size);
  }
  /* Waits ms, or less when cancelled or the browser comes back online. */
  _sleep(ms) {
    return new Promise((r) => {
      const done = () => { clearTimeout(tm); window.removeEventListener('online', done); this._wake = null; r(); };
      const tm = setTimeout(done, ms);
      window.addEventListener('online', done);
      this._wake = done;
    });
  }
  /* Runs fn until it succeeds or fails for good; network errors and busy answers back off. */
  async _retrying(fn) {
    for (let attempt = 0; ; attempt++) {
      if (this.cancelled) throw new ApiError(0, 'aborted', 'The upload was cancelled.');
      try {
        const r = await fn();
        if (attempt) this._state('sending'); /* back after a retry */
        return r;
      } catch (e) {
        if (this.cancelled || !retryable(e)) throw e;
        const ms = uploadConfig.backoffMs[Math.min(attempt, uploadConfig.backoffMs.length - 1)];
        this._state('retrying', { attempt: attempt + 1, retryInS: Math.round(ms / 1000), error: e.message });
        await this._sleep(ms);
        await this._resync(); /* the server may have kept part of what was in flight */
      }
    }
  }
  async _resync() {
    if (!this.uid || this.cancelled) return;
    try {
      const st = await api(`/api/uploads/${encodeURIComponent(this.uid)}`);
      if (Number.isFinite(st.offset)) this.offset = st.offset;
      this._progress();
    } catch { /* still offline: the next attempt says so */ }
  }

  /* Continue a remembered upload of this file when the server still has it open. */
  async _resume() {
    const entry = pendingUploads(this.patient).find((e) => sameFile(e, this.file));
    if (!entry) return null;
    let st;
    try { st = await api(`/api/uploads/${encodeURIComponent(entry.upload)}`); } catch (e) {
      if (retryable(e)) throw e;
      forget(entry.upload);
      return null;
    }
    if (st.state === 'done' && st.id) { forget(entry.upload); return { done: { id: st.id, status: 'queued' } }; }
    if (st.state !== 'open') { forget(entry.upload); return null; }
    this.uid = entry.upload;
    this.offset = st.offset || 0;
    return { resumedFrom: this.offset };
  }

  async start() {
    this._state('starting');
    try {
      let resumed = null;
      if (this.file.size > 0) resumed = await this._retrying(() => this._resume());
      if (resumed && resumed.done) { this.offset = this.file.size; this._progress(); this._state('done'); return resumed.done; }
      if (!this.uid) {
        const q = this.patient ? `?patient=${encodeURIComponent(this.patient)}` : '';
        let created;
        try {
          created = await this._retrying(() => api(`/api/uploads${q}`, { method: 'POST', body: { name: this.file.name, size_bytes: this.file.size } }));
        } catch (e) {
          if (e.status === 404 || e.status === 405) return await this._plain();
          throw e;
        }
        this.uid = created.upload;
        this.offset = created.offset || 0;
        remember({ upload: this.uid, user: whoami(), patient: this.patient, name: this.file.name,
          size_bytes: this.file.size, last_modified: this.file.lastModified });
      }
      this._state('sending', { resumedFrom: resumed ? resumed.resumedFrom : 0 });
      this._progress();
      for (let empty = 0; ;) {
        if (this.cancelled) throw new ApiError(0, 'aborted', 'The upload was cancelled.');
        const from = this.offset;
        const end = Math.min(this.file.size, from + uploadConfig.chunkBytes);
        if (end === this.file.size) this._state('finishing');
        /* a 0-byte piece at the end completes an upload that holds all its bytes already */
        if (end === from && empty++) throw new ApiError(500, 'incomplete', 'The server did not accept the recording.');
        let r;
        try {
          r = await this._retrying(() => { /* after a retry: from the offset the server reported */
            const k = this.offset, k2 = Math.min(this.file.size, k + uploadConfig.chunkBytes);
            return putChunk(this.uid, k, this.file.slice(k, k2), (n) => this._progress(n), (f) => { this._abort = f; });
          });
        } catch (e) {
          const d = e.data || {};
          if (e.status === 409 && d.state === 'done' && d.id) r = d; /* our last piece did arrive */
          else if (e.status === 409 && d.error === 'offset_mismatch' && Number.isFinite(d.offset)) {
            this.offset = d.offset; /* continue from the server's offset */
            this._progress();
            continue;
          } else throw e;
        }
        this.offset = Number.isFinite(r.offset) ? r.offset : end;
        this._progress();
        if (r.id) { forget(this.uid); this._state('done'); return { id: r.id, status: r.status || 'queued' }; }
      }
    } catch (e) {
      if (this.cancelled || e.code === 'aborted') { this._state('cancelled'); throw new ApiError(0, 'aborted', 'The upload was cancelled.'); }
      /* refused for good (bad file, too large, not allowed, expired): nothing to resume */
      if (this.uid && !retryable(e) && e.status !== 401) forget(this.uid);
      this._state('failed', { error: e.message });
      throw e;
    }
  }

  /* The server has no resumable uploads: one request, which restarts from 0 if it drops. */
  async _plain() {
    this.mode = 'plain';
    this._state('sending');
    const up = uploadRecording(this.file, { patient: this.patient || undefined,
      onProgress: (f, loaded) => { this.offset = 0; this.onProgress(f, f >= 1 ? loaded : 0, this.file.size); } });
    this._abort = up.abort;
    const r = await up.promise;
    this.offset = this.file.size;
    this._state('done');
    return r;
  }

  async cancel() {
    this.cancelled = true;
    if (this._abort) this._abort();
    if (this._wake) this._wake();
    if (this.uid && this.mode === 'resumable') {
      forget(this.uid);
      try { await api(`/api/uploads/${encodeURIComponent(this.uid)}`, { method: 'DELETE' }); } catch { /* expires on its own */ }
    }
  }
}
