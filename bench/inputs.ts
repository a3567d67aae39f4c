import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';

export interface InputSet {
  name: string;
  files: string[];
  megapixels: number;
  meanBytes: number;
}

const TILE = (() => {
  const tile = Buffer.alloc(32 * 24 * 3);
  for (let i = 0; i < tile.length; i++) tile[i] = (i * 37 + ((i * i) % 251)) & 0xff;
  return tile;
})();

function exif(seed: number) {
  const lat = 48 + seed / 100;
  return {
    IFD0: { Make: 'Canon', Model: 'EOS R5', Software: 'bench' },
    IFD2: { DateTimeOriginal: `2024:05:${String(1 + (seed % 28)).padStart(2, '0')} 12:00:00`, OffsetTimeOriginal: '+02:00', ExposureTime: '1/250', FNumber: '28/10', ISOSpeedRatings: '400' },
    IFD3: { GPSLatitudeRef: 'N', GPSLatitude: `${Math.floor(lat)}/1 ${Math.round((lat % 1) * 60)}/1 0/1`, GPSLongitudeRef: 'E', GPSLongitude: '11/1 34/1 0/1' },
  };
}

/**
 * A camera-like image: smooth structure plus sensor-like gaussian noise, which is what makes real
 * camera JPEGs large (about 0.6-0.8 bytes a pixel at high quality).
 */
async function cameraLike(megapixels: number, sigma: number, seed: number, format: 'jpeg' | 'png', quality: number): Promise<Buffer> {
  const width = Math.round(Math.sqrt(megapixels * 1e6 * 1.5));
  const height = Math.round(width / 1.5);
  const raw = { width, height, channels: 3 as const };
  const tile = Buffer.from(TILE.map((v, i) => (v + seed * 13 + i) & 0xff));
  const base = await sharp(tile, { raw: { width: 32, height: 24, channels: 3 } }).resize(width, height, { kernel: 'cubic' }).raw().toBuffer();
  const noise = await sharp({ create: { ...raw, background: { r: 128, g: 128, b: 128 }, noise: { type: 'gaussian', mean: 128, sigma } } }).raw().toBuffer();
  const image = sharp(base, { raw }).composite([{ input: noise, raw, blend: 'soft-light' }]).withExif(exif(seed));
  return format === 'jpeg' ? image.jpeg({ quality }).toBuffer() : image.png({ compressionLevel: 6 }).toBuffer();
}

/** Generates the benchmark inputs once into `dir` and reuses them on later runs. */
export async function prepareInputs(dir: string, log: (line: string) => void): Promise<InputSet[]> {
  const specs = [
    { name: 'JPEG 24 MP', megapixels: 24, sigma: 60, format: 'jpeg' as const, quality: 96, count: 4 },
    { name: 'JPEG 12 MP', megapixels: 12, sigma: 45, format: 'jpeg' as const, quality: 92, count: 4 },
    { name: 'PNG 20 MP', megapixels: 20, sigma: 20, format: 'png' as const, quality: 0, count: 2 },
  ];
  mkdirSync(dir, { recursive: true });
  const sets: InputSet[] = [];
  for (const spec of specs) {
    const files: string[] = [];
    for (let i = 0; i < spec.count; i++) {
      const file = path.join(dir, `${spec.format}-${spec.megapixels}mp-s${spec.sigma}-q${spec.quality}-${i}.${spec.format === 'jpeg' ? 'jpg' : 'png'}`);
      if (!existsSync(file)) {
        log(`generating ${path.basename(file)}`);
        writeFileSync(file, await cameraLike(spec.megapixels, spec.sigma, i + 1, spec.format, spec.quality));
      }
      files.push(file);
    }
    const meanBytes = files.reduce((n, f) => n + readFileSync(f).length, 0) / files.length;
    sets.push({ name: spec.name, files, megapixels: spec.megapixels, meanBytes });
  }
  return sets;
}

/**
 * The same picture as new bytes (so a new image id): a JPEG comment segment right after SOI, or a
 * PNG text chunk before IEND, carrying `n`.
 */
export function unique(image: Buffer, n: number): Buffer {
  const text = Buffer.from(`bench ${n} ${process.pid}`);
  if (image[0] === 0xff && image[1] === 0xd8) {
    const header = Buffer.from([0xff, 0xfe, (text.length + 2) >> 8, (text.length + 2) & 0xff]);
    return Buffer.concat([image.subarray(0, 2), header, text, image.subarray(2)]);
  }
  const body = Buffer.concat([Buffer.from('tEXtBench\0', 'latin1'), text]);
  const chunk = Buffer.alloc(body.length + 8);
  chunk.writeUInt32BE(body.length - 4, 0);
  body.copy(chunk, 4);
  chunk.writeUInt32BE(crc32(body), chunk.length - 4);
  const iend = image.length - 12;
  return Buffer.concat([image.subarray(0, iend), chunk, image.subarray(iend)]);
}

/** A valid JPEG of about `bytes`: a small image behind comment segments (FTP-ingest throughput only). */
export async function paddedJpeg(bytes: number): Promise<Buffer> {
  const small = await sharp({ create: { width: 64, height: 64, channels: 3, background: '#777' } }).jpeg().toBuffer();
  const segment = Buffer.alloc(65535 + 2, 0x20);
  segment[0] = 0xff;
  segment[1] = 0xfe;
  segment.writeUInt16BE(65535, 2);
  const count = Math.max(1, Math.floor((bytes - small.length) / segment.length));
  return Buffer.concat([small.subarray(0, 2), ...Array(count).fill(segment), small.subarray(2)]);
}
