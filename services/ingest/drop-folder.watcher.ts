import { promises as fs } from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { Account, AccountDirectory } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import { errorMessage } from '../../shared/errors';
import { inspectImageFile } from '../../shared/image/image-type';
import type { Logger } from '../../shared/logging';
import type { IngestService } from './ingest.service';
import { tempNameMatcher } from './temp-names';

export interface DropFolderDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  ingest: IngestService;
  logger: Logger;
}

interface Observation {
  size: number;
  mtimeMs: number;
  since: number;
}

/** A file that stays incomplete this long is taken anyway, so a truncated drop is rejected rather than kept forever. */
const INCOMPLETE_GRACE_MS = 300_000;

/**
 * Ingests files other tools drop into an account's folder. chokidar reports most of them quickly;
 * the sweep finds what it misses (files present at start, events lost on network shares). Either way
 * a file is taken only once its size and mtime have held for `stableMs` and its image is complete,
 * since awaitWriteFinish alone is fooled by writers that preallocate.
 */
export class DropFolderWatcher {
  private readonly watchers: FSWatcher[] = [];
  private readonly seen = new Map<string, Observation>();
  private readonly busy = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private sweepTimer: NodeJS.Timeout | null = null;
  private readonly isTempName: (name: string) => boolean;
  private readonly logger: Logger;
  private stopped = false;

  constructor(private readonly deps: DropFolderDeps) {
    this.isTempName = tempNameMatcher(deps.config.ftp.tempNamePatterns);
    this.logger = deps.logger.child({ component: 'drop-folder' });
  }

  async start(): Promise<void> {
    for (const account of this.folders()) {
      await fs.mkdir(account.dropFolder, { recursive: true });
      const watcher = watch(account.dropFolder, {
        ignoreInitial: true,
        ignored: (file) => this.isTempName(path.basename(file)) && file !== account.dropFolder,
      });
      const onFile = (file: string) => void this.consider(account, file);
      watcher.on('add', onFile).on('change', onFile);
      watcher.on('error', (error) => this.logger.error({ err: errorMessage(error) }, 'watcher error'));
      this.watchers.push(watcher);
    }
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.deps.config.dropFolders.sweepIntervalMs);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.timers.forEach((t) => clearTimeout(t));
    await Promise.all(this.watchers.map((w) => w.close()));
  }

  /** Looks at every file in every drop folder once. */
  async sweep(): Promise<void> {
    for (const account of this.folders()) {
      const entries = await fs.readdir(account.dropFolder, { recursive: true, withFileTypes: true }).catch(() => []);
      for (const entry of entries) {
        if (entry.isFile()) await this.consider(account, path.join(entry.parentPath, entry.name));
      }
    }
  }

  private folders(): (Account & { dropFolder: string })[] {
    return this.deps.accounts
      .list()
      .filter((a): a is Account & { dropFolder: string } => Boolean(a.dropFolder))
      .map((a) => ({ ...a, dropFolder: path.resolve(a.dropFolder) }));
  }

  private async consider(account: Account & { dropFolder: string }, file: string): Promise<void> {
    if (this.stopped || this.busy.has(file) || this.isTempName(path.basename(file))) return;
    const stat = await fs.stat(file).catch(() => null);
    if (!stat?.isFile()) {
      this.seen.delete(file);
      return;
    }
    const now = Date.now();
    const previous = this.seen.get(file);
    const { stableMs } = this.deps.config.dropFolders;
    if (!previous || previous.size !== stat.size || previous.mtimeMs !== stat.mtimeMs) {
      this.seen.set(file, { size: stat.size, mtimeMs: stat.mtimeMs, since: now });
      this.recheck(account, file, stableMs);
      return;
    }
    if (now - previous.since < stableMs) {
      this.recheck(account, file, stableMs - (now - previous.since));
      return;
    }
    if (!(await this.looksComplete(file, stat.size)) && now - previous.since < INCOMPLETE_GRACE_MS) {
      this.recheck(account, file, Math.max(stableMs, 1000));
      return;
    }
    this.busy.add(file);
    try {
      const relative = path.relative(account.dropFolder, file).split(path.sep).join('/');
      const outcome = await this.deps.ingest.accept(
        file,
        { protocol: 'drop-folder', account: account.name, path: `/${relative}`, remoteAddress: null, receivedAt: new Date().toISOString() },
        { maxFileBytes: account.maxFileBytes },
      );
      this.logger.info({ account: account.name, file, ...outcome }, 'dropped file taken');
    } catch (error) {
      this.logger.error({ account: account.name, file, err: errorMessage(error) }, 'dropped file not ingested, will retry');
    } finally {
      this.busy.delete(file);
      this.seen.delete(file);
    }
  }

  private recheck(account: Account & { dropFolder: string }, file: string, delayMs: number): void {
    if (this.stopped || this.timers.has(file)) return;
    const timer = setTimeout(() => {
      this.timers.delete(file);
      void this.consider(account, file);
    }, delayMs);
    this.timers.set(file, timer);
  }

  /** Unknown types count as complete: ingest rejects them with a reason instead of waiting forever. */
  private async looksComplete(file: string, size: number): Promise<boolean> {
    const seen = await inspectImageFile(file, size);
    return seen !== null && (seen.type === null || seen.complete);
  }
}
