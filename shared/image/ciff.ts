/**
 * Make and model from the CIFF heap that Canon's first digital cameras (PowerShot A5, 1998) wrote
 * into an APP0 segment of their JPEGs instead of EXIF. Layout per the CIFF 1.0r4 specification and
 * ExifTool's CanonRaw module (ProcessCanonRaw, lib/Image/ExifTool/CanonRaw.pm): a header (byte
 * order, header length, "HEAP" + "CCDR" or "JPGM"), then the root heap. A heap's last 4 bytes give
 * the offset of its directory: a 2-byte count, then 10-byte entries (tag, size, offset), offsets
 * relative to the heap's own start. Sub-heaps (ImageProps 0x300a, ExifInformation 0x300b, ...) nest.
 */
export interface CiffCamera {
  make: string | null;
  model: string | null;
}

/** Record 0x080a: "Canon\0Canon PowerShot A5\0". */
const MAKE_MODEL = 0x080a;
/** Deeper than any Canon writes; the cap keeps a looping or hostile heap cheap. */
const MAX_DEPTH = 8;
const MAX_ENTRIES = 1024;

class CiffReader {
  private readonly visited = new Set<number>();

  constructor(
    private readonly data: Buffer,
    private readonly littleEndian: boolean,
  ) {}

  private u16(offset: number): number {
    return this.littleEndian ? this.data.readUInt16LE(offset) : this.data.readUInt16BE(offset);
  }

  private u32(offset: number): number {
    return this.littleEndian ? this.data.readUInt32LE(offset) : this.data.readUInt32BE(offset);
  }

  /** The bytes of record `tagId` in the heap [start, end) or any heap below it. */
  find(tagId: number, start: number, end: number, depth = 0): Buffer | null {
    if (depth > MAX_DEPTH || end - start < 4 || start < 0 || end > this.data.length) return null;
    const directory = start + this.u32(end - 4);
    if (directory + 2 > end - 4 || this.visited.has(directory)) return null;
    this.visited.add(directory);
    const count = Math.min(this.u16(directory), MAX_ENTRIES);
    for (let i = 0; i < count; i++) {
      const entry = directory + 2 + i * 10;
      if (entry + 10 > end - 4) return null;
      const tag = this.u16(entry);
      if (tag & 0x8000) return null;
      const inDirectory = (tag & 0x4000) !== 0;
      const size = this.u32(entry + 2);
      const offset = this.u32(entry + 6);
      const dataType = tag & 0x3800;
      if (inDirectory) {
        if ((tag & 0x3fff) === tagId) return this.data.subarray(entry + 2, entry + 10);
        continue;
      }
      if (offset + size > end - start) continue;
      if ((tag & 0x3fff) === tagId) return this.data.subarray(start + offset, start + offset + size);
      if (dataType === 0x2800 || dataType === 0x3000) {
        const found = this.find(tagId, start + offset, start + offset + size, depth + 1);
        if (found) return found;
      }
    }
    return null;
  }
}

function cameraOfCiff(ciff: Buffer): CiffCamera | null {
  if (ciff.length < 14 || ciff.toString('latin1', 6, 10) !== 'HEAP') return null;
  const order = ciff.toString('latin1', 0, 2);
  if (order !== 'II' && order !== 'MM') return null;
  const littleEndian = order === 'II';
  const headerLength = littleEndian ? ciff.readUInt32LE(2) : ciff.readUInt32BE(2);
  if (headerLength < 14 || headerLength >= ciff.length) return null;
  const record = new CiffReader(ciff, littleEndian).find(MAKE_MODEL, headerLength, ciff.length);
  if (!record) return null;
  const [make, model] = record.toString('latin1').split('\0').map((s) => s.trim() || null);
  return make || model ? { make: make ?? null, model: model ?? null } : null;
}

/**
 * The camera named by a CIFF APP0 segment among the JPEG's first segments, or null. `jpeg` may be
 * only the file's head: a segment it cuts short is read no further than it reaches.
 */
export function ciffCamera(jpeg: Buffer): CiffCamera | null {
  if (jpeg.length < 4 || jpeg.readUInt16BE(0) !== 0xffd8) return null;
  for (let at = 2; at + 4 <= jpeg.length && jpeg[at] === 0xff; ) {
    const marker = jpeg[at + 1];
    if (marker === 0xff) {
      at++;
      continue;
    }
    // Metadata segments precede the first scan.
    if (marker === 0xda || marker === 0xd9) return null;
    const length = jpeg.readUInt16BE(at + 2);
    if (length < 2) return null;
    if (marker === 0xe0) {
      try {
        const camera = cameraOfCiff(jpeg.subarray(at + 4, Math.min(jpeg.length, at + 2 + length)));
        if (camera) return camera;
      } catch {
        // A read past a truncated heap: no camera from this segment.
      }
    }
    at += 2 + length;
  }
  return null;
}
