import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors';
import { IMAGE_STATUSES, type ImageStatus } from '../../shared/ports/image-index.port';
import { UsageError, parseCommandArgs, type CommandContext } from './cli.io';

export const STATUS_USAGE = `  npm run cli -- status [--errors N]   (consumer lag, spool, index counts, last errors, last upload per account)`;

/** Files a folder holds that end with `suffix`; 0 when the folder does not exist (nothing spooled yet). */
async function countFiles(dir: string, suffix: string): Promise<number> {
  try {
    return (await readdir(dir)).filter((name) => name.endsWith(suffix)).length;
  } catch {
    return 0;
  }
}

/** `cli status`: one screen of how the pipeline is doing, from the ports every node shares plus this node's spool. */
export async function statusCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const usage = `usage:\n${STATUS_USAGE}`;
  const { values, positionals } = parseCommandArgs(args, { errors: { type: 'string', default: '5' } }, usage);
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  const errors = Number(values.errors);
  if (positionals.length > 0 || !Number.isInteger(errors) || errors < 0 || errors > 1000) throw new UsageError(usage);
  const { adapters, config, accounts, io } = ctx;
  const { topics, groups } = config.bus;

  io.out('consumer lag');
  const consumers: [group: string, topic: string][] = [
    [groups.processor, topics.ingested],
    [groups.indexer, topics.processed],
    [groups.failures, topics.failed],
    // Where replicas are configured: copying, and indexing the copies.
    ...(adapters.stores.some((s) => s.role === 'replica')
      ? ([
          [groups.replicator, topics.processed],
          [groups.replicas, topics.replicated],
        ] as [string, string][])
      : []),
  ];
  for (const [group, topic] of consumers) {
    try {
      const partitions = await adapters.bus.lag(group, [topic]);
      const lag = partitions.reduce((sum, p) => sum + p.lag, 0);
      io.out(`  ${group}\t${topic}\t${lag} behind over ${partitions.length} partition(s)`);
    } catch (error) {
      io.out(`  ${group}\t${topic}\tunknown: ${errorMessage(error)}`);
    }
  }

  const spool = path.join(config.dataDir, 'spool');
  io.out(`spool (this node: ${spool})`);
  io.out(`  ${await countFiles(spool, '.json')} upload(s) waiting, ${await countFiles(path.join(config.dataDir, 'quarantine'), '.json')} quarantined`);

  io.out('index');
  // One count per status rather than a status facet: facets of a broad query count only the newest 2,000.
  const count = async (status?: ImageStatus) => {
    const result = await adapters.index.search({ status, sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 1 });
    return `${result.totalRelation === 'gte' ? 'over ' : ''}${result.total}`;
  };
  const [all, ...byStatus] = await Promise.all([count(), ...IMAGE_STATUSES.map((status) => count(status))]);
  io.out(`  ${all} image(s): ${IMAGE_STATUSES.map((status, i) => `${status} ${byStatus[i]}`).join(', ')}`);

  io.out(`last errors (dead letters, newest first)`);
  const failures = errors > 0 ? await adapters.index.failures(errors) : [];
  for (const f of failures) io.out(`  ${f.failedAt}\t${f.stage}\t${f.error.code}\t${f.id ?? '-'}\t${f.source.account}:${f.source.path}`);
  if (failures.length === 0) io.out('  none');

  io.out('last upload per account');
  await accounts.refresh();
  for (const account of accounts.list()) {
    const newest = await adapters.index.search({ account: account.name, sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 1 });
    const last = newest.items[0];
    io.out(`  ${account.name}\t${last ? `${last.receivedAt}\t${last.id}` : 'never'}`);
  }
  return 0;
}
