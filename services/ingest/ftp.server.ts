import { X509Certificate } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { readFileSync } from 'node:fs';
import { isIPv4, type Socket } from 'node:net';
import { FtpSrv, type FtpConnection, type FtpRefusal, type FtpServerOptions } from 'ftp-srv';
import { AccountDirectory, networkMatcher, unmapIPv4 } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import { IngestError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { ftpSessions } from '../../shared/metrics';
import type { DeliveryRecord } from '../../shared/ports/delivery-record.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import { IngestFileSystem } from './ftp-file-system';
import type { FtpGate } from './ftp-gate';
import { ftpReply } from './ftp-replies';
import { loginRefusal } from './ftp-srv.internals';
import type { IngestService } from './ingest.service';
import { tempNameMatcher } from './temp-names';

export interface FtpIngestDeps {
  config: Readonly<Config>;
  accounts: AccountDirectory;
  ingest: IngestService;
  /** What each account delivered: its FTP view (ftp-file-system.ts). */
  deliveries: DeliveryRecord;
  /** Where RETR reads delivered files from. */
  store: ObjectStore;
  logger: Logger;
  /** Who may connect and log in (the defender, ftp-defender.ts). */
  gate: FtpGate;
}

/** vsftpd allows 4096; no camera sends a command line half that long. */
const MAX_COMMAND_BYTES = 2048;
/** Implicit TLS, AUTH TLS and every protected data connection: Node's default of 120 s lets a slowloris hold a session. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** NAME_MAX of Linux file systems, and a whole path well inside PATH_MAX once under a home. */
const MAX_NAME_BYTES = 255;
const MAX_PATH_BYTES = 1024;
/** C1 controls and bidirectional overrides: they disguise a name in every listing (C0 controls never get past ftp-srv's reader). */
const DISGUISING_CHARACTERS = /[\u0080-\u009f\u202a-\u202e\u2066-\u2069]/;

/** What the gate needs to know about a control connection. */
interface Session {
  address: string;
  account: string | null;
  attempts: number;
}

/** The address PASV announces: the first override whose network holds the client, else the default. */
interface PassiveAddresses {
  host: string;
  overrides: { matches: (address: string) => boolean; host: string }[];
}

/**
 * The FTP(S) front door: admits connections and logins through the gate, chroots accounts to their
 * home, hands uploads to ingest. One server on `ftp.port` (explicit FTPS with AUTH TLS when TLS is
 * configured) and, with `ftp.tls.implicitPort`, a second one speaking TLS from the first byte;
 * both share the passive port range.
 */
export class FtpIngestServer {
  private readonly servers: FtpSrv[];
  private readonly logger: Logger;
  private readonly gate: FtpGate;
  private readonly isTempName: (fileName: string) => boolean;
  private readonly sessions = new Map<FtpConnection, Session>();
  private passive: PassiveAddresses;

  constructor(private readonly deps: FtpIngestDeps) {
    const { ftp } = deps.config;
    this.logger = deps.logger.child({ component: 'ftp' });
    this.gate = deps.gate;
    this.isTempName = tempNameMatcher(ftp.tempNamePatterns);
    this.passive = passiveAddresses(ftp.passive, ftp.passive.host, ftp.passive.overrides.map((o) => o.host));
    const tls = this.readTls();
    const tooSlow = ftpReply('TRANSFER_TOO_SLOW', '');
    const options: FtpServerOptions = {
      pasv_url: (address) => this.passiveHost(address),
      pasv_min: ftp.passive.minPort,
      pasv_max: ftp.passive.maxPort,
      anonymous: false,
      tls: tls ?? false,
      tls_required: ftp.tls.required,
      handshake_timeout: HANDSHAKE_TIMEOUT_MS,
      timeout: ftp.idleTimeoutMs,
      greeting: 'image ingest ready',
      endOnProcessSignal: false,
      max_command_bytes: MAX_COMMAND_BYTES,
      min_transfer_rate: {
        bytesPerSecond: ftp.limits.minTransferBytesPerSecond,
        windowMs: ftp.limits.slowTransferWindowMs,
        code: tooSlow.code,
        message: tooSlow.text,
      },
      name_policy: nameRefusal,
      admit: (socket) => this.admit(socket),
      // ftp-srv logs every refused STOR as an error with a stack; ingest and the file system log the reason.
      log: this.logger.child({ library: 'ftp-srv' }, { level: this.logger.isLevelEnabled('debug') ? 'debug' : 'fatal' }),
    };
    const explicit = new FtpSrv({ ...options, url: `ftp://${ftp.host}:${ftp.port}` });
    this.servers = [explicit];
    if (ftp.tls.implicitPort !== null) {
      this.servers.push(new FtpSrv({ ...options, url: `ftps://${ftp.host}:${ftp.tls.implicitPort}`, pasv_pool: explicit.pasvPorts }));
    }
    for (const server of this.servers) this.wire(server);
  }

  /** Resolves the passive host names (once, not per PASV), then listens on every port. */
  async listen(): Promise<void> {
    const { passive } = this.deps.config.ftp;
    const hosts = await Promise.all([passive.host, ...passive.overrides.map((o) => o.host)].map(ipv4));
    this.passive = passiveAddresses(passive, hosts[0], hosts.slice(1));
    for (const server of this.servers) await server.listen();
  }

  /** The bound port (the configured one, or the OS's pick for 0). */
  get port(): number {
    return this.servers[0].address().port;
  }

  /** The bound implicit FTPS port, or null when `ftp.tls.implicitPort` is not set. */
  get implicitPort(): number | null {
    return this.servers[1]?.address().port ?? null;
  }

  /** Passive ports held by listeners right now (both servers share one range). */
  get passivePortsInUse(): number {
    return this.servers[0].pasvPorts.used;
  }

  /** Refuses new connections; sessions already open carry on until close(). */
  stopListening(): void {
    for (const server of this.servers) server.stopListening();
  }

  /**
   * SIGTERM: stops accepting connections and data commands (those get 421), lets the command each
   * session is running finish (a transfer, with the hand-over of its upload) for up to `drainMs`,
   * then aborts what still transfers (426), tells every session 421 and closes.
   */
  async shutdown(drainMs: number): Promise<void> {
    await Promise.all(this.servers.map((server) => server.shutdown({ drainMs })));
    this.releaseAll();
  }

  /** Closes every session at once (no 421) and the listeners. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map((server) => server.close()));
    this.releaseAll();
  }

  /**
   * SIGHUP: reads `ftp.tls.certFile`/`keyFile` again; new connections (control and data) use the
   * new certificate, sessions already in TLS keep theirs. A pair that does not load leaves the old
   * one in use. Returns whether the new certificate is in use.
   */
  reloadTls(): boolean {
    try {
      const tls = this.readTls();
      if (!tls) return false;
      for (const server of this.servers) server.setTls(tls);
      const certificate = new X509Certificate(tls.cert);
      this.logger.info({ fingerprint: certificate.fingerprint256, validTo: certificate.validTo }, 'TLS certificate reloaded');
      return true;
    } catch (error) {
      this.logger.error({ err: errorMessage(error) }, 'TLS certificate not reloaded; the previous one stays in use');
      return false;
    }
  }

  private readTls(): { cert: Buffer; key: Buffer } | null {
    const { certFile, keyFile } = this.deps.config.ftp.tls;
    return certFile && keyFile ? { cert: readFileSync(certFile), key: readFileSync(keyFile) } : null;
  }

  private wire(server: FtpSrv): void {
    server.on('connect', ({ connection }) => {
      this.sessions.set(connection, { address: unmapIPv4(connection.ip), account: null, attempts: 0 });
      ftpSessions.inc();
    });
    server.on('disconnect', ({ connection }) => this.release(connection));
    server.on('abuse', ({ address, reason }) => {
      const client = unmapIPv4(address);
      this.logger.warn({ remoteAddress: client, reason }, 'protocol abuse');
      this.gate.penalize(client, reason);
    });
    server.on('login', ({ connection, username, password }, resolve, reject) => {
      this.login(connection, username, password).then(resolve, reject);
    });
    server.on('client-error', ({ error }) => this.logger.debug({ err: error?.message }, 'client error'));
  }

  /** Asked before anything is written to a new connection: a refusal is its only reply. */
  private admit(socket: Socket): FtpRefusal | null {
    const address = unmapIPv4(socket.remoteAddress ?? '');
    const refusal = this.gate.admit(address);
    if (!refusal) return null;
    this.logger.info({ remoteAddress: address, reply: refusal.code }, 'connection refused');
    return { code: refusal.code, message: refusal.text };
  }

  private release(connection: FtpConnection): void {
    const session = this.sessions.get(connection);
    if (!session) return;
    this.sessions.delete(connection);
    ftpSessions.dec();
    this.gate.release(session.address, session.account);
  }

  /** Sessions a closing server dropped before telling us. */
  private releaseAll(): void {
    for (const connection of [...this.sessions.keys()]) this.release(connection);
  }

  private passiveHost(clientAddress: string): string {
    const address = unmapIPv4(clientAddress);
    return this.passive.overrides.find((o) => o.matches(address))?.host ?? this.passive.host;
  }

  private async login(connection: FtpConnection, username: string, password: string) {
    const session = this.sessions.get(connection);
    if (!session) throw loginRefusal({ code: 421, text: 'Service not available, closing control connection', close: true });
    session.attempts += 1;
    const result = await this.gate.authenticate(username, password, session.address, session.attempts);
    if ('refused' in result) {
      this.logger.warn({ account: username, remoteAddress: session.address, attempt: session.attempts, reply: result.refused.code }, 'login refused');
      throw loginRefusal(result.refused);
    }
    const { account } = result;
    session.account = account.name;
    const fs = new IngestFileSystem(connection, {
      account,
      ingest: this.deps.ingest,
      deliveries: this.deps.deliveries,
      store: this.deps.store,
      dele: this.deps.config.ftp.dele,
      isTempName: this.isTempName,
      protocol: connection.secure ? 'ftps' : 'ftp',
      controlSocket: connection.commandSocket,
      idleTimeoutMs: this.deps.config.ftp.idleTimeoutMs,
      remoteAddress: session.address,
      logger: this.logger,
      maxFileBytes: account.maxFileBytes ?? this.deps.config.limits.maxFileBytes,
    });
    this.logger.info({ account: account.name, remoteAddress: session.address, secure: connection.secure }, 'login');
    // SITE has one sub-command, CHMOD, and only accounts with siteChmod may use it.
    return { fs, root: account.home, cwd: '/', blacklist: account.siteChmod ? [] : ['SITE'] };
  }
}

function passiveAddresses(passive: Config['ftp']['passive'], host: string, overrideHosts: string[]): PassiveAddresses {
  return { host, overrides: passive.overrides.map((o, i) => ({ matches: networkMatcher([o.network]), host: overrideHosts[i] })) };
}

/** PASV (RFC 959) carries an IPv4 address: a configured host name is looked up once, at start. */
async function ipv4(host: string): Promise<string> {
  if (isIPv4(host)) return host;
  try {
    return (await lookup(host, { family: 4 })).address;
  } catch (error) {
    throw new IngestError('INVALID_CONFIG', `ftp.passive: "${host}" has no IPv4 address (${errorMessage(error)})`, { cause: error });
  }
}

/** ftp-srv's name_policy: names the file layer never sees, answered 553 NAME_NOT_ALLOWED. */
function nameRefusal(path: string): string | null {
  let reason: string | null = null;
  if (Buffer.byteLength(path) > MAX_PATH_BYTES) reason = `path longer than ${MAX_PATH_BYTES} bytes`;
  else if (path.split('/').some((part) => Buffer.byteLength(part) > MAX_NAME_BYTES)) reason = `name longer than ${MAX_NAME_BYTES} bytes`;
  else if (DISGUISING_CHARACTERS.test(path)) reason = 'name with control or bidirectional characters';
  return reason && ftpReply('NAME_NOT_ALLOWED', `file ${reason}`).text;
}

