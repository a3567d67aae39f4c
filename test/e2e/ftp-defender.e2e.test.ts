import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import pino from 'pino';
import type { Account, AccountDirectory } from '../../shared/accounts';
import { hashPassword } from '../../shared/accounts';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteDeliveryRecord } from '../../shared/adapters/sqlite-delivery-record.adapter';
import { FtpDefender } from '../../services/ingest/ftp-defender';
import { FtpIngestServer } from '../../services/ingest/ftp.server';
import type { IngestService } from '../../services/ingest/ingest.service';
import { PASSWORD, testAccount, testFtpConfig } from '../helpers/ftp-server';
import { RawFtp } from '../helpers/raw-ftp';
import { waitFor } from '../helpers/wait';

/** The camera's own network: every address in 127/8 is the loopback, so a client can bind one to act as a second host. */
const CAMERA = '127.0.0.2';
const ATTACKER = '127.0.0.1';
const JPEG = Buffer.concat([Buffer.from([0xff, 0xd8, 0xff, 0xe0]), randomBytes(250 * 1024), Buffer.from([0xff, 0xd9])]);

interface Started {
  server: FtpIngestServer;
  defender: FtpDefender;
  logs: Record<string, unknown>[];
  port: number;
  stop(): Promise<void>;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
/**
 * The least of several runs: what the work itself costs. Other processes on a 2-core machine only
 * ever add to a run, so comparisons of least times hold where medians swing with the machine's load.
 */
const least = (values: number[]) => Math.min(...values);
const ms = (value: number) => `${value.toFixed(1)} ms`;

describe('FTP defender on the real FTP server', () => {
  let dataDir: string;
  let passwordHash: string;
  /** cam2's and cam3's own hashes: their first logins cannot be answered from the verifier's cache of cam's. */
  let otherHashes: string[];
  const running: Started[] = [];
  const controls: RawFtp[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'ftp-defender-'));
    [passwordHash, ...otherHashes] = await Promise.all([hashPassword(PASSWORD), hashPassword(PASSWORD), hashPassword(PASSWORD)]);
  });

  afterEach(async () => {
    controls.splice(0).forEach((c) => c.socket.destroy());
    await Promise.all(running.splice(0).map((s) => s.stop()));
  });

  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  /** The server with a defender on the given settings; accounts: cam, cam2, cam3 (only from 127.0.0.2), open (anywhere). */
  async function start(ftp: { limits?: object; defender?: object; auth?: object } = {}): Promise<Started> {
    const config = testFtpConfig(dataDir, ftp);
    const account = (name: string, extra: Partial<Account> = {}) => testAccount(dataDir, name, { passwordHash, ...extra });
    const list = [
      account('cam', { allowedNetworks: [`${CAMERA}/32`] }),
      account('cam2', { passwordHash: otherHashes[0], allowedNetworks: [`${CAMERA}/32`] }),
      account('cam3', { passwordHash: otherHashes[1], allowedNetworks: [`${CAMERA}/32`] }),
      account('open'),
    ];
    const accounts = { find: (name: string) => list.find((a) => a.name === name) ?? null, list: () => list } as unknown as AccountDirectory;
    const logs: Record<string, unknown>[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(line: Buffer, _encoding, done) {
          logs.push(JSON.parse(line.toString()));
          done();
        },
      }),
    );
    const ingest = { accept: async () => ({ status: 'ingested', id: 'ab'.repeat(32), key: 'originals/ab/ab/x.jpg', bytes: JPEG.length, contentType: 'image/jpeg', duplicate: false }) } as unknown as IngestService;
    const defender = new FtpDefender(config.ftp, { accounts, logger });
    const deliveries = new SqliteDeliveryRecord(path.join(dataDir, `deliveries-${running.length}.sqlite`));
    const store = new LocalObjectStore(path.join(dataDir, 'objects'));
    const server = new FtpIngestServer({ config, accounts, ingest, deliveries, store, logger, gate: defender });
    await server.listen();
    const started: Started = {
      server,
      defender,
      logs,
      port: server.port,
      async stop() {
        await server.close();
        await Promise.all([defender.close(), deliveries.close(), store.close()]);
      },
    };
    running.push(started);
    return started;
  }

  /** A control connection from `from` and its first reply: the greeting, or the refusal that ends it. */
  async function open(s: Started, from: string): Promise<{ control: RawFtp; first: string | null }> {
    const control = await RawFtp.open(s.port, { localAddress: from });
    controls.push(control);
    return { control, first: await control.reply().catch(() => null) };
  }

  /** USER and PASS; the PASS reply, or null once the server has closed the connection. */
  async function attempt(control: RawFtp, user: string, password: string): Promise<string | null> {
    // A flood's last verifications wait their turn for several seconds: longer than RawFtp's default wait.
    return control.send(`USER ${user}`).then(() => control.send(`PASS ${password}`, 60_000)).catch(() => (isClosed(control) ? null : Promise.reject(new Error('no reply'))));
  }

  const isClosed = (control: RawFtp) => control.socket.destroyed;

  /** Logs in from `from` and stores the JPEG; how long the login and the STOR (to its 226) took. */
  async function cameraUpload(s: Started, from = CAMERA, user = 'cam'): Promise<{ loginMs: number; uploadMs: number }> {
    const { control, first } = await open(s, from);
    expect(first).toMatch(/^220 /);
    const loginStarted = performance.now();
    await control.login(user, PASSWORD);
    const loginMs = performance.now() - loginStarted;
    expect(await control.send('TYPE I')).toMatch(/^200 /);
    const uploadStarted = performance.now();
    const data = await control.passive();
    expect(await control.send(`STOR IMG_${Math.random().toString(36).slice(2)}.JPG`)).toMatch(/^1[25]0 /);
    data.end(JPEG);
    expect(await control.reply()).toMatch(/^226 /);
    const uploadMs = performance.now() - uploadStarted;
    await control.send('QUIT');
    control.socket.destroy();
    return { loginMs, uploadMs };
  }

  /** One wrong password on a fresh connection; its reply and how long PASS took to answer. */
  async function refusedLogin(s: Started, user: string, from = ATTACKER): Promise<{ reply: string | null; ms: number }> {
    const { control, first } = await open(s, from);
    expect(first).toMatch(/^220 /);
    expect(await control.send(`USER ${user}`)).toMatch(/^331 /);
    const started = performance.now();
    const reply = await control.send(`PASS wrong-${Math.random()}`);
    const elapsed = performance.now() - started;
    control.socket.destroy();
    return { reply, ms: elapsed };
  }

  it('bans an address that guesses passwords (421 at connect) while the camera logs in and uploads from its own network', async () => {
    const s = await start();
    const tally = { guesses: 0, refused530: 0, closedAfterAttempts: 0, refused421AtConnect: 0, firstBanAfterGuesses: 0 };
    const started = performance.now();
    // 60 wrong passwords for the camera's account from 127.0.0.1, three to a connection as the server allows.
    while (tally.guesses < 60) {
      const { control, first } = await open(s, ATTACKER);
      if (first?.startsWith('421')) {
        expect(first).toBe('421 Too many failed logins from your address; try again later');
        tally.refused421AtConnect++;
        tally.firstBanAfterGuesses ||= tally.guesses;
        tally.guesses++;
        continue;
      }
      for (let tries = 0; tries < 3 && tally.guesses < 60; tries++) {
        const reply = await attempt(control, 'cam', `guess-${tally.guesses}`);
        tally.guesses++;
        expect(reply).toBe('530 Login incorrect');
        tally.refused530++;
      }
      await control.closed;
      tally.closedAfterAttempts++;
    }
    const bruteMs = performance.now() - started;
    // Banned even with the right password.
    expect((await open(s, ATTACKER)).first).toMatch(/^421 /);
    const camera = await cameraUpload(s);
    const snapshot = s.defender.snapshot();
    console.log(
      `brute force from ${ATTACKER}: ${tally.guesses} guesses in ${ms(bruteMs)}: ${tally.refused530} answered 530 ` +
        `(${tally.closedAfterAttempts} connections closed after 3), banned after ${tally.firstBanAfterGuesses}, ` +
        `then ${tally.refused421AtConnect} connections refused 421 at connect; camera from ${CAMERA}: login ${ms(camera.loginMs)}, ` +
        `250 KB upload ${ms(camera.uploadMs)}; defender: ${JSON.stringify(snapshot.counters)}`,
    );
    expect(tally.refused530).toBe(15);
    expect(tally.refused421AtConnect).toBe(45);
    expect(s.logs).toContainEqual(expect.objectContaining({ component: 'defender', msg: 'address banned', address: ATTACKER, score: 15, until: expect.any(String) }));
    expect(s.logs).toContainEqual(expect.objectContaining({ component: 'defender', msg: 'account locked for untrusted addresses', account: 'cam' }));
  });

  it('keeps an account without allowedNetworks open to where its camera logged in from while guessers lock it', async () => {
    const s = await start({ defender: { accountLockout: { threshold: 4, windowMs: 900_000, lockMs: 900_000 } } });
    await cameraUpload(s, CAMERA, 'open');
    // Four guessing hosts, one wrong password each: under the ban threshold, enough to lock the account.
    for (const from of ['127.0.0.11', '127.0.0.12', '127.0.0.13', '127.0.0.14']) expect((await refusedLogin(s, 'open', from)).reply).toBe('530 Login incorrect');
    const { control } = await open(s, '127.0.0.15');
    expect(await attempt(control, 'open', PASSWORD)).toBe('530 Login incorrect');
    const camera = await cameraUpload(s, CAMERA, 'open');
    console.log(`account "open" locked after 4 failures from 4 hosts: the right password from a new host 530, the camera from ${CAMERA} logs in (${ms(camera.loginMs)})`);
    expect(s.defender.snapshot().lockedAccounts).toBe(1);
  });

  it('refuses unknown and known accounts in the same time (within 10%)', async () => {
    const s = await start({ defender: { threshold: 1000 } });
    const known: number[] = [];
    const unknown: number[] = [];
    for (let round = 0; round < 6; round++) {
      const k = await refusedLogin(s, 'open');
      const u = await refusedLogin(s, `nobody${round}`);
      expect([k.reply, u.reply]).toEqual(['530 Login incorrect', '530 Login incorrect']);
      known.push(k.ms);
      unknown.push(u.ms);
    }
    const success = await cameraUpload(s, CAMERA, 'open');
    console.log(
      `refusals, PASS to reply, least (median) of 6 (refusalDelayMs 1000): known account ${ms(least(known))} (${ms(median(known))}), unknown ${ms(least(unknown))} (${ms(median(unknown))}) ` +
        `(known ${known.map((v) => v.toFixed(0)).join('/')}, unknown ${unknown.map((v) => v.toFixed(0)).join('/')}); right password ${ms(success.loginMs)}`,
    );
    expect(Math.abs(least(unknown) - least(known)) / least(known)).toBeLessThan(0.1);
  });

  /** Each address opens `perAddress` connections at once and sends `attempts` wrong passwords on each; the last reply of each. */
  async function flood(s: Started, addresses: string[], perAddress: number, attempts: number): Promise<Record<string, number>> {
    const last = await Promise.all(
      addresses.flatMap((from) =>
        Array.from({ length: perAddress }, async () => {
          const { control, first } = await open(s, from);
          if (!first?.startsWith('220')) return first!.slice(0, 3);
          let reply: string | null = null;
          for (let i = 0; i < attempts && !isClosed(control); i++) reply = (await attempt(control, 'cam', `guess-${Math.random()}`)) ?? reply;
          return reply?.slice(0, 3) ?? 'closed';
        }),
      ),
    );
    return last.reduce<Record<string, number>>((counts, code) => ({ ...counts, [code]: (counts[code] ?? 0) + 1 }), {});
  }

  /** The camera's uploads (least of 3) before and during a flood, and the first login of another account before and during it. */
  async function underFlood(s: Started, addresses: string[], perAddress: number, attempts: number) {
    const coldBefore = (await cameraUpload(s, CAMERA, 'cam3')).loginMs;
    await cameraUpload(s);
    const unloaded = [await cameraUpload(s), await cameraUpload(s), await cameraUpload(s)];
    const started = performance.now();
    const flooding = flood(s, addresses, perAddress, attempts);
    const loaded = [await cameraUpload(s), await cameraUpload(s), await cameraUpload(s)];
    const coldLogin = (await cameraUpload(s, CAMERA, 'cam2')).loginMs;
    const outcomes = await flooding;
    return {
      floodMs: performance.now() - started,
      outcomes,
      before: least(unloaded.map((u) => u.uploadMs)),
      during: least(loaded.map((u) => u.uploadMs)),
      loginBefore: median(unloaded.map((u) => u.loginMs)),
      loginDuring: median(loaded.map((u) => u.loginMs)),
      coldBefore,
      coldLogin,
    };
  }

  const report = (what: string, r: Awaited<ReturnType<typeof underFlood>>) =>
    console.log(
      `${what} (${ms(r.floodMs)}; last replies ${JSON.stringify(r.outcomes)}): camera 250 KB upload ${ms(r.before)} unloaded, ` +
        `${ms(r.during)} during the flood (least of 3); its login ${ms(r.loginBefore)} before, ${ms(r.loginDuring)} during (cached); ` +
        `first login of a camera account ${ms(r.coldBefore)} before, ${ms(r.coldLogin)} during the flood`,
    );

  it('keeps a camera\'s upload within 2x of its unloaded time during a login flood from one address', async () => {
    const s = await start();
    const r = await underFlood(s, [ATTACKER], 40, 3);
    report(`login flood, 40 parallel connections from ${ATTACKER}`, r);
    console.log(`defender after the flood: ${JSON.stringify(s.defender.snapshot().counters)}`);
    expect(r.during).toBeLessThan(2 * r.before);
  });

  it('keeps a camera\'s upload within 2x of its unloaded time during a login flood from 40 addresses', async () => {
    const s = await start();
    const addresses = Array.from({ length: 40 }, (_, i) => `127.0.1.${i + 1}`);
    const r = await underFlood(s, addresses, 1, 1);
    report('login flood, 40 addresses, one connection and one wrong password each', r);
    console.log(`verifier after the flood: ${JSON.stringify(s.defender.snapshot().verifier)}`);
    expect(r.during).toBeLessThan(2 * r.before);
  });

  it('refuses connections over the limits in total, per address and per account with 421', async () => {
    const s = await start({ limits: { maxConnections: 5, maxConnectionsPerAddress: 2, maxConnectionsPerAccount: 2 } });
    expect((await open(s, '127.0.0.21')).first).toMatch(/^220 /);
    expect((await open(s, '127.0.0.21')).first).toMatch(/^220 /);
    expect((await open(s, '127.0.0.21')).first).toBe('421 Too many connections from your address; try again later');
    const sessions = [await open(s, '127.0.0.22'), await open(s, '127.0.0.23'), await open(s, '127.0.0.24')];
    expect(sessions.map((o) => o.first?.slice(0, 3))).toEqual(['220', '220', '220']);
    expect((await open(s, '127.0.0.25')).first).toBe('421 Too many connections; try again later');

    expect(await attempt(sessions[0].control, 'open', PASSWORD)).toMatch(/^230 /);
    expect(await attempt(sessions[1].control, 'open', PASSWORD)).toMatch(/^230 /);
    expect(await attempt(sessions[2].control, 'open', PASSWORD)).toBe('421 Too many connections for this account; try again later');
    await sessions[2].control.closed;
    // A session that ends frees its places.
    sessions[0].control.socket.destroy();
    await waitFor(() => s.defender.snapshot().connections === 3, 5000, 'the ended sessions to be released');
    const again = await open(s, '127.0.0.25');
    expect(await attempt(again.control, 'open', PASSWORD)).toMatch(/^230 /);
    console.log(`limits 5 / 2 per address / 2 per account: refusals counted ${s.defender.snapshot().counters.refusedConnections}`);
  });

  it('closes a connection after maxLoginAttempts wrong passwords, even when the right one would follow', async () => {
    const s = await start({ defender: { threshold: 1000 } });
    const { control } = await open(s, '127.0.0.31');
    const replies: (string | null)[] = [];
    // The fourth attempt carries the right password: it must never be checked.
    for (let i = 0; i < 20 && !isClosed(control); i++) replies.push(await attempt(control, 'open', i === 3 ? PASSWORD : `guess-${i}`));
    console.log(`PASS on one connection, the 4th the right one: ${replies.filter((r) => r?.startsWith('530')).length} answered 530, then the connection was closed (${replies.length - 3} more sent, none answered)`);
    expect(replies).toEqual(['530 Login incorrect', '530 Login incorrect', '530 Login incorrect', null]);
    await control.closed;
  });
});
