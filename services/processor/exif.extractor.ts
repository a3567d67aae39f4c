import { open, readFile } from 'node:fs/promises';
import exifr from 'exifr';
import type { GeoPoint, ImageProcessedEvent } from '../../shared/contracts/events';
import { ciffCamera } from '../../shared/image/ciff';
import { readHeifMetadataItems } from '../../shared/image/heif-items';
import type { ImageType } from '../../shared/image/image-type';

/** What the metadata contributes to `images.processed`. */
export type ExtractedMetadata = Pick<
  ImageProcessedEvent,
  'capturedAt' | 'camera' | 'gps' | 'orientation' | 'exposure' | 'keywords' | 'caption' | 'title' | 'creator' | 'copyright'
>;

type Tags = Record<string, unknown>;

const EXIFR_OPTIONS = {
  // exifr reads only TIFF/EXIF/GPS by default; analysts search IPTC/XMP keywords and captions too.
  tiff: true,
  exif: true,
  gps: true,
  iptc: true,
  xmp: true,
  icc: false,
  jfif: false,
  ihdr: false,
  interop: false,
  // The thumbnail's IFD repeats IFD0's tags with the thumbnail's values.
  ifd1: false,
  // Revived dates read the camera's wall clock as UTC; the raw strings keep what the camera meant.
  reviveValues: false,
  translateValues: false,
  translateKeys: true,
  // Merged, IPTC DateCreated and XMP photoshop:DateCreated share a key, as do EXIF and XMP CreateDate:
  // one block per segment (XMP per namespace prefix) lets the capture time pick by source.
  mergeOutput: false,
  // A path is read in 64 KiB chunks up to the first scan; the default 5 stops short of metadata
  // placed after a large ICC profile or Photoshop block, which a Buffer would have shown.
  chunkLimit: 64,
  // Not `pick`: it drops the derived latitude/longitude.
};

/** CIFF sits right after the JFIF APP0; this much of a file's start holds it with room to spare. */
const CIFF_HEAD_BYTES = 128 * 1024;

function text(value: unknown): string | null {
  if (typeof value === 'string') return value.replace(/\0+$/, '').trim() || null;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value)) return text(value[0]);
  // XMP language alternatives parse to { lang, value }.
  if (value && typeof value === 'object' && 'value' in value) return text((value as { value: unknown }).value);
  return null;
}

function number(value: unknown): number | null {
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  if (Array.isArray(value)) return number(value[0]);
  if (typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value))) return Number(value);
  return null;
}

function list(value: unknown): string[] {
  const items = Array.isArray(value) ? value : value === undefined || value === null ? [] : [value];
  return [...new Set(items.map(text).filter((v): v is string => v !== null))];
}

/** A wall-clock time as `capturedAt` writes it, or null when a field is out of range ("0000:00:00" and the like). */
function wallClock(parts: { y: string; mo: string; d: string; h: string; mi: string; s: string; fraction?: string; zone?: string | null }): string | null {
  const { y, mo, d, h, mi, s } = parts;
  if (y === '0000' || !inRange(mo, 1, 12) || !inRange(d, 1, 31) || !inRange(h, 0, 23) || !inRange(mi, 0, 59) || !inRange(s, 0, 60)) return null;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${parts.fraction ?? ''}${zoneOf(parts.zone) ?? ''}`;
}

function inRange(value: string, min: number, max: number): boolean {
  return Number(value) >= min && Number(value) <= max;
}

/** "+02:00", "+0200" → "+02:00"; "Z" → "+00:00"; anything else → null. */
function zoneOf(value: string | null | undefined): string | null {
  if (value === 'Z') return '+00:00';
  const match = value?.match(/^([+-])(\d{2}):?(\d{2})$/);
  return match && Number(match[2]) <= 14 && Number(match[3]) <= 59 ? `${match[1]}${match[2]}:${match[3]}` : null;
}

/**
 * EXIF "2024:05:01 12:34:56" + "+02:00" → "2024-05-01T12:34:56+02:00"; no offset → no zone. Also
 * takes the XMP form ("2024-05-01T12:34:56.25+02:00"), which exifr puts in the EXIF block for exif:DateTimeOriginal.
 */
export function captureTime(dateTime: unknown, offset: unknown, subSeconds: unknown): string | null {
  const match = text(dateTime)?.match(/^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-]\d{2}:\d{2})?/);
  if (!match) return null;
  const [, y, mo, d, h, mi, s, inlineFraction, inlineZone] = match;
  const fraction = inlineFraction ?? (text(subSeconds)?.match(/^\d+$/) ? `.${text(subSeconds)}` : '');
  return wallClock({ y, mo, d, h, mi, s, fraction, zone: inlineZone ?? text(offset) });
}

/**
 * An XMP date (ISO 8601 as XMP allows it: "2024-05-01T12:34:56+02:00", without seconds, or a date
 * alone). `capturedAt` always has a time, so a date alone becomes its midnight, without zone: the
 * day is what analysts filter by. A year or month alone says too little and gives null.
 */
export function xmpCaptureTime(value: unknown): string | null {
  const match = text(value)?.match(/^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/);
  if (!match) return null;
  const [, y, mo, d, h = '00', mi = '00', s = '00', fraction, zone] = match;
  return wallClock({ y, mo, d, h, mi, s, fraction, zone });
}

/** IPTC IIM DateCreated "YYYYMMDD" + TimeCreated "HHMMSS±HHMM" (exifr 7.1.3 returns both raw); no time → midnight, as for XMP. */
export function iptcCaptureTime(date: unknown, time: unknown): string | null {
  const day = text(date)?.match(/^(\d{4})-?(\d{2})-?(\d{2})$/);
  if (!day) return null;
  const clock = text(time)?.match(/^(\d{2}):?(\d{2}):?(\d{2})([+-]\d{2}:?\d{2})?$/);
  const [h = '00', mi = '00', s = '00', zone] = clock?.slice(1) ?? [];
  return wallClock({ y: day[1], mo: day[2], d: day[3], h, mi, s, zone });
}

function geoPoint(tags: Tags): GeoPoint | null {
  const lat = number(tags.latitude);
  const lon = number(tags.longitude);
  if (lat === null || lon === null || Math.abs(lat) > 90 || Math.abs(lon) > 180) return null;
  // Many phones write 0/0 when they had no fix.
  if (lat === 0 && lon === 0) return null;
  let alt = number(tags.GPSAltitude);
  const ref = tags.GPSAltitudeRef;
  const belowSeaLevel = ArrayBuffer.isView(ref) ? (ref as Uint8Array)[0] === 1 : number(ref) === 1;
  if (alt !== null && belowSeaLevel) alt = -alt;
  return { lat, lon, alt };
}

const JPEG_SEGMENT_MAX = 0xffff - 2;
const XMP_SIGNATURE = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');

function app1(payload: Buffer): Buffer {
  const header = Buffer.from([0xff, 0xe1, 0, 0]);
  header.writeUInt16BE(payload.length + 2, 2);
  return Buffer.concat([header, payload]);
}

/**
 * What exifr should read: the image itself, or for HEIF the container's Exif and XMP items wrapped
 * as the APP1 segments of an empty JPEG, because exifr's HEIF reader misses items that libheif
 * writers place through an iloc base offset and never reads XMP items.
 */
async function metadataCarrier(input: Buffer | string, type: ImageType): Promise<Buffer | Uint8Array | string> {
  if (type !== 'heic' && type !== 'avif') return input;
  // HEIF photos are a few MB: read whole, unlike JPEGs, which exifr reads from a path in chunks.
  const { exif, xmp } = readHeifMetadataItems(typeof input === 'string' ? await readFile(input) : input);
  // Exif too big for one segment (huge maker notes) is plain TIFF, which exifr reads on its own; its XMP is then not read.
  if (exif && exif.length + 6 > JPEG_SEGMENT_MAX) return exif;
  const segments: Buffer[] = [];
  if (exif) segments.push(app1(Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exif])));
  if (xmp && xmp.length + XMP_SIGNATURE.length <= JPEG_SEGMENT_MAX) segments.push(app1(Buffer.concat([XMP_SIGNATURE, xmp])));
  return Buffer.concat([Buffer.from([0xff, 0xd8]), ...segments, Buffer.from([0xff, 0xd9])]);
}

/** exifr's blocks: ifd0, exif, gps, iptc, and one per XMP namespace prefix (XMP tiff: and exif: join ifd0 and exif). */
async function readSegments(input: Buffer | string, type: ImageType): Promise<Record<string, Tags>> {
  try {
    const output = ((await exifr.parse(await metadataCarrier(input, type), EXIFR_OPTIONS)) as Tags | undefined) ?? {};
    const segments: Record<string, Tags> = {};
    // Skips exifr's `errors` list (silentErrors) and anything else that is not a block of tags.
    for (const [name, block] of Object.entries(output)) {
      if (block && typeof block === 'object' && !Array.isArray(block)) segments[name] = block as Tags;
    }
    return segments;
  } catch {
    // Broken metadata must not sink a decodable image; the renderer decides whether it is corrupt.
    return {};
  }
}

async function jpegHead(input: Buffer | string): Promise<Buffer> {
  if (typeof input !== 'string') return input;
  const file = await open(input, 'r');
  try {
    const head = Buffer.alloc(CIFF_HEAD_BYTES);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return head.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/**
 * Capture time by source: EXIF DateTimeOriginal, EXIF CreateDate (DateTimeDigitized), XMP
 * photoshop:DateCreated, IPTC DateCreated+TimeCreated, XMP xmp:CreateDate. The two "date created"
 * fields describe the scene, xmp:CreateDate only when the file was made (a scan, an export).
 */
function capturedAt(segments: Record<string, Tags>): string | null {
  const { exif = {}, iptc = {}, photoshop = {} } = segments;
  // Photoshop CS and older wrote the XMP basic schema with the prefix "xap".
  const xmpBasic = segments.xmp ?? segments.xap ?? {};
  return (
    captureTime(exif.DateTimeOriginal, exif.OffsetTimeOriginal, exif.SubSecTimeOriginal) ??
    captureTime(exif.CreateDate, exif.OffsetTimeDigitized, exif.SubSecTimeDigitized) ??
    xmpCaptureTime(photoshop.DateCreated) ??
    iptcCaptureTime(iptc.DateCreated, iptc.TimeCreated) ??
    xmpCaptureTime(xmpBasic.CreateDate)
  );
}

/** Reads what analysts search by from EXIF, GPS, IPTC and XMP; absent tags become null, never guesses. */
export async function extractMetadata(input: Buffer | string, type: ImageType): Promise<ExtractedMetadata> {
  const segments = await readSegments(input, type);
  // Apart from the dates, the fields below read one flat view, as they did exifr's merged output.
  const tags: Tags = Object.assign({}, ...Object.values(segments));
  let make = text(tags.Make);
  let model = text(tags.Model);
  if (type === 'jpeg' && make === null && model === null) {
    // exifr does not read CIFF, and returns nothing at all for some of these files.
    const ciff = await jpegHead(input)
      .then(ciffCamera)
      .catch(() => null);
    make = ciff?.make ?? null;
    model = ciff?.model ?? null;
  }
  const orientation = number(tags.Orientation);
  return {
    capturedAt: capturedAt(segments),
    camera: {
      make,
      model,
      serial: text(tags.SerialNumber ?? tags.BodySerialNumber ?? tags.InternalSerialNumber),
    },
    gps: geoPoint(tags),
    orientation: orientation !== null && orientation >= 1 && orientation <= 8 ? orientation : null,
    exposure: {
      exposureTime: number(tags.ExposureTime),
      fNumber: number(tags.FNumber),
      iso: number(tags.ISO ?? tags.ISOSpeedRatings),
      focalLength: number(tags.FocalLength),
      lensModel: text(tags.LensModel),
      software: text(tags.Software),
    },
    keywords: list(tags.Keywords ?? tags.subject),
    caption: text(tags['Caption-Abstract'] ?? tags.description ?? tags.ImageDescription),
    title: text(tags.ObjectName ?? tags.title),
    creator: text(tags['By-line'] ?? tags.creator ?? tags.Artist),
    copyright: text(tags.CopyrightNotice ?? tags.rights ?? tags.Copyright),
  };
}
