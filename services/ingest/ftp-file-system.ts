import { createHash, type Hash } from 'node:crypto';
import { mkdirSync, type Stats } from 'node:fs';
import type { Socket } from 'node:net';
import { open, rm, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSystem, type FtpConnection } from 'ftp-srv';
import type { Account } from '../../shared/accounts';
import type { ImageSource, SourceProtocol } from '../../shared/contracts/events';
import { IngestError, errorMessage } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import { ftpReply, ftpReplyForError } from './ftp-replies';
import { replyError, resolvePath } from './ftp-srv.internals';
import type { IngestService } from './ingest.service';

export interface FtpFileSystemOptions {
  account: Account;
  ingest: IngestService;
  isTempName: (fileName: string) => boolean;
  protocol: SourceProtocol;
  /** The client's control connection. */
  controlSocket: Socket;
  idleTimeoutMs: number;
  remoteAddress: string | null;
  maxFileBytes: number;
  logger: Logger;
}

/** Where an upload counts as ended but the sender may have vanished: let the control socket's close land first. */
const DISCONNECT_GRACE_MS = 25;

/**
 * An account's FTP view: a real folder (so resumed uploads and RNFR/RNTO work as cameras expect)
 * whose complete uploads are handed to ingest before the client hears 226 (STOR) or 250 (RNTO).
 */
export class IngestFileSystem extends FileSystem {
  private readonly uploads = new Set<UploadStream>();

  constructor(
    connection: FtpConnection,
    private readonly options: FtpFileSystemOptions,
  ) {
    super(connection, { root: options.account.home, cwd: '/' });
    mkdirSync(options.account.home, { recursive: true });
    // ftp-srv drops the data socket with the control connection but never ends the upload stream,
    // which would hold its file open. Ending it keeps every byte received for a resume; final()
    // then sees the dead connection and ingests nothing.
    options.controlSocket.once('close', () => {
      for (const upload of this.uploads) if (!upload.writableEnded) upload.end();
    });
  }

  private isConnected(): boolean {
    const socket = this.options.controlSocket;
    return !socket.destroyed && socket.readable && socket.writable;
  }

  override write(fileName: string, { append = false, start }: { append?: boolean; start?: number } = {}) {
    const { clientPath, fsPath } = this.resolveSafe(fileName);
    try {
      mkdirSync(path.dirname(fsPath), { recursive: true });
    } catch (error) {
      throw this.failure(error, clientPath);
    }
    const temp = this.options.isTempName(path.posix.basename(clientPath));
    // A plain Writable: ftp-srv emits 'close' instead of end() on streams with close listeners,
    // which skips final(); and final() is where the upload becomes durable before the 226.
    const upload = { append, start, maxBytes: this.options.maxFileBytes };
    const hooks = {
      // The control connection is silent while data flows; its idle timeout must not cut a long upload.
      onData: () => this.options.controlSocket.setTimeout(this.options.idleTimeoutMs),
      onDone: () => this.uploads.delete(stream),
      fail: (error: unknown) => this.failure(error, clientPath),
    };
    const stream = new UploadStream(fsPath, upload, hooks, async (sha256) => {
      if (temp) return null;
      await sleep(DISCONNECT_GRACE_MS);
      // ftp-srv reports the STOR as complete when the data socket closes, even if the client died mid-transfer.
      // Nobody hears the reply on a dead connection; the error only keeps ftp-srv from sending 226.
      if (!this.isConnected()) return new Error('client disconnected before the upload completed');
      return this.accept(fsPath, clientPath, sha256);
    });
    this.uploads.add(stream);
    return { stream, clientPath };
  }

  override async rename(from: string, to: string): Promise<void> {
    const source = this.resolveSafe(from);
    const target = this.resolveSafe(to);
    try {
      await super.rename(source.clientPath, target.clientPath);
    } catch (error) {
      throw this.failure(error, target.clientPath);
    }
    if (this.options.isTempName(path.posix.basename(target.clientPath))) return;
    const error = await this.accept(target.fsPath, target.clientPath);
    if (error) throw error;
  }

  override get(fileName: string): Promise<Stats & { name: string }> {
    this.resolveSafe(fileName);
    return super.get(fileName);
  }

  /** Hands a complete upload to ingest; null when taken, else the error that carries the reply. */
  private async accept(fsPath: string, clientPath: string, sha256?: string): Promise<Error | null> {
    try {
      const outcome = await this.options.ingest.accept(fsPath, this.source(clientPath), { maxFileBytes: this.options.maxFileBytes, sha256 });
      // Ingest logged the rejection and writes its reason for the sender.
      return outcome.status === 'rejected' ? replyError(ftpReply(outcome.code, outcome.reason)) : null;
    } catch (error) {
      return this.failure(error, clientPath);
    }
  }

  /** The sender hears the code and a public text (ftp-replies.ts); the log gets the real error. */
  private failure(error: unknown, clientPath: string): Error {
    const reply = ftpReplyForError(error);
    const context = { account: this.options.account.name, path: clientPath, reply: reply.code, err: errorMessage(error) };
    if (error instanceof IngestError) this.options.logger.warn({ ...context, code: error.code }, 'upload not taken');
    else this.options.logger.error(context, 'upload not taken');
    return replyError(reply);
  }

  private source(clientPath: string): ImageSource {
    return {
      protocol: this.options.protocol,
      account: this.options.account.name,
      path: clientPath,
      remoteAddress: this.options.remoteAddress,
      receivedAt: new Date().toISOString(),
    };
  }

  /** ftp-srv clamps "../" at the root; a name that tries it is refused outright rather than quietly moved. */
  private resolveSafe(fileName: string): { clientPath: string; fsPath: string } {
    if (fileName.split(/[\\/]/).includes('..') || fileName.includes('\0')) {
      throw replyError(ftpReply('NAME_NOT_ALLOWED', '".." and NUL are not allowed in file names'));
    }
    return resolvePath(this, fileName);
  }
}

interface UploadOptions {
  append: boolean;
  start?: number;
  maxBytes: number;
}

interface UploadHooks {
  onData: () => void;
  onDone: () => void;
  /** Turns an error of receiving the upload into the error that carries its FTP reply. */
  fail: (error: unknown) => Error;
}

/** Re-arming a socket timeout costs a timer update; once a second is plenty. */
const ACTIVITY_INTERVAL_MS = 1000;

class UploadStream extends Writable {
  private file: FileHandle | null = null;
  /** Hashed on the way in when the file is written whole, so ingest need not read it again. */
  private readonly hash: Hash | null;
  private lastActivity = 0;
  private position: number | null;
  private written = 0;
  private oversized = false;

  constructor(
    private readonly fsPath: string,
    private readonly upload: UploadOptions,
    private readonly hooks: UploadHooks,
    private readonly complete: (sha256: string | undefined) => Promise<Error | null>,
  ) {
    super({ highWaterMark: 4 << 20 });
    this.position = upload.append ? null : (upload.start ?? 0);
    this.hash = !upload.append && !upload.start ? createHash('sha256') : null;
  }

  override _construct(callback: (error?: Error | null) => void): void {
    // REST+STOR rewrites from an offset and keeps what came before; a plain STOR truncates.
    const flags = this.upload.append ? 'a' : this.upload.start ? 'r+' : 'w';
    open(this.fsPath, flags).then(
      (file) => {
        this.file = file;
        callback();
      },
      (error: unknown) => callback(this.hooks.fail(error)),
    );
  }

  override _write(chunk: Buffer, encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this._writev([{ chunk, encoding }], callback);
  }

  /** Whatever the socket delivered while the last write ran goes down in one writev. */
  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], callback: (error?: Error | null) => void): void {
    const buffers = chunks.map((c) => c.chunk);
    const length = buffers.reduce((n, b) => n + b.length, 0);
    this.written += length;
    const now = Date.now();
    if (now - this.lastActivity > ACTIVITY_INTERVAL_MS) {
      this.lastActivity = now;
      this.hooks.onData();
    }
    if ((this.upload.start ?? 0) + this.written > this.upload.maxBytes) {
      this.oversized = true;
      callback(this.hooks.fail(new IngestError('FILE_TOO_LARGE', `upload exceeds ${this.upload.maxBytes} bytes`)));
      return;
    }
    if (this.hash) for (const buffer of buffers) this.hash.update(buffer);
    this.file!.writev(buffers, this.position ?? undefined).then(
      () => {
        if (this.position !== null) this.position += length;
        callback();
      },
      (error: unknown) => callback(this.hooks.fail(error)),
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    const file = this.file!;
    this.file = null;
    this.hooks.onDone();
    file
      .sync()
      .then(() => file.close())
      .then(
        () => this.complete(this.hash?.digest('hex')),
        (error: unknown) => this.hooks.fail(error),
      )
      .then(callback, (error: unknown) => callback(this.hooks.fail(error)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const file = this.file;
    this.file = null;
    this.hooks.onDone();
    // A broken-off upload stays for the client to resume; an oversized one never will be.
    const discard = () => (this.oversized ? rm(this.fsPath, { force: true }) : Promise.resolve());
    (file ? file.close() : Promise.resolve())
      .then(discard)
      .then(
        () => callback(error),
        () => callback(error),
      );
  }
}
