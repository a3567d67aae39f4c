import { api } from './api.js';
import { count, el, table, text } from './dom.js';
import { miniMap } from './map.js';

const dialog = document.getElementById('detail');
const body = dialog.querySelector('.detail-body');
let shown = null;
let onClose = null;
let mini = null;

// Esc, the close button or a click beside the dialog all close it; the page then drops it from the URL.
dialog.addEventListener('close', () => {
  shown = null;
  if (mini) mini.remove();
  mini = null;
  if (onClose) onClose();
});
dialog.addEventListener('click', (event) => {
  if (event.target === dialog) dialog.close();
});

export function closeDetail() {
  onClose = null;
  if (dialog.open) dialog.close();
}

function fraction(seconds) {
  if (seconds == null) return null;
  return seconds >= 1 ? `${seconds} s` : `1/${Math.round(1 / seconds)} s`;
}

function rows(pairs) {
  return el('dl', {}, pairs.filter(([, v]) => v != null && v !== '').flatMap(([k, v]) => [el('dt', { textContent: k }), el('dd', {}, [v])]));
}


/** The image's whole document: preview, downloads, metadata, a mini-map, sources and storage. */
export async function openDetail(id, options) {
  onClose = options.onClose;
  if (shown === id && dialog.open) return;
  shown = id;
  body.replaceChildren(el('p', { textContent: 'Loading…' }));
  if (!dialog.open) dialog.showModal();
  const { ok, body: doc } = await api('/api/images/' + id);
  if (shown !== id) return;
  if (!ok) {
    body.replaceChildren(closeButton(), el('p', { className: 'error', textContent: doc.error }));
    return;
  }
  const preview = doc.renditions.find((r) => r.name === 'preview') || doc.renditions[doc.renditions.length - 1];
  const camera = [doc.camera.make, doc.camera.model].filter(Boolean).join(' ');
  const e = doc.exposure || {};
  const exposure = [fraction(e.exposureTime), e.fNumber != null ? `f/${e.fNumber}` : null, e.iso != null ? `ISO ${e.iso}` : null, e.focalLength != null ? `${e.focalLength} mm` : null].filter(Boolean).join(' · ');
  const gps = doc.gps ? `${doc.gps.lat.toFixed(6)}, ${doc.gps.lon.toFixed(6)}` + (doc.gps.alt != null ? ` · ${doc.gps.alt} m` : '') : null;
  const title = doc.sources[0] ? doc.sources[0].path : doc.id;
  const mapBox = doc.gps ? el('div', { className: 'mini-map' }) : null;
  body.replaceChildren(
    closeButton(),
    el('h2', { textContent: title }),
    el('div', { className: 'detail-grid' }, [
      el('div', { className: 'detail-picture' }, [
        preview
          ? el('img', { src: preview.url, alt: title, className: 'preview' })
          : el('div', { className: 'failed' }, [el('span', { textContent: 'not processed' })]),
        el('section', { className: 'downloads' }, [
          el('h3', { textContent: 'Downloads' }),
          el('ul', {}, [
            ...doc.renditions.map((r) => el('li', {}, [el('a', { href: r.url, download: '', textContent: `${r.name} · ${r.width}×${r.height} ${r.format} · ${count(r.bytes)} bytes` })])),
            el('li', {}, [el('a', { href: doc.original.url, download: '', className: 'original', textContent: `original · ${doc.original.contentType} · ${count(doc.original.bytes)} bytes` })]),
          ]),
        ]),
      ]),
      el('div', { className: 'detail-meta' }, [
        el('p', { className: 'status ' + doc.status, textContent: doc.status === 'failed' ? `failed: ${text(doc.error && doc.error.code)} — ${text(doc.error && doc.error.message)}` : 'processed' }),
        rows([
          ['Captured', doc.capturedAt],
          ['Camera', camera],
          ['Serial', doc.camera.serial],
          ['Lens', e.lensModel],
          ['Exposure', exposure],
          ['Software', e.software],
          ['Size', doc.width != null ? `${doc.width}×${doc.height}` : null],
          ['GPS', gps],
          ['Keywords', (doc.keywords || []).join(', ')],
          ['Title', doc.title],
          ['Caption', doc.caption],
          ['Creator', doc.creator],
          ['Copyright', doc.copyright],
          ['Received', doc.receivedAt],
          ['Id', doc.id],
        ]),
        mapBox,
      ]),
    ]),
    el('h3', { textContent: 'Sources' }),
    table('sources', ['account', 'path', 'protocol', 'from', 'received', 'count', 'last seen'],
      doc.sources.map((s) => ({ cells: [s.account, s.path, s.protocol, s.remoteAddress, s.receivedAt, s.count, s.lastSeenAt] }))),
    el('h3', { textContent: 'Storage' }),
    table('locations', ['role', 'name', 'store', 'bucket', 'key'],
      (doc.locations || [{ role: 'original', name: 'original', ...doc.original.location }]).map((l) => ({ cells: [l.role, l.name, l.store, l.bucket, l.key] }))),
  );
  if (mapBox) mini = miniMap(mapBox, doc.gps);
}

function closeButton() {
  return el('button', { type: 'button', className: 'close', textContent: 'Close', onclick: () => dialog.close() });
}
