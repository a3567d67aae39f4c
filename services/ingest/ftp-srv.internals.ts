/**
 * Every reach into ftp-srv 4.6.3 beyond its typed API. Each function cites the file of
 * node_modules/ftp-srv it depends on; test/unit/ftp-srv.internals.test.ts fails when an upgrade
 * moves one of them.
 */
import type { EventEmitter } from 'node:events';
import type { Server, Socket } from 'node:net';
import { FtpSrv, type FileSystem, type FtpConnection, type FtpServerOptions } from 'ftp-srv';
import type { FtpReply } from './ftp-replies';

export const EXIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];

/**
 * src/index.js: the constructor adds process.on('SIGTERM' | 'SIGINT' | 'SIGQUIT', quit), and quit()
 * ends in process.exit(0). The application shuts down in order itself, so those listeners go.
 */
export function createFtpSrv(options: FtpServerOptions): FtpSrv {
  const before = new Map(EXIT_SIGNALS.map((signal) => [signal, process.listeners(signal)]));
  const ftp = new FtpSrv(options);
  for (const signal of EXIT_SIGNALS) {
    for (const listener of process.listeners(signal)) {
      if (!before.get(signal)!.includes(listener)) process.removeListener(signal, listener);
    }
  }
  return ftp;
}

interface ServerInternals {
  server: Server;
  connections: Record<string, { close(code: number): Promise<unknown> }>;
}

/** src/index.js: `this.server`, the net (or tls) server that accepts control connections. */
export function listeningServer(ftp: FtpSrv): Server {
  return (ftp as unknown as ServerInternals).server;
}

/**
 * src/index.js: `this.connections` (id to connection). ftp-srv's own close() goes through
 * disconnectClient(), which arms a timer per client (idle-timeout long) that it never clears and
 * that keeps the process alive after shutdown; closing the sessions first leaves it nothing to time.
 */
export async function closeSessions(ftp: FtpSrv): Promise<void> {
  const { connections } = ftp as unknown as ServerInternals;
  for (const [id, connection] of Object.entries(connections)) {
    delete connections[id];
    // src/connection.js close(code): 0 skips the 421 reply and destroys the control socket.
    await connection.close(0).catch(() => undefined);
  }
}

/** src/connection.js: `commandSocket`, the client's control connection. */
export function commandSocket(connection: FtpConnection): Socket {
  return (connection as unknown as { commandSocket: Socket }).commandSocket;
}

/** src/fs.js: `_resolvePath(path)`, the client path joined to cwd and chrooted to root; absent from the typings. */
export function resolvePath(fs: FileSystem, fileName: string): { clientPath: string; fsPath: string } {
  return (fs as unknown as { _resolvePath(fileName: string): { clientPath: string; fsPath: string } })._resolvePath(fileName);
}

/**
 * src/commands/registration/stor.js and rnto.js answer every error the file system throws with
 * `this.reply(550, err.message)`. To send 451 or 452 instead, the error a file system throws
 * carries its reply in the message ("451 STORE_UNAVAILABLE: ..."), and routeReplyCodes() makes
 * the connection send that code. A 550 reply carries only its text, so it needs no routing.
 *
 * Chosen over the alternatives: replacing the STOR/APPE/RNTO handlers would copy ftp-srv's
 * transfer logic; an Error whose `message` is a letter object ({ code, message }, which
 * src/connection.js reply() honours) breaks every logger that reads the message.
 */
export function replyError(reply: FtpReply): Error {
  return new Error(reply.code === 550 ? reply.text : `${reply.code} ${reply.text}`);
}

const CARRIED_REPLY = /^(4\d\d) (.+)$/s;

/**
 * src/index.js emits 'connect' ({ connection }) for each client, before its greeting; its
 * connection's `reply(options, ...letters)` (src/connection.js) is wrapped so that a
 * `reply(550, message)` whose message carries a 4xx code (see replyError) sends that code. Only
 * 550-to-4xx is rewritten: a message can make a refusal a "try later", never a success.
 */
export function routeReplyCodes(ftp: FtpSrv): void {
  (ftp as unknown as EventEmitter).on('connect', ({ connection }: { connection: FtpConnection }) => {
    const reply = connection.reply.bind(connection);
    connection.reply = (options: number | object, ...letters: unknown[]) => {
      const carried = options === 550 && letters.length === 1 && typeof letters[0] === 'string' ? CARRIED_REPLY.exec(letters[0]) : null;
      return carried ? reply(Number(carried[1]), carried[2]) : reply(options, ...letters);
    };
  });
}
