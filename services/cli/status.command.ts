import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { errorMessage } from '../../shared/errors';
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
  const all = await adapters.index.search({ sort: { field: 'receivedAt', order: 'desc' }, page: 1, size: 1, facets: ['status'] });
  const statuses = (all.facets?.status ?? []).map((b) => `${b.value} ${b.count}`).join(', ');
  const sampled = all.facets?.scope === 'newest' ? ` (statuses of the newest ${all.facets.images})` : '';
  io.out(`  ${all.totalRelation === 'gte' ? 'over ' : ''}${all.total} image(s): ${statuses || 'none'}${sampled}`);

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
