import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Account, AccountDirectory } from '../../shared/accounts';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteDeliveryRecord } from '../../shared/adapters/sqlite-delivery-record.adapter';
import { loadConfig } from '../../shared/config/config.loader';
import type { Config } from '../../shared/config/config.schema';
import type { Logger } from '../../shared/logging';
import type { FtpGate, Refusal } from '../../services/ingest/ftp-gate';
import { FtpIngestServer } from '../../services/ingest/ftp.server';
import type { IngestOutcome, IngestService } from '../../services/ingest/ingest.service';

export const PASSWORD = 'correct horse battery';

/** A passive range of its own for each test server, so parallel suites do not share ports. */
export function testPassiveRange(): { minPort: number; maxPort: number } {
  const minPort = 30000 + Math.floor(Math.random() * 300) * 100;
  return { minPort, maxPort: minPort + 99 };
}

/** The configuration of a test FTP server on a free port; `ftp` is merged over the ftp section. */
export function testFtpConfig(dataDir: string, ftp: Record<string, any> = {}): Readonly<Config> {
  return loadConfig({
    env: {},
    overrides: { dataDir, log: { level: 'silent' }, ftp: { port: 0, idleTimeoutMs: 30_000, ...ftp, passive: { ...testPassiveRange(), ...ftp.passive } }, accounts: [] },
  });
}

/** An account with every default, its home under `dataDir/ftp/<name>`. */
export function testAccount(dataDir: string, name: string, extra: Partial<Account> = {}): Account {
  return { name, passwordHash: 'scrypt$unused', home: path.join(dataDir, 'ftp', name), renditionProfile: 'default', allowedNetworks: [], allowDownload: false, siteChmod: false, ...extra };
}

/** A logger whose JSON lines land in `lines`, for tests that check what the operator is told. */
export function capturingLogger(lines: Record<string, unknown>[]): Logger {
  const sink = new Writable({
    write(line: Buffer, _encoding, done) {
      lines.push(JSON.parse(line.toString()) as Record<string, unknown>);
      done();
    },
  });
  return pino({ level: 'info' }, sink);
}
const REFUSED: Refusal = { code: 530, text: 'Login incorrect', close: false };

/** A gate that admits everyone and compares passwords in clear (no scrypt: fast tests), and records what it was told. */
export class FakeGate implements FtpGate {
  readonly admitted: string[] = [];
  readonly released: { address: string; account: string | null }[] = [];
  readonly penalties: { address: string; reason: string }[] = [];
  readonly logins: { username: string; address: string; attempt: number }[] = [];
  /** Refuse every new connection with this. */
  refuseConnections: Refusal | null = null;
  /** Refuse a login attempt with this, whatever the password. */
  refuseLogin: (attempt: number) => Refusal | null = () => null;

  constructor(private readonly accounts: Account[]) {}

  admit(address: string): Refusal | null {
    if (this.refuseConnections) return this.refuseConnections;
    this.admitted.push(address);
    return null;
  }

  release(address: string, account: string | null): void {
    this.released.push({ address, account });
  }

  penalize(address: string, reason: string): void {
    this.penalties.push({ address, reason });
  }

  async authenticate(username: string, password: string, address: string, attempt: number) {
    this.logins.push({ username, address, attempt });
    const refused = this.refuseLogin(attempt);
    if (refused) return { refused };
    const account = this.accounts.find((a) => a.name === username);
    return account && password === PASSWORD ? { account } : { refused: REFUSED };
  }
}

export interface TestFtpServer {
  server: FtpIngestServer;
  config: Readonly<Config>;
  dataDir: string;
  gate: FakeGate;
  /** IngestService.accept: by default every upload is ingested. */
  accept: jest.Mock<Promise<IngestOutcome>, Parameters<IngestService['accept']>>;
  /** The FTP home of an account. */
  home(account?: string): string;
  stop(): Promise<void>;
}

/**
 * FtpIngestServer on free ports with a fake ingest and gate, the embedded delivery record, its own data folder and passive range.
 * `ftp` is merged over the config's ftp section; accounts: cam1 (plain), chmodder (siteChmod).
 */
export async function startFtpServer(ftp: Record<string, any> = {}): Promise<TestFtpServer> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'ftp-e2e-'));
  const config = testFtpConfig(dataDir, ftp);
  const account = (name: string, extra: Partial<Account> = {}) => testAccount(dataDir, name, extra);
  const list = [account('cam1'), account('chmodder', { siteChmod: true })];
  // The server only looks accounts up through the gate.
  const accounts = { find: (name: string) => list.find((a) => a.name === name), list: () => list } as unknown as AccountDirectory;
  const accept = jest.fn<Promise<IngestOutcome>, Parameters<IngestService['accept']>>();
  accept.mockResolvedValue({ status: 'ingested', id: 'ab'.repeat(32), key: 'originals/ab/ab/x.jpg', bytes: 1, contentType: 'image/jpeg', duplicate: false });
  const gate = new FakeGate(list);
  const deliveries = new SqliteDeliveryRecord(path.join(dataDir, 'deliveries.sqlite'));
  const store = new LocalObjectStore(path.join(dataDir, 'objects'));
  const ingest = { accept } as unknown as IngestService;
  const server = new FtpIngestServer({ config, accounts, ingest, deliveries, store, logger: pino({ level: 'silent' }), gate });
  await server.listen();
  return {
    server,
    config,
    dataDir,
    gate,
    accept,
    home: (name = 'cam1') => path.join(dataDir, 'ftp', name),
    async stop() {
      await server.close();
      await deliveries.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
