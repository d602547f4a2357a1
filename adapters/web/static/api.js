// The one client of the vidflow JSON API that both pages share: the
// session token, a fetch wrapper that turns errors into words, a reader of
// Server-Sent Events that can send the Authorization header, and the
// "Cannot reach vidflow" banner that comes and goes with /healthz.

// The token lives only here, in memory: never in localStorage,
// sessionStorage or a cookie. A reload forgets it (docs/web.md says why).
let token = null;
let user = null; // {name, role}

/** Sets the session from a login answer; null logs out. */
export function setSession(accessToken) {
  token = accessToken;
  user = accessToken ? claimsOf(accessToken) : null;
  window.dispatchEvent(new CustomEvent('vf:session', { detail: user }));
}

/** {name, role} of who is logged in, or null. */
export function currentUser() {
  return user;
}

// The token's claims, for the name and role to show. Not a check of
// anything: the server checks the signature on every request.
function claimsOf(jwt) {
  try {
    const part = jwt.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
    const claims = JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), '=')));
    return { name: String(claims.sub || ''), role: String(claims.role || 'user') };
  } catch {
    return { name: '', role: 'user' };
  }
}

/** An error of the API (or of the network), with words for people. */
export class ApiError extends Error {
  constructor(status, code, detail, retryAfter = 0) {
    super(detail || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || '';
    this.detail = detail || '';
    this.retryAfter = retryAfter;
  }
}

const words = {
  unauthorized: 'You are not logged in, or your session ended.',
  forbidden: 'This account may not do that.',
  not_found: 'Not found.',
  conflict: 'Not possible in its current state.',
  invalid_argument: 'The request was refused.',
  rate_limited: 'Too many requests.',
  too_many_streams: 'Too many live views are open.',
  quota_exceeded: 'Your quota is used up.',
  insufficient_storage: 'The server is out of space for new uploads.',
  storage_unavailable: 'Storage is not available right now.',
  busy: 'The server is busy.',
  shutting_down: 'The server is restarting.',
  not_implemented: 'This server does not offer that.',
  unreachable: 'Cannot reach vidflow.',
  upload_failed: 'The upload failed.',
  internal: 'The server failed.',
};

/** One sentence or two for any error: what happened, then the detail. */
export function describeError(err) {
  if (!(err instanceof ApiError)) return `Something went wrong: ${err && err.message ? err.message : err}`;
  const head = words[err.code] || (err.status >= 500 ? 'The server failed.' : 'The request was refused.');
  let text = head;
  if (err.detail && err.detail !== head) text += ` ${err.detail.charAt(0).toUpperCase()}${err.detail.slice(1)}`;
  if (!/[.!?]$/.test(text)) text += '.';
  if (err.retryAfter) text += ` Try again in ${err.retryAfter} s.`;
  return text;
}

async function errorOf(res) {
  let code = '';
  let detail = '';
  try {
    const body = await res.json();
    code = body.code || '';
    detail = body.detail || '';
  } catch {
    detail = res.statusText;
  }
  return new ApiError(res.status, code, detail, Number(res.headers.get('Retry-After')) || 0);
}

/**
 * Calls the API. `body` is sent as JSON; `query` is an object of
 * parameters. Answers the parsed JSON (null for an empty body). GETs that
 * meet a network failure wait for the API to come back and try again.
 */
export async function api(path, { method = 'GET', body, query, signal } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const headers = { Accept: 'application/json' };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  for (;;) {
    let res;
    try {
      res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal });
    } catch (err) {
      if (signal && signal.aborted) throw err;
      apiUnreachable();
      if (method !== 'GET') throw new ApiError(0, 'unreachable', 'Check your connection; the page retries by itself.');
      await apiBack();
      continue;
    }
    if (res.status === 401 && token) {
      // The token expired or was revoked: back to the login form.
      setSession(null);
      window.dispatchEvent(new CustomEvent('vf:expired'));
    }
    if (!res.ok) throw await errorOf(res);
    if (res.status === 204) return null;
    const text = await res.text();
    return text ? JSON.parse(text) : null;
  }
}

/** Logs in; answers the user ({name, role}). */
export async function login(username, password) {
  const answer = await api('/auth/login', { method: 'POST', body: { username, password } });
  setSession(answer.access_token);
  return user;
}

// -- Server-Sent Events --------------------------------------------------------

/**
 * Follows `GET /jobs/{id}/events` until its `done` event (or `signal`
 * aborts), calling onEvent(type, data, id) for each event. EventSource
 * cannot send the Authorization header, so this reads the stream with
 * fetch and parses it as the SSE specification says; it reconnects with
 * Last-Event-ID when the connection drops, as EventSource would.
 */
export async function followEvents(jobId, onEvent, { signal } = {}) {
  let lastId = '';
  let retryMs = 2000;
  for (;;) {
    const headers = { Accept: 'text/event-stream', Authorization: `Bearer ${token}` };
    if (lastId) headers['Last-Event-ID'] = lastId;
    let res;
    try {
      res = await fetch(`/jobs/${encodeURIComponent(jobId)}/events`, { headers, signal, cache: 'no-store' });
    } catch (err) {
      if (signal && signal.aborted) return;
      apiUnreachable();
      await apiBack();
      continue;
    }
    if (res.status === 204) return; // Resumed after the end: nothing more.
    if (!res.ok) throw await errorOf(res);
    let done = false;
    try {
      done = await readStream(res.body, (ev) => {
        if (ev.id !== null) lastId = ev.id;
        if (ev.retry) retryMs = ev.retry;
        if (!ev.data) return;
        let data;
        try {
          data = JSON.parse(ev.data);
        } catch {
          return;
        }
        onEvent(ev.type, data, ev.id);
      });
    } catch (err) {
      if (signal && signal.aborted) return;
    }
    if (done) return;
    if (signal && signal.aborted) return;
    await sleep(retryMs, signal);
  }
}

// Parses one event stream; answers true once a `done` event came.
async function readStream(body, dispatch) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let ev = { type: 'message', data: '', id: null, retry: 0 };
  let sawDone = false;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return sawDone;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + (buffer.startsWith('\r\n', nl) ? 2 : 1));
      if (line === '') {
        if (ev.data.endsWith('\n')) ev.data = ev.data.slice(0, -1);
        dispatch(ev);
        if (ev.type === 'done') sawDone = true;
        ev = { type: 'message', data: '', id: null, retry: 0 };
        continue;
      }
      if (line.startsWith(':')) continue; // a comment: keep-alive
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      let value = colon < 0 ? '' : line.slice(colon + 1);
      if (value.startsWith(' ')) value = value.slice(1);
      if (field === 'event') ev.type = value;
      else if (field === 'data') ev.data += `${value}\n`;
      else if (field === 'id') ev.id = value;
      else if (field === 'retry' && /^\d+$/.test(value)) ev.retry = Number(value);
    }
  }
}

/** Waits `ms`, or less if `signal` aborts. */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    if (signal) signal.addEventListener('abort', () => { clearTimeout(t); resolve(); }, { once: true });
  });
}

// -- Is the API there? -------------------------------------------------------

let down = false;
let waiters = [];

/** Called when a request could not reach the API: shows the banner and
 * checks /healthz every 2 s until it answers. */
export function apiUnreachable() {
  if (down) return;
  down = true;
  const banner = document.getElementById('api-down');
  if (banner) banner.hidden = false;
  (async () => {
    for (;;) {
      await sleep(2000);
      try {
        const res = await fetch('/healthz', { cache: 'no-store' });
        if (res.ok) break;
      } catch {
        // still down
      }
    }
    down = false;
    if (banner) banner.hidden = true;
    const ws = waiters;
    waiters = [];
    ws.forEach((w) => w());
    window.dispatchEvent(new CustomEvent('vf:recovered'));
  })();
}

/** Resolves once the API answers again (at once if it is up). */
export function apiBack() {
  if (!down) return Promise.resolve();
  return new Promise((resolve) => waiters.push(resolve));
}
