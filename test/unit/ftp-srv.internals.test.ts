import { readFileSync } from 'node:fs';
import { Server, Socket, connect } from 'node:net';
import path from 'node:path';
import { FileSystem, FtpSrv, type FtpConnection } from 'ftp-srv';
import pino from 'pino';
import {
  EXIT_SIGNALS,
  closeSessions,
  commandSocket,
  createFtpSrv,
  listeningServer,
  replyError,
  resolvePath,
  routeReplyCodes,
} from '../../services/ingest/ftp-srv.internals';

// Each test pins one thing services/ingest/ftp-srv.internals.ts takes from ftp-srv's source; when
// an upgrade moves it, the test names what to look at again.

const source = (file: string) => readFileSync(path.join(path.dirname(require.resolve('ftp-srv/package.json')), file), 'utf8');
const silent = pino({ level: 'silent' });

function listeners(): Map<NodeJS.Signals, Function[]> {
  return new Map(EXIT_SIGNALS.map((signal) => [signal, process.listeners(signal)]));
}

/** Restores the process's signal listeners to a snapshot, whatever a raw FtpSrv added. */
function restore(snapshot: Map<NodeJS.Signals, Function[]>): void {
  for (const [signal, before] of snapshot) {
    for (const listener of process.listeners(signal)) if (!before.includes(listener)) process.removeListener(signal, listener as () => void);
  }
}

async function serve(ftp: FtpSrv): Promise<{ port: number; connected: Promise<FtpConnection>; client: Socket; lines: () => Promise<string> }> {
  const connected = new Promise<FtpConnection>((resolve) => (ftp as unknown as NodeJS.EventEmitter).once('connect', ({ connection }) => resolve(connection)));
  await ftp.listen();
  const port = (listeningServer(ftp).address() as { port: number }).port;
  const client = connect(port, '127.0.0.1');
  let buffer = '';
  const waiters: (() => void)[] = [];
  client.setEncoding('utf8').on('data', (data: string) => {
    buffer += data;
    waiters.splice(0).forEach((w) => w());
  });
  const lines = async () => {
    while (!buffer.includes('\r\n')) await new Promise<void>((resolve) => waiters.push(resolve));
    const end = buffer.indexOf('\r\n');
    const line = buffer.slice(0, end);
    buffer = buffer.slice(end + 2);
    return line;
  };
  return { port, connected, client, lines };
}

describe('ftp-srv internals (4.6.3)', () => {
  it('src/index.js: the constructor adds exit-on-signal listeners, and createFtpSrv takes them away', () => {
    const snapshot = listeners();
    try {
      new FtpSrv({ log: silent });
      for (const signal of EXIT_SIGNALS) expect(process.listeners(signal).length).toBe(snapshot.get(signal)!.length + 1);
      expect(source('src/index.js')).toMatch(/quit\(\) \{\s*return this\.close\(\)\s*\.then\(\(\) => process\.exit\(0\)\)/);
    } finally {
      restore(snapshot);
    }
    const before = listeners();
    createFtpSrv({ log: silent });
    expect(listeners()).toEqual(before);
  });

  it('src/index.js: `server` is the net server and `connections` holds each session until closeSessions', async () => {
    const ftp = createFtpSrv({ url: 'ftp://127.0.0.1:0', log: silent });
    expect(listeningServer(ftp)).toBeInstanceOf(Server);
    const { connected, client, lines } = await serve(ftp);
    const connection = await connected;
    expect(await lines()).toMatch(/^220 /);
    expect(Object.values((ftp as unknown as { connections: Record<string, unknown> }).connections)).toContain(connection);
    const closed = new Promise((resolve) => client.once('close', resolve));
    await closeSessions(ftp);
    await closed;
    expect((ftp as unknown as { connections: Record<string, unknown> }).connections).toEqual({});
    await ftp.close();
  });

  it('src/connection.js: `commandSocket` is the control connection', async () => {
    const ftp = createFtpSrv({ url: 'ftp://127.0.0.1:0', log: silent });
    const { connected, client } = await serve(ftp);
    const socket = commandSocket(await connected);
    expect(socket).toBeInstanceOf(Socket);
    expect(socket.remotePort).toBe(client.localPort);
    await closeSessions(ftp);
    await ftp.close();
  });

  it('src/fs.js: `_resolvePath` joins cwd and chroots to the root', () => {
    expect(typeof (FileSystem.prototype as unknown as Record<string, unknown>)._resolvePath).toBe('function');
    const fs = new FileSystem({} as FtpConnection, { root: '/srv/ftp/cam1', cwd: '/DCIM' });
    expect(resolvePath(fs, 'a.jpg')).toEqual({ clientPath: '/DCIM/a.jpg', fsPath: path.resolve('/srv/ftp/cam1/DCIM/a.jpg') });
    expect(resolvePath(fs, '/x/b.jpg')).toEqual({ clientPath: '/x/b.jpg', fsPath: path.resolve('/srv/ftp/cam1/x/b.jpg') });
  });

  it('src/commands/registration/stor.js and rnto.js answer any file-system error with 550 and its message', () => {
    for (const file of ['stor.js', 'rnto.js']) {
      const text = source(`src/commands/registration/${file}`);
      // The last catch: every error the file system throws ends here.
      expect(text).toMatch(/\.catch\(\(err\) => \{[^}]*return this\.reply\(550, err\.message\);\s*\}\)/);
    }
  });

  it('src/connection.js: reply(550, message) sends the code a replyError carries, and leaves everything else alone', async () => {
    const ftp = createFtpSrv({ url: 'ftp://127.0.0.1:0', log: silent });
    routeReplyCodes(ftp);
    expect(source('src/index.js')).toContain("this.emit('connect', {connection");
    const { connected, lines } = await serve(ftp);
    const connection = await connected;
    expect(await lines()).toMatch(/^220 /);
    await connection.reply(550, replyError({ code: 451, text: 'STORE_UNAVAILABLE: storage is unavailable' }).message);
    expect(await lines()).toBe('451 STORE_UNAVAILABLE: storage is unavailable');
    await connection.reply(550, replyError({ code: 452, text: 'no space left' }).message);
    expect(await lines()).toBe('452 no space left');
    await connection.reply(550, replyError({ code: 550, text: 'EMPTY_FILE: file is empty' }).message);
    expect(await lines()).toBe('550 EMPTY_FILE: file is empty');
    await connection.reply(226, '451 not a failure');
    expect(await lines()).toBe('226 451 not a failure');
    await closeSessions(ftp);
    await ftp.close();
  });
});
