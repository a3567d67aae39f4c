import { mkdtempSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { isComplete, sniffImageType, type ImageType } from '../../shared/image/image-type';
import { cameraJpeg, truncate } from '../helpers/fixtures';

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
    expect(sniffImageType(await base.clone().heif({ compression: 'av1' }).toBuffer())).toBe('heic');
    expect(sniffImageType(Buffer.from('GIF89a....'))).toBeNull();
    expect(sniffImageType(Buffer.from('%PDF-1.7'))).toBeNull();
    expect(sniffImageType(Buffer.alloc(0))).toBeNull();
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
    const heif = await base.clone().heif({ compression: 'av1' }).toBuffer();
    expect(await complete('heic', heif)).toBe(true);
    expect(await complete('heic', heif.subarray(0, heif.length - 5))).toBe(false);
    const tiff = await base.clone().tiff().toBuffer();
    expect(await complete('tiff', tiff)).toBe(true);
    expect(await complete('tiff', tiff.subarray(0, 6))).toBe(false);
  });
});
