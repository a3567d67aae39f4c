import type { ExposureInfo, FailedImage, ImageFailedEvent, ImageProcessedEvent, ImageSource } from './contracts/events';
import { IngestError } from './errors';
import type { ImageDocument, IndexedSource } from './ports/image-index.port';

/**
 * Both index adapters merge through these functions so they cannot disagree on what a re-upload,
 * a replay, or a search term means.
 */

/** A document as an earlier version may have stored it: no status, and one source per delivery. */
export type StoredDocument = Omit<ImageDocument, 'status' | 'error' | 'sources'> &
  Partial<Pick<ImageDocument, 'status' | 'error'>> & { sources: (ImageSource & Partial<IndexedSource>)[] };

const instant = (iso: string): number => Date.parse(iso);

/** By code point, not locale: every process must order sources the same way. */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function byFirstReceipt(a: ImageSource, b: ImageSource): number {
  return instant(a.receivedAt) - instant(b.receivedAt) || compare(a.account, b.account) || compare(a.path, b.path);
}

/**
 * Counts one delivery in the source of its (account, path). A delivery inside the source's
 * [firstSeenAt, lastSeenAt] is a replay and changes nothing, so replaying a topic from any offset
 * converges; one outside it counts once more and moves that bound. The source's ImageSource fields
 * stay those of its first receipt.
 */
export function mergeSource(sources: IndexedSource[], delivery: ImageSource): IndexedSource[] {
  const at = instant(delivery.receivedAt);
  const i = sources.findIndex((s) => s.account === delivery.account && s.path === delivery.path);
  if (i < 0) {
    const added = { ...delivery, count: 1, firstSeenAt: delivery.receivedAt, lastSeenAt: delivery.receivedAt };
    return [...sources, added].sort(byFirstReceipt);
  }
  const known = sources[i];
  let counted: IndexedSource;
  if (at > instant(known.lastSeenAt)) counted = { ...known, count: known.count + 1, lastSeenAt: delivery.receivedAt };
  else if (at < instant(known.firstSeenAt)) counted = { ...delivery, count: known.count + 1, firstSeenAt: delivery.receivedAt, lastSeenAt: known.lastSeenAt };
  else return sources;
  return sources.map((s, j) => (j === i ? counted : s)).sort(byFirstReceipt);
}

/** Sets the document's first/last seen over all its sources; `receivedAt` is the first receipt. */
function seen(doc: Omit<ImageDocument, 'firstSeenAt' | 'lastSeenAt'>): ImageDocument {
  const firstSeenAt = doc.sources.reduce((a, s) => (instant(s.firstSeenAt) < instant(a) ? s.firstSeenAt : a), doc.sources[0].firstSeenAt);
  const lastSeenAt = doc.sources.reduce((a, s) => (instant(s.lastSeenAt) > instant(a) ? s.lastSeenAt : a), doc.sources[0].lastSeenAt);
  return { ...doc, receivedAt: firstSeenAt, firstSeenAt, lastSeenAt };
}

/** Reads a stored document in today's shape: a missing status is `processed`, deliveries fold into sources. */
export function upgradeDocument(stored: StoredDocument): ImageDocument {
  const { status, error, sources } = stored;
  const counted = sources.every((s) => s.count !== undefined);
  if (status && error !== undefined && counted) return stored as ImageDocument;
  const folded = counted ? (sources as IndexedSource[]) : [...sources].sort(byFirstReceipt).reduce(mergeSource, []);
  return seen({ ...stored, status: status ?? 'processed', error: error ?? null, sources: folded });
}

/** A processed result replaces the metadata and status, also of a failed image; its file is counted. */
export function mergeProcessed(existing: ImageDocument | null, event: ImageProcessedEvent): ImageDocument {
  const { schema: _schema, source, ...result } = event;
  return seen({ ...result, status: 'processed', error: null, sources: mergeSource(existing?.sources ?? [], source) });
}

const NO_EXPOSURE: ExposureInfo = { exposureTime: null, fNumber: null, iso: null, focalLength: null, lensModel: null, software: null };

/** The id and readable image of a failed event that can be indexed; any other one is a caller's mistake. */
export function failedImage(event: ImageFailedEvent): { id: string; image: FailedImage } {
  if (!event.id || !event.image) {
    throw new IngestError('INVALID_EVENT', `a failed event without ${event.id ? 'image' : 'id'} cannot be indexed`);
  }
  return { id: event.id, image: event.image };
}

/**
 * A failed image is indexed with what could be read of it; for an image that was processed (the
 * same bytes from another upload) the failure only counts its file, since `processed` wins.
 */
export function mergeFailed(existing: ImageDocument | null, event: ImageFailedEvent): ImageDocument {
  const { id, image } = failedImage(event);
  const sources = mergeSource(existing?.sources ?? [], event.source);
  if (existing?.status === 'processed') return seen({ ...existing, sources });
  return seen({
    id,
    receivedAt: image.receivedAt,
    original: image.original,
    capturedAt: image.capturedAt ?? null,
    camera: image.camera ?? { make: null, model: null, serial: null },
    gps: image.gps ?? null,
    width: null,
    height: null,
    orientation: image.orientation ?? null,
    exposure: image.exposure ?? NO_EXPOSURE,
    keywords: image.keywords ?? [],
    caption: image.caption ?? null,
    title: image.title ?? null,
    creator: image.creator ?? null,
    copyright: image.copyright ?? null,
    renditions: [],
    locations: [{ role: 'original', name: 'original', ...image.original.location }],
    processedAt: null,
    processingMs: null,
    status: 'failed',
    error: { code: event.error.code, message: event.error.message },
    sources,
  });
}

/** Lower-cased words of letters and digits: the unit both indexes match `q` against. */
export function searchTerms(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export function documentTerms(doc: ImageDocument): string[] {
  const parts = [
    ...doc.sources.map((s) => s.path),
    doc.camera.make,
    doc.camera.model,
    ...doc.keywords,
    doc.caption,
    doc.title,
  ];
  return [...new Set(parts.flatMap((p) => (p ? searchTerms(p) : [])))];
}

/** The instant a capture time stands for; a wall-clock time without offset is read as UTC. */
export function captureInstant(capturedAt: string | null): number | null {
  if (!capturedAt) return null;
  const zoned = /([+-]\d{2}:\d{2}|Z)$/.test(capturedAt) ? capturedAt : `${capturedAt}Z`;
  const ms = Date.parse(zoned);
  return Number.isNaN(ms) ? null : ms;
}

export function normalizeKeyword(value: string | null): string | null {
  return value ? value.trim().toLowerCase() : null;
}

/** Identifies a dead letter so a replayed one is stored once. */
export function failureKey(event: ImageFailedEvent): string {
  return [event.id ?? '', event.source.account, event.source.path, event.stage, event.failedAt].join('|');
}
