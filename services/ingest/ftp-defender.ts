import { isIPv6 } from 'node:net';
import { isAddressAllowed, networkMatcher, unmapIPv4, type Account, type AccountDirectory } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import type { Logger } from '../../shared/logging';
import { ftpBans } from '../../shared/metrics';
import { PasswordVerifier } from '../../shared/password-verifier';
import type { FtpGate, Refusal } from './ftp-gate';

type FtpSettings = Pick<Config['ftp'], 'limits' | 'defender' | 'auth'>;
type Event = keyof Config['ftp']['defender']['scores'];

export interface FtpDefenderDeps {
  accounts: Pick<AccountDirectory, 'find'>;
  logger: Logger;
  /** Default: a PasswordVerifier with `ftp.auth`'s limits. Either way close() ends it. */
  verifier?: Pick<PasswordVerifier, 'verify' | 'snapshot' | 'close'>;
}

/** What the defender has done since it started (metrics will read these). */
export type DefenderCounter =
  | 'bans'
  | 'unbans'
  | 'refusedBanned'
  | 'refusedConnections'
  | 'loginsSucceeded'
  | 'loginsFailed'
  | 'loginsBusy'
  | 'accountLocks'
  | 'abuse';

export interface DefenderSnapshot {
  connections: number;
  /** Addresses with a score and no ban. */
  scoredAddresses: number;
  bannedAddresses: number;
  lockedAccounts: number;
  counters: Readonly<Record<DefenderCounter, number>>;
  verifier: ReturnType<PasswordVerifier['snapshot']>;
}

const AGAIN = 'try again later';
const REFUSALS = {
  banned: { code: 421, text: `Too many failed logins from your address; ${AGAIN}`, close: true },
  connections: { code: 421, text: `Too many connections; ${AGAIN}`, close: true },
  addressConnections: { code: 421, text: `Too many connections from your address; ${AGAIN}`, close: true },
  accountConnections: { code: 421, text: `Too many connections for this account; ${AGAIN}`, close: true },
  attempts: { code: 421, text: `Too many login attempts; ${AGAIN}`, close: true },
  busy: { code: 421, text: `Too many logins in progress; ${AGAIN}`, close: true },
  // One text for every refused login, so the reply never tells which check failed (RFC 959 530).
  login: { code: 530, text: 'Login incorrect', close: false },
  lastLogin: { code: 530, text: 'Login incorrect', close: true },
} as const satisfies Record<string, Refusal>;

/**
 * How long an address a camera logged in from keeps access to its account while the account is
 * locked, and how many such addresses each account keeps (the most recent).
 */
const GOOD_ADDRESS_MS = 30 * 24 * 3600_000;
const GOOD_ADDRESSES = 16;
/** Expired bans and locks are logged (and forgotten) within this long. */
const SWEEP_MS = 10_000;

interface Host {
  /** Scores inside the observation window, oldest first. */
  events: { at: number; score: number }[];
}

interface Ban {
  until: number;
  /** The score that caused it. */
  score: number;
}

interface AccountWatch {
  /** Failures from untrusted addresses inside the lockout window. */
  failures: number[];
  lockedUntil: number;
  /** Address key → last successful login. */
  good: Map<string, number>;
}

/**
 * Who may come in, in the manner of SFTPGo's defender (design only; see /tmp/issue8-research.md §3):
 *
 * - Each address (an IPv6 address by its /64) collects a score for failed logins (more for an unknown
 *   account), protocol abuse and exceeded limits; reaching `threshold` within `observationMs` bans it
 *   for `banMs`, and every attempt while banned lengthens the ban by `banIncrementPercent` of `banMs`,
 *   up to `maxBanMs` from now. `safeList` addresses are never scored, banned, held to the
 *   per-address limit or locked out of an account.
 * - An account counts failures from addresses it does not trust: outside its `allowedNetworks`,
 *   and not an address it logged in from in the last 30 days. At `accountLockout.threshold` within
 *   `windowMs` it refuses untrusted addresses for `lockMs`; its own networks and recent addresses
 *   still log in, so an attacker cannot lock a camera out from where it works. An account without
 *   `allowedNetworks` trusts only its recent addresses (kept in memory, 16 per account): a camera that
 *   comes from a new address while its account is locked waits for the lock to end.
 * - Every refused login runs one scrypt (against a dummy hash when nothing could succeed) and is
 *   answered `ftp.auth.refusalDelayMs` after it began, so its timing says nothing about the account.
 * - Connections are counted in total, per address and per account; passwords are checked on the
 *   capped verifier (shared/password-verifier.ts).
 *
 * State is in memory, per process: a restart forgets scores, bans, locks and good addresses.
 */
export class FtpDefender implements FtpGate {
  private readonly settings: FtpSettings['defender'];
  private readonly limits: FtpSettings['limits'];
  private readonly refusalDelayMs: number;
  private readonly logger: Logger;
  private readonly verifier: NonNullable<FtpDefenderDeps['verifier']>;
  private readonly isSafe: (address: string) => boolean;
  /** Least recently scored first. */
  private readonly hosts = new Map<string, Host>();
  private readonly bans = new Map<string, Ban>();
  private readonly watches = new Map<string, AccountWatch>();
  private connections = 0;
  private readonly perAddress = new Map<string, number>();
  private readonly perAccount = new Map<string, number>();
  private readonly counters: Record<DefenderCounter, number> = {
    bans: 0,
    unbans: 0,
    refusedBanned: 0,
    refusedConnections: 0,
    loginsSucceeded: 0,
    loginsFailed: 0,
    loginsBusy: 0,
    accountLocks: 0,
    abuse: 0,
  };
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    ftp: Readonly<FtpSettings>,
    private readonly deps: FtpDefenderDeps,
  ) {
    this.settings = ftp.defender;
    this.limits = ftp.limits;
    this.refusalDelayMs = ftp.auth.refusalDelayMs;
    this.logger = deps.logger.child({ component: 'defender' });
    this.verifier = deps.verifier ?? new PasswordVerifier({ concurrency: ftp.auth.maxConcurrentVerifications, maxQueued: ftp.auth.maxQueuedVerifications });
    const safe = networkMatcher(ftp.defender.safeList);
    this.isSafe = ftp.defender.safeList.length > 0 ? safe : () => false;
    this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
    this.sweeper.unref();
  }

  admit(address: string): Refusal | null {
    const key = addressKey(address);
    const safe = this.isSafe(address);
    if (!safe && this.isBanned(key)) return this.refuseBanned(key);
    if (this.connections >= this.limits.maxConnections) {
      this.counters.refusedConnections++;
      this.logger.debug({ address, connections: this.connections }, 'connection refused: server full');
      return REFUSALS.connections;
    }
    const here = this.perAddress.get(key) ?? 0;
    if (!safe && here >= this.limits.maxConnectionsPerAddress) {
      this.counters.refusedConnections++;
      this.score(key, 'limitExceeded');
      this.logger.debug({ address, connections: here }, 'connection refused: too many from the address');
      return REFUSALS.addressConnections;
    }
    this.connections++;
    this.perAddress.set(key, here + 1);
    return null;
  }

  release(address: string, account: string | null): void {
    const key = addressKey(address);
    this.connections = Math.max(0, this.connections - 1);
    decrement(this.perAddress, key);
    if (account !== null) decrement(this.perAccount, account);
  }

  async authenticate(username: string, password: string, address: string, attempt: number): Promise<{ account: Account } | { refused: Refusal }> {
    const started = Date.now();
    const key = addressKey(address);
    const safe = this.isSafe(address);
    if (!safe && this.isBanned(key)) return { refused: this.refuseBanned(key) };
    if (attempt > this.limits.maxLoginAttempts) return { refused: REFUSALS.attempts };

    const account = this.deps.accounts.find(username);
    const trusted = account !== null && (safe || this.trusts(account, key, address, started));
    const cannot = !account
      ? 'no such account'
      : !isAddressAllowed(account, address)
        ? 'address not allowed'
        : !trusted && this.isLocked(account.name, started)
          ? 'account locked'
          : null;
    // One scrypt on every path, against the dummy hash when the login cannot succeed: the same work,
    // hence the same time even when verifications queue.
    const verification = await this.verifier.verify(password, account && !cannot ? account.passwordHash : null, key, {
      stillWanted: () => safe || !this.isBanned(key),
      // A camera in its own network (or where it logged in before) does not wait behind guessers.
      priority: trusted && !cannot,
    });

    if (verification === 'dropped') {
      // Banned while it waited behind this address's other logins: a flood of parallel guesses ends here.
      return { refused: this.refuseBanned(key) };
    }
    if (verification === 'busy') {
      this.counters.loginsBusy++;
      if (!safe) this.score(key, 'limitExceeded');
      this.logger.warn({ account: username, address }, 'login refused: too many logins in progress');
      return { refused: REFUSALS.busy };
    }
    if (verification === 'match' && account && !cannot) {
      const sessions = this.perAccount.get(account.name) ?? 0;
      if (sessions >= this.limits.maxConnectionsPerAccount) {
        this.counters.refusedConnections++;
        this.logger.warn({ account: account.name, address, sessions }, 'login refused: too many connections for the account');
        return { refused: REFUSALS.accountConnections };
      }
      this.perAccount.set(account.name, sessions + 1);
      this.rememberGoodAddress(account.name, key, started);
      this.counters.loginsSucceeded++;
      return { account };
    }

    this.counters.loginsFailed++;
    if (!safe) {
      this.score(key, account ? 'loginFailed' : 'unknownAccount');
      if (account && !trusted) this.countAccountFailure(account.name, started);
    }
    this.logger.info({ account: username, address, attempt, reason: cannot ?? 'wrong password' }, 'login refused');
    const close = attempt >= this.limits.maxLoginAttempts || (!safe && this.isBanned(key));
    const wait = started + this.refusalDelayMs - Date.now();
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    return { refused: close ? REFUSALS.lastLogin : REFUSALS.login };
  }

  penalize(address: string, reason: string): void {
    if (this.isSafe(address)) return;
    this.counters.abuse++;
    this.logger.debug({ address, reason }, 'protocol abuse');
    this.score(addressKey(address), 'abuse');
  }

  snapshot(): DefenderSnapshot {
    const now = Date.now();
    return {
      connections: this.connections,
      scoredAddresses: this.hosts.size,
      bannedAddresses: [...this.bans.values()].filter((b) => b.until > now).length,
      lockedAccounts: [...this.watches.values()].filter((w) => w.lockedUntil > now).length,
      counters: { ...this.counters },
      verifier: this.verifier.snapshot(),
    };
  }

  /** Stops the sweep and ends the verifier's workers. */
  async close(): Promise<void> {
    clearInterval(this.sweeper);
    await this.verifier.close();
  }

  private score(key: string, event: Event): void {
    // A banned address's sessions that were open before the ban add nothing: its ban stands as it is.
    if (!this.settings.enabled || this.isBanned(key)) return;
    const now = Date.now();
    const host = this.hosts.get(key) ?? { events: [] };
    this.hosts.delete(key);
    host.events = host.events.filter((e) => e.at > now - this.settings.observationMs);
    host.events.push({ at: now, score: this.settings.scores[event] });
    const score = host.events.reduce((sum, e) => sum + e.score, 0);
    if (score >= this.settings.threshold) {
      this.ban(key, score, now);
      return;
    }
    this.hosts.set(key, host);
    // Insertion order is activity order: the first key is the address quiet the longest.
    for (const quietest of this.hosts.keys()) {
      if (this.hosts.size <= this.settings.maxEntries) break;
      this.hosts.delete(quietest);
    }
  }

  private ban(key: string, score: number, now: number): void {
    const until = now + Math.min(this.settings.banMs, this.settings.maxBanMs);
    this.bans.set(key, { until, score });
    this.counters.bans++;
    ftpBans.inc();
    this.logger.warn({ address: key, score, until: new Date(until).toISOString() }, 'address banned');
    if (this.bans.size > this.settings.maxEntries) {
      // Forget the ban that ends soonest (an expired one first): the longest bans are the worst offenders.
      const [soonest] = [...this.bans.entries()].reduce((a, b) => (b[1].until < a[1].until ? b : a));
      this.bans.delete(soonest);
    }
  }

  private isBanned(key: string): boolean {
    const ban = this.bans.get(key);
    if (!ban) return false;
    if (ban.until > Date.now()) return true;
    this.unban(key, ban);
    return false;
  }

  private refuseBanned(key: string): Refusal {
    const ban = this.bans.get(key);
    if (ban) {
      const longer = ban.until + (this.settings.banMs * this.settings.banIncrementPercent) / 100;
      ban.until = Math.max(ban.until, Math.min(longer, Date.now() + this.settings.maxBanMs));
      this.logger.debug({ address: key, until: new Date(ban.until).toISOString() }, 'banned address refused');
    }
    this.counters.refusedBanned++;
    return REFUSALS.banned;
  }

  private unban(key: string, ban: Ban): void {
    this.bans.delete(key);
    this.counters.unbans++;
    this.logger.info({ address: key, score: ban.score, until: new Date(ban.until).toISOString() }, 'address unbanned');
  }

  private trusts(account: Account, key: string, address: string, now: number): boolean {
    if (account.allowedNetworks.length > 0 && isAddressAllowed(account, address)) return true;
    const seen = this.watches.get(account.name)?.good.get(key);
    return seen !== undefined && seen > now - GOOD_ADDRESS_MS;
  }

  private isLocked(name: string, now: number): boolean {
    return this.settings.enabled && (this.watches.get(name)?.lockedUntil ?? 0) > now;
  }

  private watch(name: string): AccountWatch {
    let watch = this.watches.get(name);
    if (!watch) {
      watch = { failures: [], lockedUntil: 0, good: new Map() };
      this.watches.set(name, watch);
    }
    return watch;
  }

  private countAccountFailure(name: string, now: number): void {
    const lockout = this.settings.accountLockout;
    const watch = this.watch(name);
    if (watch.lockedUntil > now) return;
    watch.failures = watch.failures.filter((at) => at > now - lockout.windowMs);
    watch.failures.push(now);
    if (watch.failures.length < lockout.threshold) return;
    watch.lockedUntil = now + lockout.lockMs;
    watch.failures = [];
    this.counters.accountLocks++;
    this.logger.warn({ account: name, failures: lockout.threshold, until: new Date(watch.lockedUntil).toISOString() }, 'account locked for untrusted addresses');
  }

  private rememberGoodAddress(name: string, key: string, now: number): void {
    const { good } = this.watch(name);
    good.delete(key);
    good.set(key, now);
    for (const oldest of good.keys()) {
      if (good.size <= GOOD_ADDRESSES) break;
      good.delete(oldest);
    }
  }

  /** Logs bans and locks that have ended and forgets what has aged out, so memory follows activity. */
  private sweep(): void {
    const now = Date.now();
    for (const [key, ban] of this.bans) if (ban.until <= now) this.unban(key, ban);
    for (const [key, host] of this.hosts) {
      host.events = host.events.filter((e) => e.at > now - this.settings.observationMs);
      if (host.events.length === 0) this.hosts.delete(key);
    }
    for (const [name, watch] of this.watches) {
      if (watch.lockedUntil !== 0 && watch.lockedUntil <= now) {
        watch.lockedUntil = 0;
        this.logger.info({ account: name }, 'account unlocked');
      }
      watch.failures = watch.failures.filter((at) => at > now - this.settings.accountLockout.windowMs);
      for (const [key, at] of watch.good) if (at <= now - GOOD_ADDRESS_MS) watch.good.delete(key);
      if (watch.lockedUntil === 0 && watch.failures.length === 0 && watch.good.size === 0) this.watches.delete(name);
    }
  }
}

/**
 * The unit scores, bans and limits count by: an IPv4 address (IPv4-mapped IPv6 included), or the /64
 * of an IPv6 address, the block one subscriber usually gets (RFC 6177), so rotating through it gains nothing.
 */
export function addressKey(address: string): string {
  const ip = unmapIPv4(address).split('%')[0];
  if (!isIPv6(ip)) return ip;
  const [head, tail] = ip.split('::') as [string, string | undefined];
  const groups = (part: string | undefined) => (part ? part.split(':') : []);
  const [left, right] = [groups(head), groups(tail)];
  // An embedded IPv4 (::1.2.3.4) fills the last two groups, never the first four.
  for (const side of [left, right]) if (side.at(-1)?.includes('.')) side.splice(-1, 1, '0', '0');
  const full = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${full.slice(0, 4).map((g) => parseInt(g, 16).toString(16)).join(':')}::/64`;
}

function decrement(counts: Map<string, number>, key: string): void {
  const n = (counts.get(key) ?? 0) - 1;
  if (n > 0) counts.set(key, n);
  else counts.delete(key);
}
