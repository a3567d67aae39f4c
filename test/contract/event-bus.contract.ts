import { randomUUID } from 'node:crypto';
import type { BusMessage, EventBus, Subscription } from '../../shared/ports/event-bus.port';
import { waitFor } from '../helpers/wait';

export interface EventBusHarness {
  /** A client of the bus; several clients of one harness share its storage, like processes on one broker. */
  open(): Promise<EventBus>;
  /** A client of a bus that cannot be reached (no broker there, or a closed log). */
  unreachable(): Promise<EventBus>;
  cleanup(): Promise<void>;
}

interface Value {
  n: number;
}

/** One behaviour spec for every EventBus adapter. */
export function eventBusContract(name: string, makeHarness: () => Promise<EventBusHarness>): void {
  describe(`EventBus contract: ${name}`, () => {
    let harness: EventBusHarness;
    const open: EventBus[] = [];
    const subscriptions: Subscription[] = [];
    const topic = () => `contract.${randomUUID().slice(0, 8)}`;
    const group = () => `group-${randomUUID().slice(0, 8)}`;

    async function client(): Promise<EventBus> {
      const bus = await harness.open();
      open.push(bus);
      return bus;
    }

    async function collect(bus: EventBus, options: { topic: string; group: string; concurrency?: number; handle?: (m: BusMessage<Value>) => Promise<void> }) {
      const seen: BusMessage<Value>[] = [];
      const subscription = await bus.subscribe<Value>({
        group: options.group,
        topics: [options.topic],
        concurrency: options.concurrency,
        handle: async (message) => {
          await options.handle?.(message);
          seen.push(message);
        },
      });
      subscriptions.push(subscription);
      return { seen, subscription };
    }

    beforeAll(async () => {
      harness = await makeHarness();
    });

    afterEach(async () => {
      await Promise.all(subscriptions.splice(0).map((s) => s.stop()));
      await Promise.all(open.splice(0).map((b) => b.close()));
    });

    afterAll(async () => {
      await harness.cleanup();
    });

    it('delivers every message with its key and value, in order per key', async () => {
      const bus = await client();
      const t = topic();
      for (let n = 0; n < 6; n++) await bus.publish(t, n % 2 === 0 ? 'even' : 'odd', { n });
      const { seen } = await collect(bus, { topic: t, group: group(), concurrency: 4 });
      await waitFor(() => seen.length === 6, 30_000, 'six messages');
      expect(seen.map((m) => m.topic)).toEqual(Array(6).fill(t));
      const byKey = (key: string) => seen.filter((m) => m.key === key).map((m) => m.value.n);
      expect(byKey('even')).toEqual([0, 2, 4]);
      expect(byKey('odd')).toEqual([1, 3, 5]);
    });

    it('lets clients that start together on a new topic all subscribe and publish', async () => {
      // Replicas of a service start at the same moment: one creates the topic while the others find it half made.
      const buses = await Promise.all(Array.from({ length: 4 }, () => client()));
      const t = topic();
      const consumers = await Promise.all(buses.map((bus) => collect(bus, { topic: t, group: group() })));
      await Promise.all(buses.map((bus, n) => bus.publish(t, `k${n}`, { n })));
      await waitFor(() => consumers.every((c) => c.seen.length === 4), 30_000, 'every message in every group');
      for (const c of consumers) expect(c.seen.map((m) => m.value.n).sort()).toEqual([0, 1, 2, 3]);
    });

    it('gives every consumer group the whole topic', async () => {
      const bus = await client();
      const t = topic();
      await bus.publish(t, 'k', { n: 1 });
      await bus.publish(t, 'k', { n: 2 });
      const a = await collect(bus, { topic: t, group: group() });
      const b = await collect(bus, { topic: t, group: group() });
      await waitFor(() => a.seen.length === 2 && b.seen.length === 2, 30_000, 'both groups');
      expect(a.seen.map((m) => m.value.n)).toEqual([1, 2]);
      expect(b.seen.map((m) => m.value.n)).toEqual([1, 2]);
    });

    it('delivers messages published after the consumer started', async () => {
      const bus = await client();
      const t = topic();
      await bus.publish(t, 'k', { n: 0 });
      const { seen } = await collect(bus, { topic: t, group: group() });
      await waitFor(() => seen.length === 1, 30_000, 'first message');
      await bus.publish(t, 'k', { n: 1 });
      await waitFor(() => seen.length === 2, 30_000, 'message published later');
      expect(seen.map((m) => m.value.n)).toEqual([0, 1]);
    });

    it('redelivers a message whose handler failed, and only then moves on', async () => {
      const bus = await client();
      const t = topic();
      await bus.publish(t, 'k', { n: 1 });
      await bus.publish(t, 'k', { n: 2 });
      let failures = 0;
      const attempts: number[] = [];
      const { seen } = await collect(bus, {
        topic: t,
        group: group(),
        handle: async (m) => {
          attempts.push(m.value.n);
          if (m.value.n === 1 && failures++ < 2) throw new Error('transient');
        },
      });
      await waitFor(() => seen.length === 2, 30_000, 'both messages after retries');
      expect(attempts).toEqual([1, 1, 1, 2]);
    });

    it('never handles two messages of one key at the same time', async () => {
      const bus = await client();
      const t = topic();
      for (let n = 0; n < 8; n++) await bus.publish(t, `k${n % 2}`, { n });
      const active = new Set<string>();
      let overlap = false;
      let concurrent = 0;
      let maxConcurrent = 0;
      const { seen } = await collect(bus, {
        topic: t,
        group: group(),
        concurrency: 4,
        handle: async (m) => {
          if (active.has(m.key)) overlap = true;
          active.add(m.key);
          maxConcurrent = Math.max(maxConcurrent, ++concurrent);
          await new Promise((r) => setTimeout(r, 30));
          concurrent--;
          active.delete(m.key);
        },
      });
      await waitFor(() => seen.length === 8, 30_000, 'eight messages');
      expect(overlap).toBe(false);
      expect(maxConcurrent).toBeLessThanOrEqual(2);
    });

    it('after a restart, redelivers what was not committed and nothing that was', async () => {
      const t = topic();
      const g = group();
      const first = await client();
      for (let n = 1; n <= 3; n++) await first.publish(t, 'k', { n });
      let release!: () => void;
      const blocked = new Promise<void>((r) => (release = r));
      const run1 = await collect(first, {
        topic: t,
        group: g,
        handle: async (m) => {
          // The "crash": message 2 never finishes in this run.
          if (m.value.n === 2) {
            await blocked;
            throw new Error('process died');
          }
        },
      });
      await waitFor(() => run1.seen.length === 1, 30_000, 'first message handled');
      const stopping = run1.subscription.stop();
      release();
      await stopping;
      subscriptions.splice(subscriptions.indexOf(run1.subscription), 1);

      const second = await client();
      const run2 = await collect(second, { topic: t, group: g });
      await waitFor(() => run2.seen.length === 2, 30_000, 'uncommitted messages');
      expect(run1.seen.map((m) => m.value.n)).toEqual([1]);
      expect(run2.seen.map((m) => m.value.n)).toEqual([2, 3]);
    });

    it('answers a ping when reachable, and fails one retriably with BUS_UNAVAILABLE when not', async () => {
      await expect((await client()).ping()).resolves.toBeUndefined();
      const down = await harness.unreachable();
      open.push(down);
      await expect(down.ping()).rejects.toMatchObject({ name: 'IngestError', code: 'BUS_UNAVAILABLE', retriable: true });
    });

    it("reports a group's lag per partition: all of it before consuming, none after committing", async () => {
      const bus = await client();
      const t = topic();
      const g = group();
      for (let n = 0; n < 3; n++) await bus.publish(t, `k${n}`, { n });
      const before = await bus.lag(g, [t]);
      expect(before.length).toBeGreaterThan(0);
      expect(before.every((p) => p.topic === t && p.committed === null)).toBe(true);
      expect(before.reduce((sum, p) => sum + p.lag, 0)).toBe(3);

      const { seen } = await collect(bus, { topic: t, group: g });
      await waitFor(() => seen.length === 3, 30_000, 'three messages');
      // The commit follows the handler; lag reaches zero once every commit has landed.
      await waitFor(async () => (await bus.lag(g, [t])).reduce((sum, p) => sum + p.lag, 0) === 0, 30_000, 'lag zero');
      const after = await bus.lag(g, [t]);
      for (const p of after) if (p.committed !== null) expect(p.committed).toBe(p.end);
    });

    it('carries headers from publish to the consumer, and none when none were sent', async () => {
      const bus = await client();
      const t = topic();
      const traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';
      await bus.publish(t, 'k', { n: 1 }, { traceparent });
      await bus.publish(t, 'k', { n: 2 });
      const { seen } = await collect(bus, { topic: t, group: group() });
      await waitFor(() => seen.length === 2, 30_000, 'two messages');
      expect(seen.map((m) => m.headers)).toEqual([{ traceparent }, {}]);
    });
  });
}
