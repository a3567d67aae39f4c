import { createHash, type Hash } from 'node:crypto';
import { constants, mkdirSync, realpathSync, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, realpath, rename, rm, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSystem, type FtpConnection } from 'ftp-srv';
import type { Account } from '../../shared/accounts';
import type { Config } from '../../shared/config/config.schema';
import type { ImageSource, SourceProtocol } from '../../shared/contracts/events';
import { IngestError, errorMessage, type ErrorCode } from '../../shared/errors';
import type { Logger } from '../../shared/logging';
import type { DeliveryNode, DeliveryRecord } from '../../shared/ports/delivery-record.port';
import type { ObjectStore } from '../../shared/ports/object-store.port';
import { ftpReply, ftpReplyForError, type FtpReply } from './ftp-replies';
import { replyError } from './ftp-srv.internals';
import { ftpRefusals, ftpReplySeconds } from '../../shared/metrics';
import type { IngestService } from './ingest.service';

export interface FtpFileSystemOptions {
  account: Account;
  ingest: IngestService;
  /** What the account delivered: the view answers from it once an upload has left the home. */
  deliveries: DeliveryRecord;
  /** Where RETR reads a delivered file (accounts with `allowDownload` only). */
  store: ObjectStore;
  /** DELE of a delivered file: hide it from the view (the image is kept) or refuse. */
  dele: Config['ftp']['dele'];
  isTempName: (fileName: string) => boolean;
  protocol: SourceProtocol;
  /** The client's control connection. */
  controlSocket: Socket;
  idleTimeoutMs: number;
  remoteAddress: string | null;
  maxFileBytes: number;
  logger: Logger;
}

/** What ftp-srv's LIST, NLST, STAT, SIZE and MDTM read of an entry (vendor/ftp-srv/src/helpers/file-stat.js). */
export interface FileInfo {
  name: string;
  size: number;
  mtime: Date;
  mode: number;
  isDirectory(): boolean;
  isFile(): boolean;
}

/** Where an upload counts as ended but the sender may have vanished: let the control socket's close land first. */
const DISCONNECT_GRACE_MS = 25;

/**
 * File-system errors a client causes, as it hears them: its own path at most, never the server's
 * (RFC 959 §4.2: 550 not found or no access, 553 name not allowed). Other errors are the server's
 * trouble (ftpReplyForError: ENOSPC is 452, the rest 451).
 */
const CLIENT_ERRORS: Record<string, { code: ErrorCode; text: (clientPath: string) => string }> = {
  ENOENT: { code: 'FILE_NOT_FOUND', text: (p) => p },
  ENOTDIR: { code: 'FILE_NOT_FOUND', text: (p) => p },
  EACCES: { code: 'PERMISSION_DENIED', text: (p) => p },
  EPERM: { code: 'PERMISSION_DENIED', text: (p) => p },
  // O_NOFOLLOW met a link where a file is written.
  ELOOP: { code: 'PERMISSION_DENIED', text: (p) => `${p} is a link` },
  EISDIR: { code: 'PERMISSION_DENIED', text: (p) => `${p} is a directory` },
  EEXIST: { code: 'PERMISSION_DENIED', text: (p) => `${p} exists` },
  ENOTEMPTY: { code: 'PERMISSION_DENIED', text: (p) => `${p} is not empty` },
  ENAMETOOLONG: { code: 'NAME_NOT_ALLOWED', text: () => 'file name too long' },
};

const DISK_FULL = new Set(['ENOSPC', 'EDQUOT']);

const errnoOf = (error: unknown) => (error as NodeJS.ErrnoException | null)?.code;

/** The error that makes ftp-srv send a refusal, counted by reply and code on its way out. */
function refused(reply: FtpReply): Error {
  ftpRefusals.inc({ reply: String(reply.code), code: reply.errorCode });
  return replyError(reply);
}

/** Only "not there" is an answer; any other error is thrown. */
const unlessMissing = (error: unknown) => {
  if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return null;
  throw error;
};

const within = (inner: string, outer: string) => inner === outer || inner.startsWith(outer === '/' ? '/' : `${outer}/`);

function deliveredInfo(node: DeliveryNode): FileInfo {
  const file = node.type === 'file';
  return {
    name: node.name,
    size: file ? node.delivery.size : 0,
    // A directory has no time of its own in the record; like SFTPGo's virtual folders it shows now.
    mtime: file ? new Date(node.delivery.modifiedAt) : new Date(),
    mode: file ? 0o100644 : 0o40755,
    isDirectory: () => !file,
    isFile: () => file,
  };
}

const named = (stats: Stats, name: string): FileInfo => Object.assign(stats, { name });

/** A stored original from byte `start` on, for a resumed download (REST + RETR). */
async function* skipBytes(body: Readable, start: number): AsyncGenerator<Buffer> {
  let skip = start;
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (skip >= chunk.length) skip -= chunk.length;
    else {
      yield skip > 0 ? chunk.subarray(skip) : chunk;
      skip = 0;
    }
  }
}

/**
 * An account's FTP view: what it delivered (the delivery record: complete uploads leave the home
 * for the spool and the object store) merged with what is on disk in its home (unfinished,
 * resumable and temp-named uploads); a file on disk wins for its own name. Complete uploads are
 * handed to ingest before the client hears 226 (STOR) or 250 (RNTO), then recorded.
 *
 * Every path a command names is resolved after following links and refused unless its real path
 * is in the home's real path (confine()); files are written with O_NOFOLLOW.
 */
export class IngestFileSystem extends FileSystem {
  private readonly uploads = new Set<UploadStream>();
  /** The home's real path: everything a command touches must resolve inside it. */
  private readonly home: string;

  constructor(
    connection: FtpConnection,
    private readonly options: FtpFileSystemOptions,
  ) {
    super(connection, { root: options.account.home, cwd: '/' });
    mkdirSync(options.account.home, { recursive: true });
    this.home = realpathSync(options.account.home);
    // ftp-srv drops the data socket with the control connection but never ends the upload stream,
    // which would hold its file open. Ending it keeps every byte received for a resume; final()
    // then sees the dead connection and ingests nothing.
    options.controlSocket.once('close', () => {
      for (const upload of this.uploads) if (!upload.writableEnded) upload.end();
    });
  }

  private get account(): string {
    return this.options.account.name;
  }

  private isConnected(): boolean {
    const socket = this.options.controlSocket;
    return !socket.destroyed && socket.readable && socket.writable;
  }

  override async get(fileName: string): Promise<FileInfo> {
    const { clientPath, fsPath } = await this.resolve(fileName);
    const info = await this.lookup(clientPath, fsPath);
    if (!info) throw this.refusal('FILE_NOT_FOUND', clientPath);
    info.name = fileName;
    return info;
  }

  override async list(dirName = '.'): Promise<FileInfo[]> {
    const { clientPath, fsPath } = await this.resolve(dirName);
    try {
      const [onDisk, delivered] = await Promise.all([this.diskEntries(fsPath), this.options.deliveries.list(this.account, clientPath)]);
      const names = new Set(onDisk.map((entry) => entry.name));
      return [...onDisk, ...delivered.filter((node) => !names.has(node.name)).map(deliveredInfo)];
    } catch (error) {
      throw this.failure(error, clientPath, 'list');
    }
  }

  override async chdir(dirName = '.'): Promise<string> {
    const { clientPath, fsPath } = await this.resolve(dirName);
    const info = await this.lookup(clientPath, fsPath);
    if (!info?.isDirectory()) throw this.refusal('FILE_NOT_FOUND', info ? `${clientPath} is not a directory` : clientPath);
    // ftp-srv keeps the working directory in `cwd` (src/fs.js) and resolves SITE CHMOD's check with it.
    (this as { cwd: string }).cwd = clientPath;
    return clientPath;
  }

  override async mkdir(dirName: string): Promise<string> {
    const { clientPath, fsPath } = await this.resolve(dirName);
    try {
      await mkdir(fsPath, { recursive: true });
    } catch (error) {
      throw this.failure(error, clientPath, 'mkdir');
    }
    // MKD answers 257 with it: the client's path, never the server's.
    return clientPath;
  }

  override async write(fileName: string, { append = false, start }: { append?: boolean; start?: number } = {}) {
    const { clientPath, fsPath } = await this.resolve(fileName);
    try {
      await mkdir(path.dirname(fsPath), { recursive: true });
    } catch (error) {
      throw this.failure(error, clientPath);
    }
    const temp = this.options.isTempName(path.posix.basename(clientPath));
    // A plain Writable: ftp-srv emits 'close' instead of end() on streams with close listeners,
    // which skips final(); and final() is where the upload becomes durable before the 226.
    const upload = { append, start, maxBytes: this.options.maxFileBytes };
    const hooks: UploadHooks = {
      // The control connection is silent while data flows; its idle timeout must not cut a long upload.
      onData: () => this.options.controlSocket.setTimeout(this.options.idleTimeoutMs),
      onDone: () => this.uploads.delete(stream),
      onDiscarded: (error) =>
        this.options.logger.error({ account: this.account, path: clientPath, err: errorMessage(error) }, 'disk full: partial upload removed'),
      fail: (error: unknown) => this.failure(error, clientPath),
    };
    const stream = new UploadStream(fsPath, upload, hooks, async (sha256) => {
      if (temp) return null;
      const replied = ftpReplySeconds.startTimer();
      await sleep(DISCONNECT_GRACE_MS);
      // ftp-srv reports the STOR as complete when the data socket closes, even if the client died mid-transfer.
      // Nobody hears the reply on a dead connection; the error only keeps ftp-srv from sending 226.
      if (!this.isConnected()) return new Error('client disconnected before the upload completed');
      const refusal = await this.accept(fsPath, clientPath, sha256);
      replied({ reply: refusal ? String((refusal as { replyCode?: number }).replyCode ?? 451) : '226' });
      return refusal;
    });
    this.uploads.add(stream);
    return { stream, clientPath };
  }

  /**
   * RETR: only for accounts with `allowDownload`. A file on disk (an unfinished upload) is read
   * back as it is, as SIZE reports it; a delivered file is streamed from the object store.
   */
  override async read(fileName: string, { start = 0 }: { start?: number } = {}): Promise<{ stream: Readable; clientPath: string }> {
    const { clientPath, fsPath } = await this.resolve(fileName);
    if (!this.options.account.allowDownload) throw this.refusal('DOWNLOAD_NOT_ALLOWED', `downloads are not enabled for this account`);
    try {
      const onDisk = await stat(fsPath).catch(unlessMissing);
      if (onDisk?.isDirectory()) throw this.refusal('PERMISSION_DENIED', `${clientPath} is a directory`);
      if (onDisk) {
        const file = await open(fsPath, constants.O_RDONLY);
        return { stream: file.createReadStream({ start }), clientPath };
      }
      const node = await this.options.deliveries.get(this.account, clientPath);
      if (node?.type !== 'file') throw this.refusal('FILE_NOT_FOUND', clientPath);
      const object = await this.options.store.getStream(node.delivery.originalKey);
      if (!object) throw this.refusal('FILE_NOT_FOUND', clientPath);
      return { stream: start > 0 ? Readable.from(skipBytes(object.body, start)) : object.body, clientPath };
    } catch (error) {
      throw this.failure(error, clientPath, 'read');
    }
  }

  /**
   * DELE and RMD. A file on disk is deleted; a delivered file is hidden from the view (the image
   * stays), or refused when `dele` is "refuse"; a directory must be empty in the view.
   */
  override async delete(fileName: string): Promise<void> {
    const { clientPath, fsPath } = await this.resolve(fileName);
    if (clientPath === '/') throw this.refusal('PERMISSION_DENIED', clientPath);
    try {
      const [onDisk, recorded] = await Promise.all([lstat(fsPath).catch(unlessMissing), this.options.deliveries.get(this.account, clientPath)]);
      if (!onDisk && !recorded) throw this.refusal('FILE_NOT_FOUND', clientPath);
      if (recorded?.type === 'directory' || onDisk?.isDirectory()) {
        if (recorded && (await this.options.deliveries.list(this.account, clientPath)).length > 0) throw this.refusal('PERMISSION_DENIED', `${clientPath} is not empty`);
        if (onDisk) await rmdir(fsPath);
        if (recorded) await this.options.deliveries.remove(this.account, clientPath);
        return;
      }
      if (onDisk) await unlink(fsPath);
      if (recorded?.type !== 'file') return;
      if (this.options.dele === 'refuse') {
        if (onDisk) return;
        throw this.refusal('PERMISSION_DENIED', `${clientPath} was delivered and cannot be deleted`);
      }
      await this.options.deliveries.remove(this.account, clientPath);
      this.options.logger.info({ account: this.account, path: clientPath, imageId: recorded.delivery.imageId }, 'delivered file hidden from the FTP view');
    } catch (error) {
      throw this.failure(error, clientPath, 'delete');
    }
  }

  /**
   * A file on disk moves as before: under a final name it is a complete upload and ingested. A
   * delivered file or a directory moves in the record (and on disk, for what is there), and every
   * delivered file moved is announced again under its new path (`renamedFrom`), so the index and
   * downstream consumers follow. Missing parent directories of the new path are created.
   */
  override async rename(fromName: string, toName: string): Promise<void> {
    const source = await this.resolve(fromName);
    const target = await this.resolve(toName);
    if (within(target.clientPath, source.clientPath) || within(source.clientPath, target.clientPath)) {
      throw this.refusal('NAME_NOT_ALLOWED', 'a directory cannot be moved into itself or onto one of its parents');
    }
    try {
      const [onDisk, recorded, existing] = await Promise.all([
        lstat(source.fsPath).catch(unlessMissing),
        this.options.deliveries.get(this.account, source.clientPath),
        this.lookup(target.clientPath, target.fsPath),
      ]);
      if (!onDisk && !recorded) throw this.refusal('FILE_NOT_FOUND', source.clientPath);
      if (existing?.isDirectory()) throw this.refusal('PERMISSION_DENIED', `${target.clientPath} exists`);
      if (onDisk) {
        await mkdir(path.dirname(target.fsPath), { recursive: true });
        await rename(source.fsPath, target.fsPath);
      }
      if (onDisk && !onDisk.isDirectory()) {
        if (this.options.isTempName(path.posix.basename(target.clientPath))) return;
        const replied = ftpReplySeconds.startTimer();
        const error = await this.accept(target.fsPath, target.clientPath);
        replied({ reply: error ? String((error as { replyCode?: number }).replyCode ?? 451) : '250' });
        if (error) throw error;
        return;
      }
      await this.renameDelivered(source.clientPath, target.clientPath).catch(async (error: unknown) => {
        if (onDisk) await rename(target.fsPath, source.fsPath).catch(() => undefined);
        throw error;
      });
    } catch (error) {
      throw this.failure(error, target.clientPath, 'rename');
    }
  }

  /** SITE CHMOD (ftp.server.ts lets only accounts with siteChmod send SITE; ftp-srv refuses set-id bits). */
  override async chmod(fileName: string, mode: string | number): Promise<void> {
    const { clientPath, fsPath } = await this.resolve(fileName);
    try {
      const onDisk = await stat(fsPath).catch(unlessMissing);
      if (!onDisk) {
        // A delivered file has no bytes here whose mode could change.
        if (await this.options.deliveries.get(this.account, clientPath)) return;
        throw this.refusal('FILE_NOT_FOUND', clientPath);
      }
      // The real path, opened without following a link swapped in since resolve() checked it.
      const file = await open(await realpath(fsPath), constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        await file.chmod(typeof mode === 'number' ? mode : parseInt(mode, 8));
      } finally {
        await file.close();
      }
    } catch (error) {
      throw this.failure(error, clientPath, 'chmod');
    }
  }

  /** Moves what the record holds at `from` and announces each delivered file moved; undone if the announcement fails. */
  private async renameDelivered(from: string, to: string): Promise<void> {
    const moves = await this.options.deliveries.rename(this.account, from, to);
    const { protocol, remoteAddress } = this.options;
    try {
      for (const move of moves) await this.options.ingest.announceRename(move, { protocol, account: this.account, remoteAddress });
    } catch (error) {
      // The client hears 451 and may try again: the view must still show the old name. Announcements
      // already made are harmless, since the index takes a rename it already holds as a replay.
      await this.options.deliveries.rename(this.account, to, from);
      throw error;
    }
    if (moves.length > 0) this.options.logger.info({ account: this.account, path: to, renamedFrom: from, files: moves.length }, 'delivered files renamed');
  }

  /** Hands a complete upload to ingest and records it; null when taken, else the error that carries the reply. */
  private async accept(fsPath: string, clientPath: string, sha256?: string): Promise<Error | null> {
    const source = this.source(clientPath);
    try {
      const outcome = await this.options.ingest.accept(fsPath, source, { maxFileBytes: this.options.maxFileBytes, sha256 });
      // Ingest logged the rejection and writes its reason for the sender.
      if (outcome.status === 'rejected') return refused(ftpReply(outcome.code, outcome.reason));
      // Ingest recorded the delivery in the view before this reply.
      return null;
    } catch (error) {
      return this.failure(error, clientPath);
    }
  }

  /** What the view shows at a path: the disk's entry (links followed, confined already), else the record's. */
  private async lookup(clientPath: string, fsPath: string): Promise<FileInfo | null> {
    try {
      const onDisk = await stat(fsPath).catch(unlessMissing);
      if (onDisk) return named(onDisk, path.posix.basename(clientPath));
      if (clientPath === '/') return null;
      const node = await this.options.deliveries.get(this.account, clientPath);
      return node ? deliveredInfo(node) : null;
    } catch (error) {
      throw this.failure(error, clientPath, 'look up');
    }
  }

  /** A directory's entries on disk; links that lead out of the home (or nowhere) are not part of the view. */
  private async diskEntries(fsPath: string): Promise<FileInfo[]> {
    const names = await readdir(fsPath).catch(unlessMissing);
    const entries = await Promise.all(
      (names ?? []).map(async (name) => {
        const entryPath = path.join(fsPath, name);
        const stats = await lstat(entryPath).catch(() => null);
        if (!stats?.isSymbolicLink()) return stats && named(stats, name);
        const real = await realpath(entryPath).catch(() => null);
        if (!real || !within(real, this.home)) return null;
        return stat(real).then((target) => named(target, name), () => null);
      }),
    );
    return entries.filter((entry): entry is FileInfo => entry !== null);
  }

  /**
   * The client's path for a name (joined to the working directory, normalised) and its path on
   * disk, checked to stay in the home after following links. ftp-srv clamps "../" at the root; a
   * name that tries it is refused outright rather than quietly moved.
   */
  private async resolve(fileName: string): Promise<{ clientPath: string; fsPath: string }> {
    if (fileName.split(/[\\/]/).includes('..') || fileName.includes('\0')) {
      throw refused(ftpReply('NAME_NOT_ALLOWED', '".." and NUL are not allowed in file names'));
    }
    const clientPath = path.posix.resolve('/', this.cwd, fileName.replace(/\\/g, '/'));
    const fsPath = path.join(this.home, clientPath);
    await this.confine(fsPath, clientPath);
    return { clientPath, fsPath };
  }

  /**
   * Refuses a path whose deepest existing part, links followed, lies outside the home's real path,
   * or that runs through a link to nowhere (what it would create is not ours to decide).
   */
  private async confine(fsPath: string, clientPath: string): Promise<void> {
    for (let current = fsPath; ; current = path.dirname(current)) {
      let real: string | null;
      try {
        real = await realpath(current).catch(unlessMissing);
      } catch (error) {
        throw this.failure(error, clientPath, 'resolve');
      }
      const dangling = real === null && (await lstat(current).then(() => true, () => false));
      if (real !== null && within(real, this.home)) return;
      if (real !== null || dangling) {
        this.options.logger.warn({ account: this.account, path: clientPath, remoteAddress: this.options.remoteAddress }, 'path leads out of the home; refused');
        throw this.refusal('PERMISSION_DENIED', clientPath);
      }
    }
  }

  private refusal(code: ErrorCode, message: string): Error {
    return refused(ftpReply(code, message));
  }

  /**
   * The error that carries the reply for anything a command ran into: a reply already made passes
   * through, a client's mistake gets its code (CLIENT_ERRORS), the rest is logged and answered by
   * ftp-replies.ts (disk full 452, an outage 451 with a fixed text).
   */
  private failure(error: unknown, clientPath: string, action = 'upload'): Error {
    if ((error as { replyCode?: unknown } | null)?.replyCode !== undefined) return error as Error;
    const known = CLIENT_ERRORS[errnoOf(error) ?? ''];
    if (known) return this.refusal(known.code, known.text(clientPath));
    const reply = ftpReplyForError(error);
    const context = { account: this.account, path: clientPath, action, reply: reply.code, err: errorMessage(error) };
    const message = action === 'upload' ? 'upload not taken' : 'file command failed';
    if (error instanceof IngestError || DISK_FULL.has(errnoOf(error) ?? '')) this.options.logger.warn({ ...context, code: (error as { code?: string }).code }, message);
    else this.options.logger.error(context, message);
    return refused(reply);
  }

  private source(clientPath: string): ImageSource {
    return {
      protocol: this.options.protocol,
      account: this.account,
      path: clientPath,
      remoteAddress: this.options.remoteAddress,
      receivedAt: new Date().toISOString(),
    };
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
  /** The partial file was removed because the disk is full. */
  onDiscarded: (error: unknown) => void;
  /** Turns an error of receiving the upload into the error that carries its FTP reply. */
  fail: (error: unknown) => Error;
}

/** Re-arming a socket timeout costs a timer update; once a second is plenty. */
const ACTIVITY_INTERVAL_MS = 1000;

/** The buffers without their first `count` bytes. */
function dropBytes(buffers: Buffer[], count: number): Buffer[] {
  let skip = count;
  const rest: Buffer[] = [];
  for (const buffer of buffers) {
    if (skip >= buffer.length) skip -= buffer.length;
    else {
      rest.push(skip > 0 ? buffer.subarray(skip) : buffer);
      skip = 0;
    }
  }
  return rest;
}

/** STOR truncates, APPE appends, REST+STOR rewrites from an offset; none follows a link at the file itself. */
function openFlags(upload: UploadOptions): number {
  const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_APPEND, O_NOFOLLOW } = constants;
  if (upload.append) return O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW;
  if (upload.start) return O_RDWR | O_NOFOLLOW;
  return O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW;
}

class UploadStream extends Writable {
  private file: FileHandle | null = null;
  /** Hashed on the way in when the file is written whole, so ingest need not read it again. */
  private readonly hash: Hash | null;
  private lastActivity = 0;
  private position: number | null;
  private written = 0;
  /** Why what was received cannot be kept (too large, or the disk is full); null keeps it for a resume. */
  private discard: { error: unknown; diskFull: boolean } | null = null;

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
    open(this.fsPath, openFlags(this.upload)).then(
      (file) => {
        this.file = file;
        callback();
      },
      (error: unknown) => callback(this.fail(error)),
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
      const error = new IngestError('FILE_TOO_LARGE', `upload exceeds ${this.upload.maxBytes} bytes`);
      this.discard = { error, diskFull: false };
      callback(this.hooks.fail(error));
      return;
    }
    if (this.hash) for (const buffer of buffers) this.hash.update(buffer);
    this.writeAll(buffers).then(
      () => callback(),
      (error: unknown) => callback(this.fail(error)),
    );
  }

  /**
   * writev(2) may write less than it was given when the disk fills up part-way, without an error:
   * the rest is written again, and that write fails with ENOSPC.
   */
  private async writeAll(buffers: Buffer[]): Promise<void> {
    let pending = buffers;
    while (pending.length > 0) {
      const { bytesWritten } = await this.file!.writev(pending, this.position ?? undefined);
      if (bytesWritten === 0) throw new Error('write made no progress');
      if (this.position !== null) this.position += bytesWritten;
      pending = dropBytes(pending, bytesWritten);
    }
  }

  override _final(callback: (error?: Error | null) => void): void {
    const file = this.file!;
    this.file = null;
    this.hooks.onDone();
    // A full disk may only show when the data is flushed (delayed allocation): sync() fails with ENOSPC.
    const durable = file.sync().finally(() => file.close());
    durable
      .then(
        () => this.complete(this.hash?.digest('hex')),
        (error: unknown) => this.fail(error),
      )
      .then(callback, (error: unknown) => callback(this.fail(error)));
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const file = this.file;
    this.file = null;
    this.hooks.onDone();
    // A broken-off upload stays for the client to resume; one too large or cut by a full disk never will be.
    const discard = this.discard;
    (file ? file.close() : Promise.resolve())
      .catch(() => undefined)
      .then(async () => {
        if (!discard) return;
        await rm(this.fsPath, { force: true });
        if (discard.diskFull) this.hooks.onDiscarded(discard.error);
      })
      .then(
        () => callback(error),
        () => callback(error),
      );
  }

  /** The reply for an error of receiving; a full disk also marks the file for removal. */
  private fail(error: unknown): Error {
    if (DISK_FULL.has(errnoOf(error) ?? '')) this.discard = { error, diskFull: true };
    return this.hooks.fail(error);
  }
}
