import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';

export interface RawFtpOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** The client's own address (127.0.0.2 stands for "another host" on loopback). */
  localAddress?: string;
  /** Implicit FTPS: TLS from the first byte. */
  tls?: boolean;
}

/**
 * A bare FTP control connection, for what client libraries will not do: vanish mid-transfer, split
 * a command across reads, send bytes that are not a command, ABOR while data flows, switch to TLS
 * by hand.
 */
export class RawFtp {
  private buffer = '';
  private waiters: (() => void)[] = [];
  /** Resolves when the control connection has closed. */
  readonly closed: Promise<void>;

  private constructor(
    public socket: Socket,
    private readonly options: RawFtpOptions,
  ) {
    this.attach(socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => undefined);
  }

  /** Connects and reads the greeting, which must be 220. */
  static async connect(port: number, options: RawFtpOptions = {}): Promise<RawFtp> {
    const ftp = await RawFtp.open(port, options);
    const greeting = await ftp.reply();
    if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
    return ftp;
  }

  /** Connects without reading anything (a refusal comes instead of the greeting). */
  static async open(port: number, options: RawFtpOptions = {}): Promise<RawFtp> {
    const target = { port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress };
    const socket = options.tls ? tlsConnect({ ...target, rejectUnauthorized: false }) : connect(target);
    await once(socket, options.tls ? 'secureConnect' : 'connect');
    return new RawFtp(socket, options);
  }

  private attach(socket: Socket): void {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.buffer += data;
      this.waiters.splice(0).forEach((w) => w());
    });
    socket.once('close', () => this.waiters.splice(0).forEach((w) => w()));
  }

  /** Every line of the next complete reply (one line, or "NNN-" ... "NNN text"). */
  async replyLines(timeoutMs = 10_000): Promise<string[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const lines = this.buffer.split('\r\n');
      const code = /^\d{3}-/.test(lines[0]) ? lines[0].slice(0, 3) : null;
      const last = lines.slice(0, -1).findIndex((line) => /^\d{3} /.test(line) && (code === null || line.startsWith(`${code} `)));
      if (last !== -1) {
        this.buffer = lines.slice(last + 1).join('\r\n');
        return lines.slice(0, last + 1);
      }
      if (this.socket.destroyed) throw new Error(`connection closed before a reply${this.buffer ? `: ${JSON.stringify(this.buffer)}` : ''}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no reply within ${timeoutMs} ms${this.buffer ? `: ${JSON.stringify(this.buffer)}` : ''}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** The next complete reply's final line "NNN text". */
  async reply(timeoutMs?: number): Promise<string> {
    const lines = await this.replyLines(timeoutMs);
    return lines[lines.length - 1];
  }

  /** The next reply, or null if none comes within `ms` (for "nothing was answered yet"). */
  async replyWithin(ms: number): Promise<string | null> {
    return this.reply(ms).catch(() => null);
  }

  async send(command: string, timeoutMs?: number): Promise<string> {
    this.socket.write(`${command}\r\n`);
    return this.reply(timeoutMs);
  }

  /** Bytes as they are, no CRLF added. */
  write(bytes: string | Buffer): void {
    this.socket.write(bytes);
  }

  async login(user: string, password: string): Promise<void> {
    await this.send(`USER ${user}`);
    const reply = await this.send(`PASS ${password}`);
    if (!reply.startsWith('230')) throw new Error(reply);
  }

  /** AUTH TLS, then TLS on this connection (explicit FTPS). */
  async startTls(): Promise<void> {
    const reply = await this.send('AUTH TLS');
    if (!reply.startsWith('234')) throw new Error(reply);
    await this.upgrade();
  }

  /** The TLS handshake on this connection, once the server has answered AUTH TLS with 234. */
  async upgrade(): Promise<TLSSocket> {
    this.socket.removeAllListeners('data');
    const secure = tlsConnect({ socket: this.socket, rejectUnauthorized: false });
    await once(secure, 'secureConnect');
    this.socket = secure;
    this.attach(secure);
    return secure;
  }

  /** PASV: the announced address and port. */
  async pasv(): Promise<{ host: string; port: number }> {
    const reply = await this.send('PASV');
    const match = reply.match(/\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/);
    if (!match) throw new Error(reply);
    const n = match.slice(1).map(Number);
    return { host: n.slice(0, 4).join('.'), port: n[4] * 256 + n[5] };
  }

  /** A data connection from this client's address (or `localAddress`), in TLS when asked (PROT P). */
  async dataConnection(port: number, options: { host?: string; localAddress?: string; tls?: boolean } = {}): Promise<Socket> {
    const target = { port, host: options.host ?? this.options.host ?? '127.0.0.1', localAddress: options.localAddress ?? this.options.localAddress };
    const socket: Socket | TLSSocket = options.tls ? tlsConnect({ ...target, rejectUnauthorized: false }) : connect(target);
    await once(socket, options.tls ? 'secureConnect' : 'connect');
    return socket;
  }

  /** PASV, then the data socket to the announced address. */
  async passive(options: { tls?: boolean } = {}): Promise<Socket> {
    const { host, port } = await this.pasv();
    return this.dataConnection(port, { host, tls: options.tls });
  }
}
