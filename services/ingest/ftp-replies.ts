import { IngestError, errorMessage, type ErrorCode } from '../../shared/errors';

/**
 * What an FTP sender hears when an upload is not taken (RFC 959 §4.2): 550 "not taken" means do
 * not send these bytes again; 451 "aborted: local error in processing" and 452 "insufficient
 * storage" mean try again later.
 */
export interface FtpReply {
  code: 451 | 452 | 550;
  /** One line, without the code: "CODE: text". */
  text: string;
  /** The error code the text starts with, for counting refusals. */
  errorCode: ErrorCode;
}

/**
 * `refuse` quotes the error's message: for these codes it says what is wrong with the file and is
 * written for the sender. `retry` gives a fixed text instead, because those messages name object
 * keys, server paths and backend addresses.
 */
type ReplyRule = { refuse: true } | { retry: string };

const KEPT = 'the upload is kept and will be ingested, no need to resend';
const AGAIN = 'send the file again later';

/** One row per error code, so a new code fails to compile until it is given a reply. */
export const FTP_REPLIES: Record<ErrorCode, ReplyRule> = {
  EMPTY_FILE: { refuse: true },
  FILE_TOO_LARGE: { refuse: true },
  UNSUPPORTED_TYPE: { refuse: true },
  TRUNCATED_IMAGE: { refuse: true },
  NAME_NOT_ALLOWED: { refuse: true },
  CORRUPT_IMAGE: { refuse: true },
  PIXEL_LIMIT: { refuse: true },
  INVALID_EVENT: { refuse: true },
  INVALID_QUERY: { refuse: true },
  STORE_UNAVAILABLE: { retry: `storage is unavailable; ${KEPT}` },
  BUS_UNAVAILABLE: { retry: `event bus is unavailable; ${KEPT}` },
  INDEX_UNAVAILABLE: { retry: `search index is unavailable; ${AGAIN}` },
  OBJECT_NOT_FOUND: { retry: `a stored object is missing; ${AGAIN}` },
  INVALID_CONFIG: { retry: `server configuration error; ${AGAIN}` },
  SHUTTING_DOWN: { retry: `server is shutting down; ${AGAIN}` },
  INTERNAL_ERROR: { retry: `internal error; ${AGAIN}` },
  FILE_NOT_FOUND: { refuse: true },
  DOWNLOAD_NOT_ALLOWED: { refuse: true },
  PERMISSION_DENIED: { refuse: true },
  DISK_FULL: { retry: `no space left to receive the upload; ${AGAIN}` },
  TRANSFER_TOO_SLOW: { retry: `the transfer was too slow and was ended; ${AGAIN}` },
  NOT_YET_INDEXED: { retry: `internal error; ${AGAIN}` },
  REPLICA_MISMATCH: { retry: `internal error; ${AGAIN}` },
};

/** The upload could not be written where it lands: nothing was taken, so the sender must resend. */
const DISK_FULL: FtpReply = { code: 452, text: `no space left to receive the upload; ${AGAIN}`, errorCode: 'DISK_FULL' };

/** The reply for an ingest outcome's code and reason (a rejection) or for an error code and message. */
export function ftpReply(code: ErrorCode, message: string): FtpReply {
  const rule = FTP_REPLIES[code];
  if ('retry' in rule) return { code: 451, text: `${code}: ${rule.retry}`, errorCode: code };
  // A reply is one line (RFC 959 §4.2); the client's own file name may be in the reason.
  return { code: 550, text: `${code}: ${message.replace(/\s+/g, ' ').trim()}`, errorCode: code };
}

/** The reply for anything thrown while receiving or ingesting an upload; what is not an IngestError is internal. */
export function ftpReplyForError(error: unknown): FtpReply {
  if ((error as NodeJS.ErrnoException | null)?.code === 'ENOSPC') return DISK_FULL;
  if (error instanceof IngestError) return ftpReply(error.code, error.message);
  return ftpReply('INTERNAL_ERROR', errorMessage(error));
}
