import { readFileSync } from 'node:fs';
import type { AddressInfo, Server, Socket } from 'node:net';
import { FtpSrv, type FtpConnection } from 'ftp-srv';
import { AccountDirectory, isAddressAllowed, verifyPassword } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import type { Logger } from '../../shared/logging';
import { IngestFileSystem } from './ftp-file-system';
import type { IngestService } from './ingest.service';
import { tempNameMatcher } from './temp-names';

export interface FtpIngestDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  ingest: IngestService;
  logger: Logger;
}

/** The FTP(S) front door: authenticates accounts, chroots them to their home, hands uploads to ingest. */
export class FtpIngestServer {
  private readonly server: FtpSrv;
  private readonly logger: Logger;
  private readonly isTempName: (fileName: string) => boolean;

  constructor(private readonly deps: FtpIngestDeps) {
    const { config } = deps;
    this.logger = deps.logger.child({ component: 'ftp' });
    this.isTempName = tempNameMatcher(config.ftp.tempNamePatterns);
    const tls =
      config.ftp.tls.certFile && config.ftp.tls.keyFile
        ? { cert: readFileSync(config.ftp.tls.certFile), key: readFileSync(config.ftp.tls.keyFile) }
        : false;
    const signalsBefore = new Map(SIGNALS.map((s) => [s, process.listeners(s)]));
    this.server = new FtpSrv({
      url: `ftp://${config.ftp.host}:${config.ftp.port}`,
      pasv_url: config.ftp.passive.host,
      pasv_min: config.ftp.passive.minPort,
      pasv_max: config.ftp.passive.maxPort,
      anonymous: false,
      tls,
      timeout: config.ftp.idleTimeoutMs,
      greeting: 'image ingest ready',
      // ftp-srv logs every refused STOR as an error with a stack; ingest already logs the reason.
      log: this.logger.child({ library: 'ftp-srv' }, { level: this.logger.isLevelEnabled('debug') ? 'debug' : 'fatal' }),
    });
    // ftp-srv 4.6.3 calls process.exit(0) on these signals; the application shuts down in order itself.
    for (const signal of SIGNALS) {
      for (const listener of process.listeners(signal)) {
        if (!signalsBefore.get(signal)!.includes(listener)) process.removeListener(signal, listener);
      }
    }
    this.server.on('login', ({ connection, username, password }, resolve, reject) => {
      this.login(connection, username, password).then(resolve, reject);
    });
    this.server.on('client-error', ({ error }) => this.logger.debug({ err: error?.message }, 'client error'));
  }

  async listen(): Promise<void> {
    await this.server.listen();
  }

  /** The bound port (the configured one, or the OS's pick for 0). */
  get port(): number {
    return (this.internals.server.address() as AddressInfo).port;
  }

  /** Refuses new connections; sessions already open carry on until close(). */
  stopListening(): void {
    // Not server.close(): ftp-srv's close() closes it again and logs the second close as an error.
    this.internals.server.maxConnections = 0;
  }

  async close(): Promise<void> {
    // ftp-srv's own disconnect arms an un-cleared timer per client (idle timeout long) that keeps
    // the process alive after shutdown; closing the sessions first leaves it nothing to time.
    const { connections } = this.internals;
    for (const [id, connection] of Object.entries(connections)) {
      delete connections[id];
      await connection.close(0).catch(() => undefined);
    }
    await this.server.close();
  }

  private get internals(): { server: Server; connections: Record<string, { close(code: number): Promise<unknown> }> } {
    return this.server as unknown as { server: Server; connections: Record<string, { close(code: number): Promise<unknown> }> };
  }

  private async login(connection: FtpConnection, username: string, password: string) {
    const account = this.deps.accounts.find(username);
    const remoteAddress = connection.ip ?? null;
    // One message for every refusal, so the reply does not tell which account names exist.
    const refuse = (reason: string) => {
      this.logger.warn({ account: username, remoteAddress, reason }, 'login refused');
      return new Error('Login incorrect');
    };
    if (!account) throw refuse('no such account');
    if (!(await verifyPassword(password, account.passwordHash))) throw refuse('wrong password');
    if (!isAddressAllowed(account, remoteAddress)) throw refuse('address not allowed');
    const socket = (connection as unknown as { commandSocket: Socket }).commandSocket;
    const fs = new IngestFileSystem(connection, {
      account,
      ingest: this.deps.ingest,
      isTempName: this.isTempName,
      protocol: connection.secure ? 'ftps' : 'ftp',
      controlSocket: socket,
      idleTimeoutMs: this.deps.config.ftp.idleTimeoutMs,
      remoteAddress,
      maxFileBytes: account.maxFileBytes ?? this.deps.config.limits.maxFileBytes,
    });
    this.logger.info({ account: account.name, remoteAddress }, 'login');
    return { fs, root: account.home, cwd: '/' };
  }
}

const SIGNALS: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGQUIT'];
