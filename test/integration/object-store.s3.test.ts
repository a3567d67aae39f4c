import { randomUUID } from 'node:crypto';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { objectStoreContract } from '../contract/object-store.contract';
import { stackEnv } from '../helpers/stack';

objectStoreContract('S3 API on MinIO', async () => {
  const env = stackEnv();
  return {
    store: new S3ObjectStore({
      name: 'minio',
      endpoint: env.S3_ENDPOINT,
      region: env.S3_REGION,
      bucket: `contract-${randomUUID().slice(0, 8)}`,
      forcePathStyle: true,
      createBucket: true,
      partSizeBytes: 5 * 1024 * 1024,
      credentials: { accessKeyId: env.S3_ACCESS_KEY_ID, secretAccessKey: env.S3_SECRET_ACCESS_KEY },
    }),
    storeName: 'minio',
    cleanup: async () => undefined,
  };
});
