import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import type { AccountDirectory } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import { SCHEMAS, type ImageFailedEvent, type ImageIngestedEvent, type ImageSource, type SourceProtocol } from '../../shared/contracts/events';
import { IngestError, errorMessage, type ErrorCode } from '../../shared/errors';
import { IMAGE_TYPE_INFO, isComplete, sniffFileType, type ImageType } from '../../shared/image/image-type';
import { originalKey } from '../../shared/image/object-keys';
import type { Logger } from '../../shared/logging';
import { deadLetters, lastUpload, uploadBytes, uploads } from '../../shared/metrics';
import type { DeliveryRecord } from '../../shared/ports/delivery-record.port';
import type { EventBus } from '../../shared/ports/event-bus.port';
import type { DeliveryMove } from '../../shared/ports/delivery-record.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import { withRetry, type RetryOptions } from '../../shared/retry';
import { startSpan } from '../../shared/tracing';
import type { ClaimOptions, Spool, SpoolEntry } from './spool';

export type IngestOutcome =
  | { status: 'ingested'; id: string; key: string; bytes: number; contentType: string; duplicate: boolean }
  | { status: 'rejected'; code: ErrorCode; reason: string };

export interface IngestDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  store: ObjectStore;
  bus: EventBus;
  /** The accounts' FTP views: an FTP delivery is recorded there however it got ingested (session, re-drive, orphan recovery). */
  deliveries: DeliveryRecord;
  spool: Spool;
  logger: Logger;
}

const FTP_PROTOCOLS: ReadonlySet<SourceProtocol> = new Set(['ftp', 'ftps']);

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
 * How long a sender waits while the store or the bus is down before it hears 451 (the spool keeps
 * the file and the re-drive ingests it later). The clients below retry little themselves (S3: one
 * retry; kafkajs: about 10 s for leader moves), so this is the one budget of this layer.
 */
const SENDER_WAIT_MS = 15_000;
const SENDER_RETRY: Omit<RetryOptions, 'signal'> = { initialDelayMs: 250, maxDelayMs: 4_000, maxAttempts: Infinity };

function senderRetry(log: Logger, message: string): RetryOptions {
  return {
    ...SENDER_RETRY,
    signal: AbortSignal.timeout(SENDER_WAIT_MS),
    onRetry: (error, attempt, delayMs) => log.warn({ attempt, delayMs, err: errorMessage(error) }, message),
  };
}

/**
 * The one path from "a complete file" to "stored and announced", shared by FTP, drop folders and
 * the backfill CLI. The sender hears "done" only after the original is stored and the event durable.
 * Spool entries are leased, so any number of workers, in this process or others on the same data
 * folder, never ingest one entry twice.
 */
export class IngestService {
  private readonly logger: Logger;
  /** Ingests running in this process, for the shutdown drain (exclusivity is the spool lease's job). */
  private running = 0;
  private redriving: Promise<number> | null = null;

  constructor(private readonly deps: IngestDeps) {
    this.logger = deps.logger.child({ component: 'ingest' });
  }

  /** Takes the file away from where the sender left it (or a copy of it), then ingests it. */
  async accept(filePath: string, source: ImageSource, options: Partial<ClaimOptions> = {}): Promise<IngestOutcome> {
    const maxFileBytes = options.maxFileBytes ?? this.deps.config.limits.maxFileBytes;
    const entry = await this.deps.spool.claim(filePath, source, { ...options, maxFileBytes });
    return this.ingest(entry);
  }

  /**
   * The account renamed a delivered file (RNFR/RNTO): announces the image again, as stored, under
   * its new path with `renamedFrom` the old one, so the index and downstream consumers move the
   * source. Nothing is read or stored again; throws (the sender hears 451) when the bus stays down.
   */
  async announceRename(move: DeliveryMove, from: Pick<ImageSource, 'protocol' | 'account' | 'remoteAddress'>): Promise<void> {
    const { imageId: id, originalKey: key, size: bytes, contentType } = move.delivery;
    const receivedAt = new Date().toISOString();
    const event: ImageIngestedEvent = {
      schema: SCHEMAS.ingested,
      id,
      receivedAt,
      source: { ...from, path: move.to, receivedAt, renamedFrom: move.from },
      original: { key, bytes, contentType, location: this.deps.store.locate(key) },
      policy: this.deps.accounts.policy(from.account),
    };
    const span = startSpan(`ingest ${this.deps.config.bus.topics.ingested}`, { kind: 'producer', attributes: { 'image.id': id, 'image.account': from.account } });
    const log = this.logger.child({ account: from.account, path: move.to, renamedFrom: move.from, imageId: id, traceId: span.traceId });
    try {
      await withRetry(() => this.deps.bus.publish(this.deps.config.bus.topics.ingested, id, event, span.headers), senderRetry(log, 'bus unavailable, retrying'));
    } catch (error) {
      span.end(error);
      throw error;
    }
    span.end();
    log.info('rename announced');
  }

  /** Waits until no ingest is running, at most `timeoutMs`; false when some were still running. */
  async drain(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.running > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    return this.running === 0;
  }

  /**
   * Re-drives the spool entries no live worker holds (left by a crash, or given back after an
   * outage); returns how many it took. A call while one runs joins it rather than starting another.
   */
  recover(): Promise<number> {
    this.redriving ??= this.redrive().finally(() => (this.redriving = null));
    return this.redriving;
  }

  private async redrive(): Promise<number> {
    const entries = await this.deps.spool.takePending();
    for (const entry of entries) {
      const outcome = await this.ingest(entry).catch((error: unknown) => {
        this.logger.warn({ path: entry.source.path, account: entry.source.account, err: errorMessage(error) }, 'spooled file still not ingested; kept for the next re-drive');
        return null;
      });
      if (outcome) this.logger.info({ path: entry.source.path, account: entry.source.account, ...outcome }, 'spooled file re-driven');
    }
    return entries.length;
  }

  /**
   * Ingests an entry this worker holds the lease of. A transient failure that outlasts the sender's
   * wait gives the entry back to the spool (files kept) and throws, so the sender hears 451.
   */
  async ingest(entry: SpoolEntry): Promise<IngestOutcome> {
    this.running++;
    try {
      return await this.ingestOnce(entry);
    } catch (error) {
      await this.deps.spool.unlease(entry).catch(() => undefined);
      throw error;
    } finally {
      this.running--;
    }
  }

  /** One trace per upload: it starts here and follows the image through every service. */
  private async ingestOnce(entry: SpoolEntry): Promise<IngestOutcome> {
    const { account, protocol } = entry.source;
    const span = startSpan(`ingest ${this.deps.config.bus.topics.ingested}`, { kind: 'producer', attributes: { 'image.account': account, 'image.protocol': protocol } });
    try {
      const outcome = await this.ingestTraced(entry, span.headers, this.logger.child({ account, path: entry.source.path, traceId: span.traceId }));
      span.end(outcome.status === 'rejected' ? new IngestError(outcome.code, outcome.reason) : undefined);
      if (outcome.status === 'ingested') {
        uploads.inc({ account, protocol });
        uploadBytes.inc({ account, protocol }, outcome.bytes);
        lastUpload.set({ account }, Date.now() / 1000);
      }
      return outcome;
    } catch (error) {
      span.end(error);
      throw error;
    }
  }

  private async ingestTraced(entry: SpoolEntry, headers: Record<string, string>, log: Logger): Promise<IngestOutcome> {
    let checked: Checked;
    try {
      checked = await this.check(entry);
    } catch (error) {
      if (!(error instanceof IngestError) || error.retriable) throw error;
      await this.reject(entry, error, log, headers);
      return { status: 'rejected', code: error.code, reason: error.message };
    }
    const { id, type, bytes } = checked;
    const { contentType, extension } = IMAGE_TYPE_INFO[type];
    const key = originalKey(id, extension);
    const retry = senderRetry(log.child({ imageId: id }), 'store or bus unavailable, retrying');
    const duplicate = await withRetry(async () => {
      const existing = await this.deps.store.head(key);
      if (existing?.bytes === bytes) return true;
      // The id is the file's SHA-256: a store that checks it on write refuses bytes changed on the way.
      await this.deps.store.putFile(key, entry.dataPath, contentType, { sha256: id });
      return false;
    }, retry);
    const event: ImageIngestedEvent = {
      schema: SCHEMAS.ingested,
      id,
      receivedAt: entry.source.receivedAt,
      source: entry.source,
      original: { key, bytes, contentType, location: this.deps.store.locate(key) },
      policy: this.deps.accounts.policy(entry.source.account),
    };
    await withRetry(() => this.deps.bus.publish(this.deps.config.bus.topics.ingested, id, event, headers), retry);
    if (FTP_PROTOCOLS.has(entry.source.protocol)) {
      // Before the 226, so a client that checks with SIZE or LIST right after sees the file. The
      // image is stored and announced by now: a record that cannot be written (its index is down)
      // costs the view this entry, never a "resend" reply for an upload that was taken; a sync
      // tool that resends it is counted as the same source.
      const delivery = { imageId: id, size: bytes, modifiedAt: entry.source.receivedAt, originalKey: key, contentType };
      await this.deps.deliveries
        .put(entry.source.account, entry.source.path, delivery)
        .catch((error: unknown) => log.warn({ imageId: id, err: errorMessage(error) }, 'image ingested, but its entry in the FTP view was not recorded'));
    }
    await this.deps.spool.release(entry);
    log.info({ imageId: id, bytes, duplicate }, 'image ingested');
    return { status: 'ingested', id, key, bytes, contentType, duplicate };
  }

  private async check(entry: SpoolEntry): Promise<Checked> {
    const file = await open(entry.dataPath, 'r');
    try {
      const { size } = await file.stat();
      if (size === 0) throw new IngestError('EMPTY_FILE', 'file is empty');
      if (size > entry.maxFileBytes) {
        throw new IngestError('FILE_TOO_LARGE', `file has ${size} bytes, the limit is ${entry.maxFileBytes}`);
      }
      const type = await sniffFileType(file);
      if (!type) throw new IngestError('UNSUPPORTED_TYPE', 'not a JPEG, PNG, TIFF, WebP, HEIC or AVIF image');
      if (!(await isComplete(type, file, size))) {
        throw new IngestError('TRUNCATED_IMAGE', `${type.toUpperCase()} file ends before the image does`);
      }
      return { id: entry.sha256 ?? (await sha256(entry.dataPath)), type, bytes: size };
    } finally {
      await file.close();
    }
  }

  private async reject(entry: SpoolEntry, error: IngestError, log: Logger, headers: Record<string, string>): Promise<void> {
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
    deadLetters.inc({ stage: 'ingest', code: error.code });
    // The sender already hears the reason; the dead letter is for operators, so an outage must not hide the reply.
    await this.deps.bus
      .publish(this.deps.config.bus.topics.failed, id ?? `${entry.source.account}:${entry.source.path}`, dead, headers)
      .catch((publishError: unknown) => log.error({ err: errorMessage(publishError) }, 'dead letter not published'));
  }
}
