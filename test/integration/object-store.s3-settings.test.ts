import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { GetObjectCommand, HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3ObjectStore, type S3ObjectStoreOptions } from '../../shared/adapters/s3-object-store.adapter';
import { stackS3, type StackStore } from '../helpers/stack';

const sha256 = (body: Buffer) => createHash('sha256').update(body).digest('hex');

/** An adapter on a fresh bucket of one of the stack's stores, and a bare client to look behind it. */
function open(which: StackStore, settings: Partial<S3ObjectStoreOptions>) {
  const { name, endpoint, region, credentials, sendSha256 } = stackS3(which);
  const bucket = `settings-${randomUUID().slice(0, 8)}`;
  const store = new S3ObjectStore({
    name,
    endpoint,
    region,
    bucket,
    forcePathStyle: true,
    createBucket: true,
    partSizeBytes: 5 * 1024 * 1024,
    sendSha256,
    credentials,
    ...settings,
  });
  const client = new S3Client({ region, endpoint, forcePathStyle: true, credentials, requestChecksumCalculation: 'WHEN_REQUIRED' });
  return { store, client, bucket, close: async () => (await store.close(), client.destroy()) };
}

/** The same object written the three ways the adapter writes: one PUT of a buffer, one of a file, multipart. */
async function writeEveryWay(store: S3ObjectStore) {
  const small = randomBytes(200_000);
  const large = randomBytes(11 * 1024 * 1024 + 5);
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'sse-')), 'original.jpg');
  writeFileSync(file, small);
  const keys = { buffer: `sse/${randomUUID()}.jpg`, file: `sse/${randomUUID()}.jpg`, multipart: `sse/${randomUUID()}.bin` };
  await store.put(keys.buffer, small, 'image/jpeg', { sha256: sha256(small) });
  await store.putFile(keys.file, file, 'image/jpeg', { sha256: sha256(small) });
  await store.put(keys.multipart, Readable.from([large.subarray(0, 6 << 20), large.subarray(6 << 20)]), 'application/octet-stream');
  return { keys, bodies: { buffer: small, file: small, multipart: large } };
}

describe.each<[StackStore, string]>([
  ['minio', 'MinIO'],
  ['rgw', 'Ceph RGW'],
])('S3 store settings on %s', (which, label) => {
  const { kmsKeyId } = stackS3(which);

  it(`encrypts every object written with SSE-KMS on ${label}, and reads them back unchanged`, async () => {
    const { store, client, bucket, close } = open(which, { sse: { mode: 'kms', kmsKeyId } });
    try {
      const { keys, bodies } = await writeEveryWay(store);
      for (const way of ['buffer', 'file', 'multipart'] as const) {
        const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keys[way] }));
        expect({ way, sse: head.ServerSideEncryption, key: head.SSEKMSKeyId?.replace(/^arn:aws:kms:/, '') }).toEqual({ way, sse: 'aws:kms', key: kmsKeyId });
        expect(sha256(await store.getBuffer(keys[way]))).toBe(sha256(bodies[way]));
      }
    } finally {
      await close();
    }
  });

  it(`writes in the clear without sse on ${label}`, async () => {
    const { store, client, bucket, close } = open(which, {});
    try {
      await store.put('plain.jpg', Buffer.from('x'), 'image/jpeg');
      expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'plain.jpg' }))).ServerSideEncryption).toBeUndefined();
    } finally {
      await close();
    }
  });
});

describe('S3 store settings that differ between MinIO and Ceph RGW 16.2', () => {
  it('MinIO encrypts every object written with SSE-S3 (AES256)', async () => {
    const { store, client, bucket, close } = open('minio', { sse: { mode: 's3' } });
    try {
      const { keys, bodies } = await writeEveryWay(store);
      for (const way of ['buffer', 'file', 'multipart'] as const) {
        expect((await client.send(new HeadObjectCommand({ Bucket: bucket, Key: keys[way] }))).ServerSideEncryption).toBe('AES256');
        expect(sha256(await store.getBuffer(keys[way]))).toBe(sha256(bodies[way]));
      }
    } finally {
      await close();
    }
  });

  it('Ceph RGW stores SSE-S3 writes in the clear, so the adapter removes them and fails for good', async () => {
    const { store, close } = open('rgw', { sse: { mode: 's3' } });
    try {
      await expect(store.put('a.jpg', randomBytes(1000), 'image/jpeg')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: false });
      await expect(store.put('b.bin', Readable.from([randomBytes(6 << 20)]), 'application/octet-stream')).rejects.toMatchObject({ retriable: false });
      expect(await store.head('a.jpg')).toBeNull();
      expect(await store.head('b.bin')).toBeNull();
    } finally {
      await close();
    }
  });

  it('MinIO refuses bytes whose SHA-256 is not the one the caller gave, and keeps none of them', async () => {
    const { store, client, bucket, close } = open('minio', {});
    try {
      const body = randomBytes(1000);
      await expect(store.put('wrong.jpg', body, 'image/jpeg', { sha256: sha256(Buffer.from('other')) })).rejects.toMatchObject({
        code: 'STORE_UNAVAILABLE',
        retriable: false,
      });
      expect(await store.head('wrong.jpg')).toBeNull();
      await store.put('right.jpg', body, 'image/jpeg', { sha256: sha256(body) });
      const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: 'right.jpg', ChecksumMode: 'ENABLED' }));
      expect(head.ChecksumSHA256).toBe(Buffer.from(sha256(body), 'hex').toString('base64'));
    } finally {
      await close();
    }
  });

  it("Ceph RGW refuses the SDK's aws-chunked streamed PUT (checksums when_supported) and takes it with when_required", async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'chunked-')), 'original.jpg');
    const body = randomBytes(100_000);
    writeFileSync(file, body);
    const supported = open('rgw', { checksums: 'when_supported' });
    const required = open('rgw', { checksums: 'when_required' });
    try {
      await expect(supported.store.putFile('a.jpg', file, 'image/jpeg')).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE' });
      await required.store.putFile('a.jpg', file, 'image/jpeg');
      const object = await required.client.send(new GetObjectCommand({ Bucket: required.bucket, Key: 'a.jpg' }));
      expect(Buffer.from(await object.Body!.transformToByteArray()).equals(body)).toBe(true);
    } finally {
      await supported.close();
      await required.close();
    }
  });
});
