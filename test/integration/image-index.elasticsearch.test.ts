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
});

imageIndexContract('Elasticsearch 8', async () => ({
  create: async () => new ElasticsearchImageIndex(options(`contract-${randomUUID().slice(0, 8)}`)),
  cleanup: async () => undefined,
}));

const query = (q: Partial<ImageQuery> = {}): ImageQuery => ({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 20, ...q });

describe('Elasticsearch image index: errors and indices of earlier versions', () => {
  const client = new Client({ node: stackEnv().ELASTICSEARCH_URL });
  const created: string[] = [];
  const fresh = (prefix: string) => {
    const name = `${prefix}-${randomUUID().slice(0, 8)}`;
    created.push(name, `${name}-failures`);
    return name;
  };

  afterAll(async () => {
    await client.indices.delete({ index: created, ignore_unavailable: true });
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
    } finally {
      await index.close();
    }
  });
});
