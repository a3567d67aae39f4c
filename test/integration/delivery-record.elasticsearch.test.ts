import { randomUUID } from 'node:crypto';
import { Client } from '@elastic/elasticsearch';
import { ElasticsearchDeliveryRecord } from '../../shared/adapters/elasticsearch-delivery-record.adapter';
import { deliveryRecordContract } from '../contract/delivery-record.contract';
import { stackEnv } from '../helpers/stack';

const created: string[] = [];
const open = (index: string) => new ElasticsearchDeliveryRecord({ node: stackEnv().ELASTICSEARCH_URL, index, shards: 1, replicas: 0 });

deliveryRecordContract('Elasticsearch 8', async () => ({
  async create() {
    const index = `contract-deliveries-${randomUUID().slice(0, 8)}`;
    created.push(index);
    return { record: open(index), another: () => open(index) };
  },
  async cleanup() {
    const client = new Client({ node: stackEnv().ELASTICSEARCH_URL });
    try {
      await client.indices.delete({ index: created, ignore_unavailable: true });
      await client.indices.deleteIndexTemplate({ name: created.map((i) => `${i}-template`).join(',') }, { ignore: [404] });
    } finally {
      await client.close();
    }
  },
}));

describe('Elasticsearch delivery record: outages', () => {
  it('fails fast and retriably when Elasticsearch cannot be reached', async () => {
    const record = new ElasticsearchDeliveryRecord({ node: 'http://127.0.0.1:1', index: 'unreachable', shards: 1, replicas: 0 });
    try {
      await expect(record.get('cam1', '/a.jpg')).rejects.toMatchObject({ code: 'INDEX_UNAVAILABLE', retriable: true });
    } finally {
      await record.close();
    }
  });
});
