// Uploads: one presigned PUT for small files; resumable multipart for
// large ones. Parts go straight to the object store through presigned URLs
// (GET /jobs/{id}/multipart/parts); each finished part's number and ETag is
// written to localStorage, so that after a reload the same file (same name,
// size and modification time) continues where it stopped.

import { ApiError, api, currentUser, sleep } from './api.js';

/** Files above this go up in parts. */
export const MULTIPART_THRESHOLD = 8 * 1024 * 1024;
/** Parts in flight at once. */
const PARALLEL_PARTS = 3;
/** Attempts per part before the upload gives up. */
const PART_ATTEMPTS = 4;
/** Part URLs asked for at once (the API gives at most 100). */
const URL_BATCH = 20;

const PREFIX = 'vidflow.upload:';

function resumeKey(file) {
  const who = currentUser();
  return `${PREFIX}${who ? who.name : ''}:${file.name}|${file.size}|${file.lastModified}`;
}

function loadRecord(file) {
  try {
    const rec = JSON.parse(localStorage.getItem(resumeKey(file)) || 'null');
    if (rec && rec.job_id && rec.upload_id && rec.part_size > 0 && rec.parts && typeof rec.parts === 'object') return rec;
  } catch {
    // unreadable: start again
  }
  return null;
}

function saveRecord(file, rec) {
  try {
    localStorage.setItem(resumeKey(file), JSON.stringify(rec));
  } catch {
    // storage full or off: the upload still works, it just cannot resume
  }
}

function dropRecord(file) {
  try {
    localStorage.removeItem(resumeKey(file));
  } catch {
    // nothing to do
  }
}

/** Whether this file has an interrupted upload the browser remembers. */
export function hasResumable(file) {
  return file.size > MULTIPART_THRESHOLD && loadRecord(file) !== null;
}

/**
 * PUTs `body` to a presigned URL with XMLHttpRequest (fetch has no upload
 * progress). Resolves with the ETag; rejects with an ApiError.
 */
export function putBlob(url, body, { contentType, onProgress, signal } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    if (contentType) xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.onprogress = (e) => { if (onProgress) onProgress(e.loaded); };
    xhr.onload = () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        if (onProgress) onProgress(body.size);
        resolve((xhr.getResponseHeader('ETag') || '').replace(/"/g, ''));
      } else {
        // The store answers S3's XML errors: keep the code for the words.
        const code = /<Code>([^<]+)<\/Code>/.exec(xhr.responseText || '');
        reject(new ApiError(xhr.status, 'upload_failed', `the store answered ${xhr.status}${code ? ` (${code[1]})` : ''}`));
      }
    };
    xhr.onerror = () => reject(new ApiError(0, 'upload_failed', 'the connection to the store broke'));
    xhr.onabort = () => reject(new ApiError(0, 'upload_failed', 'the upload was stopped'));
    if (signal) signal.addEventListener('abort', () => xhr.abort(), { once: true });
    xhr.send(body);
  });
}

/** POST /jobs for `file` with `outputs` ({thumbnails, renditions}). */
export function createJob(file, outputs) {
  const body = { filename: file.name, content_type: file.type || 'application/octet-stream' };
  if (outputs && ((outputs.thumbnails || []).length || (outputs.renditions || []).length)) body.outputs = outputs;
  return api('/jobs', { method: 'POST', body });
}

/**
 * Uploads `file` as a new job (or resumes its earlier upload). Reports
 * onProgress(bytesSent, total) and onStatus(text); resolves with the
 * job id once the store has the whole file (the job then runs).
 */
export async function uploadFile(file, outputs, { onProgress = () => {}, onStatus = () => {}, onJob = () => {}, signal } = {}) {
  if (file.size <= MULTIPART_THRESHOLD) {
    onStatus('Creating the job…');
    const job = await createJob(file, outputs);
    onJob(job.job_id);
    onStatus('Uploading…');
    await putBlob(job.upload_url, file, { contentType: file.type || 'application/octet-stream', onProgress: (n) => onProgress(n, file.size), signal });
    return job.job_id;
  }
  let rec = loadRecord(file);
  if (rec) {
    // Resume only if the job still waits for its file.
    let job = null;
    try {
      job = await api(`/jobs/${encodeURIComponent(rec.job_id)}`);
    } catch (err) {
      if (!(err instanceof ApiError) || err.status !== 404) throw err;
    }
    if (!job || job.status !== 'AWAITING_UPLOAD') {
      dropRecord(file);
      rec = null;
    }
  }
  let resuming = false;
  if (rec) {
    resuming = true;
    onJob(rec.job_id);
  } else {
    onStatus('Creating the job…');
    const job = await createJob(file, outputs);
    onJob(job.job_id);
    const mp = await api(`/jobs/${encodeURIComponent(job.job_id)}/multipart`, { method: 'POST', body: { size: file.size } });
    rec = { job_id: job.job_id, upload_id: mp.upload_id, part_size: partSize(file.size, mp), parts: {}, started_at: Date.now() };
    saveRecord(file, rec);
  }
  const count = Math.max(1, Math.ceil(file.size / rec.part_size));
  const sizeOf = (n) => Math.min(rec.part_size, file.size - (n - 1) * rec.part_size);
  const missing = [];
  let doneBytes = 0;
  for (let n = 1; n <= count; ++n) {
    if (rec.parts[n]) doneBytes += sizeOf(n);
    else missing.push(n);
  }
  if (resuming) onStatus(`Resuming: ${count - missing.length} of ${count} parts were already sent`);
  else onStatus(`Uploading in ${count} parts…`);
  onProgress(doneBytes, file.size);

  const inFlight = new Map();
  const report = () => {
    let sent = doneBytes;
    for (const v of inFlight.values()) sent += v;
    onProgress(sent, file.size);
  };
  const urls = new Map();
  const urlOf = async (n, fresh = false) => {
    if (!fresh && urls.has(n)) return urls.get(n);
    // Ask for a run of the missing parts from n on, at most URL_BATCH.
    let last = n;
    while (last + 1 <= count && last + 1 - n < URL_BATCH && !rec.parts[last + 1]) ++last;
    const answer = await api(`/jobs/${encodeURIComponent(rec.job_id)}/multipart/parts`, { query: { upload_id: rec.upload_id, numbers: n === last ? `${n}` : `${n}-${last}` }, signal });
    for (const p of answer.parts) urls.set(p.part_number, p.url);
    return urls.get(n);
  };
  const sendPart = async (n) => {
    const blob = file.slice((n - 1) * rec.part_size, (n - 1) * rec.part_size + sizeOf(n));
    for (let attempt = 1; ; ++attempt) {
      try {
        const url = await urlOf(n, attempt > 1);
        inFlight.set(n, 0);
        const etag = await putBlob(url, blob, { onProgress: (b) => { inFlight.set(n, b); report(); }, signal });
        inFlight.delete(n);
        rec.parts[n] = etag;
        doneBytes += blob.size;
        saveRecord(file, rec);
        report();
        return;
      } catch (err) {
        inFlight.delete(n);
        report();
        if ((signal && signal.aborted) || attempt >= PART_ATTEMPTS || (err.status >= 400 && err.status < 500 && err.status !== 403)) throw err;
        onStatus(`Part ${n} failed (${err.detail || err.message}); retrying…`);
        await sleep(1000 * 2 ** (attempt - 1), signal);
      }
    }
  };
  // A few parts at a time; the first failure for good stops the others.
  const queue = missing.slice();
  let failure = null;
  const runner = async () => {
    while (queue.length && !failure) {
      const n = queue.shift();
      try {
        await sendPart(n);
      } catch (err) {
        failure = failure || err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_PARTS, missing.length) }, runner));
  if (failure) throw failure;
  onStatus('Joining the parts…');
  const parts = Object.keys(rec.parts).map(Number).sort((a, b) => a - b).map((n) => ({ part_number: n, etag: rec.parts[n] }));
  await api(`/jobs/${encodeURIComponent(rec.job_id)}/multipart/complete`, { method: 'POST', body: { upload_id: rec.upload_id, parts } });
  dropRecord(file);
  return rec.job_id;
}

// The server's part_size, but small enough that a file has a few parts to
// send in parallel (and to resume), never below min_part_size (S3's 5 MiB)
// and never more than max_parts.
function partSize(size, mp) {
  const min = mp.min_part_size || 5 * 1024 * 1024;
  let p = Math.min(mp.part_size || min, Math.ceil(size / (PARALLEL_PARTS + 1)));
  p = Math.max(p, min, Math.ceil(size / (mp.max_parts || 10000)));
  return p;
}
