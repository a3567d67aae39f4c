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
  | 'SHUTTING_DOWN';

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

/** Anything not classified is treated as transient: retrying a permanent fault costs time, dead-lettering a transient one loses an image. */
export function isRetriable(error: unknown): boolean {
  return error instanceof IngestError ? error.retriable : true;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
