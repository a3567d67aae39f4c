/**
 * One error vocabulary for every service. `code` is stable and public (it reaches the dead-letter
 * topic and the FTP reply); `retriable` decides between retry-with-backoff and dead letter.
 */
export type ErrorCode =
  | 'EMPTY_FILE'
  | 'FILE_TOO_LARGE'
  | 'UNSUPPORTED_TYPE'
  | 'TRUNCATED_IMAGE'
  | 'NAME_NOT_ALLOWED'
  | 'CORRUPT_IMAGE'
  | 'PIXEL_LIMIT'
  | 'OBJECT_NOT_FOUND'
  | 'STORE_UNAVAILABLE'
  | 'BUS_UNAVAILABLE'
  | 'INDEX_UNAVAILABLE'
  | 'INVALID_CONFIG'
  | 'INVALID_QUERY'
  | 'INVALID_EVENT'
  | 'INTERNAL_ERROR'
  | 'SHUTTING_DOWN'
  | 'FILE_NOT_FOUND'
  | 'DOWNLOAD_NOT_ALLOWED'
  | 'PERMISSION_DENIED'
  | 'DISK_FULL'
  | 'TRANSFER_TOO_SLOW'
  /** An event about an image the index does not hold yet (its processed event is still on its way): retried. */
  | 'NOT_YET_INDEXED'
  /** A copy read back from a replica store differs from what was read from the primary. */
  | 'REPLICA_MISMATCH';

export class IngestError extends Error {
  readonly code: ErrorCode;
  readonly retriable: boolean;

  constructor(code: ErrorCode, message: string, options: { retriable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'IngestError';
    this.code = code;
    this.retriable = options.retriable ?? false;
  }
}

/**
 * Errors that only a code change cures: retrying them blocks a key for ever, so they are permanent
 * (dead-lettered as INTERNAL_ERROR) rather than retried.
 */
export function isProgrammingError(error: unknown): boolean {
  return error instanceof TypeError || error instanceof RangeError || error instanceof ReferenceError || error instanceof SyntaxError;
}

/**
 * Anything not classified, and not a programming error, is treated as transient: retrying a
 * permanent fault costs time, dead-lettering a transient one loses an image.
 */
export function isRetriable(error: unknown): boolean {
  if (error instanceof IngestError) return error.retriable;
  return !isProgrammingError(error);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
