import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { FtpConnection, FtpSrv } from 'ftp-srv';
import { AccountDirectory, isAddressAllowed, verifyPassword } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import type { Logger } from '../../shared/logging';
import { IngestFileSystem } from './ftp-file-system';
import { closeSessions, commandSocket, createFtpSrv, listeningServer, routeReplyCodes } from './ftp-srv.internals';
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
    this.server = createFtpSrv({
      url: `ftp://${config.ftp.host}:${config.ftp.port}`,
      pasv_url: config.ftp.passive.host,
      pasv_min: config.ftp.passive.minPort,
      pasv_max: config.ftp.passive.maxPort,
      anonymous: false,
      tls,
      timeout: config.ftp.idleTimeoutMs,
      greeting: 'image ingest ready',
      // ftp-srv logs every refused STOR as an error with a stack; ingest and the file system log the reason.
      log: this.logger.child({ library: 'ftp-srv' }, { level: this.logger.isLevelEnabled('debug') ? 'debug' : 'fatal' }),
    });
    // A transient failure is answered 451 or 452 (try later), not ftp-srv's fixed 550 (do not resend).
    routeReplyCodes(this.server);
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
    return (listeningServer(this.server).address() as AddressInfo).port;
  }

  /** Refuses new connections; sessions already open carry on until close(). */
  stopListening(): void {
    // Not server.close(): ftp-srv's close() closes it again and logs the second close as an error.
    listeningServer(this.server).maxConnections = 0;
  }

  async close(): Promise<void> {
    await closeSessions(this.server);
    await this.server.close();
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
    const fs = new IngestFileSystem(connection, {
      account,
      ingest: this.deps.ingest,
      isTempName: this.isTempName,
      protocol: connection.secure ? 'ftps' : 'ftp',
      controlSocket: commandSocket(connection),
      idleTimeoutMs: this.deps.config.ftp.idleTimeoutMs,
      remoteAddress,
      logger: this.logger,
      maxFileBytes: account.maxFileBytes ?? this.deps.config.limits.maxFileBytes,
    });
    this.logger.info({ account: account.name, remoteAddress }, 'login');
    return { fs, root: account.home, cwd: '/' };
  }
}
