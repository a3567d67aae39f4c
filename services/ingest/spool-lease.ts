import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { hostname } from 'node:os';

/** Who holds a lease: enough to tell a dead owner on this host from a live one elsewhere. */
interface LeaseOwner {
  host: string;
  pid: number;
  /** Per process instance: a restarted container gets the same pid (1) as the one that died. */
  instance: string;
}

const SELF: LeaseOwner = { host: hostname(), pid: process.pid, instance: randomUUID() };

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An exclusive, renewable lease held as a file (`open(..., 'wx')` creates it only if absent). The
 * holder touches it every third of `ttlMs`; a lease untouched for `ttlMs`, or whose owner process
 * on this host is gone, is stale, and one worker takes it over: renaming the stale file away is
 * atomic, so of two workers racing for it only one succeeds.
 */
export class FileLease {
  private renewal: NodeJS.Timeout | null = null;

  private constructor(readonly file: string) {}

  /** The lease, or null when a live worker holds it. */
  static async acquire(file: string, ttlMs: number): Promise<FileLease | null> {
    for (let tries = 0; tries < 2; tries++) {
      try {
        await fs.writeFile(file, JSON.stringify(SELF), { flag: 'wx' });
        const lease = new FileLease(file);
        lease.renewal = setInterval(() => void fs.utimes(file, new Date(), new Date()).catch(() => undefined), Math.max(250, ttlMs / 3)).unref();
        return lease;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      if (!(await FileLease.isStale(file, ttlMs))) return null;
      const parked = `${file}.stale-${randomUUID()}`;
      try {
        await fs.rename(file, parked);
      } catch {
        return null; // another worker took it over first
      }
      await fs.rm(parked, { force: true });
    }
    return null;
  }

  private static async isStale(file: string, ttlMs: number): Promise<boolean> {
    const [stat, text] = await Promise.all([fs.stat(file).catch(() => null), fs.readFile(file, 'utf8').catch(() => '')]);
    if (!stat) return true;
    if (Date.now() - stat.mtimeMs > ttlMs) return true;
    let owner: Partial<LeaseOwner> = {};
    try {
      owner = JSON.parse(text) as LeaseOwner;
    } catch {
      // Half-written by a worker that died while creating it: the mtime rule above applies.
      return false;
    }
    if (owner.host !== SELF.host || typeof owner.pid !== 'number') return false;
    if (owner.pid === SELF.pid) return owner.instance !== SELF.instance;
    return !processAlive(owner.pid);
  }

  /** Stops renewing and removes the lease file, so another worker may take the entry. */
  async release(): Promise<void> {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = null;
    await fs.rm(this.file, { force: true });
  }
}
