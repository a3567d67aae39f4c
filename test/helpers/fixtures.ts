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
  /** EXIF DateTimeDigitized, which exifr calls CreateDate. */
  dateTimeDigitized?: string;
  /** XMP photoshop:DateCreated and xmp:CreateDate, ISO 8601 as XMP writes them. */
  xmpDateCreated?: string;
  xmpCreateDate?: string;
  /** IPTC IIM DateCreated "YYYYMMDD" and TimeCreated "HHMMSS±HHMM", in a Photoshop APP13 segment. */
  iptcDateCreated?: string;
  iptcTimeCreated?: string;
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

function xmp(options: CameraJpegOptions): string {
  const keywords = options.keywords ?? [];
  const subject = keywords.length ? `<dc:subject><rdf:Bag>${keywords.map((k) => `<rdf:li>${k}</rdf:li>`).join('')}</rdf:Bag></dc:subject>` : '';
  const description = options.caption ? `<dc:description><rdf:Alt><rdf:li xml:lang="x-default">${options.caption}</rdf:li></rdf:Alt></dc:description>` : '';
  const dateCreated = options.xmpDateCreated ? `<photoshop:DateCreated>${options.xmpDateCreated}</photoshop:DateCreated>` : '';
  const createDate = options.xmpCreateDate ? `<xmp:CreateDate>${options.xmpCreateDate}</xmp:CreateDate>` : '';
  const namespaces = 'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/" xmlns:xmp="http://ns.adobe.com/xap/1.0/"';
  return `<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?><x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" ${namespaces}>${subject}${description}${dateCreated}${createDate}</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`;
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
  if (options.dateTimeDigitized) exif.DateTimeDigitized = options.dateTimeDigitized;
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
  if (options.keywords?.length || options.caption || options.xmpDateCreated || options.xmpCreateDate) image = image.withXmp(xmp(options));
  let jpeg = await image.jpeg({ quality: options.quality ?? 90 }).toBuffer();
  if (options.gps?.alt !== undefined && options.gps.alt < 0) jpeg = markBelowSeaLevel(jpeg);
  const iptc: Record<number, string> = {};
  if (options.iptcDateCreated) iptc[55] = options.iptcDateCreated;
  if (options.iptcTimeCreated) iptc[60] = options.iptcTimeCreated;
  return Object.keys(iptc).length ? insertSegments(jpeg, iptcSegment(iptc)) : jpeg;
}

/** A JPEG marker segment: FF, marker, 2-byte length (itself included), payload. */
export function jpegSegment(marker: number, payload: Buffer): Buffer {
  const header = Buffer.from([0xff, marker, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

/** The segments placed right after SOI, before whatever the JPEG already carries. */
export function insertSegments(jpeg: Buffer, ...segments: Buffer[]): Buffer {
  return Buffer.concat([jpeg.subarray(0, 2), ...segments, jpeg.subarray(2)]);
}

/** IPTC IIM records (record 2, dataset number → value) in a Photoshop 3.0 APP13 image resource 0x0404. */
function iptcSegment(records: Record<number, string>): Buffer {
  const datasets = Object.entries(records).map(([dataset, value]) => {
    const header = Buffer.from([0x1c, 0x02, Number(dataset), 0, 0]);
    header.writeUInt16BE(Buffer.byteLength(value, 'latin1'), 3);
    return Buffer.concat([header, Buffer.from(value, 'latin1')]);
  });
  let data = Buffer.concat(datasets);
  const size = Buffer.alloc(4);
  size.writeUInt32BE(data.length);
  if (data.length % 2) data = Buffer.concat([data, Buffer.alloc(1)]);
  // 8BIM, resource id, empty Pascal name padded to even length, size, data padded to even length.
  const resource = Buffer.concat([Buffer.from('8BIM', 'latin1'), Buffer.from([0x04, 0x04, 0, 0]), size, data]);
  return jpegSegment(0xed, Buffer.concat([Buffer.from('Photoshop 3.0\0', 'latin1'), resource]));
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

/** A JPEG whose APP1 EXIF carries a JPEG thumbnail (IFD1) as the segment's last bytes, so the thumbnail's FFD9 closes the segment. */
export async function jpegWithExifThumbnail(width = 400, height = 300): Promise<{ jpeg: Buffer; thumbnailEnd: number }> {
  const base = sharp({ create: { width, height, channels: 3, background: '#468' } });
  const main = await base.clone().jpeg().toBuffer();
  const thumbnail = await base.clone().resize(160, 120).jpeg().toBuffer();
  // Little-endian TIFF: IFD0 with no entries, then IFD1 with JPEGInterchangeFormat (0x0201) and its length (0x0202).
  const tiff = Buffer.alloc(44);
  tiff.write('II*\0', 0, 'latin1');
  tiff.writeUInt32LE(8, 4);
  tiff.writeUInt16LE(0, 8);
  tiff.writeUInt32LE(14, 10);
  tiff.writeUInt16LE(2, 14);
  [[0x0201, 44], [0x0202, thumbnail.length]].forEach(([tag, value], i) => {
    const entry = 16 + i * 12;
    tiff.writeUInt16LE(tag, entry);
    tiff.writeUInt16LE(4, entry + 2); // LONG
    tiff.writeUInt32LE(1, entry + 4);
    tiff.writeUInt32LE(value, entry + 8);
  });
  tiff.writeUInt32LE(0, 40);
  const app1 = jpegSegment(0xe1, Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), tiff, thumbnail]));
  return { jpeg: insertSegments(main, app1), thumbnailEnd: 2 + app1.length };
}

export interface CiffRecord {
  tag: number;
  data: Buffer;
}

/** A CIFF heap: the records' data, then the directory (count, 10-byte entries of tag, size, offset), then the directory's offset. */
export function ciffHeap(records: CiffRecord[], littleEndian = true): Buffer {
  const u16 = (n: number) => Buffer.from(littleEndian ? [n & 0xff, n >> 8] : [n >> 8, n & 0xff]);
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    if (littleEndian) b.writeUInt32LE(n);
    else b.writeUInt32BE(n);
    return b;
  };
  let offset = 0;
  const entries = records.map((record) => {
    const entry = Buffer.concat([u16(record.tag), u32(record.data.length), u32(offset)]);
    offset += record.data.length;
    return entry;
  });
  return Buffer.concat([...records.map((r) => r.data), u16(records.length), ...entries, u32(offset)]);
}

/** An APP0 segment holding a CIFF file: byte order, header length 26, "HEAPJPGM", version, reserved, then the root heap. */
export function ciffSegment(root: Buffer, littleEndian = true): Buffer {
  const header = Buffer.alloc(26);
  header.write(littleEndian ? 'II' : 'MM', 0, 'latin1');
  if (littleEndian) header.writeUInt32LE(26, 2);
  else header.writeUInt32BE(26, 2);
  header.write('HEAPJPGM', 6, 'latin1');
  return jpegSegment(0xe0, Buffer.concat([header, root]));
}

/**
 * A JPEG as the Canon PowerShot A5 (1998) wrote it: no EXIF, a JFIF APP0, then an APP0 holding a
 * CIFF heap whose Make/Model record (0x080a) sits in the ImageProps sub-heap (0x300a).
 */
export async function canonCiffJpeg(makeModel = 'Canon\0Canon PowerShot A5\0'): Promise<Buffer> {
  const jpeg = await sharp({ create: { width: 320, height: 240, channels: 3, background: '#864' } }).jpeg().toBuffer();
  const jfif = Buffer.from([...Buffer.from('JFIF\0', 'latin1'), 1, 1, 0, 0, 1, 0, 1, 0, 0]);
  const imageProps = ciffHeap([
    { tag: 0x0816, data: Buffer.from('AUT_0001.JPG\0', 'latin1') }, // OriginalFileName
    { tag: 0x080a, data: Buffer.from(makeModel, 'latin1') },
  ]);
  const root = ciffHeap([
    { tag: 0x0805, data: Buffer.alloc(32) }, // CanonFileDescription
    { tag: 0x300a, data: imageProps },
  ]);
  return insertSegments(jpeg, jpegSegment(0xe0, jfif), ciffSegment(root));
}
