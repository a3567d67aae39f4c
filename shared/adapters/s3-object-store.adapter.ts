import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type ServerSideEncryption,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { ObjectLocation } from '../contracts/events';
import { IngestError, errorMessage } from '../errors';
import type { ListedObject, LocalFile, ObjectStore, ObjectStream, PutOptions, StoredObject } from '../ports/object-store.port';

export type S3Checksums = 'when_required' | 'when_supported';
export type SseMode = 'none' | 's3' | 'kms';

export interface S3ObjectStoreOptions {
  name: string;
  /** The store's region in config `stores[].region`, carried in its locations. */
  storeRegion?: string;
  endpoint: string | null;
  region: string;
  bucket: string;
  forcePathStyle: boolean;
  createBucket: boolean;
  partSizeBytes: number;
  /**
   * Checksums the SDK adds on its own (default when_required: only where an API demands one). With
   * when_supported it sends a PUT of a stream as `aws-chunked` with a CRC32 trailer, which Ceph RGW 16.2
   * refuses with 411 Length Required.
   */
  checksums?: S3Checksums;
  /** Send the caller's SHA-256 as x-amz-checksum-sha256 for the store to check (default true; Ceph RGW 16.2 ignores it). */
  sendSha256?: boolean;
  /** Server-side encryption of every object written (default none); kms needs kmsKeyId. */
  sse?: { mode: SseMode; kmsKeyId?: string };
  /** From S3_ACCESS_KEY_ID / S3_SECRET_ACCESS_KEY; absent means the AWS default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NoSuchKey' || error.name === 'NotFound');
}

/** The request headers of each encryption mode, and what the store must answer to show it applied it. */
const SSE: Record<SseMode, (kmsKeyId?: string) => { ServerSideEncryption?: ServerSideEncryption; SSEKMSKeyId?: string }> = {
  none: () => ({}),
  s3: () => ({ ServerSideEncryption: 'AES256' }),
  kms: (kmsKeyId) => ({ ServerSideEncryption: 'aws:kms', SSEKMSKeyId: kmsKeyId }),
};

/** Client errors (4xx other than throttling) will not heal by retrying; everything else may. */
function storeError(action: string, key: string, error: unknown): IngestError {
  const status = error instanceof S3ServiceException ? error.$metadata.httpStatusCode : undefined;
  const retriable = status === undefined || status >= 500 || status === 429 || status === 408;
  return new IngestError('STORE_UNAVAILABLE', `cannot ${action} ${key}: ${errorMessage(error)}`, { retriable, cause: error });
}

/** An S3-compatible store (MinIO, Ceph RGW, AWS S3); large streams go up as multipart uploads. */
export class S3ObjectStore implements ObjectStore {
  private readonly client: S3Client;
  private ready: Promise<void> | null = null;
  private readonly sse: ReturnType<(typeof SSE)[SseMode]>;

  constructor(private readonly options: S3ObjectStoreOptions) {
    const checksums = options.checksums === 'when_supported' ? 'WHEN_SUPPORTED' : 'WHEN_REQUIRED';
    this.sse = SSE[options.sse?.mode ?? 'none'](options.sse?.kmsKeyId);
    this.client = new S3Client({
      region: options.region,
      endpoint: options.endpoint ?? undefined,
      forcePathStyle: options.forcePathStyle,
      credentials: options.credentials,
      requestChecksumCalculation: checksums,
      responseChecksumValidation: checksums,
      // One quick retry for a dropped connection; longer outages are retried by the caller's own
      // budget (ingest: then 451; consumers: the runner's backoff), not stacked here as well.
      maxAttempts: 2,
    });
  }

  async put(key: string, body: Buffer | Readable, contentType: string, options?: PutOptions): Promise<StoredObject> {
    await this.ensureBucket();
    try {
      if (Buffer.isBuffer(body)) {
        await this.putWhole(key, body, body.length, contentType, options);
        return { key, bytes: body.length, contentType };
      }
      let bytes = 0;
      const counted = body.pipe(
        new PassThrough({
          transform(chunk: Buffer, _encoding, callback) {
            bytes += chunk.length;
            callback(null, chunk);
          },
        }),
      );
      body.once('error', (error) => counted.destroy(error));
      // Multipart only above one part; S3 makes the object visible whole when the upload completes. A
      // multipart object's checksum is one of its parts' checksums, not the SHA-256 of its bytes: none is sent.
      await new Upload({
        client: this.client,
        params: { Bucket: this.options.bucket, Key: key, Body: counted, ContentType: contentType, ...this.sse },
        partSize: this.options.partSizeBytes,
        queueSize: 4,
        leavePartsOnError: false,
      }).done();
      // CompleteMultipartUpload's answer vouches for nothing: neither MinIO nor Ceph RGW 16.2 repeats the
      // encryption there (RGW even answers an empty ETag), so the object's own HEAD is asked.
      if (this.sse.ServerSideEncryption) {
        const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
        await this.checkEncrypted(key, head.ServerSideEncryption);
      }
      return { key, bytes, contentType };
    } catch (error) {
      throw error instanceof IngestError ? error : storeError('write', key, error);
    }
  }

  async putFile(key: string, filePath: string, contentType: string, options?: PutOptions): Promise<StoredObject> {
    const { size } = await fs.stat(filePath);
    if (size > this.options.partSizeBytes) return this.put(key, createReadStream(filePath, { highWaterMark: 1 << 20 }), contentType);
    await this.ensureBucket();
    try {
      await this.putWhole(key, createReadStream(filePath, { highWaterMark: 1 << 20 }), size, contentType, options);
      return { key, bytes: size, contentType };
    } catch (error) {
      throw error instanceof IngestError ? error : storeError('write', key, error);
    }
  }

  /** One PutObject of a body whose length is known, with the caller's SHA-256 when the store checks it. */
  private async putWhole(key: string, body: Buffer | Readable, bytes: number, contentType: string, options?: PutOptions): Promise<void> {
    const sha256 = this.options.sendSha256 !== false && options?.sha256 ? Buffer.from(options.sha256, 'hex').toString('base64') : undefined;
    const put = await this.client.send(
      new PutObjectCommand({
        Bucket: this.options.bucket,
        Key: key,
        Body: body,
        ContentType: contentType,
        ContentLength: bytes,
        ChecksumSHA256: sha256,
        ...this.sse,
      }),
    );
    await this.checkEncrypted(key, put.ServerSideEncryption);
  }

  /**
   * A store that does not answer with the encryption asked for did not apply it (Ceph RGW 16.2 takes
   * `x-amz-server-side-encryption: AES256` and stores the object in the clear): the object is removed and
   * the write fails for good, since no retry will encrypt it.
   */
  private async checkEncrypted(key: string, answered: string | undefined): Promise<void> {
    const asked = this.sse.ServerSideEncryption;
    if (!asked || answered === asked) return;
    await this.delete(key);
    throw new IngestError('STORE_UNAVAILABLE', `store ${this.options.name} wrote ${key} without the server-side encryption ${asked} it was asked for (answered ${answered ?? 'none'})`, { retriable: false });
  }

  async head(key: string): Promise<StoredObject | null> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return { key, bytes: head.ContentLength ?? 0, contentType: head.ContentType ?? 'application/octet-stream' };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw storeError('read', key, error);
    }
  }

  async getBuffer(key: string): Promise<Buffer> {
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      return Buffer.from(await object.Body!.transformToByteArray());
    } catch (error) {
      if (isNotFound(error)) throw new IngestError('OBJECT_NOT_FOUND', `no object ${key}`, { cause: error });
      throw storeError('read', key, error);
    }
  }

  async getFile(key: string): Promise<LocalFile> {
    const file = path.join(tmpdir(), `ingest-${randomUUID()}`);
    const release = () => fs.rm(file, { force: true });
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      await pipeline(object.Body as Readable, createWriteStream(file));
      return { path: file, bytes: (await fs.stat(file)).size, release };
    } catch (error) {
      await release();
      if (isNotFound(error)) throw new IngestError('OBJECT_NOT_FOUND', `no object ${key}`, { cause: error });
      throw storeError('read', key, error);
    }
  }

  async getStream(key: string, range?: { start: number; end: number }): Promise<ObjectStream | null> {
    try {
      const object = await this.client.send(
        new GetObjectCommand({ Bucket: this.options.bucket, Key: key, Range: range && `bytes=${range.start}-${range.end}` }),
      );
      // A ranged answer's length is the range's; the whole size is after the slash of `bytes a-b/size`.
      const whole = range && object.ContentRange ? Number(object.ContentRange.split('/')[1]) : object.ContentLength;
      return {
        key,
        bytes: whole ?? 0,
        contentType: object.ContentType ?? 'application/octet-stream',
        body: object.Body as Readable,
      };
    } catch (error) {
      if (isNotFound(error)) return null;
      throw storeError('read', key, error);
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
    } catch (error) {
      if (!isNotFound(error)) throw storeError('delete', key, error);
    }
  }

  /** ListObjectsV2 pages of 1,000, in key order, so a folder's objects come together. */
  async *list(prefix: string): AsyncIterable<ListedObject> {
    try {
      for await (const page of paginateListObjectsV2({ client: this.client, pageSize: 1000 }, { Bucket: this.options.bucket, Prefix: prefix })) {
        for (const object of page.Contents ?? []) {
          if (object.Key) yield { key: object.Key, bytes: object.Size ?? 0, modifiedAt: (object.LastModified ?? new Date(0)).toISOString() };
        }
      }
    } catch (error) {
      if (isNotFound(error)) return;
      throw storeError('list', prefix, error);
    }
  }

  locate(key: string): ObjectLocation {
    const { bucket, endpoint, region, forcePathStyle, name } = this.options;
    const path = key.split('/').map(encodeURIComponent).join('/');
    const base = endpoint?.replace(/\/$/, '');
    const url = base
      ? forcePathStyle
        ? `${base}/${bucket}/${path}`
        : base.replace('://', `://${bucket}.`) + `/${path}`
      : `https://${bucket}.s3.${region}.amazonaws.com/${path}`;
    const location: ObjectLocation = { store: name, bucket, key, url };
    return this.options.storeRegion ? { ...location, region: this.options.storeRegion } : location;
  }

  /**
   * HeadBucket checks the endpoint, the credentials and the bucket in one request. A missing bucket
   * that may be created is created first, so a fresh deployment is ready before its first upload.
   */
  async ping(): Promise<void> {
    try {
      await this.ensureBucket();
      await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
    } catch (error) {
      const e = storeError('reach bucket', this.options.bucket, error);
      throw new IngestError('STORE_UNAVAILABLE', e.message, { retriable: true, cause: error });
    }
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /** Creates the bucket once if it is missing and the configuration allows it. */
  private ensureBucket(): Promise<void> {
    this.ready ??= (async () => {
      try {
        await this.client.send(new HeadBucketCommand({ Bucket: this.options.bucket }));
      } catch (error) {
        if (!isNotFound(error) || !this.options.createBucket) {
          this.ready = null;
          throw storeError('open bucket', this.options.bucket, error);
        }
        await this.client.send(new CreateBucketCommand({ Bucket: this.options.bucket })).catch((createError: unknown) => {
          // Another replica may have created it in between.
          if (!(createError instanceof S3ServiceException && createError.name === 'BucketAlreadyOwnedByYou')) {
            this.ready = null;
            throw storeError('create bucket', this.options.bucket, createError);
          }
        });
      }
    })();
    return this.ready;
  }
}
