import type { ImageFailedEvent, ImageProcessedEvent, ImageSource } from './contracts/events';
import type { ImageDocument } from './ports/image-index.port';

/**
 * Both index adapters merge through these functions so they cannot disagree on what a re-upload,
 * a replay, or a search term means.
 */
export function sameSource(a: ImageSource, b: ImageSource): boolean {
  return a.account === b.account && a.path === b.path && a.receivedAt === b.receivedAt;
}

export function mergeDocument(existing: ImageDocument | null, event: ImageProcessedEvent): ImageDocument {
  const { schema: _schema, source, ...rest } = event;
  const previous = existing?.sources ?? [];
  const sources = previous.some((s) => sameSource(s, source)) ? previous : [...previous, source];
  sources.sort((a, b) => a.receivedAt.localeCompare(b.receivedAt));
  const firstSeenAt = sources[0].receivedAt;
  const lastSeenAt = sources[sources.length - 1].receivedAt;
  return { ...rest, receivedAt: firstSeenAt, sources, firstSeenAt, lastSeenAt };
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
