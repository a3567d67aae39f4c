import path from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { ACCOUNTS_KEY, AccountDirectory, hashPassword } from '../../shared/accounts';
import { createAdapters } from '../../shared/adapters/adapters.factory';
import { loadConfig } from '../../shared/config/config.loader';
import { parseDuration, type Config } from '../../shared/config/config.schema';
import { errorMessage } from '../../shared/errors';
import { createLogger } from '../../shared/logging';
import { backfill, type BackfillReport } from '../ingest/backfill';
import { IngestService } from '../ingest/ingest.service';
import { Spool } from '../ingest/spool';
import { processIo, UsageError, type CommandContext } from './cli.io';
import { ERASE_USAGE, eraseCommand } from './erase.command';
import { FAILURES_USAGE, failuresCommand } from './failures.command';
import { KEYS_USAGE, keysCommand } from './keys.command';
import { PRUNE_USAGE, pruneCommand } from './prune.command';
import { REINDEX_USAGE, reindexCommand } from './reindex.command';
import { REPROCESS_USAGE, reprocessCommand } from './reprocess.command';
import { RETENTION_USAGE, retentionCommand } from './retention.command';
import { STATUS_USAGE, statusCommand } from './status.command';
import { VERIFY_USAGE, verifyCommand } from './verify.command';

const USAGE = `usage:
  npm run cli -- accounts add <name> [--home DIR] [--drop-folder DIR] [--profile NAME] [--max-file-bytes N] [--allow CIDR]...
                 [--expect-every 15m|2h|1d] [--retention-days N]
                 (password read from stdin; --expect-every: quieter cameras count as quiet; --retention-days: erase its images after N days)
  npm run cli -- accounts hash        (password from stdin; prints a hash for the config file)
  npm run cli -- accounts list
${KEYS_USAGE}
  npm run cli -- ingest <dir> --account <name> [--concurrency N]
${REPROCESS_USAGE}
${FAILURES_USAGE}
${REINDEX_USAGE}
${PRUNE_USAGE}
${STATUS_USAGE}
${VERIFY_USAGE}
${ERASE_USAGE}
${RETENTION_USAGE}
  npm run cli -- <command> --help`;

/** Operations commands: each opens the configured adapters, as the services do, and returns its exit code. */
const COMMANDS: Record<string, { run: (ctx: CommandContext, args: string[]) => Promise<number>; usage: string }> = {
  reprocess: { run: reprocessCommand, usage: REPROCESS_USAGE },
  failures: { run: failuresCommand, usage: FAILURES_USAGE },
  reindex: { run: reindexCommand, usage: REINDEX_USAGE },
  prune: { run: pruneCommand, usage: PRUNE_USAGE },
  status: { run: statusCommand, usage: STATUS_USAGE },
  verify: { run: verifyCommand, usage: VERIFY_USAGE },
  erase: { run: eraseCommand, usage: ERASE_USAGE },
  retention: { run: retentionCommand, usage: RETENTION_USAGE },
};

async function withContext(config: Readonly<Config>, run: (ctx: CommandContext) => Promise<number>): Promise<number> {
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const adapters = createAdapters(config, logger);
  try {
    return await run({ config, adapters, accounts: new AccountDirectory(config, adapters.store), logger, io: processIo() });
  } finally {
    await adapters.close();
  }
}

/** Reads one line: the first line of a pipe, or typed on a terminal without echo. */
async function readPassword(prompt: string): Promise<string> {
  const input = process.stdin;
  if (!input.isTTY) {
    for await (const line of createInterface({ input, terminal: false })) return line;
    throw new Error('no password on stdin');
  }
  process.stderr.write(prompt);
  input.setRawMode(true);
  input.setEncoding('utf8');
  let typed = '';
  try {
    for await (const chunk of input) {
      for (const char of chunk as string) {
        if (char === '\r' || char === '\n') return typed;
        if (char === '\u0003') throw new Error('cancelled');
        typed = char === '\u007f' ? typed.slice(0, -1) : typed + char;
      }
    }
    throw new Error('no password typed');
  } finally {
    input.setRawMode(false);
    input.pause();
    process.stderr.write('\n');
  }
}

async function accounts(config: Readonly<Config>, args: string[]): Promise<void> {
  const [command, name] = args;
  if (command === 'hash') {
    // Only prints a hash for the config file: no store to open.
    console.log(await hashPassword(await readPassword('password: ')));
    return;
  }
  if (command !== 'list' && (command !== 'add' || !name)) throw new Error(USAGE);
  // The store the services use, so an account added on any node is the one every node reads.
  const adapters = createAdapters(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
  try {
    const directory = new AccountDirectory(config, adapters.store);
    if (command === 'list') {
      await directory.refresh();
      for (const a of directory.list()) console.log(`${a.name}\thome=${a.home}${a.dropFolder ? `\tdrop=${a.dropFolder}` : ''}\tprofile=${a.renditionProfile}${a.expectEvery ? `\texpect=${a.expectEvery}` : ''}${a.retentionDays ? `\tretention=${a.retentionDays}d` : ''}`);
      return;
    }
    const { values } = parseArgs({
      args: args.slice(2),
      options: {
        home: { type: 'string' },
        'drop-folder': { type: 'string' },
        profile: { type: 'string', default: 'default' },
        'max-file-bytes': { type: 'string' },
        allow: { type: 'string', multiple: true, default: [] },
        'expect-every': { type: 'string' },
        'retention-days': { type: 'string' },
      },
    });
    const expectEvery = values['expect-every'];
    if (expectEvery !== undefined && parseDuration(expectEvery) === null) {
      throw new UsageError(`--expect-every must be a whole number and a unit (s, m, h or d), such as 15m, 2h or 1d, not "${expectEvery}"`);
    }
    const retentionDays = values['retention-days'];
    if (retentionDays !== undefined && !/^[1-9]\d{0,4}$/.test(retentionDays)) {
      throw new UsageError(`--retention-days must be a whole number of days from 1, not "${retentionDays}"`);
    }
    const password = await readPassword(`password for ${name}: `);
    if (password.length < 8) throw new Error('password must have at least 8 characters');
    await directory.save({
      name,
      passwordHash: await hashPassword(password),
      home: values.home && path.resolve(values.home),
      dropFolder: values['drop-folder'] && path.resolve(values['drop-folder']),
      renditionProfile: values.profile!,
      maxFileBytes: values['max-file-bytes'] ? Number(values['max-file-bytes']) : undefined,
      allowedNetworks: values.allow!,
      expectEvery,
      retentionDays: retentionDays === undefined ? undefined : Number(retentionDays),
    });
    console.log(`account ${name} saved in ${adapters.store.locate(ACCOUNTS_KEY).url}`);
  } finally {
    await adapters.close();
  }
}

function progress(done: number, total: number, rejected: number, started: number): void {
  const width = 30;
  const filled = total === 0 ? width : Math.round((done / total) * width);
  const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
  process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} files, ${rejected} rejected, ${rate.toFixed(1)} files/s `);
}

/** Pushes a local folder through the same ingest path as FTP uploads; the folder is left as it was. */
async function ingest(config: Readonly<Config>, args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: { account: { type: 'string' }, concurrency: { type: 'string', default: '4' } },
  });
  const [dir] = positionals;
  if (!dir || !values.account) throw new Error(USAGE);
  const logger = createLogger(process.env.LOG_LEVEL ?? 'warn');
  const adapters = createAdapters(config, logger);
  const started = Date.now();
  let report: BackfillReport;
  try {
    const directory = new AccountDirectory(config, adapters.store);
    await directory.refresh();
    const account = directory.find(values.account);
    if (!account) throw new Error(`no account "${values.account}"`);
    // The same spool as a running server's: entries are leased, so the two never take one twice.
    const service = new IngestService({ config, logger, accounts: directory, ...adapters, spool: new Spool(path.join(config.dataDir, 'spool'), { leaseMs: config.spool.leaseMs }) });
    report = await backfill({
      ingest: service,
      account,
      root: dir,
      concurrency: Math.max(1, Number(values.concurrency) || 1),
      onProgress: (done, total, rejected) => progress(done, total, rejected, started),
    });
  } finally {
    process.stderr.write('\n');
    await adapters.close();
  }
  for (const r of report.rejected) console.log(`rejected ${r.file}: ${r.code}: ${r.reason}`);
  console.log(`${report.ingested} ingested, ${report.rejected.length} rejected in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return report.rejected.length > 0 ? 1 : 0;
}

async function main(argv: string[]): Promise<number> {
  const config = loadConfig();
  const [command, ...rest] = argv;
  if (['accounts', 'keys', 'ingest'].includes(command) && (rest.includes('--help') || rest.includes('-h'))) {
    console.log(USAGE.split('\n').filter((line, i, lines) => line.includes(`cli -- ${command}`) || (i > 0 && lines[i - 1].includes(`cli -- ${command}`) && !line.includes('cli --'))).join('\n'));
    return 0;
  }
  if (command === 'accounts') {
    await accounts(config, rest);
    return 0;
  }
  if (command === 'keys') {
    // The store the search nodes read, as for accounts.
    const adapters = createAdapters(config, createLogger(process.env.LOG_LEVEL ?? 'warn'));
    try {
      const { stdout, stderr } = await keysCommand(adapters.store, rest);
      for (const line of stdout) console.log(line);
      for (const line of stderr) console.error(line);
    } finally {
      await adapters.close();
    }
    return 0;
  }
  if (command === 'ingest') return ingest(config, rest);
  const operation = command === undefined ? undefined : COMMANDS[command];
  if (operation) {
    // --help needs no store: answered before the adapters open.
    if (rest.includes('--help') || rest.includes('-h')) {
      console.log(`usage:\n${operation.usage}`);
      return 0;
    }
    return withContext(config, (ctx) => operation.run(ctx, rest));
  }
  if (command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return 0;
  }
  throw new UsageError(command === undefined ? USAGE : `unknown command "${command}"\n${USAGE}`);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`${errorMessage(error)}\n`);
    process.exit(2);
  },
);
