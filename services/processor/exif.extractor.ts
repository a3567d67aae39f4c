import exifr from 'exifr';
import type { GeoPoint, ImageProcessedEvent } from '../../shared/contracts/events';
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
  // Revived dates read the camera's wall clock as UTC; the raw strings keep what the camera meant.
  reviveValues: false,
  translateValues: false,
  translateKeys: true,
  mergeOutput: true,
  // Not `pick`: it drops the derived latitude/longitude.
};

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

/** "2024:05:01 12:34:56" + "+02:00" → "2024-05-01T12:34:56+02:00"; no offset → no zone. */
export function captureTime(dateTime: unknown, offset: unknown, subSeconds: unknown): string | null {
  const raw = text(dateTime);
  const match = raw?.match(/^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/);
  if (!match) return null;
  const [, y, mo, d, h, mi, s] = match;
  if (y === '0000' || mo === '00' || d === '00') return null;
  const fraction = text(subSeconds)?.match(/^\d+$/) ? `.${text(subSeconds)}` : '';
  const zone = text(offset)?.match(/^[+-]\d{2}:\d{2}$/) ? text(offset) : '';
  return `${y}-${mo}-${d}T${h}:${mi}:${s}${fraction}${zone}`;
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
function metadataCarrier(image: Buffer, type: ImageType): Buffer | Uint8Array {
  if (type !== 'heic') return image;
  const { exif, xmp } = readHeifMetadataItems(image);
  // Exif too big for one segment (huge maker notes) is plain TIFF, which exifr reads on its own; its XMP is then not read.
  if (exif && exif.length + 6 > JPEG_SEGMENT_MAX) return exif;
  const segments: Buffer[] = [];
  if (exif) segments.push(app1(Buffer.concat([Buffer.from('Exif\0\0', 'latin1'), exif])));
  if (xmp && xmp.length + XMP_SIGNATURE.length <= JPEG_SEGMENT_MAX) segments.push(app1(Buffer.concat([XMP_SIGNATURE, xmp])));
  return Buffer.concat([Buffer.from([0xff, 0xd8]), ...segments, Buffer.from([0xff, 0xd9])]);
}

/** Reads what analysts search by from EXIF, GPS, IPTC and XMP; absent tags become null, never guesses. */
export async function extractMetadata(image: Buffer, type: ImageType): Promise<ExtractedMetadata> {
  let tags: Tags;
  try {
    tags = ((await exifr.parse(metadataCarrier(image, type), EXIFR_OPTIONS)) as Tags | undefined) ?? {};
  } catch {
    // Broken metadata must not sink a decodable image; the renderer decides whether it is corrupt.
    tags = {};
  }
  const orientation = number(tags.Orientation);
  return {
    capturedAt:
      captureTime(tags.DateTimeOriginal, tags.OffsetTimeOriginal, tags.SubSecTimeOriginal) ??
      captureTime(tags.CreateDate, tags.OffsetTimeDigitized, tags.SubSecTimeDigitized) ??
      captureTime(tags.DateCreated, null, null),
    camera: {
      make: text(tags.Make),
      model: text(tags.Model),
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
