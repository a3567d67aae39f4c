import { access, open } from 'node:fs/promises';
import sharp, { type Sharp } from 'sharp';
import type { CropConfig, RenditionConfig } from '../../shared/config/config.schema';
import { IngestError } from '../../shared/errors';
import { SNIFF_BYTES, sniffImageType, type ImageType } from '../../shared/image/image-type';
import { decodeHeic } from './heic.decoder';

export interface RenderLimits {
  maxPixels: number;
  failOn: 'none' | 'truncated' | 'error' | 'warning';
}

export interface RenderRequest {
  /** The original's bytes, or the path of a file holding them: sharp then reads it without the whole file in memory. */
  input: Buffer | string;
  type: ImageType;
  crop?: CropConfig;
  renditions: readonly RenditionConfig[];
  limits: RenderLimits;
  /** EXIF written into renditions whose metadata policy is "keep". */
  keptExif?: Record<string, Record<string, string>>;
}

export interface RenderedOutput {
  name: string;
  data: Buffer;
  width: number;
  height: number;
  format: string;
  contentType: string;
}

export interface RenderResult {
  /** Size after auto-orientation, before crop. */
  width: number;
  height: number;
  outputs: RenderedOutput[];
}

const CONTENT_TYPES: Record<RenditionConfig['format'], string> = {
  jpeg: 'image/jpeg',
  webp: 'image/webp',
  png: 'image/png',
  avif: 'image/avif',
};

interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

interface RawImage {
  data: Buffer;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/** libvips errors that mean "these bytes are not a decodable image", as opposed to a fault of ours. */
function classify(error: unknown): IngestError {
  if (error instanceof IngestError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (/pixel limit/i.test(message)) return new IngestError('PIXEL_LIMIT', message, { cause: error });
  if (/unsupported image format|bad seek|no decoder|not a known file format/i.test(message)) {
    return new IngestError('UNSUPPORTED_TYPE', message, { cause: error });
  }
  return new IngestError('CORRUPT_IMAGE', message, { cause: error });
}

function checkPixels(width: number, height: number, limits: RenderLimits): void {
  if (width * height > limits.maxPixels) {
    throw new IngestError('PIXEL_LIMIT', `${width}x${height} exceeds the limit of ${limits.maxPixels} pixels`);
  }
}

/** The region of the oriented image the account wants, in its pixels. */
function cropBox(crop: CropConfig | undefined, width: number, height: number): Box {
  if (!crop) return { left: 0, top: 0, width, height };
  if ('smart' in crop) {
    const ratio = crop.smart.aspectRatio;
    const w = Math.min(width, Math.round(height * ratio));
    const h = Math.min(height, Math.round(w / ratio));
    return { left: 0, top: 0, width: Math.max(1, w), height: Math.max(1, h) };
  }
  const { box } = crop;
  const scale = box.unit === 'percent' ? { x: width / 100, y: height / 100 } : { x: 1, y: 1 };
  const left = Math.min(width - 1, Math.round(box.left * scale.x));
  const top = Math.min(height - 1, Math.round(box.top * scale.y));
  return {
    left,
    top,
    width: Math.max(1, Math.min(width - left, Math.round(box.width * scale.x))),
    height: Math.max(1, Math.min(height - top, Math.round(box.height * scale.y))),
  };
}

/** How far the cropped region may shrink before some rendition would have to enlarge it. */
function masterScale(box: Box, renditions: readonly RenditionConfig[]): number {
  const needed = renditions.map((r) => {
    const sx = r.width / box.width;
    const sy = r.height / box.height;
    return r.fit === 'inside' || r.fit === 'contain' ? Math.min(sx, sy) : Math.max(sx, sy);
  });
  return Math.min(1, Math.max(...needed));
}

/** sharp's prebuilt libheif decodes AV1 (AVIF) but not HEVC; libheif in WASM does HEVC, on a worker. */
const DECODERS: Record<ImageType, 'sharp' | 'hevc'> = {
  jpeg: 'sharp',
  png: 'sharp',
  tiff: 'sharp',
  webp: 'sharp',
  avif: 'sharp',
  heic: 'hevc',
};

async function head(input: Buffer | string): Promise<Buffer> {
  if (typeof input !== 'string') return input.subarray(0, SNIFF_BYTES);
  const file = await open(input, 'r');
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    const { bytesRead } = await file.read(buffer, 0, SNIFF_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

async function decoder(request: RenderRequest): Promise<'sharp' | 'hevc'> {
  // Originals stored before AVIF was a type of its own are labelled HEIC: their brands tell.
  if (request.type === 'heic' && sniffImageType(await head(request.input)) === 'avif') return 'sharp';
  return DECODERS[request.type];
}

async function decodeSource(request: RenderRequest): Promise<{ image: Sharp; width: number; height: number }> {
  const options = { limitInputPixels: request.limits.maxPixels, failOn: request.limits.failOn } as const;
  if ((await decoder(request)) === 'hevc') {
    const decoded = await decodeHeic(request.input, (width, height) => checkPixels(width, height, request.limits));
    if (!decoded) throw new IngestError('CORRUPT_IMAGE', 'HEIC file holds no image');
    const { width, height, data } = decoded;
    return { image: sharp(data, { raw: { width, height, channels: 4 }, ...options }), width, height };
  }
  const image = sharp(request.input, options);
  const meta = await image.metadata();
  if (!meta.width || !meta.height) throw new IngestError('CORRUPT_IMAGE', 'image has no dimensions');
  checkPixels(meta.width, meta.height, request.limits);
  const swap = (meta.orientation ?? 1) >= 5;
  return { image: image.rotate(), width: swap ? meta.height : meta.width, height: swap ? meta.width : meta.height };
}

/**
 * Decodes once, shrunk on load to the largest rendition's need, crops, and derives every rendition
 * from those pixels: sharp's clone() would decode the original again for each output.
 */
export async function renderImage(request: RenderRequest): Promise<RenderResult> {
  // An unreadable path is a fault of ours, to be retried, not an image to dead-letter as CORRUPT_IMAGE.
  if (typeof request.input === 'string') await access(request.input);
  try {
    const { image, width, height } = await decodeSource(request);
    const box = cropBox(request.crop, width, height);
    const scale = masterScale(box, request.renditions);
    const scaledWidth = Math.max(1, Math.round(width * scale));
    const scaledHeight = Math.max(1, Math.round(height * scale));
    const decoded = await image
      .resize(scaledWidth, scaledHeight, { fit: 'fill' })
      .raw()
      .toBuffer({ resolveWithObject: true });
    let master: RawImage = {
      data: decoded.data,
      width: decoded.info.width,
      height: decoded.info.height,
      channels: decoded.info.channels,
    };
    master = await cropMaster(master, request.crop, box, scale);
    const outputs = await Promise.all(request.renditions.map((r) => renderOne(master, r, request.keptExif)));
    return { width, height, outputs };
  } catch (error) {
    throw classify(error);
  }
}

async function cropMaster(master: RawImage, crop: CropConfig | undefined, box: Box, scale: number): Promise<RawImage> {
  if (!crop) return master;
  const raw = { raw: { width: master.width, height: master.height, channels: master.channels } };
  const width = Math.max(1, Math.min(master.width, Math.round(box.width * scale)));
  const height = Math.max(1, Math.min(master.height, Math.round(box.height * scale)));
  const pipeline =
    'smart' in crop
      ? sharp(master.data, raw).resize(width, height, { fit: 'cover', position: 'attention' })
      : sharp(master.data, raw).extract({
          left: Math.min(master.width - width, Math.round(box.left * scale)),
          top: Math.min(master.height - height, Math.round(box.top * scale)),
          width,
          height,
        });
  const { data, info } = await pipeline.raw().toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

async function renderOne(
  master: RawImage,
  rendition: RenditionConfig,
  keptExif: RenderRequest['keptExif'],
): Promise<RenderedOutput> {
  // A source smaller than a cover/fill box gets the box's shape at the size it has, not the source's shape.
  const shrink = rendition.fit === 'cover' || rendition.fit === 'fill' ? Math.min(1, master.width / rendition.width, master.height / rendition.height) : 1;
  let pipeline = sharp(master.data, { raw: { width: master.width, height: master.height, channels: master.channels } })
    .resize(Math.max(1, Math.round(rendition.width * shrink)), Math.max(1, Math.round(rendition.height * shrink)), {
      fit: rendition.fit,
      position: rendition.position,
      withoutEnlargement: true,
    })
    .toFormat(rendition.format, { quality: rendition.quality });
  if (rendition.metadata === 'keep' && keptExif) pipeline = pipeline.withExif(keptExif);
  const { data, info } = await pipeline.toBuffer({ resolveWithObject: true });
  return {
    name: rendition.name,
    data,
    width: info.width,
    height: info.height,
    format: rendition.format,
    contentType: CONTENT_TYPES[rendition.format],
  };
}
