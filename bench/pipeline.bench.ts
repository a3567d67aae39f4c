/**
 * Quick end-to-end figures, the product started in this process: N camera-like JPEGs uploaded over
 * FTP at concurrency C, time from each 226 reply to the image being searchable, steady-state rate.
 * Usage: npm run bench:pipeline -- [--images 40] [--concurrency 4] [--megapixels 12] [--stack]
 * --stack runs on Kafka, Elasticsearch and MinIO started by `npm run stack:up`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { startApp } from '../services/app';
import { hashPassword } from '../shared/accounts';
import { loadConfig } from '../shared/config/config.loader';
import { cameraJpeg } from '../test/helpers/fixtures';
import { distributedOverrides, stackEnv } from '../test/helpers/stack';
import { load } from './e2e';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '4' },
    megapixels: { type: 'string', default: '12' },
    stack: { type: 'boolean', default: false },
  },
});

async function main(): Promise<void> {
  const megapixels = Number(values.megapixels);
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 3) / 2));
  const height = Math.round((width * 2) / 3);
  const inputs = await Promise.all(
    Array.from({ length: 4 }, (_, i) => cameraJpeg({ width, height, seed: 1000 + i, make: 'Canon', model: 'EOS R5', dateTimeOriginal: '2024:05:01 12:00:00', gps: { lat: 48.1, lon: 11.5 }, quality: 95 })),
  );
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
  if (values.stack) Object.assign(process.env, stackEnv());
  const config = loadConfig({
    env: {},
    overrides: {
      dataDir,
      log: { level: 'warn' },
      ftp: { port: 0 },
      http: { port: 0 },
      accounts: [{ name: 'bench', passwordHash: await hashPassword('bench-password') }],
      // The default refresh, as in production: searchable within a second, bulks never wait for it.
      ...(values.stack ? distributedOverrides(`bench-${Date.now()}`, 'false') : {}),
    },
  });
  const app = await startApp(config, pino({ level: 'warn' }));
  try {
    const deployment = { ftpPort: app.ftpPort!, httpPort: app.httpPort!, processes: [], stop: async () => undefined };
    const result = await load({ deployment, password: 'bench-password', inputs, images: Number(values.images), concurrency: Number(values.concurrency), offset: 0 });
    const machine = { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) };
    console.log(JSON.stringify({ machine, adapters: config.adapters, megapixels, meanMB: +(inputs.reduce((n, b) => n + b.length, 0) / inputs.length / 1e6).toFixed(2), ...result, peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024) }, null, 2));
  } finally {
    await app.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
