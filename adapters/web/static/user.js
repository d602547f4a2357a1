// The user app (index.html): log in, upload, follow jobs, the library, the
// player, compositions. Hash routes: #/upload, #/jobs, #/job/ID,
// #/library?sort_by=likes&page=2, #/video/ID, #/compositions.

import { ApiError, api, currentUser, describeError } from './api.js';
import { compositionsPage } from './compose.js';
import { fmtBytes, fmtDuration, fmtTime, h, message, progressBar, statusBadge, terminal } from './dom.js';
import { JobProgress } from './jobview.js';
import { showLogin, showUser } from './login.js';
import { hasResumable, uploadFile } from './upload.js';

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const userSlot = document.getElementById('user-slot');

const THUMBNAILS = [['small', '320×180'], ['medium', '640×360'], ['large', '1280×720']];
const RENDITIONS = ['2160p', '1440p', '1080p', '720p', '480p', '360p', '240p'];

// Aborted when the page changes: streams and polls of the page before.
let pageAbort = new AbortController();

// -- Upload page ------------------------------------------------------------

// Built once and kept across pages, so uploads go on while the user looks
// at the library.
let uploadView = null;

function outputChoices() {
  const box = (name, value, label, checked) => {
    const id = `out-${name}-${value}`;
    return h('div', { class: 'check' },
      h('input', { type: 'checkbox', id, name, value, checked }),
      h('label', { for: id }, label));
  };
  return h('div', { class: 'outputs' },
    h('fieldset', {},
      h('legend', {}, 'Thumbnails'),
      THUMBNAILS.map(([name, size]) => box('thumbnails', name, `${name} (${size})`, name === 'small'))),
    h('fieldset', {},
      h('legend', {}, 'Renditions (H.264 MP4)'),
      RENDITIONS.map((r) => box('renditions', r, r, r === '480p'))));
}

function buildUploadView() {
  const input = h('input', { type: 'file', id: 'file-input', multiple: true, accept: 'video/*,audio/*,.mp4,.mov,.mkv,.webm', class: 'visually-hidden' });
  const choices = outputChoices();
  const list = h('ol', { class: 'uploads', 'aria-label': 'Uploads' });
  const drop = h('div', { class: 'dropzone' },
    h('p', {}, 'Drop video files here, or'),
    input,
    h('label', { for: 'file-input', class: 'button primary' }, 'Choose video files'),
    h('p', { class: 'hint' }, 'Files over 8 MB go up in parts and resume after a reload: choose the same file again.'));
  const selected = () => {
    const pick = (name) => [...choices.querySelectorAll(`input[name="${name}"]:checked`)].map((x) => x.value);
    return { thumbnails: pick('thumbnails'), renditions: pick('renditions') };
  };
  const start = (files) => {
    for (const file of files) list.prepend(uploadItem(file, selected()));
  };
  input.addEventListener('change', () => {
    start([...input.files]);
    input.value = '';
  });
  // Files dragged over the area: accept them (cancelling dragenter and
  // dragover is what lets the drop happen) and show it.
  const over = (e) => {
    if (!carriesFiles(e)) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'copy';
    drop.classList.add('dragging');
  };
  drop.addEventListener('dragenter', over);
  drop.addEventListener('dragover', over);
  // dragleave also fires when the pointer moves onto a child of the area.
  drop.addEventListener('dragleave', (e) => { if (!drop.contains(e.relatedTarget)) drop.classList.remove('dragging'); });
  drop.addEventListener('drop', (e) => {
    e.preventDefault();
    drop.classList.remove('dragging');
    const files = [...(e.dataTransfer ? e.dataTransfer.files : [])];
    if (files.length) start(files);
  });
  return h('section', { 'aria-labelledby': 'page-title' },
    h('h1', { id: 'page-title', tabindex: -1 }, 'Upload'),
    h('div', { class: 'card' }, h('h2', {}, 'Outputs to make'), choices),
    drop,
    h('h2', {}, 'Your uploads'),
    list);
}

function carriesFiles(e) {
  return Boolean(e.dataTransfer) && [...(e.dataTransfer.types || [])].includes('Files');
}

// A file dropped anywhere but on the drop area would make the browser open
// it in place of the app, losing the session and the uploads under way: the
// page refuses such drops (the drop area's own listeners run first).
for (const type of ['dragenter', 'dragover', 'drop']) {
  window.addEventListener(type, (e) => {
    if (e.defaultPrevented || !carriesFiles(e)) return;
    e.preventDefault();
    if (type !== 'drop') e.dataTransfer.dropEffect = 'none';
  });
}

// Two uploads at a time; the rest wait their turn.
let running = 0;
const waiting = [];
async function turn() {
  if (running < 2) {
    ++running;
    return;
  }
  await new Promise((resolve) => waiting.push(resolve));
  ++running;
}
function endTurn() {
  --running;
  const next = waiting.shift();
  if (next) next();
}

function uploadItem(file, outputs) {
  const resumable = hasResumable(file);
  const upload = progressBar(`Upload of ${file.name}`);
  upload.set(0, resumable ? 'Resuming…' : 'Waiting to start…');
  const job = new JobProgress(file.name);
  job.el.hidden = true;
  const error = h('div', { hidden: true });
  const actions = h('div', { class: 'actions' });
  const item = h('li', { class: 'card upload' },
    h('h3', {}, file.name, ' ', h('span', { class: 'muted' }, fmtBytes(file.size))),
    upload.el, job.el, error, actions);
  (async () => {
    await turn();
    let jobId = null;
    let lastText = '';
    try {
      jobId = await uploadFile(file, outputs, {
        onJob: (id) => { jobId = id; item.dataset.jobId = id; },
        onStatus: (text) => { lastText = text; upload.set(upload.bar.value, text); },
        onProgress: (sent, total) => {
          const pct = total ? Math.floor((sent / total) * 100) : 100;
          upload.set(pct, `${lastText.replace(/…$/, '')} — ${pct} % (${fmtBytes(sent)} of ${fmtBytes(total)})`);
        },
      });
      upload.set(100, 'Uploaded');
    } catch (err) {
      upload.set(upload.bar.value, 'Upload stopped');
      message(error, `${describeError(err)}${file.size > 8 * 1024 * 1024 ? ' Choose the same file again to resume.' : ''}`);
      endTurn();
      return;
    }
    endTurn();
    job.el.hidden = false;
    const cancel = h('button', { type: 'button', onclick: async () => {
      cancel.disabled = true;
      try {
        await api(`/jobs/${encodeURIComponent(jobId)}/cancel`, { method: 'POST' });
      } catch (err) {
        message(error, describeError(err));
      }
    } }, `Cancel ${file.name}`);
    actions.replaceChildren(cancel, h('a', { href: `#/job/${jobId}` }, 'Details'));
    try {
      const final = await job.follow(jobId);
      cancel.remove();
      if (final === 'SUCCEEDED') actions.prepend(h('a', { href: `#/video/${jobId}`, class: 'button' }, `Open ${file.name}`));
    } catch (err) {
      message(error, describeError(err));
    }
  })();
  return item;
}

function uploadPage() {
  if (!uploadView) uploadView = buildUploadView();
  return uploadView;
}

// -- Jobs -------------------------------------------------------------------

function isMedia(job) {
  return !(job.outputs && (job.outputs.asset || job.outputs.composition));
}

async function jobsPage(signal) {
  const body = h('tbody');
  const page = h('section', {},
    h('h1', { id: 'page-title', tabindex: -1 }, 'Jobs'),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'Your latest 50 jobs, newest first'),
      h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'File'), h('th', { scope: 'col' }, 'Status'), h('th', { scope: 'col' }, 'Created'), h('th', { scope: 'col' }, 'Job'))),
      body)));
  const answer = await api('/history', { query: { limit: 50 }, signal });
  const jobs = answer.items.filter(isMedia);
  body.replaceChildren(...jobs.map((j) => h('tr', {},
    h('td', {}, j.filename),
    h('td', {}, statusBadge(j.status), j.error_message ? h('div', { class: 'muted' }, j.error_message) : null),
    h('td', {}, fmtTime(j.created_at)),
    h('td', {}, h('a', { href: `#/job/${j.job_id}`, 'aria-label': `Details of ${j.filename}` }, 'Details')))));
  if (!jobs.length) body.append(h('tr', {}, h('td', { colspan: 4 }, 'No jobs yet: upload a video.')));
  return page;
}

async function jobPage(id, signal) {
  const job = await api(`/jobs/${encodeURIComponent(id)}`, { signal });
  const view = new JobProgress(job.filename);
  view.showJob(job);
  const error = h('div', { hidden: true });
  const actions = h('div', { class: 'actions' });
  const attempts = h('tbody');
  const page = h('section', {},
    h('h1', { id: 'page-title', tabindex: -1 }, job.filename),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Job'), h('dd', { class: 'mono' }, job.job_id),
      h('dt', {}, 'Created'), h('dd', {}, fmtTime(job.created_at)),
      h('dt', {}, 'Priority'), h('dd', {}, job.priority),
      h('dt', {}, 'Attempts'), h('dd', {}, String(job.attempts))),
    h('div', { class: 'card' }, view.el),
    error, actions,
    h('h2', {}, 'Attempts'),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Step', 'Attempt', 'Result', 'Worker', 'Finished', 'Took'].map((x) => h('th', { scope: 'col' }, x)))),
      attempts)));
  const loadAttempts = async () => {
    const a = await api(`/jobs/${encodeURIComponent(id)}/attempts`, { signal });
    attempts.replaceChildren(...a.items.map((x) => h('tr', {},
      h('td', {}, x.kind), h('td', {}, `${x.series}.${x.attempt}`),
      h('td', {}, x.ok ? 'ok' : `${x.error_code}: ${x.error_message || ''}`),
      h('td', {}, x.worker), h('td', {}, fmtTime(x.finished_at)), h('td', {}, `${Math.round(x.duration_us / 1000)} ms`))));
    if (!a.items.length) attempts.append(h('tr', {}, h('td', { colspan: 6 }, 'No attempts yet.')));
  };
  await loadAttempts();
  const finished = (status) => {
    actions.replaceChildren();
    if (status === 'SUCCEEDED') actions.append(h('a', { href: `#/video/${id}`, class: 'button primary' }, 'Open the video'));
  };
  if (terminal.has(job.status)) {
    finished(job.status);
  } else {
    actions.append(h('button', { type: 'button', onclick: async (e) => {
      e.target.disabled = true;
      try {
        await api(`/jobs/${encodeURIComponent(id)}/cancel`, { method: 'POST' });
      } catch (err) {
        message(error, describeError(err));
      }
    } }, 'Cancel the job'));
    view.follow(id, { signal }).then(async (status) => {
      if (signal.aborted) return;
      finished(status);
      await loadAttempts();
    }).catch((err) => { if (!signal.aborted) message(error, describeError(err)); });
  }
  return page;
}

// -- Library ----------------------------------------------------------------

const PAGE_SIZE = 12;

async function libraryPage(params, signal) {
  const sortBy = ['created', 'views', 'likes', 'engagement'].includes(params.get('sort_by')) ? params.get('sort_by') : 'created';
  const order = params.get('order') === 'asc' ? 'asc' : 'desc';
  const pageNo = Math.max(1, Number.parseInt(params.get('page') || '1', 10) || 1);
  const answer = await api('/videos', { query: { sort_by: sortBy, order, limit: PAGE_SIZE, offset: (pageNo - 1) * PAGE_SIZE }, signal });
  const go = (changes) => {
    const p = new URLSearchParams({ sort_by: sortBy, order, page: String(pageNo), ...changes });
    location.hash = `#/library?${p}`;
  };
  const select = (id, label, value, options, onchange) => [
    h('label', { for: id }, label),
    h('select', { id, onchange: (e) => onchange(e.target.value) },
      options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)))];
  const pages = Math.max(1, Math.ceil(answer.total / PAGE_SIZE));
  const grid = h('ul', { class: 'grid', 'aria-label': 'Videos' },
    answer.items.map((v) => h('li', { class: 'card video' },
      h('a', { href: `#/video/${v.video_id}`, class: 'thumb-link' },
        v.thumbnail_url ? h('img', { src: v.thumbnail_url, alt: '', width: 320, height: 180, loading: 'lazy' }) : h('div', { class: 'no-thumb' }, 'No thumbnail'),
        h('span', { class: 'title' }, v.filename)),
      h('p', { class: 'muted' }, `${v.views} view${v.views === 1 ? '' : 's'} · ${v.likes} like${v.likes === 1 ? '' : 's'} · ${fmtDuration(v.duration)}`),
      h('p', { class: 'muted' }, fmtTime(v.created_at)))));
  return h('section', {},
    h('h1', { id: 'page-title', tabindex: -1 }, 'Library'),
    h('div', { class: 'toolbar' },
      select('sort-by', 'Sort by', sortBy, [['created', 'Newest'], ['views', 'Most viewed'], ['likes', 'Most liked'], ['engagement', 'Likes per view']], (v) => go({ sort_by: v, page: '1' })),
      select('order', 'Order', order, [['desc', 'Highest first'], ['asc', 'Lowest first']], (v) => go({ order: v, page: '1' }))),
    answer.items.length ? grid : h('p', {}, 'No videos yet. Videos appear here once their job is done.'),
    h('nav', { class: 'pager', 'aria-label': 'Pages' },
      h('button', { type: 'button', disabled: pageNo <= 1, onclick: () => go({ page: String(pageNo - 1) }) }, 'Previous page'),
      h('span', { 'aria-live': 'polite' }, `Page ${pageNo} of ${pages} (${answer.total} videos)`),
      h('button', { type: 'button', disabled: pageNo >= pages, onclick: () => go({ page: String(pageNo + 1) }) }, 'Next page')));
}

// -- Player -----------------------------------------------------------------

async function videoPage(id, signal) {
  const v = await api(`/videos/${encodeURIComponent(id)}`, { signal });
  const error = h('div', { hidden: true });
  const made = (v.renditions || []).filter((r) => !r.skipped && r.url);
  made.sort((a, b) => b.height - a.height);
  const video = h('video', { controls: true, preload: 'metadata', playsinline: true, 'aria-label': `Video ${v.filename}` });
  if (v.thumbnails && v.thumbnails[0] && v.thumbnails[0].url) video.poster = v.thumbnails[0].url;
  video.src = made.length ? made[0].url : v.playback_url;
  const plural = (n, word) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const views = h('span', { 'aria-live': 'polite', class: 'views' }, plural(v.views, 'view'));
  let viewed = false;
  video.addEventListener('play', async () => {
    if (viewed) return;
    viewed = true;
    try {
      const answer = await api(`/videos/${encodeURIComponent(id)}/view`, { method: 'POST' });
      views.textContent = plural(answer.views, 'view');
    } catch (err) {
      viewed = false;
      message(error, describeError(err));
    }
  });
  let liked = v.liked;
  const like = h('button', { type: 'button', class: 'like', 'aria-pressed': String(liked) });
  const showLike = (likes) => {
    like.setAttribute('aria-pressed', String(liked));
    like.textContent = `${liked ? '♥ Liked' : '♡ Like'} (${likes})`;
  };
  showLike(v.likes);
  like.addEventListener('click', async () => {
    like.disabled = true;
    try {
      const answer = await api(`/videos/${encodeURIComponent(id)}/like`, { method: liked ? 'DELETE' : 'PUT' });
      liked = answer.liked;
      showLike(answer.likes);
    } catch (err) {
      message(error, describeError(err));
    } finally {
      like.disabled = false;
    }
  });
  const quality = made.length > 1
    ? [h('label', { for: 'quality' }, 'Quality'),
       h('select', { id: 'quality', onchange: (e) => {
         const t = video.currentTime;
         video.src = e.target.value;
         video.currentTime = t;
       } }, made.map((r) => h('option', { value: r.url }, `${r.name} (${r.width}×${r.height})`)))]
    : [];
  const downloads = h('ul', { class: 'downloads', 'aria-label': 'Downloads' });
  const outputs = [...(v.thumbnails || []), ...(v.renditions || [])].filter((o) => !o.skipped);
  const page = h('section', {},
    h('h1', { id: 'page-title', tabindex: -1 }, v.filename),
    h('div', { class: 'player' }, video),
    h('div', { class: 'toolbar' }, like, views, quality),
    error,
    h('dl', { class: 'facts' },
      h('dt', {}, 'Length'), h('dd', {}, fmtDuration(v.duration)),
      h('dt', {}, 'Size'), h('dd', {}, v.width ? `${v.width}×${v.height}` : 'audio only'),
      h('dt', {}, 'File'), h('dd', {}, fmtBytes(v.size)),
      h('dt', {}, 'Uploaded'), h('dd', {}, fmtTime(v.created_at))),
    v.summary ? [h('h2', {}, 'Summary'), h('p', {}, v.summary)] : null,
    h('h2', {}, 'Downloads'),
    downloads);
  // One fresh presigned link per output, through the API's download route.
  const links = await Promise.all(outputs.map(async (o) => {
    try {
      const d = await api(`/jobs/${encodeURIComponent(id)}/download/${encodeURIComponent(o.name)}`, { signal });
      const kind = o.content_type === 'image/jpeg' ? 'thumbnail' : 'rendition';
      return h('li', {}, h('a', { href: d.download_url, rel: 'noopener', target: '_blank' }, `Download ${kind} ${o.name}`),
        ` ${o.width}×${o.height}, ${fmtBytes(d.bytes)}`);
    } catch (err) {
      return h('li', {}, `${o.name}: ${describeError(err)}`);
    }
  }));
  downloads.replaceChildren(...links);
  if (!links.length) downloads.append(h('li', {}, 'This video has no outputs to download.'));
  return page;
}

// -- Router -----------------------------------------------------------------

const routes = [
  ['upload', 'Upload'],
  ['jobs', 'Jobs'],
  ['library', 'Library'],
  ['compositions', 'Compositions'],
];

function drawNav(current) {
  nav.replaceChildren(h('ul', {}, routes.map(([r, label]) => h('li', {},
    h('a', { href: `#/${r}`, 'aria-current': r === current ? 'page' : false }, label)))));
}

let routing = 0;

async function route() {
  if (!currentUser()) return;
  // In-page anchors (the skip link) are not routes.
  if (location.hash && !location.hash.startsWith('#/')) return;
  pageAbort.abort();
  pageAbort = new AbortController();
  const signal = pageAbort.signal;
  const token = ++routing;
  const hash = location.hash.replace(/^#\/?/, '') || 'upload';
  const [path, query] = hash.split('?');
  const [name, id] = path.split('/');
  const params = new URLSearchParams(query || '');
  const section = { job: 'jobs', video: 'library' }[name] || name;
  drawNav(section);
  main.setAttribute('aria-busy', 'true');
  let page;
  try {
    if (name === 'upload') page = uploadPage();
    else if (name === 'jobs') page = await jobsPage(signal);
    else if (name === 'job' && id) page = await jobPage(id, signal);
    else if (name === 'library') page = await libraryPage(params, signal);
    else if (name === 'video' && id) page = await videoPage(id, signal);
    else if (name === 'compositions') page = await compositionsPage(signal);
    else page = h('section', {}, h('h1', { id: 'page-title', tabindex: -1 }, 'Not found'), h('p', {}, h('a', { href: '#/upload' }, 'Go to uploads')));
  } catch (err) {
    if (signal.aborted) return;
    if (err instanceof ApiError && err.status === 401) return; // the login form is up
    page = h('section', {}, h('h1', { id: 'page-title', tabindex: -1 }, 'Something went wrong'), h('p', { role: 'alert', class: 'message message-error' }, describeError(err)));
  }
  if (token !== routing) return;
  main.removeAttribute('aria-busy');
  // Where the focus was before the old page goes: on a control (a nav link,
  // the login form, a link of the old page) it moves to the new heading;
  // on nothing (the first load) it stays there.
  const active = document.activeElement;
  const focused = active && active !== document.body && active !== main;
  main.replaceChildren(page);
  const title = main.querySelector('h1');
  document.title = `${title ? title.textContent : 'vidflow'} — vidflow`;
  if (title && focused && (!main.contains(document.activeElement) || document.activeElement === main)) title.focus();
}

async function start(note = '') {
  pageAbort.abort();
  nav.replaceChildren();
  showUser(userSlot, () => start());
  document.title = 'Log in — vidflow';
  await showLogin(main, { title: 'Log in to vidflow', note });
  showUser(userSlot, () => {
    uploadView = null;
    start();
  });
  await route();
}

window.addEventListener('hashchange', route);
window.addEventListener('vf:expired', () => start('Your session ended. Log in again.'));
// Back from an outage: reload the page's data. Not the upload page (kept
// across pages, its uploads go on) nor the compositions page (that would
// throw away a composition being put together; its waiting requests are
// sent again by themselves).
window.addEventListener('vf:recovered', () => { if (currentUser() && location.hash && !/^#\/(upload|compositions)\b/.test(location.hash)) route(); });
start();
