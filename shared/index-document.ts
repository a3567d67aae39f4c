import type { ExposureInfo, FailedImage, ImageFailedEvent, ImageProcessedEvent, ImageReplicatedEvent, ImageSource } from './contracts/events';
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

/** Where a source's file was before the account renamed it (RNFR/RNTO), and when it moved. */
interface FormerPath {
  path: string;
  until: string;
}

/**
 * A source as stored: IndexedSource plus `formerPaths`, the paths its file had before renames,
 * oldest first. They let a replay of the file's history (deliveries to an old path, the renames
 * themselves) be recognised as already counted.
 */
type TrackedSource = IndexedSource & { formerPaths?: FormerPath[] };

const formerPaths = (source: IndexedSource): FormerPath[] => (source as TrackedSource).formerPaths ?? [];

/**
 * Counts one delivery in the source of its (account, path). A delivery inside the source's
 * [firstSeenAt, lastSeenAt] is a replay and changes nothing, so replaying a topic from any offset
 * converges; one outside it counts once more and moves that bound. The source's ImageSource fields
 * stay those of its first receipt. A delivery to a path the file had before a rename, made before
 * that rename, belongs to the renamed source. A delivery with `renamedFrom` moves a source instead
 * (renameSource).
 */
export function mergeSource(sources: IndexedSource[], delivery: ImageSource): IndexedSource[] {
  if (delivery.renamedFrom !== undefined) return renameSource(sources, delivery);
  const at = instant(delivery.receivedAt);
  const mine = (s: IndexedSource) => s.account === delivery.account;
  const renamed = sources.findIndex((s) => mine(s) && formerPaths(s).some((f) => f.path === delivery.path && at <= instant(f.until)));
  const i = renamed >= 0 ? renamed : sources.findIndex((s) => mine(s) && s.path === delivery.path);
  if (i < 0) {
    const added = { ...delivery, count: 1, firstSeenAt: delivery.receivedAt, lastSeenAt: delivery.receivedAt };
    return [...sources, added].sort(byFirstReceipt);
  }
  const known = sources[i] as TrackedSource;
  let counted: TrackedSource;
  if (at > instant(known.lastSeenAt)) counted = { ...known, count: known.count + 1, lastSeenAt: delivery.receivedAt };
  else if (at < instant(known.firstSeenAt)) {
    counted = { ...delivery, path: known.path, count: known.count + 1, firstSeenAt: delivery.receivedAt, lastSeenAt: known.lastSeenAt };
    if (known.formerPaths) counted.formerPaths = known.formerPaths;
  } else return sources;
  return sources.map((s, j) => (j === i ? counted : s)).sort(byFirstReceipt);
}

/**
 * The account renamed a delivered file (`renamedFrom` → `path`, at `receivedAt`): its source moves
 * to the new path keeping count, first and last seen; a source already at the new path (the same
 * bytes delivered there too) is folded in. The rename is remembered on the source, so replaying it
 * changes nothing. A rename of a path this image never had still records the new path as a source.
 */
function renameSource(sources: IndexedSource[], rename: ImageSource): IndexedSource[] {
  const { renamedFrom: from, ...delivery } = rename as ImageSource & { renamedFrom: string };
  const mark: FormerPath = { path: from, until: delivery.receivedAt };
  const mine = (s: IndexedSource) => s.account === delivery.account;
  if (sources.some((s) => mine(s) && formerPaths(s).some((f) => f.path === mark.path && f.until === mark.until))) return sources;
  const old = sources.find((s) => mine(s) && s.path === from);
  const current = sources.find((s) => mine(s) && s.path === delivery.path);
  const parts = [old, current].filter((s): s is IndexedSource => s !== undefined);
  let moved: TrackedSource;
  if (parts.length === 0) moved = { ...delivery, count: 1, firstSeenAt: delivery.receivedAt, lastSeenAt: delivery.receivedAt };
  else {
    const first = [...parts].sort((a, b) => instant(a.firstSeenAt) - instant(b.firstSeenAt))[0];
    moved = {
      ...first,
      path: delivery.path,
      count: parts.reduce((n, s) => n + s.count, 0),
      firstSeenAt: first.firstSeenAt,
      lastSeenAt: parts.reduce((a, s) => (instant(s.lastSeenAt) > instant(a) ? s.lastSeenAt : a), first.lastSeenAt),
    };
  }
  moved.formerPaths = [...parts.flatMap(formerPaths), mark];
  return [...sources.filter((s) => !parts.includes(s)), moved].sort(byFirstReceipt);
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

/**
 * A processed result replaces the metadata and status, also of a failed image; its file is counted.
 * Copies in other stores stay while they hold one of the image's keys (a reprocess may drop a rendition).
 */
export function mergeProcessed(existing: ImageDocument | null, event: ImageProcessedEvent): ImageDocument {
  const { schema: _schema, source, ...result } = event;
  const keys = new Set(result.locations.map((l) => l.key));
  const stores = new Set(result.locations.map((l) => l.store));
  const copies = (existing?.locations ?? []).filter((l) => !stores.has(l.store) && keys.has(l.key));
  return seen({ ...result, locations: [...result.locations, ...copies], status: 'processed', error: null, sources: mergeSource(existing?.sources ?? [], source) });
}

/**
 * The image's locations with a replica store's copies: each replaces the location of the same store
 * and key, or is added after the others; a copy of a key the image no longer has (replicated before
 * a reprocess) is left out. The same event again gives the same document.
 */
export function mergeReplicated(existing: ImageDocument, event: ImageReplicatedEvent): ImageDocument {
  const keys = new Set([existing.original.key, ...existing.renditions.map((r) => r.key)]);
  const copies = event.locations.filter((l) => keys.has(l.key)).map(({ bytes: _bytes, sha256: _sha256, ...location }) => location);
  const same = (a: { store: string; key: string }, b: { store: string; key: string }) => a.store === b.store && a.key === b.key;
  const locations = existing.locations.map((l) => copies.find((c) => same(c, l)) ?? l);
  return { ...existing, locations: [...locations, ...copies.filter((c) => !existing.locations.some((l) => same(c, l)))] };
}

/** A replicated event for an image that is not indexed yet; retried, as its processed event is on its way. */
export function notYetIndexed(id: string): IngestError {
  return new IngestError('NOT_YET_INDEXED', `image ${id} is not indexed yet`, { retriable: true });
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

/** The values both indexes filter and sort on, computed once so that they cannot disagree. */
export function searchFields(doc: ImageDocument): {
  captured: number | null;
  received: number;
  make: string | null;
  model: string | null;
  lens: string | null;
  iso: number | null;
} {
  return {
    captured: captureInstant(doc.capturedAt),
    received: Date.parse(doc.receivedAt),
    make: normalizeKeyword(doc.camera.make),
    model: normalizeKeyword(doc.camera.model),
    lens: normalizeKeyword(doc.exposure.lensModel),
    iso: doc.exposure.iso === null ? null : Math.round(doc.exposure.iso),
  };
}

/**
 * Whether an event about an image, received (or made) at `at`, came before the image's erasure at
 * `erasedAt` (null: never erased). Both indexes ignore such an event, so a replay cannot bring an
 * erased image back, while the same bytes delivered after the erasure are a new image.
 */
export function predatesErasure(at: string, erasedAt: string | null): boolean {
  return erasedAt !== null && instant(at) <= instant(erasedAt);
}

/** Identifies a dead letter so a replayed one is stored once. */
export function failureKey(event: ImageFailedEvent): string {
  return [event.id ?? '', event.source.account, event.source.path, event.stage, event.failedAt].join('|');
}
