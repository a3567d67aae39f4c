import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FtpSrv } from 'ftp-srv';
import { PASSWORD, startFtpServer, type TestFtpServer } from '../helpers/ftp-server';
import { RawFtp } from '../helpers/raw-ftp';
import { waitFor } from '../helpers/wait';

/** Uploads `bytes` as `name` over a fresh PASV data connection; the final reply. */
async function store(ftp: RawFtp, name: string, bytes: Buffer | string = 'image bytes'): Promise<string> {
  const data = await ftp.passive();
  ftp.write(`STOR ${name}\r\n`);
  const started = await ftp.reply();
  if (!started.startsWith('150')) return started;
  data.end(bytes);
  return ftp.reply();
}

/** The files in a folder, or none when it does not exist. */
const files = (dir: string) => (existsSync(dir) ? readdirSync(dir) : []);

async function listen(port: number): Promise<Server> {
  const server = createServer();
  server.listen(port, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/** Ten ports above Linux's ephemeral range (32768-60999) and the other suites' passive ranges. */
const privateRange = () => {
  const minPort = 61000 + Math.floor(Math.random() * 400) * 10;
  return { minPort, maxPort: minPort + 9 };
};

describe('FTP protocol: framing, hostile input, replies', () => {
  let t: TestFtpServer;
  const clients: RawFtp[] = [];

  beforeAll(async () => {
    t = await startFtpServer();
  });
  afterAll(async () => {
    clients.forEach((c) => c.socket.destroy());
    await t.stop();
  });
  afterEach(() => {
    t.gate.penalties.length = 0;
  });

  async function session(user = 'cam1'): Promise<RawFtp> {
    const ftp = await RawFtp.connect(t.server.port);
    clients.push(ftp);
    await ftp.login(user, PASSWORD);
    return ftp;
  }

  it('reads a command split across TCP reads as one command, and answers pipelined commands in order', async () => {
    const ftp = await session();
    ftp.write('NO');
    await sleep(100);
    ftp.write('OP\r\n');
    expect(await ftp.reply()).toMatch(/^200 /);
    ftp.write('MKD split\r\nPWD\r\nSYST\r\nNOOP\r\n');
    expect([await ftp.reply(), await ftp.reply(), await ftp.reply(), await ftp.reply()].map((r) => r.slice(0, 3))).toEqual(['257', '257', '215', '200']);
  });

  it('answers a command line over 2048 bytes once with 500, writes nothing, and reports it', async () => {
    const ftp = await session();
    // In pieces, as a flood arrives: one refusal, not one per read.
    ftp.write(`STOR ${'a'.repeat(3000)}`);
    await sleep(50);
    ftp.write(`${'b'.repeat(3000)}.jpg\r\n`);
    expect(await ftp.reply()).toBe('500 Command line too long');
    expect(await ftp.send('NOOP')).toMatch(/^200 /);
    expect(files(t.home())).not.toContainEqual(expect.stringMatching(/^aaa/));
    expect(t.gate.penalties).toEqual([{ address: '127.0.0.1', reason: 'command line too long' }]);
  });

  it('answers invalid UTF-8, NUL and control characters with 501 and writes nothing', async () => {
    const ftp = await session();
    const before = files(t.home());
    await ftp.passive();
    ftp.write(Buffer.concat([Buffer.from('STOR caf'), Buffer.from([0xe9]), Buffer.from('.jpg\r\n')]));
    expect(await ftp.reply()).toBe('501 Invalid UTF-8 in command');
    for (const name of ['a\0b.jpg', 'esc\x1b[31mred.jpg', 'bell\x07.jpg', 'cr\rin.jpg']) {
      expect(await ftp.send(`STOR ${name}`)).toBe('501 Control characters are not allowed in commands');
      expect(await ftp.send(`MKD ${name}`)).toBe('501 Control characters are not allowed in commands');
    }
    expect(await ftp.send('NOOP')).toMatch(/^200 /);
    expect(files(t.home())).toEqual(before);
    expect(t.gate.penalties.map((p) => p.reason)).toEqual(['invalid UTF-8', ...Array(8).fill('control characters')]);
  });

  it('refuses a 1000-byte file name with 553 NAME_NOT_ALLOWED and writes nothing', async () => {
    const ftp = await session();
    const before = files(t.home());
    const long = `${'n'.repeat(1000)}.jpg`;
    expect(await store(ftp, long)).toBe('553 NAME_NOT_ALLOWED: file name longer than 255 bytes');
    expect(await ftp.send(`MKD ${long}`)).toBe('553 NAME_NOT_ALLOWED: file name longer than 255 bytes');
    expect(await ftp.send(`RNTO ${'d/'.repeat(600)}x.jpg`)).toBe('553 NAME_NOT_ALLOWED: file path longer than 1024 bytes');
    expect(await ftp.send('MKD right\u202Egpj.exe')).toBe('553 NAME_NOT_ALLOWED: file name with control or bidirectional characters');
    expect(files(t.home())).toEqual(before);
    expect(t.gate.penalties.map((p) => p.reason)).toEqual(Array(4).fill('file name not allowed'));
  });

  it('keeps quotes and " -x " tokens as part of a name', async () => {
    const ftp = await session();
    expect(await store(ftp, '"quoted" -x name.jpg')).toMatch(/^226 /);
    expect(files(t.home())).toContain('"quoted" -x name.jpg');
    expect(await ftp.send('SIZE "quoted" -x name.jpg')).toBe('213 11');
    expect(await ftp.send('DELE "quoted" -x name.jpg')).toMatch(/^250 /);
    expect(files(t.home())).not.toContain('"quoted" -x name.jpg');
  });

  it('answers bare SITE, OPTS, PORT and EPRT instead of hanging', async () => {
    const ftp = await session('chmodder');
    expect(await ftp.send('SITE')).toBe('501 SITE needs a sub-command: SITE CHMOD <mode> <file>');
    expect(await ftp.send('SITE EXEC /bin/sh')).toBe('502 SITE EXEC is not supported');
    expect(await ftp.send('OPTS')).toMatch(/^501 /);
    expect(await ftp.send('PORT')).toMatch(/^501 /);
    expect(await ftp.send('EPRT')).toMatch(/^504 /);
    expect(await ftp.send('NOOP')).toMatch(/^200 /);
  });

  it('answers a command whose handler throws with 451 and a fixed text, and carries on', async () => {
    // A handler that throws (as bare SITE did in ftp-srv 4.6.3) stands in for any bug to come.
    const registry = require('ftp-srv/src/commands/registry') as Record<string, unknown>;
    registry.XBOOM = {
      directive: 'XBOOM',
      handler: () => {
        throw new TypeError(`Cannot read properties of null (reading 'x') at ${t.dataDir}`);
      },
      flags: { no_auth: true },
    };
    try {
      const ftp = await session();
      expect(await ftp.send('XBOOM')).toBe('451 Requested action aborted: local error in processing');
      expect(await ftp.send('NOOP')).toMatch(/^200 /);
    } finally {
      delete registry.XBOOM;
    }
  });

  it('answers MKD with the client path, and no reply names a server path', async () => {
    const ftp = await session();
    expect(await ftp.send('MKD /a')).toBe('257 "/a"');
    expect(await ftp.send('CWD /a')).toMatch(/^250 /);
    expect(await ftp.send('MKD b')).toBe('257 "/a/b"');
    const replies = [
      await ftp.send('CWD /nope'),
      await ftp.send('SIZE /nope.jpg'),
      await ftp.send('SIZE /a'),
      await ftp.send('MDTM /nope.jpg'),
      await ftp.send('DELE /nope.jpg'),
      await ftp.send('RMD /nope'),
      await ftp.send('RNFR /nope.jpg'),
      await ftp.send('STAT /nope'),
      await ftp.send('MDTM'),
    ];
    const data = await ftp.passive();
    replies.push(await ftp.send('LIST /nope'));
    data.destroy();
    for (const reply of replies) {
      expect(reply).toMatch(/^5\d\d |^4\d\d /);
      expect(reply).not.toContain(t.dataDir);
      expect(reply).not.toMatch(/ENOENT|stat '|Cannot read/);
    }
    expect(replies[2]).toBe('550 Not a plain file');
  });
});

describe('FTP protocol: SITE CHMOD', () => {
  let t: TestFtpServer;
  beforeAll(async () => {
    t = await startFtpServer();
  });
  afterAll(() => t.stop());

  it('is refused to accounts without siteChmod', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.login('cam1', PASSWORD);
    expect(await store(ftp, 'f.jpg')).toMatch(/^226 /);
    expect(await ftp.send('SITE CHMOD 600 f.jpg')).toBe('502 Command blacklisted: SITE');
    expect(statSync(path.join(t.home('cam1'), 'f.jpg')).mode & 0o777).not.toBe(0o600);
    ftp.socket.destroy();
  });

  it('changes permission bits of files in the home only, never set-id or sticky bits, never the home itself', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.login('chmodder', PASSWORD);
    expect(await store(ftp, 'f.jpg')).toMatch(/^226 /);
    const file = path.join(t.home('chmodder'), 'f.jpg');
    expect(await ftp.send('SITE CHMOD 640 f.jpg')).toBe('200 SITE CHMOD command successful');
    expect(statSync(file).mode & 0o7777).toBe(0o640);
    for (const mode of ['4755', '2755', '1777', '6777']) {
      expect(await ftp.send(`SITE CHMOD ${mode} f.jpg`)).toBe('550 Set-uid, set-gid and sticky bits cannot be set');
    }
    expect(statSync(file).mode & 0o7777).toBe(0o640);
    const homeMode = statSync(t.home('chmodder')).mode;
    expect(await ftp.send('SITE CHMOD 000 /')).toBe('550 Permission denied');
    expect(await ftp.send('SITE CHMOD 000 .')).toBe('550 Permission denied');
    expect(statSync(t.home('chmodder')).mode).toBe(homeMode);
    expect(await ftp.send('SITE CHMOD rwx f.jpg')).toBe('501 Syntax: SITE CHMOD <octal mode> <file>');
    expect(await ftp.send('SITE CHMOD 644')).toBe('501 Syntax: SITE CHMOD <octal mode> <file>');
    const missing = await ftp.send('SITE CHMOD 644 nope.jpg');
    expect(missing).toMatch(/^550 /);
    expect(missing).not.toContain(t.dataDir);
    ftp.socket.destroy();
  });
});

describe('FTP protocol: ABOR', () => {
  let t: TestFtpServer;
  beforeAll(async () => {
    t = await startFtpServer();
  });
  afterAll(() => t.stop());

  it('ends a running STOR: 426 for the STOR, then 226 for ABOR, on the control connection, and ingests nothing', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.login('cam1', PASSWORD);
    const data = await ftp.passive();
    ftp.write('STOR big.jpg\r\n');
    expect(await ftp.reply()).toMatch(/^150 /);
    data.write(Buffer.alloc(64 * 1024, 1));
    await sleep(200);
    const dataClosed = once(data, 'close');
    const started = Date.now();
    ftp.write('ABOR\r\n');
    expect(await ftp.reply(2000)).toBe('426 Connection closed; transfer aborted');
    expect(await ftp.reply(2000)).toBe('226 ABOR successful');
    const elapsed = Date.now() - started;
    await dataClosed;
    expect(elapsed).toBeLessThan(1000);
    expect(t.accept).not.toHaveBeenCalled();
    expect(await ftp.send('NOOP')).toMatch(/^200 /);
    // The session goes on: the next upload works.
    expect(await store(ftp, 'after.jpg')).toMatch(/^226 /);
    await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'passive ports freed');
    console.log(`ABOR during STOR: 426 + 226 after ${elapsed} ms`);
    ftp.socket.destroy();
  });

  it('takes ABOR sent with Telnet IP/DM (as some clients do), and answers 225 with no transfer', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.login('cam1', PASSWORD);
    ftp.write(Buffer.concat([Buffer.from([0xff, 0xf4, 0xff, 0xf2]), Buffer.from('ABOR\r\n')]));
    expect(await ftp.reply()).toBe('225 No transfer in progress');
    ftp.socket.destroy();
  });

  it('answers other commands sent during a transfer after the transfer, in order', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.login('cam1', PASSWORD);
    const data = await ftp.passive();
    ftp.write('STOR slow.jpg\r\n');
    expect(await ftp.reply()).toMatch(/^150 /);
    data.write('part one');
    ftp.write('NOOP\r\n');
    expect(await ftp.replyWithin(300)).toBeNull();
    data.end('part two');
    expect(await ftp.reply()).toMatch(/^226 /);
    expect(await ftp.reply()).toMatch(/^200 /);
    ftp.socket.destroy();
  });
});

describe('FTP protocol: ABOR during RETR (ftp-srv with its own file system)', () => {
  it('ends a RETR the client does not read: 426, then 226', async () => {
    const root = mkdtempSync(path.join(tmpdir(), 'ftp-retr-'));
    writeFileSync(path.join(root, 'big.bin'), Buffer.alloc(32 << 20, 7));
    const { minPort, maxPort } = privateRange();
    const ftp = new FtpSrv({ url: 'ftp://127.0.0.1:0', pasv_url: '127.0.0.1', pasv_min: minPort, pasv_max: maxPort, endOnProcessSignal: false });
    ftp.on('login', (_data, resolve) => resolve({ root }));
    await ftp.listen();
    try {
      const client = await RawFtp.connect(ftp.address().port);
      await client.login('any', 'any');
      const data = await client.passive();
      // The client reads nothing: the server's writes back up and the transfer stalls mid-file.
      data.pause();
      client.write('RETR big.bin\r\n');
      expect(await client.reply()).toMatch(/^150 /);
      await sleep(300);
      const started = Date.now();
      client.write('ABOR\r\n');
      expect(await client.reply(2000)).toBe('426 Connection closed; transfer aborted');
      expect(await client.reply(2000)).toBe('226 ABOR successful');
      console.log(`ABOR during RETR: 426 + 226 after ${Date.now() - started} ms`);
      expect(await client.send('NOOP')).toMatch(/^200 /);
      client.socket.destroy();
      data.destroy();
    } finally {
      await ftp.close();
      rmSync(root, { recursive: true, force: true });
    }
  });
});

describe('FTP protocol: passive mode', () => {
  const blockers: Server[] = [];
  afterEach(async () => {
    await Promise.all(blockers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
  });

  it('uses every port of the range, answers 425 with a clear text when all are taken, and frees a port when its session ends', async () => {
    const { minPort, maxPort } = privateRange();
    const t = await startFtpServer({ passive: { minPort, maxPort } });
    try {
      // Nine of ten ports held by other programs (ftp-srv 4.6.3 tried 5 and answered "400").
      for (let port = minPort; port < maxPort; port++) blockers.push(await listen(port));
      const first = await RawFtp.connect(t.server.port);
      await first.login('cam1', PASSWORD);
      expect((await first.pasv()).port).toBe(maxPort);
      const second = await RawFtp.connect(t.server.port);
      await second.login('cam1', PASSWORD);
      expect(await second.send('PASV')).toBe('425 No passive port available, try again later');
      expect(await second.send('EPSV')).toBe('425 No passive port available, try again later');
      first.socket.destroy();
      await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'port of the closed session freed');
      expect((await second.pasv()).port).toBe(maxPort);
      second.socket.destroy();
    } finally {
      await t.stop();
    }
  });

  it('keeps one passive port per session and frees it after a transfer, a failed transfer and at session end', async () => {
    const t = await startFtpServer();
    try {
      const ftp = await RawFtp.connect(t.server.port);
      await ftp.login('cam1', PASSWORD);
      for (let i = 0; i < 5; i++) await ftp.pasv();
      expect(await ftp.send('EPSV')).toMatch(/^229 /);
      await waitFor(() => t.server.passivePortsInUse === 1, 5000, 'one port for the session');
      expect(await store(ftp, 'one.jpg')).toMatch(/^226 /);
      await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'port freed after the transfer');
      t.accept.mockResolvedValueOnce({ status: 'rejected', code: 'UNSUPPORTED_TYPE', reason: 'not an image' });
      expect(await store(ftp, 'two.jpg')).toBe('550 UNSUPPORTED_TYPE: not an image');
      await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'port freed after a refused transfer');
      await ftp.pasv();
      expect(t.server.passivePortsInUse).toBe(1);
      expect(await ftp.send('QUIT')).toMatch(/^221 /);
      await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'port freed at session end');
    } finally {
      await t.stop();
    }
  });

  it('serves EPSV, EPSV ALL, and answers 522 for another network protocol', async () => {
    const t = await startFtpServer();
    try {
      const ftp = await RawFtp.connect(t.server.port);
      await ftp.login('cam1', PASSWORD);
      const epsv = await ftp.send('EPSV');
      const port = Number(/\(\|\|\|(\d+)\|\)/.exec(epsv)![1]);
      const data = await ftp.dataConnection(port);
      ftp.write('STOR e.jpg\r\n');
      expect(await ftp.reply()).toMatch(/^150 /);
      data.end('epsv bytes');
      expect(await ftp.reply()).toMatch(/^226 /);
      expect(await ftp.send('EPSV 2')).toBe('522 Network protocol not supported, use (1)');
      expect(await ftp.send('EPSV ALL')).toBe('200 EPSV ALL ok');
      expect(await ftp.send('PASV')).toBe('503 EPSV ALL in effect: use EPSV');
      expect(await ftp.send('EPSV 1')).toMatch(/^229 /);
      const features = await (async () => {
        ftp.write('FEAT\r\n');
        return ftp.replyLines();
      })();
      expect(features).toContain(' EPSV');
      ftp.socket.destroy();
    } finally {
      await t.stop();
    }
  });

  it("drops a data connection from another address without harming the session, and reports the stranger", async () => {
    const t = await startFtpServer();
    try {
      const ftp = await RawFtp.connect(t.server.port);
      await ftp.login('cam1', PASSWORD);
      const { port } = await ftp.pasv();
      const stranger = await ftp.dataConnection(port, { localAddress: '127.0.0.2' });
      await once(stranger, 'close');
      // The session heard nothing about it (ftp-srv 4.6.3: "550 Remote addresses do not match", then 421).
      expect(await ftp.replyWithin(300)).toBeNull();
      const data = await ftp.dataConnection(port);
      ftp.write('STOR mine.jpg\r\n');
      expect(await ftp.reply()).toMatch(/^150 /);
      data.end('my bytes');
      expect(await ftp.reply()).toMatch(/^226 /);
      expect(t.gate.penalties).toEqual([{ address: '127.0.0.2', reason: 'data connection from another address' }]);
      ftp.socket.destroy();
    } finally {
      await t.stop();
    }
  });

  it("announces the passive address of the client's network (ftp.passive.overrides)", async () => {
    const t = await startFtpServer({ passive: { host: '203.0.113.10', overrides: [{ network: '127.0.0.2/32', host: '127.0.0.1' }] } });
    try {
      const outside = await RawFtp.connect(t.server.port);
      await outside.login('cam1', PASSWORD);
      expect((await outside.pasv()).host).toBe('203.0.113.10');
      outside.socket.destroy();
      const inside = await RawFtp.connect(t.server.port, { localAddress: '127.0.0.2' });
      await inside.login('cam1', PASSWORD);
      expect((await inside.pasv()).host).toBe('127.0.0.1');
      // And the announced address works end to end.
      expect(await store(inside, 'inside.jpg')).toMatch(/^226 /);
      expect(t.accept).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ path: '/inside.jpg', remoteAddress: '127.0.0.2' }), expect.anything());
      inside.socket.destroy();
    } finally {
      await t.stop();
    }
  });
});

describe('FTP protocol: slow transfers and shutdown', () => {
  it('ends a trickle below minTransferBytesPerSecond with 451 TRANSFER_TOO_SLOW and frees its port', async () => {
    const t = await startFtpServer({ idleTimeoutMs: 10_000, limits: { minTransferBytesPerSecond: 1000, slowTransferWindowMs: 1500 } });
    try {
      const ftp = await RawFtp.connect(t.server.port);
      await ftp.login('cam1', PASSWORD);
      const data = await ftp.passive();
      data.on('error', () => undefined);
      ftp.write('STOR trickle.jpg\r\n');
      expect(await ftp.reply()).toMatch(/^150 /);
      const started = Date.now();
      // One byte every 250 ms: each byte would have re-armed the idle timeout for ever.
      const trickle = setInterval(() => data.writable && data.write('x'), 250);
      try {
        expect(await ftp.reply(8000)).toBe('451 TRANSFER_TOO_SLOW: the transfer was too slow and was ended; send the file again later');
      } finally {
        clearInterval(trickle);
      }
      const elapsed = Date.now() - started;
      expect(elapsed).toBeGreaterThanOrEqual(1500);
      expect(elapsed).toBeLessThan(5000);
      await waitFor(() => t.server.passivePortsInUse === 0, 5000, 'port freed');
      expect(t.accept).not.toHaveBeenCalled();
      expect(await ftp.send('NOOP')).toMatch(/^200 /);
      console.log(`trickle of 4 B/s ended after ${elapsed} ms (window 1500 ms)`);
      ftp.socket.destroy();
    } finally {
      await t.stop();
    }
  });

  it('on shutdown refuses new connections and transfers (421), lets a running upload finish, then says 421 to every session', async () => {
    const t = await startFtpServer({ limits: { minTransferBytesPerSecond: 0 } });
    try {
      const uploader = await RawFtp.connect(t.server.port);
      await uploader.login('cam1', PASSWORD);
      const idle = await RawFtp.connect(t.server.port);
      await idle.login('cam1', PASSWORD);
      const data = await uploader.passive();
      uploader.write('STOR during-shutdown.jpg\r\n');
      expect(await uploader.reply()).toMatch(/^150 /);
      data.write('first half ');

      const port = t.server.port;
      const stopped = t.server.shutdown(10_000);
      await sleep(100);
      // New connections: refused.
      await expect(RawFtp.open(port)).rejects.toThrow(/ECONNREFUSED/);
      // A new transfer: 421, and that session ends.
      expect(await idle.send('STOR late.jpg')).toBe('421 Service shutting down, try again later');
      await idle.closed;
      // The running upload finishes and is taken, then its session hears 421.
      data.end('second half');
      expect(await uploader.reply()).toMatch(/^226 /);
      expect(await uploader.reply()).toBe('421 Service shutting down, try again later');
      await uploader.closed;
      await stopped;
      expect(t.accept).toHaveBeenCalledTimes(1);
    } finally {
      await t.stop();
    }
  });

  it('at the drain deadline aborts what still transfers (426) and says 421', async () => {
    const t = await startFtpServer({ limits: { minTransferBytesPerSecond: 0 } });
    try {
      const ftp = await RawFtp.connect(t.server.port);
      await ftp.login('cam1', PASSWORD);
      const data = await ftp.passive();
      data.on('error', () => undefined);
      ftp.write('STOR never-ends.jpg\r\n');
      expect(await ftp.reply()).toMatch(/^150 /);
      data.write('bytes that never end');
      const started = Date.now();
      await t.server.shutdown(500);
      const elapsed = Date.now() - started;
      expect(await ftp.reply()).toBe('426 Transfer aborted: service shutting down');
      expect(await ftp.reply()).toBe('421 Service shutting down, try again later');
      await ftp.closed;
      expect(elapsed).toBeLessThan(2000);
      expect(t.accept).not.toHaveBeenCalled();
    } finally {
      await t.stop();
    }
  });
});

describe('FTP protocol: admission through the gate', () => {
  let t: TestFtpServer;
  beforeAll(async () => {
    t = await startFtpServer();
  });
  afterAll(() => t.stop());
  afterEach(() => {
    t.gate.refuseConnections = null;
    t.gate.refuseLogin = () => null;
    t.gate.logins.length = 0;
  });

  it('writes a refusal as the first and only reply (no 220 before it) and closes', async () => {
    t.gate.refuseConnections = { code: 421, text: 'Too many connections from your address', close: true };
    const ftp = await RawFtp.open(t.server.port);
    expect(await ftp.replyLines()).toEqual(['421 Too many connections from your address']);
    await ftp.closed;
  });

  it('tells the gate when each admitted connection ends, with the account it logged in as', async () => {
    const released = t.gate.released.length;
    const anonymous = await RawFtp.connect(t.server.port);
    anonymous.socket.destroy();
    const camera = await RawFtp.connect(t.server.port);
    await camera.login('cam1', PASSWORD);
    expect(await camera.send('QUIT')).toMatch(/^221 /);
    await waitFor(() => t.gate.released.length === released + 2, 5000, 'both released');
    expect(t.gate.released.slice(released)).toEqual(
      expect.arrayContaining([
        { address: '127.0.0.1', account: null },
        { address: '127.0.0.1', account: 'cam1' },
      ]),
    );
  });

  it("asks the gate at each login with the connection's attempt count, and ends the session when a refusal says so", async () => {
    t.gate.refuseLogin = (attempt) => (attempt >= 3 ? { code: 421, text: 'Too many login attempts', close: true } : null);
    const ftp = await RawFtp.connect(t.server.port);
    expect(await ftp.send('USER cam1')).toMatch(/^331 /);
    expect(await ftp.send('PASS wrong')).toBe('530 Login incorrect');
    expect(await ftp.send('PASS wrong again')).toBe('530 Login incorrect');
    // Starting over with USER is allowed; the attempt count is the connection's.
    expect(await ftp.send('USER cam1')).toMatch(/^331 /);
    expect(await ftp.send(`PASS ${PASSWORD}`)).toBe('421 Too many login attempts');
    await ftp.closed;
    expect(t.gate.logins).toEqual([1, 2, 3].map((attempt) => ({ username: 'cam1', address: '127.0.0.1', attempt })));
  });
});
