/**
 * End-to-end figures for the embedded product: N camera-like JPEGs uploaded over FTP at concurrency C,
 * the time from each 226 reply to the image being searchable, and the sustained rate.
 * Usage: npm run bench:pipeline -- [--images 40] [--concurrency 4] [--megapixels 12] [--stack]
 * --stack runs on Kafka, Elasticsearch and MinIO started by `npm run stack:up`.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { parseArgs } from 'node:util';
import { Client } from 'basic-ftp';
import pino from 'pino';
import { startApp } from '../services/app';
import { hashPassword } from '../shared/accounts';
import { loadConfig } from '../shared/config/config.loader';
import { cameraJpeg } from '../test/helpers/fixtures';
import { distributedOverrides, stackEnv } from '../test/helpers/stack';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '40' },
    concurrency: { type: 'string', default: '4' },
    megapixels: { type: 'string', default: '12' },
    stack: { type: 'boolean', default: false },
  },
});
const count = Number(values.images);
const concurrency = Number(values.concurrency);
const megapixels = Number(values.megapixels);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

async function main(): Promise<void> {
  const width = Math.round(Math.sqrt((megapixels * 1e6 * 3) / 2));
  const height = Math.round((width * 2) / 3);
  process.stderr.write(`generating ${count} JPEGs of ${width}x${height}...\n`);
  const images: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    images.push(await cameraJpeg({ width, height, seed: 1000 + i, make: 'Canon', model: 'EOS R5', dateTimeOriginal: '2024:05:01 12:00:00', gps: { lat: 48.1, lon: 11.5 }, quality: 95 }));
  }
  const totalBytes = images.reduce((n, b) => n + b.length, 0);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'bench-'));
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
  if (values.stack) Object.assign(process.env, stackEnv());
  const app = await startApp(config, pino({ level: 'warn' }));
  const ids = images.map((b) => createHash('sha256').update(b).digest('hex'));
  const acked = new Map<string, number>();
  const searchable = new Map<string, number>();
  let next = 0;
  const started = performance.now();
  const poller = (async () => {
    while (searchable.size < count) {
      await Promise.all(
        [...acked.keys()].filter((id) => !searchable.has(id)).map(async (id) => {
          const response = await fetch(`http://127.0.0.1:${app.httpPort}/api/images/${id}`);
          await response.arrayBuffer();
          if (response.status === 200) searchable.set(id, performance.now());
        }),
      );
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      const client = new Client(60_000);
      await client.access({ host: '127.0.0.1', port: app.ftpPort!, user: 'bench', password: 'bench-password' });
      while (next < count) {
        const i = next++;
        await client.uploadFrom(Readable.from([images[i]]), `IMG_${i}.JPG`);
        acked.set(ids[i], performance.now());
      }
      client.close();
    }),
  );
  const uploadedAt = performance.now();
  await poller;
  const finished = performance.now();
  const latencies = ids.map((id) => searchable.get(id)! - acked.get(id)!).sort((a, b) => a - b);
  const seconds = (finished - started) / 1000;
  const result = {
    machine: { cores: cpus().length, memoryGiB: Math.round(totalmem() / 2 ** 30) },
    adapters: config.adapters,
    images: count,
    megapixels,
    meanMB: +(totalBytes / count / 1e6).toFixed(2),
    concurrency,
    uploadSeconds: +((uploadedAt - started) / 1000).toFixed(2),
    totalSeconds: +seconds.toFixed(2),
    imagesPerSecond: +(count / seconds).toFixed(2),
    mbPerSecond: +(totalBytes / 1e6 / seconds).toFixed(1),
    ackToSearchableMs: { p50: Math.round(percentile(latencies, 50)), p95: Math.round(percentile(latencies, 95)), p99: Math.round(percentile(latencies, 99)), max: Math.round(latencies[latencies.length - 1]) },
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  };
  console.log(JSON.stringify(result, null, 2));
  await app.stop();
  rmSync(dataDir, { recursive: true, force: true });
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
