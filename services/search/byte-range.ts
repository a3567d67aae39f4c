/** An inclusive byte range of an object, as HTTP's Content-Range states it. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * A `Range` header against an object of `size` bytes (RFC 9110 §14.1.2): the one range to send,
 * `unsatisfiable` (answer 416), or null to send the whole object. Several ranges and units other
 * than bytes are answered with the whole object, which the RFC allows a server to do.
 */
export function parseRange(header: string | undefined, size: number): ByteRange | 'unsatisfiable' | null {
  const match = header ? /^bytes=\s*(\d*)-(\d*)\s*$/.exec(header) : null;
  if (!match) return null;
  const [, first, last] = match;
  if (first === '' && last === '') return null;
  if (first === '') {
    // A suffix: the last N bytes.
    const length = Number(last);
    if (length === 0 || size === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - length), end: size - 1 };
  }
  const start = Number(first);
  // An inverted range is invalid, and an invalid Range header is ignored (§14.2).
  if (last !== '' && Number(last) < start) return null;
  if (start >= size) return 'unsatisfiable';
  const end = last === '' ? size - 1 : Number(last);
  return { start, end: Math.min(end, size - 1) };
}

/** Whether an If-None-Match list names `etag`; the comparison is weak, as RFC 9110 §13.1.2 asks. */
export function matchesEtag(header: string | undefined, etag: string): boolean {
  if (!header) return false;
  if (header.trim() === '*') return true;
  const opaque = (tag: string) => tag.trim().replace(/^W\//, '');
  return header.split(',').some((tag) => opaque(tag) === opaque(etag));
}
