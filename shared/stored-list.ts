import type { ZodType } from 'zod';
import { IngestError, errorMessage } from './errors';
import type { Logger } from './logging';

/**
 * Parses a list kept as one JSON object in the store (accounts, API keys); a bad object is a
 * configuration error naming the object and the first bad field.
 */
export function parseStoredList<T>(bytes: Buffer, schema: ZodType<T[], any, unknown>, what: string): T[] {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch (error) {
    throw new IngestError('INVALID_CONFIG', `${what} are not valid JSON: ${errorMessage(error)}`, { cause: error });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new IngestError('INVALID_CONFIG', `${what}: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  return parsed.data;
}

/**
 * Runs `refresh` every `everyMs`, each run starting after the previous one ended (a slow store
 * never stacks reads). A failing run keeps what the caller had; it is logged once per outage, not
 * once per tick, and again when reads work.
 */
export class PolledRefresh {
  private timer: NodeJS.Timeout | null = null;
  private inFlight: Promise<void> | null = null;
  private failing = false;

  constructor(
    private readonly what: string,
    private readonly refresh: () => Promise<void>,
    private readonly everyMs: number,
    private readonly logger: Logger | undefined,
    private readonly context: object = {},
  ) {}

  start(): void {
    this.timer ??= this.schedule();
  }

  /** Ends the polling and waits for a read in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.inFlight;
  }

  private schedule(): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.inFlight = this.refresh().then(
        () => {
          if (this.failing) this.logger?.info(this.context, `${this.what} readable again`);
          this.failing = false;
        },
        (error: unknown) => {
          if (!this.failing) this.logger?.warn({ ...this.context, err: errorMessage(error) }, `cannot refresh ${this.what}; keeping the last good list`);
          this.failing = true;
        },
      );
      void this.inFlight.finally(() => {
        this.inFlight = null;
        if (this.timer === timer) this.timer = this.schedule();
      });
    }, this.everyMs);
    // Refreshing must never keep a process alive that has nothing else to do.
    timer.unref();
    return timer;
  }
}
