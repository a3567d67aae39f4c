import { createHash } from 'node:crypto';
import type { BusMessage } from '../../shared/ports/event-bus.port';
import { cameraJpeg } from '../helpers/fixtures';
import { undecodableJpeg } from '../helpers/undecodable';
import { startTestApp, type TestApp } from '../helpers/app';
import { waitFor } from '../helpers/wait';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** traceparent: version-traceid-parentid-flags (W3C Trace Context). */
const traceIdOf = (m: BusMessage<unknown>) => m.headers.traceparent?.split('-')[1];
const spanIdOf = (m: BusMessage<unknown>) => m.headers.traceparent?.split('-')[2];

/**
 * Without an OTLP endpoint nothing is exported, but trace context still travels in the event headers.
 * The export itself is checked against the built process in test/integration/tracing.embedded.test.ts
 * (the OTLP exporter loads node:http by a dynamic import, which Jest's module sandbox refuses).
 */
describe('one image followed across services by the trace context in its events', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.stop();
  });

  /** Events read by a group of the test's own until every wanted one (role and image id) is there. */
  async function events(wanted: [role: 'ingested' | 'processed' | 'failed', id: string][]): Promise<BusMessage<unknown>[]> {
    const topics = [...new Set(wanted.map(([role]) => t.config.bus.topics[role]))];
    const seen: BusMessage<unknown>[] = [];
    const subscription = await t.app.adapters.bus.subscribe({ group: `trace-check-${Date.now()}`, topics, handle: async (m) => void seen.push(m) });
    const find = ([role, id]: (typeof wanted)[number]) => seen.find((m) => m.topic === t.config.bus.topics[role] && m.key === id);
    try {
      await waitFor(() => wanted.every(find), 30_000, 'the events of the uploads');
    } finally {
      await subscription.stop();
    }
    return wanted.map((w) => find(w)!);
  }

  it('gives an upload one trace id from images.ingested to images.processed, each step with its own span', async () => {
    const jpeg = await cameraJpeg({ seed: 777 });
    const id = sha256(jpeg);
    await t.upload('traced.jpg', jpeg);
    await waitFor(async () => (await t.api(`/api/images/${id}`)).status === 200, 30_000, 'image searchable');
    const [announce, result] = await events([
      ['ingested', id],
      ['processed', id],
    ]);
    expect(traceIdOf(announce)).toMatch(/^[0-9a-f]{32}$/);
    expect(traceIdOf(result)).toBe(traceIdOf(announce));
    // The processor passes on its own span, a child of ingest's: not a copy of the header it got.
    expect(spanIdOf(result)).toMatch(/^[0-9a-f]{16}$/);
    expect(spanIdOf(result)).not.toBe(spanIdOf(announce));
  });

  it('starts a new trace for every upload, and carries it into the dead letter of an image that cannot be processed', async () => {
    const [a, b] = [await cameraJpeg({ seed: 778 }), undecodableJpeg(await cameraJpeg({ seed: 779 }))];
    await t.upload('a.jpg', a);
    await t.upload('b.jpg', b);
    const [first, second, dead] = await events([
      ['ingested', sha256(a)],
      ['ingested', sha256(b)],
      ['failed', sha256(b)],
    ]);
    expect(traceIdOf(first)).not.toBe(traceIdOf(second));
    expect(traceIdOf(dead)).toBe(traceIdOf(second));
  });
});
