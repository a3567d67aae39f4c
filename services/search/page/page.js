import { api } from './api.js';
import { count, el, text } from './dom.js';
import { renderFacets } from './facets.js';
import { ResultMap } from './map.js';
import { openDetail, closeDetail } from './detail.js';
import { renderSources } from './sources.js';

/**
 * The whole state lives in the query string, so a search can be shared and the back button works:
 * the filters, the page size, the cursor of this page and the cursors of the pages before it (for
 * "previous"), the open image and the view.
 */
const FILTERS = ['q', 'account', 'make', 'model', 'lens', 'status', 'from', 'to', 'bbox', 'sort'];
const FACETS = 'account,make,model,lens,status,gps,captured';
const DEFAULT_SIZE = 24;

const form = document.getElementById('search');
const grid = document.getElementById('grid');
const status = document.getElementById('status');
const map = new ResultMap(document.getElementById('map'), {
  open: (id) => navigate({ image: id }, { keepPage: true }),
  searchArea: (bbox) => navigate({ bbox }),
});

let items = [];
let selected = -1;
let shownSearch = null;
let lastAnswer = null;

function state() {
  return new URLSearchParams(location.search);
}

/** Pushes a new state: a change of filters starts again at the first page. */
function navigate(patch, { keepPage = false } = {}) {
  const next = state();
  if (!keepPage) {
    next.delete('cursor');
    next.delete('prev');
  }
  if (!('image' in patch)) next.delete('image');
  for (const [name, value] of Object.entries(patch)) {
    if (value == null || value === '') next.delete(name);
    else next.set(name, value);
  }
  const url = '?' + next.toString();
  if (url === location.search || (url === '?' && location.search === '')) return render();
  history.pushState(null, '', url);
  return render();
}

/** The API query of a state: its filters, size and cursor. */
function searchQuery(s) {
  const params = new URLSearchParams();
  for (const name of FILTERS) if (s.get(name)) params.set(name, s.get(name));
  params.set('size', s.get('size') || String(DEFAULT_SIZE));
  if (s.get('cursor')) params.set('cursor', s.get('cursor'));
  params.set('facets', FACETS);
  return params.toString();
}

async function render() {
  const s = state();
  const sourcesView = s.get('view') === 'sources';
  document.getElementById('search-view').hidden = sourcesView;
  document.getElementById('sources-view').hidden = !sourcesView;
  if (sourcesView) {
    closeDetail();
    return renderSources();
  }
  form.q.value = s.get('q') || '';
  form.sort.value = s.get('sort') || '-receivedAt';
  const query = searchQuery(s);
  if (query !== shownSearch) await search(query, s);
  // Back from the Sources view the map was hidden: Leaflet measures its box again.
  else map.resize();
  if (s.get('image')) await openDetail(s.get('image'), { onClose: () => navigate({ image: null }, { keepPage: true }) });
  else closeDetail();
}

async function search(query, s) {
  status.className = '';
  status.textContent = 'Searching…';
  const { ok, body } = await api('/api/images?' + query);
  if (!ok) {
    status.className = 'error';
    status.textContent = body.error;
    shownSearch = null;
    return;
  }
  shownSearch = query;
  lastAnswer = body;
  items = body.items;
  const prev = (s.get('prev') || '').split('.').filter(Boolean);
  const first = prev.length * Number(s.get('size') || DEFAULT_SIZE);
  const total = (body.totalRelation === 'gte' ? 'more than ' : '') + count(body.total);
  status.textContent = body.items.length === 0
    ? 'No images match'
    : `${count(first + 1)}–${count(first + body.items.length)} of ${total} images`;
  grid.replaceChildren(...body.items.map(card));
  selected = -1;
  document.getElementById('prev').disabled = !s.has('cursor');
  document.getElementById('next').disabled = !body.nextCursor;
  document.getElementById('page-no').textContent = 'page ' + (prev.length + (s.has('cursor') ? 2 : 1));
  renderFacets(body.facets, s, { navigate });
  map.show(body.items, s.get('bbox'));
}

function card(item, index) {
  const source = item.sources[0];
  const camera = [item.camera.make, item.camera.model].filter(Boolean).join(' ');
  const thumb = item.renditions.find((r) => r.name === 'thumb') || item.renditions[0];
  const picture = item.status === 'failed' || !thumb
    ? el('div', { className: 'failed' }, [el('span', { textContent: 'not processed: ' + text(item.error && item.error.code) })])
    : el('img', { src: thumb.url, alt: text(source && source.path), loading: 'lazy' });
  const node = el('button', { type: 'button', className: 'card', role: 'option', tabIndex: -1 }, [picture, el('span', { className: 'caption' }, [
    el('strong', { textContent: text(source && source.path) }),
    el('span', { className: 'muted', textContent: [text(item.capturedAt), camera, item.gps ? 'GPS' : ''].filter(Boolean).join(' · ') }),
  ])]);
  node.dataset.id = item.id;
  node.onclick = () => {
    select(index);
    navigate({ image: item.id }, { keepPage: true });
  };
  return node;
}

function select(index) {
  const cards = grid.children;
  if (cards.length === 0) return;
  selected = Math.max(0, Math.min(cards.length - 1, index));
  for (const c of cards) c.setAttribute('aria-selected', 'false');
  cards[selected].setAttribute('aria-selected', 'true');
  cards[selected].focus();
  map.highlight(items[selected]);
}

/** Cards in a row, read from the layout: what ArrowUp/ArrowDown skip. */
function columns() {
  const cards = [...grid.children];
  if (cards.length === 0) return 1;
  const top = cards[0].offsetTop;
  const n = cards.findIndex((c) => c.offsetTop !== top);
  return n === -1 ? cards.length : n;
}

document.addEventListener('keydown', (event) => {
  if (state().get('view') === 'sources' || document.getElementById('detail').open) return;
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[event.key];
  if (step !== undefined) {
    event.preventDefault();
    select(selected === -1 ? 0 : selected + step);
  } else if (event.key === 'Enter' && selected !== -1) {
    event.preventDefault();
    navigate({ image: items[selected].id }, { keepPage: true });
  }
});

form.onsubmit = (event) => {
  event.preventDefault();
  navigate({ q: form.q.value.trim(), sort: form.sort.value === '-receivedAt' ? null : form.sort.value });
};
form.sort.onchange = () => form.requestSubmit();
document.getElementById('next').onclick = () => {
  const s = state();
  const prev = (s.get('prev') || '').split('.').filter(Boolean);
  if (s.get('cursor')) prev.push(s.get('cursor'));
  // The first page has no cursor: "-" stands for it in the stack.
  else prev.push('-');
  navigate({ cursor: lastAnswer.nextCursor, prev: prev.join('.') }, { keepPage: true });
};
document.getElementById('prev').onclick = () => {
  const prev = (state().get('prev') || '').split('.').filter(Boolean);
  const cursor = prev.pop();
  navigate({ cursor: cursor === '-' ? null : cursor, prev: prev.join('.') || null }, { keepPage: true });
};
document.getElementById('show-sources').onclick = (event) => {
  event.preventDefault();
  navigate({ view: 'sources' }, { keepPage: true });
};
document.getElementById('home').onclick = (event) => {
  event.preventDefault();
  history.pushState(null, '', '?');
  render();
};
window.addEventListener('popstate', () => render());

fetch('/page-config.json').then((r) => r.json()).then((config) => map.configure(config)).finally(() => render());
