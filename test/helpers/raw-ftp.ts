import { connect, type Socket } from 'node:net';

/** A bare FTP control connection, for what client libraries will not do: vanish mid-transfer. */
export class RawFtp {
  private buffer = '';
  private waiters: (() => void)[] = [];

  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => {
      this.buffer += data;
      this.waiters.splice(0).forEach((w) => w());
    });
  }

  static async connect(port: number): Promise<RawFtp> {
    const socket = connect(port, '127.0.0.1');
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const ftp = new RawFtp(socket);
    await ftp.reply();
    return ftp;
  }

  /** The next complete reply line "NNN text". */
  async reply(): Promise<string> {
    for (;;) {
      const match = this.buffer.match(/^(\d{3}) [^\r\n]*\r\n/m);
      if (match) {
        const end = this.buffer.indexOf(match[0]) + match[0].length;
        this.buffer = this.buffer.slice(end);
        return match[0].trim();
      }
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  async send(command: string): Promise<string> {
    this.socket.write(`${command}\r\n`);
    return this.reply();
  }

  async login(user: string, password: string): Promise<void> {
    await this.send(`USER ${user}`);
    const reply = await this.send(`PASS ${password}`);
    if (!reply.startsWith('230')) throw new Error(reply);
  }

  /** PASV, then the data socket. */
  async passive(): Promise<Socket> {
    const reply = await this.send('PASV');
    const [, , , , p1, p2] = reply.match(/\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)/)!.slice(1).map(Number);
    const data = connect(p1 * 256 + p2, '127.0.0.1');
    await new Promise<void>((resolve, reject) => data.once('connect', resolve).once('error', reject));
    return data;
  }
}
