import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Client, errors } from '@elastic/elasticsearch';
import type { ImageFailedEvent, ImageProcessedEvent } from '../contracts/events';
import { IngestError, errorMessage, isProgrammingError } from '../errors';
import {
  captureInstant,
  documentTerms,
  failedImage,
  failureKey,
  mergeFailed,
  mergeProcessed,
  normalizeKeyword,
  searchTerms,
  upgradeDocument,
  type StoredDocument,
} from '../index-document';
import { TOTAL_HITS_CAP, type ImageDocument, type ImageIndex, type ImageQuery, type ImageStatus, type SearchResult, type SortField } from '../ports/image-index.port';

export interface ElasticsearchImageIndexOptions {
  node: string;
  index: string;
  shards: number;
  replicas: number;
  refresh: 'false' | 'wait_for';
  bulkWindowMs: number;
  auth?: { apiKey: string } | { username: string; password: string };
}

/** The indexed form: filter fields beside the whole document, which is stored but not indexed. */
interface Indexed {
  id: string;
  /** An index written by an earlier version may hold documents of an older shape (and no status). */
  doc: StoredDocument;
  status: ImageStatus;
  captured: number | null;
  received: number;
  make: string | null;
  model: string | null;
  accounts: string[];
  terms: string[];
  location: { lat: number; lon: number } | null;
}

const SORT_FIELDS: Record<SortField, keyof Indexed> = { capturedAt: 'captured', receivedAt: 'received' };

const IMAGE_MAPPINGS = {
  dynamic: 'strict',
  properties: {
    id: { type: 'keyword' },
    doc: { type: 'object', enabled: false },
    captured: { type: 'date', format: 'epoch_millis' },
    received: { type: 'date', format: 'epoch_millis' },
    make: { type: 'keyword' },
    model: { type: 'keyword' },
    // Added in v1.1; documents indexed before it have none and count as processed.
    status: { type: 'keyword' },
    accounts: { type: 'keyword' },
    // Words pre-split by searchTerms(), exactly as the embedded index stores them.
    terms: { type: 'keyword' },
    location: { type: 'geo_point' },
  },
} as const;

const FAILURE_MAPPINGS = {
  dynamic: 'strict',
  properties: {
    key: { type: 'keyword' },
    failedAt: { type: 'date' },
    event: { type: 'object', enabled: false },
  },
} as const;

/** One waiting write: how it changes the image's document. */
interface Pending {
  id: string;
  merge: (existing: ImageDocument | null) => ImageDocument;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function indexError(action: string, error: unknown): IngestError {
  const status = error instanceof errors.ResponseError ? error.meta.statusCode : undefined;
  // 401/403/404 of a whole request are the cluster's state (credentials, a missing index), not the
  // image's fault: dead-lettering every image during a credential change would lose them all.
  const retriable = status === undefined || status >= 500 || [401, 403, 404, 408, 409, 429].includes(status);
  return new IngestError('INDEX_UNAVAILABLE', `cannot ${action}: ${errorMessage(error)}`, { retriable, cause: error });
}

/**
 * A refused bulk item. A 4xx other than 409 (conflict) and 429 (rejected for load) says this
 * document can never be indexed (e.g. 400 document_parsing_exception): retrying would block its key
 * for ever, so it is permanent and the consumer runner dead-letters it. Anything else is the index's
 * trouble and is retried.
 */
function bulkItemError(id: string, status: number, cause: { type: string; reason?: string | null }): IngestError {
  const message = `cannot index ${id}: ${cause.type}: ${cause.reason ?? ''}`;
  if (status >= 400 && status < 500 && status !== 409 && status !== 429) {
    return new IngestError('INVALID_EVENT', message, { retriable: false, cause });
  }
  return new IngestError('INDEX_UNAVAILABLE', message, { retriable: true, cause });
}

/**
 * Elasticsearch 8. Upserts are gathered into _bulk requests; a re-upload's sources merge in the
 * application (no Painless) under optimistic concurrency: the write names the seq_no/primary_term it
 * read and a conflict re-reads and merges again. Upserts of one image in the same window merge into
 * one write, in the order they were made.
 */
export class ElasticsearchImageIndex implements ImageIndex {
  private readonly client: Client;
  private readonly failuresIndex: string;
  private ready: Promise<void> | null = null;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ElasticsearchImageIndexOptions) {
    // One retry budget per layer: the consumer runner retries with backoff and jitter and decides
    // when to give up, so the client retries once (a dropped connection, another node) and fails fast.
    this.client = new Client({ node: options.node, auth: options.auth, maxRetries: 1, requestTimeout: 10_000 });
    this.failuresIndex = `${options.index}-failures`;
  }

  upsert(event: ImageProcessedEvent): Promise<void> {
    return this.enqueue(event.id, (existing) => mergeProcessed(existing, event));
  }

  async upsertFailed(event: ImageFailedEvent): Promise<void> {
    return this.enqueue(failedImage(event).id, (existing) => mergeFailed(existing, event));
  }

  async get(id: string): Promise<ImageDocument | null> {
    await this.ensureIndices();
    try {
      const hit = await this.client.get<Indexed>({ index: this.options.index, id }, { ignore: [404] });
      return hit.found ? upgradeDocument(hit._source!.doc) : null;
    } catch (error) {
      throw indexError(`read ${id}`, error);
    }
  }

  async search(query: ImageQuery): Promise<SearchResult> {
    await this.ensureIndices();
    const filter: object[] = [];
    for (const term of query.text ? searchTerms(query.text) : []) filter.push({ term: { terms: term } });
    if (query.account) filter.push({ term: { accounts: query.account } });
    if (query.make) filter.push({ term: { make: normalizeKeyword(query.make) } });
    if (query.model) filter.push({ term: { model: normalizeKeyword(query.model) } });
    if (query.from || query.to) filter.push({ range: { captured: { gte: query.from?.getTime(), lte: query.to?.getTime() } } });
    if (query.bbox) {
      const { minLon, minLat, maxLon, maxLat } = query.bbox;
      // Elasticsearch reads a box whose left edge is east of its right edge as crossing the antimeridian.
      filter.push({ geo_bounding_box: { location: { top_left: { lat: maxLat, lon: minLon }, bottom_right: { lat: minLat, lon: maxLon } } } });
    }
    if (query.status === 'failed') filter.push({ term: { status: 'failed' } });
    if (query.status === 'processed') {
      // Documents indexed before statuses existed have none and are processed ones.
      filter.push({ bool: { should: [{ term: { status: 'processed' } }, { bool: { must_not: { exists: { field: 'status' } } } }], minimum_should_match: 1 } });
    }
    try {
      const result = await this.client.search<Indexed>({
        index: this.options.index,
        query: { bool: { filter } },
        sort: [{ [SORT_FIELDS[query.sort.field]]: { order: query.sort.order, missing: '_last' } }, { id: { order: 'asc' } }],
        from: (query.page - 1) * query.size,
        size: query.size,
        track_total_hits: TOTAL_HITS_CAP,
      });
      // Not a number: rest_total_hits_as_int is not set.
      const { value, relation } = result.hits.total as { value: number; relation: 'eq' | 'gte' };
      return { total: value, totalRelation: relation, items: result.hits.hits.map((hit) => upgradeDocument(hit._source!.doc)) };
    } catch (error) {
      throw indexError('search', error);
    }
  }

  async recordFailure(event: ImageFailedEvent): Promise<void> {
    await this.ensureIndices();
    const key = failureKey(event);
    try {
      await this.client.index(
        {
          index: this.failuresIndex,
          id: createHash('sha256').update(key).digest('hex'),
          op_type: 'create',
          document: { key, failedAt: event.failedAt, event },
          refresh: this.options.refresh === 'wait_for' ? 'wait_for' : false,
        },
        { ignore: [409] },
      );
    } catch (error) {
      throw indexError('record a failure', error);
    }
  }

  async failures(limit: number): Promise<ImageFailedEvent[]> {
    await this.ensureIndices();
    try {
      const result = await this.client.search<{ event: ImageFailedEvent }>({
        index: this.failuresIndex,
        sort: [{ failedAt: { order: 'desc' } }, { key: { order: 'asc' } }],
        size: limit,
      });
      return result.hits.hits.map((hit) => hit._source!.event);
    } catch (error) {
      throw indexError('list failures', error);
    }
  }

  async close(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush();
    await this.client.close();
  }

  private enqueue(id: string, merge: Pending['merge']): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ id, merge, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), this.options.bulkWindowMs);
    });
  }

  /** Sends the gathered upserts as one _bulk, one write per image. */
  private async flush(): Promise<void> {
    this.timer = null;
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    const byImage = new Map<string, Pending[]>();
    for (const pending of batch) byImage.set(pending.id, [...(byImage.get(pending.id) ?? []), pending]);
    try {
      await this.ensureIndices();
      await this.writeBatch([...byImage.values()]);
    } catch (error) {
      const failure = error instanceof IngestError || isProgrammingError(error) ? error : indexError('index', error);
      batch.forEach((p) => p.reject(failure));
    }
  }

  /** Each group holds the pending writes of one image; a group that changes nothing is not written. */
  private async writeBatch(groups: Pending[][]): Promise<void> {
    const settle = (group: Pending[], error?: IngestError) => group.forEach((p) => (error ? p.reject(error) : p.resolve()));
    let remaining = groups;
    for (let attempt = 0; remaining.length > 0; attempt++) {
      if (attempt >= 5) throw new IngestError('INDEX_UNAVAILABLE', 'too many concurrent updates of the same images', { retriable: true });
      const { docs } = await this.client.mget<Indexed>({ index: this.options.index, ids: remaining.map((group) => group[0].id) });
      const operations: object[] = [];
      const writing: Pending[][] = [];
      remaining.forEach((group, i) => {
        const current = docs[i] as { found?: boolean; _source?: Indexed; _seq_no?: number; _primary_term?: number };
        const stored = current.found ? current._source!.doc : null;
        const doc = group.reduce<ImageDocument | null>((merged, pending) => pending.merge(merged), stored && upgradeDocument(stored))!;
        if (isDeepStrictEqual(doc, stored)) return settle(group);
        const action = current.found
          ? { index: { _index: this.options.index, _id: doc.id, if_seq_no: current._seq_no, if_primary_term: current._primary_term } }
          : { create: { _index: this.options.index, _id: doc.id } };
        operations.push(action, this.toIndexed(doc));
        writing.push(group);
      });
      if (operations.length === 0) return;
      const result = await this.client.bulk({ operations, refresh: this.options.refresh === 'wait_for' ? 'wait_for' : false });
      const conflicts: Pending[][] = [];
      result.items.forEach((item, i) => {
        const outcome = item.index ?? item.create;
        const group = writing[i];
        if (!outcome?.error) settle(group);
        else if (outcome.status === 409) conflicts.push(group);
        else settle(group, bulkItemError(group[0].id, outcome.status, outcome.error));
      });
      remaining = conflicts;
    }
  }

  private toIndexed(doc: ImageDocument): Indexed {
    return {
      id: doc.id,
      doc,
      captured: captureInstant(doc.capturedAt),
      received: Date.parse(doc.receivedAt),
      make: normalizeKeyword(doc.camera.make),
      model: normalizeKeyword(doc.camera.model),
      status: doc.status,
      accounts: [...new Set(doc.sources.map((s) => s.account))],
      terms: documentTerms(doc),
      location: doc.gps ? { lat: doc.gps.lat, lon: doc.gps.lon } : null,
    };
  }

  /** Index templates first, so an index created by a write elsewhere still gets the right mapping. */
  private ensureIndices(): Promise<void> {
    this.ready ??= (async () => {
      const settings = { number_of_shards: this.options.shards, number_of_replicas: this.options.replicas };
      for (const [index, mappings] of [
        [this.options.index, IMAGE_MAPPINGS],
        [this.failuresIndex, FAILURE_MAPPINGS],
      ] as const) {
        await this.client.indices.putIndexTemplate({ name: `${index}-template`, index_patterns: [index], priority: 100, template: { settings, mappings } });
        if (await this.client.indices.exists({ index })) {
          // The mapping is strict: an index an earlier version created must learn the fields added since.
          await this.client.indices.putMapping({ index, ...mappings });
        } else {
          await this.client.indices.create({ index }, { ignore: [400] });
        }
      }
      await this.client.cluster.health({ index: [this.options.index, this.failuresIndex], wait_for_status: 'yellow', timeout: '30s' });
    })().catch((error: unknown) => {
      this.ready = null;
      throw indexError('prepare the index', error);
    });
    return this.ready;
  }
}
