// Hand-written SVG charts of a series (60 points a minute apart): bars or a
// line with gaps where there is no value. No dependency, nothing to fetch,
// nothing the CSP has to allow. Colours come from app.css classes.

const NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 180;
const PAD = { left: 84, right: 12, top: 14, bottom: 32 };

function el(tag, attrs = {}, text) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  if (text !== undefined) e.textContent = text;
  return e;
}

// A "nice" top of the axis: 1, 2 or 5 times a power of ten.
function niceMax(x) {
  if (!(x > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * p >= x) return m * p;
  return 10 * p;
}

/**
 * chart({kind: 'bar'|'line', title, values: [number|null], format, labels:
 * [first, last]}) → an <svg role="img"> whose label says what it shows
 * (the latest value and the peak), for screen readers.
 */
export function chart({ kind, title, values, format = String, labels = ['60 min ago', 'now'], summary }) {
  const known = values.filter((v) => v !== null && v !== undefined);
  const top = niceMax(Math.max(0, ...known));
  const iw = W - PAD.left - PAD.right;
  const ih = H - PAD.top - PAD.bottom;
  const n = values.length;
  const x = (i) => PAD.left + (n <= 1 ? 0 : (i * iw) / (n - 1));
  const y = (v) => PAD.top + ih - (v / top) * ih;
  const svg = el('svg', { viewBox: `0 0 ${W} ${H}`, class: `chart chart-${kind}`, role: 'img', 'data-points': known.length });
  const label = summary || (known.length
    ? `${title}: latest ${format(known[known.length - 1])}, peak ${format(Math.max(...known))} over the last hour`
    : `${title}: no data in the last hour`);
  svg.setAttribute('aria-label', label);
  svg.append(el('title', {}, label));
  // Grid and axis labels.
  for (const f of [0, 0.5, 1]) {
    const gy = y(top * f);
    svg.append(el('line', { x1: PAD.left, x2: W - PAD.right, y1: gy, y2: gy, class: 'grid' }));
    svg.append(el('text', { x: PAD.left - 6, y: gy + 6, 'text-anchor': 'end', class: 'axis' }, format(top * f)));
  }
  svg.append(el('text', { x: PAD.left, y: H - 8, class: 'axis' }, labels[0]));
  svg.append(el('text', { x: W - PAD.right, y: H - 8, 'text-anchor': 'end', class: 'axis' }, labels[1]));
  if (kind === 'bar') {
    const bw = Math.max(1, iw / n - 2);
    values.forEach((v, i) => {
      if (!v) return;
      const bx = PAD.left + (i * iw) / n + 1;
      svg.append(el('rect', { x: bx.toFixed(1), y: y(v).toFixed(1), width: bw.toFixed(1), height: (PAD.top + ih - y(v)).toFixed(1), class: 'bar' }));
    });
  } else {
    // One path; a null breaks the line (M starts a new piece).
    let d = '';
    let pen = false;
    values.forEach((v, i) => {
      if (v === null || v === undefined) {
        pen = false;
        return;
      }
      d += `${pen ? 'L' : 'M'}${x(i).toFixed(1)},${y(v).toFixed(1)}`;
      pen = true;
    });
    if (d) svg.append(el('path', { d, class: 'line' }));
    values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      svg.append(el('circle', { cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: 2.5, class: 'dot' }));
    });
  }
  return svg;
}
