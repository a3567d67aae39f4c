import { mkdtempSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { isComplete, sniffImageType, type ImageType } from '../../shared/image/image-type';
import { cameraJpeg, jpegWithExifThumbnail, truncate } from '../helpers/fixtures';

const dir = mkdtempSync(path.join(tmpdir(), 'image-type-'));

async function complete(type: ImageType, data: Buffer): Promise<boolean> {
  const file = path.join(dir, `${Math.random()}`);
  writeFileSync(file, data);
  const handle = await open(file, 'r');
  try {
    return await isComplete(type, handle, data.length);
  } finally {
    await handle.close();
  }
}

describe('image type by magic bytes', () => {
  const base = sharp({ create: { width: 64, height: 48, channels: 3, background: '#468' } });

  it('knows each supported format by its first bytes, whatever the name', async () => {
    expect(sniffImageType(await base.clone().jpeg().toBuffer())).toBe('jpeg');
    expect(sniffImageType(await base.clone().png().toBuffer())).toBe('png');
    expect(sniffImageType(await base.clone().tiff().toBuffer())).toBe('tiff');
    expect(sniffImageType(await base.clone().webp().toBuffer())).toBe('webp');
    expect(sniffImageType(await base.clone().heif({ compression: 'av1' }).toBuffer())).toBe('avif');
    expect(sniffImageType(Buffer.from('GIF89a....'))).toBeNull();
    expect(sniffImageType(Buffer.from('%PDF-1.7'))).toBeNull();
    expect(sniffImageType(Buffer.alloc(0))).toBeNull();
  });

  it('tells AV1-coded AVIF from HEVC-coded HEIC by the major brand, and for generic brands by the compatible ones', () => {
    const ftyp = (major: string, ...compatible: string[]) => {
      const box = Buffer.alloc(16 + 4 * compatible.length);
      box.writeUInt32BE(box.length, 0);
      box.write(`ftyp${major}`, 4, 'latin1');
      box.write(compatible.join(''), 16, 'latin1');
      return Buffer.concat([box, Buffer.from('\0\0\0\x08meta', 'latin1')]);
    };
    expect(sniffImageType(ftyp('avif', 'avif', 'mif1', 'miaf'))).toBe('avif');
    expect(sniffImageType(ftyp('avis', 'avis', 'msf1'))).toBe('avif');
    expect(sniffImageType(ftyp('heic', 'mif1', 'heic'))).toBe('heic');
    expect(sniffImageType(ftyp('heix', 'mif1', 'heix'))).toBe('heic');
    expect(sniffImageType(ftyp('mif1', 'mif1', 'avif', 'miaf'))).toBe('avif');
    expect(sniffImageType(ftyp('msf1', 'msf1', 'avis'))).toBe('avif');
    expect(sniffImageType(ftyp('mif1', 'mif1', 'heic', 'avif'))).toBe('heic');
    expect(sniffImageType(ftyp('mif1', 'mif1', 'miaf', 'MiHB', 'hevc', 'avif'))).toBe('heic');
    expect(sniffImageType(ftyp('mif1', 'mif1', 'miaf'))).toBe('heic');
    expect(sniffImageType(ftyp('isom', 'isom', 'mp42'))).toBeNull();
    expect(sniffImageType(ftyp('qt  '))).toBeNull();
  });

  it('tells a whole file from one cut short', async () => {
    const jpeg = await cameraJpeg({ width: 400, height: 300 });
    expect(await complete('jpeg', jpeg)).toBe(true);
    expect(await complete('jpeg', Buffer.concat([jpeg, Buffer.alloc(300)]))).toBe(true);
    expect(await complete('jpeg', truncate(jpeg))).toBe(false);
    const png = await base.clone().png().toBuffer();
    expect(await complete('png', png)).toBe(true);
    expect(await complete('png', png.subarray(0, png.length - 12))).toBe(false);
    const webp = await base.clone().webp().toBuffer();
    expect(await complete('webp', webp)).toBe(true);
    expect(await complete('webp', webp.subarray(0, webp.length - 10))).toBe(false);
    const avif = await base.clone().heif({ compression: 'av1' }).toBuffer();
    expect(await complete('avif', avif)).toBe(true);
    expect(await complete('avif', avif.subarray(0, avif.length - 5))).toBe(false);
    expect(await complete('heic', avif)).toBe(true);
    expect(await complete('heic', avif.subarray(0, avif.length - 5))).toBe(false);
    const tiff = await base.clone().tiff().toBuffer();
    expect(await complete('tiff', tiff)).toBe(true);
    expect(await complete('tiff', tiff.subarray(0, 6))).toBe(false);
  });
});

describe('a JPEG is complete when its own EOI arrives', () => {
  /** Deterministic bytes full of FF D8 and FF D9 pairs, like the MP4 a phone appends to a motion photo. */
  function noise(length: number): Buffer {
    const bytes = Buffer.alloc(length);
    let state = 12345;
    for (let i = 0; i < length; i++) {
      state = (state * 1103515245 + 12345) & 0x7fffffff;
      bytes[i] = state >> 23;
    }
    for (let i = 0; i + 4 < length; i += 997) bytes.set([0xff, 0xd9, 0xff, 0xd8], i);
    return bytes;
  }

  it('accepts whatever follows the EOI: one stray byte, megabytes of trailer, a motion photo\'s video', async () => {
    const jpeg = await cameraJpeg({ width: 400, height: 300, make: 'OLYMPUS' });
    expect(await complete('jpeg', Buffer.concat([jpeg, Buffer.from([0x0a])]))).toBe(true);
    expect(await complete('jpeg', Buffer.concat([jpeg, noise(3 * 1024 * 1024)]))).toBe(true);
    const mp4 = Buffer.concat([Buffer.from('\0\0\0\x18ftypmp42\0\0\0\0mp42isom', 'latin1'), noise(2 * 1024 * 1024)]);
    expect(await complete('jpeg', Buffer.concat([jpeg, mp4]))).toBe(true);
  });

  it('refuses one cut off before its EOI, even when an EXIF thumbnail\'s FF D9 ends the file', async () => {
    const { jpeg, thumbnailEnd } = await jpegWithExifThumbnail();
    expect(jpeg.subarray(thumbnailEnd - 2, thumbnailEnd)).toEqual(Buffer.from([0xff, 0xd9]));
    expect(await complete('jpeg', jpeg)).toBe(true);
    expect(await complete('jpeg', jpeg.subarray(0, thumbnailEnd))).toBe(false);
    expect(await complete('jpeg', Buffer.concat([jpeg.subarray(0, thumbnailEnd), Buffer.alloc(64)]))).toBe(false);
    expect(await complete('jpeg', jpeg.subarray(0, jpeg.length - 2))).toBe(false);
    expect(await complete('jpeg', jpeg.subarray(0, jpeg.length - 1))).toBe(false);
  });

  it('follows a progressive JPEG through all its scans, and refuses it cut in any of them', async () => {
    const progressive = await sharp((await cameraJpeg({ width: 800, height: 600 }))).jpeg({ progressive: true }).toBuffer();
    const scans = progressive.toString('latin1').split('\xff\xda').length - 1;
    expect(scans).toBeGreaterThan(2);
    expect(await complete('jpeg', progressive)).toBe(true);
    expect(await complete('jpeg', Buffer.concat([progressive, Buffer.from([0x0a])]))).toBe(true);
    for (const fraction of [0.05, 0.3, 0.6, 0.9, 0.999]) expect(await complete('jpeg', truncate(progressive, fraction))).toBe(false);
  });

  it('refuses a file that is only a JPEG header, or no JPEG at all', async () => {
    const header = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xd9]);
    expect(await complete('jpeg', header)).toBe(false);
    expect(await complete('jpeg', Buffer.from([0xff, 0xd8]))).toBe(false);
    expect(await complete('jpeg', Buffer.alloc(0))).toBe(false);
  });

  it('reads a large file in chunks of at most 1 MiB, never whole', async () => {
    const jpeg = await cameraJpeg({ width: 4000, height: 3000, quality: 100 });
    const data = Buffer.concat([jpeg, noise(4 * 1024 * 1024)]);
    expect(jpeg.length).toBeGreaterThan(1024 * 1024);
    const file = path.join(dir, 'large.jpg');
    writeFileSync(file, data);
    const handle = await open(file, 'r');
    const reads: number[] = [];
    const spy = {
      read: (buffer: Buffer, offset: number, length: number, position: number) => {
        reads.push(length);
        return handle.read(buffer, offset, length, position);
      },
    } as unknown as FileHandle;
    try {
      expect(await isComplete('jpeg', spy, data.length)).toBe(true);
    } finally {
      await handle.close();
    }
    expect(Math.max(...reads)).toBeLessThanOrEqual(1024 * 1024);
    // The trailer after the EOI is never read.
    expect(reads.reduce((a, b) => a + b, 0)).toBeLessThan(jpeg.length + 1024 * 1024);
  });
});
