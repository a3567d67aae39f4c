import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { Config } from '../../shared/config/config.schema';
import { SCHEMAS, type ImageFailedEvent, type ImageIngestedEvent, type ImageSource } from '../../shared/contracts/events';
import { IngestError, errorMessage, type ErrorCode } from '../../shared/errors';
import { IMAGE_TYPE_INFO, isComplete, sniffImageType, type ImageType } from '../../shared/image/image-type';
import { originalKey } from '../../shared/image/object-keys';
import type { Logger } from '../../shared/logging';
import type { EventBus } from '../../shared/ports/event-bus.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import { withRetry } from '../../shared/retry';
import type { ClaimOptions, Spool, SpoolEntry } from './spool';

export type IngestOutcome =
  | { status: 'ingested'; id: string; key: string; duplicate: boolean }
  | { status: 'rejected'; code: ErrorCode; reason: string };

export interface IngestDeps {
  config: Readonly<Config>;
  store: ObjectStore;
  bus: EventBus;
  spool: Spool;
  logger: Logger;
}

interface Checked {
  id: string;
  type: ImageType;
  bytes: number;
}

async function sha256(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), hash);
  return hash.digest('hex');
}

/**
 * The one path from "a complete file" to "stored and announced", shared by FTP, drop folders and
 * the backfill CLI. The sender hears "done" only after the original is stored and the event durable.
 */
export class IngestService {
  private readonly logger: Logger;
  /** Retries of a store or bus outage while the sender waits; after that the spool keeps the file. */
  private readonly retry = { initialDelayMs: 200, maxDelayMs: 2_000, maxAttempts: 5 };
  /** Spool entries being ingested now, so a re-drive never takes one twice. */
  private readonly inFlight = new Set<string>();

  constructor(private readonly deps: IngestDeps) {
    this.logger = deps.logger.child({ component: 'ingest' });
  }

  /** Takes the file away from where the sender left it (or a copy of it), then ingests it. */
  async accept(filePath: string, source: ImageSource, options: Partial<ClaimOptions> = {}): Promise<IngestOutcome> {
    const maxFileBytes = options.maxFileBytes ?? this.deps.config.limits.maxFileBytes;
    const entry = await this.deps.spool.claim(filePath, source, { ...options, maxFileBytes });
    return this.ingest(entry);
  }

  /** Waits until no ingest is running, at most `timeoutMs`; false when some were still running. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.inFlight.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.inFlight.size === 0;
  }

  /** Re-drives what a previous run left in the spool; returns how many entries it found. */
  async recover(): Promise<number> {
    const entries = (await this.deps.spool.pending()).filter((e) => !this.inFlight.has(e.id));
    for (const entry of entries) {
      const outcome = await this.ingest(entry).catch((error: unknown) => {
        this.logger.error({ path: entry.source.path, err: errorMessage(error) }, 'spooled file still not ingested');
        return null;
      });
      if (outcome) this.logger.info({ path: entry.source.path, ...outcome }, 'spooled file re-driven');
    }
    return entries.length;
  }

  async ingest(entry: SpoolEntry): Promise<IngestOutcome> {
    this.inFlight.add(entry.id);
    try {
      return await this.ingestOnce(entry);
    } finally {
      this.inFlight.delete(entry.id);
    }
  }

  private async ingestOnce(entry: SpoolEntry): Promise<IngestOutcome> {
    const log = this.logger.child({ account: entry.source.account, path: entry.source.path });
    let checked: Checked;
    try {
      checked = await this.check(entry);
    } catch (error) {
      if (!(error instanceof IngestError) || error.retriable) throw error;
      await this.reject(entry, error, log);
      return { status: 'rejected', code: error.code, reason: error.message };
    }
    const { id, type, bytes } = checked;
    const { contentType, extension } = IMAGE_TYPE_INFO[type];
    const key = originalKey(id, extension);
    const duplicate = await withRetry(async () => {
      const existing = await this.deps.store.head(key);
      if (existing?.bytes === bytes) return true;
      await this.deps.store.putFile(key, entry.dataPath, contentType);
      return false;
    }, this.retry);
    const event: ImageIngestedEvent = {
      schema: SCHEMAS.ingested,
      id,
      receivedAt: entry.source.receivedAt,
      source: entry.source,
      original: { key, bytes, contentType, location: this.deps.store.locate(key) },
    };
    await withRetry(() => this.deps.bus.publish(this.deps.config.bus.topics.ingested, id, event), this.retry);
    await this.deps.spool.release(entry);
    log.info({ imageId: id, bytes, duplicate }, 'image ingested');
    return { status: 'ingested', id, key, duplicate };
  }

  private async check(entry: SpoolEntry): Promise<Checked> {
    const file = await open(entry.dataPath, 'r');
    try {
      const { size } = await file.stat();
      if (size === 0) throw new IngestError('EMPTY_FILE', 'file is empty');
      if (size > entry.maxFileBytes) {
        throw new IngestError('FILE_TOO_LARGE', `file has ${size} bytes, the limit is ${entry.maxFileBytes}`);
      }
      const head = Buffer.alloc(32);
      await file.read(head, 0, head.length, 0);
      const type = sniffImageType(head);
      if (!type) throw new IngestError('UNSUPPORTED_TYPE', 'not a JPEG, PNG, TIFF, WebP or HEIC image');
      if (!(await isComplete(type, file, size))) {
        throw new IngestError('TRUNCATED_IMAGE', `${type.toUpperCase()} file ends before the image does`);
      }
      return { id: entry.sha256 ?? (await sha256(entry.dataPath)), type, bytes: size };
    } finally {
      await file.close();
    }
  }

  private async reject(entry: SpoolEntry, error: IngestError, log: Logger): Promise<void> {
    const id = entry.sha256 ?? (await sha256(entry.dataPath).catch(() => null));
    const kept = await this.deps.spool.quarantine(entry, error.code, error.message);
    log.warn({ code: error.code, reason: error.message, quarantined: kept }, 'upload rejected');
    const dead: ImageFailedEvent = {
      schema: SCHEMAS.failed,
      id,
      stage: 'ingest',
      error: { code: error.code, message: error.message },
      attempts: 1,
      source: entry.source,
      failedAt: new Date().toISOString(),
    };
    // The sender already hears the reason; the dead letter is for operators, so an outage must not hide the reply.
    await this.deps.bus
      .publish(this.deps.config.bus.topics.failed, id ?? `${entry.source.account}:${entry.source.path}`, dead)
      .catch((publishError: unknown) => log.error({ err: errorMessage(publishError) }, 'dead letter not published'));
  }
}
