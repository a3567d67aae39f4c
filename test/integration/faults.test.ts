import { setTimeout as sleep } from 'node:timers/promises';
import {
  DistributedCluster,
  Scenario,
  imageBatch,
  killDuringUploads,
  largeUpload,
  printTable,
  recordStartFailure,
  runScenario,
  searchTotal,
  stack,
  waves,
  type Engine,
  type Row,
} from '../helpers/faults';
import type { StackStore } from '../helpers/stack';
import { waitFor } from '../helpers/wait';

/**
 * Faults against the services as separate processes on Kafka, Elasticsearch and an object store, once
 * with MinIO and once with Ceph RGW (its scenarios' ids end in -rgw). Every
 * scenario runs on a fresh cluster (topics, bucket and index of its own) with a fresh batch:
 * 24 camera JPEGs, a corrupt JPEG and a pixel bomb. The verdict, whatever the fault: every upload
 * that got 226 (or 451, the spool keeping it) is searchable exactly once with one source per path,
 * dead letters only for the two bad images, and the consumer groups catch up. Rows go to
 * .cache/reliability.{json,md}.
 */

const GOOD = 24;
/** A real outage, long enough for every retry path in the product to give up at least once. */
const OUTAGE_MS = 60_000;
const SCENARIO_TIMEOUT_MS = 540_000;

async function distributed(
  store: StackStore,
  id: string,
  fault: string,
  recoveryFrom: Row['recoveryFrom'],
  seed: number,
  script: (s: Scenario, cluster: DistributedCluster) => Promise<void>,
  options: { large?: boolean } = {},
): Promise<Row> {
  const uploads = await imageBatch(id, seed, GOOD);
  if (options.large) uploads.push(await largeUpload(id, seed + 500));
  const since = Date.now();
  const cluster = await DistributedCluster.start([id], store).catch((error: unknown) => recordStartFailure('distributed', id, fault, since, error));
  const s = new Scenario('distributed', id, fault, id, uploads, cluster, recoveryFrom, since);
  s.phase('cluster start');
  return runScenario(s, () => script(s, cluster), () => cluster.processes(), () => cluster.close());
}

/** Stops `engine`, runs `during`, keeps it down for `minimumMs` in all, and always starts it again. */
async function outage(s: Scenario, engine: Engine, minimumMs: number, during: () => Promise<void>): Promise<void> {
  s.injected();
  await stack('down', engine);
  const down = Date.now();
  s.phase(`${engine} down`);
  try {
    await during();
    s.phase(`uploads while ${engine} is down`);
    // The outage itself: a deliberate duration, not a stand-in for an event.
    await sleep(Math.max(0, minimumMs - (Date.now() - down)));
  } finally {
    await stack('up', engine);
    s.faultEnded();
    s.notes.push(`${engine} down for ${Math.round((Date.now() - down) / 1000)} s (until ready again)`);
    s.phase(`rest of the outage, ${engine} up`);
  }
}

/** Records a failure for every upload of `uploads` that got any reply other than `code`. */
function expectReplies(s: Scenario, uploads: Scenario['uploads'], code: number, when: string): void {
  for (const u of uploads) {
    const replies = s.ledger.of(u).map((a) => a.reply);
    if (replies.some((r) => r !== code)) s.failures.push(`${u.path} ${when} got ${replies.join(', ')}: expected ${code}`);
  }
}

/**
 * A third of the batch, then `engine` down for OUTAGE_MS while the second third is sent (each of
 * those must get `expected.reply`), then the last third and a resend of whatever got no answer.
 */
async function outageInWaves(
  s: Scenario,
  o: { engine: Engine; firstThird: () => Promise<unknown>; firstThirdPhase: string; connections: number; expected: { reply: number; when: string } },
): Promise<void> {
  const [first, during, after] = waves(s.uploads, 3);
  await s.sender.sendAll(first, 2);
  await o.firstThird();
  s.phase(o.firstThirdPhase);
  await outage(s, o.engine, OUTAGE_MS, () => s.sender.sendAll(during, o.connections));
  expectReplies(s, during, o.expected.reply, o.expected.when);
  await s.sender.sendAll(after, 2);
  await s.sender.resendUnanswered(s.uploads);
  s.phase('last third');
}

const processedAtLeast = (cluster: DistributedCluster, n: number) =>
  waitFor(async () => {
    const processed = await cluster.processedCount();
    return processed >= n && processed;
  }, 90_000, `${n} images processed`);

/** Each store, the engine stack.sh stops for its outage, and its scenarios' id suffix. */
const STORES: [StackStore, { title: string; engine: Engine; suffix: string }][] = [
  ['minio', { title: 'MinIO', engine: 'minio', suffix: '' }],
  ['rgw', { title: 'Ceph RGW', engine: 'ceph', suffix: '-rgw' }],
];

describe.each(STORES)('reliability of the services as separate processes under faults, objects on %s', (store, { title, engine: storeEngine, suffix }) => {
  beforeAll(async () => {
    // A scenario of an earlier, interrupted run may have left an engine stopped.
    await stack('up');
  }, 300_000);

  afterAll(async () => {
    await stack('up');
    printTable();
  }, 300_000);

  it(
    'a processor SIGKILLed mid-batch and replaced: every accepted image searchable once, nothing lost, no consumer stuck',
    async () => {
      const row = await distributed(store, `kill-processor${suffix}`, 'SIGKILL one of two processors mid-batch, start a replacement', 'injection', 1000, async (s, cluster) => {
        const uploading = s.sender.sendAll(s.uploads, 2);
        const processed = await processedAtLeast(cluster, 6);
        s.phase('uploads until 6 processed');
        s.injected();
        await cluster.services.kill('processor-1');
        s.notes.push(`processor-1 killed after ${processed} processed messages`);
        await cluster.services.start('processor-3', 'processor');
        s.phase('kill, replacement started');
        await uploading;
        await s.sender.resendUnanswered(s.uploads);
        s.phase('rest of the uploads');
      });
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the indexer SIGKILLed mid-batch and restarted: every accepted image searchable once, nothing lost, no consumer stuck',
    async () => {
      const row = await distributed(store, `kill-indexer${suffix}`, 'SIGKILL the indexer mid-batch, restart it', 'injection', 2000, async (s, cluster) => {
        const uploading = s.sender.sendAll(s.uploads, 2);
        const indexed = await waitFor(async () => {
          const n = await searchTotal(cluster, s.account);
          return n >= 6 && n;
        }, 90_000, '6 images indexed');
        s.phase('uploads until 6 indexed');
        s.injected();
        await cluster.services.kill('indexer');
        s.notes.push(`indexer killed with ${indexed} images in the index`);
        await cluster.services.start('indexer', 'indexer');
        s.phase('kill, restart');
        await uploading;
        await s.sender.resendUnanswered(s.uploads);
        s.phase('rest of the uploads');
      });
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Elasticsearch stopped for 60 s mid-batch: uploads go on, the indexer waits and catches up, no dead letters for good images',
    async () => {
      const row = await distributed(store, `es-outage${suffix}`, 'Elasticsearch stopped 60 s mid-batch (uploads before, during, after)', 'fault end', 3000, (s, cluster) =>
        outageInWaves(s, {
          engine: 'es',
          firstThird: () => waitFor(async () => (await searchTotal(cluster, s.account)) >= 3, 90_000, '3 images indexed'),
          firstThirdPhase: 'first third, 3 indexed',
          connections: 2,
          // The index is not on the upload path: store and bus are up, so every upload is taken.
          expected: { reply: 226, when: 'sent while only Elasticsearch was down' },
        }),
      );
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'the object store stopped for 60 s while uploads go on: 451 (never 550) during the outage, the spool ingests those files afterwards, nothing lost',
    async () => {
      const row = await distributed(store, `${store}-outage`, `${title} stopped 60 s while uploads go on`, 'fault end', 4000, (s, cluster) =>
        outageInWaves(s, {
          engine: storeEngine,
          firstThird: () => processedAtLeast(cluster, 3),
          firstThirdPhase: 'first third, 3 processed',
          // Three connections: each of these waits out the product's store retries before its 451, and the
          // third of the batch must be answered within the outage.
          connections: 3,
          expected: { reply: 451, when: 'sent while the store was down (transient, the spool keeps the file)' },
        }),
      );
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'Kafka restarted mid-batch: uploads during the restart are answered 226 or 451, every accepted image searchable once, consumers resume',
    async () => {
      const row = await distributed(store, `kafka-restart${suffix}`, 'Kafka stopped and started again mid-batch (uploads during the restart)', 'fault end', 5000, async (s, cluster) => {
        const [first, during, after] = waves(s.uploads, 3);
        await s.sender.sendAll(first, 2);
        await processedAtLeast(cluster, 3);
        s.phase('first third, 3 processed');
        let sending: Promise<void> = Promise.resolve();
        // The uploads start against a stopped broker and go on while it starts again.
        await outage(s, 'kafka', 0, async () => {
          sending = s.sender.sendAll(during, 2);
        });
        await sending;
        s.phase('replies to the uploads sent during the restart');
        await s.sender.sendAll(after, 2);
        await s.sender.resendUnanswered(s.uploads);
        s.phase('last third');
      });
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );

  it(
    'ingest SIGKILLed mid-upload and restarted: 226 means searchable, the cut upload is not ingested, its retry gives one document with one source',
    async () => {
      const row = await distributed(
        store,
        `kill-ingest${suffix}`,
        'SIGKILL ingest with a large upload half-way and right after two 226 replies; restart; the camera resends',
        'injection',
        6000,
        (s, cluster) =>
          killDuringUploads(
            s,
            () => cluster.services.kill('ingest'),
            async () => {
              await cluster.services.start('ingest', 'ingest');
            },
          ),
        { large: true },
      );
      expect(row.failures).toEqual([]);
    },
    SCENARIO_TIMEOUT_MS,
  );
});
