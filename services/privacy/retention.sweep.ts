import type { Account } from '../../shared/accounts';
import { errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import type { ImageDocument, ImageIndex, SortPosition } from '../../shared/ports/image-index.port';
import type { Eraser } from './eraser';

const DAY_MS = 86_400_000;

/** Candidates read from the index per page. */
const PAGE_SIZE = 200;

export type RetentionVerdict = { due: true; reason: string } | { due: false; keptBy: string };

/**
 * Whether an image is past retention: every account that delivered it has `retentionDays` and its
 * own last delivery of the image is older than that. An account without retention (or no longer
 * configured) keeps the image, and a re-send restarts its account's clock: an image goes only
 * when nobody who sent it may still expect it.
 */
export function retentionVerdict(doc: ImageDocument, account: (name: string) => Account | null, now: Date): RetentionVerdict {
  const lastDelivery = new Map<string, number>();
  for (const s of doc.sources) lastDelivery.set(s.account, Math.max(lastDelivery.get(s.account) ?? 0, Date.parse(s.lastSeenAt)));
  const terms: string[] = [];
  for (const [name, last] of lastDelivery) {
    const days = account(name)?.retentionDays;
    if (days === undefined) return { due: false, keptBy: name };
    if (last > now.getTime() - days * DAY_MS) return { due: false, keptBy: name };
    terms.push(`${name} ${days} d`);
  }
  return { due: true, reason: `retention passed for every delivering account (${terms.join(', ')})` };
}

export interface RetentionSweepDeps {
  index: ImageIndex;
  /** The accounts as the directory knows them now (config file and `cli accounts add`). */
  accounts: () => Account[];
  eraser: Eraser;
  logger: Logger;
  now?: () => Date;
}

export interface SweepReport {
  /** Images past retention: erased, or with `dryRun` those that would be. */
  due: string[];
  /** Of those, the ones this sweep erased (another node's sweep may have been first with the rest). */
  erased: number;
  /** Candidates an account's retention still keeps. */
  kept: number;
}

/**
 * Erases the images past their accounts' retention, found through the index: per account with
 * `retentionDays`, the images first received before its cutoff, oldest first. Sweeps on several
 * nodes at once do no harm: an erasure is idempotent, and one already done is only counted.
 */
export class RetentionSweep {
  private readonly logger: Logger;
  private readonly now: () => Date;

  constructor(private readonly deps: RetentionSweepDeps) {
    this.logger = deps.logger.child({ component: 'retention' });
    this.now = deps.now ?? (() => new Date());
  }

  async run({ dryRun = false }: { dryRun?: boolean } = {}): Promise<SweepReport> {
    const now = this.now();
    const accounts = new Map(this.deps.accounts().map((a) => [a.name, a]));
    const report: SweepReport = { due: [], erased: 0, kept: 0 };
    const seen = new Set<string>();
    for (const account of accounts.values()) {
      if (account.retentionDays === undefined) continue;
      const receivedTo = new Date(now.getTime() - account.retentionDays * DAY_MS);
      let after: SortPosition | undefined;
      do {
        const page = await this.deps.index.search({ account: account.name, receivedTo, sort: { field: 'receivedAt', order: 'asc' }, page: 1, size: PAGE_SIZE, after });
        for (const doc of page.items) {
          if (seen.has(doc.id)) continue;
          seen.add(doc.id);
          const verdict = retentionVerdict(doc, (name) => accounts.get(name) ?? null, now);
          if (!verdict.due) {
            report.kept++;
            continue;
          }
          report.due.push(doc.id);
          if (dryRun) continue;
          const outcome = await this.deps.eraser.erase(doc.id, { trigger: 'retention', by: 'retention', reason: verdict.reason });
          if (outcome.status === 'erased') report.erased++;
        }
        after = page.next ?? undefined;
      } while (after);
    }
    return report;
  }

  /**
   * Sweeps every `intervalMs`, the first time after a random share of it, so that nodes started
   * together do not sweep together; a sweep still running when the next is due is not doubled.
   * Returns the stop function, which waits for a sweep in progress.
   */
  start(intervalMs: number): () => Promise<void> {
    let running: Promise<void> | null = null;
    const sweep = () => {
      running ??= this.run()
        .then(({ due, erased, kept }) => {
          if (due.length > 0) this.logger.info({ due: due.length, erased, kept }, 'retention sweep done');
        })
        .catch((error: unknown) => this.logger.error({ err: errorMessage(error) }, 'retention sweep failed; the next one tries again'))
        .finally(() => {
          running = null;
        });
    };
    let interval: NodeJS.Timeout | null = null;
    const first = setTimeout(() => {
      sweep();
      interval = setInterval(sweep, intervalMs);
    }, Math.floor(Math.random() * intervalMs));
    return async () => {
      clearTimeout(first);
      if (interval) clearInterval(interval);
      await running;
    };
  }
}
