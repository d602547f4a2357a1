// The browser test of vidflow's web app: drives Chromium through the user
// app (index.html) or the admin console (admin.html) against a running node.
//
//   node tests/web/browser_flow.mjs <config.json>
//
// config.json (written by the integration test e2e_web):
//   {"scenario": "user" | "admin" | "multipart", "base_url", "chromium",
//    "tools_dir" (its node_modules holds playwright-core), "out_dir",
//    "user": {"username", "password"}, "admin": {...},
//    "files": {"small", "large"}, "node", "dead_letter_job"}
//
// The user scenario also plays an API outage (page.route aborts every
// request to the node), drops a file on the drop area (a DataTransfer
// holding a File, as a real drag and drop hands it over), uses the
// keyboard only for the login and the file chooser, and makes a
// composition.
//
// Every step saves out_dir/NN-step-name.png. The run fails (exit 1, naming
// the step and why) on any console error, page error, failed request or
// response >= 400 that is not on the allow-list below (requests this
// script cuts off on purpose), and on any element that does not show up.
// On success it prints one line of JSON.

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const cfg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const require = createRequire(path.join(cfg.tools_dir, 'node_modules', 'noop.js'));
const { chromium } = require('playwright-core');

const BASE = cfg.base_url.replace(/\/$/, '');
const OUT = cfg.out_dir;
fs.mkdirSync(OUT, { recursive: true });
const T = { short: 10_000, job: 120_000 };
const started = Date.now();

// -- What may fail on purpose ---------------------------------------------------

// Each entry: why, and which events it covers. `on` switches an entry on
// only for the steps that provoke it.
const allow = {
  // Part PUTs after the first, held back by page.route and cut off by the
  // reload that simulates a closed tab (multipart interruption).
  interruptedParts: { on: false, why: 'part PUTs held and cut off by the reload', test: (e) => e.method === 'PUT' && /[?&]partNumber=(?!1(&|$))\d+/.test(e.url) },
  // The reload also cuts any open event stream.
  reloadStreams: { on: false, why: 'event streams cut by page.reload()', test: (e) => e.kind === 'requestfailed' && /\/jobs\/[^/]+\/events$/.test(e.path) },
  // Chromium reports every text/event-stream fetch whose body was read to
  // its end as failed with net::ERR_ABORTED (a plain Node SSE server shows
  // the same). Allowed only for event streams that were answered 200.
  endedStreams: { on: true, why: 'event streams answered 200 and read to their end', test: (e) => e.kind === 'requestfailed' && e.answered === 200 && /ERR_ABORTED/.test(e.detail) && /\/jobs\/[^/]+\/events$/.test(e.path) },
  // A <video> cancels its own Range requests when it seeks or is removed.
  mediaCancels: { on: true, why: 'media requests the browser cancels itself', test: (e) => e.kind === 'requestfailed' && e.type === 'media' && /ERR_ABORTED/.test(e.detail) },
  // The requests to the node this script aborts itself while it plays an
  // API outage (page.route): exactly those URLs, only while it lasts.
  apiOutage: { on: false, why: 'requests to the node aborted by the simulated outage', test: (e) => e.kind === 'requestfailed' && outage.urls.has(e.url) && (e.console || /ERR_FAILED/.test(e.detail)) },
};

// The simulated outage: every URL it aborted.
const outage = { urls: new Set(), aborted: 0 };

const problems = [];
const seen = { partPuts: {}, ranges: [] };
let phase = 'start';
// Status of each request that got an answer (headers), by request.
const answered = new WeakMap();

function allowed(e) {
  return Object.values(allow).find((a) => a.on && a.test(e));
}

function note(e) {
  const a = allowed(e);
  if (a) return;
  problems.push(`${e.kind} ${e.method || ''} ${e.url || ''} ${e.detail || ''}`.replace(/\s+/g, ' ').trim());
}

function watch(page) {
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const url = (m.location() && m.location().url) || '';
    // "Failed to load resource" repeats a request's failure: judge it by
    // that request's URL with the same allow-list.
    if (/Failed to load resource/.test(m.text()) && url) {
      const u = new URL(url, BASE);
      if (Object.values(allow).some((a) => a.on && (a.test({ kind: 'requestfailed', console: true, method: 'PUT', url, path: u.pathname, type: 'media', detail: 'ERR_ABORTED' }))))
        return;
    }
    note({ kind: 'console error', url, detail: m.text() });
  });
  page.on('pageerror', (err) => note({ kind: 'pageerror', detail: err.message }));
  page.on('requestfailed', (r) => note({ kind: 'requestfailed', method: r.method(), url: r.url(), path: new URL(r.url()).pathname, type: r.resourceType(), detail: (r.failure() && r.failure().errorText) || '', answered: answered.get(r) }));
  page.on('response', (r) => {
    answered.set(r.request(), r.status());
    if (r.status() >= 400) note({ kind: `HTTP ${r.status()}`, method: r.request().method(), url: r.url(), path: new URL(r.url()).pathname, type: r.request().resourceType() });
    if (r.status() === 206) seen.ranges.push(r.url());
  });
  page.on('request', (r) => {
    const m = /[?&]partNumber=(\d+)/.exec(r.url());
    if (r.method() === 'PUT' && m) {
      seen.partPuts[phase] = seen.partPuts[phase] || {};
      seen.partPuts[phase][m[1]] = (seen.partPuts[phase][m[1]] || 0) + 1;
    }
  });
}

// -- Steps ---------------------------------------------------------------------

let stepNo = 0;
let page;

async function step(name, fn) {
  ++stepNo;
  const file = path.join(OUT, `${String(stepNo).padStart(2, '0')}-${name}.png`);
  try {
    await fn();
  } catch (err) {
    await page.screenshot({ path: file.replace(/\.png$/, '-FAILED.png'), fullPage: true }).catch(() => {});
    fail(name, err.message.split('\n').slice(0, 6).join(' | '));
  }
  if (problems.length) {
    await page.screenshot({ path: file.replace(/\.png$/, '-FAILED.png'), fullPage: true }).catch(() => {});
    fail(name, problems.join('; '));
  }
  await page.screenshot({ path: file, fullPage: true });
}

function fail(name, why) {
  console.error(`FAILED at step ${stepNo} "${name}": ${why}`);
  process.exit(1);
}

function check(ok, why) {
  if (!ok) throw new Error(why);
}

async function login(who, url = '/') {
  await page.goto(BASE + url);
  await page.getByLabel('Username').fill(who.username);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
}

// The upload list item of a file (the newest one).
function uploadOf(name) {
  return page.locator('li.upload').filter({ has: page.getByRole('heading', { name: new RegExp(`^${name.replace(/[.]/g, '\\.')}`) }) }).first();
}

async function waitDone(item) {
  await item.locator('.job-status').filter({ hasText: /^(Done|Failed|Cancelled)/ }).waitFor({ timeout: T.job });
  const text = await item.locator('.job-status').textContent();
  if (text !== 'Done') {
    const why = await item.locator('.message-error').allTextContents();
    throw new Error(`job ended "${text}": ${why.join(' ')}`);
  }
}

async function chooseOutputs({ thumbnails, renditions }) {
  for (const box of await page.locator('input[name="thumbnails"], input[name="renditions"]').all()) {
    const want = [...thumbnails, ...renditions].includes(await box.getAttribute('value'));
    await box.setChecked(want);
  }
}

// Uploads the large file until part 1 is stored, then reloads the page
// with the other parts still held back (a closed tab, a lost network).
async function interruptedLargeUpload(choose = () => page.getByLabel('Choose video files').setInputFiles(cfg.files.large)) {
  const held = [];
  const partPattern = /[?&]partNumber=\d+/;
  allow.interruptedParts.on = true;
  await page.route(partPattern, (route) => {
    if (/[?&]partNumber=1(&|$)/.test(route.request().url())) return route.continue();
    held.push(route); // never answered: cut off by the reload
    return undefined;
  });
  const part1 = page.waitForResponse((r) => r.request().method() === 'PUT' && /[?&]partNumber=1(&|$)/.test(r.url()), { timeout: T.job });
  await choose();
  const r = await part1;
  check(r.status() === 200, `part 1 answered ${r.status()}`);
  check(r.headers().etag, 'part 1 answered without an ETag the page can read (CORS Access-Control-Expose-Headers)');
  await page.waitForFunction(() => Object.keys(localStorage).some((k) => k.startsWith('vidflow.upload:') && Object.keys(JSON.parse(localStorage.getItem(k)).parts).includes('1')), null, { timeout: T.short });
  check(held.length >= 1, 'no later part was sent while part 1 went up');
  return { held: held.length };
}

// Presses Tab until the focus is on `selector` (at most `max` times).
async function tabTo(selector, max = 40) {
  for (let i = 0; i < max; ++i) {
    await page.keyboard.press('Tab');
    if (await page.evaluate((sel) => document.activeElement && document.activeElement.matches(sel), selector)) return i + 1;
  }
  throw new Error(`${max} presses of Tab never reached ${selector}`);
}

async function keyboardLogin(who) {
  await page.goto(BASE + '/');
  await page.getByLabel('Username').waitFor({ timeout: T.short });
  // Start from nothing focused: the field must be reachable by Tab.
  await page.evaluate(() => document.activeElement && document.activeElement.blur());
  const tabs = await tabTo('#login-user');
  await page.keyboard.type(who.username);
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.id) === 'login-password', 'Tab from Username does not lead to Password');
  await page.keyboard.type(who.password);
  await page.keyboard.press('Enter');
  return tabs;
}

// Drops `file` on the drop area as a browser does: one DataTransfer with
// a File of the file's bytes, handed to dragenter, dragover and drop.
// Answers what the page did with each event.
async function dropFile(file, name) {
  const zone = page.locator('.dropzone');
  await zone.waitFor({ timeout: T.short });
  const dt = await page.evaluateHandle(({ b64, name: n }) => {
    const bin = atob(b64);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; ++i) bytes[i] = bin.charCodeAt(i);
    const t = new DataTransfer();
    t.items.add(new File([bytes], n, { type: 'video/mp4', lastModified: Date.now() }));
    return t;
  }, { b64: fs.readFileSync(file).toString('base64'), name });
  const fire = (type) => zone.evaluate((el, [t, d]) => {
    const ev = new DragEvent(t, { bubbles: true, cancelable: true, composed: true, dataTransfer: d });
    const target = el.querySelector('p') || el; // over a child, as a pointer would be
    target.dispatchEvent(ev);
    return { cancelled: ev.defaultPrevented, dragging: el.classList.contains('dragging') };
  }, [type, dt]);
  const enter = await fire('dragenter');
  const over = await fire('dragover');
  const dropped = await fire('drop');
  // A drop beside the area must not let the browser open the file in place
  // of the app.
  const beside = await page.evaluate((d) => {
    const ev = new DragEvent('drop', { bubbles: true, cancelable: true, dataTransfer: d });
    document.querySelector('h1').dispatchEvent(ev);
    return ev.defaultPrevented;
  }, dt);
  await dt.dispose();
  return { enter, over, dropped, beside };
}

async function resumeLargeUpload() {
  await page.getByLabel('Choose video files').setInputFiles(cfg.files.large);
  const item = uploadOf(path.basename(cfg.files.large));
  await item.getByText(/Resuming/).first().waitFor({ timeout: T.short });
  const value = Number(await item.getByRole('progressbar', { name: /^Upload of/ }).getAttribute('value')) || Number(await item.getByRole('progressbar', { name: /^Upload of/ }).evaluate((e) => e.value));
  check(value > 0, `the resumed upload's bar starts at ${value} %, not where it was`);
  return item;
}

// -- Scenarios ----------------------------------------------------------------------

async function userScenario(summary) {
  const small = path.basename(cfg.files.small);
  const large = path.basename(cfg.files.large);
  let smallJob = '';
  await step('login-keyboard', async () => {
    summary.login_tabs = await keyboardLogin(cfg.user);
    await page.getByRole('heading', { name: 'Upload', level: 1 }).waitFor({ timeout: T.short });
    // The keyboard user lands on the new page's heading, not on nothing.
    const at = await page.evaluate(() => `${document.activeElement.tagName} ${document.activeElement.textContent}`);
    check(at === 'H1 Upload', `after logging in the focus is on ${at}, not on the heading`);
  });
  await step('upload-drop', async () => {
    await chooseOutputs({ thumbnails: ['small'], renditions: ['240p'] });
    const d = await dropFile(cfg.files.small, small);
    check(d.enter.cancelled && d.over.cancelled, `the drop area did not accept the drag (dragenter cancelled: ${d.enter.cancelled}, dragover: ${d.over.cancelled}); a browser would refuse the drop`);
    // (A DataTransfer made by a script keeps dropEffect "none", so the
    // page's dropEffect cannot be checked here.)
    check(d.enter.dragging && d.over.dragging, `the drop area does not show that files are over it (on dragenter: ${d.enter.dragging}, on dragover: ${d.over.dragging})`);
    check(d.dropped.cancelled && !d.dropped.dragging, 'the drop was not taken (or the area still shows a drag)');
    check(d.beside, 'a file dropped beside the drop area is left to the browser, which would open it in place of the app');
    const item = uploadOf(small);
    await item.waitFor({ timeout: T.short });
    await waitDone(item);
    smallJob = await item.getAttribute('data-job-id');
    await item.getByText(/Rendition 240p\s*done/).waitFor({ timeout: T.short });
    await item.getByText(/Thumbnail small\s*done/).waitFor({ timeout: T.short });
    await item.getByRole('progressbar', { name: `Processing of ${small}` }).waitFor({ timeout: T.short });
    check(await page.locator('li.upload').count() === 1, `${await page.locator('li.upload').count()} uploads started by one drop`);
    summary.small_job = smallJob;
  });
  await step('keyboard-choose-large', async () => {
    // Keyboard only: Tab to the file input (its label shows the focus
    // ring), Space opens the file chooser. The file goes up in parts,
    // held after the first.
    phase = 'before-reload';
    await page.evaluate(() => document.activeElement && document.activeElement.blur());
    await tabTo('#file-input');
    const ring = await page.locator('label[for="file-input"]').evaluate((l) => getComputedStyle(l).outlineWidth);
    check(ring === '3px', `the focused file input's label has no focus ring (outline ${ring})`);
    Object.assign(summary, await interruptedLargeUpload(async () => {
      // Headless Chromium once dropped the first Space on the focused
      // input (a CI run: focus ring shown, no chooser in 10 s). One more
      // press on the same, still focused input is allowed and counted.
      let chooser = null;
      for (let press = 1; press <= 2 && !chooser; ++press) {
        const waiting = page.waitForEvent('filechooser', { timeout: press === 1 ? 4000 : T.short }).catch(() => null);
        await page.keyboard.press('Space');
        chooser = await waiting;
        summary.chooser_presses = press;
        if (!chooser) check(await page.evaluate(() => document.activeElement && document.activeElement.id) === 'file-input', 'the file input lost focus');
      }
      check(chooser, 'Space on the focused file input opened no file chooser (two presses)');
      await chooser.setFiles(cfg.files.large);
    }));
  });
  await step('reload-mid-upload', async () => {
    allow.reloadStreams.on = true;
    await page.unroute(/[?&]partNumber=\d+/);
    phase = 'after-reload';
    await page.reload();
    await page.getByLabel('Username').waitFor({ timeout: T.short });
  });
  await step('login-again', async () => {
    allow.interruptedParts.on = false;
    allow.reloadStreams.on = false;
    await page.getByLabel('Username').fill(cfg.user.username);
    await page.getByLabel('Password').fill(cfg.user.password);
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('heading', { name: 'Upload', level: 1 }).waitFor({ timeout: T.short });
  });
  await step('multipart-resumed', async () => {
    await chooseOutputs({ thumbnails: ['small'], renditions: ['240p'] });
    const item = await resumeLargeUpload();
    await waitDone(item);
    const after = seen.partPuts['after-reload'] || {};
    check(!after['1'], `part 1 was sent again after the reload (${after['1']} times)`);
    check(Object.keys(after).length >= 1, 'no part was sent after the reload');
    summary.part_puts = seen.partPuts;
    summary.large_job = await item.getAttribute('data-job-id');
  });
  await step('player', async () => {
    await page.getByRole('link', { name: 'Library' }).click();
    await page.getByRole('link', { name: small }).first().click();
    await page.getByRole('heading', { name: small, level: 1 }).waitFor({ timeout: T.short });
    const video = page.locator('video');
    await video.waitFor({ timeout: T.short });
    await page.getByRole('link', { name: 'Download rendition 240p' }).waitFor({ timeout: T.short });
    await page.getByRole('link', { name: 'Download thumbnail small' }).waitFor({ timeout: T.short });
    const src = await video.evaluate((v) => v.currentSrc || v.src);
    check(/240p\.mp4/.test(src), `the player plays ${src}, not the 240p rendition`);
    await video.evaluate((v) => { v.muted = true; return v.play(); });
    await page.locator('.views').filter({ hasText: /^1 view$/ }).waitFor({ timeout: T.short });
  });
  await step('seek', async () => {
    const video = page.locator('video');
    const before = await video.evaluate((v) => v.currentTime);
    const after = await video.evaluate((v) => new Promise((resolve, reject) => {
      v.pause();
      const target = Math.min(v.duration - 0.5, 2.5);
      v.addEventListener('seeked', () => resolve(v.currentTime), { once: true });
      v.addEventListener('error', () => reject(new Error(`video error ${v.error && v.error.code}`)), { once: true });
      v.currentTime = target;
    }));
    check(Math.abs(after - before) > 0.5 && after > 1, `currentTime went from ${before} to ${after}`);
    check(seen.ranges.some((u) => /240p\.mp4/.test(u)), 'no Range request for the rendition was answered 206');
    summary.seeked_to = after;
  });
  await step('like', async () => {
    await page.getByRole('button', { name: /Like/ }).click();
    await page.getByRole('button', { name: /Liked \(1\)/ }).waitFor({ timeout: T.short });
    check(await page.getByRole('button', { name: /Liked/ }).getAttribute('aria-pressed') === 'true', 'like button not pressed');
  });
  await step('library-by-likes', async () => {
    await page.getByRole('link', { name: 'Library' }).click();
    await page.getByLabel('Sort by').selectOption('likes');
    await page.waitForFunction(() => location.hash.includes('sort_by=likes'));
    const first = page.locator('ul.grid > li').first();
    await first.getByRole('link', { name: small }).waitFor({ timeout: T.short });
    await first.getByText(/1 like\b/).waitFor({ timeout: T.short });
  });
  await userOutage(summary, small);
  await userComposition(summary, small, smallJob);
  await step('phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('link', { name: 'Upload' }).click();
    await page.getByRole('button', { name: 'Log out' }).waitFor({ timeout: T.short });
    const wide = await page.evaluate(() => document.documentElement.scrollWidth);
    check(wide <= 390, `the page is ${wide} px wide at a 390 px viewport`);
  });
}

// The API goes away while the user is logged in (every request to the
// node aborted, /healthz included): the banner says so, the page keeps
// what it showed; the API comes back: the banner goes by itself and the
// page that was asked for during the outage loads.
async function userOutage(summary, small) {
  const banner = page.getByRole('alert').filter({ hasText: /Cannot reach vidflow/ });
  const toNode = (url) => url.origin === BASE;
  const abort = (route) => {
    outage.urls.add(route.request().url());
    ++outage.aborted;
    return route.abort('failed');
  };
  let t0 = 0;
  await step('api-down', async () => {
    await page.getByRole('link', { name: 'Jobs' }).click();
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor({ timeout: T.short });
    await page.getByRole('link', { name: `Details of ${small}` }).first().waitFor({ timeout: T.short });
    check(!(await banner.isVisible()), 'the outage banner shows before any outage');
    allow.apiOutage.on = true;
    await page.route(toNode, abort);
    t0 = Date.now();
    await page.getByRole('link', { name: 'Library' }).click();
    await banner.waitFor({ timeout: T.short });
    // Still down 2 s later: the /healthz polls fail too and the banner stays.
    await page.waitForRequest((r) => new URL(r.url()).pathname === '/healthz', { timeout: T.short });
    check(await banner.isVisible(), 'the banner went while the API was still down');
    check(await page.locator('#api-down').getAttribute('role') === 'alert', 'the banner is not role=alert');
    // Not blank: the page shown before the outage stays, with its data.
    await page.getByRole('heading', { name: 'Jobs', level: 1 }).waitFor({ timeout: 100 });
    check(await page.getByRole('link', { name: `Details of ${small}` }).first().isVisible(), 'the jobs table went blank during the outage');
    check(outage.urls.has(`${BASE}/healthz`) && [...outage.urls].some((u) => u.startsWith(`${BASE}/videos`)), `the outage did not catch both /videos and /healthz: ${[...outage.urls].join(' ')}`);
    summary.outage_banner_ms = Date.now() - t0;
  });
  await step('api-back', async () => {
    await page.unroute(toNode, abort);
    const t1 = Date.now();
    await banner.waitFor({ state: 'hidden', timeout: T.short });
    // The library asked for during the outage loads without a click.
    await page.getByRole('heading', { name: 'Library', level: 1 }).waitFor({ timeout: T.short });
    await page.locator('ul.grid > li').getByRole('link', { name: small }).first().waitFor({ timeout: T.short });
    allow.apiOutage.on = false;
    summary.outage = { aborted: outage.aborted, urls: outage.urls.size, recovered_ms: Date.now() - t1, total_ms: Date.now() - t0 };
  });
}

// A composition from the small video (trimmed, with a text) and a picture
// uploaded on the page, at 480p.
async function userComposition(summary, small, smallJob) {
  const title = 'Browser teaser';
  let id = '';
  await step('composition-form', async () => {
    await page.getByRole('link', { name: 'Compositions' }).click();
    await page.getByRole('heading', { name: 'Compositions', level: 1 }).waitFor({ timeout: T.short });
    await page.getByLabel('Title').fill(title);
    await page.getByLabel('Video from your library').selectOption(smallJob);
    await page.getByRole('button', { name: 'Add clip' }).click();
    await page.getByLabel('Start (s) of clip 1').fill('0.5');
    await page.getByLabel('End (s) of clip 1').fill('2.5');
    await page.getByLabel('Add a picture (PNG, JPEG, WebP)').setInputFiles(cfg.files.picture);
    await page.getByText(/picture\.png is a clip now/).waitFor({ timeout: T.job });
    await page.getByLabel('End (s) of clip 2').fill('1');
    await page.getByRole('button', { name: 'Add text' }).click();
    await page.getByLabel('Text 1', { exact: true }).fill('Made in the browser');
    await page.getByLabel('Position of text 1').selectOption('top_center');
    await page.getByLabel('To (s), text 1').fill('2');
    await page.getByLabel('Resolution').selectOption('480p');
    await page.getByLabel('Format').selectOption('mp4');
  });
  await step('composition-submitted', async () => {
    const posted = page.waitForResponse((r) => r.request().method() === 'POST' && new URL(r.url()).pathname === '/compositions', { timeout: T.short });
    await page.getByRole('button', { name: 'Make the composition' }).click();
    const r = await posted;
    check(r.status() === 202, `POST /compositions answered ${r.status()}: ${await r.text()}`);
    const sent = r.request().postDataJSON();
    const [clip, picture] = sent.clips || [];
    check(sent.clips.length === 2 && clip.job_id === smallJob && clip.start === 0.5 && clip.end === 2.5, `clips sent: ${JSON.stringify(sent.clips)}`);
    check(/^[0-9a-f-]{36}$/.test(picture.asset_id) && !picture.job_id && picture.start === 0 && picture.end === 1, `picture clip sent: ${JSON.stringify(picture)}`);
    check(sent.overlays.length === 1 && sent.overlays[0].text === 'Made in the browser' && sent.overlays[0].position === 'top_center' && sent.overlays[0].end === 2, `overlays sent: ${JSON.stringify(sent.overlays)}`);
    check(sent.output.resolution === '480p' && sent.output.format === 'mp4', `output sent: ${JSON.stringify(sent.output)}`);
    id = (await r.json()).composition_id;
    check(/^[0-9a-f-]{36}$/.test(id), `no composition id in ${await r.text()}`);
    await page.getByRole('progressbar', { name: `Progress of ${title}` }).waitFor({ timeout: T.short });
    summary.composition = id;
  });
  await step('composition-done', async () => {
    const box = page.locator(`[data-composition="${id}"]`);
    await box.getByText(/^Done — 100 %$/).waitFor({ timeout: T.job });
    const link = box.getByRole('link', { name: 'Download the composition' });
    await link.waitFor({ timeout: T.short });
    await box.getByText(/854×480, 0:03/).waitFor({ timeout: T.short });
    const url = await link.getAttribute('href');
    const got = await page.request.get(url);
    check(got.status() === 200, `the download link answered ${got.status()}`);
    const body = await got.body();
    check(body.length > 1000 && body.subarray(4, 8).toString('latin1') === 'ftyp', `the download is not an MP4 (${body.length} bytes)`);
    summary.composition_bytes = body.length;
    // In the list, finished, with its download button.
    const row = page.getByRole('row').filter({ hasText: title });
    await row.getByText('Done', { exact: true }).waitFor({ timeout: T.short });
    await row.getByRole('button', { name: `Download ${title}` }).waitFor({ timeout: T.short });
  });
}

async function multipartScenario(summary) {
  await step('login', async () => {
    await login(cfg.user);
    await page.getByRole('heading', { name: 'Upload', level: 1 }).waitFor({ timeout: T.short });
  });
  await step('multipart-upload', async () => {
    phase = 'upload';
    await chooseOutputs({ thumbnails: ['small'], renditions: ['240p'] });
    await page.getByLabel('Choose video files').setInputFiles(cfg.files.large);
    const item = uploadOf(path.basename(cfg.files.large));
    await item.getByText(/in \d+ parts/).first().waitFor({ timeout: T.short });
    await waitDone(item);
    const parts = seen.partPuts.upload || {};
    check(Object.keys(parts).length >= 2, `the file went up in ${Object.keys(parts).length} part(s)`);
    summary.part_puts = parts;
    summary.job = await item.getAttribute('data-job-id');
  });
}

async function adminScenario(summary) {
  const job = cfg.dead_letter_job;
  const node = cfg.node;
  await step('login', async () => {
    await login(cfg.admin, '/admin');
    await page.getByRole('heading', { name: 'Overview' }).waitFor({ timeout: T.short });
    await page.getByText('Version').waitFor({ timeout: T.short });
  });
  if (node) {
    const row = page.getByRole('row').filter({ has: page.getByRole('rowheader', { name: node, exact: true }) });
    await step('node', async () => {
      await row.waitFor({ timeout: T.short });
      await row.getByText('active', { exact: true }).waitFor({ timeout: T.short });
    });
    await step('drain', async () => {
      await row.getByRole('switch', { name: `Drain ${node}` }).click();
      await row.getByText('draining', { exact: true }).waitFor({ timeout: T.short });
      check(await row.getByRole('switch').getAttribute('aria-checked') === 'true', 'drain switch not on');
    });
    await step('undrain', async () => {
      await row.getByRole('switch', { name: `Drain ${node}` }).click();
      await row.getByText('active', { exact: true }).waitFor({ timeout: T.short });
    });
  }
  await step('dead-letter', async () => {
    await page.getByRole('heading', { name: /Incident report: [1-9]\d* dead letter/ }).waitFor({ timeout: T.short });
    await page.getByRole('button', { name: new RegExp(`^Redrive .*\\(${job}\\)$`) }).waitFor({ timeout: T.short });
  });
  await step('redrive', async () => {
    await page.getByRole('button', { name: new RegExp(`^Redrive .*\\(${job}\\)$`) }).click();
    const row = page.locator(`tr[data-job="${job}"]`);
    await row.filter({ hasText: 'Processing' }).waitFor({ timeout: T.short * 2 });
  });
  await step('succeeded', async () => {
    // It leaves the active list once done; then it is among the succeeded.
    await page.locator(`tr[data-job="${job}"]`).waitFor({ state: 'detached', timeout: T.job });
    await page.getByLabel('State').selectOption('SUCCEEDED');
    const row = page.locator(`tr[data-job="${job}"]`);
    await row.filter({ hasText: 'Done' }).waitFor({ timeout: T.short });
  });
  await step('search', async () => {
    const row = page.locator(`tr[data-job="${job}"]`);
    const file = (await row.locator('td').nth(1).textContent()).trim();
    const owner = (await row.locator('td').nth(2).textContent()).trim();
    // Any state, by owner and part of the file name: the server searches.
    await page.getByLabel('State', { exact: true }).selectOption('');
    await page.getByLabel('Owner', { exact: true }).fill(owner);
    await page.getByLabel('File name contains', { exact: true }).fill(file.slice(1, -1));
    const asked = page.waitForRequest((r) => r.url().includes('/admin/jobs?')
      && new URL(r.url()).searchParams.get('owner') === owner
      && new URL(r.url()).searchParams.get('name') === file.slice(1, -1), { timeout: T.short });
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await asked;
    await row.filter({ hasText: 'Done' }).waitFor({ timeout: T.short });
    // A name nobody has: nothing, said in words.
    await page.getByLabel('File name contains', { exact: true }).fill('no-such-file-anywhere');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByText('No job matches the search.').waitFor({ timeout: T.short });
    await page.getByLabel('File name contains', { exact: true }).fill('');
    await page.getByLabel('Owner', { exact: true }).fill('');
    await page.getByRole('button', { name: 'Search', exact: true }).click();
    await page.getByLabel('State', { exact: true }).selectOption('SUCCEEDED');
    await row.waitFor({ timeout: T.short });
  });
  await step('timeline', async () => {
    await page.locator(`tr[data-job="${job}"]`).getByRole('button', { name: /^Timeline of/ }).click();
    await page.getByRole('heading', { name: /^Timeline of/ }).waitFor({ timeout: T.short });
    const series = await page.locator('#timeline .series').count();
    check(series >= 2, `the timeline shows ${series} attempt series, not 2 or more`);
    summary.series = series;
  });
  await step('lookup', async () => {
    await page.getByLabel('Job id').fill(job);
    await page.getByRole('button', { name: 'Look up' }).click();
    await page.locator('#timeline').getByText(job).waitFor({ timeout: T.short });
  });
  await step('pause', async () => {
    await page.getByRole('button', { name: 'Pause intake' }).click();
    await page.getByText('Paused: new uploads wait').waitFor({ timeout: T.short });
  });
  await step('resume', async () => {
    await page.getByRole('button', { name: 'Resume intake' }).click();
    await page.getByText('Accepting work').waitFor({ timeout: T.short });
  });
  await step('charts', async () => {
    const charts = page.locator('svg.chart');
    check(await charts.count() === 3, `${await charts.count()} charts, not 3`);
    await page.locator('svg.chart rect.bar').first().waitFor({ timeout: T.short });
    summary.chart_points = await charts.evaluateAll((xs) => xs.map((x) => Number(x.getAttribute('data-points'))));
    await page.getByRole('heading', { name: 'Activity in the last hour' }).scrollIntoViewIfNeeded();
  });
  await step('phone', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    await page.getByRole('heading', { name: 'Overview' }).scrollIntoViewIfNeeded();
  });
}

// -- Run ------------------------------------------------------------------------------

const browser = await chromium.launch({
  executablePath: cfg.chromium || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
page = await context.newPage();
watch(page);
const summary = { scenario: cfg.scenario };
try {
  if (cfg.scenario === 'user') await userScenario(summary);
  else if (cfg.scenario === 'admin') await adminScenario(summary);
  else if (cfg.scenario === 'multipart') await multipartScenario(summary);
  else fail('config', `unknown scenario ${cfg.scenario}`);
} finally {
  await browser.close();
}
summary.steps = stepNo;
summary.seconds = Math.round((Date.now() - started) / 100) / 10;
console.log(JSON.stringify({ ok: true, ...summary }));
