import { createHash } from 'node:crypto';
import { Client, errors } from '@elastic/elasticsearch';
import type { ImageFailedEvent, ImageProcessedEvent } from '../contracts/events';
import { IngestError, errorMessage } from '../errors';
import { captureInstant, documentTerms, failureKey, mergeDocument, normalizeKeyword, searchTerms } from '../index-document';
import type { ImageDocument, ImageIndex, ImageQuery, SearchResult, SortField } from '../ports/image-index.port';

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
  doc: ImageDocument;
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

interface Pending {
  event: ImageProcessedEvent;
  resolve: () => void;
  reject: (error: unknown) => void;
}

function indexError(action: string, error: unknown): IngestError {
  const status = error instanceof errors.ResponseError ? error.meta.statusCode : undefined;
  const retriable = status === undefined || status >= 500 || status === 429 || status === 409;
  return new IngestError('INDEX_UNAVAILABLE', `cannot ${action}: ${errorMessage(error)}`, { retriable, cause: error });
}

/**
 * Elasticsearch 8. Upserts are gathered into _bulk requests; a re-upload's sources merge in the
 * application (no Painless) under optimistic concurrency: the write names the seq_no/primary_term it
 * read and a conflict re-reads and merges again.
 */
export class ElasticsearchImageIndex implements ImageIndex {
  private readonly client: Client;
  private readonly failuresIndex: string;
  private ready: Promise<void> | null = null;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly options: ElasticsearchImageIndexOptions) {
    this.client = new Client({ node: options.node, auth: options.auth, maxRetries: 3, requestTimeout: 30_000 });
    this.failuresIndex = `${options.index}-failures`;
  }

  upsert(event: ImageProcessedEvent): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ event, resolve, reject });
      this.timer ??= setTimeout(() => void this.flush(), this.options.bulkWindowMs);
    });
  }

  async get(id: string): Promise<ImageDocument | null> {
    await this.ensureIndices();
    try {
      const hit = await this.client.get<Indexed>({ index: this.options.index, id }, { ignore: [404] });
      return hit.found ? hit._source!.doc : null;
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
    try {
      const result = await this.client.search<Indexed>({
        index: this.options.index,
        query: { bool: { filter } },
        sort: [{ [SORT_FIELDS[query.sort.field]]: { order: query.sort.order, missing: '_last' } }, { id: { order: 'asc' } }],
        from: (query.page - 1) * query.size,
        size: query.size,
        track_total_hits: true,
      });
      const total = typeof result.hits.total === 'number' ? result.hits.total : (result.hits.total?.value ?? 0);
      return { total, items: result.hits.hits.map((hit) => hit._source!.doc) };
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

  /** Sends the gathered upserts as one _bulk; one image twice in a batch waits for the next. */
  private async flush(): Promise<void> {
    this.timer = null;
    const batch: Pending[] = [];
    const later: Pending[] = [];
    const ids = new Set<string>();
    for (const pending of this.queue) {
      if (ids.has(pending.event.id)) later.push(pending);
      else {
        ids.add(pending.event.id);
        batch.push(pending);
      }
    }
    this.queue = later;
    if (later.length > 0) this.timer = setTimeout(() => void this.flush(), this.options.bulkWindowMs);
    if (batch.length === 0) return;
    try {
      await this.ensureIndices();
      await this.writeBatch(batch);
    } catch (error) {
      batch.forEach((p) => p.reject(error instanceof IngestError ? error : indexError('index', error)));
    }
  }

  private async writeBatch(batch: Pending[]): Promise<void> {
    let remaining = batch;
    for (let attempt = 0; remaining.length > 0; attempt++) {
      if (attempt >= 5) throw new IngestError('INDEX_UNAVAILABLE', 'too many concurrent updates of the same images', { retriable: true });
      const { docs } = await this.client.mget<Indexed>({ index: this.options.index, ids: remaining.map((p) => p.event.id) });
      const operations: object[] = [];
      remaining.forEach((pending, i) => {
        const current = docs[i] as { found?: boolean; _source?: Indexed; _seq_no?: number; _primary_term?: number };
        const doc = mergeDocument(current.found ? current._source!.doc : null, pending.event);
        const action = current.found
          ? { index: { _index: this.options.index, _id: doc.id, if_seq_no: current._seq_no, if_primary_term: current._primary_term } }
          : { create: { _index: this.options.index, _id: doc.id } };
        operations.push(action, this.toIndexed(doc));
      });
      const result = await this.client.bulk({ operations, refresh: this.options.refresh === 'wait_for' ? 'wait_for' : false });
      const conflicts: Pending[] = [];
      result.items.forEach((item, i) => {
        const outcome = item.index ?? item.create;
        const pending = remaining[i];
        if (!outcome?.error) pending.resolve();
        else if (outcome.status === 409) conflicts.push(pending);
        else pending.reject(indexError(`index ${pending.event.id}`, new Error(`${outcome.error.type}: ${outcome.error.reason}`)));
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
        if (!(await this.client.indices.exists({ index }))) {
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
