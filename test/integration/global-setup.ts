import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { PACKAGE_ROOT } from '../../shared/paths';

/** Starts (or reuses) Kafka, Elasticsearch and MinIO; a failed start fails the whole run loudly. */
export default function globalSetup(): void {
  execFileSync('bash', [path.join(PACKAGE_ROOT, 'scripts', 'stack.sh'), 'up'], { stdio: 'inherit' });
}
