import { fork, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import path from 'node:path';
import { Spool } from '../../services/ingest/spool';
import { source } from '../helpers/events';

const LEASE_MS = 2_000;

function folder() {
  const dir = mkdtempSync(path.join(tmpdir(), 'spool-'));
  return { dir, spool: () => new Spool(path.join(dir, 'spool'), { leaseMs: LEASE_MS }) };
}

async function spooled(spool: Spool, dir: string, n: number) {
  const entries = [];
  for (let i = 0; i < n; i++) {
    const file = path.join(dir, `f${i}.jpg`);
    writeFileSync(file, `bytes ${i}`);
    entries.push(await spool.claim(file, source({ path: `/f${i}.jpg` }), { maxFileBytes: 1000 }));
  }
  return entries;
}

/**
 * A worker in its own Node process on the same folder: takes what it can, reports the ids, and keeps
 * holding its leases until told to exit (a worker that dies gives its leases up, by design).
 */
const TAKER = `
const { Spool } = require(${JSON.stringify(path.resolve(__dirname, '../../services/ingest/spool.ts'))});
new Spool(process.argv[2], { leaseMs: ${LEASE_MS} }).takePending().then((entries) => {
  process.send(entries.map((e) => e.id));
  process.once('message', () => process.exit(0));
});
`;

describe('the spool as a leased work queue', () => {
  it('gives an entry to one worker at a time within a process', async () => {
    const { dir, spool } = folder();
    const [owner, other] = [spool(), spool()];
    const [held] = await spooled(owner, dir, 1);
    expect(await other.takePending()).toEqual([]);
    await owner.unlease(held);
    const taken = await other.takePending();
    expect(taken.map((e) => e.id)).toEqual([held.id]);
    expect(await owner.takePending()).toEqual([]);
  });

  it('lets two processes racing for the same entries take each exactly once', async () => {
    const { dir, spool } = folder();
    const entries = await spooled(spool(), dir, 20);
    await Promise.all(entries.map((e) => e.lease.release()));
    const script = path.join(dir, 'taker.js');
    writeFileSync(script, TAKER);
    // The spool is TypeScript: the child processes load it through tsx.
    const children = [0, 1].map(() => fork(script, [path.join(dir, 'spool')], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] }));
    const taken = children.map((child) => new Promise<string[]>((resolve, reject) => child.once('message', (ids) => resolve(ids as string[])).once('error', reject)));
    const [a, b] = await Promise.all(taken);
    await Promise.all(children.map((child) => new Promise((resolve) => child.once('exit', resolve).send('exit'))));
    expect([...a, ...b].sort()).toEqual(entries.map((e) => e.id).sort());
    expect(a.filter((id) => b.includes(id))).toEqual([]);
  }, 30_000);

  it('takes over a lease whose owner stopped renewing it', async () => {
    const { dir, spool } = folder();
    const [held] = await spooled(spool(), dir, 1);
    const other = spool();
    expect(await other.takePending()).toEqual([]);
    // The owner froze (or its host died): the lease file ages past leaseMs.
    const lease = path.join(dir, 'spool', `${held.id}.lease`);
    await held.lease.release().then(() => writeFileSync(lease, JSON.stringify({ host: 'another-host', pid: 1, instance: 'x' })));
    const old = new Date(Date.now() - 2 * LEASE_MS);
    utimesSync(lease, old, old);
    const taken = await other.takePending();
    expect(taken.map((e) => e.id)).toEqual([held.id]);
  });

  it('takes over at once a lease whose owner process on this host is gone', async () => {
    const { dir, spool } = folder();
    const [held] = await spooled(spool(), dir, 1);
    await held.lease.release();
    const dead = spawnSync(process.execPath, ['-e', '']);
    writeFileSync(path.join(dir, 'spool', `${held.id}.lease`), JSON.stringify({ host: hostname(), pid: dead.pid, instance: 'x' }));
    expect((await spool().takePending()).map((e) => e.id)).toEqual([held.id]);
  });

  it('keeps renewing a held lease so a live owner is never taken over', async () => {
    const { dir, spool } = folder();
    const [held] = await spooled(spool(), dir, 1);
    await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 1.5));
    expect(await spool().takePending()).toEqual([]);
    await spool().release(held);
    expect(readdirSync(path.join(dir, 'spool'))).toEqual([]);
  });
});
