import { SingleBar, Presets } from 'cli-progress';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { AccountDirectory } from '../../shared/accounts';
import type { Adapters } from '../../shared/adapters/adapters.factory';
import { parseDuration, type Config } from '../../shared/config/config.schema';
import type { Logger } from '../../shared/logging';

/** Bad input on the command line: cli.main prints the message (with the command's usage) and exits 2. */
export class UsageError extends Error {}

/** Where a command writes: results on `out`, notes and progress on `err`, so `out` can be piped. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** The terminal for a live bar; null (a pipe, a log file, a test) prints a plain line every `plainEveryMs` instead. */
  tty: NodeJS.WriteStream | null;
  /** Default 5000. */
  plainEveryMs?: number;
}

/** What every operations command runs against: the configured adapters, as the services open them. */
export interface CommandContext {
  config: Readonly<Config>;
  adapters: Adapters;
  accounts: AccountDirectory;
  logger: Logger;
  io: CliIo;
}

/** The process's own streams: a bar when stderr is a terminal. */
export function processIo(): CliIo {
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    tty: process.stderr.isTTY ? process.stderr : null,
  };
}

export interface Progress {
  /** Counts `n` more done; `note` is what the bar shows beside the count (e.g. "3 skipped"). */
  tick(n?: number, note?: string): void;
  /** The total grew (a count capped at 10,000, a topic still being written). */
  setTotal(total: number): void;
  /** How many were counted so far. */
  done(): number;
  stop(): void;
}

/** A cli-progress bar on a terminal; elsewhere one line every few seconds and one at the end. */
export function startProgress(io: CliIo, label: string, total: number): Progress {
  let done = 0;
  let note = '';
  if (io.tty) {
    const bar = new SingleBar(
      { format: `${label} [{bar}] {value}/{total} {percentage}% | {eta_formatted} left | {note}`, stream: io.tty, hideCursor: true, etaBuffer: 50 },
      Presets.shades_classic,
    );
    bar.start(total, 0, { note });
    return {
      tick: (n = 1, text) => {
        done += n;
        note = text ?? note;
        bar.increment(n, { note });
      },
      setTotal: (t) => bar.setTotal(t),
      done: () => done,
      stop: () => bar.stop(),
    };
  }
  const started = Date.now();
  let last = started;
  const every = io.plainEveryMs ?? 5000;
  const line = () => {
    const rate = done / Math.max(0.001, (Date.now() - started) / 1000);
    io.err(`${label}: ${done}/${total}${note ? `, ${note}` : ''} (${rate.toFixed(1)}/s)`);
  };
  return {
    tick: (n = 1, text) => {
      done += n;
      note = text ?? note;
      if (Date.now() - last >= every) {
        last = Date.now();
        line();
      }
    },
    setTotal: (t) => {
      total = t;
    },
    done: () => done,
    stop: line,
  };
}

/** parseArgs that turns its own errors (unknown option, missing value) into a UsageError naming the usage. */
export function parseCommandArgs(
  args: string[],
  options: NonNullable<ParseArgsConfig['options']>,
  usage: string,
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${usage}`);
  }
}

/** `30d`, `12h` (ago) or an ISO 8601 time → the instant; a UsageError naming the option otherwise. */
export function parseSince(option: string, text: string, now = Date.now()): Date {
  const ms = parseDuration(text);
  if (ms !== null) return new Date(now - ms);
  const date = new Date(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text) || Number.isNaN(date.getTime())) {
    throw new UsageError(`${option} must be a duration such as 30d or 12h, or an ISO 8601 time, not "${text}"`);
  }
  return date;
}

/** A whole number within bounds, or a UsageError naming the option. */
export function parseCount(option: string, text: string | undefined, fallback: number, max = 1_000_000): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 1 || value > max) throw new UsageError(`${option} must be a whole number from 1 to ${max}, not "${text}"`);
  return value;
}

/**
 * Runs at most `limit` tasks at once: publishing one event at a time waits out one broker round
 * trip per image, which at a million images is hours. The first failure is thrown by the next
 * `run` or by `drain`.
 */
export function inParallel(limit: number): { run(task: () => Promise<void>): Promise<void>; drain(): Promise<void> } {
  const running = new Set<Promise<void>>();
  const failures: unknown[] = [];
  const check = () => {
    if (failures.length > 0) throw failures[0];
  };
  return {
    async run(task) {
      check();
      const promise: Promise<void> = task().then(
        () => void running.delete(promise),
        (error: unknown) => {
          running.delete(promise);
          failures.push(error);
        },
      );
      running.add(promise);
      if (running.size >= limit) await Promise.race(running);
      check();
    },
    async drain() {
      await Promise.all(running);
      check();
    },
  };
}
