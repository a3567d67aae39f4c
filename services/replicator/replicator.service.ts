import { createHash } from 'node:crypto';
import { Transform, pipeline, type Readable } from 'node:stream';
import type { Config } from '../../shared/config/config.schema';
import { SCHEMAS, type ImageProcessedEvent, type ImageReplicatedEvent, type ReplicatedObject } from '../../shared/contracts/events';
import type { ConsumerRunner, HandlerOutcome } from '../../shared/consumer/consumer.runner';
import { IngestError } from '../../shared/errors';
import { lastErasedAt, readErasureRecord } from '../../shared/erasure-record';
import { predatesErasure } from '../../shared/index-document';
import type { Logger } from '../../shared/logging';
import { replicatedObjects, replicationSeconds } from '../../shared/metrics';
import type { EventBus, Subscription } from '../../shared/ports/event-bus.port';
import type { NamedStore, ObjectStore } from '../../shared/ports/object-store.port';
import type { TraceContext } from '../../shared/tracing';

export interface ReplicatorDeps {
  config: Readonly<Config>;
  /** The primary first, then the replicas (Adapters.stores). */
  stores: NamedStore[];
  bus: EventBus;
  runner: ConsumerRunner;
  logger: Logger;
}

/** One object of an image to copy: the original or a rendition. */
export interface ImageObject {
  role: 'original' | 'rendition';
  name: string;
  key: string;
  contentType: string;
}

/** Size and SHA-256 (hex) of an object's bytes as read. */
export interface Digest {
  bytes: number;
  sha256: string;
}

/** The original first, then each rendition, as the processed event lists them. */
export function imageObjects(event: Pick<ImageProcessedEvent, 'original' | 'renditions'>): ImageObject[] {
  return [
    { role: 'original', name: 'original', key: event.original.key, contentType: event.original.contentType },
    ...event.renditions.map((r): ImageObject => ({ role: 'rendition', name: r.name, key: r.key, contentType: r.contentType })),
  ];
}

/** Hashes a stream as it passes through, for bytes that are being written somewhere else. */
function hashing(): { through: Transform; digest(): Digest } {
  const hash = createHash('sha256');
  let bytes = 0;
  const through = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { through, digest: () => ({ bytes, sha256: hash.digest('hex') }) };
}

/** Reads an object once to hash it, never whole in memory; null when absent. */
export async function digestOf(store: ObjectStore, key: string): Promise<Digest | null> {
  const object = await store.getStream(key);
  if (!object) return null;
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of object.body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}

export type CopyOutcome = { status: 'present' | 'copied'; digest: Digest } | { status: 'missing' };

/**
 * Makes `to` hold the same bytes as `from` at `key`, streamed, and proves it by reading the copy
 * back. An object already there with the same size and SHA-256 is not copied again (size first:
 * a head is cheap, a hash reads the object). `expected` is the SHA-256 the bytes must have when it
 * is known (an original's is the image id), which spares reading `from` to compare; bytes in
 * `from` that do not match it are not copied (a permanent REPLICA_MISMATCH: `verify` repairs the
 * source from a good copy). A copy that reads back different is a retriable REPLICA_MISMATCH, so
 * the runner copies again after a backoff. `missing`: `from` does not hold the object.
 */
export async function copyObject(from: ObjectStore, to: ObjectStore, object: ImageObject, expected?: string): Promise<CopyOutcome> {
  const [source, target] = await Promise.all([from.head(object.key), to.head(object.key)]);
  if (!source) return { status: 'missing' };
  if (target?.bytes === source.bytes) {
    const [theirs, ours] = await Promise.all([digestOf(to, object.key), expected ? { bytes: source.bytes, sha256: expected } : digestOf(from, object.key)]);
    if (theirs && ours && theirs.bytes === ours.bytes && theirs.sha256 === ours.sha256) return { status: 'present', digest: theirs };
  }
  const stream = await from.getStream(object.key);
  if (!stream) return { status: 'missing' };
  const { through, digest } = hashing();
  // pipeline() passes a read error on to the store's write, which then fails instead of storing a torso.
  const body: Readable = pipeline(stream.body, through, () => undefined);
  try {
    await to.put(object.key, body, object.contentType, expected ? { sha256: expected } : undefined);
  } catch (error) {
    // Closes the source too: an S3 body left open holds its socket through every retry of an outage.
    body.destroy();
    throw error;
  }
  const sent = digest();
  if (expected && sent.sha256 !== expected) {
    await to.delete(object.key);
    throw new IngestError('REPLICA_MISMATCH', `${object.key} in the source store does not hash to ${expected}; not copied`);
  }
  const copy = await digestOf(to, object.key);
  if (!copy || copy.bytes !== sent.bytes || copy.sha256 !== sent.sha256) {
    throw new IngestError('REPLICA_MISMATCH', `the copy of ${object.key} reads back ${copy ? `${copy.bytes} bytes ${copy.sha256}` : 'absent'}, not ${sent.bytes} bytes ${sent.sha256}`, {
      retriable: true,
    });
  }
  return { status: 'copied', digest: copy };
}

/**
 * Copies each processed image's original and renditions from the primary store to every replica
 * store, verified by size and SHA-256 read back from the replica, and announces each replica's
 * copies (`images.processed` → `images.replicated`, one event per replica). Every step can be
 * repeated: what a replica already holds intact is not copied again.
 */
export class ReplicatorService {
  private readonly logger: Logger;
  private readonly primary: NamedStore;
  private readonly replicas: NamedStore[];

  constructor(private readonly deps: ReplicatorDeps) {
    this.logger = deps.logger.child({ component: 'replicator' });
    [this.primary, ...this.replicas] = deps.stores;
  }

  start(): Promise<Subscription> {
    const { config, runner } = this.deps;
    return runner.start({
      stage: 'replicator',
      group: config.bus.groups.replicator,
      topic: config.bus.topics.processed,
      role: 'processed',
      // Copies wait on the stores' network, not the CPU: their own setting, not the processor's.
      concurrency: config.replicator.concurrency,
      handle: (event, _message, { trace }) => this.handle(event, trace),
    });
  }

  /**
   * Processed when every replica holds every object; skipped when the image was erased meanwhile.
   * An object missing from the primary without an erasure is a permanent OBJECT_NOT_FOUND; store
   * outages and copies that read back wrong are thrown for the runner to retry.
   */
  async handle(event: ImageProcessedEvent, trace?: TraceContext): Promise<HandlerOutcome> {
    const log = this.logger.child({ imageId: event.id, traceId: trace?.traceId });
    const objects = imageObjects(event);
    for (const replica of this.replicas) {
      const locations: ReplicatedObject[] = [];
      let copied = 0;
      for (const object of objects) {
        const outcome = await copyObject(this.primary.store, replica.store, object, object.role === 'original' ? event.id : undefined);
        if (outcome.status === 'missing') return this.missing(event, object.key);
        if (outcome.status === 'copied') copied++;
        replicatedObjects.inc({ store: replica.name, outcome: outcome.status });
        locations.push({ ...replica.store.locate(object.key), region: replica.region, role: object.role, name: object.name, ...outcome.digest });
      }
      // An erasure that ran while this copied would leave the copies behind it: they go again.
      if (await this.erased(event)) {
        await Promise.all(objects.map((o) => replica.store.delete(o.key)));
        return { status: 'skipped', reason: 'erased while copying' };
      }
      const replicated: ImageReplicatedEvent = {
        schema: SCHEMAS.replicated,
        id: event.id,
        store: replica.name,
        region: replica.region,
        locations,
        replicatedAt: new Date().toISOString(),
      };
      await this.deps.bus.publish(this.deps.config.bus.topics.replicated, event.id, replicated, trace?.headers);
      // A redelivery that found every copy in place says nothing about how long copying takes.
      if (copied > 0) replicationSeconds.observe({ store: replica.name }, Math.max(0, (Date.now() - Date.parse(event.processedAt)) / 1000));
      log.debug({ store: replica.name, region: replica.region, copied, present: objects.length - copied }, 'image replicated');
    }
    return { status: 'processed' };
  }

  /**
   * Whether the image this event announces was erased after it was received. The same bytes
   * delivered again after an erasure are a new image, whose copies must stay.
   */
  private async erased(event: ImageProcessedEvent): Promise<boolean> {
    return predatesErasure(event.source.receivedAt, lastErasedAt(await readErasureRecord(this.primary.store, event.id)));
  }

  /** An object gone from the primary: erased (its audit record is there), else lost. */
  private async missing(event: ImageProcessedEvent, key: string): Promise<HandlerOutcome> {
    if (await this.erased(event)) return { status: 'skipped', reason: 'erased' };
    return { status: 'failed', error: new IngestError('OBJECT_NOT_FOUND', `${key} is not in the primary store ${this.primary.name} and the image was not erased`) };
  }
}
