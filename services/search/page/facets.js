import { count, el } from './dom.js';

const TERM_FACETS = [
  ['account', 'Account'],
  ['make', 'Make'],
  ['model', 'Model'],
  ['lens', 'Lens'],
  ['status', 'Status'],
];
const FILTER_LABELS = { q: 'text', account: 'account', make: 'make', model: 'model', lens: 'lens', status: 'status', from: 'from', to: 'to', bbox: 'area' };
// The whole world as a box: "has GPS" narrows to images with a position.
const WORLD = '-180,-90,180,90';
const SVG = 'http://www.w3.org/2000/svg';

/** The sidebar: the filters in force, the capture-time histogram and the term facets with counts. */
export function renderFacets(facets, s, { navigate }) {
  renderActive(s, navigate);
  const list = document.getElementById('facets');
  if (!facets) {
    list.replaceChildren();
    document.getElementById('histogram').replaceChildren();
    return;
  }
  const scope = facets.scope === 'newest'
    ? el('p', { className: 'scope', textContent: `Counts of the newest ${count(facets.images)} matches` })
    : null;
  const groups = TERM_FACETS.filter(([name]) => facets[name] && facets[name].length).map(([name, label]) =>
    el('section', { className: 'facet', dataset: { facet: name } }, [
      el('h3', { textContent: label }),
      el('ul', {}, facets[name].map((bucket) => {
        const active = (s.get(name) || '').toLowerCase() === bucket.value;
        return el('li', {}, [el('button', {
          type: 'button', className: active ? 'active' : '',
          onclick: () => navigate({ [name]: active ? null : bucket.value }),
        }, [el('span', { className: 'value', textContent: bucket.value }), el('span', { className: 'count', textContent: count(bucket.count) })])]);
      })),
    ]));
  if (facets.gps) {
    const active = s.get('bbox') === WORLD;
    groups.push(el('section', { className: 'facet', dataset: { facet: 'gps' } }, [
      el('h3', { textContent: 'Has GPS' }),
      el('ul', {}, [
        el('li', {}, [el('button', { type: 'button', className: active ? 'active' : '', onclick: () => navigate({ bbox: active ? null : WORLD }) },
          [el('span', { className: 'value', textContent: 'with GPS' }), el('span', { className: 'count', textContent: count(facets.gps.with) })])]),
        el('li', {}, [el('span', { className: 'static' }, [el('span', { className: 'value', textContent: 'without' }), el('span', { className: 'count', textContent: count(facets.gps.without) })])]),
      ]),
    ]));
  }
  list.replaceChildren(...[scope, ...groups].filter(Boolean));
  renderHistogram(facets.captured, scope ? `of the newest ${count(facets.images)}` : '', navigate);
}

function renderActive(s, navigate) {
  const chips = Object.entries(FILTER_LABELS).filter(([name]) => s.get(name)).map(([name, label]) =>
    el('button', { type: 'button', className: 'chip', title: 'remove this filter', onclick: () => navigate({ [name]: null }) },
      [`${label}: ${s.get(name)} ×`]));
  document.getElementById('active-filters').replaceChildren(...chips);
}

/** The instant a bucket ends: the next bucket's start, by the histogram's interval. */
function bucketEnd(from, interval) {
  const d = new Date(from);
  if (interval === 'year') d.setUTCFullYear(d.getUTCFullYear() + 1);
  else if (interval === 'month') d.setUTCMonth(d.getUTCMonth() + 1);
  else d.setUTCDate(d.getUTCDate() + 1);
  return d;
}

function isoSeconds(date) {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Bars of the capture-time histogram; dragging across them (mouse, pen or touch) selects a span of
 * buckets and searches from the first one's start to the last one's end.
 */
function renderHistogram(captured, sample, navigate) {
  const box = document.getElementById('histogram');
  if (!captured || captured.buckets.length === 0) {
    box.replaceChildren();
    return;
  }
  const { buckets, interval } = captured;
  const width = 240;
  const height = 80;
  const barWidth = width / buckets.length;
  const max = Math.max(...buckets.map((b) => b.count), 1);
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  svg.setAttribute('class', 'histogram');
  // The bars stretch to the sidebar's width, whatever the screen.
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('aria-label', `images by capture ${interval}; drag to choose a time span`);
  buckets.forEach((bucket, i) => {
    const h = Math.max(bucket.count ? 2 : 0, (bucket.count / max) * (height - 4));
    const bar = document.createElementNS(SVG, 'rect');
    bar.setAttribute('x', String(i * barWidth + 0.5));
    bar.setAttribute('y', String(height - h));
    bar.setAttribute('width', String(Math.max(barWidth - 1, 0.5)));
    bar.setAttribute('height', String(h));
    const title = document.createElementNS(SVG, 'title');
    title.textContent = `${bucket.key}: ${count(bucket.count)}`;
    bar.append(title);
    svg.append(bar);
  });
  const brush = document.createElementNS(SVG, 'rect');
  brush.setAttribute('class', 'brush');
  brush.setAttribute('y', '0');
  brush.setAttribute('height', String(height));
  brush.setAttribute('width', '0');
  svg.append(brush);

  const bucketAt = (event) => {
    const rect = svg.getBoundingClientRect();
    return Math.max(0, Math.min(buckets.length - 1, Math.floor(((event.clientX - rect.left) / rect.width) * buckets.length)));
  };
  let start = null;
  const draw = (a, b) => {
    const [lo, hi] = a <= b ? [a, b] : [b, a];
    brush.setAttribute('x', String(lo * barWidth));
    brush.setAttribute('width', String((hi - lo + 1) * barWidth));
    return [lo, hi];
  };
  svg.addEventListener('pointerdown', (event) => {
    start = bucketAt(event);
    svg.setPointerCapture(event.pointerId);
    draw(start, start);
  });
  svg.addEventListener('pointermove', (event) => {
    if (start !== null) draw(start, bucketAt(event));
  });
  svg.addEventListener('pointerup', (event) => {
    if (start === null) return;
    const [lo, hi] = draw(start, bucketAt(event));
    start = null;
    const to = new Date(bucketEnd(buckets[hi].from, interval).getTime() - 1000);
    navigate({ from: isoSeconds(new Date(buckets[lo].from)), to: isoSeconds(to) });
  });
  const first = buckets[0].key;
  const last = buckets[buckets.length - 1].key;
  box.replaceChildren(...[
    el('h3', { textContent: `Captured (by ${interval})` + (sample ? ` ${sample}` : '') }),
    svg,
    el('div', { className: 'axis' }, [el('span', { textContent: first }), el('span', { textContent: last })]),
    captured.missing ? el('p', { className: 'muted', textContent: `${count(captured.missing)} without a capture time` }) : null,
  ].filter(Boolean));
}
