import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Account } from '../../shared/accounts';
import type { IngestOutcome, IngestService } from './ingest.service';

export interface BackfillReport {
  files: number;
  ingested: number;
  rejected: { file: string; code: string; reason: string }[];
}

export interface BackfillOptions {
  ingest: IngestService;
  account: Account;
  root: string;
  concurrency: number;
  onProgress?: (done: number, total: number, rejected: number) => void;
}

/** Pushes every file below `root` through the ingest path as the account; the folder is left as it was. */
export async function backfill(options: BackfillOptions): Promise<BackfillReport> {
  const root = path.resolve(options.root);
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true });
  const files = entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort();
  const report: BackfillReport = { files: files.length, ingested: 0, rejected: [] };
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < files.length) {
      const file = files[next++];
      const relative = path.relative(root, file).split(path.sep).join('/');
      const outcome: IngestOutcome = await options.ingest.accept(
        file,
        { protocol: 'cli', account: options.account.name, path: `/${relative}`, remoteAddress: null, receivedAt: new Date().toISOString() },
        { maxFileBytes: options.account.maxFileBytes, keepOriginal: true },
      );
      if (outcome.status === 'rejected') report.rejected.push({ file, code: outcome.code, reason: outcome.reason });
      else report.ingested++;
      options.onProgress?.(++done, files.length, report.rejected.length);
    }
  };
  options.onProgress?.(0, files.length, 0);
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency) }, worker));
  return report;
}
