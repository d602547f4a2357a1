// The admin console (admin.html at /admin): overview, nodes with drain,
// the queue, activity charts, jobs by state, owner and file name (searched
// on the server) and an exact-id look-up, one job's timeline, dead letters
// with the incident report and redrive, pause and resume of intake.
// Refreshes every few seconds.

import { api, currentUser, describeError } from './api.js';
import { chart } from './charts.js';
import { fmtMs, fmtTime, h, message, replace, statusBadge, statusWords, terminal } from './dom.js';
import { requireAdmin, showLogin, showUser } from './login.js';

const REFRESH_MS = 4000;
// Faster while jobs run, so that short states are seen.
const BUSY_REFRESH_MS = 1500;
const STATES = ['AWAITING_UPLOAD', 'SUBMITTED', 'PROCESSING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'EXPIRED'];
const SECTIONS = [['overview', 'Overview'], ['nodes', 'Nodes'], ['queue', 'Queue'], ['activity', 'Activity'], ['jobs', 'Jobs'], ['dead-letters', 'Dead letters']];

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const userSlot = document.getElementById('user-slot');

let timer = null;
// The jobs search: 'active' (queued or processing: the whole list, so the
// owner and name filter it here) or a status, '' any status (the server
// searches: GET /admin/jobs?state=&owner=&name=).
const jobsSearch = { state: 'active', owner: '', name: '' };
let jobItems = [];
let jobsNote = '';
let timelineId = '';
let generation = 0;

function fmtUptime(s) {
  const d = Math.floor(s / 86400);
  const hh = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return d ? `${d} d ${hh} h` : hh ? `${hh} h ${m} min` : `${m} min ${s % 60} s`;
}

function section(id, title, ...children) {
  return h('section', { id, class: 'card', 'aria-labelledby': `${id}-title` }, h('h2', { id: `${id}-title` }, title), ...children);
}

function table(caption, head, rows, empty) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    caption ? h('caption', {}, caption) : null,
    h('thead', {}, h('tr', {}, head.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', {}, rows.length ? rows : h('tr', {}, h('td', { colspan: head.length }, empty)))));
}

// The regions the refresh fills.
const el = {};
const notice = h('div', { hidden: true });

function layout() {
  el.overview = h('div');
  el.intake = h('div', { class: 'actions' });
  el.nodes = h('div');
  el.queue = h('div');
  el.charts = h('div', { class: 'charts' });
  el.jobs = h('div');
  el.timeline = h('div', { id: 'timeline', tabindex: -1 });
  el.dlq = h('div');
  el.report = h('div');
  const stateSelect = h('select', { id: 'job-state', onchange: (e) => { jobsSearch.state = e.target.value; searchJobs(); } },
    h('option', { value: 'active' }, 'Active (queued or processing)'),
    h('option', { value: '' }, 'Any state'),
    STATES.map((s) => h('option', { value: s }, statusWords(s))));
  const owner = h('input', { id: 'job-owner', type: 'search', autocomplete: 'off', maxlength: 256 });
  const name = h('input', { id: 'job-name', type: 'search', autocomplete: 'off', maxlength: 256 });
  const searchForm = h('form', { class: 'row', role: 'search', 'aria-label': 'Jobs', onsubmit: (e) => {
    e.preventDefault();
    jobsSearch.owner = owner.value.trim();
    jobsSearch.name = name.value.trim();
    searchJobs();
  } },
  h('label', { for: 'job-state' }, 'State'), stateSelect,
  h('label', { for: 'job-owner' }, 'Owner'), owner,
  h('label', { for: 'job-name' }, 'File name contains'), name,
  h('button', { type: 'submit' }, 'Search'));
  const lookup = h('input', { id: 'job-id', class: 'mono', autocomplete: 'off' });
  const lookupForm = h('form', { class: 'row', onsubmit: (e) => { e.preventDefault(); if (lookup.value.trim()) showTimeline(lookup.value.trim()); } },
    h('label', { for: 'job-id' }, 'Job id'), lookup, h('button', { type: 'submit' }, 'Look up'));
  nav.replaceChildren(h('ul', {}, SECTIONS.map(([id, label]) => h('li', {}, h('a', { href: `#${id}` }, label)))));
  main.replaceChildren(
    h('h1', { id: 'page-title', tabindex: -1 }, 'Operations'),
    notice,
    section('overview', 'Overview', el.overview, el.intake),
    section('nodes', 'Nodes', el.nodes),
    section('queue', 'Queue', el.queue),
    section('activity', 'Activity in the last hour', el.charts),
    section('jobs', 'Jobs', searchForm, el.jobs, lookupForm, el.timeline),
    section('dead-letters', 'Dead letters', el.report, el.dlq));
}

async function act(what, call) {
  try {
    await call();
    message(notice, what, 'info');
  } catch (err) {
    message(notice, describeError(err));
  }
  refresh();
}

// -- Overview, intake, nodes, queue ----------------------------------------

function drawStatus(s, clusterNodes) {
  replace(el.overview, h('dl', { class: 'facts' },
    h('dt', {}, 'Version'), h('dd', {}, s.version),
    h('dt', {}, 'Up for'), h('dd', {}, fmtUptime(s.uptime_s)),
    h('dt', {}, 'Started'), h('dd', {}, fmtTime(s.started_at)),
    h('dt', {}, 'Intake'), h('dd', { id: 'intake-state' }, s.paused ? 'Paused: new uploads wait' : 'Accepting work')),
  h('ul', { class: 'counts', 'aria-label': 'Jobs by status' },
    STATES.map((k) => h('li', {}, h('span', { class: 'count' }, String(s.jobs[k] || 0)), ' ', statusWords(k)))));
  replace(el.intake, s.paused
    ? h('button', { type: 'button', class: 'primary', 'data-key': 'intake', onclick: () => act('Intake resumed.', () => api('/admin/resume', { method: 'POST' })) }, 'Resume intake')
    : h('button', { type: 'button', 'data-key': 'intake', onclick: () => act('Intake paused: uploads are kept and wait.', () => api('/admin/pause', { method: 'POST' })) }, 'Pause intake'));

  // /cluster/nodes knows every node that joined; /admin/status adds what
  // is busy now.
  const live = new Map(s.nodes.map((n) => [n.name, n]));
  const nodes = clusterNodes.map((n) => ({ ...n, ...(live.get(n.name) || {}) }));
  for (const n of s.nodes) if (!nodes.find((x) => x.name === n.name)) nodes.push(n);
  replace(el.nodes,
    h('p', {}, `Workers in all (this node's and joined nodes'): ${s.queue.workers}, ${s.queue.free_slots} free slots.`),
    table(null, ['Node', 'Slots', 'Busy', 'Free', 'Kinds', 'State', 'Joined', 'Drain'], nodes.map((n) => h('tr', {},
      h('th', { scope: 'row' }, n.name), h('td', {}, String(n.slots)), h('td', {}, String(n.busy)),
      h('td', {}, String(Math.max(0, n.slots - n.busy))), h('td', {}, (n.kinds || []).join(', ') || 'all'),
      h('td', { class: 'node-state' }, n.draining ? h('span', { class: 'badge badge-off' }, 'draining') : h('span', { class: 'badge badge-ok' }, 'active')),
      h('td', {}, fmtTime(n.joined_at)),
      h('td', {}, h('button', { type: 'button', role: 'switch', 'aria-checked': String(!!n.draining), 'data-key': `drain-${n.name}`,
        onclick: () => act(n.draining ? `${n.name} takes tasks again.` : `${n.name} is draining: it takes no new tasks.`,
          () => api(`/admin/nodes/${encodeURIComponent(n.name)}/${n.draining ? 'undrain' : 'drain'}`, { method: 'POST' })) },
        `Drain ${n.name}`)))), 'No worker nodes joined.'));

  const q = s.queue;
  replace(el.queue,
    h('p', {}, `${q.queued} queued, ${q.leased} running.`),
    table(null, ['Priority', 'Queued', 'Oldest waiting'], ['high', 'default', 'low'].map((p) => h('tr', {},
      h('th', { scope: 'row' }, p), h('td', {}, String(q.by_priority[p].queued)),
      h('td', {}, q.by_priority[p].queued ? fmtMs(q.by_priority[p].oldest_s * 1000) : '—'))), ''));
}

// -- Activity charts -------------------------------------------------------

function drawActivity(a) {
  const m = a.minutes || [];
  const ended = m.map((x) => x.succeeded + x.failed + x.cancelled + x.expired);
  const rate = (v) => `${(v / 60).toFixed(v && v < 6 ? 3 : 2)}/s`;
  const total = ended.reduce((s, v) => s + v, 0);
  const failed = m.reduce((s, x) => s + x.failed, 0);
  replace(el.charts,
    h('figure', {}, chart({ kind: 'bar', title: 'Jobs finished per second', values: ended, format: rate }),
      h('figcaption', {}, `Jobs finished per second, by minute (${total} in the hour)`)),
    h('figure', {}, chart({ kind: 'bar', title: 'Failures per minute', values: m.map((x) => x.failed), format: (v) => String(Math.round(v * 10) / 10) }),
      h('figcaption', {}, `Jobs failed per minute (${failed} in the hour)`)),
    h('figure', {}, chart({ kind: 'line', title: 'p95 upload to done', values: m.map((x) => x.p95_ms), format: fmtMs }),
      h('figcaption', {}, '95th percentile of upload → done, by minute')));
}

// -- Jobs -------------------------------------------------------------------

async function refreshJobs() {
  const { state, owner, name } = jobsSearch;
  jobsNote = '';
  if (state === 'active') {
    // Every active job is in this list: the owner and name filter it here.
    const answer = await api('/admin/jobs');
    jobItems = answer.items.filter((j) => (!owner || j.owner === owner) && (!name || j.filename.includes(name)));
  } else if (!state && !owner && !name) {
    jobItems = [];
    jobsNote = 'To search every state, give an owner or part of a file name.';
  } else {
    const answer = await api('/admin/jobs', { query: { state, owner, name, limit: 200 } });
    jobItems = answer.items;
  }
  drawJobs();
}

// A new search: its errors (a term too long, say) show in the notice.
async function searchJobs() {
  try {
    await refreshJobs();
  } catch (err) {
    message(notice, describeError(err));
  }
}

function drawJobs() {
  const { state, owner, name } = jobsSearch;
  const what = state === 'active' ? 'active' : state ? statusWords(state).toLowerCase() : 'any state';
  const terms = [owner && `of ${owner}`, name && `with “${name}” in the file name`].filter(Boolean).join(', ');
  const caption = `${jobItems.length}${jobItems.length === 200 ? ' (the most recently changed)' : ''} jobs: ${what}${terms ? `, ${terms}` : ''}`;
  replace(el.jobs, jobsNote ? h('p', {}, jobsNote) : table(caption,
    ['Job', 'File', 'Owner', 'Status', 'Step', 'Attempts', 'In this state', 'Timeline'],
    jobItems.map((j) => h('tr', { 'data-job': j.job_id },
      h('td', { class: 'mono' }, j.job_id.slice(0, 8)), h('td', {}, j.filename), h('td', {}, j.owner || '—'),
      h('td', {}, statusBadge(j.status)), h('td', {}, j.step || '—'), h('td', {}, `${j.series}.${j.attempts}`),
      h('td', {}, `${j.in_state_s} s`),
      h('td', {}, h('button', { type: 'button', 'data-key': `tl-${j.job_id}`, 'aria-label': `Timeline of ${j.filename} (${j.job_id})`, onclick: () => showTimeline(j.job_id) }, 'Timeline')))),
    owner || name ? 'No job matches the search.' : 'No jobs in this state.'));
}

async function showTimeline(id, quiet = false) {
  timelineId = id;
  let d;
  try {
    d = await api(`/admin/jobs/${encodeURIComponent(id)}`);
  } catch (err) {
    replace(el.timeline, h('p', { class: 'message message-error', role: 'alert' }, describeError(err)));
    return;
  }
  const j = d.job;
  const bySeries = new Map();
  for (const a of d.attempts) {
    if (!bySeries.has(a.series)) bySeries.set(a.series, []);
    bySeries.get(a.series).push(a);
  }
  const series = [...bySeries.keys()].sort((a, b) => a - b);
  replace(el.timeline,
    h('h3', {}, `Timeline of ${j.filename}`),
    h('dl', { class: 'facts' },
      h('dt', {}, 'Job'), h('dd', { class: 'mono' }, j.job_id),
      h('dt', {}, 'Status'), h('dd', {}, statusBadge(j.status)),
      h('dt', {}, 'Created'), h('dd', {}, fmtTime(j.created_at)),
      h('dt', {}, 'Updated'), h('dd', {}, fmtTime(j.updated_at)),
      j.error_message ? [h('dt', {}, 'Error'), h('dd', {}, `${j.error_code}: ${j.error_message}`)] : null),
    series.length ? series.map((s) => h('div', { class: 'series', 'data-series': s },
      h('h4', {}, s === 0 ? 'Series 0 (first run)' : `Series ${s} (redrive ${s})`),
      h('ol', { class: 'timeline' }, bySeries.get(s).map((a) => h('li', { class: a.ok ? 'ok' : 'bad' },
        h('strong', {}, `${a.kind} attempt ${a.attempt}: ${a.ok ? 'ok' : `failed (${a.error_code})`}`),
        ` on ${a.worker || '—'}, ${a.leased_at ? `leased ${fmtTime(a.leased_at)}, ` : ''}finished ${fmtTime(a.finished_at)}, took ${fmtMs(a.duration_us / 1000)}`,
        a.error_message ? h('div', { class: 'muted' }, a.error_message) : null))))) : h('p', {}, 'No attempts recorded yet.'));
  if (!quiet) el.timeline.focus();
}

// -- Dead letters --------------------------------------------------------------

function drawDeadLetters(dlq, report) {
  const cats = Object.entries(report.categories || {});
  replace(el.report,
    h('h3', {}, `Incident report: ${report.total} dead letter${report.total === 1 ? '' : 's'}`),
    cats.length ? h('ul', { class: 'report' }, cats.map(([name, c]) => h('li', { class: 'card' },
      h('h4', {}, `${name}: ${c.count}`),
      h('p', {}, `First ${fmtTime(c.first_seen)}, last ${fmtTime(c.last_seen)}.`),
      h('p', {}, h('strong', {}, 'Do: '), c.recommendation),
      h('ul', { class: 'samples', 'aria-label': `Samples of ${name}` }, c.samples.map((x) => h('li', { class: 'mono' }, x))),
      h('button', { type: 'button', 'data-key': `cat-${name}`, onclick: () => act(`Redrive of ${name} asked.`, async () => {
        const r = await api('/dlq/redrive', { method: 'POST', body: { category: name } });
        message(notice, `${r.redriven} job${r.redriven === 1 ? '' : 's'} of ${name} redriven.`, 'info');
      }) }, `Redrive category ${name}`)))) : h('p', {}, 'Nothing failed for good.'));
  replace(el.dlq, table('Dead letters, newest first', ['Job', 'File', 'Step', 'Error', 'Failed', 'Redriven', 'Redrive'],
    dlq.items.map((x) => h('tr', {},
      h('td', { class: 'mono' }, x.job_id.slice(0, 8)), h('td', {}, x.filename), h('td', {}, x.kind),
      h('td', {}, `${x.error_code}: ${x.error_message || ''}`), h('td', {}, fmtTime(x.created_at)),
      h('td', {}, x.redriven_at ? fmtTime(x.redriven_at) : 'no'),
      h('td', {}, x.redriven_at ? '—' : h('button', { type: 'button', 'data-key': `rd-${x.job_id}`, 'aria-label': `Redrive ${x.filename} (${x.job_id})`,
        onclick: () => act(`Job ${x.job_id} redriven: it runs again.`, () => api('/dlq/redrive', { method: 'POST', body: { job_id: x.job_id } })) }, 'Redrive')))),
    'No dead letters.'));
}

// -- Refresh ---------------------------------------------------------------------

let busy = false;

async function refresh() {
  const gen = generation;
  clearTimeout(timer);
  try {
    const [status, nodes, activity, dlq, report] = await Promise.all([
      api('/admin/status'), api('/cluster/nodes'), api('/admin/activity'), api('/dlq', { query: { limit: 50 } }), api('/dlq/report'),
      refreshJobs()]);
    if (gen !== generation || !currentUser()) return;
    busy = status.jobs.SUBMITTED + status.jobs.PROCESSING > 0;
    drawStatus(status, nodes.nodes);
    drawActivity(activity);
    drawDeadLetters(dlq, report);
    if (timelineId) {
      const row = jobItems.find((j) => j.job_id === timelineId);
      if (!row || !terminal.has(row.status)) await showTimeline(timelineId, true);
    }
    document.getElementById('main').dataset.refreshed = String(Date.now());
  } catch (err) {
    if (gen !== generation || !currentUser()) return;
    message(notice, describeError(err));
  }
  if (gen === generation && currentUser()) timer = setTimeout(refresh, busy ? BUSY_REFRESH_MS : REFRESH_MS);
}

async function start(note = '') {
  ++generation;
  clearTimeout(timer);
  nav.replaceChildren();
  timelineId = '';
  showUser(userSlot, () => start());
  await showLogin(main, { title: 'vidflow admin console', note, check: requireAdmin });
  showUser(userSlot, () => start());
  layout();
  refresh();
}

window.addEventListener('vf:expired', () => start('Your session ended. Log in again.'));
window.addEventListener('vf:recovered', () => { if (currentUser()) refresh(); });
start();
