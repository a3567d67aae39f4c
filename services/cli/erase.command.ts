import { userInfo } from 'node:os';
import { Eraser } from '../privacy/eraser';
import { UsageError, parseCommandArgs, type CommandContext } from './cli.io';

export const ERASE_USAGE = `  npm run cli -- erase <image-id> --reason "..." [--by NAME]
                 (removes the image everywhere and publishes images.erased; --by defaults to the OS user)`;

const ID = /^[0-9a-f]{64}$/;

/** Who runs the command; userInfo() throws for a uid without a passwd entry (a container's). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? 'cli';
  }
}

/** `cli erase`: an operator removes one image everywhere; the audit record names them and their reason. */
export async function eraseCommand(ctx: CommandContext, args: string[]): Promise<number> {
  const usage = `usage:\n${ERASE_USAGE}`;
  const { values, positionals } = parseCommandArgs(args, { reason: { type: 'string' }, by: { type: 'string' } }, usage);
  if (values.help) {
    ctx.io.out(usage);
    return 0;
  }
  const [id, ...rest] = positionals;
  if (!id || rest.length > 0 || !ID.test(id)) throw new UsageError(`one image id (64 hex characters) is needed\n${usage}`);
  const reason = typeof values.reason === 'string' ? values.reason.trim() : '';
  if (!reason) throw new UsageError(`--reason is required: the audit record keeps why\n${usage}`);
  const by = typeof values.by === 'string' && values.by.trim() ? values.by.trim() : osUser();
  const eraser = new Eraser({ ...ctx.adapters, config: ctx.config, logger: ctx.logger });
  const outcome = await eraser.erase(id, { trigger: 'operator', by, reason });
  if (outcome.status === 'not-found') {
    ctx.io.err(`no image ${id} in the index or any store, and none was erased`);
    return 1;
  }
  const { erasure } = outcome;
  if (outcome.status === 'already-erased') {
    ctx.io.out(`${id} was already erased at ${erasure.erasedAt} by ${erasure.by}`);
    return 0;
  }
  for (const { store, region, keys } of erasure.objects) ctx.io.out(`removed\t${keys.length}\tobjects from store ${store} (${region})`);
  ctx.io.out(`removed\t${erasure.indexed ? 1 : 0}\tindex document`);
  for (const { account, files } of erasure.deliveries) ctx.io.out(`removed\t${files}\tFTP view entries of account ${account}`);
  for (const store of erasure.unconfiguredStores) ctx.io.err(`store ${store} holds copies by the index but is not configured here: remove them there`);
  ctx.io.out(`erased ${id} at ${erasure.erasedAt}; images.erased published, audit record kept`);
  return 0;
}
