import { Counter, Gauge, Histogram, collectDefaultMetrics, register } from 'prom-client';
import { IngestError } from './errors';
import type { EventBus } from './ports/event-bus.port';
import type { ImageIndex } from './ports/image-index.port';
import type { ObjectStore } from './ports/object-store.port';

/**
 * Every metric of the product, in prom-client's default registry so that /metrics also shows what
 * other modules register there (services/search/source-health.ts: the quiet-camera gauges). Metrics
 * are module singletons: the registry refuses a second metric of one name, and several apps in one
 * process (the tests) share them; per-app sources (spool, bus) are attached with `watch*`.
 */
export const PREFIX = 'image_ingest_';

/** Process CPU, memory, event-loop lag, GC and handles, under their usual names (process_*, nodejs_*). */
collectDefaultMetrics();

/** Latencies from a few milliseconds to minutes: a 226 waits on store and bus, searchability on the whole pipeline. */
const SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

export const uploads = new Counter({
  name: `${PREFIX}uploads_total`,
  help: 'Images ingested (stored and announced), by account and protocol; a duplicate counts as an upload.',
  labelNames: ['account', 'protocol'] as const,
});

export const uploadBytes = new Counter({
  name: `${PREFIX}upload_bytes_total`,
  help: 'Bytes of the originals ingested, by account and protocol.',
  labelNames: ['account', 'protocol'] as const,
});

export const lastUpload = new Gauge({
  name: `${PREFIX}last_upload_timestamp_seconds`,
  help: 'When this process last ingested an image of the account, unix seconds.',
  labelNames: ['account'] as const,
});

export const ftpRefusals = new Counter({
  name: `${PREFIX}ftp_refusals_total`,
  help: 'FTP replies that did not take a file or command (451, 452, 550), by reply and error code.',
  labelNames: ['reply', 'code'] as const,
});

export const ftpReplySeconds = new Histogram({
  name: `${PREFIX}ftp_upload_reply_seconds`,
  help: 'From the end of an upload (data connection closed) to the reply: 226 once stored and announced, else the refusal.',
  labelNames: ['reply'] as const,
  buckets: SECONDS,
});

export const ftpSessions = new Gauge({
  name: `${PREFIX}ftp_sessions_open`,
  help: 'FTP control connections open now.',
});

export const ftpBans = new Counter({
  name: `${PREFIX}ftp_bans_total`,
  help: 'Addresses banned by the FTP defender (failed logins, abuse).',
});

export const uploadToSearchable = new Histogram({
  name: `${PREFIX}upload_to_searchable_seconds`,
  help: 'From receipt of an upload to its image being written to the search index.',
  buckets: SECONDS,
});

export const replicationSeconds = new Histogram({
  name: `${PREFIX}replication_lag_seconds`,
  help: 'From an image being processed (processedAt) to its copies being verified in a replica store, by replica store.',
  labelNames: ['store'] as const,
  buckets: SECONDS,
});

export const replicatedObjects = new Counter({
  name: `${PREFIX}replicated_objects_total`,
  help: 'Objects of images the replicator checked in a replica store, by store and outcome: copied, or present (same size and SHA-256).',
  labelNames: ['store', 'outcome'] as const,
});

export const PROCESSING_STAGES = ['read', 'metadata', 'render', 'write', 'total'] as const;
export type ProcessingStage = (typeof PROCESSING_STAGES)[number];

export const processingSeconds = new Histogram({
  name: `${PREFIX}processing_seconds`,
  help: 'Time the processor spends on an image, by stage (read the original, metadata, render, write renditions, total).',
  labelNames: ['stage'] as const,
  buckets: SECONDS,
});

export const deadLetters = new Counter({
  name: `${PREFIX}dead_letters_total`,
  help: 'Dead letters published to images.failed, by the stage that gave up and the error code.',
  labelNames: ['stage', 'code'] as const,
});

export const storeErrors = new Counter({
  name: `${PREFIX}store_errors_total`,
  help: 'Object store calls that failed other than by a missing object, by operation and error code.',
  labelNames: ['operation', 'code'] as const,
});

export const indexErrors = new Counter({
  name: `${PREFIX}index_errors_total`,
  help: 'Search index calls that failed other than by a bad query or event, by operation and error code.',
  labelNames: ['operation', 'code'] as const,
});

export const httpResponses = new Counter({
  name: `${PREFIX}http_responses_total`,
  help: 'Answers of the search service, by status class (2xx, 4xx, 5xx).',
  labelNames: ['class'] as const,
});

export const storeUp = new Gauge({
  name: `${PREFIX}store_up`,
  help: "Whether the search service's heartbeat marks a store up (1) or down (0); reads go to down stores last.",
  labelNames: ['store', 'region'] as const,
});

export const storeReadFallbacks = new Counter({
  name: `${PREFIX}store_read_fallbacks_total`,
  help: 'Image reads the search service moved to another copy because a store failed, by that store and when (open: before any byte; stream: mid-body).',
  labelNames: ['store', 'stage'] as const,
});

/** What a spool gauge needs of the spool: how many entries wait in it. */
export interface SpoolDepthSource {
  depth(): Promise<number>;
}

const spools = new Set<SpoolDepthSource>();

export const spoolDepth = new Gauge({
  name: `${PREFIX}spool_depth`,
  help: 'Uploads in the spool: received, not yet stored and announced (an outage makes it grow).',
  async collect() {
    const depths = await Promise.all([...spools].map((s) => s.depth().catch(() => 0)));
    this.set(depths.reduce((a, b) => a + b, 0));
  },
});

/** Counts the spool's entries on every scrape until the returned function is called. */
export function watchSpool(spool: SpoolDepthSource): () => void {
  spools.add(spool);
  return () => spools.delete(spool);
}

interface LagSource {
  bus: EventBus;
  consumers: { group: string; topics: string[] }[];
}

const lagSources = new Set<LagSource>();

export const consumerLag = new Gauge({
  name: `${PREFIX}consumer_lag_messages`,
  help: 'Messages published and not yet committed by a consumer group, per topic and partition (read from the bus on scrape).',
  labelNames: ['group', 'topic', 'partition'] as const,
  async collect() {
    // Partitions come and go with topics and groups: what was not read this time is not shown.
    this.reset();
    for (const { bus, consumers } of lagSources) {
      for (const { group, topics } of consumers) {
        // A bus that cannot answer shows no lag; /readyz and the bus's own errors say why.
        const rows = await bus.lag(group, topics).catch(() => []);
        for (const row of rows) this.set({ group, topic: row.topic, partition: String(row.partition) }, row.lag);
      }
    }
  },
});

/** Reads the lag of these groups from the bus on every scrape until the returned function is called. */
export function watchLag(bus: EventBus, consumers: LagSource['consumers']): () => void {
  const source = { bus, consumers };
  lagSources.add(source);
  return () => lagSources.delete(source);
}

const readinessSources = new Set<() => Promise<Record<string, string>>>();

export const ready = new Gauge({
  name: `${PREFIX}ready`,
  help: 'Whether a part this process needs (bus, store, index) answered its ping on this scrape (1) or not (0), as /readyz reports.',
  labelNames: ['part'] as const,
  async collect() {
    this.reset();
    for (const source of readinessSources) {
      for (const [part, result] of Object.entries(await source())) this.set({ part }, result === 'ok' ? 1 : 0);
    }
  },
});

/** Shows the parts' readiness (per part "ok" or why not) on every scrape until the returned function is called. */
export function watchReadiness(source: () => Promise<Record<string, string>>): () => void {
  readinessSources.add(source);
  return () => readinessSources.delete(source);
}

/** Failures of a call that say nothing about the health of the system behind the port. */
const EXPECTED: ReadonlySet<string> = new Set(['OBJECT_NOT_FOUND', 'NAME_NOT_ALLOWED', 'INVALID_QUERY', 'INVALID_EVENT', 'NOT_YET_INDEXED']);

/**
 * The port with every failed call counted on `counter`: one wrapper instead of a counter in each
 * of the four adapters. Only promise-returning methods are counted; the rest pass through.
 */
function counted<T extends object>(port: T, counter: Counter<'operation' | 'code'>): T {
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function' || typeof property !== 'string') return value;
      return (...args: unknown[]) => {
        const result = (value as (...a: unknown[]) => unknown).apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.catch((error: unknown) => {
          const code = error instanceof IngestError ? error.code : 'INTERNAL_ERROR';
          if (!EXPECTED.has(code)) counter.inc({ operation: property, code });
          throw error;
        });
      };
    },
  });
}

export function countedStore(store: ObjectStore): ObjectStore {
  return counted(store, storeErrors);
}

export function countedIndex(index: ImageIndex): ImageIndex {
  return counted(index, indexErrors);
}

/** The registry /metrics serves. */
export const registry = register;
