import { randomBytes, scrypt as scryptCallback, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { accountSchema, type AccountConfig, type Config } from './config/config.schema';
import { IngestError } from './errors';

const scrypt = promisify(scryptCallback) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;

/** OWASP's scrypt floor (N=2^17, r=8, p=1): about 0.2 s a login on one core. */
const SCRYPT = { N: 131072, r: 8, p: 1, keylen: 32 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scrypt(password, salt, SCRYPT.keylen, { ...SCRYPT, maxmem: 256 * SCRYPT.N * SCRYPT.r });
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64'), hash.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const params = { N: Number(n), r: Number(r), p: Number(p), maxmem: 256 * Number(n) * Number(r) };
  const actual = await scrypt(password, Buffer.from(salt, 'base64'), expected.length, params);
  return actual.length === expected.length && timingSafeEqual(actual, expected);
}

export interface Account extends AccountConfig {
  home: string;
}

/**
 * Accounts from the config file plus those added with `cli accounts add` (kept in
 * <dataDir>/accounts.json). Read on every lookup so an added account can log in without a restart.
 */
export class AccountDirectory {
  readonly file: string;

  constructor(private readonly config: Readonly<Config>) {
    this.file = path.join(config.dataDir, 'accounts.json');
  }

  list(): Account[] {
    const byName = new Map<string, AccountConfig>();
    for (const account of this.readStored()) byName.set(account.name, account);
    // The config file wins: operators pin accounts there.
    for (const account of this.config.accounts) byName.set(account.name, account);
    return [...byName.values()].map((a) => ({ ...a, home: path.resolve(a.home ?? path.join(this.config.dataDir, 'ftp', a.name)) }));
  }

  find(name: string): Account | null {
    return this.list().find((a) => a.name === name) ?? null;
  }

  /** Adds or replaces a stored account; the write is atomic so a concurrent login reads old or new. */
  async save(account: AccountConfig): Promise<void> {
    const parsed = accountSchema.parse(account);
    if (!this.config.renditionProfiles[parsed.renditionProfile]) {
      throw new IngestError('INVALID_CONFIG', `no rendition profile "${parsed.renditionProfile}"`);
    }
    const accounts = this.readStored().filter((a) => a.name !== parsed.name);
    accounts.push(parsed);
    await mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await writeFile(tmp, JSON.stringify(accounts, null, 2), { mode: 0o600 });
    await rename(tmp, this.file);
  }

  private readStored(): AccountConfig[] {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const parsed = accountSchema.array().safeParse(JSON.parse(text));
    if (!parsed.success) throw new IngestError('INVALID_CONFIG', `${this.file}: ${parsed.error.issues[0]?.message}`);
    return parsed.data;
  }
}

/** Whether an address may log in to the account; IPv4-mapped IPv6 addresses count as IPv4. */
export function isAddressAllowed(account: AccountConfig, address: string | null | undefined): boolean {
  if (account.allowedNetworks.length === 0) return true;
  if (!address) return false;
  const ip = address.startsWith('::ffff:') && isIPv4(address.slice(7)) ? address.slice(7) : address;
  const list = new BlockList();
  for (const network of account.allowedNetworks) {
    const [base, bits] = network.split('/');
    const family = isIPv6(base) ? 'ipv6' : 'ipv4';
    if (bits === undefined) list.addAddress(base, family);
    else list.addSubnet(base, Number(bits), family);
  }
  return list.check(ip, isIPv6(ip) ? 'ipv6' : 'ipv4');
}
