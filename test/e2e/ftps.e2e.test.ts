import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { promisify } from 'node:util';
import { Client } from 'basic-ftp';
import { FtpSrv } from 'ftp-srv';
import { PASSWORD, startFtpServer, type TestFtpServer } from '../helpers/ftp-server';
import { RawFtp } from '../helpers/raw-ftp';
import { makeCertificate, requireTool, type TestCertificate } from '../helpers/tls';

const run = promisify(execFile);

/** The server certificate a TLS connection was shown. */
const fingerprint = (socket: unknown) => (socket as TLSSocket).getPeerCertificate().fingerprint256;

describe('FTPS with real clients', () => {
  let certificate: TestCertificate;
  let t: TestFtpServer;
  let work: string;

  beforeAll(async () => {
    requireTool('curl');
    requireTool('lftp');
    certificate = makeCertificate();
    t = await startFtpServer({ tls: { certFile: certificate.certFile, keyFile: certificate.keyFile, implicitPort: 0 } });
    work = mkdtempSync(path.join(tmpdir(), 'ftps-client-'));
  });
  afterAll(async () => {
    await t.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(path.dirname(certificate.certFile), { recursive: true, force: true });
  });

  const local = (name: string, bytes = `bytes of ${name}`) => {
    const file = path.join(work, name);
    writeFileSync(file, bytes);
    return file;
  };

  it('curl --ssl-reqd uploads and lists over explicit FTPS, data protected with PROT P', async () => {
    const url = `ftp://127.0.0.1:${t.server.port}/`;
    const upload = await run('curl', ['--ssl-reqd', '-k', '-sS', '-v', '--user', `cam1:${PASSWORD}`, '-T', local('curl.jpg'), url]);
    // curl asks AUTH SSL first (the pre-RFC 4217 name), then AUTH TLS if that is refused.
    expect(upload.stderr).toMatch(/> AUTH (SSL|TLS)\r?\n< 234 /);
    expect(upload.stderr).toMatch(/> PROT P[\s\S]*?< 200 /);
    expect(upload.stderr).toMatch(/< 226/);
    const list = await run('curl', ['--ssl-reqd', '-k', '-sS', '--user', `cam1:${PASSWORD}`, url]);
    expect(list.stdout).toContain('curl.jpg');
    expect(t.accept).toHaveBeenCalledWith(expect.any(String), expect.objectContaining({ path: '/curl.jpg', protocol: 'ftps' }), expect.anything());
  });

  it('lftp with ftp:ssl-force and ftp:ssl-protect-data uploads and lists', async () => {
    const script = [
      'set ftp:ssl-force true',
      'set ftp:ssl-protect-data true',
      'set ssl:verify-certificate no',
      'set net:max-retries 1',
      'set net:timeout 10',
      'set cmd:fail-exit true',
      `put ${local('lftp.jpg')} -o lftp.jpg`,
      'cls -1',
      'quit',
    ].join('; ');
    const { stdout } = await run('lftp', ['-u', `cam1,${PASSWORD}`, '-e', script, `ftp://127.0.0.1:${t.server.port}`], { timeout: 30_000 });
    expect(stdout.split('\n')).toContain('lftp.jpg');
    expect(readdirSync(t.home('cam1'))).toContain('lftp.jpg');
  });

  it('basic-ftp with secure: true uploads and lists', async () => {
    const client = new Client(10_000);
    try {
      await client.access({ host: '127.0.0.1', port: t.server.port, user: 'cam1', password: PASSWORD, secure: true, secureOptions: { rejectUnauthorized: false } });
      await client.uploadFrom(Readable.from([Buffer.from('basic-ftp bytes')]), 'basic.jpg');
      expect((await client.list()).map((f) => f.name)).toContain('basic.jpg');
    } finally {
      client.close();
    }
  });

  it('implicit FTPS: TLS from the first byte, with curl (ftps://) and basic-ftp', async () => {
    const port = t.server.implicitPort!;
    await run('curl', ['--ssl-reqd', '-k', '-sS', '--user', `cam1:${PASSWORD}`, '-T', local('implicit.jpg'), `ftps://127.0.0.1:${port}/`]);
    const client = new Client(10_000);
    try {
      await client.access({ host: '127.0.0.1', port, user: 'cam1', password: PASSWORD, secure: 'implicit', secureOptions: { rejectUnauthorized: false } });
      await client.uploadFrom(Readable.from([Buffer.from('implicit bytes')]), 'implicit2.jpg');
      expect((await client.list()).map((f) => f.name)).toEqual(expect.arrayContaining(['implicit.jpg', 'implicit2.jpg']));
    } finally {
      client.close();
    }
  });

  it('a protected data connection takes no plaintext', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.startTls();
    await ftp.login('cam1', PASSWORD);
    expect(await ftp.send('PBSZ 0')).toMatch(/^200 /);
    expect(await ftp.send('PROT P')).toBe('200 OK');
    const { port } = await ftp.pasv();
    const plain = await ftp.dataConnection(port);
    ftp.write('STOR plain.jpg\r\n');
    plain.end('GET / HTTP/1.0\r\n\r\nplaintext, not a TLS handshake');
    // The handshake fails before the 150 (425) or after it (426), depending on who is faster.
    let reply = await ftp.reply();
    if (reply.startsWith('150 ')) reply = await ftp.reply();
    expect(reply).toMatch(/^42[56] Data connection closed/);
    expect(readdirSync(t.home('cam1'))).not.toContain('plain.jpg');
    ftp.socket.destroy();
  });

  it('drops plaintext sent after AUTH TLS in the same packet (STARTTLS command injection)', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    ftp.write('AUTH TLS\r\nUSER injected\r\n');
    expect(await ftp.reply()).toMatch(/^234 /);
    await ftp.upgrade();
    // ftp-srv 4.6.3 ran the injected USER as if it came over TLS: its 331 came first.
    expect(await ftp.send('NOOP')).toMatch(/^200 /);
    expect(await ftp.send(`PASS ${PASSWORD}`)).toBe('503 Bad sequence of commands');
    expect(t.gate.logins).not.toContainEqual(expect.objectContaining({ username: 'injected' }));
    ftp.socket.destroy();
  });

  it('advertises AUTH TLS, PBSZ and PROT in FEAT; not AUTH TLS on the implicit port', async () => {
    const explicit = await RawFtp.connect(t.server.port);
    explicit.write('FEAT\r\n');
    expect(await explicit.replyLines()).toEqual(expect.arrayContaining([' AUTH TLS', ' PBSZ', ' PROT', ' EPSV', ' UTF8']));
    explicit.socket.destroy();
    const implicit = await RawFtp.connect(t.server.implicitPort!, { tls: true });
    implicit.write('FEAT\r\n');
    const features = await implicit.replyLines();
    expect(features).toEqual(expect.arrayContaining([' PBSZ', ' PROT']));
    expect(features).not.toContain(' AUTH TLS');
    implicit.socket.destroy();
  });

  it('SIGHUP reload: new connections get the new certificate; a pair that does not load keeps the one in use', async () => {
    const before = await RawFtp.connect(t.server.port);
    await before.startTls();
    expect(fingerprint(before.socket)).toBe(certificate.fingerprint256);
    const next = makeCertificate(mkdtempSync(path.join(tmpdir(), 'ftps-cert-')), 'renewed');
    copyFileSync(next.certFile, certificate.certFile);
    copyFileSync(next.keyFile, certificate.keyFile);
    expect(t.server.reloadTls()).toBe(true);
    const after = await RawFtp.connect(t.server.port);
    await after.startTls();
    expect(fingerprint(after.socket)).toBe(next.fingerprint256);
    const implicit = await RawFtp.connect(t.server.implicitPort!, { tls: true });
    expect(fingerprint(implicit.socket)).toBe(next.fingerprint256);
    // The session that was already in TLS carries on.
    expect(await before.send('NOOP')).toMatch(/^200 /);

    writeFileSync(certificate.keyFile, 'not a key');
    expect(t.server.reloadTls()).toBe(false);
    const still = await RawFtp.connect(t.server.port);
    await still.startTls();
    expect(fingerprint(still.socket)).toBe(next.fingerprint256);
    for (const ftp of [before, after, implicit, still]) ftp.socket.destroy();
    copyFileSync(next.keyFile, certificate.keyFile);
    rmSync(path.dirname(next.certFile), { recursive: true, force: true });
  });
});

describe('FTPS: ftp.tls.required', () => {
  let certificate: TestCertificate;
  let t: TestFtpServer;

  beforeAll(async () => {
    certificate = makeCertificate();
    t = await startFtpServer({ tls: { certFile: certificate.certFile, keyFile: certificate.keyFile, required: true } });
  });
  afterAll(async () => {
    await t.stop();
    rmSync(path.dirname(certificate.certFile), { recursive: true, force: true });
  });

  it('refuses USER and PASS on a plain control connection', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    expect(await ftp.send('USER cam1')).toBe('530 TLS required: send AUTH TLS first');
    expect(await ftp.send(`PASS ${PASSWORD}`)).toBe('530 TLS required: send AUTH TLS first');
    expect(t.gate.logins).toEqual([]);
    ftp.socket.destroy();
  });

  it('after AUTH TLS, takes the login but data only with PROT P', async () => {
    const ftp = await RawFtp.connect(t.server.port);
    await ftp.startTls();
    await ftp.login('cam1', PASSWORD);
    expect(await ftp.send('PASV')).toBe('521 Data connections must be protected: send PBSZ 0 and PROT P');
    expect(await ftp.send('PBSZ 0')).toMatch(/^200 /);
    expect(await ftp.send('PROT C')).toBe('534 Data connections must be protected: PROT P');
    expect(await ftp.send('PROT P')).toBe('200 OK');
    const data = await ftp.passive({ tls: true });
    ftp.write('STOR required.jpg\r\n');
    expect(await ftp.reply()).toMatch(/^150 /);
    data.end('protected bytes');
    expect(await ftp.reply()).toMatch(/^226 /);
    ftp.socket.destroy();
  });

  it('curl --ssl-reqd works as before', async () => {
    requireTool('curl');
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ftps-client-')), 'req.jpg');
    writeFileSync(file, 'required bytes');
    await run('curl', ['--ssl-reqd', '-k', '-sS', '--user', `cam1:${PASSWORD}`, '-T', file, `ftp://127.0.0.1:${t.server.port}/`]);
    expect(readdirSync(t.home('cam1'))).toContain('req.jpg');
    rmSync(path.dirname(file), { recursive: true, force: true });
  });
});

describe('FTPS: without a certificate', () => {
  it('does not advertise AUTH TLS, and answers it 502', async () => {
    const t = await startFtpServer();
    try {
      const ftp = await RawFtp.connect(t.server.port);
      ftp.write('FEAT\r\n');
      const features = await ftp.replyLines();
      expect(features).toEqual(expect.arrayContaining([' EPSV', ' SIZE', ' MDTM', ' UTF8']));
      expect(features.filter((line) => /AUTH|PBSZ|PROT/.test(line))).toEqual([]);
      expect(await ftp.send('AUTH TLS')).toBe('502 TLS is not available');
      expect(await ftp.send('NOOP')).toMatch(/^200 /);
      ftp.socket.destroy();
    } finally {
      await t.stop();
    }
  });
});

describe('FTPS: TLS handshake deadline (ftp-srv handshake_timeout)', () => {
  let certificate: TestCertificate;
  beforeAll(() => {
    certificate = makeCertificate();
  });
  afterAll(() => rmSync(path.dirname(certificate.certFile), { recursive: true, force: true }));

  const serve = async (url: string) => {
    const ftp = new FtpSrv({
      url,
      tls: { cert: readFileSync(certificate.certFile), key: readFileSync(certificate.keyFile) },
      handshake_timeout: 300,
      endOnProcessSignal: false,
    });
    await ftp.listen();
    return ftp;
  };

  it('closes a session that sends AUTH TLS and never starts the handshake', async () => {
    const ftp = await serve('ftp://127.0.0.1:0');
    try {
      const client = await RawFtp.connect(ftp.address().port);
      expect(await client.send('AUTH TLS')).toMatch(/^234 /);
      const started = Date.now();
      await client.closed;
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await ftp.close();
    }
  });

  it('closes a connection to the implicit port that never starts the handshake', async () => {
    const ftp = await serve('ftps://127.0.0.1:0');
    try {
      const socket = connect(ftp.address().port, '127.0.0.1');
      socket.on('error', () => undefined).resume();
      await once(socket, 'connect');
      const started = Date.now();
      await once(socket, 'close');
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      await ftp.close();
    }
  });
});
