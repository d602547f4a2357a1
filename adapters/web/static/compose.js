// The compositions page: build one from library clips and uploaded
// pictures (trim, order), add music from an uploaded audio asset and text
// overlays, choose the output, submit, follow it, download it; the list of
// the user's compositions.

import { api, describeError, sleep } from './api.js';
import { fmtDuration, fmtTime, h, message, progressBar, replace, statusBadge, statusWords } from './dom.js';
import { putBlob } from './upload.js';

const POSITIONS = ['top_left', 'top_center', 'top_right', 'center_left', 'center', 'center_right', 'bottom_left', 'bottom_center', 'bottom_right'];
const ENDED = new Set(['completed', 'failed', 'cancelled']);

// Music: audio assets uploaded during this visit, and the ready ones of
// earlier visits (GET /assets?kind=audio).
const musicAssets = [];
let seq = 0;

// Uploads `file` as an asset of `kind` and waits until it is probed;
// `say` reports each stage. Returns the asset; throws with the server's
// reason when the file cannot be used, and stops (upload and polling)
// when `signal` aborts: the user left the page.
async function uploadAsset(file, kind, fallbackType, say, signal) {
  const type = file.type || fallbackType;
  if (!file.size) throw new Error(`${file.name} is empty: choose a picture or a sound file with something in it.`);
  say(`Uploading ${file.name}…`);
  const asset = await api('/assets', { method: 'POST', body: { filename: file.name, content_type: type, kind }, signal });
  await putBlob(asset.upload_url, file, { contentType: type, signal, onProgress: (n) => { say(`Uploading ${file.name}: ${Math.min(100, Math.floor((n / file.size) * 100))} %`); } });
  say(`Checking ${file.name}…`);
  for (;;) {
    const a = await api(`/assets/${encodeURIComponent(asset.asset_id)}`, { signal });
    if (a.status === 'ready') return a;
    if (a.status !== 'processing' && a.status !== 'awaiting_upload') {
      throw new Error(`${file.name} cannot be used: ${a.error ? a.error.message : a.status}`);
    }
    await sleep(700, signal);
    if (signal && signal.aborted) throw new Error(`stopped checking ${file.name}: the page was left`);
  }
}

export async function compositionsPage(signal) {
  const library = await api('/videos', { query: { limit: 100 }, signal });
  const videos = library.items.filter((v) => v.width);
  const error = h('div', { hidden: true });
  const clips = [];
  const overlays = [];

  // Clips: picked from the library, trimmed, ordered.
  const clipList = h('ol', { class: 'clips', 'aria-label': 'Clips in order' });
  const pick = h('select', { id: 'clip-pick' }, videos.map((v) => h('option', { value: v.video_id }, `${v.filename} (${fmtDuration(v.duration)})`)));
  const drawClips = () => {
    replace(clipList, clips.map((c, i) => {
      const n = i + 1;
      const num = (field, label, value) => {
        const id = `clip-${c.key}-${field}`;
        return h('span', { class: 'field' }, h('label', { for: id }, label),
          h('input', { id, type: 'number', min: 0, max: c.duration || 600, step: 0.1, value, class: 'short', oninput: (e) => { c[field] = Number(e.target.value); } }));
      };
      const move = (d) => () => {
        clips.splice(i, 1);
        clips.splice(i + d, 0, c);
        drawClips();
      };
      return h('li', { class: 'clip' },
        h('span', { class: 'clip-name' }, `${n}. ${c.filename}`),
        num('start', `Start (s) of clip ${n}`, c.start),
        num('end', `End (s) of clip ${n}`, c.end),
        h('button', { type: 'button', 'data-key': `up-${c.key}`, disabled: i === 0, onclick: move(-1), 'aria-label': `Move clip ${n} up` }, '↑ Up'),
        h('button', { type: 'button', 'data-key': `down-${c.key}`, disabled: i === clips.length - 1, onclick: move(1), 'aria-label': `Move clip ${n} down` }, '↓ Down'),
        h('button', { type: 'button', onclick: () => { clips.splice(i, 1); drawClips(); }, 'aria-label': `Remove clip ${n}` }, 'Remove'));
    }));
    if (!clips.length) clipList.append(h('li', { class: 'muted' }, 'No clips yet.'));
  };
  const addClip = h('button', { type: 'button', disabled: !videos.length, onclick: () => {
    const v = videos.find((x) => x.video_id === pick.value);
    if (!v) return;
    clips.push({ key: ++seq, job_id: v.video_id, filename: v.filename, duration: v.duration, start: 0, end: Math.min(v.duration || 5, 5) });
    drawClips();
  } }, 'Add clip');
  drawClips();
  // A still picture as a clip: shown from start to end (no length of its own).
  const pictureStatus = h('p', { 'aria-live': 'polite', class: 'muted' });
  const pictureFile = h('input', { type: 'file', id: 'picture-file', accept: 'image/png,image/jpeg,image/webp,.png,.jpg,.jpeg,.webp', onchange: async (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    try {
      const a = await uploadAsset(file, 'image', 'image/png', (text) => { pictureStatus.textContent = text; }, signal);
      clips.push({ key: ++seq, asset_id: a.asset_id, filename: file.name, duration: 0, start: 0, end: 3 });
      drawClips();
      pictureStatus.textContent = `${file.name} is a clip now (3 s; change its end to show it longer).`;
    } catch (err) {
      pictureStatus.textContent = '';
      message(error, describeError(err));
    }
  } });

  // Music: an audio asset uploaded here.
  const musicStatus = h('p', { 'aria-live': 'polite', class: 'muted' });
  const musicPick = h('select', { id: 'music-pick' });
  const drawMusic = () => replace(musicPick, h('option', { value: '' }, 'No music'),
    musicAssets.map((a) => h('option', { value: a.asset_id, selected: !a.earlier && a === musicAssets[musicAssets.length - 1] }, a.filename)));
  drawMusic();
  // Offered, never chosen for the user: an earlier upload starts unselected.
  api('/assets', { query: { kind: 'audio', limit: 100 } }).then((answer) => {
    const known = new Set(musicAssets.map((a) => a.asset_id));
    for (const a of answer.items || []) {
      if (a.status === 'ready' && !known.has(a.asset_id)) musicAssets.unshift({ asset_id: a.asset_id, filename: a.filename, earlier: true });
    }
    drawMusic();
  }).catch(() => { /* the banner tells when the API is away; the menu keeps what it has */ });
  const musicFile = h('input', { type: 'file', id: 'music-file', accept: 'audio/*,.m4a,.mp3,.wav,.aac,.ogg', onchange: async (e) => {
    const file = e.target.files[0];
    e.target.value = '';
    if (!file) return;
    try {
      const asset = await uploadAsset(file, 'audio', 'audio/mpeg', (text) => { musicStatus.textContent = text; }, signal);
      musicAssets.push({ asset_id: asset.asset_id, filename: file.name });
      drawMusic();
      musicStatus.textContent = `${file.name} is ready.`;
    } catch (err) {
      musicStatus.textContent = '';
      message(error, describeError(err));
    }
  } });
  const volume = h('input', { id: 'music-volume', type: 'number', min: 0, max: 1, step: 0.1, value: 0.5, class: 'short' });

  // Text overlays.
  const overlayList = h('ol', { class: 'overlays', 'aria-label': 'Text overlays' });
  const drawOverlays = () => {
    replace(overlayList, overlays.map((o, i) => {
      const n = i + 1;
      const id = (f) => `ov-${o.key}-${f}`;
      const field = (f, label, input) => h('span', { class: 'field' }, h('label', { for: id(f) }, label), input);
      const set = (f, conv = (x) => x) => (e) => { o[f] = conv(e.target.value); };
      return h('li', { class: 'overlay' },
        field('text', `Text ${n}`, h('input', { id: id('text'), value: o.text, oninput: set('text') })),
        field('position', `Position of text ${n}`, h('select', { id: id('position'), onchange: set('position') },
          POSITIONS.map((p) => h('option', { value: p, selected: p === o.position }, p.replace('_', ' '))))),
        field('start', `From (s), text ${n}`, h('input', { id: id('start'), type: 'number', min: 0, step: 0.1, value: o.start, class: 'short', oninput: set('start', Number) })),
        field('end', `To (s), text ${n}`, h('input', { id: id('end'), type: 'number', min: 0, step: 0.1, value: o.end, class: 'short', oninput: set('end', Number) })),
        field('size', `Size of text ${n}`, h('input', { id: id('size'), type: 'number', min: 8, max: 144, value: o.font_size, class: 'short', oninput: set('font_size', Number) })),
        field('color', `Colour of text ${n}`, h('input', { id: id('color'), type: 'color', value: o.font_color, oninput: set('font_color') })),
        h('button', { type: 'button', onclick: () => { overlays.splice(i, 1); drawOverlays(); }, 'aria-label': `Remove text ${n}` }, 'Remove'));
    }));
  };
  const addOverlay = h('button', { type: 'button', onclick: () => {
    overlays.push({ key: ++seq, text: 'Hello', position: 'bottom_center', start: 0, end: 3, font_size: 32, font_color: '#ffffff' });
    drawOverlays();
  } }, 'Add text');

  const title = h('input', { id: 'comp-title', required: true, maxlength: 200 });
  const resolution = h('select', { id: 'comp-res' }, ['480p', '720p', '1080p', '4k'].map((r) => h('option', { value: r, selected: r === '720p' }, r)));
  const format = h('select', { id: 'comp-format' }, ['mp4', 'mov'].map((f) => h('option', { value: f }, f.toUpperCase())));
  const fps = h('input', { id: 'comp-fps', type: 'number', min: 24, max: 60, value: 30, class: 'short' });
  const follow = h('div', { class: 'follow' });
  const list = h('tbody');

  const form = h('form', { class: 'card', 'aria-labelledby': 'new-comp', novalidate: true },
    h('h2', { id: 'new-comp' }, 'New composition'),
    h('label', { for: 'comp-title' }, 'Title'), title,
    h('fieldset', {}, h('legend', {}, 'Clips'),
      videos.length ? h('div', { class: 'row' }, h('label', { for: 'clip-pick' }, 'Video from your library'), pick, addClip)
        : h('p', {}, 'Your library is empty: upload a video, or add a picture.'),
      h('div', { class: 'row' }, h('label', { for: 'picture-file' }, 'Add a picture (PNG, JPEG, WebP)'), pictureFile),
      pictureStatus,
      clipList),
    h('fieldset', {}, h('legend', {}, 'Music (optional)'),
      h('div', { class: 'row' }, h('label', { for: 'music-file' }, 'Upload an audio file'), musicFile),
      musicStatus,
      h('div', { class: 'row' }, h('label', { for: 'music-pick' }, 'Music'), musicPick,
        h('label', { for: 'music-volume' }, 'Music volume (0–1)'), volume)),
    h('fieldset', {}, h('legend', {}, 'Text overlays'), overlayList, addOverlay),
    h('fieldset', {}, h('legend', {}, 'Output'),
      h('div', { class: 'row' },
        h('label', { for: 'comp-res' }, 'Resolution'), resolution,
        h('label', { for: 'comp-format' }, 'Format'), format,
        h('label', { for: 'comp-fps' }, 'Frames per second'), fps)),
    error,
    h('button', { type: 'submit', class: 'primary' }, 'Make the composition'));

  const refresh = async () => {
    const answer = await api('/compositions', { query: { limit: 50 }, signal });
    replace(list, answer.items.map((c) => h('tr', {},
      h('td', {}, c.title), h('td', {}, statusBadge(c.status), c.error ? h('div', { class: 'muted' }, c.error.message) : null),
      h('td', {}, fmtDuration(c.length)), h('td', {}, fmtTime(c.created_at)),
      h('td', {}, ENDED.has(c.status)
        ? (c.status === 'completed' ? h('button', { type: 'button', 'data-key': `dl-${c.composition_id}`, onclick: () => download(c.composition_id, follow) }, `Download ${c.title}`) : '')
        : h('button', { type: 'button', 'data-key': `cancel-${c.composition_id}`, onclick: async () => {
          try {
            await api(`/compositions/${encodeURIComponent(c.composition_id)}/cancel`, { method: 'POST' });
          } catch (err) {
            message(error, describeError(err));
          }
          refresh();
        } }, `Cancel ${c.title}`)))));
    if (!answer.items.length) list.append(h('tr', {}, h('td', { colspan: 5 }, 'No compositions yet.')));
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    message(error, '');
    if (!title.value.trim()) {
      message(error, 'Give the composition a title.');
      title.focus();
      return;
    }
    if (!clips.length) {
      message(error, 'Add at least one clip.');
      return;
    }
    const body = {
      title: title.value.trim(),
      clips: clips.map((c) => (c.asset_id ? { asset_id: c.asset_id, start: c.start, end: c.end } : { job_id: c.job_id, start: c.start, end: c.end })),
      overlays: overlays.map((o) => ({ text: o.text, position: o.position, start: o.start, end: o.end, font_size: o.font_size, font_color: o.font_color.toUpperCase() })),
      output: { resolution: resolution.value, format: format.value, fps: Number(fps.value) },
    };
    if (musicPick.value) body.audio = { music_asset: musicPick.value, music_volume: Number(volume.value) };
    try {
      const c = await api('/compositions', { method: 'POST', body });
      followComposition(c.composition_id, c.title, follow, signal, refresh);
      refresh();
    } catch (err) {
      message(error, describeError(err));
    }
  });

  await refresh();
  return h('section', {},
    h('h1', { id: 'page-title', tabindex: -1 }, 'Compositions'),
    form,
    follow,
    h('h2', {}, 'Your compositions'),
    h('div', { class: 'actions' }, h('button', { type: 'button', onclick: async () => {
      try {
        const r = await api('/compositions/cancel-all', { method: 'POST' });
        message(error, `Cancelled ${r.cancelled} composition${r.cancelled === 1 ? '' : 's'}.`, 'info');
      } catch (err) {
        message(error, describeError(err));
      }
      refresh();
    } }, 'Cancel all running compositions')),
    h('div', { class: 'table-wrap' }, h('table', {},
      h('thead', {}, h('tr', {}, ['Title', 'Status', 'Length', 'Created', 'Action'].map((x) => h('th', { scope: 'col' }, x)))),
      list)));
}

// Polls GET /compositions/{id}/status until it ends; then a download link.
async function followComposition(id, title, where, signal, onEnd) {
  const bar = progressBar(`Progress of ${title}`);
  const box = h('div', { class: 'card', 'data-composition': id }, h('h3', {}, title), bar.el);
  where.replaceChildren(box);
  for (;;) {
    let s;
    try {
      s = await api(`/compositions/${encodeURIComponent(id)}/status`, { signal });
    } catch (err) {
      if (signal.aborted) return;
      bar.set(bar.bar.value, describeError(err));
      return;
    }
    bar.set(s.percent, `${statusWords(s.status)}${s.stage ? `: ${s.stage}` : ''} — ${s.percent} %`);
    if (ENDED.has(s.status)) break;
    await sleep(1000, signal);
    if (signal.aborted) return;
  }
  onEnd();
  const c = await api(`/compositions/${encodeURIComponent(id)}`, { signal });
  if (c.status === 'completed') await download(id, box);
  else if (c.error) box.append(h('p', { class: 'message message-error', role: 'alert' }, `${c.status}: ${c.error.message}`));
}

async function download(id, where) {
  try {
    const d = await api(`/compositions/${encodeURIComponent(id)}/download`);
    where.append(h('p', {}, h('a', { href: d.download_url, rel: 'noopener', target: '_blank', class: 'button primary' }, 'Download the composition'),
      ` ${d.width}×${d.height}, ${fmtDuration(d.duration)}`));
  } catch (err) {
    where.append(h('p', { role: 'alert', class: 'message message-error' }, describeError(err)));
  }
}
