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

/** Config overrides that point the distributed adapters at the local stack, with names unique to `run`. */
export function distributedOverrides(run: string, refresh: 'wait_for' | 'false' = 'wait_for'): Record<string, unknown> {
  const env = stackEnv();
  return {
    adapters: 'distributed',
    kafka: { brokers: env.KAFKA_BROKERS.split(','), partitions: 3 },
    s3: { name: 'minio', endpoint: env.S3_ENDPOINT, bucket: `it-${run}`, forcePathStyle: true },
    elasticsearch: { node: env.ELASTICSEARCH_URL, index: `it-${run}`, replicas: 0, refresh },
    bus: {
      topics: {
        ingested: `it-${run}.ingested`,
        processed: `it-${run}.processed`,
        failed: `it-${run}.failed`,
        replicated: `it-${run}.replicated`,
        erased: `it-${run}.erased`,
      },
    },
  };
}
