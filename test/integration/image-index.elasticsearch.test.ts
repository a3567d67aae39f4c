import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { ElasticsearchImageIndex, type ElasticsearchImageIndexOptions } from '../../shared/adapters/elasticsearch-image-index.adapter';
import { documentTerms } from '../../shared/index-document';
import type { ImageDocument, ImageQuery } from '../../shared/ports/image-index.port';
import { imageIndexContract } from '../contract/image-index.contract';
import { failedImageEvent, processedEvent, source } from '../helpers/events';
import { stackEnv } from '../helpers/stack';

const options = (index: string): ElasticsearchImageIndexOptions => ({
  node: stackEnv().ELASTICSEARCH_URL,
  index,
  shards: 1,
  replicas: 0,
  refresh: 'wait_for',
  bulkWindowMs: 5,
  // Conditions no test index reaches, checked before every bulk so the contract runs that path too.
  rollover: { maxPrimaryShardSize: '50gb', maxAge: '30d', checkIntervalMs: 0 },
});

imageIndexContract('Elasticsearch 8', async () => ({
  create: async () => new ElasticsearchImageIndex(options(`contract-${randomUUID().slice(0, 8)}`)),
  // Port 1: nothing listens there.
  unreachable: async () => new ElasticsearchImageIndex({ ...options(`contract-${randomUUID().slice(0, 8)}`), node: 'http://127.0.0.1:1' }),
  cleanup: async () => undefined,
}));

const query = (q: Partial<ImageQuery> = {}): ImageQuery => ({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20, ...q });

describe('Elasticsearch image index: errors, rollover and indices of earlier versions', () => {
  const client = new Client({ node: stackEnv().ELASTICSEARCH_URL });
  const created: string[] = [];
  const fresh = (prefix: string) => {
    const name = `${prefix}-${randomUUID().slice(0, 8)}`;
    created.push(name, `${name}-failures`);
    return name;
  };

  afterAll(async () => {
    const backing = Object.keys(await client.indices.get({ index: created.map((name) => `${name}-0*`), allow_no_indices: true, ignore_unavailable: true }));
    await client.indices.delete({ index: [...created, ...backing], ignore_unavailable: true });
    await client.indices.deleteIndexTemplate({ name: created.map((i) => `${i}-template`).join(',') }, { ignore: [404] });
    await client.close();
  });

  it('refuses a document the index can never take as a permanent INVALID_EVENT and indexes the rest of the batch', async () => {
    const index = new ElasticsearchImageIndex(options(fresh('poison')));
    try {
      const poison = processedEvent({ gps: { lat: 123, lon: 13.4, alt: null } });
      const fine = processedEvent();
      const [refused, indexed] = await Promise.allSettled([index.upsert(poison), index.upsert(fine)]);
      expect(refused).toMatchObject({ status: 'rejected', reason: { code: 'INVALID_EVENT', retriable: false } });
      expect(indexed.status).toBe('fulfilled');
      expect(await index.get(fine.id)).not.toBeNull();
      expect(await index.get(poison.id)).toBeNull();
    } finally {
      await index.close();
    }
  });

  it('fails fast and retriably when Elasticsearch cannot be reached', async () => {
    const index = new ElasticsearchImageIndex({ ...options(fresh('down')), node: 'http://127.0.0.1:1' });
    try {
      await expect(index.upsert(processedEvent())).rejects.toMatchObject({ code: 'INDEX_UNAVAILABLE', retriable: true });
    } finally {
      await index.close();
    }
  });

  it('takes over an index the first release created: its mapping learns status, its images count as processed', async () => {
    const name = fresh('legacy');
    // The first release's mapping and document shape: no status, a source per delivery.
    await client.indices.create({
      index: name,
      settings: { number_of_shards: 1, number_of_replicas: 0 },
      mappings: {
        dynamic: 'strict',
        properties: {
          id: { type: 'keyword' },
          doc: { type: 'object', enabled: false },
          captured: { type: 'date', format: 'epoch_millis' },
          received: { type: 'date', format: 'epoch_millis' },
          make: { type: 'keyword' },
          model: { type: 'keyword' },
          accounts: { type: 'keyword' },
          terms: { type: 'keyword' },
          location: { type: 'geo_point' },
        },
      },
    });
    const old = processedEvent({ keywords: ['harbour'] });
    const { schema: _schema, source: first, ...rest } = old;
    const doc = { ...rest, sources: [first, { ...first, receivedAt: '2025-03-02T10:00:00.000Z' }], firstSeenAt: first.receivedAt, lastSeenAt: '2025-03-02T10:00:00.000Z' };
    await client.index({
      index: name,
      id: old.id,
      refresh: true,
      document: { id: old.id, doc, received: Date.parse(first.receivedAt), make: 'canon', model: 'eos r5', accounts: ['cam1'], terms: documentTerms(doc as unknown as ImageDocument), location: { lat: 52.52, lon: 13.405 } },
    });

    const index = new ElasticsearchImageIndex(options(name));
    try {
      expect(await index.get(old.id)).toMatchObject({ status: 'processed', error: null, sources: [{ count: 2, lastSeenAt: '2025-03-02T10:00:00.000Z' }] });
      const broken = failedImageEvent();
      const added = processedEvent({ source: source({ receivedAt: '2025-03-04T10:00:00.000Z' }) });
      await index.upsertFailed(broken);
      await index.upsert(added);
      const ids = async (q: Partial<ImageQuery>) => (await index.search(query(q))).items.map((d) => d.id);
      expect(await ids({ status: 'processed' })).toEqual([added.id, old.id]);
      expect(await ids({ status: 'failed' })).toEqual([broken.id]);
      expect(await ids({ text: 'harbour', status: 'processed' })).toEqual([old.id]);

      await index.upsert({ ...old, source: source({ receivedAt: '2025-03-03T10:00:00.000Z' }) });
      expect((await index.get(old.id))?.sources).toEqual([expect.objectContaining({ count: 3, lastSeenAt: '2025-03-03T10:00:00.000Z' })]);

      // The old index is the oldest backing index: its images are updated there, new ones go beside it.
      expect(await backingIndices(name, old.id)).toEqual([name]);
      expect(await backingIndices(name, added.id)).toEqual([`${name}-000001`]);
      await client.indices.rollover({ alias: `${name}-write` });
      await index.upsert({ ...old, source: source({ account: 'partner', receivedAt: '2025-03-05T10:00:00.000Z' }) });
      expect(await backingIndices(name, old.id)).toEqual([name]);
      expect((await index.get(old.id))?.sources.map((s) => s.account)).toEqual(['cam1', 'partner']);
      expect((await index.search(query())).total).toBe(3);
    } finally {
      await index.close();
    }
  });

  /** The backing indices that hold a document with this id, after a refresh so that search sees every write. */
  async function backingIndices(name: string, id: string): Promise<string[]> {
    await client.indices.refresh({ index: `${name}-read` });
    const result = await client.search({ index: `${name}-read`, query: { ids: { values: [id] } } });
    return result.hits.hits.map((hit) => hit._index).sort();
  }

  async function writeIndex(name: string): Promise<string> {
    const aliases = await client.indices.getAlias({ name: `${name}-write` });
    return Object.entries(aliases).find(([, { aliases: a }]) => a[`${name}-write`].is_write_index)![0];
  }

  it('writes through <index>-write into <index>-000001 and keeps the failures index out of searches', async () => {
    const name = fresh('aliases');
    const index = new ElasticsearchImageIndex(options(name));
    try {
      const image = processedEvent();
      await index.upsert(image);
      await index.recordFailure(failedImageEvent());
      expect(await writeIndex(name)).toBe(`${name}-000001`);
      expect(Object.keys(await client.indices.getAlias({ name: `${name}-read` }))).toEqual([`${name}-000001`]);
      expect(await backingIndices(name, image.id)).toEqual([`${name}-000001`]);
      expect((await index.search(query())).items.map((d) => d.id)).toEqual([image.id]);
    } finally {
      await index.close();
    }
  });

  it('rolls the write index over when it meets a configured condition, before a bulk and on start', async () => {
    const name = fresh('conditions');
    // Any index holding a document is over 1b; an empty one is never rolled over (min_docs).
    const tiny = { ...options(name), rollover: { maxPrimaryShardSize: '1b', maxAge: '3650d', checkIntervalMs: 0 } };
    const first = processedEvent();
    const second = processedEvent();
    const writer = new ElasticsearchImageIndex(tiny);
    try {
      await writer.upsert(first);
      expect(await writeIndex(name)).toBe(`${name}-000001`);
      await writer.upsert(second);
      expect(await writeIndex(name)).toBe(`${name}-000002`);
    } finally {
      await writer.close();
    }
    expect(await backingIndices(name, first.id)).toEqual([`${name}-000001`]);
    expect(await backingIndices(name, second.id)).toEqual([`${name}-000002`]);

    const reader = new ElasticsearchImageIndex(tiny);
    try {
      expect(await reader.get(first.id)).toMatchObject({ id: first.id });
      expect(await writeIndex(name)).toBe(`${name}-000003`);
      expect(await reader.get(second.id)).toMatchObject({ id: second.id });
      expect((await reader.search(query())).total).toBe(2);
    } finally {
      await reader.close();
    }
  });

  it('merges a re-send of an image indexed before a rollover into its one document in the older backing index', async () => {
    const name = fresh('resend');
    const index = new ElasticsearchImageIndex(options(name));
    try {
      const old = processedEvent({ source: source({ account: 'cam1', receivedAt: '2025-03-01T10:00:00.000Z' }) });
      await index.upsert(old);
      await client.indices.rollover({ alias: `${name}-write` });
      const added = processedEvent({ source: source({ receivedAt: '2025-03-02T10:00:00.000Z' }) });
      await index.upsert(added);
      await index.upsert({ ...old, source: source({ account: 'partner', path: '/in/copy.jpg', receivedAt: '2025-03-03T10:00:00.000Z' }) });

      expect(await backingIndices(name, old.id)).toEqual([`${name}-000001`]);
      expect(await backingIndices(name, added.id)).toEqual([`${name}-000002`]);
      expect((await index.get(old.id))?.sources.map((s) => s.account)).toEqual(['cam1', 'partner']);
      expect(await index.get(added.id)).toMatchObject({ id: added.id });
      const all = await index.search(query());
      expect(all.total).toBe(2);
      expect(all.items.map((d) => d.id).sort()).toEqual([old.id, added.id].sort());
      expect((await index.search(query({ account: 'partner' }))).items.map((d) => d.id)).toEqual([old.id]);
    } finally {
      await index.close();
    }
  });

  it('finds an image written a moment before a rollover, before any refresh, instead of creating a second copy', async () => {
    const name = fresh('unrefreshed');
    // refresh false as in production: a write is not searchable until the index refreshes.
    const index = new ElasticsearchImageIndex({ ...options(name), refresh: 'false' });
    try {
      const image = processedEvent();
      await index.upsert(image);
      await client.indices.rollover({ alias: `${name}-write` });
      // This create tells the adapter about the rollover; the re-send then finds the image in the
      // predecessor of the write index by a realtime read, whether or not a refresh came between.
      await index.upsert(processedEvent());
      await index.upsert({ ...image, source: source({ account: 'partner', path: '/in/copy.jpg' }) });
      expect((await index.get(image.id))?.sources.map((s) => s.account)).toEqual(['cam1', 'partner']);
      expect(await backingIndices(name, image.id)).toEqual([`${name}-000001`]);
    } finally {
      await index.close();
    }
  });
});
