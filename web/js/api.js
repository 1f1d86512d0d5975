// The JSON API client (docs/api.md): the session token (sessionStorage: gone when the tab
// closes), JSON requests with errors as ApiError, and the upload with progress (XMLHttpRequest,
// because fetch cannot report upload progress). Not for rendering or routing.

const TOKEN_KEY = 'fetalmon.session';

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
  }
}

export const session = {
  get() {
    try { return JSON.parse(sessionStorage.getItem(TOKEN_KEY)) || null; } catch { return null; }
  },
  set(s) { sessionStorage.setItem(TOKEN_KEY, JSON.stringify(s)); },
  clear() { sessionStorage.removeItem(TOKEN_KEY); },
};

let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

export async function api(path, { method = 'GET', body, headers = {}, raw = false } = {}) {
  const s = session.get();
  const h = { ...headers };
  if (s && s.token) h.Authorization = `Bearer ${s.token}`;
  if (body !== undefined && !(body instanceof Blob)) {
    h['Content-Type'] = 'application/json';
    body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, cache: 'no-store', credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  if (raw) return res;
  let data = null;
  const text = await res.text();
  if (text) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!res.ok) {
    if (res.status === 401 && path !== '/api/login') onUnauthorized();
    throw new ApiError(res.status, data && data.error, (data && data.message) || res.statusText);
  }
  return data;
}

export async function login(username, password) {
  const r = await api('/api/login', { method: 'POST', body: { username, password } });
  session.set({ token: r.token, user: r.user, expires_ms: r.expires_ms });
  return r;
}

export async function logout() {
  try { await api('/api/logout', { method: 'POST', body: {} }); } catch { /* signed out anyway */ }
  session.clear();
}

/* Upload a file; onProgress(fraction 0..1, loadedBytes, totalBytes). Resolves with the reply
 * ({id, status}); rejects with ApiError. Returns {promise, abort}. */
export function uploadRecording(file, { patient, onProgress } = {}) {
  const xhr = new XMLHttpRequest();
  const q = new URLSearchParams({ name: file.name });
  if (patient) q.set('patient', patient);
  const promise = new Promise((resolve, reject) => {
    xhr.open('POST', `/api/recordings?${q}`);
    const s = session.get();
    if (s && s.token) xhr.setRequestHeader('Authorization', `Bearer ${s.token}`);
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable && onProgress) onProgress(e.loaded / e.total, e.loaded, e.total);
    };
    xhr.onload = () => {
      let data = null;
      try { data = JSON.parse(xhr.responseText); } catch { data = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data);
      else reject(new ApiError(xhr.status, data && data.error, (data && data.message) || xhr.statusText));
    };
    xhr.onerror = () => reject(new ApiError(0, 'network', 'The upload was interrupted.'));
    xhr.onabort = () => reject(new ApiError(0, 'aborted', 'The upload was cancelled.'));
    xhr.send(file);
  });
  return { promise, abort: () => xhr.abort() };
}

/* Does the server offer this optional route? (features that land later degrade gracefully) */
export async function probe(path, headers = {}) {
  try {
    const res = await api(path, { raw: true, headers });
    return res.ok ? res : null;
  } catch { return null; }
}
