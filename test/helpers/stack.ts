import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../shared/paths';

/** Connection settings of the engines `scripts/stack.sh up` started (it writes .stack/env). */
export function stackEnv(): Record<string, string> {
  const file = path.join(process.env.STACK_DIR ?? path.join(PACKAGE_ROOT, '.stack'), 'env');
  const env: Record<string, string> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const match = line.match(/^([A-Z0-9_]+)=(.*)$/);
    if (match) env[match[1]] = match[2];
  }
  return env;
}

/** The S3-compatible stores the stack runs; `both` of them unless STORE=minio|ceph started fewer. */
export type StackStore = 'minio' | 'rgw';

/**
 * How to reach one of the stack's S3 stores, with the settings that store needs: Ceph RGW 16.2 ignores
 * x-amz-checksum-sha256 and SSE-S3, so it gets neither; both encrypt with SSE-KMS under the stack's key.
 */
export function stackS3(store: StackStore) {
  const env = stackEnv();
  const [endpoint, accessKeyId, secretAccessKey, kmsKeyId] =
    store === 'minio'
      ? [env.S3_ENDPOINT, env.S3_ACCESS_KEY_ID, env.S3_SECRET_ACCESS_KEY, env.S3_KMS_KEY_ID]
      : [env.RGW_ENDPOINT, env.RGW_ACCESS_KEY_ID, env.RGW_SECRET_ACCESS_KEY, env.RGW_KMS_KEY_ID];
  return {
    name: store,
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey },
    kmsKeyId,
    sendSha256: store === 'minio',
  };
}

/**
 * The stack's settings as a service's environment, with the S3_* variables (which override config `s3`)
 * pointing at `store`.
 */
export function serviceEnv(store: StackStore = 'minio'): Record<string, string> {
  const { endpoint, credentials } = stackS3(store);
  return { ...stackEnv(), S3_ENDPOINT: endpoint, S3_ACCESS_KEY_ID: credentials.accessKeyId, S3_SECRET_ACCESS_KEY: credentials.secretAccessKey };
}

/** Config overrides that point the distributed adapters at the local stack and `store`, with names unique to `run`. */
export function distributedOverrides(run: string, refresh: 'wait_for' | 'false' = 'wait_for', store: StackStore = 'minio'): Record<string, unknown> {
  const env = stackEnv();
  const { name, endpoint, sendSha256 } = stackS3(store);
  return {
    adapters: 'distributed',
    kafka: { brokers: env.KAFKA_BROKERS.split(','), partitions: 3 },
    s3: { name, endpoint, bucket: `it-${run}`, forcePathStyle: true, sendSha256 },
    elasticsearch: { node: env.ELASTICSEARCH_URL, index: `it-${run}`, replicas: 0, refresh },
    bus: {
      topics: {
        ingested: `it-${run}.ingested`,
        processed: `it-${run}.processed`,
        failed: `it-${run}.failed`,
        replicated: `it-${run}.replicated`,
        erased: `it-${run}.erased`,
      },
      // Groups of the run's own: kafkajs hands a group's partitions to every member, also to those of
      // another run reading other topics, so shared group names stall concurrent runs.
      groups: Object.fromEntries(['processor', 'indexer', 'failures', 'replicator', 'replicas'].map((g) => [g, `it-${run}.${g}`])),
    },
  };
}
