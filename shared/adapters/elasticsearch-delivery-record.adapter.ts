import { createHash } from 'node:crypto';
import { Client, errors } from '@elastic/elasticsearch';
import { IngestError, errorMessage, isProgrammingError } from '../errors';
import {
  movedPath,
  parentDirectories,
  splitPath,
  type Delivery,
  type DeliveryMove,
  type DeliveryNode,
  type DeliveryRecord,
} from '../ports/delivery-record.port';

export interface ElasticsearchDeliveryRecordOptions {
  node: string;
  /** Its own index (the factory names it `<elasticsearch.index>-deliveries`). */
  index: string;
  shards: number;
  replicas: number;
  auth?: { apiKey: string } | { username: string; password: string };
}

/** One recorded path; the file fields are absent on a directory. */
interface Recorded extends Partial<Delivery> {
  account: string;
  path: string;
  parent: string;
  name: string;
  type: 'file' | 'directory';
}

const MAPPINGS = {
  dynamic: 'strict',
  properties: {
    account: { type: 'keyword' },
    path: { type: 'keyword' },
    parent: { type: 'keyword' },
    name: { type: 'keyword' },
    type: { type: 'keyword' },
    imageId: { type: 'keyword', index: false },
    size: { type: 'long', index: false },
    modifiedAt: { type: 'date', index: false },
    originalKey: { type: 'keyword', index: false },
    contentType: { type: 'keyword', index: false },
  },
} as const;

/** Hits fetched per search request when a listing or a subtree is read in pages. */
const PAGE = 10_000;

function recordError(action: string, error: unknown): unknown {
  if (error instanceof IngestError || isProgrammingError(error)) return error;
  const status = error instanceof errors.ResponseError ? error.meta.statusCode : undefined;
  // A 4xx other than these is this adapter's mistake, not an outage: retrying would not cure it.
  const retriable = status === undefined || status >= 500 || [401, 403, 404, 408, 409, 429].includes(status);
  return new IngestError('INDEX_UNAVAILABLE', `cannot ${action} the delivery record: ${errorMessage(error)}`, { retriable, cause: error });
}

function node(doc: Recorded): DeliveryNode {
  if (doc.type === 'directory') return { type: 'directory', name: doc.name };
  const { imageId, size, modifiedAt, originalKey, contentType } = doc as Recorded & Delivery;
  return { type: 'file', name: doc.name, delivery: { imageId, size, modifiedAt, originalKey, contentType } };
}

/**
 * The distributed record: one document per recorded path in its own index, shared by every ingest
 * node, so a client that reconnects elsewhere sees the same view. get() is a realtime GET by id, so
 * SIZE and MDTM see a put at once; searches (a listing, a directory's subtree, "is it empty") refresh
 * the index first, so they too see every write that resolved before them, on any node. Writes do not
 * wait for a refresh: an upload's 226 is not held up by the refresh interval.
 */
export class ElasticsearchDeliveryRecord implements DeliveryRecord {
  private readonly client: Client;
  private ready: Promise<void> | null = null;

  constructor(private readonly options: ElasticsearchDeliveryRecordOptions) {
    // One retry budget per layer, as for the image index: the caller answers 451 and the client retries.
    this.client = new Client({ node: options.node, auth: options.auth, maxRetries: 1, requestTimeout: 10_000 });
  }

  async get(account: string, path: string): Promise<DeliveryNode | null> {
    const doc = await this.fetch(account, path, 'read');
    return doc ? node(doc) : null;
  }

  async list(account: string, directory: string): Promise<DeliveryNode[]> {
    const docs = await this.search('list', { bool: { filter: [{ term: { account } }, { term: { parent: directory } }] } });
    return docs.map(node);
  }

  async put(account: string, path: string, delivery: Delivery): Promise<void> {
    await this.write('record', [...this.parents(account, path).flatMap((doc) => this.indexOp(doc)), ...this.indexOp(this.recorded(account, path, { type: 'file', delivery }))]);
  }

  async rename(account: string, from: string, to: string): Promise<DeliveryMove[]> {
    const top = await this.fetch(account, from, 'rename in');
    if (!top) return [];
    const docs = top.type === 'directory' ? [top, ...(await this.search('rename in', { bool: { filter: [{ term: { account } }, { prefix: { path: `${from}/` } }] } }))] : [top];
    const moved = docs.map((doc) => {
      const path = movedPath(doc.path, from, to);
      return { ...doc, path, ...splitPath(path) };
    });
    // New paths first: a crash half-way leaves a file under both names rather than under none.
    await this.write('rename in', [
      ...this.parents(account, to).flatMap((doc) => this.indexOp(doc)),
      ...moved.flatMap((doc) => this.indexOp(doc)),
      ...docs.map((doc) => ({ delete: { _index: this.options.index, _id: this.id(account, doc.path) } })),
    ]);
    return docs.flatMap((doc, i) => (doc.type === 'file' ? [{ from: doc.path, to: moved[i].path, delivery: (node(doc) as { delivery: Delivery }).delivery }] : []));
  }

  async remove(account: string, path: string): Promise<boolean> {
    const doc = await this.fetch(account, path, 'remove from');
    if (!doc) return false;
    if (doc.type === 'directory') {
      const children = await this.search('remove from', { bool: { filter: [{ term: { account } }, { term: { parent: path } }] } }, 1);
      if (children.length > 0) return false;
    }
    await this.write('remove from', [{ delete: { _index: this.options.index, _id: this.id(account, path) } }]);
    return true;
  }

  async forgetImage(imageId: string): Promise<{ account: string; path: string }[]> {
    const forgotten: { account: string; path: string }[] = [];
    // `imageId` is not indexed, only kept in doc values, which Elasticsearch 8.1+ can query: a scan
    // of the record, the price of leaving the mapping (and every existing index) as it was. A page
    // at a time, deleted before the next is read: paths repeat across accounts, so search_after on
    // the path alone could skip one at a page boundary.
    for (;;) {
      const docs = await this.search('forget an image in', { term: { imageId } }, PAGE);
      if (docs.length === 0) return forgotten;
      await this.write('forget an image in', docs.map((doc) => ({ delete: { _index: this.options.index, _id: this.id(doc.account, doc.path) } })));
      forgotten.push(...docs.map(({ account, path }) => ({ account, path })));
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** Paths are unbounded and ids are at most 512 bytes: the id is a hash of account and path. */
  private id(account: string, path: string): string {
    return createHash('sha256').update(`${account}\0${path}`).digest('hex');
  }

  private recorded(account: string, path: string, entry: { type: 'file'; delivery: Delivery } | { type: 'directory' }): Recorded {
    return { account, path, ...splitPath(path), type: entry.type, ...(entry.type === 'file' ? entry.delivery : {}) };
  }

  private parents(account: string, path: string): Recorded[] {
    return parentDirectories(path).map((directory) => this.recorded(account, directory, { type: 'directory' }));
  }

  private indexOp(doc: Recorded): object[] {
    return [{ index: { _index: this.options.index, _id: this.id(doc.account, doc.path) } }, doc];
  }

  private async fetch(account: string, path: string, action: string): Promise<Recorded | null> {
    await this.ensureIndex();
    try {
      const hit = await this.client.get<Recorded>({ index: this.options.index, id: this.id(account, path) }, { ignore: [404] });
      return hit.found ? hit._source! : null;
    } catch (error) {
      throw recordError(action, error);
    }
  }

  /** Every matching document, read in pages after a refresh so the search sees every write made so far. */
  private async search(action: string, query: object, limit = Infinity): Promise<Recorded[]> {
    await this.ensureIndex();
    try {
      await this.client.indices.refresh({ index: this.options.index });
      const docs: Recorded[] = [];
      let after: (string | number)[] | undefined;
      for (;;) {
        const size = Math.min(PAGE, limit - docs.length);
        // `path` is unique per account: a stable order to page through with search_after.
        const result = await this.client.search<Recorded>({ index: this.options.index, query, sort: [{ path: 'asc' }], size, search_after: after, track_total_hits: false });
        const hits = result.hits.hits;
        docs.push(...hits.map((hit) => hit._source!));
        if (hits.length < size || docs.length >= limit) return docs;
        after = hits[hits.length - 1].sort as (string | number)[];
      }
    } catch (error) {
      throw recordError(action, error);
    }
  }

  private async write(action: string, operations: object[]): Promise<void> {
    await this.ensureIndex();
    try {
      const result = await this.client.bulk({ operations });
      const failed = result.items.find((item) => (item.index ?? item.delete)?.error);
      if (failed) {
        const outcome = (failed.index ?? failed.delete)!;
        throw new IngestError('INDEX_UNAVAILABLE', `cannot ${action} the delivery record: ${outcome.error!.type}: ${outcome.error!.reason ?? ''}`, {
          retriable: outcome.status >= 500 || outcome.status === 429,
        });
      }
    } catch (error) {
      throw recordError(action, error);
    }
  }

  /** Index template first, so an index a write on another node creates still gets this mapping. */
  private ensureIndex(): Promise<void> {
    this.ready ??= (async () => {
      const { index, shards, replicas } = this.options;
      const settings = { number_of_shards: shards, number_of_replicas: replicas };
      await this.client.indices.putIndexTemplate({ name: `${index}-template`, index_patterns: [index], priority: 100, template: { settings, mappings: MAPPINGS } });
      if (await this.client.indices.exists({ index })) await this.client.indices.putMapping({ index, ...MAPPINGS });
      else await this.client.indices.create({ index }, { ignore: [400] });
      await this.client.cluster.health({ index, wait_for_status: 'yellow', timeout: '30s' });
    })().catch((error: unknown) => {
      this.ready = null;
      throw recordError('prepare', error);
    });
    return this.ready;
  }
}
