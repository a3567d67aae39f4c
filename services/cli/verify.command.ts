import { SCHEMAS, type ImageReplicatedEvent, type ReplicatedObject } from '../../shared/contracts/events';
import { errorMessage } from '../../shared/errors';
import { erasureRecordKey } from '../../shared/image/object-keys';
import type { ImageDocument } from '../../shared/ports/image-index.port';
import type { NamedStore } from '../../shared/ports/object-store.port';
import { copyObject, digestOf, imageObjects, type Digest, type ImageObject } from '../replicator/replicator.service';
import { UsageError, inParallel, parseCommandArgs, parseCount, startProgress, type CommandContext } from './cli.io';
import { walkIndex } from './reprocess.command';

export const VERIFY_USAGE = `  npm run cli -- verify [--sample N | --all] [--store NAME] [--dry-run]
                 (scrub: every object of every image, or of N chosen at random, in every store: present, its size and SHA-256;
                  what is missing or wrong is copied again from a good copy; exit 1 when something could not be repaired)`;

/** Images checked at once: each reads its objects from every store. */
const CHECKING = 8;

/** What the scrub made of one copy of one object; `wrong` only in a dry run. */
type Verdict = 'ok' | 'repaired' | 'wrong' | 'unrepairable';

interface Tally {
  images: number;
  erased: number;
  copies: Record<Verdict, number>;
  problems: string[];
}

/** `n` documents of the walk chosen uniformly at random (reservoir sampling), in one pass over the index. */
async function sample(docs: AsyncIterable<ImageDocument>, n: number): Promise<ImageDocument[]> {
  const chosen: ImageDocument[] = [];
  let seen = 0;
  for await (const doc of docs) {
    seen++;
    if (chosen.length < n) chosen.push(doc);
    else {
      const slot = Math.floor(Math.random() * seen);
      if (slot < n) chosen[slot] = doc;
    }
  }
  return chosen;
}

/**
 * The bytes an object must have: an original's SHA-256 is the image id; a rendition's is that of the
 * first store's copy (primary first) whose size is the one indexed. Undefined when no copy qualifies.
 */
function reference(doc: ImageDocument, object: ImageObject, digests: (Digest | null)[]): Digest | undefined {
  if (object.role === 'original') return { bytes: doc.original.bytes, sha256: doc.id };
  const bytes = doc.renditions.find((r) => r.name === object.name)?.bytes;
  return digests.find((d): d is Digest => d !== null && d.bytes === bytes) ?? undefined;
}

/** `cli verify`: checks that every store holds every object of each image intact, and repairs what it can. */
export async function verifyCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const usage = `usage:\n${VERIFY_USAGE}`;
  const { values, positionals } = parseCommandArgs(args, { sample: { type: 'string' }, all: { type: 'boolean' }, store: { type: 'string' }, 'dry-run': { type: 'boolean' } }, usage);
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  if (positionals.length > 0 || (values.sample !== undefined && values.all)) throw new UsageError(`give --sample N or --all (the default), not both\n${usage}`);
  const { adapters, config, io } = ctx;
  const stores = adapters.stores;
  const checked = values.store === undefined ? stores : stores.filter((s) => s.name === values.store);
  if (checked.length === 0) throw new UsageError(`no store "${String(values.store)}"; configured: ${stores.map((s) => s.name).join(', ')}`);
  const dryRun = values['dry-run'] === true;
  const started = Date.now();
  const tally: Tally = { images: 0, erased: 0, copies: { ok: 0, repaired: 0, wrong: 0, unrepairable: 0 }, problems: [] };

  /** A copy that is missing or wrong: copied again from `source` (verified), or why it cannot be. */
  const repair = async (doc: ImageDocument, object: ImageObject, store: NamedStore, have: Digest | null, source?: NamedStore, want?: Digest): Promise<Verdict> => {
    const where = `${doc.id} ${object.name} in ${store.name} (${have ? `${have.bytes} bytes, sha256 ${have.sha256}` : 'missing'})`;
    if (dryRun) {
      tally.problems.push(`wrong ${where}`);
      return 'wrong';
    }
    if (!source || !want) {
      tally.problems.push(`unrepaired ${where}: no good copy in any store`);
      return 'unrepairable';
    }
    try {
      await copyObject(source.store, store.store, object, want.sha256);
      return 'repaired';
    } catch (error) {
      tally.problems.push(`unrepaired ${where}: ${errorMessage(error)}`);
      return 'unrepairable';
    }
  };

  const verifyImage = async (doc: ImageDocument) => {
    const objects = imageObjects(doc);
    // Per store, each object's final digest: a replica brought up to date is announced to the indexer.
    const good = new Map<NamedStore, ReplicatedObject[]>(checked.map((s) => [s, []]));
    for (const object of objects) {
      const digests = await Promise.all(stores.map((s) => digestOf(s.store, object.key)));
      const want = reference(doc, object, digests);
      const source = want && stores.find((_, i) => digests[i]?.sha256 === want.sha256);
      if (!source && object.role === 'original' && (await adapters.store.head(erasureRecordKey(doc.id)))) {
        tally.erased++;
        return;
      }
      for (const store of checked) {
        const have = digests[stores.indexOf(store)];
        const verdict = have && want && have.bytes === want.bytes && have.sha256 === want.sha256 ? 'ok' : await repair(doc, object, store, have, source, want);
        tally.copies[verdict]++;
        if (verdict === 'ok' || verdict === 'repaired') good.get(store)!.push({ ...store.store.locate(object.key), region: store.region, role: object.role, name: object.name, ...want! });
      }
    }
    tally.images++;
    if (dryRun) return;
    for (const [store, locations] of good) {
      const listed = (l: ReplicatedObject) => doc.locations.some((d) => d.store === l.store && d.key === l.key);
      if (store.role !== 'replica' || locations.length < objects.length || locations.every(listed)) continue;
      const event: ImageReplicatedEvent = { schema: SCHEMAS.replicated, id: doc.id, store: store.name, region: store.region, locations, replicatedAt: new Date().toISOString() };
      await adapters.bus.publish(config.bus.topics.replicated, doc.id, event);
    }
  };

  const query = { sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 100 } as const;
  const wanted = values.sample === undefined ? null : parseCount('--sample', String(values.sample), 100);
  const progress = startProgress(io, 'verify', wanted ?? 0);
  const checking = inParallel(CHECKING);
  const note = () => `${tally.copies.repaired} repaired, ${tally.copies.wrong + tally.copies.unrepairable} bad`;
  try {
    let total = 0;
    const onTotal = (t: number) => progress.setTotal((total = t));
    const docs = wanted === null ? walkIndex(adapters.index, query, onTotal) : await sample(walkIndex(adapters.index, query), wanted);
    let seen = 0;
    for await (const doc of docs) {
      // A count capped at 10,000 grows as the walk passes it.
      if (wanted === null && ++seen > total) progress.setTotal((total = seen));
      await checking.run(async () => {
        await verifyImage(doc);
        progress.tick(1, note());
      });
    }
    await checking.drain();
  } finally {
    progress.stop();
  }

  for (const line of tally.problems) io.out(line);
  const { ok, repaired, wrong, unrepairable } = tally.copies;
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  io.out(
    `${tally.images} image(s) checked in ${checked.map((s) => s.name).join(', ')}: ${ok} copies intact, ` +
      (dryRun ? `${wrong} missing or wrong (dry run: nothing repaired)` : `${repaired} repaired, ${unrepairable} could not be repaired`) +
      `${tally.erased > 0 ? `, ${tally.erased} erased meanwhile` : ''}, in ${seconds} s`,
  );
  return wrong + unrepairable > 0 ? 1 : 0;
}
