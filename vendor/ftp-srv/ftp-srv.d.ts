import * as tls from 'tls'
import { Stats } from 'fs'
import { EventEmitter } from 'events';
import type { AddressInfo, Server, Socket } from 'net';

export class FileSystem {

	readonly connection: FtpConnection;
	readonly root: string;
	readonly cwd: string;

    constructor(connection: FtpConnection, {root, cwd}?: {
        root: any;
        cwd: any;
    });

    currentDirectory(): string;

    get(fileName: string): Promise<any>;

    list(path?: string): Promise<any>;

    chdir(path?: string): Promise<string>;

    write(fileName: string, {append, start}?: {
        append?: boolean;
        start?: any;
    }): any;

    read(fileName: string, {start}?: {
        start?: any;
    }): Promise<any>;

    delete(path: string): Promise<any>;

    mkdir(path: string): Promise<any>;

    rename(from: string, to: string): Promise<any>;

    chmod(path: string, mode: string): Promise<any>;

    getUniqueName(fileName: string): string;
}

export class GeneralError extends Error {
  /**
   * @param message The error message.
   * @param code Default value is `400`.
   */
  constructor(message: string, code?: number);
}

export class SocketError extends Error {
  /**
   * @param message The error message.
   * @param code Default value is `500`.
   */
  constructor(message: string, code?: number);
}

export class FileSystemError extends Error {
  /**
   * @param message The error message.
   * @param code Default value is `400`.
   */
  constructor(message: string, code?: number);
}

export class ConnectorError extends Error {
  /**
   * @param message The error message.
   * @param code Default value is `400`.
   */
  constructor(message: string, code?: number);
}

export class FtpConnection extends EventEmitter {
	server: FtpServer;
	id: string;
	log: any;
	transferType: string;
	encoding: string;
	bufferSize: boolean;
	/** The client's address, also after the socket closed. */
	readonly ip: string;
	restByteCount: number | undefined;
	secure: boolean
	/** The control connection: the TCP socket, or the TLS socket after AUTH TLS. */
	readonly commandSocket: Socket;
	/** PROT level of data connections: 'P' (TLS) or 'C' (clear). */
	readonly protection: 'P' | 'C';
	/** A transfer (STOR/APPE/STOU/RETR/LIST/NLST) is running. */
	readonly transfer: { abort(reason: Error & { replyCode?: number }): Promise<void> } | null;

	close (code?: number, message?: string): Promise<any>
	login (username: string, password: string): Promise<any>
	reply (options: number | Object, ...letters: Array<any>): Promise<any>

}

/** A reply that refuses something: `${code} ${message}` on the control connection. */
export interface FtpRefusal {
    code: number,
    message: string
}

/** The passive ports of a server; servers given the same pool (`pasv_pool`) share its range. */
export interface PortPool {
    readonly min: number;
    readonly max: number;
    /** Ports held by passive listeners right now. */
    readonly used: number;
}

export interface FtpServerOptions {
    url?: string,
    pasv_min?: number,
    pasv_max?: number,
    /** The IPv4 address PASV announces, or a function of the client's address. */
    pasv_url?: string | ((clientAddress: string) => string | Promise<string>),
    greeting?: string | string[],
    tls?: tls.SecureContextOptions | false,
    anonymous?: boolean,
    blacklist?: Array<string>,
    whitelist?: Array<string>,
    file_format?: ((stat: Stats) => string | Promise<string>) | "ls" | "ep",
	log?: any,
	/** Idle timeout of a control connection (ms); during a transfer, of its data (no byte moved). */
	timeout?: number,
	/** Default true: SIGTERM/SIGINT/SIGQUIT close the server and exit the process. */
	endOnProcessSignal?: boolean,
	/** Share the passive port pool of another server (an implicit-TLS server beside an explicit one). */
	pasv_pool?: PortPool,
	/** USER/PASS only on a TLS control connection (530 otherwise); data commands need PROT P (521). */
	tls_required?: boolean,
	/** A TLS handshake (implicit, AUTH TLS, data connection) that takes longer ends the connection. Default 10000. */
	handshake_timeout?: number,
	/** A longer command line is answered 500 and reported as abuse. Default 2048. */
	max_command_bytes?: number,
	/** A transfer moving less than `bytesPerSecond` on average over `windowMs` is ended with `code message` (default 426). */
	min_transfer_rate?: { bytesPerSecond: number, windowMs: number, code?: number, message?: string } | null,
	/** A refusal text for a path argument (answered 553 and reported as abuse), or null to allow it. */
	name_policy?: ((path: string) => string | null) | null,
	/** Asked for each new control connection before anything is written: a refusal is the only reply. */
	admit?: ((socket: Socket) => FtpRefusal | null) | null
}

export class FtpServer extends EventEmitter {
    constructor(options?: FtpServerOptions);

    readonly isTLS: boolean;
    /** The control listener (net or tls). */
    readonly server: Server;
    readonly connections: Record<string, FtpConnection>;
    readonly pasvPorts: PortPool;
    /** True once shutdown() has started. */
    readonly draining: boolean;

    listen(): Promise<string>;

    /** The control listener's bound address. */
    address(): AddressInfo;

    /** No new connections; sessions carry on. */
    stopListening(): void;

    /** Stop accepting; let running commands finish up to drainMs (then abort transfers, 426); 421 to every session; close. */
    shutdown(options?: { drainMs?: number, message?: string }): Promise<void>;

    /** New certificate for new connections; throws (changing nothing) when it does not make a TLS context. */
    setTls(tls: tls.SecureContextOptions): void;

    emitPromise(action: any, ...data: any[]): Promise<any>;

    // emit is exported from super class

    setupTLS(_tls: boolean): boolean | {
      cert: string;
      key: string;
      ca: string
    };

    setupGreeting(greet: string): string[];

    setupFeaturesMessage(): string;

    disconnectClient(id: string): Promise<any>;

    close(): Promise<void>;

	on(event: "login", listener: (
		data: {
			connection: FtpConnection,
			username: string,
			password: string
		},
		resolve: (config: {
            fs?: FileSystem,
            root?: string,
            cwd?: string,
            blacklist?: Array<string>,
            whitelist?: Array<string>
        }) => void,
		/** `replyCode: 421` answers 421 instead of 530; `closeConnection` ends the session after the reply. */
		reject: (err?: Error & { replyCode?: number, closeConnection?: boolean }) => void
  ) => void): this;

	on(event: "connect", listener: (
		data: {
			connection: FtpConnection,
			id: string
		}
	) => void): this;

	/** Protocol abuse from `address`: bad command lines, refused names, a stranger on a passive port. */
	on(event: "abuse", listener: (
		data: {
			connection: FtpConnection,
			address: string,
			reason: string
		}
	) => void): this;

	on(event: "disconnect", listener: (
		data: {
      connection: FtpConnection,
      id: string
		}
	) => void): this;

	on(event: "client-error", listener: (
		data: {
			connection: FtpConnection,
			context: string,
			error: Error,
		}
	) => void): this;
}

export {FtpServer as FtpSrv};
export default FtpServer;
