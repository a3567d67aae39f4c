/**
 * The soak alone, for trying memory settings: `npm run bench:soak -- --minutes 5 --rate 2.8`.
 * Environment variables given to this command reach the product's process.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { hashPassword } from '../shared/accounts';
import { PACKAGE_ROOT } from '../shared/paths';
import { deploy, load, MemorySampler } from './e2e';
import { prepareInputs } from './inputs';

const { values } = parseArgs({ options: { minutes: { type: 'string', default: '5' }, rate: { type: 'string', default: '2.8' } } });

(async () => {
  const sets = await prepareInputs(path.join(PACKAGE_ROOT, '.cache', 'bench-inputs'), () => undefined);
  const inputs = sets[0].files.map((f) => readFileSync(f));
  const dir = mkdtempSync(path.join(tmpdir(), 'soak-'));
  const deployment = await deploy({ dir, layout: 'single', env: {}, overrides: {}, passwordHash: await hashPassword('bench-password') });
  const memory = new MemorySampler(deployment.processes, 2000).start();
  const rate = Number(values.rate);
  const images = Math.round(rate * Number(values.minutes) * 60);
  const result = await load({ deployment, password: 'bench-password', inputs, images, concurrency: 4, rate, offset: 0 }).finally(() => deployment.stop());
  const peak = memory.stop();
  rmSync(dir, { recursive: true, force: true });
  const perMinute = new Map<number, number>();
  for (const s of memory.series) perMinute.set(Math.floor(s.t / 60), Math.max(perMinute.get(Math.floor(s.t / 60)) ?? 0, s.rssMB));
  console.log(JSON.stringify({ env: { MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? null }, peak, maxRssByMinuteMB: [...perMinute.values()], p99: result.ackToSearchableMs.p99 }));
})();
