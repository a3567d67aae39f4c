import type { ImageFailedEvent, ImageProcessedEvent, ImageReplicatedEvent, ImageSource } from '../contracts/events';

/** `failed`: the original is stored but could not be processed; it is indexed with what could be read. */
export const IMAGE_STATUSES = ['processed', 'failed'] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

/**
 * One file that delivered the image: unique per (account, path). The ImageSource fields describe its
 * first receipt; a re-send of the same file counts here instead of adding a source.
 */
export interface IndexedSource extends ImageSource {
  /** Deliveries counted: a re-send after `lastSeenAt` (or before `firstSeenAt`) counts, a replay does not. */
  count: number;
  firstSeenAt: string;
  lastSeenAt: string;
}

/**
 * What the index keeps of an image: the latest processing result (or, for a failed image, what could
 * be read of it) plus every file that sent it.
 */
export interface ImageDocument
  extends Omit<ImageProcessedEvent, 'schema' | 'source' | 'width' | 'height' | 'processedAt' | 'processingMs'> {
  status: ImageStatus;
  /** Why processing failed; null for a processed image. */
  error: { code: string; message: string } | null;
  /** Null when the pixels could not be decoded. */
  width: number | null;
  height: number | null;
  processedAt: string | null;
  processingMs: number | null;
  sources: IndexedSource[];
  /** Over all sources. `receivedAt` is the first of them. */
  firstSeenAt: string;
  lastSeenAt: string;
}

/** `distance` needs `near`: nearest first. */
export const SORT_FIELDS = ['capturedAt', 'receivedAt', 'distance'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export interface BoundingBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

/** Images taken within `radiusMeters` (great-circle) of the point. */
export interface GeoCircle {
  lat: number;
  lon: number;
  radiusMeters: number;
}

/** Inclusive bounds; either may be left open. */
export interface NumberRange {
  min?: number;
  max?: number;
}

/**
 * Where a page ends in its sort order: the last image's sort value and id. A search given it
 * continues after that image, at any depth (`search_after` on Elasticsearch). For capturedAt, an
 * image without a capture time has MISSING_LAST for the order it was walked in.
 */
export type SortPosition = [value: number, id: string];

/** The sort value of an image without a capture time: it comes last in either order. */
export const MISSING_LAST = { asc: Number.MAX_SAFE_INTEGER, desc: -Number.MAX_SAFE_INTEGER } as const;

export const FACET_NAMES = ['make', 'model', 'account', 'lens', 'status', 'gps', 'captured'] as const;
export type FacetName = (typeof FACET_NAMES)[number];

/** Term facets list their most frequent values, most frequent first (ties by value). */
export const FACET_SIZE = 20;

export interface ImageQuery {
  /** Every whitespace-separated term must match a word of a file name, path, camera, keyword or caption. */
  text?: string;
  account?: string;
  /** Case-insensitive exact match. */
  make?: string;
  model?: string;
  lens?: string;
  iso?: NumberRange;
  /** Capture instant bounds (inclusive). A capture time without offset counts as UTC. */
  from?: Date;
  to?: Date;
  /** First receipt bounds (inclusive). */
  receivedFrom?: Date;
  receivedTo?: Date;
  bbox?: BoundingBox;
  near?: GeoCircle;
  /** Documents indexed before statuses existed count as processed. */
  status?: ImageStatus;
  sort: { field: SortField; order: 'asc' | 'desc' };
  /** 1-based; (page - 1) × size + size stays within TOTAL_HITS_CAP. Ignored with `after`. */
  page: number;
  size: number;
  /** Continue after this position (a previous result's `next`) instead of at `page`. */
  after?: SortPosition;
  facets?: FacetName[];
}

/**
 * Matches are counted up to this many, as Elasticsearch's `track_total_hits` does: counting every
 * match of a broad query would cost as much as the archive is large. It is also the deepest a
 * `page` may reach (Elasticsearch's max_result_window); deeper pages need `after`.
 */
export const TOTAL_HITS_CAP = 10_000;

/**
 * Facets count every match when at most this many match, else the most recently received this
 * many, and say so (as Algolia flags non-exhaustive facet counts): counting all of a broad query's
 * matches would cost as much as the archive is large. The same on both indexes. At 1M images on
 * 2 cores a sample of 10,000 cost the embedded index up to 200 ms a query, 2,000 up to 40 ms.
 */
export const FACET_SAMPLE = 2_000;

export interface FacetBucket {
  value: string;
  count: number;
}

export type HistogramInterval = 'year' | 'month' | 'day';

/** Capture-time buckets in UTC, oldest first; the interval is chosen from the span they cover. */
export interface CaptureHistogram {
  interval: HistogramInterval;
  buckets: { key: string; from: string; count: number }[];
  /** Images without a capture time. */
  missing: number;
}

export interface FacetCounts {
  /** What was counted: every match (`all`), or the FACET_SAMPLE most recently received of them (`newest`). */
  scope: 'all' | 'newest';
  /** Images counted. */
  images: number;
  make?: FacetBucket[];
  model?: FacetBucket[];
  account?: FacetBucket[];
  lens?: FacetBucket[];
  status?: FacetBucket[];
  gps?: { with: number; without: number };
  captured?: CaptureHistogram;
}

export interface SearchResult {
  /** Matches counted, at most TOTAL_HITS_CAP. */
  total: number;
  /** `gte`: more than TOTAL_HITS_CAP images match and `total` is the cap. */
  totalRelation: 'eq' | 'gte';
  items: ImageDocument[];
  /** The position after the last item when the page is full (more may follow), else null. */
  next: SortPosition | null;
  /** Only when the query asked for facets. */
  facets?: FacetCounts;
}

export interface ImageIndex {
  /**
   * Creates or merges: the processed result replaces the metadata (also of a failed image) and the
   * event's file is counted in its source. Idempotent: a replayed event changes nothing.
   */
  upsert(event: ImageProcessedEvent): Promise<void>;
  /**
   * Indexes an image that could not be processed, with status `failed`, its error and whatever
   * metadata could be read; for an image already processed it only counts the source. Call it only
   * for events with `id` and `image` (others are refused with a permanent INVALID_EVENT). Idempotent.
   */
  upsertFailed(event: ImageFailedEvent): Promise<void>;
  get(id: string): Promise<ImageDocument | null>;
  /**
   * Adds the copies in a replica store to the image's locations (replacing that store's earlier
   * ones), so `locations` lists every copy with its store and region. Idempotent. An image not
   * indexed yet (its processed event is still on its way) is a retriable NOT_YET_INDEXED: holding
   * the locations aside until it comes would need a second kind of document in both indexes. An
   * event from before the image's erasure is ignored.
   */
  addLocations(event: ImageReplicatedEvent): Promise<void>;
  search(query: ImageQuery): Promise<SearchResult>;
  /**
   * Removes an erased image: its document and its dead letters go, and a tombstone stays, so that
   * from then on every event about the image received before `erasedAt` (ISO 8601) is ignored and
   * replaying a topic cannot bring it back. A delivery received after it is a new one and is indexed.
   * Returns whether a document was removed; idempotent, and a later erasure moves the tombstone on.
   */
  erase(id: string, erasedAt: string): Promise<boolean>;
  /** Keeps a dead letter for the operators' view; idempotent for a replayed event. */
  recordFailure(event: ImageFailedEvent): Promise<void>;
  /** Most recent first. */
  failures(limit: number): Promise<ImageFailedEvent[]>;
  /** Forgets the dead letters that failed before `before` (pruning); returns how many. The images stay indexed. */
  deleteFailures(before: Date): Promise<number>;
  /** Resolves when the index answers; throws a retriable INDEX_UNAVAILABLE when it does not (readiness). */
  ping(): Promise<void>;
  close(): Promise<void>;
}
