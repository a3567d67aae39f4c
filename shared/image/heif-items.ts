/**
 * The Exif and XMP items of a HEIF/AVIF still, read from the container's item tables (ISO/IEC
 * 14496-12 `meta`/`iinf`/`iloc`, 23008-12 for the Exif block). exifr's own HEIF reader ignores
 * `iloc` base offsets and `idat` storage, which libheif-written files use, and never reads XMP items.
 */
export interface HeifMetadataItems {
  /** TIFF bytes ("II*\0" or "MM\0*"), the Exif block's header offset already skipped. */
  exif: Buffer | null;
  xmp: Buffer | null;
}

interface Box {
  type: string;
  /** First byte after the header (and after version/flags for a full box, once read). */
  start: number;
  end: number;
}

interface ItemLocation {
  constructionMethod: number;
  baseOffset: number;
  extents: { offset: number; length: number }[];
}

/** Items beyond this are not metadata any camera writes; the cap keeps a hostile file from costing memory. */
const MAX_ITEM_BYTES = 4 * 1024 * 1024;

class Reader {
  constructor(private readonly data: Buffer) {}

  uint(offset: number, size: number): number {
    if (size === 0) return 0;
    if (offset + size > this.data.length) throw new RangeError('HEIF box runs past the end of the file');
    if (size === 8) {
      const value = this.data.readBigUInt64BE(offset);
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new RangeError('HEIF offset too large');
      return Number(value);
    }
    return this.data.readUIntBE(offset, size);
  }

  text(offset: number, length: number): string {
    return this.data.toString('latin1', offset, offset + length);
  }

  /** A NUL-terminated string and the offset after its NUL. */
  cString(offset: number, end: number): [string, number] {
    const nul = this.data.indexOf(0, offset);
    const stop = nul < 0 || nul >= end ? end : nul;
    return [this.data.toString('utf8', offset, stop), stop + 1];
  }

  children(parent: { start: number; end: number }): Box[] {
    const boxes: Box[] = [];
    for (let offset = parent.start; offset + 8 <= parent.end; ) {
      let size = this.uint(offset, 4);
      const type = this.text(offset + 4, 4);
      let start = offset + 8;
      if (size === 1) {
        size = this.uint(offset + 8, 8);
        start += 8;
      } else if (size === 0) {
        size = parent.end - offset;
      }
      if (size < start - offset || offset + size > parent.end) throw new RangeError(`HEIF box ${type} has a bad size`);
      boxes.push({ type, start, end: offset + size });
      offset += size;
    }
    return boxes;
  }

  slice(start: number, end: number): Buffer {
    return this.data.subarray(start, end);
  }
}

function itemIds(reader: Reader, iinf: Box): { exif: number | null; xmp: number | null } {
  const version = reader.uint(iinf.start, 1);
  const entriesStart = iinf.start + 4 + (version === 0 ? 2 : 4);
  const found = { exif: null as number | null, xmp: null as number | null };
  for (const infe of reader.children({ start: entriesStart, end: iinf.end })) {
    if (infe.type !== 'infe') continue;
    const infeVersion = reader.uint(infe.start, 1);
    if (infeVersion < 2) continue;
    let offset = infe.start + 4;
    const idSize = infeVersion === 2 ? 2 : 4;
    const id = reader.uint(offset, idSize);
    offset += idSize + 2; // item_protection_index
    const itemType = reader.text(offset, 4);
    offset += 4;
    if (itemType === 'Exif') found.exif ??= id;
    if (itemType === 'mime') {
      const [, afterName] = reader.cString(offset, infe.end);
      const [contentType] = reader.cString(afterName, infe.end);
      if (contentType === 'application/rdf+xml') found.xmp ??= id;
    }
  }
  return found;
}

function locations(reader: Reader, iloc: Box, wanted: Set<number>): Map<number, ItemLocation> {
  const version = reader.uint(iloc.start, 1);
  let offset = iloc.start + 4;
  const sizes = reader.uint(offset, 1);
  const more = reader.uint(offset + 1, 1);
  const [offsetSize, lengthSize, baseOffsetSize] = [sizes >> 4, sizes & 0x0f, more >> 4];
  const indexSize = version === 1 || version === 2 ? more & 0x0f : 0;
  offset += 2;
  const countSize = version < 2 ? 2 : 4;
  const count = reader.uint(offset, countSize);
  offset += countSize;
  const found = new Map<number, ItemLocation>();
  for (let i = 0; i < count; i++) {
    const idSize = version < 2 ? 2 : 4;
    const id = reader.uint(offset, idSize);
    offset += idSize;
    const constructionMethod = version === 1 || version === 2 ? reader.uint(offset, 2) & 0x0f : 0;
    if (version === 1 || version === 2) offset += 2;
    offset += 2; // data_reference_index: 0 means this file, the only case a camera writes
    const baseOffset = reader.uint(offset, baseOffsetSize);
    offset += baseOffsetSize;
    const extentCount = reader.uint(offset, 2);
    offset += 2;
    const extents: ItemLocation['extents'] = [];
    for (let e = 0; e < extentCount; e++) {
      offset += indexSize;
      extents.push({ offset: reader.uint(offset, offsetSize), length: reader.uint(offset + offsetSize, lengthSize) });
      offset += offsetSize + lengthSize;
    }
    if (wanted.has(id)) found.set(id, { constructionMethod, baseOffset, extents });
  }
  return found;
}

function itemBytes(reader: Reader, location: ItemLocation, idat: Box | undefined, fileLength: number): Buffer | null {
  // Method 0: offsets into the file; method 1: offsets into the meta box's idat.
  const origin = location.constructionMethod === 0 ? 0 : location.constructionMethod === 1 && idat ? idat.start : null;
  if (origin === null) return null;
  const limit = location.constructionMethod === 0 ? fileLength : idat!.end;
  const parts: Buffer[] = [];
  let total = 0;
  for (const extent of location.extents) {
    const start = origin + location.baseOffset + extent.offset;
    // Length 0 means "to the end of the file (or idat)".
    const end = extent.length === 0 ? limit : start + extent.length;
    if (start < origin || end > limit || end < start) return null;
    total += end - start;
    if (total > MAX_ITEM_BYTES) return null;
    parts.push(reader.slice(start, end));
  }
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}

/** The metadata items of a HEIF file; missing or malformed items come back null, never as an error. */
export function readHeifMetadataItems(file: Buffer): HeifMetadataItems {
  const none: HeifMetadataItems = { exif: null, xmp: null };
  try {
    const reader = new Reader(file);
    const meta = reader.children({ start: 0, end: file.length }).find((b) => b.type === 'meta');
    if (!meta) return none;
    const inner = reader.children({ start: meta.start + 4, end: meta.end });
    const iinf = inner.find((b) => b.type === 'iinf');
    const iloc = inner.find((b) => b.type === 'iloc');
    if (!iinf || !iloc) return none;
    const ids = itemIds(reader, iinf);
    const wanted = new Set([ids.exif, ids.xmp].filter((id): id is number => id !== null));
    if (wanted.size === 0) return none;
    const located = locations(reader, iloc, wanted);
    const idat = inner.find((b) => b.type === 'idat');
    const bytes = (id: number | null) => {
      const location = id === null ? undefined : located.get(id);
      return location ? itemBytes(reader, location, idat, file.length) : null;
    };
    return { exif: tiffOfExifBlock(bytes(ids.exif)), xmp: bytes(ids.xmp) };
  } catch {
    return none;
  }
}

/**
 * The Exif block is a 4-byte offset to the TIFF header, then the payload. Some writers put
 * "Exif\0\0" in the skipped bytes, some omit the offset field: look for the TIFF header near it.
 */
function tiffOfExifBlock(block: Buffer | null): Buffer | null {
  if (!block || block.length < 8) return null;
  const isTiff = (at: number) => {
    const magic = block.toString('latin1', at, at + 4);
    return magic === 'II*\u0000' || magic === 'MM\u0000*';
  };
  const declared = 4 + block.readUInt32BE(0);
  for (const at of [declared, 0, 4, 10]) if (at + 8 <= block.length && isTiff(at)) return block.subarray(at);
  return null;
}
