import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { AccountDirectory } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import { errorMessage } from '../../shared/errors';
import { inspectImageFile } from '../../shared/image/image-type';
import type { Logger } from '../../shared/logging';
import type { IngestService } from './ingest.service';
import { tempNameMatcher } from './temp-names';

export interface OrphanDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  ingest: IngestService;
  logger: Logger;
}

/**
 * An upload is handed to ingest only after its data connection closes; a process killed in between
 * leaves a complete file in the FTP home that nobody answered, and a client that checks with SIZE
 * would skip resending it. At start, such files (final name, image complete, untouched for
 * `ftp.orphanAfterMs` so no live session is still writing them) are ingested as that account's.
 * Broken-off uploads (no end marker) stay for the client to resume.
 */
export async function recoverOrphanUploads(deps: OrphanDeps): Promise<number> {
  const isTempName = tempNameMatcher(deps.config.ftp.tempNamePatterns);
  const log = deps.logger.child({ component: 'orphan-uploads' });
  let recovered = 0;
  for (const account of deps.accounts.list()) {
    const entries = await fs.readdir(account.home, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      // Links are never followed: a home shared with other tools may point anywhere.
      if (!entry.isFile() || isTempName(entry.name)) continue;
      const file = path.join(entry.parentPath, entry.name);
      const stat = await fs.lstat(file).catch(() => null);
      if (!stat?.isFile() || Date.now() - stat.mtimeMs < deps.config.ftp.orphanAfterMs) continue;
      if (!(await inspectImageFile(file, stat.size))?.complete) continue;
      const clientPath = `/${path.relative(account.home, file).split(path.sep).join('/')}`;
      try {
        const outcome = await deps.ingest.accept(file, {
          protocol: 'ftp',
          account: account.name,
          path: clientPath,
          remoteAddress: null,
          receivedAt: stat.mtime.toISOString(),
        }, { maxFileBytes: account.maxFileBytes ?? deps.config.limits.maxFileBytes });
        recovered++;
        log.info({ account: account.name, path: clientPath, ...outcome }, 'orphaned upload ingested');
      } catch (error) {
        log.warn({ account: account.name, path: clientPath, err: errorMessage(error) }, 'orphaned upload not ingested yet; the spool keeps it');
      }
    }
  }
  return recovered;
}
