import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { IngestError } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import type { ObjectStore } from '../../shared/ports/object-store.port';

/** Where the generated signing secret lives when HTTP_URL_SECRET is not set, shared by every search node. */
export const URL_SECRET_KEY = 'system/url-secret';
/** Shorter secrets are refused: the HMAC is only as strong as its key. */
const MIN_SECRET_BYTES = 32;

export type SignatureCheck = 'valid' | 'expired' | 'invalid';

/**
 * Image URLs that carry their own permission: `<path>?exp=<unix seconds>&sig=<HMAC-SHA256(path, exp)>`,
 * so an `<img>` tag or a download works without the API key in the URL, and stops working at `exp`.
 */
export class UrlSigner {
  /**
   * Expiry times are rounded up to a step of a tenth of the lifetime, so the same image gets the same
   * URL across searches for a while and the browser's cache keeps working; a URL lives between `ttl`
   * and 1.1 × `ttl` seconds.
   */
  private readonly step: number;

  constructor(
    private readonly secret: Buffer,
    private readonly ttlSeconds: number,
    private readonly now: () => number = Date.now,
  ) {
    if (secret.length < MIN_SECRET_BYTES) throw new IngestError('INVALID_CONFIG', `the URL signing secret must have at least ${MIN_SECRET_BYTES} bytes`);
    this.step = Math.max(1, Math.ceil(ttlSeconds / 10));
  }

  /** `path` as it will appear in the request line (already percent-encoded), with `exp` and `sig` appended. */
  sign(path: string): string {
    const expires = Math.ceil((Math.floor(this.now() / 1000) + this.ttlSeconds) / this.step) * this.step;
    return `${path}?exp=${expires}&sig=${this.mac(path, expires)}`;
  }

  check(path: string, exp: string | null, sig: string | null): SignatureCheck {
    if (!exp || !sig || !/^\d{1,12}$/.test(exp)) return 'invalid';
    const expected = Buffer.from(this.mac(path, Number(exp)));
    const given = Buffer.from(sig);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return 'invalid';
    return Number(exp) * 1000 <= this.now() ? 'expired' : 'valid';
  }

  private mac(path: string, expires: number): string {
    // The newline cannot occur in a path, so no (path, exp) pair signs like another.
    return createHmac('sha256', this.secret).update(`${path}\n${expires}`).digest('base64url');
  }
}

/**
 * The signing secret: HTTP_URL_SECRET when the operator manages it (base64 or hex of at least 32
 * bytes; rotating it ends every URL handed out), otherwise one generated at the first start and kept
 * in the object store, so every search node signs alike with nothing to configure. Two nodes starting
 * at once for the very first time may both write one; each reads back what the store kept.
 */
export async function loadUrlSecret(store: ObjectStore, env: NodeJS.ProcessEnv, logger: Logger): Promise<Buffer> {
  const fromEnv = env.HTTP_URL_SECRET;
  if (fromEnv) {
    const bytes = /^[0-9a-fA-F]+$/.test(fromEnv) ? Buffer.from(fromEnv, 'hex') : Buffer.from(fromEnv, 'base64');
    if (bytes.length < MIN_SECRET_BYTES) throw new IngestError('INVALID_CONFIG', `HTTP_URL_SECRET: must encode at least ${MIN_SECRET_BYTES} bytes (hex or base64)`);
    return bytes;
  }
  const stored = await readSecret(store);
  if (stored) return stored;
  await store.put(URL_SECRET_KEY, randomBytes(MIN_SECRET_BYTES), 'application/octet-stream');
  logger.info({ key: URL_SECRET_KEY }, 'generated the URL signing secret');
  const kept = await readSecret(store);
  if (!kept) throw new IngestError('STORE_UNAVAILABLE', `the URL signing secret written to ${URL_SECRET_KEY} cannot be read back`, { retriable: true });
  return kept;
}

async function readSecret(store: ObjectStore): Promise<Buffer | null> {
  try {
    const bytes = await store.getBuffer(URL_SECRET_KEY);
    if (bytes.length < MIN_SECRET_BYTES) throw new IngestError('INVALID_CONFIG', `object ${URL_SECRET_KEY}: shorter than ${MIN_SECRET_BYTES} bytes`);
    return bytes;
  } catch (error) {
    if (error instanceof IngestError && error.code === 'OBJECT_NOT_FOUND') return null;
    throw error;
  }
}
