import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

export interface CameraJpegOptions {
  width?: number;
  height?: number;
  make?: string;
  model?: string;
  serial?: string;
  /** "YYYY:MM:DD HH:MM:SS" as cameras write it. */
  dateTimeOriginal?: string;
  offsetTimeOriginal?: string;
  gps?: { lat: number; lon: number; alt?: number };
  orientation?: number;
  keywords?: string[];
  caption?: string;
  /** Changes the pixels so two fixtures never share an id by accident. */
  seed?: number;
  quality?: number;
}

/** Degrees as the EXIF rational triple "d/1 m/1 s*10000/10000". */
function dms(value: number): string {
  const abs = Math.abs(value);
  const d = Math.floor(abs);
  const m = Math.floor((abs - d) * 60);
  const s = (abs - d - m / 60) * 3600;
  return `${d}/1 ${m}/1 ${Math.round(s * 10000)}/10000`;
}

function xmp(keywords: string[], caption: string | undefined): string {
  const subject = keywords.length ? `<dc:subject><rdf:Bag>${keywords.map((k) => `<rdf:li>${k}</rdf:li>`).join('')}</rdf:Bag></dc:subject>` : '';
  const description = caption ? `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${caption}</rdf:li></rdf:Alt></dc:description>` : '';
  return `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:dc="http://purl.org/dc/elements/1.1/">${subject}${description}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
}

/** A camera-like JPEG: gradient pixels, EXIF camera/time/GPS, optional XMP keywords and caption. */
export async function cameraJpeg(options: CameraJpegOptions = {}): Promise<Buffer> {
  const width = options.width ?? 1600;
  const height = options.height ?? 1200;
  const seed = options.seed ?? 0;
  // A small noisy tile scaled up gives real image structure (edges for attention crop, non-trivial JPEG size).
  const tile = Buffer.alloc(32 * 24 * 3);
  for (let i = 0; i < tile.length; i++) tile[i] = (i * 37 + seed * 101 + ((i * i) % 251)) & 0xff;
  const ifd0: Record<string, string> = {};
  if (options.make) ifd0.Make = options.make;
  if (options.model) ifd0.Model = options.model;
  const exif: Record<string, string> = {};
  if (options.dateTimeOriginal) exif.DateTimeOriginal = options.dateTimeOriginal;
  if (options.offsetTimeOriginal) exif.OffsetTimeOriginal = options.offsetTimeOriginal;
  if (options.serial) exif.BodySerialNumber = options.serial;
  const gps: Record<string, string> = {};
  if (options.gps) {
    gps.GPSLatitudeRef = options.gps.lat < 0 ? 'S' : 'N';
    gps.GPSLatitude = dms(options.gps.lat);
    gps.GPSLongitudeRef = options.gps.lon < 0 ? 'W' : 'E';
    gps.GPSLongitude = dms(options.gps.lon);
    if (options.gps.alt !== undefined) {
      gps.GPSAltitudeRef = options.gps.alt < 0 ? '1' : '0';
      gps.GPSAltitude = `${Math.round(Math.abs(options.gps.alt) * 100)}/100`;
    }
  }
  let image = sharp(tile, { raw: { width: 32, height: 24, channels: 3 } })
    .resize(width, height, { kernel: 'cubic' })
    .withExif({ IFD0: ifd0, IFD2: exif, IFD3: gps });
  if (options.orientation) image = image.withMetadata({ orientation: options.orientation });
  if (options.keywords?.length || options.caption) image = image.withXmp(xmp(options.keywords ?? [], options.caption));
  const jpeg = await image.jpeg({ quality: options.quality ?? 90 }).toBuffer();
  return options.gps?.alt !== undefined && options.gps.alt < 0 ? markBelowSeaLevel(jpeg) : jpeg;
}

/**
 * libvips writes GPSAltitudeRef as 0 whatever it is given, so the fixture sets the byte itself:
 * the GPS IFD entry is tag 0x0005, type BYTE, count 1, value in the entry's first value byte.
 */
function markBelowSeaLevel(jpeg: Buffer): Buffer {
  const patterns = [
    Buffer.from([0x05, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00]), // little-endian TIFF
    Buffer.from([0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01]), // big-endian TIFF
  ];
  for (const pattern of patterns) {
    const at = jpeg.indexOf(pattern);
    if (at >= 0) {
      const out = Buffer.from(jpeg);
      out[at + 8] = 1;
      return out;
    }
  }
  throw new Error('GPSAltitudeRef entry not found');
}

export async function plainPng(width = 320, height = 240, seed = 0): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: { r: seed & 0xff, g: 90, b: 160 } } }).png().toBuffer();
}

/** The first 60% of a JPEG: what a camera that lost its link leaves behind. */
export function truncate(image: Buffer, fraction = 0.6): Buffer {
  return image.subarray(0, Math.floor(image.length * fraction));
}

function pngChunk(type: string, data: Buffer): Buffer {
  const length = Buffer.alloc(4);
  length.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([length, body, crc]);
}

function crc32(data: Buffer): number {
  let crc = 0xffffffff;
  for (const byte of data) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

/** A tiny, well-formed PNG that declares width x height pixels: a decompression bomb's header. */
export function pixelBombPng(width = 50_000, height = 50_000): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', deflateSync(Buffer.alloc(1024))),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}
