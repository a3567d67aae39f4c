/**
 * Search at archive scale: builds an embedded index of N synthetic processed images (several
 * accounts, makes, models and lenses, GPS over the Alps, capture times over five years, keywords),
 * then times each query the search page makes. Prints upserts/s and p50/p95/p99 per query as markdown.
 * Usage: npm run bench:search -- [--docs 100000] [--runs 200] [--keep] [--index FILE]
 * `--index` reuses an index a `--keep` run left (a copy: it is migrated and written to).
 * The build writes batches of 1,000 in one transaction each (bulk load); the sustained rate of
 * single upserts, one transaction each as the indexer makes them, is measured afterwards at full size.
 *
 * `--stack [--shards 1] [--replicas 0] [--bulk-window-ms 20] [--in-flight 4,64]` does the same against
 * Elasticsearch on the local stack (`npm run stack:up`; ELASTICSEARCH_URL overrides .stack/env), in a
 * fresh index deleted afterwards unless `--keep`. The same images and queries with the same parameters:
 * the extra figures (concurrent single upserts, size on disk after a force merge) are taken after the
 * queries. It adds the node's CPU per bulk-loaded document, the store size, heap and version.
 */
import { createHash } from 'node:crypto';
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SqliteImageIndex } from '../shared/adapters/sqlite-image-index.adapter';
import { SCHEMAS, type ImageProcessedEvent } from '../shared/contracts/events';
import { FACET_NAMES, type ImageIndex, type ImageQuery } from '../shared/ports/image-index.port';
import { StackIndex, type StoreFigures } from './search-stack';

const { values } = parseArgs({
  options: {
    docs: { type: 'string', default: '100000' },
    runs: { type: 'string', default: '200' },
    keep: { type: 'boolean', default: false },
    index: { type: 'string' },
    stack: { type: 'boolean', default: false },
    shards: { type: 'string', default: '1' },
    replicas: { type: 'string', default: '0' },
    // The indexer's default (elasticsearch.bulkWindowMs).
    'bulk-window-ms': { type: 'string', default: '20' },
    // 4: the default indexer.concurrency; 64: what more Kafka partitions and a higher concurrency allow.
    'in-flight': { type: 'string', default: '4,64' },
  },
});

/** Deterministic, so runs at different sizes see the same distributions. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const rand = random(9);
const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
/** Skewed towards the first items, as real makes and keywords are. */
const pickSkewed = <T>(items: readonly T[]): T => items[Math.floor(rand() ** 2 * items.length)];

const ACCOUNTS = Array.from({ length: 12 }, (_, i) => `site-${String(i + 1).padStart(2, '0')}`);
const CAMERAS: Record<string, string[]> = {
  Canon: ['EOS R5', 'EOS R6', 'EOS 5D Mark IV', 'EOS 90D'],
  'NIKON CORPORATION': ['NIKON Z 6', 'NIKON Z 9', 'NIKON D850'],
  SONY: ['ILCE-7M4', 'ILCE-7RM5', 'ILCE-6400'],
  FUJIFILM: ['X-T5', 'X-H2', 'X100V'],
  Apple: ['iPhone 13', 'iPhone 15 Pro'],
  Panasonic: ['DC-GH6', 'DC-S5'],
  'OM Digital Solutions': ['OM-1'],
  'Leica Camera AG': ['LEICA Q2'],
  Reconyx: ['HyperFire 2'],
  Hikvision: ['DS-2CD2387G2'],
};
const MAKES = Object.keys(CAMERAS);
const LENSES = ['RF24-105mm F4 L IS USM', 'NIKKOR Z 24-70mm f/4 S', 'FE 24-70mm F2.8 GM II', 'XF16-55mmF2.8 R LM WR', 'iPhone back camera 6.86mm f/1.78', null];
const WORDS = [
  'snow', 'avalanche', 'glacier', 'summit', 'ridge', 'valley', 'lake', 'river', 'forest', 'meadow', 'chamois', 'ibex', 'deer',
  'fox', 'eagle', 'marmot', 'hut', 'trail', 'bridge', 'road', 'village', 'church', 'dam', 'lift', 'piste', 'rock', 'fog', 'storm',
  'sunrise', 'sunset', 'night', 'rain', 'ice', 'cornice', 'crevasse', 'moraine', 'pass', 'tunnel', 'station', 'tower',
  ...Array.from({ length: 360 }, (_, i) => `site${i}`),
];
// The Alps: 45-48°N, 6-14°E.
const REGION = { minLat: 45, maxLat: 48, minLon: 6, maxLon: 14 };
const START = Date.UTC(2020, 0, 1);
const YEARS_MS = 5 * 365 * 86_400_000;

/** The i-th of n images: received in order over five years, captured minutes before. */
function image(i: number, n: number, salt = ''): ImageProcessedEvent {
  const id = createHash('sha256').update(`bench-${i}${salt}`).digest('hex');
  const received = START + Math.floor((i / n) * YEARS_MS) + Math.floor(rand() * 60_000);
  const captured = rand() < 0.03 ? null : new Date(received - Math.floor(rand() * 3_600_000)).toISOString().replace('Z', rand() < 0.5 ? 'Z' : '');
  const make = pickSkewed(MAKES);
  const account = pickSkewed(ACCOUNTS);
  const keywords = [...new Set(Array.from({ length: Math.floor(rand() * 4) }, () => pickSkewed(WORDS)))];
  const receivedAt = new Date(received).toISOString();
  const dir = `/DCIM/${100 + (i % 50)}MEDIA`;
  const name = `IMG_${String(i % 10_000).padStart(4, '0')}.JPG`;
  const loc = (key: string) => ({ store: 'local', bucket: null, key, url: `file:///data/${key}` });
  const originalKey = `originals/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}.jpg`;
  const thumbKey = `renditions/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}/thumb.webp`;
  return {
    schema: SCHEMAS.processed,
    id,
    receivedAt,
    source: { protocol: 'ftp', account, path: `${dir}/${name}`, remoteAddress: '10.0.0.7', receivedAt },
    original: { key: originalKey, bytes: 6_000_000 + Math.floor(rand() * 12_000_000), contentType: 'image/jpeg', location: loc(originalKey) },
    capturedAt: captured,
    camera: { make, model: pick(CAMERAS[make]), serial: String(Math.floor(rand() * 1e6)) },
    gps:
      rand() < 0.15
        ? null
        : { lat: REGION.minLat + rand() * (REGION.maxLat - REGION.minLat), lon: REGION.minLon + rand() * (REGION.maxLon - REGION.minLon), alt: Math.floor(rand() * 4000) },
    width: 6000,
    height: 4000,
    orientation: 1,
    exposure: { exposureTime: 1 / 250, fNumber: 4, iso: pick([100, 200, 400, 800, 1600, 3200]), focalLength: 35, lensModel: pick(LENSES), software: null },
    keywords,
    caption: rand() < 0.2 ? `${pick(WORDS)} near the ${pick(WORDS)}` : null,
    title: null,
    creator: null,
    copyright: null,
    renditions: [{ name: 'thumb', key: thumbKey, width: 256, height: 171, bytes: 9_000, format: 'webp', contentType: 'image/webp', location: loc(thumbKey) }],
    locations: [
      { role: 'original', name: 'original', ...loc(originalKey) },
      { role: 'rendition', name: 'thumb', ...loc(thumbKey) },
    ],
    processedAt: receivedAt,
    processingMs: 400,
  };
}

const NEWEST = { field: 'receivedAt', order: 'desc' } as const;
/** The page asks for every facet with the first page of each search. */
const base = (q: Partial<ImageQuery>): ImageQuery => ({ sort: NEWEST, page: 1, size: 40, facets: [...FACET_NAMES], ...q });

function box(): ImageQuery['bbox'] {
  const size = 0.2 + rand() * 1.5;
  const minLat = REGION.minLat + rand() * (REGION.maxLat - REGION.minLat - size);
  const minLon = REGION.minLon + rand() * (REGION.maxLon - REGION.minLon - size);
  return { minLat, maxLat: minLat + size, minLon, maxLon: minLon + size };
}

/** A window of one day to three months somewhere in the five years. */
function range(): Pick<ImageQuery, 'from' | 'to'> {
  const length = 86_400_000 * (1 + Math.floor(rand() * 90));
  const from = START + Math.floor(rand() * (YEARS_MS - length));
  return { from: new Date(from), to: new Date(from + length) };
}

/** A point in the region and a radius of 1 to 10 km. */
function near(): ImageQuery['near'] {
  return { lat: REGION.minLat + rand() * (REGION.maxLat - REGION.minLat), lon: REGION.minLon + rand() * (REGION.maxLon - REGION.minLon), radiusMeters: 1000 + rand() * 9000 };
}

/** The page's queries, each with fresh parameters on every run. */
const QUERIES: Record<string, () => ImageQuery> = {
  'newest 40': () => base({}),
  'by capture time': () => base({ sort: { field: 'capturedAt', order: rand() < 0.5 ? 'asc' : 'desc' } }),
  text: () => base({ text: pickSkewed(WORDS) }),
  make: () => base({ make: pick(MAKES) }),
  account: () => base({ account: pick(ACCOUNTS) }),
  bbox: () => base({ bbox: box() }),
  'time range': () => base(range()),
  'time range by capture time': () => base({ ...range(), sort: { field: 'capturedAt', order: 'asc' } }),
  'text + make + bbox + time': () => base({ text: pickSkewed(WORDS), make: pickSkewed(MAKES), bbox: box(), ...range() }),
  'distance, nearest first': () => base({ near: near(), sort: { field: 'distance', order: 'asc' } }),
  'receive-time range': () => {
    const { from, to } = range();
    return base({ receivedFrom: from, receivedTo: to });
  },
  'lens + ISO range': () => base({ lens: pick(LENSES.filter((l) => l !== null)), iso: { min: 400, max: 1600 } }),
  'page 200 x 50, no facets': () => ({ ...base({ page: 200, size: 50 }), facets: undefined }),
  'cursor at any depth, no facets': () => ({
    ...base({ size: 50 }),
    facets: undefined,
    after: [START + Math.floor(rand() * YEARS_MS), '0'.repeat(64)],
  }),
};

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
const ms = (v: number) => (v < 10 ? v.toFixed(1) : Math.round(v).toString());

/** Both indexes are built with batches of this many images. */
const BATCH = 1_000;
/** Single upserts timed at full size, per concurrency. */
const SINGLE = 2_000;

/**
 * `count` single upserts at full size, from `concurrency` workers that each await one at a time, as
 * the consumer runner's handlers do: new images arriving after the archive, every fourth a re-send
 * of an old one. `first` numbers them on from an earlier call. Returns upserts/s.
 */
async function upsertSingles(index: ImageIndex, docs: number, first: number, count: number, concurrency: number, salt: string): Promise<number> {
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    for (let i = next++; i < count; i = next++) {
      const n = first + i;
      const event = n % 4 === 3 ? image(Math.floor(rand() * docs), docs) : image(docs + n, docs, salt);
      await index.upsert(n % 4 === 3 ? { ...event, source: { ...event.source, path: `/resend/${n}.jpg` } } : event);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return count / ((performance.now() - started) / 1000);
}

/** One markdown row per query: p50/p95/p99 over `runs` runs after 5 warm-ups, and how often the total was capped. */
async function queryRows(index: ImageIndex, runs: number): Promise<string[]> {
  const rows: string[] = [];
  for (const [name, make] of Object.entries(QUERIES)) {
    for (let i = 0; i < 5; i++) await index.search(make());
    const times: number[] = [];
    let gte = 0;
    for (let i = 0; i < runs; i++) {
      const query = make();
      const t = performance.now();
      const result = await index.search(query);
      times.push(performance.now() - t);
      if (result.totalRelation === 'gte') gte++;
    }
    times.sort((a, b) => a - b);
    rows.push(`| ${name} | ${ms(percentile(times, 50))} | ${ms(percentile(times, 95))} | ${ms(percentile(times, 99))} | ${Math.round((gte / runs) * 100)}% |`);
  }
  return rows;
}

const TABLE_HEAD = ['| query | p50 ms | p95 ms | p99 ms | total gte |', '|---|---|---|---|---|'];
const whole = (v: number) => Math.round(v).toLocaleString('en');

async function embedded(docs: number, runs: number): Promise<void> {
  const dir = mkdtempSync(path.join(tmpdir(), 'search-bench-'));
  const file = values.index ?? path.join(dir, 'index.sqlite');
  const opening = performance.now();
  let index = new SqliteImageIndex(file);
  if (values.index) console.error(`opened (and migrated) ${file} in ${Math.round(performance.now() - opening)} ms`);
  try {
    const started = performance.now();
    for (let i = 0; i < docs && !values.index; i += BATCH) {
      index.upsertMany(Array.from({ length: Math.min(BATCH, docs - i) }, (_, j) => image(i + j, docs)));
      if ((i / BATCH) % 100 === 99) process.stderr.write(`${i + BATCH} indexed, ${Math.round((i + BATCH) / ((performance.now() - started) / 1000))}/s\n`);
    }
    const bulkRate = docs / ((performance.now() - started) / 1000);
    if (!values.index) {
      // Measured as after a restart, once the OS has written the build to disk: timed while it
      // still wrote back gigabytes, the first queries took twice as long (box p95 103 ms against 45).
      await index.close();
      const fd = openSync(file, 'r+');
      fsyncSync(fd);
      closeSync(fd);
      index = new SqliteImageIndex(file);
    }
    // A reused index already holds the new images of earlier runs: these must be new to it.
    const singleRate = await upsertSingles(index, docs, 0, SINGLE, 1, values.index ? `-${Date.now()}` : '');
    const rows = await queryRows(index, runs);
    const sizeMB = Math.round(statSync(file).size / 1e6);
    console.log(
      [
        `Embedded index, ${docs.toLocaleString('en')} documents (${sizeMB} MB), ${cpus().length} cores, ${runs} runs per query`,
        '',
        `upserts/s: ${values.index ? 'not measured (reused index)' : whole(bulkRate)} bulk (batches of ${BATCH} per transaction), ${whole(singleRate)} single (one transaction each, ${SINGLE} at full size)`,
        '',
        ...TABLE_HEAD,
        ...rows,
      ].join('\n'),
    );
  } finally {
    await index.close();
    if (values.keep) console.error(`kept ${file}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The same against Elasticsearch. The order of writes up to the queries is the embedded run's, so
 * both draw the same images and query parameters from the one seeded generator; what only this run
 * measures comes after the queries.
 */
async function stack(docs: number, runs: number): Promise<void> {
  if (values.index) throw new Error('--index names an embedded index file; --stack always builds a fresh Elasticsearch index');
  const inFlight = values['in-flight'].split(',').map(Number);
  const shards = Number(values.shards);
  const replicas = Number(values.replicas);
  const bulkWindowMs = Number(values['bulk-window-ms']);
  const es = new StackIndex({ shards, replicas, bulkWindowMs });
  try {
    await es.open();
    const cpuBefore = await es.cpuMillis();
    const clientBefore = process.cpuUsage();
    const started = performance.now();
    for (let i = 0; i < docs; i += BATCH) {
      // Made together, the batch's upserts fall into one bulk window and go out as one _bulk.
      await Promise.all(Array.from({ length: Math.min(BATCH, docs - i) }, (_, j) => es.index.upsert(image(i + j, docs))));
      if ((i / BATCH) % 100 === 99) process.stderr.write(`${i + BATCH} indexed, ${Math.round((i + BATCH) / ((performance.now() - started) / 1000))}/s\n`);
    }
    const loadSeconds = (performance.now() - started) / 1000;
    const esCpuSeconds = ((await es.cpuMillis()) - cpuBefore) / 1000;
    const client = process.cpuUsage(clientBefore);
    const clientCpuSeconds = (client.user + client.system) / 1e6;
    process.stderr.write(`loaded ${docs} in ${loadSeconds.toFixed(1)} s\n`);

    const singleRate = await upsertSingles(es.index, docs, 0, SINGLE, 1, '');
    await es.refresh();
    const rows = await queryRows(es.index, runs);

    const concurrentRates: number[] = [];
    for (const [k, concurrency] of inFlight.entries()) concurrentRates.push(await upsertSingles(es.index, docs, SINGLE * (k + 1), SINGLE, concurrency, ''));
    await es.refresh();
    const node = await es.node();
    const loaded = await es.store();
    process.stderr.write('force-merging to one segment\n');
    const mergeStarted = performance.now();
    await es.forceMerge();
    const mergeSeconds = (performance.now() - mergeStarted) / 1000;
    const merged = await es.store();

    // Binary units, as Elasticsearch's own (its 50gb shard size is 50 GiB); the first line's MB is decimal, as the embedded run's.
    const MiB = (bytes: number) => whole(bytes / 2 ** 20);
    const perDoc = ({ primaryBytes, docs: live }: StoreFigures) => `${whole(primaryBytes / live)} bytes per document, ${whole(live / (primaryBytes / 2 ** 30))} documents per GiB`;
    console.log(
      [
        `Elasticsearch ${node.version} index, ${docs.toLocaleString('en')} documents (${whole(loaded.primaryBytes / 1e6)} MB), ${cpus().length} cores, ${runs} runs per query`,
        '',
        `upserts/s: ${whole(docs / loadSeconds)} bulk (${BATCH} upserts made together per _bulk), ${whole(singleRate)} single (one at a time, awaited, ${SINGLE} at full size), ` +
          inFlight.map((concurrency, k) => `${whole(concurrentRates[k])} with ${concurrency} in flight`).join(', ') +
          ` (${SINGLE} each)`,
        `index: ${es.name}, ${shards} shard(s), ${replicas} replica(s), bulk window ${bulkWindowMs} ms, refresh 'false' while loading`,
        `bulk load: ${docs.toLocaleString('en')} in ${loadSeconds.toFixed(1)} s; Elasticsearch used ${esCpuSeconds.toFixed(1)} CPU-s ` +
          `(${esCpuSeconds > 0 ? whole(docs / esCpuSeconds) : 'n/a'} documents per Elasticsearch core-second), this process ${clientCpuSeconds.toFixed(1)} CPU-s`,
        `on disk: ${MiB(loaded.primaryBytes)} MiB primary store for ${whole(loaded.docs)} documents ` +
          `(+${whole(loaded.deleted)} deleted, ${loaded.segments} segments): ${perDoc(loaded)}; ${MiB(loaded.totalBytes)} MiB with replicas`,
        `force-merged to one segment (${mergeSeconds.toFixed(0)} s): ${MiB(merged.primaryBytes)} MiB primary (+${whole(merged.deleted)} deleted): ${perDoc(merged)}`,
        `node: heap ${MiB(node.heapUsedBytes)} MiB used of ${MiB(node.heapMaxBytes)} MiB after the run, ${whole(node.shards)} shards on the node (all users)`,
        '',
        ...TABLE_HEAD,
        ...rows,
      ].join('\n'),
    );
  } finally {
    await es.close(values.keep);
  }
}

async function main(): Promise<void> {
  const docs = Number(values.docs);
  const runs = Number(values.runs);
  await (values.stack ? stack(docs, runs) : embedded(docs, runs));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
