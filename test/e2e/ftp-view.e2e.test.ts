import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { promisify } from 'node:util';
import { Client, FTPError } from 'basic-ftp';
import { hashPassword, type AccountDirectory } from '../../shared/accounts';
import { LocalObjectStore } from '../../shared/adapters/local-object-store.adapter';
import { SqliteDeliveryRecord } from '../../shared/adapters/sqlite-delivery-record.adapter';
import { FtpIngestServer } from '../../services/ingest/ftp.server';
import type { IngestService } from '../../services/ingest/ingest.service';
import { cameraJpeg } from '../helpers/fixtures';
import { PASSWORD, startTestApp, type TestApp } from '../helpers/app';
import { RawFtp } from '../helpers/raw-ftp';
import { FakeGate, capturingLogger, testAccount, testFtpConfig } from '../helpers/ftp-server';
import { waitFor } from '../helpers/wait';

const run = promisify(execFile);
const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');
const pasvRange = () => {
  const base = 30000 + Math.floor(Math.random() * 300) * 100;
  return { minPort: base, maxPort: base + 99 };
};

function requireTool(tool: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed: run "bash scripts/provision-test-tools.sh" (Debian: apt-get install ${tool})`);
  }
}

interface ImageDoc {
  sources: { account: string; path: string; count: number }[];
}

async function failure(attempt: Promise<unknown>): Promise<FTPError> {
  const error = await attempt.then(() => null, (e: unknown) => e);
  expect(error).toBeInstanceOf(FTPError);
  return error as FTPError;
}

describe('the FTP view: what an account delivered', () => {
  let t: TestApp;
  let passwordHash: string;
  const jpegs = new Map<number, Buffer>();
  const jpeg = async (seed: number) => {
    if (!jpegs.has(seed)) jpegs.set(seed, await cameraJpeg({ seed: 700 + seed, width: 480, height: 360 }));
    return jpegs.get(seed)!;
  };

  beforeAll(async () => {
    passwordHash = await hashPassword(PASSWORD);
    t = await startTestApp({
      // startTestApp's 2 s idle timeout cut sessions of this suite while other suites loaded the CPU.
      ftp: { port: 0, passive: pasvRange(), idleTimeoutMs: 15_000 },
      accounts: [
        { name: 'cam1', passwordHash },
        { name: 'reader', passwordHash, allowDownload: true, siteChmod: true },
      ],
    });
  });
  afterAll(async () => {
    await t.stop();
  });

  const home = (account: string) => path.join(t.dataDir, 'ftp', account);
  const ftpUrl = (file = '') => `ftp://127.0.0.1:${t.app.ftpPort}/${file}`;

  async function upload(name: string, data: Buffer, user = 'cam1'): Promise<void> {
    const client = await t.ftp(user);
    try {
      await client.ensureDir(path.posix.dirname(name));
      await client.uploadFrom(Readable.from([data]), path.posix.basename(name));
    } finally {
      client.close();
    }
  }

  const indexed = (id: string, predicate: (doc: ImageDoc) => boolean = () => true) =>
    waitFor(async () => {
      const { status, body } = await t.api<ImageDoc>(`/api/images/${id}`);
      return status === 200 && predicate(body) ? body : undefined;
    }, 30_000, `image ${id} indexed`);

  it('sends nothing on a second lftp mirror -R of an unchanged folder', async () => {
    requireTool('lftp');
    const local = mkdtempSync(path.join(tmpdir(), 'mirror-'));
    try {
      mkdirSync(path.join(local, 'DCIM', '100CANON'), { recursive: true });
      writeFileSync(path.join(local, 'DCIM', '100CANON', 'IMG_0001.JPG'), await jpeg(1));
      writeFileSync(path.join(local, 'DCIM', '100CANON', 'IMG_0002.JPG'), await jpeg(2));
      writeFileSync(path.join(local, 'DCIM', 'IMG_0003.JPG'), await jpeg(3));
      // A camera's files were taken before they are sent.
      const taken = new Date(Date.now() - 3 * 86_400_000);
      for (const file of ['DCIM/100CANON/IMG_0001.JPG', 'DCIM/100CANON/IMG_0002.JPG', 'DCIM/IMG_0003.JPG']) utimesSync(path.join(local, file), taken, taken);
      // --no-perms: mirror -R copies modes with SITE CHMOD, which an account without siteChmod may not send.
      const mirror = () =>
        run('lftp', ['-u', `cam1,${PASSWORD}`, '-p', String(t.app.ftpPort), '-e', `set ftp:ssl-allow no; set net:max-retries 1; set net:timeout 10; set cmd:fail-exit yes; mirror -R -vv --no-perms ${local} /photos; quit`, '127.0.0.1'], { timeout: 60_000 });

      const first = await mirror();
      expect(first.stdout.match(/^Transferring file/gm)).toHaveLength(3);
      // Nothing stays in the home: the view answers from the record.
      expect(readdirSync(path.join(home('cam1'), 'photos', 'DCIM', '100CANON'))).toEqual([]);

      const second = await mirror();
      // lftp compared LIST/MDTM's size and time with the local files and found them the same.
      expect(second.stdout).toBe("Finished mirror `DCIM/100CANON'\nFinished mirror `DCIM'\n");
      expect(second.stderr).toBe('');
    } finally {
      rmSync(local, { recursive: true, force: true });
    }
  });

  it('lets curl store under a final name and rename after the upload; the index shows the new path', async () => {
    requireTool('curl');
    const data = await jpeg(4);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'curl-')), 'f.jpg');
    writeFileSync(file, data);
    await run('curl', ['-sS', '--user', `cam1:${PASSWORD}`, '-T', file, ftpUrl('cam_tmp.jpg'), '-Q', '-RNFR cam_tmp.jpg', '-Q', '-RNTO x.jpg'], { timeout: 30_000 });

    const doc = await indexed(sha256(data), (d) => d.sources.some((s) => s.path === '/x.jpg'));
    expect(doc.sources).toEqual([expect.objectContaining({ account: 'cam1', path: '/x.jpg', count: 1 })]);
    const names = (await (await t.ftp()).list('/')).map((f) => f.name);
    expect(names).toContain('x.jpg');
    expect(names).not.toContain('cam_tmp.jpg');
    expect((await t.api<{ items: unknown[] }>('/api/images?q=cam_tmp')).body.items).toEqual([]);
  });

  it('answers SIZE and MDTM for a delivered file, also to a new session and to curl', async () => {
    const data = await jpeg(5);
    const before = Math.floor(Date.now() / 1000) * 1000;
    await upload('/DCIM/IMG_0100.JPG', data);
    const after = Date.now();
    expect(existsSync(path.join(home('cam1'), 'DCIM', 'IMG_0100.JPG'))).toBe(false);

    const client = await t.ftp();
    expect(await client.size('/DCIM/IMG_0100.JPG')).toBe(data.length);
    const modified = (await client.lastMod('/DCIM/IMG_0100.JPG')).getTime();
    expect(modified).toBeGreaterThanOrEqual(before);
    expect(modified).toBeLessThanOrEqual(after);
    await client.cd('/DCIM');
    expect((await client.list()).find((f) => f.name === 'IMG_0100.JPG')).toMatchObject({ size: data.length, isFile: true });

    const head = await run('curl', ['-sS', '-I', '--user', `cam1:${PASSWORD}`, ftpUrl('DCIM/IMG_0100.JPG')], { timeout: 30_000 });
    expect(head.stdout).toContain(`Content-Length: ${data.length}`);
    expect(head.stdout).toContain(`Last-Modified: ${new Date(Math.floor(modified / 1000) * 1000).toUTCString()}`);
  });

  it('renames a delivered directory with its files, in the view and in the index', async () => {
    const [a, b] = [await jpeg(6), await jpeg(7)];
    await upload('/trip/a.jpg', a);
    await upload('/trip/day2/b.jpg', b);
    await indexed(sha256(b));
    const client = await t.ftp();
    await client.rename('/trip', '/trip-2025');
    expect((await client.list('/trip-2025')).map((f) => f.name).sort()).toEqual(['a.jpg', 'day2']);
    expect(await client.size('/trip-2025/day2/b.jpg')).toBe(b.length);
    expect((await failure(client.size('/trip/a.jpg'))).message).toBe('550 FILE_NOT_FOUND: /trip/a.jpg');
    await indexed(sha256(a), (d) => d.sources.length === 1 && d.sources[0].path === '/trip-2025/a.jpg');
    await indexed(sha256(b), (d) => d.sources.length === 1 && d.sources[0].path === '/trip-2025/day2/b.jpg');
  });

  it('hides a deleted delivered file from the view and keeps the image', async () => {
    const data = await jpeg(8);
    await upload('/gone.jpg', data);
    await indexed(sha256(data));
    const client = await t.ftp();
    await client.remove('/gone.jpg');
    expect((await client.list('/')).map((f) => f.name)).not.toContain('gone.jpg');
    expect((await failure(client.size('/gone.jpg'))).message).toBe('550 FILE_NOT_FOUND: /gone.jpg');
    expect((await t.api(`/api/images/${sha256(data)}`)).status).toBe(200);
  });

  it('refuses RETR unless the account may download, then streams the original from the store, resumable', async () => {
    const data = await jpeg(9);
    await upload('/mine.jpg', data, 'cam1');
    await upload('/mine.jpg', data, 'reader');
    const refused = await failure((await t.ftp('cam1')).downloadTo(new PassThrough(), '/mine.jpg'));
    expect(refused.message).toBe('550 DOWNLOAD_NOT_ALLOWED: downloads are not enabled for this account');

    const reader = await t.ftp('reader');
    const chunks: Buffer[] = [];
    await reader.downloadTo(new Writable({ write: (c: Buffer, _e, done) => (chunks.push(c), done()) }), '/mine.jpg');
    expect(sha256(Buffer.concat(chunks))).toBe(sha256(data));
    const tail: Buffer[] = [];
    await reader.downloadTo(new Writable({ write: (c: Buffer, _e, done) => (tail.push(c), done()) }), '/mine.jpg', 1000);
    expect(Buffer.concat(tail).equals(data.subarray(1000))).toBe(true);
  });

  describe('links out of the home are refused for every command', () => {
    const outside = () => path.join(t.dataDir, 'outside');
    let raw: RawFtp;

    beforeAll(async () => {
      mkdirSync(outside(), { recursive: true });
      writeFileSync(path.join(outside(), 'secret.jpg'), 'outside the home');
      writeFileSync(path.join(outside(), 'victim.jpg'), 'must not change');
      chmodSync(path.join(outside(), 'victim.jpg'), 0o644);
      const h = home('reader');
      mkdirSync(path.join(h, 'inside'), { recursive: true });
      writeFileSync(path.join(h, 'inside', 'kept.jpg.part'), 'partial');
      symlinkSync('/etc', path.join(h, 'etc_link'));
      symlinkSync(outside(), path.join(h, 'out_dir'));
      symlinkSync(path.join(outside(), 'victim.jpg'), path.join(h, 'out_file.jpg'));
      symlinkSync(path.join(outside(), 'not-yet.jpg'), path.join(h, 'nowhere.jpg'));
      // A link that stays inside is part of the view.
      symlinkSync(path.join(h, 'inside'), path.join(h, 'alias'));
      raw = await RawFtp.connect(t.app.ftpPort!);
      await raw.login('reader', PASSWORD);
    });
    afterAll(() => raw.socket.destroy());

    /** 550 PERMISSION_DENIED naming the client's path, never a server path. */
    function denied(reply: string): void {
      expect(reply).toMatch(/^550 PERMISSION_DENIED: /);
      expect(reply).not.toContain(t.dataDir);
      expect(reply).not.toContain('/etc/');
    }

    it('RETR through a linked directory or a linked file', async () => {
      const client = await t.ftp('reader');
      denied((await failure(client.downloadTo(new PassThrough(), 'etc_link/passwd'))).message);
      denied((await failure(client.downloadTo(new PassThrough(), 'etc_link/shadow'))).message);
      denied((await failure(client.downloadTo(new PassThrough(), 'out_file.jpg'))).message);
    });

    it('STOR through a link to a file outside, into a linked directory, or through a link to nowhere', async () => {
      const client = await t.ftp('reader');
      denied((await failure(client.uploadFrom(Readable.from([Buffer.from('overwrite')]), 'out_file.jpg'))).message);
      denied((await failure(client.uploadFrom(Readable.from([Buffer.from('new')]), 'out_dir/new.jpg'))).message);
      denied((await failure(client.uploadFrom(Readable.from([Buffer.from('new')]), 'nowhere.jpg'))).message);
      denied((await failure(client.appendFrom(Readable.from([Buffer.from('more')]), 'out_file.jpg'))).message);
      expect(readFileSync(path.join(outside(), 'victim.jpg'), 'utf8')).toBe('must not change');
      expect(readdirSync(outside()).sort()).toEqual(['secret.jpg', 'victim.jpg']);
    });

    it('LIST, NLST, CWD, SIZE and MDTM of linked paths; the listing of the home leaves the links out', async () => {
      const client = await t.ftp('reader');
      denied((await failure(client.list('out_dir'))).message);
      denied((await failure(client.list('etc_link'))).message);
      denied(await raw.send('CWD out_dir'));
      denied(await raw.send('SIZE out_file.jpg'));
      denied(await raw.send('MDTM etc_link/passwd'));
      denied(await raw.send('STAT out_dir'));
      const names = (await client.list('/')).map((f) => f.name);
      expect(names).toEqual(expect.arrayContaining(['alias', 'inside']));
      for (const link of ['etc_link', 'out_dir', 'out_file.jpg', 'nowhere.jpg']) expect(names).not.toContain(link);
      expect((await client.list('alias')).map((f) => f.name)).toEqual(['kept.jpg.part']);
    });

    it('MKD inside a linked directory, RNFR/RNTO across a link, DELE and RMD through one', async () => {
      denied(await raw.send('MKD out_dir/sub'));
      denied(await raw.send('MKD etc_link/sub'));
      denied(await raw.send('RNFR out_file.jpg'));
      expect(await raw.send('RNFR inside/kept.jpg.part')).toMatch(/^350 /);
      denied(await raw.send('RNTO out_dir/moved.jpg'));
      denied(await raw.send('DELE out_dir/secret.jpg'));
      denied(await raw.send('DELE out_file.jpg'));
      denied(await raw.send('RMD out_dir'));
      expect(readdirSync(outside()).sort()).toEqual(['secret.jpg', 'victim.jpg']);
      expect(existsSync(path.join(home('reader'), 'inside', 'kept.jpg.part'))).toBe(true);
    });

    it('SITE CHMOD through a link', async () => {
      denied(await raw.send('SITE CHMOD 666 out_file.jpg'));
      denied(await raw.send('SITE CHMOD 777 out_dir'));
      expect(statSync(path.join(outside(), 'victim.jpg')).mode & 0o777).toBe(0o644);
      expect(statSync(outside()).mode & 0o777).not.toBe(0o777);
    });
  });
});

describe('the FTP view with ftp.dele: refuse', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ ftp: { port: 0, passive: pasvRange(), idleTimeoutMs: 2000, dele: 'refuse' } });
  });
  afterAll(async () => {
    await t.stop();
  });

  it('refuses DELE of a delivered file and keeps it in the view, while an unfinished upload can still be deleted', async () => {
    const client = await t.ftp();
    const data = await cameraJpeg({ seed: 790, width: 320, height: 240 });
    await client.uploadFrom(Readable.from([data]), 'kept.jpg');
    await client.uploadFrom(Readable.from([Buffer.from('half')]), 'half.jpg.part');
    expect((await failure(client.remove('kept.jpg'))).message).toBe('550 PERMISSION_DENIED: /kept.jpg was delivered and cannot be deleted');
    expect(await client.size('kept.jpg')).toBe(data.length);
    await client.remove('half.jpg.part');
    expect((await client.list()).map((f) => f.name)).toEqual(['kept.jpg']);
  });
});

describe('a full disk during STOR', () => {
  const canMount = process.getuid?.() === 0;
  let dataDir: string;
  let mount: string;
  let server: FtpIngestServer;
  let deliveries: SqliteDeliveryRecord;
  const logLines: Record<string, unknown>[] = [];
  const accept = jest.fn();

  beforeAll(async () => {
    if (!canMount) return;
    dataDir = mkdtempSync(path.join(tmpdir(), 'ftp-full-'));
    mount = path.join(dataDir, 'tiny');
    mkdirSync(mount);
    // A real full file system: a 1 MiB tmpfs as the account's home (mounting needs root).
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', mount]);
    const config = testFtpConfig(dataDir);
    const account = testAccount(dataDir, 'tiny', { passwordHash: await hashPassword(PASSWORD), home: mount });
    const accounts = { find: (name: string) => (name === 'tiny' ? account : undefined), list: () => [account] } as unknown as AccountDirectory;
    deliveries = new SqliteDeliveryRecord(path.join(dataDir, 'deliveries.sqlite'));
    const store = new LocalObjectStore(path.join(dataDir, 'objects'));
    server = new FtpIngestServer({ config, accounts, ingest: { accept } as unknown as IngestService, logger: capturingLogger(logLines), deliveries, store, gate: new FakeGate([account]) });
    await server.listen();
  });
  afterAll(async () => {
    if (!canMount) return;
    await server.close();
    await deliveries.close();
    execFileSync('umount', [mount]);
    rmSync(dataDir, { recursive: true, force: true });
  });

  (canMount ? it : it.skip)('answers 452, removes the partial file and logs the account and path (needs root for a tmpfs)', async () => {
    const client = new Client(10_000);
    try {
      await client.access({ host: '127.0.0.1', port: server.port, user: 'tiny', password: PASSWORD });
      const error = await failure(client.uploadFrom(Readable.from([Buffer.alloc(3 << 20, 1)]), 'big.jpg'));
      expect({ reply: error.message, log: logLines }).toMatchObject({ reply: '452 no space left to receive the upload; send the file again later' });
      expect(readdirSync(mount)).toEqual([]);
      expect(logLines).toContainEqual(expect.objectContaining({ level: 50, msg: 'disk full: partial upload removed', account: 'tiny', path: '/big.jpg' }));

      // Completely full: not even an empty file stays behind.
      writeFileSync(path.join(mount, '.filler'), Buffer.alloc(0));
      try {
        for (;;) writeFileSync(path.join(mount, '.filler'), Buffer.alloc(64 << 10, 1), { flag: 'a' });
      } catch {
        // ENOSPC: full.
      }
      const again = await failure(client.uploadFrom(Readable.from([Buffer.alloc(64 << 10, 2)]), 'small.jpg'));
      expect(again.code).toBe(452);
      expect(readdirSync(mount)).toEqual(['.filler']);
      expect(accept).not.toHaveBeenCalled();
    } finally {
      client.close();
    }
  });
});
