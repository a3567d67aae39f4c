import { Eraser } from '../privacy/eraser';
import { RetentionSweep } from '../privacy/retention.sweep';
import { UsageError, parseCommandArgs, type CommandContext } from './cli.io';

export const RETENTION_USAGE = `  npm run cli -- retention [--dry-run]
                 (erases now what the periodic sweep would: images past every delivering account's retentionDays)`;

/** `cli retention`: the indexer's periodic sweep, on demand; --dry-run lists what it would erase. */
export async function retentionCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const usage = `usage:\n${RETENTION_USAGE}`;
  const { values, positionals } = parseCommandArgs(args, { 'dry-run': { type: 'boolean' } }, usage);
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  if (positionals.length > 0) throw new UsageError(usage);
  const dryRun = values['dry-run'] === true;
  await ctx.accounts.refresh();
  const eraser = new Eraser({ ...ctx.adapters, config: ctx.config, logger: ctx.logger });
  const sweep = new RetentionSweep({ index: ctx.adapters.index, accounts: () => ctx.accounts.list(), eraser, logger: ctx.logger });
  const report = await sweep.run({ dryRun });
  if (dryRun) for (const id of report.due) ctx.io.out(`would erase\t${id}`);
  ctx.io.out(
    dryRun
      ? `${report.due.length} image(s) past retention would be erased, ${report.kept} kept by an account's retention`
      : `${report.erased} image(s) erased (${report.due.length - report.erased} already erased elsewhere), ${report.kept} kept by an account's retention`,
  );
  return 0;
}
