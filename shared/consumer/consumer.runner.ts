import { setTimeout as sleep } from 'node:timers/promises';
import { SCHEMAS, type EventByRole, type FailedImage, type FailureStage, type ImageFailedEvent, type ImageSource, type TopicRole } from '../contracts/events';
import { eventProblems } from '../contracts/validate';
import { IngestError, errorMessage, isProgrammingError, isRetriable, type ErrorCode } from '../errors';
import type { Logger } from '../logging';
import { deadLetters } from '../metrics';
import type { BusMessage, DeliveryContext, EventBus, Subscription } from '../ports/event-bus.port';
import { backoffDelay } from '../retry';
import { startSpan, type TraceContext } from '../tracing';

/** What a handler made of a message. Expected outcomes are values; a throw is for the unexpected. */
export type HandlerOutcome =
  | { status: 'processed' }
  | { status: 'skipped'; reason: string }
  /** Permanent: the runner publishes a dead letter (with `image` when the original could still be described) and commits. */
  | { status: 'failed'; error: IngestError; image?: FailedImage };

/** What a handler holds besides the message: the delivery, and the trace it continues. */
export interface HandlerContext extends DeliveryContext {
  /** The message's trace, continued by this handler: its id for log lines, its headers for what the handler publishes. */
  trace: TraceContext;
}

export interface ConsumerSpec<R extends TopicRole> {
  /** Which stage the dead letters name. */
  stage: FailureStage;
  group: string;
  topic: string;
  /** The topic's event type: every message is checked against its JSON Schema before the handler sees it. */
  role: R;
  concurrency?: number;
  handle(event: EventByRole[R], message: BusMessage<EventByRole[R]>, context: HandlerContext): Promise<HandlerOutcome>;
}

export interface RetryPolicy {
  /** First backoff; each further attempt doubles it up to `maxDelayMs`, with jitter. */
  initialDelayMs: number;
  maxDelayMs: number;
}

export interface ConsumerRunnerDeps {
  bus: EventBus;
  /** The dead-letter topic (images.failed). Its own consumers never dead-letter into it again. */
  failedTopic: string;
  retry: RetryPolicy;
  logger: Logger;
}

/** How often the runner tells the group it is alive while a handler or a backoff runs; the adapter throttles further. */
const HEARTBEAT_EVERY_MS = 1_000;

/** Stands in for a source when an invalid event carries none that validates, so the dead letter still does. */
function sourceOf(value: unknown, failedAt: string): ImageSource {
  const candidate = (value as { source?: unknown } | null)?.source;
  const probe = { schema: SCHEMAS.failed, id: null, stage: 'ingest', error: { code: 'X', message: '' }, attempts: 1, source: candidate, failedAt };
  if (eventProblems('failed', probe) === null) return candidate as ImageSource;
  return { protocol: 'cli', account: '', path: '', remoteAddress: null, receivedAt: failedAt };
}

function idOf(value: unknown): string | null {
  const id = (value as { id?: unknown } | null)?.id;
  return typeof id === 'string' && /^[0-9a-f]{64}$/.test(id) ? id : null;
}

/**
 * The one place that decides what happens to a consumed message, for every handler on either bus:
 * commit (processed, skipped), retry a retriable error with capped exponential backoff and jitter
 * while heartbeating (the member keeps its partitions, other partitions carry on), or publish a
 * dead letter with the real attempt count and commit (permanent errors, programming errors, events
 * that fail their schema). Retrying is this layer's job: the adapters below keep their own client
 * retries short, so an outage is not retried by four layers at once.
 */
export class ConsumerRunner {
  private readonly logger: Logger;

  constructor(private readonly deps: ConsumerRunnerDeps) {
    this.logger = deps.logger.child({ component: 'consumer' });
  }

  start<R extends TopicRole>(spec: ConsumerSpec<R>): Promise<Subscription> {
    return this.deps.bus.subscribe<EventByRole[R]>({
      group: spec.group,
      topics: [spec.topic],
      concurrency: spec.concurrency,
      handle: (message, context) => this.run(spec, message, context),
    });
  }

  /** Resolves when the message may be committed; rejects only when the delivery was called off. */
  async run<R extends TopicRole>(spec: ConsumerSpec<R>, message: BusMessage<EventByRole[R]>, delivery: DeliveryContext): Promise<void> {
    const span = startSpan(`${spec.stage} ${message.topic}`, {
      kind: 'consumer',
      parent: message.headers,
      attributes: { 'messaging.destination.name': message.topic, 'messaging.consumer.group.name': spec.group, 'messaging.message.id': message.key },
    });
    const context: HandlerContext = { ...delivery, trace: { traceId: span.traceId, headers: span.headers } };
    let failure: unknown;
    try {
      await this.attempt(spec, message, context);
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      span.end(failure);
    }
  }

  private async attempt<R extends TopicRole>(spec: ConsumerSpec<R>, message: BusMessage<EventByRole[R]>, context: HandlerContext): Promise<void> {
    const where = { group: spec.group, topic: message.topic, partition: message.partition, offset: message.offset, key: message.key, traceId: context.trace.traceId };
    const problems = eventProblems(spec.role, message.value);
    if (problems) {
      const error = new IngestError('INVALID_EVENT', `not a valid ${SCHEMAS[spec.role]} event: ${problems}`);
      return this.deadLetter(spec, message, context, { error, attempts: 1 });
    }
    for (let attempt = 1; ; attempt++) {
      let outcome: HandlerOutcome;
      try {
        outcome = await this.whileHeartbeating(context, () => spec.handle(message.value, message, context));
      } catch (error) {
        if (context.signal.aborted) throw error;
        if (!isRetriable(error)) {
          return this.deadLetter(spec, message, context, { error: this.permanent(error), attempts: attempt });
        }
        const delayMs = this.backoff(attempt);
        this.logger.warn({ ...where, attempt, delayMs, err: errorMessage(error) }, 'transient failure, retrying');
        await this.whileHeartbeating(context, () => sleep(delayMs, undefined, { signal: context.signal }).catch(() => undefined));
        if (context.signal.aborted) throw new IngestError('SHUTTING_DOWN', 'delivery called off', { retriable: true });
        continue;
      }
      if (outcome.status === 'failed') return this.deadLetter(spec, message, context, { error: outcome.error, image: outcome.image, attempts: attempt });
      if (outcome.status === 'skipped') this.logger.debug({ ...where, reason: outcome.reason }, 'message skipped');
      return;
    }
  }

  private permanent(error: unknown): IngestError {
    if (error instanceof IngestError) return error;
    const code: ErrorCode = 'INTERNAL_ERROR';
    // A programming error would fail again on every delivery and block its key for good.
    this.logger.error({ err: errorMessage(error), stack: isProgrammingError(error) ? (error as Error).stack : undefined }, 'handler bug; message dead-lettered');
    return new IngestError(code, errorMessage(error), { cause: error });
  }

  private backoff(attempt: number): number {
    return backoffDelay(attempt, this.deps.retry.initialDelayMs, this.deps.retry.maxDelayMs);
  }

  /** Publishes the dead letter (retrying an outage like any other transient failure), after which the message is committed. */
  private async deadLetter<R extends TopicRole>(
    spec: ConsumerSpec<R>,
    message: BusMessage<EventByRole[R]>,
    context: HandlerContext,
    failure: { error: IngestError; attempts: number; image?: FailedImage },
  ): Promise<void> {
    const log = this.logger.child({
      group: spec.group,
      topic: message.topic,
      partition: message.partition,
      offset: message.offset,
      imageId: idOf(message.value),
      traceId: context.trace.traceId,
    });
    log.warn({ code: failure.error.code, attempts: failure.attempts, err: failure.error.message }, 'message dead-lettered');
    if (message.topic === this.deps.failedTopic) return; // a dead letter about a dead letter would loop
    deadLetters.inc({ stage: spec.stage, code: failure.error.code });
    const failedAt = new Date().toISOString();
    const dead: ImageFailedEvent = {
      schema: SCHEMAS.failed,
      id: idOf(message.value),
      stage: spec.stage,
      error: { code: failure.error.code, message: failure.error.message },
      attempts: failure.attempts,
      source: sourceOf(message.value, failedAt),
      failedAt,
      ...(failure.image ? { image: failure.image } : {}),
      origin: { topic: message.topic, partition: message.partition, offset: message.offset },
    };
    for (let attempt = 1; ; attempt++) {
      try {
        await this.whileHeartbeating(context, () => this.deps.bus.publish(this.deps.failedTopic, dead.id ?? message.key, dead, context.trace.headers));
        return;
      } catch (error) {
        if (context.signal.aborted) throw error;
        const delayMs = this.backoff(attempt);
        log.warn({ attempt, delayMs, err: errorMessage(error) }, 'dead letter not published, retrying');
        await this.whileHeartbeating(context, () => sleep(delayMs, undefined, { signal: context.signal }).catch(() => undefined));
      }
    }
  }

  private async whileHeartbeating<T>(context: DeliveryContext, work: () => Promise<T>): Promise<T> {
    const beat = setInterval(() => void context.heartbeat().catch(() => undefined), HEARTBEAT_EVERY_MS);
    try {
      return await work();
    } finally {
      clearInterval(beat);
    }
  }
}
