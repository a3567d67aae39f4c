import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { Client } from 'basic-ftp';
import { stringify } from 'yaml';
import { firstExited, freePort, startService, type ServiceProcess } from '../test/helpers/processes';
import { unique } from './inputs';

export interface Deployment {
  ftpPort: number;
  httpPort: number;
  processes: ServiceProcess[];
  stop(): Promise<void>;
}

export interface DeployOptions {
  dir: string;
  /** One process with every service, or one process per service. */
  layout: 'single' | 'per-service';
  services?: string[];
  env: Record<string, string>;
  overrides: Record<string, unknown>;
  passwordHash: string;
}

/** Starts the built product as child processes, as an operator would, and waits until it answers. */
export async function deploy(options: DeployOptions): Promise<Deployment> {
  const [ftpPort, httpPort] = [await freePort(), await freePort()];
  const configFile = path.join(options.dir, 'site.yaml');
  writeFileSync(configFile, stringify({ ...options.overrides, accounts: [{ name: 'bench', passwordHash: options.passwordHash }] }));
  const env = { ...options.env, CONFIG_FILE: configFile, DATA_DIR: options.dir, FTP_PORT: String(ftpPort), HTTP_PORT: String(httpPort), LOG_LEVEL: 'warn' };
  const services = options.services ?? ['ingest', 'processor', 'indexer', 'search'];
  const processes =
    options.layout === 'single'
      ? [startService('all', null, { ...env, SERVICES: services.join(',') })]
      : services.map((s) => startService(s, s, env));
  const deadline = Date.now() + 60_000;
  for (;;) {
    const ftpUp = await fetch(`http://127.0.0.1:${httpPort}/healthz`).then((r) => r.ok, () => false);
    if (ftpUp || !services.includes('search')) break;
    const exited = firstExited(processes);
    if (exited) throw new Error(`${exited.name} exited before it started:\n${exited.output()}`);
    if (Date.now() > deadline) throw new Error(`deployment did not start:\n${processes.map((p) => p.output()).join('\n')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  await new Promise((r) => setTimeout(r, 1000));
  return {
    ftpPort,
    httpPort,
    processes,
    async stop() {
      await Promise.all(processes.map((p) => p.stop()));
    },
  };
}

/** Peak and current resident memory of each process, sampled from /proc. */
export class MemorySampler {
  private readonly peaks = new Map<string, number>();
  readonly series: { t: number; name: string; rssMB: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private readonly started = Date.now();

  constructor(private readonly processes: ServiceProcess[], private readonly intervalMs = 500) {}

  start(): this {
    this.timer = setInterval(() => this.sample(), this.intervalMs);
    return this;
  }

  sample(): void {
    for (const p of this.processes) {
      try {
        const status = readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
        const rss = Number(status.match(/VmRSS:\s+(\d+)/)![1]) / 1024;
        const hwm = Number(status.match(/VmHWM:\s+(\d+)/)![1]) / 1024;
        this.peaks.set(p.name, Math.max(this.peaks.get(p.name) ?? 0, hwm));
        this.series.push({ t: (Date.now() - this.started) / 1000, name: p.name, rssMB: Math.round(rss) });
      } catch {
        // the process has exited
      }
    }
  }

  stop(): Record<string, number> {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return Object.fromEntries([...this.peaks].map(([name, mb]) => [name, Math.round(mb)]));
  }
}

export interface LoadResult {
  images: number;
  seconds: number;
  /** Steady state: images made searchable after the first quarter, over the time they took. */
  imagesPerSecond: number;
  mbPerSecond: number;
  ackToSearchableMs: { p50: number; p95: number; p99: number; max: number };
}

export function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

export interface LoadOptions {
  deployment: Deployment;
  password: string;
  inputs: Buffer[];
  images: number;
  concurrency: number;
  /** Uploads started per second (open loop); undefined sends as fast as the clients go. */
  rate?: number;
  /** Makes each upload's bytes unique across runs of one deployment. */
  offset: number;
}

/** Uploads over FTP and records, for each image, the time from its 226 to its document being served. */
export async function load(options: LoadOptions): Promise<LoadResult> {
  const { deployment, images } = options;
  const acked = new Map<string, number>();
  const searchable = new Map<string, number>();
  let bytes = 0;
  let next = 0;
  let started = performance.now();
  let uploading = true;
  const poller = (async () => {
    while (uploading || searchable.size < acked.size) {
      const waiting = [...acked.keys()].filter((id) => !searchable.has(id));
      await Promise.all(waiting.map(async (id) => {
        const response = await fetch(`http://127.0.0.1:${deployment.httpPort}/api/images/${id}`);
        await response.arrayBuffer();
        if (response.ok) searchable.set(id, performance.now());
      }));
      const lastAck = Math.max(started, ...acked.values());
      if (!uploading && performance.now() - lastAck > 120_000) throw new Error(`${acked.size - searchable.size} images not searchable 2 minutes after the last upload`);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  // The client's own work (unique bytes, their hash) is done before the clock for short runs, so
  // the figures measure the product; long runs (the soak) make each upload when it is due.
  const prepared = images <= 64 ? Array.from({ length: images }, (_, i) => prepare(options, i)) : null;
  started = performance.now();
  await Promise.all(Array.from({ length: options.concurrency }, async () => {
    const client = new Client(120_000);
    await client.access({ host: '127.0.0.1', port: deployment.ftpPort, user: 'bench', password: options.password });
    while (next < images) {
      const i = next++;
      if (options.rate) {
        const due = started + (i / options.rate) * 1000;
        const wait = due - performance.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      const { data, id } = prepared?.[i] ?? prepare(options, i);
      bytes += data.length;
      await client.uploadFrom(Readable.from([data]), `IMG_${options.offset + i}.${data[0] === 0xff ? 'JPG' : 'PNG'}`);
      acked.set(id, performance.now());
    }
    client.close();
  }));
  uploading = false;
  await poller;
  const done = [...searchable.values()].sort((a, b) => a - b);
  const seconds = (done[done.length - 1] - started) / 1000;
  const warm = Math.floor(done.length / 4);
  const steady = (done.length - 1 - warm) / ((done[done.length - 1] - done[warm]) / 1000);
  const latencies = [...acked].map(([id, at]) => searchable.get(id)! - at).sort((a, b) => a - b);
  return {
    images,
    seconds: +seconds.toFixed(2),
    imagesPerSecond: +steady.toFixed(2),
    mbPerSecond: +((steady * bytes) / images / 1e6).toFixed(1),
    ackToSearchableMs: {
      p50: Math.round(percentile(latencies, 50)),
      p95: Math.round(percentile(latencies, 95)),
      p99: Math.round(percentile(latencies, 99)),
      max: Math.round(latencies[latencies.length - 1]),
    },
  };
}

function prepare(options: LoadOptions, i: number): { data: Buffer; id: string } {
  const data = unique(options.inputs[i % options.inputs.length], options.offset + i);
  return { data, id: createHash('sha256').update(data).digest('hex') };
}

/** FTP ingest alone: time from the start of each STOR to its 226. */
export async function ftpThroughput(deployment: Deployment, password: string, inputs: Buffer[]): Promise<{ files: number; mb: number; seconds: number; mbPerSecond: number }> {
  // Distinct bytes, or ingest would find each one already stored and skip the write.
  const files = inputs.map((input, i) => unique(input, Date.now() + i));
  const clients = await Promise.all(files.map(async () => {
    const client = new Client(300_000);
    await client.access({ host: '127.0.0.1', port: deployment.ftpPort, user: 'bench', password });
    return client;
  }));
  const started = performance.now();
  await Promise.all(files.map((file, i) => clients[i].uploadFrom(Readable.from([file]), `big-${i}.jpg`)));
  const seconds = (performance.now() - started) / 1000;
  clients.forEach((c) => c.close());
  const mb = files.reduce((n, f) => n + f.length, 0) / 1e6;
  return { files: files.length, mb: Math.round(mb), seconds: +seconds.toFixed(2), mbPerSecond: +(mb / seconds).toFixed(1) };
}
