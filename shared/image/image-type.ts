import type { FileHandle } from 'node:fs/promises';

export const IMAGE_TYPES = ['jpeg', 'png', 'tiff', 'webp', 'heic'] as const;
export type ImageType = (typeof IMAGE_TYPES)[number];

export const IMAGE_TYPE_INFO: Record<ImageType, { extension: string; contentType: string }> = {
  jpeg: { extension: 'jpg', contentType: 'image/jpeg' },
  png: { extension: 'png', contentType: 'image/png' },
  tiff: { extension: 'tif', contentType: 'image/tiff' },
  webp: { extension: 'webp', contentType: 'image/webp' },
  heic: { extension: 'heic', contentType: 'image/heic' },
};

/** ISO-BMFF brands of HEIF stills (HEVC- or AV1-coded); movies and other MP4s are not images. */
const HEIF_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'mif1', 'msf1', 'avif', 'avis']);

/** The image type named by the first bytes, whatever the file name says. */
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
  if (head.length >= 12 && head.toString('latin1', 4, 8) === 'ftyp' && HEIF_BRANDS.has(head.toString('latin1', 8, 12))) {
    return 'heic';
  }
  return null;
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
    case 'jpeg': {
      // Entropy-coded data escapes every 0xFF, so FF D9 near the end is the EOI marker; cameras may pad after it.
      const tail = await readAt(file, Math.max(0, size - 4096), Math.min(size, 4096));
      const eoi = tail.lastIndexOf(Buffer.from([0xff, 0xd9]));
      return eoi >= 0 && tail.subarray(eoi + 2).every((b) => b === 0x00 || b === 0xff);
    }
    case 'png': {
      const tail = await readAt(file, Math.max(0, size - 4096), Math.min(size, 4096));
      return tail.includes(Buffer.from('IEND', 'latin1'));
    }
    case 'webp': {
      const header = await readAt(file, 0, 12);
      return header.length === 12 && header.readUInt32LE(4) + 8 <= size;
    }
    case 'heic':
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
