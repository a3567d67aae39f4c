import { randomUUID } from 'node:crypto';
import { ElasticsearchImageIndex } from '../../shared/adapters/elasticsearch-image-index.adapter';
import { imageIndexContract } from '../contract/image-index.contract';
import { stackEnv } from '../helpers/stack';

imageIndexContract('Elasticsearch 8', async () => ({
  create: async () =>
    new ElasticsearchImageIndex({
      node: stackEnv().ELASTICSEARCH_URL,
      index: `contract-${randomUUID().slice(0, 8)}`,
      shards: 1,
      replicas: 0,
      refresh: 'wait_for',
      bulkWindowMs: 5,
    }),
  cleanup: async () => undefined,
}));
