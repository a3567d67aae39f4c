import { createHmac, randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import { dummyPasswordHash, parsePasswordHash, scryptMaxmem, type ScryptHash } from './accounts';
import { IngestError } from './errors';

/** `busy`: the queue is full; `dropped`: no longer wanted when its turn came. Neither was checked. */
export type Verification = 'match' | 'mismatch' | 'busy' | 'dropped';

export interface PasswordVerifierOptions {
  /** scrypt runs at once, each on a worker thread of its own (128 MiB each at the current parameters). */
  concurrency: number;
  /** Verifications waiting for a worker; one more is answered `busy` at once. */
  maxQueued: number;
  /** How long a successful verification is remembered (0: never). Default 15 minutes. */
  cacheTtlMs?: number;
  /** Successful verifications remembered at most; the oldest go first. Default 1000. */
  cacheEntries?: number;
}

export interface VerifierSnapshot {
  /** Worker threads started (each holds about 10 MB while idle). */
  workers: number;
  running: number;
  /** Waiting for a worker (bounded by `maxQueued`). */
  queued: number;
  /** Waiting behind a verification from the same address (not in the queue). */
  waiting: number;
  cached: number;
}

/** How a verification waits its turn. */
export interface VerifyOptions {
  /**
   * Asked when the verification's turn comes and again when a worker takes it (an address banned
   * meanwhile): false drops it unchecked.
   */
  stillWanted?: () => boolean;
  /**
   * Goes ahead of every other waiting verification and is never refused as busy: a camera logging in
   * from its own network while guessers elsewhere keep the queue full. Bounded by the connection limits.
   */
  priority?: boolean;
}

interface Job {
  password: string;
  hash: ScryptHash;
  stillWanted: () => boolean;
  /** null: dropped before a worker took it. */
  resolve(match: boolean | null): void;
  reject(error: Error): void;
}

interface Slot {
  worker: Worker;
  job: Job | null;
}

type WorkerReply = { match: boolean } | { error: string };

/*
 * scryptSync runs on the worker's own thread. Node's async scrypt would run on libuv's pool of 4
 * threads, which fs, dns.lookup and sharp share: 8 logins at once held an fs.stat for 1.35 s, and 16
 * guessing connections slowed a camera's 250 KB upload from 0.044 s to 19 s (issue 8). Evaluated
 * source rather than a file, so the same code runs from dist/ and under jest (as heic.decoder.ts does).
 */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads');
const { scryptSync, timingSafeEqual } = require('node:crypto');
parentPort.on('message', ({ password, salt, hash, N, r, p, maxmem }) => {
  try {
    const actual = scryptSync(password, salt, hash.length, { N, r, p, maxmem });
    parentPort.postMessage({ match: timingSafeEqual(actual, hash) });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

/**
 * Checks passwords against scrypt hashes on at most `concurrency` worker threads, so guessing costs
 * a bounded amount of memory and CPU and never slows file I/O. At most one verification per `key`
 * (the client's address) runs or queues at a time; the next from that key waits its turn outside the
 * queue, so one address cannot fill the queue, and several cameras behind one NAT address (or an
 * lftp mirror opening parallel sessions) are served one after the other instead of refused.
 *
 * A missing or unreadable hash is checked against a dummy hash with the current parameters, so it
 * costs the same as a real one. Successes are remembered for `cacheTtlMs` under an HMAC (key random
 * per process) of the stored hash and the password: a camera that connects for every upload pays
 * for scrypt once per period, and still gets in while guessers keep the queue full. Only the right
 * password is ever answered faster. The price: someone who can read this process's memory can test
 * guesses against a remembered entry at HMAC speed instead of scrypt's until it expires; a new
 * password takes effect at once, as the stored hash is part of the key.
 */
export class PasswordVerifier {
  private readonly dummy: ScryptHash;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  /** Priority verifications: taken before `queue`, and not counted against `maxQueued`. */
  private readonly urgent: Job[] = [];
  private readonly tails = new Map<string, Promise<unknown>>();
  private waiting = 0;
  private readonly cacheTtlMs: number;
  private readonly cacheEntries: number;
  private readonly cacheSecret = randomBytes(32);
  /** HMAC → expiry (ms since the epoch), oldest first. */
  private readonly cache = new Map<string, number>();
  private closed = false;

  constructor(private readonly options: PasswordVerifierOptions) {
    this.dummy = parsePasswordHash(dummyPasswordHash())!;
    this.cacheTtlMs = options.cacheTtlMs ?? 15 * 60_000;
    this.cacheEntries = options.cacheEntries ?? 1000;
  }

  /**
   * Whether `password` matches `stored`; null (no such account) or an unreadable hash is checked
   * against the dummy and answers `mismatch`. `key` serializes verifications: one at a time per key.
   */
  async verify(password: string, stored: string | null, key: string, options: VerifyOptions = {}): Promise<Verification> {
    const parsed = stored === null ? null : parsePasswordHash(stored);
    const cacheKey = parsed ? this.cacheKey(stored!, password) : null;
    if (cacheKey && this.remembered(cacheKey)) return 'match';
    const previous = this.tails.get(key);
    if (previous) this.waiting++;
    const turn = previous
      ? previous.then(() => {
          this.waiting--;
          return this.verifyNow(password, parsed, cacheKey, options);
        })
      : this.verifyNow(password, parsed, cacheKey, options);
    const tail = turn.catch(() => undefined);
    this.tails.set(key, tail);
    try {
      return await turn;
    } finally {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }

  snapshot(): VerifierSnapshot {
    return {
      workers: this.slots.length,
      running: this.slots.filter((s) => s.job).length,
      queued: this.urgent.length + this.queue.length,
      waiting: this.waiting,
      cached: this.cache.size,
    };
  }

  /** Ends the workers; verifications still waiting fail with SHUTTING_DOWN. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new IngestError('SHUTTING_DOWN', 'password verifier closed', { retriable: true });
    [...this.urgent.splice(0), ...this.queue.splice(0)].forEach((job) => job.reject(error));
    const slots = this.slots.splice(0);
    slots.forEach((slot) => slot.job?.reject(error));
    await Promise.all(slots.map(({ worker }) => worker.terminate()));
  }

  private async verifyNow(password: string, parsed: ScryptHash | null, cacheKey: string | null, options: VerifyOptions): Promise<Verification> {
    const { stillWanted = () => true, priority = false } = options;
    // Again: the verification this one waited for may have been the same camera's.
    if (cacheKey && this.remembered(cacheKey)) return 'match';
    if (this.closed) throw new IngestError('SHUTTING_DOWN', 'password verifier closed', { retriable: true });
    if (!stillWanted()) return 'dropped';
    const idle = this.slots.some((s) => !s.job) || this.slots.length < this.options.concurrency;
    if (!idle && !priority && this.queue.length >= this.options.maxQueued) return 'busy';
    const match = await new Promise<boolean | null>((resolve, reject) => {
      (priority ? this.urgent : this.queue).push({ password, hash: parsed ?? this.dummy, stillWanted, resolve, reject });
      this.pump();
    });
    if (match === null) return 'dropped';
    if (!parsed || !match) return 'mismatch';
    if (cacheKey) this.remember(cacheKey);
    return 'match';
  }

  private pump(): void {
    while (this.urgent.length + this.queue.length > 0 && !this.closed) {
      const slot = this.slots.find((s) => !s.job) ?? (this.slots.length < this.options.concurrency ? this.start() : null);
      if (!slot) return;
      const job = (this.urgent.length > 0 ? this.urgent : this.queue).shift()!;
      if (!job.stillWanted()) {
        job.resolve(null);
        continue;
      }
      slot.job = job;
      const { N, r, p, salt, hash } = job.hash;
      // Held while it works so a pending login keeps the process alive; let go when idle.
      slot.worker.ref();
      slot.worker.postMessage({ password: job.password, salt, hash, N, r, p, maxmem: scryptMaxmem(N, r) });
    }
  }

  private start(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true });
    const slot: Slot = { worker, job: null };
    worker.unref();
    worker.on('message', (reply: WorkerReply) => {
      const job = slot.job;
      slot.job = null;
      worker.unref();
      if ('error' in reply) job?.reject(new Error(`scrypt failed: ${reply.error}`));
      else job?.resolve(reply.match);
      this.pump();
    });
    const lost = (error: Error) => {
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      slot.job?.reject(error);
      slot.job = null;
      // A replacement starts for the next job in the queue.
      this.pump();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`password worker exited with code ${code}`)));
    this.slots.push(slot);
    return slot;
  }

  private cacheKey(stored: string, password: string): string | null {
    if (this.cacheTtlMs === 0) return null;
    // The stored hash has its own salt, so it names the account, and a new password changes it.
    return createHmac('sha256', this.cacheSecret).update(stored).update('\0').update(password).digest('base64');
  }

  private remembered(key: string): boolean {
    const expires = this.cache.get(key);
    if (expires === undefined) return false;
    if (expires > Date.now()) return true;
    this.cache.delete(key);
    return false;
  }

  private remember(key: string): void {
    this.cache.delete(key);
    this.cache.set(key, Date.now() + this.cacheTtlMs);
    // Map order is insertion order: the first keys are the oldest.
    for (const oldest of this.cache.keys()) {
      if (this.cache.size <= this.cacheEntries) break;
      this.cache.delete(oldest);
    }
  }
}
