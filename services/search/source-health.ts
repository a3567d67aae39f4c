import { Gauge } from 'prom-client';
import { expectedEveryMs, type Account } from '../../shared/accounts';
import { errorMessage } from '../../shared/errors';
import { captureInstant } from '../../shared/index-document';
import type { Logger } from '../../shared/logging';
import type { ImageDocument, ImageIndex } from '../../shared/ports/image-index.port';

/**
 * Quiet cameras: which accounts (and camera serials) have gone silent for longer than their expected
 * cadence. The report's shape is the `/api/sources/health` answer.
 */

export interface SourceHealthEntry {
  account: string;
  /** The camera's serial number when the images carry one; null for the account as a whole. */
  serial: string | null;
  /** The last image received from it, ISO 8601; null when it never sent one. */
  lastSeenAt: string | null;
  /** How often it is expected to send at most, in ms: configured, or learned from its history. */
  expectedEveryMs: number | null;
  cadence: 'configured' | 'learned' | 'unknown';
  /** Silent for longer than expected. Never before the first image: an account record has no creation time to count from. */
  quiet: boolean;
  /** Time since lastSeenAt, ms; null when never seen. */
  silentForMs: number | null;
  /** Images received since 00:00 UTC today. */
  imagesToday: number;
  /**
   * `eq`: imagesToday is exact. `gte`: at least that many: the account's count stops at the index's
   * TOTAL_HITS_CAP, a serial's is counted in the account's newest HISTORY_SIZE images when those do not
   * reach back to midnight.
   */
  imagesTodayRelation: 'eq' | 'gte';
  /**
   * Median of receive time minus capture instant over its recent images, ms; null without capture times.
   * A capture time without a UTC offset (most cameras write none) is read as UTC, so for a camera set to
   * local time this includes its zone's offset (about -3,600,000 for a camera on CET that is on time).
   */
  clockDriftMs: number | null;
}

export interface SourceHealthReport {
  checkedAt: string;
  /** When the index was read for this report: at most SourceHealthOptions.cacheMs before checkedAt. */
  observedAt: string;
  items: SourceHealthEntry[];
}

export interface SourceHealthReporter {
  report(): Promise<SourceHealthReport>;
}

/** Gauges of the report, in prom-client's default registry. `serial` is "" on the row of the account as a whole. */
export const SOURCE_QUIET_METRIC = 'image_ingest_source_quiet';
export const SOURCE_LAST_SEEN_METRIC = 'image_ingest_source_last_seen_seconds';

/** How long the index reads behind a report are reused, by default. */
export const SOURCE_HEALTH_CACHE_MS = 30_000;
/** The newest images of an account read for its cadence, drift and per-serial rows. */
export const HISTORY_SIZE = 200;
/** Fewer receipts than this and the cadence is `unknown`: never quiet. */
export const MIN_HISTORY = 10;
/** No learned cadence is shorter; a gap shorter than this is inside a burst. */
export const CADENCE_FLOOR_MS = 5 * 60_000;
/** Gaps between bursts needed before they, not the gaps inside bursts, set the rhythm. */
export const MIN_BURST_GAPS = 3;
const PERCENTILE = 0.9;
const FACTOR = 2;
const DAY_MS = 86_400_000;

/**
 * The learned cadence, from receipt instants newest first: null below MIN_HISTORY receipts.
 *
 * The expected interval is FACTOR × the p90 of the gaps between consecutive receipts, at least
 * CADENCE_FLOOR_MS. A camera that sends in bursts (a dozen images in a minute, then an hour of
 * nothing) would have a p90 of seconds over all its gaps, and be flagged in every pause; so a gap
 * under the floor counts as inside a burst, and once there are MIN_BURST_GAPS gaps at or above the
 * floor only those (the pauses between bursts) are taken: that camera expects an image every
 * 2 × its p90 pause. Fewer long gaps than that are outages of a camera that otherwise sends steadily,
 * and must not teach it to be silent: then all gaps count, and the floor holds. p90, not the maximum,
 * so one earlier outage in the history does not stretch the cadence.
 */
export function learnedCadenceMs(receiptsNewestFirst: readonly number[]): number | null {
  if (receiptsNewestFirst.length < MIN_HISTORY) return null;
  const gaps = receiptsNewestFirst.slice(1).map((at, i) => receiptsNewestFirst[i] - at);
  const pauses = gaps.filter((gap) => gap >= CADENCE_FLOOR_MS);
  const rhythm = pauses.length >= MIN_BURST_GAPS ? pauses : gaps;
  return Math.max(CADENCE_FLOOR_MS, Math.round(FACTOR * percentile(rhythm, PERCENTILE)));
}

/** Nearest rank. */
function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)];
}

function median(values: readonly number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : Math.round((sorted[mid - 1] + sorted[mid]) / 2);
}

export interface SourceHealthDeps {
  accounts: { list(): Account[] };
  index: ImageIndex;
  logger?: Logger;
}

export interface SourceHealthOptions {
  /** How long the index reads behind a report are reused; quiet and silentForMs are worked out fresh on every call. Default SOURCE_HEALTH_CACHE_MS. */
  cacheMs?: number;
  /** Milliseconds since the epoch; tests pass a fake clock. */
  now?: () => number;
}

/** What the index says of one source, reused for cacheMs. */
interface Observed {
  account: string;
  serial: string | null;
  lastSeenMs: number | null;
  learnedMs: number | null;
  imagesToday: number;
  imagesTodayRelation: 'eq' | 'gte';
  clockDriftMs: number | null;
}

interface Observation {
  at: number;
  sources: Observed[];
}

/** One image as a receipt of the account: when this account (not another that sent the same bytes) delivered it. */
interface Receipt {
  at: number;
  serial: string | null;
  driftMs: number | null;
}

/** Its latest delivery by the account counts as a sign of life; drift is taken from the first, when the image was new. */
function receiptOf(doc: ImageDocument, account: string): Receipt {
  const mine = doc.sources.filter((s) => s.account === account);
  const at = mine.length > 0 ? Math.max(...mine.map((s) => Date.parse(s.lastSeenAt))) : Date.parse(doc.receivedAt);
  const first = mine.length > 0 ? Math.min(...mine.map((s) => Date.parse(s.firstSeenAt))) : Date.parse(doc.receivedAt);
  const captured = captureInstant(doc.capturedAt);
  return { at, serial: doc.camera.serial ?? null, driftMs: captured === null ? null : first - captured };
}

const quietGauge = new Gauge({
  name: SOURCE_QUIET_METRIC,
  help: 'Whether the source has been silent for longer than its expected cadence (1) or not (0).',
  labelNames: ['account', 'serial'] as const,
  collect: refreshMetrics,
});
const lastSeenGauge = new Gauge({
  name: SOURCE_LAST_SEEN_METRIC,
  help: 'When the source last delivered an image, unix seconds; absent until its first image.',
  labelNames: ['account', 'serial'] as const,
  collect: refreshMetrics,
});

/** The reporter whose report /metrics shows: the latest one constructed (one per process outside tests). */
let scraped: SourceHealth | null = null;

/** On scrape: brings the gauges up to the (cached) report. */
async function refreshMetrics(): Promise<void> {
  await scraped?.scrape();
}

function publish(report: SourceHealthReport): void {
  quietGauge.reset();
  lastSeenGauge.reset();
  for (const item of report.items) {
    const labels = { account: item.account, serial: item.serial ?? '' };
    quietGauge.set(labels, item.quiet ? 1 : 0);
    if (item.lastSeenAt !== null) lastSeenGauge.set(labels, Date.parse(item.lastSeenAt) / 1000);
  }
}

/**
 * Per account, and per (account, camera serial) seen in the account's newest HISTORY_SIZE images:
 * when it last sent, how often it should (the account's `expectEvery`, else learned from its history
 * by learnedCadenceMs), whether it is quiet, its images today and its clock drift. Everything is read
 * through the ImageIndex port, so it works on either index. The index reads are reused for cacheMs,
 * so a dashboard refreshing costs nothing; silence is measured against the clock on every call.
 *
 * A serial that has fallen out of the newest images (a quiet camera beside busy ones) keeps its row
 * from what this process saw of it earlier; after a restart it shows again when it next sends.
 */
export class SourceHealth implements SourceHealthReporter {
  private readonly cacheMs: number;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;
  private observation: Observation | null = null;
  private reading: Promise<Observation> | null = null;
  /** Serials seen earlier, by account then serial. */
  private readonly serials = new Map<string, Map<string, Observed>>();

  constructor(
    private readonly deps: SourceHealthDeps,
    options: SourceHealthOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? SOURCE_HEALTH_CACHE_MS;
    this.now = options.now ?? Date.now;
    this.logger = deps.logger?.child({ component: 'source-health' });
    scraped = this;
  }

  async report(): Promise<SourceHealthReport> {
    const observation = await this.observe();
    const now = this.now();
    const configured = new Map(this.deps.accounts.list().map((a) => [a.name, expectedEveryMs(a)]));
    const items = observation.sources
      .filter((source) => configured.has(source.account))
      .map((source): SourceHealthEntry => {
        const expected = configured.get(source.account) ?? source.learnedMs;
        const silentForMs = source.lastSeenMs === null ? null : Math.max(0, now - source.lastSeenMs);
        return {
          account: source.account,
          serial: source.serial,
          lastSeenAt: source.lastSeenMs === null ? null : new Date(source.lastSeenMs).toISOString(),
          expectedEveryMs: expected,
          cadence: configured.get(source.account) != null ? 'configured' : source.learnedMs !== null ? 'learned' : 'unknown',
          quiet: expected !== null && silentForMs !== null && silentForMs > expected,
          silentForMs,
          imagesToday: source.imagesToday,
          imagesTodayRelation: source.imagesTodayRelation,
          clockDriftMs: source.clockDriftMs,
        };
      });
    const report = { checkedAt: new Date(now).toISOString(), observedAt: new Date(observation.at).toISOString(), items };
    if (scraped === this) publish(report);
    return report;
  }

  /** For a metrics scrape: a failing index leaves the gauges as they were and costs a log line, not the scrape. */
  async scrape(): Promise<void> {
    await this.report().catch((error: unknown) => this.logger?.warn({ err: errorMessage(error) }, 'source health not read for metrics'));
  }

  /** The index reads, at most cacheMs old; callers arriving while they run share them. */
  private async observe(): Promise<Observation> {
    if (this.observation && this.now() - this.observation.at < this.cacheMs) return this.observation;
    this.reading ??= this.read().finally(() => {
      this.reading = null;
    });
    this.observation = await this.reading;
    return this.observation;
  }

  private async read(): Promise<Observation> {
    const at = this.now();
    const midnight = new Date(Math.floor(at / DAY_MS) * DAY_MS);
    const sources: Observed[] = [];
    // One account at a time: a report must not put the index under a burst of parallel queries.
    for (const account of this.deps.accounts.list()) sources.push(...(await this.readAccount(account.name, midnight)));
    return { at, sources };
  }

  private async readAccount(account: string, midnight: Date): Promise<Observed[]> {
    const sort = { field: 'receivedAt', order: 'desc' } as const;
    const history = await this.deps.index.search({ account, sort, page: 1, size: HISTORY_SIZE });
    const today = await this.deps.index.search({ account, receivedFrom: midnight, sort, page: 1, size: 1 });
    const receipts = history.items.map((doc) => receiptOf(doc, account)).sort((a, b) => b.at - a.at);
    const whole = observed(account, null, receipts, midnight.getTime());
    const rows: Observed[] = [{ ...whole, imagesToday: today.total, imagesTodayRelation: today.totalRelation }];

    // The newest images reach back to midnight, or are all there is: every serial's count today is in them.
    const reachesMidnight = history.items.length < HISTORY_SIZE || receipts[receipts.length - 1].at < midnight.getTime();
    const bySerial = new Map<string, Receipt[]>();
    for (const receipt of receipts) {
      if (receipt.serial !== null) bySerial.set(receipt.serial, [...(bySerial.get(receipt.serial) ?? []), receipt]);
    }
    const remembered = this.serials.get(account) ?? new Map<string, Observed>();
    for (const [serial, own] of bySerial) {
      remembered.set(serial, { ...observed(account, serial, own, midnight.getTime()), imagesTodayRelation: reachesMidnight ? 'eq' : 'gte' });
    }
    for (const [serial, earlier] of remembered) {
      // Out of the window: nothing newer from it, and what it sent today was counted then, if still today.
      if (!bySerial.has(serial) && earlier.lastSeenMs !== null && earlier.lastSeenMs < midnight.getTime()) {
        remembered.set(serial, { ...earlier, imagesToday: 0, imagesTodayRelation: 'eq' });
      }
    }
    this.serials.set(account, remembered);
    rows.push(...[...remembered.values()].sort((a, b) => (a.serial! < b.serial! ? -1 : 1)));
    return rows;
  }
}

function observed(account: string, serial: string | null, receipts: Receipt[], midnight: number): Observed {
  const drifts = receipts.flatMap((r) => (r.driftMs === null ? [] : [r.driftMs]));
  return {
    account,
    serial,
    lastSeenMs: receipts[0]?.at ?? null,
    learnedMs: learnedCadenceMs(receipts.map((r) => r.at)),
    imagesToday: receipts.filter((r) => r.at >= midnight).length,
    imagesTodayRelation: 'eq',
    clockDriftMs: median(drifts),
  };
}
