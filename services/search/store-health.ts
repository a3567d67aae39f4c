import { IngestError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { storeUp } from '../../shared/metrics';
import type { NamedStore } from '../../shared/ports/object-store.port';

export interface StoreHealthOptions {
  /** Every configured store, the primary first. */
  stores: readonly NamedStore[];
  /** Time between heartbeats. */
  intervalMs: number;
  /** A ping that has not answered by then is a failed heartbeat. */
  timeoutMs: number;
  /** Failed heartbeats in a row before an up store is marked down; one blip does not reorder reads. */
  downAfter: number;
  /** Answered heartbeats in a row before a down store is marked up again; a flapping store stays last. */
  upAfter: number;
  logger: Logger;
}

/** What the health check knows of one store. */
export interface StoreState {
  name: string;
  region: string;
  role: NamedStore['role'];
  up: boolean;
  /** When the store was last marked up or down (ISO 8601); the start for a store never marked. */
  since: string;
  /** Heartbeats in a row that went the other way than `up`: they count towards the hysteresis. */
  streak: number;
  /** The last failed heartbeat's error code (TIMEOUT when it did not answer), null after an answer. */
  lastError: string | null;
}

const TIMEOUT = Symbol('timeout');

/**
 * A heartbeat per store in the background (each store's `ping()` with a timeout, every `intervalMs`),
 * as the design's image servers had: reads go to stores marked up first, /readyz and the
 * image_ingest_store_up gauge show the marks. Stores count as up until heartbeats say otherwise.
 */
export class StoreHealth {
  private readonly logger: Logger;
  private readonly states: Map<string, StoreState>;
  private timer: NodeJS.Timeout | null = null;
  private round: Promise<void> | null = null;

  constructor(private readonly options: StoreHealthOptions) {
    this.logger = options.logger.child({ component: 'store-health' });
    const since = new Date().toISOString();
    this.states = new Map(options.stores.map((s) => [s.name, { name: s.name, region: s.region, role: s.role, up: true, since, streak: 0, lastError: null }]));
    for (const state of this.states.values()) storeUp.set({ store: state.name, region: state.region }, 1);
  }

  /** Checks every store now, then every `intervalMs` until stopped. */
  start(): void {
    if (this.timer) return;
    void this.check();
    this.timer = setInterval(() => void this.check(), this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.round;
  }

  /** One heartbeat of every store, in parallel; a round still running (a slow store) is joined, not doubled. */
  check(): Promise<void> {
    this.round ??= Promise.all(this.options.stores.map((s) => this.beat(s))).then(() => {
      this.round = null;
    });
    return this.round;
  }

  isUp(name: string): boolean {
    return this.states.get(name)?.up ?? false;
  }

  /** Each store's state, in config order (primary first). */
  report(): StoreState[] {
    return [...this.states.values()].map((s) => ({ ...s }));
  }

  /** For /readyz of a process that only reads: resolves while at least one store is marked up. */
  async anyReadable(): Promise<void> {
    if ([...this.states.values()].some((s) => s.up)) return;
    throw new IngestError('STORE_UNAVAILABLE', `no store answers its heartbeat: ${this.report().map((s) => `${s.name} ${s.lastError}`).join(', ')}`, { retriable: true });
  }

  private async beat(store: NamedStore): Promise<void> {
    const state = this.states.get(store.name)!;
    const error = await this.ping(store);
    const answered = error === null;
    state.lastError = error;
    if (answered === state.up) {
      state.streak = 0;
      return;
    }
    state.streak += 1;
    if (state.streak < (state.up ? this.options.downAfter : this.options.upAfter)) return;
    state.up = answered;
    state.streak = 0;
    state.since = new Date().toISOString();
    storeUp.set({ store: state.name, region: state.region }, answered ? 1 : 0);
    const context = { store: state.name, region: state.region, role: state.role };
    if (answered) this.logger.info(context, 'store up again: reads may go to it');
    else this.logger.warn({ ...context, err: error }, 'store down: reads go to the other copies first');
  }

  /** null when the store answered in time, else the error code (TIMEOUT when it did not answer). */
  private async ping(store: NamedStore): Promise<string | null> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<typeof TIMEOUT>((resolve) => (timer = setTimeout(() => resolve(TIMEOUT), this.options.timeoutMs)));
    try {
      const result = await Promise.race([store.store.ping(), timeout]);
      return result === TIMEOUT ? 'TIMEOUT' : null;
    } catch (error) {
      this.logger.debug({ store: store.name, err: errorMessage(error) }, 'heartbeat failed');
      return error instanceof IngestError ? error.code : 'UNAVAILABLE';
    } finally {
      clearTimeout(timer);
    }
  }
}
