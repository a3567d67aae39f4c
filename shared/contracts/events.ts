/**
 * Public event contracts (v1). Downstream teams validate against shared/contracts/schemas/*.json:
 * add fields freely, never remove one or change its meaning within a version.
 */
export const SCHEMAS = {
  ingested: 'images.ingested/v1',
  processed: 'images.processed/v1',
  failed: 'images.failed/v1',
} as const;

export type TopicRole = keyof typeof SCHEMAS;

export type SourceProtocol = 'ftp' | 'ftps' | 'drop-folder' | 'cli';

export interface ImageSource {
  protocol: SourceProtocol;
  account: string;
  /** Path as the sender named it, relative to the account's root ("/DCIM/IMG_0001.JPG"). */
  path: string;
  remoteAddress: string | null;
  receivedAt: string;
}

export interface ObjectLocation {
  /** Which store holds it: "local" or the S3 store's configured name. */
  store: string;
  bucket: string | null;
  key: string;
  url: string;
}

export interface OriginalObject {
  key: string;
  bytes: number;
  contentType: string;
  location: ObjectLocation;
}

export interface ImageIngestedEvent {
  schema: typeof SCHEMAS.ingested;
  /** SHA-256 (hex) of the original bytes. Also the message key. */
  id: string;
  receivedAt: string;
  source: ImageSource;
  original: OriginalObject;
}

export interface Camera {
  make: string | null;
  model: string | null;
  serial: string | null;
}

export interface GeoPoint {
  lat: number;
  lon: number;
  alt: number | null;
}

export interface ExposureInfo {
  exposureTime: number | null;
  fNumber: number | null;
  iso: number | null;
  focalLength: number | null;
  lensModel: string | null;
  software: string | null;
}

export interface Rendition {
  name: string;
  key: string;
  width: number;
  height: number;
  bytes: number;
  format: string;
  contentType: string;
  location: ObjectLocation;
}

export interface ImageProcessedEvent extends Omit<ImageIngestedEvent, 'schema'> {
  schema: typeof SCHEMAS.processed;
  /**
   * Capture time as the camera's clock read it, ISO 8601: with its UTC offset when the camera wrote
   * one (OffsetTimeOriginal), else without a zone ("2024-05-01T12:34:56").
   */
  capturedAt: string | null;
  camera: Camera;
  gps: GeoPoint | null;
  /** Pixel size after auto-orientation, before any crop. */
  width: number;
  height: number;
  /** EXIF orientation (1-8) as written by the camera; renditions are already rotated. */
  orientation: number | null;
  exposure: ExposureInfo;
  keywords: string[];
  caption: string | null;
  title: string | null;
  creator: string | null;
  copyright: string | null;
  renditions: Rendition[];
  /** Every stored object of this image: the original first, then each rendition. */
  locations: (ObjectLocation & { role: 'original' | 'rendition'; name: string })[];
  processedAt: string;
  processingMs: number;
}

export type FailureStage = 'ingest' | 'processor' | 'indexer';

export interface ImageFailedEvent {
  schema: typeof SCHEMAS.failed;
  /** SHA-256 of the bytes received; null when nothing was read. */
  id: string | null;
  stage: FailureStage;
  error: { code: string; message: string };
  attempts: number;
  source: ImageSource;
  failedAt: string;
}

export interface EventByRole {
  ingested: ImageIngestedEvent;
  processed: ImageProcessedEvent;
  failed: ImageFailedEvent;
}
