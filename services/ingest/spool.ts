import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ImageSource } from '../../shared/contracts/events';
import { FileLease } from './spool-lease';

export interface ClaimOptions {
  maxFileBytes: number;
  /** Copy instead of move: backfill must not empty the user's folder. */
  keepOriginal?: boolean;
  /** SHA-256 of the file when the receiver already hashed it on the way in. */
  sha256?: string;
}

export interface SpoolEntry {
  id: string;
  dataPath: string;
  source: ImageSource;
  maxFileBytes: number;
  sha256?: string;
  /** This worker's exclusive hold on the entry, across every process that shares the spool folder. */
  lease: FileLease;
}

interface Journal {
  source: ImageSource;
  maxFileBytes: number;
  sha256?: string;
  /** Where the file was before the claim, to finish a claim a crash interrupted. */
  origin: string;
}

export interface SpoolOptions {
  /** A lease not renewed for this long is taken over (its owner died). */
  leaseMs: number;
}

async function moveFile(from: string, to: string): Promise<void> {
  try {
    await fs.rename(from, to);
  } catch (error) {
    // A home or drop folder on another file system: copy, then drop the original.
    if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    await fs.copyFile(from, to);
    await fs.unlink(from);
  }
}

/**
 * Files between "upload complete" and "announced on the bus", as a leased work queue: every entry
 * has exactly one owner at a time, whichever process (FTP server, CLI backfill, a second ingest on
 * the same folder) runs the worker. The lease is taken and the journal written before the file
 * moves in, so after a crash every spooled file, and every file half-way into the spool, is found
 * by `takePending()` once its lease goes stale, and re-driven by exactly one worker.
 */
export class Spool {
  constructor(
    private readonly dir: string,
    private readonly options: SpoolOptions,
  ) {}

  async claim(filePath: string, source: ImageSource, { maxFileBytes, keepOriginal = false, sha256 }: ClaimOptions): Promise<SpoolEntry> {
    await fs.mkdir(this.dir, { recursive: true });
    const id = randomUUID();
    const lease = await FileLease.acquire(this.file(id, 'lease'), this.options.leaseMs);
    if (!lease) throw new Error(`spool entry ${id} is already leased`);
    // A copy has no origin to finish moving after a crash; the backfill simply runs again.
    const journal: Journal = { source, maxFileBytes, sha256, origin: keepOriginal ? '' : filePath };
    const journalPath = this.file(id, 'json');
    try {
      await fs.writeFile(`${journalPath}.tmp`, JSON.stringify(journal), { flush: true });
      await fs.rename(`${journalPath}.tmp`, journalPath);
    } catch (error) {
      await fs.rm(`${journalPath}.tmp`, { force: true });
      await lease.release();
      throw error;
    }
    const dataPath = this.file(id, 'data');
    try {
      if (keepOriginal) await fs.copyFile(filePath, dataPath);
      else await moveFile(filePath, dataPath);
    } catch (error) {
      await fs.rm(journalPath, { force: true });
      await lease.release();
      throw error;
    }
    return { id, dataPath, source, maxFileBytes, sha256, lease };
  }

  /** Entries waiting or being ingested: one journal each, whoever holds them. */
  async depth(): Promise<number> {
    const names = await fs.readdir(this.dir).catch(() => [] as string[]);
    return names.filter((name) => name.endsWith('.json')).length;
  }

  /** The entry is done (stored and announced): its files go, then its lease. */
  async release(entry: SpoolEntry): Promise<void> {
    await fs.rm(entry.dataPath, { force: true });
    await fs.rm(this.file(entry.id, 'json'), { force: true });
    await entry.lease.release();
  }

  /** Gives the entry back, files kept, for a later re-drive (a store or bus outage outlasted the sender's wait). */
  async unlease(entry: SpoolEntry): Promise<void> {
    await entry.lease.release();
  }

  /** Keeps a rejected file and why, for an operator to look at; nothing the sender gave is thrown away. */
  async quarantine(entry: SpoolEntry, code: string, reason: string): Promise<string> {
    const dir = path.join(path.dirname(this.dir), 'quarantine');
    await fs.mkdir(dir, { recursive: true });
    const target = path.join(dir, `${entry.id}-${path.basename(entry.source.path).replace(/[^\w.-]/g, '_')}`);
    await fs.writeFile(`${target}.json`, JSON.stringify({ code, reason, source: entry.source }, null, 2));
    await moveFile(entry.dataPath, target);
    await fs.rm(this.file(entry.id, 'json'), { force: true });
    await entry.lease.release();
    return target;
  }

  /**
   * Leases and returns the entries no live worker holds: those a previous run left, and those an
   * outage gave back. Finishes claims that a crash cut between journal and move.
   */
  async takePending(): Promise<SpoolEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const present = new Set(names);
    const entries: SpoolEntry[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp') || name.includes('.lease.stale-') || (name.endsWith('.lease') && !present.has(name.replace(/\.lease$/, '.json')))) {
        // Debris of a worker that died mid-claim; a live worker's files are younger than a lease.
        await this.removeIfOlderThanLease(name);
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      const lease = await FileLease.acquire(this.file(id, 'lease'), this.options.leaseMs);
      if (!lease) continue;
      const entry = await this.open(id, lease).catch(async (error: unknown) => {
        await lease.release();
        throw error;
      });
      if (entry) entries.push(entry);
      else await lease.release();
    }
    return entries;
  }

  /** The entry behind a journal this worker has just leased; null if it is gone or can no longer be finished. */
  private async open(id: string, lease: FileLease): Promise<SpoolEntry | null> {
    const journalPath = this.file(id, 'json');
    // Released by its previous owner between our directory read and our lease.
    const text = await fs.readFile(journalPath, 'utf8').catch(() => null);
    if (text === null) return null;
    const journal = JSON.parse(text) as Journal;
    const dataPath = this.file(id, 'data');
    const hasData = await fs.stat(dataPath).then(() => true, () => false);
    if (!hasData) {
      const moved = journal.origin !== '' && (await moveFile(journal.origin, dataPath).then(() => true, () => false));
      if (!moved) {
        await fs.rm(journalPath, { force: true });
        return null;
      }
    }
    return { id, dataPath, source: journal.source, maxFileBytes: journal.maxFileBytes, sha256: journal.sha256, lease };
  }

  private async removeIfOlderThanLease(name: string): Promise<void> {
    const file = path.join(this.dir, name);
    const stat = await fs.stat(file).catch(() => null);
    if (stat && Date.now() - stat.mtimeMs > this.options.leaseMs) await fs.rm(file, { force: true });
  }

  private file(id: string, kind: 'json' | 'data' | 'lease'): string {
    return path.join(this.dir, `${id}.${kind}`);
  }
}
