import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import pino from 'pino';
import { hashPassword } from '../../shared/accounts';
import { loadConfig } from '../../shared/config/config.loader';
import type { Config } from '../../shared/config/config.schema';
import { startApp, type App } from '../../services/app';

export const PASSWORD = 'correct horse battery';
let passwordHash: Promise<string> | null = null;

export interface TestApp {
  app: App;
  config: Readonly<Config>;
  dataDir: string;
  baseUrl: string;
  ftp(user?: string): Promise<Client>;
  /** Uploads the bytes over FTP as `user` (cam1 by default) and closes the session. */
  upload(name: string, data: Buffer, user?: string): Promise<void>;
  api<T = any>(pathAndQuery: string, headers?: Record<string, string>): Promise<{ status: number; body: T }>;
  stop(): Promise<void>;
}

/** The whole product in this process on free ports, with its own data folder. */
export async function startTestApp(overrides: Record<string, unknown> = {}, dataDir?: string): Promise<TestApp> {
  passwordHash ??= hashPassword(PASSWORD);
  const hash = await passwordHash;
  const dir = dataDir ?? mkdtempSync(path.join(tmpdir(), 'ingest-e2e-'));
  const pasvBase = 30000 + Math.floor(Math.random() * 300) * 100;
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir: dir,
      log: { level: 'silent' },
      ftp: { port: 0, passive: { minPort: pasvBase, maxPort: pasvBase + 99 }, idleTimeoutMs: 2000 },
      dropFolders: { sweepIntervalMs: 500, stableMs: 300 },
      accounts: [
        { name: 'cam1', passwordHash: hash },
        { name: 'cropper', passwordHash: hash, crop: { box: { left: 0, top: 0, width: 50, height: 50, unit: 'percent' } } },
        { name: 'dropper', passwordHash: hash, dropFolder: path.join(dir, 'drop') },
        { name: 'office', passwordHash: hash, allowedNetworks: ['10.0.0.0/8'] },
        { name: 'small', passwordHash: hash, maxFileBytes: 20_000 },
      ],
      ...overrides,
      // Merged, not replaced, so `http: { auth: 'key' }` keeps the free port. http.auth unset is
      // none on this loopback bind, as for `npm start`.
      http: { port: 0, ...(overrides.http as object | undefined) },
    },
  });
  const app = await startApp(config, pino({ level: 'silent' }));
  const baseUrl = `http://127.0.0.1:${app.httpPort}`;
  const clients: Client[] = [];
  const ftp = async (user = 'cam1') => {
    const client = new Client(10_000);
    clients.push(client);
    await client.access({ host: '127.0.0.1', port: app.ftpPort!, user, password: PASSWORD });
    return client;
  };
  return {
    app,
    config,
    dataDir: dir,
    baseUrl,
    ftp,
    async upload(name, data, user = 'cam1') {
      const client = await ftp(user);
      try {
        await client.uploadFrom(Readable.from([data]), name);
      } finally {
        client.close();
      }
    },
    async api<T>(pathAndQuery: string, headers: Record<string, string> = {}) {
      const response = await fetch(`${baseUrl}${pathAndQuery}`, { headers });
      return { status: response.status, body: (await response.json()) as T };
    },
    async stop() {
      clients.forEach((c) => c.close());
      await app.stop();
      if (!dataDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
