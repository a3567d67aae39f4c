import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import pino from 'pino';
import { register } from 'prom-client';
import { CopyReader } from '../../services/search/copy-reader';
import { IngestError } from '../../shared/errors';
import type { NamedStore, ObjectStore, ObjectStream } from '../../shared/ports/object-store.port';
import { waitFor } from '../helpers/wait';

const KEY = 'originals/ab/cd/abcd.jpg';
const DATA = randomBytes(64 * 1024);

type Range = { start: number; end: number } | undefined;
type Behaviour = 'whole' | 'missing' | 'unreachable' | { breakAfter: number } | { endAfter: number };

/** A store that holds DATA under KEY and misbehaves as told; it records every range it was asked for and every stream it opened. */
function fakeStore(name: string, behaviour: Behaviour): NamedStore & { asked: Range[]; streams: Readable[] } {
  const asked: Range[] = [];
  const streams: Readable[] = [];
  // As an adapter's raw failure (the local folder's ENOTDIR, a socket's ECONNREFUSED).
  const unreachable = () => Object.assign(new Error(`${name}: connect ECONNREFUSED`), { code: 'ECONNREFUSED' });
  const store = {
    async head(key: string) {
      if (behaviour === 'unreachable') throw unreachable();
      return behaviour === 'missing' || key !== KEY ? null : { key, bytes: DATA.length, contentType: 'image/jpeg' };
    },
    async getStream(key: string, range?: Range): Promise<ObjectStream | null> {
      asked.push(range);
      if (behaviour === 'unreachable') throw unreachable();
      if (behaviour === 'missing' || key !== KEY) return null;
      const bytes = DATA.subarray(range?.start ?? 0, (range?.end ?? DATA.length - 1) + 1);
      const body =
        typeof behaviour === 'object' && 'breakAfter' in behaviour
          ? Readable.from(
              (async function* () {
                yield bytes.subarray(0, behaviour.breakAfter);
                throw new Error(`${name}: socket hang up`);
              })(),
            )
          : Readable.from([typeof behaviour === 'object' ? bytes.subarray(0, behaviour.endAfter) : bytes]);
      streams.push(body);
      return { key, bytes: DATA.length, contentType: 'image/jpeg', body };
    },
  } as unknown as ObjectStore;
  return { name, region: `region-${name}`, role: 'replica', store, asked, streams };
}

const fallbacks = async (store: string, stage: string) =>
  (await register.getSingleMetric('image_ingest_store_read_fallbacks_total')!.get()).values.find((v) => v.labels.store === store && v.labels.stage === stage)?.value ?? 0;

describe('reading an object from its copies', () => {
  const reader = new CopyReader(pino({ level: 'silent' }));

  it('reads the first copy when it answers, and never asks the others', async () => {
    const [a, b] = [fakeStore('a', 'whole'), fakeStore('b', 'whole')];
    const object = (await reader.open([a, b], KEY))!;
    expect(object.servedBy).toBe('a');
    expect((await buffer(object.body)).equals(DATA)).toBe(true);
    expect(b.asked).toEqual([]);
  });

  it('goes to the next copy when a store fails or lacks the object before the first byte', async () => {
    const before = await fallbacks('down1', 'open');
    const [down, missing, good] = [fakeStore('down1', 'unreachable'), fakeStore('missing1', 'missing'), fakeStore('good1', 'whole')];
    const object = (await reader.open([down, missing, good], KEY))!;
    expect(object.servedBy).toBe('good1');
    expect((await buffer(object.body)).equals(DATA)).toBe(true);
    expect(await fallbacks('down1', 'open')).toBe(before + 1);
    expect(await reader.head([down, good], KEY)).toEqual({ key: KEY, bytes: DATA.length, contentType: 'image/jpeg' });
  });

  it('answers null when no copy holds the object, and throws when none could say', async () => {
    expect(await reader.open([fakeStore('m1', 'missing'), fakeStore('m2', 'missing')], KEY)).toBeNull();
    expect(await reader.head([fakeStore('m1', 'missing')], KEY)).toBeNull();
    const failed = reader.open([fakeStore('m3', 'missing'), fakeStore('d2', 'unreachable')], KEY);
    await expect(failed).rejects.toBeInstanceOf(IngestError);
    await expect(failed).rejects.toMatchObject({ code: 'STORE_UNAVAILABLE', retriable: true, message: expect.stringMatching(/d2: connect ECONNREFUSED/) });
  });

  it('continues a body that breaks midway from the next copy, from the byte reached, so the whole body is correct', async () => {
    const before = await fallbacks('breaks', 'stream');
    const [breaks, good] = [fakeStore('breaks', { breakAfter: 20_000 }), fakeStore('good2', 'whole')];
    const object = (await reader.open([breaks, good], KEY))!;
    expect(object.servedBy).toBe('breaks');
    expect((await buffer(object.body)).equals(DATA)).toBe(true);
    expect(good.asked).toEqual([{ start: 20_000, end: DATA.length - 1 }]);
    expect(await fallbacks('breaks', 'stream')).toBe(before + 1);
  });

  it('continues a ranged body within its range, past copies that break again or are unreachable', async () => {
    const range = { start: 1000, end: 40_999 };
    const [first, second, down, last] = [fakeStore('r1', { breakAfter: 5000 }), fakeStore('r2', { breakAfter: 7000 }), fakeStore('r3', 'unreachable'), fakeStore('r4', 'whole')];
    const object = (await reader.open([first, second, down, last], KEY, range))!;
    expect((await buffer(object.body)).equals(DATA.subarray(1000, 41_000))).toBe(true);
    expect(second.asked).toEqual([{ start: 6000, end: 40_999 }]);
    expect(last.asked).toEqual([{ start: 13_000, end: 40_999 }]);
  });

  it('treats a body that ends early without an error as broken', async () => {
    const [short, good] = [fakeStore('short', { endAfter: 100 }), fakeStore('good3', 'whole')];
    const object = (await reader.open([short, good], KEY))!;
    expect((await buffer(object.body)).equals(DATA)).toBe(true);
    expect(good.asked).toEqual([{ start: 100, end: DATA.length - 1 }]);
  });

  it("closes the store's stream when the body is destroyed unread, as for a HEAD request", async () => {
    const head = fakeStore('head', 'whole');
    const object = (await reader.open([head], KEY))!;
    expect(head.streams[0].destroyed).toBe(false);
    object.body.destroy();
    await waitFor(() => head.streams[0].destroyed, 1_000, "the store's stream closed");
  });

  it('fails the body when it breaks and no copy is left, rather than ending it short', async () => {
    const object = (await reader.open([fakeStore('alone', { breakAfter: 1000 }), fakeStore('gone', 'missing')], KEY))!;
    await expect(buffer(object.body)).rejects.toThrow(/socket hang up/);
  });
});
