import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { ImageSource } from '../../shared/contracts/events';

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
}

interface Journal {
  source: ImageSource;
  maxFileBytes: number;
  sha256?: string;
  /** Where the file was before the claim, to finish a claim a crash interrupted. */
  origin: string;
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
 * Files between "upload complete" and "announced on the bus". The journal is written before the
 * file moves in, so after a crash every spooled file, and every file half-way into the spool, is
 * found by `pending()` and re-driven.
 */
export class Spool {
  constructor(private readonly dir: string) {}

  async claim(filePath: string, source: ImageSource, { maxFileBytes, keepOriginal = false, sha256 }: ClaimOptions): Promise<SpoolEntry> {
    await fs.mkdir(this.dir, { recursive: true });
    const id = randomUUID();
    // A copy has no origin to finish moving after a crash; the backfill simply runs again.
    const journal: Journal = { source, maxFileBytes, sha256, origin: keepOriginal ? '' : filePath };
    const journalPath = path.join(this.dir, `${id}.json`);
    await fs.writeFile(`${journalPath}.tmp`, JSON.stringify(journal), { flush: true });
    await fs.rename(`${journalPath}.tmp`, journalPath);
    const dataPath = path.join(this.dir, `${id}.data`);
    try {
      if (keepOriginal) await fs.copyFile(filePath, dataPath);
      else await moveFile(filePath, dataPath);
    } catch (error) {
      await fs.rm(journalPath, { force: true });
      throw error;
    }
    return { id, dataPath, source, maxFileBytes, sha256 };
  }

  async release(entry: SpoolEntry): Promise<void> {
    await fs.rm(entry.dataPath, { force: true });
    await fs.rm(path.join(this.dir, `${entry.id}.json`), { force: true });
  }

  /** Keeps a rejected file and why, for an operator to look at; nothing the sender gave is thrown away. */
  async quarantine(entry: SpoolEntry, code: string, reason: string): Promise<string> {
    const dir = path.join(path.dirname(this.dir), 'quarantine');
    await fs.mkdir(dir, { recursive: true });
    const target = path.join(dir, `${entry.id}-${path.basename(entry.source.path).replace(/[^\w.-]/g, '_')}`);
    await fs.writeFile(`${target}.json`, JSON.stringify({ code, reason, source: entry.source }, null, 2));
    await moveFile(entry.dataPath, target);
    await fs.rm(path.join(this.dir, `${entry.id}.json`), { force: true });
    return target;
  }

  /** Entries left by a previous run; finishes claims that a crash cut between journal and move. */
  async pending(): Promise<SpoolEntry[]> {
    let names: string[];
    try {
      names = await fs.readdir(this.dir);
    } catch {
      return [];
    }
    const entries: SpoolEntry[] = [];
    for (const name of names) {
      if (name.endsWith('.tmp')) {
        await fs.rm(path.join(this.dir, name), { force: true });
        continue;
      }
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      const journalPath = path.join(this.dir, name);
      const journal = JSON.parse(await fs.readFile(journalPath, 'utf8')) as Journal;
      const dataPath = path.join(this.dir, `${id}.data`);
      const hasData = await fs.stat(dataPath).then(() => true, () => false);
      if (!hasData) {
        const moved = journal.origin !== '' && (await moveFile(journal.origin, dataPath).then(() => true, () => false));
        if (!moved) {
          await fs.rm(journalPath, { force: true });
          continue;
        }
      }
      entries.push({ id, dataPath, source: journal.source, maxFileBytes: journal.maxFileBytes, sha256: journal.sha256 });
    }
    return entries;
  }
}
