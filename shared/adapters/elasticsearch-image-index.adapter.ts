import { createHash } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { Client, errors, type estypes } from '@elastic/elasticsearch';
import type { ImageFailedEvent, ImageProcessedEvent, ImageReplicatedEvent } from '../contracts/events';
import { IngestError, errorMessage, isProgrammingError } from '../errors';
import type { Logger } from '../logging';
import {
  documentTerms,
  failedImage,
  failureKey,
  mergeFailed,
  mergeProcessed,
  mergeReplicated,
  notYetIndexed,
  predatesErasure,
  searchFields,
  upgradeDocument,
  type StoredDocument,
} from '../index-document';
import {
  FACET_SAMPLE,
  TOTAL_HITS_CAP,
  type FacetCounts,
  type FacetName,
  type ImageDocument,
  type ImageIndex,
  type ImageQuery,
  type ImageStatus,
  type SearchResult,
  type SortPosition,
} from '../ports/image-index.port';
import { NEWEST_LAST_OFFSET, NEWEST_ORDER, atOrBefore, facetAggregations, querySort, queryFilters, readFacets, searchAfter } from './elasticsearch-image-query';

export interface ElasticsearchRolloverOptions {
  /** Roll over once the largest primary shard of the write index is this big, e.g. '50gb'. */
  maxPrimaryShardSize: string;
  /** Roll over once the write index is this old, e.g. '30d'. */
  maxAge: string;
  /** Checked on start and before a bulk write at most this often; 0 checks before every bulk. */
  checkIntervalMs: number;
}

export interface ElasticsearchImageIndexOptions {
  node: string;
  /** Names the aliases <index>-write and <index>-read, the backing indices <index>-000001, ... and <index>-failures. */
  index: string;
  shards: number;
  replicas: number;
  refresh: 'false' | 'wait_for';
  bulkWindowMs: number;
  /** Without conditions this adapter never rolls the write index over (something else may). */
  rollover?: ElasticsearchRolloverOptions;
  /** Where a failed periodic rollover is reported; writes go on into the current backing index. */
  logger?: Logger;
  auth?: { apiKey: string } | { username: string; password: string };
}

/** The indexed form: filter fields beside the whole document, which is stored but not indexed. */
interface Indexed extends ReturnType<typeof searchFields> {
  id: string;
  /** An index written by an earlier version may hold documents of an older shape (and no status). */
  doc: StoredDocument;
  status: ImageStatus;
  accounts: string[];
  terms: string[];
  location: { lat: number; lon: number } | null;
  /** When the image was last erased; kept when the same bytes are delivered again after it. */
  erasedAt?: string;
}

/** What stays of an erased image: its id and when it was erased, so that older events are ignored. */
interface Tombstone {
  id: string;
  status: 'erased';
  erasedAt: string;
}

/** Every search leaves tombstones out. */
const NOT_ERASED: estypes.QueryDslQueryContainer = { bool: { must_not: [{ term: { status: 'erased' } }] } };

const IMAGE_MAPPINGS = {
  dynamic: 'strict',
  properties: {
    id: { type: 'keyword' },
    doc: { type: 'object', enabled: false },
    captured: { type: 'date', format: 'epoch_millis' },
    received: { type: 'date', format: 'epoch_millis' },
    make: { type: 'keyword' },
    model: { type: 'keyword' },
    // Added in v1.3; documents indexed before it have none until reindexed.
    lens: { type: 'keyword' },
    iso: { type: 'integer' },
    // Added in v1.1; documents indexed before it have none and count as processed.
    status: { type: 'keyword' },
    accounts: { type: 'keyword' },
    // Words pre-split by searchTerms(), exactly as the embedded index stores them.
    terms: { type: 'keyword' },
    location: { type: 'geo_point' },
    // Added in v1.4: an erased image's tombstone (status "erased", no doc) and a re-delivered one keep it.
    erasedAt: { type: 'date' },
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

/** An image's document as it is now (null for a tombstone), when it was last erased, and the backing index that holds it. */
interface Stored {
  index: string;
  seqNo: number;
  primaryTerm: number;
  doc: StoredDocument | null;
  erasedAt: string | null;
}

/** One waiting write: how it changes the image's document, told when the image was last erased (null: never). */
interface Pending {
  id: string;
  merge: (existing: ImageDocument | null, erasedAt: string | null) => ImageDocument | null;
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

function alreadyExists(error: unknown): boolean {
  return error instanceof errors.ResponseError && error.body?.error?.type === 'resource_already_exists_exception';
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
 *
 * Images live in backing indices <index>-000001, <index>-000002, ... made from one index template:
 * new images are created through the alias <index>-write, whose write index is the newest, and
 * everything is read through <index>-read, which the template gives every backing index. The adapter
 * rolls the write index over itself (on start and at most every rollover.checkIntervalMs before a bulk)
 * because ILM is an x-pack module, missing from the Elasticsearch the local stack builds from Maven
 * Central jars; the conditions are those an ILM rollover action would take.
 */
export class ElasticsearchImageIndex implements ImageIndex {
  private readonly client: Client;
  private readonly writeAlias: string;
  private readonly readAlias: string;
  private readonly failuresIndex: string;
  private readonly logger: Logger | undefined;
  private ready: Promise<void> | null = null;
  private queue: Pending[] = [];
  private timer: NodeJS.Timeout | null = null;
  /** The two newest backing indices this adapter knows the write alias to have pointed at, oldest first. */
  private writeIndices: string[] = [];
  private nextRolloverCheck = 0;

  constructor(private readonly options: ElasticsearchImageIndexOptions) {
    // One retry budget per layer: the consumer runner retries with backoff and jitter and decides
    // when to give up, so the client retries once (a dropped connection, another node) and fails fast.
    this.client = new Client({ node: options.node, auth: options.auth, maxRetries: 1, requestTimeout: 10_000 });
    // Not <index> itself: an alias can't share the name of the concrete index an earlier version made.
    this.writeAlias = `${options.index}-write`;
    this.readAlias = `${options.index}-read`;
    this.failuresIndex = `${options.index}-failures`;
    this.logger = options.logger?.child({ component: 'elasticsearch', index: options.index });
  }

  upsert(event: ImageProcessedEvent): Promise<void> {
    return this.enqueue(event.id, (existing, erasedAt) => (predatesErasure(event.source.receivedAt, erasedAt) ? existing : mergeProcessed(existing, event)));
  }

  async upsertFailed(event: ImageFailedEvent): Promise<void> {
    return this.enqueue(failedImage(event).id, (existing, erasedAt) => (predatesErasure(event.source.receivedAt, erasedAt) ? existing : mergeFailed(existing, event)));
  }

  async addLocations(event: ImageReplicatedEvent): Promise<void> {
    let indexed = true;
    await this.enqueue(event.id, (existing, erasedAt) => {
      if (predatesErasure(event.replicatedAt, erasedAt)) return existing;
      indexed = existing !== null;
      return existing && mergeReplicated(existing, event);
    });
    if (!indexed) throw notYetIndexed(event.id);
  }

  async get(id: string): Promise<ImageDocument | null> {
    await this.ensureIndices();
    try {
      const stored = (await this.read([id])).get(id);
      return stored?.doc ? upgradeDocument(stored.doc) : null;
    } catch (error) {
      throw error instanceof IngestError ? error : indexError(`read ${id}`, error);
    }
  }

  async search(query: ImageQuery): Promise<SearchResult> {
    await this.ensureIndices();
    const filter = [...queryFilters(query), NOT_ERASED];
    const aggs = query.facets?.length ? facetAggregations(query.facets) : undefined;
    try {
      // The facets' own requests run beside the page's: aggregating every match of a broad query
      // in the page's request would be thrown away for the newest FACET_SAMPLE.
      const [result, facets] = await Promise.all([
        this.client.search<Indexed>({
          index: this.readAlias,
          query: { bool: { filter } },
          sort: querySort(query),
          ...(query.after ? searchAfter(query.after) : { from: (query.page - 1) * query.size }),
          size: query.size,
          track_total_hits: TOTAL_HITS_CAP,
        }),
        query.facets && aggs ? this.facets(query.facets, filter, aggs) : undefined,
      ]);
      // Not a number: rest_total_hits_as_int is not set.
      const { value, relation } = result.hits.total as { value: number; relation: 'eq' | 'gte' };
      const hits = result.hits.hits;
      const items = hits.map((hit) => upgradeDocument(hit._source!.doc));
      // The engine's own sort values: its distances are of its stored (quantized) points.
      const next = items.length === query.size && items.length > 0 ? (hits[hits.length - 1].sort as SortPosition) : null;
      return { total: value, totalRelation: relation, items, next, ...(facets ? { facets } : {}) };
    } catch (error) {
      throw indexError('search', error);
    }
  }

  /**
   * Facets of every match when at most FACET_SAMPLE match, else of the FACET_SAMPLE most recently
   * received: the last of those is found (and the matches counted just past the sample), then
   * the aggregations count up to it.
   */
  private async facets(names: FacetName[], filter: estypes.QueryDslQueryContainer[], aggs: Record<string, estypes.AggregationsAggregationContainer>): Promise<FacetCounts> {
    const last = await this.client.search({
      index: this.readAlias,
      query: { bool: { filter } },
      sort: NEWEST_ORDER,
      from: NEWEST_LAST_OFFSET,
      size: 1,
      _source: false,
      track_total_hits: FACET_SAMPLE + 1,
    });
    const { value: matches } = last.hits.total as { value: number };
    const boundary = matches > FACET_SAMPLE ? (last.hits.hits[0]?.sort as SortPosition | undefined) : undefined;
    const sample = await this.client.search({
      index: this.readAlias,
      query: { bool: { filter: boundary ? [...filter, atOrBefore(boundary)] : filter } },
      size: 0,
      track_total_hits: TOTAL_HITS_CAP,
      aggs,
    });
    const { value } = sample.hits.total as { value: number };
    return readFacets(names, sample.aggregations as never, value, boundary ? 'newest' : 'all');
  }

  /**
   * The tombstone replaces the document where it lives, under optimistic concurrency like any
   * write: a bulk that read the image before is refused (409), reads again and meets the tombstone.
   * Refreshed before it returns, so that no search shows the image after its erasure.
   */
  async erase(id: string, erasedAt: string): Promise<boolean> {
    await this.ensureIndices();
    try {
      for (let attempt = 0; attempt < 5; attempt++) {
        const found = (await this.read([id])).get(id);
        const later = found?.erasedAt && Date.parse(found.erasedAt) > Date.parse(erasedAt) ? found.erasedAt : erasedAt;
        const tombstone: Tombstone = { id, status: 'erased', erasedAt: later };
        const action = found
          ? { index: { _index: found.index, _id: id, if_seq_no: found.seqNo, if_primary_term: found.primaryTerm } }
          : { create: { _index: this.writeAlias, _id: id, require_alias: true } };
        const { items } = await this.client.bulk({ operations: [action, tombstone], refresh: 'wait_for' });
        const outcome = (items[0].index ?? items[0].create)!;
        if (outcome.status === 409) continue;
        if (outcome.error) throw bulkItemError(id, outcome.status, outcome.error);
        if (items[0].create) this.sawWriteIndex(outcome._index);
        // Dead letters recorded a moment ago are not searchable before a refresh.
        await this.client.indices.refresh({ index: this.failuresIndex });
        await this.deleteFailuresWhere({ prefix: { key: `${id}|` } });
        return Boolean(found?.doc);
      }
      throw new IngestError('INDEX_UNAVAILABLE', `too many concurrent updates of ${id} to erase it`, { retriable: true });
    } catch (error) {
      throw error instanceof IngestError ? error : indexError(`erase ${id}`, error);
    }
  }

  async recordFailure(event: ImageFailedEvent): Promise<void> {
    await this.ensureIndices();
    const key = failureKey(event);
    try {
      // A dead letter of an erased image would keep what was read of it (camera, GPS, caption).
      if (event.id && predatesErasure(event.source.receivedAt, (await this.read([event.id])).get(event.id)?.erasedAt ?? null)) return;
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

  async deleteFailures(before: Date): Promise<number> {
    await this.ensureIndices();
    try {
      return await this.deleteFailuresWhere({ range: { failedAt: { lt: before.toISOString() } } });
    } catch (error) {
      throw indexError('delete failures', error);
    }
  }

  /**
   * Search then bulk delete, not _delete_by_query: that lives in the reindex module, which a
   * cluster built from the core Maven artifacts (the integration stack) does not load.
   */
  private async deleteFailuresWhere(query: estypes.QueryDslQueryContainer): Promise<number> {
    let deleted = 0;
    for (;;) {
      const found = await this.client.search({ index: this.failuresIndex, query, _source: false, size: 1000 });
      const ids = found.hits.hits.map((hit) => hit._id!);
      if (ids.length === 0) return deleted;
      const result = await this.client.bulk({ operations: ids.map((id) => ({ delete: { _index: this.failuresIndex, _id: id } })), refresh: true });
      deleted += result.items.filter((item) => item.delete?.result === 'deleted').length;
      if (result.errors) throw new Error(`${result.items.find((item) => item.delete?.error)?.delete?.error?.reason ?? 'bulk delete failed'}`);
    }
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (error) {
      throw new IngestError('INDEX_UNAVAILABLE', `Elasticsearch at ${this.options.node} does not answer: ${errorMessage(error)}`, { retriable: true, cause: error });
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
      if (this.options.rollover && Date.now() >= this.nextRolloverCheck) await this.checkRollover();
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
      const current = await this.read(remaining.map((group) => group[0].id));
      const operations: object[] = [];
      const writing: Pending[][] = [];
      remaining.forEach((group) => {
        const found = current.get(group[0].id);
        const stored = found?.doc ?? null;
        const erasedAt = found?.erasedAt ?? null;
        const doc = group.reduce<ImageDocument | null>((merged, pending) => pending.merge(merged, erasedAt), stored && upgradeDocument(stored));
        if (doc === null || isDeepStrictEqual(doc, stored)) return settle(group);
        // An image already indexed is rewritten where it lives: through the write alias it would
        // land in the newest backing index beside its older copy. require_alias: a missing alias
        // must fail the write, not auto-create a concrete index of that name.
        const action = found
          ? { index: { _index: found.index, _id: doc.id, if_seq_no: found.seqNo, if_primary_term: found.primaryTerm } }
          : { create: { _index: this.writeAlias, _id: doc.id, require_alias: true } };
        // The same bytes delivered after an erasure keep its time, so that older events stay ignored.
        operations.push(action, erasedAt === null ? this.toIndexed(doc) : { ...this.toIndexed(doc), erasedAt });
        writing.push(group);
      });
      if (operations.length === 0) return;
      const result = await this.client.bulk({ operations, refresh: this.options.refresh === 'wait_for' ? 'wait_for' : false });
      const conflicts: Pending[][] = [];
      result.items.forEach((item, i) => {
        // A create names the backing index the write alias led to, also when refused because the
        // image is already there: that is how a rollover made by another instance is learnt.
        if (item.create && (!item.create.error || item.create.status === 409)) this.sawWriteIndex(item.create._index);
        const outcome = item.index ?? item.create;
        const group = writing[i];
        if (!outcome?.error) settle(group);
        else if (outcome.status === 409) conflicts.push(group);
        else settle(group, bulkItemError(group[0].id, outcome.status, outcome.error));
      });
      remaining = conflicts;
    }
  }

  /**
   * The images' documents read in real time, with the backing index that holds each. A search by ids
   * finds an image in any backing index, but only once that index has refreshed (about a second
   * after the write; search is near-real-time). What it cannot see yet was written since, so it is
   * in the write index, or in its predecessor just after a rollover: those two are asked by a
   * realtime multi-get, which also gives the found ones their current seq_no.
   */
  private async read(ids: string[]): Promise<Map<string, Stored>> {
    const located = await this.client.search({ index: this.readAlias, query: { ids: { values: ids } }, size: ids.length, _source: false, track_total_hits: false });
    const where = new Map(located.hits.hits.map((hit) => [hit._id!, hit._index]));
    const docs = ids.flatMap((id) => (where.has(id) ? [where.get(id)!] : this.writeIndices).map((index) => ({ _index: index, _id: id })));
    const stored = new Map<string, Stored>();
    if (docs.length === 0) return stored;
    const { docs: got } = await this.client.mget<Partial<Pick<Indexed, 'doc' | 'erasedAt'>>>({ docs, _source_includes: ['doc', 'erasedAt'] });
    for (const item of got) {
      if ('error' in item) throw new IngestError('INDEX_UNAVAILABLE', `cannot read ${item._id} in ${item._index}: ${item.error.type}: ${item.error.reason ?? ''}`, { retriable: true, cause: item.error });
      if (item.found && !stored.has(item._id)) {
        const { doc, erasedAt } = item._source!;
        stored.set(item._id, { index: item._index, seqNo: item._seq_no!, primaryTerm: item._primary_term!, doc: doc ?? null, erasedAt: erasedAt ?? null });
      }
    }
    return stored;
  }

  private sawWriteIndex(index: string): void {
    if (this.writeIndices.includes(index)) return;
    // Rollover counts up in six zero-padded digits, so the names sort by age.
    this.writeIndices = [...this.writeIndices, index].sort().slice(-2);
  }

  /** Rolls the write index over if it meets a condition. */
  private async rollover(): Promise<void> {
    const { rollover } = this.options;
    if (!rollover) return;
    // Set before the request so that bulks flushed meanwhile do not ask again.
    this.nextRolloverCheck = Date.now() + rollover.checkIntervalMs;
    try {
      const result = await this.client.indices.rollover({
        alias: this.writeAlias,
        // min_docs: as in ILM's rollover action, an empty index is not rolled over, so a quiet site
        // does not gain an empty backing index every maxAge.
        conditions: { max_primary_shard_size: rollover.maxPrimaryShardSize, max_age: rollover.maxAge, min_docs: 1 },
      });
      if (result.rolled_over) this.sawWriteIndex(result.new_index);
    } catch (error) {
      // Another instance rolled over to the same name first.
      if (!alreadyExists(error)) throw error;
    }
  }

  /** A failed periodic rollover only lets the write index grow on; the batch is written all the same. */
  private async checkRollover(): Promise<void> {
    try {
      await this.rollover();
    } catch (error) {
      if (isProgrammingError(error)) throw error;
      this.logger?.warn({ alias: this.writeAlias, err: errorMessage(indexError('roll over', error)) }, 'rollover failed; writing on into the current backing index');
    }
  }

  private toIndexed(doc: ImageDocument): Indexed {
    return {
      id: doc.id,
      doc,
      ...searchFields(doc),
      status: doc.status,
      accounts: [...new Set(doc.sources.map((s) => s.account))],
      terms: documentTerms(doc),
      location: doc.gps ? { lat: doc.gps.lat, lon: doc.gps.lon } : null,
    };
  }

  /**
   * Index templates first, so an index created by a write elsewhere or by a rollover still gets the
   * right mapping.
   *
   * Upgrade: an earlier version wrote every image into one concrete index named <index>. It joins
   * <index>-read as the oldest backing index, so its images stay searchable and are updated where
   * they are; new images go to <index>-000001, created beside it. Nothing is reindexed. The earlier
   * version must be stopped first: it would still create images in <index> alone.
   *
   * Reads never use <index>-*: that would take in <index>-failures and <index>-deliveries.
   */
  private ensureIndices(): Promise<void> {
    this.ready ??= (async () => {
      const settings = { number_of_shards: this.options.shards, number_of_replicas: this.options.replicas };
      // The template's name is the earlier version's (which matched <index> alone), so that one is replaced.
      await this.client.indices.putIndexTemplate({
        name: `${this.options.index}-template`,
        // -0*: the backing indices' numbers, and not -failures or -deliveries.
        index_patterns: [`${this.options.index}-0*`],
        priority: 100,
        // Rollover moves only the write alias to the new index; the read alias comes from here.
        template: { settings, mappings: IMAGE_MAPPINGS, aliases: { [this.readAlias]: {} } },
      });
      await this.client.indices.putIndexTemplate({ name: `${this.failuresIndex}-template`, index_patterns: [this.failuresIndex], priority: 100, template: { settings, mappings: FAILURE_MAPPINGS } });
      if (await this.client.indices.exists({ index: this.failuresIndex })) {
        await this.client.indices.putMapping({ index: this.failuresIndex, ...FAILURE_MAPPINGS });
      } else {
        await this.client.indices.create({ index: this.failuresIndex }, { ignore: [400] });
      }
      if (!(await this.client.indices.existsAlias({ name: this.writeAlias }))) {
        if (await this.client.indices.exists({ index: this.options.index })) {
          await this.client.indices.updateAliases({ actions: [{ add: { index: this.options.index, alias: this.readAlias } }] });
        }
        try {
          await this.client.indices.create({ index: `${this.options.index}-000001`, aliases: { [this.writeAlias]: { is_write_index: true } } });
        } catch (error) {
          // Another instance starting at the same time made it.
          if (!alreadyExists(error)) throw error;
        }
      }
      // The mapping is strict: every backing index, an earlier version's included, must learn the fields added since.
      await this.client.indices.putMapping({ index: this.readAlias, ...IMAGE_MAPPINGS });
      // A rolled-over index keeps the write alias (as not the write index): these are all backing indices but <index>.
      Object.keys(await this.client.indices.getAlias({ name: this.writeAlias })).forEach((index) => this.sawWriteIndex(index));
      await this.client.cluster.health({ index: [this.readAlias, this.failuresIndex], wait_for_status: 'yellow', timeout: '30s' });
      await this.rollover();
    })().catch((error: unknown) => {
      this.ready = null;
      throw indexError('prepare the index', error);
    });
    return this.ready;
  }
}
