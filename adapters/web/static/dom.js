// Small DOM helpers shared by the user app and the admin console: an
// element builder, number and time formats, status words, and keeping the
// keyboard focus when a part of the page is redrawn.

/**
 * h('button', {class: 'x', onclick: f}, 'text', child…): an element.
 * Attributes starting with "on" become listeners (never inline handlers:
 * the CSP forbids those); false/null attributes are left out.
 */
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === false || v === null || v === undefined) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k in el && typeof v !== 'string' && k !== 'list') el[k] = v;
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

/** Replaces the children of `el`, keeping the focus on the element with the
 * same data-key if the focus was inside (so a refresh does not throw the
 * keyboard user back to the top). */
export function replace(el, ...children) {
  const active = document.activeElement;
  const key = active && el.contains(active) ? active.getAttribute('data-key') : null;
  el.replaceChildren();
  append(el, children);
  if (key) {
    const again = el.querySelector(`[data-key="${CSS.escape(key)}"]`);
    if (again) again.focus();
  }
}

export function fmtBytes(n) {
  if (n === null || n === undefined) return '—';
  const units = ['bytes', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  let x = Number(n);
  while (x >= 1024 && i < units.length - 1) {
    x /= 1024;
    ++i;
  }
  return i === 0 ? `${x} bytes` : `${x.toFixed(x < 10 ? 1 : 0)} ${units[i]}`;
}

export function fmtDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  let s = Math.round(Number(seconds));
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const pad = (x) => String(x).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? String(iso) : d.toLocaleString();
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined) return '—';
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s`;
}

/** A job status in words. */
export function statusWords(status) {
  return {
    AWAITING_UPLOAD: 'Waiting for the upload',
    SUBMITTED: 'Queued',
    PROCESSING: 'Processing',
    SUCCEEDED: 'Done',
    FAILED: 'Failed',
    CANCELLED: 'Cancelled',
    EXPIRED: 'Expired (the upload never arrived)',
    // Compositions (GET /compositions) have their own lower-case states.
    pending: 'Waiting to start',
    queued: 'Queued',
    processing: 'Processing',
    completed: 'Done',
    failed: 'Failed',
    cancelled: 'Cancelled',
  }[status] || status;
}

export const terminal = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED']);

/** A badge for a status; the colour is never the only cue (it has words). */
export function statusBadge(status) {
  const kind = status === 'SUCCEEDED' || status === 'completed' ? 'ok'
    : status === 'FAILED' || status === 'failed' ? 'bad'
    : status === 'CANCELLED' || status === 'EXPIRED' || status === 'cancelled' ? 'off' : 'busy';
  return h('span', { class: `badge badge-${kind}` }, statusWords(status));
}

/** A step name of GET /jobs/{id} progress in words. */
export function stepWords(name) {
  if (name === 'probe') return 'Reading the file (probe)';
  if (name === 'summary' || name === 'summarize') return 'Summary';
  if (name === 'sleep') return 'Waiting step';
  if (name === 'compose') return 'Composing';
  const [kind, what] = name.split(':');
  if (kind === 'thumbnail') return `Thumbnail ${what}`;
  if (kind === 'rendition') return `Rendition ${what}`;
  return name;
}

/** A labelled <progress>; answers {el, set(percent, text)}. The text goes to
 * a polite live region so screen readers hear it without losing focus. */
export function progressBar(label) {
  const id = `p${Math.random().toString(36).slice(2, 9)}`;
  const bar = h('progress', { id, max: 100, value: 0, 'aria-label': label });
  const text = h('p', { class: 'progress-text', 'aria-live': 'polite' });
  const el = h('div', { class: 'progress' }, bar, text);
  return {
    el,
    bar,
    text,
    set(percent, words) {
      if (percent === null) bar.removeAttribute('value');
      else bar.value = Math.max(0, Math.min(100, percent));
      if (words !== undefined) text.textContent = words;
    },
  };
}

/** Shows a message in a region (role=alert for errors, status else). */
export function message(el, text, kind = 'error') {
  el.replaceChildren();
  if (!text) {
    el.hidden = true;
    return;
  }
  el.hidden = false;
  el.className = `message message-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
}
