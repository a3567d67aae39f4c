/**
 * Public event contracts (v1). Downstream teams validate against shared/contracts/schemas/*.json:
 * add fields freely, never remove one or change its meaning within a version.
 */
export const SCHEMAS = {
  ingested: 'images.ingested/v1',
  processed: 'images.processed/v1',
  failed: 'images.failed/v1',
  replicated: 'images.replicated/v1',
  erased: 'images.erased/v1',
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
  /**
   * Added in v1.2: the file's path before the account renamed it (RNFR/RNTO of a delivered file).
   * Such an event announces an image already delivered again, under its new `path`, with
   * `receivedAt` the time of the rename; the index moves the source from the old path to the new.
   */
  renamedFrom?: string;
}

export interface ObjectLocation {
  /** Which store holds it: "local" or the S3 store's configured name. */
  store: string;
  bucket: string | null;
  key: string;
  url: string;
  /** Added in v1.3: the region of the store (config `stores[].region`); absent in events written before. */
  region?: string;
}

export interface OriginalObject {
  key: string;
  bytes: number;
  contentType: string;
  location: ObjectLocation;
}

/** A rendition as the account's profile asks for it (the config's renditionProfiles entries). */
export interface RenditionSpec {
  name: string;
  width: number;
  height: number;
  fit: 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
  position: 'centre' | 'attention' | 'entropy' | 'north' | 'south' | 'east' | 'west';
  format: 'jpeg' | 'webp' | 'png' | 'avif';
  quality: number;
  metadata: 'strip' | 'keep';
}

export type CropSpec =
  | { box: { left: number; top: number; width: number; height: number; unit: 'px' | 'percent' } }
  | { smart: { aspectRatio: number } };

/**
 * The account's processing policy at the time of the upload. It travels in the event so every
 * processor, on any machine, applies the same one without reading the account itself.
 */
export interface ProcessingPolicy {
  renditionProfile: string;
  renditions: RenditionSpec[];
  crop: CropSpec | null;
}

export interface ImageIngestedEvent {
  schema: typeof SCHEMAS.ingested;
  /** SHA-256 (hex) of the original bytes. Also the message key. */
  id: string;
  receivedAt: string;
  source: ImageSource;
  original: OriginalObject;
  /** Added in v1.1; events written before it lack it, and processors then use the account's current policy. */
  policy?: ProcessingPolicy;
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

export type FailureStage = 'ingest' | 'processor' | 'indexer' | 'replicator';

/** What a failed image still tells: its stored original and whatever metadata could be read. */
export type FailedImage = Pick<ImageProcessedEvent, 'receivedAt' | 'original'> & Partial<ExtractedMetadataFields>;

export type ExtractedMetadataFields = Pick<
  ImageProcessedEvent,
  'capturedAt' | 'camera' | 'gps' | 'orientation' | 'exposure' | 'keywords' | 'caption' | 'title' | 'creator' | 'copyright'
>;

export interface ImageFailedEvent {
  schema: typeof SCHEMAS.failed;
  /** SHA-256 of the bytes received; null when nothing was read. */
  id: string | null;
  stage: FailureStage;
  error: { code: string; message: string };
  /** How many times the failing stage tried before it gave up (1 for a permanent error on the first try). */
  attempts: number;
  source: ImageSource;
  failedAt: string;
  /**
   * Added in v1.1: present when the original is stored and could be described (processor stage), so
   * the image is indexed with `status: failed` instead of being unfindable.
   */
  image?: FailedImage;
  /** Added in v1.1: the message that failed, when a consumer dead-lettered one (topic, partition, offset). */
  origin?: { topic: string; partition: number; offset: string };
}

/** One object of an image as copied to a replica store, verified by size and SHA-256 after the copy. */
export interface ReplicatedObject extends ObjectLocation {
  role: 'original' | 'rendition';
  /** "original" or the rendition's name. */
  name: string;
  bytes: number;
  /** SHA-256 (hex) of the copy's bytes as read back from the replica. */
  sha256: string;
}

/** Every object of an image is in one more store (a replica in another region). */
export interface ImageReplicatedEvent {
  schema: typeof SCHEMAS.replicated;
  id: string;
  /** The replica store's configured name and region. */
  store: string;
  region: string;
  locations: ReplicatedObject[];
  replicatedAt: string;
}

/** An image was removed everywhere (originals, renditions, every replica, the index, the FTP views). */
export interface ImageErasedEvent {
  schema: typeof SCHEMAS.erased;
  id: string;
  erasedAt: string;
  /** operator: `cli erase` or the API; retention: an account's retentionDays passed. */
  trigger: 'operator' | 'retention';
  /** Who asked (the API key's or CLI user's name; "retention" for the sweep). */
  by: string;
  reason: string;
}

export interface EventByRole {
  ingested: ImageIngestedEvent;
  processed: ImageProcessedEvent;
  failed: ImageFailedEvent;
  replicated: ImageReplicatedEvent;
  erased: ImageErasedEvent;
}
