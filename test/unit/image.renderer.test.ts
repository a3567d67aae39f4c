import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import exifr from 'exifr';
import sharp from 'sharp';
import { isRetriable } from '../../shared/errors';
import type { RenditionConfig } from '../../shared/config/config.schema';
import { renderImage } from '../../services/processor/image.renderer';
import { cameraJpeg, pixelBombPng } from '../helpers/fixtures';
import { heicFromJpeg } from '../helpers/heic';

const renditions: RenditionConfig[] = [
  { name: 'thumb', width: 256, height: 256, fit: 'cover', position: 'attention', format: 'webp', quality: 80, metadata: 'strip' },
  { name: 'preview', width: 1280, height: 1280, fit: 'inside', format: 'jpeg', position: 'centre', quality: 85, metadata: 'keep' },
];
const limits = { maxPixels: 100_000_000, failOn: 'error' as const };
const dir = mkdtempSync(path.join(tmpdir(), 'renderer-'));

function saved(name: string, data: Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, data);
  return file;
}

describe('rendering', () => {
  it('writes every rendition at its size and format', async () => {
    const result = await renderImage({ input: await cameraJpeg({ width: 3000, height: 2000 }), type: 'jpeg', renditions, limits });
    expect([result.width, result.height]).toEqual([3000, 2000]);
    expect(result.outputs.map((o) => [o.name, o.width, o.height, o.format, o.contentType])).toEqual([
      ['thumb', 256, 256, 'webp', 'image/webp'],
      ['preview', 1280, 853, 'jpeg', 'image/jpeg'],
    ]);
    for (const output of result.outputs) {
      expect(await sharp(output.data).metadata()).toMatchObject({ format: output.format, width: output.width, height: output.height });
    }
  });

  describe('HEVC-coded HEIC, as iPhones write it, which the prebuilt sharp cannot decode', () => {
    let heic: Buffer;
    beforeAll(async () => {
      heic = await heicFromJpeg(await cameraJpeg({ width: 2016, height: 1512 }));
    });

    it('decodes it into every rendition', async () => {
      await expect(sharp(heic).raw().toBuffer()).rejects.toThrow();
      const result = await renderImage({ input: heic, type: 'heic', renditions, limits });
      expect([result.width, result.height]).toEqual([2016, 1512]);
      expect(result.outputs.map((o) => [o.name, o.width, o.height])).toEqual([['thumb', 256, 256], ['preview', 1280, 960]]);
      const preview = await sharp(result.outputs[1].data).stats();
      // Real pixels came through, not a blank frame.
      expect(Math.max(...preview.channels.map((c) => c.stdev))).toBeGreaterThan(10);
    });

    it('decodes one handed over as a file path', async () => {
      const result = await renderImage({ input: saved('iphone.heic', heic), type: 'heic', renditions, limits });
      expect(result.outputs.map((o) => [o.name, o.width, o.height])).toEqual([['thumb', 256, 256], ['preview', 1280, 960]]);
    });

    it('keeps the event loop turning while it decodes', async () => {
      let last = performance.now();
      let longestStall = 0;
      const ticker = setInterval(() => {
        const now = performance.now();
        longestStall = Math.max(longestStall, now - last);
        last = now;
      }, 5);
      const started = performance.now();
      await renderImage({ input: heic, type: 'heic', renditions, limits });
      const took = performance.now() - started;
      clearInterval(ticker);
      // On the main thread the loop stalls for the whole WASM decode, most of `took`.
      expect(longestStall).toBeLessThan(took / 2);
    });

    it('refuses one over the pixel limit, and a damaged one, with their codes', async () => {
      await expect(renderImage({ input: heic, type: 'heic', renditions, limits: { ...limits, maxPixels: 2_000_000 } })).rejects.toMatchObject({ code: 'PIXEL_LIMIT' });
      const damaged = Buffer.concat([heic.subarray(0, 600), Buffer.alloc(4000, 0x42)]);
      await expect(renderImage({ input: damaged, type: 'heic', renditions, limits })).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    });
  });

  it('renders an original handed over as a file path just as from its bytes', async () => {
    const jpeg = await cameraJpeg({ width: 3000, height: 2000, orientation: 6 });
    const fromBytes = await renderImage({ input: jpeg, type: 'jpeg', renditions, limits });
    const fromPath = await renderImage({ input: saved('camera.jpg', jpeg), type: 'jpeg', renditions, limits });
    expect([fromPath.width, fromPath.height]).toEqual([2000, 3000]);
    expect(fromPath.outputs.map((o) => [o.name, o.width, o.height])).toEqual(fromBytes.outputs.map((o) => [o.name, o.width, o.height]));
    expect(fromPath.outputs[1].data.equals(fromBytes.outputs[1].data)).toBe(true);
  });

  it('decodes AVIF through sharp, labelled AVIF or, as originals stored before AVIF had a type of its own, HEIC', async () => {
    const avif = await sharp(await cameraJpeg({ width: 900, height: 600 })).avif().toBuffer();
    for (const input of [avif, saved('photo.avif', avif)]) {
      for (const type of ['avif', 'heic'] as const) {
        const result = await renderImage({ input, type, renditions, limits });
        expect([type, result.width, result.height]).toEqual([type, 900, 600]);
      }
    }
  });

  it('leaves an original whose path cannot be read to be retried, instead of calling it corrupt', async () => {
    const missing = renderImage({ input: path.join(dir, 'gone.jpg'), type: 'jpeg', renditions, limits });
    await expect(missing).rejects.toMatchObject({ code: 'ENOENT' });
    expect(isRetriable(await missing.catch((e: unknown) => e))).toBe(true);
  });

  it('never enlarges a small image', async () => {
    const result = await renderImage({ input: await cameraJpeg({ width: 200, height: 100 }), type: 'jpeg', renditions, limits });
    expect(result.outputs.map((o) => [o.width, o.height])).toEqual([[100, 100], [200, 100]]);
  });

  it('crops to a pixel box, a percent box, or a smart crop of a given aspect', async () => {
    const input = await cameraJpeg({ width: 3000, height: 2000 });
    const preview = async (crop: Parameters<typeof renderImage>[0]['crop']) =>
      (await renderImage({ input, type: 'jpeg', renditions, limits, crop })).outputs[1];
    expect(await preview({ box: { left: 100, top: 100, width: 1000, height: 500, unit: 'px' } })).toMatchObject({ width: 1000, height: 500 });
    expect(await preview({ box: { left: 50, top: 0, width: 50, height: 100, unit: 'percent' } })).toMatchObject({ width: 960, height: 1280 });
    expect(await preview({ smart: { aspectRatio: 1 } })).toMatchObject({ width: 1280, height: 1280 });
  });

  it('copies camera, time and creator into "keep" renditions, never GPS', async () => {
    const input = await cameraJpeg({ width: 800, height: 600, make: 'Canon', gps: { lat: 1, lon: 2 } });
    const result = await renderImage({ input, type: 'jpeg', renditions, limits, keptExif: { IFD0: { Make: 'Canon' }, IFD2: {} } });
    const kept = await exifr.parse(result.outputs[1].data, { gps: true });
    expect(kept.Make).toBe('Canon');
    expect(kept.latitude).toBeUndefined();
    const stripped = await exifr.parse(result.outputs[0].data).catch(() => undefined);
    expect(stripped?.Make).toBeUndefined();
  });

  it('refuses an image over the pixel limit before decoding it, and data that is not an image', async () => {
    await expect(renderImage({ input: pixelBombPng(), type: 'png', renditions, limits })).rejects.toMatchObject({ code: 'PIXEL_LIMIT', retriable: false });
    const garbage = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), Buffer.alloc(2000, 7), Buffer.from([0xff, 0xd9])]);
    await expect(renderImage({ input: garbage, type: 'jpeg', renditions, limits })).rejects.toMatchObject({ code: 'CORRUPT_IMAGE', retriable: false });
  });
});
