import { scryptSync } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { IngestError } from '../../shared/errors';
import { hashPassword } from '../../shared/accounts';
import { PasswordVerifier } from '../../shared/password-verifier';

/** A real scrypt hash with a small N, for tests about queues rather than cost (a few ms each). */
function cheapHash(password: string): string {
  const salt = Buffer.from('0123456789abcdef');
  return ['scrypt', 1024, 8, 1, salt.toString('base64'), scryptSync(password, salt, 32, { N: 1024, r: 8, p: 1 }).toString('base64')].join('$');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

describe('password verifier', () => {
  let hash: string;
  const verifiers: PasswordVerifier[] = [];
  const verifier = (options: Partial<ConstructorParameters<typeof PasswordVerifier>[0]> = {}) => {
    const v = new PasswordVerifier({ concurrency: 2, maxQueued: 8, ...options });
    verifiers.push(v);
    return v;
  };

  beforeAll(async () => {
    hash = await hashPassword('right password');
  });

  afterEach(async () => {
    jest.restoreAllMocks();
    await Promise.all(verifiers.splice(0).map((v) => v.close()));
  });

  it('accepts the right password and refuses a wrong one, a missing account and an unreadable hash', async () => {
    const v = verifier({ cacheTtlMs: 0 });
    expect(await v.verify('right password', hash, 'a')).toBe('match');
    expect(await v.verify('wrong password', hash, 'a')).toBe('mismatch');
    expect(await v.verify('right password', null, 'a')).toBe('mismatch');
    expect(await v.verify('right password', 'scrypt$not-a-hash', 'a')).toBe('mismatch');
    expect(await v.verify('right password', 'scrypt$1000$8$1$c2FsdA==$aGFzaA==', 'a')).toBe('mismatch');
  });

  it('does the same scrypt work for a missing account or an unreadable hash as for a wrong password', async () => {
    const v = verifier({ concurrency: 1, cacheTtlMs: 0 });
    await v.verify('warm up', null, 'a');
    const times: Record<'known' | 'unknown' | 'unreadable', number[]> = { known: [], unknown: [], unreadable: [] };
    const stored = { known: hash, unknown: null, unreadable: 'scrypt$131072$8$1$$' } as const;
    // Interleaved, so a slower moment of the machine weighs on every kind alike.
    for (let round = 0; round < 7; round++) {
      for (const kind of ['known', 'unknown', 'unreadable'] as const) {
        const started = performance.now();
        expect(await v.verify('guess', stored[kind], 'a')).toBe('mismatch');
        times[kind].push(performance.now() - started);
      }
    }
    // The least of each kind is the work itself; other processes on the machine only ever add to it.
    const least = (kind: keyof typeof times) => Math.min(...times[kind]);
    const [known, unknown, unreadable] = [least('known'), least('unknown'), least('unreadable')];
    console.log(
      `verification without padding, least (median) of 7: known ${known.toFixed(0)} (${median(times.known).toFixed(0)}) ms, ` +
        `unknown ${unknown.toFixed(0)} (${median(times.unknown).toFixed(0)}) ms, unreadable hash ${unreadable.toFixed(0)} (${median(times.unreadable).toFixed(0)}) ms`,
    );
    // Same work (one scrypt of the same cost) on every path. The 10% promise is kept one layer up, where
    // every refusal is padded (ftp-defender.test.ts); unpadded, a busy 2-core machine alone moves single
    // runs by more than 10%, so this only rules out a path that skips the work (which would be ~0 ms).
    expect(Math.abs(unknown - known) / known).toBeLessThan(0.35);
    expect(Math.abs(unreadable - known) / known).toBeLessThan(0.35);
  });

  it('keeps scrypt off the libuv pool, so file I/O goes on while passwords are checked', async () => {
    const v = verifier({ concurrency: 2, cacheTtlMs: 0 });
    const checks = Promise.all(Array.from({ length: 6 }, (_, i) => v.verify('guess', hash, `k${i}`)));
    const stats: number[] = [];
    // Eight stats at once occupy every thread of libuv's default pool of four, twice.
    for (let round = 0; round < 5; round++) {
      const started = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => stat(__filename)));
      stats.push(performance.now() - started);
    }
    const verifying = v.snapshot().running;
    await checks;
    console.log(`fs.stat x8 during ${verifying} verifications: slowest ${Math.max(...stats).toFixed(1)} ms`);
    expect(verifying).toBe(2);
    // On libuv's pool, six scrypt calls held such stats for over a second (issue 8).
    expect(Math.max(...stats)).toBeLessThan(200);
  });

  it('runs at most `concurrency` at once and answers busy at once when the queue is full', async () => {
    const v = verifier({ concurrency: 1, maxQueued: 1 });
    const first = v.verify('guess', hash, 'a');
    const second = v.verify('guess', hash, 'b');
    expect(await v.verify('guess', hash, 'c')).toBe('busy');
    expect(v.snapshot()).toMatchObject({ workers: 1, running: 1, queued: 1 });
    expect(await Promise.all([first, second])).toEqual(['mismatch', 'mismatch']);
  });

  it('takes a priority verification before the waiting ones, even when the queue is full', async () => {
    const v = verifier({ concurrency: 1, maxQueued: 1, cacheTtlMs: 0 });
    const cheap = cheapHash('pw');
    const order: string[] = [];
    const track = (name: string, outcome: Promise<unknown>) => outcome.then((result) => order.push(`${name}:${result}`));
    const running = track('running', v.verify('guess', cheap, 'a'));
    const queued = track('queued', v.verify('guess', cheap, 'b'));
    expect(await v.verify('guess', cheap, 'c')).toBe('busy');
    const camera = track('camera', v.verify('pw', cheap, 'camera', { priority: true }));
    expect(v.snapshot()).toMatchObject({ running: 1, queued: 2 });
    await Promise.all([running, queued, camera]);
    expect(order).toEqual(['running:mismatch', 'camera:match', 'queued:mismatch']);
  });

  it('lets one verification per address run or queue; the next from that address waits outside the queue', async () => {
    const v = verifier({ concurrency: 1, maxQueued: 1 });
    const cheap = cheapHash('pw');
    const same = [v.verify('x', cheap, 'attacker'), v.verify('y', cheap, 'attacker'), v.verify('pw', cheap, 'attacker')];
    expect(v.snapshot()).toMatchObject({ running: 1, queued: 0, waiting: 2 });
    // The queue's one place is still free for another address.
    const other = v.verify('pw', cheap, 'camera');
    expect(v.snapshot()).toMatchObject({ queued: 1 });
    expect(await Promise.all(same)).toEqual(['mismatch', 'mismatch', 'match']);
    expect(await other).toBe('match');
    expect(v.snapshot()).toMatchObject({ running: 0, queued: 0, waiting: 0 });
  });

  it('drops, unchecked, a verification no longer wanted when its turn comes or when a worker frees', async () => {
    const v = verifier({ concurrency: 1, maxQueued: 4, cacheTtlMs: 0 });
    let banned = false;
    const stillWanted = () => !banned;
    const first = v.verify('guess', hash, 'attacker', { stillWanted });
    const behind = v.verify('guess', hash, 'attacker', { stillWanted });
    const queued = v.verify('guess', hash, 'other', { stillWanted });
    expect(v.snapshot()).toMatchObject({ running: 1, queued: 1, waiting: 1 });
    banned = true;
    expect(await Promise.all([first, behind, queued])).toEqual(['mismatch', 'dropped', 'dropped']);
  });

  it('remembers a success for cacheTtlMs without a worker, never a failure, and forgets it when the hash changes', async () => {
    let now = 1_000_000;
    jest.spyOn(Date, 'now').mockImplementation(() => now);
    const v = verifier({ concurrency: 1, maxQueued: 1, cacheTtlMs: 60_000 });
    const cheap = cheapHash('pw');
    expect(await v.verify('pw', cheap, 'a')).toBe('match');
    expect(await v.verify('nope', cheap, 'a')).toBe('mismatch');
    // Remembered: answered even while the worker is busy and the queue is full.
    const busy = [v.verify('guess', hash, 'b'), v.verify('guess', hash, 'c')];
    expect(await v.verify('guess', hash, 'd')).toBe('busy');
    expect(await v.verify('pw', cheap, 'e')).toBe('match');
    expect(await v.verify('nope', cheap, 'e')).toBe('busy');
    await Promise.all(busy);
    expect(v.snapshot().cached).toBe(1);
    // A new password (a new hash) is checked afresh, and the old one no longer gets in.
    const changed = cheapHash('pw2');
    expect(await v.verify('pw', changed, 'a')).toBe('mismatch');
    expect(await v.verify('pw2', changed, 'a')).toBe('match');
    // Expired: checked again (the queue is full, so a check shows as busy).
    now += 60_001;
    const held = [v.verify('guess', hash, 'b'), v.verify('guess', hash, 'c')];
    expect(await v.verify('pw', cheap, 'e')).toBe('busy');
    await Promise.all(held);
  });

  it('ends its workers on close; verifications in flight fail with SHUTTING_DOWN', async () => {
    const v = verifier({ concurrency: 1, maxQueued: 4 });
    const outcomes = [v.verify('guess', hash, 'a'), v.verify('guess', hash, 'b')].map((p) => p.then(() => null, (e: unknown) => e));
    expect(v.snapshot()).toMatchObject({ workers: 1, running: 1, queued: 1 });
    await v.close();
    for (const error of await Promise.all(outcomes)) {
      expect(error).toBeInstanceOf(IngestError);
      expect((error as IngestError).code).toBe('SHUTTING_DOWN');
    }
    expect(v.snapshot().workers).toBe(0);
  });
});
