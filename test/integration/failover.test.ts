import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { stringify } from 'yaml';
import { hashPassword } from '../../shared/accounts';
import { S3ObjectStore } from '../../shared/adapters/s3-object-store.adapter';
import { PACKAGE_ROOT } from '../../shared/paths';
import { cameraJpeg } from '../helpers/fixtures';
import { FtpSender, Ledger, stack, type Upload } from '../helpers/faults';
import { awaitStarted, freePort, startService, type ServiceProcess } from '../helpers/processes';
import { distributedOverrides, serviceEnv, stackEnv, stackS3 } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

/**
 * Reads and writes through an outage of the primary store: MinIO (primary, eu-west) and Ceph RGW
 * (replica, eu-north) on the local stack, the services as separate processes (ingest + processor +
 * indexer, replicator, search). MinIO is stopped: everything uploaded before still downloads, byte
 * for byte, from RGW; uploads meanwhile are answered 451 and wait in the spool; once MinIO is back
 * they are stored, processed and replicated, each exactly once. The failover figures go to
 * .cache/failover.json.
 */

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
// FtpSender logs in with the fault suite's password.
const PASSWORD = 'fault-suite-pass';
const BEFORE = 8;
const DURING = 4;
const DOWNLOADS = 50;

/** Heartbeats every 500 ms, down after two failures: the store is read last within about a second. */
const STORE_HEALTH = { intervalMs: 500, timeoutMs: 400, downAfter: 2, upAfter: 2 };
/** How often ingest re-drives its spool; the default (60 s) would dominate the recovery time. */
const REDRIVE_MS = 5_000;

interface Location {
  store: string;
  region?: string;
  bucket: string | null;
  key: string;
}

interface Detail {
  id: string;
  original: { url: string };
  renditions: { name: string; url: string }[];
  sources: { account: string; path: string }[];
  locations: Location[];
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const summary = (ms: number[]) => {
  const sorted = [...ms].sort((a, b) => a - b);
  return { n: sorted.length, p50: Math.round(percentile(sorted, 50) * 10) / 10, p95: Math.round(percentile(sorted, 95) * 10) / 10 };
};

describe('failover: MinIO (primary) stops, Ceph RGW (replica) serves the reads, the spool keeps the writes', () => {
  const run = randomUUID().slice(0, 8);
  const [minio, rgw] = [stackS3('minio'), stackS3('rgw')];
  const base = distributedOverrides(run, 'wait_for', 'minio') as { s3: { bucket: string }; elasticsearch: { index: string }; bus: { topics: Record<string, string> } };
  const replicaBucket = `it-${run}-replica`;
  const account = `fo-${run}`;
  const services: ServiceProcess[] = [];
  let dir: string;
  let searchUrl: string;
  let ftpPort: number;
  let minioStopped = false;
  const ledger = new Ledger();
  const stores = [minio, rgw].map(
    (s, i) =>
      new S3ObjectStore({
        name: s.name,
        endpoint: s.endpoint,
        region: s.region,
        bucket: i === 0 ? base.s3.bucket : replicaBucket,
        forcePathStyle: true,
        createBucket: false,
        partSizeBytes: 8 << 20,
        credentials: s.credentials,
        sendSha256: false,
      }),
  );

  beforeAll(async () => {
    let httpPort: number;
    [ftpPort, httpPort] = [await freePort(), await freePort()];
    searchUrl = `http://127.0.0.1:${httpPort}`;
    dir = mkdtempSync(path.join(tmpdir(), 'failover-'));
    const configFile = path.join(dir, 'site.yaml');
    const config = {
      ...base,
      stores: [
        { name: 'minio', region: 'eu-west', role: 'primary', s3: { endpoint: minio.endpoint, bucket: base.s3.bucket } },
        { name: 'rgw', region: 'eu-north', role: 'replica', s3: { endpoint: rgw.endpoint, bucket: replicaBucket, sendSha256: rgw.sendSha256 } },
      ],
      storeHealth: STORE_HEALTH,
      spool: { redriveIntervalMs: REDRIVE_MS },
      accounts: [{ name: account, passwordHash: await hashPassword(PASSWORD) }],
    };
    writeFileSync(configFile, stringify(config));
    const env = {
      ...serviceEnv('minio'),
      STORE_RGW_ACCESS_KEY_ID: rgw.credentials.accessKeyId,
      STORE_RGW_SECRET_ACCESS_KEY: rgw.credentials.secretAccessKey,
      CONFIG_FILE: configFile,
      DATA_DIR: dir,
      FTP_PORT: String(ftpPort),
      HTTP_PORT: String(httpPort),
      FTP_PASV_MIN_PORT: '31300',
      FTP_PASV_MAX_PORT: '31399',
      LOG_LEVEL: 'info',
    };
    services.push(startService('writers', null, { ...env, SERVICES: 'ingest,processor,indexer' }));
    // The first creates the topics; the others join groups on a broker that already has them.
    await awaitStarted(services, 100_000);
    services.push(startService('replicator', 'replicator', env), startService('search', 'search', env));
    try {
      await awaitStarted(services, 100_000);
    } catch (error) {
      for (const s of services) process.stderr.write(`--- ${s.name}\n${s.output().slice(-3000)}\n`);
      throw error;
    }
  }, 240_000);

  afterAll(async () => {
    if (minioStopped) await stack('up', 'minio');
    await Promise.all(services.map((s) => s.stop()));
    await Promise.all(stores.map((s) => s.close()));
    const kafka = new Kafka({ clientId: `failover-${run}`, brokers: stackEnv().KAFKA_BROKERS.split(','), logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.deleteTopics({ topics: Object.values(base.bus.topics) }).catch(() => undefined);
    await admin.disconnect();
    for (const index of [base.elasticsearch.index, `${base.elasticsearch.index}-failures`]) {
      await fetch(`${stackEnv().ELASTICSEARCH_URL}/${index}`, { method: 'DELETE' }).catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  const detail = async (id: string): Promise<Detail | null> => {
    const response = await fetch(`${searchUrl}/api/images/${id}`);
    return response.ok ? ((await response.json()) as Detail) : null;
  };
  /** Indexed with every object in both stores. */
  const replicated = async (id: string): Promise<Detail | undefined> => {
    const doc = await detail(id);
    if (!doc || doc.renditions.length === 0) return undefined;
    const keysIn = (store: string) => doc.locations.filter((l) => l.store === store).map((l) => l.key).sort().join();
    return keysIn('minio') !== '' && keysIn('minio') === keysIn('rgw') ? doc : undefined;
  };
  const urlsOf = (doc: Detail) => [doc.original.url, ...doc.renditions.map((r) => r.url)];
  const download = async (url: string) => {
    const started = performance.now();
    const response = await fetch(`${searchUrl}${url}`);
    const body = Buffer.from(await response.arrayBuffer());
    return { status: response.status, servedBy: response.headers.get('x-served-by'), body, ms: performance.now() - started };
  };
  /** `DOWNLOADS` downloads round the objects, each checked against the bytes expected; their times. */
  const timedDownloads = async (expected: Map<string, Buffer>, servedBy: string) => {
    const urls = [...expected.keys()];
    const times: number[] = [];
    for (let i = 0; i < DOWNLOADS; i++) {
      const url = urls[i % urls.length];
      const got = await download(url);
      expect({ status: got.status, servedBy: got.servedBy, same: got.body.equals(expected.get(url)!) }).toEqual({ status: 200, servedBy, same: true });
      times.push(got.ms);
    }
    return summary(times);
  };
  /** The search process's log line that marked `store` down or up (pino: epoch ms in `time`). */
  const marked = (store: string, message: string) =>
    services[2]
      .output()
      .split('\n')
      .filter((line) => line.includes(message) && line.includes(`"store":"${store}"`))
      .map((line) => (JSON.parse(line) as { time: number }).time);
  const spoolDepth = () => readdirSync(path.join(dir, 'spool')).filter((name) => name.endsWith('.json')).length;

  it('serves every earlier image from RGW while MinIO is down, spools the uploads meanwhile, and stores and replicates them once it is back', async () => {
    const jpeg = (seed: number) => cameraJpeg({ seed, width: 1200, height: 900, make: 'Nikon', model: 'Z6' });
    const upload = async (name: string, seed: number): Promise<Upload> => {
      const data = await jpeg(seed);
      return { path: `/${name}`, data, id: sha256(data), kind: 'good' };
    };
    const before = await Promise.all(Array.from({ length: BEFORE }, (_, i) => upload(`BEFORE_${i}.JPG`, 7100 + i)));
    const during = await Promise.all(Array.from({ length: DURING }, (_, i) => upload(`DURING_${i}.JPG`, 7200 + i)));
    const sender = new FtpSender(() => ftpPort, account, ledger);

    await sender.sendAll(before);
    expect(before.map((u) => ledger.final(u))).toEqual(before.map(() => 226));
    const expected = new Map<string, Buffer>();
    for (const u of before) {
      const doc = await waitFor(() => replicated(u.id), 120_000, `${u.path} stored, processed and replicated`);
      for (const url of urlsOf(doc)) {
        const got = await download(url);
        expect(got).toMatchObject({ status: 200, servedBy: 'minio' });
        expected.set(url, got.body);
      }
      expect(sha256(expected.get(doc.original.url)!)).toBe(u.id);
    }
    const latencyBefore = await timedDownloads(expected, 'minio');

    // ------------------------------------------------------------------------------ MinIO stops
    const stopping = Date.now();
    minioStopped = true;
    // MinIO stops answering some time into the stop command, which waits for the process to end.
    const live = () => fetch(`${minio.endpoint}/minio/health/live`, { signal: AbortSignal.timeout(1_000) }).then((r) => r.ok, () => false);
    const gone = waitFor(async () => !(await live()) && Date.now(), 30_000, 'MinIO no longer answering');
    await stack('down', 'minio');
    const stopped = Date.now();
    const goneAt = await gone;
    // Reads straight away, before the heartbeat has a say: each falls back from MinIO to RGW.
    for (const [url, bytes] of expected) {
      const got = await download(url);
      expect({ status: got.status, servedBy: got.servedBy, same: got.body.equals(bytes) }).toEqual({ status: 200, servedBy: 'rgw', same: true });
    }
    const [markedDown] = await waitFor(() => marked('minio', 'store down').length > 0 && marked('minio', 'store down'), 15_000, 'the search service marking MinIO down');
    const ready = await fetch(`${searchUrl}/readyz`);
    expect(ready.status).toBe(200);
    const latencyDuring = await timedDownloads(expected, 'rgw');
    for (const u of before) expect(sha256((await download((await detail(u.id))!.original.url)).body)).toBe(u.id);

    // Uploads while the primary is down: 451, the file kept in the spool, nothing indexed.
    await sender.sendAll(during);
    expect(during.map((u) => ledger.final(u))).toEqual(during.map(() => 451));
    expect(spoolDepth()).toBe(DURING);
    for (const u of during) expect(await detail(u.id)).toBeNull();

    // ------------------------------------------------------------------------------ MinIO returns
    await stack('up', 'minio');
    minioStopped = false;
    const back = Date.now();
    const [markedUp] = await waitFor(() => marked('minio', 'store up again').length > 0 && marked('minio', 'store up again'), 15_000, 'the search service marking MinIO up');
    const afterOutage = new Map<string, Detail>();
    for (const u of during) afterOutage.set(u.id, await waitFor(() => replicated(u.id), 180_000, `${u.path} stored and replicated after the outage`));
    const recovered = Date.now();
    expect(spoolDepth()).toBe(0);

    // Nothing lost, nothing duplicated: each image once in the index with its one source, each object once per store.
    // A search sees what Elasticsearch has refreshed (about a second behind the document reads above).
    const hits = await waitFor(async () => {
      const search = await fetch(`${searchUrl}/api/images?account=${account}&size=100`);
      const ids = ((await search.json()) as { items: { id: string }[] }).items.map((i) => i.id);
      return ids.length >= BEFORE + DURING && ids;
    }, 30_000, 'every image found by a search');
    expect(hits.sort()).toEqual([...before, ...during].map((u) => u.id).sort());
    const objectKeys = new Set<string>();
    for (const u of [...before, ...during]) {
      const doc = (await detail(u.id))!;
      expect(doc.sources.map((s) => [s.account, s.path])).toEqual([[account, u.path]]);
      const keys = doc.locations.map((l) => `${l.store} ${l.key}`);
      expect(new Set(keys).size).toBe(keys.length);
      for (const l of doc.locations) objectKeys.add(l.key);
      const original = await download(doc.original.url);
      expect(original).toMatchObject({ status: 200, servedBy: 'minio' });
      expect(sha256(original.body)).toBe(u.id);
    }
    // The processor's manifests (what a policy produced, renditions/…/manifest-<policy>.json) stay in the primary: one per image.
    const isManifest = (key: string) => /\/manifest-[^/]+\.json$/.test(key);
    for (const [i, store] of stores.entries()) {
      const listed: string[] = [];
      for await (const object of store.list('')) if (/^(originals|renditions)\//.test(object.key)) listed.push(object.key);
      expect(listed.filter((key) => !isManifest(key)).sort()).toEqual([...objectKeys].sort());
      if (i === 0) expect(listed.filter(isManifest)).toHaveLength(BEFORE + DURING);
    }
    for (const [id, doc] of afterOutage) expect(sha256(await stores[1].getBuffer(doc.locations.find((l) => l.store === 'rgw' && l.key.startsWith('originals/'))!.key))).toBe(id);

    const figures = {
      measuredAt: new Date().toISOString(),
      storeHealth: STORE_HEALTH,
      spoolRedriveIntervalMs: REDRIVE_MS,
      images: { before: BEFORE, during: DURING, objectsPerImage: urlsOf((await detail(before[0].id))!).length },
      stopCommandMs: { total: stopped - stopping, untilMinioStoppedAnswering: goneAt - stopping },
      markedDownAfterMinioStoppedAnsweringMs: markedDown - goneAt,
      downloadMs: { before: latencyBefore, duringOutage: latencyDuring },
      markedUpAfterReturnMs: markedUp - back,
      outageUploadsStoredAndReplicatedAfterReturnMs: recovered - back,
    };
    mkdirSync(path.join(PACKAGE_ROOT, '.cache'), { recursive: true });
    writeFileSync(path.join(PACKAGE_ROOT, '.cache', 'failover.json'), `${JSON.stringify(figures, null, 2)}\n`);
    process.stdout.write(`failover figures: ${JSON.stringify(figures)}\n`);
  }, 600_000);
});
