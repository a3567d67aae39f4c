import type { ImageFailedEvent, ImageProcessedEvent, ImageSource } from '../contracts/events';

/** What the index keeps of an image: the latest processing result plus every source that sent it. */
export interface ImageDocument extends Omit<ImageProcessedEvent, 'schema' | 'source'> {
  sources: ImageSource[];
  firstSeenAt: string;
  lastSeenAt: string;
}

export const SORT_FIELDS = ['capturedAt', 'receivedAt'] as const;
export type SortField = (typeof SORT_FIELDS)[number];

export interface BoundingBox {
  minLon: number;
  minLat: number;
  maxLon: number;
  maxLat: number;
}

export interface ImageQuery {
  /** Every whitespace-separated term must match a word of a file name, path, camera, keyword or caption. */
  text?: string;
  account?: string;
  /** Case-insensitive exact match. */
  make?: string;
  model?: string;
  /** Capture instant bounds (inclusive). A capture time without offset counts as UTC. */
  from?: Date;
  to?: Date;
  bbox?: BoundingBox;
  sort: { field: SortField; order: 'asc' | 'desc' };
  /** 1-based. */
  page: number;
  size: number;
}

export interface SearchResult {
  total: number;
  items: ImageDocument[];
}

export interface ImageIndex {
  /** Creates or merges: the same image again adds its source and keeps first/last seen. Idempotent. */
  upsert(event: ImageProcessedEvent): Promise<void>;
  get(id: string): Promise<ImageDocument | null>;
  search(query: ImageQuery): Promise<SearchResult>;
  /** Keeps a dead letter for the operators' view; idempotent for a replayed event. */
  recordFailure(event: ImageFailedEvent): Promise<void>;
  /** Most recent first. */
  failures(limit: number): Promise<ImageFailedEvent[]>;
  close(): Promise<void>;
}
