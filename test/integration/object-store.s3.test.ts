import { randomUUID } from 'node:crypto';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { objectStoreContract } from '../contract/object-store.contract';
import { stackEnv } from '../helpers/stack';

objectStoreContract('S3 API on MinIO', async () => {
  const env = stackEnv();
  const s3 = (endpoint: string) =>
    new S3ObjectStore({
      name: 'minio',
      endpoint,
      region: env.S3_REGION,
      bucket: `contract-${randomUUID().slice(0, 8)}`,
      forcePathStyle: true,
      createBucket: true,
      partSizeBytes: 5 * 1024 * 1024,
      credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    });
  return {
    store: s3(env.S3_ENDPOINT),
    // Port 1: nothing listens there.
    unreachable: () => s3('http://127.0.0.1:1'),
    storeName: 'minio',
    cleanup: async () => undefined,
  };
});
