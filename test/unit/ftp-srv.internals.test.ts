import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { FileSystem, FtpSrv, type FtpConnection } from 'ftp-srv';
import { loginRefusal, replyError } from '../../services/ingest/ftp-srv.internals';
import { RawFtp } from '../helpers/raw-ftp';

// Each test pins what services/ingest uses of the vendored ftp-srv (vendor/ftp-srv, see its
// CHANGES.md) beyond upstream's API. Upstream 4.6.3 put back in its place fails every one of them.

const EXIT_SIGNALS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;
const signalListeners = () => EXIT_SIGNALS.map((signal) => process.listeners(signal).length);

/** A server on a free port whose login hands out `fs`; the client connected and greeted. */
async function serve(login: (username: string, password: string) => Promise<{ fs?: FileSystem; root?: string }>) {
  const ftp = new FtpSrv({ url: 'ftp://127.0.0.1:0', pasv_url: '127.0.0.1', pasv_min: 61000, pasv_max: 64999, endOnProcessSignal: false });
  ftp.on('login', ({ username, password }, resolve, reject) => {
    login(username, password).then(resolve, reject);
  });
  await ftp.listen();
  const client = await RawFtp.connect(ftp.address().port);
  return { ftp, client };
}

describe('vendored ftp-srv', () => {
  it('is the vendored copy (4.6.3-ingest), with the list of its changes', () => {
    const dir = path.dirname(require.resolve('ftp-srv/package.json'));
    expect(JSON.parse(readFileSync(path.join(dir, 'package.json'), 'utf8')).version).toMatch(/^4\.6\.3-ingest\.\d+$/);
    expect(existsSync(path.join(dir, 'CHANGES.md'))).toBe(true);
    expect(existsSync(path.join(dir, 'LICENSE'))).toBe(true);
  });

  it('has the options and methods ftp.server.ts uses', () => {
    const ftp = new FtpSrv({ endOnProcessSignal: false });
    const options = Object.keys((ftp as unknown as { options: object }).options);
    expect(options).toEqual(
      expect.arrayContaining(['endOnProcessSignal', 'pasv_pool', 'tls_required', 'handshake_timeout', 'max_command_bytes', 'min_transfer_rate', 'name_policy', 'admit']),
    );
    for (const method of ['address', 'stopListening', 'shutdown', 'setTls']) expect(typeof (FtpSrv.prototype as unknown as Record<string, unknown>)[method]).toBe('function');
    expect(ftp.pasvPorts).toEqual(expect.objectContaining({ min: 1024, max: 65535, used: 0 }));
  });

  it('endOnProcessSignal: false leaves SIGTERM, SIGINT and SIGQUIT alone (upstream: process.exit(0) on each)', () => {
    const before = signalListeners();
    new FtpSrv({ endOnProcessSignal: false });
    expect(signalListeners()).toEqual(before);
  });

  it('replyError: a file system error is answered with its code and text, never with a success code', async () => {
    class Failing extends FileSystem {
      override write(): never {
        throw replyError({ code: 451, text: 'STORE_UNAVAILABLE: storage is unavailable' });
      }
      override mkdir(): Promise<never> {
        return Promise.reject(replyError({ code: 550, text: 'EMPTY_FILE: file is empty' }));
      }
      override delete(): Promise<never> {
        return Promise.reject(Object.assign(new Error('not a success'), { replyCode: 226 }));
      }
    }
    const { ftp, client } = await serve(async () => ({ fs: new Failing({} as FtpConnection, { root: '/nonexistent', cwd: '/' }) }));
    try {
      await client.login('any', 'any');
      const data = await client.passive();
      expect(await client.send('STOR a.jpg')).toBe('451 STORE_UNAVAILABLE: storage is unavailable');
      data.destroy();
      expect(await client.send('MKD d')).toBe('550 EMPTY_FILE: file is empty');
      expect(await client.send('DELE a.jpg')).toBe('550 not a success');
    } finally {
      client.socket.destroy();
      await ftp.close();
    }
  });

  it('loginRefusal: 530 lets the client try again; 421 with close ends the session', async () => {
    let attempts = 0;
    const { ftp, client } = await serve(async () => {
      attempts += 1;
      throw loginRefusal(attempts < 2 ? { code: 530, text: 'Login incorrect', close: false } : { code: 421, text: 'Too many attempts', close: true });
    });
    try {
      expect(await client.send('USER a')).toMatch(/^331 /);
      expect(await client.send('PASS b')).toBe('530 Login incorrect');
      expect(await client.send('PASS c')).toBe('421 Too many attempts');
      await client.closed;
    } finally {
      await ftp.close();
    }
  });
});
