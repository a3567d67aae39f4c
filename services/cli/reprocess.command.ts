import type { AccountDirectory } from '../../shared/accounts';
import { SCHEMAS, type ImageIngestedEvent } from '../../shared/contracts/events';
import { errorMessage } from '../../shared/errors';
import type { ImageDocument, ImageIndex, ImageQuery } from '../../shared/ports/image-index.port';
import { parseImageQuery } from '../search/search.query';
import { UsageError, inParallel, parseCommandArgs, startProgress, type CommandContext } from './cli.io';

export const REPROCESS_USAGE = `  npm run cli -- reprocess <image-id> | --query "make=canon&from=2024-01-01" | --all  [--dry-run]
                 (re-publishes images.ingested with each account's current policy; the query takes GET /api/images filters)`;

/** Index pages read at once; the cursor (`after`) walks any depth, unlike `page`. */
const PAGE_SIZE = 100;
/** Events published at once: each waits for the broker's acknowledgement. */
const PUBLISHING = 32;

/**
 * The ingested event an image was first announced by, rebuilt from its index document, with the
 * account's policy as it stands now: the processor reuses the manifest of an unchanged policy (no
 * decode) and renders anew only for a changed one.
 */
export function ingestedFromDocument(doc: ImageDocument, accounts: AccountDirectory): ImageIngestedEvent | null {
  const first = doc.sources[0];
  if (!first || !doc.original) return null;
  const source = { protocol: first.protocol, account: first.account, path: first.path, remoteAddress: first.remoteAddress, receivedAt: first.receivedAt };
  return {
    schema: SCHEMAS.ingested,
    id: doc.id,
    receivedAt: doc.receivedAt,
    source,
    original: doc.original,
    policy: accounts.policy(first.account),
  };
}

/** Every document matching `query`, page by page along the cursor. */
export async function* walkIndex(index: ImageIndex, query: ImageQuery, onTotal?: (total: number, exact: boolean) => void): AsyncGenerator<ImageDocument> {
  let after = query.after;
  for (let first = true; ; first = false) {
    const result = await index.search({ ...query, page: 1, size: PAGE_SIZE, after, facets: undefined });
    if (first) onTotal?.(result.total, result.totalRelation === 'eq');
    yield* result.items;
    if (!result.next) return;
    after = result.next;
  }
}

function selection(values: Record<string, string | boolean | undefined>, positionals: string[]): { id: string } | { query: ImageQuery } {
  const chosen = [positionals.length > 0, values.query !== undefined, values.all === true].filter(Boolean).length;
  if (chosen !== 1 || positionals.length > 1) throw new UsageError(`give one image id, --query or --all\nusage:\n${REPROCESS_USAGE}`);
  if (positionals[0] !== undefined) {
    if (!/^[0-9a-f]{64}$/.test(positionals[0])) throw new UsageError(`"${positionals[0]}" is not an image id (64 hex digits)`);
    return { id: positionals[0] };
  }
  if (values.all) return { query: { sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: PAGE_SIZE } };
  const params = new URLSearchParams(String(values.query));
  for (const name of ['page', 'size', 'cursor', 'facets']) {
    if (params.has(name)) throw new UsageError(`--query: "${name}" is not a filter; reprocess walks every match`);
  }
  try {
    return { query: parseImageQuery(params) };
  } catch (error) {
    throw new UsageError(`--query: ${errorMessage(error)}`);
  }
}

/** `cli reprocess`: after a rendition profile changed, sends images through the processor again. */
export async function reprocessCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const { values, positionals } = parseCommandArgs(args, { query: { type: 'string' }, all: { type: 'boolean' }, 'dry-run': { type: 'boolean' } }, `usage:\n${REPROCESS_USAGE}`);
  if (values.help) {
    ctx.io.out(`usage:\n${REPROCESS_USAGE}`);
    return 0;
  }
  const chosen = selection(values, positionals);
  const { adapters, accounts, config, io } = ctx;
  const dryRun = values['dry-run'] === true;
  await accounts.refresh();
  const started = Date.now();
  let published = 0;
  const skipped: string[] = [];
  const send = async (doc: ImageDocument) => {
    const event = ingestedFromDocument(doc, accounts);
    if (!event) {
      skipped.push(`${doc.id}: the index holds no source or original for it`);
      return;
    }
    if (!dryRun) await adapters.bus.publish(config.bus.topics.ingested, event.id, event);
    published++;
  };
  if ('id' in chosen) {
    const doc = await adapters.index.get(chosen.id);
    if (!doc) throw new UsageError(`no image ${chosen.id} in the index`);
    await send(doc);
  } else {
    const progress = startProgress(io, 'reprocess', 0);
    const publishing = inParallel(PUBLISHING);
    let total = 0;
    let seen = 0;
    try {
      for await (const doc of walkIndex(adapters.index, chosen.query, (t) => {
        total = t;
        progress.setTotal(t);
      })) {
        // A count capped at 10,000 grows as the walk passes it.
        if (++seen > total) progress.setTotal((total = seen));
        await publishing.run(async () => {
          await send(doc);
          progress.tick(1, `${skipped.length} skipped`);
        });
      }
      await publishing.drain();
    } finally {
      progress.stop();
    }
  }
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  for (const line of skipped) io.out(`skipped ${line}`);
  io.out(
    `${published} image(s) ${dryRun ? 'would be ' : ''}re-published to ${config.bus.topics.ingested}, ${skipped.length} skipped, in ${seconds} s` +
      (dryRun ? '' : '; the processor renders those whose policy changed and reuses the manifests of the rest'),
  );
  return skipped.length > 0 ? 1 : 0;
}
