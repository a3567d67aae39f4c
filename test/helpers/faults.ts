/**
 * Fault-injection harness: the product as real processes, uploads over FTP with every reply kept,
 * faults (SIGKILL, engines stopped), then one verdict per scenario that answers "was anything lost,
 * duplicated or dead-lettered that should not be, and how long until the pipeline caught up?".
 * Results land in .cache/reliability.json and .cache/reliability.md.
 */
import { execFile } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { Client, FTPError } from 'basic-ftp';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { stringify } from 'yaml';
import { hashPassword } from '../../shared/accounts';
import { PACKAGE_ROOT } from '../../shared/paths';
import { cameraJpeg, pixelBombPng } from './fixtures';
import { awaitStarted, freePort, killService, startService, type ServiceProcess } from './processes';
import { distributedOverrides, serviceEnv, stackEnv, type StackStore } from './stack';
import { waitFor } from './wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));
const PASSWORD = 'fault-suite-pass';

// ------------------------------------------------------------------------------------------ fixtures

/** good and large must end up searchable; the bad kinds must end up as dead letters with their code. */
export type UploadKind = 'good' | 'large' | 'corrupt' | 'bomb';

const DEAD_LETTER_CODES: Partial<Record<UploadKind, string>> = { corrupt: 'CORRUPT_IMAGE', bomb: 'PIXEL_LIMIT' };

const isGood = (u: Upload) => u.kind === 'good' || u.kind === 'large';

export interface Upload {
  /** FTP path, as the product records it in `sources[].path`. */
  path: string;
  data: Buffer;
  id: string;
  kind: UploadKind;
}

function upload(file: string, data: Buffer, kind: UploadKind): Upload {
  return { path: `/${file}`, data, id: sha256(data), kind };
}

/** Small camera JPEGs (about 100 KB) so a batch processes in seconds on two cores. */
function goodJpeg(seed: number, width = 1000, height = 750): Promise<Buffer> {
  return cameraJpeg({
    seed,
    width,
    height,
    make: 'Canon',
    model: 'EOS R6',
    dateTimeOriginal: '2024:05:01 12:34:56',
    gps: { lat: 40 + (seed % 100) / 1000, lon: -3.7 },
  });
}

/**
 * A camera JPEG whose scan is noise and whose quantization tables are gone: SOI, EXIF, SOF, DHT, SOS
 * and EOI are all in place, so ingest sees a complete JPEG (segments walk to the EOI after a scan)
 * and exifr reads its metadata, but no decoder can turn it into pixels. Noise alone is not enough:
 * libjpeg decodes a noise scan with warnings only ("Corrupt JPEG data"), which failOn 'error' accepts.
 */
async function corruptJpeg(seed: number): Promise<Buffer> {
  const jpeg = await goodJpeg(seed);
  const kept: Buffer[] = [jpeg.subarray(0, 2)];
  let at = 2;
  for (;;) {
    const marker = jpeg[at + 1];
    const end = at + 2 + jpeg.readUInt16BE(at + 2);
    if (marker !== 0xdb) kept.push(jpeg.subarray(at, end));
    if (marker === 0xda) break;
    at = end;
  }
  const noise = Buffer.alloc(20_000);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 131 + seed + ((i * i) % 97)) % 255;
  return Buffer.concat([...kept, noise, Buffer.from([0xff, 0xd9])]);
}

/** `good` camera JPEGs with one corrupt JPEG and one pixel bomb mixed in (at a quarter and at two thirds). */
export async function imageBatch(prefix: string, seed: number, good: number): Promise<Upload[]> {
  const uploads = await Promise.all(Array.from({ length: good }, async (_, i) => upload(`${prefix}_${String(i).padStart(3, '0')}.JPG`, await goodJpeg(seed + i), 'good')));
  uploads.splice(Math.floor(good * 0.67), 0, upload(`${prefix}_bomb.png`, pixelBombPng(), 'bomb'));
  uploads.splice(Math.floor(good * 0.25), 0, upload(`${prefix}_corrupt.JPG`, await corruptJpeg(seed + good), 'corrupt'));
  return uploads;
}

/** A 12 MP JPEG (about 0.8 MB): an upload long enough to be cut in the middle. */
export async function largeUpload(prefix: string, seed: number): Promise<Upload> {
  return upload(`${prefix}_large.JPG`, await goodJpeg(seed, 4000, 3000), 'large');
}

/** Splits into `n` consecutive parts of (nearly) equal size. */
export function waves<T>(items: readonly T[], n: number): T[][] {
  const size = Math.ceil(items.length / n);
  return Array.from({ length: n }, (_, i) => items.slice(i * size, (i + 1) * size));
}

// ------------------------------------------------------------------------------------------ uploads

/** A reply code, or 'no reply' when the connection failed before one came. */
export type Reply = number | 'no reply';

export interface Attempt {
  reply: Reply;
  text: string;
  at: number;
}

/** Every FTP reply every upload got, in order. */
export class Ledger {
  private readonly attempts = new Map<string, Attempt[]>();

  note(u: Upload, reply: Reply, text: string): Attempt {
    // basic-ftp's message is the whole reply line, code included.
    const attempt = { reply, text: text.replace(/^\d{3}[ -]/, '').replace(/\s+/g, ' ').slice(0, 200), at: Date.now() };
    this.attempts.set(u.path, [...(this.attempts.get(u.path) ?? []), attempt]);
    return attempt;
  }

  of(u: Upload): Attempt[] {
    return this.attempts.get(u.path) ?? [];
  }

  final(u: Upload): Reply | undefined {
    return this.of(u).at(-1)?.reply;
  }

  /** 226, or 451 (the spool kept the file): the product owes the sender a searchable image. */
  accepted(u: Upload): boolean {
    const reply = this.final(u);
    return reply === 226 || reply === 451;
  }

  count(predicate: (reply: Reply) => boolean): number {
    return [...this.attempts.values()].flat().filter((a) => predicate(a.reply)).length;
  }
}

/** Pauses an upload's data stream after `fraction` of its bytes until released. */
export class Hold {
  readonly reached: Promise<void>;
  private reach!: () => void;
  private free!: () => void;
  private readonly freed = new Promise<void>((resolve) => (this.free = resolve));

  constructor(readonly fraction = 0.5) {
    this.reached = new Promise((resolve) => (this.reach = resolve));
  }

  release(): void {
    this.free();
  }

  stream(data: Buffer): Readable {
    const cut = Math.floor(data.length * this.fraction);
    const hold = this;
    return Readable.from(
      (async function* () {
        yield data.subarray(0, cut);
        // The socket asked for more: the first part is on its way to the server.
        hold.reach();
        await hold.freed;
        yield data.subarray(cut);
      })(),
    );
  }
}

/**
 * basic-ftp rejects with an FTPError carrying the numeric reply code when the server answered, and
 * with the socket's own error (a string code such as ECONNREFUSED) when it did not.
 */
function replyOf(error: unknown): Reply {
  const code = (error as FTPError | null)?.code;
  return typeof code === 'number' ? code : 'no reply';
}

/**
 * basic-ftp 5.0.5 can leave an upload pending for ever, with no error and no timeout, when the server
 * process dies mid-transfer (seen about one kill in five): the client closes its sockets, removing
 * every listener on them, and the task is never settled. So the client's state is watched instead:
 * closed, and still no outcome a second later, is "no reply".
 */
function settled<T>(client: Client, task: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let closedSince: number | null = null;
    const watch = setInterval(() => {
      if (!client.closed) return;
      closedSince ??= Date.now();
      if (Date.now() - closedSince < 1000) return;
      clearInterval(watch);
      reject(new Error('connection closed without a reply'));
    }, 250);
    task.then(
      (value) => {
        clearInterval(watch);
        resolve(value);
      },
      (error: unknown) => {
        clearInterval(watch);
        reject(error);
      },
    );
  });
}

/** Replies can take long while the product retries an outage before it answers 451. */
const FTP_TIMEOUT_MS = 90_000;

/** FTP uploads as a camera sends them, every reply written to the ledger. */
export class FtpSender {
  constructor(
    private readonly port: () => number,
    readonly account: string,
    readonly ledger: Ledger,
  ) {}

  private async connect(): Promise<Client> {
    const client = new Client(FTP_TIMEOUT_MS);
    try {
      await client.access({ host: '127.0.0.1', port: this.port(), user: this.account, password: PASSWORD });
      return client;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** One upload on its own connection; with a hold, the data stream stops part-way until released. */
  async send(u: Upload, hold?: Hold): Promise<Attempt> {
    let client: Client | null = null;
    try {
      client = await this.connect();
      const response = await settled(client, client.uploadFrom(hold ? hold.stream(u.data) : Readable.from([u.data]), u.path));
      return this.ledger.note(u, response.code, response.message);
    } catch (error) {
      return this.ledger.note(u, replyOf(error), message(error));
    } finally {
      client?.close();
      hold?.release();
    }
  }

  /** Uploads one after another on `lanes` connections; a connection that breaks is opened again for the next file. */
  async sendAll(uploads: readonly Upload[], lanes = 2): Promise<void> {
    const queue = [...uploads];
    await Promise.all(
      Array.from({ length: Math.min(lanes, queue.length) }, async () => {
        let client: Client | null = null;
        try {
          for (let u = queue.shift(); u; u = queue.shift()) {
            try {
              client ??= await this.connect();
              const response = await settled(client, client.uploadFrom(Readable.from([u.data]), u.path));
              this.ledger.note(u, response.code, response.message);
            } catch (error) {
              this.ledger.note(u, replyOf(error), message(error));
              // After a 4xx/5xx reply the session goes on; after anything else it is gone.
              if (replyOf(error) === 'no reply' || client?.closed) {
                client?.close();
                client = null;
              }
            }
          }
        } finally {
          client?.close();
        }
      }),
    );
  }

  /** What a camera does after a broken connection: sends the same bytes to the same path again, once. */
  async resendUnanswered(uploads: readonly Upload[]): Promise<Upload[]> {
    const unanswered = uploads.filter((u) => this.ledger.final(u) === 'no reply');
    await this.sendAll(unanswered, 2);
    return unanswered;
  }
}

/** Waits until the server has written at least `bytes` of an upload under `dir` (the file is found by name). */
export async function serverReceived(dir: string, u: Upload, bytes: number, timeoutMs = 15_000): Promise<string> {
  const name = path.posix.basename(u.path);
  return waitFor(
    () => {
      const found = (readdirSync(dir, { recursive: true }) as string[]).map((f) => path.join(dir, f)).find((f) => path.basename(f) === name && !f.includes(`${path.sep}spool${path.sep}`));
      return found && statSync(found).size >= bytes ? found : undefined;
    },
    timeoutMs,
    `${bytes} bytes of ${u.path} on the server`,
  );
}

// ------------------------------------------------------------------------------------------ the product

interface DeadLetter {
  id: string | null;
  stage: string;
  error: { code: string; message: string };
  source: { account: string; path: string };
}

interface Summary {
  id: string;
  sources: { account: string; path: string; receivedAt: string }[];
}

/**
 * Groups that read the dead letters (for the failures view, and failed images' documents). They
 * count in the lag only once they have committed on the failed topic: which group reads it is the
 * product's choice, a stuck one is a finding either way.
 */
const FAILED_TOPIC_GROUPS = ['failures', 'indexer'] as const;

/** What the verdict needs from a running product, whichever adapters it runs on. */
export interface Pipeline {
  readonly httpUrl: string;
  readonly ftpPort: number;
  /** Where ingest keeps uploads in progress. */
  readonly ingestDataDir: string;
  /** Messages not yet committed, per consumer group: 'processor', 'indexer', and the readers of the failed topic. */
  lag(): Promise<Record<string, number>>;
  /** How many of `ids` have a message on the processed topic. */
  processedCount(ids: ReadonlySet<string>): Promise<number>;
  deadLetters(account: string): Promise<DeadLetter[]>;
  /** Every process started, killed ones included, for the logs. */
  processes(): ServiceProcess[];
  /** Processes that ended without the test ending them. */
  unexpectedExits(): string[];
}

/** GET /api/images/<id>: the document, or null on 404. */
export async function documentOf(p: Pipeline, id: string): Promise<Summary | null> {
  const response = await fetch(`${p.httpUrl}/api/images/${id}`);
  if (response.status === 404) return null;
  if (!response.ok) throw new Error(`GET /api/images/${id}: ${response.status}`);
  return (await response.json()) as Summary;
}

/** Every search hit for an account, all pages, as returned (a duplicate hit stays a duplicate). */
export async function accountHits(p: Pipeline, account: string): Promise<Summary[]> {
  const hits: Summary[] = [];
  for (let page = 1; ; page++) {
    const response = await fetch(`${p.httpUrl}/api/images?account=${encodeURIComponent(account)}&size=100&page=${page}`);
    if (!response.ok) throw new Error(`search account=${account}: ${response.status}`);
    const body = (await response.json()) as { total: number; items: Summary[] };
    hits.push(...body.items);
    if (body.items.length < 100 || hits.length >= body.total) return hits;
  }
}

export async function searchTotal(p: Pipeline, account: string): Promise<number> {
  const response = await fetch(`${p.httpUrl}/api/images?account=${encodeURIComponent(account)}&size=1`);
  if (!response.ok) throw new Error(`search account=${account}: ${response.status}`);
  return ((await response.json()) as { total: number }).total;
}

async function writeConfig(dir: string, accounts: readonly string[], extra: Record<string, unknown>): Promise<string> {
  const passwordHash = await hashPassword(PASSWORD);
  const file = path.join(dir, 'site.yaml');
  writeFileSync(file, stringify({ ...extra, accounts: accounts.map((name) => ({ name, passwordHash })) }));
  return file;
}

/** Uploads the ingest node's spool still holds (one journal each, as Spool.depth counts them). */
function spoolDepth(dataDir: string): number {
  const dir = path.join(dataDir, 'spool');
  return existsSync(dir) ? readdirSync(dir).filter((name) => name.endsWith('.json')).length : 0;
}

/** A passive port range of its own, so a restarted ingest never races another suite for ports. */
function passivePorts(): { FTP_PASV_MIN_PORT: string; FTP_PASV_MAX_PORT: string } {
  const base = 40_000 + Math.floor(Math.random() * 200) * 100;
  return { FTP_PASV_MIN_PORT: String(base), FTP_PASV_MAX_PORT: String(base + 99) };
}

const START_TIMEOUT_MS = 100_000;

/** Processes by role; a role can be killed and started again, and every process ever started keeps its log. */
class ProcessSet {
  readonly current = new Map<string, ServiceProcess>();
  readonly all: ServiceProcess[] = [];
  private readonly killed = new Set<ServiceProcess>();

  constructor(private readonly env: NodeJS.ProcessEnv) {}

  async start(role: string, service: string | null): Promise<ServiceProcess> {
    const generation = this.all.filter((p) => p.name === role || p.name.startsWith(`${role}#`)).length;
    const started = startService(generation === 0 ? role : `${role}#${generation + 1}`, service, this.env);
    this.current.set(role, started);
    this.all.push(started);
    await awaitStarted([started], START_TIMEOUT_MS);
    return started;
  }

  async kill(role: string): Promise<void> {
    const target = this.current.get(role);
    if (!target) throw new Error(`no process for ${role}`);
    this.killed.add(target);
    await killService(target, 'SIGKILL');
  }

  unexpectedExits(): string[] {
    return this.all
      .filter((p) => !this.killed.has(p) && (p.child.exitCode !== null || p.child.signalCode !== null))
      .map((p) => `${p.name} exited on its own (${p.child.exitCode ?? p.child.signalCode})`);
  }

  /** SIGTERM; a process that has not exited after `graceMs` is killed and reported. */
  async stop(graceMs = 45_000): Promise<string[]> {
    const problems: string[] = [];
    await Promise.all(
      [...this.current.values()].map(async (p) => {
        if (p.child.exitCode !== null || p.child.signalCode !== null) return;
        this.killed.add(p);
        const code = await Promise.race([p.stop(), sleep(graceMs, 'timeout' as const, { ref: false })]);
        if (code === 'timeout') {
          problems.push(`${p.name} did not exit within ${graceMs / 1000} s of SIGTERM`);
          await killService(p, 'SIGKILL');
        } else if (code !== 0) problems.push(`${p.name} exited with ${code} on SIGTERM`);
      }),
    );
    return problems;
  }
}

/**
 * The services as separate processes on the local stack (Kafka, Elasticsearch, and MinIO or Ceph RGW),
 * with topics, bucket and index of their own: one ingest, two processors, one indexer, one search.
 */
export class DistributedCluster implements Pipeline {
  readonly topics: { ingested: string; processed: string; failed: string };
  private readonly kafka: Kafka;
  private adminClient: Admin | null = null;

  private constructor(
    readonly run: string,
    readonly ingestDataDir: string,
    readonly ftpPort: number,
    readonly httpUrl: string,
    readonly services: ProcessSet,
    private readonly overrides: {
      elasticsearch: { index: string };
      bus: { topics: { ingested: string; processed: string; failed: string }; groups: Record<'processor' | 'indexer' | 'failures', string> };
    },
  ) {
    this.topics = overrides.bus.topics;
    this.kafka = new Kafka({ clientId: `faults-${run}`, brokers: stackEnv().KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING, retry: { retries: 2 } });
  }

  static async start(accounts: readonly string[], store: StackStore = 'minio'): Promise<DistributedCluster> {
    const run = randomUUID().slice(0, 8);
    const overrides = distributedOverrides(run, 'wait_for', store) as DistributedCluster['overrides'];
    const dir = mkdtempSync(path.join(tmpdir(), 'faults-'));
    const [ftpPort, httpPort] = [await freePort(), await freePort()];
    const env = {
      ...serviceEnv(store),
      CONFIG_FILE: await writeConfig(dir, accounts, overrides),
      DATA_DIR: dir,
      FTP_PORT: String(ftpPort),
      HTTP_PORT: String(httpPort),
      ...passivePorts(),
      LOG_LEVEL: 'info',
    };
    const cluster = new DistributedCluster(run, dir, ftpPort, `http://127.0.0.1:${httpPort}`, new ProcessSet(env), overrides);
    try {
      // One at a time: the first creates the topics, the others join groups on a broker that already has them.
      await cluster.services.start('ingest', 'ingest');
      await Promise.all([
        cluster.services.start('processor-1', 'processor'),
        cluster.services.start('processor-2', 'processor'),
        cluster.services.start('indexer', 'indexer'),
        cluster.services.start('search', 'search'),
      ]);
      await waitFor(async () => (await fetch(`${cluster.httpUrl}/healthz`)).ok, 10_000, 'search service');
    } catch (error) {
      const logs = logExcerpts(cluster.processes());
      await cluster.close();
      throw new Error(`cluster did not start: ${message(error)}\n${logs}`);
    }
    return cluster;
  }

  private async admin(): Promise<Admin> {
    if (!this.adminClient) {
      const admin = this.kafka.admin();
      await admin.connect();
      this.adminClient = admin;
    }
    return this.adminClient;
  }

  /** An admin call; a broker restart can leave the client broken, so a failed call drops it for the next. */
  private async withAdmin<T>(call: (admin: Admin) => Promise<T>): Promise<T> {
    try {
      return await call(await this.admin());
    } catch (error) {
      const broken = this.adminClient;
      this.adminClient = null;
      await broken?.disconnect().catch(() => undefined);
      throw error;
    }
  }

  /** Per partition: how far the group has committed against the topic's end (kafkajs fetchOffsets vs fetchTopicOffsets). */
  private async groupLag(admin: Admin, groupId: string, topic: string): Promise<number> {
    const [committed] = await admin.fetchOffsets({ groupId, topics: [topic] });
    const ends = await admin.fetchTopicOffsets(topic);
    return ends.reduce((sum, end) => {
      const at = Number(committed?.partitions.find((p) => p.partition === end.partition)?.offset ?? -1);
      return sum + Math.max(0, Number(end.high) - (at >= 0 ? at : Number(end.low)));
    }, 0);
  }

  lag(): Promise<Record<string, number>> {
    return this.withAdmin(async (admin) => {
      const { groups } = this.overrides.bus;
      const lag: Record<string, number> = {
        processor: await this.groupLag(admin, groups.processor, this.topics.ingested),
        indexer: await this.groupLag(admin, groups.indexer, this.topics.processed),
      };
      for (const role of FAILED_TOPIC_GROUPS) {
        const [committed] = await admin.fetchOffsets({ groupId: groups[role], topics: [this.topics.failed] }).catch(() => []);
        if (committed?.partitions.some((p) => Number(p.offset) >= 0)) lag[`${role} (failed)`] = await this.groupLag(admin, groups[role], this.topics.failed);
      }
      return lag;
    });
  }

  /** Topics are this cluster's own, so every processed message is of this batch (redeliveries count again). */
  processedCount(): Promise<number> {
    return this.withAdmin(async (admin) => (await admin.fetchTopicOffsets(this.topics.processed)).reduce((n, p) => n + Number(p.high) - Number(p.low), 0));
  }

  /** Reads the failed topic from its beginning to its current end with a throw-away consumer group. */
  async deadLetters(account: string): Promise<DeadLetter[]> {
    const topic = this.topics.failed;
    const ends = await this.withAdmin(async (admin) => ((await admin.listTopics()).includes(topic) ? admin.fetchTopicOffsets(topic) : []));
    const pending = new Map(ends.filter((e) => Number(e.high) > Number(e.low)).map((e) => [e.partition, Number(e.high) - 1]));
    if (pending.size === 0) return [];
    const groupId = `faults-reader-${randomUUID().slice(0, 8)}`;
    const consumer = this.kafka.consumer({ groupId });
    const letters: DeadLetter[] = [];
    try {
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        eachMessage: async ({ partition, message: m }) => {
          letters.push(JSON.parse(m.value!.toString()) as DeadLetter);
          if (Number(m.offset) >= (pending.get(partition) ?? Infinity)) pending.delete(partition);
        },
      });
      await waitFor(() => pending.size === 0, 60_000, `the dead letters on ${topic}`);
    } finally {
      await consumer.disconnect().catch(() => undefined);
      await this.withAdmin((admin) => admin.deleteGroups([groupId])).catch(() => undefined);
    }
    return letters.filter((l) => l.source?.account === account);
  }

  processes(): ServiceProcess[] {
    return this.services.all;
  }

  unexpectedExits(): string[] {
    return this.services.unexpectedExits();
  }

  /** Stops every service, then drops the run's topics and indices (the bucket stays: neither store drops a full one cheaply). */
  async close(): Promise<string[]> {
    const problems = await this.services.stop();
    await this.withAdmin((admin) => admin.deleteTopics({ topics: Object.values(this.topics) })).catch(() => undefined);
    await this.adminClient?.disconnect().catch(() => undefined);
    const es = stackEnv().ELASTICSEARCH_URL;
    for (const index of [this.overrides.elasticsearch.index, `${this.overrides.elasticsearch.index}-failures`]) {
      await fetch(`${es}/${index}`, { method: 'DELETE' }).catch(() => undefined);
    }
    rmSync(this.ingestDataDir, { recursive: true, force: true });
    return problems;
  }
}

/**
 * The embedded product as one process (`node dist/services/main.js`, ADAPTERS=embedded) on a data
 * folder of its own, which survives kills and restarts.
 */
export class EmbeddedProduct implements Pipeline {
  static readonly topics = { ingested: 'crash.ingested', processed: 'crash.processed', failed: 'crash.failed' };
  static readonly groups = { processor: 'crash.processor', indexer: 'crash.indexer', failures: 'crash.failures' };
  private readonly services: ProcessSet;

  private constructor(
    readonly ingestDataDir: string,
    readonly ftpPort: number,
    readonly httpUrl: string,
    env: NodeJS.ProcessEnv,
  ) {
    this.services = new ProcessSet(env);
  }

  static async start(accounts: readonly string[]): Promise<EmbeddedProduct> {
    const dir = mkdtempSync(path.join(tmpdir(), 'crash-embedded-'));
    const [ftpPort, httpPort] = [await freePort(), await freePort()];
    const env = {
      ADAPTERS: 'embedded',
      CONFIG_FILE: await writeConfig(dir, accounts, { bus: { topics: EmbeddedProduct.topics, groups: EmbeddedProduct.groups } }),
      DATA_DIR: path.join(dir, 'data'),
      FTP_PORT: String(ftpPort),
      HTTP_PORT: String(httpPort),
      ...passivePorts(),
      LOG_LEVEL: 'info',
    };
    const product = new EmbeddedProduct(env.DATA_DIR, ftpPort, `http://127.0.0.1:${httpPort}`, env);
    await product.start();
    return product;
  }

  /** Starts the process (again) on the same data folder; one that does not come up is stopped and reported with its log. */
  async start(): Promise<void> {
    try {
      await this.services.start('embedded', null);
      await waitFor(async () => (await fetch(`${this.httpUrl}/healthz`)).ok, 10_000, 'the embedded product');
    } catch (error) {
      await this.services.stop(5_000);
      throw new Error(`${message(error)}\n${logExcerpts(this.services.all.slice(-1))}`);
    }
  }

  kill(): Promise<void> {
    return this.services.kill('embedded');
  }

  running(): boolean {
    const current = this.services.current.get('embedded');
    return !!current && current.child.exitCode === null && current.child.signalCode === null;
  }

  /**
   * Reads the embedded bus log the way the Kafka admin reads Kafka: `messages` and `consumer_offsets`
   * as shared/adapters/sqlite-event-bus.adapter.ts lays them out (a reader beside the product's writer, WAL mode).
   */
  private query<T>(sql: string, ...params: unknown[]): T[] {
    const db = new Database(path.join(this.ingestDataDir, 'bus.sqlite'), { readonly: true, fileMustExist: true });
    try {
      db.pragma('busy_timeout = 5000');
      return db.prepare(sql).all(...params) as T[];
    } finally {
      db.close();
    }
  }

  async lag(): Promise<Record<string, number>> {
    const lagOf = (group: string, topic: string) =>
      this.query<{ n: number }>(
        `SELECT COUNT(*) AS n FROM messages WHERE topic = ? AND "offset" >= COALESCE((SELECT next_offset FROM consumer_offsets WHERE grp = ? AND topic = ?), 0)`,
        topic,
        group,
        topic,
      )[0].n;
    const { groups, topics } = EmbeddedProduct;
    const lag: Record<string, number> = { processor: lagOf(groups.processor, topics.ingested), indexer: lagOf(groups.indexer, topics.processed) };
    const readers = new Set(this.query<{ grp: string }>('SELECT grp FROM consumer_offsets WHERE topic = ?', EmbeddedProduct.topics.failed).map((r) => r.grp));
    for (const role of FAILED_TOPIC_GROUPS) {
      const group = EmbeddedProduct.groups[role];
      if (readers.has(group)) lag[`${role} (failed)`] = lagOf(group, EmbeddedProduct.topics.failed);
    }
    return lag;
  }

  async processedCount(ids: ReadonlySet<string>): Promise<number> {
    return this.query<{ key: string }>('SELECT DISTINCT key FROM messages WHERE topic = ?', EmbeddedProduct.topics.processed).filter((r) => ids.has(r.key)).length;
  }

  async deadLetters(account: string): Promise<DeadLetter[]> {
    return this.query<{ value: string }>('SELECT value FROM messages WHERE topic = ? ORDER BY "offset"', EmbeddedProduct.topics.failed)
      .map((r) => JSON.parse(r.value) as DeadLetter)
      .filter((l) => l.source?.account === account);
  }

  processes(): ServiceProcess[] {
    return this.services.all;
  }

  unexpectedExits(): string[] {
    return this.services.unexpectedExits();
  }

  async close(): Promise<string[]> {
    const problems = await this.services.stop();
    rmSync(path.dirname(this.ingestDataDir), { recursive: true, force: true });
    return problems;
  }
}

// ------------------------------------------------------------------------------------------ the engines

export type Engine = 'kafka' | 'es' | 'minio' | 'ceph';
const run = promisify(execFile);

/** `bash scripts/stack.sh <up|down> <engine>`, without blocking this process (uploads go on meanwhile). */
export async function stack(command: 'up' | 'down', ...engines: Engine[]): Promise<void> {
  try {
    await run('bash', [path.join(PACKAGE_ROOT, 'scripts', 'stack.sh'), command, ...engines], { timeout: 300_000 });
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`stack.sh ${command} ${engines.join(' ')} failed: ${message(error)}\n${stdout ?? ''}${stderr ?? ''}`);
  }
}

// ------------------------------------------------------------------------------------------ scenarios

export interface Row {
  suite: 'distributed' | 'embedded';
  scenario: string;
  fault: string;
  uploads: number;
  replies226: number;
  replies451: number;
  /** Replies other than 226/451, and attempts that got no reply at all. */
  otherReplies: number;
  noReply: number;
  /** Good uploads (accepted or not) whose image answers GET /api/images/<id>. */
  searchable: number;
  /** Good uploads that got 226 or 451 and are not searchable. */
  lost: number;
  duplicates: number;
  deadLetters: number;
  unexpectedDeadLetters: number;
  recoverySeconds: number | null;
  recoveryFrom: 'injection' | 'fault end';
  seconds: number;
  phases: Record<string, number>;
  /** Every attempt that did not get 226: "path: reply text". */
  otherAttempts: string[];
  result: 'pass' | 'FAIL';
  failures: string[];
  notes: string[];
  at: string;
}

/** One scenario's state while it runs: the batch, the replies, the fault's moments, what went wrong on the way. */
export class Scenario {
  readonly ledger = new Ledger();
  readonly sender: FtpSender;
  readonly failures: string[] = [];
  readonly notes: string[] = [];
  readonly started: number;
  private readonly phases: Record<string, number> = {};
  private phaseStart: number;
  injectedAt: number | null = null;
  faultEndedAt: number | null = null;
  /** Exits that happened before this scenario are an earlier scenario's finding. */
  private readonly exitsBefore: Set<string>;

  constructor(
    readonly suite: Row['suite'],
    readonly id: string,
    readonly fault: string,
    readonly account: string,
    readonly uploads: Upload[],
    readonly pipeline: Pipeline,
    readonly recoveryFrom: Row['recoveryFrom'],
    /** When the scenario began, if before this object (a cluster start counts as its first phase). */
    since = Date.now(),
  ) {
    this.started = since;
    this.phaseStart = since;
    this.sender = new FtpSender(() => pipeline.ftpPort, account, this.ledger);
    this.exitsBefore = new Set(pipeline.unexpectedExits());
  }

  get ids(): Set<string> {
    return new Set(this.uploads.map((u) => u.id));
  }

  /** Closes the current phase under `name` (timings in the report). */
  phase(name: string): void {
    const now = Date.now();
    this.phases[name] = Math.round((now - this.phaseStart) / 100) / 10;
    this.phaseStart = now;
    // Live, so a scenario that hangs shows where.
    process.stdout.write(`[faults] ${this.suite} / ${this.id}: ${name} (${this.phases[name]} s)\n`);
  }

  injected(): void {
    this.injectedAt = Date.now();
  }

  faultEnded(): void {
    this.faultEndedAt = Date.now();
  }

  /**
   * Waits until every accepted good upload answers GET by id and appears in the account's search,
   * no consumer group has lag and the ingest node's spool is empty. Returns the recovery time in seconds, or null after `timeoutMs`.
   */
  async settle(timeoutMs = 120_000): Promise<number | null> {
    const expected = this.uploads.filter((u) => isGood(u) && this.ledger.accepted(u));
    const found = new Set<string>();
    let state = 'nothing checked yet';
    let lastProbe = 0;
    const probe = async () => {
      // Every probe costs the engines a few requests: four a second is plenty of resolution.
      if (Date.now() - lastProbe < 250) return false;
      lastProbe = Date.now();
      state = `lag unknown, searchable ${found.size}/${expected.length}`;
      const lag = await this.pipeline.lag();
      const describe = () => (state = `lag ${JSON.stringify(lag)}, searchable ${found.size}/${expected.length}`);
      describe();
      // One GET per image until the first that is missing: found ones stay found (GET by id is real-time).
      for (const u of expected) {
        if (found.has(u.id)) continue;
        if (!(await documentOf(this.pipeline, u.id))) break;
        found.add(u.id);
        describe();
      }
      if (found.size < expected.length || Object.values(lag).some((n) => n !== 0)) return false;
      // A spooled bad upload (a 451 during an outage) is announced, and dead-lettered, only at a later re-drive.
      const spooled = spoolDepth(this.pipeline.ingestDataDir);
      if (spooled > 0) {
        state = `lag ${JSON.stringify(lag)}, searchable ${found.size}/${expected.length}, ${spooled} upload(s) still in the spool`;
        return false;
      }
      const hits = new Set((await accountHits(this.pipeline, this.account)).map((h) => h.id));
      const missing = expected.filter((u) => !hits.has(u.id)).length;
      state = `lag ${JSON.stringify(lag)}, searchable ${found.size}/${expected.length}, ${missing} missing from the account search`;
      return missing === 0;
    };
    try {
      await waitFor(probe, timeoutMs, 'recovery');
    } catch (error) {
      const last = message(error).split(': ').slice(1).join(': ');
      this.failures.push(`not recovered within ${timeoutMs / 1000} s: ${state}${last ? ` (last probe error: ${last})` : ''}`);
      return null;
    } finally {
      this.phase('recovery');
    }
    const from = this.recoveryFrom === 'injection' ? this.injectedAt : this.faultEndedAt;
    return from === null ? null : Math.round((Date.now() - from) / 100) / 10;
  }

  /** The verdict: checks every promise the product makes about this batch and builds the report row. */
  async verify(recoverySeconds: number | null): Promise<Row> {
    const { ledger, pipeline, account } = this;
    const failures = this.failures;
    for (const u of this.uploads) {
      const attempts = ledger.of(u);
      const shown = attempts.map((a) => (a.reply === 'no reply' ? `no reply (${a.text})` : `${a.reply} ${a.text}`)).join(' | ');
      if (attempts.length === 0) failures.push(`${u.path}: never sent`);
      else if (isGood(u) && !ledger.accepted(u)) failures.push(`${u.path}: a good image was not accepted: ${shown}`);
      else if (isGood(u) && attempts.some((a) => typeof a.reply === 'number' && a.reply >= 500)) failures.push(`${u.path}: a good image got a permanent refusal: ${shown}`);
      else if (!isGood(u) && ledger.final(u) === 'no reply') failures.push(`${u.path}: no reply: ${shown}`);
    }

    // Searchable exactly once, with one source per (account, path).
    const docs = new Map<string, Summary>();
    for (const u of this.uploads) {
      const doc = await documentOf(pipeline, u.id).catch((error: unknown) => {
        failures.push(`GET ${u.path} (${u.id.slice(0, 12)}): ${message(error)}`);
        return null;
      });
      if (doc) docs.set(u.id, doc);
    }
    const good = this.uploads.filter(isGood);
    const lost = good.filter((u) => ledger.accepted(u) && !docs.has(u.id));
    for (const u of lost) failures.push(`LOST ${u.path} (${u.id.slice(0, 12)}): got ${ledger.final(u)} and is not searchable`);
    let duplicates = 0;
    for (const [id, doc] of docs) {
      const perPath = new Map<string, number>();
      for (const s of doc.sources ?? []) perPath.set(`${s.account}:${s.path}`, (perPath.get(`${s.account}:${s.path}`) ?? 0) + 1);
      for (const [key, n] of perPath) {
        if (n > 1) {
          duplicates += n - 1;
          failures.push(`DUPLICATE source ${key} ${n} times in document ${id.slice(0, 12)}`);
        }
      }
      const u = this.uploads.find((x) => x.id === id)!;
      if (isGood(u) && !perPath.has(`${account}:${u.path}`)) failures.push(`document ${id.slice(0, 12)} has no source for ${u.path}`);
    }
    const hits = await accountHits(pipeline, account).catch((error: unknown) => {
      failures.push(`search account=${account}: ${message(error)}`);
      return [] as Summary[];
    });
    const seen = new Map<string, number>();
    for (const h of hits) seen.set(h.id, (seen.get(h.id) ?? 0) + 1);
    for (const [id, n] of seen) {
      if (n > 1) {
        duplicates += n - 1;
        failures.push(`DUPLICATE search hit: ${id.slice(0, 12)} ${n} times for account ${account}`);
      }
      if (!this.ids.has(id)) {
        const paths = hits.find((h) => h.id === id)!.sources.map((s) => s.path).join(', ');
        failures.push(`UNEXPECTED document ${id.slice(0, 12)} (sources ${paths}): bytes nobody uploaded whole, e.g. a partial upload`);
      }
    }
    for (const u of good) if (docs.has(u.id) && !seen.has(u.id)) failures.push(`${u.path}: answers GET but is missing from the account search`);

    // Dead letters only for the bad images, and one (at least) for each.
    const letters = await pipeline.deadLetters(account).catch((error: unknown) => {
      failures.push(`reading dead letters: ${message(error)}`);
      return [] as DeadLetter[];
    });
    const unexpected = letters.filter((l) => {
      const u = this.uploads.find((x) => x.path === l.source.path);
      return !u || isGood(u);
    });
    for (const l of unexpected) failures.push(`UNEXPECTED dead letter for ${l.source.path}: ${l.stage} ${l.error.code}: ${l.error.message.slice(0, 160)}`);
    for (const u of this.uploads.filter((x) => !isGood(x))) {
      const code = DEAD_LETTER_CODES[u.kind]!;
      const mine = letters.filter((l) => l.source.path === u.path);
      const last = ledger.of(u).at(-1);
      // Refusing it at ingest with its own code is a fair design too; any other refusal means the fixture no longer tests the processor.
      if (last && last.reply !== 'no reply' && !ledger.accepted(u) && !last.text.includes(code)) failures.push(`${u.path} (${u.kind} fixture) was refused at ingest with "${last.reply} ${last.text}", expected a ${code} dead letter`);
      else if (last && last.reply !== 'no reply' && !mine.some((l) => l.error.code === code)) failures.push(`${u.path}: expected a ${code} dead letter, found ${mine.map((l) => l.error.code).join(', ') || 'none'}`);
    }

    failures.push(...pipeline.unexpectedExits().filter((e) => !this.exitsBefore.has(e)));
    // Why the 451s came, and whether the product ingested those files anyway (what the reply text promised or not).
    const transient = this.uploads.filter((u) => ledger.of(u).some((a) => a.reply === 451));
    if (transient.length > 0) {
      const reasons = new Map<string, number>();
      for (const u of transient) for (const a of ledger.of(u).filter((x) => x.reply === 451)) reasons.set(a.text.split(':')[0], (reasons.get(a.text.split(':')[0]) ?? 0) + 1);
      const searchable = transient.filter((u) => docs.has(u.id)).length;
      this.notes.push(`451 for ${transient.length} uploads (${[...reasons].map(([r, n]) => `${r} x${n}`).join(', ')}); ${searchable} of them searchable afterwards`);
    }
    const result: Row = {
      suite: this.suite,
      scenario: this.id,
      fault: this.fault,
      uploads: this.uploads.length,
      replies226: ledger.count((r) => r === 226),
      replies451: ledger.count((r) => r === 451),
      otherReplies: ledger.count((r) => r !== 226 && r !== 451),
      noReply: ledger.count((r) => r === 'no reply'),
      searchable: good.filter((u) => docs.has(u.id)).length,
      lost: lost.length,
      duplicates,
      deadLetters: letters.length,
      unexpectedDeadLetters: unexpected.length,
      recoverySeconds,
      recoveryFrom: this.recoveryFrom,
      seconds: Math.round((Date.now() - this.started) / 100) / 10,
      phases: this.phases,
      otherAttempts: this.uploads.flatMap((u) => ledger.of(u).filter((a) => a.reply !== 226).map((a) => `${u.path}: ${a.reply} ${a.text}`)),
      result: failures.length === 0 ? 'pass' : 'FAIL',
      failures: [...new Set(failures)],
      notes: this.notes,
      at: new Date().toISOString(),
    };
    this.phase('verify');
    return result;
  }
}

// ------------------------------------------------------------------------------------------ report

const CACHE = path.join(PACKAGE_ROOT, '.cache');
const REPORT_JSON = path.join(CACHE, 'reliability.json');
const REPORT_MD = path.join(CACHE, 'reliability.md');

/** Order of the table (a scenario on Ceph RGW, `<id>-rgw`, after its MinIO run); scenarios not listed follow in the order they were recorded. */
const ORDER = ['kill-processor', 'kill-indexer', 'es-outage', 'minio-outage', 'rgw-outage', 'kafka-restart', 'kill-ingest', 'kill-during-uploads', 'kill-while-processing', 'kill-while-indexing'];

function readRows(): Row[] {
  try {
    return (JSON.parse(readFileSync(REPORT_JSON, 'utf8')) as { rows: Row[] }).rows;
  } catch {
    return [];
  }
}

/** Adds (or replaces) a scenario's row in .cache/reliability.json and rewrites .cache/reliability.md. */
export function recordRow(row: Row): void {
  mkdirSync(CACHE, { recursive: true });
  const rows = readRows().filter((r) => !(r.suite === row.suite && r.scenario === row.scenario));
  rows.push(row);
  const rank = (r: Row) => {
    const base = r.scenario.replace(/-rgw$/, '');
    return (ORDER.includes(base) ? ORDER.indexOf(base) : ORDER.length) + (base === r.scenario ? 0 : 0.5);
  };
  rows.sort((a, b) => (a.suite === b.suite ? rank(a) - rank(b) : a.suite === 'distributed' ? -1 : 1));
  writeFileSync(REPORT_JSON, `${JSON.stringify({ updatedAt: new Date().toISOString(), rows }, null, 2)}\n`);
  writeFileSync(REPORT_MD, reliabilityTable(rows));
}

export function reliabilityTable(rows: Row[] = readRows()): string {
  const header = ['suite', 'scenario', 'fault', 'uploads', '226 replies', '451 replies', 'other / no reply', 'searchable', 'lost', 'duplicates', 'dead letters (unexpected)', 'recovery (s)', 'time (s)', 'result'];
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  const out = [line(header), line(header.map(() => '---'))];
  for (const r of rows) {
    const recovery = r.recoverySeconds === null ? 'not recovered' : `${r.recoverySeconds} (from ${r.recoveryFrom})`;
    out.push(
      line([r.suite, r.scenario, r.fault, r.uploads, r.replies226, r.replies451, `${r.otherReplies - r.noReply} / ${r.noReply}`, r.searchable, r.lost, r.duplicates, `${r.deadLetters} (${r.unexpectedDeadLetters})`, recovery, r.seconds, r.result === 'pass' ? 'pass' : '**FAIL**']),
    );
  }
  const failing = rows.filter((r) => r.failures.length > 0);
  if (failing.length > 0) {
    out.push('', '### Failures', '');
    for (const r of failing) out.push(`- **${r.suite} / ${r.scenario}** (${r.at}):`, ...r.failures.slice(0, 15).map((f) => `  - ${f.replace(/\n/g, ' ')}`), ...(r.failures.length > 15 ? [`  - ... and ${r.failures.length - 15} more`] : []));
  }
  out.push('', '### Phases (s)', '', ...rows.map((r) => `- ${r.suite} / ${r.scenario}: ${Object.entries(r.phases).map(([k, v]) => `${k} ${v}`).join(', ')}${r.notes.length ? `; ${r.notes.join('; ')}` : ''}`));
  return `${out.join('\n')}\n`;
}

// ------------------------------------------------------------------------------------------ logs

/** Start-up warnings every process prints, which say nothing about a fault. */
const NOISE = /switched default partitioner|Limiting retries for the idempotent producer|NodeVersionSupportWarning|versions published after|require node >=|To continue receiving updates|security updates please upgrade|More information can be found at|--trace-warnings/;

const LEVELS: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

/**
 * The warnings and errors of each process (JSON log lines of level 40 and up, and any line that is
 * not JSON, such as a crash's stack), repeated messages folded into one with a count.
 */
export function logExcerpts(processes: readonly ServiceProcess[], perProcess = 12): string {
  const out: string[] = [];
  for (const p of processes) {
    const folded = new Map<string, number>();
    for (const line of p.output().split('\n')) {
      if (!line.trim()) continue;
      let text: string;
      try {
        const entry = JSON.parse(line) as { level?: number; msg?: string; err?: unknown; code?: string; [k: string]: unknown };
        if ((entry.level ?? 0) < 40) continue;
        const detail = ['err', 'error', 'code', 'namespace', 'topic', 'group', 'groupId', 'path', 'imageId', 'attempt']
          .filter((k) => entry[k] !== undefined)
          .map((k) => `${k}=${typeof entry[k] === 'string' ? entry[k] : JSON.stringify(entry[k])}`)
          .join(' ');
        text = `${LEVELS[entry.level ?? 0] ?? entry.level} ${entry.msg ?? ''} ${detail}`;
      } catch {
        text = line;
      }
      if (NOISE.test(text)) continue;
      text = text.replace(/\s*\n\s*/g, ' / ');
      // Numbers (offsets, attempts, ids) vary between repeats of one problem.
      const key = text.replace(/\b[0-9a-f]{12,}\b/g, '<id>').replace(/\d+/g, 'N').slice(0, 200);
      folded.set(key, (folded.get(key) ?? 0) + 1);
    }
    const exit = p.child.exitCode ?? p.child.signalCode;
    out.push(`--- ${p.name}${exit !== null ? ` (exited: ${exit})` : ''}: ${folded.size === 0 ? 'no warnings or errors' : ''}`);
    for (const [text, n] of [...folded].slice(-perProcess)) out.push(`  ${n > 1 ? `${n}x ` : ''}${text.slice(0, 400)}`);
  }
  return out.join('\n');
}

/** Full logs of a scenario's processes in .cache/faults/<suite>-<scenario>/. */
export function saveLogs(suite: string, scenario: string, processes: readonly ServiceProcess[]): string {
  const dir = path.join(CACHE, 'faults', `${suite}-${scenario}`);
  mkdirSync(dir, { recursive: true });
  for (const p of processes) writeFileSync(path.join(dir, `${p.name.replace(/[^\w.-]/g, '_')}.log`), p.output());
  return dir;
}

/** Prints the row, its phases and, when it failed, the failures and the service logs' warnings. */
export function report(row: Row, processes: readonly ServiceProcess[]): void {
  const dir = saveLogs(row.suite, row.scenario, processes);
  const lines = [
    `\n[faults] ${row.suite} / ${row.scenario}: ${row.result.toUpperCase()} in ${row.seconds} s (${Object.entries(row.phases).map(([k, v]) => `${k} ${v} s`).join(', ')})`,
    `[faults]   uploads ${row.uploads}, 226 ${row.replies226}, 451 ${row.replies451}, other ${row.otherReplies - row.noReply}, no reply ${row.noReply}, searchable ${row.searchable}, lost ${row.lost}, duplicates ${row.duplicates}, dead letters ${row.deadLetters} (unexpected ${row.unexpectedDeadLetters}), recovery ${row.recoverySeconds ?? 'none'} s`,
    ...row.notes.map((n) => `[faults]   note: ${n}`),
    ...row.otherAttempts.map((a) => `[faults]   reply: ${a}`),
    ...row.failures.map((f) => `[faults]   FAILURE: ${f}`),
  ];
  if (row.failures.length > 0) lines.push(`[faults]   service logs (warnings and errors; full logs in ${path.relative(PACKAGE_ROOT, dir)}):`, logExcerpts(processes));
  process.stdout.write(`${lines.join('\n')}\n`);
}

export function printTable(): void {
  if (existsSync(REPORT_MD)) process.stdout.write(`\n[faults] ${path.relative(PACKAGE_ROOT, REPORT_MD)}:\n\n${readFileSync(REPORT_MD, 'utf8')}\n`);
}

// ------------------------------------------------------------------------------------------ running one

/** A scenario that could not even start (the product did not come up): a FAIL row of its own, then the error. */
export function recordStartFailure(suite: Row['suite'], scenario: string, fault: string, since: number, error: unknown): never {
  const row: Row = {
    suite,
    scenario,
    fault,
    uploads: 0,
    replies226: 0,
    replies451: 0,
    otherReplies: 0,
    noReply: 0,
    searchable: 0,
    lost: 0,
    duplicates: 0,
    deadLetters: 0,
    unexpectedDeadLetters: 0,
    recoverySeconds: null,
    recoveryFrom: 'injection',
    seconds: Math.round((Date.now() - since) / 100) / 10,
    phases: {},
    otherAttempts: [],
    result: 'FAIL',
    failures: [`the product did not start: ${message(error).split('\n').slice(0, 6).join(' / ')}`],
    notes: [],
    at: new Date().toISOString(),
  };
  recordRow(row);
  process.stdout.write(`\n[faults] ${suite} / ${scenario}: FAIL, the product did not start:\n${message(error)}\n`);
  throw error;
}

/**
 * Runs a scenario's fault script, waits for recovery, gives the verdict, closes what it started,
 * and records and prints the row. A script that throws is a failure of the scenario, not of the run.
 */
export async function runScenario(s: Scenario, script: () => Promise<void>, processes: () => ServiceProcess[], close?: () => Promise<string[]>): Promise<Row> {
  try {
    await script();
  } catch (error) {
    s.failures.push(`the fault script broke off: ${message(error)}`);
    s.phase('script (broke off)');
  }
  const recovery = await s.settle();
  const row = await s.verify(recovery);
  if (close) {
    const problems = await close().catch((error: unknown) => [`closing: ${message(error)}`]);
    row.notes.push(...problems.map((p) => `shutdown: ${p}`));
  }
  recordRow(row);
  report(row, processes());
  return row;
}

/**
 * Kill mid-upload: a large upload is cut half-way (the server holds half its bytes) and the kill
 * comes right after two more uploads got their 226. After the restart the camera sends the cut
 * file again, same bytes to the same path, and any upload that got no reply; then the rest.
 */
export async function killDuringUploads(s: Scenario, kill: () => Promise<void>, restart: () => Promise<void>): Promise<void> {
  const large = s.uploads.find((u) => u.kind === 'large')!;
  const batch = s.uploads.filter((u) => u !== large);
  const [before, justBefore, after] = [batch.slice(0, 8), batch.slice(8, 10), batch.slice(10)];
  await s.sender.sendAll(before, 1);
  const hold = new Hold(0.5);
  const cut = s.sender.send(large, hold);
  await hold.reached;
  const partial = await serverReceived(s.pipeline.ingestDataDir, large, Math.floor(large.data.length * 0.5));
  s.phase('uploads, half of the large one');
  await s.sender.sendAll(justBefore, 1);
  s.injected();
  await kill();
  hold.release();
  const attempt = await cut;
  s.notes.push(`killed with ${statSync(partial).size} of ${large.data.length} bytes of ${large.path} received (client: ${attempt.reply}), right after ${justBefore.map((u) => `${u.path} ${s.ledger.final(u)}`).join(', ')}`);
  s.phase('kill');
  await restart();
  s.phase('restart');
  if (existsSync(partial)) s.notes.push(`after the restart the partial file holds ${statSync(partial).size} bytes`);
  await s.sender.send(large);
  await s.sender.resendUnanswered(s.uploads);
  await s.sender.sendAll(after, 2);
  s.phase('retries and the rest of the batch');
}
