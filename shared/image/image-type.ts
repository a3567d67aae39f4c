import { open, type FileHandle } from 'node:fs/promises';

export const IMAGE_TYPES = ['jpeg', 'png', 'tiff', 'webp', 'heic', 'avif'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

export const IMAGE_TYPE_INFO: Record<ImageType, { extension: string; contentType: string }> = {
  jpeg: { extension: 'jpg', contentType: 'image/jpeg' },
  png: { extension: 'png', contentType: 'image/png' },
  tiff: { extension: 'tif', contentType: 'image/tiff' },
  webp: { extension: 'webp', contentType: 'image/webp' },
  heic: { extension: 'heic', contentType: 'image/heic' },
  avif: { extension: 'avif', contentType: 'image/avif' },
};

/** Enough of a file's start to tell its type, the ftyp box's list of compatible brands included. */
export const SNIFF_BYTES = 64;

/** ISO-BMFF brands of HEIF stills (ISO/IEC 23008-12 for HEVC, AV1-ISOBMFF for AV1); movies and other MP4s are not images. */
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx']);
const AV1_BRANDS = new Set(['avif', 'avis']);
/** Generic HEIF brands that name no codec; the compatible brands do. */
const GENERIC_HEIF_BRANDS = new Set(['mif1', 'msf1']);

function heifType(head: Buffer): 'heic' | 'avif' | null {
  if (head.length < 12 || head.toString('latin1', 4, 8) !== 'ftyp') return null;
  const major = head.toString('latin1', 8, 12);
  if (HEVC_BRANDS.has(major)) return 'heic';
  if (AV1_BRANDS.has(major)) return 'avif';
  if (!GENERIC_HEIF_BRANDS.has(major)) return null;
  // Compatible brands follow the minor version, up to the box's end or as far as the head reaches.
  const compatible: string[] = [];
  for (let at = 16; at + 4 <= Math.min(head.readUInt32BE(0), head.length); at += 4) compatible.push(head.toString('latin1', at, at + 4));
  const av1Only = compatible.some((b) => AV1_BRANDS.has(b)) && !compatible.some((b) => HEVC_BRANDS.has(b));
  return av1Only ? 'avif' : 'heic';
}

/**
 * The image type named by the first bytes, whatever the file name says. Give it SNIFF_BYTES: a
 * shorter head shows only the first compatible brands of a HEIF with a generic major brand.
 */
export function sniffImageType(head: Buffer): ImageType | null {
  if (head.length >= 3 && head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff) return 'jpeg';
  if (head.length >= 8 && head.readUInt32BE(0) === 0x89504e47 && head.readUInt32BE(4) === 0x0d0a1a0a) return 'png';
  if (head.length >= 4) {
    const magic = head.toString('latin1', 0, 4);
    if (magic === 'II*\u0000' || magic === 'MM\u0000*') return 'tiff';
  }
  if (head.length >= 12 && head.toString('latin1', 0, 4) === 'RIFF' && head.toString('latin1', 8, 12) === 'WEBP') {
    return 'webp';
  }
  return heifType(head);
}

/** The type of an open file, by its first SNIFF_BYTES bytes. */
export async function sniffFileType(file: FileHandle): Promise<ImageType | null> {
  return sniffImageType(await readAt(file, 0, SNIFF_BYTES));
}

/**
 * What a file on disk holds: its image type (null when it is none) and whether the image is
 * complete; null when the file cannot be opened (gone, or not readable).
 */
export async function inspectImageFile(filePath: string, size: number): Promise<{ type: ImageType | null; complete: boolean } | null> {
  const file = await open(filePath, 'r').catch(() => null);
  if (!file) return null;
  try {
    const type = await sniffFileType(file);
    return { type, complete: type !== null && size > 0 && (await isComplete(type, file, size)) };
  } finally {
    await file.close();
  }
}

async function readAt(file: FileHandle, position: number, length: number): Promise<Buffer> {
  const buffer = Buffer.alloc(Math.max(0, length));
  const { bytesRead } = await file.read(buffer, 0, buffer.length, position);
  return buffer.subarray(0, bytesRead);
}

/**
 * Whether the file carries its format's end: a client that vanished mid-transfer, or a writer still
 * appending, leaves a file that starts right and stops short.
 */
export async function isComplete(type: ImageType, file: FileHandle, size: number): Promise<boolean> {
  switch (type) {
    case 'jpeg':
      return jpegReachesEoi(new FileWindow(file, size));
    case 'png': {
      const tail = await readAt(file, Math.max(0, size - 4096), Math.min(size, 4096));
      return tail.includes(Buffer.from('IEND', 'latin1'));
    }
    case 'webp': {
      const header = await readAt(file, 0, 12);
      return header.length === 12 && header.readUInt32LE(4) + 8 <= size;
    }
    case 'heic':
    case 'avif':
      return bmffBoxesFill(file, size);
    case 'tiff': {
      // TIFF has no end marker; the first directory must at least lie inside the file.
      const header = await readAt(file, 0, 8);
      if (header.length < 8) return false;
      const offset = header.toString('latin1', 0, 2) === 'II' ? header.readUInt32LE(4) : header.readUInt32BE(4);
      return offset >= 8 && offset + 2 <= size;
    }
  }
}

/** Top-level ISO-BMFF boxes must tile the file exactly up to its end. */
async function bmffBoxesFill(file: FileHandle, size: number): Promise<boolean> {
  let position = 0;
  while (position < size) {
    const header = await readAt(file, position, 16);
    if (header.length < 8) return false;
    let boxSize = header.readUInt32BE(0);
    if (boxSize === 1) {
      if (header.length < 16) return false;
      boxSize = Number(header.readBigUInt64BE(8));
    } else if (boxSize === 0) {
      return true; // the last box runs to the end of the file
    }
    if (boxSize < 8) return false;
    position += boxSize;
  }
  return position === size;
}

const WINDOW_BYTES = 1024 * 1024;

/** Reads a file through one reused 1 MiB window: originals reach hundreds of MB and are never held whole. */
class FileWindow {
  private readonly buffer: Buffer;
  /** File offsets of the first byte in the window and the one after its last. */
  private start = 0;
  private end = 0;

  constructor(
    private readonly file: FileHandle,
    readonly size: number,
  ) {
    this.buffer = Buffer.allocUnsafe(Math.min(WINDOW_BYTES, size));
  }

  /** The byte at `position`, or -1 past the end of the file. */
  async byte(position: number): Promise<number> {
    if (!(await this.load(position))) return -1;
    return this.buffer[position - this.start];
  }

  async uint16(position: number): Promise<number> {
    const high = await this.byte(position);
    const low = await this.byte(position + 1);
    return high < 0 || low < 0 ? -1 : (high << 8) | low;
  }

  /** Where the next 0xFF at or after `position` is, or -1 when the file has none. */
  async nextFF(position: number): Promise<number> {
    while (await this.load(position)) {
      const at = this.buffer.indexOf(0xff, position - this.start);
      if (at >= 0 && at < this.end - this.start) return this.start + at;
      position = this.end;
    }
    return -1;
  }

  private async load(position: number): Promise<boolean> {
    if (position >= this.start && position < this.end) return true;
    if (position < 0 || position >= this.size) return false;
    const { bytesRead } = await this.file.read(this.buffer, 0, Math.min(this.buffer.length, this.size - position), position);
    this.start = position;
    this.end = position + bytesRead;
    return bytesRead > 0;
  }
}

const isRestart = (marker: number) => marker >= 0xd0 && marker <= 0xd7;

/**
 * Whether the JPEG's own EOI is in the file. Marker segments are skipped by their lengths, so the
 * FFD8..FFD9 of an EXIF thumbnail inside APP1 is not taken for the image; scans are read up to
 * the next marker (ITU-T T.81 B.1.1.5: 0xFF in entropy-coded data is stuffed as FF 00, restart
 * markers stand alone), and progressive files repeat DHT/SOS between scans. What follows the
 * EOI is a trailer: padding, one stray byte (Olympus), or the MP4 of a phone's motion photo.
 */
async function jpegReachesEoi(bytes: FileWindow): Promise<boolean> {
  if ((await bytes.uint16(0)) !== 0xffd8) return false;
  let position = 2;
  let scans = 0;
  for (;;) {
    // Outside scans decoders skip stray bytes up to the next marker (libjpeg next_marker()), and so does this.
    const ff = await bytes.nextFF(position);
    if (ff < 0) return false;
    const marker = await bytes.byte(ff + 1);
    if (marker < 0) return false;
    if (marker === 0xd9) return scans > 0;
    if (marker === 0xff) {
      position = ff + 1; // fill byte before a marker
    } else if (marker === 0x00 || marker === 0x01 || isRestart(marker)) {
      position = ff + 2; // stuffed 0xFF in a scan, TEM, or a restart marker: no length follows
    } else if (marker === 0xd8) {
      return false;
    } else {
      const length = await bytes.uint16(ff + 2);
      if (length < 2 || ff + 2 + length > bytes.size) return false;
      position = ff + 2 + length;
      if (marker === 0xda) scans++;
    }
  }
}
