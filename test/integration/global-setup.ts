import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../shared/paths';

/** Starts (or reuses) Kafka, Elasticsearch, MinIO and Ceph RGW (STORE=minio|ceph picks one store); a failed start fails the whole run loudly. */
export default function globalSetup(): void {
  execFileSync('bash', [path.join(PACKAGE_ROOT, 'scripts', 'stack.sh'), 'up'], { stdio: 'inherit' });
}
