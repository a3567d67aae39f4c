import { SCHEMAS, type FailedImage, type ImageFailedEvent, type ImageIngestedEvent } from '../../shared/contracts/events';
import { originalKey } from '../../shared/image/object-keys';
import { UsageError, parseCommandArgs, parseCount, parseSince, startProgress, type CommandContext } from './cli.io';

export const FAILURES_USAGE = `  npm run cli -- failures list [--code C] [--since 7d|ISO] [--limit N]
  npm run cli -- failures redrive [--code C] [--since 7d|ISO] [--dry-run]
                 (re-publishes images.ingested for dead letters whose original is stored)`;

/** Dead letters read from the index at most: the most recent ones, which are the ones worth re-driving. */
const SCAN_LIMIT = 10_000;

interface Filter {
  code?: string;
  since?: Date;
}

function filterOf(values: Record<string, string | boolean | undefined>): Filter {
  return {
    code: typeof values.code === 'string' ? values.code : undefined,
    since: typeof values.since === 'string' ? parseSince('--since', values.since) : undefined,
  };
}

async function deadLetters(ctx: CommandContext, filter: Filter, limit: number): Promise<ImageFailedEvent[]> {
  const all = await ctx.adapters.index.failures(SCAN_LIMIT);
  return all
    .filter((f) => (!filter.code || f.error.code === filter.code) && (!filter.since || new Date(f.failedAt) >= filter.since))
    .slice(0, limit);
}

/** What re-driving one dead letter takes: an event to publish, or why there is none. */
export type Redrive = { event: ImageIngestedEvent } | { reason: string };

/**
 * A processor or indexer failure goes back through images.ingested: the processor decodes again (a
 * fixed decoder, a transient fault) or, for an indexer failure, reuses the stored manifest and
 * publishes images.processed again, so only the processor ever builds that event.
 */
export async function redriveOf(ctx: CommandContext, failure: ImageFailedEvent): Promise<Redrive> {
  if (failure.stage === 'ingest') return { reason: 'refused at ingest: the bytes were never stored, the sender must send the file again' };
  if (!failure.id) return { reason: 'no image id: nothing was read of the message' };
  const { adapters, accounts } = ctx;
  const doc = await adapters.index.get(failure.id);
  if (doc?.status === 'processed' && doc.processedAt && doc.processedAt > failure.failedAt) return { reason: 'processed since it failed' };
  const described = failure.image ?? (doc ? { receivedAt: doc.receivedAt, original: doc.original } : await storedOriginal(ctx, failure.id, failure.source.receivedAt));
  if (!described?.original) return { reason: 'no original of it is stored (neither the dead letter nor the index names one, and none is under originals/)' };
  if (!(await adapters.store.head(described.original.key))) return { reason: `original ${described.original.key} is not in the store` };
  const { source } = failure;
  if (!source.account) return { reason: 'the dead letter names no account, so no policy to apply' };
  return {
    event: {
      schema: SCHEMAS.ingested,
      id: failure.id,
      receivedAt: described.receivedAt,
      source: { protocol: source.protocol, account: source.account, path: source.path, remoteAddress: source.remoteAddress, receivedAt: source.receivedAt },
      original: described.original,
      policy: accounts.policy(source.account),
    },
  };
}

/** The original stored under the image's id, whatever its extension: for a dead letter that names none and an image never indexed. */
async function storedOriginal(ctx: CommandContext, id: string, receivedAt: string): Promise<FailedImage | undefined> {
  const { store } = ctx.adapters;
  const prefix = originalKey(id, '');
  for await (const object of store.list(prefix)) {
    const head = await store.head(object.key);
    if (head) return { receivedAt, original: { key: head.key, bytes: head.bytes, contentType: head.contentType, location: store.locate(head.key) } };
  }
  return undefined;
}

/** `cli failures list|redrive`: the dead letters the index keeps (the failed topic's indexer-failures consumer). */
export async function failuresCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const usage = `usage:\n${FAILURES_USAGE}`;
  const { values, positionals } = parseCommandArgs(
    args,
    { code: { type: 'string' }, since: { type: 'string' }, limit: { type: 'string' }, 'dry-run': { type: 'boolean' } },
    usage,
  );
  const [sub, ...extra] = positionals;
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  if ((sub !== 'list' && sub !== 'redrive') || extra.length > 0) throw new UsageError(usage);
  const filter = filterOf(values);
  const { io } = ctx;
  if (sub === 'list') {
    if (values['dry-run']) throw new UsageError(`--dry-run is for redrive\n${usage}`);
    const rows = await deadLetters(ctx, filter, parseCount('--limit', values.limit as string | undefined, 50, SCAN_LIMIT));
    for (const f of rows) {
      io.out(`${f.failedAt}\t${f.stage}\t${f.error.code}\t${f.id ?? '-'}\t${f.source.account}:${f.source.path}\tattempts=${f.attempts}\t${f.error.message}`);
    }
    io.err(`${rows.length} dead letter(s)${filter.code ? ` with code ${filter.code}` : ''}${filter.since ? ` since ${filter.since.toISOString()}` : ''}`);
    return 0;
  }
  if (values.limit !== undefined) throw new UsageError(`--limit is for list\n${usage}`);
  const dryRun = values['dry-run'] === true;
  await ctx.accounts.refresh();
  const rows = await deadLetters(ctx, filter, SCAN_LIMIT);
  // One re-drive per image and stage: the newest dead letter stands for the earlier ones.
  const latest = new Map<string, ImageFailedEvent>();
  for (const f of rows) {
    const key = `${f.id ?? `${f.source.account}:${f.source.path}:${f.failedAt}`}/${f.stage}`;
    if (!latest.has(key)) latest.set(key, f);
  }
  const progress = startProgress(io, 'redrive', latest.size);
  const redriven: ImageFailedEvent[] = [];
  const refused: { failure: ImageFailedEvent; reason: string }[] = [];
  for (const failure of latest.values()) {
    const plan = await redriveOf(ctx, failure);
    if ('event' in plan) {
      if (!dryRun) await ctx.adapters.bus.publish(ctx.config.bus.topics.ingested, plan.event.id, plan.event);
      redriven.push(failure);
    } else refused.push({ failure, reason: plan.reason });
    progress.tick(1, `${refused.length} not re-driven`);
  }
  progress.stop();
  const verb = dryRun ? 'would re-drive' : 're-driven';
  for (const f of redriven) io.out(`${verb}\t${f.stage}\t${f.error.code}\t${f.id}\t${f.source.account}:${f.source.path}`);
  for (const { failure: f, reason } of refused) io.out(`not re-driven\t${f.stage}\t${f.error.code}\t${f.id ?? '-'}\t${f.source.account}:${f.source.path}\t${reason}`);
  io.out(`${redriven.length} ${verb} to ${ctx.config.bus.topics.ingested}, ${refused.length} not re-driven (of ${rows.length} dead letters, ${latest.size} distinct)`);
  return 0;
}
