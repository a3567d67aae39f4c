import { createHash, randomBytes } from 'node:crypto';
import { z } from 'zod';
import { IngestError } from './errors';
import type { Logger } from './logging';
import type { ObjectStore } from './ports/object-store.port';
import { PolledRefresh, parseStoredList } from './stored-list';

/** Where CLI-managed API keys live: one JSON array in the object store that every search node reads. */
export const API_KEYS_KEY = 'system/api-keys.json';

export const API_ROLES = ['analyst', 'operator'] as const;
export type ApiRole = (typeof API_ROLES)[number];

/** A role may do what every role of a lower rank may: operators can do all that analysts can. */
const ROLE_RANK: Record<ApiRole, number> = { analyst: 1, operator: 2 };

export function roleAllows(held: ApiRole, needed: ApiRole): boolean {
  return ROLE_RANK[held] >= ROLE_RANK[needed];
}

const keyRecordSchema = z
  .object({
    name: z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9._-]{0,63}$/, 'letters, digits, ".", "_" or "-", at most 64'),
    role: z.enum(API_ROLES),
    /** SHA-256 (hex) of the key; the key itself is never stored. */
    hash: z.string().regex(/^[0-9a-f]{64}$/),
    createdAt: z.string().datetime(),
    /** The key's last four characters, so an operator can tell keys apart in `keys list`. */
    last4: z.string().length(4),
  })
  .strict();

export type ApiKeyRecord = z.infer<typeof keyRecordSchema>;

/** 32 random bytes (256 bits) with a prefix that makes a leaked key easy to find in logs and repositories. */
export function generateApiKey(): string {
  return `iik_${randomBytes(32).toString('base64url')}`;
}

/**
 * A plain SHA-256 is enough here, unlike for passwords: a key has 256 bits of entropy, so no
 * dictionary or brute force reaches it, and a fast hash keeps the check per request in microseconds
 * where scrypt would cost 0.2 s of CPU on every API call.
 */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

export interface ApiKeyDirectoryOptions {
  /** How often the stored keys are read again; a key added or revoked on another node counts here within this. Default 2000. */
  refreshMs?: number;
  /** Where a failed background refresh is reported. */
  logger?: Logger;
}

/**
 * API keys added with `cli keys add`, kept in ONE object (`system/api-keys.json`) of the configured
 * object store so every search node shares them; the same design as AccountDirectory. `verify()`
 * answers from memory; `start()` loads the object and re-reads it every `refreshMs`, so a key
 * revoked on one node is refused on all of them within seconds.
 */
export class ApiKeyDirectory {
  private readonly refreshMs: number;
  private readonly logger: Logger | undefined;
  private byHash = new Map<string, ApiKeyRecord>();
  private readonly polling: PolledRefresh;
  /** Orders cache updates: a refresh that read before a save wrote must not undo that save. */
  private reads = 0;
  private applied = 0;

  constructor(
    private readonly store: ObjectStore,
    options: ApiKeyDirectoryOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 2000;
    this.logger = options.logger?.child({ component: 'api-keys' });
    this.polling = new PolledRefresh('API keys', () => this.refresh(), this.refreshMs, this.logger, { key: API_KEYS_KEY });
  }

  /**
   * The key's record, or null for an unknown or revoked key. Looked up by its hash: the map's
   * timing can tell an attacker at most something about the SHA-256 of what they sent, never
   * about a stored key.
   */
  verify(key: string): ApiKeyRecord | null {
    return this.byHash.get(hashApiKey(key)) ?? null;
  }

  list(): ApiKeyRecord[] {
    return [...this.byHash.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  /** Loads the stored keys (a bad object fails here, loudly) and keeps re-reading them in the background. */
  async start(): Promise<void> {
    await this.refresh();
    this.polling.start();
  }

  /** Ends the background reads and waits for one in flight. */
  stop(): Promise<void> {
    return this.polling.stop();
  }

  /** Reads the stored keys now; throws (keeping the current ones) when they cannot be read. */
  async refresh(): Promise<void> {
    const ticket = ++this.reads;
    this.apply(await this.load(), ticket);
  }

  /**
   * Creates a key for a new name and returns it: the only time it exists in clear. Two writes racing
   * on different nodes can lose one: the store has no compare-and-swap (as with accounts).
   */
  async add(name: string, role: ApiRole): Promise<{ key: string; record: ApiKeyRecord }> {
    const records = await this.load();
    if (records.some((r) => r.name === name)) throw new IngestError('INVALID_CONFIG', `an API key named "${name}" exists; revoke it first`);
    const key = generateApiKey();
    const record = keyRecordSchema.parse({ name, role, hash: hashApiKey(key), createdAt: new Date().toISOString(), last4: key.slice(-4) });
    await this.write([...records, record]);
    return { key, record };
  }

  /** Removes the named key; false when there was none. */
  async revoke(name: string): Promise<boolean> {
    const records = await this.load();
    const kept = records.filter((r) => r.name !== name);
    if (kept.length === records.length) return false;
    await this.write(kept);
    return true;
  }

  private async load(): Promise<ApiKeyRecord[]> {
    let bytes: Buffer;
    try {
      bytes = await this.store.getBuffer(API_KEYS_KEY);
    } catch (error) {
      if (error instanceof IngestError && error.code === 'OBJECT_NOT_FOUND') return [];
      throw error;
    }
    return parseStoredList(bytes, keyRecordSchema.array(), `API keys in object ${API_KEYS_KEY}`);
  }

  private async write(records: ApiKeyRecord[]): Promise<void> {
    await this.store.put(API_KEYS_KEY, Buffer.from(JSON.stringify(records, null, 2)), 'application/json');
    this.apply(records, ++this.reads);
  }

  /** Replaces the cache unless a newer read or write has already been applied. */
  private apply(records: ApiKeyRecord[], ticket: number): void {
    if (ticket < this.applied) return;
    this.applied = ticket;
    this.byHash = new Map(records.map((r) => [r.hash, r]));
  }
}

