import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { ConsumerRunner, type HandlerOutcome } from '../../shared/consumer/consumer.runner';
import type { ImageFailedEvent, ImageIngestedEvent } from '../../shared/contracts/events';
import { IngestError } from '../../shared/errors';
import type { EventBus, Subscription } from '../../shared/ports/event-bus.port';
import { fakeId, source } from '../helpers/events';
import { assertEvent } from '../helpers/schemas';
import { waitFor } from '../helpers/wait';
import type { EventBusHarness } from './event-bus.contract';

export interface RunnerContractOptions {
  /** A wait longer than this would cost a member without heartbeats its group (Kafka); 0 where there is no group. */
  sessionTimeoutMs: number;
}

function ingested(id = fakeId(), path = '/IMG.JPG'): ImageIngestedEvent {
  const key = `originals/${id.slice(0, 2)}/${id.slice(2, 4)}/${id}.jpg`;
  return {
    schema: 'images.ingested/v1',
    id,
    receivedAt: '2025-03-01T10:00:00.000Z',
    source: source({ path }),
    original: { key, bytes: 10, contentType: 'image/jpeg', location: { store: 'local', bucket: null, key, url: `file:///${key}` } },
  };
}

const transient = () => new IngestError('STORE_UNAVAILABLE', 'store down', { retriable: true });

/** The one consumer runner's decisions (commit, retry, dead letter), the same on every bus. */
export function consumerRunnerContract(name: string, makeHarness: () => Promise<EventBusHarness>, options: RunnerContractOptions): void {
  describe(`ConsumerRunner on ${name}`, () => {
    let harness: EventBusHarness;
    let bus: EventBus;
    const subscriptions: Subscription[] = [];
    let topics: { ingested: string; failed: string };
    const group = () => `runner-${randomUUID().slice(0, 8)}`;

    beforeAll(async () => {
      harness = await makeHarness();
    });

    beforeEach(async () => {
      bus = await harness.open();
      const run = randomUUID().slice(0, 8);
      topics = { ingested: `runner.${run}.ingested`, failed: `runner.${run}.failed` };
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await bus.close();
    });

    afterAll(async () => {
      await harness.cleanup();
    });

    function runner(retry = { initialDelayMs: 50, maxDelayMs: 400 }) {
      return new ConsumerRunner({ bus, failedTopic: topics.failed, retry, logger: pino({ level: 'silent' }) });
    }

    async function consume(handle: (event: ImageIngestedEvent) => Promise<HandlerOutcome>, concurrency = 1, retry?: { initialDelayMs: number; maxDelayMs: number }) {
      const subscription = await runner(retry).start({ stage: 'processor', group: group(), topic: topics.ingested, role: 'ingested', concurrency, handle: (event) => handle(event) });
      subscriptions.push(subscription);
    }

    async function deadLetters(): Promise<ImageFailedEvent[]> {
      const seen: ImageFailedEvent[] = [];
      subscriptions.push(
        await bus.subscribe<ImageFailedEvent>({
          group: group(),
          topics: [topics.failed],
          handle: async ({ value }) => {
            assertEvent('failed', value);
            seen.push(value);
          },
        }),
      );
      return seen;
    }

    it('commits processed and skipped messages once and moves on', async () => {
      const events = [ingested(), ingested(), ingested()];
      for (const e of events) await bus.publish(topics.ingested, e.id, e);
      const handled: string[] = [];
      await consume(async (event) => {
        handled.push(event.id);
        return event.id === events[1].id ? { status: 'skipped', reason: 'already done' } : { status: 'processed' };
      });
      const dead = await deadLetters();
      await waitFor(() => handled.length === 3, 30_000, 'three messages');
      const sentinel = ingested();
      await bus.publish(topics.ingested, sentinel.id, sentinel);
      await waitFor(() => handled.includes(sentinel.id), 30_000, 'a later message');
      // Order holds per key only: on Kafka these keys sit on different partitions.
      expect(handled.sort()).toEqual([...events.map((e) => e.id), sentinel.id].sort());
      expect(dead).toEqual([]);
    });

    it('retries a transient failure with backoff until it succeeds, without a dead letter', async () => {
      const event = ingested();
      await bus.publish(topics.ingested, event.id, event);
      let attempts = 0;
      await consume(async () => (++attempts < 4 ? Promise.reject(transient()) : { status: 'processed' }));
      const dead = await deadLetters();
      await waitFor(() => attempts === 4, 30_000, 'four attempts');
      const after = ingested();
      await bus.publish(topics.ingested, after.id, after);
      await waitFor(() => attempts === 5, 30_000, 'the next message');
      expect(dead).toEqual([]);
    });

    it('dead-letters a permanent failure with its code, stage, real attempt count and what could be read of the image', async () => {
      const bad = ingested();
      const good = ingested();
      await bus.publish(topics.ingested, bad.id, bad);
      await bus.publish(topics.ingested, good.id, good);
      let badAttempts = 0;
      const processed: string[] = [];
      await consume(async (event) => {
        if (event.id !== bad.id) {
          processed.push(event.id);
          return { status: 'processed' };
        }
        if (++badAttempts < 3) throw transient();
        return { status: 'failed', error: new IngestError('CORRUPT_IMAGE', 'premature end of JPEG'), image: { receivedAt: event.receivedAt, original: event.original, camera: { make: 'Olympus', model: 'D-320L', serial: null } } };
      });
      const dead = await deadLetters();
      await waitFor(() => dead.length === 1 && processed.length === 1, 30_000, 'dead letter and the next message');
      expect(dead[0]).toMatchObject({
        id: bad.id,
        stage: 'processor',
        error: { code: 'CORRUPT_IMAGE', message: 'premature end of JPEG' },
        attempts: 3,
        source: bad.source,
        image: { original: bad.original, camera: { make: 'Olympus' } },
        origin: { topic: topics.ingested },
      });
    });

    it('treats thrown permanent errors and programming errors as permanent, not as outages', async () => {
      const [a, b] = [ingested(), ingested()];
      await bus.publish(topics.ingested, a.id, a);
      await bus.publish(topics.ingested, b.id, b);
      const calls: string[] = [];
      await consume(async (event) => {
        calls.push(event.id);
        if (event.id === a.id) throw new IngestError('PIXEL_LIMIT', 'too many pixels');
        return (event as unknown as { nothing: { here: string } }).nothing.here as never; // a TypeError
      });
      const dead = await deadLetters();
      await waitFor(() => dead.length === 2, 30_000, 'two dead letters');
      expect(calls.sort()).toEqual([a.id, b.id].sort());
      expect(Object.fromEntries(dead.map((d) => [d.id, [d.error.code, d.attempts]]))).toEqual({
        [a.id]: ['PIXEL_LIMIT', 1],
        [b.id]: ['INTERNAL_ERROR', 1],
      });
    });

    it('dead-letters an event that fails its JSON Schema without calling the handler', async () => {
      const id = fakeId();
      await bus.publish(topics.ingested, id, { schema: 'images.ingested/v1', id, source: { account: 'cam1' } });
      const good = ingested();
      await bus.publish(topics.ingested, good.id, good);
      const calls: string[] = [];
      await consume(async (event) => {
        calls.push(event.id);
        return { status: 'processed' };
      });
      const dead = await deadLetters();
      await waitFor(() => dead.length === 1 && calls.length === 1, 30_000, 'dead letter and the valid message');
      expect(calls).toEqual([good.id]);
      expect(dead[0]).toMatchObject({ id, stage: 'processor', error: { code: 'INVALID_EVENT' }, attempts: 1 });
      expect(dead[0].error.message).toMatch(/receivedAt|original/);
    });

    it('keeps other keys moving while one key waits out an outage', async () => {
      const stuck = ingested();
      await bus.publish(topics.ingested, stuck.id, stuck);
      const others = Array.from({ length: 4 }, () => ingested());
      for (const e of others) await bus.publish(topics.ingested, e.id, e);
      let healed = false;
      const processed: string[] = [];
      await consume(async (event) => {
        if (event.id === stuck.id && !healed) throw transient();
        processed.push(event.id);
        return { status: 'processed' };
      }, 4);
      // On Kafka the other keys must sit on other partitions; the harness's topics have three.
      await waitFor(() => processed.length >= 1, 30_000, 'another key processed while one retries');
      healed = true;
      await waitFor(() => processed.includes(stuck.id), 30_000, 'the stuck key after the outage');
    });

    if (options.sessionTimeoutMs > 0) {
      it('keeps its group membership through an outage longer than the session timeout and handles the message once', async () => {
        const event = ingested();
        await bus.publish(topics.ingested, event.id, event);
        const outageEnds = Date.now() + options.sessionTimeoutMs + 4_000;
        let successes = 0;
        let attempts = 0;
        await consume(async () => {
          attempts++;
          if (Date.now() < outageEnds) throw transient();
          successes++;
          return { status: 'processed' };
        }, 1, { initialDelayMs: 500, maxDelayMs: 2_000 });
        await waitFor(() => successes === 1, options.sessionTimeoutMs + 30_000, 'success after the outage');
        const next = ingested();
        await bus.publish(topics.ingested, next.id, next);
        await waitFor(() => successes === 2, 30_000, 'the next message');
        // An evicted member's commit fails and the message is handled again.
        expect(successes).toBe(2);
        expect(attempts).toBeGreaterThan(3);
      }, 90_000);
    }
  });
}
