import { Readable } from 'node:stream';
import { IngestError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { storeReadFallbacks } from '../../shared/metrics';
import type { NamedStore, ObjectStream, StoredObject } from '../../shared/ports/object-store.port';
import type { ByteRange } from './byte-range';

/** An object opened on one copy; its body goes on from the next copies if that store breaks off. */
export interface CopyStream extends ObjectStream {
  /** The store the body starts from (it may end on another one). */
  servedBy: string;
}

/**
 * Reads an object from the first of its copies that answers (see chooseCopies for the order).
 * A copy that fails before its first byte is skipped; a body that breaks part-way is continued from
 * the next copy with a Range from the byte reached, so the reader gets the whole object, byte for
 * byte (keys are content-addressed: every copy holds the same bytes). Missing everywhere is null;
 * when no copy could be read and some failed, throws STORE_UNAVAILABLE (its cause the last failure).
 */
export class CopyReader {
  private readonly logger: Logger;

  constructor(logger: Logger) {
    this.logger = logger.child({ component: 'copy-reader' });
  }

  /** Metadata from the first copy that answers. */
  async head(copies: readonly NamedStore[], key: string): Promise<StoredObject | null> {
    const found = await this.first(copies, key, 'head', (store) => store.store.head(key));
    return found?.value ?? null;
  }

  /** The object (or `range` of it) from the first copy that answers. */
  async open(copies: readonly NamedStore[], key: string, range?: ByteRange): Promise<CopyStream | null> {
    const found = await this.first(copies, key, 'open', (store) => store.store.getStream(key, range));
    if (!found) return null;
    const { value: object, store, index } = found;
    const whole = { start: range?.start ?? 0, end: range?.end ?? object.bytes - 1 };
    const body = Readable.from(this.continued(object, store, copies.slice(index + 1), key, whole));
    // A body destroyed before its first read (a HEAD request) never starts the generator, which would close the store's stream.
    body.once('close', () => object.body.destroy());
    return { ...object, body, servedBy: store.name };
  }

  private async first<T>(copies: readonly NamedStore[], key: string, operation: 'head' | 'open', read: (store: NamedStore) => Promise<T | null>) {
    let failure: unknown = null;
    for (const [index, store] of copies.entries()) {
      try {
        const value = await read(store);
        if (value) return { value, store, index };
      } catch (error) {
        failure = error;
        this.fellBack(store, key, 'open', error, { operation });
      }
    }
    if (failure) throw new IngestError('STORE_UNAVAILABLE', `no copy of ${key} could be read: ${errorMessage(failure)}`, { retriable: true, cause: failure });
    return null;
  }

  /** The bytes of `whole` from `object`, then from the next copies where it broke off. */
  private async *continued(object: ObjectStream, store: NamedStore, next: readonly NamedStore[], key: string, whole: ByteRange): AsyncGenerator<Buffer> {
    let position = whole.start;
    let [body, from, rest] = [object.body, store, next];
    for (;;) {
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          // A copy never sends past the range it was asked for; the guard keeps a misbehaving one from corrupting the body.
          const wanted = chunk.subarray(0, whole.end + 1 - position);
          position += wanted.length;
          yield wanted;
        }
        if (position > whole.end) return;
        throw new Error(`the body ended at byte ${position} of ${whole.end + 1}`);
      } catch (error) {
        this.fellBack(from, key, 'stream', error, { position });
        const resumed = await this.resume(rest, key, { start: position, end: whole.end }, object.bytes);
        if (!resumed) throw error;
        ({ body, from, rest } = resumed);
      }
    }
  }

  /** The next copy that opens the rest of the object, with the same size (a different object is no continuation). */
  private async resume(copies: readonly NamedStore[], key: string, range: ByteRange, bytes: number) {
    for (const [index, store] of copies.entries()) {
      try {
        const object = await store.store.getStream(key, range);
        if (object && object.bytes === bytes) return { body: object.body, from: store, rest: copies.slice(index + 1) };
        object?.body.destroy();
      } catch (error) {
        this.fellBack(store, key, 'stream', error, { position: range.start });
      }
    }
    return null;
  }

  private fellBack(store: NamedStore, key: string, stage: 'open' | 'stream', error: unknown, context: Record<string, unknown>): void {
    storeReadFallbacks.inc({ store: store.name, stage });
    this.logger.warn({ store: store.name, key, ...context, err: errorMessage(error) }, 'store failed a read: trying the next copy');
  }
}
