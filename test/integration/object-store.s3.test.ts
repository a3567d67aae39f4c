import { randomUUID } from 'node:crypto';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { objectStoreContract } from '../contract/object-store.contract';
import { stackS3, type StackStore } from '../helpers/stack';

const STORES: Record<StackStore, string> = { minio: 'S3 API on MinIO', rgw: 'S3 API on Ceph RGW (EC data pool)' };

for (const [which, title] of Object.entries(STORES) as [StackStore, string][]) {
  objectStoreContract(title, async () => {
    const { name, endpoint, region, credentials, sendSha256 } = stackS3(which);
    const s3 = (at: string) =>
      new S3ObjectStore({
        name,
        endpoint: at,
        region,
        bucket: `contract-${randomUUID().slice(0, 8)}`,
        forcePathStyle: true,
        createBucket: true,
        partSizeBytes: 5 * 1024 * 1024,
        checksums: 'when_required',
        sendSha256,
        credentials,
      });
    return {
      store: s3(endpoint),
      // Port 1: nothing listens there.
      unreachable: () => s3('http://127.0.0.1:1'),
      storeName: name,
      cleanup: async () => undefined,
    };
  });
}
