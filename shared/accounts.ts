import { randomBytes, scrypt as scryptCallback } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { accountSchema, parseDuration, type AccountConfig, type AccountInput, type Config } from './config/config.schema';
import type { ProcessingPolicy } from './contracts/events';
import { IngestError } from './errors';
import { PolledRefresh, parseStoredList } from './stored-list';
import type { Logger } from './logging';
import type { ObjectStore } from './ports/object-store.port';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** OWASP's scrypt floor (N=2^17, r=8, p=1): about 0.2 s a login on one core. */
const SCRYPT = { N: 131072, r: 8, p: 1, keylen: 32 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keylen, { ...SCRYPT, maxmem: scryptMaxmem(SCRYPT.N, SCRYPT.r) });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

/** A stored scrypt hash taken apart: what a verifier needs to recompute it. */
export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** `scrypt$N$r$p$salt$hash` (as hashPassword writes it), or null when the text is not one. */
export function parsePasswordHash(stored: string): ScryptHash | null {
  const [scheme, n, r, p, salt, hash, ...rest] = stored.split('$');
  const [N, R, P] = [Number(n), Number(r), Number(p)];
  const whole = (v: number) => Number.isSafeInteger(v) && v > 0;
  // N must be a power of two above 1 (RFC 7914 §2); anything else makes scrypt throw at once.
  if (scheme !== 'scrypt' || rest.length > 0 || !whole(N) || N < 2 || (N & (N - 1)) !== 0 || !whole(R) || !whole(P) || !salt || !hash) return null;
  const parsed = { N, r: R, p: P, salt: Buffer.from(salt, 'base64'), hash: Buffer.from(hash, 'base64') };
  return parsed.salt.length > 0 && parsed.hash.length > 0 ? parsed : null;
}

/**
 * A hash no password matches (random salt and random bytes where the digest goes), with the current
 * parameters: checking a password against it costs what checking a real one does, so a login for
 * an account that does not exist takes as long as a wrong password.
 */
export function dummyPasswordHash(): string {
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, randomBytes(16).toString('base64'), randomBytes(SCRYPT.keylen).toString('base64')].join('$');
}

/** Node refuses scrypt above `maxmem` (32 MiB by default); 128·N·r bytes are needed, so allow twice that. */
export function scryptMaxmem(N: number, r: number): number {
  return 256 * N * r;
}

export interface Account extends AccountConfig {
  home: string;
}

/** The account's configured `expectEvery` in ms (how often its cameras send at least); null when it is to be learned. */
export function expectedEveryMs(account: AccountConfig): number | null {
  return account.expectEvery === undefined ? null : parseDuration(account.expectEvery);
}

/** Where CLI-managed accounts live: one JSON array in the object store that every node reads. */
export const ACCOUNTS_KEY = 'system/accounts.json';

export interface AccountDirectoryOptions {
  /** How often the stored accounts are read again; an account added on another node is seen within this. Default 2000. */
  refreshMs?: number;
  /** Where a failed background refresh is reported. */
  logger?: Logger;
}

interface Loaded {
  accounts: AccountConfig[];
  /** Read from the legacy <dataDir>/accounts.json because the store has no accounts object yet. */
  legacy: boolean;
}

/**
 * Accounts from the config file plus those added with `cli accounts add`, which live in ONE object
 * (`system/accounts.json`) of the configured object store, so every node of a distributed deployment
 * shares them. Lookups are synchronous and answer from memory; `start()` loads the object and re-reads it
 * every `refreshMs`, so an account added on one node can log in on all of them within seconds.
 * Until `start()` or `refresh()` has resolved only the config file's accounts are known.
 */
export class AccountDirectory {
  private readonly refreshMs: number;
  private readonly logger: Logger | undefined;
  private readonly legacyFile: string;
  private byName = new Map<string, Account>();
  private readonly polling: PolledRefresh;
  /** Orders cache updates: a refresh that read before a save wrote must not undo that save. */
  private reads = 0;
  private applied = 0;

  constructor(
    private readonly config: Readonly<Config>,
    private readonly store: ObjectStore,
    options: AccountDirectoryOptions = {},
  ) {
    this.refreshMs = options.refreshMs ?? 2000;
    this.logger = options.logger?.child({ component: 'accounts' });
    this.legacyFile = path.join(config.dataDir, 'accounts.json');
    this.polling = new PolledRefresh('accounts', () => this.refresh(), this.refreshMs, this.logger, { key: ACCOUNTS_KEY });
    this.apply([], 0);
  }

  list(): Account[] {
    return [...this.byName.values()];
  }

  find(name: string): Account | null {
    return this.byName.get(name) ?? null;
  }

  /** The account's processing policy as it stands now; it travels in images.ingested so every processor applies this one. */
  policy(name: string): ProcessingPolicy {
    const account = this.find(name);
    const profile = account && this.config.renditionProfiles[account.renditionProfile] ? account.renditionProfile : 'default';
    return { renditionProfile: profile, renditions: this.config.renditionProfiles[profile].map((r) => ({ ...r })), crop: account?.crop ?? null };
  }

  /** Loads the stored accounts (a bad object fails here, loudly) and keeps re-reading them in the background. */
  async start(): Promise<void> {
    const ticket = ++this.reads;
    const { accounts, legacy } = await this.load();
    if (legacy) {
      // Accounts added before they moved to the store would otherwise be seen by this node only; the
      // legacy file is left in place but not read again once the object exists.
      await this.write(accounts);
      this.logger?.info({ accounts: accounts.length, from: this.legacyFile, key: ACCOUNTS_KEY }, 'accounts copied to the object store');
    }
    this.apply(accounts, ticket);
    this.polling.start();
  }

  /** Ends the background reads and waits for one in flight. */
  stop(): Promise<void> {
    return this.polling.stop();
  }

  /** Reads the stored accounts now; throws (keeping the current list) when they cannot be read. */
  async refresh(): Promise<void> {
    const ticket = ++this.reads;
    this.apply((await this.load()).accounts, ticket);
  }

  /** Adds or replaces a stored account. Two saves racing on different nodes can lose one: the store has no compare-and-swap. */
  async save(account: AccountInput): Promise<void> {
    const parsed = accountSchema.parse(account);
    if (!this.config.renditionProfiles[parsed.renditionProfile]) {
      throw new IngestError('INVALID_CONFIG', `no rendition profile "${parsed.renditionProfile}"`);
    }
    const accounts = (await this.load()).accounts.filter((a) => a.name !== parsed.name);
    accounts.push(parsed);
    await this.write(accounts);
    this.apply(accounts, ++this.reads);
  }

  private async load(): Promise<Loaded> {
    let bytes: Buffer;
    try {
      bytes = await this.store.getBuffer(ACCOUNTS_KEY);
    } catch (error) {
      if (!(error instanceof IngestError && error.code === 'OBJECT_NOT_FOUND')) throw error;
      const legacy = await readFile(this.legacyFile).catch((readError: NodeJS.ErrnoException) => {
        if (readError.code === 'ENOENT') return null;
        throw new IngestError('INVALID_CONFIG', `cannot read ${this.legacyFile}: ${readError.message}`, { cause: readError });
      });
      return legacy ? { accounts: parseStoredList(legacy, accountSchema.array(), `accounts in ${this.legacyFile}`), legacy: true } : { accounts: [], legacy: false };
    }
    return { accounts: parseStoredList(bytes, accountSchema.array(), `accounts in object ${ACCOUNTS_KEY}`), legacy: false };
  }

  private async write(accounts: AccountConfig[]): Promise<void> {
    await this.store.put(ACCOUNTS_KEY, Buffer.from(JSON.stringify(accounts, null, 2)), 'application/json');
  }

  /** Replaces the cache unless a newer read or write has already been applied. */
  private apply(stored: AccountConfig[], ticket: number): void {
    if (ticket < this.applied) return;
    this.applied = ticket;
    const byName = new Map<string, AccountConfig>();
    for (const account of stored) byName.set(account.name, account);
    // The config file wins: operators pin accounts there.
    for (const account of this.config.accounts) byName.set(account.name, account);
    this.byName = new Map(
      [...byName.values()].map((a) => [a.name, { ...a, home: path.resolve(a.home ?? path.join(this.config.dataDir, 'ftp', a.name)) }]),
    );
  }
}

/** Whether an address may log in to the account; IPv4-mapped IPv6 addresses count as IPv4. */
export function isAddressAllowed(account: AccountConfig, address: string | null | undefined): boolean {
  if (account.allowedNetworks.length === 0) return true;
  if (!address) return false;
  return networkMatcher(account.allowedNetworks)(address);
}

/** `::ffff:192.0.2.1` → `192.0.2.1`: a dual-stack listener sees IPv4 clients so. */
export function unmapIPv4(address: string): string {
  return address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/** A test for membership of addresses and CIDR ranges (the config's `cidr` values); IPv4-mapped IPv6 addresses count as IPv4. */
export function networkMatcher(networks: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const network of networks) {
    const [base, bits] = network.split('/');
    const family = isIPv6(base) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(base, family);
    else list.addSubnet(base, Number(bits), family);
  }
  return (address) => {
    const ip = unmapIPv4(address);
    return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
  };
}
